"""The real-platform syscall fuzzer: a small C guest (real/fuzz.c) issues seeded random
syscalls inside sandboxes run one after another by the `slimbox` command, on the
Linux platform (ptrace and seccomp), locked down as the command always runs it.

Each sandbox must end as a program's run ends: the guest's own exit status (the fuzz
controller exits 0 once it has issued its share of syscalls). Exit status 70 (an
internal error), a Python traceback on standard error, a supervisor killed by a
signal (its host-syscall filter, say) or a sandbox that does not end in time are
failures; each is reported with the seed that produced it and what the supervisor
printed. The guest counts the syscalls it issued and reports them on its last line.

    python -m tests.fuzz.real --syscalls 300000 --seed 1
    python -m tests.fuzz.real --sandboxes 1 --syscalls 20000 --seed 7 --strace fuzz.strace
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

_HERE = pathlib.Path(__file__).resolve().parent
_SRC = _HERE.parent.parent / "src"
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from slimbox.shims.linux.table import BY_NUMBER as TABLE  # noqa: E402

try:
    from . import strategy as S
except ImportError:  # run as a script
    import strategy as S  # type: ignore[no-redef]

SOURCE = _HERE / "real" / "fuzz.c"
BUILD = _HERE.parent.parent / "build" / "fuzz"
GUEST_DIR = "/fuzz"
EXIT_INTERNAL_ERROR = 70
_SIGNALS_SHOWN = 6
_LINE_SHOWN = 300  # characters of a line of the supervisor's standard error in a report  # in the summary, the signals that ended the most fuzzing processes
_SUMMARY = re.compile(rb"FUZZ-SUMMARY syscalls=(\d+) workers=(\d+) signalled=(\d+) watchdog=(\d+) skipped=(\d+) "
                      rb"signals=([\d:,]*)")


@dataclass
class Failure:
    seed: int
    what: str         # one line: how the supervisor ended
    stderr: str       # the end of what it printed

    def report(self) -> str:
        lines = [f"FAILURE (sandbox seed {self.seed}): {self.what}"]
        # the guest's workers may have written anything to standard error too: cut it short
        lines += ["  " + line[:_LINE_SHOWN] for line in self.stderr.rstrip().splitlines()[-30:]]
        return "\n".join(lines)


@dataclass
class Stats:
    syscalls: int = 0
    skipped: int = 0
    sandboxes: int = 0
    workers: int = 0
    signalled: int = 0
    watchdog: int = 0
    #: signal number -> fuzzing processes it ended
    deaths: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.syscalls / self.seconds if self.seconds else 0.0


# --- building the guest ------------------------------------------------------------------------


def _implemented() -> tuple[int, ...]:
    return tuple(sorted(nr for nr, entry in TABLE.items() if entry.handler is not None))


def build(directory: pathlib.Path = BUILD) -> pathlib.Path:
    """The guest, compiled static with musl (rebuilt when its source or tables change);
    returns the directory holding it, to be mounted in the sandbox."""
    compiler = shutil.which("musl-gcc")
    if compiler is None:
        raise RuntimeError("musl-gcc is missing: run `make deps` (Debian: musl-tools)")
    directory.mkdir(parents=True, exist_ok=True)
    header = S.c_header(_implemented())
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + header.encode()).hexdigest()[:16]
    binary, stamp = directory / "fuzz", directory / "fuzz.stamp"
    if binary.exists() and stamp.exists() and stamp.read_text() == digest:
        return directory
    (directory / "fuzz_tables.h").write_text(header)
    # no stack protector: it reads %fs, which a fuzzed arch_prctl may move
    subprocess.run([compiler, "-static", "-O1", "-Wall", "-fno-stack-protector", "-I", str(directory),
                    "-o", str(binary), str(SOURCE)], check=True)
    stamp.write_text(digest)
    return directory


# --- one sandbox ---------------------------------------------------------------------------------


def _command(guest_dir: pathlib.Path, seed: int, count: int, strace: pathlib.Path | None) -> list[str]:
    command = [sys.executable, "-m", "slimbox", "run", "-q", "-v", f"{guest_dir}:{GUEST_DIR}:ro"]
    if strace is not None:
        command.append(f"--strace={strace}")
    return command + ["--", f"{GUEST_DIR}/fuzz", "run", str(seed), str(count)]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SRC), env.get("PYTHONPATH", "")) if p)
    return env


def run_sandbox(guest_dir: pathlib.Path, seed: int, count: int, stats: Stats, *, timeout: float = 300.0,
                strace: pathlib.Path | None = None) -> None:
    """One sandbox issuing about `count` random syscalls; adds to `stats`."""
    stats.sandboxes += 1
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(_command(guest_dir, seed, count, strace), stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=err, env=_environment(), timeout=timeout)
        except subprocess.TimeoutExpired:
            stats.failures.append(Failure(seed, f"the sandbox did not end within {timeout:.0f} s", _tail(err)))
            return
        returncode = proc.returncode
        stdout, stderr = _tail(out, binary=True), _tail(err)
    summary = _SUMMARY.search(stdout)
    if summary is not None:
        _add_summary(stats, summary)
    what = _judge(returncode, stderr, summary is not None)
    if what is not None:
        stats.failures.append(Failure(seed, what, stderr))


def _add_summary(stats: Stats, summary: re.Match) -> None:
    syscalls, workers, signalled, watchdog, skipped = (int(v) for v in summary.groups()[:5])
    stats.syscalls += syscalls
    stats.workers += workers
    stats.signalled += signalled
    stats.watchdog += watchdog
    stats.skipped += skipped
    for pair in summary.group(6).decode().split(","):
        if pair:
            signo, count = pair.split(":")
            stats.deaths[int(signo)] += int(count)


def _tail(file, binary: bool = False, size: int = 1 << 16):
    file.seek(0, os.SEEK_END)
    file.seek(max(file.tell() - size, 0))
    data = file.read()
    return data if binary else data.decode(errors="replace")


def _judge(returncode: int, stderr: str, summarised: bool) -> str | None:
    """What went wrong with the supervisor, or None."""
    if returncode == EXIT_INTERNAL_ERROR:
        return "internal error (exit status 70): " + _supervisor_line(stderr)
    if "Traceback (most recent call last)" in stderr:
        return f"a Python traceback on standard error (exit status {returncode})"
    if returncode < 0:
        return f"the supervisor was killed by signal {-returncode}"
    if returncode != 0 or not summarised:
        return f"the fuzz guest did not finish (exit status {returncode}): {_supervisor_line(stderr)}"
    return None


def _supervisor_line(text: str) -> str:
    """The supervisor's last message: from the last "slimbox: " on, since a fuzzing
    worker's output may precede it on the same line; else the last line."""
    start = text.rfind("slimbox: ")
    if start >= 0:
        return text[start:].splitlines()[0]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][-_LINE_SHOWN:] if lines else "(nothing on standard error)"


