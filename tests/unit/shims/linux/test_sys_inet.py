"""Loopback TCP and UDP sockets through the Linux personality, on the fake platform:
bind and the port table, listen/connect/accept, data both ways, shutdown, datagrams,
addresses of both families, options, readiness, and the errno of every bad input."""

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

AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
IPPROTO_TCP, IPPROTO_UDP = 6, 17
MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL, MSG_NOSIGNAL = 0x2, 0x40, 0x100, 0x4000
SOL_SOCKET, SOL_IP, SOL_IPV6 = 1, 0, 41
SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_SNDBUF, SO_KEEPALIVE = 2, 3, 4, 7, 9
SO_LINGER, SO_REUSEPORT, SO_PEERCRED, SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN = 13, 15, 17, 30, 38, 39
TCP_NODELAY, IPV6_V6ONLY = 1, 26
POLLIN, POLLOUT, POLLERR, POLLHUP = 0x1, 0x4, 0x8, 0x10
SIGPIPE = 13
LOOPBACK = bytes((127, 0, 0, 1))
LOOPBACK6 = bytes(15) + b"\x01"


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def sin(ip: bytes = LOOPBACK, port: int = 0, family: int = AF_INET) -> bytes:
    return struct.pack("<H", family) + struct.pack("!H4s8x", port, ip)


def sin6(ip: bytes = LOOPBACK6, port: int = 0) -> bytes:
    return struct.pack("<H", AF_INET6) + struct.pack("!HI16sI", port, 0, ip, 0)


def sock(g: FakeGuest, family: int = AF_INET, kind: int = SOCK_STREAM, protocol: int = 0) -> int:
    fd = g.syscall("socket", family, kind, protocol)
    assert fd >= 0
    return fd


def bind(g: FakeGuest, fd: int, address: bytes) -> int:
    return g.syscall("bind", fd, g.put(address), len(address))


def connect(g: FakeGuest, fd: int, address: bytes) -> int:
    return g.syscall("connect", fd, g.put(address), len(address))


def name_of(g: FakeGuest, fd: int, call: str = "getsockname") -> bytes | int:
    buf, length = g.alloc(128), g.put(struct.pack("<i", 128))
    result = g.syscall(call, fd, buf, length)
    if result != 0:
        return result
    return g.get(buf, g.i32(length))


def port_of(g: FakeGuest, fd: int) -> int:
    name = name_of(g, fd)
    assert isinstance(name, bytes)
    return struct.unpack("!H", name[2:4])[0]


def option(g: FakeGuest, fd: int, level: int, name: int, size: int = 4) -> int | bytes:
    value, length = g.alloc(size), g.put(struct.pack("<i", size))
    result = g.syscall("getsockopt", fd, level, name, value, length)
    if result != 0:
        return result
    raw = g.get(value, g.i32(length))
    return struct.unpack("<i", raw)[0] if len(raw) == 4 else raw


def set_option(g: FakeGuest, fd: int, level: int, name: int, value: int | bytes) -> int:
    raw = struct.pack("<i", value) if isinstance(value, int) else value
    return g.syscall("setsockopt", fd, level, name, g.put(raw), len(raw))


def send(g: FakeGuest, fd: int, data: bytes, flags: int = 0, to: bytes | None = None) -> int:
    dest = g.put(to) if to else 0
    return g.syscall("sendto", fd, g.put(data), len(data), flags, dest, len(to) if to else 0)


def recv(g: FakeGuest, fd: int, length: int = 100, flags: int = 0) -> bytes | int:
    buf = g.alloc(length)
    result = g.syscall("recvfrom", fd, buf, length, flags, 0, 0)
    assert result is not BLOCKED
    if result < 0:
        return result
    return g.get(buf, result)


def recv_from(g: FakeGuest, fd: int, length: int = 100) -> tuple[bytes, bytes]:
    buf, src, srclen = g.alloc(length), g.alloc(128), g.put(struct.pack("<i", 128))
    result = g.syscall("recvfrom", fd, buf, length, 0, src, srclen)
    assert isinstance(result, int) and result >= 0
    return g.get(buf, result), g.get(src, g.i32(srclen))


def listener(g: FakeGuest, family: int = AF_INET) -> tuple[int, int]:
    fd = sock(g, family)
    assert bind(g, fd, sin() if family == AF_INET else sin6()) == 0
    assert g.syscall("listen", fd, 8) == 0
    return fd, port_of(g, fd)


