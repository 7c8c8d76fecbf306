"""ioctl: the descriptor-level requests here, the rest by the file itself."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.kernel.file import O_ASYNC, O_NONBLOCK, PathFile
from slimbox.kernel.errors import LinuxError
from slimbox.abi.errno import Errno

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

FIONBIO, FIOASYNC = 0x5421, 0x5452
FIOCLEX, FIONCLEX = 0x5451, 0x5450


def ioctl(task: Task, fd: int, request: int, arg: int) -> int:
    file = task.fds.get(fd)
    if isinstance(file, PathFile):
        raise LinuxError(Errno.EBADF)
    request &= 0xFFFFFFFF
    if request == FIOCLEX:
        task.fds.set_cloexec(fd, True)
        return 0
    if request == FIONCLEX:
        task.fds.set_cloexec(fd, False)
        return 0
    if request in (FIONBIO, FIOASYNC):
        (on,) = structs.I32.unpack(task.mm.read(arg, 4))
        bit = O_NONBLOCK if request == FIONBIO else O_ASYNC
        file.flags = file.flags | bit if on else file.flags & ~bit
        return 0
    return file.ioctl(task, request, arg)
