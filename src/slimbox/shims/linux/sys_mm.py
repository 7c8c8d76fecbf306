"""Memory-management syscalls; the semantics live in kernel/mm.py."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.mm import MAP_ANONYMOUS, PAGE, page_up

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4
MASK64 = (1 << 64) - 1
MAX_FILE_OFFSET = (1 << 63) - 1
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4


def mmap(task: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    offset &= MASK64  # the kernel's mmap takes an unsigned long: a "negative" offset is past any file
    if offset & (PAGE - 1):
        raise LinuxError(Errno.EINVAL)
    file = None
    if not flags & MAP_ANONYMOUS:
        file = task.fds.get(fd)
        if length <= MAX_FILE_OFFSET and offset > MAX_FILE_OFFSET - page_up(length):
            raise LinuxError(Errno.EOVERFLOW)  # ends past the largest file offset (MAX_LFS_FILESIZE)
    return task.mm.mmap(addr, length, prot, flags, file, offset)


def munmap(task: Task, addr: int, length: int) -> int:
    task.mm.munmap(addr, length)
    return 0


def mprotect(task: Task, addr: int, length: int, prot: int) -> int:
    task.mm.mprotect(addr, length, prot)
    return 0


def mremap(task: Task, old_address: int, old_size: int, new_size: int, flags: int, new_address: int) -> int:
    return task.mm.mremap(old_address, old_size, new_size, flags, new_address)


def madvise(task: Task, addr: int, length: int, advice: int) -> int:
    task.mm.madvise(addr, length, advice)
    return 0


def brk(task: Task, addr: int) -> int:
    return task.mm.brk(addr)


def msync(task: Task, addr: int, length: int, flags: int) -> int:
    if addr & (PAGE - 1) or flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC) or (
            flags & MS_ASYNC and flags & MS_SYNC):
        raise LinuxError(Errno.EINVAL)
    end = page_up(addr + length)
    vma_addr = addr
    while vma_addr < end:
        vma = task.mm.find(vma_addr)
        if vma is None:
            raise LinuxError(Errno.ENOMEM)
        vma_addr = vma.end
    task.mm.flush_shared(addr, end)
    return 0


def mincore(task: Task, addr: int, length: int, vec: int) -> int:
    if addr & (PAGE - 1):
        raise LinuxError(Errno.EINVAL)
    pages = page_up(length) // PAGE
    cursor = addr
    end = addr + pages * PAGE
    while cursor < end:
        vma = task.mm.find(cursor)
        if vma is None:
            raise LinuxError(Errno.ENOMEM)
        cursor = vma.end
    task.mm.write(vec, b"\x01" * pages)  # report every mapped page resident
    return 0


def _mapped(task: Task, addr: int, length: int) -> None:
    """The whole range must be mapped (ENOMEM), as Linux checks for mlock."""
    start = addr & ~(PAGE - 1)
    end = page_up(addr + length)
    while start < end:
        vma = task.mm.find(start)
        if vma is None:
            raise LinuxError(Errno.ENOMEM)
        start = vma.end


def mlock(task: Task, addr: int, length: int) -> int:
    _mapped(task, addr, length)
    return 0  # nothing the sandbox holds is ever swapped out by it


def munlock(task: Task, addr: int, length: int) -> int:
    _mapped(task, addr, length)
    return 0


def mlock2(task: Task, addr: int, length: int, flags: int) -> int:
    if flags & ~1:
        raise LinuxError(Errno.EINVAL)
    _mapped(task, addr, length)
    return 0


def mlockall(task: Task, flags: int) -> int:
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        raise LinuxError(Errno.EINVAL)
    return 0


def munlockall(task: Task) -> int:
    return 0
