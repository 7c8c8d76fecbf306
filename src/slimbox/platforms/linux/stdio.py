"""The sandbox's standard streams, passed through to the host's own descriptors.

A terminal stays a terminal: termios and window size are read from (and termios
written to) the host terminal, with fixed-size structures only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import stat

from slimbox.platforms.base import HostStat
from slimbox.platforms.linux.hostdir import host_stat

_TERMIOS_SIZE = 36  # the kernel's struct termios (TCGETS), not libc's 60-byte one
_WINSIZE_SIZE = 8
# The x86-64 Linux ioctl request numbers, as the termios module has them (which, a C
# extension, is not loaded for these alone: about 1 ms of every run)
TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TIOCGWINSZ, FIONREAD = 0x5413, 0x541B
_SET_REQUESTS = {0: TCSETS, 1: TCSETSW, 2: TCSETSF}


class FdStream:
    """A host stdio descriptor, borrowed (never closed by the sandbox)."""

    __slots__ = ("fd", "_regular")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        try:
            self._regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            self._regular = False

    def fileno(self) -> int:
        return self.fd

    def stat(self) -> HostStat:
        return host_stat(os.fstat(self.fd))

    def ready(self) -> bool:
        """Whether a read would not block (data, end of file, or an error to report)."""
        if self._regular:
            return True
        readable, _, _ = select.select([self.fd], [], [], 0)
        return bool(readable)

    def read(self, length: int) -> bytes | None:
        if not self.ready():
            return None
        try:
            return os.read(self.fd, length)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno == errno.EIO:  # a terminal that went away reads as end of file
                return b""
            raise

    def write(self, data: bytes) -> int:
        return os.write(self.fd, data)

    def is_terminal(self) -> bool:
        return os.isatty(self.fd)

    def terminal_attributes(self) -> bytes:
        return fcntl.ioctl(self.fd, TCGETS, bytes(_TERMIOS_SIZE))

    def set_terminal_attributes(self, when: int, attributes: bytes) -> None:
        if len(attributes) != _TERMIOS_SIZE or when not in _SET_REQUESTS:
            raise OSError(errno.EINVAL, "bad termios request")
        fcntl.ioctl(self.fd, _SET_REQUESTS[when], attributes)

    def pending(self) -> int:
        """Bytes ready to read without blocking (FIONREAD)."""
        return int.from_bytes(fcntl.ioctl(self.fd, FIONREAD, bytes(4)), "little", signed=True)

    def window_size(self) -> bytes:
        return fcntl.ioctl(self.fd, TIOCGWINSZ, bytes(_WINSIZE_SIZE))

    def close(self) -> None:
        """Borrowed descriptors stay open."""
