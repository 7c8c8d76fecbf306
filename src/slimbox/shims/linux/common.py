"""Helpers shared by the syscall handlers: paths, directory fds, guest structs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slimbox.abi.errno import Errno
from slimbox.abi.structs import U64 as _U64
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fs.vfs import PATH_MAX, PathNode
from slimbox.kernel.loader import MAX_ARG_STRLEN, MAX_ARGS_TOTAL

if TYPE_CHECKING:
    from slimbox.kernel.file import File
    from slimbox.kernel.task import Task

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_EACCESS = 0x200


def read_path(task: Task, addr: int) -> bytes:
    if addr == 0:
        raise LinuxError(Errno.EFAULT)
    return task.mm.read_cstring(addr, PATH_MAX - 1)


def read_optional_path(task: Task, addr: int, flags: int) -> bytes:
    """A path that may be empty when AT_EMPTY_PATH is given."""
    path = read_path(task, addr)
    if not path and not flags & AT_EMPTY_PATH:
        raise LinuxError(Errno.ENOENT)
    return path


def dir_start(task: Task, dirfd: int, path: bytes) -> PathNode:
    """Where a relative `path` starts: the working directory or `dirfd`'s directory."""
    if path.startswith(b"/"):
        return task.process.fs.root
    if dirfd == AT_FDCWD:
        return task.process.fs.cwd
    file = task.fds.get(dirfd)
    if file.path is None:
        raise LinuxError(Errno.ENOTDIR)
    if path and not file.path.inode.is_dir():
        raise LinuxError(Errno.ENOTDIR)
    return file.path


def fd_file(task: Task, fd: int) -> File:
    return task.fds.get(fd)


def node_at(task: Task, dirfd: int, path: bytes, *, follow: bool) -> PathNode:
    """Resolve `path` relative to `dirfd`; an empty path means `dirfd` itself."""
    if not path:
        if dirfd == AT_FDCWD:
            return task.process.fs.cwd
        file = task.fds.get(dirfd)
        if file.path is None:
            raise LinuxError(Errno.EBADF)
        return file.path
    kernel = task.kernel
    return kernel.vfs.resolve(task.process.fs, task.cred, dir_start(task, dirfd, path), path, follow=follow)


def read_strv(task: Task, addr: int, budget: list[int] | None = None) -> list[bytes]:
    """A NULL-terminated array of string pointers (argv/envp). `budget` holds the bytes
    still allowed (strings plus pointers) and is shared between argv and envp, so a
    hostile array fails with E2BIG before it can make the supervisor hold much."""
    if budget is None:
        budget = [MAX_ARGS_TOTAL]
    out: list[bytes] = []
    if addr == 0:
        return out
    while True:
        (pointer,) = _U64.unpack(task.mm.read(addr + 8 * len(out), 8))
        if pointer == 0:
            return out
        value = task.mm.read_cstring(pointer, MAX_ARG_STRLEN, Errno.E2BIG)
        budget[0] -= len(value) + 1 + 8
        if budget[0] < 0:
            raise LinuxError(Errno.E2BIG)
        out.append(value)
