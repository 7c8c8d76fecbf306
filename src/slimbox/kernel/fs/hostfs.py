"""hostfs: a host directory shown inside the sandbox.

Every access goes through the `HostDirectory` / `HostFile` objects the platform
hands over (the South interface), one name component at a time, never following a
host symlink; symlinks found on the host are shown as symlinks and the VFS resolves
their text in the sandbox's own namespace, so link text cannot reach host paths.

Key decisions:
- Inode identity is (fs.dev, host inode number): `ls -i` is stable and hard links
  compare equal. Files on a second host device under the same tree (a host mount
  point inside the exposed directory) get the device's index folded into the high
  bits of the number so two devices cannot produce the same key.
- Inodes are cheap, fresh per lookup, and remember how they were reached: the parent
  directory inode, their name in it, and their path relative to the mount root (the
  last is what `hidden` is matched against).
- Open directory handles are cached per host inode in a bounded LRU shared by the
  whole filesystem; an evicted directory is reopened from its parent by name when
  next needed, and if that name now leads to a different directory the operation
  fails with ESTALE rather than acting on the wrong one. The mount root's handle is
  held for the filesystem's lifetime. This bounds the supervisor's descriptors no
  matter how big a tree the guest walks.
- `hidden` names look absent: lookups answer ENOENT, listings leave them out, and
  creating, linking or renaming onto them answers EACCES. A directory that contains
  a hidden path cannot be renamed (EACCES), since that would move the hidden file to
  a visible name.
- New files and directories get exactly the mode asked for (the supervisor's umask
  is undone) and, where the host allows it, the caller's fsuid/fsgid as owner;
  otherwise the host's owner stands.
- Setting attributes needs the entry's parent handle, so the mount root's own
  attributes cannot be changed (EPERM).
"""

from __future__ import annotations

from _collections import OrderedDict  # the C module behind collections, whose import costs ~3 ms a run

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError, from_os_error
from slimbox.kernel.file import (
    O_ACCMODE, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, File, RegularFile,
)
from slimbox.kernel.fs.inode import (
    DT_LNK, DT_REG, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, DirEntry, FileSystem, Inode, Stat, dirent_type,
)
from slimbox.kernel.pipe import Pipe
from slimbox.platforms.base import HostDirectory, HostFile, HostStat

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable, Iterable, TypeVar

    _T = TypeVar("_T")
    from slimbox.kernel.cred import Credentials

DEFAULT_MAX_OPEN_DIRS = 256
#: where a second host device's index goes in an inode number
_DEVICE_SHIFT = 56

def _host(call: Callable[..., _T], *args) -> _T:
    """Run one host operation, reporting its failure as the Linux errno."""
    try:
        return call(*args)
    except OSError as exc:
        raise from_os_error(exc) from None


def _opened_stat(host_file: HostFile) -> HostStat:
    """The attributes of a just-opened host file: those its host handle took when it was
    opened, if it keeps them, else asked for now."""
    opened = getattr(host_file, "opened", None)
    return opened if opened is not None else _host(host_file.stat)


def normalise_hidden(paths: Iterable[bytes]) -> frozenset[bytes]:
    """Relative paths as `hidden` matches them: components joined by single slashes."""
    result = set()
    for path in paths:
        parts = [p for p in path.split(b"/") if p and p != b"."]
        if not parts or b".." in parts:
            raise ValueError(f"hidden path must be a relative path below the mount root: {path!r}")
        result.add(b"/".join(parts))
    return frozenset(result)


class HostStorage:
    """The Storage of a regular file open on the host."""

    __slots__ = ("host_file",)

    def __init__(self, host_file: HostFile) -> None:
        self.host_file = host_file

    # read_at and write_at are _host written out: they run for every read and write
    def read_at(self, offset: int, length: int) -> bytes:
        try:
            return self.host_file.pread(length, offset)
        except OSError as exc:
            raise from_os_error(exc) from None

    def write_at(self, offset: int, data: bytes) -> int:
        try:
            return self.host_file.pwrite(data, offset)
        except OSError as exc:
            raise from_os_error(exc) from None

    def size(self) -> int:
        return _host(self.host_file.stat).size

    def truncate(self, size: int) -> None:
        if size < 0:
            raise LinuxError(Errno.EINVAL)
        _host(self.host_file.truncate, size)

    def sync(self) -> None:
        _host(self.host_file.sync)

    def close(self) -> None:
        _host(self.host_file.close)


