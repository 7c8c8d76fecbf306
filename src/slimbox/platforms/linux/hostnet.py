"""Host sockets the supervisor holds for a sandbox: TCP connections and UDP sockets for
addresses the network policy allows, and listeners that publish a sandbox port. No guest ever holds one of these
descriptors; the kernel relays bytes between them and its own sockets
(kernel/net/broker.py).

Every socket is non-blocking. Readiness is kept in one epoll of this module's own,
whose descriptor the platform watches like a host stream: when it is readable, some
socket here is ready, and `ready_keys()` says which. Sockets are made with SOCK_NONBLOCK
and accepted ones set non-blocking with fcntl, so no ioctl outside the lock-down's
pinned list is ever needed (Python's setblocking and os.set_blocking use FIONBIO).
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import select
import socket

#: the sockets of one sandbox at once, connections and listeners together: the
#: supervisor's own descriptors stay bounded whatever the guest or host clients do
MAX_SOCKETS = 512

_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def _family_and_text(ip: bytes) -> tuple[int, str]:
    """A 16-byte address (IPv4 v4-mapped) as a socket family and its text."""
    if ip[:12] == _MAPPED_PREFIX:
        return socket.AF_INET, socket.inet_ntop(socket.AF_INET, ip[12:])
    return socket.AF_INET6, socket.inet_ntop(socket.AF_INET6, ip)


def _packed(text: str) -> bytes:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if address.version == 4:
        return _MAPPED_PREFIX + address.packed
    return address.packed


class _HostSocket:
    """What every host socket the supervisor keeps shares: its descriptor, the network that
    watches it, and the events that network watches it for."""

    __slots__ = ("_sock", "_network", "interest")

    def __init__(self, sock: socket.socket, network: PosixHostNetwork) -> None:
        self._sock = sock
        self._network = network
        #: (readable, writable) the epoll watches for
        self.interest = (False, False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._network._forget(self)
        self._sock.close()


class HostConnection(_HostSocket):
    """One host TCP connection (connecting, connected, or accepted from a listener)."""

    __slots__ = ()

    def connect_result(self) -> int:
        """The errno a finished connect ended with (0: connected)."""
        return self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)

    def send(self, data: bytes) -> int:
        """Bytes the host took; 0 when its buffer is full. OSError for a broken connection."""
        try:
            return self._sock.send(data, socket.MSG_NOSIGNAL)
        except BlockingIOError:
            return 0

    def receive(self, length: int) -> bytes | None:
        """Up to `length` bytes; None if nothing has come yet, b'' at end of stream."""
        try:
            return self._sock.recv(length)
        except BlockingIOError:
            return None

    def shutdown_send(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # already reset or not connected: nothing left to tell the peer

class HostDatagramSocket(_HostSocket):
    """One host UDP socket, unconnected: the kernel names the destination of every
    datagram (an allowed address) and checks the source of every one that comes back."""

    __slots__ = ()

    def send_to(self, data: bytes, ip: bytes, port: int) -> int:
        """Bytes sent; 0 when the host's buffer is full (the datagram is lost, as UDP may)."""
        family, text = _family_and_text(ip)
        if family != self._sock.family:
            raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
        try:
            return self._sock.sendto(data, (text, port))
        except BlockingIOError:
            return 0

    def receive_from(self, length: int) -> tuple[bytes, tuple[bytes, int]] | None:
        """The next datagram (cut to `length`) and its source, or None if none waits."""
        try:
            data, source = self._sock.recvfrom(length)
        except BlockingIOError:
            return None
        return data, (_packed(source[0]), source[1])


class HostListener(_HostSocket):
    """A listening host socket that publishes a sandbox port."""

    __slots__ = ("address",)

    def __init__(self, sock: socket.socket, network: PosixHostNetwork) -> None:
        super().__init__(sock, network)
        #: (16-byte ip, port) the listener is bound to (the real port when 0 was asked)
        self.address = (_packed(sock.getsockname()[0]), sock.getsockname()[1])

    def accept(self) -> tuple[HostConnection, tuple[bytes, int]] | None:
        """The next connection and the client's address, or None if none is waiting.
        Past MAX_SOCKETS the connection is accepted and closed at once, so that a
        flood of host clients cannot take the supervisor's descriptors."""
        try:
            fd, peer = self._sock._accept()  # type: ignore[attr-defined]
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EMFILE, errno.ENFILE, errno.ENOBUFS):
                return None
            raise
        # fcntl, not os.set_blocking, which uses ioctl(FIONBIO): outside the lock-down list
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        sock = socket.socket(self._sock.family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK, 0, fileno=fd)
        if self._network.full():
            sock.close()
            return None
        connection = HostConnection(sock, self._network)
        self._network._open.add(connection)
        return connection, (_packed(peer[0]), peer[1])


