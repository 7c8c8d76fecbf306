"""tarfs: a read-only filesystem served straight from a tar archive.

The archive (plain, gzip, bzip2 or xz; `tarfile` detects which) is indexed once, at
construction, into an in-memory tree of inodes; file contents stay in the archive and
are read from it on demand through the open `TarFile`, so a large image costs memory
only for its metadata.

Key decisions:
- Member names are normalised: empty and '.' components (so leading './' and '/')
  are dropped; a name with a '..' component makes the whole archive unacceptable
  rather than being skipped, since it signals a hostile or broken image.
- Directories implied by member paths but not listed are created with mode 0755,
  owned by root. When a name occurs twice the later member wins, as in extraction;
  a directory member met again only updates the directory's attributes.
- A hard link member names the same inode as its target (which must come earlier in
  the archive and not be a directory), and the inode's link count counts both.
- Devices, FIFOs and sockets are nodes with their attributes that cannot be opened
  (EACCES). Every change answers EROFS.
- Anything wrong with the archive itself is reported at construction as
  `TarFsError`; a read that fails later (the archive changed or was truncated after
  indexing) answers EIO.
"""

from __future__ import annotations

import lzma
import tarfile
import zlib

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_ACCMODE, O_RDONLY, O_TRUNC, File, RegularFile
from slimbox.kernel.fs.inode import (
    S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, DirEntry, FileSystem, Inode, Stat, dirent_type,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import IO, Callable
    from slimbox.kernel.cred import Credentials

_BLOCK = 4096
#: what reading a damaged archive can raise, depending on its compression
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)


class TarFsError(ValueError):
    """The archive cannot be served: unreadable, malformed, or with unsafe names."""


def member_path(name: str) -> tuple[bytes, ...]:
    """The components of a member name, with empty and '.' components dropped."""
    raw = name.encode("utf-8", "surrogateescape")
    parts = tuple(p for p in raw.split(b"/") if p and p != b".")
    if b".." in parts:
        raise TarFsError(f"archive member {name!r} has a '..' component")
    return parts


def makedev(major: int, minor: int) -> int:
    """Linux's encoding of a device number."""
    return (minor & 0xFF) | ((major & 0xFFF) << 8) | ((minor & ~0xFF) << 12) | ((major & ~0xFFF) << 32)


