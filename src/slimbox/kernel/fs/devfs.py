"""devfs: the sandbox's /dev, a memfs tree whose character devices are kernel objects.

/dev holds the devices every program expects (null, zero, full, random, urandom,
tty), the stdin/stdout/stderr/fd symlinks into /proc/self, and the shm and pts
directories. Nothing here reaches a host device: each device node opens to a File
implemented below.

Key decisions:
- The tree is an ordinary memfs, writable by root as a real devtmpfs is; only the
  directory class differs, so that `mknod` of a character device this module knows
  (by its real Linux major:minor) gives a node that works, wherever under /dev it is
  made. Unknown device numbers make nodes that answer ENXIO when opened, as a
  device with no driver does.
- Device numbers use the encoding user space decodes with major()/minor(), which is
  major << 8 | minor for the small numbers used here.
- The devices have no position: reads and writes ignore the offset, pread/pwrite
  behave like read/write and lseek always answers 0, as on Linux.
- /dev/zero's File says `maps_as_anonymous`, so mmap of it gives anonymous memory
  (shared anonymous memory for MAP_SHARED).
- /dev/tty opens to a fresh open file description that forwards to the sandbox's
  controlling terminal, supplied by a callable at construction; if there is none
  the open fails with ENXIO. The forwarding file holds a reference on the terminal
  File, like a descriptor would, so the terminal outlives the standard streams
  being closed.
"""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import File
from slimbox.kernel.fs.inode import S_IFIFO, S_IFCHR, S_IFMT, Inode
from slimbox.kernel.fs.memfs import MemDir, MemFs, MemNode

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable

    from slimbox.kernel.waitqueue import WaitQueue

TTY_GID = 5  # the "tty" group owns /dev/tty on Linux systems


def makedev(major: int, minor: int) -> int:
    """A device number in the encoding user space's major()/minor() decode."""
    return (minor & 0xFF) | ((major & 0xFFF) << 8) | ((minor & ~0xFF) << 12) | ((major & ~0xFFF) << 32)


def dev_major(dev: int) -> int:
    return ((dev >> 8) & 0xFFF) | ((dev >> 32) & 0xFFFFF000)


def dev_minor(dev: int) -> int:
    return (dev & 0xFF) | ((dev >> 12) & 0xFFFFFF00)


DEV_NULL = makedev(1, 3)
DEV_ZERO = makedev(1, 5)
DEV_FULL = makedev(1, 7)
DEV_RANDOM = makedev(1, 8)
DEV_URANDOM = makedev(1, 9)
DEV_TTY = makedev(5, 0)

if TYPE_CHECKING:
    #: (open flags, the device node) -> the File for a device
    DeviceOpener = Callable[[int, Inode], File]


# --- the device files --------------------------------------------------------------


class CharDeviceFile(File):
    """A stream device without a position: offsets are ignored and lseek answers 0."""

    def __init__(self, flags: int, inode: Inode) -> None:
        super().__init__(flags, None, inode)

    def pread(self, length: int, offset: int) -> bytes:
        return self.read(None, length)

    def pwrite(self, data: bytes, offset: int) -> int:
        return self.write(None, data)

    def seek(self, offset: int, whence: int) -> int:
        return 0


class NullFile(CharDeviceFile):
    """/dev/null: end of file on read, every write accepted and dropped."""

    pollable = False

    def read(self, task, length: int) -> bytes:
        return b""

    def write(self, task, data: bytes) -> int:
        return len(data)


class ZeroFile(CharDeviceFile):
    """/dev/zero: zeros on read, writes dropped, mmap gives anonymous memory."""

    pollable = False

    maps_as_anonymous = True

    def read(self, task, length: int) -> bytes:
        return bytes(length)

    def write(self, task, data: bytes) -> int:
        return len(data)


class FullFile(CharDeviceFile):
    """/dev/full: zeros on read, every write fails with ENOSPC."""

    pollable = False

    def read(self, task, length: int) -> bytes:
        return bytes(length)

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.ENOSPC)


class RandomFile(CharDeviceFile):
    """/dev/random and /dev/urandom: the kernel's random bytes. Writes are accepted
    (Linux mixes them in without crediting entropy; here there is nothing to mix)."""

    def __init__(self, flags: int, inode: Inode, random_bytes: Callable[[int], bytes]) -> None:
        super().__init__(flags, inode)
        self._random_bytes = random_bytes

    def read(self, task, length: int) -> bytes:
        return self._random_bytes(length) if length > 0 else b""

    def write(self, task, data: bytes) -> int:
        return len(data)


