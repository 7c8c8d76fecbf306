"""Pipes and FIFOs: a bounded byte buffer shared by the open files at its two ends.

A `Pipe` is the buffer with its bookkeeping (how many files read it and write it, the
queues tasks wait on); a `PipeFile` is one open end. pipe(2) makes a Pipe with a
read end and a write end on the pipefs (`PipeFs`, one per kernel); a FIFO inode keeps
one Pipe and hands out ends as it is opened (`Pipe.open_fifo`), with an O_RDWR open
being both a reader and a writer.

Blocking follows the kernel's rule (see errors.py): an operation that must wait
raises `Block` and runs again from the start when woken, so nothing changes until it
can complete. Two things follow from that:

* A reader or writer waiting in a FIFO open is represented by its place on an open
  queue: the kernel keeps a parked task on the queues it blocked on and takes it off
  when the task is woken or killed. The length of a queue is therefore the number of
  openers waiting on it, and they count as readers (writers) as they do on Linux, so
  two blocking opens of the two sides meet instead of waiting for each other.
* A write larger than PIPE_BUF is not atomic: it puts in what fits and returns that
  count, waiting only while nothing fits. Linux keeps a blocking write waiting until
  all of it is in; stopping short (which POSIX allows, and careful callers loop on)
  means a write never has to be resumed half done.

Capacity is counted in bytes (Linux counts page-sized slots, so a pipe fed in odd-
sized chunks holds somewhat less there); POLLOUT means at least a page is free.
"""

from __future__ import annotations

from _collections import deque  # the C module behind collections, whose import costs ~3 ms a run

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.file import (
    O_ACCMODE, O_DIRECT, O_NONBLOCK, O_RDONLY, O_WRONLY, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM,
    POLLWRNORM, File,
)
from slimbox.kernel.fs.inode import S_IFIFO, FileSystem, Inode, Stat
from slimbox.kernel.stdio import STREAM_DEV
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable
    from slimbox.kernel.kernel import Kernel

PAGE_SIZE = 4096
#: writes of at most this many bytes are atomic
PIPE_BUF = 4096
#: the capacity of a new pipe
DEFAULT_PIPE_SIZE = 16 * PAGE_SIZE
#: /proc/sys/fs/pipe-max-size: the most F_SETPIPE_SZ grants
PIPE_MAX_SIZE = 1 << 20
#: F_SETPIPE_SZ requests above this are invalid, whoever asks
_SIZE_LIMIT = 1 << 31

FIONREAD = 0x541B
SIGPIPE = 13

PIPEFS_MAGIC = 0x50495045
#: pipefs shares the device number of the standard streams, which also show as pipes
PIPEFS_DEV = STREAM_DEV
#: pipefs inode numbers start above those of the standard streams
_PIPEFS_FIRST_INO = 4096


def round_pipe_size(requested: int) -> int:
    """The capacity F_SETPIPE_SZ gives for a request: at least a page, rounded up to a
    power of two; 0 for a request too large to consider."""
    if requested > _SIZE_LIMIT:
        return 0
    if requested <= PAGE_SIZE:
        return PAGE_SIZE
    return 1 << (requested - 1).bit_length()