def connected(g: FakeGuest, family: int = AF_INET) -> tuple[int, int, int]:
    server, port = listener(g, family)
    client = sock(g, family)
    assert connect(g, client, sin(port=port) if family == AF_INET else sin6(port=port)) == 0
    accepted = g.syscall("accept4", server, 0, 0, 0)
    assert accepted >= 0
    return server, client, accepted


def poll_events(g: FakeGuest, fd: int) -> int:
    pfd = g.put(struct.pack("<ihh", fd, POLLIN | POLLOUT, 0), 8)
    assert g.syscall("poll", pfd, 1, 0) >= 0
    return struct.unpack("<h", g.get(pfd + 6, 2))[0] & 0xFFFF


# --- socket -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, kind, protocol", [
    (AF_INET, SOCK_STREAM, 0), (AF_INET, SOCK_STREAM, IPPROTO_TCP), (AF_INET, SOCK_DGRAM, IPPROTO_UDP),
    (AF_INET6, SOCK_STREAM, 0), (AF_INET6, SOCK_DGRAM, 0),
])
def test_socket_reports_its_type_domain_and_protocol(g, family, kind, protocol):
    fd = sock(g, family, kind, protocol)
    assert option(g, fd, SOL_SOCKET, SO_TYPE) == kind
    assert option(g, fd, SOL_SOCKET, SO_DOMAIN) == family
    assert option(g, fd, SOL_SOCKET, SO_PROTOCOL) == (IPPROTO_TCP if kind == SOCK_STREAM else IPPROTO_UDP)


@pytest.mark.parametrize("family, kind, protocol, errno", [
    (AF_INET, SOCK_STREAM, IPPROTO_UDP, Errno.EPROTONOSUPPORT),
    (AF_INET, SOCK_DGRAM, IPPROTO_TCP, Errno.EPROTONOSUPPORT),
    (AF_INET, SOCK_SEQPACKET, 0, Errno.ESOCKTNOSUPPORT),
    (AF_INET, SOCK_RAW, 1, Errno.EPERM),
    (AF_INET6, 12, 0, Errno.EINVAL),
    (AF_INET, SOCK_STREAM | 0x100, 0, Errno.EINVAL),
    (99, SOCK_STREAM, 0, Errno.EAFNOSUPPORT),
])
def test_socket_refuses_what_it_does_not_make(g, family, kind, protocol, errno):
    assert g.syscall("socket", family, kind, protocol) == -errno


def test_socket_flags_set_nonblocking_and_close_on_exec(g):
    fd = sock(g, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)
    assert g.syscall("fcntl", fd, 1, 0) == 1
    assert g.syscall("fcntl", fd, 3, 0) & SOCK_NONBLOCK


def test_socketpair_of_inet_is_eopnotsupp(g):
    assert g.syscall("socketpair", AF_INET, SOCK_STREAM, 0, g.alloc(8)) == -Errno.EOPNOTSUPP


# --- bind ----------------------------------------------------------------------------------------------


def test_bind_port_zero_takes_an_ephemeral_port(g):
    fd = sock(g)
    assert name_of(g, fd) == sin(bytes(4), 0)
    assert bind(g, fd, sin()) == 0
    assert 32768 <= port_of(g, fd) <= 60999
    assert name_of(g, fd)[:8] == sin(LOOPBACK, port_of(g, fd))[:8]


def test_bind_twice_is_einval(g):
    fd = sock(g)
    assert bind(g, fd, sin()) == 0
    assert bind(g, fd, sin()) == -Errno.EINVAL


def test_bind_to_a_used_port_is_eaddrinuse_unless_both_reuse(g):
    first = sock(g)
    assert bind(g, first, sin(bytes(4))) == 0
    port = port_of(g, first)
    second = sock(g)
    assert bind(g, second, sin(port=port)) == -Errno.EADDRINUSE
    for fd in (first, second):
        assert set_option(g, fd, SOL_SOCKET, SO_REUSEADDR, 1) == 0
    assert bind(g, second, sin(port=port)) == 0
    assert option(g, second, SOL_SOCKET, SO_REUSEADDR) == 1


def test_reuseaddr_does_not_share_a_listening_port(g):
    first = sock(g)
    assert set_option(g, first, SOL_SOCKET, SO_REUSEADDR, 1) == 0
    assert bind(g, first, sin()) == 0 and g.syscall("listen", first, 1) == 0
    second = sock(g)
    assert set_option(g, second, SOL_SOCKET, SO_REUSEADDR, 1) == 0
    assert bind(g, second, sin(port=port_of(g, first))) == -Errno.EADDRINUSE


