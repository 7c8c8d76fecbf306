"""AF_UNIX sockets, entirely in the kernel: pairs, listeners and the connections they
accept, and datagram sockets that send to addresses.

Each socket owns the queue of messages sent to it (its receive queue) and three wait
queues: `data_queue` is notified when that queue gains data (or a listener a
connection), `room_queue` when the queue gives up room or the socket goes away
(writers to it wait there, so a writer waits on its peer's `room_queue`), and
`state_queue` when a shutdown, a close or an error changes what the socket can do
(readers wait on it too).

Blocking follows the kernel's rule (errors.py): an operation that must wait raises
`Block` and runs again from the start, so nothing changes until it can complete.
As with pipes, a stream write puts in what fits and returns that count, waiting only
while nothing fits (Linux keeps a blocking stream writer until all of it is in).

Buffer accounting is in bytes of data against the receiver's capacity (Linux
counts the sender's socket buffers including per-message overhead, so a Linux
socket holds somewhat less).

Descriptors in flight (SCM_RIGHTS) keep their open files referenced until received
or until the message is dropped; a socket sent over itself in a cycle is not
collected as Linux's garbage collector would, but how many are in flight at once is
bounded (ETOOMANYREFS).

Addresses live in the kernel's `UnixNamespace`: a filesystem socket is found through
the S_IFSOCK inode bind(2) made (so a rename or a hard link still reaches it, and an
unlinked one no longer does), an abstract one by its name. connect(2) to a listener
makes the server's end at once and queues it for accept(2), as Linux does, so a
client may send before it is accepted.
"""

from __future__ import annotations

from _collections import deque  # the C module behind collections, whose import costs ~3 ms a run

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.fd import drop_reference
from slimbox.kernel.file import ANY_EVENT, O_RDWR, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, File
from slimbox.kernel.fs.inode import S_IFSOCK, Stat
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

#: the resource limit that bounds descriptors in flight
RLIMIT_NOFILE = 7

SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET = 1, 2, 5
_SOCKET_DEV = 0x0E

POLLRDHUP = 0x2000
POLLWRBAND = 0x200

#: shutdown(2) bits as the socket records them
RCV_SHUTDOWN, SEND_SHUTDOWN = 1, 2
SHUTDOWN_MASK = RCV_SHUTDOWN | SEND_SHUTDOWN

#: Linux's default socket buffer size (net.core.wmem_default / rmem_default)
DEFAULT_BUFFER = 212992
#: the most SO_SNDBUF/SO_RCVBUF may ask for before doubling (net.core.wmem_max)
MAX_BUFFER_REQUEST = 212992
#: the least SO_SNDBUF/SO_RCVBUF give
MIN_SNDBUF, MIN_RCVBUF = 4608, 2304
#: the most descriptors one SCM_RIGHTS message may carry (SCM_MAX_FD)
SCM_MAX_FD = 253
SIGPIPE = 13
#: net.core.somaxconn: the largest listen backlog
SOMAXCONN = 4096
#: ioctl: bytes waiting to be read (also FIONREAD)
SIOCINQ = 0x541B
#: the write permission connect needs on a socket file
_MAY_WRITE = 2


class UnixNamespace:
    """The addresses bound in one sandbox: abstract names and socket inodes."""

    __slots__ = ("abstract", "by_inode", "next_autobind", "in_flight")

    def __init__(self) -> None:
        self.abstract: dict[bytes, UnixSocket] = {}
        self.by_inode: dict[tuple[int, int], UnixSocket] = {}
        self.next_autobind = 0
        #: descriptors sent and not yet received or dropped (bounded like Linux's per-user
        #: count, so that files kept alive in socket queues cannot grow without limit)
        self.in_flight = 0

    def autobind_name(self) -> bytes:
        """A free abstract name of five hex digits, as Linux's autobind makes."""
        for _ in range(1 << 20):
            name = b"\0%05x" % self.next_autobind
            self.next_autobind = (self.next_autobind + 1) & 0xFFFFF
            if name not in self.abstract:
                return name
        raise LinuxError(Errno.ENOSPC)


