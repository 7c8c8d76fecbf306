"""Socket syscalls: AF_UNIX sockets, decoded here and served by kernel/net/unix.py, and
loopback TCP and UDP, whose addresses and options sys_inet.py decodes (kernel/net/inet.py)."""

from __future__ import annotations

import struct

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fd import drop_reference
from slimbox.kernel.file import MAX_RW, O_CLOEXEC, O_NONBLOCK, File
from slimbox.kernel.net.inet import InetSocket
from slimbox.kernel.net.unix import (
    RCV_SHUTDOWN, SCM_MAX_FD, SEND_SHUTDOWN, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, UnixSocket, owner_of,
)
from slimbox.shims.linux import sys_inet
from slimbox.shims.linux.common import install_pair
from slimbox.shims.linux.sys_file import _check_out_vectors, _gather, _scatter

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 0, 1, 2, 10, 16
SOCK_NONBLOCK, SOCK_CLOEXEC = O_NONBLOCK, O_CLOEXEC
_SOCKADDR_UN_PATH = 108
#: the longest address any family takes (struct sockaddr_storage)
_SOCKADDR_STORAGE = 128
SOCK_RAW = 3
#: socket types at or above this are invalid in any family
_SOCK_MAX = 11

MSG_OOB, MSG_PEEK, MSG_CTRUNC, MSG_TRUNC, MSG_DONTWAIT = 0x1, 0x2, 0x8, 0x20, 0x40
MSG_WAITALL, MSG_NOSIGNAL, MSG_CMSG_CLOEXEC = 0x100, 0x4000, 0x40000000

SOL_SOCKET = 1
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
SO_DEBUG, SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_DONTROUTE, SO_BROADCAST = 1, 2, 3, 4, 5, 6
SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_OOBINLINE = 7, 8, 9, 10
SO_PASSCRED, SO_PEERCRED, SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN = 16, 17, 30, 38, 39
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
#: options AF_UNIX stores and reports back but that change nothing for it
_PLAIN_OPTIONS = (SO_DEBUG, SO_REUSEADDR, SO_DONTROUTE, SO_BROADCAST, SO_KEEPALIVE, SO_OOBINLINE)

#: struct msghdr: name, namelen, iov, iovlen, control, controllen, flags
_MSGHDR = struct.Struct("<QI4xQQQQi4x")
_MSGHDR_CONTROLLEN_OFFSET = 40
_MSGHDR_FLAGS_OFFSET = 48
_MSGHDR_NAMELEN_OFFSET = 8
#: struct cmsghdr: len, level, type
_CMSGHDR = struct.Struct("<Qii")
_UCRED = struct.Struct("<iII")
_UIO_MAXIOV = 1024
_INT_MAX = 0x7FFFFFFF
#: net.core.optmem_max: the largest sendmsg control buffer
_OPTMEM_MAX = 20480


def _cmsg_align(length: int) -> int:
    return (length + 7) & ~7


def _socket_of(task: Task, fd: int) -> UnixSocket:
    file = task.fds.get(fd)
    if not isinstance(file, UnixSocket):
        raise LinuxError(Errno.ENOTSOCK)
    return file


