"""kernel/poll.py and the syscalls built on it (poll, ppoll, select, pselect6), and
reads that wait for a host stream: blocking until the fake stream is fed, timeouts
that end exactly at their deadline."""

from __future__ import annotations

import struct

import pytest

from guest import BLOCKED, FakeGuest
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block
from slimbox.kernel.file import POLLERR, POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM
from slimbox.kernel.poll import poll_once, wait_for_any

MS = 1_000_000
O_NONBLOCK = 0o4000
F_GETFL, F_SETFL = 3, 4


@pytest.fixture
def g() -> FakeGuest:
    guest = FakeGuest()
    guest.write_file(b"/tmp/file", b"data")
    return guest


def pollfds(g: FakeGuest, *entries: tuple[int, int]) -> int:
    return g.put(b"".join(struct.pack("<ihh", fd, events, 0x5A5A) for fd, events in entries), 8)


def revents(g: FakeGuest, addr: int, count: int) -> list[int]:
    return [struct.unpack_from("<ihh", g.get(addr + 8 * i, 8))[2] & 0xFFFF for i in range(count)]


# --- the kernel part -----------------------------------------------------------------------------


def test_poll_once_reports_readiness_masked_by_the_request(g):
    fd = g.syscall("open", b"/tmp/file", 0, 0)
    got = poll_once(g.task, [(0, POLLIN), (1, POLLOUT), (1, POLLIN), (fd, POLLIN | POLLOUT), (77, POLLIN),
                             (-1, POLLIN)])
    assert got == [0, POLLOUT, 0, POLLIN | POLLOUT, POLLNVAL, 0]


def test_wait_for_any_blocks_on_the_files_queues_and_arms_the_host_watch(g):
    with pytest.raises(Block) as info:
        wait_for_any(g.task, [(0, POLLIN)], None)
    stdin_file = g.task.fds.get(0)
    assert info.value.queues == (stdin_file.read_queue,) and info.value.deadline_ns is None
    assert g.platform.watching(g.stdin)
    with pytest.raises(Block) as info:
        wait_for_any(g.task, [(0, POLLIN)], g.kernel.monotonic_ns() + 5)
    assert info.value.deadline_ns == g.kernel.monotonic_ns() + 5


def test_wait_for_any_returns_at_once_when_ready_or_out_of_time(g):
    assert wait_for_any(g.task, [(0, POLLIN)], 0) == [0]  # a zero timeout never waits
    assert wait_for_any(g.task, [(0, POLLIN)], g.kernel.monotonic_ns()) == [0]  # the deadline has come
    g.stdin.feed(b"x")
    assert wait_for_any(g.task, [(0, POLLIN)], None) == [POLLIN]


def test_a_stream_turning_ready_while_the_waiter_collects_queues_is_reported(g, monkeypatch):
    """Data that comes after the first look but before the watch is armed: the stream's
    wait_queues then watches nothing, so wait_for_any must see the data itself."""
    stdin_file = g.task.fds.get(0)
    collect = stdin_file.wait_queues

    def data_arrives_first(task):
        g.stdin.feed(b"x")
        return collect(task)

    monkeypatch.setattr(stdin_file, "wait_queues", data_arrives_first)
    assert wait_for_any(g.task, [(0, POLLIN)], None) == [POLLIN]


# --- poll(2) and ppoll(2) ---------------------------------------------------------------------------


def test_poll_blocks_until_the_stream_is_fed(g):
    fds = pollfds(g, (0, POLLIN), (-1, POLLIN))
    assert g.syscall("poll", fds, 2, -1) is BLOCKED
    g.step(max_wait_ns=10 * MS)  # nothing arrives: still waiting
    assert g.outcome() is BLOCKED
    g.stdin.feed(b"line\n")
    assert g.complete() == 1
    assert revents(g, fds, 2) == [POLLIN, 0]
    assert struct.unpack_from("<ihh", g.get(fds, 8))[:2] == (0, POLLIN)  # fd and events untouched


def test_poll_reports_end_of_file_as_readable(g):
    fds = pollfds(g, (0, POLLIN))
    assert g.syscall("poll", fds, 1, -1) is BLOCKED
    g.stdin.close_input()
    assert g.complete() == 1
    assert revents(g, fds, 1) == [POLLIN]


