"""overlay: a writable in-memory layer over a read-only filesystem.

Like Linux overlayfs, simplified. The lower layer is any read-only directory inode
(a hostfs or tarfs root) and is never written; the upper layer is a `MemFs` owned by
the overlay. A name is looked up in the upper directory first; if the upper has no
entry the lower is consulted unless the name is whited out or the upper directory is
opaque. A directory present in both layers is merged.

Key decisions:
- Whiteouts, opaque directories and each upper inode's lower origin are kept here,
  in weak tables keyed by upper inode, not as special files in memfs; an upper
  directory that goes away takes its bookkeeping with it.
- Any change copies up first: the file (data, mode, owner, times; symlink text; node
  type and device number) and, before it, every ancestor directory missing from the
  upper layer, each with its lower attributes. Opening with O_TRUNC copies up the
  attributes only. A copy-up that fails removes what it created, and a copy-up leaves
  the parent directory's times as they were. The root's upper directory is made at
  construction, with the lower root's attributes.
- Directories made by mkdir are opaque, so one made where a lower directory was
  removed hides everything the lower held.
- Renaming a directory that has a lower part fails with EXDEV (overlayfs without
  redirect_dir does the same), which makes `mv` fall back to copying. Hard links
  between lower files are broken up by copy-up, as in overlayfs without `index`.
- Inode numbers: an inode with a lower origin keeps the lower's number for life
  (copy-up does not change it); pure-upper inodes use memfs's number plus
  UPPER_INO_OFFSET so the two ranges cannot collide.
- Each directory inode caches its children weakly by name, so every path to one
  entry gives the same overlay inode and a copy-up made through one reference is
  seen through all of them. Entries removed or replaced are detached; copying up a
  detached file (an open file whose name was unlinked) makes an orphan upper copy,
  and creating in a detached directory fails with ENOENT.
- A file opened read-only before it was copied up keeps reading the lower data.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary, WeakSet, WeakValueDictionary

from slimbox.abi.errno import Errno
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_ACCMODE, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, File
from slimbox.kernel.fs.inode import (
    S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, DirEntry, FileSystem, Inode, Stat, dirent_type,
)
from slimbox.kernel.fs.memfs import MemDir, MemFs, MemInode
from slimbox.kernel.limits import Budget

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable

OVERLAYFS_SUPER_MAGIC = 0x794C7630
UPPER_INO_OFFSET = 1 << 62
_COPY_CHUNK = 1 << 20
#: directories an overlay keeps alive after the walks that made them
_RECENT_DIRS = 128
_ORPHAN = b"orphan"


def _lookup_or_none(directory: Inode, name: bytes) -> Inode | None:
    try:
        return directory.lookup(name)
    except LinuxError as exc:
        if exc.errno == Errno.ENOENT:
            return None
        raise


class OverlayFs(FileSystem):
    fstype = "overlay"

    def __init__(self, dev: int, clock: Callable[[], int], lower_root: Inode, budget: Budget | None = None) -> None:
        super().__init__(dev, clock)
        if not lower_root.is_dir():
            raise LinuxError(Errno.ENOTDIR)
        st = lower_root.stat()
        self.upper = MemFs(dev, clock, root_mode=st.mode & 0o7777, uid=st.uid, gid=st.gid, budget=budget)
        upper_root = self.upper.root
        upper_root.atime_ns, upper_root.mtime_ns = st.atime_ns, st.mtime_ns
        #: where copies of files whose name is gone are made (never part of the tree)
        self._workdir = MemDir(self.upper, 0o700, 0, 0)
        self._origin: WeakKeyDictionary[MemInode, Inode] = WeakKeyDictionary({upper_root: lower_root})
        self._whiteouts: WeakKeyDictionary[MemDir, set[bytes]] = WeakKeyDictionary()
        self._opaque: WeakSet[MemDir] = WeakSet()
        self.root = OverlayDir(self, upper_root, lower_root, None, b"")
        self._lower_fs = lower_root.fs
        #: the directories made last, held so that their (weakly kept) entries outlive a
        #: path walk: the next walk through them finds the same inodes instead of new ones
        self._recent_dirs: dict[int, OverlayDir] = {}

    def statfs(self) -> tuple[int, int, int, int]:
        _, total, free, inodes = self.upper.statfs()
        return (OVERLAYFS_SUPER_MAGIC, total, free, inodes)

    def close(self) -> None:
        self._lower_fs.close()

    # --- layer bookkeeping ------------------------------------------------------------

    def ino_for(self, upper: MemInode | None, lower: Inode | None) -> int:
        if upper is not None:
            origin = self._origin.get(upper)
            return origin.ino if origin is not None else upper.ino + UPPER_INO_OFFSET
        assert lower is not None
        return lower.ino

    def origin_of(self, upper: MemInode) -> Inode | None:
        return self._origin.get(upper)

    def is_opaque(self, upper_dir: MemInode) -> bool:
        return isinstance(upper_dir, MemDir) and upper_dir in self._opaque

    def make_opaque(self, upper_dir: MemInode) -> None:
        if isinstance(upper_dir, MemDir):
            self._opaque.add(upper_dir)

    def whiteouts(self, upper_dir: MemDir | None) -> set[bytes]:
        if upper_dir is None:
            return set()
        return self._whiteouts.get(upper_dir, set())

    def add_whiteout(self, upper_dir: MemDir, name: bytes) -> None:
        self._whiteouts.setdefault(upper_dir, set()).add(name)

    def clear_whiteout(self, upper_dir: MemDir, name: bytes) -> None:
        names = self._whiteouts.get(upper_dir)
        if names is not None:
            names.discard(name)

    def as_own(self, st: Stat, ino: int) -> Stat:
        """A layer's attributes under this filesystem's device and inode number."""
        return Stat(self.dev, ino, st.mode, st.nlink, st.uid, st.gid, st.rdev, st.size, st.blksize,
                    st.blocks, st.atime_ns, st.mtime_ns, st.ctime_ns)

    def wrap(self, upper: MemInode | None, lower: Inode | None, parent: OverlayDir | None,
             name: bytes) -> OverlayInode:
        layer = upper if upper is not None else lower
        assert layer is not None
        if not layer.is_dir():
            return OverlayInode(self, upper, lower, parent, name)
        directory = OverlayDir(self, upper, lower, parent, name)
        recent = self._recent_dirs
        if len(recent) >= _RECENT_DIRS:
            del recent[next(iter(recent))]  # the oldest
        recent[id(directory)] = directory
        return directory

    # --- copy-up --------------------------------------------------------------------------

    def copy_up(self, node: OverlayInode, *, with_data: bool = True) -> MemInode:
        """The upper inode of `node`, copying it (and missing ancestors) up if needed."""
        if node.upper is not None:
            return node.upper
        pending: list[OverlayInode] = []
        current: OverlayInode | None = node
        while current is not None and current.upper is None:
            pending.append(current)
            current = current.parent
        for item in reversed(pending):
            parent = item.parent
            if parent is None:
                if item.is_dir():
                    raise LinuxError(Errno.ENOENT)  # a directory that has been removed
                item.upper = self._copy_orphan(item, with_data)
            else:
                assert isinstance(parent.upper, MemDir)
                directory = parent.upper
                # copying up is not a change the guest made: the parent keeps its times
                times = (directory.atime_ns, directory.mtime_ns)
                item.upper = self._copy_into(directory, item.name, item, item is not node or with_data)
                directory.atime_ns, directory.mtime_ns = times
        assert node.upper is not None
        return node.upper

    def _copy_orphan(self, item: OverlayInode, with_data: bool) -> MemInode:
        upper = self._copy_into(self._workdir, _ORPHAN, item, with_data)
        self._workdir.unlink(_ORPHAN)
        return upper

    def _copy_into(self, directory: MemDir, name: bytes, item: OverlayInode, with_data: bool) -> MemInode:
        lower = item.lower
        assert lower is not None
        st = lower.stat()
        kind = st.mode & S_IFMT
        perms = st.mode & 0o7777
        cred = Credentials.of(st.uid, st.gid)
        if kind == S_IFDIR:
            upper = directory.mkdir(name, perms, cred)
        elif kind == S_IFREG:
            upper = directory.create(name, perms, cred)
        elif kind == S_IFLNK:
            upper = directory.symlink(name, lower.readlink(), cred)
        else:
            upper = directory.mknod(name, st.mode, st.rdev, cred)
        assert isinstance(upper, MemInode)
        try:
            if kind == S_IFREG and with_data:
                self._copy_data(lower, upper)
            # the mode again: memfs may have added a setgid bit inherited from the directory
            upper.setattr(mode=None if kind == S_IFLNK else perms, uid=st.uid, gid=st.gid,
                          atime_ns=st.atime_ns, mtime_ns=st.mtime_ns)
        except BaseException:
            if kind == S_IFDIR:
                directory.rmdir(name)
            else:
                directory.unlink(name)
            raise
        self._origin[upper] = lower
        return upper

    @staticmethod
    def _copy_data(lower: Inode, upper: MemInode) -> None:
        source = lower.open(O_RDONLY)
        try:
            offset = 0
            while chunk := source.pread(_COPY_CHUNK, offset):
                if upper.write_at(offset, chunk) < len(chunk):
                    raise LinuxError(Errno.ENOSPC)  # a partial copy would pass for the file
                offset += len(chunk)
        finally:
            source.release()


class OverlayInode(Inode):
    """One entry of the merged tree: its upper inode once it has one, and the lower
    inode it shows until then (afterwards kept as its origin)."""

    __slots__ = ("upper", "lower", "parent", "name", "_kind")
    fs: OverlayFs

    def __init__(self, fs: OverlayFs, upper: MemInode | None, lower: Inode | None, parent: OverlayDir | None,
                 name: bytes) -> None:
        super().__init__(fs, fs.ino_for(upper, lower))
        self.upper = upper
        self.lower = lower
        self.parent = parent
        self.name = name
        layer = upper if upper is not None else lower
        assert layer is not None
        self._kind = layer.file_type()  # (a host file's kept type: no host call)

    @property
    def layer(self) -> Inode:
        """The inode that currently answers for this entry."""
        if self.upper is not None:
            return self.upper
        assert self.lower is not None
        return self.lower

    # attributes -------------------------------------------------------------------

    def stat(self) -> Stat:
        return self.fs.as_own(self.layer.stat(), self.ino)

    @property
    def mode(self) -> int:
        return self.layer.mode

    def file_type(self) -> int:
        return self._kind

    def is_dir(self) -> bool:
        return self._kind == S_IFDIR

    def is_symlink(self) -> bool:
        return self._kind == S_IFLNK

    def is_regular(self) -> bool:
        return self._kind == S_IFREG

    def setattr(self, *, mode: int | None = None, uid: int | None = None, gid: int | None = None,
                atime_ns: int | None = None, mtime_ns: int | None = None) -> None:
        self.fs.copy_up(self).setattr(mode=mode, uid=uid, gid=gid, atime_ns=atime_ns, mtime_ns=mtime_ns)

    def truncate(self, size: int) -> None:
        if self.is_dir():
            raise LinuxError(Errno.EISDIR)
        if not self.is_regular():
            raise LinuxError(Errno.EINVAL)
        if size < 0:
            raise LinuxError(Errno.EINVAL)
        self.fs.copy_up(self, with_data=size > 0).truncate(size)

    # files ------------------------------------------------------------------------------

    def open(self, flags: int) -> File:
        writing = flags & O_ACCMODE in (O_WRONLY, O_RDWR) or bool(flags & O_TRUNC)
        if writing and self.upper is None and self.is_regular():
            # the VFS truncates through the file straight after an O_TRUNC open
            self.fs.copy_up(self, with_data=not flags & O_TRUNC)
        file = self.layer.open(flags)
        file.inode = self
        return file

    def readlink(self) -> bytes:
        return self.layer.readlink()


class OverlayDir(OverlayInode):
    """A directory of the merged tree. `lower` is the lower directory merged into it,
    or None when it has none or its upper is opaque."""

    __slots__ = ("_children",)

    def __init__(self, fs: OverlayFs, upper: MemInode | None, lower: Inode | None, parent: OverlayDir | None,
                 name: bytes) -> None:
        super().__init__(fs, upper, lower, parent, name)
        self._children: WeakValueDictionary[bytes, OverlayInode] = WeakValueDictionary()

    def open(self, flags: int) -> File:
        raise LinuxError(Errno.EISDIR)

    def stat(self) -> Stat:
        """A merged directory keeps the lower one's size and link count (what `ls -l`
        showed before the sandbox touched it); attributes come from the layer on top."""
        st = super().stat()
        if self.upper is not None and self.lower is not None:
            below = self.lower.stat()
            st = st.copy()
            st.size, st.nlink, st.blocks, st.blksize = below.size, below.nlink, below.blocks, below.blksize
        return st

    def truncate(self, size: int) -> None:
        raise LinuxError(Errno.EISDIR)

    # helpers --------------------------------------------------------------------------------

    def _upper_dir(self) -> MemDir | None:
        return self.upper if isinstance(self.upper, MemDir) else None

    def _ensure_upper(self) -> MemDir:
        upper = self.fs.copy_up(self)
        assert isinstance(upper, MemDir)
        return upper

    def _lower_has(self, name: bytes) -> bool:
        return self.lower is not None and _lookup_or_none(self.lower, name) is not None

    def _child(self, name: bytes, upper: MemInode | None, lower: Inode | None) -> OverlayInode:
        cached = self._children.get(name)
        if (cached is not None and cached.upper is upper
                and (cached.lower is None) == (lower is None)
                and (lower is None or cached.lower is not None and cached.lower.key == lower.key)):
            if lower is not None:
                cached.lower = lower
            return cached
        node = self.fs.wrap(upper, lower, self, name)
        self._children[name] = node
        return node

    def _detach(self, name: bytes, child: OverlayInode) -> None:
        if self._children.get(name) is child:
            del self._children[name]
        child.parent = None

    def _added(self, upper_dir: MemDir, name: bytes, inode: Inode) -> OverlayInode:
        assert isinstance(inode, MemInode)
        self.fs.clear_whiteout(upper_dir, name)
        # as lookup() would see it: a non-directory's lower is its origin, if any
        return self._child(name, inode, None if inode.is_dir() else self.fs.origin_of(inode))

    # reading --------------------------------------------------------------------------------

    def lookup(self, name: bytes) -> Inode:
        return self._find(name, False)[0]

    def lookup_stat(self, name: bytes) -> tuple[Inode, Stat | None]:
        return self._find(name, True)

    def _find(self, name: bytes, with_stat: bool) -> tuple[Inode, Stat | None]:
        fs = self.fs
        upper_dir = self._upper_dir()
        upper = upper_dir.children.get(name) if upper_dir is not None else None
        lower: Inode | None
        if upper is None:
            if self.lower is None or name in fs.whiteouts(upper_dir):
                raise LinuxError(Errno.ENOENT)
            if not with_stat:
                return self._child(name, None, self.lower.lookup(name)), None
            # only the lower layer has it: its attributes are the entry's, as the lower
            # filesystem saw them during the lookup (if it reports them)
            lower, seen = self.lower.lookup_stat(name)
            child = self._child(name, None, lower)
            return child, (fs.as_own(seen, child.ino) if seen is not None else None)
        assert isinstance(upper, MemInode)
        if upper.is_dir():
            lower = None
            if not fs.is_opaque(upper) and self.lower is not None:
                lower = _lookup_or_none(self.lower, name)
                if lower is not None and not lower.is_dir():
                    lower = None
        else:
            lower = fs.origin_of(upper)
        return self._child(name, upper, lower), None

    def entries(self) -> list[DirEntry]:
        fs = self.fs
        upper_dir = self._upper_dir()
        result: list[DirEntry] = []
        seen: set[bytes] = set()
        if upper_dir is not None:
            for name, child in upper_dir.children.items():
                result.append(DirEntry(name, fs.ino_for(child, None), dirent_type(child.mode)))
                seen.add(name)
        if self.lower is not None:
            hidden = fs.whiteouts(upper_dir)
            result.extend(e for e in self.lower.entries() if e.name not in seen and e.name not in hidden)
        return result

    # creating --------------------------------------------------------------------------------

    def create(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        upper_dir = self._ensure_upper()
        return self._added(upper_dir, name, upper_dir.create(name, mode, cred))

    def mkdir(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        upper_dir = self._ensure_upper()
        new = upper_dir.mkdir(name, mode, cred)
        assert isinstance(new, MemInode)
        self.fs.make_opaque(new)
        return self._added(upper_dir, name, new)

    def mknod(self, name: bytes, mode: int, rdev: int, cred: Credentials) -> Inode:
        upper_dir = self._ensure_upper()
        return self._added(upper_dir, name, upper_dir.mknod(name, mode, rdev, cred))

    def symlink(self, name: bytes, target: bytes, cred: Credentials) -> Inode:
        upper_dir = self._ensure_upper()
        return self._added(upper_dir, name, upper_dir.symlink(name, target, cred))

    def link(self, name: bytes, inode: Inode) -> None:
        if not isinstance(inode, OverlayInode) or inode.fs is not self.fs:
            raise LinuxError(Errno.EXDEV)
        if inode.is_dir():
            raise LinuxError(Errno.EPERM)
        source = self.fs.copy_up(inode)
        upper_dir = self._ensure_upper()
        upper_dir.link(name, source)
        self._added(upper_dir, name, source)

    # removing ----------------------------------------------------------------------------------

    def unlink(self, name: bytes) -> None:
        child = self.lookup(name)
        assert isinstance(child, OverlayInode)
        if child.is_dir():
            raise LinuxError(Errno.EISDIR)
        upper_dir = self._ensure_upper()
        if child.upper is not None:
            upper_dir.unlink(name)
        if self._lower_has(name):
            self.fs.add_whiteout(upper_dir, name)
        self._detach(name, child)

    def rmdir(self, name: bytes) -> None:
        child = self.lookup(name)
        assert isinstance(child, OverlayInode)
        if not child.is_dir():
            raise LinuxError(Errno.ENOTDIR)
        if child.entries():
            raise LinuxError(Errno.ENOTEMPTY)
        upper_dir = self._ensure_upper()
        if child.upper is not None:
            # the merged view is empty, so the upper directory is too
            upper_dir.rmdir(name)
        if self._lower_has(name):
            self.fs.add_whiteout(upper_dir, name)
        self._detach(name, child)

    def rename(self, name: bytes, new_dir: Inode, new_name: bytes, flags: int = 0) -> None:
        fs = self.fs
        if not isinstance(new_dir, OverlayDir) or new_dir.fs is not fs:
            raise LinuxError(Errno.EXDEV)
        source = self.lookup(name)
        assert isinstance(source, OverlayInode)
        target = _lookup_or_none(new_dir, new_name)
        assert target is None or isinstance(target, OverlayInode)
        if target is source:
            return
        if source.is_dir():
            if source.lower is not None:
                raise LinuxError(Errno.EXDEV)
            if target is not None:
                if not target.is_dir():
                    raise LinuxError(Errno.ENOTDIR)
                if target.entries():
                    raise LinuxError(Errno.ENOTEMPTY)
        elif target is not None and target.is_dir():
            raise LinuxError(Errno.EISDIR)
        moved = fs.copy_up(source)
        old_upper = self._ensure_upper()
        new_upper = new_dir._ensure_upper()
        old_in_lower = self._lower_has(name)
        old_upper.rename(name, new_upper, new_name, flags)
        if source.is_dir():
            # keep it from merging with a lower directory of the same name at its new place
            fs.make_opaque(moved)
        fs.clear_whiteout(new_upper, new_name)
        if old_in_lower:
            fs.add_whiteout(old_upper, name)
        self._detach(name, source)
        if target is not None:
            new_dir._detach(new_name, target)
        source.parent = new_dir
        source.name = new_name
        new_dir._children[new_name] = source