def namespace_of(kernel) -> UnixNamespace:
    """The kernel's AF_UNIX namespace, made on first use."""
    namespace = getattr(kernel, "unix_namespace", None)
    if namespace is None:
        namespace = UnixNamespace()
        kernel.unix_namespace = namespace
    return namespace


class Message:
    """One send: its bytes, the files it carries and who sent it."""

    __slots__ = ("data", "files", "sender", "source", "namespace")

    def __init__(self, data: bytes, files: list[File], sender: tuple[int, int, int], source: bytes | None,
                 namespace: UnixNamespace | None = None) -> None:
        self.data = bytearray(data)
        self.files = files
        #: where the files are counted in flight
        self.namespace = namespace
        if files and namespace is not None:
            namespace.in_flight += len(files)
        #: (pid, uid, gid) for SCM_CREDENTIALS
        self.sender = sender
        #: the sending socket's address (its sun_path bytes), None if it had none
        self.source = source

    def take_files(self) -> list[File]:
        """The files, no longer in flight: the caller now holds their references."""
        files, self.files = self.files, []
        if files and self.namespace is not None:
            self.namespace.in_flight -= len(files)
        return files

    def discard(self) -> None:
        for file in self.take_files():
            drop_reference(file)


class Received:
    """What one receive took: the bytes, the length of the whole message (for
    MSG_TRUNC), the files and the sender of the first message it read."""

    __slots__ = ("data", "full_length", "files", "sender", "source")

    def __init__(self, data: bytes, full_length: int, files: list[File], sender: tuple[int, int, int] | None,
                 source: bytes | None = None) -> None:
        self.data = data
        self.full_length = full_length
        self.files = files
        self.sender = sender
        self.source = source