class TarFs(FileSystem):
    fstype = "tarfs"

    def __init__(self, dev: int, clock: Callable[[], int], fileobj: IO[bytes]) -> None:
        super().__init__(dev, clock, readonly=True)
        try:
            self._tar = tarfile.open(fileobj=fileobj, mode="r:*", encoding="utf-8", errors="surrogateescape")
        except _ARCHIVE_ERRORS as exc:
            raise TarFsError(f"not a readable tar archive: {exc}") from exc
        try:
            members = self._tar.getmembers()
        except _ARCHIVE_ERRORS as exc:
            self._tar.close()
            raise TarFsError(f"malformed tar archive: {exc}") from exc
        now = clock()
        self.root = TarDir(self, 0o755, 0, 0, now)
        try:
            for member in members:
                self._add(member, now)
        except BaseException:
            self._tar.close()
            raise

    def close(self) -> None:
        """Stop serving file data (the caller's file object is left open)."""
        self._tar.close()

    def read_member(self, member: tarfile.TarInfo) -> IO[bytes]:
        try:
            reader = self._tar.extractfile(member)
        except _ARCHIVE_ERRORS:
            raise LinuxError(Errno.EIO) from None
        if reader is None:
            raise LinuxError(Errno.EIO)
        return reader

    # --- indexing -------------------------------------------------------------------

    def _directory(self, parts: tuple[bytes, ...], name: str, now: int) -> TarDir:
        node = self.root
        for part in parts:
            child = node.children.get(part)
            if child is None:
                child = TarDir(self, 0o755, 0, 0, now)
                node.children[part] = child
            elif not isinstance(child, TarDir):
                raise TarFsError(f"archive member {name!r} is below a non-directory")
            node = child
        return node

    def _find(self, parts: tuple[bytes, ...]) -> TarInode | None:
        node: TarInode = self.root
        for part in parts:
            if not isinstance(node, TarDir) or part not in node.children:
                return None
            node = node.children[part]
        return node

    def _add(self, member: tarfile.TarInfo, now: int) -> None:
        parts = member_path(member.name)
        perms = member.mode & 0o7777
        mtime_ns = int(member.mtime * 1_000_000_000)
        if not parts:
            if not member.isdir():
                raise TarFsError(f"archive member {member.name!r} names the root but is not a directory")
            self.root.set_attributes(perms, member.uid, member.gid, mtime_ns)
            return
        parent = self._directory(parts[:-1], member.name, now)
        name = parts[-1]
        existing = parent.children.get(name)
        if member.isdir():
            if isinstance(existing, TarDir):
                existing.set_attributes(perms, member.uid, member.gid, mtime_ns)
                return
            parent.put(name, TarDir(self, perms, member.uid, member.gid, mtime_ns))
        elif member.islnk():
            target = self._find(member_path(member.linkname))
            if target is None:
                raise TarFsError(f"hard link {member.name!r} to {member.linkname!r}, which is not earlier "
                                 "in the archive")
            if isinstance(target, TarDir):
                raise TarFsError(f"hard link {member.name!r} to a directory")
            parent.put(name, target)
        elif member.issym():
            target_text = member.linkname.encode("utf-8", "surrogateescape")
            parent.put(name, TarSymlink(self, target_text, member.uid, member.gid, mtime_ns))
        elif member.isreg():
            parent.put(name, TarRegular(self, member, perms, mtime_ns))
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = S_IFCHR if member.ischr() else S_IFBLK if member.isblk() else S_IFIFO
            rdev = makedev(member.devmajor, member.devminor) if kind != S_IFIFO else 0
            parent.put(name, TarNode(self, kind | perms, member.uid, member.gid, mtime_ns, rdev))
        # other member types (none that tarfile reports today) are left out