def test_reuseport_shares_a_port(g):
    fds = [sock(g), sock(g)]
    for fd in fds:
        assert set_option(g, fd, SOL_SOCKET, SO_REUSEPORT, 1) == 0
    assert bind(g, fds[0], sin()) == 0
    assert bind(g, fds[1], sin(port=port_of(g, fds[0]))) == 0
    assert option(g, fds[1], SOL_SOCKET, SO_REUSEPORT) == 1


def test_a_closed_socket_frees_its_port(g):
    fd = sock(g)
    assert bind(g, fd, sin()) == 0
    port = port_of(g, fd)
    assert g.syscall("close", fd) == 0
    assert bind(g, sock(g), sin(port=port)) == 0


def test_an_accepted_connection_keeps_the_port_from_a_new_bind(g):
    server, client, accepted = connected(g)
    port = port_of(g, server)
    assert g.syscall("close", server) == 0
    again = sock(g)
    assert bind(g, again, sin(port=port)) == -Errno.EADDRINUSE
    assert g.syscall("close", accepted) == 0
    assert bind(g, again, sin(port=port)) == 0


def test_tcp_and_udp_ports_are_separate(g):
    tcp = sock(g)
    assert bind(g, tcp, sin()) == 0
    assert bind(g, sock(g, kind=SOCK_DGRAM), sin(port=port_of(g, tcp))) == 0


def test_v6_wildcard_covers_v4_unless_v6only(g):
    wide = sock(g, AF_INET6)
    assert bind(g, wide, sin6(bytes(16))) == 0
    port = port_of(g, wide)
    assert bind(g, sock(g), sin(port=port)) == -Errno.EADDRINUSE
    narrow = sock(g, AF_INET6)
    assert set_option(g, narrow, SOL_IPV6, IPV6_V6ONLY, 1) == 0
    assert option(g, narrow, SOL_IPV6, IPV6_V6ONLY) == 1
    assert bind(g, narrow, sin6(bytes(16))) == 0
    assert bind(g, sock(g), sin(port=port_of(g, narrow))) == 0


@pytest.mark.parametrize("address, errno", [
    (sin(bytes((10, 0, 0, 1))), Errno.EADDRNOTAVAIL),
    (sin(LOOPBACK, 80), Errno.EACCES),
    (sin()[:15], Errno.EINVAL),
    (sin(family=AF_INET6), Errno.EAFNOSUPPORT),
])
def test_bind_errors(g, address, errno):
    fd = sock(g)
    g.task.cred.euid = 1000
    assert bind(g, fd, address) == -errno


def test_root_may_bind_a_low_port(g):
    assert bind(g, sock(g), sin(LOOPBACK, 80)) == 0


def test_bind_v6_errors(g):
    fd = sock(g, AF_INET6)
    assert bind(g, fd, sin6(b"\xfe\x80" + bytes(14))) == -Errno.EADDRNOTAVAIL
    assert bind(g, fd, sin()) == -Errno.EINVAL
    assert bind(g, fd, sin6()[:20]) == -Errno.EINVAL


def test_bind_bad_pointer_is_efault(g):
    assert g.syscall("bind", sock(g), UNMAPPED, 16) == -Errno.EFAULT


# --- connections --------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", [AF_INET, AF_INET6])
def test_tcp_echo_and_addresses(g, family):
    server, client, accepted = connected(g, family)
    assert send(g, client, b"hello") == 5
    assert recv(g, accepted) == b"hello"
    assert send(g, accepted, b"back") == 4
    assert recv(g, client) == b"back"
    assert name_of(g, client, "getpeername") == name_of(g, accepted)
    assert name_of(g, accepted, "getpeername") == name_of(g, client)
    assert option(g, server, SOL_SOCKET, SO_ACCEPTCONN) == 1
    assert option(g, client, SOL_SOCKET, SO_ACCEPTCONN) == 0


def test_accept_reports_the_peer_address(g):
    server, port = listener(g)
    client = sock(g)
    assert connect(g, client, sin(port=port)) == 0
    buf, length = g.alloc(16), g.put(struct.pack("<i", 16))
    accepted = g.syscall("accept", server, buf, length)
    assert accepted >= 0
    assert g.get(buf, 16) == name_of(g, client)


