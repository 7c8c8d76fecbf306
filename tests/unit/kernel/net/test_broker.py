"""kernel/net/broker.py on the fake platform: guest sockets relayed to host connections
whose far end is the test (platforms/fake.py's FakeHostNetwork), driven one syscall
at a time through the real kernel loop."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[1])  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import BLOCKED, FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.net.broker import NetworkService  # noqa: E402
from slimbox.kernel.net.policy import NetworkPolicy  # noqa: E402
from slimbox.platforms.fake import FakeHostNetwork  # noqa: E402
from tests.recording_log import RecordingLog  # noqa: E402

AF_INET, SOCK_STREAM, SOCK_DGRAM, SOCK_NONBLOCK = 2, 1, 2, 0o4000
SOL_SOCKET, SO_ERROR, SHUT_WR = 1, 4, 1
POLLIN, POLLOUT = 0x1, 0x4
REMOTE = "192.0.2.10"
PORT = 443


def mapped(ip: str) -> bytes:
    return bytes(10) + b"\xff\xff" + bytes(int(part) for part in ip.split("."))


def sockaddr(ip: str, port: int) -> bytes:
    return struct.pack("<H", AF_INET) + struct.pack("!H", port) + bytes(int(p) for p in ip.split(".")) + bytes(8)


class World:
    def __init__(self, mode: str = "host", publish=()) -> None:
        self.g = FakeGuest()
        self.net = FakeHostNetwork()
        self.log = RecordingLog()
        self.g.kernel.log = self.log
        allow = [f"{REMOTE}:{PORT}"] if mode == "host" else []
        policy = NetworkPolicy.build(mode, allow, publish)
        self.service = NetworkService(self.g.kernel, policy, self.net,
                                      frozenset({(mapped(REMOTE), PORT)}) if mode == "host" else frozenset())
        self.service.publish()
        self.service.attach(self.g.platform)
        self.g.kernel.network = self.service
        #: guest memory reads and writes go through (the scratch area is small)
        self.buffer = self.g.map(1 << 21)

    def socket(self, flags: int = 0) -> int:
        fd = self.g.syscall("socket", AF_INET, SOCK_STREAM | flags, 0)
        assert fd >= 0
        return fd

    def connected(self):
        """A guest socket connected (blocking) to the allowed remote, and its host side."""
        fd = self.socket()
        assert self.g.syscall("connect", fd, sockaddr(REMOTE, PORT), 16) is BLOCKED
        connection = self.net.connections[-1]
        assert connection.remote == (mapped(REMOTE), PORT)
        connection.finish_connect(0)
        assert self.g.complete() == 0
        return fd, connection

    def read(self, fd: int, length: int = 1 << 20):
        result = self.g.syscall("read", fd, self.buffer, length)
        if result is BLOCKED:
            return BLOCKED
        return self.g.get(self.buffer, result) if result >= 0 else result

    def write(self, fd: int, data: bytes):
        self.g.set(self.buffer, data)
        return self.g.syscall("write", fd, self.buffer, len(data))

    def poll(self, fd: int, events: int = POLLIN | POLLOUT) -> int:
        pollfd = self.g.put(struct.pack("<ihh", fd, events, 0))
        assert self.g.syscall("poll", pollfd, 1, 0) >= 0
        return struct.unpack("<ihh", self.g.get(pollfd, 8))[2]


@pytest.fixture
def w() -> World:
    return World()


def test_a_blocking_connect_waits_for_the_host_and_then_relays_both_ways(w):
    fd, connection = w.connected()
    assert w.write(fd, b"request") == 7
    assert connection.outgoing == b"request"
    connection.incoming += b"answer"
    w.g.settle()
    assert w.read(fd, 100) == b"answer"
    assert w.g.syscall("shutdown", fd, SHUT_WR) == 0
    assert connection.shut_send
    connection.incoming_eof = True
    w.g.settle()
    assert w.read(fd, 100) == b""
    # both ends are done: the connection is closed, as TCP's CLOSED state
    assert w.g.syscall("getpeername", fd, w.g.alloc(16), w.g.put(struct.pack("<i", 16))) == -Errno.ENOTCONN
    assert connection.closed


def test_a_refused_host_connect_fails_the_guest_connect(w):
    fd = w.socket()
    assert w.g.syscall("connect", fd, sockaddr(REMOTE, PORT), 16) is BLOCKED
    w.net.connections[-1].finish_connect(Errno.ECONNREFUSED)
    assert w.g.complete() == -Errno.ECONNREFUSED
    assert w.net.connections[-1].closed


def test_a_non_blocking_connect_says_einprogress_then_ealready_then_reports_the_end(w):
    fd = w.socket(SOCK_NONBLOCK)
    assert w.g.syscall("connect", fd, sockaddr(REMOTE, PORT), 16) == -Errno.EINPROGRESS
    assert w.g.syscall("connect", fd, sockaddr(REMOTE, PORT), 16) == -Errno.EALREADY
    assert not w.poll(fd) & POLLOUT
    assert w.write(fd, b"early") == -Errno.EAGAIN
    w.net.connections[-1].finish_connect(0)
    w.g.settle()
    assert w.poll(fd) & POLLOUT
    value = w.g.alloc(4)
    assert w.g.syscall("getsockopt", fd, SOL_SOCKET, SO_ERROR, value, w.g.put(struct.pack("<i", 4))) == 0
    assert w.g.i32(value) == 0
    assert w.g.syscall("connect", fd, sockaddr(REMOTE, PORT), 16) == 0


def test_a_host_that_takes_nothing_fills_one_buffer_and_then_the_guest_waits(w):
    fd, connection = w.connected()
    connection.capacity = 0
    w.g.syscall("fcntl", fd, 4, 0o4000)  # F_SETFL O_NONBLOCK
    sent = w.write(fd, b"x" * (1 << 20))
    assert 0 < sent < (1 << 20)
    assert w.write(fd, b"more") == -Errno.EAGAIN
    assert not w.poll(fd) & POLLOUT
    connection.capacity = 1 << 22
    w.g.settle()
    assert len(connection.outgoing) == sent
    assert w.poll(fd) & POLLOUT
    assert w.write(fd, b"more") == 4


def test_host_bytes_wait_on_the_host_while_the_guest_buffer_is_full(w):
    fd, connection = w.connected()
    connection.incoming += b"y" * (2 << 20)
    w.g.settle()
    assert len(connection.incoming) > 0  # only what the guest socket had room for came in
    assert connection.interest == (False, False)  # not watched for reading: no spinning
    total = 0
    for _ in range(100):
        data = w.read(fd, 1 << 20)
        total += len(data)
        w.g.settle()
        if total == 2 << 20:
            break
    assert total == 2 << 20 and not connection.incoming


def test_a_host_reset_is_econnreset_for_the_guest(w):
    fd, connection = w.connected()
    connection.broken = Errno.ECONNRESET
    w.g.settle()
    assert w.read(fd, 10) == -Errno.ECONNRESET
    assert connection.closed


def test_an_unexpected_host_failure_inside_a_guest_syscall_resets_that_connection_only(w, monkeypatch):
    fd, connection = w.connected()

    def broken_watch(*args):
        raise OSError(Errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(w.net, "watch", broken_watch)
    assert w.write(fd, b"x") == 1  # the bytes were taken before the host failed
    assert w.read(fd, 10) == -Errno.ECONNRESET
    assert connection.closed
    assert w.g.process.alive


def test_what_the_guest_sent_before_closing_still_reaches_the_host(w):
    fd, connection = w.connected()
    connection.capacity = 3
    assert w.write(fd, b"abcdef") == 6
    assert w.g.syscall("close", fd) == 0
    assert connection.outgoing == b"abc" and not connection.closed
    connection.capacity = 100
    w.g.settle()
    assert connection.outgoing == b"abcdef" and connection.closed


def test_addresses_the_policy_does_not_allow_are_refused_and_logged(w):
    fd = w.socket()
    assert w.g.syscall("connect", fd, sockaddr(REMOTE, PORT + 1), 16) == -Errno.ECONNREFUSED
    assert w.net.connections == []
    assert w.log.lines == [f"network: connect to {REMOTE}:{PORT + 1} refused (not in --allow): ECONNREFUSED"]
    udp = w.g.syscall("socket", AF_INET, SOCK_DGRAM, 0)
    assert w.g.syscall("sendto", udp, w.g.put(b"q"), 1, 0, sockaddr(REMOTE, PORT + 1), 16) == -Errno.EPERM
    assert w.net.datagram_sockets == []


def test_udp_to_an_allowed_address_goes_through_a_host_socket_and_only_allowed_answers_come_back(w):
    udp = w.g.syscall("socket", AF_INET, SOCK_DGRAM, 0)
    assert w.g.syscall("sendto", udp, w.g.put(b"query"), 5, 0, sockaddr(REMOTE, PORT), 16) == 5
    host = w.net.datagram_sockets[0]
    assert host.sent == [(b"query", mapped(REMOTE), PORT)]
    host.incoming.append((b"stranger", (mapped("192.0.2.66"), PORT)))
    host.incoming.append((b"answer", (mapped(REMOTE), PORT)))
    w.g.settle()
    source = w.g.alloc(16)
    got = w.g.syscall("recvfrom", udp, w.buffer, 100, 0, source, w.g.put(struct.pack("<i", 16)))
    assert w.g.get(w.buffer, got) == b"answer"
    assert w.g.get(source, 8) == sockaddr(REMOTE, PORT)[:8]
    assert w.g.syscall("recvfrom", udp, w.buffer, 100, 0x40, 0, 0) == -Errno.EAGAIN  # MSG_DONTWAIT
    # connected to the allowed address, send() goes the same way
    assert w.g.syscall("connect", udp, sockaddr(REMOTE, PORT), 16) == 0
    assert w.g.syscall("sendto", udp, w.g.put(b"again"), 5, 0, 0, 0) == 5
    assert host.sent[-1] == (b"again", mapped(REMOTE), PORT)
    assert w.g.syscall("close", udp) == 0
    assert host.closed


def test_net_none_is_enetunreach():
    w = World("none")
    fd = w.socket()
    assert w.g.syscall("connect", fd, sockaddr(REMOTE, PORT), 16) == -Errno.ENETUNREACH
    assert w.log.lines == [f"network: connect to {REMOTE}:{PORT} refused (--net none): ENETUNREACH"]


def test_refusals_logged_are_bounded(w):
    fd = w.socket()
    for _ in range(200):
        assert w.g.syscall("connect", fd, sockaddr("192.0.2.99", 1), 16) == -Errno.ECONNREFUSED
    assert len(w.log.lines) == 51 and w.log.lines[-1] == "network: further refusals are not logged"


def _listening(w: World, port: int) -> int:
    fd = w.socket()
    assert w.g.syscall("bind", fd, sockaddr("127.0.0.1", port), 16) == 0
    assert w.g.syscall("listen", fd, 16) == 0
    return fd


def test_a_published_port_queues_host_clients_at_the_guest_listener():
    w = World("none", publish=["8080:80"])
    listener = w.net.listeners[0]
    assert listener.address == (mapped("127.0.0.1"), 8080)
    server = _listening(w, 80)
    host_client = listener.connect_client((mapped("127.0.0.1"), 50000))
    host_client.incoming += b"GET /"
    w.g.settle()
    peer = w.g.alloc(16)
    accepted = w.g.syscall("accept", server, peer, w.g.put(struct.pack("<i", 16)))
    assert accepted >= 0
    # the client appears to come from the sandbox's loopback, with its own port
    assert w.g.get(peer, 8) == sockaddr("127.0.0.1", 50000)[:8]
    assert w.read(accepted, 100) == b"GET /"
    assert w.write(accepted, b"200 OK") == 6
    assert host_client.outgoing == b"200 OK"
    assert w.g.syscall("close", accepted) == 0
    assert host_client.closed


def test_host_clients_with_no_guest_listener_are_closed_and_logged_once():
    w = World("none", publish=["8080:80"])
    clients = [w.net.listeners[0].connect_client((mapped("127.0.0.1"), 50001 + n)) for n in range(3)]
    w.g.settle()
    assert all(client.closed for client in clients)
    assert len(w.log.lines) == 1 and "nothing listens on sandbox port 80" in w.log.lines[0]


def test_a_host_port_in_use_is_an_oserror_at_publish():
    g = FakeGuest()
    net = FakeHostNetwork()
    net.ports_in_use.add(8080)
    service = NetworkService(g.kernel, NetworkPolicy.build("none", [], ["8080:80"]), net)
    with pytest.raises(OSError):
        service.publish()
