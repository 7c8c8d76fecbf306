#!/usr/bin/env python3
"""CPU placement: the getpid loop and the pipe ping-pong with everything on one CPU versus
left to the scheduler.

    python3 bench/placement.py [--cpu 1] [--repeat 5] [--getpid 50000] [--pipe 10000]

The getpid loop is a single-threaded guest, the pipe ping-pong a two-thread one.

slimbox pins its supervisor and the guest to the CPU it starts on, and its command line has
no switch to turn that off, so slimbox is measured here through the Python API, with three
placements:

- `taskset`: this process restricted to one CPU first (what `taskset -c CPU slimbox run`
  gives); the guest's stub processes inherit the mask;
- `self-pinned`: no outside restriction, slimbox's default (`LinuxPlatform(pin_cpu=True)`:
  the supervisor pins itself, and so the guests it spawns, to the CPU it is on);
- `unpinned`: no restriction at all (`LinuxPlatform(pin_cpu=False)`), so the supervisor and
  each guest thread may run on different CPUs.

Native, runsc (ptrace) and proot, when installed, run as commands with and without
`taskset -c CPU`. Every figure is (median time of N operations - median time of 0) / N,
so process start-up cancels out. Results go to build/bench/results/<timestamp>-placement/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402  (bench/report.py: formatting)
import run as suite  # noqa: E402  (bench/run.py: paths, the workload build, the peers' commands)

try:
    import slimbox.sandbox as sandbox_module
except ImportError:
    sys.path.insert(0, str(suite.REPO / "src"))
    import slimbox.sandbox as sandbox_module
from slimbox.platforms.linux.platform import LinuxPlatform  # noqa: E402


@contextlib.contextmanager
def affinity(cpus: set[int]):
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


@contextlib.contextmanager
def slimbox_pinning(pin_cpu: bool):
    """Make Sandbox.run build its LinuxPlatform with this pin_cpu (the API has no keyword for it)."""
    original = sandbox_module._platform

    def make(name: str, host):
        if name != "linux":
            return original(name, host)
        return LinuxPlatform(host, pin_cpu=pin_cpu)

    sandbox_module._platform = make
    try:
        yield
    finally:
        sandbox_module._platform = original


def per_operation(timer, program: str, count: int, repeat: int) -> tuple[float, list[float], list[float]]:
    """(seconds per operation, times with `count`, times with 0), runs interleaved."""
    full, empty = [], []
    for _ in range(repeat):
        empty.append(timer([program, "0"]))
        full.append(timer([program, str(count)]))
    return (statistics.median(full) - statistics.median(empty)) / count, full, empty


def slimbox_timer(box):
    def timer(argv: list[str]) -> float:
        start = time.perf_counter()
        result = box.run(argv, capture_output=True, timeout=600)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise RuntimeError(f"{argv} in slimbox: exit {result.returncode}: {result.stderr!r}")
        return elapsed
    return timer


def command_timer(prefix: list[str]):
    def timer(argv: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(prefix + argv, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       cwd=suite.SCRATCH, timeout=600)
        return time.perf_counter() - start
    return timer


@dataclass(frozen=True)
class Placement:
    system: str
    label: str
    #: the command prefix, for systems run as commands
    prefix: tuple[str, ...] = ()
    #: for slimbox, run through the API: the CPUs this process may use, and pin_cpu
    cpus: frozenset[int] = frozenset()
    pin_cpu: bool = True
    #: the line the others of its system are compared with
    reference: bool = False


def placements(systems: list[str], cpu: int, every_cpu: set[int]) -> list[Placement]:
    pin = ("taskset", "-c", str(cpu))
    found = []
    for system in systems:
        if system == "slimbox":
            found += [Placement("slimbox", f"taskset -c {cpu}", cpus=frozenset({cpu}), reference=True),
                      Placement("slimbox", "self-pinned (default, no taskset)", cpus=frozenset(every_cpu)),
                      Placement("slimbox", "unpinned (pin_cpu=False, no taskset)", cpus=frozenset(every_cpu),
                                pin_cpu=False)]
        else:
            prefix = tuple(suite.system_prefix(system, []))
            found += [Placement(system, f"taskset -c {cpu}", pin + prefix, reference=True),
                      Placement(system, "unpinned", prefix)]
    return found


@contextlib.contextmanager
def timer_for(placement: Placement):
    """A function timing one run of a command under `placement`."""
    if placement.system != "slimbox":
        yield command_timer(list(placement.prefix))
        return
    with affinity(set(placement.cpus)), slimbox_pinning(placement.pin_cpu), \
            sandbox_module.Sandbox(mounts=[f"{suite.BIN}:{suite.BIN}:ro"]) as box:
        yield slimbox_timer(box)


def measure(placement: Placement, args: argparse.Namespace) -> dict[str, tuple[float, list[float], list[float]]]:
    workloads = (("getpid", str(suite.BIN / "getpid"), args.getpid), ("pipe", str(suite.BIN / "pipe"), args.pipe))
    with timer_for(placement) as timer:
        return {name: per_operation(timer, program, count, args.repeat) for name, program, count in workloads}


def render(rows: list[tuple[Placement, dict]], args: argparse.Namespace) -> str:
    reference = {p.system: figures for p, figures in rows if p.reference}
    lines = [f"| system | placement | per getpid ({args.getpid} calls) | vs taskset | "
             f"per pipe round trip ({args.pipe}) | vs taskset |", "|---|---|---|---|---|---|"]
    for placement, figures in rows:
        cells = [report.SYSTEM_TITLES[placement.system], placement.label]
        for name in ("getpid", "pipe"):
            cells += [report.fmt_time(figures[name][0]),
                      report.fmt_ratio(figures[name][0], reference[placement.system][name][0])]
        lines.append(report.markdown_row(cells))
    return "\n".join(lines) + "\n"


def save(rows: list[tuple[Placement, dict]], table: str, argv: list[str]) -> Path:
    out_dir = suite.RESULTS / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-placement")
    out_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python3", "bench/placement.py", *argv])
    (out_dir / "placement.md").write_text(f"`{command}`\n\n{table}")
    (out_dir / "placement.json").write_text(json.dumps(
        [{"system": p.system, "placement": p.label,
          **{name: {"per_operation": f[0], "times": f[1], "times_zero": f[2]} for name, f in figures.items()}}
         for p, figures in rows], indent=2) + "\n")
    return out_dir


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", type=int, default=suite.default_cpu(),
                        help="the CPU for the pinned runs (default: the highest-numbered one available)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument("--getpid", type=int, default=50_000, help="getpid calls per run (default 50000)")
    parser.add_argument("--pipe", type=int, default=10_000, help="pipe round trips per run (default 10000)")
    parser.add_argument("--systems", default="native,slimbox,runsc,proot")
    args = parser.parse_args(argv)
    if args.cpu not in os.sched_getaffinity(0):
        parser.error(f"CPU {args.cpu} is not available (have {sorted(os.sched_getaffinity(0))})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    systems = [s for s in args.systems.split(",") if s and suite.system_available(s)]
    suite.build_workloads()
    suite.SCRATCH.mkdir(parents=True, exist_ok=True)
    rows = []
    for placement in placements(systems, args.cpu, os.sched_getaffinity(0)):
        figures = measure(placement, args)
        rows.append((placement, figures))
        print(f"  {placement.system:<8} {placement.label:<38} getpid {report.fmt_time(figures['getpid'][0]):>9}   "
              f"pipe round trip {report.fmt_time(figures['pipe'][0]):>9}", flush=True)
    table = render(rows, args)
    out_dir = save(rows, table, sys.argv[1:] if argv is None else argv)
    print()
    print(table)
    print(f"placement: results in {out_dir.relative_to(suite.REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
