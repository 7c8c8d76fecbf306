"""Helpers shared by the syscall handlers: paths, directory fds, guest structs."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.abi.structs import TWO_I32
from slimbox.abi.structs import U64 as _U64
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fs.vfs import PATH_MAX, PathNode
from slimbox.kernel.loader import MAX_ARG_STRLEN, MAX_ARGS_TOTAL
from slimbox.kernel.mm import PAGE, PAGE_MASK
from slimbox.kernel.signals import SIGXFSZ
from slimbox.kernel.task import RLIMIT_FSIZE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.file import File
    from slimbox.kernel.mm import MemoryManager
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


class _PageReader:
    """Guest memory read a page at a time, the last page kept: walking argv/envp then
    costs one read per page rather than one per pointer and one per string, so a
    hostile array of a million empty strings is cheap to refuse."""

    __slots__ = ("mm", "_base", "_data")

    def __init__(self, mm: MemoryManager) -> None:
        self.mm = mm
        self._base = -1
        self._data = b""

    def _page(self, addr: int) -> tuple[bytes, int]:
        base = addr & PAGE_MASK
        if base != self._base:
            self._data = self.mm.read(base, PAGE)  # readable at addr: the whole page is
            self._base = base
        return self._data, addr - base

    def u64(self, addr: int) -> int:
        if addr & (PAGE - 1) > PAGE - 8:
            return _U64.unpack(self.mm.read(addr, 8))[0]  # straddles two pages
        data, offset = self._page(addr)
        return _U64.unpack_from(data, offset)[0]

    def cstring(self, addr: int) -> bytes:
        data, offset = self._page(addr)
        nul = data.find(b"\0", offset)
        if nul < 0:  # runs on into the next page
            return self.mm.read_cstring(addr, MAX_ARG_STRLEN, Errno.E2BIG)
        return data[offset:nul]


def _count_pointers(mm: MemoryManager, addr: int, most: int) -> int:
    """How many pointers come before the NULL at `addr`, counting no further than
    `most` + 1; read a page at a time, as Linux counts them before copying any."""
    count = 0
    while count <= most:
        room = PAGE - (addr & (PAGE - 1))
        block = mm.read(addr, 8 if room < 8 else room - room % 8)  # 8: one pointer across two pages
        for index, (pointer,) in enumerate(_U64.iter_unpack(block)):
            if pointer == 0:
                return count + index
        count, addr = count + len(block) // 8, addr + len(block)
    return count


def read_strv(task: Task, addr: int, budget: list[int] | None = None) -> list[bytes]:
    """A NULL-terminated array of string pointers (argv/envp). `budget` holds the bytes
    still allowed (strings plus pointers) and is shared between argv and envp, so a
    hostile array fails with E2BIG before it can make the supervisor hold much."""
    if budget is None:
        budget = [MAX_ARGS_TOTAL]
    out: list[bytes] = []
    if addr == 0:
        return out
    if _count_pointers(task.mm, addr, budget[0] // 9) * 9 > budget[0]:
        raise LinuxError(Errno.E2BIG)  # a pointer and a NUL each at least: no string need be read
    pointers, strings = _PageReader(task.mm), _PageReader(task.mm)
    while True:
        pointer = pointers.u64(addr + 8 * len(out))
        if pointer == 0:
            return out
        value = strings.cstring(pointer)
        budget[0] -= len(value) + 1 + 8
        if budget[0] < 0:
            raise LinuxError(Errno.E2BIG)
        out.append(value)


def install_pair(task: Task, first: File, second: File, cloexec: bool, out: int) -> int:
    """Give the guest two new descriptors (a pipe's ends, a socket pair) and write their
    numbers as two ints at `out`; on any failure neither stays installed, as in Linux."""
    fds = task.fds
    try:
        first_fd = fds.install(first, cloexec=cloexec)
    except LinuxError:
        first.release()
        second.release()
        raise
    try:
        second_fd = fds.install(second, cloexec=cloexec)
    except LinuxError:
        fds.close(first_fd)
        second.release()
        raise
    try:
        task.mm.write(out, TWO_I32.pack(first_fd, second_fd))
    except LinuxError:
        # the caller never learnt the numbers: take the descriptors back
        fds.close(first_fd)
        fds.close(second_fd)
        raise
    return 0


def refuse_past_file_size(task: Task, end: int) -> None:
    """RLIMIT_FSIZE: a regular file may not reach past the caller's limit; trying is
    SIGXFSZ and EFBIG."""
    if end > task.process.rlimits[RLIMIT_FSIZE][0]:
        task.kernel.send_signal_to_task(task, SIGXFSZ)
        raise LinuxError(Errno.EFBIG)
