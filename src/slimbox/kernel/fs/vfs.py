"""The VFS: mounts, the path walk, and the file operations of the North API.

Paths are walked here, one component at a time, in sandbox terms: '..', symlinks
(at most 40 per walk) and mount crossings are all resolved by this code and never
handed to a host. A `PathNode` is a resolved location: the mount, the inode, the
name it was reached by and the node it was reached from, which is what '..' and
getcwd use.
"""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.cred import MAY_EXEC, MAY_READ, MAY_WRITE, Credentials, check_permission, permitted
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import (
    O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_TMPFILE, O_TRUNC,
    O_WRONLY, DirectoryFile, File, PathFile,
)
from slimbox.kernel.fs.inode import S_IFDIR, S_IFMT, FileSystem, Inode, Stat
from slimbox.kernel.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Iterator

MAX_SYMLINKS = 40
#: walks remembered at most (all are forgotten when the table is full)
_WALK_CACHE_SIZE = 256
PATH_MAX = 4096
NAME_MAX = 255

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


class Mount:
    __slots__ = ("fs", "root", "parent", "mountpoint", "readonly", "source", "options")

    def __init__(self, fs: FileSystem, root: Inode, parent: Mount | None, mountpoint: PathNode | None,
                 readonly: bool, source: str, options: str = "") -> None:
        self.fs = fs
        self.root = root
        self.parent = parent
        self.mountpoint = mountpoint
        self.readonly = readonly
        self.source = source
        self.options = options


class PathNode:
    __slots__ = ("mount", "inode", "name", "parent")

    def __init__(self, mount: Mount, inode: Inode, name: bytes, parent: PathNode | None) -> None:
        self.mount = mount
        self.inode = inode
        self.name = name
        self.parent = parent

    def same(self, other: PathNode) -> bool:
        return self.mount is other.mount and self.inode.key == other.inode.key

    def full_path(self, root: PathNode | None = None) -> bytes:
        """The absolute path of this node, as seen from `root` (default: the VFS root)."""
        names = []
        node: PathNode | None = self
        while node is not None and not (root is not None and node.same(root)):
            if node.parent is None:
                break
            names.append(node.name)
            node = node.parent
        if root is not None and node is None:
            return b"(unreachable)/" + b"/".join(reversed(names))
        return b"/" + b"/".join(reversed(names))

    def __repr__(self) -> str:
        return f"PathNode({self.full_path()!r})"


class FsContext(Record):
    """A process's view of the filesystem: root, working directory, umask."""

    __slots__ = ("root", "cwd", "umask")

    def __init__(self, root: PathNode, cwd: PathNode, umask: int = 0o022) -> None:
        self.root = root
        self.cwd = cwd
        self.umask = umask

    def copy(self) -> FsContext:
        return FsContext(self.root, self.cwd, self.umask)


def _check_name(name: bytes) -> None:
    if len(name) > NAME_MAX:
        raise LinuxError(Errno.ENAMETOOLONG)


