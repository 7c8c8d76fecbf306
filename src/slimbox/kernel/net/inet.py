"""AF_INET and AF_INET6 sockets on loopback, entirely in the kernel: TCP streams and
UDP datagrams between sockets of one sandbox. There is no network: only loopback
addresses (127.0.0.0/8, ::1) and the wildcards, which mean loopback here, are local.

A TCP connection is an AF_UNIX stream pair underneath (the buffers, wait queues,
shutdown and accept backlog of unix.py), with addresses that are (ip, port) pairs
instead of paths. UDP reuses the datagram queue, but a UDP sender never waits for
the receiver: a datagram that finds no socket or no room is dropped, as on Linux.

Every address is kept in IPv6 form, 16 bytes, with IPv4 addresses v4-mapped
(::ffff:a.b.c.d), so that one table of bound ports serves both families; it lives on
the kernel object (`InetPorts`).
"""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.file import POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from slimbox.kernel.net.unix import (
    POLLWRBAND, RCV_SHUTDOWN, SEND_SHUTDOWN, SOCK_DGRAM, SOCK_STREAM, Message, UnixSocket, owner_of,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

AF_INET, AF_INET6 = 2, 10
IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE = 6, 17, 136
#: net.ipv4.ip_local_port_range
EPHEMERAL_FIRST, EPHEMERAL_LAST = 32768, 60999
#: ports below this need privilege to bind
PRIVILEGED_PORTS = 1024

_MAPPED_PREFIX = bytes(10) + b"\xff\xff"
WILDCARD4 = _MAPPED_PREFIX + bytes(4)
WILDCARD6 = bytes(16)
LOOPBACK4 = _MAPPED_PREFIX + bytes((127, 0, 0, 1))
LOOPBACK6 = bytes(15) + b"\x01"

#: an address as the kernel keeps it: (16-byte ip, port)
Address = tuple[bytes, int]


def is_mapped(ip: bytes) -> bool:
    return ip[:12] == _MAPPED_PREFIX


def is_wildcard(ip: bytes) -> bool:
    return ip in (WILDCARD4, WILDCARD6)


def is_loopback(ip: bytes) -> bool:
    return ip == LOOPBACK6 or (is_mapped(ip) and ip[12] == 127)


class InetPorts:
    """The ports bound in one sandbox, per protocol, and where ephemeral ports go next."""

    __slots__ = ("bound", "next_ephemeral")

    def __init__(self) -> None:
        #: (protocol, port) -> the sockets bound to that port
        self.bound: dict[tuple[int, int], list[InetSocket]] = {}
        self.next_ephemeral = EPHEMERAL_FIRST

    def sockets(self, protocol: int, port: int) -> list[InetSocket]:
        return [sock for sock in self.bound.get((protocol, port), []) if not sock._released]

    def conflicts(self, sock: InetSocket, ip: bytes, port: int) -> bool:
        for other in self.sockets(sock.protocol, port):
            if other is sock or not sock.overlaps(other, ip):
                continue
            if sock.reuse_port and other.reuse_port and sock.owner[1] == other.owner[1]:
                continue
            if sock.reuse_address and other.reuse_address and not other.listening:
                continue
            return True
        return False

    def ephemeral(self, sock: InetSocket, ip: bytes) -> int:
        span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1
        for _ in range(span):
            port = self.next_ephemeral
            self.next_ephemeral = EPHEMERAL_FIRST + (port + 1 - EPHEMERAL_FIRST) % span
            if not self.sockets(sock.protocol, port):
                return port
        raise LinuxError(Errno.EADDRINUSE)

    def add(self, sock: InetSocket, port: int) -> None:
        key = (sock.protocol, port)
        self.bound[key] = [*self.sockets(sock.protocol, port), sock]

    def remove(self, sock: InetSocket) -> None:
        if sock.address is None:
            return
        key = (sock.protocol, sock.address[1])
        left = [other for other in self.sockets(*key) if other is not sock]
        if left:
            self.bound[key] = left
        else:
            self.bound.pop(key, None)

    def find(self, protocol: int, ip: bytes, port: int, *, listening: bool) -> InetSocket | None:
        """The socket a packet to (ip, port) reaches: an exact address before a wildcard."""
        best = None
        for sock in self.sockets(protocol, port):
            if listening and not sock.listening:
                continue
            if not sock.accepts(ip):
                continue
            if sock.address is not None and sock.address[0] == ip:
                return sock
            if best is None:
                best = sock
        return best


def ports_of(kernel) -> InetPorts:
    """The kernel's table of bound ports, made on first use."""
    ports = getattr(kernel, "inet_ports", None)
    if ports is None:
        ports = InetPorts()
        kernel.inet_ports = ports
    return ports


class InetSocket(UnixSocket):
    """A TCP or UDP socket; `address` and peers' addresses are (ip, port) pairs."""

    UNCONNECTED_READ_ERRNO = Errno.ENOTCONN

    def __init__(self, family: int, kind: int, flags: int, ino: int, owner: tuple[int, int, int],
                 protocol: int = 0) -> None:
        super().__init__(kind, flags, ino, owner)
        self.family = family
        #: IPPROTO_TCP, IPPROTO_UDP or IPPROTO_UDPLITE (a datagram socket with its own ports)
        self.protocol = protocol or (IPPROTO_TCP if kind == SOCK_STREAM else IPPROTO_UDP)
        #: UDP-Lite's checksum coverage: what this socket's datagrams cover (0: all of
        #: them) and the least partial coverage it accepts (None: never set, any; 0: none)
        self.send_coverage = 0
        self.receive_coverage: int | None = None
        self.v6only = False
        self.reuse_address = False
        self.reuse_port = False
        #: the address a UDP socket is connected to (TCP keeps its peer socket instead)
        self.remote: Address | None = None
        #: a non-blocking connect said EINPROGRESS and no connect has since reported the result
        self.connect_in_progress = False
        #: the address a TCP connect asked for, which the listener's new socket is named by
        self.destination: bytes | None = None
        self._ports: InetPorts | None = None
        #: (level, option) -> value of options that are stored and reported only
        self.inet_options: dict[tuple[int, int], bytes] = {}
        #: the host UDP sockets this socket sends through (kernel/net/broker.py)
        self.host_datagrams = None

    # --- addresses --------------------------------------------------------------------------

    def accepts(self, ip: bytes) -> bool:
        """Whether traffic to `ip` may reach this socket by its family and bound address."""
        if self.family == AF_INET and not is_mapped(ip):
            return False
        if self.family == AF_INET6 and self.v6only and is_mapped(ip):
            return False
        if self.address is None:
            return False
        bound = self.address[0]
        if bound == WILDCARD6:
            return self.family == AF_INET6
        if bound == WILDCARD4:
            return is_mapped(ip)
        return bound == ip

    def overlaps(self, other: InetSocket, ip: bytes) -> bool:
        """Whether binding `ip` would share addresses with `other`'s binding."""
        assert other.address is not None
        theirs = other.address[0]
        if ip == theirs:
            return True
        mine_v4 = self._covers_v4(ip, self.family, self.v6only)
        theirs_v4 = self._covers_v4(theirs, other.family, other.v6only)
        mine_v6 = ip == WILDCARD6 or not is_mapped(ip)
        theirs_v6 = theirs == WILDCARD6 or not is_mapped(theirs)
        if is_wildcard(ip) or is_wildcard(theirs):
            return bool((mine_v4 and theirs_v4) or (mine_v6 and theirs_v6))
        return False

    @staticmethod
    def _covers_v4(ip: bytes, family: int, v6only: bool) -> bool:
        if ip == WILDCARD6:
            return family == AF_INET6 and not v6only
        return is_mapped(ip)

    def check_family(self, ip: bytes) -> None:
        if self.family == AF_INET6 and self.v6only and is_mapped(ip):
            raise LinuxError(Errno.EINVAL)

    def bind_inet(self, task: Task, ip: bytes, port: int) -> None:
        if self.address is not None:
            raise LinuxError(Errno.EINVAL)
        if not (is_wildcard(ip) or is_loopback(ip)):
            raise LinuxError(Errno.EADDRNOTAVAIL)
        if self.family == AF_INET6 and is_mapped(ip) and self.v6only:
            raise LinuxError(Errno.EADDRNOTAVAIL)
        if 0 < port < PRIVILEGED_PORTS and task.cred.euid != 0:
            raise LinuxError(Errno.EACCES)
        ports = ports_of(task.kernel)
        if port == 0:
            port = ports.ephemeral(self, ip)
        elif ports.conflicts(self, ip, port):
            raise LinuxError(Errno.EADDRINUSE)
        self.address = (ip, port)
        self._ports = ports
        ports.add(self, port)

    def autobind(self, task: Task) -> None:
        """Take an ephemeral port on the wildcard, as connect, sendto and listen do."""
        if self.address is None:
            self.bind_inet(task, WILDCARD4 if self.family == AF_INET else WILDCARD6, 0)

    def _local_for(self, destination: bytes) -> bytes:
        """The source address traffic to `destination` leaves from."""
        if self.address is not None and not is_wildcard(self.address[0]):
            return self.address[0]
        return LOOPBACK4 if is_mapped(destination) else LOOPBACK6

    # --- connections ---------------------------------------------------------------------------

    def listen_inet(self, task: Task, backlog: int) -> None:
        if self.kind == SOCK_DGRAM:
            raise LinuxError(Errno.EOPNOTSUPP)
        if self.peer is None:
            self.autobind(task)
        self.listen(backlog)

    def listen(self, backlog: int) -> None:
        if self.kind == SOCK_DGRAM:
            raise LinuxError(Errno.EOPNOTSUPP)
        if self.peer is not None:
            raise LinuxError(Errno.EINVAL)
        super().listen(backlog)

    def connect_inet(self, task: Task, ip: bytes, port: int) -> None:
        """Connect to (ip, port); a non-blocking TCP connect completes at once but reports
        EINPROGRESS, as Linux's does on loopback."""
        self.check_family(ip)
        if is_wildcard(ip):
            ip = LOOPBACK4 if is_mapped(ip) else LOOPBACK6
        network = getattr(task.kernel, "network", None)
        brokered = network is not None and network.brokers(ip, port)
        if not is_loopback(ip) and not brokered:
            if network is None:
                raise LinuxError(Errno.ENETUNREACH)
            raise network.refuse(ip, port, self.kind == SOCK_STREAM)
        if self.kind == SOCK_DGRAM:
            self.autobind(task)
            assert self.address is not None
            if is_wildcard(self.address[0]) and not brokered:
                self._rebind_local(self._local_for(ip))
            self.remote = (ip, port)
            self.state_queue.notify_all()
            return
        if self.listening:
            raise LinuxError(Errno.EINVAL)
        if getattr(self.peer, "connecting", False):
            # a host connection still under way (kernel/net/broker.py)
            if "host_connect" in task.restart:
                raise Block((self.state_queue,))
            raise LinuxError(Errno.EALREADY)
        if task.restart.pop("host_connect", None) is not None:
            # a blocking connect to the host woke: it ended one way or the other
            if self.peer is not None:
                return
            error, self.pending_error = self.pending_error or Errno.ECONNREFUSED, 0
            raise LinuxError(error)
        if self.connect_in_progress:
            # the first connect after EINPROGRESS reports how it ended, as Linux's does
            self.connect_in_progress = False
            if self.peer is not None:
                return
        if self.peer is not None:
            raise LinuxError(Errno.EISCONN)
        if self.pending_error:
            error, self.pending_error = self.pending_error, 0
            raise LinuxError(error)
        if brokered:
            self.autobind(task)
            assert self.address is not None
            if is_wildcard(self.address[0]):
                # the sandbox has loopback addresses only: its side of the connection is one
                self._rebind_local(self._local_for(ip))
            network.connect(task, self, ip, port)
            if self.nonblocking:
                self.connect_in_progress = True
                raise LinuxError(Errno.EINPROGRESS)
            task.restart["host_connect"] = True
            raise Block((self.state_queue,))
        ports = ports_of(task.kernel)
        listener = ports.find(IPPROTO_TCP, ip, port, listening=True) if port else None
        if listener is None:
            if self.nonblocking:
                self.pending_error = Errno.ECONNREFUSED
                self.connect_in_progress = True
                raise LinuxError(Errno.EINPROGRESS)
            raise LinuxError(Errno.ECONNREFUSED)
        self.autobind(task)
        assert self.address is not None
        if is_wildcard(self.address[0]):
            self._rebind_local(self._local_for(ip))
        self.destination = ip
        self.connect(task, listener, self.nonblocking)
        if self.nonblocking:
            self.connect_in_progress = True
            raise LinuxError(Errno.EINPROGRESS)

    def _rebind_local(self, ip: bytes) -> None:
        assert self.address is not None
        self.address = (ip, self.address[1])

    def new_server_end(self, task: Task, listener: UnixSocket) -> UnixSocket:
        assert isinstance(listener, InetSocket)
        return server_end_for(task.kernel, listener, self.destination)

    def peer_address(self) -> Address | None:
        if self.kind == SOCK_DGRAM:
            return self.remote
        peer = self.peer
        if peer is None or not isinstance(peer, InetSocket):
            return None
        return peer.address

    def disconnect(self) -> None:
        self.remote = None

    def peer_credentials(self) -> tuple[int, int, int]:
        # credentials travel over AF_UNIX only: Linux reports "nobody" for an inet peer
        return (0, 65534, 65534)

    def shutdown(self, how_bits: int) -> None:
        if self.kind == SOCK_STREAM and self.peer is None and not self.listening:
            raise LinuxError(Errno.ENOTCONN)
        if self.kind == SOCK_DGRAM and self.remote is None:
            raise LinuxError(Errno.ENOTCONN)
        # TCP tells the peer only that this end sends no more (a FIN); SHUT_RD stays local
        self.shutdown_state |= how_bits
        self.state_queue.notify_all()
        self.room_queue.notify_all()
        if self.listening and how_bits & RCV_SHUTDOWN:
            self.listening = False
        peer = self.peer
        if peer is not None and self.kind == SOCK_STREAM and not peer._released and how_bits & SEND_SHUTDOWN:
            peer.shutdown_state |= RCV_SHUTDOWN
            peer.state_queue.notify_all()
            peer.room_queue.notify_all()

    # --- datagrams -----------------------------------------------------------------------------

    def send_datagram(self, task: Task, data: bytes, target: Address | None, *, nosignal: bool) -> int:
        """Send one UDP datagram to `target` (or the connected address); it is dropped
        when nobody is bound there or the receiver has no room, as a lost packet."""
        if self.shutdown_state & SEND_SHUTDOWN:
            self._broken(task, nosignal)
        if target is None:
            if self.remote is None:
                raise LinuxError(Errno.EDESTADDRREQ)
            target = self.remote
        ip, port = target
        self.check_family(ip)
        if is_wildcard(ip):
            ip = LOOPBACK4 if is_mapped(ip) else LOOPBACK6
        network = getattr(task.kernel, "network", None)
        if network is not None and self.protocol == IPPROTO_UDP and network.brokers(ip, port):
            if len(data) > 65507:
                raise LinuxError(Errno.EMSGSIZE)
            self.autobind(task)
            return network.send_datagram(self, data, ip, port)
        if not is_loopback(ip):
            if network is None:
                raise LinuxError(Errno.ENETUNREACH)
            raise network.refuse(ip, port, False)
        if port == 0:
            raise LinuxError(Errno.EINVAL)
        if len(data) > 65507:
            raise LinuxError(Errno.EMSGSIZE)
        self.autobind(task)
        assert self.address is not None
        source = (self._local_for(ip), self.address[1])
        receiver = ports_of(task.kernel).find(self.protocol, ip, port, listening=False)
        if receiver is None:
            if self.remote is not None:
                # the port-unreachable reply reaches a connected socket as an error
                self.pending_error = Errno.ECONNREFUSED
                self.state_queue.notify_all()
            return len(data)
        if receiver.remote is not None and receiver.remote != source:
            return len(data)
        if receiver.shutdown_state & RCV_SHUTDOWN or (receiver.inbox and len(data) > receiver.room()):
            return len(data)
        if receiver.receive_coverage is not None and 0 < self.send_coverage < 8 + len(data):
            # UDP-Lite, as Linux: once a receiver has set the coverage it accepts, a datagram
            # checked over part of its length arrives only if that part is at least as long
            if not 0 < receiver.receive_coverage <= self.send_coverage:
                return len(data)
        receiver._deliver(Message(data, [], (0, 0, 0), source))  # type: ignore[arg-type]
        return len(data)

    def poll(self) -> int:
        if self.kind == SOCK_STREAM:
            return super().poll()
        events = POLLOUT | POLLWRNORM | POLLWRBAND
        if self.inbox or self.shutdown_state & RCV_SHUTDOWN:
            events |= POLLIN | POLLRDNORM
        if self.pending_error:
            events |= POLLERR
        return events

    # --- the end --------------------------------------------------------------------------------

    def release(self) -> None:
        if self._ports is not None:
            self._ports.remove(self)
        if self.host_datagrams is not None:
            self.host_datagrams.close()
        super().release()


def server_end_for(kernel, listener: InetSocket, destination: bytes | None) -> InetSocket:
    """The socket accept(2) hands out for a connection to `listener` addressed to
    `destination` (its local address; the listener's own when None)."""
    assert listener.address is not None
    server_end = InetSocket(listener.family, SOCK_STREAM, 0, kernel.next_id() + 0x100000, listener.owner)
    local = destination if destination is not None else listener.address[0]
    server_end.address = (local, listener.address[1])
    # a connection holds its port as the listener does, so that a new bind sees it
    server_end.reuse_address, server_end.reuse_port = listener.reuse_address, listener.reuse_port
    server_end._ports = ports_of(kernel)
    server_end._ports.add(server_end, listener.address[1])
    server_end.inet_options = dict(listener.inet_options)
    return server_end


def new_socket(task: Task, family: int, kind: int, flags: int, protocol: int = 0) -> InetSocket:
    return InetSocket(family, kind, flags, task.kernel.next_id() + 0x100000, owner_of(task), protocol)