class TerminalFile(File):
    """/dev/tty: a new open file description for the controlling terminal that
    forwards every operation to the terminal's File."""

    def __init__(self, flags: int, inode: Inode, terminal: File) -> None:
        super().__init__(flags, None, inode)
        self.terminal = terminal
        terminal.refs += 1

    def read(self, task, length: int) -> bytes:
        return self.terminal.read(task, length)

    def write(self, task, data: bytes) -> int:
        return self.terminal.write(task, data)

    def ioctl(self, task, request: int, arg: int) -> int:
        return self.terminal.ioctl(task, request, arg)

    def poll(self) -> int:
        return self.terminal.poll()

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        return self.terminal.wait_queues(task)

    def release(self) -> None:
        self.terminal.refs -= 1
        if self.terminal.refs == 0:
            self.terminal.release()


# --- the tree ------------------------------------------------------------------------


class DevNode(MemNode):
    """A device node of the devfs; opening asks the devfs for the device's File."""

    __slots__ = ()

    def open(self, flags: int) -> File:
        if self._mode & S_IFMT == S_IFIFO:
            return super().open(flags)
        if self._mode & S_IFMT != S_IFCHR:
            raise LinuxError(Errno.ENXIO)
        assert isinstance(self.fs, DevFs)
        return self.fs.open_device(self, flags)


class DevDir(MemDir):
    """A devfs directory: as memfs, but nodes it makes are DevNodes and directories
    it makes are DevDirs."""

    __slots__ = ()

    def mknod(self, name: bytes, mode: int, rdev: int, cred: Credentials) -> Inode:
        return self._add(name, DevNode(self.fs, mode, cred.fsuid, self._new_gid(cred), rdev))

    def mkdir(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        child = DevDir(self.fs, mode, cred.fsuid, self._new_gid(cred))
        if self._mode & 0o2000:
            child._mode |= 0o2000
        return self._add(name, child)


class DevFs(MemFs):
    """The /dev filesystem.

    `random_bytes` is the kernel's entropy source (`Kernel.random_bytes`);
    `terminal` returns the sandbox's controlling terminal File, or None if it has
    none (then /dev/tty answers ENXIO).
    """

    fstype = "devtmpfs"

    def __init__(self, dev: int, clock: Callable[[], int], random_bytes: Callable[[int], bytes],
                 terminal: Callable[[], File | None] | None = None, uid: int = 0, gid: int = 0) -> None:
        super().__init__(dev, clock, root_mode=0o755, uid=uid, gid=gid)
        self.root = DevDir(self, 0o755, uid, gid)
        self._terminal = terminal
        self._devices: dict[int, DeviceOpener] = {
            DEV_NULL: NullFile,
            DEV_ZERO: ZeroFile,
            DEV_FULL: FullFile,
            DEV_RANDOM: lambda flags, inode: RandomFile(flags, inode, random_bytes),
            DEV_URANDOM: lambda flags, inode: RandomFile(flags, inode, random_bytes),
            DEV_TTY: self._open_terminal,
        }
        self._populate(Credentials.of(uid, gid))

    def _populate(self, cred: Credentials) -> None:
        root = self.root
        for name, rdev in ((b"null", DEV_NULL), (b"zero", DEV_ZERO), (b"full", DEV_FULL),
                           (b"random", DEV_RANDOM), (b"urandom", DEV_URANDOM), (b"tty", DEV_TTY)):
            root.mknod(name, S_IFCHR | 0o666, rdev, cred)
        root.lookup(b"tty").setattr(gid=TTY_GID)
        for index, name in enumerate((b"stdin", b"stdout", b"stderr")):
            root.symlink(name, b"/proc/self/fd/%d" % index, cred)
        root.symlink(b"fd", b"/proc/self/fd", cred)
        root.mkdir(b"shm", 0o1777, cred)
        root.mkdir(b"pts", 0o755, cred)

    def open_device(self, node: DevNode, flags: int) -> File:
        opener = self._devices.get(node.rdev)
        if opener is None:
            raise LinuxError(Errno.ENXIO)
        return opener(flags, node)

    def _open_terminal(self, flags: int, node: Inode) -> File:
        terminal = self._terminal() if self._terminal is not None else None
        if terminal is None:
            raise LinuxError(Errno.ENXIO)
        return TerminalFile(flags, node, terminal)

