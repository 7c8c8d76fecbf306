#!/usr/bin/env python3
"""slimbox's benchmark suite: the same workloads natively, in slimbox on each of its
platforms (linux, kvm, emu) and, when installed, under gVisor (runsc, ptrace platform),
proot and Qiling, timed with hyperfine.

    python3 bench/run.py [--only hello,getpid] [--systems native,slimbox] [--runs 5] [--cpu 1]

`slimbox` is the Linux platform, `slimbox-kvm` and `slimbox-emu` the others; a platform
this host cannot construct keeps its column, whose cells say why. The emulators
(slimbox-emu, and Qiling from the environment `make bench-qiling` makes) run each sized
workload at a fraction of its size (Workload.slow_divisor), so their whole-process times
are not comparable with native's: the per-operation rows, which divide by the size each
cell ran, are; the workloads without a size run whole there. Qiling runs only the static
workloads that need no host file.

Every command runs pinned to one CPU (`taskset -c CPU` around hyperfine, whose children
inherit the mask). Each is first run once untimed with its output captured and compared
with the native output (a difference, a non-zero exit or a time-out marks the cell FAIL),
then timed by hyperfine. Results go to build/bench/results/<timestamp>/: table.md (what is
printed at the end), results.json (every cell, with its command and hyperfine's numbers)
and hyperfine/*.json (hyperfine's own exports).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402  (bench/report.py: the table, the targets, the output check)
from report import Cell, PerOperation, fmt_time  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WORKLOAD_SOURCES = REPO / "bench" / "workloads"
BUILD = REPO / "build" / "bench"
BIN = BUILD / "bin"
DATA = BUILD / "data"
SCRATCH = BUILD / "scratch"
RESULTS = BUILD / "results"

GETPID_CALLS = 200_000
PIPE_ROUNDS = 50_000
FORKS = 200
READ_FILE_MIB = 256
SHA_FILE_MIB = 64
SQLITE_ROWS = 20_000
SHELL_LINES = 2000

# long enough (about 1.6 s natively) that start-up noise is small beside the loop: the
# KVM platform's target is a CPU loop within 5% of native
CPU_ROUNDS = 640_000_000
MEMORY_PASSES = 20
FRESH_PAGES = 100_000
FILES = 2000

RUNSC = ["runsc", "--rootless=false", "--network=none", "--ignore-cgroups", "--platform=ptrace", "do"]
QILING_PYTHON = REPO / "bench" / ".qiling-venv" / "bin" / "python"
QILING_RUNNER = REPO / "bench" / "qiling_run.py"
QILING_ROOTFS = BUILD / "qiling-rootfs"
#: slimbox's columns and the platform each runs on
PLATFORMS = {"slimbox": "linux", "slimbox-kvm": "kvm", "slimbox-emu": "emu"}
SYSTEMS = ("native", "slimbox", "slimbox-kvm", "slimbox-emu", "runsc", "proot", "qiling")
#: CPU emulators: each sized workload runs at a fraction of its size there
SLOW_SYSTEMS = ("slimbox-emu", "qiling")
#: columns kept, with the reason in their cells, when the system cannot run here
EXPLAINED_SYSTEMS = ("slimbox", "slimbox-kvm", "slimbox-emu", "qiling")
SYSTEM_TITLES = report.SYSTEM_TITLES

PER_GETPID = PerOperation(f"per getpid syscall = (getpid − hello) / {GETPID_CALLS}", "getpid", GETPID_CALLS)
DERIVED = [
    PER_GETPID,
    PerOperation(f"per page fault = (pagefault − hello) / {FRESH_PAGES} pages", "pagefault", FRESH_PAGES),
    PerOperation(f"per file made, written, stat'ed and unlinked = (files − hello) / {FILES}", "files", FILES),
    PerOperation(f"per pipe round trip = (pipe − hello) / {PIPE_ROUNDS}", "pipe", PIPE_ROUNDS),
    PerOperation(f"per fork+exec+wait = (forkexec − hello) / {FORKS}", "forkexec", FORKS),
    PerOperation("per million CPU-loop rounds = (cpu − hello) / rounds × 10⁶", "cpu", CPU_ROUNDS, per=1_000_000),
    PerOperation("per memory pass over 32 MiB = (memory − memory, 0 passes) / passes", "memory", MEMORY_PASSES,
                 baseline="memory-0"),
]


# --- workloads ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    argv: tuple[str, ...]
    #: files to remove before every run (hyperfine --prepare), so each run starts alike
    fresh: tuple[str, ...] = ()
    #: the size argument appended to argv (None: the workload takes none)
    count: int | None = None
    #: on the slow systems the size is divided by this (a workload without a size runs whole)
    slow_divisor: int = 1
    #: whether Qiling can run it: a static program that opens no host file
    qiling: bool = False

    def command(self, system: str) -> tuple[list[str], int | None]:
        """The workload's argv on `system` and the size it runs there."""
        count = self.count
        if count is not None and system in SLOW_SYSTEMS:
            count = max(1, count // self.slow_divisor)
        return list(self.argv) + ([str(count)] if count is not None else []), count

    def not_run_on(self, system: str) -> str:
        """Why the workload is left out on `system` ("" when it runs there)."""
        if system == "qiling" and not self.qiling:
            return "Qiling runs only the static workloads that open no host file"
        return ""


def busybox() -> str:
    return shutil.which("busybox", path="/bin:/usr/bin") or "/bin/busybox"


def workloads() -> list[Workload]:
    bb = busybox()
    db = SCRATCH / "bench.db"
    loop = f"i=0; while [ $i -lt {SHELL_LINES} ]; do echo line $i; i=$((i+1)); done | {bb} wc -l"
    return [
        Workload("hello", "hello (one write + exit)", (str(BIN / "hello"),), qiling=True),
        Workload("getpid", f"getpid loop ({GETPID_CALLS} calls)", (str(BIN / "getpid"),), count=GETPID_CALLS,
                 slow_divisor=20, qiling=True),
        Workload("cpu", f"CPU loop ({CPU_ROUNDS} rounds, no syscalls)", (str(BIN / "cpu"),), count=CPU_ROUNDS,
                 slow_divisor=80, qiling=True),
        Workload("memory-0", "memory: 32 MiB buffer touched once, 0 passes", (str(BIN / "memory"), "0"),
                 qiling=True),
        Workload("memory", f"memory: {MEMORY_PASSES} strided passes over 32 MiB", (str(BIN / "memory"),),
                 count=MEMORY_PASSES, slow_divisor=MEMORY_PASSES // 2, qiling=True),
        Workload("pagefault", f"touch {FRESH_PAGES} fresh pages of mmap'd memory", (str(BIN / "pagefault"),),
                 count=FRESH_PAGES, slow_divisor=20, qiling=True),
        Workload("read", f"read {READ_FILE_MIB} MiB in 64 KiB chunks",
                 (str(BIN / "read"), str(DATA / f"read-{READ_FILE_MIB}m.bin"))),
        Workload("files", f"{FILES} files create/write/stat/unlink", (str(BIN / "files"), str(SCRATCH / "files")),
                 count=FILES, slow_divisor=10),
        Workload("forkexec", f"{FORKS} fork+exec+wait of static true",
                 (str(BIN / "forkexec"), str(BIN / "true")), count=FORKS, slow_divisor=10),
        Workload("pipe", f"pipe ping-pong, 2 threads ({PIPE_ROUNDS} round trips)",
                 (str(BIN / "pipe"),), count=PIPE_ROUNDS, slow_divisor=50),
        Workload("busybox-sh", f"busybox sh loop ({SHELL_LINES} echos piped into wc -l)", (bb, "sh", "-c", loop)),
        Workload("sha256sum", f"busybox sha256sum, {SHA_FILE_MIB} MiB",
                 (bb, "sha256sum", str(DATA / f"sha-{SHA_FILE_MIB}m.bin"))),
        Workload("python3", "Debian python3 -c pass (dynamic)", ("/usr/bin/python3", "-c", "pass")),
        Workload("sqlite3", f"sqlite3: {SQLITE_ROWS} inserts in a transaction + aggregates",
                 ("/usr/bin/sqlite3", str(db), f".read {DATA / 'sqlite.sql'}"),
                 fresh=(str(db), str(db) + "-journal")),
    ]


# --- build and data ----------------------------------------------------------------------

def build_workloads() -> None:
    BIN.mkdir(parents=True, exist_ok=True)
    compiler = shutil.which("musl-gcc")
    if compiler is None:
        sys.exit("bench: musl-gcc not found (Debian package musl-tools)")
    for source in sorted(WORKLOAD_SOURCES.glob("*.c")):
        target = BIN / source.stem
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        extra = ["-pthread"] if source.stem == "pipe" else []
        subprocess.run([compiler, "-static", "-O2", "-Wall", "-o", str(target), str(source), *extra], check=True)


def pattern_block(seed: int, size: int) -> bytes:
    """`size` bytes from a 64-bit linear congruential sequence: deterministic, not periodic
    within the block, and cheap to make."""
    words = []
    x = seed
    for _ in range(size // 8):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFF_FFFF_FFFF_FFFF
        words.append(x)
    return struct.pack(f"<{len(words)}Q", *words)


def make_data_file(path: Path, mib: int, seed: int) -> None:
    if path.exists() and path.stat().st_size == mib << 20:
        return
    block = bytearray(pattern_block(seed, 1 << 20))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for i in range(mib):
            block[:8] = i.to_bytes(8, "little")  # every MiB differs from the others
            f.write(block)
    tmp.rename(path)


def sqlite_script() -> str:
    lines = ["CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, grp INTEGER NOT NULL, "
             "price REAL NOT NULL);", "BEGIN;"]
    for i in range(1, SQLITE_ROWS + 1):
        lines.append(f"INSERT INTO items VALUES({i}, 'item-{i:05d}', {i * 7 % 23}, {i * 37 % 1000 / 10:.1f});")
    lines += [
        "COMMIT;",
        "SELECT count(*), sum(price), min(price), max(price) FROM items;",
        "SELECT grp, count(*), round(avg(price), 2) FROM items GROUP BY grp ORDER BY grp;",
        "SELECT count(*) FROM items WHERE name LIKE 'item-1%' AND price > 50;",
        "SELECT grp FROM items GROUP BY grp ORDER BY sum(price) DESC LIMIT 1;",
    ]
    return "\n".join(lines) + "\n"


def make_data() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    QILING_ROOTFS.mkdir(parents=True, exist_ok=True)  # Qiling's '/': empty, the workloads it runs open no file
    (SCRATCH / "files").mkdir(parents=True, exist_ok=True)
    make_data_file(DATA / f"read-{READ_FILE_MIB}m.bin", READ_FILE_MIB, seed=1)
    make_data_file(DATA / f"sha-{SHA_FILE_MIB}m.bin", SHA_FILE_MIB, seed=2)
    script = DATA / "sqlite.sql"
    text = sqlite_script()
    if not script.exists() or script.read_text() != text:
        script.write_text(text)


# --- systems -------------------------------------------------------------------------------

def slimbox_launcher() -> tuple[list[str], str, dict[str, str]]:
    """The slimbox command, the Python that runs it and extra environment."""
    venv = REPO / ".venv" / "bin"
    if (venv / "slimbox").exists():
        return [str(venv / "slimbox")], str(venv / "python"), {}
    return [sys.executable, "-m", "slimbox"], sys.executable, {"PYTHONPATH": str(REPO / "src")}


def system_prefix(system: str, slimbox_cmd: list[str]) -> list[str]:
    if system == "native":
        return []
    if system in PLATFORMS:
        return [*slimbox_cmd, "run", "-q", "--platform", PLATFORMS[system], "-v", f"{BIN}:{BIN}:ro",
                "-v", f"{DATA}:{DATA}:ro", "-v", f"{SCRATCH}:{SCRATCH}", "-w", str(SCRATCH), "--"]
    if system == "runsc":
        return list(RUNSC)
    if system == "proot":
        return ["proot", "-r", "/", "-w", str(SCRATCH)]
    if system == "qiling":
        return [str(QILING_PYTHON), str(QILING_RUNNER), "--rootfs", str(QILING_ROOTFS), "--"]
    raise ValueError(system)


def system_available(system: str) -> bool:
    """Whether the system's program is here at all (a slimbox platform may still be
    unable to run: see unavailable_reason)."""
    if system == "qiling":
        return QILING_PYTHON.exists()
    return system in ("native", *PLATFORMS) or shutil.which(system) is not None


#: constructs the platform named in argv[1] and closes it; prints why it cannot, if so
_PLATFORM_CHECK = """
import sys
from slimbox import _platforms
from slimbox.platforms.base import PlatformUnavailable
name = sys.argv[1]
try:
    _platforms.make_platform(name, _platforms.make_host(name)).close()
except (PlatformUnavailable, ImportError) as exc:
    print(f"{type(exc).__name__}: {exc}")
"""


def unavailable_reason(system: str, slimbox_python: str, env: dict[str, str]) -> str:
    """Why `system` cannot run here ("" when it can): a slimbox platform is constructed
    (in a child process, as each run does) and Qiling imported."""
    if system in PLATFORMS:
        argv = [slimbox_python, "-c", _PLATFORM_CHECK, PLATFORMS[system]]
    elif system == "qiling":
        if not QILING_PYTHON.exists():
            return "Qiling is not installed (make bench-qiling)"
        argv = [str(QILING_PYTHON), "-c", "import qiling"]
    else:
        return "" if system_available(system) else "not installed"
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:
        return "its availability check did not finish within 60 s"
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return lines[-1] if lines else f"its availability check exited {out.returncode}"
    return out.stdout.strip()


@dataclass(frozen=True)
class Setup:
    """What every cell of one run shares."""

    args: argparse.Namespace
    systems: list[str]
    slimbox_cmd: list[str]
    pin: list[str]
    envs: dict[str, dict[str, str]]
    raw_dir: Path
    #: system -> why it cannot run here (its cells say so)
    unavailable: dict[str, str] = dataclasses.field(default_factory=dict)


# --- processes -----------------------------------------------------------------------------

def remove(paths: tuple[str, ...]) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            os.unlink(p)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def age(pid: int) -> float:
    """Seconds since process `pid` started (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def cpu_busy_seconds(cpu: int) -> float:
    """Seconds CPU `cpu` has spent not idle since boot."""
    with open("/proc/stat") as f:
        line = next(line for line in f if line.startswith(f"cpu{cpu} "))
    fields = [int(v) for v in line.split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    steal_and_guests = sum(fields[7:])  # steal, guest, guest_nice
    return (sum(fields) - idle - steal_and_guests) / os.sysconf("SC_CLK_TCK")


def wait_quiet(cpu: int, threshold: float, patience: float) -> float:
    """Wait, up to `patience` seconds, until CPU `cpu` has been nearly idle (busy less than
    `threshold` of the time) for one second; return the load seen last. The machine may be
    shared, and a busy neighbour on the measured CPU inflates every figure; load on other
    CPUs matters much less, since everything measured is pinned to this one."""
    deadline = time.monotonic() + patience
    announced = False
    while True:
        before = cpu_busy_seconds(cpu)
        time.sleep(1.0)
        load = cpu_busy_seconds(cpu) - before
        if load < threshold or time.monotonic() >= deadline:
            return load
        if not announced:
            print(f"  (CPU {cpu} is {load:.0%} busy; waiting up to {patience:.0f} s for it to calm down)",
                  flush=True)
            announced = True


# --- the untimed check run -------------------------------------------------------------------

def run_check(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str, str, float]:
    """Run once, untimed by hyperfine, in a session of its own; (status or None on time-out,
    stdout, stderr, wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=SCRATCH, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        status: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        status = None
    elapsed = time.perf_counter() - start
    kill_group(proc.pid)  # anything the command left in its group
    return status, out.decode(errors="replace"), err.decode(errors="replace"), elapsed


def check_cell(cell: Cell, setup: Setup, fresh: tuple[str, ...], reference: str | None) -> None:
    """Run the cell's command once and compare its output with native's; fills in the cell's
    output, its check time and, on a mismatch, FAIL with the reason."""
    remove(fresh)
    status, out, err, seconds = run_check(setup.pin + cell.command, setup.envs[cell.system], setup.args.timeout)
    cell.output, cell.stderr, cell.check_seconds = out, err[-2000:], seconds
    reason = report.judge_check(cell.system, status, out, err, reference, setup.args.timeout)
    if reason:
        cell.status, cell.reason = "FAIL", reason


def diagnose(cell: Cell, setup: Setup, fresh: tuple[str, ...], reference: str | None, tries: int = 5) -> str:
    """A command passed its check run but failed under hyperfine: run it a few more times to
    catch a failing run's output for the report."""
    for attempt in range(1, tries + 1):
        remove(fresh)
        status, out, err, _ = run_check(setup.pin + cell.command, setup.envs[cell.system], setup.args.timeout)
        if status != 0 or out != reference:
            what = "timed out" if status is None else f"exit status {status}"
            return f"; caught again on re-run {attempt}: {what}, stdout {out[-200:]!r}, stderr {err[-300:]!r}"
    return f"; {tries} re-runs outside hyperfine all passed (an intermittent failure)"


# --- timing ----------------------------------------------------------------------------------

def plan_runs(check_seconds: float, runs: int, warmup: int, budget: float) -> tuple[int, int]:
    """Fit runs + warm-ups into the cell's time budget (at least 2 timed runs)."""
    per_run = max(check_seconds, 1e-3)
    if per_run * (runs + warmup) <= budget:
        return runs, warmup
    return max(2, min(runs, int(budget / per_run))), 0


def hyperfine_argv(cell: Cell, pin: list[str], fresh: tuple[str, ...], export: Path) -> list[str]:
    argv = [*pin, "hyperfine", "-N", "--ignore-failure", "--style", "basic", "--output", "pipe",
            "--runs", str(cell.runs), "--warmup", str(cell.warmup), "--export-json", str(export),
            "--command-name", f"{cell.workload}/{cell.system}"]
    if fresh:
        argv += ["--prepare", shlex.join(["rm", "-f", *fresh])]
    return argv + ["--", shlex.join(cell.command)]


def wait_with_watchdog(proc: subprocess.Popen, timeout: float) -> tuple[bool, os.struct_rusage]:
    """Wait for hyperfine; a watchdog kills its whole process group when one invocation
    outlives `timeout`. (timed out?, the resource usage of hyperfine and what it reaped)."""
    timed_out, finished = threading.Event(), threading.Event()

    def watch() -> None:
        while not finished.wait(0.5):
            if any(age(child) > timeout for child in children_of(proc.pid)):
                timed_out.set()
                kill_group(proc.pid)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    # wait4 gives the CPU time of hyperfine and of everything it waited for: the measured
    # commands (and what they reaped in turn), so other processes' load can be told apart
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    finished.set()
    watcher.join()
    kill_group(proc.pid)
    return timed_out.is_set(), usage


def read_export(cell: Cell, export: Path, out_dir: Path) -> None:
    result = json.loads(export.read_text())["results"][0]
    cell.hyperfine_json = str(export.relative_to(out_dir.parent))
    codes = [c for c in result.get("exit_codes", []) if c != 0]
    if codes:
        cell.status = "FAIL"
        cell.reason = (f"{len(codes)} of {len(result['exit_codes'])} timed runs failed "
                       f"(exit status {', '.join(str(c) for c in sorted(set(codes)))})")
        return
    cell.times = list(result["times"])
    cell.median = result.get("median", statistics.median(cell.times))
    cell.mean, cell.stddev = result["mean"], result.get("stddev")
    cell.min, cell.max = result["min"], result["max"]
    cell.status = "OK"


def run_hyperfine(cell: Cell, setup: Setup, fresh: tuple[str, ...]) -> None:
    """Time the cell's command with hyperfine and record how busy the rest of the machine was."""
    name = f"{cell.workload}.{cell.system}" + (f".{cell.attempts}" if cell.attempts > 1 else "")
    export, log = setup.raw_dir / f"{name}.json", setup.raw_dir / f"{name}.log"
    busy_before, wall_before = cpu_busy_seconds(setup.args.cpu), time.monotonic()
    with open(log, "w") as logf:
        proc = subprocess.Popen(hyperfine_argv(cell, setup.pin, fresh, export), stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT, cwd=SCRATCH, env=setup.envs[cell.system],
                                start_new_session=True)
        timed_out, usage = wait_with_watchdog(proc, setup.args.timeout)
    wall = time.monotonic() - wall_before
    foreign = cpu_busy_seconds(setup.args.cpu) - busy_before - usage.ru_utime - usage.ru_stime
    cell.foreign_load = max(0.0, foreign / wall) if wall > 0 else 0.0
    if timed_out:
        cell.status, cell.reason = "FAIL", f"an invocation ran past the {setup.args.timeout:g} s limit"
    elif proc.returncode != 0 or not export.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        cell.status, cell.reason = "FAIL", "hyperfine: " + " / ".join(tail)
    else:
        read_export(cell, export, setup.raw_dir)


def measure(cell: Cell, setup: Setup, fresh: tuple[str, ...]) -> Cell:
    """Time a cell; when other processes loaded the machine meanwhile, wait for quiet and
    time it again (up to --retries times), keeping the quietest attempt."""
    args = setup.args
    best = None
    for attempt in range(1, args.retries + 2):
        if attempt > 1:
            wait_quiet(args.cpu, args.quiet, args.patience)
        trial = dataclasses.replace(cell, attempts=attempt)
        run_hyperfine(trial, setup, fresh)
        if trial.status != "OK":
            return trial
        if best is None or trial.foreign_load < best.foreign_load:
            best = trial
        if trial.foreign_load <= args.noisy:
            break
    return best


def run_cell(workload: Workload, system: str, setup: Setup, reference: str | None) -> Cell:
    """Check one workload on one system against the native output, then time it."""
    argv, count = workload.command(system)
    cell = Cell(workload.name, system, system_prefix(system, setup.slimbox_cmd) + argv, count=count,
                full_count=workload.count)
    reason = setup.unavailable.get(system) or workload.not_run_on(system)
    if reason:
        cell.reason = reason
        return cell
    wait_quiet(setup.args.cpu, setup.args.quiet, setup.args.patience)
    check_cell(cell, setup, workload.fresh, reference)
    if cell.status == "FAIL":
        return cell
    cell.runs, cell.warmup = plan_runs(cell.check_seconds, setup.args.runs, setup.args.warmup, setup.args.budget)
    cell = measure(cell, setup, workload.fresh)
    if cell.status == "FAIL" and "timed runs failed" in cell.reason:
        cell.reason += diagnose(cell, setup, workload.fresh, reference)
    return cell


def progress(cell: Cell, noisy: float) -> str:
    size = f" (size {cell.count})" if cell.scaled_down else ""
    if cell.status == "SKIP":
        return f"  {cell.workload:<11} {cell.system:<11} not run: {cell.reason}"
    if cell.status != "OK":
        return f"  {cell.workload:<11} {cell.system:<11} FAIL ({cell.reason}){size}"
    load = f", other processes used {cell.foreign_load:.0%} of the CPU" if cell.foreign_load > noisy else ""
    return f"  {cell.workload:<11} {cell.system:<11} {fmt_time(cell.median)}{size}  [{cell.runs} runs{load}]"


def native_reference(workload: Workload, system: str, setup: Setup) -> str | None:
    """The native output for the size `system` runs the workload at (a check run, untimed)."""
    argv, _ = workload.command(system)
    probe = Cell(workload.name, "native", argv)
    check_cell(probe, setup, workload.fresh, None)
    return probe.output if probe.status != "FAIL" else None


def run_workload(workload: Workload, setup: Setup) -> list[Cell]:
    """All systems for one workload, native first: its output is the reference the others
    must reproduce (at the size each runs). Native is checked even when its column is not
    wanted."""
    cells = []
    references: dict[int | None, str | None] = {}
    for system in ["native"] + [s for s in setup.systems if s != "native"]:
        if system == "native" and "native" not in setup.systems:
            references[workload.count] = native_reference(workload, "native", setup)
            continue
        count = workload.command(system)[1]
        runs_here = not (setup.unavailable.get(system) or workload.not_run_on(system))
        if system != "native" and runs_here and count not in references:
            references[count] = native_reference(workload, system, setup)
        cell = run_cell(workload, system, setup, references.get(count))
        if system == "native":
            references[count] = cell.output if cell.status == "OK" else None
        cells.append(cell)
        print(progress(cell, setup.args.noisy), flush=True)
    remove(workload.fresh)
    return cells


# --- environment ---------------------------------------------------------------------------

def first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0].strip() if text else "not available"


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def proot_version() -> str:
    text = subprocess.run(["proot", "--version"], capture_output=True, text=True).stdout
    for line in text.splitlines():
        if line.startswith("|__|"):
            return "proot " + line.split()[-1]
    return "proot (version unknown)"


def slimbox_revision() -> str:
    """The commit measured, and whether the working tree differed from it."""
    text = first_line(["git", "-C", str(REPO), "describe", "--always", "--dirty"])
    return text.replace("-dirty", " with uncommitted changes") if text != "not available" else text


def qiling_version() -> str:
    text = first_line([str(QILING_PYTHON), "-c", "import qiling, unicorn; "
                       "print('qiling', qiling.__version__, 'with unicorn', unicorn.__version__)"])
    return text


def environment(systems: list[str], slimbox_python: str, unavailable: dict[str, str]) -> dict[str, str]:
    env = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "slimbox": slimbox_revision(),
        "cpu": f"{cpu_model()}, {os.cpu_count()} CPUs",
        "kernel": f"Linux {platform.release()}",
        "python (slimbox)": first_line([slimbox_python, "--version"]),
        "hyperfine": first_line(["hyperfine", "--version"]),
        "musl-gcc": "musl " + first_line(["dpkg-query", "-W", "-f", "${Version}", "musl-tools"]),
        "busybox": first_line([busybox()]).removesuffix(" multi-call binary."),
        "sqlite3": "sqlite3 " + first_line(["/usr/bin/sqlite3", "--version"]).split()[0],
        "python3 (guest)": first_line(["/usr/bin/python3", "--version"]),
    }
    for system, platform_name in PLATFORMS.items():
        if system in systems:
            reason = unavailable.get(system)
            env[f"{system} (platform {platform_name})"] = f"not available: {reason}" if reason else "available"
    if "runsc" in systems:
        env["runsc"] = first_line(["runsc", "--version"])
    if "proot" in systems:
        env["proot"] = proot_version()
    if "qiling" in systems:
        env["qiling"] = f"not available: {unavailable['qiling']}" if "qiling" in unavailable else qiling_version()
    return env


# --- main ----------------------------------------------------------------------------------

def default_cpu() -> int:
    """The highest-numbered CPU this process may use: CPU 0 tends to take more interrupts."""
    return max(os.sched_getaffinity(0))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated workloads (default: all): "
                                  + ",".join(w.name for w in workloads()))
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help="comma-separated systems (default: all; runsc and proot only when installed; a slimbox "
                        "platform or Qiling that cannot run here keeps its column with the reason)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per cell (default 5; fewer when the cell's "
                                                       "time budget is short)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up runs per cell (default 1)")
    p.add_argument("--budget", type=float, default=60.0, help="seconds of timed runs per cell (default 60)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds one invocation may take before the cell fails (default 120)")
    p.add_argument("--quiet", type=float, default=0.2,
                   help="before each cell, wait until the CPU is busy less than this fraction of the time "
                        "(default 0.2)")
    p.add_argument("--patience", type=float, default=15.0, help="longest wait for a quiet machine, s (default 15)")
    p.add_argument("--noisy", type=float, default=0.2,
                   help="a cell during which other processes used more than this fraction of the CPU is timed "
                        "again (default 0.2)")
    p.add_argument("--retries", type=int, default=1, help="re-timings of a noisy cell (default 1)")
    p.add_argument("--cpu", type=int, default=default_cpu(),
                   help="the CPU everything is pinned to (default: the highest-numbered one available)")
    args = p.parse_args(argv)
    known = {w.name for w in workloads()}
    args.only = args.only.split(",") if args.only else []
    unknown = [w for w in args.only if w not in known]
    if unknown:
        p.error(f"unknown workload(s): {', '.join(unknown)}")
    args.systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in args.systems if s not in SYSTEMS]
    if bad:
        p.error(f"unknown system(s): {', '.join(bad)} (known: {', '.join(SYSTEMS)})")
    if args.cpu not in os.sched_getaffinity(0):
        p.error(f"CPU {args.cpu} is not available to this process (have {sorted(os.sched_getaffinity(0))})")
    return args


