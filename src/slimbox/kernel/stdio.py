"""Files behind the standard streams: the host's own streams, or buffers the API
fills and collects (input= and capture_output=)."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError, from_os_error
from slimbox.kernel.file import O_RDONLY, O_WRONLY, POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, File
from slimbox.kernel.fs.inode import S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, Stat
from slimbox.kernel.signals import SIGXFSZ
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.platforms.base import HostStream

TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ = 0x540F, 0x5410, 0x5413, 0x5414
FIONREAD = 0x541B
TIOCGSID = 0x5429
TIOCSCTTY, TIOCNOTTY = 0x540E, 0x5422
TCFLSH, TCXONC, TCSBRK, TCSBRKP = 0x540B, 0x540A, 0x5409, 0x5425
TIOCSTI = 0x5412
TERMIOS_SIZE = 36
#: the device and inode numbers the sandbox gives the host's streams
STREAM_DEV = 0x0D
STREAM_INO_BASE = 1000


class HostStreamFile(File):
    """One of the host's standard streams, as the guest sees it."""

    def __init__(self, stream: HostStream, flags: int, name: bytes, index: int = 0) -> None:
        super().__init__(flags)
        self.stream = stream
        self.name = name
        self.index = index
        self.read_queue = WaitQueue()
        self.foreground_pgid = 0

    def describe(self) -> bytes:
        return self.name

    def stat(self) -> Stat:
        """The stream's type (and size, for a file) as the host has it; identity and
        ownership are the sandbox's, so nothing about the host leaks."""
        try:
            host = self.stream.stat()
        except OSError as exc:
            raise from_os_error(exc) from None
        kind = host.mode & S_IFMT
        size = host.size if kind == S_IFREG else 0
        now = host.mtime_ns
        return Stat(STREAM_DEV, STREAM_INO_BASE + self.index, kind | 0o620 if kind == S_IFCHR else kind | 0o600,
                    1, 0, 0, host.rdev if kind == S_IFCHR else 0, size, 4096, (size + 511) // 512, now, now, now)

    def read(self, task, length: int) -> bytes:
        try:
            data = self.stream.read(length)
        except OSError as exc:
            raise from_os_error(exc) from None
        if data is not None:
            return data
        if self.nonblocking:
            raise LinuxError(Errno.EAGAIN)
        task.kernel.platform.watch_readable(self.stream, self.read_queue)
        raise Block((self.read_queue,))

    def write(self, task, data: bytes) -> int:
        data = data[:_output_room(task, len(data))]
        done = 0
        try:
            while done < len(data):
                done += self.stream.write(data[done:])
        except BrokenPipeError:
            if done:
                return done
            raise LinuxError(Errno.EPIPE) from None
        except OSError as exc:
            if done:
                _count_output(task, done)
                return done
            raise from_os_error(exc) from None
        _count_output(task, done)
        return done

    def ioctl(self, task, request: int, arg: int) -> int:
        if not self.stream.is_terminal():
            if request == FIONREAD:
                task.mm.write(arg, structs.I32.pack(self._pending()))
                return 0
            raise LinuxError(Errno.ENOTTY)
        try:
            if request == TCGETS:
                task.mm.write(arg, self.stream.terminal_attributes()[:TERMIOS_SIZE])
                return 0
            if request in (TCSETS, TCSETSW, TCSETSF):
                attributes = task.mm.read(arg, TERMIOS_SIZE)
                self.stream.set_terminal_attributes(request - TCSETS, attributes)
                return 0
            if request == TIOCGWINSZ:
                task.mm.write(arg, self.stream.window_size()[:structs.WINSIZE.size])
                return 0
        except OSError as exc:
            raise from_os_error(exc) from None
        if request == TIOCGPGRP:
            task.mm.write(arg, structs.I32.pack(self.foreground_pgid or task.process.pgid))
            return 0
        if request == TIOCSPGRP:
            (pgid,) = structs.I32.unpack(task.mm.read(arg, 4))
            if pgid <= 0:
                raise LinuxError(Errno.EINVAL)
            self.foreground_pgid = pgid
            return 0
        if request == TIOCGSID:
            task.mm.write(arg, structs.I32.pack(task.process.sid))
            return 0
        if request == FIONREAD:
            task.mm.write(arg, structs.I32.pack(self._pending()))
            return 0
        if request in (TIOCSCTTY, TIOCNOTTY, TCFLSH, TCXONC, TCSBRK, TCSBRKP):
            return 0  # the host terminal is shared; these would act on the user's own session
        if request in (TIOCSTI, TIOCSWINSZ):
            raise LinuxError(Errno.EPERM)  # never inject input into, or resize, the host terminal
        raise LinuxError(Errno.ENOTTY)

    def _pending(self) -> int:
        try:
            return self.stream.pending()
        except OSError:
            return 0

    def poll(self) -> int:
        events = POLLOUT | POLLWRNORM
        if self.readable:
            try:
                if self.stream.ready():
                    events |= POLLIN | POLLRDNORM
            except OSError:
                events |= POLLERR
        return events

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        # A stream that is readable already (data, end of input, /dev/null) cannot become
        # more so: watching it would wake the waiter at once, again and again.
        if self.readable and not self.poll() & POLLIN:
            task.kernel.platform.watch_readable(self.stream, self.read_queue)
            return (self.read_queue,)
        return ()


class InputFile(File):
    """Standard input fed from bytes given to the API."""

    def __init__(self, data: bytes) -> None:
        super().__init__(O_RDONLY)
        self._data = data
        self._pos = 0

    def describe(self) -> bytes:
        return b"pipe:[input]"

    def stat(self) -> Stat:
        return _pipe_stat(STREAM_INO_BASE + 10)  # standard input is descriptor 0

    def read(self, task, length: int) -> bytes:
        chunk = self._data[self._pos:self._pos + length]
        self._pos += len(chunk)
        return chunk

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.EBADF)

    def poll(self) -> int:
        return POLLIN | POLLRDNORM


class CaptureFile(File):
    """Standard output or error collected for the API."""

    def __init__(self, sink: bytearray, index: int) -> None:
        super().__init__(O_WRONLY)
        self.sink = sink
        self.index = index

    def describe(self) -> bytes:
        return b"pipe:[capture]"

    def stat(self) -> Stat:
        return _pipe_stat(STREAM_INO_BASE + 10 + self.index)

    def read(self, task, length: int) -> bytes:
        raise LinuxError(Errno.EBADF)

    def write(self, task, data: bytes) -> int:
        data = data[:_output_room(task, len(data))]
        self.sink += data
        _count_output(task, len(data))
        return len(data)

    def poll(self) -> int:
        return POLLOUT | POLLWRNORM


def _output_room(task, count: int) -> int:
    """How much of a write to the sandbox's standard output or error still fits in its
    output limit; none at all is SIGXFSZ and EFBIG, as for a file past RLIMIT_FSIZE."""
    if task is None:
        return count
    room = task.kernel.output.room()
    if room is None:
        return count
    if room == 0:
        task.kernel.send_signal_to_task(task, SIGXFSZ)
        raise LinuxError(Errno.EFBIG)
    return min(count, room)


def _count_output(task, count: int) -> None:
    if task is not None:
        task.kernel.output.used += count


def _pipe_stat(ino: int) -> Stat:
    return Stat(STREAM_DEV, ino, S_IFIFO | 0o600, 1, 0, 0, 0, 0, 4096, 0, 0, 0, 0)
