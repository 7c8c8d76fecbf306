"""Wait queues: where parked tasks wait for something to change."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable



class WaitQueue:
    """A list of callbacks run (once each) when the queue is notified."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[Callable[[], None]] = []

    def add(self, wake: Callable[[], None]) -> None:
        self._waiters.append(wake)

    def remove(self, wake: Callable[[], None]) -> None:
        try:
            self._waiters.remove(wake)
        except ValueError:
            pass

    def notify_all(self) -> None:
        if not self._waiters:
            return  # most notifications find nobody waiting
        waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()

    def __len__(self) -> int:
        return len(self._waiters)
