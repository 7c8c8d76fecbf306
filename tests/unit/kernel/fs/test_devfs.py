"""/dev through the VFS: device semantics, node attributes, the tree around them."""

from __future__ import annotations

import pytest

from _procfake import FakeAddressSpace
from slimbox.abi.errno import Errno
from slimbox.kernel.cred import Credentials
from slimbox.kernel.file import O_RDONLY, O_RDWR, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET, File
from slimbox.kernel.fs.devfs import DevFs, dev_major, dev_minor, makedev
from slimbox.kernel.fs.inode import S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT
from slimbox.kernel.mm import MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, MemoryManager


class Entropy:
    """A random_bytes stand-in that records what it handed out."""

    def __init__(self) -> None:
        self.given: list[bytes] = []
        self._next = 0

    def __call__(self, length: int) -> bytes:
        data = bytes((self._next + i) * 37 % 256 for i in range(length))
        self._next += length
        self.given.append(data)
        return data


class Terminal(File):
    """A controlling terminal that echoes what it was told."""

    def __init__(self) -> None:
        super().__init__(O_RDWR)
        self.written = bytearray()
        self.released = False

    def read(self, task, length: int) -> bytes:
        return b"typed\n"[:length]

    def write(self, task, data: bytes) -> int:
        self.written += data
        return len(data)

    def ioctl(self, task, request: int, arg: int) -> int:
        return 42

    def release(self) -> None:
        self.released = True


@pytest.fixture
def entropy():
    return Entropy()


@pytest.fixture
def terminal():
    return Terminal()


@pytest.fixture
def dev(sandbox, entropy, terminal):
    fs = DevFs(sandbox.new_dev(), sandbox.clock, entropy, lambda: terminal)
    sandbox.mount(fs, fs.root, b"/dev")
    return fs


def test_makedev_round_trips_small_and_large_numbers():
    assert makedev(1, 3) == (1 << 8) | 3
    for major, minor in ((1, 3), (5, 0), (136, 7), (4095, 255), (4096, 70000), (259, 1 << 19)):
        dev = makedev(major, minor)
        assert (dev_major(dev), dev_minor(dev)) == (major, minor)


@pytest.mark.parametrize("name, major, minor", [
    (b"null", 1, 3), (b"zero", 1, 5), (b"full", 1, 7), (b"random", 1, 8), (b"urandom", 1, 9), (b"tty", 5, 0),
])
def test_device_nodes_are_character_devices_with_linux_numbers(sandbox, dev, name, major, minor):
    st = sandbox.stat(b"/dev/" + name)
    assert st.mode & S_IFMT == S_IFCHR
    assert st.mode & 0o7777 == 0o666
    assert (dev_major(st.rdev), dev_minor(st.rdev)) == (major, minor)
    assert st.rdev == major << 8 | minor
    assert st.uid == 0


def test_tty_belongs_to_the_tty_group(sandbox, dev):
    assert sandbox.stat(b"/dev/tty").gid == 5


def test_null_reads_eof_and_swallows_writes(sandbox, dev):
    file = sandbox.open(b"/dev/null", O_RDWR)
    assert file.read(None, 4096) == b""
    assert file.write(None, b"x" * 10000) == 10000
    assert file.read(None, 1) == b""
    assert file.pread(10, 1234) == b""
    assert file.pwrite(b"abc", 99) == 3
    assert sandbox.read(b"/dev/null") == b""


def test_zero_reads_zeros_of_any_length(sandbox, dev):
    file = sandbox.open(b"/dev/zero", O_RDWR)
    for length in (0, 1, 4095, 4096, 1 << 20):
        assert file.read(None, length) == bytes(length)
    assert file.write(None, b"ignored") == 7
    assert file.pread(5, 1 << 40) == bytes(5)


def test_full_reads_zeros_and_refuses_writes(sandbox, dev):
    file = sandbox.open(b"/dev/full", O_RDWR)
    assert file.read(None, 100) == bytes(100)
    assert sandbox.errno(file.write, None, b"x") == Errno.ENOSPC
    assert sandbox.errno(file.pwrite, b"x", 0) == Errno.ENOSPC


@pytest.mark.parametrize("name", [b"urandom", b"random"])
def test_random_devices_read_the_kernel_entropy(sandbox, dev, entropy, name):
    file = sandbox.open(b"/dev/" + name)
    first = file.read(None, 32)
    second = file.read(None, 1000)
    assert len(first) == 32 and len(second) == 1000
    assert entropy.given == [first, second]
    assert first != second[:32]
    writer = sandbox.open(b"/dev/" + name, O_WRONLY)
    assert writer.write(None, b"seed") == 4


@pytest.mark.parametrize("name", [b"null", b"zero", b"full", b"urandom"])
def test_lseek_answers_zero(sandbox, dev, name):
    file = sandbox.open(b"/dev/" + name)
    file.read(None, 10)
    for whence in (SEEK_SET, SEEK_CUR, SEEK_END):
        assert file.seek(12345, whence) == 0


def test_open_device_fstat_and_describe(sandbox, dev):
    file = sandbox.open(b"/dev/zero")
    st = file.stat()
    assert st.mode & S_IFMT == S_IFCHR and st.rdev == makedev(1, 5)
    assert file.describe() == b"/dev/zero"


