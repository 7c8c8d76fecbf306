"""Host directories exposed by a mount, reached one path component at a time.

Every operation takes a single name relative to an open directory descriptor and never
follows a symlink, so no name the guest supplies can lead outside the directory the
policy chose. Only regular files are opened; devices, FIFOs and sockets on the host
are visible in listings but cannot be opened.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod

from slimbox.platforms.base import HostStat

_ACCESS_MODE = 3
_O_WRONLY = 1
_O_RDWR = 2
_ALLOWED_OPEN_FLAGS = os.O_CREAT | os.O_EXCL | os.O_TRUNC | os.O_APPEND | _ACCESS_MODE
_ALWAYS = os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC | os.O_NONBLOCK


_new_tuple = tuple.__new__


def host_stat(st: os.stat_result) -> HostStat:
    # built as the tuple it is, without HostStat's argument-checking __new__: every
    # lookup of a path walk comes through here
    return _new_tuple(HostStat, (st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid,
                                 st.st_rdev, st.st_size, st.st_blksize, st.st_blocks,
                                 st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns))


def _component(name: bytes) -> bytes:
    # 47 is "/": an int is looked for in bytes several times faster than a one-byte bytes
    if not name or 47 in name or 0 in name or name in (b".", b".."):
        raise OSError(errno.EINVAL, f"not a single path component: {name!r}")
    return name


def _entry_kind(entry: os.DirEntry) -> int:
    """The file type a directory listing gives (no host call unless the filesystem
    leaves it out); 0 for anything but a regular file, directory or symlink."""
    try:  # (without following symlinks the three are exclusive: the commonest first)
        if entry.is_file(follow_symlinks=False):
            return stat_mod.S_IFREG
        if entry.is_dir(follow_symlinks=False):
            return stat_mod.S_IFDIR
        if entry.is_symlink():
            return stat_mod.S_IFLNK
    except OSError:
        pass
    return 0


class PosixHostFile:
    """`opened` holds the attributes the file had when it was opened (taken anyway to
    check its type), so the caller need not ask the host again at once."""

    __slots__ = ("fd", "opened")

    def __init__(self, fd: int, opened: HostStat | None = None) -> None:
        self.fd = fd
        self.opened = opened

    def pread(self, length: int, offset: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        return os.pwrite(self.fd, data, offset)

    def stat(self) -> HostStat:
        return host_stat(os.fstat(self.fd))

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class PosixHostDirectory:
    """A host directory held open as an O_PATH descriptor."""

    __slots__ = ("fd", "writable")

    def __init__(self, fd: int, writable: bool) -> None:
        self.fd = fd
        self.writable = writable

    @classmethod
    def open(cls, path: str, writable: bool) -> PosixHostDirectory:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return cls(fd, writable)

    def _need_write(self) -> None:
        if not self.writable:
            raise OSError(errno.EROFS, "read-only mount")

    def stat(self) -> HostStat:
        return host_stat(os.stat(self.fd))

    def lookup(self, name: bytes) -> HostStat:
        return host_stat(os.stat(_component(name), dir_fd=self.fd, follow_symlinks=False))

    def subdir(self, name: bytes) -> PosixHostDirectory:
        fd = os.open(_component(name), os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=self.fd)
        return PosixHostDirectory(fd, self.writable)

    def list(self) -> list[tuple[bytes, int, int]]:
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            with os.scandir(fd) as entries:
                return [(os.fsencode(entry.name), entry.inode(), _entry_kind(entry)) for entry in entries]
        finally:
            os.close(fd)

    def open_file(self, name: bytes, flags: int, mode: int) -> PosixHostFile:
        if flags & ~_ALLOWED_OPEN_FLAGS:
            raise OSError(errno.EINVAL, "unsupported open flags for a host file")
        if flags & _ACCESS_MODE in (_O_WRONLY, _O_RDWR) or flags & (os.O_CREAT | os.O_TRUNC):
            self._need_write()
        fd = os.open(_component(name), flags | _ALWAYS, mode & 0o7777, dir_fd=self.fd)
        try:
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                raise OSError(errno.EACCES, "only regular host files can be opened")
        except BaseException:
            os.close(fd)
            raise
        return PosixHostFile(fd, host_stat(st))

    def readlink(self, name: bytes) -> bytes:
        return os.readlink(_component(name), dir_fd=self.fd)

    def mkdir(self, name: bytes, mode: int) -> None:
        self._need_write()
        os.mkdir(_component(name), mode & 0o7777, dir_fd=self.fd)

    def rmdir(self, name: bytes) -> None:
        self._need_write()
        os.rmdir(_component(name), dir_fd=self.fd)

    def unlink(self, name: bytes) -> None:
        self._need_write()
        os.unlink(_component(name), dir_fd=self.fd)

    def rename(self, name: bytes, new_dir: PosixHostDirectory, new_name: bytes) -> None:
        self._need_write()
        new_dir._need_write()
        os.rename(_component(name), _component(new_name), src_dir_fd=self.fd, dst_dir_fd=new_dir.fd)

    def link(self, name: bytes, new_dir: PosixHostDirectory, new_name: bytes) -> None:
        self._need_write()
        new_dir._need_write()
        os.link(_component(name), _component(new_name), src_dir_fd=self.fd, dst_dir_fd=new_dir.fd,
                follow_symlinks=False)

    def mkfifo(self, name: bytes, mode: int) -> None:
        self._need_write()
        os.mkfifo(_component(name), mode & 0o7777, dir_fd=self.fd)

    def symlink(self, target: bytes, name: bytes) -> None:
        self._need_write()
        os.symlink(target, _component(name), dir_fd=self.fd)

    def chmod(self, name: bytes, mode: int) -> None:
        self._need_write()
        # Not fchmodat(AT_SYMLINK_NOFOLLOW): the C library emulates that with chmod() by
        # path. Pin the inode with O_PATH|O_NOFOLLOW, then chmod it through its descriptor
        # with fchmodat (the form on the supervisor's lock-down list).
        fd = os.open(_component(name), os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            if stat_mod.S_ISLNK(os.fstat(fd).st_mode):
                raise OSError(errno.EOPNOTSUPP, "symbolic links have no mode")
            os.chmod(f"/proc/self/fd/{fd}", mode & 0o7777, dir_fd=self.fd)
        finally:
            os.close(fd)

    def chown(self, name: bytes, uid: int, gid: int) -> None:
        self._need_write()
        os.chown(_component(name), uid, gid, dir_fd=self.fd, follow_symlinks=False)

    def set_times(self, name: bytes, atime_ns: int | None, mtime_ns: int | None) -> None:
        self._need_write()
        name = _component(name)
        if atime_ns is None or mtime_ns is None:
            current = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            atime_ns = current.st_atime_ns if atime_ns is None else atime_ns
            mtime_ns = current.st_mtime_ns if mtime_ns is None else mtime_ns
        os.utime(name, ns=(atime_ns, mtime_ns), dir_fd=self.fd, follow_symlinks=False)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
