"""Make `slimbox` importable from the source tree when it is not installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("slimbox") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
