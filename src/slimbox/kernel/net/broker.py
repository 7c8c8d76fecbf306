"""Brokered host networking: TCP connections and UDP datagrams between sandbox sockets
and host sockets the supervisor holds. The guest never holds a host descriptor: its socket is an
ordinary kernel InetSocket whose peer is a `HostPeer`, the kernel's stand-in for the
far end, which relays bytes to and from a host connection (platforms/base.py's
HostNetwork).

Two ways in:
- a guest connect() to an address the policy allows (`--net host --allow HOST:PORT`)
  starts a host connection; the guest's connect completes when the host's does;
- a host client of a published port (`-p HOSTPORT:GUESTPORT`) is accepted by the
  supervisor and queued at the guest's listener on GUESTPORT as a new connection,
  appearing to come from the sandbox's loopback address with the client's port.

The relay keeps Linux's stream semantics on the guest side by reusing unix.py's
machinery: bytes from the host are delivered into the guest socket's receive queue
(only as much as it has room for, so a slow reader slows the host sender), and bytes
the guest sends land in the HostPeer's queue, bounded like a receive queue, which is
flushed to the host as it takes them. A guest shutdown(SHUT_WR) becomes a host
SHUT_WR once the queue is flushed; end of stream from the host is end of stream for
the guest; a host reset is ECONNRESET for the guest.

Host readiness comes through one platform watch on the HostNetwork, re-armed after
every event; each host socket is watched only for what the relay can act on now, so
a full guest buffer never makes the loop spin.

UDP to an allowed address goes out through a host UDP socket of the guest socket's own
(`DatagramRelay`); only datagrams from allowed addresses come back.

A connection the policy refuses fails as a firewall would make it fail (see
docs/networking.md): ENETUNREACH with `--net none`, ECONNREFUSED (TCP) or EPERM (UDP)
with `--net host`; each refusal is logged with the address, up to a bound per run.
"""

from __future__ import annotations

from slimbox.abi.errno import Errno, errno_name
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.net.inet import (
    IPPROTO_TCP, LOOPBACK4, LOOPBACK6, Address, InetSocket, is_mapped, ports_of, server_end_for,
)
from slimbox.kernel.net.policy import NET_HOST, NetworkPolicy
from slimbox.kernel.net.unix import RCV_SHUTDOWN, SHUTDOWN_MASK, SOCK_STREAM, Message

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task
    from slimbox.platforms.base import HostConnection, HostListener, HostNetwork

#: the most bytes moved from a host socket into the guest per readiness event
_CHUNK = 65536
#: reads per readiness event of one connection, so one busy peer cannot hold the loop
_READS_PER_EVENT = 16
#: accepts per readiness event of one published port
_ACCEPTS_PER_EVENT = 16
#: refusals logged per run (a guest looping on connect must not flood the log)
_LOGGED_REFUSALS = 50
_NOBODY = (0, 65534, 65534)
#: host errors a guest sees as they are when its connection breaks
_PASSED_ON = frozenset((Errno.ECONNRESET, Errno.ETIMEDOUT, Errno.EHOSTUNREACH, Errno.ENETUNREACH,
                        Errno.ECONNREFUSED, Errno.ECONNABORTED))


def text_of(ip: bytes, port: int) -> str:
    """'a.b.c.d:port' or '[v6]:port' (the kernel does its own formatting: no host calls)."""
    if is_mapped(ip):
        return ".".join(str(b) for b in ip[12:]) + f":{port}"
    groups = [f"{int.from_bytes(ip[i:i + 2], 'big'):x}" for i in range(0, 16, 2)]
    text = ":".join(groups)
    # shorten the longest run of zero groups, as inet_ntop does
    best, best_len = -1, 1
    i = 0
    while i < 8:
        if groups[i] == "0":
            j = i
            while j < 8 and groups[j] == "0":
                j += 1
            if j - i > best_len:
                best, best_len = i, j - i
            i = j
        else:
            i += 1
    if best >= 0:
        text = ":".join(groups[:best]) + "::" + ":".join(groups[best + best_len:])
    return f"[{text}]:{port}"


