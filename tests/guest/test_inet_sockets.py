"""Loopback TCP and UDP over 127.0.0.1 and ::1: the inet_sockets probe prints the same
natively and in the sandbox."""

import pytest

pytestmark = pytest.mark.guest


@pytest.mark.parametrize("name", ["inet_sockets", "inet_sockets.dyn"])
def test_inet_sockets_match_native(compare, name):
    compare(name)
