"""Host directories reached by path with portable calls only (no dir_fd, no O_PATH).

A directory is held as the chain of (path, identity) from the mount's root down to it,
identity being the (device, inode) pair `lstat` gave when it was entered. Before each
operation every directory of the chain is looked at again and must still be that same
directory, not a link; the name operated on is one component, checked here; a file is
opened only when `lstat` says it is a regular file, and the opened descriptor must be
that same file (`fstat`). So nothing a guest does through this interface (renaming
directories, putting symlinks in their place) leads outside the mounted directory: a
link is never followed, and a directory that is no longer where it was reads as gone.

The race that remains, because a path is resolved again by the host at each call: if
another host process that can write inside the mounted directory swaps a directory of
the chain for a link between the check and the call, that one call acts on the link's
target. For `open_file` this is caught afterwards (identities compared, the descriptor
closed, truncation done only after the check), and where the host has O_NOFOLLOW (macOS,
Linux) the last component is never followed; a file created or removed, a directory made
or a rename by path cannot be taken back. With dir_fd and O_NOFOLLOW on every component
(platforms/linux/hostdir.py) the host itself closes this race.
"""

from __future__ import annotations

import os
import stat as stat_mod
import weakref

from slimbox.abi.errno import Errno
from slimbox.platforms.base import HostStat
from slimbox.platforms.emu.hosterrors import LinuxErrno, linux_errors

_WINDOWS = os.name == "nt"

# Linux open(2) flag values the kernel passes (the host's own may differ)
_ACCESS_MODE, _O_CREAT, _O_EXCL, _O_TRUNC, _O_APPEND = 3, 0o100, 0o200, 0o1000, 0o2000
_ALLOWED_OPEN_FLAGS = _ACCESS_MODE | _O_CREAT | _O_EXCL | _O_TRUNC | _O_APPEND
_HOST_ACCESS = {0: os.O_RDONLY, 1: os.O_WRONLY, 2: os.O_RDWR}
# Whatever of these the host has: binary mode and no inheritance (Windows), no following
# of a last-component link (POSIX), no blocking on a FIFO swapped in (POSIX).
_OPEN_ALWAYS = (getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0) | getattr(os, "O_CLOEXEC", 0)
                | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))

_FILE_ATTRIBUTE_DIRECTORY = 0x10  # a Windows link made for a directory has it, whatever it points to
# Windows reparse points that are links (symbolic links and junctions)
_LINK_REPARSE_TAGS = (0xA000000C, 0xA0000003)
# names Windows maps to devices in every directory, with any extension
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{port}{n}" for port in ("COM", "LPT") for n in (*"123456789", "\u00b9", "\u00b2", "\u00b3")])
_WINDOWS_FORBIDDEN = frozenset(b'\\:*?"<>|' + bytes(range(32)))


def check_component(name: bytes, windows: bool = _WINDOWS) -> str:
    """`name` as a host path component, if it is exactly one; OSError(EINVAL) otherwise.
    On Windows also refused: separators and drive or stream colons, device names (NUL,
    COM1.txt...) and trailing dots or spaces, which Windows strips (so 'a.' is 'a')."""
    if not name or b"/" in name or b"\0" in name or name in (b".", b".."):
        raise LinuxErrno(Errno.EINVAL, f"not a single path component: {name!r}")
    if not windows:
        return os.fsdecode(name)
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        raise LinuxErrno(Errno.EINVAL, f"not a UTF-8 name: {name!r}") from None
    if (_WINDOWS_FORBIDDEN.intersection(name) or text[-1] in ". "
            or text.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES):
        raise LinuxErrno(Errno.EINVAL, f"not a name this host can hold: {name!r}")
    return text


def is_link(st: os.stat_result) -> bool:
    return stat_mod.S_ISLNK(st.st_mode) or getattr(st, "st_reparse_tag", 0) in _LINK_REPARSE_TAGS


def identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def host_stat(st: os.stat_result, windows: bool = _WINDOWS) -> HostStat:
    """A host stat result as the kernel takes it. A junction shows as a symlink. Windows
    has no execute permission (it marks only .exe and the like), so its regular files
    show as executable: a Linux program in a mounted directory must be runnable."""
    mode = st.st_mode
    if is_link(st):
        mode = stat_mod.S_IFLNK | 0o777
    elif windows and stat_mod.S_ISREG(mode):
        mode |= 0o111
    size = st.st_size
    return HostStat(mode, st.st_ino, st.st_dev, st.st_nlink, getattr(st, "st_uid", 0), getattr(st, "st_gid", 0),
                    getattr(st, "st_rdev", 0), size, getattr(st, "st_blksize", 4096),
                    getattr(st, "st_blocks", (size + 511) // 512), st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns)


def _entry_kind(entry: os.DirEntry) -> int:
    """The type the listing gives: S_IFREG, S_IFDIR or S_IFLNK, else 0."""
    try:
        kind = stat_mod.S_IFMT(host_stat(entry.stat(follow_symlinks=False)).mode)
    except OSError:
        return 0
    return kind if kind in (stat_mod.S_IFREG, stat_mod.S_IFDIR, stat_mod.S_IFLNK) else 0


def _entry_inode(entry: os.DirEntry) -> int:
    try:
        return entry.inode()
    except OSError:  # gone since the listing was read
        return 0


def _read_at(fd: int, length: int, offset: int) -> bytes:
    """pread where the host has none (Windows): seek, then read until done or end of file."""
    os.lseek(fd, offset, os.SEEK_SET)
    parts = []
    while length > 0:
        chunk = os.read(fd, length)
        if not chunk:
            break
        parts.append(chunk)
        length -= len(chunk)
    return b"".join(parts)


def _write_at(fd: int, data: bytes, offset: int) -> int:
    os.lseek(fd, offset, os.SEEK_SET)
    return os.write(fd, data)


class PortableHostFile:
    """An open host file. `opened` holds its attributes when it was opened (checked
    then anyway). Without pread/pwrite the descriptor's own position is used: the
    descriptor is this object's alone."""

    __slots__ = ("fd", "opened")

    def __init__(self, fd: int, opened: HostStat | None = None) -> None:
        self.fd = fd
        self.opened = opened

    def pread(self, length: int, offset: int) -> bytes:
        with linux_errors():
            if hasattr(os, "pread"):
                return os.pread(self.fd, length, offset)
            return _read_at(self.fd, length, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        with linux_errors():
            if hasattr(os, "pwrite"):
                return os.pwrite(self.fd, data, offset)
            return _write_at(self.fd, data, offset)

    def stat(self) -> HostStat:
        with linux_errors():
            return host_stat(os.fstat(self.fd))

    def truncate(self, size: int) -> None:
        with linux_errors():
            os.ftruncate(self.fd, size)

    def sync(self) -> None:
        with linux_errors():
            os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with linux_errors():
                os.close(fd)


class _Mount:
    """What the directories of one mount share: those open, so that a rename can tell
    each directory below the renamed one where it now is (a descriptor would follow it)."""

    __slots__ = ("directories",)

    def __init__(self) -> None:
        self.directories: weakref.WeakSet[PortableHostDirectory] = weakref.WeakSet()


class PortableHostDirectory:
    __slots__ = ("_chain", "_mount", "writable", "_closed", "__weakref__")

    def __init__(self, chain: tuple[tuple[str, tuple[int, int]], ...], mount: _Mount, writable: bool) -> None:
        self._chain = chain
        self._mount = mount
        self.writable = writable
        self._closed = False
        mount.directories.add(self)

    @classmethod
    def open(cls, path: str, writable: bool) -> PortableHostDirectory:
        """The directory `path` names. Links in `path` itself are the policy's choice
        (macOS's /tmp is one) and are resolved once, here; nothing below is followed."""
        with linux_errors():
            real = os.path.realpath(path)
            st = os.lstat(real)
        if is_link(st) or not stat_mod.S_ISDIR(st.st_mode):
            raise LinuxErrno(Errno.ENOTDIR, f"not a directory: {path!r}")
        return cls(((real, identity(st)),), _Mount(), writable)

    @property
    def path(self) -> str:
        return self._chain[-1][0]

    # --- checks -------------------------------------------------------------------

    def _here(self) -> os.stat_result:
        """Check that every directory from the mount's root down to this one is still
        the one entered (not a link, same identity); the lstat of this one."""
        if self._closed:
            raise LinuxErrno(Errno.EBADF, "host directory is closed")
        st = None
        for path, expected in self._chain:
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                raise LinuxErrno(Errno.ENOENT, "host directory is gone") from None
            if is_link(st) or not stat_mod.S_ISDIR(st.st_mode) or identity(st) != expected:
                raise LinuxErrno(Errno.ENOENT, "host directory was moved or replaced")
        return st

    def _child(self, name: bytes) -> str:
        """The host path of `name` in this (checked) directory."""
        text = check_component(name)
        self._here()
        return os.path.join(self.path, text)

    def _need_write(self) -> None:
        if not self.writable:
            raise LinuxErrno(Errno.EROFS, "read-only mount")

    def _same_mount(self, other: PortableHostDirectory) -> None:
        if not isinstance(other, PortableHostDirectory) or other._mount is not self._mount:
            raise LinuxErrno(Errno.EXDEV, "not on the same host mount")

    # --- the HostDirectory interface -------------------------------------------------

    def stat(self) -> HostStat:
        with linux_errors():
            return host_stat(self._here())

    def lookup(self, name: bytes) -> HostStat:
        with linux_errors():
            return host_stat(os.lstat(self._child(name)))

    def subdir(self, name: bytes) -> PortableHostDirectory:
        with linux_errors():
            path = self._child(name)
            st = os.lstat(path)
        if is_link(st) or not stat_mod.S_ISDIR(st.st_mode):
            raise LinuxErrno(Errno.ENOTDIR, "not a directory")
        return PortableHostDirectory((*self._chain, (path, identity(st))), self._mount, self.writable)

    def list(self) -> list[tuple[bytes, int, int]]:
        with linux_errors():
            self._here()
            with os.scandir(self.path) as entries:
                return [(os.fsencode(entry.name), _entry_inode(entry), _entry_kind(entry)) for entry in entries]

    def open_file(self, name: bytes, flags: int, mode: int) -> PortableHostFile:
        access = flags & _ACCESS_MODE
        if flags & ~_ALLOWED_OPEN_FLAGS or access == _ACCESS_MODE:
            raise LinuxErrno(Errno.EINVAL, "unsupported open flags for a host file")
        if access or flags & (_O_CREAT | _O_TRUNC):
            self._need_write()
        with linux_errors():
            for _ in range(3):  # a file made or removed by someone else meanwhile: look again
                path = self._child(name)
                try:
                    before = os.lstat(path)
                except FileNotFoundError:
                    if not flags & _O_CREAT:
                        raise
                    before = None
                if before is not None:
                    if flags & _O_CREAT and flags & _O_EXCL:
                        raise LinuxErrno(Errno.EEXIST, "file exists")
                    _check_openable(before, access)
                # A new file is made with O_EXCL, which never follows a link; an existing
                # one is truncated only once it is known to be the file checked.
                host_flags = _HOST_ACCESS[access] | _OPEN_ALWAYS
                host_flags |= os.O_APPEND if flags & _O_APPEND else 0
                host_flags |= os.O_CREAT | os.O_EXCL if before is None else 0
                try:
                    fd = os.open(path, host_flags, mode & 0o7777)
                except (FileExistsError, FileNotFoundError):
                    if flags & _O_EXCL and before is None:
                        raise
                    continue
                try:
                    return PortableHostFile(fd, self._settle(fd, path, before, flags))
                except BaseException:
                    os.close(fd)
                    raise
        raise LinuxErrno(Errno.EAGAIN, "host file kept changing while being opened")

    def _settle(self, fd: int, path: str, before: os.stat_result | None, flags: int) -> HostStat:
        """Check that `fd` is the regular file at `path` in this directory (and that was
        checked before opening, if it existed); then truncate it if asked."""
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            raise LinuxErrno(Errno.EACCES, "only regular host files can be opened")
        after = os.lstat(path)
        if (before is not None and identity(before) != identity(st)) or is_link(after) \
                or identity(after) != identity(st):
            raise LinuxErrno(Errno.ENOENT, "host file was replaced while being opened")
        self._here()
        if flags & _O_TRUNC and flags & _ACCESS_MODE and st.st_size:
            os.ftruncate(fd, 0)
            st = os.fstat(fd)
        return host_stat(st)

    def readlink(self, name: bytes) -> bytes:
        with linux_errors():
            path = self._child(name)
            if not is_link(os.lstat(path)):
                raise LinuxErrno(Errno.EINVAL, "not a symbolic link")
            return os.fsencode(os.readlink(path))

    def mkdir(self, name: bytes, mode: int) -> None:
        self._need_write()
        with linux_errors():
            os.mkdir(self._child(name), mode & 0o7777)

    def rmdir(self, name: bytes) -> None:
        self._need_write()
        with linux_errors():
            path = self._child(name)
            st = os.lstat(path)
            if is_link(st) or not stat_mod.S_ISDIR(st.st_mode):
                raise LinuxErrno(Errno.ENOTDIR, "not a directory")
            os.rmdir(path)

    def unlink(self, name: bytes) -> None:
        self._need_write()
        with linux_errors():
            path = self._child(name)
            st = os.lstat(path)
            if stat_mod.S_ISDIR(st.st_mode) and not is_link(st):
                raise LinuxErrno(Errno.EISDIR, "is a directory")
            if _WINDOWS and is_link(st) and getattr(st, "st_file_attributes", 0) & _FILE_ATTRIBUTE_DIRECTORY:
                os.rmdir(path)  # Windows removes a directory link (or junction) with rmdir, not following it
            else:
                os.unlink(path)

    def rename(self, name: bytes, new_dir: PortableHostDirectory, new_name: bytes) -> None:
        self._need_write()
        self._same_mount(new_dir)
        new_dir._need_write()
        with linux_errors():
            old_path = self._child(name)
            new_path = new_dir._child(new_name)
            st = os.lstat(old_path)
            os.replace(old_path, new_path)  # replaces an existing target on Windows too, as rename(2) does
        if stat_mod.S_ISDIR(st.st_mode) and not is_link(st):
            self._moved(old_path, identity(st), new_dir, new_path)

    def _moved(self, old_path: str, moved: tuple[int, int], new_dir: PortableHostDirectory, new_path: str) -> None:
        """Tell the open directories at or below a renamed one their new paths."""
        for directory in list(self._mount.directories):
            chain = directory._chain
            for index, (path, ident) in enumerate(chain):
                if path == old_path and ident == moved:
                    below = tuple((new_path + p[len(old_path):], i) for p, i in chain[index + 1:])
                    directory._chain = (*new_dir._chain, (new_path, moved), *below)
                    break

    def link(self, name: bytes, new_dir: PortableHostDirectory, new_name: bytes) -> None:
        self._need_write()
        self._same_mount(new_dir)
        new_dir._need_write()
        with linux_errors():
            old_path = self._child(name)
            new_path = new_dir._child(new_name)
            if os.link in os.supports_follow_symlinks:
                os.link(old_path, new_path, follow_symlinks=False)
            else:
                if is_link(os.lstat(old_path)):
                    raise LinuxErrno(Errno.EPERM, "this host cannot hard-link a symbolic link")
                os.link(old_path, new_path)

    def symlink(self, target: bytes, name: bytes) -> None:
        self._need_write()
        try:
            text = target.decode("utf-8") if _WINDOWS else os.fsdecode(target)
        except UnicodeDecodeError:
            raise LinuxErrno(Errno.EINVAL, "a link target this host cannot hold") from None
        if not target or b"\0" in target:
            raise LinuxErrno(Errno.ENOENT if not target else Errno.EINVAL, "bad link target")
        with linux_errors():
            os.symlink(text, self._child(name))

    def mkfifo(self, name: bytes, mode: int) -> None:
        self._need_write()
        make = getattr(os, "mkfifo", None)
        if make is None:
            raise LinuxErrno(Errno.EPERM, "this host has no named pipes in its filesystem")
        with linux_errors():
            make(self._child(name), mode & 0o7777)

    def chmod(self, name: bytes, mode: int) -> None:
        self._need_write()
        with linux_errors():
            path = self._child(name)
            if is_link(os.lstat(path)):
                raise LinuxErrno(Errno.EOPNOTSUPP, "symbolic links have no mode")
            if os.chmod in os.supports_follow_symlinks:
                os.chmod(path, mode & 0o7777, follow_symlinks=False)
            else:
                os.chmod(path, mode & 0o7777)

    def chown(self, name: bytes, uid: int, gid: int) -> None:
        self._need_write()
        lchown = getattr(os, "lchown", None)
        if lchown is None:
            raise LinuxErrno(Errno.EPERM, "this host has no file owners to change")
        with linux_errors():
            lchown(self._child(name), uid, gid)

    def set_times(self, name: bytes, atime_ns: int | None, mtime_ns: int | None) -> None:
        self._need_write()
        with linux_errors():
            path = self._child(name)
            current = os.lstat(path)
            atime_ns = current.st_atime_ns if atime_ns is None else atime_ns
            mtime_ns = current.st_mtime_ns if mtime_ns is None else mtime_ns
            try:
                if os.utime in os.supports_follow_symlinks:
                    os.utime(path, ns=(atime_ns, mtime_ns), follow_symlinks=False)
                elif is_link(current):
                    raise LinuxErrno(Errno.EOPNOTSUPP, "this host cannot set a symbolic link's times")
                else:
                    os.utime(path, ns=(atime_ns, mtime_ns))
            except (OverflowError, ValueError):
                raise LinuxErrno(Errno.EINVAL, "a time this host cannot hold") from None

    def close(self) -> None:
        self._closed = True
        self._mount.directories.discard(self)


def _check_openable(st: os.stat_result, access: int) -> None:
    if is_link(st):
        raise LinuxErrno(Errno.ELOOP, "a symbolic link is not followed")
    if stat_mod.S_ISDIR(st.st_mode):
        raise LinuxErrno(Errno.EISDIR if access else Errno.EACCES, "a directory is not opened as a file")
    if not stat_mod.S_ISREG(st.st_mode):
        raise LinuxErrno(Errno.EACCES, "only regular host files can be opened")