def test_poll_timeout_expires_exactly(g):
    fds = pollfds(g, (0, POLLIN))
    start = g.kernel.monotonic_ns()
    assert g.syscall("poll", fds, 1, 250) is BLOCKED
    g.run_for(249 * MS)
    assert g.outcome() is BLOCKED
    assert g.complete() == 0
    assert g.kernel.monotonic_ns() - start == 250 * MS
    assert revents(g, fds, 1) == [0]


def test_a_poll_for_nothing_on_a_ready_stream_sleeps_until_its_timeout(g):
    # found by the syscall fuzzer: a standard input that is always ready (here at end of
    # input) had its host watch armed again on every wake-up, so the loop spun for ever
    g.stdin.close_input()
    fds = pollfds(g, (0, 0))  # asks for no event at all
    start = g.kernel.monotonic_ns()
    assert g.syscall("poll", fds, 1, 50) is BLOCKED
    assert not g.platform.watching(g.stdin)
    assert g.complete(max_steps=20) == 0
    assert g.kernel.monotonic_ns() == start + 50 * MS


def test_poll_with_zero_timeout_and_ready_files_does_not_wait(g):
    fd = g.syscall("open", b"/tmp/file", 2, 0)
    fds = pollfds(g, (0, POLLIN), (1, POLLOUT), (fd, POLLIN | POLLOUT), (99, POLLIN), (-5, POLLIN))
    start = g.kernel.monotonic_ns()
    assert g.syscall("poll", fds, 5, 0) == 3
    assert revents(g, fds, 5) == [0, POLLOUT, POLLIN | POLLOUT, POLLNVAL, 0]
    assert g.kernel.monotonic_ns() == start
    assert g.syscall("poll", 0, 0, 0) == 0


def test_poll_hostile_arguments(g):
    assert g.syscall("poll", 0x1000_0000, 1, 0) == -Errno.EFAULT
    assert g.syscall("poll", pollfds(g, (1, POLLOUT)), 2000, 0) == -Errno.EINVAL  # more than RLIMIT_NOFILE
    assert g.syscall("poll", pollfds(g, (1, POLLOUT)), 0xFFFFFFFF, 0) == -Errno.EINVAL
    tail = g.alloc_tail(8)
    g.set(tail, struct.pack("<ihh", 1, POLLOUT, 0))
    assert g.syscall("poll", tail, 2, 0) == -Errno.EFAULT  # the second entry is unmapped


def test_ppoll_timespec(g):
    fds = pollfds(g, (0, POLLIN))
    bad = g.put(struct.pack("<qq", 0, 1_000_000_000), 8)
    assert g.syscall("ppoll", fds, 1, bad, 0, 8) == -Errno.EINVAL
    assert g.syscall("ppoll", fds, 1, g.put(struct.pack("<qq", 0, 0), 8), 0, 8) == 0
    assert g.syscall("ppoll", fds, 1, g.put(struct.pack("<qq", 1, 500), 8), 0, 8) is BLOCKED
    start = g.kernel.monotonic_ns()
    assert g.complete() == 0 and g.kernel.monotonic_ns() - start == 1_000_000_500


# --- select(2) --------------------------------------------------------------------------------------


def fdset(g: FakeGuest, *fds: int) -> int:
    bits = 0
    for fd in fds:
        bits |= 1 << fd
    return g.put(bits.to_bytes(128, "little"), 8)


def test_select_reports_ready_descriptors_in_the_sets(g):
    read, write = fdset(g, 0), fdset(g, 1, 2)
    timeout = g.put(struct.pack("<qq", 0, 0), 8)
    assert g.syscall("select", 3, read, write, 0, timeout) == 2
    assert int.from_bytes(g.get(read, 8), "little") == 0
    assert int.from_bytes(g.get(write, 8), "little") == 0b110


def test_select_blocks_until_the_stream_is_fed(g):
    read = fdset(g, 0)
    assert g.syscall("select", 1, read, 0, 0, 0) is BLOCKED
    g.stdin.feed(b"!")
    assert g.complete() == 1
    assert int.from_bytes(g.get(read, 8), "little") == 1


