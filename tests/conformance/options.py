"""Command-line options every conformance driver takes, with the same meaning."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path


def add_run_options(parser: argparse.ArgumentParser, repo: Path) -> None:
    """--timeout, --reuse-native, --sandbox-arg and --slimbox-src."""
    parser.add_argument("--timeout", type=float, default=3 * 3600.0,
                        help="seconds a whole run may take (default: %(default)s)")
    parser.add_argument("--reuse-native", action="store_true",
                        help="take the native results from the last summary.json instead of running again")
    parser.add_argument("--sandbox-arg", action="append", default=[], metavar="ARG",
                        help="extra argument to `slimbox run`, e.g. --sandbox-arg=--strace=FILE (repeatable)")
    parser.add_argument("--slimbox-src", type=Path, default=repo / "src",
                        help="the slimbox package to run, put first on PYTHONPATH (default: %(default)s)")


def slimbox_revision(path: Path, repo: Path) -> str:
    """The commit the slimbox under test (--slimbox-src, resolved) comes from, '+dirty'
    when its files differ from it; another directory is named as it is."""
    def git(*a):
        return subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True).stdout.strip()
    if path != (repo / "src").resolve():
        return str(path)
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "src") else "")
