"""memfs: an in-memory filesystem with tmpfs semantics (also the overlay's upper layer)."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import File, RegularFile
from slimbox.kernel.fs.inode import (
    S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, DirEntry, FileSystem, Inode, Stat, dirent_type,
)
from slimbox.kernel.limits import Budget
from slimbox.kernel.pipe import Pipe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable
    from slimbox.kernel.cred import Credentials

TMPFS_MAGIC = 0x01021994
_BLOCK = 4096
#: largest file memfs will hold (per file); the size limit of the whole fs is separate
MAX_FILE_SIZE = 1 << 40
#: what an inode counts against the storage budget besides its data (roughly what it
#: costs the supervisor), so that millions of empty files run out of space too
INODE_COST = 256


class MemFs(FileSystem):
    fstype = "tmpfs"

    def __init__(self, dev: int, clock: Callable[[], int], readonly: bool = False,
                 root_mode: int = 0o1777, uid: int = 0, gid: int = 0, budget: Budget | None = None) -> None:
        super().__init__(dev, clock, readonly)
        #: bytes this filesystem may hold: shared by all of a sandbox's in-memory filesystems
        self.budget = budget if budget is not None else Budget(None, Errno.ENOSPC)
        self.root = MemDir(self, root_mode, uid, gid)

    def statfs(self) -> tuple[int, int, int, int]:
        limit = self.budget.limit
        if limit is None:
            return (TMPFS_MAGIC, 1 << 20, 1 << 20, 1 << 20)
        free = max(limit - self.budget.used, 0)
        return (TMPFS_MAGIC, limit // _BLOCK, free // _BLOCK, limit // INODE_COST)


class MemInode(Inode):
    __slots__ = ("_mode", "uid", "gid", "nlink", "atime_ns", "mtime_ns", "ctime_ns", "rdev")

    def __init__(self, fs: MemFs, mode: int, uid: int, gid: int, rdev: int = 0) -> None:
        fs.budget.charge(INODE_COST)
        super().__init__(fs, fs.next_ino())
        self._mode = mode
        self.uid = uid
        self.gid = gid
        self.nlink = 1
        self.rdev = rdev
        now = fs.clock()
        self.atime_ns = self.mtime_ns = self.ctime_ns = now

    @property
    def mode(self) -> int:
        return self._mode

    # the file type tests path walks make at every step, without going through `mode`
    def file_type(self) -> int:
        return self._mode & S_IFMT

    def is_dir(self) -> bool:
        return self._mode & S_IFMT == S_IFDIR

    def is_symlink(self) -> bool:
        return self._mode & S_IFMT == S_IFLNK

    def is_regular(self) -> bool:
        return self._mode & S_IFMT == S_IFREG

    def size(self) -> int:
        return 0

    def drop_links(self, count: int) -> None:
        self.nlink -= count
        if self.nlink == 0:
            self.unlinked()

    def unlinked(self) -> None:
        """Its last name is gone: give back what it holds once nothing uses it."""
        self.fs.budget.release(INODE_COST)

    def stat(self) -> Stat:
        size = self.size()
        return Stat(self.fs.dev, self.ino, self._mode, self.nlink, self.uid, self.gid, self.rdev,
                    size, _BLOCK, (size + 511) // 512, self.atime_ns, self.mtime_ns, self.ctime_ns)

    def touch(self, *, modify: bool = True) -> None:
        now = self.fs.clock()
        self.ctime_ns = now
        if modify:
            self.mtime_ns = now

    def setattr(self, *, mode: int | None = None, uid: int | None = None, gid: int | None = None,
                atime_ns: int | None = None, mtime_ns: int | None = None) -> None:
        self.fs.check_writable()
        if mode is not None:
            self._mode = (self._mode & S_IFMT) | (mode & 0o7777)
        if uid is not None:
            self.uid = uid
        if gid is not None:
            self.gid = gid
        if atime_ns is not None:
            self.atime_ns = atime_ns
        if mtime_ns is not None:
            self.mtime_ns = mtime_ns
        self.ctime_ns = self.fs.clock()


class MemFile(MemInode):
    """A regular file; it is its own Storage."""

    __slots__ = ("data", "opens", "freed")

    def __init__(self, fs: MemFs, mode: int, uid: int, gid: int, data: bytes = b"") -> None:
        fs.budget.check(INODE_COST + len(data))
        super().__init__(fs, S_IFREG | (mode & 0o7777), uid, gid)
        fs.budget.charge(len(data))
        self.data = bytearray(data)
        self.opens = 0  # open file descriptions: an unlinked file's data lives until the last closes
        self.freed = False

    def size(self) -> int:
        return len(self.data)

    def open(self, flags: int) -> File:
        file = RegularFile(flags, None, self, self)
        self.opens += 1
        return file

    def unlinked(self) -> None:
        if self.opens == 0:
            self._free()

    def _free(self) -> None:
        if not self.freed:  # (reopened through /proc/PID/fd and closed again)
            self.freed = True
            self.fs.budget.release(INODE_COST + len(self.data))
            self.data = bytearray()

    # Storage
    def read_at(self, offset: int, length: int) -> bytes:
        return bytes(self.data[offset:offset + length])

    def write_at(self, offset: int, data: bytes) -> int:
        self.fs.check_writable()
        end = offset + len(data)
        if end > MAX_FILE_SIZE:
            raise LinuxError(Errno.EFBIG)
        if end > len(self.data):
            room = self.fs.budget.room()
            if room is not None and end - len(self.data) > room:
                # as tmpfs does: write what fits, fail only when nothing does
                if offset >= len(self.data) + room:
                    raise LinuxError(Errno.ENOSPC)
                end = len(self.data) + room
                data = data[:end - offset]
            self.fs.budget.charge(end - len(self.data))
        if offset > len(self.data):
            self.data.extend(bytes(offset - len(self.data)))
        self.data[offset:end] = data
        self.touch()
        return len(data)

    def truncate(self, size: int) -> None:
        self.fs.check_writable()
        if size < 0:
            raise LinuxError(Errno.EINVAL)
        if size > MAX_FILE_SIZE:
            raise LinuxError(Errno.EFBIG)
        self.fs.budget.charge(size - len(self.data))
        if size < len(self.data):
            del self.data[size:]
        else:
            self.data.extend(bytes(size - len(self.data)))
        self.touch()

    def sync(self) -> None:
        return None

    def close(self) -> None:
        self.opens -= 1
        if self.opens == 0 and self.nlink == 0:
            self._free()


class MemSymlink(MemInode):
    __slots__ = ("target",)

    def __init__(self, fs: MemFs, target: bytes, uid: int, gid: int) -> None:
        super().__init__(fs, S_IFLNK | 0o777, uid, gid)
        self.target = target

    def size(self) -> int:
        return len(self.target)

    def readlink(self) -> bytes:
        return self.target


class MemNode(MemInode):
    """A device, FIFO or socket node. A FIFO opens as an end of the pipe kept on the
    node (made on first open); what opening a device does is up to the kernel part
    that owns the device number (see devfs), so plain memfs refuses, as for sockets."""

    __slots__ = ("_fifo",)

    def open(self, flags: int) -> File:
        if self._mode & S_IFMT != S_IFIFO:
            raise LinuxError(Errno.ENXIO)
        fifo = getattr(self, "_fifo", None)
        if fifo is None:
            fifo = self._fifo = Pipe()
        return fifo.open_fifo(flags, self)


class MemDir(MemInode):
    __slots__ = ("children",)
    walk_cacheable = True
    create_is_exclusive = True
    unlink_checks_entry = True

    def __init__(self, fs: MemFs, mode: int, uid: int, gid: int) -> None:
        super().__init__(fs, S_IFDIR | (mode & 0o7777), uid, gid)
        self.children: dict[bytes, MemInode] = {}
        self.nlink = 2

    def size(self) -> int:
        return 40 + 20 * len(self.children)  # tmpfs-like, never zero

    def open(self, flags: int) -> File:
        raise LinuxError(Errno.EISDIR)

    def lookup(self, name: bytes) -> Inode:
        try:
            return self.children[name]
        except KeyError:
            raise LinuxError(Errno.ENOENT) from None

    def entries(self) -> list[DirEntry]:
        return [DirEntry(name, child.ino, dirent_type(child.mode)) for name, child in self.children.items()]

    def _add(self, name: bytes, child: MemInode) -> MemInode:
        self.fs.check_writable()
        if name in self.children:
            raise LinuxError(Errno.EEXIST)
        self.children[name] = child
        if isinstance(child, MemDir):
            self.nlink += 1
        self.touch()
        return child

    def create(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        # a taken name is refused before the new inode is made (and charged): the VFS
        # tries creating before it looks the name up
        self.fs.check_writable()
        if name in self.children:
            raise LinuxError(Errno.EEXIST)
        return self._add(name, MemFile(self.fs, mode, cred.fsuid, self._new_gid(cred)))

    def mkdir(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        child = MemDir(self.fs, mode, cred.fsuid, self._new_gid(cred))
        if self._mode & 0o2000:  # setgid directories pass the bit on
            child._mode |= 0o2000
        return self._add(name, child)

    def mknod(self, name: bytes, mode: int, rdev: int, cred: Credentials) -> Inode:
        return self._add(name, MemNode(self.fs, mode, cred.fsuid, self._new_gid(cred), rdev))

    def symlink(self, name: bytes, target: bytes, cred: Credentials) -> Inode:
        return self._add(name, MemSymlink(self.fs, target, cred.fsuid, self._new_gid(cred)))

    def _new_gid(self, cred: Credentials) -> int:
        return self.gid if self._mode & 0o2000 else cred.fsgid

    def link(self, name: bytes, inode: Inode) -> None:
        if not isinstance(inode, MemInode) or inode.fs is not self.fs:
            raise LinuxError(Errno.EXDEV)
        if isinstance(inode, MemDir):
            raise LinuxError(Errno.EPERM)
        self._add(name, inode)
        inode.nlink += 1
        inode.touch(modify=False)

    def unlink(self, name: bytes) -> None:
        self.fs.check_writable()
        child = self.lookup(name)
        if isinstance(child, MemDir):
            raise LinuxError(Errno.EISDIR)
        del self.children[name]
        child.drop_links(1)
        child.touch(modify=False)
        self.touch()

    def rmdir(self, name: bytes) -> None:
        self.fs.check_writable()
        child = self.lookup(name)
        if not isinstance(child, MemDir):
            raise LinuxError(Errno.ENOTDIR)
        if child.children:
            raise LinuxError(Errno.ENOTEMPTY)
        del self.children[name]
        child.drop_links(child.nlink)
        self.nlink -= 1
        self.touch()

    def rename(self, name: bytes, new_dir: Inode, new_name: bytes, flags: int = 0) -> None:
        self.fs.check_writable()
        if not isinstance(new_dir, MemDir) or new_dir.fs is not self.fs:
            raise LinuxError(Errno.EXDEV)
        child = self.lookup(name)
        existing = new_dir.children.get(new_name)
        if existing is child:
            return
        if isinstance(child, MemDir) and new_dir.descends_from(child):
            raise LinuxError(Errno.EINVAL)
        if existing is not None:
            if isinstance(child, MemDir):
                if not isinstance(existing, MemDir):
                    raise LinuxError(Errno.ENOTDIR)
                if existing.children:
                    raise LinuxError(Errno.ENOTEMPTY)
                new_dir.nlink -= 1
            elif isinstance(existing, MemDir):
                raise LinuxError(Errno.EISDIR)
            existing.drop_links(existing.nlink if isinstance(existing, MemDir) else 1)
        del self.children[name]
        new_dir.children[new_name] = child
        if isinstance(child, MemDir) and new_dir is not self:
            self.nlink -= 1
            new_dir.nlink += 1
        child.touch(modify=False)
        self.touch()
        new_dir.touch()

    def descends_from(self, ancestor: MemDir) -> bool:
        """Whether `ancestor` contains this directory (or is it): renames must not
        move a directory into itself."""
        stack: list[MemDir] = [ancestor]
        while stack:
            current = stack.pop()
            if current is self:
                return True
            stack.extend(c for c in current.children.values() if isinstance(c, MemDir))
        return False


# --- memfd ----------------------------------------------------------------------------------

F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE, F_SEAL_FUTURE_WRITE, F_SEAL_EXEC = 1, 2, 4, 8, 16, 32
ALL_SEALS = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC


class MemfdInode(MemFile):
    """What memfd_create makes: a regular file in no directory, with its own name for
    /proc/PID/fd and file seals. It lives while some open file description refers to it."""

    __slots__ = ("name", "seals")
    pathless = True

    def __init__(self, fs: MemFs, name: bytes, mode: int, uid: int, gid: int, seals: int) -> None:
        super().__init__(fs, mode, uid, gid)
        self.nlink = 0  # in no directory: fstat shows no links, as on Linux
        self.name = name
        self.seals = seals

    def open(self, flags: int) -> File:
        file = MemfdFile(flags, self)
        self.opens += 1
        return file

    def write_at(self, offset: int, data: bytes) -> int:
        if self.freed:
            return len(data)  # write-back of a mapping that outlived every descriptor
        if self.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE):
            raise LinuxError(Errno.EPERM)
        if self.seals & F_SEAL_GROW and offset + len(data) > len(self.data):
            if offset >= len(self.data):
                raise LinuxError(Errno.EPERM)
            data = data[:len(self.data) - offset]
        return super().write_at(offset, data)

    def truncate(self, size: int) -> None:
        if (size < len(self.data) and self.seals & F_SEAL_SHRINK) or (
                size > len(self.data) and self.seals & F_SEAL_GROW):
            raise LinuxError(Errno.EPERM)
        super().truncate(size)


class MemfdFile(RegularFile):
    def __init__(self, flags: int, inode: MemfdInode) -> None:
        super().__init__(flags, None, inode, inode)
        self.memfd = inode

    def describe(self) -> bytes:
        return b"/memfd:" + self.memfd.name + b" (deleted)"