class Pipe:
    """The buffer of one pipe or FIFO.

    Data is a queue of segments: plain writes merge into one growing stream segment,
    while each write from a packet-mode (O_DIRECT) end makes one segment per page,
    and a read takes at most one such packet (dropping what does not fit).
    """

    __slots__ = ("capacity", "size", "_segments", "readers", "writers", "writer_opens",
                 "read_queue", "write_queue", "reader_openers", "writer_openers")

    def __init__(self) -> None:
        self.capacity = DEFAULT_PIPE_SIZE
        #: bytes held
        self.size = 0
        #: [data, is_packet] segments, oldest first
        self._segments: deque[list] = deque()
        #: open files that read (write) this pipe
        self.readers = 0
        self.writers = 0
        #: how many times a writing end has been opened (a nonblocking FIFO reader
        #: opened with no writer reports no POLLHUP until this moves)
        self.writer_opens = 0
        #: tasks wanting data or room, and tasks in a FIFO open waiting for the other side
        self.read_queue = WaitQueue()
        self.write_queue = WaitQueue()
        self.reader_openers = WaitQueue()
        self.writer_openers = WaitQueue()

    # --- who is there -----------------------------------------------------------------------

    def readers_present(self) -> int:
        """Readers, counting those still waiting in a FIFO open."""
        return self.readers + len(self.reader_openers)

    def writers_present(self) -> int:
        """Writers, counting those still waiting in a FIFO open."""
        return self.writers + len(self.writer_openers)

    def free(self) -> int:
        return max(self.capacity - self.size, 0)

    # --- the data --------------------------------------------------------------------------------

    def put(self, data: bytes, packet: bool) -> None:
        """Append `data` (which must fit) and wake readers."""
        if packet:
            for start in range(0, len(data), PAGE_SIZE):
                self._segments.append([bytearray(data[start:start + PAGE_SIZE]), True])
        elif self._segments and not self._segments[-1][1]:
            self._segments[-1][0] += data
        else:
            self._segments.append([bytearray(data), False])
        self.size += len(data)
        self.read_queue.notify_all()

    def take(self, length: int) -> bytes:
        """Remove and return up to `length` bytes (stopping after a packet) and wake writers."""
        segments = self._segments
        if len(segments) == 1 and not segments[0][1] and len(segments[0][0]) <= length:
            data = segments.popleft()[0]  # the common case: all there is, in one piece
            self.size -= len(data)
            self.write_queue.notify_all()
            return bytes(data)
        out = bytearray()
        while self._segments and len(out) < length:
            segment = self._segments[0]
            data, packet = segment
            want = length - len(out)
            if packet or len(data) <= want:
                out += data[:want]
                self._segments.popleft()
                self.size -= len(data)
                if packet:
                    break
            else:
                out += data[:want]
                del data[:want]
                self.size -= want
        if out:
            self.write_queue.notify_all()
        return bytes(out)

    def resize(self, requested: int) -> int:
        """F_SETPIPE_SZ: the new capacity, or EINVAL (absurd request), EPERM (growing past
        the maximum) or EBUSY (less than what the pipe holds)."""
        size = round_pipe_size(requested)
        if size == 0:
            raise LinuxError(Errno.EINVAL)
        if size > self.capacity and size > PIPE_MAX_SIZE:
            raise LinuxError(Errno.EPERM)
        if size < self.size:
            raise LinuxError(Errno.EBUSY)
        grew = size > self.capacity
        self.capacity = size
        if grew:
            self.write_queue.notify_all()
        return size

    # --- ends ------------------------------------------------------------------------------------

    def attach(self, file: PipeFile) -> None:
        if file.readable:
            self.readers += 1
            self.writer_openers.notify_all()
        if file.writable:
            self.writers += 1
            self.writer_opens += 1
            self.reader_openers.notify_all()

    def detach(self, file: PipeFile) -> None:
        if file.readable:
            self.readers -= 1
            if self.readers == 0:
                self.write_queue.notify_all()   # writers now see EPIPE / POLLERR
        if file.writable:
            self.writers -= 1
            if self.writers == 0:
                self.read_queue.notify_all()    # readers now see end of file / POLLHUP
        if self.readers == 0 and self.writers == 0:
            # with nobody left Linux frees the pipe: a FIFO opened later starts afresh
            self._segments.clear()
            self.size = 0
            self.capacity = DEFAULT_PIPE_SIZE

    def open_fifo(self, flags: int, inode: Inode) -> PipeFile:
        """An end of this pipe for an open(2) of the FIFO `inode`.

        O_RDONLY waits for a writer (with O_NONBLOCK it does not), O_WRONLY waits for a
        reader (with O_NONBLOCK and none: ENXIO), O_RDWR never waits. A waiting open
        raises Block on the queue whose length counts it; the re-run starts over.
        """
        mode = flags & O_ACCMODE
        hup_after = None
        if mode == O_RDONLY and not self.writers_present():
            if not flags & O_NONBLOCK:
                raise Block((self.reader_openers,))
            hup_after = self.writer_opens
        elif mode == O_WRONLY and not self.readers_present():
            if flags & O_NONBLOCK:
                raise LinuxError(Errno.ENXIO)
            raise Block((self.writer_openers,))
        return PipeFile(self, flags, inode, hup_after=hup_after)


