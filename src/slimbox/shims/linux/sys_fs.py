"""Syscalls that name files by path: open, the stat family, directory and link
operations, attributes, the working directory."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.cred import MAY_EXEC, MAY_READ, MAY_WRITE
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_CLOEXEC, O_CREAT, O_TMPFILE, O_WRONLY, O_TRUNC, O_PATH
from slimbox.kernel.fs.inode import S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, S_IFBLK
from slimbox.shims.linux.common import (
    AT_FDCWD,
    AT_EACCESS, AT_EMPTY_PATH, AT_NO_AUTOMOUNT, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW,
    dir_start, node_at, read_optional_path, read_path, refuse_past_file_size,
)
from slimbox.shims.linux.stat import pack_stat, pack_statfs, pack_statx

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

_OPEN_VALID = 0o37777777 & ~0o10000000 | O_PATH  # every O_* bit Linux knows
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS = 0x01, 0x02, 0x04
RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_CACHED = 0x08, 0x10, 0x20


def _vfs(task: Task):
    return task.kernel.vfs


# --- open ---------------------------------------------------------------------------


def openat(task: Task, dirfd: int, pathname: int, flags: int, mode: int) -> int:
    path = read_path(task, pathname)
    if flags & O_TMPFILE == O_TMPFILE:
        raise LinuxError(Errno.EOPNOTSUPP)
    file = _vfs(task).open(task.process.fs, task.cred, dir_start(task, dirfd, path), path, flags, mode)
    try:
        return task.fds.install(file, cloexec=bool(flags & O_CLOEXEC))
    except LinuxError:
        if file.refs == 0:
            file.release()
        raise


def open(task: Task, pathname: int, flags: int, mode: int) -> int:  # noqa: A001 - the syscall's name
    return openat(task, AT_FDCWD, pathname, flags, mode)


def creat(task: Task, pathname: int, mode: int) -> int:
    return openat(task, AT_FDCWD, pathname, O_CREAT | O_WRONLY | O_TRUNC, mode)


def openat2(task: Task, dirfd: int, pathname: int, how: int, size: int) -> int:
    if size < structs.OPEN_HOW.size:
        raise LinuxError(Errno.EINVAL)
    raw = task.mm.read(how, min(size, 4096))
    if any(raw[structs.OPEN_HOW.size:]):
        raise LinuxError(Errno.E2BIG)
    flags, mode, resolve = structs.OPEN_HOW.unpack_from(raw)
    if flags >> 32 or mode & ~0o7777 or (mode and not flags & (O_CREAT | O_TMPFILE)):
        raise LinuxError(Errno.EINVAL)
    if resolve & ~(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH
                   | RESOLVE_IN_ROOT | RESOLVE_CACHED):
        raise LinuxError(Errno.EINVAL)
    if resolve & ~RESOLVE_NO_MAGICLINKS:
        raise LinuxError(Errno.EOPNOTSUPP)
    return openat(task, dirfd, pathname, flags, mode)


# --- stat ---------------------------------------------------------------------------------


def _stat_node(task: Task, dirfd: int, pathname: int, flags: int):
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | 0x6000):
        raise LinuxError(Errno.EINVAL)
    path = read_optional_path(task, pathname, flags)
    if not path:
        return task.fds.get(dirfd).stat() if dirfd != AT_FDCWD else task.process.fs.cwd.inode.stat()
    return _vfs(task).stat(task.process.fs, task.cred, dir_start(task, dirfd, path), path,
                           follow=not flags & AT_SYMLINK_NOFOLLOW)


def newfstatat(task: Task, dirfd: int, pathname: int, statbuf: int, flags: int) -> int:
    st = _stat_node(task, dirfd, pathname, flags)
    task.mm.write(statbuf, pack_stat(st))
    return 0


def stat(task: Task, pathname: int, statbuf: int) -> int:
    return newfstatat(task, AT_FDCWD, pathname, statbuf, 0)


def lstat(task: Task, pathname: int, statbuf: int) -> int:
    return newfstatat(task, AT_FDCWD, pathname, statbuf, AT_SYMLINK_NOFOLLOW)


def statx(task: Task, dirfd: int, pathname: int, flags: int, mask: int, statxbuf: int) -> int:
    if mask & 0x80000000:
        raise LinuxError(Errno.EINVAL)
    if flags & 0x6000 == 0x6000:
        raise LinuxError(Errno.EINVAL)
    st = _stat_node(task, dirfd, pathname, flags)
    task.mm.write(statxbuf, pack_statx(st))
    return 0


def statfs(task: Task, path: int, buf: int) -> int:
    node = node_at(task, AT_FDCWD, read_path(task, path), follow=True)
    task.mm.write(buf, pack_statfs(node.inode.fs, node.mount.readonly))
    return 0


# --- access -------------------------------------------------------------------------------


def faccessat2(task: Task, dirfd: int, pathname: int, mode: int, flags: int) -> int:
    if mode & ~7 or flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise LinuxError(Errno.EINVAL)
    path = read_optional_path(task, pathname, flags)
    cred = task.cred
    if not flags & AT_EACCESS:  # access(2) checks with the real ids
        cred = cred.copy()
        cred.fsuid, cred.fsgid = cred.uid, cred.gid
    node = node_at(task, dirfd, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    want = (MAY_READ if mode & 4 else 0) | (MAY_WRITE if mode & 2 else 0) | (MAY_EXEC if mode & 1 else 0)
    if want & MAY_WRITE and node.mount.readonly and node.inode.mode & S_IFMT in (S_IFREG, 0o040000, 0o120000):
        raise LinuxError(Errno.EROFS)
    if want:
        _vfs(task).check_access(cred, node.inode, want)
    return 0


def faccessat(task: Task, dirfd: int, pathname: int, mode: int) -> int:
    return faccessat2(task, dirfd, pathname, mode, 0)


def access(task: Task, pathname: int, mode: int) -> int:
    return faccessat2(task, AT_FDCWD, pathname, mode, 0)


# --- directories, links, names -------------------------------------------------------------


def _resolve_args(task: Task, dirfd: int, pathname: int):
    path = read_path(task, pathname)
    return task.process.fs, task.cred, dir_start(task, dirfd, path), path


def mkdirat(task: Task, dirfd: int, pathname: int, mode: int) -> int:
    _vfs(task).mkdir(*_resolve_args(task, dirfd, pathname), mode)
    return 0


def mkdir(task: Task, pathname: int, mode: int) -> int:
    return mkdirat(task, AT_FDCWD, pathname, mode)


def mknodat(task: Task, dirfd: int, pathname: int, mode: int, dev: int) -> int:
    kind = mode & S_IFMT
    if kind == 0:
        kind = S_IFREG
    if kind not in (S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK):
        raise LinuxError(Errno.EINVAL)
    if kind in (S_IFCHR, S_IFBLK) and not task.cred.is_root:
        raise LinuxError(Errno.EPERM)
    if kind == S_IFREG:
        fd = openat(task, dirfd, pathname, O_CREAT | 0o200 | O_WRONLY, mode & 0o7777)  # O_EXCL
        task.fds.close(fd)
        return 0
    _vfs(task).mknod(*_resolve_args(task, dirfd, pathname), kind | (mode & 0o7777), dev)
    return 0


def mknod(task: Task, pathname: int, mode: int, dev: int) -> int:
    return mknodat(task, AT_FDCWD, pathname, mode, dev)


def unlinkat(task: Task, dirfd: int, pathname: int, flags: int) -> int:
    if flags & ~AT_REMOVEDIR:
        raise LinuxError(Errno.EINVAL)
    if flags & AT_REMOVEDIR:
        _vfs(task).rmdir(*_resolve_args(task, dirfd, pathname))
    else:
        _vfs(task).unlink(*_resolve_args(task, dirfd, pathname))
    return 0


def unlink(task: Task, pathname: int) -> int:
    return unlinkat(task, AT_FDCWD, pathname, 0)


def rmdir(task: Task, pathname: int) -> int:
    return unlinkat(task, AT_FDCWD, pathname, AT_REMOVEDIR)


def renameat2(task: Task, olddirfd: int, oldpath: int, newdirfd: int, newpath: int, flags: int) -> int:
    old = read_path(task, oldpath)
    new = read_path(task, newpath)
    _vfs(task).rename(task.process.fs, task.cred, dir_start(task, olddirfd, old), old,
                      dir_start(task, newdirfd, new), new, flags)
    return 0


def renameat(task: Task, olddirfd: int, oldpath: int, newdirfd: int, newpath: int) -> int:
    return renameat2(task, olddirfd, oldpath, newdirfd, newpath, 0)


def rename(task: Task, oldpath: int, newpath: int) -> int:
    return renameat2(task, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0)


def linkat(task: Task, olddirfd: int, oldpath: int, newdirfd: int, newpath: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise LinuxError(Errno.EINVAL)
    old = read_optional_path(task, oldpath, flags)
    new = read_path(task, newpath)
    vfs = _vfs(task)
    if not old:
        if not task.cred.is_root:
            raise LinuxError(Errno.ENOENT)  # linking by descriptor needs CAP_DAC_READ_SEARCH
        source = node_at(task, olddirfd, b"", follow=False)
        vfs.link_node(task.process.fs, task.cred, source, dir_start(task, newdirfd, new), new)
        return 0
    vfs.link(task.process.fs, task.cred, dir_start(task, olddirfd, old), old, dir_start(task, newdirfd, new),
             new, follow=bool(flags & AT_SYMLINK_FOLLOW))
    return 0


def link(task: Task, oldpath: int, newpath: int) -> int:
    return linkat(task, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0)


def symlinkat(task: Task, target: int, newdirfd: int, linkpath: int) -> int:
    text = read_path(task, target)
    path = read_path(task, linkpath)
    _vfs(task).symlink(task.process.fs, task.cred, text, dir_start(task, newdirfd, path), path)
    return 0


def symlink(task: Task, target: int, linkpath: int) -> int:
    return symlinkat(task, target, AT_FDCWD, linkpath)


def readlinkat(task: Task, dirfd: int, pathname: int, buf: int, bufsiz: int) -> int:
    if bufsiz <= 0 or bufsiz >= 1 << 31:
        raise LinuxError(Errno.EINVAL)
    path = read_optional_path(task, pathname, AT_EMPTY_PATH)
    node = node_at(task, dirfd, path, follow=False)
    if not node.inode.is_symlink():
        raise LinuxError(Errno.EINVAL if path else Errno.ENOENT)
    text = node.inode.readlink()[:bufsiz]
    task.mm.write(buf, text)
    return len(text)


def readlink(task: Task, pathname: int, buf: int, bufsiz: int) -> int:
    return readlinkat(task, AT_FDCWD, pathname, buf, bufsiz)


# --- attributes ------------------------------------------------------------------------------


def fchmodat2(task: Task, dirfd: int, pathname: int, mode: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise LinuxError(Errno.EINVAL)
    path = read_optional_path(task, pathname, flags)
    node = node_at(task, dirfd, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    if node.inode.is_symlink():
        raise LinuxError(Errno.EOPNOTSUPP)
    _vfs(task).chmod(task.cred, node, mode)
    return 0


def fchmodat(task: Task, dirfd: int, pathname: int, mode: int) -> int:
    return fchmodat2(task, dirfd, pathname, mode, 0)


def chmod(task: Task, pathname: int, mode: int) -> int:
    return fchmodat2(task, AT_FDCWD, pathname, mode, 0)


def fchmod(task: Task, fd: int, mode: int) -> int:
    file = task.fds.get(fd)
    if file.path is None or file.flags & O_PATH:
        raise LinuxError(Errno.EBADF)
    _vfs(task).chmod(task.cred, file.path, mode)
    return 0


def fchownat(task: Task, dirfd: int, pathname: int, owner: int, group: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise LinuxError(Errno.EINVAL)
    path = read_optional_path(task, pathname, flags)
    node = node_at(task, dirfd, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    _vfs(task).chown(task.cred, node, owner, group)
    return 0


def chown(task: Task, pathname: int, owner: int, group: int) -> int:
    return fchownat(task, AT_FDCWD, pathname, owner, group, 0)


def lchown(task: Task, pathname: int, owner: int, group: int) -> int:
    return fchownat(task, AT_FDCWD, pathname, owner, group, AT_SYMLINK_NOFOLLOW)


def fchown(task: Task, fd: int, owner: int, group: int) -> int:
    file = task.fds.get(fd)
    if file.path is None or file.flags & O_PATH:
        raise LinuxError(Errno.EBADF)
    _vfs(task).chown(task.cred, file.path, owner, group)
    return 0


def _times_from_timespecs(task: Task, pointer: int) -> tuple[int | None, int | None, bool]:
    """(atime, mtime, explicit) from a struct timespec[2]; None means leave as is."""
    if pointer == 0:
        now = task.kernel.realtime_ns()
        return now, now, False
    raw = task.mm.read(pointer, 32)
    values = []
    explicit = False
    for index in range(2):
        sec, nsec = structs.TIMESPEC.unpack_from(raw, 16 * index)
        if nsec == UTIME_OMIT:
            values.append(None)
        elif nsec == UTIME_NOW:
            values.append(task.kernel.realtime_ns())
        elif 0 <= nsec < 1_000_000_000:
            values.append(sec * 1_000_000_000 + nsec)
            explicit = True
        else:
            raise LinuxError(Errno.EINVAL)
    return values[0], values[1], explicit


def utimensat(task: Task, dirfd: int, pathname: int, times: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise LinuxError(Errno.EINVAL)
    atime, mtime, explicit = _times_from_timespecs(task, times)
    if pathname == 0:  # futimens
        file = task.fds.get(dirfd) if dirfd != AT_FDCWD else None
        if file is None or file.path is None:
            raise LinuxError(Errno.EBADF if file is None else Errno.EINVAL)
        node = file.path
    else:
        node = node_at(task, dirfd, read_optional_path(task, pathname, flags),
                       follow=not flags & AT_SYMLINK_NOFOLLOW)
    if atime is None and mtime is None:
        return 0
    _vfs(task).set_times(task.cred, node, atime, mtime, explicit=explicit)
    return 0


def _times_from_timevals(task: Task, pointer: int) -> tuple[int, int, bool]:
    if pointer == 0:
        now = task.kernel.realtime_ns()
        return now, now, False
    raw = task.mm.read(pointer, 32)
    out = []
    for index in range(2):
        sec, usec = structs.TIMEVAL.unpack_from(raw, 16 * index)
        if not 0 <= usec < 1_000_000:
            raise LinuxError(Errno.EINVAL)
        out.append(sec * 1_000_000_000 + usec * 1000)
    return out[0], out[1], True


def futimesat(task: Task, dirfd: int, pathname: int, times: int) -> int:
    atime, mtime, explicit = _times_from_timevals(task, times)
    node = node_at(task, dirfd, read_path(task, pathname), follow=True)
    _vfs(task).set_times(task.cred, node, atime, mtime, explicit=explicit)
    return 0


def utimes(task: Task, filename: int, times: int) -> int:
    return futimesat(task, AT_FDCWD, filename, times)


def utime(task: Task, filename: int, times: int) -> int:
    node = node_at(task, AT_FDCWD, read_path(task, filename), follow=True)
    if times == 0:
        now = task.kernel.realtime_ns()
        _vfs(task).set_times(task.cred, node, now, now, explicit=False)
        return 0
    actime, modtime = structs.TIMESPEC.unpack(task.mm.read(times, 16))
    _vfs(task).set_times(task.cred, node, actime * 1_000_000_000, modtime * 1_000_000_000, explicit=True)
    return 0


def truncate(task: Task, path: int, length: int) -> int:
    node = node_at(task, AT_FDCWD, read_path(task, path), follow=True)
    if node.inode.is_regular():
        refuse_past_file_size(task, length)
    _vfs(task).truncate(task.cred, node, length)
    return 0


# --- working directory, root, umask -----------------------------------------------------------


def getcwd(task: Task, buf: int, size: int) -> int:
    fs = task.process.fs
    path = fs.cwd.full_path(fs.root) + b"\0"
    if len(path) > 4096:
        raise LinuxError(Errno.ENAMETOOLONG)  # Linux builds the path in one page
    if size < len(path):
        raise LinuxError(Errno.ERANGE)
    task.mm.write(buf, path)
    return len(path)


def _enter(task: Task, node) -> None:
    if not node.inode.is_dir():
        raise LinuxError(Errno.ENOTDIR)
    _vfs(task).check_access(task.cred, node.inode, MAY_EXEC)


def chdir(task: Task, path: int) -> int:
    node = node_at(task, AT_FDCWD, read_path(task, path), follow=True)
    _enter(task, node)
    task.process.fs.cwd = node
    return 0


def fchdir(task: Task, fd: int) -> int:
    file = task.fds.get(fd)
    if file.path is None:
        raise LinuxError(Errno.EBADF)
    _enter(task, file.path)
    task.process.fs.cwd = file.path
    return 0


def chroot(task: Task, path: int) -> int:
    node = node_at(task, AT_FDCWD, read_path(task, path), follow=True)
    if not task.cred.is_root:
        raise LinuxError(Errno.EPERM)
    _enter(task, node)
    task.process.fs.root = node
    return 0


def umask(task: Task, mask: int) -> int:
    old = task.process.fs.umask
    task.process.fs.umask = mask & 0o777
    return old


# --- extended attributes: none are stored ------------------------------------------------------


def _xattr_target(task: Task, pathname: int, follow: bool) -> None:
    node_at(task, AT_FDCWD, read_path(task, pathname), follow=follow)


def getxattr(task: Task, pathname: int, name: int, value: int, size: int) -> int:
    _xattr_target(task, pathname, True)
    raise LinuxError(Errno.ENODATA)


def lgetxattr(task: Task, pathname: int, name: int, value: int, size: int) -> int:
    _xattr_target(task, pathname, False)
    raise LinuxError(Errno.ENODATA)


def fgetxattr(task: Task, fd: int, name: int, value: int, size: int) -> int:
    task.fds.get(fd)
    raise LinuxError(Errno.ENODATA)


def listxattr(task: Task, pathname: int, list_: int, size: int) -> int:
    _xattr_target(task, pathname, True)
    return 0


def llistxattr(task: Task, pathname: int, list_: int, size: int) -> int:
    _xattr_target(task, pathname, False)
    return 0


def flistxattr(task: Task, fd: int, list_: int, size: int) -> int:
    task.fds.get(fd)
    return 0


def _refuse_set(task: Task) -> int:
    raise LinuxError(Errno.EOPNOTSUPP)


def setxattr(task: Task, pathname: int, name: int, value: int, size: int, flags: int) -> int:
    _xattr_target(task, pathname, True)
    return _refuse_set(task)


def lsetxattr(task: Task, pathname: int, name: int, value: int, size: int, flags: int) -> int:
    _xattr_target(task, pathname, False)
    return _refuse_set(task)


def fsetxattr(task: Task, fd: int, name: int, value: int, size: int, flags: int) -> int:
    task.fds.get(fd)
    return _refuse_set(task)


def removexattr(task: Task, pathname: int, name: int) -> int:
    _xattr_target(task, pathname, True)
    raise LinuxError(Errno.ENODATA)


def lremovexattr(task: Task, pathname: int, name: int) -> int:
    _xattr_target(task, pathname, False)
    raise LinuxError(Errno.ENODATA)


def fremovexattr(task: Task, fd: int, name: int) -> int:
    task.fds.get(fd)
    raise LinuxError(Errno.ENODATA)
