"""kernel/epoll.py and the epoll syscalls: level- and edge-triggered reporting,
EPOLLONESHOT, the errors of epoll_ctl, interests that follow the open file description,
nesting and loops, and waits woken by the files they watch."""

from __future__ import annotations

import struct

import pytest

from guest import BLOCKED, FakeGuest
from slimbox.abi.errno import Errno

EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP = 0x1, 0x4, 0x8, 0x10, 0x2000
EPOLLEXCLUSIVE, EPOLLONESHOT, EPOLLET = 1 << 28, 1 << 30, 1 << 31
ADD, DEL, MOD = 1, 2, 3
EPOLL_CLOEXEC = 0o2000000
MS = 1_000_000


@pytest.fixture
def g() -> FakeGuest:
    guest = FakeGuest()
    guest.write_file(b"/tmp/file", b"data")
    return guest


def pipe(g: FakeGuest) -> tuple[int, int]:
    buf = g.alloc(8)
    assert g.syscall("pipe2", buf, 0o4000) == 0
    return struct.unpack("<ii", g.get(buf, 8))


def ctl(g: FakeGuest, epfd: int, op: int, fd: int, events: int = 0, data: int = 0) -> int:
    return g.syscall("epoll_ctl", epfd, op, fd, g.put(struct.pack("<IQ", events, data), 4))


def wait(g: FakeGuest, epfd: int, timeout: int = 0, most: int = 8) -> list[tuple[int, int]] | object:
    buf = g.alloc(12 * most)
    result = g.syscall("epoll_wait", epfd, buf, most, timeout)
    if result is BLOCKED or result < 0:
        return result
    return [struct.unpack_from("<IQ", g.get(buf + 12 * i, 12)) for i in range(result)]


def test_level_triggered_reports_while_ready(g):
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    assert ctl(g, ep, ADD, r, EPOLLIN, 0xDEAD_BEEF_0000_0001) == 0
    assert wait(g, ep) == []
    g.syscall("write", w, b"x", 1)
    assert wait(g, ep) == [(EPOLLIN, 0xDEAD_BEEF_0000_0001)]
    assert wait(g, ep) == [(EPOLLIN, 0xDEAD_BEEF_0000_0001)]
    g.syscall("read", r, g.alloc(4), 4)
    assert wait(g, ep) == []


def test_edge_triggered_reports_each_change_once(g):
    ep = g.syscall("epoll_create", 1)
    r, w = pipe(g)
    ctl(g, ep, ADD, r, EPOLLIN | EPOLLET, 7)
    g.syscall("write", w, b"x", 1)
    assert wait(g, ep) == [(EPOLLIN, 7)]
    assert wait(g, ep) == []
    g.syscall("write", w, b"y", 1)  # more data is a new edge, as in Linux
    assert wait(g, ep) == [(EPOLLIN, 7)]
    assert ctl(g, ep, MOD, r, EPOLLIN | EPOLLET, 8) == 0  # MOD re-reports what is there
    assert wait(g, ep) == [(EPOLLIN, 8)]


def test_oneshot_disables_until_mod(g):
    ep = g.syscall("epoll_create1", EPOLL_CLOEXEC)
    r, w = pipe(g)
    g.syscall("write", w, b"x", 1)
    ctl(g, ep, ADD, r, EPOLLIN | EPOLLONESHOT, 1)
    assert wait(g, ep) == [(EPOLLIN, 1)]
    g.syscall("write", w, b"x", 1)
    assert wait(g, ep) == []
    ctl(g, ep, MOD, r, EPOLLIN | EPOLLONESHOT, 2)
    assert wait(g, ep) == [(EPOLLIN, 2)]


def test_hangup_and_error_are_always_reported(g):
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    r2, w2 = pipe(g)
    ctl(g, ep, ADD, r, EPOLLRDHUP, 1)
    ctl(g, ep, ADD, w2, 0, 2)
    g.syscall("close", w)
    g.syscall("close", r2)
    assert sorted(wait(g, ep)) == [(EPOLLERR, 2), (EPOLLHUP, 1)]


def test_ctl_errors(g):
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    file = g.syscall("open", b"/tmp/file", 0, 0)
    assert g.syscall("epoll_create", 0) == -Errno.EINVAL
    assert g.syscall("epoll_create1", 1) == -Errno.EINVAL
    assert ctl(g, ep, ADD, file, EPOLLIN) == -Errno.EPERM
    assert ctl(g, r, ADD, w, EPOLLIN) == -Errno.EINVAL  # not an epoll
    assert ctl(g, ep, ADD, ep, EPOLLIN) == -Errno.EINVAL  # itself
    assert ctl(g, ep, ADD, 99, EPOLLIN) == -Errno.EBADF
    assert ctl(g, ep, MOD, r, EPOLLIN) == -Errno.ENOENT
    assert ctl(g, ep, DEL, r) == -Errno.ENOENT
    assert ctl(g, ep, 7, r, EPOLLIN) == -Errno.EINVAL
    assert ctl(g, ep, ADD, r, EPOLLIN) == 0
    assert ctl(g, ep, ADD, r, EPOLLIN) == -Errno.EEXIST
    assert ctl(g, ep, ADD, w, EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP) == -Errno.EINVAL
    assert ctl(g, ep, ADD, w, EPOLLOUT | EPOLLEXCLUSIVE) == 0
    assert ctl(g, ep, MOD, w, EPOLLOUT) == -Errno.EINVAL  # an exclusive interest cannot change
    assert g.syscall("epoll_ctl", ep, ADD, r, 0x1000_0000) == -Errno.EFAULT
    assert g.syscall("epoll_ctl", ep, DEL, r, 0x1000_0000) == 0  # DEL reads no event


