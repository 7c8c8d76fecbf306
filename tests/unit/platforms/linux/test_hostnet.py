"""platforms/linux/hostnet.py on its own: host TCP sockets the supervisor holds,
against real host sockets on loopback."""

from __future__ import annotations

import errno
import select
import socket

import pytest

from slimbox.platforms.linux import hostnet
from slimbox.platforms.linux.hostnet import PosixHostNetwork

LOOPBACK4 = bytes(10) + b"\xff\xff" + bytes((127, 0, 0, 1))


def _wait_ready(network: PosixHostNetwork, key: object) -> None:
    """Wait (at most 10 s) until `key` is among the ready keys."""
    for _ in range(100):
        select.select([network.fileno()], [], [], 0.1)
        if key in network.ready_keys():
            return
    raise AssertionError(f"{key} never became ready")


@pytest.fixture
def network():
    net = PosixHostNetwork()
    yield net
    net.close()


@pytest.fixture
def server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(10)
    yield sock
    sock.close()


def test_a_connection_completes_and_carries_bytes_both_ways(network, server):
    connection = network.connect(LOOPBACK4, server.getsockname()[1])
    network.watch(connection, "c", False, True)
    _wait_ready(network, "c")
    assert connection.connect_result() == 0
    peer, _ = server.accept()
    with peer:
        assert connection.receive(10) is None  # nothing yet: no blocking
        assert connection.send(b"ping") == 4
        assert peer.recv(10) == b"ping"
        peer.sendall(b"pong")
        network.watch(connection, "c", True, False)
        _wait_ready(network, "c")
        assert connection.receive(10) == b"pong"
        connection.shutdown_send()
        assert peer.recv(10) == b""  # the shutdown reached the host peer
        peer.close()
        _wait_ready(network, "c")
        assert connection.receive(10) == b""
    connection.close()
    assert not network.ready()


def test_a_refused_connection_reports_econnrefused(network, server):
    port = server.getsockname()[1]
    server.close()
    connection = network.connect(LOOPBACK4, port)
    network.watch(connection, "c", False, True)
    _wait_ready(network, "c")
    assert connection.connect_result() == errno.ECONNREFUSED
    connection.close()


def test_watching_nothing_reports_nothing_even_after_a_hang_up(network, server):
    connection = network.connect(LOOPBACK4, server.getsockname()[1])
    network.watch(connection, "c", False, True)
    _wait_ready(network, "c")
    peer, _ = server.accept()
    peer.close()
    network.watch(connection, "c", False, False)
    select.select([network.fileno()], [], [], 0.2)
    assert network.ready_keys() == []
    connection.close()


def test_a_listener_accepts_with_the_client_address(network):
    listener = network.listen("127.0.0.1", 0)
    ip, port = listener.address
    assert ip == LOOPBACK4 and port > 0
    assert listener.accept() is None
    network.watch(listener, "l", True, False)
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    with client:
        _wait_ready(network, "l")
        connection, (peer_ip, peer_port) = listener.accept()
        assert (peer_ip, peer_port) == (LOOPBACK4, client.getsockname()[1])
        assert connection.receive(10) is None  # accepted sockets do not block either
        client.sendall(b"x")
        network.watch(connection, "a", True, False)
        _wait_ready(network, "a")
        assert connection.receive(10) == b"x"


def test_a_port_in_use_is_refused_by_the_host(network, server):
    with pytest.raises(OSError) as info:
        network.listen("127.0.0.1", server.getsockname()[1])
    assert info.value.errno == errno.EADDRINUSE


def test_sockets_are_bounded(network, server, monkeypatch):
    monkeypatch.setattr(hostnet, "MAX_SOCKETS", 2)
    listener = network.listen("127.0.0.1", 0)
    first = network.connect(LOOPBACK4, server.getsockname()[1])
    with pytest.raises(OSError) as info:
        network.connect(LOOPBACK4, server.getsockname()[1])
    assert info.value.errno == errno.ENOBUFS
    # a host client past the bound is accepted and closed at once
    client = socket.create_connection(("127.0.0.1", listener.address[1]), timeout=10)
    with client:
        network.watch(listener, "l", True, False)
        _wait_ready(network, "l")
        assert listener.accept() is None
        assert client.recv(10) == b""
    first.close()
    network.connect(LOOPBACK4, server.getsockname()[1]).close()  # room again


def test_resolve_gives_mapped_addresses():
    assert LOOPBACK4 in PosixHostNetwork.resolve("localhost") or bytes(15) + b"\x01" in \
        PosixHostNetwork.resolve("localhost")
    assert PosixHostNetwork.resolve("10.1.2.3") == [bytes(10) + b"\xff\xff" + bytes((10, 1, 2, 3))]
    with pytest.raises(OSError):
        PosixHostNetwork.resolve("name.that.does.not.resolve.invalid")
