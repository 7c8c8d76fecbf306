"""The host listener that publishes a sandbox port hands out connections with Nagle's
algorithm off: the relay writes what the guest wrote as it comes, and with Nagle on a
reply written in two parts waited for the client's delayed ACK."""

from __future__ import annotations

import select
import socket

from slimbox.platforms.linux.hostnet import PosixHostNetwork


def test_published_connections_have_tcp_nodelay():
    network = PosixHostNetwork()
    try:
        listener = network.listen("127.0.0.1", 0)
        with socket.create_connection(("127.0.0.1", listener.address[1]), timeout=10):
            select.select([listener.fileno()], [], [], 10)
            accepted = listener.accept()
            assert accepted is not None
            connection, _ = accepted
            with socket.socket(fileno=socket.dup(connection.fileno())) as view:
                assert view.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            connection.close()
    finally:
        network.close()