def test_wait_errors(g):
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    assert g.syscall("epoll_wait", ep, g.alloc(12), 0, 0) == -Errno.EINVAL
    assert g.syscall("epoll_wait", r, g.alloc(12), 1, 0) == -Errno.EINVAL
    assert g.syscall("epoll_wait", 99, g.alloc(12), 1, 0) == -Errno.EBADF
    ctl(g, ep, ADD, w, EPOLLOUT, 5)
    assert g.syscall("epoll_wait", ep, 0x1000_0000, 1, 0) == -Errno.EFAULT
    assert wait(g, ep) == [(EPOLLOUT, 5)]  # the failed copy lost nothing


def test_interest_follows_the_description(g):
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    copy = g.syscall("dup", r)
    ctl(g, ep, ADD, r, EPOLLIN, 1)
    g.syscall("close", r)
    g.syscall("write", w, b"x", 1)
    assert wait(g, ep) == [(EPOLLIN, 1)]  # still there: the description is open through the dup
    assert ctl(g, ep, DEL, copy) == -Errno.ENOENT  # the key is (description, number)
    g.syscall("close", copy)
    assert wait(g, ep) == [] and g.task.fds.get(ep).interests == {}


def test_one_description_under_several_numbers(g):
    """Interests of one description under two numbers: DEL of one leaves the other
    reporting; the last close of the description drops every one of them."""
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    other_r, other_w = pipe(g)
    copy = g.syscall("dup", r)
    ctl(g, ep, ADD, r, EPOLLIN, 1)
    ctl(g, ep, ADD, copy, EPOLLIN, 2)
    ctl(g, ep, ADD, other_r, EPOLLIN, 3)
    g.syscall("write", w, b"x", 1)
    g.syscall("write", other_w, b"x", 1)
    assert sorted(wait(g, ep)) == [(EPOLLIN, 1), (EPOLLIN, 2), (EPOLLIN, 3)]
    assert ctl(g, ep, DEL, r) == 0
    assert sorted(wait(g, ep)) == [(EPOLLIN, 2), (EPOLLIN, 3)]
    assert ctl(g, ep, ADD, r, EPOLLIN, 4) == 0
    g.syscall("close", r)
    g.syscall("close", copy)
    assert wait(g, ep) == [(EPOLLIN, 3)]
    interests = g.task.fds.get(ep).interests
    assert [item.data for item in interests.values()] == [3]
    g.syscall("close", other_r)
    assert wait(g, ep) == [] and interests == {}


def test_maxevents_limits_and_busy_descriptors_take_turns(g):
    ep = g.syscall("epoll_create1", 0)
    ends = [pipe(g) for _ in range(3)]
    for index, (r, w) in enumerate(ends):
        g.syscall("write", w, b"x", 1)
        ctl(g, ep, ADD, r, EPOLLIN, index)
    assert [data for _, data in wait(g, ep, most=2)] == [0, 1]
    assert [data for _, data in wait(g, ep, most=2)] == [2, 0]


def test_nesting_and_loops(g):
    outer, inner = g.syscall("epoll_create1", 0), g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    ctl(g, inner, ADD, r, EPOLLIN, 1)
    assert ctl(g, outer, ADD, inner, EPOLLIN, 2) == 0
    assert ctl(g, inner, ADD, outer, EPOLLIN) == -Errno.ELOOP
    assert wait(g, outer) == []
    g.syscall("write", w, b"x", 1)
    assert wait(g, outer) == [(EPOLLIN, 2)]
    chain = [g.syscall("epoll_create1", 0) for _ in range(10)]
    results = [ctl(g, upper, ADD, lower, EPOLLIN) for upper, lower in zip(chain[-2::-1], chain[::-1])]
    assert results[:5] == [0, 0, 0, 0, -Errno.ELOOP]  # at most five epolls in a chain, as in Linux


def test_poll_on_an_epoll_file(g):
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    ctl(g, ep, ADD, r, EPOLLIN, 1)
    fds = g.put(struct.pack("<ihh", ep, 1, 0), 8)
    assert g.syscall("poll", fds, 1, -1) is BLOCKED
    g.thread().syscall("write", w, b"x", 1)
    assert g.complete() == 1