def test_a_v6_listener_shows_v4_peers_mapped(g):
    server = sock(g, AF_INET6)
    assert bind(g, server, sin6(bytes(16))) == 0 and g.syscall("listen", server, 1) == 0
    client = sock(g)
    assert connect(g, client, sin(port=port_of(g, server))) == 0
    accepted = g.syscall("accept4", server, 0, 0, 0)
    peer = name_of(g, accepted, "getpeername")
    assert peer[:2] == struct.pack("<H", AF_INET6)
    assert peer[8:24] == bytes(10) + b"\xff\xff" + LOOPBACK


def test_v6only_listener_refuses_v4(g):
    server = sock(g, AF_INET6)
    assert set_option(g, server, SOL_IPV6, IPV6_V6ONLY, 1) == 0
    assert bind(g, server, sin6(bytes(16))) == 0 and g.syscall("listen", server, 1) == 0
    assert connect(g, sock(g), sin(port=port_of(g, server))) == -Errno.ECONNREFUSED


def test_connect_without_listener_is_refused(g):
    fd = sock(g)
    assert bind(g, fd, sin()) == 0
    port = port_of(g, fd)
    assert connect(g, sock(g), sin(port=port)) == -Errno.ECONNREFUSED


@pytest.mark.parametrize("address, errno", [
    (sin(bytes((8, 8, 8, 8)), 53), Errno.ENETUNREACH),
    (sin()[:8], Errno.EINVAL),
    (sin(family=99), Errno.EAFNOSUPPORT),
])
def test_connect_errors(g, address, errno):
    assert connect(g, sock(g), address) == -errno


def test_connect_bad_pointer_is_efault(g):
    assert g.syscall("connect", sock(g), UNMAPPED, 16) == -Errno.EFAULT


def test_nonblocking_connect_is_in_progress_then_writable(g):
    _, port = listener(g)
    client = sock(g, AF_INET, SOCK_STREAM | SOCK_NONBLOCK)
    assert connect(g, client, sin(port=port)) == -Errno.EINPROGRESS
    assert poll_events(g, client) & POLLOUT
    assert option(g, client, SOL_SOCKET, SO_ERROR) == 0
    assert connect(g, client, sin(port=port)) == 0
    assert connect(g, client, sin(port=port)) == -Errno.EISCONN


def test_nonblocking_connect_refused_shows_in_so_error(g):
    client = sock(g, AF_INET, SOCK_STREAM | SOCK_NONBLOCK)
    assert connect(g, client, sin(port=1)) == -Errno.EINPROGRESS
    assert poll_events(g, client) & POLLERR
    assert option(g, client, SOL_SOCKET, SO_ERROR) == Errno.ECONNREFUSED
    assert option(g, client, SOL_SOCKET, SO_ERROR) == 0


def test_connect_to_wildcard_means_loopback(g):
    _, port = listener(g)
    assert connect(g, sock(g), sin(bytes(4), port)) == 0


def test_listen_errors(g):
    assert g.syscall("listen", sock(g, kind=SOCK_DGRAM), 1) == -Errno.EOPNOTSUPP
    _, client, _ = connected(g)
    assert g.syscall("listen", client, 1) == -Errno.EINVAL


def test_listen_unbound_takes_an_ephemeral_port_as_linux(g):
    fd = sock(g)
    assert g.syscall("listen", fd, 1) == 0
    assert 32768 <= port_of(g, fd) <= 60999


def test_accept_blocks_and_nonblocking_is_eagain(g):
    server, port = listener(g)
    assert g.syscall("accept", server, 0, 0) is BLOCKED
    other = g.thread()
    assert connect(other, sock(other), sin(port=port)) == 0
    assert g.complete() >= 0
    assert other.syscall("fcntl", server, 4, SOCK_NONBLOCK) == 0
    assert other.syscall("accept", server, 0, 0) == -Errno.EAGAIN
    assert poll_events(other, server) == 0
    assert connect(other, sock(other), sin(port=port)) == 0
    assert poll_events(other, server) & POLLIN


def test_accept_on_unlistening_socket_is_einval(g):
    assert g.syscall("accept", sock(g), 0, 0) == -Errno.EINVAL


def test_unconnected_stream_errors(g):
    fd = sock(g)
    assert recv(g, fd) == -Errno.ENOTCONN
    assert send(g, fd, b"x", MSG_NOSIGNAL) == -Errno.EPIPE
    assert name_of(g, fd, "getpeername") == -Errno.ENOTCONN
    assert g.syscall("shutdown", fd, 1) == -Errno.ENOTCONN


# --- data ----------------------------------------------------------------------------------------------


