#!/usr/bin/env python3
"""Run one static x86-64 Linux program under Qiling, the peer the emu platform is held
against (both emulate the CPU with unicorn and answer syscalls in Python).

    bench/.qiling-venv/bin/python bench/qiling_run.py --rootfs DIR -- PROGRAM [ARGS...]

The program's stdout and stderr are this process's; its exit status is this process's
exit status. Qiling's own log is off, so the output can be compared with a native run.
Runs with the interpreter of the separate environment `make bench-qiling` makes
(bench/.qiling-venv): Qiling pins its own unicorn, which must not meet the project's.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rootfs", required=True, help="the directory the program sees as /")
    parser.add_argument("program", nargs=argparse.REMAINDER, help="-- PROGRAM [ARGS...]")
    args = parser.parse_args(argv)
    if args.program[:1] == ["--"]:
        args.program = args.program[1:]
    if not args.program:
        parser.error("no program given")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # imported here so --help works without Qiling installed
    from qiling import Qiling
    from qiling.const import QL_VERBOSE

    sys.stdout.flush()
    ql = Qiling(args.program, os.path.abspath(args.rootfs), verbose=QL_VERBOSE.DISABLED, console=False)
    ql.run()
    sys.stdout.flush()
    return ql.os.exit_code & 0xFF


if __name__ == "__main__":
    sys.exit(main())
