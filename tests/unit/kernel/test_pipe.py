"""Pipes and FIFOs in the kernel: the buffer, its two ends, and FIFO opens, over a
real Kernel on the fake platform."""

from __future__ import annotations

import pytest

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.fd import FdTable
from slimbox.kernel.file import (
    O_DIRECT, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM,
    POLLWRNORM, SEEK_SET,
)
from slimbox.kernel.fs.inode import S_IFIFO, S_IFMT
from slimbox.kernel.fs.memfs import MemFs
from slimbox.kernel.fs.vfs import FsContext, Vfs
from slimbox.kernel.kernel import Kernel
from slimbox.kernel.mm import PROT_READ, PROT_WRITE
from slimbox.kernel.pipe import (
    DEFAULT_PIPE_SIZE, FIONREAD, PIPE_BUF, PIPE_MAX_SIZE, PIPEFS_DEV, PIPEFS_MAGIC, make_pipe, pipefs_of,
)
from slimbox.platforms.fake import FakeHost, FakePlatform

SCRATCH = 0x10000
SIGPIPE = 13


class World:
    """A kernel with a memfs root and one guest task that has a page of scratch memory."""

    def __init__(self) -> None:
        host = FakeHost()
        self.kernel = Kernel(host)
        self.kernel.platform = FakePlatform(host)
        self.fs = MemFs(1, self.kernel.realtime_ns, root_mode=0o1777)
        self.vfs = Vfs(self.fs, self.fs.root)
        self.kernel.vfs = self.vfs
        self.cred = Credentials.of(1000, 1000)
        self.ctx = FsContext(self.vfs.root, self.vfs.root)
        self.task = self.kernel.new_process(None, self.cred, self.ctx, FdTable())
        self.task.mm.map_fixed_anonymous(SCRATCH, 4096, PROT_READ | PROT_WRITE)

    def pipe(self, flags: int = 0):
        return make_pipe(pipefs_of(self.kernel), 1000, 1000, flags)

    def mkfifo(self, path: bytes = b"/fifo", mode: int = 0o640) -> None:
        self.vfs.mknod(self.ctx, self.cred, self.vfs.root, path, S_IFIFO | mode, 0)

    def open(self, path: bytes, flags: int):
        return self.vfs.open(self.ctx, self.cred, self.vfs.root, path, flags)


@pytest.fixture
def world():
    return World()


def errno_of(action, *args) -> int | None:
    try:
        action(*args)
    except LinuxError as exc:
        return exc.errno
    return None


def blocked_on(action, *args) -> tuple:
    """The queues `action` blocks on (it must block)."""
    with pytest.raises(Block) as info:
        action(*args)
    return info.value.queues


def park(queues) -> list[str]:
    """Wait on `queues` as the kernel parks a task; the list fills when one is notified."""
    woken: list[str] = []
    for queue in queues:
        queue.add(lambda: woken.append("woken"))
    return woken


# --- reading and writing -------------------------------------------------------------------------


def test_read_returns_what_is_there_up_to_the_request(world):
    reader, writer = world.pipe()
    assert writer.write(world.task, b"hello ") == 6
    assert writer.write(world.task, b"world") == 5
    assert reader.read(world.task, 3) == b"hel"
    assert reader.read(world.task, 100) == b"lo world"


def test_end_of_file_once_every_writer_has_closed(world):
    reader, writer = world.pipe()
    writer.write(world.task, b"last words")
    writer.release()
    assert reader.read(world.task, 100) == b"last words"
    assert reader.read(world.task, 100) == b""


def test_epipe_and_sigpipe_once_every_reader_has_closed(world):
    reader, writer = world.pipe()
    sent = []
    world.kernel.send_signal_to_task = lambda task, signo: sent.append((task, signo))
    reader.release()
    assert errno_of(writer.write, world.task, b"anyone?") == Errno.EPIPE
    assert sent == [(world.task, SIGPIPE)]


def test_epipe_without_a_signal_sender_is_still_epipe(world):
    reader, writer = world.pipe()
    reader.release()
    if hasattr(world.kernel, "send_signal_to_task"):
        world.kernel.send_signal_to_task = lambda task, signo: None
    assert errno_of(writer.write, world.task, b"x") == Errno.EPIPE


def test_nonblocking_ends_say_eagain(world):
    reader, writer = world.pipe(O_NONBLOCK)
    assert errno_of(reader.read, world.task, 10) == Errno.EAGAIN
    writer.write(world.task, bytes(DEFAULT_PIPE_SIZE))
    assert errno_of(writer.write, world.task, b"x") == Errno.EAGAIN


