"""Waiting for children: what wait4 and waitid report, and reaping."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.exit import reap, wait_status
from slimbox.kernel.record import Record
from slimbox.kernel.signals import CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, SIGCHLD

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Process, Task

WNOHANG, WUNTRACED, WSTOPPED, WEXITED, WCONTINUED = 1, 2, 2, 4, 8
WNOWAIT = 0x01000000
WNOTHREAD, WALL, WCLONE = 0x20000000, 0x40000000, 0x80000000


class ChildState(Record):
    __slots__ = ("child", "code", "status", "wait_status")

    def __init__(self, child: Process, code: int, status: int, wait_status: int) -> None:
        self.child = child
        self.code = code                # CLD_*
        self.status = status            # exit code or signal number (what waitid's si_status holds)
        self.wait_status = wait_status  # what wait4 stores


def _matches(child: Process, task: Task, which: str, ident: int, options: int) -> bool:
    if which == "pid" and child.pid != ident:
        return False
    if which == "pgid" and child.pgid != ident:
        return False
    if options & WALL:
        return True
    clone_child = child.exit_signal != SIGCHLD
    return clone_child == bool(options & WCLONE)


def find(task: Task, which: str, ident: int, options: int) -> ChildState | None:
    """A reportable state change of a matching child (consumed unless WNOWAIT), None
    if none yet; ECHILD if there is no matching child at all."""
    process = task.process
    candidates = [c for c in process.children if _matches(c, task, which, ident, options)]
    if not candidates:
        raise LinuxError(Errno.ECHILD)
    keep = bool(options & WNOWAIT)
    for child in candidates:
        if child.zombie and options & WEXITED:
            code, signal = child.exit_status
            if signal:
                state = ChildState(child, CLD_DUMPED if child.core_dumped else CLD_KILLED, signal,
                                   wait_status(child))
            else:
                state = ChildState(child, CLD_EXITED, code, wait_status(child))
            if not keep:
                reap(task.kernel, child)
            return state
        if child.report_stopped and child.stopped and options & WSTOPPED:
            if not keep:
                child.report_stopped = False
            return ChildState(child, CLD_STOPPED, child.stop_signal, (child.stop_signal << 8) | 0x7F)
        if child.report_continued and options & WCONTINUED:
            if not keep:
                child.report_continued = False
            return ChildState(child, CLD_CONTINUED, 18, 0xFFFF)
    return None


def wait(task: Task, which: str, ident: int, options: int) -> ChildState | None:
    state = find(task, which, ident, options)
    if state is not None or options & WNOHANG:
        return state
    raise Block((task.process.child_events,))
