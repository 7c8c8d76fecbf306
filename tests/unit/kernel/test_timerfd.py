"""kernel/timerfd.py and timerfd_create/settime/gettime: one-shot and periodic timers
counted on the fake clock, absolute times, reads that block until an expiry."""

from __future__ import annotations

import struct

import pytest

from guest import BLOCKED, FakeGuest
from slimbox.abi.errno import Errno
from slimbox.kernel.file import POLLIN

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_PROCESS_CPUTIME_ID = 0, 1, 7, 2
TFD_NONBLOCK, TFD_CLOEXEC, TFD_TIMER_ABSTIME = 0o4000, 0o2000000, 1
MS = 1_000_000
NS = 1_000_000_000


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def itimerspec(g: FakeGuest, value_ns: int, interval_ns: int = 0) -> int:
    return g.put(struct.pack("<qqqq", interval_ns // NS, interval_ns % NS, value_ns // NS, value_ns % NS), 8)


def gettime(g: FakeGuest, fd: int) -> tuple[int, int]:
    buf = g.alloc(32)
    assert g.syscall("timerfd_gettime", fd, buf) == 0
    isec, insec, vsec, vnsec = struct.unpack("<qqqq", g.get(buf, 32))
    return vsec * NS + vnsec, isec * NS + insec


def ticks(g: FakeGuest, fd: int) -> int:
    buf = g.alloc(8)
    result = g.syscall("read", fd, buf, 8)
    return result if result is BLOCKED or result < 0 else g.u64(buf)


def test_create_checks_clock_and_flags(g):
    assert g.syscall("timerfd_create", CLOCK_PROCESS_CPUTIME_ID, 0) == -Errno.EINVAL
    assert g.syscall("timerfd_create", CLOCK_MONOTONIC, 0x1) == -Errno.EINVAL
    for clock in (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME):
        assert g.syscall("timerfd_create", clock, TFD_NONBLOCK | TFD_CLOEXEC) >= 0
    fd = g.syscall("eventfd", 0)
    assert g.syscall("timerfd_gettime", fd, g.alloc(32)) == -Errno.EINVAL
    assert g.syscall("timerfd_gettime", 99, g.alloc(32)) == -Errno.EBADF


def test_one_shot_timer_expires_once(g):
    fd = g.syscall("timerfd_create", CLOCK_MONOTONIC, TFD_NONBLOCK)
    assert ticks(g, fd) == -Errno.EAGAIN
    assert gettime(g, fd) == (0, 0)
    assert g.syscall("timerfd_settime", fd, 0, itimerspec(g, 50 * MS), 0) == 0
    assert gettime(g, fd) == (50 * MS, 0)
    g.run_for(20 * MS)
    assert gettime(g, fd) == (30 * MS, 0)
    assert g.task.fds.get(fd).poll() == 0
    g.run_for(30 * MS)
    assert g.task.fds.get(fd).poll() & POLLIN
    assert ticks(g, fd) == 1
    assert ticks(g, fd) == -Errno.EAGAIN
    assert gettime(g, fd) == (0, 0)


def test_periodic_timer_counts_every_expiry_and_reports_the_old_setting(g):
    fd = g.syscall("timerfd_create", CLOCK_MONOTONIC, TFD_NONBLOCK)
    g.syscall("timerfd_settime", fd, 0, itimerspec(g, 10 * MS, 10 * MS), 0)
    g.run_for(35 * MS)
    assert ticks(g, fd) == 3
    assert gettime(g, fd) == (5 * MS, 10 * MS)
    old = g.alloc(32)
    assert g.syscall("timerfd_settime", fd, 0, itimerspec(g, 0), old) == 0  # disarm
    assert struct.unpack("<qqqq", g.get(old, 32)) == (0, 10 * MS, 0, 5 * MS)
    g.run_for(50 * MS)
    assert ticks(g, fd) == -Errno.EAGAIN


def test_settime_drops_unread_expirations(g):
    fd = g.syscall("timerfd_create", CLOCK_MONOTONIC, TFD_NONBLOCK)
    g.syscall("timerfd_settime", fd, 0, itimerspec(g, 1 * MS), 0)
    g.run_for(2 * MS)
    g.syscall("timerfd_settime", fd, 0, itimerspec(g, 100 * MS), 0)
    assert ticks(g, fd) == -Errno.EAGAIN


def test_absolute_time_in_the_past_expires_at_once(g):
    fd = g.syscall("timerfd_create", CLOCK_REALTIME, TFD_NONBLOCK)
    now = g.kernel.realtime_ns()
    assert g.syscall("timerfd_settime", fd, TFD_TIMER_ABSTIME, itimerspec(g, now - 25 * MS, 10 * MS), 0) == 0
    assert ticks(g, fd) == 3  # the expiry itself and two more intervals since


def test_read_blocks_until_expiry(g):
    fd = g.syscall("timerfd_create", CLOCK_BOOTTIME, 0)
    start = g.kernel.monotonic_ns()
    g.syscall("timerfd_settime", fd, 0, itimerspec(g, 40 * MS), 0)
    buf = g.alloc(8)
    assert g.syscall("read", fd, buf, 8) is BLOCKED
    assert g.complete() == 8 and g.u64(buf) == 1
    assert g.kernel.monotonic_ns() - start == 40 * MS


def test_settime_rejects_bad_arguments(g):
    fd = g.syscall("timerfd_create", CLOCK_MONOTONIC, 0)
    assert g.syscall("timerfd_settime", fd, 0x4, itimerspec(g, MS), 0) == -Errno.EINVAL
    bad = g.put(struct.pack("<qqqq", 0, 0, 0, NS), 8)
    assert g.syscall("timerfd_settime", fd, 0, bad, 0) == -Errno.EINVAL
    negative = g.put(struct.pack("<qqqq", -1, 0, 1, 0), 8)
    assert g.syscall("timerfd_settime", fd, 0, negative, 0) == -Errno.EINVAL
    assert g.syscall("timerfd_settime", fd, 0, 0x1000_0000, 0) == -Errno.EFAULT
    assert g.syscall("read", fd, g.alloc(8), 4) == -Errno.EINVAL
    assert g.syscall("write", fd, g.alloc(8), 8) == -Errno.EINVAL


def test_close_cancels_the_wake_up(g):
    fd = g.syscall("timerfd_create", CLOCK_MONOTONIC, 0)
    g.syscall("timerfd_settime", fd, 0, itimerspec(g, 10 * MS, 10 * MS), 0)
    timer = g.task.fds.get(fd)
    assert g.syscall("close", fd) == 0
    assert timer._wake_timer is None


def test_alarm_clocks_need_root():
    CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM = 8, 9
    root = FakeGuest()
    assert root.syscall("timerfd_create", CLOCK_BOOTTIME_ALARM, 0) >= 0
    user = root.spawn(uid=1000, gid=1000)
    assert user.syscall("timerfd_create", CLOCK_REALTIME_ALARM, 0) == -Errno.EPERM