class HostFs(FileSystem):
    """A host directory tree; `readonly` refuses every change with EROFS before the
    host is asked, and `hidden` lists relative paths that must look absent."""

    fstype = "hostfs"

    def __init__(self, dev: int, clock: Callable[[], int], root: HostDirectory, *, readonly: bool = False,
                 hidden: Iterable[bytes] = (), max_open_dirs: int = DEFAULT_MAX_OPEN_DIRS) -> None:
        super().__init__(dev, clock, readonly)
        if max_open_dirs < 2:
            raise ValueError("max_open_dirs must be at least 2")
        self.hidden = normalise_hidden(hidden)
        self._fifos: dict[int, Pipe] = {}
        self._max_open_dirs = max_open_dirs
        self._root_dir = root
        self._open_dirs: OrderedDict[int, HostDirectory] = OrderedDict()
        #: the handle of the file created last, until the open that follows its creation
        #: takes it (at most one is held)
        self._created: tuple[HostInode, HostFile] | None = None
        root_stat = _host(root.stat)
        if root_stat.mode & S_IFMT != S_IFDIR:
            raise LinuxError(Errno.ENOTDIR)
        self._devices: dict[int, int] = {root_stat.dev: 0}
        self.root = HostDirInode(self, self.ino_of(root_stat), None, b"", b"", S_IFDIR)

    # --- identity and attributes ------------------------------------------------

    def ino_of(self, st: HostStat) -> int:
        return self.ino_on(st.dev, st.ino)

    def ino_on(self, dev: int, ino: int) -> int:
        index = self._devices.setdefault(dev, len(self._devices))
        return ino if index == 0 else ino ^ (index << _DEVICE_SHIFT)

    def to_stat(self, st: HostStat) -> Stat:
        return Stat(self.dev, self.ino_of(st), st.mode, st.nlink, st.uid, st.gid, st.rdev, st.size,
                    st.blksize, st.blocks, st.atime_ns, st.mtime_ns, st.ctime_ns)

    def make_inode(self, st: HostStat, parent: HostDirInode, name: bytes) -> HostInode:
        rel = name if not parent.rel else parent.rel + b"/" + name
        kind = st.mode & S_IFMT
        index = self._devices.get(st.dev)
        ino = st.ino if index == 0 else self.ino_on(st.dev, st.ino)  # (ino_of, its usual case inline)
        return _INODE_CLASSES.get(kind, HostOtherInode)(self, ino, parent, name, rel, kind)

    def is_hidden(self, rel: bytes) -> bool:
        return rel in self.hidden

    def contains_hidden(self, rel: bytes) -> bool:
        """Whether a hidden path lies strictly below `rel`."""
        prefix = rel + b"/"
        return any(path.startswith(prefix) for path in self.hidden)

    # --- directory handles ---------------------------------------------------------

    def directory(self, inode: HostDirInode) -> HostDirectory:
        if inode.parent is None:
            return self._root_dir
        cached = self._open_dirs.get(inode.ino)
        if cached is not None:  # the usual case, taken without building the walk's lists
            self._open_dirs.move_to_end(inode.ino)
            return cached
        return self._resolve(inode, set())

    def directories(self, *inodes: HostDirInode) -> list[HostDirectory]:
        """Open handles for each directory; handles obtained earlier in the same call
        are kept open while later ones are fetched, since the caller needs them all."""
        pinned: set[int] = set()
        handles = []
        for inode in inodes:
            handles.append(self._resolve(inode, pinned))
            pinned.add(inode.ino)
        return handles

    def _resolve(self, inode: HostDirInode, pinned: set[int]) -> HostDirectory:
        # Walk up to the nearest ancestor with a handle (the root always has one), then
        # reopen downwards; iterative because guest trees can be thousands deep.
        missing: list[HostDirInode] = []
        node: HostDirInode | None = inode
        while True:
            assert node is not None
            if node.parent is None:
                handle = self._root_dir
                break
            cached = self._open_dirs.get(node.ino)
            if cached is not None:
                self._open_dirs.move_to_end(node.ino)
                handle = cached
                break
            missing.append(node)
            node = node.parent
        for node in reversed(missing):
            sub = _host(handle.subdir, node.name)
            try:
                if self.ino_of(_host(sub.stat)) != node.ino:
                    raise LinuxError(Errno.ESTALE)
            except BaseException:
                sub.close()
                raise
            self._remember(node.ino, sub, pinned)
            handle = sub
        return handle

    def _remember(self, ino: int, handle: HostDirectory, pinned: set[int]) -> None:
        old = self._open_dirs.pop(ino, None)
        if old is not None and old is not handle:
            old.close()
        self._open_dirs[ino] = handle
        if len(self._open_dirs) <= self._max_open_dirs:
            return
        for victim in list(self._open_dirs):
            if len(self._open_dirs) <= self._max_open_dirs:
                break
            if victim == ino or victim in pinned:
                continue
            self._open_dirs.pop(victim).close()

    def forget_directory(self, ino: int) -> None:
        handle = self._open_dirs.pop(ino, None)
        if handle is not None:
            handle.close()

    def keep_created(self, inode: HostInode, host_file: HostFile) -> None:
        self._drop_created()
        self._created = (inode, host_file)

    def take_created(self, inode: HostInode) -> HostFile | None:
        """The handle `create` opened for `inode`, if that is still unclaimed."""
        created = self._created
        if created is None or created[0] is not inode:
            return None
        self._created = None
        return created[1]

    def _drop_created(self) -> None:
        if self._created is not None:
            _, host_file = self._created
            self._created = None
            host_file.close()

    def fifo(self, ino: int) -> Pipe:
        """The sandbox's pipe for the host FIFO with inode number `ino`."""
        pipe = self._fifos.get(ino)
        if pipe is None:
            pipe = self._fifos[ino] = Pipe()
        return pipe

    @property
    def open_directory_count(self) -> int:
        """Directory handles held besides the root's (for tests and diagnostics)."""
        return len(self._open_dirs)

    def close(self) -> None:
        """Release every host handle, the root's included (the filesystem owns it)."""
        self._drop_created()
        while self._open_dirs:
            self._open_dirs.popitem()[1].close()
        self._root_dir.close()


