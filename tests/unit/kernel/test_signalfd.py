"""kernel/signalfd.py and signalfd/signalfd4: reading blocked pending signals as
struct signalfd_siginfo records, blocking, readiness and changing the mask."""

from __future__ import annotations

import struct

import pytest

from guest import BLOCKED, FakeGuest
from slimbox.abi.errno import Errno
from slimbox.kernel.file import POLLIN

SIGUSR1, SIGUSR2, SIGKILL, SIGRTMIN = 10, 12, 9, 32
SIG_BLOCK = 0
SFD_NONBLOCK, SFD_CLOEXEC = 0o4000, 0o2000000
SI_USER, SI_QUEUE = 0, -1


def bit(sig: int) -> int:
    return 1 << (sig - 1)


@pytest.fixture
def g() -> FakeGuest:
    guest = FakeGuest()
    mask = guest.put(struct.pack("<Q", bit(SIGUSR1) | bit(SIGUSR2) | bit(SIGRTMIN)), 8)
    assert guest.syscall("rt_sigprocmask", SIG_BLOCK, mask, 0, 8) == 0
    return guest


def sigset(g: FakeGuest, *signals: int) -> int:
    return g.put(struct.pack("<Q", sum(bit(s) for s in signals)), 8)


def records(g: FakeGuest, buf: int, count: int) -> list[tuple]:
    return [struct.unpack_from("<IiiII", g.get(buf + 128 * i, 20)) for i in range(count)]


def test_read_returns_pending_signals_lowest_first(g):
    fd = g.syscall("signalfd4", -1, sigset(g, SIGUSR1, SIGUSR2), 8, SFD_NONBLOCK)
    assert g.syscall("kill", g.task.pid, SIGUSR2) == 0
    assert g.syscall("kill", g.task.pid, SIGUSR1) == 0
    buf = g.alloc(512)
    assert g.syscall("read", fd, buf, 300) == 256  # as many whole records as fit
    assert records(g, buf, 2) == [(SIGUSR1, 0, SI_USER, g.task.pid, 0), (SIGUSR2, 0, SI_USER, g.task.pid, 0)]
    assert g.syscall("read", fd, buf, 128) == -Errno.EAGAIN


def test_sigqueue_value_reaches_ssi_int_and_ssi_ptr(g):
    fd = g.syscall("signalfd", -1, sigset(g, SIGRTMIN), 8)
    info = bytearray(128)
    struct.pack_into("<iii", info, 0, SIGRTMIN, 0, SI_QUEUE)
    struct.pack_into("<iIQ", info, 16, g.task.pid, 0, 0x1_0000_002A)
    assert g.syscall("rt_sigqueueinfo", g.task.pid, SIGRTMIN, g.put(bytes(info), 8)) == 0
    buf = g.alloc(128)
    assert g.syscall("read", fd, buf, 128) == 128
    assert struct.unpack_from("<i", g.get(buf + 44, 4))[0] == 0x2A
    assert struct.unpack_from("<Q", g.get(buf + 48, 8))[0] == 0x1_0000_002A


def test_read_blocks_until_a_signal_arrives(g):
    fd = g.syscall("signalfd", -1, sigset(g, SIGUSR1), 8)
    buf = g.alloc(128)
    assert g.syscall("read", fd, buf, 128) is BLOCKED
    other = g.spawn()
    assert other.syscall("kill", g.task.pid, SIGUSR1) == 0
    assert g.complete() == 128
    assert records(g, buf, 1)[0][:3] == (SIGUSR1, 0, SI_USER)


def test_poll_and_mask_update(g):
    fd = g.syscall("signalfd", -1, sigset(g, SIGUSR1), 8)
    file = g.task.fds.get(fd)
    g.syscall("kill", g.task.pid, SIGUSR2)
    g.kernel.current = g.task
    assert file.poll() == 0
    assert g.syscall("signalfd4", fd, sigset(g, SIGUSR2, SIGKILL), 8, 0) == fd
    assert file.mask == bit(SIGUSR2)  # SIGKILL cannot be read
    g.kernel.current = g.task
    assert file.poll() & POLLIN


def test_errors(g):
    assert g.syscall("signalfd4", -1, sigset(g, SIGUSR1), 4, 0) == -Errno.EINVAL
    assert g.syscall("signalfd4", -1, 0x1000_0000, 8, 0) == -Errno.EFAULT
    assert g.syscall("signalfd4", -1, sigset(g, SIGUSR1), 8, 1) == -Errno.EINVAL
    assert g.syscall("signalfd4", 55, sigset(g, SIGUSR1), 8, 0) == -Errno.EBADF
    pipe = g.alloc(8)
    g.syscall("pipe", pipe)
    assert g.syscall("signalfd4", g.i32(pipe), sigset(g, SIGUSR1), 8, 0) == -Errno.EINVAL
    fd = g.syscall("signalfd4", -1, sigset(g, SIGUSR1), 8, SFD_CLOEXEC)
    assert g.syscall("read", fd, g.alloc(128), 127) == -Errno.EINVAL
    assert g.task.fds.get(fd).describe() == b"anon_inode:[signalfd]"
