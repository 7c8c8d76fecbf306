"""`Sandbox.os`: the sandbox's own filesystem through an `os`-module-shaped API.

It works with no program running: calls go straight to the kernel's VFS as root of
the sandbox, with a descriptor table of its own. Errors are raised as OSError
subclasses with the Linux errno, exactly as `os` raises them.
"""

from __future__ import annotations

import os
import stat as stat_mod

from slimbox.abi.errno import Errno, strerror
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fd import FdTable
from slimbox.kernel.file import O_DIRECTORY, O_RDONLY
from slimbox.kernel.fs.vfs import FsContext

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import AnyStr
    from slimbox.kernel.kernel import Kernel

_PathLike = str | bytes | os.PathLike


def _raise(exc: LinuxError, filename=None, filename2=None) -> None:
    raise OSError(exc.errno, strerror(exc.errno), filename, None, filename2) from None


def _encode(path: _PathLike) -> bytes:
    return os.fsencode(path)


class SandboxOS:
    """open/read/write/close/listdir/stat/lstat/makedirs/mkdir/remove/rmdir/rename/
    readlink/symlink/chmod on the sandbox's filesystem."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._cred = Credentials.of(0, 0)
        self._fds = FdTable(limit=1 << 16)
        self.sep = "/"

    @property
    def _vfs(self):
        return self._kernel.vfs

    def _ctx(self) -> FsContext:
        root = self._vfs.root
        return FsContext(root, root, 0o022)

    def _call(self, fn, *args, filename=None, filename2=None):
        try:
            return fn(*args)
        except LinuxError as exc:
            _raise(exc, filename, filename2)

    # --- descriptors ---------------------------------------------------------------

    def open(self, path: _PathLike, flags: int, mode: int = 0o777) -> int:
        ctx = self._ctx()
        file = self._call(self._vfs.open, ctx, self._cred, ctx.root, _encode(path), flags, mode, filename=path)
        return self._fds.install(file)

    def read(self, fd: int, n: int) -> bytes:
        file = self._call(self._fds.get, fd)
        if not file.readable:
            _raise(LinuxError(Errno.EBADF))
        return self._call(file.read, None, n)

    def write(self, fd: int, data: bytes) -> int:
        file = self._call(self._fds.get, fd)
        if not file.writable:
            _raise(LinuxError(Errno.EBADF))
        return self._call(file.write, None, bytes(data))

    def lseek(self, fd: int, pos: int, whence: int) -> int:
        return self._call(self._call(self._fds.get, fd).seek, pos, whence)

    def close(self, fd: int) -> None:
        self._call(self._fds.close, fd)

    # --- names ------------------------------------------------------------------------

    def listdir(self, path: AnyStr | os.PathLike = ".") -> list:
        ctx = self._ctx()
        raw = _encode(path)
        file = self._call(self._vfs.open, ctx, self._cred, ctx.root, raw, O_RDONLY | O_DIRECTORY, 0, filename=path)
        try:
            names = [e.name for _, e in self._call(file.entries_from, 0) if e.name not in (b".", b"..")]
        finally:
            file.release()
        return names if isinstance(path, bytes) else [os.fsdecode(n) for n in names]

    def stat(self, path: _PathLike, *, follow_symlinks: bool = True) -> os.stat_result:
        return self._stat(self._ctx(), path, follow_symlinks)

    def _stat(self, ctx: FsContext, path: _PathLike, follow: bool) -> os.stat_result:
        try:
            st = self._vfs.stat(ctx, self._cred, ctx.root, _encode(path), follow=follow)
        except LinuxError as exc:
            _raise(exc, path)
        ns = 1_000_000_000
        return os.stat_result((st.mode, st.ino, st.dev, st.nlink, st.uid, st.gid, st.size,
                               st.atime_ns // ns, st.mtime_ns // ns, st.ctime_ns // ns,
                               st.atime_ns / ns, st.mtime_ns / ns, st.ctime_ns / ns,
                               st.atime_ns, st.mtime_ns, st.ctime_ns, st.blksize, st.blocks, st.rdev))

    def lstat(self, path: _PathLike) -> os.stat_result:
        return self._stat(self._ctx(), path, False)

    def mkdir(self, path: _PathLike, mode: int = 0o777) -> None:
        ctx = self._ctx()
        self._call(self._vfs.mkdir, ctx, self._cred, ctx.root, _encode(path), mode, filename=path)

    def makedirs(self, path: _PathLike, mode: int = 0o777, exist_ok: bool = False) -> None:
        raw = _encode(path)
        parts = [p for p in raw.split(b"/") if p]
        prefix = b"/" if raw.startswith(b"/") else b""
        for index in range(len(parts)):
            current = prefix + b"/".join(parts[:index + 1])
            try:
                self.mkdir(current, mode)
            except FileExistsError:
                if index == len(parts) - 1:
                    if not exist_ok or not stat_mod.S_ISDIR(self.stat(current).st_mode):
                        raise
                elif not stat_mod.S_ISDIR(self.stat(current).st_mode):
                    raise

    def remove(self, path: _PathLike) -> None:
        ctx = self._ctx()
        self._call(self._vfs.unlink, ctx, self._cred, ctx.root, _encode(path), filename=path)

    unlink = remove

    def rmdir(self, path: _PathLike) -> None:
        ctx = self._ctx()
        self._call(self._vfs.rmdir, ctx, self._cred, ctx.root, _encode(path), filename=path)

    def rename(self, src: _PathLike, dst: _PathLike) -> None:
        ctx = self._ctx()
        self._call(self._vfs.rename, ctx, self._cred, ctx.root, _encode(src), ctx.root, _encode(dst),
                   filename=src, filename2=dst)

    def readlink(self, path: AnyStr | os.PathLike) -> AnyStr:
        ctx = self._ctx()
        text = self._call(self._vfs.readlink, ctx, self._cred, ctx.root, _encode(path), filename=path)
        return text if isinstance(path, bytes) else os.fsdecode(text)

    def symlink(self, src: _PathLike, dst: _PathLike) -> None:
        ctx = self._ctx()
        self._call(self._vfs.symlink, ctx, self._cred, _encode(src), ctx.root, _encode(dst), filename=dst)

    def chmod(self, path: _PathLike, mode: int) -> None:
        ctx = self._ctx()
        node = self._call(self._vfs.resolve, ctx, self._cred, ctx.root, _encode(path), filename=path)
        self._call(self._vfs.chmod, self._cred, node, mode, filename=path)

    # --- conveniences beyond `os` ----------------------------------------------------------

    def read_file(self, path: _PathLike) -> bytes:
        fd = self.open(path, O_RDONLY)
        try:
            chunks = []
            while chunk := self.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            self.close(fd)

    def write_file(self, path: _PathLike, data: bytes, mode: int = 0o644) -> None:
        fd = self.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(bytes(data))
            while view:
                view = view[self.write(fd, view):]
        finally:
            self.close(fd)