def test_a_blocked_read_is_woken_by_a_write_and_succeeds_when_run_again(world):
    reader, writer = world.pipe()
    queues = blocked_on(reader.read, world.task, 10)
    assert queues == reader.wait_queues(world.task)
    woken = park(queues)
    writer.write(world.task, b"news")
    assert woken
    assert reader.read(world.task, 10) == b"news"


def test_a_blocked_read_is_woken_when_the_last_writer_closes(world):
    reader, writer = world.pipe()
    woken = park(blocked_on(reader.read, world.task, 10))
    writer.release()
    assert woken
    assert reader.read(world.task, 10) == b""


def test_small_writes_go_in_whole_or_not_at_all(world):
    reader, writer = world.pipe(O_NONBLOCK)
    writer.write(world.task, bytes(DEFAULT_PIPE_SIZE - 100))
    assert errno_of(writer.write, world.task, b"y" * 200) == Errno.EAGAIN
    assert reader.pipe.size == DEFAULT_PIPE_SIZE - 100  # nothing of it went in
    writer.flags &= ~O_NONBLOCK
    blocked_on(writer.write, world.task, b"y" * PIPE_BUF)
    assert reader.pipe.size == DEFAULT_PIPE_SIZE - 100
    assert writer.write(world.task, b"y" * 100) == 100


def test_large_writes_go_in_part_and_wait_only_when_nothing_fits(world):
    reader, writer = world.pipe()
    writer.write(world.task, bytes(DEFAULT_PIPE_SIZE - 100))
    assert writer.write(world.task, b"z" * (PIPE_BUF + 1)) == 100
    woken = park(blocked_on(writer.write, world.task, b"z" * (PIPE_BUF + 1)))
    assert reader.read(world.task, 1000) == bytes(1000)
    assert woken
    assert writer.write(world.task, b"z" * (PIPE_BUF + 1)) == 1000
    writer.flags |= O_NONBLOCK
    assert errno_of(writer.write, world.task, b"z" * (PIPE_BUF + 1)) == Errno.EAGAIN


def test_reading_everything_at_once_empties_the_pipe_and_wakes_writers(world):
    reader, writer = world.pipe()
    writer.write(world.task, b"x" * DEFAULT_PIPE_SIZE)
    woken = park(blocked_on(writer.write, world.task, b"more"))
    assert reader.read(world.task, DEFAULT_PIPE_SIZE * 2) == b"x" * DEFAULT_PIPE_SIZE
    assert woken
    assert writer.write(world.task, b"more") == 4
    assert reader.read(world.task, 100) == b"more"
    reader.flags |= O_NONBLOCK
    assert errno_of(reader.read, world.task, 1) == Errno.EAGAIN


def test_a_write_bigger_than_an_empty_pipe_fills_it(world):
    reader, writer = world.pipe()
    assert writer.write(world.task, b"q" * (DEFAULT_PIPE_SIZE + 5000)) == DEFAULT_PIPE_SIZE


def test_a_blocked_write_is_woken_when_the_last_reader_closes(world):
    reader, writer = world.pipe()
    writer.write(world.task, bytes(DEFAULT_PIPE_SIZE))
    woken = park(blocked_on(writer.write, world.task, b"more"))
    reader.release()
    assert woken
    assert errno_of(writer.write, world.task, b"more") == Errno.EPIPE


def test_packet_mode_reads_one_write_at_a_time_and_drops_the_rest(world):
    reader, writer = world.pipe(O_DIRECT)
    assert not reader.flags & O_DIRECT and writer.flags & O_DIRECT
    writer.write(world.task, b"first packet")
    writer.write(world.task, b"second packet")
    writer.write(world.task, b"third")
    assert reader.read(world.task, 100) == b"first packet"
    assert reader.read(world.task, 6) == b"second"
    assert reader.read(world.task, 100) == b"third"


def test_stream_writes_merge_for_readers(world):
    reader, writer = world.pipe()
    for piece in (b"a", b"b", b"c"):
        writer.write(world.task, piece)
    assert reader.read(world.task, 100) == b"abc"


# --- readiness ---------------------------------------------------------------------------------------


def test_poll_bits_of_both_ends(world):
    reader, writer = world.pipe()
    assert reader.poll() == 0
    assert writer.poll() == POLLOUT | POLLWRNORM
    writer.write(world.task, b"data")
    assert reader.poll() == POLLIN | POLLRDNORM
    writer.write(world.task, bytes(DEFAULT_PIPE_SIZE - 4 - 100))
    assert writer.poll() == 0  # less than a page free
    reader.read(world.task, 5000)
    assert writer.poll() == POLLOUT | POLLWRNORM
    writer.release()
    assert reader.poll() == POLLIN | POLLRDNORM | POLLHUP
    reader.read(world.task, DEFAULT_PIPE_SIZE)
    assert reader.poll() == POLLHUP