class PipeFile(File):
    """An open end of a pipe: reading, writing or (a FIFO opened O_RDWR) both."""

    def __init__(self, pipe: Pipe, flags: int, inode: Inode | None, *, hup_after: int | None = None) -> None:
        super().__init__(flags, None, inode)
        self.pipe = pipe
        #: POLLHUP is withheld while pipe.writer_opens equals this (None: never withheld)
        self._hup_after = hup_after
        self._released = False
        pipe.attach(self)

    def describe(self) -> bytes:
        if self.path is not None:
            return self.path.full_path()
        return b"pipe:[%d]" % (self.inode.ino if self.inode is not None else 0)

    # --- reading and writing -----------------------------------------------------------------------

    def read(self, task, length: int) -> bytes:
        pipe = self.pipe
        if length <= 0:
            return b""
        if pipe.size == 0:
            if not pipe.writers_present():
                return b""
            if self.nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((pipe.read_queue,))
        return pipe.take(length)

    def write(self, task, data: bytes) -> int:
        pipe = self.pipe
        if not data:
            return 0
        if not pipe.readers_present():
            _raise_sigpipe(task)
            raise LinuxError(Errno.EPIPE)
        total = len(data)
        free = pipe.free()
        # at most PIPE_BUF bytes go in whole or not at all; more may go in part
        if free < total and (total <= PIPE_BUF or free == 0):
            if self.nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((pipe.write_queue,))
        written = min(free, total)
        pipe.put(data[:written] if written < total else data, bool(self.flags & O_DIRECT))
        self._touch()
        return written

    def _touch(self) -> None:
        touch: Callable[..., None] | None = getattr(self.inode, "touch", None)
        if touch is not None:
            touch()

    # --- readiness ---------------------------------------------------------------------------------------

    def poll(self) -> int:
        pipe = self.pipe
        events = 0
        if self.readable:
            if pipe.size:
                events |= POLLIN | POLLRDNORM
            if not pipe.writers_present() and pipe.writer_opens != self._hup_after:
                events |= POLLHUP
        if self.writable:
            if pipe.free() >= PAGE_SIZE:
                events |= POLLOUT | POLLWRNORM
            if not pipe.readers_present():
                events |= POLLERR
        return events

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        queues: tuple[WaitQueue, ...] = ()
        if self.readable:
            queues += (self.pipe.read_queue,)
        if self.writable:
            queues += (self.pipe.write_queue,)
        return queues

    def keyed_wait_queues(self, task) -> tuple[tuple[WaitQueue, int], ...]:
        if self.readable and self.writable:
            # a FIFO opened O_RDWR is its own reader and writer, so it never sees a
            # hang-up or error: the data queue signals data and the room queue room
            return ((self.pipe.read_queue, POLLIN | POLLRDNORM), (self.pipe.write_queue, POLLOUT | POLLWRNORM))
        return super().keyed_wait_queues(task)

    # --- control -------------------------------------------------------------------------------------------

    def ioctl(self, task, request: int, arg: int) -> int:
        if request == FIONREAD:
            task.mm.write(arg, structs.I32.pack(min(self.pipe.size, 0x7FFFFFFF)))
            return 0
        raise LinuxError(Errno.ENOTTY)

    def pipe_size(self) -> int:
        """F_GETPIPE_SZ."""
        return self.pipe.capacity

    def set_pipe_size(self, requested: int) -> int:
        """F_SETPIPE_SZ: the capacity granted."""
        return self.pipe.resize(requested)

    def sync(self) -> None:
        raise LinuxError(Errno.EINVAL)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.pipe.detach(self)


def _raise_sigpipe(task) -> None:
    """A write found no reader: the writer gets SIGPIPE (when the kernel delivers signals)."""
    if task is None:
        return
    send = getattr(task.kernel, "send_signal_to_task", None)
    if send is not None:
        send(task, SIGPIPE)


# --- pipefs: where pipe(2) pipes live ---------------------------------------------------------------


class PipeFs(FileSystem):
    """The filesystem of anonymous pipes: never mounted, only numbers their inodes."""

    fstype = "pipefs"

    def __init__(self, clock: Callable[[], int], dev: int = PIPEFS_DEV) -> None:
        super().__init__(dev, clock)
        self._next = _PIPEFS_FIRST_INO

    def next_ino(self) -> int:
        ino = self._next
        self._next += 1
        return ino

    def statfs(self) -> tuple[int, int, int, int]:
        return (PIPEFS_MAGIC, 0, 0, 0)


class PipeInode(Inode):
    """The inode both ends of one pipe(2) pipe share."""

    __slots__ = ("uid", "gid", "atime_ns", "mtime_ns", "ctime_ns")

    def __init__(self, fs: PipeFs, uid: int, gid: int) -> None:
        super().__init__(fs, fs.next_ino())
        self.uid = uid
        self.gid = gid
        self.atime_ns = self.mtime_ns = self.ctime_ns = fs.clock()

    @property
    def mode(self) -> int:
        return S_IFIFO | 0o600

    def stat(self) -> Stat:
        return Stat(self.fs.dev, self.ino, S_IFIFO | 0o600, 1, self.uid, self.gid, 0, 0, PAGE_SIZE, 0,
                    self.atime_ns, self.mtime_ns, self.ctime_ns)

    def touch(self) -> None:
        self.mtime_ns = self.ctime_ns = self.fs.clock()


def pipefs_of(kernel: Kernel) -> PipeFs:
    """The kernel's pipefs, made on first use."""
    fs = getattr(kernel, "pipefs", None)
    if fs is None:
        fs = PipeFs(kernel.realtime_ns)
        kernel.pipefs = fs
    return fs


def make_pipe(fs: PipeFs, uid: int, gid: int, flags: int = 0) -> tuple[PipeFile, PipeFile]:
    """A new pipe's (read end, write end). `flags` may hold O_NONBLOCK (both ends) and
    O_DIRECT (packet mode, a property of the write end)."""
    inode = PipeInode(fs, uid, gid)
    pipe = Pipe()
    read_end = PipeFile(pipe, O_RDONLY | (flags & O_NONBLOCK), inode)
    write_end = PipeFile(pipe, O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT)), inode)
    return read_end, write_end
