"""Open file descriptions: what a file descriptor refers to.

`File` holds the status flags and offset shared by every descriptor dup'ed from one
open(). Subclasses implement the operations their kind of file supports; the rest
fail with the errno Linux gives. `task` arguments are the calling thread, for files
whose behaviour depends on it (terminals, /proc).
"""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fs.inode import DirEntry, Inode, Stat, dirent_type
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the protocols below document the interface; nothing checks them at run time

if TYPE_CHECKING:
    from slimbox.kernel.fs.vfs import PathNode

# Plain ints rather than the ABI's IntFlag members: bit tests on these are hot, and
# importing the enum classes costs start-up time; a test checks they agree.
O_ACCMODE = 0o3
O_RDONLY, O_WRONLY, O_RDWR = 0, 1, 2
O_CREAT = 0x40
O_EXCL = 0x80
O_NOCTTY = 0x100
O_TRUNC = 0x200
O_APPEND = 0x400
O_NONBLOCK = 0x800
O_DSYNC = 0x1000
O_ASYNC = 0x2000
O_DIRECT = 0x4000
O_LARGEFILE = 0x8000
O_DIRECTORY = 0x10000
O_NOFOLLOW = 0x20000
O_NOATIME = 0x40000
O_CLOEXEC = 0x80000
O_SYNC = 0x101000
O_PATH = 0x200000
O_TMPFILE = 0x410000
#: the flag bits that decide whether a file may be read or written, and the values of
#: them that allow each (handlers on the hot path test these without the properties)
ACCESS_BITS = O_PATH | O_ACCMODE
READ_ACCESS = frozenset((O_RDONLY, O_RDWR))
WRITE_ACCESS = frozenset((O_WRONLY, O_RDWR))

#: flags F_SETFL may change
SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME

SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE = 0, 1, 2, 3, 4

POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLWRNORM = 0x40, 0x100
#: every event bit: what a notification that says nothing more may signal
ANY_EVENT = 0xFFFFFFFF

#: the most one read or write moves. Linux allows ~2 GiB; the sandbox moves at most this
#: much per call (a short transfer, which callers must handle anyway) so that one syscall
#: cannot make the supervisor hold gigabytes at once.
MAX_RW = 16 << 20


class File:
    """An open file description."""

    #: whether the file has a poll operation of its own. epoll refuses the others (EPERM)
    #: as Linux does for regular files, directories and the simplest devices, which poll
    #: and select report as always ready.
    pollable = True
    #: reads and writes of fewer bytes, even of none, are EINVAL: files that move only
    #: whole records (eventfd's 8-byte counter...) or cannot be read or written at all
    min_transfer = 0

    def __init__(self, flags: int, path: PathNode | None = None, inode: Inode | None = None) -> None:
        self.flags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)
        self.path = path
        self.inode = inode if inode is not None else (path.inode if path is not None else None)
        self.offset = 0
        self.refs = 0
        #: called with this file when its last reference goes (epolls watching it)
        self.watchers: list | None = None

    # access ----------------------------------------------------------------------

    @property
    def readable(self) -> bool:
        return self.flags & ACCESS_BITS in READ_ACCESS

    @property
    def writable(self) -> bool:
        return self.flags & ACCESS_BITS in WRITE_ACCESS

    @property
    def nonblocking(self) -> bool:
        return bool(self.flags & O_NONBLOCK)

    def describe(self) -> bytes:
        """What /proc/PID/fd/N points to."""
        if self.path is not None:
            return self.path.full_path()
        return b"anon_inode:[" + type(self).__name__.lower().encode() + b"]"

    # operations (defaults) ---------------------------------------------------------

    def read(self, task, length: int) -> bytes:
        raise LinuxError(Errno.EINVAL)

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.EINVAL)

    def write_room(self) -> int | None:
        """Bytes a write could put in at once without waiting, for a file with a
        bounded buffer that knows it; None when it does not say (the write decides)."""
        return None

    def pread(self, length: int, offset: int) -> bytes:
        raise LinuxError(Errno.ESPIPE)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise LinuxError(Errno.ESPIPE)

    def seek(self, offset: int, whence: int) -> int:
        raise LinuxError(Errno.ESPIPE)

    def stat(self) -> Stat:
        if self.inode is None:
            raise LinuxError(Errno.EBADF)
        return self.inode.stat()

    def entries_from(self, position: int) -> list[tuple[int, DirEntry]]:
        raise LinuxError(Errno.ENOTDIR)

    def ioctl(self, task, request: int, arg: int) -> int:
        raise LinuxError(Errno.ENOTTY)

    def truncate(self, size: int) -> None:
        raise LinuxError(Errno.EINVAL)

    def sync(self) -> None:
        return None

    def poll(self) -> int:
        """Current readiness as POLL* bits."""
        return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        """Queues notified when poll() may change; called when `task` is about to wait
        on this file (a file backed by the host arms the host watch here)."""
        return ()

    def keyed_wait_queues(self, task) -> tuple[tuple[WaitQueue, int], ...]:
        """wait_queues() with, for each queue, the POLL* events its notifications can
        signal; epoll ignores notifications that cannot concern what an interest asks
        for. By default a notification may mean anything."""
        return tuple((queue, ANY_EVENT) for queue in self.wait_queues(task))

    def release(self) -> None:
        """The last descriptor referring to this description was closed."""


