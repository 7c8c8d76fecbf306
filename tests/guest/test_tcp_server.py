"""What event-driven servers ask of loopback TCP (TCP_CORK, FIONREAD, FIONBIO,
EPOLLEXCLUSIVE, EPOLLRDHUP, SO_REUSEPORT, sendfile to a socket): the tcp_server probe
prints the same natively and in the sandbox."""

import pytest

pytestmark = pytest.mark.guest


@pytest.mark.parametrize("name", ["tcp_server", "tcp_server.dyn"])
def test_tcp_server_probe_matches_native(compare, name):
    compare(name)