def _check_type(type_: int) -> int:
    if type_ & ~(0xF | SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise LinuxError(Errno.EINVAL)
    return type_ & 0xF


def _unix_kind(domain: int, type_: int, protocol: int) -> int:
    """The AF_UNIX socket type a socket/socketpair call asks for, checked in Linux's order."""
    kind = _check_type(type_)
    if kind >= _SOCK_MAX:
        raise LinuxError(Errno.EINVAL)
    if domain != AF_UNIX:
        raise LinuxError(Errno.EAFNOSUPPORT)
    if protocol not in (0, AF_UNIX):
        raise LinuxError(Errno.EPROTONOSUPPORT)
    if kind == SOCK_RAW:
        return SOCK_DGRAM   # Linux makes an AF_UNIX SOCK_RAW socket a datagram socket
    if kind not in (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET):
        raise LinuxError(Errno.ESOCKTNOSUPPORT)
    return kind


def socket(task: Task, domain: int, type_: int, protocol: int) -> int:
    if domain in (AF_INET, AF_INET6):
        kind = _check_type(type_)
        if kind >= _SOCK_MAX:
            raise LinuxError(Errno.EINVAL)
        inet = sys_inet.socket(task, domain, kind, protocol, type_ & SOCK_NONBLOCK)
        return task.fds.install(inet, cloexec=bool(type_ & SOCK_CLOEXEC))
    kind = _unix_kind(domain, type_, protocol)
    sock = UnixSocket(kind, type_ & SOCK_NONBLOCK, task.kernel.next_id() + 0x100000, owner_of(task))
    return task.fds.install(sock, cloexec=bool(type_ & SOCK_CLOEXEC))


def socketpair(task: Task, domain: int, type_: int, protocol: int, sv: int) -> int:
    if domain in (AF_INET, AF_INET6):
        # TCP and UDP have no pairs (Linux: EOPNOTSUPP from inet's socketpair operation)
        raise LinuxError(Errno.EOPNOTSUPP)
    kind = _unix_kind(domain, type_, protocol)
    first_ino = task.kernel.next_id() + 0x100000
    task.kernel.next_id()
    one, other = UnixSocket.pair(kind, type_ & SOCK_NONBLOCK, first_ino, owner_of(task))
    return install_pair(task, one, other, bool(type_ & SOCK_CLOEXEC), sv)


def _read_sockaddr(task: Task, addr: int, addrlen: int) -> bytes:
    """The raw bytes of a socket address the caller passes (EINVAL for a length no
    address has, EFAULT for a bad pointer)."""
    if addrlen < 0 or addrlen > _SOCKADDR_STORAGE:
        raise LinuxError(Errno.EINVAL)
    return task.mm.read(addr, addrlen) if addrlen else b""


def _unix_path(raw: bytes) -> bytes:
    """The sun_path bytes of an AF_UNIX address: a filesystem path or, starting with a
    NUL, an abstract name (EINVAL for a bad length or family)."""
    if len(raw) <= 2 or len(raw) > 2 + _SOCKADDR_UN_PATH:
        raise LinuxError(Errno.EINVAL)
    if int.from_bytes(raw[:2], "little") != AF_UNIX:
        raise LinuxError(Errno.EINVAL)
    return raw[2:]


def _pack_unix_address(path: bytes | None) -> bytes:
    """A sockaddr_un as getsockname and friends return it: the family alone for an
    unnamed socket."""
    return AF_UNIX.to_bytes(2, "little") + (path or b"")


def _write_address(task: Task, addr: int, addrlen: int, packed: bytes) -> None:
    """Copy an address out as Linux does: as much as the caller's length allows, and
    the full length back in *addrlen."""
    length = int.from_bytes(task.mm.read(addrlen, 4), "little", signed=True)
    if length < 0:
        raise LinuxError(Errno.EINVAL)
    if length and packed:
        task.mm.write(addr, packed[:length])
    task.mm.write(addrlen, structs.I32.pack(len(packed)))


def bind(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    sock = _socket_of(task, sockfd)
    raw = _read_sockaddr(task, addr, addrlen)
    if isinstance(sock, InetSocket):
        sock.bind_inet(task, *sys_inet.parse_address(sock, raw, for_bind=True))
        return 0
    if len(raw) == 2 and int.from_bytes(raw, "little") == AF_UNIX:
        sock.bind(task, None)   # only the family: autobind an abstract name
        return 0
    sock.bind(task, _unix_path(raw))
    return 0


def listen(task: Task, sockfd: int, backlog: int) -> int:
    sock = _socket_of(task, sockfd)
    backlog &= 0xFFFFFFFF
    backlog = backlog - (1 << 32) if backlog >> 31 else backlog
    if isinstance(sock, InetSocket):
        sock.listen_inet(task, backlog)
        return 0
    sock.listen(backlog)
    return 0


def connect(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    sock = _socket_of(task, sockfd)
    raw = _read_sockaddr(task, addr, addrlen)
    if sock.kind == SOCK_DGRAM and len(raw) >= 2 and int.from_bytes(raw[:2], "little") == AF_UNSPEC:
        sock.disconnect()
        return 0
    if isinstance(sock, InetSocket):
        sock.connect_inet(task, *sys_inet.parse_address(sock, raw, for_bind=False))
        return 0
    path = _unix_path(raw)
    if sock.connection_oriented and sock.peer is not None:
        raise LinuxError(Errno.EISCONN)
    sock.connect(task, UnixSocket.find(task, path), sock.nonblocking)
    return 0


def accept4(task: Task, sockfd: int, addr: int, addrlen: int, flags: int) -> int:
    sock = _socket_of(task, sockfd)
    if flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise LinuxError(Errno.EINVAL)
    if addr:
        length = int.from_bytes(task.mm.read(addrlen, 4), "little", signed=True)
        if length < 0:
            raise LinuxError(Errno.EINVAL)
        if length:
            task.mm.check(addr, min(length, _address_room(sock)), 2)
    if task.fds.count() >= task.fds.limit:
        raise LinuxError(Errno.EMFILE)
    server_end = sock.accept(sock.nonblocking)
    server_end.flags |= flags & SOCK_NONBLOCK
    fd = task.fds.install(server_end, cloexec=bool(flags & SOCK_CLOEXEC))
    if addr:
        _write_address(task, addr, addrlen, _peer_address(server_end))
    return fd


def _address_room(sock: UnixSocket) -> int:
    """The most bytes an address of `sock`'s family takes."""
    return sys_inet.address_room(sock) if isinstance(sock, InetSocket) else 2 + _SOCKADDR_UN_PATH


def _peer_address(sock: UnixSocket) -> bytes:
    """The packed address of `sock`'s peer (ENOTCONN for an inet socket without one)."""
    if isinstance(sock, InetSocket):
        address = sock.peer_address()
        if address is None:
            raise LinuxError(Errno.ENOTCONN)
        return sys_inet.pack_address(sock.family, address)
    peer = sock.peer
    return _pack_unix_address(peer.address if peer is not None else None)


def accept(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    return accept4(task, sockfd, addr, addrlen, 0)


# --- sending -------------------------------------------------------------------------------------


def _parse_control(task: Task, sock: UnixSocket, control: bytes) -> tuple[list[File], tuple[int, int, int] | None]:
    """The files of SCM_RIGHTS messages (each referenced once more) and the credentials
    of an SCM_CREDENTIALS message in a sendmsg control buffer."""
    files: list[File] = []
    credentials = None
    offset = 0
    try:
        while offset + _CMSGHDR.size <= len(control):
            length, level, kind = _CMSGHDR.unpack_from(control, offset)
            if length < _CMSGHDR.size or length > len(control) - offset:
                raise LinuxError(Errno.EINVAL)
            payload = control[offset + _CMSGHDR.size:offset + length]
            offset += _cmsg_align(length)
            if level != SOL_SOCKET:
                continue
            if kind == SCM_RIGHTS:
                count = len(payload) // 4
                if len(files) + count > SCM_MAX_FD:
                    raise LinuxError(Errno.EINVAL)
                for index in range(count):
                    fd = int.from_bytes(payload[index * 4:index * 4 + 4], "little", signed=True)
                    file = task.fds.get(fd)
                    file.refs += 1
                    files.append(file)
            elif kind == SCM_CREDENTIALS:
                if length != _CMSGHDR.size + _UCRED.size:
                    raise LinuxError(Errno.EINVAL)
                credentials = _checked_credentials(task, *_UCRED.unpack(payload))
            else:
                raise LinuxError(Errno.EINVAL)
    except LinuxError:
        for file in files:
            drop_reference(file)
        raise
    return files, credentials


def _checked_credentials(task: Task, pid: int, uid: int, gid: int) -> tuple[int, int, int]:
    """SCM_CREDENTIALS a sender may claim: its own pid and one of its own ids (root may
    claim any ids)."""
    cred = task.cred
    if pid != task.pid:
        raise LinuxError(Errno.EPERM)
    if cred.euid != 0 and (uid not in (cred.uid, cred.euid, cred.suid) or gid not in (cred.gid, cred.egid, cred.sgid)):
        raise LinuxError(Errno.EPERM)
    return (pid, uid, gid)


def _send(task: Task, sock: UnixSocket, data: bytes, flags: int, files: list[File],
          credentials: tuple[int, int, int] | None, addressed: bytes | None) -> int:
    """Send on `sock`, to the raw address `addressed` if given (a datagram socket only)."""
    if flags & MSG_OOB:
        for file in files:
            drop_reference(file)
        raise LinuxError(Errno.EOPNOTSUPP)
    if isinstance(sock, InetSocket):
        return _send_inet(task, sock, data, flags, files, credentials, addressed)
    try:
        target = None
        if addressed:
            if sock.kind == SOCK_STREAM:
                raise LinuxError(Errno.EISCONN if sock.peer is not None else Errno.EOPNOTSUPP)
            if sock.kind == SOCK_SEQPACKET:
                # seqpacket ignores the address, and needs a connection
                if sock.peer is None:
                    raise LinuxError(Errno.ENOTCONN)
            else:
                target = UnixSocket.find(task, _unix_path(addressed))
                if target.kind != sock.kind:
                    raise LinuxError(Errno.EPROTOTYPE)
        sent = sock.send(task, data, files, nonblocking=sock.nonblocking or bool(flags & MSG_DONTWAIT),
                         nosignal=bool(flags & MSG_NOSIGNAL), credentials=credentials, target=target)
    except BaseException:
        for file in files:
            drop_reference(file)
        raise
    return sent


def _send_inet(task: Task, sock: InetSocket, data: bytes, flags: int, files: list[File],
               credentials: tuple[int, int, int] | None, addressed: bytes | None) -> int:
    """Send on a TCP or UDP socket: SCM_RIGHTS and SCM_CREDENTIALS belong to AF_UNIX, so
    they are EINVAL here, as in Linux."""
    for file in files:
        drop_reference(file)
    if files or credentials is not None:
        raise LinuxError(Errno.EINVAL)
    nosignal = bool(flags & MSG_NOSIGNAL)
    if sock.kind == SOCK_DGRAM:
        target = sys_inet.parse_address(sock, addressed, for_bind=False) if addressed else None
        return sock.send_datagram(task, data, target, nosignal=nosignal)
    # TCP ignores a destination address, connected or not, as Linux does
    if sock.peer is None:
        # Linux: TCP that never connected is a broken pipe to a writer (SIGPIPE too)
        sock._broken(task, nosignal)
    return sock.send(task, data, [], nonblocking=sock.nonblocking or bool(flags & MSG_DONTWAIT), nosignal=nosignal)


def sendto(task: Task, sockfd: int, buf: int, length: int, flags: int, dest_addr: int, addrlen: int) -> int:
    sock = _socket_of(task, sockfd)
    addressed = _read_sockaddr(task, dest_addr, addrlen) if dest_addr else None
    length = min(length, MAX_RW)
    data = task.mm.read(buf, length) if length else b""
    return _send(task, sock, data, flags & 0xFFFFFFFF, [], None, addressed)


def _read_msghdr(task: Task, msg: int) -> tuple[int, int, int, int, int, int, int]:
    return _MSGHDR.unpack(task.mm.read(msg, _MSGHDR.size))


def _vectors(task: Task, iov: int, iovlen: int) -> list[tuple[int, int]]:
    if iovlen > _UIO_MAXIOV:
        raise LinuxError(Errno.EMSGSIZE)
    raw = task.mm.read(iov, iovlen * structs.IOVEC.size) if iovlen else b""
    vectors = []
    total = 0
    for index in range(iovlen):
        base, length = structs.IOVEC.unpack_from(raw, index * structs.IOVEC.size)
        if length > _INT_MAX:
            raise LinuxError(Errno.EINVAL)
        total += length
        vectors.append((base, length))
    if total > _INT_MAX:
        raise LinuxError(Errno.EINVAL)
    return vectors


def sendmsg(task: Task, sockfd: int, msg: int, flags: int) -> int:
    sock = _socket_of(task, sockfd)
    name, namelen, iov, iovlen, control, controllen, _ = _read_msghdr(task, msg)
    addressed = _read_sockaddr(task, name, namelen) if name else None
    data = _gather(task, _vectors(task, iov, iovlen))
    if controllen > _OPTMEM_MAX:
        # Linux cannot allocate a control buffer past net.core.optmem_max
        raise LinuxError(Errno.ENOBUFS)
    files: list[File] = []
    credentials = None
    if controllen >= _CMSGHDR.size:
        files, credentials = _parse_control(task, sock, task.mm.read(control, controllen))
    return _send(task, sock, data, flags & 0xFFFFFFFF, files, credentials, addressed)


# --- receiving -----------------------------------------------------------------------------------


def _receive_flags(sock: UnixSocket, flags: int) -> None:
    if flags & MSG_OOB:
        raise LinuxError(Errno.EOPNOTSUPP if sock.kind != SOCK_STREAM else Errno.EINVAL)


def _receive(task: Task, sock: UnixSocket, length: int, flags: int):
    return sock.receive(task, length, nonblocking=sock.nonblocking or bool(flags & MSG_DONTWAIT),
                        peek=bool(flags & MSG_PEEK), waitall=bool(flags & MSG_WAITALL))


def _result_length(sock: UnixSocket, received, flags: int) -> int:
    if flags & MSG_TRUNC and sock.kind != SOCK_STREAM:
        return received.full_length
    return len(received.data)


def recvfrom(task: Task, sockfd: int, buf: int, length: int, flags: int, src_addr: int, addrlen: int) -> int:
    sock = _socket_of(task, sockfd)
    flags &= 0xFFFFFFFF
    _receive_flags(sock, flags)
    length = min(length, MAX_RW)
    if length:
        task.mm.check(buf, length, 2)
    if src_addr:
        task.mm.check(addrlen, 4, 3)
        if int.from_bytes(task.mm.read(addrlen, 4), "little", signed=True) < 0:
            raise LinuxError(Errno.EINVAL)
    received = _receive(task, sock, length, flags)
    for file in received.files:
        drop_reference(file)
    task.mm.write(buf, received.data)
    if src_addr:
        _write_address(task, src_addr, addrlen, _source_address(sock, received))
    return _result_length(sock, received, flags)


def _source_address(sock: UnixSocket, received) -> bytes:
    """The sender's address for recvfrom/recvmsg: nothing at all (length 0) when it
    had none, and for TCP, which does not report one."""
    if isinstance(sock, InetSocket):
        if sock.kind == SOCK_STREAM or received.source is None:
            return b""
        return sys_inet.pack_address(sock.family, received.source)
    return _pack_unix_address(received.source) if received.source is not None else b""


def recvmsg(task: Task, sockfd: int, msg: int, flags: int) -> int:
    sock = _socket_of(task, sockfd)
    flags &= 0xFFFFFFFF
    _receive_flags(sock, flags)
    task.mm.check(msg, _MSGHDR.size, 3)
    name, namelen, iov, iovlen, control, controllen, _ = _read_msghdr(task, msg)
    vectors = _vectors(task, iov, iovlen)
    total = _check_out_vectors(task, vectors)
    controllen = min(controllen, _INT_MAX)
    if name and namelen:
        task.mm.check(name, min(namelen, _address_room(sock)), 2)
    if control and controllen:
        task.mm.check(control, controllen, 2)
    received = _receive(task, sock, total, flags)
    _scatter(task, vectors, received.data)
    out_flags = 0
    if sock.kind != SOCK_STREAM and received.full_length > len(received.data):
        out_flags |= MSG_TRUNC
    cmsgs, ctrunc = _control_messages(task, sock, received, controllen if control else 0, flags)
    if ctrunc:
        out_flags |= MSG_CTRUNC
    if cmsgs:
        task.mm.write(control, cmsgs)
    task.mm.write(msg + _MSGHDR_CONTROLLEN_OFFSET, struct.pack("<Q", len(cmsgs)))
    task.mm.write(msg + _MSGHDR_FLAGS_OFFSET, structs.I32.pack(out_flags))
    if name:
        source = _source_address(sock, received)
        task.mm.write(name, source[:namelen])
        task.mm.write(msg + _MSGHDR_NAMELEN_OFFSET, structs.U32.pack(len(source)))
    return _result_length(sock, received, flags)


def _control_messages(task: Task, sock: UnixSocket, received, room: int, flags: int) -> tuple[bytes, bool]:
    """The control buffer recvmsg hands back (credentials, then descriptors installed in
    the receiver) and whether some of it did not fit (MSG_CTRUNC). As in Linux, a record
    that does not fit whole is cut at the end of the buffer."""
    out = bytearray()
    truncated = False
    if sock.pass_credentials and received.sender is not None:
        payload = _UCRED.pack(*received.sender)
        full = _CMSGHDR.size + len(payload)
        if room - len(out) < _CMSGHDR.size:
            truncated = True
        else:
            truncated = room - len(out) < full
            out += (_CMSGHDR.pack(full, SOL_SOCKET, SCM_CREDENTIALS) + payload + bytes(_cmsg_align(full) - full))
            del out[room:]
    files = received.files
    if files:
        left = room - len(out)
        fit = (left - _CMSGHDR.size) // 4 if left > _CMSGHDR.size else 0
        installed: list[int] = []
        for file in files[:fit]:
            try:
                installed.append(task.fds.install(file, cloexec=bool(flags & MSG_CMSG_CLOEXEC)))
            except LinuxError:
                break
        for file in files:
            drop_reference(file)
        if installed:
            full = _CMSGHDR.size + 4 * len(installed)
            out += _CMSGHDR.pack(full, SOL_SOCKET, SCM_RIGHTS)
            out += b"".join(structs.I32.pack(fd) for fd in installed)
            out += bytes(_cmsg_align(full) - full)
            del out[room:]
        if len(installed) < len(files):
            truncated = True
    return bytes(out), truncated


# --- the rest -----------------------------------------------------------------------------------


def shutdown(task: Task, sockfd: int, how: int) -> int:
    sock = _socket_of(task, sockfd)
    bits = {0: RCV_SHUTDOWN, 1: SEND_SHUTDOWN, 2: RCV_SHUTDOWN | SEND_SHUTDOWN}.get(how)
    if bits is None:
        raise LinuxError(Errno.EINVAL)
    sock.shutdown(bits)
    return 0


def _write_int_option(task: Task, optval: int, optlen: int, length: int, value: bytes) -> int:
    length = min(length, len(value))
    task.mm.write(optval, value[:length])
    task.mm.write(optlen, structs.I32.pack(length))
    return 0


def getsockopt(task: Task, sockfd: int, level: int, optname: int, optval: int, optlen: int) -> int:
    sock = _socket_of(task, sockfd)
    length = int.from_bytes(task.mm.read(optlen, 4), "little", signed=True)
    if isinstance(sock, InetSocket):
        if length < 0:
            raise LinuxError(Errno.EINVAL)
        inet_value = sys_inet.get_option(sock, level, optname)
        if inet_value is not None:
            return _write_int_option(task, optval, optlen, length, inet_value)
    if level != SOL_SOCKET:
        raise LinuxError(Errno.EOPNOTSUPP)
    if length < 0:
        raise LinuxError(Errno.EINVAL)
    if optname == SO_PEERCRED:
        return _write_int_option(task, optval, optlen, length, _UCRED.pack(*sock.peer_credentials()))
    values = {
        SO_TYPE: sock.kind, SO_DOMAIN: sock.family if isinstance(sock, InetSocket) else AF_UNIX,
        SO_PROTOCOL: sock.protocol if isinstance(sock, InetSocket) else 0, SO_ACCEPTCONN: int(sock.listening),
        SO_SNDBUF: sock.sndbuf, SO_RCVBUF: sock.rcvbuf, SO_PASSCRED: int(sock.pass_credentials),
    }
    if optname == SO_ERROR:
        value = sock.pending_error
        sock.pending_error = 0
    elif optname in values:
        value = values[optname]
    elif optname in _PLAIN_OPTIONS:
        value = sock.plain_options.get(optname, 0)
    else:
        raise LinuxError(Errno.ENOPROTOOPT)
    return _write_int_option(task, optval, optlen, length, structs.I32.pack(value))


def setsockopt(task: Task, sockfd: int, level: int, optname: int, optval: int, optlen: int) -> int:
    sock = _socket_of(task, sockfd)
    if optlen < 0 or optlen > _INT_MAX:
        raise LinuxError(Errno.EINVAL)
    if isinstance(sock, InetSocket) and (level != SOL_SOCKET or optname in sys_inet.SOCKET_LEVEL_OPTIONS):
        if optlen < 4:
            raise LinuxError(Errno.EINVAL)
        sys_inet.set_option(sock, level, optname, task.mm.read(optval, min(optlen, 8)))
        return 0
    if level != SOL_SOCKET:
        raise LinuxError(Errno.EOPNOTSUPP)
    if optname not in (SO_PASSCRED, SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE, *_PLAIN_OPTIONS):
        raise LinuxError(Errno.ENOPROTOOPT)
    if optlen < 4:
        raise LinuxError(Errno.EINVAL)
    value = int.from_bytes(task.mm.read(optval, 4), "little", signed=True)
    if optname == SO_PASSCRED:
        sock.pass_credentials = value != 0
    elif optname in (SO_SNDBUF, SO_RCVBUF):
        sock.set_buffer(optname == SO_SNDBUF, value)
    elif optname in (SO_SNDBUFFORCE, SO_RCVBUFFORCE):
        if not task.cred.euid == 0:
            raise LinuxError(Errno.EPERM)
        sock.set_buffer(optname == SO_SNDBUFFORCE, value)
    else:
        sock.plain_options[optname] = int(value != 0)
    return 0


def getsockname(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    sock = _socket_of(task, sockfd)
    if isinstance(sock, InetSocket):
        _write_address(task, addr, addrlen, sys_inet.pack_address(sock.family, sock.address))
        return 0
    _write_address(task, addr, addrlen, _pack_unix_address(sock.address))
    return 0


def getpeername(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    sock = _socket_of(task, sockfd)
    if isinstance(sock, InetSocket):
        _write_address(task, addr, addrlen, _peer_address(sock))
        return 0
    if sock.peer is None:
        raise LinuxError(Errno.ENOTCONN)
    _write_address(task, addr, addrlen, _pack_unix_address(sock.peer.address))
    return 0