class PosixHostNetwork:
    """The host side of a sandbox's network: allowed connections, published ports."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        #: host fd -> what is watched there and the kernel's key for it
        self._watched: dict[int, tuple[HostConnection | HostListener | HostDatagramSocket, object]] = {}
        #: every socket open here, watched or not
        self._open: set[HostConnection | HostListener | HostDatagramSocket] = set()

    # --- the platform watches this like a host stream -----------------------------------------

    def fileno(self) -> int:
        return self._epoll.fileno()

    def ready(self) -> bool:
        return bool(self._epoll.poll(0, 1))

    def ready_keys(self) -> list[object]:
        """The keys of sockets ready for what they are watched for (nothing waits)."""
        keys = []
        for fd, _ in self._epoll.poll(0, 256):
            entry = self._watched.get(fd)
            if entry is not None:
                keys.append(entry[1])
        return keys

    def watch(self, handle: HostConnection | HostListener | HostDatagramSocket, key: object, readable: bool, writable: bool) -> None:
        """Report `key` from ready_keys() while `handle` is readable and/or writable (level)."""
        fd = handle.fileno()
        wanted = (readable, writable)
        self._watched[fd] = (handle, key)
        if handle.interest == wanted:
            return
        registered = handle.interest != (False, False)
        mask = (select.EPOLLIN | select.EPOLLRDHUP if readable else 0) | (select.EPOLLOUT if writable else 0)
        if not mask:
            # epoll reports errors and hang-ups even with no events asked: leave it out
            self._epoll.unregister(fd)
        elif registered:
            self._epoll.modify(fd, mask)
        else:
            self._epoll.register(fd, mask)
        handle.interest = wanted

    # --- sockets -------------------------------------------------------------------------

    def full(self) -> bool:
        return len(self._open) >= MAX_SOCKETS

    def connect(self, ip: bytes, port: int) -> HostConnection:
        """Start a TCP connection to (ip, port); it completes when the socket turns
        writable (then connect_result says how). OSError ENOBUFS past MAX_SOCKETS."""
        if self.full():
            raise OSError(errno.ENOBUFS, os.strerror(errno.ENOBUFS))
        family, text = _family_and_text(ip)
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        # relayed guest writes leave at once, as on loopback (see listen)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        code = sock.connect_ex((text, port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(code, os.strerror(code))
        connection = HostConnection(sock, self)
        self._open.add(connection)
        return connection

    def open_datagram(self, ip: bytes) -> HostDatagramSocket:
        """A UDP socket of the family that reaches `ip` (OSError ENOBUFS past MAX_SOCKETS)."""
        if self.full():
            raise OSError(errno.ENOBUFS, os.strerror(errno.ENOBUFS))
        family, _ = _family_and_text(ip)
        sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        handle = HostDatagramSocket(sock, self)
        self._open.add(handle)
        return handle

    def listen(self, ip: str, port: int) -> HostListener:
        """Listen on the host at ip:port (OSError EADDRINUSE and so on as the host says)."""
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # accepted connections inherit it: each relayed guest write leaves at once, as
            # on loopback, instead of waiting for the client's delayed ACK (40 ms a reply)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((ip, port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        listener = HostListener(sock, self)
        self._open.add(listener)
        return listener

    @staticmethod
    def resolve(name: str) -> list[bytes]:
        """The addresses of a host name as the host resolves it (16 bytes each, IPv4
        v4-mapped), in the host's order, without repeats."""
        found: list[bytes] = []
        for _, _, _, _, sockaddr in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
            packed = _packed(sockaddr[0])
            if packed not in found:
                found.append(packed)
        return found

    def _forget(self, handle: HostConnection | HostListener | HostDatagramSocket) -> None:
        if handle not in self._open:
            return
        self._open.discard(handle)
        fd = handle.fileno()
        self._watched.pop(fd, None)
        if handle.interest != (False, False):
            handle.interest = (False, False)
            self._epoll.unregister(fd)

    def close(self) -> None:
        for handle in list(self._open):
            handle.close()
        self._epoll.close()