class HostPeer(InetSocket):
    """The far end of a guest TCP connection that lives on the host."""

    def __init__(self, service: NetworkService, family: int, remote: Address, connection: HostConnection,
                 *, connecting: bool) -> None:
        super().__init__(family, SOCK_STREAM, 0, service.kernel.next_id() + 0x100000, _NOBODY)
        self.service = service
        self.address = remote
        self.connection: HostConnection | None = connection
        #: the host connect has not finished yet
        self.connecting = connecting
        #: bytes the guest sent that the host has not taken yet
        self.outbox = bytearray()
        self.host_eof = False
        self.sent_fin = False
        self._room_watch = False
        self.state_queue.add(self._guest_changed)

    # --- the guest side (what unix.py calls on a peer) ----------------------------------

    def room(self) -> int:
        if self.connecting or self.connection is None:
            return 0
        return max(self.rcvbuf - len(self.outbox), 0)

    def _deliver(self, message: Message) -> None:
        self.outbox += message.data
        message.discard()
        self.pump()

    def _guest_changed(self) -> None:
        """The guest shut down its sending side or closed its socket."""
        if self.connection is not None:
            self.state_queue.add(self._guest_changed)
        self.pump()

    def _guest_read(self) -> None:
        self._room_watch = False
        self.pump()

    # --- the relay --------------------------------------------------------------------------

    def on_host_ready(self) -> None:
        connection = self.connection
        if connection is None:
            return
        if self.connecting:
            error = connection.connect_result()
            if error:
                self._connect_failed(error)
                return
            self.connecting = False
            self.room_queue.notify_all()
            guest = self.peer
            if guest is not None:
                guest.state_queue.notify_all()
        self.pump()

    def pump(self) -> None:
        """Move what can move now, both ways, and watch the host for what can move next.
        A host failure ends this connection only (it often runs inside a guest's syscall)."""
        try:
            self._pump()
        except OSError as exc:
            self._host_failed(exc.errno or Errno.EIO)

    def _pump(self) -> None:
        connection = self.connection
        if connection is None:
            return
        guest = self.peer
        guest_gone = guest is None or guest._released
        if self.connecting:
            if guest_gone:
                self._close_host()  # closed before the host answered: nothing to say
            return
        if not guest_gone:
            self._host_to_guest(connection, guest)
            if self.connection is None:
                return
        self._flush(connection)
        if self.connection is None:
            return
        if guest_gone:
            if not self.outbox:
                self._close_host()
                return
        elif self.shutdown_state & RCV_SHUTDOWN and not self.outbox and not self.sent_fin:
            connection.shutdown_send()
            self.sent_fin = True
        if self.host_eof and self.sent_fin:
            # both ends have said they are done: the connection is closed, as TCP's
            # CLOSED state, where getpeername says ENOTCONN
            self.address = None
            self._close_host()
            return
        readable = not guest_gone and not self.host_eof and guest.room() > 0
        self.service.network.watch(connection, self, readable, bool(self.outbox))

    def _host_to_guest(self, connection: HostConnection, guest: InetSocket) -> None:
        for _ in range(_READS_PER_EVENT):
            if self.host_eof:
                return
            room = guest.room()
            if room <= 0:
                if not self._room_watch:
                    self._room_watch = True
                    guest.room_queue.add(self._guest_read)
                return
            try:
                data = connection.receive(min(room, _CHUNK))
            except OSError as exc:
                self._host_failed(exc.errno or Errno.ECONNRESET)
                return
            if data is None:
                return
            if not data:
                self.host_eof = True
                guest.shutdown_state |= RCV_SHUTDOWN
                guest.state_queue.notify_all()
                guest.data_queue.notify_all()
                return
            guest._deliver(Message(data, [], _NOBODY, None))

    def _flush(self, connection: HostConnection) -> None:
        moved = False
        while self.outbox:
            try:
                sent = connection.send(bytes(self.outbox[:_CHUNK]))
            except OSError as exc:
                self._host_failed(exc.errno or Errno.ECONNRESET)
                return
            if sent <= 0:
                break
            del self.outbox[:sent]
            moved = True
        if moved:
            self.room_queue.notify_all()

    def host_error(self, error: int) -> None:
        """The host socket failed in a way the relay did not expect."""
        if self.connecting:
            self._connect_failed(error)
        else:
            self._host_failed(error)

    def _connect_failed(self, error: int) -> None:
        self._close_host()
        guest = self.peer
        self.peer = None
        self._released = True
        if guest is not None:
            guest.peer = None
            guest.pending_error = error
            guest.state_queue.notify_all()
            guest.room_queue.notify_all()

    def _host_failed(self, error: int) -> None:
        """The host connection broke: the guest learns it as a reset."""
        self._close_host()
        self._released = True
        self.outbox.clear()
        guest = self.peer
        if guest is not None and not guest._released:
            # errors a TCP peer can cause pass on; anything else of the host's is a reset
            guest.pending_error = error if error in _PASSED_ON else Errno.ECONNRESET
            guest.shutdown_state = SHUTDOWN_MASK
            guest.state_queue.notify_all()
            guest.data_queue.notify_all()
            guest.room_queue.notify_all()
        self.room_queue.notify_all()

    def _close_host(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()
            self.service.peers.discard(self)

    def release(self) -> None:
        self._close_host()
        self._released = True


class DatagramRelay:
    """The host UDP sockets of one guest UDP socket (one per address family, made at
    its first datagram to an allowed address). Answers are delivered to the guest
    only from allowed addresses (and only from its peer, if it is connected); what the
    guest socket has no room for is dropped, as UDP may."""

    def __init__(self, service: NetworkService, guest: InetSocket) -> None:
        self.service = service
        self.guest = guest
        #: is the address IPv4 (v4-mapped) -> the host socket for that family
        self.sockets: dict[bool, object] = {}

    def send(self, data: bytes, ip: bytes, port: int) -> int:
        network = self.service.network
        assert network is not None
        family = is_mapped(ip)
        handle = self.sockets.get(family)
        try:
            if handle is None:
                handle = network.open_datagram(ip)
                self.sockets[family] = handle
                network.watch(handle, self, True, False)
            handle.send_to(data, ip, port)
        except OSError as exc:
            raise LinuxError(exc.errno or Errno.ENETUNREACH) from None
        return len(data)

    def on_host_ready(self) -> None:
        guest = self.guest
        if guest._released:
            self.close()
            return
        for handle in list(self.sockets.values()):
            for _ in range(_READS_PER_EVENT):
                try:
                    received = handle.receive_from(_CHUNK)
                except OSError:
                    break  # an ICMP error reported late: nothing for the guest
                if received is None:
                    break
                data, source = received
                if source not in self.service.allowed:
                    continue
                if guest.remote is not None and guest.remote != source:
                    continue
                if guest.shutdown_state & RCV_SHUTDOWN or (guest.inbox and len(data) > guest.room()):
                    continue
                guest._deliver(Message(data, [], _NOBODY, source))  # type: ignore[arg-type]

    def host_error(self, error: int) -> None:
        self.close()

    def close(self) -> None:
        for handle in self.sockets.values():
            handle.close()
        self.sockets.clear()
        self.service.datagram_relays.discard(self)
        if self.guest.host_datagrams is self:
            self.guest.host_datagrams = None


class PublishedPort:
    """A host listener whose connections go to a guest listener on `guest_port`."""

    def __init__(self, service: NetworkService, listener: HostListener, guest_port: int, label: str) -> None:
        self.service = service
        self.listener = listener
        self.guest_port = guest_port
        self.label = label
        #: a host client was closed for want of a guest listener (logged once)
        self.turned_away = False

    def on_host_ready(self) -> None:
        service = self.service
        for _ in range(_ACCEPTS_PER_EVENT):
            accepted = self.listener.accept()
            if accepted is None:
                break
            connection, (_, client_port) = accepted
            guest_listener = self._guest_listener()
            if guest_listener is None or len(guest_listener.pending) > guest_listener.backlog_limit:
                connection.close()
                if not self.turned_away:
                    # once: clients that poll a port until its server is up are common
                    self.turned_away = True
                    service.note(f"published port {self.label}: nothing listens on sandbox port "
                                 f"{self.guest_port} (or its backlog is full); host connections are closed")
                continue
            local = LOOPBACK4 if guest_listener.accepts(LOOPBACK4) else LOOPBACK6
            client = HostPeer(service, guest_listener.family, (local, client_port), connection, connecting=False)
            server_end = server_end_for(service.kernel, guest_listener, local)
            client.peer, server_end.peer = server_end, client
            service.peers.add(client)
            guest_listener.pending.append(server_end)
            guest_listener.data_queue.notify_all()
            client.pump()
        service.network.watch(self.listener, self, True, False)

    def host_error(self, error: int) -> None:
        self.service.note(f"published port {self.label}: host error {error}; no longer published")
        self.listener.close()

    def _guest_listener(self) -> InetSocket | None:
        ports = ports_of(self.service.kernel)
        for ip in (LOOPBACK4, LOOPBACK6):
            found = ports.find(IPPROTO_TCP, ip, self.guest_port, listening=True)
            if found is not None:
                return found
        return None


class NetworkService:
    """The network of one sandbox run: the policy, the host side and its relays."""

    def __init__(self, kernel, policy: NetworkPolicy, network: HostNetwork | None,
                 allowed: frozenset[Address] = frozenset()) -> None:
        self.kernel = kernel
        self.policy = policy
        self.network = network
        #: (ip, port) pairs --allow resolved to
        self.allowed = allowed
        self.peers: set[HostPeer] = set()
        self.datagram_relays: set[DatagramRelay] = set()
        self.published: list[PublishedPort] = []
        self._refusals_logged = 0
        self._platform = None

    # --- start and end --------------------------------------------------------------------

    def publish(self) -> None:
        """Listen on the host for every -p entry (OSError as the host refuses, e.g.
        EADDRINUSE); before the guest runs, so that a refusal stops the run."""
        assert self.network is not None or not self.policy.publish
        for entry in self.policy.publish:
            listener = self.network.listen(entry.host_ip, entry.host_port)
            label = f"{entry.host_ip}:{entry.host_port}" if ":" not in entry.host_ip \
                else f"[{entry.host_ip}]:{entry.host_port}"
            port = PublishedPort(self, listener, entry.guest_port, label)
            self.published.append(port)
            self.network.watch(listener, port, True, False)

    def attach(self, platform) -> None:
        """Watch the host side through `platform` for the run."""
        self._platform = platform
        if self.network is not None:
            platform.watch_readable(self.network, self)

    def close(self) -> None:
        for peer in list(self.peers):
            peer.release()
        self.peers.clear()
        for relay in list(self.datagram_relays):
            relay.close()
        if self.network is not None:
            self.network.close()

    # --- the platform's readiness event (this object is the watch's key) -------------------

    def notify_all(self) -> None:
        assert self.network is not None
        for key in self.network.ready_keys():
            try:
                key.on_host_ready()
            except OSError as exc:
                # a host socket failing must end its own connection, never the supervisor
                key.host_error(exc.errno or Errno.EIO)
        self._platform.watch_readable(self.network, self)

    # --- policy ----------------------------------------------------------------------------------

    def brokers(self, ip: bytes, port: int) -> bool:
        """Whether traffic to (ip, port) goes to the host (an --allow entry)."""
        return (ip, port) in self.allowed

    def refuse(self, ip: bytes, port: int, tcp: bool) -> LinuxError:
        """The error a connection or datagram the policy does not allow fails with, logged."""
        if self.policy.mode == NET_HOST:
            error, why = (Errno.ECONNREFUSED if tcp else Errno.EPERM), "not in --allow"
        else:
            error, why = Errno.ENETUNREACH, "--net none"
        what = "connect to" if tcp else "datagram to"
        self.note(f"{what} {text_of(ip, port)} refused ({why}): {errno_name(error)}")
        return LinuxError(error)

    def note(self, line: str) -> None:
        if self._refusals_logged < _LOGGED_REFUSALS:
            self.kernel.log.warning("network: %s", line)
        elif self._refusals_logged == _LOGGED_REFUSALS:
            self.kernel.log.warning("network: further refusals are not logged")
        self._refusals_logged += 1

    # --- connections -------------------------------------------------------------------------

    def send_datagram(self, sock: InetSocket, data: bytes, ip: bytes, port: int) -> int:
        """Send a UDP datagram from `sock` to an allowed (ip, port) through the host."""
        if self.network is None:
            raise self.refuse(ip, port, False)
        relay = sock.host_datagrams
        if relay is None:
            relay = DatagramRelay(self, sock)
            sock.host_datagrams = relay
            self.datagram_relays.add(relay)
        return relay.send(data, ip, port)

    def connect(self, task: Task, sock: InetSocket, ip: bytes, port: int) -> None:
        """Start a host connection for `sock` to an allowed (ip, port)."""
        assert self.network is not None
        try:
            connection = self.network.connect(ip, port)
        except OSError as exc:
            raise LinuxError(exc.errno or Errno.ENETUNREACH) from None
        peer = HostPeer(self, sock.family, (ip, port), connection, connecting=True)
        try:
            self.network.watch(connection, peer, False, True)
        except OSError as exc:
            connection.close()
            raise LinuxError(exc.errno or Errno.ENETUNREACH) from None
        sock.peer, peer.peer = peer, sock
        self.peers.add(peer)


def network_of(kernel) -> NetworkService | None:
    return getattr(kernel, "network", None)
