"""kernel/eventfd.py and eventfd/eventfd2: the counter, semaphore mode, the 8-byte rule,
blocking on an empty or full counter, and readiness."""

from __future__ import annotations

import struct

import pytest

from guest import BLOCKED, FakeGuest
from slimbox.abi.errno import Errno
from slimbox.kernel.eventfd import COUNTER_MAX, EventFdFile
from slimbox.kernel.file import POLLIN, POLLOUT

EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC = 1, 0o4000, 0o2000000
F_GETFD, F_GETFL = 1, 3


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def u64(g: FakeGuest, value: int) -> int:
    return g.put(struct.pack("<Q", value), 8)


def read_value(g: FakeGuest, fd: int) -> int:
    buf = g.alloc(8)
    result = g.syscall("read", fd, buf, 8)
    assert result == 8, result
    return g.u64(buf)


def test_counter_adds_writes_and_a_read_takes_all(g):
    fd = g.syscall("eventfd2", 3, EFD_NONBLOCK)
    assert isinstance(g.task.fds.get(fd), EventFdFile)
    assert g.syscall("write", fd, u64(g, 4), 8) == 8
    assert read_value(g, fd) == 7
    assert g.syscall("read", fd, g.alloc(8), 8) == -Errno.EAGAIN


def test_semaphore_mode_takes_one_at_a_time(g):
    fd = g.syscall("eventfd2", 2, EFD_SEMAPHORE | EFD_NONBLOCK)
    assert [read_value(g, fd), read_value(g, fd)] == [1, 1]
    assert g.syscall("read", fd, g.alloc(8), 8) == -Errno.EAGAIN


def test_short_buffers_and_the_overflow_value_are_einval(g):
    fd = g.syscall("eventfd", 1)
    assert g.syscall("read", fd, g.alloc(8), 7) == -Errno.EINVAL
    assert g.syscall("write", fd, u64(g, 1), 4) == -Errno.EINVAL
    assert g.syscall("write", fd, u64(g, (1 << 64) - 1), 8) == -Errno.EINVAL
    assert g.syscall("read", fd, g.alloc(16), 16) == 8  # a longer buffer gets 8 bytes
    assert g.syscall("read", fd, g.alloc(8), 0) == -Errno.EINVAL  # even nothing is too short
    assert g.syscall("write", fd, u64(g, 1), 0) == -Errno.EINVAL
    iov = g.put(struct.pack("<QQ", g.alloc(8), 4), 8)
    assert g.syscall("readv", fd, iov, 1) == -Errno.EINVAL


def test_flags(g):
    assert g.syscall("eventfd2", 0, 0x4) == -Errno.EINVAL
    fd = g.syscall("eventfd2", 0, EFD_CLOEXEC | EFD_NONBLOCK)
    assert g.syscall("fcntl", fd, F_GETFD, 0) == 1
    assert g.syscall("fcntl", fd, F_GETFL, 0) == 0o2 | EFD_NONBLOCK
    assert g.task.fds.get(fd).describe() == b"anon_inode:[eventfd]"


def test_read_blocks_until_a_write(g):
    fd = g.syscall("eventfd", 0)
    other = g.thread()
    buf = g.alloc(8)
    assert g.syscall("read", fd, buf, 8) is BLOCKED
    assert other.syscall("write", fd, u64(other, 5), 8) == 8
    assert g.complete() == 8 and g.u64(buf) == 5


def test_write_that_would_overflow_waits_for_a_read(g):
    fd = g.syscall("eventfd", 0)
    assert g.syscall("write", fd, u64(g, COUNTER_MAX), 8) == 8
    nonblocking = g.syscall("eventfd2", 0, EFD_NONBLOCK)  # the initial value is only 32 bits
    assert g.syscall("write", nonblocking, u64(g, COUNTER_MAX), 8) == 8
    assert g.syscall("write", nonblocking, u64(g, 1), 8) == -Errno.EAGAIN
    assert g.syscall("write", nonblocking, u64(g, 0), 8) == 8  # adding nothing always fits
    other = g.thread()
    assert g.syscall("write", fd, u64(g, 1), 8) is BLOCKED
    assert read_value(other, fd) == COUNTER_MAX
    assert g.complete() == 8
    assert read_value(other, fd) == 1


def test_readiness(g):
    fd = g.syscall("eventfd2", 0, EFD_NONBLOCK)
    file = g.task.fds.get(fd)
    assert file.poll() & (POLLIN | POLLOUT) == POLLOUT
    g.syscall("write", fd, u64(g, COUNTER_MAX), 8)
    assert file.poll() & (POLLIN | POLLOUT) == POLLIN
    assert file.wait_queues(g.task) == (file.readers, file.writers)


def test_fstat_shows_the_shared_anonymous_inode(g):
    efd, epfd = g.syscall("eventfd", 0), g.syscall("epoll_create1", 0)
    first, second = g.task.fds.get(efd).stat(), g.task.fds.get(epfd).stat()
    assert (first.mode, first.nlink, first.uid, first.size) == (0o600, 1, 0, 0)
    assert (first.dev, first.ino) == (second.dev, second.ino)
    assert g.syscall("fstat", efd, g.alloc(144)) == 0