class HostInode(Inode):
    """A host file reached as `name` in `parent`; `rel` is its path below the mount
    root. The file type never changes for an inode, so it is kept to spare a host
    call on every type test during path walks."""

    __slots__ = ("parent", "name", "rel", "kind")
    fs: HostFs

    def __init__(self, fs: HostFs, ino: int, parent: HostDirInode | None, name: bytes, rel: bytes,
                 kind: int) -> None:
        self.fs = fs  # (Inode.__init__'s two fields, set here: one call fewer per lookup)
        self.ino = ino
        self.parent = parent
        self.name = name
        self.rel = rel
        self.kind = kind

    def file_type(self) -> int:
        return self.kind

    def is_dir(self) -> bool:
        return self.kind == S_IFDIR

    def is_symlink(self) -> bool:
        return self.kind == S_IFLNK

    def is_regular(self) -> bool:
        return self.kind == S_IFREG

    def parent_directory(self) -> HostDirectory:
        if self.parent is None:
            raise LinuxError(Errno.EPERM)
        return self.fs.directory(self.parent)

    def host_stat(self) -> HostStat:
        return _host(self.parent_directory().lookup, self.name)

    def stat(self) -> Stat:
        return self.fs.to_stat(self.host_stat())

    def setattr(self, *, mode: int | None = None, uid: int | None = None, gid: int | None = None,
                atime_ns: int | None = None, mtime_ns: int | None = None) -> None:
        self.fs.check_writable()
        directory = self.parent_directory()
        # chown first: the host clears set-id bits on chown, and a mode given alongside
        # (the VFS passes one when it wants them cleared) must be the last word
        if uid is not None or gid is not None:
            _host(directory.chown, self.name, -1 if uid is None else uid, -1 if gid is None else gid)
        if mode is not None:
            if self.kind == S_IFLNK:
                raise LinuxError(Errno.EOPNOTSUPP)
            _host(directory.chmod, self.name, mode & 0o7777)
        if atime_ns is not None or mtime_ns is not None:
            _host(directory.set_times, self.name, atime_ns, mtime_ns)