def test_mmap_of_dev_zero_is_anonymous_memory(sandbox, dev):
    mm = MemoryManager(FakeAddressSpace())
    zero = sandbox.open(b"/dev/zero", O_RDWR)
    assert zero.maps_as_anonymous is True
    private = mm.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero)
    shared = mm.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, zero)
    assert mm.read(private, 8192) == bytes(8192)
    for addr in (private, shared):
        vma = mm.find(addr)
        assert vma.inode is None and vma.name == b""
    mm.write(private, b"hello")
    assert mm.read(private, 5) == b"hello"
    null = sandbox.open(b"/dev/null", O_RDWR)
    assert sandbox.errno(mm.mmap, 0, 4096, PROT_READ, MAP_PRIVATE, null) == Errno.ENODEV


def test_tty_forwards_to_the_controlling_terminal(sandbox, dev, terminal):
    file = sandbox.open(b"/dev/tty", O_RDWR)
    assert file.read(None, 100) == b"typed\n"
    assert file.write(None, b"prompt> ") == 8
    assert terminal.written == b"prompt> "
    assert file.ioctl(None, 0x5401, 0) == 42
    assert file.describe() == b"/dev/tty"
    assert file.stat().rdev == makedev(5, 0)
    assert sandbox.errno(file.seek, 0, SEEK_SET) == Errno.ESPIPE
    file.release()
    assert terminal.released  # it held the only reference


def test_tty_open_file_keeps_its_own_flags(sandbox, dev, terminal):
    reader = sandbox.open(b"/dev/tty", O_RDONLY)
    assert reader.readable and not reader.writable
    assert terminal.writable


def test_tty_without_a_controlling_terminal_is_enxio(sandbox, entropy):
    fs = DevFs(sandbox.new_dev(), sandbox.clock, entropy, lambda: None)
    sandbox.mount(fs, fs.root, b"/dev")
    assert sandbox.errno(sandbox.open, b"/dev/tty", O_RDWR) == Errno.ENXIO
    bare = DevFs(sandbox.new_dev(), sandbox.clock, entropy)
    sandbox.mount(bare, bare.root, b"/dev2")
    assert sandbox.errno(sandbox.open, b"/dev2/tty") == Errno.ENXIO


@pytest.mark.parametrize("name, target", [
    (b"stdin", b"/proc/self/fd/0"), (b"stdout", b"/proc/self/fd/1"), (b"stderr", b"/proc/self/fd/2"),
    (b"fd", b"/proc/self/fd"),
])
def test_standard_symlinks(sandbox, dev, name, target):
    assert sandbox.stat(b"/dev/" + name, follow=False).mode & S_IFMT == S_IFLNK
    assert sandbox.readlink(b"/dev/" + name) == target


def test_directories(sandbox, dev):
    shm = sandbox.stat(b"/dev/shm")
    assert shm.mode & S_IFMT == S_IFDIR and shm.mode & 0o7777 == 0o1777
    pts = sandbox.stat(b"/dev/pts")
    assert pts.mode & S_IFMT == S_IFDIR and pts.mode & 0o7777 == 0o755
    assert sandbox.listdir(b"/dev/pts") == []
    assert sandbox.stat(b"/dev").mode & 0o7777 == 0o755
    assert sandbox.listdir(b"/dev") == sorted([b"null", b"zero", b"full", b"random", b"urandom", b"tty", b"stdin",
                                               b"stdout", b"stderr", b"fd", b"shm", b"pts"])


def test_shm_behaves_like_tmpfs_for_everyone(sandbox, dev):
    sandbox.cred = Credentials.of(1000, 1000)
    sandbox.write(b"/dev/shm/segment", b"shared bytes")
    assert sandbox.read(b"/dev/shm/segment") == b"shared bytes"
    assert sandbox.stat(b"/dev/shm/segment").uid == 1000
    sandbox.unlink(b"/dev/shm/segment")
    assert sandbox.listdir(b"/dev/shm") == []


def test_dev_is_writable_by_root_only(sandbox, dev):
    sandbox.write(b"/dev/rootfile", b"ok")
    sandbox.mkdir(b"/dev/sub")
    sandbox.cred = Credentials.of(1000, 1000)
    assert sandbox.errno(sandbox.write, b"/dev/userfile", b"no") == Errno.EACCES
    assert sandbox.errno(sandbox.unlink, b"/dev/null") == Errno.EACCES


def test_mknod_of_a_known_device_works_anywhere_in_dev(sandbox, dev):
    sandbox.mkdir(b"/dev/sub")
    sandbox.vfs.mknod(sandbox.ctx, sandbox.cred, sandbox.ctx.cwd, b"/dev/sub/mynull", S_IFCHR | 0o666,
                      makedev(1, 3))
    file = sandbox.open(b"/dev/sub/mynull", O_RDWR)
    assert file.write(None, b"gone") == 4 and file.read(None, 10) == b""
    sandbox.vfs.mknod(sandbox.ctx, sandbox.cred, sandbox.ctx.cwd, b"/dev/weird", S_IFCHR | 0o600, makedev(250, 1))
    assert sandbox.errno(sandbox.open, b"/dev/weird") == Errno.ENXIO


def test_fstype_and_permissions_for_ordinary_users(sandbox, dev):
    assert dev.fstype == "devtmpfs"
    sandbox.cred = Credentials.of(1000, 1000)
    assert sandbox.open(b"/dev/null", O_RDWR).write(None, b"x") == 1
    assert len(sandbox.open(b"/dev/urandom").read(None, 16)) == 16
