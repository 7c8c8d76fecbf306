"""pipe and pipe2 through the Linux personality, and pipes and FIFOs used by guest
processes under the kernel's own run loop, on the fake platform."""

from __future__ import annotations

import struct
from collections import deque

import pytest

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.abi.syscalls import BY_NAME
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fd import FdTable
from slimbox.kernel.file import (
    O_APPEND, O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_RDONLY, O_WRONLY, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM,
)
from slimbox.kernel.fs.inode import S_IFIFO, S_IFMT
from slimbox.kernel.fs.memfs import MemFs
from slimbox.kernel.fs.vfs import FsContext, Vfs
from slimbox.kernel.kernel import Kernel
from slimbox.kernel.mm import PROT_READ, PROT_WRITE
from slimbox.kernel.pipe import PIPEFS_DEV
from slimbox.platforms.fake import FakeHost, FakePlatform
from slimbox.shims.linux import sys_pipe
from slimbox.shims.linux.personality import LinuxPersonality

SCRATCH = 0x10000          # a read-write page every guest process has
READ_ONLY = 0x20000        # a page it may only read
UNMAPPED = 0x30000
AT_FDCWD = -100
O_NOTIFICATION_PIPE = 0o200
F_GETFL = 3
FIONREAD = 0x541B
MASK64 = (1 << 64) - 1


class World:
    """A kernel running the Linux personality over the fake platform, with a memfs root."""

    def __init__(self) -> None:
        self.host = FakeHost()
        self.kernel = Kernel(self.host)
        self.platform = FakePlatform(self.host)
        self.kernel.platform = self.platform
        fs = MemFs(1, self.kernel.realtime_ns, root_mode=0o1777)
        self.vfs = Vfs(fs, fs.root)
        self.kernel.vfs = self.vfs
        self.personality = LinuxPersonality()

    def spawn(self, uid: int = 1000):
        ctx = FsContext(self.vfs.root, self.vfs.root)
        task = self.kernel.new_process(self.personality, Credentials.of(uid, uid), ctx, FdTable())
        task.mm.map_fixed_anonymous(SCRATCH, 4096, PROT_READ | PROT_WRITE)
        task.mm.map_fixed_anonymous(READ_ONLY, 4096, PROT_READ)
        return task

    def mkfifo(self, path: bytes) -> None:
        ctx = FsContext(self.vfs.root, self.vfs.root, umask=0)
        self.vfs.mknod(ctx, Credentials.of(0, 0), self.vfs.root, path, S_IFIFO | 0o666, 0)


@pytest.fixture
def world():
    return World()


@pytest.fixture
def task(world):
    return world.spawn()


def call(task, name: str, *args: int) -> int:
    """Run syscall `name` as the task would issue it (raises LinuxError on failure)."""
    raw = [value & MASK64 for value in args] + [0] * (6 - len(args))
    return task.process.personality.syscall(task, BY_NAME[name].nr, raw)


def errno_of(task, name: str, *args: int) -> int | None:
    try:
        call(task, name, *args)
    except LinuxError as exc:
        return exc.errno
    return None


def pipe_fds(task, at: int = SCRATCH) -> tuple[int, int]:
    return structs.TWO_I32.unpack(task.mm.read(at, 8))


@pytest.fixture
def made(monkeypatch):
    """Every pipe sys_pipe makes, as (read end, write end)."""
    ends = []
    real = sys_pipe.make_pipe

    def spy(*args, **kwargs):
        pair = real(*args, **kwargs)
        ends.append(pair)
        return pair

    monkeypatch.setattr(sys_pipe, "make_pipe", spy)
    return ends


# --- pipe2 --------------------------------------------------------------------------------------------


def test_pipe2_installs_two_descriptors_and_writes_their_numbers(task):
    assert call(task, "pipe2", SCRATCH, 0) == 0
    assert pipe_fds(task) == (0, 1)
    assert call(task, "dup", 0) == 2
    task.mm.write(SCRATCH + 64, b"hello")
    assert call(task, "pipe2", SCRATCH + 16, 0) == 0
    read_fd, write_fd = pipe_fds(task, SCRATCH + 16)
    assert (read_fd, write_fd) == (3, 4)
    assert call(task, "write", write_fd, SCRATCH + 64, 5) == 5
    assert call(task, "read", read_fd, SCRATCH + 128, 100) == 5
    assert task.mm.read(SCRATCH + 128, 5) == b"hello"