class HostFileInode(HostInode):
    """A regular host file. The copy handed to an open file is bound to its host
    handle, so fstat keeps working after the name is renamed or unlinked."""

    __slots__ = ("host_file",)

    def __init__(self, fs: HostFs, ino: int, parent: HostDirInode | None, name: bytes, rel: bytes,
                 kind: int = S_IFREG, host_file: HostFile | None = None) -> None:
        super().__init__(fs, ino, parent, name, rel, kind)
        self.host_file = host_file

    def host_stat(self) -> HostStat:
        if self.host_file is not None:
            try:
                return self.host_file.stat()
            except OSError:
                pass  # closed already: fall back to the name
        return super().host_stat()

    def open(self, flags: int) -> File:
        accmode = flags & O_ACCMODE
        writing = accmode in (O_WRONLY, O_RDWR) or bool(flags & O_TRUNC)
        if writing:
            self.fs.check_writable()
        # O_TRUNC is carried out by the VFS through the file, which needs a writable
        # host handle even when the guest asked for O_RDONLY
        host_flags = O_RDWR if accmode == O_RDONLY and flags & O_TRUNC else accmode
        host_file = self.fs.take_created(self)
        if host_file is None:
            host_file = _host(self.parent_directory().open_file, self.name, host_flags, 0)
            try:
                if self.fs.ino_of(_opened_stat(host_file)) != self.ino:
                    raise LinuxError(Errno.ESTALE)
            except BaseException:
                host_file.close()
                raise
        bound = HostFileInode(self.fs, self.ino, self.parent, self.name, self.rel, self.kind, host_file)
        return RegularFile(flags, None, bound, HostStorage(host_file))

    def truncate(self, size: int) -> None:
        self.fs.check_writable()
        if size < 0:
            raise LinuxError(Errno.EINVAL)
        host_file = _host(self.parent_directory().open_file, self.name, O_WRONLY, 0)
        try:
            _host(host_file.truncate, size)
        finally:
            host_file.close()


class HostSymlinkInode(HostInode):
    __slots__ = ()

    def readlink(self) -> bytes:
        return _host(self.parent_directory().readlink, self.name)


class HostOtherInode(HostInode):
    """A host device, FIFO or socket: listed with its real attributes. Devices and
    sockets never open; a FIFO opens as a pipe kept by the sandbox (one per host
    inode), so sandbox processes meet through it while the host's never take part."""

    __slots__ = ()

    def open(self, flags: int) -> File:
        if self.kind != S_IFIFO:
            raise LinuxError(Errno.EACCES)
        return self.fs.fifo(self.ino).open_fifo(flags, self)