class Vfs:
    def __init__(self, root_fs: FileSystem, root_inode: Inode, source: str = "rootfs") -> None:
        self.root_mount = Mount(root_fs, root_inode, None, None, root_fs.readonly, source)
        self.root = PathNode(self.root_mount, root_inode, b"", None)
        self._mounts: dict[tuple[int, tuple[int, int]], Mount] = {}
        #: (start node, the directory part of a path) -> the deepest node a root walk of it
        #: reached through cacheable directories only, how many names that took, and
        #: whether that was all of them (then a walk takes the node as it is). A
        #: step is remembered only when the name was found as a directory whose entries
        #: change through this VFS alone (memfs), never a host's, so the step is either
        #: that directory or the root of what is mounted on it; every change that could
        #: move or remove one (mount, rename, rmdir, unlink in such a directory) empties
        #: the cache.
        self._walks: dict[tuple[PathNode, bytes], tuple[PathNode, int, bool]] = {}
        #: ids of the mounts something is mounted inside: a walk through any other
        #: mount has nothing to cross, which spares a key lookup per component
        self._mounted_in: set[int] = set()
        self.mounts: list[Mount] = [self.root_mount]

    # --- mounts ---------------------------------------------------------------------

    def mount(self, fs: FileSystem, root: Inode, at: PathNode, *, readonly: bool = False,
              source: str = "none", options: str = "") -> Mount:
        if not at.inode.is_dir():
            raise LinuxError(Errno.ENOTDIR)
        mount = Mount(fs, root, at.mount, at, readonly or fs.readonly, source, options)
        self._walks.clear()
        self._mounts[(id(at.mount), at.inode.key)] = mount
        self._mounted_in.add(id(at.mount))
        self.mounts.append(mount)
        return mount

    def _cross(self, node: PathNode) -> PathNode:
        if id(node.mount) not in self._mounted_in:
            return node
        while True:
            mount = self._mounts.get((id(node.mount), node.inode.key))
            if mount is None:
                return node
            node = PathNode(mount, mount.root, node.name, node.parent)

    def is_mountpoint(self, node: PathNode) -> bool:
        """Whether `node` is where a mount sits: the root of a mounted filesystem (as
        the walk leaves it, after crossing) or a directory something is mounted on."""
        if node.parent is None or (id(node.mount), node.inode.key) in self._mounts:
            return True
        return node.mount.mountpoint is not None and node.inode.key == node.mount.root.key

    def mount_path(self, mount: Mount) -> bytes:
        return mount.mountpoint.full_path() if mount.mountpoint is not None else b"/"

    # --- the walk -------------------------------------------------------------------

    def resolve(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes, *,
                follow: bool = True) -> PathNode:
        node, name, trailing = self._walk_parent(ctx, cred, start, path, [0])
        if name is None:
            return node
        return self._step(ctx, cred, node, name, follow or trailing, trailing, [0])

    def resolve_parent(self, ctx: FsContext, cred: Credentials, start: PathNode,
                       path: bytes) -> tuple[PathNode, bytes | None, bool]:
        """The directory that holds the last component, that component (None if the
        path ends in '.', '..' or is '/'), and whether the path had a trailing slash."""
        return self._walk_parent(ctx, cred, start, path, [0])

    def _walk_parent(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes,
                     links: list[int]) -> tuple[PathNode, bytes | None, bool]:
        if not path:
            raise LinuxError(Errno.ENOENT)
        if len(path) >= PATH_MAX:
            raise LinuxError(Errno.ENAMETOOLONG)
        # path[i] == 47 ("/"): an int comparison, several times cheaper than startswith
        node = ctx.root if path[0] == 47 else start
        trailing = path[-1] == 47
        walks = self._walks
        if cred.fsuid == 0 and not trailing:
            # every directory on the way remembered (see below): no split, no loop
            slash = path.rfind(b"/")
            if slash > 0:
                known = walks.get((node, path[:slash]))
                if known is not None and known[2]:
                    last = path[slash + 1:]
                    if last != b"." and last != b"..":
                        node = known[0]
                        self._search(cred, node)
                        return node, last, False
        parts = [p for p in path.split(b"/") if p]
        if not parts:
            return node, None, trailing
        last = parts.pop()
        # _step, inlined for the directories on the way (the bulk of every path walk):
        # same checks in the same order, without a call per check
        as_root = cred.fsuid == 0
        mounted_in = self._mounted_in
        key = None
        done = 0
        if as_root and parts and not trailing:
            key = (node, path[:path.rfind(b"/")])  # names exactly the directories on the way
            known = walks.get(key)
            if known is not None:
                node, done, _ = known
        deepest = done  # how many of the parts lead through cacheable directories only
        for index in range(done, len(parts)):
            part = parts[index]
            inode = node.inode
            if not inode.is_dir():
                raise LinuxError(Errno.ENOTDIR)
            if not as_root:
                self._search(cred, node)
            if part == b"." or part == b"..":
                if part == b".." and not (node.same(ctx.root) or node.parent is None):
                    node = node.parent
                continue
            if len(part) > NAME_MAX:
                raise LinuxError(Errno.ENAMETOOLONG)
            found = inode.lookup(part)
            child = PathNode(node.mount, found, part, node)
            if id(node.mount) in mounted_in:
                child = self._cross(child)  # (a mount root: kept as one object too)
            if child.inode.is_symlink():
                child = self._follow(ctx, cred, node, child, links)
            elif deepest == index and found.walk_cacheable:
                deepest = index + 1
            if not child.inode.is_dir():
                raise LinuxError(Errno.ENOTDIR)
            node = child
            if deepest == index + 1:
                reached = node
        if key is not None and deepest > done:
            if len(walks) >= _WALK_CACHE_SIZE:
                walks.clear()
            walks[key] = (reached, deepest, deepest == len(parts))
        if last in (b".", b".."):
            node = self._step(ctx, cred, node, last, True, True, links)
            return node, None, trailing
        self._search(cred, node)
        return node, last, trailing

    def _search(self, cred: Credentials, node: PathNode) -> None:
        inode = node.inode
        if not inode.is_dir():
            raise LinuxError(Errno.ENOTDIR)
        if cred.fsuid == 0:
            return  # root may search every directory: no attributes to fetch
        st = inode.stat()
        if not permitted(cred, st.mode, st.uid, st.gid, MAY_EXEC):
            raise LinuxError(Errno.EACCES)

    def _step(self, ctx: FsContext, cred: Credentials, node: PathNode, name: bytes, follow: bool,
              must_be_dir: bool, links: list[int]) -> PathNode:
        self._search(cred, node)
        if name == b".":
            return node
        if name == b"..":
            if node.same(ctx.root) or node.parent is None:
                return node
            return node.parent
        _check_name(name)
        return self._enter(ctx, cred, node, name, node.inode.lookup(name), follow, must_be_dir, links)

    def _enter(self, ctx: FsContext, cred: Credentials, node: PathNode, name: bytes, inode: Inode,
               follow: bool, must_be_dir: bool, links: list[int]) -> PathNode:
        """The step from directory `node` to its entry `name`, found as `inode`: mounts
        crossed, a symlink followed when asked."""
        child = self._cross(PathNode(node.mount, inode, name, node))
        if follow and child.inode.is_symlink():
            child = self._follow(ctx, cred, node, child, links)
        if must_be_dir and not child.inode.is_dir():
            raise LinuxError(Errno.ENOTDIR)
        return child

    def _follow(self, ctx: FsContext, cred: Credentials, node: PathNode, link: PathNode,
                links: list[int]) -> PathNode:
        """Where the symlink `link`, an entry of directory `node`, leads."""
        links[0] += 1
        if links[0] > MAX_SYMLINKS:
            raise LinuxError(Errno.ELOOP)
        inode = link.inode.jump()
        if inode is not None:
            return PathNode(link.mount, inode, link.name, node)
        target = link.inode.readlink()
        parent, last, trailing = self._walk_parent(ctx, cred, node, target, links)
        if last is None:
            return parent
        return self._step(ctx, cred, parent, last, True, trailing, links)

    def _lookup_child(self, parent: PathNode, name: bytes) -> PathNode | None:
        try:
            inode = parent.inode.lookup(name)
        except LinuxError as exc:
            if exc.errno == Errno.ENOENT:
                return None
            raise
        return self._cross(PathNode(parent.mount, inode, name, parent))

    def _changing(self, directory: PathNode) -> None:
        """An entry of `directory` is about to be removed or replaced: remembered walks
        through it may no longer hold."""
        if directory.inode.walk_cacheable:
            self._walks.clear()

    # --- permission helpers ----------------------------------------------------------

    @staticmethod
    def check_access(cred: Credentials, inode: Inode, want: int) -> None:
        if cred.fsuid == 0 and (not want & MAY_EXEC or inode.is_dir()):
            return  # granted to root whatever the mode (see cred.permitted): no stat needed
        st = inode.stat()
        check_permission(cred, st.mode, st.uid, st.gid, want)

    @staticmethod
    def _writable_mount(node: PathNode) -> None:
        if node.mount.readonly:
            raise LinuxError(Errno.EROFS)

    def _may_modify_dir(self, cred: Credentials, parent: PathNode) -> None:
        self._writable_mount(parent)
        self.check_access(cred, parent.inode, MAY_WRITE | MAY_EXEC)

    def _may_delete(self, cred: Credentials, parent: PathNode, child: Inode) -> None:
        self._may_modify_dir(cred, parent)
        if cred.is_root:
            return  # the sticky bit does not bind root
        st = parent.inode.stat()
        if st.mode & 0o1000:  # sticky directory
            if cred.fsuid not in (st.uid, child.stat().uid):
                raise LinuxError(Errno.EPERM)

    # --- operations --------------------------------------------------------------------

    def open(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes, flags: int,
             mode: int = 0) -> File:
        if flags & O_TMPFILE == O_TMPFILE:
            raise LinuxError(Errno.EOPNOTSUPP)
        if flags & O_PATH:
            node = self.resolve(ctx, cred, start, path, follow=not flags & O_NOFOLLOW)
            if flags & O_DIRECTORY and not node.inode.is_dir():
                raise LinuxError(Errno.ENOTDIR)
            return PathFile(flags, node)
        created = False
        if flags & O_CREAT:
            node, created = self._open_create(ctx, cred, start, path, flags, mode)
        else:
            node = self.resolve(ctx, cred, start, path, follow=not flags & O_NOFOLLOW)
        inode = node.inode
        if inode.is_symlink():
            raise LinuxError(Errno.ELOOP)
        accmode = flags & O_ACCMODE
        if inode.is_dir():
            if accmode != O_RDONLY or flags & (O_CREAT | O_TRUNC):
                raise LinuxError(Errno.EISDIR)
            self.check_access(cred, inode, MAY_READ)
            return DirectoryFile(flags, node)
        if flags & O_DIRECTORY:
            raise LinuxError(Errno.ENOTDIR)
        # access mode 3 asks for neither reading nor writing, but needs both permissions
        writing = accmode in (O_WRONLY, O_RDWR, O_ACCMODE) or bool(flags & O_TRUNC)
        if not created:
            want = (MAY_READ if accmode in (O_RDONLY, O_RDWR, O_ACCMODE) else 0) | (MAY_WRITE if writing else 0)
            self.check_access(cred, inode, want)
        if writing and inode.is_regular():
            self._writable_mount(node)
        file = inode.open(flags)
        if not inode.pathless:
            file.path = node
        if flags & O_TRUNC and inode.is_regular() and not created:
            file.truncate(0)
        return file

    def _open_create(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes, flags: int,
                     mode: int) -> tuple[PathNode, bool]:
        parent, name, trailing = self.resolve_parent(ctx, cred, start, path)
        if name is None or trailing:
            raise LinuxError(Errno.EISDIR)
        if cred.fsuid == 0 and parent.inode.create_is_exclusive and not parent.mount.readonly:
            # root may create in any directory of a writable mount (what _may_modify_dir
            # checks), so a new name costs one step, not a failed lookup and then a create
            _check_name(name)
            try:
                inode = parent.inode.create(name, (mode & 0o7777) & ~ctx.umask, cred)
                return PathNode(parent.mount, inode, name, parent), True
            except LinuxError as exc:
                if exc.errno != Errno.EEXIST:
                    raise
        for _ in range(MAX_SYMLINKS):
            _check_name(name)
            existing = self._lookup_child(parent, name)
            if existing is None:
                self._may_modify_dir(cred, parent)
                inode = parent.inode.create(name, (mode & 0o7777) & ~ctx.umask, cred)
                return PathNode(parent.mount, inode, name, parent), True
            if flags & O_EXCL:
                raise LinuxError(Errno.EEXIST)
            if not existing.inode.is_symlink() or flags & O_NOFOLLOW:
                return existing, False
            jumped = existing.inode.jump()
            if jumped is not None:
                return PathNode(parent.mount, jumped, name, parent), False
            # O_CREAT follows a symlink, creating its target if that is missing
            parent, name, trailing = self.resolve_parent(ctx, cred, parent, existing.inode.readlink())
            if name is None or trailing:
                return self.resolve(ctx, cred, parent, b"."), False
        raise LinuxError(Errno.ELOOP)

    def stat(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes, *,
             follow: bool = True) -> Stat:
        parent, name, trailing = self._walk_parent(ctx, cred, start, path, [0])
        if name is None:
            return parent.inode.stat()
        _check_name(name)
        # the attributes the lookup itself saw, when the filesystem reports them (a host
        # directory does: that spares asking the host a second time for the same file)
        inode, seen = parent.inode.lookup_stat(name)
        if (seen is not None and not trailing and id(parent.mount) not in self._mounted_in
                and not (follow and inode.is_symlink())):
            return seen  # no mount to cross, no link to follow: what the lookup saw is the answer
        node = self._enter(ctx, cred, parent, name, inode, follow or trailing, trailing, [0])
        if seen is not None and node.inode is inode:
            return seen
        return node.inode.stat()

    def _new_name(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes, *,
                  directory: bool = False) -> tuple[PathNode, bytes]:
        """The directory and name for a new entry at `path`: EEXIST if something is there;
        a trailing slash is only for directories (ENOENT otherwise, as Linux says)."""
        parent, name, trailing = self.resolve_parent(ctx, cred, start, path)
        if name is None:
            raise LinuxError(Errno.EEXIST)
        _check_name(name)
        if self._lookup_child(parent, name) is not None:
            raise LinuxError(Errno.EEXIST)
        if trailing and not directory:
            raise LinuxError(Errno.ENOENT)
        return parent, name

    def mkdir(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes, mode: int) -> None:
        parent, name = self._new_name(ctx, cred, start, path, directory=True)
        self._may_modify_dir(cred, parent)
        parent.inode.mkdir(name, (mode & 0o7777) & ~ctx.umask, cred)

    def mknod(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes, mode: int,
              rdev: int) -> None:
        parent, name = self._new_name(ctx, cred, start, path)
        self._may_modify_dir(cred, parent)
        if mode & S_IFMT == S_IFDIR:
            raise LinuxError(Errno.EPERM)
        parent.inode.mknod(name, (mode & S_IFMT) | ((mode & 0o7777) & ~ctx.umask), rdev, cred)

    def symlink(self, ctx: FsContext, cred: Credentials, target: bytes, start: PathNode, path: bytes) -> None:
        if not target:
            raise LinuxError(Errno.ENOENT)
        if len(target) >= PATH_MAX:
            raise LinuxError(Errno.ENAMETOOLONG)
        parent, name = self._new_name(ctx, cred, start, path)
        self._may_modify_dir(cred, parent)
        parent.inode.symlink(name, target, cred)

    def readlink(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes) -> bytes:
        node = self.resolve(ctx, cred, start, path, follow=False)
        return node.inode.readlink()

    def link(self, ctx: FsContext, cred: Credentials, old_start: PathNode, old_path: bytes,
             new_start: PathNode, new_path: bytes, *, follow: bool = False) -> None:
        source = self.resolve(ctx, cred, old_start, old_path, follow=follow)
        self.link_node(ctx, cred, source, new_start, new_path)

    def link_node(self, ctx: FsContext, cred: Credentials, source: PathNode, new_start: PathNode,
                  new_path: bytes) -> None:
        """A new name for the file at `source` (link, and linkat with AT_EMPTY_PATH)."""
        if source.inode.is_dir():
            raise LinuxError(Errno.EPERM)
        parent, name = self._new_name(ctx, cred, new_start, new_path)
        self._writable_mount(parent)  # Linux asks for write access to the mount before comparing mounts
        if parent.mount is not source.mount:
            raise LinuxError(Errno.EXDEV)
        self._may_modify_dir(cred, parent)
        parent.inode.link(name, source.inode)

    def unlink(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes) -> None:
        parent, name, trailing = self.resolve_parent(ctx, cred, start, path)
        if name is None:
            raise LinuxError(Errno.EISDIR)
        if not trailing and cred.fsuid == 0 and parent.inode.unlink_checks_entry and not parent.mount.readonly:
            # _may_delete grants root everything on a writable mount and the directory
            # finds ENOENT and EISDIR itself: the lookup below would only repeat them
            self._changing(parent)
            parent.inode.unlink(name)
            return
        child = self._lookup_child(parent, name)
        if child is None:
            raise LinuxError(Errno.ENOENT)
        if child.inode.is_dir():
            raise LinuxError(Errno.EISDIR)
        if trailing:
            raise LinuxError(Errno.ENOTDIR)
        self._may_delete(cred, parent, child.inode)
        self._changing(parent)
        parent.inode.unlink(name)

    def rmdir(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes) -> None:
        parent, name, _ = self.resolve_parent(ctx, cred, start, path)
        if name is None:
            last = [p for p in path.split(b"/") if p]
            raise LinuxError(Errno.ENOTEMPTY if last and last[-1] == b".." else
                             Errno.EBUSY if not last else Errno.EINVAL)
        child = self._lookup_child(parent, name)
        if child is None:
            raise LinuxError(Errno.ENOENT)
        if not child.inode.is_dir():
            raise LinuxError(Errno.ENOTDIR)
        if self.is_mountpoint(child) or child.same(ctx.root):
            raise LinuxError(Errno.EBUSY)
        self._may_delete(cred, parent, child.inode)
        self._changing(parent)
        parent.inode.rmdir(name)

    def rename(self, ctx: FsContext, cred: Credentials, old_start: PathNode, old_path: bytes,
               new_start: PathNode, new_path: bytes, flags: int = 0) -> None:
        if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) or flags == RENAME_NOREPLACE | RENAME_EXCHANGE:
            raise LinuxError(Errno.EINVAL)
        old_parent, old_name, old_trailing = self.resolve_parent(ctx, cred, old_start, old_path)
        new_parent, new_name, new_trailing = self.resolve_parent(ctx, cred, new_start, new_path)
        if old_name is None or new_name is None:
            raise LinuxError(Errno.EBUSY)
        _check_name(new_name)
        source = self._lookup_child(old_parent, old_name)
        if source is None:
            raise LinuxError(Errno.ENOENT)
        if (old_trailing or new_trailing) and not source.inode.is_dir():
            raise LinuxError(Errno.ENOTDIR)
        if old_parent.mount is not new_parent.mount:
            raise LinuxError(Errno.EXDEV)
        if self.is_mountpoint(source):
            raise LinuxError(Errno.EBUSY)
        target = self._lookup_child(new_parent, new_name)
        if flags & RENAME_NOREPLACE and target is not None:
            raise LinuxError(Errno.EEXIST)
        if flags & RENAME_EXCHANGE:
            raise LinuxError(Errno.EINVAL)  # not supported yet (documented as partial)
        if target is not None and self.is_mountpoint(target):
            raise LinuxError(Errno.EBUSY)
        self._may_delete(cred, old_parent, source.inode)
        self._may_modify_dir(cred, new_parent)
        if target is not None:
            self._may_delete(cred, new_parent, target.inode)  # the sticky bit guards the target too
        if source.inode.is_dir() and not new_parent.same(old_parent):
            self.check_access(cred, source.inode, MAY_WRITE)  # its ".." entry changes
        if target is not None and target.inode.key == source.inode.key:
            return
        self._changing(old_parent)
        self._changing(new_parent)
        old_parent.inode.rename(old_name, new_parent.inode, new_name, flags)

    def access(self, ctx: FsContext, cred: Credentials, start: PathNode, path: bytes, want: int,
               *, follow: bool = True) -> None:
        node = self.resolve(ctx, cred, start, path, follow=follow)
        if want & MAY_WRITE and node.mount.readonly:
            raise LinuxError(Errno.EROFS)
        if want:
            self.check_access(cred, node.inode, want)

    # --- attribute changes on a resolved node --------------------------------------------

    def chmod(self, cred: Credentials, node: PathNode, mode: int) -> None:
        st = node.inode.stat()
        if not cred.is_root and cred.fsuid != st.uid:
            raise LinuxError(Errno.EPERM)
        self._writable_mount(node)
        if not cred.is_root and not cred.in_group(st.gid):
            mode &= ~0o2000
        node.inode.setattr(mode=mode & 0o7777)

    def chown(self, cred: Credentials, node: PathNode, uid: int, gid: int) -> None:
        st = node.inode.stat()
        new_uid = None if uid == -1 else uid
        new_gid = None if gid == -1 else gid
        if not cred.is_root:
            if new_uid is not None and new_uid != st.uid:
                raise LinuxError(Errno.EPERM)
            if new_gid is not None and (cred.fsuid != st.uid or not cred.in_group(new_gid)):
                raise LinuxError(Errno.EPERM)
        self._writable_mount(node)
        mode = None
        if (new_uid is not None or new_gid is not None) and st.mode & S_IFMT != S_IFDIR and st.mode & 0o6000:
            mode = st.mode & ~0o6000 & 0o7777  # chown clears set-id bits on files
        node.inode.setattr(uid=new_uid, gid=new_gid, mode=mode)

    def set_times(self, cred: Credentials, node: PathNode, atime_ns: int | None, mtime_ns: int | None,
                  *, explicit: bool) -> None:
        st = node.inode.stat()
        if not cred.is_root and cred.fsuid != st.uid:
            if explicit:
                raise LinuxError(Errno.EPERM)
            self.check_access(cred, node.inode, MAY_WRITE)
        self._writable_mount(node)
        node.inode.setattr(atime_ns=atime_ns, mtime_ns=mtime_ns)

    def truncate(self, cred: Credentials, node: PathNode, size: int) -> None:
        if size < 0:
            raise LinuxError(Errno.EINVAL)
        if node.inode.is_dir():
            raise LinuxError(Errno.EISDIR)
        if not node.inode.is_regular():
            raise LinuxError(Errno.EINVAL)
        self._writable_mount(node)
        self.check_access(cred, node.inode, MAY_WRITE)
        node.inode.truncate(size)

    def close(self) -> None:
        """Release every filesystem's host resources; the view is unusable afterwards."""
        for mount in self.mounts:
            mount.fs.close()

    def walk_mounts(self) -> Iterator[tuple[bytes, Mount]]:
        for mount in self.mounts:
            yield self.mount_path(mount), mount
