"""How kernel code reports failure and blocking.

Handlers raise `LinuxError(errno)`; the run loop turns it into `-errno` in one place.
A handler that must wait raises `Block`: the task is parked on the given wait queues
(and/or until a deadline) and the syscall is run again from the start when woken, so
handlers are written to have no effect until they can complete.
"""

from __future__ import annotations

from slimbox.abi.errno import Errno, errno_name, strerror

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Iterable
    from slimbox.kernel.waitqueue import WaitQueue


class LinuxError(Exception):
    """A syscall failure with a Linux errno."""

    __slots__ = ("errno",)

    def __init__(self, errno: int, detail: str | None = None) -> None:
        self.errno = int(errno)
        super().__init__(detail or strerror(self.errno))

    def __str__(self) -> str:
        return f"{errno_name(self.errno) or self.errno}: {self.args[0]}"


class Block(Exception):
    """Park the current task until a queue is notified or `deadline_ns` (monotonic) passes."""

    __slots__ = ("queues", "deadline_ns")

    def __init__(self, queues: Iterable[WaitQueue] = (), deadline_ns: int | None = None) -> None:
        super().__init__("block")
        self.queues = tuple(queues)
        self.deadline_ns = deadline_ns


def from_os_error(exc: OSError) -> LinuxError:
    """A host OSError (errno values are Linux's) as a LinuxError; EIO if it has none."""
    return LinuxError(exc.errno or Errno.EIO)


class InternalError(Exception):
    """A bug in the kernel met while serving a guest: the sandbox is stopped (never the
    error swallowed) and this names the syscall that hit it."""

    def __init__(self, syscall: str, pid: int, error: BaseException) -> None:
        self.syscall = syscall
        self.pid = pid
        self.error = error
        super().__init__(f"internal error in {syscall} (pid {pid}): {type(error).__name__}: {error}")