class HostDirInode(HostInode):
    __slots__ = ()
    # the host answers both: creation is O_CREAT|O_EXCL, unlink is unlinkat's own checks
    create_is_exclusive = True
    unlink_checks_entry = True

    def handle(self) -> HostDirectory:
        return self.fs.directory(self)

    def host_stat(self) -> HostStat:
        # through its own handle: right even if the directory was renamed meanwhile
        return _host(self.handle().stat)

    def open(self, flags: int) -> File:
        raise LinuxError(Errno.EISDIR)

    def _child_rel(self, name: bytes) -> bytes:
        return name if not self.rel else self.rel + b"/" + name

    def _visible(self, name: bytes) -> None:
        if self.fs.hidden and self.fs.is_hidden(self._child_rel(name)):
            raise LinuxError(Errno.ENOENT)

    def _may_create(self, name: bytes) -> HostDirectory:
        self.fs.check_writable()
        if self.fs.hidden and self.fs.is_hidden(self._child_rel(name)):
            raise LinuxError(Errno.EACCES)
        return self.handle()

    # --- reading ------------------------------------------------------------------

    def lookup(self, name: bytes) -> Inode:
        return self.fs.make_inode(self._lookup_host(name), self, name)

    def lookup_stat(self, name: bytes) -> tuple[Inode, Stat | None]:
        st = self._lookup_host(name)
        return self.fs.make_inode(st, self, name), self.fs.to_stat(st)

    def _lookup_host(self, name: bytes) -> HostStat:
        self._visible(name)
        try:
            return self.fs.directory(self).lookup(name)
        except OSError as exc:
            raise from_os_error(exc) from None

    def entries(self) -> list[DirEntry]:
        directory = self.handle()
        fs = self.fs
        hidden = fs.hidden
        result = []
        append = result.append
        # the listing's own number and type for files and symlinks, as readdir gives
        # them on Linux (a file mounted over one shows the one below there too); all
        # are on the listed directory's device, whose number is worked out once
        ino_here: int | None = None
        for name, ino, kind in _host(directory.list):
            if hidden and fs.is_hidden(self._child_rel(name)):
                continue
            if kind == S_IFREG or kind == S_IFLNK:
                if ino_here is None:
                    ino_here = fs.ino_on(_host(directory.stat).dev, 0)
                append(DirEntry(name, ino ^ ino_here, DT_REG if kind == S_IFREG else DT_LNK))
                continue
            try:  # directories are asked one by one: one may be a mount point
                st = directory.lookup(name)
            except OSError:
                continue  # removed on the host since it was listed
            append(DirEntry(name, fs.ino_of(st), dirent_type(st.mode)))
        return result

    # --- changing -------------------------------------------------------------------

    def _settle_new(self, directory: HostDirectory, name: bytes, mode: int | None,
                    cred: Credentials, st: HostStat | None = None) -> HostStat:
        """Give a new entry the caller's owner and exactly `mode`; `st` is what it has
        (looked up by name when not given); returns its attributes afterwards."""
        if st is None:
            st = _host(directory.lookup, name)
        changed = False
        if (st.uid, st.gid) != (cred.fsuid, cred.fsgid):
            try:
                directory.chown(name, cred.fsuid, cred.fsgid)
                changed = True
            except OSError:
                pass  # an unprivileged supervisor cannot give files away; the host owner stands
        if mode is not None and st.mode & 0o7777 != mode & 0o7777:
            _host(directory.chmod, name, mode & 0o7777)
            changed = True
        return _host(directory.lookup, name) if changed else st

    def create(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        directory = self._may_create(name)
        # Opened for reading and writing (the creating open may, whatever `mode` says) and
        # kept for the open that follows creation, so a new file costs one host open
        host_file = _host(directory.open_file, name, O_CREAT | O_EXCL | O_RDWR, mode & 0o7777)
        try:
            st = self._settle_new(directory, name, mode, cred, _opened_stat(host_file))
            inode = self.fs.make_inode(st, self, name)
        except BaseException:
            host_file.close()
            raise
        self.fs.keep_created(inode, host_file)
        return inode

    def mkdir(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        directory = self._may_create(name)
        _host(directory.mkdir, name, mode & 0o7777)
        return self.fs.make_inode(self._settle_new(directory, name, mode, cred), self, name)

    def mknod(self, name: bytes, mode: int, rdev: int, cred: Credentials) -> Inode:
        if mode & S_IFMT != S_IFIFO:
            raise LinuxError(Errno.EPERM)  # no host device or socket nodes from the sandbox
        directory = self._may_create(name)
        _host(directory.mkfifo, name, mode & 0o7777)
        return self.fs.make_inode(self._settle_new(directory, name, mode, cred), self, name)

    def symlink(self, name: bytes, target: bytes, cred: Credentials) -> Inode:
        directory = self._may_create(name)
        _host(directory.symlink, target, name)
        return self.fs.make_inode(self._settle_new(directory, name, None, cred), self, name)

    def link(self, name: bytes, inode: Inode) -> None:
        self._may_create(name)
        if not isinstance(inode, HostInode) or inode.fs is not self.fs:
            raise LinuxError(Errno.EXDEV)
        if inode.is_dir() or inode.parent is None:
            raise LinuxError(Errno.EPERM)
        source_dir, target_dir = self.fs.directories(inode.parent, self)
        _host(source_dir.link, inode.name, target_dir, name)

    def unlink(self, name: bytes) -> None:
        self.fs.check_writable()
        self._visible(name)
        _host(self.handle().unlink, name)

    def rmdir(self, name: bytes) -> None:
        self.fs.check_writable()
        self._visible(name)
        directory = self.handle()
        st = _host(directory.lookup, name)
        _host(directory.rmdir, name)
        self.fs.forget_directory(self.fs.ino_of(st))

    def rename(self, name: bytes, new_dir: Inode, new_name: bytes, flags: int = 0) -> None:
        self.fs.check_writable()
        if not isinstance(new_dir, HostDirInode) or new_dir.fs is not self.fs:
            raise LinuxError(Errno.EXDEV)
        self._visible(name)
        source_rel = self._child_rel(name)
        target_rel = new_dir._child_rel(new_name)
        if self.fs.is_hidden(target_rel) or self.fs.contains_hidden(source_rel):
            raise LinuxError(Errno.EACCES)
        source_dir, target_dir = self.fs.directories(self, new_dir)
        try:
            replaced: HostStat | None = target_dir.lookup(new_name)
        except OSError:
            replaced = None
        _host(source_dir.rename, name, target_dir, new_name)
        if replaced is not None and replaced.mode & S_IFMT == S_IFDIR:
            # its number may be reused by the host for a new directory
            self.fs.forget_directory(self.fs.ino_of(replaced))


#: the inode class for each host file type (any other type: HostOtherInode)
_INODE_CLASSES: dict[int, type[HostInode]] = {S_IFREG: HostFileInode, S_IFDIR: HostDirInode, S_IFLNK: HostSymlinkInode}
