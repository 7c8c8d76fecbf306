"""Host streams the kernel waits to read, watched through the platform's epoll.

Shared by the platforms that supervise from a Linux host (linux and kvm): each keeps one
epoll for everything it waits on and hands the fds of watched streams to this set.
"""

from __future__ import annotations

import os
import select

from slimbox.platforms.base import HostReadyEvent

_READABLE = select.EPOLLIN | select.EPOLLHUP | select.EPOLLRDHUP
_DRAIN_CHUNK = 4096  # bytes: 32 siginfo records of a signalfd


class StreamWatches:
    """Which watched fd stands for which kernel key; streams epoll refuses (a regular
    file, /dev/null) are always ready and reported at the next look."""

    def __init__(self, epoll: select.epoll) -> None:
        self._epoll = epoll
        self._keys: dict[int, object] = {}
        #: keys of always-ready streams watched since the last look (read by the
        #: platform's serving loop on every syscall, hence a plain attribute)
        self.ready_now: list[object] = []

    def __bool__(self) -> bool:
        """Whether some stream is watched (ready-at-once ones are not counted)."""
        return bool(self._keys)

    def __contains__(self, fd: int) -> bool:
        return fd in self._keys

    def watch(self, fd: int, key: object) -> None:
        if fd in self._keys:
            self._keys[fd] = key
            return
        self._keys[fd] = key
        try:
            self._epoll.register(fd, _READABLE)
        except PermissionError:  # a regular file or /dev/null: epoll refuses it, and it is always ready
            del self._keys[fd]
            if key not in self.ready_now:
                self.ready_now.append(key)

    def take_ready_now(self) -> list[HostReadyEvent]:
        """Events for the always-ready streams watched since the last look."""
        if not self.ready_now:
            return []
        events = [HostReadyEvent(key) for key in self.ready_now]
        self.ready_now.clear()
        return events

    def fired(self, fd: int) -> HostReadyEvent:
        """The event of `fd`, which epoll reported ready; the watch ends (the kernel
        watches again if it still waits)."""
        key = self._keys.pop(fd)
        self._epoll.unregister(fd)
        return HostReadyEvent(key)


def drain(fd: int) -> None:
    """Empty a non-blocking signalfd or pipe. A short read took everything pending (such
    reads return whole records up to the buffer's size): no second read to learn it."""
    try:
        while len(os.read(fd, _DRAIN_CHUNK)) == _DRAIN_CHUNK:
            pass
    except BlockingIOError:
        pass
