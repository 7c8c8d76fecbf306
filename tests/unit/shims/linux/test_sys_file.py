"""shims/linux/sys_file.py: read/write and friends, seeking, the dup family, fcntl,
getdents, fstat, truncation, with the errors Linux gives for hostile arguments."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import UNMAPPED, FakeGuest, elf_executable  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.mm import PROT_READ  # noqa: E402

AT_FDCWD = -100
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_APPEND = 0, 1, 2, 0o100, 0o2000
O_NONBLOCK, O_DIRECTORY, O_CLOEXEC, O_PATH = 0o4000, 0o200000, 0o2000000, 0o10000000
SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE = 0, 1, 2, 3, 4
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
FD_CLOEXEC = 1
FIONCLEX, FIOCLEX, FIONBIO, TCGETS, TIOCGWINSZ, FIONREAD = 0x5450, 0x5451, 0x5421, 0x5401, 0x5413, 0x541B


@pytest.fixture
def g() -> FakeGuest:
    guest = FakeGuest()
    guest.write_file(b"/tmp/data", b"0123456789")
    return guest


def open_(g: FakeGuest, path: bytes, flags: int = O_RDONLY, mode: int = 0o644) -> int:
    fd = g.syscall("openat", AT_FDCWD, path, flags, mode)
    assert fd >= 0, fd
    return fd


def read(g: FakeGuest, fd: int, count: int) -> bytes | int:
    buf = g.alloc(max(count, 1))
    got = g.syscall("read", fd, buf, count)
    return g.get(buf, got) if got >= 0 else got


# --- read and write ----------------------------------------------------------------------------------


def test_read_and_write_move_the_shared_offset(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    assert read(g, fd, 4) == b"0123"
    assert g.syscall("write", fd, b"ab", 2) == 2
    assert read(g, fd, 100) == b"6789"
    assert read(g, fd, 100) == b""
    assert g.read_file(b"/tmp/data") == b"0123ab6789"
    dup = g.syscall("dup", fd)
    assert g.syscall("lseek", dup, 1, SEEK_SET) == 1
    assert read(g, fd, 2) == b"12"  # a dup shares the offset


def test_reads_and_writes_need_the_right_access_mode(g):
    ro, wo = open_(g, b"/tmp/data"), open_(g, b"/tmp/data", O_WRONLY)
    path = open_(g, b"/tmp/data", O_PATH)
    assert g.syscall("write", ro, b"x", 1) == -Errno.EBADF
    assert read(g, wo, 1) == -Errno.EBADF
    assert read(g, path, 1) == -Errno.EBADF
    assert g.syscall("write", path, b"x", 1) == -Errno.EBADF
    dirfd = open_(g, b"/tmp", O_DIRECTORY)
    assert read(g, dirfd, 1) == -Errno.EISDIR


@pytest.mark.parametrize("fd", [-1, 3, 1023, 1 << 30, 0xFFFFFFFF])
def test_bad_descriptors(g, fd):
    buf = g.alloc(8)
    for name, args in [("read", (fd, buf, 8)), ("write", (fd, buf, 8)), ("close", (fd,)), ("fstat", (fd, buf)),
                       ("lseek", (fd, 0, 0)), ("dup", (fd,)), ("fcntl", (fd, F_GETFD, 0)),
                       ("pread64", (fd, buf, 8, 0)), ("getdents64", (fd, buf, 8)), ("fsync", (fd,))]:
        assert g.syscall(name, *args) == -Errno.EBADF, name


def test_bad_buffers_are_efault_and_consume_nothing(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    readonly = g.map(4096, PROT_READ)
    assert g.syscall("read", fd, UNMAPPED, 4) == -Errno.EFAULT
    assert g.syscall("read", fd, readonly, 4) == -Errno.EFAULT
    assert g.syscall("read", fd, 0, 4) == -Errno.EFAULT
    assert g.syscall("lseek", fd, 0, SEEK_CUR) == 0
    assert g.syscall("write", fd, UNMAPPED, 4) == -Errno.EFAULT
    assert g.syscall("write", fd, g.alloc_tail(2), 4) == -Errno.EFAULT  # runs off the end of the mapping
    assert g.syscall("pwrite64", fd, UNMAPPED, 4, 0) == -Errno.EFAULT
    assert g.syscall("pread64", fd, UNMAPPED, 4, 0) == -Errno.EFAULT
    assert g.read_file(b"/tmp/data") == b"0123456789"
    assert g.syscall("read", fd, 0, 0) == 0  # nothing to copy: no fault
    assert g.syscall("write", fd, UNMAPPED, 0) == 0


def test_huge_counts(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    buf = g.alloc(16)
    assert g.syscall("read", fd, buf, (1 << 63) - 1) == -Errno.EFAULT  # no such buffer exists
    assert g.syscall("write", fd, buf, (1 << 63) - 1) == -Errno.EFAULT
    assert g.read_file(b"/tmp/data") == b"0123456789"


def test_a_count_beyond_ssize_max_is_efault_like_linux(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    assert g.syscall("read", fd, g.alloc(16), 1 << 63) == -Errno.EFAULT
    assert g.syscall("write", fd, g.alloc(16), 1 << 63) == -Errno.EFAULT


def test_checks_come_in_linux_order_access_then_offset_then_buffer(g):
    ro, wo = open_(g, b"/tmp/data"), open_(g, b"/tmp/data", O_WRONLY)
    buf = g.alloc(16)
    assert g.syscall("read", wo, UNMAPPED, 1 << 63) == -Errno.EBADF
    assert g.syscall("write", ro, UNMAPPED, 1 << 63) == -Errno.EBADF
    assert g.syscall("pread64", wo, UNMAPPED, 4, -1) == -Errno.EBADF
    assert g.syscall("pwrite64", ro, UNMAPPED, 4, -1) == -Errno.EBADF
    assert g.syscall("pread64", ro, UNMAPPED, 1 << 63, -1) == -Errno.EINVAL
    assert g.syscall("pwrite64", wo, UNMAPPED, 1 << 63, -1) == -Errno.EINVAL
    assert g.syscall("pread64", ro, buf, 1 << 63, 0) == -Errno.EFAULT
    assert g.syscall("pwrite64", wo, buf, 1 << 63, 0) == -Errno.EFAULT
    assert g.syscall("pread64", ro, UNMAPPED, 0, 0) == 0  # nothing to copy: no fault
    assert g.syscall("pwrite64", wo, UNMAPPED, 0, 0) == 0
    assert g.read_file(b"/tmp/data") == b"0123456789"


def test_read_only_needs_room_for_what_it_returns(g):
    fd = open_(g, b"/tmp/data")
    assert g.syscall("read", fd, g.alloc_tail(64), 1 << 20) == 10


def test_o_append_writes_at_the_end_whatever_the_offset(g):
    fd = open_(g, b"/tmp/data", O_RDWR | O_APPEND)
    assert g.syscall("lseek", fd, 0, SEEK_SET) == 0
    assert g.syscall("write", fd, b"AB", 2) == 2
    assert g.syscall("lseek", fd, 0, SEEK_CUR) == 12
    assert g.syscall("pwrite64", fd, b"CD", 2, 0) == 2  # Linux appends even for pwrite on O_APPEND
    assert g.read_file(b"/tmp/data") == b"0123456789ABCD"


def test_pread_and_pwrite_leave_the_offset_alone(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    buf = g.alloc(16)
    assert g.syscall("pread64", fd, buf, 3, 5) == 3 and g.get(buf, 3) == b"567"
    assert g.syscall("pread64", fd, buf, 16, 10) == 0  # at EOF
    assert g.syscall("pread64", fd, buf, 16, 1 << 40) == 0  # far beyond EOF
    assert g.syscall("pread64", fd, buf, 16, -1) == -Errno.EINVAL
    assert g.syscall("pwrite64", fd, b"xy", 2, -5) == -Errno.EINVAL
    assert g.syscall("pwrite64", fd, b"end", 3, 14) == 3  # leaves a hole
    assert g.syscall("lseek", fd, 0, SEEK_CUR) == 0
    assert g.read_file(b"/tmp/data") == b"0123456789\0\0\0\0end"
    assert g.syscall("pread64", 0, buf, 1, 0) == -Errno.ESPIPE
    assert g.syscall("pread64", open_(g, b"/tmp", O_DIRECTORY), buf, 1, 0) == -Errno.EISDIR


def iovec(g: FakeGuest, *pieces: tuple[int, int]) -> int:
    return g.put(b"".join(struct.pack("<QQ", base, length) for base, length in pieces), 8)


def test_readv_scatters_and_writev_gathers(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    a, b = g.alloc(3), g.alloc(100)
    assert g.syscall("readv", fd, iovec(g, (a, 3), (0, 0), (b, 100)), 3) == 10
    assert g.get(a, 3) == b"012" and g.get(b, 7) == b"3456789"
    x, y = g.put(b"he"), g.put(b"llo")
    assert g.syscall("writev", fd, iovec(g, (x, 2), (y, 3)), 2) == 5
    assert g.read_file(b"/tmp/data") == b"0123456789hello"
    assert g.syscall("readv", fd, iovec(g), 0) == 0
    buf = g.alloc(8)
    assert g.syscall("preadv", fd, iovec(g, (buf, 4)), 1, 6, 0) == 4 and g.get(buf, 4) == b"6789"


@pytest.mark.parametrize("count", [-1, 1025, 1 << 31])
def test_iovec_counts_are_checked(g, count):
    fd = open_(g, b"/tmp/data", O_RDWR)
    iov = iovec(g, (g.alloc(4), 4))
    assert g.syscall("readv", fd, iov, count) == -Errno.EINVAL
    assert g.syscall("writev", fd, iov, count) == -Errno.EINVAL


def test_hostile_iovecs(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    assert g.syscall("readv", fd, UNMAPPED, 1) == -Errno.EFAULT
    assert g.syscall("readv", fd, iovec(g, (UNMAPPED, 4)), 1) == -Errno.EFAULT
    assert g.syscall("writev", fd, iovec(g, (UNMAPPED, 4)), 1) == -Errno.EFAULT
    assert g.syscall("readv", fd, iovec(g, (g.alloc(4), 1 << 63)), 1) == -Errno.EINVAL  # length over SSIZE_MAX
    assert g.syscall("writev", fd, iovec(g, (g.alloc(4), 1 << 62), (g.alloc(4), 1 << 62)), 2) == -Errno.EINVAL
    assert g.syscall("lseek", fd, 0, SEEK_CUR) == 0
    assert g.read_file(b"/tmp/data") == b"0123456789"


# --- lseek ---------------------------------------------------------------------------------------------


def test_lseek(g):
    fd = open_(g, b"/tmp/data")
    assert g.syscall("lseek", fd, 3, SEEK_SET) == 3
    assert g.syscall("lseek", fd, 2, SEEK_CUR) == 5
    assert g.syscall("lseek", fd, -1, SEEK_END) == 9
    assert g.syscall("lseek", fd, 100, SEEK_END) == 110  # past the end is allowed
    assert g.syscall("lseek", fd, -11, SEEK_END) == -Errno.EINVAL
    assert g.syscall("lseek", fd, -1, SEEK_SET) == -Errno.EINVAL
    assert g.syscall("lseek", fd, 0, 7) == -Errno.EINVAL
    assert g.syscall("lseek", fd, 4, SEEK_DATA) == 4
    assert g.syscall("lseek", fd, 4, SEEK_HOLE) == 10
    assert g.syscall("lseek", fd, 10, SEEK_DATA) == -Errno.ENXIO
    assert g.syscall("lseek", fd, 0, SEEK_CUR) == 10
    assert g.syscall("lseek", 0, 0, SEEK_SET) == -Errno.ESPIPE


# --- descriptors: close, dup, fcntl ------------------------------------------------------------------------


def test_close_twice_is_ebadf(g):
    fd = open_(g, b"/tmp/data")
    assert g.syscall("close", fd) == 0
    assert g.syscall("close", fd) == -Errno.EBADF


def test_dup_family(g):
    fd = open_(g, b"/tmp/data", O_RDONLY | O_CLOEXEC)
    assert g.syscall("dup", fd) == fd + 1
    assert g.syscall("fcntl", fd + 1, F_GETFD, 0) == 0  # dup never copies close-on-exec
    assert g.syscall("dup2", fd, fd) == fd  # the same descriptor: nothing happens...
    assert g.syscall("fcntl", fd, F_GETFD, 0) == FD_CLOEXEC  # ...not even clearing the flag
    assert g.syscall("dup2", 77, 77) == -Errno.EBADF  # ...unless it is not open
    assert g.syscall("dup2", fd, 10) == 10
    assert g.syscall("dup2", fd, -1 & 0xFFFFFFFF) == -Errno.EBADF
    assert g.syscall("dup2", fd, 1024) == -Errno.EBADF  # at RLIMIT_NOFILE
    assert g.syscall("dup3", fd, fd, 0) == -Errno.EINVAL
    assert g.syscall("dup3", fd, 11, O_CLOEXEC | 1) == -Errno.EINVAL
    assert g.syscall("dup3", fd, 11, O_CLOEXEC) == 11
    assert g.syscall("fcntl", 11, F_GETFD, 0) == FD_CLOEXEC


def test_dup2_onto_an_open_descriptor_replaces_it(g):
    a, b = open_(g, b"/tmp/data"), open_(g, b"/tmp/other", O_CREAT | O_WRONLY)
    assert g.syscall("fcntl", b, F_SETFD, FD_CLOEXEC) == 0
    assert g.syscall("dup2", a, b) == b
    assert g.syscall("fcntl", b, F_GETFD, 0) == 0  # the new descriptor is not close-on-exec
    assert read(g, b, 3) == b"012"  # it is now the data file, sharing a's offset
    assert read(g, a, 3) == b"345"


def test_fcntl_dupfd(g):
    fd = open_(g, b"/tmp/data")
    assert g.syscall("fcntl", fd, F_DUPFD, 100) == 100
    assert g.syscall("fcntl", fd, F_DUPFD, 100) == 101
    assert g.syscall("fcntl", fd, F_DUPFD_CLOEXEC, 0) == fd + 1
    assert g.syscall("fcntl", fd + 1, F_GETFD, 0) == FD_CLOEXEC
    assert g.syscall("fcntl", fd, F_DUPFD, 1024) == -Errno.EINVAL
    assert g.syscall("fcntl", fd, F_DUPFD, -1 & 0xFFFFFFFF) == -Errno.EINVAL
    assert g.syscall("fcntl", fd, 12345, 0) == -Errno.EINVAL


def test_fcntl_status_flags(g):
    fd = open_(g, b"/tmp/data", O_WRONLY | O_APPEND)
    assert g.syscall("fcntl", fd, F_GETFL, 0) & (O_APPEND | 3) == O_WRONLY | O_APPEND
    assert g.syscall("fcntl", fd, F_SETFL, O_RDWR | O_NONBLOCK) == 0  # the access mode cannot change
    assert g.syscall("fcntl", fd, F_GETFL, 0) & (O_APPEND | O_NONBLOCK | 3) == O_WRONLY | O_NONBLOCK


def test_fcntl_notify_removes_watches_and_sets_none(g):
    F_NOTIFY, DN_MODIFY, DN_MULTISHOT = 1026, 0x2, 0x80000000
    fd = open_(g, b"/tmp", O_RDONLY | O_DIRECTORY)
    assert g.syscall("fcntl", fd, F_NOTIFY, 0) == 0
    assert g.syscall("fcntl", fd, F_NOTIFY, DN_MULTISHOT) == 0  # a 64-bit argument, no events: removal
    assert g.syscall("fcntl", fd, F_NOTIFY, DN_MODIFY) == -Errno.EINVAL  # a watch: not supported


def test_close_on_exec_descriptors_are_closed_by_execve(g):
    g.write_file(b"/bin/prog", elf_executable(), 0o755)
    keep = open_(g, b"/tmp/data")
    drop = open_(g, b"/tmp/data", O_RDONLY | O_CLOEXEC)
    dropped_by_fcntl = g.syscall("fcntl", keep, F_DUPFD_CLOEXEC, 20)
    dropped_by_ioctl = g.syscall("dup", keep)
    assert g.syscall("ioctl", dropped_by_ioctl, FIOCLEX, 0) == 0
    kept_after_fionclex = g.syscall("dup3", keep, 30, O_CLOEXEC)
    assert g.syscall("ioctl", kept_after_fionclex, FIONCLEX, 0) == 0
    argv = g.put_strv([b"prog"])
    assert g.syscall("execve", b"/bin/prog", argv, 0) == 0
    open_fds = [fd for fd, _ in g.task.fds.items()]
    assert open_fds == [0, 1, 2, keep, kept_after_fionclex]
    assert drop not in open_fds and dropped_by_fcntl not in open_fds and dropped_by_ioctl not in open_fds


def test_close_range(g):
    fds = [open_(g, b"/tmp/data") for _ in range(4)]
    assert g.syscall("close_range", fds[1], fds[2], 4) == 0  # CLOSE_RANGE_CLOEXEC
    assert [g.syscall("fcntl", fd, F_GETFD, 0) for fd in fds] == [0, FD_CLOEXEC, FD_CLOEXEC, 0]
    assert g.syscall("close_range", fds[2], 0xFFFFFFFF, 0) == 0
    assert [fd for fd, _ in g.task.fds.items()] == [0, 1, 2, fds[0], fds[1]]
    assert g.syscall("close_range", 5, 4, 0) == -Errno.EINVAL
    assert g.syscall("close_range", 0, 10, 1 << 5) == -Errno.EINVAL


# --- directories ---------------------------------------------------------------------------------------


def dirents(raw: bytes) -> list[tuple[bytes, int]]:
    out = []
    pos = 0
    while pos < len(raw):
        _ino, offset, reclen, _dtype = struct.unpack_from("<QqHB", raw, pos)
        name = raw[pos + 19:pos + reclen].split(b"\0", 1)[0]
        out.append((name, offset))
        pos += reclen
    return out


def test_getdents64_lists_everything_once_across_small_buffers(g):
    g.mkdir(b"/tmp/d")
    for name in (b"alpha", b"beta", b"gamma", b"delta"):
        g.write_file(b"/tmp/d/" + name)
    fd = open_(g, b"/tmp/d", O_DIRECTORY)
    buf = g.alloc(64)
    seen = []
    calls = 0
    while True:
        got = g.syscall("getdents64", fd, buf, 64)  # room for two or three records at a time
        assert got >= 0
        if got == 0:
            break
        calls += 1
        seen += [name for name, _ in dirents(g.get(buf, got))]
    assert sorted(seen) == [b".", b"..", b"alpha", b"beta", b"delta", b"gamma"]
    assert calls > 1
    assert g.syscall("getdents64", fd, buf, 64) == 0  # stays at the end
    assert g.syscall("lseek", fd, 0, SEEK_SET) == 0
    got = g.syscall("getdents64", fd, buf, 64)
    assert dirents(g.get(buf, got))[0][0] == b"."


def test_getdents64_errors(g):
    fd = open_(g, b"/tmp", O_DIRECTORY)
    assert g.syscall("getdents64", fd, g.alloc(8), 8) == -Errno.EINVAL  # not even one record fits
    assert g.syscall("getdents64", fd, UNMAPPED, 4096) == -Errno.EFAULT
    assert g.syscall("getdents64", open_(g, b"/tmp/data"), g.alloc(256), 256) == -Errno.ENOTDIR
    assert g.syscall("getdents64", open_(g, b"/tmp", O_PATH), g.alloc(256), 256) == -Errno.EBADF
    got = g.syscall("getdents64", fd, g.alloc(4096), 4096)
    assert got > 0  # the failures consumed nothing


# --- attributes and sizes -------------------------------------------------------------------------------


def test_fstat(g):
    fd = open_(g, b"/tmp/data")
    buf = g.alloc(144)
    assert g.syscall("fstat", fd, buf) == 0
    st = g.get(buf, 144)
    ino, nlink, mode, uid, gid = struct.unpack_from("<QQIII", st, 8)
    size = struct.unpack_from("<q", st, 48)[0]
    assert (ino, mode, size, nlink, uid, gid) == (g.stat(b"/tmp/data").ino, 0o100644, 10, 1, 0, 0)
    assert g.syscall("fstat", fd, UNMAPPED) == -Errno.EFAULT
    assert g.syscall("fstat", fd, g.map(4096, PROT_READ)) == -Errno.EFAULT


def test_ftruncate(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    assert g.syscall("ftruncate", fd, 4) == 0 and g.read_file(b"/tmp/data") == b"0123"
    assert g.syscall("ftruncate", fd, 6) == 0 and g.read_file(b"/tmp/data") == b"0123\0\0"
    assert g.syscall("ftruncate", fd, -1) == -Errno.EINVAL
    assert g.syscall("ftruncate", open_(g, b"/tmp/data"), 0) == -Errno.EINVAL  # not open for writing
    assert g.syscall("ftruncate", open_(g, b"/tmp", O_DIRECTORY), 0) == -Errno.EINVAL
    assert g.syscall("ftruncate", open_(g, b"/tmp/data", O_PATH), 0) == -Errno.EBADF
    assert g.read_file(b"/tmp/data") == b"0123\0\0"


def test_ftruncate_on_a_read_only_mount(g):
    mount = g.mount_memfs(b"/ro")
    g.write_file(b"/ro/f", b"abc")
    fd = open_(g, b"/ro/f", O_RDWR)
    mount.readonly = True
    assert g.syscall("ftruncate", fd, 0) == -Errno.EROFS
    assert g.read_file(b"/ro/f") == b"abc"


def test_copying_between_files(g):
    src, dst = open_(g, b"/tmp/data"), open_(g, b"/tmp/copy", O_CREAT | O_RDWR)
    offset = g.put(struct.pack("<q", 2), 8)
    assert g.syscall("sendfile", dst, src, offset, 3) == 3
    assert g.i64(offset) == 5 and g.syscall("lseek", src, 0, SEEK_CUR) == 0
    assert g.syscall("sendfile", dst, src, 0, 4) == 4  # from the file offset, which moves
    assert g.syscall("lseek", src, 0, SEEK_CUR) == 4
    assert g.read_file(b"/tmp/copy") == b"2340123"
    out_off = g.put(struct.pack("<q", 0), 8)
    assert g.syscall("copy_file_range", src, 0, dst, out_off, 100, 0) == 6
    assert g.read_file(b"/tmp/copy") == b"4567893"
    assert g.syscall("copy_file_range", src, 0, dst, 0, 1, 1) == -Errno.EINVAL


def test_sendfile_to_a_socket_reads_only_what_the_socket_takes(g):
    g.write_file(b"/tmp/big", bytes(range(256)) * 8192)  # 2 MiB
    src = open_(g, b"/tmp/big")
    sv = g.alloc(8)
    assert g.syscall("socketpair", 1, 1, 0, sv) == 0  # AF_UNIX, SOCK_STREAM
    writer, reader = g.i32(sv), g.i32(sv + 4)
    source = g.task.fds.get(src)
    asked = []
    real_pread = source.pread
    source.pread = lambda length, offset: asked.append(length) or real_pread(length, offset)
    sent = g.syscall("sendfile", writer, src, 0, 2 << 20)
    assert 0 < sent < 2 << 20 and asked == [sent]  # the socket's room, not the 2 MiB asked
    assert g.syscall("lseek", src, 0, SEEK_CUR) == sent
    assert g.syscall("fcntl", writer, F_SETFL, O_NONBLOCK) == 0
    assert g.syscall("sendfile", writer, src, 0, 2 << 20) == -Errno.EAGAIN  # full: nothing moved
    assert asked[1:] == [1] and g.syscall("lseek", src, 0, SEEK_CUR) == sent
    buf = g.alloc(4096)
    assert g.syscall("read", reader, buf, 4096) == 4096 and g.get(buf, 4096) == bytes(range(256)) * 16
    assert g.syscall("sendfile", writer, src, 0, 2 << 20) == 4096  # exactly the room the read made


def test_ioctl(g):
    fd = open_(g, b"/tmp/data")
    arg = g.put(struct.pack("<i", 1), 4)
    assert g.syscall("ioctl", fd, FIONBIO, arg) == 0
    assert g.syscall("fcntl", fd, F_GETFL, 0) & O_NONBLOCK
    assert g.syscall("ioctl", fd, TCGETS, g.alloc(64)) == -Errno.ENOTTY
    assert g.syscall("ioctl", 0, TCGETS, g.alloc(64)) == -Errno.ENOTTY  # a pipe, not a terminal
    assert g.syscall("ioctl", fd, FIONBIO, UNMAPPED) == -Errno.EFAULT
    g.stdin.feed(b"12345")
    count = g.alloc(4)
    assert g.syscall("ioctl", 0, FIONREAD, count) == 0 and g.i32(count) == 5


def test_terminal_ioctls():
    g = FakeGuest(terminal=True)
    termios, winsize = g.alloc(60), g.alloc(8)
    assert g.syscall("ioctl", 0, TCGETS, termios) == 0
    assert g.get(termios, 36) == g.stdin.termios
    assert g.syscall("ioctl", 1, TIOCGWINSZ, winsize) == 0
    assert struct.unpack("<HHHH", g.get(winsize, 8))[:2] == (24, 80)
    assert g.syscall("ioctl", 0, TCGETS, UNMAPPED) == -Errno.EFAULT
    assert g.syscall("ioctl", 0, 0x5412, g.put(b"x")) == -Errno.EPERM  # TIOCSTI: no typing into the host


def test_sync_family_and_advice(g):
    fd = open_(g, b"/tmp/data", O_RDWR)
    assert g.syscall("fsync", fd) == 0 and g.syscall("fdatasync", fd) == 0 and g.syscall("sync") == 0
    assert g.syscall("fadvise64", fd, 0, 0, 4) == 0
    assert g.syscall("fadvise64", fd, 0, 0, 99) == -Errno.EINVAL
    assert g.syscall("fadvise64", 0, 0, 0, 0) == -Errno.ESPIPE
    assert g.syscall("fallocate", fd, 0, 0, 20) == 0 and g.stat(b"/tmp/data").size == 20
    assert g.syscall("fallocate", fd, 0, 0, 0) == -Errno.EINVAL
    assert g.syscall("flock", fd, 2) == 0 and g.syscall("flock", fd, 99) == -Errno.EINVAL
