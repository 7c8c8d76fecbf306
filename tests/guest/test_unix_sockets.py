"""AF_UNIX socket pairs, descriptor and credential passing: the unix_sockets probe
prints the same natively and in the sandbox."""

import pytest

pytestmark = pytest.mark.guest


@pytest.mark.parametrize("name", ["unix_sockets", "unix_sockets.dyn"])
def test_unix_sockets_match_native(compare, name):
    compare(name)