class UnixSocket(File):
    #: what reading a stream socket that was never connected gives
    UNCONNECTED_READ_ERRNO = Errno.EINVAL

    def __init__(self, kind: int, flags: int, ino: int, owner: tuple[int, int, int] = (0, 0, 0)) -> None:
        super().__init__(O_RDWR | flags)
        self.kind = kind
        self.ino = ino
        self.peer: UnixSocket | None = None
        #: (pid, uid, gid) of the process that made the socket, which SO_PEERCRED shows the peer
        self.owner = owner
        self.shutdown_state = 0
        self.inbox: deque[Message] = deque()
        self.inbox_size = 0
        self.rcvbuf = DEFAULT_BUFFER
        self.sndbuf = DEFAULT_BUFFER
        self.pass_credentials = False
        #: socket options that are stored and reported but change nothing for AF_UNIX
        self.plain_options: dict[int, int] = {}
        self.pending_error = 0
        self.data_queue = WaitQueue()
        self.room_queue = WaitQueue()
        #: notified when the connection's state changes (shutdown, close, an error)
        self.state_queue = WaitQueue()
        self._released = False
        #: the bound address as getsockname shows its sun_path (None: unnamed)
        self.address: bytes | None = None
        #: where the namespace keeps this socket: ("abstract", name) or ("inode", key)
        self._bound_at: tuple[str, object] | None = None
        self._namespace: UnixNamespace | None = None
        self.listening = False
        self.backlog_limit = 0
        #: server ends of connections waiting for accept
        self.pending: deque[UnixSocket] = deque()

    @property
    def connection_oriented(self) -> bool:
        return self.kind != SOCK_DGRAM

    def describe(self) -> bytes:
        return b"socket:[%d]" % self.ino

    def stat(self) -> Stat:
        return Stat(_SOCKET_DEV, self.ino, S_IFSOCK | 0o777, 1, self.owner[1], self.owner[2], 0, 0, 4096, 0,
                    0, 0, 0)

    # --- pairing --------------------------------------------------------------------------------

    @staticmethod
    def pair(kind: int, flags: int, first_ino: int, owner: tuple[int, int, int]) -> tuple[UnixSocket, UnixSocket]:
        one = UnixSocket(kind, flags, first_ino, owner)
        other = UnixSocket(kind, flags, first_ino + 1, owner)
        one.peer, other.peer = other, one
        return one, other

    # --- sending --------------------------------------------------------------------------------

    def room(self) -> int:
        """Bytes this socket's receive queue can still take."""
        return max(self.rcvbuf - self.inbox_size, 0)

    def send(self, task: Task | None, data: bytes, files: list[File], *, nonblocking: bool,
             nosignal: bool, credentials: tuple[int, int, int] | None = None,
             target: UnixSocket | None = None) -> int:
        """Queue `data` (with `files`, whose references pass to the message) at the peer,
        sent as `credentials` (pid, uid, gid; by default the sender's own). Returns the
        bytes taken; on error or Block the files are left to the caller."""
        if self.shutdown_state & SEND_SHUTDOWN:
            self._broken(task, nosignal)
        peer = self.peer if target is None else target
        if peer is None:
            raise LinuxError(Errno.ENOTCONN)
        if target is not None and target.peer is not None and target.peer is not self:
            # a datagram socket connected elsewhere takes messages from its peer only
            raise LinuxError(Errno.EPERM)
        if peer._released:
            if self.kind == SOCK_DGRAM:
                # the datagram peer is gone: the first send says so and forgets it
                self.peer = None
                raise LinuxError(Errno.ECONNREFUSED)
            self._broken(task, nosignal)
        sender = credentials if credentials is not None else _sender(task)
        if self.kind == SOCK_STREAM:
            if not data:
                # a stream carries files only with bytes: an empty send passes none
                for file in files:
                    drop_reference(file)
                return 0
            free = peer.room()
            if free == 0:
                self._wait_for_room(peer, nonblocking)
            taken = data[:free]
            peer._deliver(Message(taken, files, sender, self.address, self._counting(task, files)))
            return len(taken)
        if len(data) > self.sndbuf - 32:
            raise LinuxError(Errno.EMSGSIZE)
        # a message larger than the receiver's room still goes into an empty queue, so
        # that any message the sender's buffer allows can be delivered
        if peer.inbox and len(data) > peer.room():
            self._wait_for_room(peer, nonblocking)
        peer._deliver(Message(data, files, sender, self.address, self._counting(task, files)))
        return len(data)

    @staticmethod
    def _counting(task: Task | None, files: list[File]) -> UnixNamespace | None:
        """The namespace that counts `files` in flight; ETOOMANYREFS when the sender's
        RLIMIT_NOFILE would be passed, as in Linux (which exempts privileged senders;
        the sandbox does not, so no one can pin files in socket queues without bound)."""
        if not files or task is None:
            return None
        namespace = namespace_of(task.kernel)
        if namespace.in_flight + len(files) > task.process.rlimits[RLIMIT_NOFILE][0]:
            raise LinuxError(Errno.ETOOMANYREFS)
        return namespace

    def _wait_for_room(self, peer: UnixSocket, nonblocking: bool) -> None:
        if nonblocking:
            raise LinuxError(Errno.EAGAIN)
        raise Block((peer.room_queue,))

    def _broken(self, task: Task | None, nosignal: bool) -> None:
        if not nosignal and task is not None:
            task.kernel.send_signal_to_task(task, SIGPIPE)
        raise LinuxError(Errno.EPIPE)

    def _deliver(self, message: Message) -> None:
        self.inbox.append(message)
        self.inbox_size += len(message.data)
        self.data_queue.notify_all()

    # --- receiving -------------------------------------------------------------------------------

    def receive(self, task: Task | None, length: int, *, nonblocking: bool, peek: bool, waitall: bool) -> Received:
        """Take up to `length` bytes: a stream reads across messages (stopping before
        one that carries files, so files arrive with the bytes sent with them); a
        datagram or packet socket takes one message, dropping what does not fit."""
        if not self.inbox:
            if self.pending_error:
                error, self.pending_error = self.pending_error, 0
                raise LinuxError(error)
            if self.shutdown_state & RCV_SHUTDOWN:
                return Received(b"", 0, [], None)
            if self.connection_oriented and self.peer is None:
                # Linux: a stream socket that is not connected cannot be read at all
                raise LinuxError(self.UNCONNECTED_READ_ERRNO if self.kind == SOCK_STREAM else Errno.ENOTCONN)
            if nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((self.data_queue, self.state_queue))
        if self.kind != SOCK_STREAM:
            message = self.inbox[0]
            data = bytes(message.data[:length])
            if peek:
                return Received(data, len(message.data), [], message.sender, message.source)
            self.inbox.popleft()
            self.inbox_size -= len(message.data)
            self.room_queue.notify_all()
            return Received(data, len(message.data), message.take_files(), message.sender, message.source)
        if (waitall and not nonblocking and not peek and self.inbox_size < length and self.room()
                and not self.shutdown_state & RCV_SHUTDOWN and self.peer is not None and not self.peer._released):
            # MSG_WAITALL: wait for the whole amount while more can still come
            raise Block((self.data_queue, self.state_queue))
        return self._take_stream(length, peek)

    def _take_stream(self, length: int, peek: bool) -> Received:
        out = bytearray()
        files: list[File] = []
        sender = self.inbox[0].sender
        source = self.inbox[0].source
        index = 0
        while index < len(self.inbox) and len(out) < length:
            message = self.inbox[index]
            if out and message.files:
                break
            want = length - len(out)
            piece = message.data[:want]
            out += piece
            if message.files and not peek:
                files = message.take_files()
            if peek:
                index += 1
                continue
            if len(piece) == len(message.data):
                self.inbox.popleft()
            else:
                del message.data[:want]
            self.inbox_size -= len(piece)
            if files:
                break
        if not peek:
            self.room_queue.notify_all()
        return Received(bytes(out), len(out), files, sender, source)

    # --- file operations ------------------------------------------------------------------------

    def read(self, task, length: int) -> bytes:
        received = self.receive(task, length, nonblocking=self.nonblocking, peek=False, waitall=False)
        for file in received.files:
            drop_reference(file)
        return received.data

    def write(self, task, data: bytes) -> int:
        return self.send(task, data, [], nonblocking=self.nonblocking, nosignal=False)

    def write_room(self) -> int | None:
        peer = self.peer
        if self.kind != SOCK_STREAM or peer is None or peer._released or self.shutdown_state & SEND_SHUTDOWN:
            return None  # a message, or a send that fails: send() says what happens
        return peer.room()

    def shutdown(self, how_bits: int) -> None:
        # Linux records a shutdown even on a socket that is not connected
        self.shutdown_state |= how_bits
        self.state_queue.notify_all()
        self.room_queue.notify_all()
        peer = self.peer
        if peer is not None and self.connection_oriented and not peer._released:
            mirrored = (RCV_SHUTDOWN if how_bits & SEND_SHUTDOWN else 0) | (SEND_SHUTDOWN if how_bits & RCV_SHUTDOWN else 0)
            peer.shutdown_state |= mirrored
            peer.state_queue.notify_all()
            peer.room_queue.notify_all()

    # --- readiness --------------------------------------------------------------------------------

    def poll(self) -> int:
        if self.listening:
            return POLLIN | POLLRDNORM if self.pending else 0
        events = 0
        if self.shutdown_state == SHUTDOWN_MASK:
            events |= POLLHUP
        if self.shutdown_state & RCV_SHUTDOWN:
            events |= POLLRDHUP | POLLIN | POLLRDNORM
        if self.inbox:
            events |= POLLIN | POLLRDNORM
        if self.connection_oriented and self.peer is None:
            events |= POLLHUP
        if self.pending_error:
            events |= POLLERR
        if self._writable():
            events |= POLLOUT | POLLWRNORM | POLLWRBAND
        return events

    def _writable(self) -> bool:
        peer = self.peer
        if self.connection_oriented:
            if self.shutdown_state & SEND_SHUTDOWN or peer is None or peer._released:
                # a send would not wait (it fails at once), so Linux reports it writable
                return True
            return peer.room() > 0
        if peer is None or peer._released:
            return True
        return peer.room() > 0

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        queues: tuple[WaitQueue, ...] = (self.data_queue, self.state_queue)
        if self.peer is not None:
            queues += (self.peer.room_queue,)
        return queues

    def keyed_wait_queues(self, task) -> tuple[tuple[WaitQueue, int], ...]:
        # as Linux's wake-up keys: data arriving is no new EPOLLOUT edge, nor room at the
        # peer a new EPOLLIN edge; a change of state may mean anything
        keyed: tuple[tuple[WaitQueue, int], ...] = ((self.data_queue, POLLIN | POLLRDNORM),
                                                        (self.state_queue, ANY_EVENT))
        if self.peer is not None:
            keyed += ((self.peer.room_queue, POLLOUT | POLLWRNORM | POLLWRBAND),)
        return keyed

    # --- control ------------------------------------------------------------------------------------

    def ioctl(self, task, request: int, arg: int) -> int:
        if request == SIOCINQ:
            if self.listening:
                raise LinuxError(Errno.EINVAL)
            # a stream counts every unread byte, a datagram socket the next message only
            waiting = self.inbox_size if self.kind == SOCK_STREAM else len(self.inbox[0].data) if self.inbox else 0
            task.mm.write(arg, structs.I32.pack(min(waiting, 0x7FFFFFFF)))
            return 0
        raise LinuxError(Errno.ENOTTY)

    # --- options ------------------------------------------------------------------------------------

    def set_buffer(self, send: bool, requested: int) -> None:
        value = min(max(requested, 0), MAX_BUFFER_REQUEST) * 2
        if send:
            self.sndbuf = max(value, MIN_SNDBUF)
        else:
            self.rcvbuf = max(value, MIN_RCVBUF)
            self.room_queue.notify_all()

    def peer_credentials(self) -> tuple[int, int, int]:
        if self.peer is None:
            # Linux reports "nobody" (pid 0, the overflow ids) for an unconnected socket
            return (0, 65534, 65534)
        return self.peer.owner

    # --- addresses ----------------------------------------------------------------------------------

    def bind(self, task: Task, path: bytes | None) -> None:
        """Bind to `path` (sun_path bytes: a filesystem path, an abstract name starting
        with NUL, or None for an autobound abstract name)."""
        namespace = namespace_of(task.kernel)
        if self.address is not None:
            if path is None:
                return  # Linux's autobind leaves a bound socket as it is
            raise LinuxError(Errno.EINVAL)
        if path is None:
            path = namespace.autobind_name()
        if path[0] == 0:
            if path in namespace.abstract:
                raise LinuxError(Errno.EADDRINUSE)
            namespace.abstract[path] = self
            self._bound_at = ("abstract", path)
            self.address = path
        else:
            name = path.split(b"\0", 1)[0]
            fs = task.process.fs
            vfs = task.kernel.vfs
            start = fs.root if name.startswith(b"/") else fs.cwd
            try:
                vfs.mknod(fs, task.cred, start, name, S_IFSOCK | 0o777, 0)
            except LinuxError as error:
                if error.errno == Errno.EEXIST:
                    raise LinuxError(Errno.EADDRINUSE) from None
                raise
            key = vfs.resolve(fs, task.cred, start, name, follow=False).inode.key
            namespace.by_inode[key] = self
            self._bound_at = ("inode", key)
            self.address = name + b"\0"
        self._namespace = namespace

    def _unbind(self) -> None:
        namespace, bound_at = self._namespace, self._bound_at
        if namespace is None or bound_at is None:
            return
        table = namespace.abstract if bound_at[0] == "abstract" else namespace.by_inode
        if table.get(bound_at[1]) is self:  # type: ignore[call-overload]
            del table[bound_at[1]]  # type: ignore[arg-type]
        self._bound_at = None

    @staticmethod
    def find(task: Task, path: bytes) -> UnixSocket:
        """The socket bound at `path` (ENOENT and other lookup errors for a missing path,
        EACCES without write permission, ECONNREFUSED when no socket is bound there)."""
        namespace = namespace_of(task.kernel)
        if path[0] == 0:
            found = namespace.abstract.get(path)
        else:
            name = path.split(b"\0", 1)[0]
            fs = task.process.fs
            vfs = task.kernel.vfs
            start = fs.root if name.startswith(b"/") else fs.cwd
            inode = vfs.resolve(fs, task.cred, start, name).inode
            vfs.check_access(task.cred, inode, _MAY_WRITE)
            if inode.mode & 0o170000 != S_IFSOCK:
                raise LinuxError(Errno.ECONNREFUSED)
            found = namespace.by_inode.get(inode.key)
        if found is None or found._released:
            raise LinuxError(Errno.ECONNREFUSED)
        return found

    def listen(self, backlog: int) -> None:
        if self.kind == SOCK_DGRAM:
            raise LinuxError(Errno.EOPNOTSUPP)
        if self.address is None or self.peer is not None:
            raise LinuxError(Errno.EINVAL)
        if backlog < 0 or backlog > SOMAXCONN:
            backlog = SOMAXCONN
        grew = backlog > self.backlog_limit
        self.backlog_limit = backlog
        self.listening = True
        if grew:
            self.room_queue.notify_all()

    def connect(self, task: Task, target: UnixSocket, nonblocking: bool) -> None:
        """Connect to `target`: for a datagram socket, only name it as the peer; for the
        others, queue a new server end at the listener."""
        if target.kind != self.kind:
            raise LinuxError(Errno.EPROTOTYPE)
        if self.kind == SOCK_DGRAM:
            self.peer = target
            self.state_queue.notify_all()
            return
        if self.listening:
            raise LinuxError(Errno.EINVAL)
        if self.peer is not None:
            raise LinuxError(Errno.EISCONN)
        if not target.listening:
            raise LinuxError(Errno.ECONNREFUSED)
        if len(target.pending) > target.backlog_limit:
            if nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((target.room_queue,))
        server_end = self.new_server_end(task, target)
        # the client's credentials at connect are what the server end reports for it
        self.owner = owner_of(task)
        server_end.peer, self.peer = self, server_end
        target.pending.append(server_end)
        target.data_queue.notify_all()
        # watchers of this socket now have a peer whose room to listen to
        self.state_queue.notify_all()

    def new_server_end(self, task: Task, listener: UnixSocket) -> UnixSocket:
        """The socket accept(2) will hand out for a connection from this one to `listener`."""
        server_end = UnixSocket(self.kind, 0, task.kernel.next_id() + 0x100000, listener.owner)
        server_end.address = listener.address
        return server_end

    def disconnect(self) -> None:
        """connect(AF_UNSPEC) on a datagram socket: forget the peer."""
        if self.kind == SOCK_DGRAM:
            self.peer = None

    def accept(self, nonblocking: bool) -> UnixSocket:
        if self.kind == SOCK_DGRAM:
            raise LinuxError(Errno.EOPNOTSUPP)
        if not self.listening:
            raise LinuxError(Errno.EINVAL)
        if not self.pending:
            if nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((self.data_queue, self.state_queue))
        server_end = self.pending.popleft()
        self.room_queue.notify_all()
        return server_end

    # --- the end -------------------------------------------------------------------------------------

    def release(self) -> None:
        self._close(reset=False)

    def _close(self, reset: bool) -> None:
        """Let go of the socket; `reset`: its peer learns of it as ECONNRESET even with
        no data unread (a connection its listener closed before accepting it)."""
        if self._released:
            return
        self._released = True
        self._unbind()
        while self.pending:
            self.pending.popleft()._close(reset=True)
        peer = self.peer
        if peer is not None and self.connection_oriented and (self.inbox or reset):
            # data the peer sent was never read: the peer learns of it as a reset
            peer.pending_error = Errno.ECONNRESET
        while self.inbox:
            self.inbox.popleft().discard()
        self.inbox_size = 0
        if peer is not None:
            if self.connection_oriented:
                peer.shutdown_state = SHUTDOWN_MASK
            peer.state_queue.notify_all()
            peer.room_queue.notify_all()
        self.state_queue.notify_all()
        self.room_queue.notify_all()


def _identity(task: Task | None) -> tuple[int, int, int]:
    if task is None:
        return (0, 0, 0)
    cred = task.cred
    return (task.pid, cred.euid, cred.egid)


def _sender(task: Task | None) -> tuple[int, int, int]:
    """(pid, uid, gid) a message carries by default: the real ids, as Linux's SCM_CREDENTIALS."""
    if task is None:
        return (0, 0, 0)
    return (task.pid, task.cred.uid, task.cred.gid)


def owner_of(task: Task) -> tuple[int, int, int]:
    """(pid, uid, gid) SO_PEERCRED reports: the creator's pid and effective ids."""
    return _identity(task)