# --- a run -------------------------------------------------------------------------------------------


def run(seed: int, syscalls: int, sandboxes: int, *, progress=None, strace: pathlib.Path | None = None,
        build_dir: pathlib.Path = BUILD) -> Stats:
    """`syscalls` random syscalls in all, split over `sandboxes` sandboxes run in sequence."""
    guest_dir = build(build_dir)
    stats = Stats()
    seeds = random.Random(seed)
    started = time.perf_counter()
    per_sandbox = -(-syscalls // sandboxes)
    for index in range(sandboxes):
        share = min(per_sandbox, syscalls - stats.syscalls)
        if share <= 0:
            break
        run_sandbox(guest_dir, seeds.getrandbits(48), share, stats, strace=strace)
        if progress is not None:
            progress(stats, time.perf_counter() - started)
    stats.seconds = time.perf_counter() - started
    return stats


def summary_line(seed: int, stats: Stats) -> str:
    return (f"real platform: seed {seed}: {stats.syscalls} syscalls in {stats.seconds:.1f} s ({stats.rate:.0f}/s) "
            f"in {stats.sandboxes} sandboxes, {stats.workers} fuzzing processes ({stats.signalled} ended by a "
            f"signal{_signal_names(stats.deaths)}, {stats.watchdog} stuck and killed), {stats.skipped} calls not issued; "
            f"{len(stats.failures)} failures")


def _signal_names(deaths: Counter) -> str:
    if not deaths:
        return ""
    parts = []
    for signo, count in deaths.most_common(_SIGNALS_SHOWN):
        try:
            name = signal.Signals(signo).name
        except ValueError:
            name = f"signal {signo}"
        parts.append(f"{name} {count}")
    others = sum(deaths.values()) - sum(count for _, count in deaths.most_common(_SIGNALS_SHOWN))
    return ": " + ", ".join(parts) + (f", {others} by other signals" if others else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--syscalls", type=int, default=100_000)
    parser.add_argument("--sandboxes", type=int, default=None, help="default: one per 20,000 syscalls")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--strace", type=pathlib.Path, default=None, help="write the sandbox's strace here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    sandboxes = args.sandboxes or max(1, -(-args.syscalls // 20_000))

    def progress(stats: Stats, elapsed: float) -> None:
        if not args.quiet:
            print(f"  sandbox {stats.sandboxes}/{sandboxes}: {stats.syscalls} syscalls, "
                  f"{stats.syscalls / elapsed:.0f}/s, {len(stats.failures)} failures", file=sys.stderr, flush=True)

    stats = run(seed, args.syscalls, sandboxes, progress=progress, strace=args.strace)
    for failure in stats.failures:
        print(failure.report())
    print(summary_line(seed, stats))
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