def test_pipe_is_pipe2_without_flags(task):
    assert call(task, "pipe", SCRATCH) == 0
    read_fd, write_fd = pipe_fds(task)
    assert not task.fds.get_cloexec(read_fd) and not task.fds.get_cloexec(write_fd)
    assert call(task, "fcntl", read_fd, F_GETFL, 0) == O_RDONLY
    assert call(task, "fcntl", write_fd, F_GETFL, 0) == O_WRONLY


def test_pipe2_flags_reach_the_ends(task):
    call(task, "pipe2", SCRATCH, O_CLOEXEC | O_NONBLOCK | O_DIRECT)
    read_fd, write_fd = pipe_fds(task)
    assert task.fds.get_cloexec(read_fd) and task.fds.get_cloexec(write_fd)
    assert call(task, "fcntl", read_fd, F_GETFL, 0) == O_RDONLY | O_NONBLOCK
    assert call(task, "fcntl", write_fd, F_GETFL, 0) == O_WRONLY | O_NONBLOCK | O_DIRECT
    assert errno_of(task, "read", read_fd, SCRATCH, 10) == Errno.EAGAIN


@pytest.mark.parametrize("flags", [O_APPEND, 1, 0o1000, 1 << 31, O_CLOEXEC | 0o100])
def test_pipe2_refuses_unknown_flags(task, flags):
    assert errno_of(task, "pipe2", SCRATCH, flags) == Errno.EINVAL
    assert task.fds.count() == 0


def test_pipe2_has_no_notification_pipes(task):
    assert errno_of(task, "pipe2", SCRATCH, O_NOTIFICATION_PIPE) == Errno.ENOPKG
    assert task.fds.count() == 0


@pytest.mark.parametrize("where", [0, UNMAPPED, READ_ONLY, SCRATCH + 4092])
def test_a_bad_pointer_leaves_no_descriptors_behind(task, made, where):
    assert errno_of(task, "pipe2", where, O_CLOEXEC) == Errno.EFAULT
    assert task.fds.count() == 0
    (read_end, write_end), = made
    assert (read_end.pipe.readers, read_end.pipe.writers) == (0, 0)
    assert call(task, "pipe", SCRATCH) == 0
    assert pipe_fds(task) == (0, 1)


def test_no_room_for_the_second_descriptor(task, made):
    task.fds.limit = 1
    assert errno_of(task, "pipe2", SCRATCH, 0) == Errno.EMFILE
    assert task.fds.count() == 0
    (read_end, _), = made
    assert (read_end.pipe.readers, read_end.pipe.writers) == (0, 0)


def test_fstat_fionread_and_poll_of_pipe_descriptors(task):
    call(task, "pipe2", SCRATCH, 0)
    read_fd, write_fd = pipe_fds(task)
    call(task, "fstat", read_fd, SCRATCH + 256)
    fields = structs.STAT.unpack(task.mm.read(SCRATCH + 256, structs.STAT.size))
    dev, ino, _, mode = fields[:4]
    assert (mode, dev, fields[8]) == (S_IFIFO | 0o600, PIPEFS_DEV, 0)
    call(task, "fstat", write_fd, SCRATCH + 256)
    assert structs.STAT.unpack(task.mm.read(SCRATCH + 256, structs.STAT.size))[1] == ino

    pollfd = struct.Struct("<ihh")
    task.mm.write(SCRATCH + 512, pollfd.pack(read_fd, POLLIN, 0) + pollfd.pack(write_fd, POLLOUT, 0))
    assert call(task, "poll", SCRATCH + 512, 2, 0) == 1
    revents = [pollfd.unpack(task.mm.read(SCRATCH + 512 + 8 * i, 8))[2] for i in range(2)]
    assert revents == [0, POLLOUT]

    task.mm.write(SCRATCH + 64, b"abcdefg")
    call(task, "write", write_fd, SCRATCH + 64, 7)
    call(task, "ioctl", read_fd, FIONREAD, SCRATCH + 32)
    assert structs.I32.unpack(task.mm.read(SCRATCH + 32, 4)) == (7,)
    assert call(task, "poll", SCRATCH + 512, 2, 0) == 2
    assert pollfd.unpack(task.mm.read(SCRATCH + 512, 8))[2] == POLLIN
    task.mm.write(SCRATCH + 512, pollfd.pack(read_fd, POLLIN | POLLRDNORM, 0)
                  + pollfd.pack(write_fd, POLLOUT | POLLWRNORM, 0))
    call(task, "poll", SCRATCH + 512, 2, 0)
    revents = [pollfd.unpack(task.mm.read(SCRATCH + 512 + 8 * i, 8))[2] for i in range(2)]
    assert revents == [POLLIN | POLLRDNORM, POLLOUT | POLLWRNORM]