def test_poll_reports_an_error_on_the_write_end_without_readers(world):
    reader, writer = world.pipe()
    reader.release()
    assert writer.poll() == POLLOUT | POLLWRNORM | POLLERR


def test_each_end_waits_on_its_own_queue(world):
    reader, writer = world.pipe()
    assert reader.wait_queues(world.task) == (reader.pipe.read_queue,)
    assert writer.wait_queues(world.task) == (writer.pipe.write_queue,)


# --- control ---------------------------------------------------------------------------------------------


def test_fionread_counts_the_bytes_waiting(world):
    reader, writer = world.pipe()
    writer.write(world.task, b"12345")
    writer.write(world.task, b"678")
    assert reader.ioctl(world.task, FIONREAD, SCRATCH) == 0
    assert structs.I32.unpack(world.task.mm.read(SCRATCH, 4)) == (8,)
    assert writer.ioctl(world.task, FIONREAD, SCRATCH + 4) == 0
    assert structs.I32.unpack(world.task.mm.read(SCRATCH + 4, 4)) == (8,)
    assert errno_of(reader.ioctl, world.task, 0x5401, SCRATCH) == Errno.ENOTTY


def test_pipe_size_rounds_to_a_power_of_two_pages(world):
    reader, writer = world.pipe()
    assert reader.pipe_size() == writer.pipe_size() == DEFAULT_PIPE_SIZE
    assert writer.set_pipe_size(0) == 4096
    assert writer.set_pipe_size(5000) == 8192
    assert reader.pipe_size() == 8192
    assert writer.set_pipe_size(PIPE_MAX_SIZE) == PIPE_MAX_SIZE
    assert writer.set_pipe_size(4096 * 3) == 4096 * 4


def test_pipe_size_limits(world):
    reader, writer = world.pipe()
    assert errno_of(writer.set_pipe_size, PIPE_MAX_SIZE + 1) == Errno.EPERM
    assert errno_of(writer.set_pipe_size, 1 << 31) == Errno.EPERM
    assert errno_of(writer.set_pipe_size, (1 << 31) + 1) == Errno.EINVAL
    assert errno_of(writer.set_pipe_size, 1 << 40) == Errno.EINVAL
    writer.write(world.task, bytes(10_000))
    assert errno_of(writer.set_pipe_size, 8192) == Errno.EBUSY
    assert writer.pipe_size() == DEFAULT_PIPE_SIZE
    assert writer.set_pipe_size(16384) == 16384


def test_a_smaller_pipe_holds_less_and_growing_wakes_writers(world):
    reader, writer = world.pipe(O_NONBLOCK)
    writer.set_pipe_size(4096)
    assert writer.write(world.task, bytes(10_000)) == 4096
    writer.flags &= ~O_NONBLOCK
    woken = park(blocked_on(writer.write, world.task, b"x"))
    writer.set_pipe_size(8192)
    assert woken
    assert writer.write(world.task, b"x") == 1


def test_stat_and_name_of_a_pipe(world):
    reader, writer = world.pipe()
    other_reader, _ = world.pipe()
    st = reader.stat()
    assert st.mode == S_IFIFO | 0o600
    assert (st.size, st.nlink, st.uid, st.gid, st.dev) == (0, 1, 1000, 1000, PIPEFS_DEV)
    assert writer.stat().ino == st.ino
    assert other_reader.stat().ino != st.ino
    writer.write(world.task, b"not counted in st_size")
    assert reader.stat().size == 0
    assert reader.describe() == b"pipe:[%d]" % st.ino
    assert reader.inode.fs.statfs()[0] == PIPEFS_MAGIC


def test_pipes_do_not_seek_or_sync(world):
    reader, writer = world.pipe()
    assert errno_of(reader.seek, 0, SEEK_SET) == Errno.ESPIPE
    assert errno_of(reader.pread, 1, 0) == Errno.ESPIPE
    assert errno_of(writer.sync) == Errno.EINVAL


def test_access_modes_of_the_ends(world):
    reader, writer = world.pipe(O_NONBLOCK | O_DIRECT)
    assert reader.flags == O_RDONLY | O_NONBLOCK
    assert writer.flags == O_WRONLY | O_NONBLOCK | O_DIRECT
    assert reader.readable and not reader.writable
    assert writer.writable and not writer.readable


# --- FIFOs -------------------------------------------------------------------------------------------------


def test_a_nonblocking_read_open_succeeds_without_a_writer(world):
    world.mkfifo()
    reader = world.open(b"/fifo", O_RDONLY | O_NONBLOCK)
    assert reader.read(world.task, 10) == b""
    assert reader.poll() == 0  # no POLLHUP before any writer came


