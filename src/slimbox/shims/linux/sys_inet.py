"""AF_INET and AF_INET6 decoding for the socket syscalls in sys_net.py: the socket
type and protocol, sockaddr_in and sockaddr_in6, and the IP and TCP level options.
The sockets themselves are kernel/net/inet.py."""

from __future__ import annotations

import struct

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.net.inet import (
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, WILDCARD4, Address, InetSocket, new_socket,
)
from slimbox.kernel.net.unix import SOCK_DGRAM, SOCK_STREAM

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

AF_UNSPEC = 0
SOCK_RAW = 3
IPPROTO_IP, IPPROTO_IPV6 = 0, 41
SOL_IP, SOL_TCP, SOL_UDP, SOL_IPV6 = IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6
SOL_SOCKET = 1
SO_REUSEADDR, SO_LINGER, SO_REUSEPORT = 2, 13, 15
IPV6_V6ONLY = 26
TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT = 1, 2, 3, 4, 5, 6
IP_TOS, IP_TTL = 1, 2
IPV6_UNICAST_HOPS = 16
SOL_UDPLITE = IPPROTO_UDPLITE
UDPLITE_SEND_CSCOV, UDPLITE_RECV_CSCOV = 10, 11

#: SOL_SOCKET options an inet socket keeps itself (the rest are sys_net.py's)
SOCKET_LEVEL_OPTIONS = (SO_REUSEADDR, SO_REUSEPORT, SO_LINGER)

_SOCKADDR_IN = struct.Struct("!HH4s8x")
_SOCKADDR_IN6 = struct.Struct("!HHI16sI")
_SOCKADDR_IN_SIZE, _SOCKADDR_IN6_SIZE = 16, 28
_LINGER = struct.Struct("<ii")

#: (level, option) -> the value Linux starts with, for options only stored and reported
_DEFAULTS = {
    (SOL_TCP, TCP_NODELAY): 0, (SOL_TCP, TCP_MAXSEG): 536, (SOL_TCP, TCP_CORK): 0, (SOL_TCP, TCP_KEEPIDLE): 7200,
    (SOL_TCP, TCP_KEEPINTVL): 75, (SOL_TCP, TCP_KEEPCNT): 9,
    (SOL_IP, IP_TOS): 0, (SOL_IP, IP_TTL): 64, (SOL_IPV6, IPV6_UNICAST_HOPS): 64,
}


def socket(task: Task, domain: int, kind: int, protocol: int, flags: int) -> InetSocket:
    """A TCP or UDP socket, its type and protocol checked as Linux does."""
    if kind == SOCK_STREAM:
        if protocol not in (0, IPPROTO_TCP):
            raise LinuxError(Errno.EPROTONOSUPPORT)
    elif kind == SOCK_DGRAM:
        if protocol not in (0, IPPROTO_UDP, IPPROTO_UDPLITE):
            raise LinuxError(Errno.EPROTONOSUPPORT)
    elif kind == SOCK_RAW:
        # raw sockets need CAP_NET_RAW, which no one in the sandbox has
        raise LinuxError(Errno.EPERM)
    else:
        raise LinuxError(Errno.ESOCKTNOSUPPORT)
    return new_socket(task, domain, kind, flags, protocol)


def parse_address(sock: InetSocket, raw: bytes, *, for_bind: bool) -> Address:
    """(ip, port) from a sockaddr_in or sockaddr_in6 of `sock`'s family."""
    family = int.from_bytes(raw[:2], "little") if len(raw) >= 2 else -1
    if sock.family == AF_INET:
        if len(raw) < _SOCKADDR_IN_SIZE:
            raise LinuxError(Errno.EINVAL)
        if family != AF_INET and not (for_bind and family == AF_UNSPEC and raw[4:8] == bytes(4)):
            raise LinuxError(Errno.EAFNOSUPPORT)
        _, port, ip4, = _SOCKADDR_IN.unpack(raw[:_SOCKADDR_IN_SIZE])
        return (WILDCARD4[:12] + ip4, port)
    if len(raw) < 24:
        raise LinuxError(Errno.EINVAL)
    if family != AF_INET6:
        raise LinuxError(Errno.EAFNOSUPPORT)
    _, port, _, ip, _ = _SOCKADDR_IN6.unpack(raw[:24] + bytes(4))
    return (ip, port)


def pack_address(family: int, address: Address | None) -> bytes:
    """A sockaddr_in or sockaddr_in6 (v4-mapped for IPv4 on an IPv6 socket); an unbound
    socket shows the wildcard and port 0."""
    ip, port = address if address is not None else ((WILDCARD4 if family == AF_INET else bytes(16)), 0)
    if family == AF_INET:
        return struct.pack("<H", AF_INET) + _SOCKADDR_IN.pack(0, port, ip[12:])[2:]
    return struct.pack("<H", AF_INET6) + _SOCKADDR_IN6.pack(0, port, 0, ip, 0)[2:]