def test_the_ends_are_closed_like_any_descriptor(task):
    call(task, "pipe2", SCRATCH, 0)
    read_fd, write_fd = pipe_fds(task)
    call(task, "close", read_fd)
    task.mm.write(SCRATCH + 64, b"x")
    assert errno_of(task, "write", write_fd, SCRATCH + 64, 1) == Errno.EPIPE
    assert errno_of(task, "read", write_fd, SCRATCH + 64, 1) == Errno.EBADF


# --- guests under the run loop ------------------------------------------------------------------------------


def nr(name: str) -> int:
    return BY_NAME[name].nr


def start(world, task, script: list[tuple[str, tuple[int, ...]]]) -> None:
    """Have `task` issue `script`, one syscall after another as each completes."""
    (first, args), *rest = script
    task.context.script = deque((nr(name), list(a)) for name, a in rest)
    world.platform.syscall(task.context, nr(first), *args)


def test_a_reader_sleeps_until_another_process_writes_then_sees_end_of_file(world):
    reader = world.spawn()
    writer = world.spawn()
    call(reader, "pipe2", SCRATCH, 0)
    read_fd, write_fd = pipe_fds(reader)
    writer.fds.install(reader.fds.get(write_fd))
    call(reader, "close", write_fd)
    writer.mm.write(SCRATCH, b"wake up")
    world.kernel.init = reader.process
    start(world, reader, [("read", (read_fd, SCRATCH + 64, 100)), ("read", (read_fd, SCRATCH + 64, 100)),
                          ("exit_group", (0,))])
    start(world, writer, [("write", (0, SCRATCH, 7)), ("exit_group", (0,))])
    world.kernel.run()
    assert reader.context.finished == [7, 0]
    assert reader.mm.read(SCRATCH + 64, 7) == b"wake up"
    assert writer.context.finished == [7]


@pytest.mark.parametrize("reader_first", [True, False])
def test_two_processes_meet_at_a_fifo(world, reader_first):
    world.mkfifo(b"/fifo")
    reader = world.spawn()
    writer = world.spawn(uid=1001)
    for task in (reader, writer):
        task.mm.write(SCRATCH, b"/fifo\0")
    writer.mm.write(SCRATCH + 64, b"over the fifo")
    world.kernel.init = reader.process
    reader_script = [("openat", (AT_FDCWD, SCRATCH, O_RDONLY, 0)), ("read", (0, SCRATCH + 128, 100)),
                     ("fstat", (0, SCRATCH + 256)), ("exit_group", (0,))]
    writer_script = [("openat", (AT_FDCWD, SCRATCH, O_WRONLY, 0)), ("write", (0, SCRATCH + 64, 13)),
                     ("exit_group", (0,))]
    if reader_first:
        start(world, reader, reader_script)
        start(world, writer, writer_script)
    else:
        start(world, writer, writer_script)
        start(world, reader, reader_script)
    world.kernel.run()
    assert reader.context.finished == [0, 13, 0]
    assert writer.context.finished == [0, 13]
    assert reader.mm.read(SCRATCH + 128, 13) == b"over the fifo"
    mode = structs.STAT.unpack(reader.mm.read(SCRATCH + 256, structs.STAT.size))[3]
    assert mode & S_IFMT == S_IFIFO


def test_fifo_opens_that_do_not_wait(world):
    world.mkfifo(b"/fifo")
    task = world.spawn()
    task.mm.write(SCRATCH, b"/fifo\0")
    assert errno_of(task, "openat", AT_FDCWD, SCRATCH, O_WRONLY | O_NONBLOCK, 0) == Errno.ENXIO
    assert call(task, "openat", AT_FDCWD, SCRATCH, O_RDONLY | O_NONBLOCK, 0) == 0
    assert call(task, "openat", AT_FDCWD, SCRATCH, O_WRONLY | O_NONBLOCK, 0) == 1
    assert errno_of(task, "read", 0, SCRATCH + 64, 10) == Errno.EAGAIN
    task.mm.write(SCRATCH + 32, b"hi")
    assert call(task, "write", 1, SCRATCH + 32, 2) == 2
    assert call(task, "read", 0, SCRATCH + 64, 10) == 2
    call(task, "close", 1)
    assert call(task, "read", 0, SCRATCH + 64, 10) == 0
