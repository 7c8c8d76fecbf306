"""Socket syscalls on AF_UNIX socket pairs through the Linux personality, on the fake
platform: data transfer, message boundaries, shutdown, blocking, readiness, options,
descriptor and credential passing, and the errno of every bad input."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import BLOCKED, GONE, UNMAPPED, FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.fs.inode import S_IFSOCK  # noqa: E402
from slimbox.kernel.net.unix import UnixSocket  # noqa: E402

AF_UNIX, AF_INET, AF_NETLINK = 1, 2, 16
SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW = 1, 2, 5, 3
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
MSG_OOB, MSG_PEEK, MSG_CTRUNC, MSG_TRUNC, MSG_DONTWAIT = 0x1, 0x2, 0x8, 0x20, 0x40
MSG_WAITALL, MSG_NOSIGNAL, MSG_CMSG_CLOEXEC = 0x100, 0x4000, 0x40000000
SOL_SOCKET, SCM_RIGHTS, SCM_CREDENTIALS = 1, 1, 2
SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE = 3, 4, 7, 8, 9
SO_PASSCRED, SO_PEERCRED, SO_RCVTIMEO, SO_DOMAIN = 16, 17, 20, 39
POLLIN, POLLOUT, POLLHUP, POLLRDHUP = 0x1, 0x4, 0x10, 0x2000
F_GETFD, F_GETFL = 1, 3
MSGHDR = struct.Struct("<QI4xQQQQi4x")


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def pair(g: FakeGuest, kind: int = SOCK_STREAM) -> tuple[int, int]:
    sv = g.alloc(8)
    assert g.syscall("socketpair", AF_UNIX, kind, 0, sv) == 0
    return g.i32(sv), g.i32(sv + 4)


def send(g: FakeGuest, fd: int, data: bytes, flags: int = 0) -> int:
    return g.syscall("sendto", fd, g.put(data) if data else g.alloc(1), len(data), flags, 0, 0)


def recv(g: FakeGuest, fd: int, length: int = 100, flags: int = 0) -> bytes | int:
    buf = g.alloc(max(length, 1))
    result = g.syscall("recvfrom", fd, buf, length, flags, 0, 0)
    assert result is not BLOCKED
    if result < 0:
        return result
    return g.get(buf, min(result, length))


def msghdr(g: FakeGuest, vectors: list[tuple[int, int]], control: int = 0, controllen: int = 0,
           name: int = 0, namelen: int = 0) -> int:
    iov = g.put(b"".join(struct.pack("<QQ", base, length) for base, length in vectors)) if vectors else 0
    return g.put(MSGHDR.pack(name, namelen, iov, len(vectors), control, controllen, 0), 8)


def rights(fds: list[int]) -> bytes:
    payload = b"".join(struct.pack("<i", fd) for fd in fds)
    record = struct.pack("<Qii", 16 + len(payload), SOL_SOCKET, SCM_RIGHTS) + payload
    return record + bytes(-len(record) % 8)


def poll_events(g: FakeGuest, fd: int, events: int = POLLIN | POLLOUT | POLLRDHUP) -> int:
    pfd = g.put(struct.pack("<ihh", fd, events, 0), 8)
    assert g.syscall("poll", pfd, 1, 0) >= 0
    return struct.unpack("<h", g.get(pfd + 6, 2))[0] & 0xFFFF


# --- socketpair ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET])
def test_socketpair_makes_two_connected_sockets_of_the_kind(g, kind):
    a, b = pair(g, kind)
    assert isinstance(g.task.fds.get(a), UnixSocket)
    value, length = g.alloc(4), g.put(struct.pack("<i", 4))
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_TYPE, value, length) == 0
    assert g.i32(value) == kind and g.i32(length) == 4
    assert send(g, a, b"ping") == 4
    assert recv(g, b) == b"ping"


def test_a_raw_unix_socket_is_a_datagram_socket(g):
    a, _ = pair(g, SOCK_RAW)
    value, length = g.alloc(4), g.put(struct.pack("<i", 4))
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_TYPE, value, length) == 0
    assert g.i32(value) == SOCK_DGRAM


def test_socketpair_flags_set_nonblocking_and_close_on_exec(g):
    sv = g.alloc(8)
    assert g.syscall("socketpair", AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0
    a = g.i32(sv)
    assert g.syscall("fcntl", a, F_GETFD, 0) == 1
    assert g.syscall("fcntl", a, F_GETFL, 0) & SOCK_NONBLOCK
    assert recv(g, a) == -Errno.EAGAIN


@pytest.mark.parametrize("domain, kind, protocol, errno", [
    (AF_INET, SOCK_STREAM, 0, Errno.EOPNOTSUPP),
    (AF_NETLINK, SOCK_DGRAM, 0, Errno.EAFNOSUPPORT),
    (AF_UNIX, 4, 0, Errno.ESOCKTNOSUPPORT),
    (AF_UNIX, 12, 0, Errno.EINVAL),
    (AF_UNIX, SOCK_STREAM, 6, Errno.EPROTONOSUPPORT),
    (AF_UNIX, SOCK_STREAM | 0x100, 0, Errno.EINVAL),
])
def test_socketpair_refuses_what_it_does_not_make(g, domain, kind, protocol, errno):
    assert g.syscall("socketpair", domain, kind, protocol, g.alloc(8)) == -errno


def test_socketpair_to_a_bad_pointer_is_efault_and_leaves_no_descriptors(g):
    before = g.task.fds.count()
    assert g.syscall("socketpair", AF_UNIX, SOCK_STREAM, 0, UNMAPPED) == -Errno.EFAULT
    assert g.task.fds.count() == before


def test_fstat_shows_a_socket(g):
    a, _ = pair(g)
    statbuf = g.alloc(144)
    assert g.syscall("fstat", a, statbuf) == 0
    assert g.u32(statbuf + 24) & 0o170000 == S_IFSOCK


# --- streams ----------------------------------------------------------------------------------------


def test_stream_read_write_cross_sends_and_keeps_order(g):
    a, b = pair(g)
    assert g.syscall("write", a, g.put(b"abc"), 3) == 3
    assert g.syscall("write", a, g.put(b"def"), 3) == 3
    buf = g.alloc(4)
    assert g.syscall("read", b, buf, 4) == 4 and g.get(buf, 4) == b"abcd"
    assert recv(g, b) == b"ef"


def test_peek_leaves_the_data(g):
    a, b = pair(g)
    send(g, a, b"hello")
    assert recv(g, b, 3, MSG_PEEK) == b"hel"
    assert recv(g, b) == b"hello"


def test_empty_receive_blocks_until_data_comes(g):
    a, b = pair(g)
    other = g.thread()
    buf = other.alloc(16)
    assert other.syscall("recvfrom", b, buf, 16, 0, 0, 0) is BLOCKED
    assert send(g, a, b"wake") == 4
    assert other.complete() == 4 and other.get(buf, 4) == b"wake"


def test_dontwait_gives_eagain_on_an_empty_socket(g):
    _, b = pair(g)
    assert recv(g, b, 10, MSG_DONTWAIT) == -Errno.EAGAIN


def test_waitall_waits_for_the_whole_amount(g):
    a, b = pair(g)
    other = g.thread()
    buf = other.alloc(8)
    send(g, a, b"1234")
    assert other.syscall("recvfrom", b, buf, 8, MSG_WAITALL, 0, 0) is BLOCKED
    send(g, a, b"5678")
    assert other.complete() == 8 and other.get(buf, 8) == b"12345678"


def test_shutdown_write_gives_the_peer_end_of_file_and_the_writer_epipe(g):
    a, b = pair(g)
    send(g, a, b"last")
    assert g.syscall("shutdown", a, 1) == 0
    assert recv(g, b) == b"last"
    assert recv(g, b) == b""
    assert poll_events(g, b) & (POLLIN | POLLRDHUP) == POLLIN | POLLRDHUP
    assert send(g, a, b"x", MSG_NOSIGNAL) == -Errno.EPIPE


def test_shutdown_read_makes_the_peer_writes_fail(g):
    a, b = pair(g)
    assert g.syscall("shutdown", b, 0) == 0
    assert send(g, a, b"x", MSG_NOSIGNAL) == -Errno.EPIPE
    assert recv(g, b) == b""


def test_shutdown_both_is_a_hang_up(g):
    a, b = pair(g)
    assert g.syscall("shutdown", a, 2) == 0
    assert poll_events(g, a) & POLLHUP
    assert poll_events(g, b) & POLLHUP


def test_shutdown_with_a_bad_how_is_einval(g):
    a, _ = pair(g)
    assert g.syscall("shutdown", a, 3) == -Errno.EINVAL


def test_writing_to_a_closed_peer_is_epipe_and_sigpipe(g):
    a, b = pair(g)
    assert g.syscall("close", b) == 0
    assert send(g, a, b"x", MSG_NOSIGNAL) == -Errno.EPIPE
    assert g.task.alive
    # without MSG_NOSIGNAL the writer also gets SIGPIPE, whose default action ends it
    assert g.syscall("write", a, g.put(b"x"), 1) is GONE


def test_reading_after_the_peer_closed_drains_then_ends(g):
    a, b = pair(g)
    send(g, a, b"tail")
    g.syscall("close", a)
    assert recv(g, b) == b"tail"
    assert recv(g, b) == b""
    assert poll_events(g, b) & (POLLIN | POLLHUP | POLLRDHUP) == POLLIN | POLLHUP | POLLRDHUP


def test_a_full_socket_blocks_a_writer_and_nonblocking_gets_eagain(g):
    a, b = pair(g)
    sock = g.task.fds.get(b)
    chunk = g.put(b"x" * 65536)
    while sock.room():
        assert g.syscall("sendto", a, chunk, 65536, 0, 0, 0) > 0
    assert not poll_events(g, a) & POLLOUT
    assert send(g, a, b"y", MSG_DONTWAIT) == -Errno.EAGAIN
    other = g.thread()
    assert other.syscall("sendto", a, other.put(b"y"), 1, 0, 0, 0) is BLOCKED
    assert recv(g, b, 4096) == b"x" * 4096
    assert other.complete() == 1
    assert poll_events(g, a) & POLLOUT


# --- message sockets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [SOCK_DGRAM, SOCK_SEQPACKET])
def test_messages_keep_their_boundaries_and_truncate(g, kind):
    a, b = pair(g, kind)
    send(g, a, b"first")
    send(g, a, b"second")
    send(g, a, b"")
    assert recv(g, b, 3) == b"fir"
    buf = g.alloc(3)
    assert g.syscall("recvfrom", b, buf, 3, MSG_TRUNC, 0, 0) == 6
    assert recv(g, b) == b""
    assert recv(g, b, 10, MSG_DONTWAIT) == -Errno.EAGAIN


def test_recvmsg_reports_truncation_in_msg_flags(g):
    a, b = pair(g, SOCK_DGRAM)
    send(g, a, b"0123456789")
    buf = g.alloc(4)
    msg = msghdr(g, [(buf, 4)])
    assert g.syscall("recvmsg", b, msg, 0) == 4
    assert g.i32(msg + 48) & MSG_TRUNC


def test_a_datagram_larger_than_the_send_buffer_is_emsgsize(g):
    a, _ = pair(g, SOCK_DGRAM)
    size = g.alloc(4)
    g.syscall("getsockopt", a, SOL_SOCKET, SO_SNDBUF, size, g.put(struct.pack("<i", 4)))
    big = g.map(g.i32(size) + 4096)
    assert g.syscall("sendto", a, big, g.i32(size), 0, 0, 0) == -Errno.EMSGSIZE


def test_seqpacket_peer_close_is_end_of_file(g):
    a, b = pair(g, SOCK_SEQPACKET)
    g.syscall("close", a)
    assert recv(g, b) == b""


def test_datagram_to_a_closed_peer_is_refused_then_not_connected(g):
    a, b = pair(g, SOCK_DGRAM)
    g.syscall("close", b)
    assert send(g, a, b"x") == -Errno.ECONNREFUSED
    assert send(g, a, b"x") == -Errno.ENOTCONN


# --- vectors and descriptors ------------------------------------------------------------------------------


def test_sendmsg_and_recvmsg_gather_and_scatter(g):
    a, b = pair(g)
    msg = msghdr(g, [(g.put(b"ab"), 2), (g.put(b"cde"), 3)])
    assert g.syscall("sendmsg", a, msg, 0) == 5
    one, two = g.alloc(1), g.alloc(8)
    msg = msghdr(g, [(one, 1), (two, 8)])
    assert g.syscall("recvmsg", b, msg, 0) == 5
    assert g.get(one, 1) == b"a" and g.get(two, 4) == b"bcde"


def test_readv_and_writev_work_on_sockets(g):
    a, b = pair(g)
    iov = g.put(struct.pack("<QQQQ", g.put(b"xy"), 2, g.put(b"z"), 1))
    assert g.syscall("writev", a, iov, 2) == 3
    buf = g.alloc(3)
    assert g.syscall("readv", b, g.put(struct.pack("<QQ", buf, 3)), 1) == 3
    assert g.get(buf, 3) == b"xyz"


def test_scm_rights_installs_the_descriptor_in_the_receiver(g):
    a, b = pair(g)
    p, q = pair(g)
    control = g.put(rights([p]), 8)
    assert g.syscall("sendmsg", a, msghdr(g, [(g.put(b"F"), 1)], control, 24), 0) == 1
    g.syscall("close", p)
    buf, space = g.alloc(1), g.alloc(24, 8)
    msg = msghdr(g, [(buf, 1)], space, 24)
    assert g.syscall("recvmsg", b, msg, MSG_CMSG_CLOEXEC) == 1
    length, level, kind, fd = struct.unpack("<Qiii", g.get(space, 20))
    assert (length, level, kind) == (20, SOL_SOCKET, SCM_RIGHTS)
    assert g.u64(msg + 40) == 24
    assert g.syscall("fcntl", fd, F_GETFD, 0) == 1
    assert send(g, fd, b"via passed") == 10
    assert recv(g, q) == b"via passed"


def test_a_short_control_buffer_is_msg_ctrunc_and_the_descriptor_is_dropped(g):
    a, b = pair(g)
    p, _ = pair(g)
    g.syscall("sendmsg", a, msghdr(g, [(g.put(b"F"), 1)], g.put(rights([p]), 8), 24), 0)
    before = g.task.fds.count()
    msg = msghdr(g, [(g.alloc(1), 1)], g.alloc(8, 8), 8)
    assert g.syscall("recvmsg", b, msg, 0) == 1
    assert g.i32(msg + 48) & MSG_CTRUNC
    assert g.task.fds.count() == before


def test_scm_rights_with_a_bad_descriptor_is_ebadf_and_sends_nothing(g):
    a, b = pair(g)
    assert g.syscall("sendmsg", a, msghdr(g, [(g.put(b"F"), 1)], g.put(rights([999]), 8), 24), 0) == -Errno.EBADF
    assert recv(g, b, 10, MSG_DONTWAIT) == -Errno.EAGAIN


def test_a_malformed_control_message_is_einval(g):
    a, _ = pair(g)
    bad = g.put(struct.pack("<Qii", 8, SOL_SOCKET, SCM_RIGHTS), 8)
    assert g.syscall("sendmsg", a, msghdr(g, [(g.put(b"F"), 1)], bad, 16), 0) == -Errno.EINVAL
    unknown = g.put(struct.pack("<Qii", 16, SOL_SOCKET, 99), 8)
    assert g.syscall("sendmsg", a, msghdr(g, [(g.put(b"F"), 1)], unknown, 16), 0) == -Errno.EINVAL


def test_scm_credentials_arrive_with_so_passcred(g):
    a, b = pair(g)
    assert g.syscall("setsockopt", b, SOL_SOCKET, SO_PASSCRED, g.put(struct.pack("<i", 1)), 4) == 0
    send(g, a, b"c")
    space = g.alloc(32, 8)
    msg = msghdr(g, [(g.alloc(1), 1)], space, 32)
    assert g.syscall("recvmsg", b, msg, 0) == 1
    length, level, kind, pid, uid, gid = struct.unpack("<QiiiII", g.get(space, 28))
    assert (length, level, kind) == (28, SOL_SOCKET, SCM_CREDENTIALS)
    assert (pid, uid, gid) == (g.task.pid, 0, 0)


def test_claiming_another_pid_is_eperm(g):
    a, _ = pair(g)
    creds = g.put(struct.pack("<QiiiII", 28, SOL_SOCKET, SCM_CREDENTIALS, g.task.pid + 1, 0, 0) + bytes(4), 8)
    assert g.syscall("sendmsg", a, msghdr(g, [(g.put(b"F"), 1)], creds, 32), 0) == -Errno.EPERM


# --- options and names ------------------------------------------------------------------------------------


def test_peercred_is_the_creator(g):
    a, _ = pair(g)
    value, length = g.alloc(12), g.put(struct.pack("<i", 12))
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_PEERCRED, value, length) == 0
    assert struct.unpack("<iII", g.get(value, 12)) == (g.task.pid, 0, 0)


def test_buffer_sizes_are_doubled_and_have_a_floor(g):
    a, _ = pair(g)
    assert g.syscall("setsockopt", a, SOL_SOCKET, SO_SNDBUF, g.put(struct.pack("<i", 10000)), 4) == 0
    value, length = g.alloc(4), g.put(struct.pack("<i", 4))
    g.syscall("getsockopt", a, SOL_SOCKET, SO_SNDBUF, value, length)
    assert g.i32(value) == 20000
    g.syscall("setsockopt", a, SOL_SOCKET, SO_RCVBUF, g.put(struct.pack("<i", 1)), 4)
    g.syscall("getsockopt", a, SOL_SOCKET, SO_RCVBUF, value, length)
    assert g.i32(value) == 2304


def test_option_errors(g):
    a, _ = pair(g)
    value, length = g.alloc(4), g.put(struct.pack("<i", 4))
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_RCVTIMEO, value, length) == -Errno.ENOPROTOOPT
    assert g.syscall("getsockopt", a, 6, 1, value, length) == -Errno.EOPNOTSUPP
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_TYPE, value, g.put(struct.pack("<i", -1))) == -Errno.EINVAL
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_TYPE, value, UNMAPPED) == -Errno.EFAULT
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_TYPE, UNMAPPED, length) == -Errno.EFAULT
    assert g.syscall("setsockopt", a, SOL_SOCKET, SO_KEEPALIVE, g.put(struct.pack("<i", 1)), 2) == -Errno.EINVAL
    assert g.syscall("setsockopt", a, SOL_SOCKET, SO_KEEPALIVE, UNMAPPED, 4) == -Errno.EFAULT
    assert g.syscall("getsockopt", 1, SOL_SOCKET, SO_TYPE, value, length) == -Errno.ENOTSOCK
    assert g.syscall("getsockopt", 99, SOL_SOCKET, SO_TYPE, value, length) == -Errno.EBADF


def test_flag_options_are_kept(g):
    a, _ = pair(g)
    assert g.syscall("setsockopt", a, SOL_SOCKET, SO_KEEPALIVE, g.put(struct.pack("<i", 5)), 4) == 0
    value, length = g.alloc(4), g.put(struct.pack("<i", 4))
    g.syscall("getsockopt", a, SOL_SOCKET, SO_KEEPALIVE, value, length)
    assert g.i32(value) == 1
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_ERROR, value, length) == 0 and g.i32(value) == 0
    assert g.syscall("getsockopt", a, SOL_SOCKET, SO_DOMAIN, value, length) == 0 and g.i32(value) == AF_UNIX


def test_names_of_a_pair_are_unnamed(g):
    a, _ = pair(g)
    addr, length = g.alloc(110), g.put(struct.pack("<i", 110))
    assert g.syscall("getsockname", a, addr, length) == 0
    assert g.i32(length) == 2 and g.get(addr, 2) == b"\x01\x00"
    assert g.syscall("getpeername", a, addr, length) == 0 and g.i32(length) == 2
    assert g.syscall("getpeername", a, addr, UNMAPPED) == -Errno.EFAULT
    lone = g.syscall("socket", AF_UNIX, SOCK_STREAM, 0)
    assert g.syscall("getpeername", lone, addr, length) == -Errno.ENOTCONN


# --- bad input --------------------------------------------------------------------------------------------


def test_bad_pointers_are_efault(g):
    a, b = pair(g)
    assert g.syscall("sendto", a, UNMAPPED, 4, 0, 0, 0) == -Errno.EFAULT
    send(g, a, b"data")
    assert g.syscall("recvfrom", b, UNMAPPED, 4, 0, 0, 0) == -Errno.EFAULT
    assert recv(g, b) == b"data"
    assert g.syscall("sendmsg", a, UNMAPPED, 0) == -Errno.EFAULT
    assert g.syscall("recvmsg", b, UNMAPPED, 0) == -Errno.EFAULT
    assert g.syscall("sendmsg", a, msghdr(g, [(UNMAPPED, 4)]), 0) == -Errno.EFAULT
    assert g.syscall("sendmsg", a, msghdr(g, [(g.put(b"x"), 1)], UNMAPPED, 24), 0) == -Errno.EFAULT


def test_too_many_vectors_is_emsgsize(g):
    a, _ = pair(g)
    msg = g.put(MSGHDR.pack(0, 0, g.alloc(16), 1025, 0, 0, 0), 8)
    assert g.syscall("sendmsg", a, msg, 0) == -Errno.EMSGSIZE


def test_msg_oob_is_refused(g):
    a, b = pair(g)
    assert send(g, a, b"x", MSG_OOB) == -Errno.EOPNOTSUPP
    d, _ = pair(g, SOCK_DGRAM)
    assert recv(g, d, 1, MSG_OOB) == -Errno.EOPNOTSUPP


def test_socket_calls_on_other_files_are_enotsock(g):
    for name, args in (("sendto", (1, g.alloc(1), 1, 0, 0, 0)), ("recvfrom", (0, g.alloc(1), 1, 0, 0, 0)),
                       ("sendmsg", (1, g.alloc(56), 0)), ("recvmsg", (0, g.alloc(56), 0)),
                       ("shutdown", (1, 0)), ("getsockname", (1, g.alloc(4), g.alloc(4)))):
        assert g.syscall(name, *args) == -Errno.ENOTSOCK


def test_sending_to_an_address_from_a_connected_stream_is_eisconn(g):
    a, _ = pair(g)
    addr = g.put(struct.pack("<H", AF_UNIX) + b"/nowhere\0")
    assert g.syscall("sendto", a, g.put(b"x"), 1, 0, addr, 11) == -Errno.EISCONN


# --- addresses: bind, listen, accept, connect ------------------------------------------------------------

SOCK_PATH = b"/tmp/server.sock"


def unix_address(g: FakeGuest, path: bytes) -> tuple[int, int]:
    raw = struct.pack("<H", AF_UNIX) + path
    return g.put(raw), len(raw)


def listener(g: FakeGuest, path: bytes = SOCK_PATH, kind: int = SOCK_STREAM, backlog: int = 4) -> int:
    fd = g.syscall("socket", AF_UNIX, kind, 0)
    assert g.syscall("bind", fd, *unix_address(g, path)) == 0
    assert g.syscall("listen", fd, backlog) == 0
    return fd


def connected(g: FakeGuest, path: bytes = SOCK_PATH, kind: int = SOCK_STREAM, flags: int = 0) -> int:
    fd = g.syscall("socket", AF_UNIX, kind | flags, 0)
    result = g.syscall("connect", fd, *unix_address(g, path))
    return fd if result == 0 else result


def name_of(g: FakeGuest, call: str, fd: int) -> bytes | int:
    addr, length = g.alloc(128), g.put(struct.pack("<i", 128))
    result = g.syscall(call, fd, addr, length)
    return result if result < 0 else g.get(addr, g.i32(length))


def test_bind_makes_a_socket_file_and_connect_accept_join_the_ends(g):
    server = listener(g)
    assert g.stat(SOCK_PATH).mode & 0o170000 == S_IFSOCK
    value, length = g.alloc(4), g.put(struct.pack("<i", 4))
    assert g.syscall("getsockopt", server, SOL_SOCKET, 30, value, length) == 0 and g.i32(value) == 1
    assert name_of(g, "getsockname", server) == b"\x01\x00" + SOCK_PATH + b"\0"
    client = connected(g)
    assert send(g, client, b"before accept") == 13
    addr, length = g.alloc(128), g.put(struct.pack("<i", 128))
    conn = g.syscall("accept4", server, addr, length, SOCK_CLOEXEC | SOCK_NONBLOCK)
    assert conn >= 0 and g.i32(length) == 2
    assert g.syscall("fcntl", conn, F_GETFD, 0) == 1
    assert g.syscall("fcntl", conn, F_GETFL, 0) & SOCK_NONBLOCK
    assert recv(g, conn) == b"before accept"
    assert name_of(g, "getpeername", client) == b"\x01\x00" + SOCK_PATH + b"\0"
    assert name_of(g, "getsockname", conn) == b"\x01\x00" + SOCK_PATH + b"\0"


def test_bind_errors(g):
    listener(g)
    other = g.syscall("socket", AF_UNIX, SOCK_STREAM, 0)
    assert g.syscall("bind", other, *unix_address(g, SOCK_PATH)) == -Errno.EADDRINUSE
    assert g.syscall("bind", other, *unix_address(g, b"/missing/dir.sock")) == -Errno.ENOENT
    addr, _ = unix_address(g, b"/tmp/x")
    assert g.syscall("bind", other, addr, 200) == -Errno.EINVAL
    assert g.syscall("bind", other, UNMAPPED, 10) == -Errno.EFAULT
    assert g.syscall("bind", other, g.put(struct.pack("<H", 7) + b"/tmp/y"), 8) == -Errno.EINVAL
    assert g.syscall("bind", other, *unix_address(g, b"/tmp/first.sock")) == 0
    assert g.syscall("bind", other, *unix_address(g, b"/tmp/second.sock")) == -Errno.EINVAL


def test_connect_errors(g):
    assert connected(g, b"/tmp/none.sock") == -Errno.ENOENT
    g.write_file(b"/tmp/plain", b"")
    assert connected(g, b"/tmp/plain") == -Errno.ECONNREFUSED
    fd = g.syscall("socket", AF_UNIX, SOCK_STREAM, 0)
    g.syscall("bind", fd, *unix_address(g, SOCK_PATH))
    assert connected(g) == -Errno.ECONNREFUSED           # bound, not listening
    g.syscall("listen", fd, 1)
    assert connected(g, kind=SOCK_SEQPACKET) == -Errno.EPROTOTYPE
    g.syscall("close", fd)
    assert connected(g) == -Errno.ECONNREFUSED           # the file stays, nobody behind it
    assert g.syscall("connect", g.syscall("socket", AF_UNIX, SOCK_STREAM, 0), UNMAPPED, 20) == -Errno.EFAULT


def test_connect_asks_for_write_permission_on_the_socket_file(g):
    listener(g)
    g.syscall("chmod", SOCK_PATH, 0o555)
    other = g.spawn(uid=1000, gid=1000)
    assert connected(other) == -Errno.EACCES


def test_backlog_full_is_eagain_or_waits(g):
    server = listener(g, backlog=1)
    assert connected(g, flags=SOCK_NONBLOCK) >= 0
    assert connected(g, flags=SOCK_NONBLOCK) >= 0
    assert connected(g, flags=SOCK_NONBLOCK) == -Errno.EAGAIN
    other = g.thread()
    fd = other.syscall("socket", AF_UNIX, SOCK_STREAM, 0)
    assert other.syscall("connect", fd, *unix_address(other, SOCK_PATH)) is BLOCKED
    assert g.syscall("accept", server, 0, 0) >= 0
    assert other.complete() == 0


def test_nonblocking_accept_and_accept_errors(g):
    server = listener(g)
    g.syscall("fcntl", server, 4, SOCK_NONBLOCK)
    assert g.syscall("accept", server, 0, 0) == -Errno.EAGAIN
    assert g.syscall("accept4", server, 0, 0, 0x1) == -Errno.EINVAL
    lone = g.syscall("socket", AF_UNIX, SOCK_STREAM, 0)
    assert g.syscall("accept", lone, 0, 0) == -Errno.EINVAL
    dgram = g.syscall("socket", AF_UNIX, SOCK_DGRAM, 0)
    assert g.syscall("accept", dgram, 0, 0) == -Errno.EOPNOTSUPP
    assert g.syscall("listen", dgram, 1) == -Errno.EOPNOTSUPP
    assert g.syscall("listen", lone, 1) == -Errno.EINVAL
    connected(g)
    assert g.syscall("accept", server, UNMAPPED, g.put(struct.pack("<i", 16))) == -Errno.EFAULT
    assert g.syscall("accept", server, g.alloc(16), UNMAPPED) == -Errno.EFAULT
    assert g.syscall("accept", server, 0, 0) >= 0       # the connection was not lost


def test_a_blocked_accept_is_woken_by_a_connect(g):
    server = listener(g)
    other = g.thread()
    assert other.syscall("accept", server, 0, 0) is BLOCKED
    client = connected(g)
    assert client >= 0
    assert other.complete() >= 0


def test_closing_a_listener_resets_connections_it_never_accepted(g):
    server = listener(g)
    client = connected(g)
    g.syscall("close", server)
    assert recv(g, client) == -Errno.ECONNRESET
    assert recv(g, client) == b""


def test_abstract_names_and_autobind(g):
    server = listener(g, b"\0abstract", SOCK_SEQPACKET)
    assert name_of(g, "getsockname", server) == b"\x01\x00\0abstract"
    other = g.syscall("socket", AF_UNIX, SOCK_SEQPACKET, 0)
    assert g.syscall("bind", other, *unix_address(g, b"\0abstract")) == -Errno.EADDRINUSE
    assert connected(g, b"\0abstract", SOCK_SEQPACKET) >= 0
    assert connected(g, b"\0elsewhere", SOCK_SEQPACKET) == -Errno.ECONNREFUSED
    auto = g.syscall("socket", AF_UNIX, SOCK_DGRAM, 0)
    assert g.syscall("bind", auto, g.put(struct.pack("<H", AF_UNIX)), 2) == 0
    name = name_of(g, "getsockname", auto)
    assert len(name) == 8 and name[2] == 0
    assert g.syscall("bind", auto, g.put(struct.pack("<H", AF_UNIX)), 2) == 0
    g.syscall("close", server)
    assert listener(g, b"\0abstract", SOCK_SEQPACKET) >= 0    # the name is free again


def test_datagrams_to_addresses_carry_the_sender_address(g):
    server = g.syscall("socket", AF_UNIX, SOCK_DGRAM, 0)
    assert g.syscall("bind", server, *unix_address(g, b"/tmp/dgram.sock")) == 0
    client = g.syscall("socket", AF_UNIX, SOCK_DGRAM, 0)
    addr, addrlen = unix_address(g, b"/tmp/dgram.sock")
    assert g.syscall("sendto", client, g.put(b"anon"), 4, 0, addr, addrlen) == 4
    source, length = g.alloc(128), g.put(struct.pack("<i", 128))
    assert g.syscall("recvfrom", server, g.alloc(8), 8, 0, source, length) == 4
    assert g.i32(length) == 0
    g.syscall("bind", client, *unix_address(g, b"/tmp/client.sock"))
    g.syscall("sendto", client, g.put(b"named"), 5, 0, addr, addrlen)
    g.set(length, struct.pack("<i", 128))
    assert g.syscall("recvfrom", server, g.alloc(8), 8, 0, source, length) == 5
    assert g.get(source, g.i32(length)) == b"\x01\x00/tmp/client.sock\0"
    assert g.syscall("connect", client, addr, addrlen) == 0
    assert send(g, client, b"conn") == 4
    assert recv(g, server) == b"conn"
    assert g.syscall("connect", client, g.put(bytes(16)), 16) == 0      # AF_UNSPEC: disconnect
    assert send(g, client, b"x") == -Errno.ENOTCONN
    stream = listener(g)
    assert g.syscall("sendto", client, g.put(b"x"), 1, 0, *unix_address(g, SOCK_PATH)) == -Errno.EPROTOTYPE
    assert stream >= 0


def test_a_datagram_socket_connected_elsewhere_refuses_strangers(g):
    one = g.syscall("socket", AF_UNIX, SOCK_DGRAM, 0)
    g.syscall("bind", one, *unix_address(g, b"/tmp/one.sock"))
    two = g.syscall("socket", AF_UNIX, SOCK_DGRAM, 0)
    g.syscall("bind", two, *unix_address(g, b"/tmp/two.sock"))
    assert g.syscall("connect", one, *unix_address(g, b"/tmp/two.sock")) == 0
    stranger = g.syscall("socket", AF_UNIX, SOCK_DGRAM, 0)
    assert g.syscall("sendto", stranger, g.put(b"x"), 1, 0, *unix_address(g, b"/tmp/one.sock")) == -Errno.EPERM


def test_recv_on_an_unconnected_stream_is_einval(g):
    lone = g.syscall("socket", AF_UNIX, SOCK_STREAM, 0)
    assert g.syscall("shutdown", lone, 1) == 0        # recorded even without a peer
    assert recv(g, lone) == -Errno.EINVAL
    seq = g.syscall("socket", AF_UNIX, SOCK_SEQPACKET, 0)
    assert recv(g, seq) == -Errno.ENOTCONN


# --- epoll edges ------------------------------------------------------------------------------------------

EPOLLIN, EPOLLOUT, EPOLLET = 0x1, 0x4, 1 << 31


def epoll_watch(g: FakeGuest, fd: int, events: int) -> int:
    ep = g.syscall("epoll_create1", 0)
    assert g.syscall("epoll_ctl", ep, 1, fd, g.put(struct.pack("<IQ", events, 5), 4)) == 0
    return ep


def epoll_events(g: FakeGuest, ep: int) -> list[int]:
    buf = g.alloc(12 * 4)
    count = g.syscall("epoll_wait", ep, buf, 4, 0)
    return [struct.unpack_from("<I", g.get(buf + 12 * i, 4))[0] for i in range(count)]


def test_data_arriving_is_no_epollout_edge_and_a_read_no_epollin_edge(g):
    a, b = pair(g)
    out_watch = epoll_watch(g, b, EPOLLOUT | EPOLLET)
    assert epoll_events(g, out_watch) == [EPOLLOUT]
    send(g, a, b"data for b")
    assert epoll_events(g, out_watch) == []
    send(g, b, b"data for a")
    recv(g, a)                       # room at b's peer: a new EPOLLOUT edge for b
    assert epoll_events(g, out_watch) == [EPOLLOUT]
    in_watch = epoll_watch(g, b, EPOLLIN | EPOLLET)
    assert epoll_events(g, in_watch) == [EPOLLIN]
    assert recv(g, b, 4) == b"data"  # data is left, but taking some is no new edge
    assert epoll_events(g, in_watch) == []
    g.syscall("close", a)            # the peer going away is a hang-up edge
    assert epoll_events(g, in_watch) and epoll_events(g, in_watch) == []


def test_descriptors_in_flight_are_bounded_by_rlimit_nofile(g):
    a, b = pair(g)
    p, _ = pair(g)
    g.task.process.rlimits[7] = (2, 2)
    message = msghdr(g, [(g.put(b"F"), 1)], g.put(rights([p, p]), 8), 24)
    assert g.syscall("sendmsg", a, message, 0) == 1
    one = msghdr(g, [(g.put(b"F"), 1)], g.put(rights([p]), 8), 24)
    assert g.syscall("sendmsg", a, one, 0) == -Errno.ETOOMANYREFS
    assert g.syscall("recvmsg", b, msghdr(g, [(g.alloc(1), 1)], g.alloc(24, 8), 24), 0) == 1
    assert g.syscall("sendmsg", a, one, 0) == 1         # received: no longer in flight


def test_a_control_buffer_past_optmem_max_is_enobufs(g):
    a, _ = pair(g)
    big = g.map(32768)
    assert g.syscall("sendmsg", a, msghdr(g, [(g.put(b"F"), 1)], big, 32768), 0) == -Errno.ENOBUFS
