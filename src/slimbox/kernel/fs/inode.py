"""Inodes and filesystems: the interface every filesystem implements.

An Inode answers for one file. Directory operations take a single name component
(never '.', '..' or anything with '/'); the VFS walks paths. Every operation an inode
does not support fails with the errno Linux gives (ENOTDIR, EPERM, EROFS, EINVAL...).
"""

from __future__ import annotations

from itertools import count

from slimbox.abi.errno import Errno
from slimbox.abi.tuples import named_tuple
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable

    from slimbox.kernel.cred import Credentials
    from slimbox.kernel.file import File

S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFLNK = 0o120000
S_IFREG = 0o100000
S_IFBLK = 0o060000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFIFO = 0o010000

DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12


_DIRENT_TYPES = {S_IFIFO: DT_FIFO, S_IFCHR: DT_CHR, S_IFDIR: DT_DIR, S_IFBLK: DT_BLK,
                 S_IFREG: DT_REG, S_IFLNK: DT_LNK, S_IFSOCK: DT_SOCK}


def dirent_type(mode: int) -> int:
    return _DIRENT_TYPES.get(mode & S_IFMT, DT_UNKNOWN)


class Stat(Record):
    __slots__ = ("dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blksize", "blocks", "atime_ns",
                 "mtime_ns", "ctime_ns")

    def __init__(self, dev: int, ino: int, mode: int, nlink: int, uid: int, gid: int, rdev: int, size: int,
                 blksize: int, blocks: int, atime_ns: int, mtime_ns: int, ctime_ns: int) -> None:
        self.dev = dev
        self.ino = ino
        self.mode = mode
        self.nlink = nlink
        self.uid = uid
        self.gid = gid
        self.rdev = rdev
        self.size = size
        self.blksize = blksize
        self.blocks = blocks
        self.atime_ns = atime_ns
        self.mtime_ns = mtime_ns
        self.ctime_ns = ctime_ns

    def copy(self) -> Stat:
        return Stat(*self._values())


#: one directory entry; `type` is a DT_* value
DirEntry = named_tuple("DirEntry", "name ino type")


class FileSystem:
    """One mounted filesystem instance; `fstype` is what /proc/mounts shows."""

    fstype = "none"

    def __init__(self, dev: int, clock: Callable[[], int], readonly: bool = False) -> None:
        self.dev = dev
        self.clock = clock          # realtime nanoseconds, for timestamps
        self.readonly = readonly
        self._inos = count(2)

    def next_ino(self) -> int:
        return next(self._inos)

    def check_writable(self) -> None:
        if self.readonly:
            raise LinuxError(Errno.EROFS)

    def statfs(self) -> tuple[int, int, int, int]:
        """(f_type magic, total blocks, free blocks, total inodes) for statfs(2)."""
        return (0x01021994, 0, 0, 0)

    def close(self) -> None:
        """Release what the filesystem holds on the host (when the sandbox is dropped)."""


def _fail(errno: int):
    raise LinuxError(errno)


class Inode:
    """Base inode: a file of some type with attributes; operations default to the
    errno Linux gives for the wrong file type."""

    __slots__ = ("fs", "ino", "__weakref__")

    #: True for a directory kept as one object for its whole life whose entries change
    #: only through the VFS (so a path walk through it may be remembered; see Vfs)
    walk_cacheable = False
    #: True for a file in no directory (memfd_create's): reached only through
    #: /proc/PID/fd, and a description opened there keeps no path
    pathless = False
    #: True for a directory whose `create` fails with EEXIST, having changed nothing,
    #: when the name is taken: the VFS may then try creating before looking the name up
    create_is_exclusive = False
    #: True for a directory whose `unlink` itself fails with ENOENT for a missing name
    #: and EISDIR for a directory, having changed nothing: the VFS may then skip its
    #: own lookup of the name
    unlink_checks_entry = False

    def __init__(self, fs: FileSystem, ino: int) -> None:
        self.fs = fs
        self.ino = ino

    def jump(self) -> Inode | None:
        """For a symlink that leads straight to a pathless inode (/proc/PID/fd/N of a
        memfd) rather than through its text: that inode."""
        return None

    @property
    def key(self) -> tuple[int, int]:
        """Identity of the file, stable across lookups (for mount points and roots)."""
        return (self.fs.dev, self.ino)

    # attributes -------------------------------------------------------------

    def stat(self) -> Stat:
        raise NotImplementedError

    @property
    def mode(self) -> int:
        return self.stat().mode

    def file_type(self) -> int:
        """The S_IF* type bits (a file's type never changes: filesystems that know it
        without fetching attributes answer from what they keep)."""
        return self.mode & S_IFMT

    def is_dir(self) -> bool:
        return self.mode & S_IFMT == S_IFDIR

    def is_symlink(self) -> bool:
        return self.mode & S_IFMT == S_IFLNK

    def is_regular(self) -> bool:
        return self.mode & S_IFMT == S_IFREG

    def setattr(self, *, mode: int | None = None, uid: int | None = None, gid: int | None = None,
                atime_ns: int | None = None, mtime_ns: int | None = None) -> None:
        _fail(Errno.EPERM)

    def truncate(self, size: int) -> None:
        _fail(Errno.EINVAL if not self.is_dir() else Errno.EISDIR)

    # files ------------------------------------------------------------------------

    def open(self, flags: int) -> File:
        """An open file description for this inode (access checks are done by the VFS)."""
        _fail(Errno.ENXIO)

    def readlink(self) -> bytes:
        _fail(Errno.EINVAL)

    # directories ------------------------------------------------------------------

    def lookup(self, name: bytes) -> Inode:
        _fail(Errno.ENOTDIR)

    def lookup_stat(self, name: bytes) -> tuple[Inode, Stat | None]:
        """`lookup`, with the entry's attributes when the lookup learnt them anyway
        (None otherwise: ask the inode)."""
        return self.lookup(name), None

    def entries(self) -> list[DirEntry]:
        _fail(Errno.ENOTDIR)

    def create(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        _fail(Errno.ENOTDIR)

    def mkdir(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        _fail(Errno.ENOTDIR)

    def mknod(self, name: bytes, mode: int, rdev: int, cred: Credentials) -> Inode:
        _fail(Errno.EPERM)

    def symlink(self, name: bytes, target: bytes, cred: Credentials) -> Inode:
        _fail(Errno.ENOTDIR)

    def link(self, name: bytes, inode: Inode) -> None:
        _fail(Errno.ENOTDIR)

    def unlink(self, name: bytes) -> None:
        _fail(Errno.ENOTDIR)

    def rmdir(self, name: bytes) -> None:
        _fail(Errno.ENOTDIR)

    def rename(self, name: bytes, new_dir: Inode, new_name: bytes, flags: int = 0) -> None:
        _fail(Errno.ENOTDIR)
