"""The network policy, as plain data: `--net none|host`, `--allow HOST:PORT` and
`-p [IP:]HOSTPORT:GUESTPORT`, parsed and checked (PolicyError, a ValueError, names
what is wrong). Resolving names is the host's business (the sandbox runner asks the
platform); what comes out is a set of (16-byte ip, port) pairs the kernel checks.
"""

from __future__ import annotations

from slimbox.kernel.policy import PolicyError
from slimbox.kernel.record import Frozen

NET_NONE, NET_HOST = "none", "host"
NET_MODES = (NET_NONE, NET_HOST)
DEFAULT_PUBLISH_IP = "127.0.0.1"


def _port(text: str, what: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise PolicyError(f"bad {what} {spec!r}: the port must be a number from 1 to 65535")
    return int(text)


def _split_host(spec: str, what: str) -> tuple[str, str]:
    """HOST and the rest from 'HOST:REST' or '[V6]:REST'."""
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0 or spec[close + 1:close + 2] != ":":
            raise PolicyError(f"bad {what} {spec!r}: expected [IPV6]:PORT")
        return spec[1:close], spec[close + 2:]
    host, sep, rest = spec.rpartition(":")
    if not sep or not host:
        raise PolicyError(f"bad {what} {spec!r}: expected HOST:PORT")
    return host, rest


class Allowed(Frozen):
    """One --allow entry: a host name or address and a port."""

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self._set(host=host, port=port)

    @classmethod
    def parse(cls, spec: str) -> Allowed:
        host, port = _split_host(spec.strip(), "--allow")
        if not host or any(c.isspace() for c in host) or "/" in host:
            raise PolicyError(f"bad --allow {spec!r}: expected HOST:PORT")
        return cls(host, _port(port, "--allow", spec))


class Publish(Frozen):
    """One -p entry: a host address and port that reach a sandbox TCP port."""

    __slots__ = ("host_ip", "host_port", "guest_port")

    def __init__(self, host_ip: str, host_port: int, guest_port: int) -> None:
        self._set(host_ip=host_ip, host_port=host_port, guest_port=guest_port)

    @classmethod
    def parse(cls, spec: str) -> Publish:
        text = spec.strip()
        if text.count(":") == 1:
            host_ip, (host_port, guest_port) = DEFAULT_PUBLISH_IP, text.split(":")
        else:
            if text.startswith("["):
                host_ip, rest = _split_host(text, "-p")
            else:
                host_ip, _, rest = text.partition(":")
            host_port, sep, guest_port = rest.partition(":")
            if not sep:
                raise PolicyError(f"bad -p {spec!r}: expected [IP:]HOSTPORT:GUESTPORT")
            import ipaddress

            try:
                host_ip = str(ipaddress.ip_address(host_ip))
            except ValueError:
                raise PolicyError(f"bad -p {spec!r}: {host_ip!r} is not an IP address") from None
        return cls(host_ip, _port(host_port, "-p host port", spec), _port(guest_port, "-p sandbox port", spec))


class NetworkPolicy(Frozen):
    __slots__ = ("mode", "allow", "publish")

    def __init__(self, mode: str = NET_NONE, allow: tuple[Allowed, ...] = (), publish: tuple[Publish, ...] = ()) -> None:
        self._set(mode=mode, allow=allow, publish=publish)

    @classmethod
    def build(cls, mode: str, allow, publish) -> NetworkPolicy:
        """From the CLI's or the API's values (strings or parsed entries)."""
        if mode not in NET_MODES:
            raise PolicyError(f"bad --net {mode!r}: expected one of {', '.join(NET_MODES)}")
        if isinstance(allow, str) or isinstance(publish, str):
            raise PolicyError("allow and publish take a list of entries, not one string")
        allowed = tuple(a if isinstance(a, Allowed) else Allowed.parse(a) for a in allow)
        published = tuple(p if isinstance(p, Publish) else Publish.parse(p) for p in publish)
        if allowed and mode != NET_HOST:
            raise PolicyError("--allow needs --net host")
        seen = set()
        for entry in published:
            key = (entry.host_ip, entry.host_port)
            if key in seen:
                raise PolicyError(f"host port {entry.host_ip}:{entry.host_port} is published twice")
            seen.add(key)
        return cls(mode, allowed, published)

    @property
    def uses_host_sockets(self) -> bool:
        return self.mode == NET_HOST or bool(self.publish)
