"""AF_UNIX sockets (the beginning): creation, and connecting to a path where no one
listens yet. Listening, socketpair and data transfer come with the network issue."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_RDWR, File
from slimbox.kernel.fs.inode import S_IFSOCK, Stat

SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET = 1, 2, 5
_SOCKET_DEV = 0x0E


class UnixSocket(File):
    def __init__(self, kind: int, flags: int, ino: int) -> None:
        super().__init__(O_RDWR | flags)
        self.kind = kind
        self.ino = ino

    def describe(self) -> bytes:
        return b"socket:[%d]" % self.ino

    def stat(self) -> Stat:
        return Stat(_SOCKET_DEV, self.ino, S_IFSOCK | 0o777, 1, 0, 0, 0, 0, 4096, 0, 0, 0, 0)

    def read(self, task, length: int) -> bytes:
        raise LinuxError(Errno.ENOTCONN if self.kind != SOCK_DGRAM else Errno.EAGAIN)

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.ENOTCONN if self.kind != SOCK_DGRAM else Errno.EDESTADDRREQ)

    def connect_path(self, task, path: bytes) -> None:
        """Connect to a filesystem path: no socket in the sandbox listens yet."""
        kernel = task.kernel
        fs = task.process.fs
        start = fs.root if path.startswith(b"/") else fs.cwd
        node = kernel.vfs.resolve(fs, task.cred, start, path)
        if node.inode.mode & 0o170000 != S_IFSOCK:
            raise LinuxError(Errno.ECONNREFUSED)
        raise LinuxError(Errno.ECONNREFUSED)

    def connect_abstract(self, task, name: bytes) -> None:
        raise LinuxError(Errno.ECONNREFUSED)
