"""pipe and pipe2."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_CLOEXEC, O_DIRECT, O_NONBLOCK
from slimbox.kernel.pipe import make_pipe, pipefs_of
from slimbox.shims.linux.common import install_pair

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

#: pipe2's request for a kernel notification pipe (it shares O_EXCL's bit)
O_NOTIFICATION_PIPE = 0o200
_PIPE2_FLAGS = O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE


def pipe2(task: Task, pipefd: int, flags: int) -> int:
    if flags & ~_PIPE2_FLAGS:
        raise LinuxError(Errno.EINVAL)
    if flags & O_NOTIFICATION_PIPE:
        # what a kernel built without watch queues answers: the sandbox has none
        raise LinuxError(Errno.ENOPKG)
    cred = task.cred
    read_end, write_end = make_pipe(pipefs_of(task.kernel), cred.fsuid, cred.fsgid, flags)
    return install_pair(task, read_end, write_end, bool(flags & O_CLOEXEC), pipefd)


def pipe(task: Task, pipefd: int) -> int:
    return pipe2(task, pipefd, 0)
