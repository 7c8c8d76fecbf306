"""Lists of known differences shared by the conformance drivers: one 'NAME # reason' per
line (the first ' # ' separates them, since names can hold '#'), blank lines and lines
starting with '#' ignored; a name may use shell wildcards."""

from __future__ import annotations

import fnmatch
from pathlib import Path


def read_reasons(path: Path) -> dict[str, str]:
    """NAME -> reason from the list at `path` (empty when there is no such file)."""
    reasons: dict[str, str] = {}
    if not path.exists():
        return reasons
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, reason = line.partition(" # ")
        reasons[name.strip()] = reason.strip()
    return reasons


def reason_for(name: str, reasons: dict[str, str]) -> str | None:
    """The reason listed for `name`, by exact name first, then by wildcard pattern."""
    if name in reasons:
        return reasons[name]
    for pattern, reason in reasons.items():
        if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern):
            return reason
    return None