#: Linux gives every anonymous file (eventfd, timerfd, signalfd, epoll) one shared inode
#: of its anon_inode filesystem: mode 0600 with no file type, owned by root
ANON_INODE_DEV, ANON_INODE_INO = 0x10, 1


class AnonFile(File):
    """A file that is not in any filesystem: fstat shows the shared anonymous inode."""

    def stat(self) -> Stat:
        return Stat(ANON_INODE_DEV, ANON_INODE_INO, 0o600, 1, 0, 0, 0, 0, 4096, 0, 0, 0, 0)


class Storage(Protocol):
    """The bytes behind a regular file."""

    def read_at(self, offset: int, length: int) -> bytes: ...

    def write_at(self, offset: int, data: bytes) -> int: ...

    def size(self) -> int: ...

    def truncate(self, size: int) -> None: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class RegularFile(File):
    """A seekable file over some Storage."""

    pollable = False

    def __init__(self, flags: int, path: PathNode | None, inode: Inode | None, storage: Storage) -> None:
        super().__init__(flags, path, inode)
        self.storage = storage

    def read(self, task, length: int) -> bytes:
        data = self.storage.read_at(self.offset, min(length, MAX_RW))
        self.offset += len(data)
        return data

    def write(self, task, data: bytes) -> int:
        if self.flags & O_APPEND:
            self.offset = self.storage.size()
        written = self.storage.write_at(self.offset, data[:MAX_RW])
        self.offset += written
        return written

    def pread(self, length: int, offset: int) -> bytes:
        return self.storage.read_at(offset, min(length, MAX_RW))

    def pwrite(self, data: bytes, offset: int) -> int:
        if self.flags & O_APPEND:  # Linux appends even for pwrite on an O_APPEND file
            offset = self.storage.size()
        return self.storage.write_at(offset, data[:MAX_RW])

    def seek(self, offset: int, whence: int) -> int:
        if whence == SEEK_SET:
            new = offset
        elif whence == SEEK_CUR:
            new = self.offset + offset
        elif whence == SEEK_END:
            new = self.storage.size() + offset
        elif whence == SEEK_DATA:
            size = self.storage.size()
            if offset >= size or offset < 0:
                raise LinuxError(Errno.ENXIO)
            new = offset
        elif whence == SEEK_HOLE:
            size = self.storage.size()
            if offset >= size or offset < 0:
                raise LinuxError(Errno.ENXIO)
            new = size
        else:
            raise LinuxError(Errno.EINVAL)
        if new < 0:
            raise LinuxError(Errno.EINVAL)
        self.offset = new
        return new

    def truncate(self, size: int) -> None:
        self.storage.truncate(size)

    def sync(self) -> None:
        self.storage.sync()

    def release(self) -> None:
        self.storage.close()


class DirectoryFile(File):
    """An open directory; getdents positions are indexes into a listing taken when
    the directory is first read (or rewound)."""

    pollable = False

    def __init__(self, flags: int, path: PathNode) -> None:
        super().__init__(flags, path)
        self._listing: list[DirEntry] | None = None

    def read(self, task, length: int) -> bytes:
        raise LinuxError(Errno.EISDIR)

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.EBADF)

    def pread(self, length: int, offset: int) -> bytes:
        raise LinuxError(Errno.EISDIR)

    def seek(self, offset: int, whence: int) -> int:
        if whence == SEEK_SET and offset >= 0:
            new = offset
        elif whence == SEEK_CUR and self.offset + offset >= 0:
            new = self.offset + offset
        else:
            raise LinuxError(Errno.EINVAL)
        if new == 0:
            self._listing = None
        self.offset = new
        return new

    def entries_from(self, position: int) -> list[tuple[int, DirEntry]]:
        if self._listing is None or position == 0:
            assert self.path is not None
            here = self.path.inode
            parent = self.path.parent.inode if self.path.parent is not None else here
            self._listing = [DirEntry(b".", here.ino, dirent_type(here.mode)),
                             DirEntry(b"..", parent.ino, dirent_type(parent.mode))]
            self._listing.extend(here.entries())
        start = position if position > 0 else 0
        return list(zip(range(start + 1, len(self._listing) + 1), self._listing[start:]))


class PathFile(File):
    """An O_PATH descriptor: a location, usable only as a directory fd, for fstat,
    fchdir and the like."""

    def read(self, task, length: int) -> bytes:
        raise LinuxError(Errno.EBADF)

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.EBADF)

    def pread(self, length: int, offset: int) -> bytes:
        raise LinuxError(Errno.EBADF)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise LinuxError(Errno.EBADF)

    def seek(self, offset: int, whence: int) -> int:
        raise LinuxError(Errno.EBADF)

    def entries_from(self, position: int) -> list[tuple[int, DirEntry]]:
        raise LinuxError(Errno.EBADF)

    def ioctl(self, task, request: int, arg: int) -> int:
        raise LinuxError(Errno.EBADF)
