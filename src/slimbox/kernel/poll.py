"""Waiting for several files at once: the core of poll, ppoll, select and pselect6."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.file import POLLERR, POLLHUP, POLLNVAL

if TYPE_CHECKING:
    from slimbox.kernel.task import Task

ALWAYS_REPORTED = POLLERR | POLLHUP | POLLNVAL


def poll_once(task: Task, wanted: list[tuple[int, int]]) -> list[int]:
    """Current readiness for (fd, events) pairs: the revents of each (POLLNVAL for a
    descriptor that is not open; 0 for a negative fd)."""
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
        results.append(file.poll() & (events | ALWAYS_REPORTED))
    return results


def wait_for_any(task: Task, wanted: list[tuple[int, int]], deadline_ns: int | None) -> list[int]:
    """Readiness now, or Block until some file may have changed or the deadline passes
    (then an all-zero result). `deadline_ns` None waits forever, 0 never waits."""
    revents = poll_once(task, wanted)
    if any(revents) or deadline_ns == 0:
        return revents
    if deadline_ns is not None and task.kernel.monotonic_ns() >= deadline_ns:
        return revents
    queues = []
    for fd, _ in wanted:
        if fd >= 0:
            queues.extend(task.fds.get(fd).wait_queues(task))
    raise Block(queues, deadline_ns)
