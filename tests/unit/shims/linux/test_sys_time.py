"""shims/linux/sys_time.py: clocks read from the (fake) host, and sleeps that block in
the kernel until the fake clock reaches their deadline."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import BLOCKED, UNMAPPED, FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.mm import PROT_READ  # noqa: E402

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
TIMER_ABSTIME = 1
S, MS = 1_000_000_000, 1_000_000


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def timespec(g: FakeGuest, ns: int) -> int:
    return g.put(struct.pack("<qq", ns // S, ns % S), 8)


def clock(g: FakeGuest, clockid: int) -> int:
    out = g.alloc(16)
    result = g.syscall("clock_gettime", clockid & 0xFFFFFFFF, out)
    if result:
        return result
    sec, nsec = struct.unpack("<qq", g.get(out, 16))
    assert 0 <= nsec < S
    return sec * S + nsec


def test_clocks_come_from_the_host(g):
    assert clock(g, CLOCK_REALTIME) == g.host.realtime
    assert clock(g, CLOCK_MONOTONIC) == g.host.monotonic
    for clockid in (CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME):
        assert clock(g, clockid) == g.host.monotonic
    assert clock(g, CLOCK_REALTIME_COARSE) == g.host.realtime
    g.host.advance(1_234_567_891)
    assert clock(g, CLOCK_MONOTONIC) == 5_000_000_000 + 1_234_567_891


def test_cpu_clocks(g):
    g.context.cpu_ns = 3 * MS
    other = g.thread()
    other.context.cpu_ns = 4 * MS
    assert clock(g, CLOCK_THREAD_CPUTIME_ID) == 3 * MS
    assert clock(g, CLOCK_PROCESS_CPUTIME_ID) == 7 * MS  # every thread of the process
    assert clock(g, -6) == 7 * MS  # the process's clock, as clock_getcpuclockid(0) makes it
    assert clock(g, -2) == 3 * MS  # the calling thread's, as pthread_getcpuclockid makes it


@pytest.mark.parametrize("clockid", [12, 100, -1, 10])
def test_unknown_clocks_are_einval(g, clockid):
    assert clock(g, clockid) == -Errno.EINVAL
    assert g.syscall("clock_getres", clockid & 0xFFFFFFFF, g.alloc(16)) == -Errno.EINVAL


def test_bad_pointers(g):
    assert g.syscall("clock_gettime", CLOCK_MONOTONIC, UNMAPPED) == -Errno.EFAULT
    assert g.syscall("clock_gettime", CLOCK_MONOTONIC, g.map(4096, PROT_READ)) == -Errno.EFAULT
    assert g.syscall("gettimeofday", UNMAPPED, 0) == -Errno.EFAULT
    assert g.syscall("nanosleep", UNMAPPED, 0) == -Errno.EFAULT
    assert g.syscall("time", UNMAPPED) == -Errno.EFAULT


def test_resolution(g):
    res = g.alloc(16)
    assert g.syscall("clock_getres", CLOCK_MONOTONIC, res) == 0 and struct.unpack("<qq", g.get(res, 16)) == (0, 1)
    assert g.syscall("clock_getres", CLOCK_REALTIME_COARSE, res) == 0
    assert struct.unpack("<qq", g.get(res, 16)) == (0, 4 * MS)
    assert g.syscall("clock_getres", CLOCK_MONOTONIC, 0) == 0


def test_time_of_day(g):
    tv, tz = g.alloc(16), g.alloc(8)
    g.host.realtime = 1_700_000_123_456_789_012
    assert g.syscall("gettimeofday", tv, tz) == 0
    assert struct.unpack("<qq", g.get(tv, 16)) == (1_700_000_123, 456_789)
    assert g.get(tz, 8) == bytes(8)
    assert g.syscall("gettimeofday", 0, 0) == 0
    tloc = g.alloc(8)
    assert g.syscall("time", tloc) == 1_700_000_123 == g.i64(tloc)
    assert g.syscall("time", 0) == 1_700_000_123
    assert g.syscall("settimeofday", tv, 0) == -Errno.EPERM
    assert g.syscall("clock_settime", CLOCK_REALTIME, tv) == -Errno.EPERM
    assert g.syscall("clock_settime", 99, tv) == -Errno.EINVAL


# --- sleeping ----------------------------------------------------------------------------------------


def test_nanosleep_blocks_until_the_clock_passes_the_deadline(g):
    start = g.kernel.monotonic_ns()
    assert g.syscall("nanosleep", timespec(g, 1500 * MS), 0) is BLOCKED
    g.run_for(1499 * MS)
    assert g.outcome() is BLOCKED
    g.run_for(1 * MS)
    assert g.outcome() == 0
    assert g.kernel.monotonic_ns() - start == 1500 * MS


def test_a_zero_sleep_returns_at_once(g):
    assert g.syscall("nanosleep", timespec(g, 0), 0) == 0


@pytest.mark.parametrize("sec, nsec", [(-1, 0), (0, S), (0, -1), (5, 2 * S)])
def test_invalid_sleeps_are_einval(g, sec, nsec):
    request = g.put(struct.pack("<qq", sec, nsec), 8)
    assert g.syscall("nanosleep", request, 0) == -Errno.EINVAL
    assert g.syscall("clock_nanosleep", CLOCK_MONOTONIC, 0, request, 0) == -Errno.EINVAL


def test_sleeping_threads_wake_in_deadline_order(g):
    slow, fast = g.thread(), g.thread()
    assert slow.syscall("nanosleep", timespec(g, 30 * MS), 0) is BLOCKED
    assert fast.syscall("nanosleep", timespec(g, 10 * MS), 0) is BLOCKED
    assert fast.complete() == 0
    assert slow.outcome() is BLOCKED
    assert slow.complete() == 0


def test_clock_nanosleep_absolute(g):
    now = g.kernel.monotonic_ns()
    assert g.syscall("clock_nanosleep", CLOCK_MONOTONIC, TIMER_ABSTIME, timespec(g, now - 1), 0) == 0
    assert g.syscall("clock_nanosleep", CLOCK_MONOTONIC, TIMER_ABSTIME, timespec(g, now + 7 * MS), 0) is BLOCKED
    assert g.complete() == 0 and g.kernel.monotonic_ns() == now + 7 * MS
    wall = g.kernel.realtime_ns()
    assert g.syscall("clock_nanosleep", CLOCK_REALTIME, TIMER_ABSTIME, timespec(g, wall + 3 * MS), 0) is BLOCKED
    assert g.complete() == 0 and g.kernel.realtime_ns() == wall + 3 * MS


def test_clock_nanosleep_relative_and_refused_clocks(g):
    start = g.kernel.monotonic_ns()
    assert g.syscall("clock_nanosleep", CLOCK_BOOTTIME, 0, timespec(g, 2 * MS), 0) is BLOCKED
    assert g.complete() == 0 and g.kernel.monotonic_ns() - start == 2 * MS
    assert g.syscall("clock_nanosleep", CLOCK_THREAD_CPUTIME_ID, 0, timespec(g, MS), 0) == -Errno.EINVAL
    assert g.syscall("clock_nanosleep", 77, 0, timespec(g, MS), 0) == -Errno.EINVAL
