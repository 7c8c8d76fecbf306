"""kernel/itimer.py and getitimer/setitimer for ITIMER_VIRTUAL and ITIMER_PROF: timers
that count the process's CPU time (the fake context's cpu_ns), sampled on the fake clock."""

from __future__ import annotations

import struct

from guest import FakeGuest
from slimbox.abi.errno import Errno

ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
SIGCHLD, SIGVTALRM, SIGPROF = 17, 26, 27
SIG_IGN = 1
MS = 1_000_000


def itimerval(g: FakeGuest, value_ms: int, interval_ms: int = 0) -> int:
    return g.put(struct.pack("<qqqq", interval_ms // 1000, interval_ms % 1000 * 1000,
                             value_ms // 1000, value_ms % 1000 * 1000), 8)


def now(g: FakeGuest, which: int) -> tuple[int, int]:
    """(value, interval) in milliseconds."""
    out = g.alloc(32)
    assert g.syscall("getitimer", which, out) == 0
    interval_s, interval_us, value_s, value_us = struct.unpack("<qqqq", g.get(out, 32))
    return (value_s * 1000 + value_us // 1000, interval_s * 1000 + interval_us // 1000)


def test_prof_timer_signals_when_the_cpu_time_is_used():
    g = FakeGuest()
    assert g.syscall("setitimer", ITIMER_PROF, itimerval(g, 500), 0) == 0
    assert now(g, ITIMER_PROF) == (500, 0)
    g.run_for(2000 * MS)  # wall-clock time alone does not count
    assert g.process.alive and now(g, ITIMER_PROF) == (500, 0)
    g.context.cpu_ns += 400 * MS
    g.run_for(20 * MS)
    assert g.process.alive and now(g, ITIMER_PROF) == (100, 0)
    g.context.cpu_ns += 100 * MS
    g.run_for(10 * MS)  # to the next sample
    assert g.process.exit_status == (0, SIGPROF)


def test_virtual_timer_rearms_with_its_interval_and_disarms():
    g = FakeGuest()
    ignore = g.put(struct.pack("<QQQQ", SIG_IGN, 0, 0, 0), 8)
    assert g.syscall("rt_sigaction", SIGVTALRM, ignore, 0, 8) == 0
    assert g.syscall("setitimer", ITIMER_VIRTUAL, itimerval(g, 100, 300), 0) == 0
    g.context.cpu_ns += 150 * MS
    g.run_for(20 * MS)
    assert g.process.alive and now(g, ITIMER_VIRTUAL) == (250, 300)  # next expiry: 100 + 300
    old = g.alloc(32)
    assert g.syscall("setitimer", ITIMER_VIRTUAL, itimerval(g, 0), old) == 0
    assert struct.unpack("<qqqq", g.get(old, 32)) == (0, 300_000, 0, 250_000)
    assert now(g, ITIMER_VIRTUAL) == (0, 0)
    assert now(g, ITIMER_PROF) == (0, 0) and now(g, ITIMER_REAL) == (0, 0)


def test_a_fork_child_starts_without_cpu_timers_and_bad_arguments_fail():
    g = FakeGuest()
    assert g.syscall("setitimer", ITIMER_PROF, itimerval(g, 500), 0) == 0
    pid = g.syscall("clone", SIGCHLD, 0, 0, 0, 0)
    assert g.kernel.processes[pid].cpu_timers == {} and now(g, ITIMER_PROF) == (500, 0)
    assert g.syscall("setitimer", 3, itimerval(g, 1), 0) == -Errno.EINVAL
    assert g.syscall("getitimer", 3, g.alloc(32)) == -Errno.EINVAL
    bad = g.put(struct.pack("<qqqq", 0, 0, 0, 1_000_000), 8)
    assert g.syscall("setitimer", ITIMER_PROF, bad, 0) == -Errno.EINVAL
