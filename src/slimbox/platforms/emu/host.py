"""Host services made of portable Python only, for the emulator platform (and so for
hosts that are not Linux): clocks and entropy from the standard library, host
directories reached by path (hostdir.py), standard streams without termios (stdio.py).
Nothing here uses ctypes, fcntl, termios, fork or dir_fd."""

from __future__ import annotations

import os
import time

from slimbox.abi.errno import Errno
from slimbox.platforms.emu.hostdir import PortableHostDirectory
from slimbox.platforms.emu.hosterrors import LinuxErrno, linux_errors
from slimbox.platforms.emu.stdio import PortableStream

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO

CLOCK_REALTIME, CLOCK_MONOTONIC = 0, 1
#: the other clocks a vDSO would answer, read here as the realtime or monotonic clock
_LIKE_REALTIME, _LIKE_MONOTONIC = frozenset((5, 11)), frozenset((4, 6, 7))
#: memory reported when the host does not say (Windows, where asking needs ctypes)
FALLBACK_MEMORY_BYTES = 4 << 30


class PortableHost:
    """`cpu_model` is the unicorn CPU model the emulator runs (None: unicorn's default);
    hardware_capabilities describes that CPU."""

    __slots__ = ("cpu_model", "_capabilities")

    def __init__(self, cpu_model: int | None = None) -> None:
        self.cpu_model = cpu_model
        self._capabilities: dict[int, int] | None = None

    def clock_ns(self, clock: int) -> int:
        if clock in _LIKE_REALTIME:
            clock = CLOCK_REALTIME
        elif clock in _LIKE_MONOTONIC:
            clock = CLOCK_MONOTONIC
        if clock == CLOCK_REALTIME:
            return time.time_ns()
        if clock == CLOCK_MONOTONIC:
            # perf_counter is CLOCK_MONOTONIC on Linux and the high-resolution counter on
            # Windows, where monotonic() ticks in steps of about 15 ms (before 3.13)
            return time.perf_counter_ns()
        raise LinuxErrno(Errno.EINVAL, f"no host clock {clock}")

    def entropy(self, length: int) -> bytes:
        return os.urandom(length)

    def stdio(self) -> tuple[PortableStream, PortableStream, PortableStream]:
        return PortableStream(0), PortableStream(1), PortableStream(2)

    def open_host_directory(self, path: str, writable: bool) -> PortableHostDirectory:
        return PortableHostDirectory.open(path, writable)

    def open_archive(self, path: str) -> BinaryIO:
        with linux_errors():
            return open(path, "rb")

    def cpu_count(self) -> int:
        affinity = getattr(os, "sched_getaffinity", None)
        if affinity is not None:
            try:
                return len(affinity(0))
            except OSError:
                pass
        return os.cpu_count() or 1

    def memory_bytes(self) -> int:
        """Physical memory as POSIX sysconf gives it (Linux, macOS); else
        FALLBACK_MEMORY_BYTES (the sandbox's --memory limit still applies)."""
        sysconf = getattr(os, "sysconf", None)
        if sysconf is not None:
            try:
                total = sysconf("SC_PAGE_SIZE") * sysconf("SC_PHYS_PAGES")
            except (ValueError, OSError):
                total = 0
            if total > 0:
                return total
        return FALLBACK_MEMORY_BYTES

    def hardware_capabilities(self) -> dict[int, int]:
        """The emulated CPU's (capabilities.py), not the host's."""
        if self._capabilities is None:
            from slimbox.platforms.emu.capabilities import hardware_capabilities

            self._capabilities = hardware_capabilities(self.cpu_model)
        return dict(self._capabilities)
