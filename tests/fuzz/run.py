"""Both syscall fuzzers, one after the other, with one summary: the fake platform
(fake.py: the kernel in this process, bugs replayed and shrunk) and the real Linux
platform (real.py: a C guest in `slimbox run` sandboxes). `make fuzz` runs this.

    python -m tests.fuzz.run --fake 700000 --real 300000 --seed 1
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import resource
import sys
import time

_HERE = pathlib.Path(__file__).resolve().parent
if str(_HERE.parent.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent.parent))

from tests.fuzz import fake, real  # noqa: E402

BUG_DIR = _HERE.parent.parent / "build" / "fuzz" / "bugs"


def _run_fake(seed: int, count: int) -> tuple[str, list[str], int]:
    logging.getLogger("slimbox").setLevel(logging.CRITICAL)  # unsupported syscalls are the fuzz's daily bread
    fuzzer = fake.FakeFuzzer(seed, out_dir=BUG_DIR)
    saved = resource.getrlimit(resource.RLIMIT_AS)
    fake.limit_memory(4)  # only here: the real platform's sandboxes would inherit it
    try:
        stats = fuzzer.run(count, progress=lambda s, elapsed: print(
            f"  fake: {s.syscalls} syscalls, {s.syscalls / elapsed:.0f}/s, {len(s.bugs)} bugs", file=sys.stderr,
            flush=True))
    finally:
        resource.setrlimit(resource.RLIMIT_AS, saved)
    line = (f"fake platform: seed {seed}: {stats.syscalls} syscalls in {stats.seconds:.1f} s ({stats.rate:.0f}/s); "
            f"{stats.completed} succeeded, {stats.errors} failed, {stats.blocked} blocked, {stats.gone} ended "
            f"their thread; {stats.worlds} worlds, {stats.processes} fuzzed processes; {len(stats.bugs)} bugs")
    return line, [bug.report() for bug in stats.bugs], stats.syscalls


def _run_real(seed: int, count: int) -> tuple[str, list[str], int]:
    sandboxes = max(1, -(-count // 20_000))
    stats = real.run(seed, count, sandboxes, progress=lambda s, elapsed: print(
        f"  real: sandbox {s.sandboxes}/{sandboxes}, {s.syscalls} syscalls, {s.syscalls / elapsed:.0f}/s, "
        f"{len(s.failures)} failures", file=sys.stderr, flush=True))
    return real.summary_line(seed, stats), [failure.report() for failure in stats.failures], stats.syscalls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fake", type=int, default=700_000, help="syscalls on the fake platform")
    parser.add_argument("--real", type=int, default=300_000, help="syscalls on the real platform")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines, problems, total = [], [], 0
    for runner, count in ((_run_fake, args.fake), (_run_real, args.real)):
        if count > 0:
            line, found, done = runner(args.seed, count)
            lines.append(line)
            problems += found
            total += done
    for problem in problems:
        print(problem)
    print("\n".join(lines))
    print(f"total: {total} random syscalls in {time.perf_counter() - started:.0f} s; "
          f"{len(problems)} problems" + (f" (reproducers in {BUG_DIR})" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