def address_room(sock: InetSocket) -> int:
    return _SOCKADDR_IN_SIZE if sock.family == AF_INET else _SOCKADDR_IN6_SIZE


def _level_known(sock: InetSocket, level: int) -> bool:
    if level == SOL_IP:
        return True
    if level == SOL_IPV6:
        return sock.family == AF_INET6
    if sock.protocol == IPPROTO_UDPLITE:
        return level in (SOL_UDP, SOL_UDPLITE)
    return level == (SOL_TCP if sock.kind == SOCK_STREAM else SOL_UDP)


def get_option(sock: InetSocket, level: int, optname: int) -> bytes | None:
    """The value of an IP-family option as bytes; None for a SOL_SOCKET option
    sys_net.py answers. EOPNOTSUPP for a level the socket lacks, ENOPROTOOPT for an
    option it does not know."""
    if level == SOL_SOCKET:
        if optname == SO_REUSEADDR:
            return struct.pack("<i", int(sock.reuse_address))
        if optname == SO_REUSEPORT:
            return struct.pack("<i", int(sock.reuse_port))
        if optname == SO_LINGER:
            return sock.inet_options.get((SOL_SOCKET, SO_LINGER), _LINGER.pack(0, 0))
        return None
    if not _level_known(sock, level):
        raise LinuxError(Errno.EOPNOTSUPP)
    if (level, optname) == (SOL_IPV6, IPV6_V6ONLY):
        return struct.pack("<i", int(sock.v6only))
    if level in (SOL_UDP, SOL_UDPLITE) and sock.kind == SOCK_DGRAM:
        # Linux reports the coverage of a UDP socket too (always 0), though only sets it
        # on a UDP-Lite one
        if optname == UDPLITE_SEND_CSCOV:
            return struct.pack("<i", sock.send_coverage)
        if optname == UDPLITE_RECV_CSCOV:
            return struct.pack("<i", sock.receive_coverage or 0)
    if (level, optname) in _DEFAULTS:
        return sock.inet_options.get((level, optname), struct.pack("<i", _DEFAULTS[(level, optname)]))
    raise LinuxError(Errno.ENOPROTOOPT)


def set_option(sock: InetSocket, level: int, optname: int, value: bytes) -> bool:
    """Set an IP-family option from its bytes (at least 4 of them, checked by the
    caller); False for a SOL_SOCKET option sys_net.py sets."""
    number = int.from_bytes(value[:4], "little", signed=True)
    if level == SOL_SOCKET:
        if optname == SO_REUSEADDR:
            sock.reuse_address = number != 0
        elif optname == SO_REUSEPORT:
            sock.reuse_port = number != 0
        elif optname == SO_LINGER:
            if len(value) < _LINGER.size:
                raise LinuxError(Errno.EINVAL)
            onoff, seconds = _LINGER.unpack(value[:_LINGER.size])
            sock.inet_options[(SOL_SOCKET, SO_LINGER)] = _LINGER.pack(int(onoff != 0), seconds)
        else:
            return False
        return True
    if not _level_known(sock, level):
        raise LinuxError(Errno.EOPNOTSUPP if level != SOL_IPV6 else Errno.ENOPROTOOPT)
    if (level, optname) == (SOL_IPV6, IPV6_V6ONLY):
        if sock.address is not None:
            raise LinuxError(Errno.EINVAL)
        sock.v6only = number != 0
    elif level in (SOL_UDP, SOL_UDPLITE) and optname in (UDPLITE_SEND_CSCOV, UDPLITE_RECV_CSCOV):
        if sock.protocol != IPPROTO_UDPLITE:
            raise LinuxError(Errno.ENOPROTOOPT)
        # as Linux: a coverage below the 8-byte header means the header, at most 65535
        coverage = 8 if number != 0 and number < 8 else min(number, 0xFFFF)
        if optname == UDPLITE_SEND_CSCOV:
            sock.send_coverage = coverage
        else:
            sock.receive_coverage = coverage
    elif (level, optname) in _DEFAULTS:
        if optname in (TCP_KEEPIDLE, TCP_KEEPINTVL) and level == SOL_TCP and not 1 <= number <= 32767:
            raise LinuxError(Errno.EINVAL)
        if (level, optname) in ((SOL_TCP, TCP_NODELAY), (SOL_TCP, TCP_CORK)):
            # loopback delivers every write at once, so corking changes no byte a reader sees
            number = int(number != 0)
        sock.inet_options[(level, optname)] = struct.pack("<i", number)
    else:
        raise LinuxError(Errno.ENOPROTOOPT)
    return True
