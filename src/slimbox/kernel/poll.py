"""Waiting for several files at once: the core of poll, ppoll, select and pselect6."""

from __future__ import annotations

from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.file import O_PATH, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

ALWAYS_REPORTED = POLLERR | POLLHUP | POLLNVAL
#: what select finds for a descriptor it cannot poll (Linux's DEFAULT_POLLMASK)
DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM


def poll_once(task: Task, wanted: list[tuple[int, int]], *, for_select: bool = False) -> list[int]:
    """Current readiness for (fd, events) pairs: the revents of each (POLLNVAL for a
    descriptor that is not open; 0 for a negative fd). An O_PATH descriptor cannot be
    polled: poll reports it POLLNVAL, while select (`for_select`) finds it ready, as
    Linux does."""
    results = []
    for fd, events in wanted:
        if fd < 0:
            results.append(0)
            continue
        try:
            file = task.fds.get(fd)
        except LinuxError:
            results.append(POLLNVAL)
            continue
        if file.flags & O_PATH:
            results.append(DEFAULT_POLLMASK & events if for_select else POLLNVAL)
            continue
        results.append(file.poll() & (events | ALWAYS_REPORTED))
    return results


def wait_for_any(task: Task, wanted: list[tuple[int, int]], deadline_ns: int | None, *,
                 for_select: bool = False) -> list[int]:
    """Readiness now, or Block until some file may have changed or the deadline passes
    (then an all-zero result). `deadline_ns` None waits forever, 0 never waits."""
    revents = poll_once(task, wanted, for_select=for_select)
    if any(revents) or deadline_ns == 0:
        return revents
    if deadline_ns is not None and task.kernel.monotonic_ns() >= deadline_ns:
        return revents
    queues = []
    for fd, _ in wanted:
        if fd >= 0:
            queues.extend(task.fds.get(fd).wait_queues(task))
    # A host stream may have turned ready between the first look and its wait_queues,
    # which then watches nothing: look once more, or the task would wait for good.
    revents = poll_once(task, wanted, for_select=for_select)
    if any(revents):
        return revents
    raise Block(queues, deadline_ns)
