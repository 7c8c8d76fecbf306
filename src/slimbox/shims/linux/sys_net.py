"""Socket syscalls (the beginning: AF_UNIX creation and connect)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_CLOEXEC, O_NONBLOCK
from slimbox.kernel.net.unix import SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, UnixSocket

if TYPE_CHECKING:
    from slimbox.kernel.task import Task

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_NONBLOCK, SOCK_CLOEXEC = O_NONBLOCK, O_CLOEXEC
_SOCKADDR_UN_PATH = 108


def socket(task: Task, domain: int, type_: int, protocol: int) -> int:
    kind = type_ & 0xF
    if type_ & ~(0xF | SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise LinuxError(Errno.EINVAL)
    if domain != AF_UNIX:
        raise LinuxError(Errno.EAFNOSUPPORT)
    if kind not in (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET):
        raise LinuxError(Errno.ESOCKTNOSUPPORT)
    if protocol not in (0, AF_UNIX):
        raise LinuxError(Errno.EPROTONOSUPPORT)
    sock = UnixSocket(kind, type_ & SOCK_NONBLOCK, task.kernel.next_id() + 0x100000)
    return task.fds.install(sock, cloexec=bool(type_ & SOCK_CLOEXEC))


def connect(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    sock = task.fds.get(sockfd)
    if not isinstance(sock, UnixSocket):
        raise LinuxError(Errno.ENOTSOCK)
    if addrlen < 2 or addrlen > 2 + _SOCKADDR_UN_PATH:
        raise LinuxError(Errno.EINVAL)
    raw = task.mm.read(addr, addrlen)
    family = int.from_bytes(raw[:2], "little")
    if family != AF_UNIX:
        raise LinuxError(Errno.EAFNOSUPPORT if family else Errno.EINVAL)
    path = raw[2:]
    if not path:
        raise LinuxError(Errno.EINVAL)
    if path[0] == 0:
        sock.connect_abstract(task, path[1:])
    else:
        sock.connect_path(task, path.split(b"\0", 1)[0])
    return 0