def test_peek_dontwait_and_waitall(g):
    _, client, accepted = connected(g)
    assert recv(g, accepted, flags=MSG_DONTWAIT) == -Errno.EAGAIN
    assert send(g, client, b"abcdef") == 6
    assert recv(g, accepted, 3, MSG_PEEK) == b"abc"
    buf = g.alloc(10)
    assert g.syscall("recvfrom", accepted, buf, 10, MSG_WAITALL, 0, 0) is BLOCKED
    assert send(g.thread(), client, b"ghij") == 4
    assert g.complete() == 10 and g.get(buf, 10) == b"abcdefghij"


def test_shutdown_write_gives_the_peer_eof_only(g):
    _, client, accepted = connected(g)
    assert g.syscall("shutdown", client, 1) == 0
    assert recv(g, accepted) == b""
    assert send(g, accepted, b"still") == 5
    assert recv(g, client) == b"still"


def test_shut_rd_is_local(g):
    _, client, accepted = connected(g)
    assert g.syscall("shutdown", client, 0) == 0
    assert recv(g, client) == b""
    assert send(g, accepted, b"ok") == 2
    assert g.syscall("shutdown", client, 5) == -Errno.EINVAL


def test_send_after_peer_closed_is_epipe_and_sigpipe_unless_nosignal(g):
    _, client, accepted = connected(g)
    assert g.syscall("close", accepted) == 0
    assert recv(g, client) == b""
    assert poll_events(g, client) & POLLHUP
    assert send(g, client, b"x", MSG_NOSIGNAL) == -Errno.EPIPE
    assert SIGPIPE not in g.task.pending_signals() if hasattr(g.task, "pending_signals") else True


def test_sendto_on_connected_tcp_ignores_the_address(g):
    _, client, accepted = connected(g)
    assert send(g, client, b"xy", to=sin(port=1)) == 2
    assert recv(g, accepted) == b"xy"


def test_tcp_recvfrom_reports_no_address(g):
    _, client, accepted = connected(g)
    assert send(g, client, b"hi") == 2
    data, source = recv_from(g, accepted)
    assert data == b"hi" and source == b""


def test_recv_bad_buffer_is_efault(g):
    _, client, accepted = connected(g)
    assert send(g, client, b"hi") == 2
    assert g.syscall("recvfrom", accepted, UNMAPPED, 10, 0, 0, 0) == -Errno.EFAULT
    assert g.syscall("sendto", client, UNMAPPED, 10, 0, 0, 0) == -Errno.EFAULT


def test_scm_rights_on_tcp_is_einval(g):
    _, client, _ = connected(g)
    payload = struct.pack("<i", 0)
    control = g.put(struct.pack("<Qii", 20, SOL_SOCKET, 1) + payload + bytes(4), 8)
    data = g.put(b"x")
    iov = g.put(struct.pack("<QQ", data, 1))
    msg = g.put(struct.pack("<QI4xQQQQi4x", 0, 0, iov, 1, control, 24, 0), 8)
    assert g.syscall("sendmsg", client, msg, 0) == -Errno.EINVAL


# --- datagrams ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", [AF_INET, AF_INET6])
def test_udp_round_trip_reports_the_sender(g, family):
    a, b = sock(g, family, SOCK_DGRAM), sock(g, family, SOCK_DGRAM)
    here = sin() if family == AF_INET else sin6()
    assert bind(g, a, here) == 0
    to = name_of(g, a)
    assert send(g, b, b"ping", to=to) == 4
    data, source = recv_from(g, a)
    # b is bound to the wildcard; what it sent from is loopback on the same port
    assert data == b"ping" and source[2:4] == name_of(g, b)[2:4] and source[:2] == to[:2]
    assert source[4:8] == LOOPBACK if family == AF_INET else source[8:24] == LOOPBACK6
    assert send(g, a, b"pong", to=source) == 4
    assert recv(g, b) == b"pong"


def test_udp_to_nobody_is_dropped_and_connected_gets_refused(g):
    a = sock(g, kind=SOCK_DGRAM)
    assert send(g, a, b"lost", to=sin(port=9)) == 4
    assert connect(g, a, sin(port=9)) == 0
    assert send(g, a, b"lost") == 4
    assert option(g, a, SOL_SOCKET, SO_ERROR) == Errno.ECONNREFUSED