def test_a_nonblocking_write_open_without_a_reader_is_enxio(world):
    world.mkfifo()
    assert errno_of(world.open, b"/fifo", O_WRONLY | O_NONBLOCK) == Errno.ENXIO


def test_data_through_a_fifo(world):
    world.mkfifo()
    reader = world.open(b"/fifo", O_RDONLY | O_NONBLOCK)
    writer = world.open(b"/fifo", O_WRONLY | O_NONBLOCK)
    assert writer.write(world.task, b"through the fifo") == 16
    assert reader.read(world.task, 100) == b"through the fifo"
    assert errno_of(reader.read, world.task, 100) == Errno.EAGAIN
    writer.release()
    assert reader.poll() == POLLHUP
    assert reader.read(world.task, 100) == b""
    st = reader.stat()
    assert st.mode & S_IFMT == S_IFIFO and st.mode & 0o777 == 0o640
    assert st.ino == world.vfs.resolve(world.ctx, world.cred, world.vfs.root, b"/fifo").inode.ino
    assert reader.describe() == b"/fifo"


def test_a_blocking_read_open_waits_for_a_writer(world):
    world.mkfifo()
    queues = blocked_on(world.open, b"/fifo", O_RDONLY)
    woken = park(queues)  # the waiting reader counts as one, as on Linux
    writer = world.open(b"/fifo", O_WRONLY | O_NONBLOCK)
    assert woken
    reader = world.open(b"/fifo", O_RDONLY)
    writer.write(world.task, b"hi")
    assert reader.read(world.task, 10) == b"hi"


def test_a_blocking_write_open_waits_for_a_reader(world):
    world.mkfifo()
    woken = park(blocked_on(world.open, b"/fifo", O_WRONLY))
    reader = world.open(b"/fifo", O_RDONLY | O_NONBLOCK)
    assert woken
    writer = world.open(b"/fifo", O_WRONLY)  # the woken writer's open, run again
    assert reader.poll() == 0
    writer.write(world.task, b"ok")
    assert reader.read(world.task, 10) == b"ok"


def test_blocking_opens_of_both_sides_meet(world):
    world.mkfifo()
    reader_woken = park(blocked_on(world.open, b"/fifo", O_RDONLY))
    writer = world.open(b"/fifo", O_WRONLY)  # a reader is waiting: no need to wait
    assert reader_woken
    reader = world.open(b"/fifo", O_RDONLY)
    assert (reader.pipe.readers, reader.pipe.writers) == (1, 1)
    writer.release()
    reader.release()


def test_a_blocked_open_leaves_no_trace_until_parked(world):
    world.mkfifo()
    blocked_on(world.open, b"/fifo", O_RDONLY)  # raised but never parked: gone
    assert errno_of(world.open, b"/fifo", O_WRONLY | O_NONBLOCK) == Errno.ENXIO


def test_a_read_write_open_never_waits(world):
    world.mkfifo()
    both = world.open(b"/fifo", O_RDWR)
    assert both.poll() == POLLOUT | POLLWRNORM
    both.write(world.task, b"to myself")
    assert both.read(world.task, 100) == b"to myself"
    assert both.wait_queues(world.task) == (both.pipe.read_queue, both.pipe.write_queue)
    queues = blocked_on(both.read, world.task, 10)  # it is a writer itself: no end of file
    assert queues == (both.pipe.read_queue,)


def test_what_is_left_in_a_fifo_goes_when_the_last_end_closes(world):
    world.mkfifo()
    first = world.open(b"/fifo", O_RDWR)
    first.set_pipe_size(4096)
    first.write(world.task, b"left behind")
    first.release()
    again = world.open(b"/fifo", O_RDWR | O_NONBLOCK)
    assert errno_of(again.read, world.task, 100) == Errno.EAGAIN
    assert again.pipe_size() == DEFAULT_PIPE_SIZE


def test_a_fifo_keeps_its_data_while_one_end_stays_open(world):
    world.mkfifo()
    reader = world.open(b"/fifo", O_RDONLY | O_NONBLOCK)
    writer = world.open(b"/fifo", O_WRONLY)
    writer.write(world.task, b"kept")
    writer.release()
    writer = world.open(b"/fifo", O_WRONLY)
    assert reader.read(world.task, 100) == b"kept"
    assert reader.poll() == 0  # a writer is open again


def test_other_special_files_still_do_not_open(world):
    from slimbox.kernel.fs.inode import S_IFSOCK

    world.vfs.mknod(world.ctx, world.cred, world.vfs.root, b"/sock", S_IFSOCK | 0o600, 0)
    assert errno_of(world.open, b"/sock", O_RDONLY) == Errno.ENXIO