def available_systems(wanted: list[str], slimbox_python: str,
                      slimbox_env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The systems to show and, for those kept although they cannot run here, why not."""
    systems, unavailable = [], {}
    for s in wanted:
        reason = unavailable_reason(s, slimbox_python, slimbox_env) if s != "native" else ""
        if not reason:
            systems.append(s)
        elif s in EXPLAINED_SYSTEMS:
            systems.append(s)
            unavailable[s] = reason
            print(f"bench: {s} cannot run here ({reason}); its cells say so")
        else:
            print(f"bench: {s} is not installed; its column is left out")
    return systems, unavailable


def chosen_workloads(only: list[str]) -> list[Workload]:
    """The workloads asked for, with the baselines their derived rows subtract (hello for
    most, and for the CPU-loop target; memory-0 for the memory passes)."""
    wanted = set(only) if only else {w.name for w in workloads()}
    wanted |= {row.baseline for row in DERIVED if row.workload in wanted}
    if "cpu" in wanted:
        wanted.add("hello")
    return [w for w in workloads() if w.name in wanted]


def system_environments(systems: list[str], slimbox_extra: dict[str, str]) -> dict[str, dict[str, str]]:
    envs = {s: dict(os.environ) for s in ["native", *systems]}
    # slimbox's own start-up is Python importing its modules: let it use the bytecode
    # compiled beforehand, as an installed package would
    for system in PLATFORMS:
        envs[system] = dict(os.environ, **slimbox_extra)
        envs[system].pop("PYTHONDONTWRITEBYTECODE", None)
    return envs


def render_document(cells: list[Cell], setup: Setup, chosen: list[Workload], env_info: dict[str, str],
                    command_line: str, elapsed: float) -> str:
    titles = {w.name: w.title for w in chosen}
    args = setup.args
    table = report.render_table(cells, setup.systems, titles, args.noisy, DERIVED)
    medians = report.medians_of(cells)
    baselines = {row.baseline for row in DERIVED} - {"hello"}  # no target of their own
    found = report.targets(medians, {w: t for w, t in titles.items() if w not in baselines}, PER_GETPID)
    found += [report.cpu_target(medians, s) for s in ("slimbox-kvm",) if s in setup.systems]
    goals = report.render_targets(found)
    notes = [
        f"Medians of hyperfine runs (whole process, wall clock), everything pinned to CPU {args.cpu} "
        f"with taskset; ratios in parentheses are to native and to the peer the column's heading names "
        f"(gVisor runsc with its ptrace platform; Qiling for slimbox-emu).",
        "slimbox is the Linux platform (--platform linux); slimbox-kvm and slimbox-emu the KVM and "
        "emulator platforms.",
        "slimbox's bytecode was precompiled (python -m compileall -q src) and PYTHONDONTWRITEBYTECODE "
        "unset for its runs.",
        f"Elapsed: {elapsed:.0f} s.",
    ]
    if any(s in setup.systems for s in SLOW_SYSTEMS):
        notes.insert(1, "The CPU emulators (" + ", ".join(s for s in SLOW_SYSTEMS if s in setup.systems)
                     + ") run each sized workload at the size shown, a fraction of native's; their "
                       "per-operation rows divide by that size and compare with the others'.")
    if any(c.foreign_load > args.noisy for c in cells):
        notes.append(f"† other processes used more than {args.noisy:.0%} of CPU {args.cpu} while this cell was "
                     f"timed, even after {args.retries} re-timing(s): treat it with care.")
    header = "\n".join(f"- {k}: {v}" for k, v in env_info.items())
    failures = "".join(f"- FAIL {c.workload} / {c.system}: {c.reason}\n" for c in cells if c.status == "FAIL")
    return (f"# slimbox benchmark\n\n{header}\n\n`{command_line}`\n\n{table}\n" + "\n".join(notes) + "\n"
            + (f"\n{failures}" if failures else "") + f"\n## Targets\n\n{goals}")


def write_results(out_dir: Path, document: str, cells: list[Cell], setup: Setup, env_info: dict[str, str],
                  command_line: str) -> None:
    (out_dir / "table.md").write_text(document)
    (out_dir / "results.json").write_text(json.dumps({
        "environment": env_info, "command": command_line, "cpu": setup.args.cpu, "systems": setup.systems,
        "cells": [dataclasses.asdict(c) for c in cells],
    }, indent=2, ensure_ascii=False) + "\n")


def prepare(args: argparse.Namespace) -> tuple[Setup, str, Path]:
    """Build the workloads and their data and work out how each system is run."""
    for tool in ("hyperfine", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} not found (Debian packages hyperfine, util-linux; `make bench` installs them)")
    slimbox_cmd, slimbox_python, slimbox_extra = slimbox_launcher()
    systems, unavailable = available_systems(args.systems, slimbox_python, dict(os.environ, **slimbox_extra))
    build_workloads()
    make_data()
    if any(s in PLATFORMS for s in systems):
        subprocess.run([slimbox_python, "-m", "compileall", "-q", str(REPO / "src")], check=True)
    out_dir = RESULTS / datetime.now().strftime("%Y%m%d-%H%M%S")
    raw_dir = out_dir / "hyperfine"
    raw_dir.mkdir(parents=True, exist_ok=True)
    setup = Setup(args, systems, slimbox_cmd, ["taskset", "-c", str(args.cpu)],
                  system_environments(systems, slimbox_extra), raw_dir, unavailable)
    return setup, slimbox_python, out_dir


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup, slimbox_python, out_dir = prepare(args)
    chosen = chosen_workloads(args.only)
    env_info = environment(setup.systems, slimbox_python, setup.unavailable)  # before the run: the tree may change during it
    started = time.monotonic()
    cells = [cell for workload in chosen for cell in run_workload(workload, setup)]
    command_line = shlex.join(["python3", "bench/run.py", *(sys.argv[1:] if argv is None else argv)])
    document = render_document(cells, setup, chosen, env_info, command_line, time.monotonic() - started)
    write_results(out_dir, document, cells, setup, env_info, command_line)
    print()
    print(document)
    print(f"bench: results in {out_dir.relative_to(REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