class TarInode(Inode):
    __slots__ = ("_mode", "uid", "gid", "mtime_ns", "nlink")
    fs: TarFs

    def __init__(self, fs: TarFs, mode: int, uid: int, gid: int, mtime_ns: int) -> None:
        super().__init__(fs, fs.next_ino())
        self._mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime_ns = mtime_ns
        self.nlink = 0  # names bound to it; directories count theirs in links()

    @property
    def mode(self) -> int:
        return self._mode

    def size(self) -> int:
        return 0

    def rdev(self) -> int:
        return 0

    def links(self) -> int:
        return self.nlink

    def stat(self) -> Stat:
        size = self.size()
        return Stat(self.fs.dev, self.ino, self._mode, self.links(), self.uid, self.gid, self.rdev(), size,
                    _BLOCK, (size + 511) // 512, self.mtime_ns, self.mtime_ns, self.mtime_ns)

    def setattr(self, *, mode: int | None = None, uid: int | None = None, gid: int | None = None,
                atime_ns: int | None = None, mtime_ns: int | None = None) -> None:
        raise LinuxError(Errno.EROFS)


class TarRegular(TarInode):
    __slots__ = ("member",)

    def __init__(self, fs: TarFs, member: tarfile.TarInfo, perms: int, mtime_ns: int) -> None:
        super().__init__(fs, S_IFREG | perms, member.uid, member.gid, mtime_ns)
        self.member = member

    def size(self) -> int:
        return self.member.size

    def open(self, flags: int) -> File:
        if flags & O_ACCMODE != O_RDONLY or flags & O_TRUNC:
            raise LinuxError(Errno.EROFS)
        return RegularFile(flags, None, self, TarStorage(self.fs.read_member(self.member), self.member.size))

    def truncate(self, size: int) -> None:
        raise LinuxError(Errno.EROFS)


class TarStorage:
    """Read-only Storage over one member's data in the archive."""

    __slots__ = ("_reader", "_size")

    def __init__(self, reader: IO[bytes], size: int) -> None:
        self._reader = reader
        self._size = size

    def read_at(self, offset: int, length: int) -> bytes:
        if offset >= self._size or length <= 0:
            return b""
        try:
            self._reader.seek(offset)
            return self._reader.read(min(length, self._size - offset))
        except _ARCHIVE_ERRORS:
            raise LinuxError(Errno.EIO) from None

    def write_at(self, offset: int, data: bytes) -> int:
        raise LinuxError(Errno.EROFS)

    def size(self) -> int:
        return self._size

    def truncate(self, size: int) -> None:
        raise LinuxError(Errno.EROFS)

    def sync(self) -> None:
        return None

    def close(self) -> None:
        self._reader.close()


class TarSymlink(TarInode):
    __slots__ = ("target",)

    def __init__(self, fs: TarFs, target: bytes, uid: int, gid: int, mtime_ns: int) -> None:
        super().__init__(fs, S_IFLNK | 0o777, uid, gid, mtime_ns)
        self.target = target

    def size(self) -> int:
        return len(self.target)

    def readlink(self) -> bytes:
        return self.target


class TarNode(TarInode):
    """A device or FIFO recorded in the archive."""

    __slots__ = ("_rdev",)

    def __init__(self, fs: TarFs, mode: int, uid: int, gid: int, mtime_ns: int, rdev: int) -> None:
        super().__init__(fs, mode, uid, gid, mtime_ns)
        self._rdev = rdev

    def rdev(self) -> int:
        return self._rdev

    def open(self, flags: int) -> File:
        raise LinuxError(Errno.EACCES)


class TarDir(TarInode):
    __slots__ = ("children",)

    def __init__(self, fs: TarFs, perms: int, uid: int, gid: int, mtime_ns: int) -> None:
        super().__init__(fs, S_IFDIR | perms, uid, gid, mtime_ns)
        self.children: dict[bytes, TarInode] = {}

    def set_attributes(self, perms: int, uid: int, gid: int, mtime_ns: int) -> None:
        self._mode = S_IFDIR | perms
        self.uid, self.gid, self.mtime_ns = uid, gid, mtime_ns

    def put(self, name: bytes, child: TarInode) -> None:
        """Index-time only: bind `name`, replacing what it named before."""
        old = self.children.get(name)
        if old is child:
            return
        if old is not None and not isinstance(old, TarDir):
            old.nlink -= 1
        self.children[name] = child
        if not isinstance(child, TarDir):
            child.nlink += 1

    def size(self) -> int:
        return _BLOCK

    def links(self) -> int:
        return 2 + sum(isinstance(child, TarDir) for child in self.children.values())

    def open(self, flags: int) -> File:
        raise LinuxError(Errno.EISDIR)

    def lookup(self, name: bytes) -> Inode:
        try:
            return self.children[name]
        except KeyError:
            raise LinuxError(Errno.ENOENT) from None

    def entries(self) -> list[DirEntry]:
        return [DirEntry(name, child.ino, dirent_type(child.mode)) for name, child in self.children.items()]

    def create(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        raise LinuxError(Errno.EROFS)

    def mkdir(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        raise LinuxError(Errno.EROFS)

    def mknod(self, name: bytes, mode: int, rdev: int, cred: Credentials) -> Inode:
        raise LinuxError(Errno.EROFS)

    def symlink(self, name: bytes, target: bytes, cred: Credentials) -> Inode:
        raise LinuxError(Errno.EROFS)

    def link(self, name: bytes, inode: Inode) -> None:
        raise LinuxError(Errno.EROFS)

    def unlink(self, name: bytes) -> None:
        raise LinuxError(Errno.EROFS)

    def rmdir(self, name: bytes) -> None:
        raise LinuxError(Errno.EROFS)

    def rename(self, name: bytes, new_dir: Inode, new_name: bytes, flags: int = 0) -> None:
        raise LinuxError(Errno.EROFS)
