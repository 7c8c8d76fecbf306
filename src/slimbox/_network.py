"""The runner's part of the network policy (kernel/net/policy.py): resolving --allow
names on the host, the sandbox's /etc/hosts and /etc/resolv.conf, and the network
service of one run (kernel/net/broker.py) with its host side."""

from __future__ import annotations

from slimbox.kernel.net.broker import NetworkService
from slimbox.kernel.net.inet import LOOPBACK4, LOOPBACK6
from slimbox.kernel.net.policy import NET_HOST, NetworkPolicy
from slimbox.kernel.policy import PolicyError

#: what the sandbox's resolv.conf names: its own loopback, where nothing answers port
#: 53, so a DNS query fails at once (ECONNREFUSED) rather than leaving the sandbox
RESOLV_CONF = (b"# Names are resolved by the supervisor: the names of --allow are in /etc/hosts.\n"
               b"# Nothing answers DNS here, so other names fail at once.\n"
               b"nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")


def _host_network(platform: str):
    from slimbox._platforms import host_network

    network = host_network(platform)
    if network is None:
        raise PolicyError(f"the {platform} platform has no host network: only --net none, without -p")
    return network


def _text(ip: bytes) -> str:
    from slimbox.kernel.net.broker import text_of

    address = text_of(ip, 0).rsplit(":", 1)[0]
    return address[1:-1] if address.startswith("[") else address


def resolve_allowed(platform: str, policy: NetworkPolicy) -> tuple[frozenset[tuple[bytes, int]], list[tuple[str, str]]]:
    """The (ip, port) pairs --allow names and (address, name) lines for /etc/hosts.
    127.0.0.1 and ::1 are always the sandbox's own loopback, so an entry that reaches
    only them is refused (PolicyError), as is a name the host cannot resolve."""
    if not policy.allow:
        return frozenset(), []
    network = _host_network(platform)
    allowed: set[tuple[bytes, int]] = set()
    hosts: list[tuple[str, str]] = []
    for entry in policy.allow:
        try:
            addresses = network.resolve(entry.host)
        except OSError as exc:
            raise PolicyError(f"--allow {entry.host}:{entry.port}: the host cannot resolve "
                              f"{entry.host!r} ({getattr(exc, 'strerror', None) or exc})") from None
        usable = [ip for ip in addresses if ip not in (LOOPBACK4, LOOPBACK6)]
        if not usable:
            raise PolicyError(f"--allow {entry.host}:{entry.port}: 127.0.0.1 and ::1 are the sandbox's own "
                              "loopback; a host service on loopback must listen on another 127.x.y.z address")
        for ip in usable:
            allowed.add((ip, entry.port))
            line = (_text(ip), entry.host)
            if not _is_literal(entry.host) and line not in hosts:
                hosts.append(line)
    return frozenset(allowed), hosts


def _is_literal(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def write_resolver_files(sandbox_os, hostname: str, hosts: list[tuple[str, str]]) -> None:
    """The sandbox's /etc/hosts (localhost, its host name, the --allow names) and an
    /etc/resolv.conf that reaches nothing, for --net host (copies in the view's
    writable layer; the host's files are untouched)."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", f"127.0.1.1\t{hostname}"]
    lines += [f"{address}\t{name}" for address, name in hosts]
    try:
        sandbox_os.makedirs("/etc", exist_ok=True)
        sandbox_os.write_file("/etc/hosts", ("\n".join(lines) + "\n").encode())
        sandbox_os.write_file("/etc/resolv.conf", RESOLV_CONF)
    except OSError as exc:
        raise PolicyError(f"--net host: cannot write the sandbox's /etc/hosts ({exc})") from None


def start_network(kernel, platform_name: str, platform, policy: NetworkPolicy,
                  allowed: frozenset[tuple[bytes, int]]) -> NetworkService:
    """The run's network service, its published ports listening on the host (a port
    the host refuses is a PolicyError naming it), watched through `platform`."""
    network = _host_network(platform_name)() if policy.uses_host_sockets else None
    service = NetworkService(kernel, policy, network, allowed if policy.mode == NET_HOST else frozenset())
    try:
        service.publish()
    except OSError as exc:
        service.close()
        entry = policy.publish[len(service.published)]
        raise PolicyError(f"cannot publish {entry.host_ip}:{entry.host_port} -> {entry.guest_port}: "
                          f"{exc.strerror or exc}") from None
    service.attach(platform)
    return service