def test_wait_blocks_until_a_write_or_the_timeout(g):
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    ctl(g, ep, ADD, r, EPOLLIN | EPOLLET, 3)
    buf = g.alloc(12)
    assert g.syscall("epoll_wait", ep, buf, 1, -1) is BLOCKED
    g.thread().syscall("write", w, b"x", 1)
    assert g.complete() == 1 and struct.unpack("<IQ", g.get(buf, 12)) == (EPOLLIN, 3)
    start = g.kernel.monotonic_ns()
    assert g.syscall("epoll_wait", ep, buf, 1, 30) is BLOCKED
    assert g.complete() == 0 and g.kernel.monotonic_ns() - start == 30 * MS
    timeout = g.put(struct.pack("<qq", 0, 5 * MS), 8)
    assert g.syscall("epoll_pwait2", ep, buf, 1, timeout, 0, 8) is BLOCKED
    assert g.complete() == 0
    bad = g.put(struct.pack("<qq", 0, 1_000_000_000), 8)
    assert g.syscall("epoll_pwait2", ep, buf, 1, bad, 0, 8) == -Errno.EINVAL
    assert g.syscall("epoll_pwait", ep, buf, 1, 0, g.put(b"\0" * 8, 8), 4) == -Errno.EINVAL


def test_new_event_files_wake_a_wait(g):
    ep = g.syscall("epoll_create1", 0)
    efd = g.syscall("eventfd2", 0, 0)
    tfd = g.syscall("timerfd_create", 1, 0)
    ctl(g, ep, ADD, efd, EPOLLIN, 1)
    ctl(g, ep, ADD, tfd, EPOLLIN, 2)
    g.syscall("timerfd_settime", tfd, 0, g.put(struct.pack("<qqqq", 0, 0, 0, 10 * MS), 8), 0)
    buf = g.alloc(24)
    assert g.syscall("epoll_wait", ep, buf, 2, -1) is BLOCKED
    assert g.complete() == 1 and struct.unpack("<IQ", g.get(buf, 12)) == (EPOLLIN, 2)


def test_host_stream_edges_arm_the_host_watch_each_time(g):
    ep = g.syscall("epoll_create1", 0)
    assert ctl(g, ep, ADD, 0, EPOLLIN | EPOLLET, 9) == 0
    buf = g.alloc(12)
    for chunk in (b"first", b"second"):
        assert g.syscall("epoll_wait", ep, buf, 1, -1) is BLOCKED
        assert g.platform.watching(g.stdin)
        g.stdin.feed(chunk)
        assert g.complete() == 1 and struct.unpack("<IQ", g.get(buf, 12)) == (EPOLLIN, 9)
        assert g.syscall("read", 0, g.alloc(16), 16) == len(chunk)
    assert ctl(g, ep, ADD, 1, EPOLLOUT, 10) == 0
    assert wait(g, ep) == [(EPOLLOUT, 10)]


def test_closing_the_epoll_unsubscribes_its_interests(g):
    ep = g.syscall("epoll_create1", 0)
    r, w = pipe(g)
    ctl(g, ep, ADD, r, EPOLLIN, 1)
    pipe_file = g.task.fds.get(r)
    assert len(pipe_file.pipe.read_queue) == 1 and len(pipe_file.watchers) == 1
    g.syscall("close", ep)
    assert len(pipe_file.pipe.read_queue) == 0 and pipe_file.watchers == []


def test_an_eventfd_read_is_no_edge_for_an_epollin_watch(g):
    ep = g.syscall("epoll_create1", 0)
    sem = g.syscall("eventfd2", 2, 1 | 0o4000)  # EFD_SEMAPHORE | EFD_NONBLOCK
    ctl(g, ep, ADD, sem, EPOLLIN | EPOLLET, 4)
    assert wait(g, ep) == [(EPOLLIN, 4)]
    assert g.syscall("read", sem, g.alloc(8), 8) == 8  # one taken, one left: still readable
    assert wait(g, ep) == []  # a read signals room (EPOLLOUT), not data
    g.syscall("write", sem, g.put(struct.pack("<Q", 1), 8), 8)
    assert wait(g, ep) == [(EPOLLIN, 4)]


def test_a_read_from_an_o_rdwr_fifo_is_no_edge(g):
    assert g.syscall("mknod", b"/tmp/fifo", 0o10600, 0) == 0
    fifo = g.syscall("open", b"/tmp/fifo", 0o2 | 0o4000, 0)
    ep = g.syscall("epoll_create1", 0)
    ctl(g, ep, ADD, fifo, EPOLLIN | EPOLLET, 6)
    g.syscall("write", fifo, b"ab", 2)
    assert wait(g, ep) == [(EPOLLIN, 6)]
    assert g.syscall("read", fifo, g.alloc(1), 1) == 1
    assert wait(g, ep) == []
    g.syscall("write", fifo, b"c", 1)
    assert wait(g, ep) == [(EPOLLIN, 6)]
