"""The sandbox's standard streams over the supervisor's own, with portable calls only.

A read never blocks the supervisor: it returns None when nothing is there. Where
select() takes the descriptor (POSIX hosts) it says whether input is there, and nothing
is read before the guest asks. Where it refuses it (Windows: sockets only), a thread
reads the input stream ahead into a bounded buffer; input it has read that the guest never
asked for is then lost to whatever reads the stream after the sandbox, and one read may
stay pending in that thread after the run.

`when_ready(callback)` lets a platform wait for input without polling: the callback is
called once, possibly from another thread, when a read would not block.

Terminal settings are not portable (their calls and flag values are the host's own), so
`is_terminal` tells the truth but the termios requests raise ENOTTY: to the guest the
stream is then not a terminal (isatty asks TCGETS). The window size is the host's.
"""

from __future__ import annotations

import os
import select
import stat as stat_mod
import struct
import threading

from slimbox.abi.errno import Errno
from slimbox.platforms.base import HostStat
from slimbox.platforms.emu.hostdir import host_stat
from slimbox.platforms.emu.hosterrors import LinuxErrno, linux_errors

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable

_CHUNK = 65536
_READ_AHEAD_LIMIT = 1 << 20  # the reader thread waits while this much is unread
_WATCH_PERIOD = 0.25  # seconds a select() watcher sleeps before checking it is still wanted
_WINSIZE = struct.Struct("<HHHH")


class _ReadAhead:
    """A thread that reads a stream ahead into a buffer, started by the first question."""

    __slots__ = ("fd", "_lock", "_buffer", "_eof", "_error", "_callbacks", "_thread", "_closed")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Condition()
        self._buffer = bytearray()
        self._eof = False
        self._error: OSError | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def _start(self) -> None:
        """Start the thread (the lock is held)."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name=f"slimbox-input-{self.fd}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while len(self._buffer) >= _READ_AHEAD_LIMIT and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
            failure = None
            try:
                chunk = os.read(self.fd, _CHUNK)
            except OSError as exc:
                chunk, failure = b"", exc
            with self._lock:
                if failure is not None and failure.errno != Errno.EIO:  # EIO: a terminal gone, end of input
                    self._error = failure
                elif chunk:
                    self._buffer += chunk
                else:
                    self._eof = True
                callbacks, self._callbacks = self._callbacks, []
                finished = self._eof or self._error is not None
            for callback in callbacks:
                callback()
            if finished:
                return

    def _ready(self) -> bool:
        return bool(self._buffer) or self._eof or self._error is not None

    def ready(self) -> bool:
        with self._lock:
            self._start()
            return self._ready()

    def read(self, length: int) -> bytes | None:
        with self._lock:
            self._start()
            if self._buffer:
                data = bytes(self._buffer[:length])
                del self._buffer[:length]
                self._lock.notify_all()
                return data
            if self._error is not None:
                raise self._error
            return b"" if self._eof else None

    def pending(self) -> int:
        with self._lock:
            self._start()
            return len(self._buffer)

    def when_ready(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._start()
            if not self._ready():
                self._callbacks.append(callback)
                return
        callback()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._callbacks.clear()
            self._lock.notify_all()


class _SelectWatch:
    """Calls back once a descriptor select() can watch has input; one thread at a time."""

    __slots__ = ("fd", "_lock", "_callbacks", "_running", "_closed")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self._running = False
        self._closed = False

    def when_ready(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if self._closed:
                return
            self._callbacks.append(callback)
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._run, name=f"slimbox-watch-{self.fd}", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                readable = bool(select.select([self.fd], [], [], _WATCH_PERIOD)[0])
            except (OSError, ValueError):
                readable = True  # the read will report what is wrong
            with self._lock:
                if self._closed:
                    self._running = False
                    return
                if not readable:
                    continue
                callbacks, self._callbacks = self._callbacks, []
                self._running = False
            for callback in callbacks:
                callback()
            return

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._callbacks.clear()


def select_takes(fd: int) -> bool:
    """Whether select() can watch `fd` (on Windows it takes sockets only)."""
    try:
        select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return False
    return True


class PortableStream:
    """One of the supervisor's standard streams, borrowed (never closed here).
    `read_ahead` chooses the reader thread (default: where select() refuses `fd`)."""

    __slots__ = ("fd", "_regular", "_reader", "_watch")

    def __init__(self, fd: int, *, read_ahead: bool | None = None) -> None:
        self.fd = fd
        try:
            self._regular = stat_mod.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            self._regular = False
        if read_ahead is None:
            read_ahead = not self._regular and not select_takes(fd)
        self._reader = _ReadAhead(fd) if read_ahead and not self._regular else None
        self._watch = _SelectWatch(fd) if not read_ahead and not self._regular else None

    def fileno(self) -> int:
        return self.fd

    def stat(self) -> HostStat:
        with linux_errors():
            return host_stat(os.fstat(self.fd))

    def ready(self) -> bool:
        """Whether a read would not block (data, end of file, or an error to report)."""
        if self._regular:
            return True
        if self._reader is not None:
            return self._reader.ready()
        try:
            return bool(select.select([self.fd], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call `callback` once a read would not block: now, or later from another thread."""
        if self._reader is not None:
            self._reader.when_ready(callback)
        elif self._watch is not None and not self.ready():
            self._watch.when_ready(callback)
        else:
            callback()

    def read(self, length: int) -> bytes | None:
        with linux_errors():
            if self._reader is not None:
                return self._reader.read(length)
            if not self.ready():
                return None
            try:
                return os.read(self.fd, length)
            except BlockingIOError:
                return None
            except OSError as exc:
                if exc.errno == Errno.EIO:  # a terminal that went away reads as end of file
                    return b""
                raise

    def write(self, data: bytes) -> int:
        with linux_errors():
            return os.write(self.fd, data)

    def is_terminal(self) -> bool:
        return os.isatty(self.fd)

    def terminal_attributes(self) -> bytes:
        raise LinuxErrno(Errno.ENOTTY, "terminal settings are not available on this host")

    def set_terminal_attributes(self, when: int, attributes: bytes) -> None:
        raise LinuxErrno(Errno.ENOTTY, "terminal settings are not available on this host")

    def window_size(self) -> bytes:
        try:
            size = os.get_terminal_size(self.fd)
        except (OSError, ValueError):
            raise LinuxErrno(Errno.ENOTTY, "not a terminal") from None
        return _WINSIZE.pack(min(size.lines, 0xFFFF), min(size.columns, 0xFFFF), 0, 0)

    def pending(self) -> int:
        """Bytes ready to read without blocking. Exact for a file and with the reader
        thread; otherwise 1 while input is there (the count needs FIONREAD, not portable)."""
        with linux_errors():
            if self._regular:
                return max(0, os.fstat(self.fd).st_size - os.lseek(self.fd, 0, os.SEEK_CUR))
            if self._reader is not None:
                return self._reader.pending()
            return 1 if self.ready() else 0

    def close(self) -> None:
        """The descriptor stays open (borrowed); the helper threads stop."""
        if self._reader is not None:
            self._reader.close()
        if self._watch is not None:
            self._watch.close()
