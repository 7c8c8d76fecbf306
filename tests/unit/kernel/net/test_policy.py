"""The network policy's values: --net, --allow and -p, parsed and checked."""

import pytest

from slimbox.kernel.net.policy import Allowed, NetworkPolicy, Publish
from slimbox.kernel.policy import PolicyError


@pytest.mark.parametrize("spec, expected", [
    ("8080:80", Publish("127.0.0.1", 8080, 80)),
    ("127.0.0.1:8080:80", Publish("127.0.0.1", 8080, 80)),
    ("0.0.0.0:1:65535", Publish("0.0.0.0", 1, 65535)),
    ("[::1]:8443:443", Publish("::1", 8443, 443)),
    (" 9000:9000 ", Publish("127.0.0.1", 9000, 9000)),
])
def test_publish_entries(spec, expected):
    assert Publish.parse(spec) == expected


@pytest.mark.parametrize("spec", ["", "80", ":80", "80:", "0:80", "80:0", "65536:80", "-1:80", "x:80",
                                  "1.2.3:80:80", "localhost:80:80", "8080:80:90:1", "[::1:80:80", "[::1]8080:80",
                                  "::1:8080:80", "8080:8O"])
def test_bad_publish_entries(spec):
    with pytest.raises(PolicyError):
        Publish.parse(spec)


@pytest.mark.parametrize("spec, expected", [
    ("example.org:443", Allowed("example.org", 443)),
    ("10.0.0.1:80", Allowed("10.0.0.1", 80)),
    ("[2001:db8::1]:53", Allowed("2001:db8::1", 53)),
])
def test_allow_entries(spec, expected):
    assert Allowed.parse(spec) == expected


@pytest.mark.parametrize("spec", ["example.org", "example.org:", ":80", "example.org:0", "a b:80", "a/b:80",
                                  "[::1]80", "host:http"])
def test_bad_allow_entries(spec):
    with pytest.raises(PolicyError):
        Allowed.parse(spec)


def test_policy_rules():
    assert NetworkPolicy.build("none", [], []) == NetworkPolicy()
    assert not NetworkPolicy().uses_host_sockets
    assert NetworkPolicy.build("none", [], ["8080:80"]).uses_host_sockets
    assert NetworkPolicy.build("host", ["a:1"], []).uses_host_sockets
    with pytest.raises(PolicyError, match="--allow needs --net host"):
        NetworkPolicy.build("none", ["a:1"], [])
    with pytest.raises(PolicyError, match="--net"):
        NetworkPolicy.build("bridge", [], [])
    with pytest.raises(PolicyError, match="published twice"):
        NetworkPolicy.build("none", [], ["8080:80", "127.0.0.1:8080:81"])
    with pytest.raises(PolicyError):
        NetworkPolicy.build("host", "a:1", [])  # one string, not a list of entries
    assert isinstance(PolicyError("x"), ValueError)