def test_select_errors(g):
    assert g.syscall("select", 10, fdset(g, 9), 0, 0, 0) == -Errno.EBADF
    assert g.syscall("select", -1, 0, 0, 0, 0) == -Errno.EINVAL
    bad = g.put(struct.pack("<qq", 0, 1_000_000), 8)
    assert g.syscall("select", 1, fdset(g, 0), 0, 0, bad) == -Errno.EINVAL
    assert g.syscall("select", 1, 0x1000_0000, 0, 0, 0) == -Errno.EFAULT


def test_select_timeout(g):
    start = g.kernel.monotonic_ns()
    assert g.syscall("select", 1, fdset(g, 0), 0, 0, g.put(struct.pack("<qq", 0, 1500), 8)) is BLOCKED
    assert g.complete() == 0
    assert g.kernel.monotonic_ns() - start == 1500 * 1000


# --- reading a host stream ------------------------------------------------------------------------


def test_read_of_an_empty_stream_blocks_until_data_arrives(g):
    buf = g.alloc(64)
    assert g.syscall("read", 0, buf, 64) is BLOCKED
    assert g.platform.watching(g.stdin)
    g.stdin.feed(b"hello")
    assert g.complete() == 5
    assert g.get(buf, 5) == b"hello"


def test_read_returns_what_is_there_and_zero_at_end_of_file(g):
    buf = g.alloc(8)
    g.stdin.feed(b"0123456789")
    assert g.syscall("read", 0, buf, 4) == 4 and g.get(buf, 4) == b"0123"
    assert g.syscall("read", 0, buf, 8) == 6 and g.get(buf, 6) == b"456789"
    g.stdin.close_input()
    assert g.syscall("read", 0, buf, 8) == 0


def test_nonblocking_read_is_eagain(g):
    flags = g.syscall("fcntl", 0, F_GETFL, 0)
    assert g.syscall("fcntl", 0, F_SETFL, flags | O_NONBLOCK) == 0
    assert g.syscall("read", 0, g.alloc(8), 8) == -Errno.EAGAIN
    g.stdin.feed(b"ok")
    assert g.syscall("read", 0, g.alloc(8), 8) == 2


def test_a_blocked_read_is_not_answered_with_a_fault_for_a_good_buffer(g):
    buf = g.alloc(4)
    assert g.syscall("read", 0, buf, 4) is BLOCKED
    g.stdin.feed(b"abcdefgh")
    assert g.complete() == 4
    assert g.stdin.input == bytearray(b"efgh")  # the rest stays for the next read


def test_write_to_a_stream(g):
    assert g.syscall("write", 1, b"out", 3) == 3
    assert g.syscall("write", 2, b"err", 3) == 3
    assert g.stdout.output == b"out" and g.stderr.output == b"err"
    g.stdout.max_write = 2  # a host pipe taking a little at a time: the kernel keeps going
    assert g.syscall("write", 1, b"abcde", 5) == 5
    assert g.stdout.output == b"outabcde"
    g.stdout.write_error = Errno.EPIPE
    assert g.syscall("write", 1, b"x", 1) == -Errno.EPIPE
    assert POLLOUT | POLLWRNORM == poll_once(g.task, [(1, POLLOUT | POLLWRNORM)])[0]
    assert POLLERR & poll_once(g.task, [(0, POLLIN | POLLRDNORM)])[0] == 0


def test_poll_on_dev_tty_waits_on_the_terminal():
    # /dev/tty forwards waiting to the terminal's file; it took no task and failed
    g = FakeGuest(terminal=True)
    g.kernel.terminal = g.task.fds.get(0)  # standard input is the controlling terminal
    fd = g.syscall("open", b"/dev/tty", 2, 0)
    assert fd >= 0
    fds = pollfds(g, (fd, POLLIN))
    assert g.syscall("poll", fds, 1, -1) is BLOCKED
    g.stdin.feed(b"k")
    assert g.complete() == 1
    assert revents(g, fds, 1) == [POLLIN]


def test_o_path_descriptors_are_invalid_to_poll_and_ready_to_select(g):
    O_PATH = 0o10000000
    fd = g.syscall("open", b"/tmp", O_PATH, 0)
    fds = pollfds(g, (fd, POLLIN | POLLOUT))
    assert g.syscall("poll", fds, 1, 0) == 1 and revents(g, fds, 1) == [POLLNVAL]
    read, write = fdset(g, fd), fdset(g, fd)
    assert g.syscall("select", fd + 1, read, write, 0, g.put(struct.pack("<qq", 0, 0), 8)) == 2
