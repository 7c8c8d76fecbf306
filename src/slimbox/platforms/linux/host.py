"""Host services on a Linux (or other POSIX) machine."""

from __future__ import annotations

import os
import struct
import time

from slimbox.platforms.linux.hostdir import PosixHostDirectory
from slimbox.platforms.linux.stdio import FdStream

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO

_AT_HWCAP, _AT_HWCAP2, _AT_MINSIGSTKSZ = 16, 26, 51
_LIKE_REALTIME = frozenset((0, 5, 11))  # CLOCK_REALTIME, its coarse and TAI variants


class PosixHost:
    def clock_ns(self, clock: int) -> int:
        try:
            return time.clock_gettime_ns(clock)
        except OSError:  # a POSIX host without the Linux variant: its base clock
            return time.clock_gettime_ns(0 if clock in _LIKE_REALTIME else 1)

    def entropy(self, length: int) -> bytes:
        return os.urandom(length)

    def stdio(self) -> tuple[FdStream, FdStream, FdStream]:
        return FdStream(0), FdStream(1), FdStream(2)

    def open_host_directory(self, path: str, writable: bool) -> PosixHostDirectory:
        return PosixHostDirectory.open(path, writable)

    def open_archive(self, path: str) -> BinaryIO:
        return open(path, "rb")

    def cpu_count(self) -> int:
        try:
            return len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            return os.cpu_count() or 1

    def memory_bytes(self) -> int:
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            return 4 << 30

    def hardware_capabilities(self) -> dict[int, int]:
        """The CPU description the host kernel gave the supervisor itself."""
        wanted = (_AT_HWCAP, _AT_HWCAP2, _AT_MINSIGSTKSZ)
        try:
            with open("/proc/self/auxv", "rb") as f:
                raw = f.read()
        except OSError:
            return {}
        out = {}
        for key, value in struct.iter_unpack("<QQ", raw[: len(raw) // 16 * 16]):
            if key in wanted:
                out[key] = value
        return out