def test_connected_udp_takes_only_its_peer(g):
    a, b, c = (sock(g, kind=SOCK_DGRAM) for _ in range(3))
    for fd in (a, b, c):
        assert bind(g, fd, sin()) == 0
    assert connect(g, a, name_of(g, b)) == 0
    assert name_of(g, a, "getpeername") == name_of(g, b)
    assert send(g, c, b"stranger", to=name_of(g, a)) == 8
    assert send(g, b, b"friend", to=name_of(g, a)) == 6
    assert recv(g, a) == b"friend"
    assert recv(g, a, flags=MSG_DONTWAIT) == -Errno.EAGAIN
    assert connect(g, a, struct.pack("<H", AF_UNSPEC) + bytes(14)) == 0
    assert name_of(g, a, "getpeername") == -Errno.ENOTCONN


def test_udp_errors(g):
    a = sock(g, kind=SOCK_DGRAM)
    assert send(g, a, b"x") == -Errno.EDESTADDRREQ
    assert send(g, a, b"x", to=sin(bytes((1, 2, 3, 4)), 5)) == -Errno.ENETUNREACH
    assert send(g, a, b"x" * 70000, to=sin(port=5)) == -Errno.EMSGSIZE
    assert g.syscall("accept", a, 0, 0) == -Errno.EOPNOTSUPP
    assert poll_events(g, a) == POLLOUT


def test_udp_truncates_a_long_datagram(g):
    a, b = sock(g, kind=SOCK_DGRAM), sock(g, kind=SOCK_DGRAM)
    assert bind(g, a, sin()) == 0
    assert send(g, b, b"abcdef", to=name_of(g, a)) == 6
    assert poll_events(g, a) & POLLIN
    assert recv(g, a, 3) == b"abc"
    assert recv(g, a, flags=MSG_DONTWAIT) == -Errno.EAGAIN


# --- options ------------------------------------------------------------------------------------------


def test_common_options_are_stored_and_reported(g):
    fd = sock(g)
    assert option(g, fd, 6, TCP_NODELAY) == 0
    assert set_option(g, fd, 6, TCP_NODELAY, 5) == 0
    assert option(g, fd, 6, TCP_NODELAY) == 1
    assert set_option(g, fd, SOL_SOCKET, SO_KEEPALIVE, 1) == 0
    assert option(g, fd, SOL_SOCKET, SO_KEEPALIVE) == 1
    assert set_option(g, fd, SOL_SOCKET, SO_LINGER, struct.pack("<ii", 1, 5)) == 0
    assert option(g, fd, SOL_SOCKET, SO_LINGER, 8) == struct.pack("<ii", 1, 5)
    assert set_option(g, fd, SOL_SOCKET, SO_SNDBUF, 10000) == 0
    assert option(g, fd, SOL_SOCKET, SO_SNDBUF) == 20000
    assert option(g, fd, SOL_SOCKET, SO_PEERCRED, 12) == struct.pack("<iII", 0, 65534, 65534)


@pytest.mark.parametrize("level, name, errno", [
    (6, 999, Errno.ENOPROTOOPT),
    (SOL_IP, 999, Errno.ENOPROTOOPT),
    (SOL_IPV6, IPV6_V6ONLY, Errno.EOPNOTSUPP),
    (SOL_SOCKET, 999, Errno.ENOPROTOOPT),
    (255, 1, Errno.EOPNOTSUPP),
])
def test_unknown_options_fail_as_linux(g, level, name, errno):
    fd = sock(g)
    assert option(g, fd, level, name) == -errno


def test_setsockopt_errors(g):
    fd = sock(g)
    assert set_option(g, fd, 6, 999, 1) == -Errno.ENOPROTOOPT
    assert set_option(g, fd, SOL_IPV6, IPV6_V6ONLY, 1) == -Errno.ENOPROTOOPT
    assert g.syscall("setsockopt", fd, 6, TCP_NODELAY, g.put(b"\1"), 1) == -Errno.EINVAL
    assert g.syscall("setsockopt", fd, 6, TCP_NODELAY, UNMAPPED, 4) == -Errno.EFAULT
    six = sock(g, AF_INET6)
    assert bind(g, six, sin6()) == 0
    assert set_option(g, six, SOL_IPV6, IPV6_V6ONLY, 1) == -Errno.EINVAL


def test_getsockname_bad_pointers_are_efault(g):
    fd = sock(g)
    assert g.syscall("getsockname", fd, UNMAPPED, g.put(struct.pack("<i", 16))) == -Errno.EFAULT
    assert g.syscall("getsockname", fd, g.alloc(16), UNMAPPED) == -Errno.EFAULT
