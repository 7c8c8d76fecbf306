"""Helpers for filesystem tests: a sandbox VFS (memfs root) driven like a guest would."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from typing import Callable

import pytest

if importlib.util.find_spec("slimbox") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "src"))

from slimbox.kernel.cred import Credentials  # noqa: E402
from slimbox.kernel.errors import LinuxError  # noqa: E402
from slimbox.kernel.file import O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, File  # noqa: E402
from slimbox.kernel.fs.inode import FileSystem, Inode, Stat  # noqa: E402
from slimbox.kernel.fs.memfs import MemFs  # noqa: E402
from slimbox.kernel.fs.vfs import FsContext, PathNode, Vfs  # noqa: E402


class Sandbox:
    """A VFS with a memfs root, root credentials, and guest-like file operations."""

    def __init__(self) -> None:
        self._devs = itertools.count(1)
        self._now = itertools.count(1_700_000_000_000_000_000, 1_000)
        self._to_close: list[Callable[[], None]] = []
        self.rootfs = MemFs(self.new_dev(), self.clock, root_mode=0o755)
        self.vfs = Vfs(self.rootfs, self.rootfs.root)
        self.cred = Credentials.of(0, 0)
        self.ctx = FsContext(self.vfs.root, self.vfs.root)

    def clock(self) -> int:
        return next(self._now)

    def new_dev(self) -> int:
        return next(self._devs)

    def on_close(self, action: Callable[[], None]) -> None:
        self._to_close.append(action)

    def close(self) -> None:
        for action in reversed(self._to_close):
            action()

    # --- setup ------------------------------------------------------------------------

    def makedirs(self, path: bytes) -> None:
        current = b""
        for part in [p for p in path.split(b"/") if p]:
            current += b"/" + part
            if self.errno(self.stat, current) is not None:
                self.mkdir(current, 0o755)

    def mount(self, fs: FileSystem, root: Inode, path: bytes, *, readonly: bool = False) -> None:
        self.makedirs(path)
        self.vfs.mount(fs, root, self.node(path), readonly=readonly)

    # --- operations ------------------------------------------------------------------------

    def node(self, path: bytes, *, follow: bool = True) -> PathNode:
        return self.vfs.resolve(self.ctx, self.cred, self.ctx.cwd, path, follow=follow)

    def open(self, path: bytes, flags: int = O_RDONLY, mode: int = 0o644) -> File:
        return self.vfs.open(self.ctx, self.cred, self.ctx.cwd, path, flags, mode)

    def read(self, path: bytes) -> bytes:
        file = self.open(path)
        try:
            chunks = []
            while chunk := file.read(None, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            file.release()

    def write(self, path: bytes, data: bytes, flags: int = O_WRONLY | O_CREAT | O_TRUNC,
              mode: int = 0o644) -> None:
        file = self.open(path, flags, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[file.write(None, bytes(view)):]
        finally:
            file.release()

    def listdir(self, path: bytes) -> list[bytes]:
        return sorted(entry.name for entry in self.entries(path).values())

    def entries(self, path: bytes) -> dict:
        file = self.open(path)
        try:
            return {entry.name: entry for _, entry in file.entries_from(0) if entry.name not in (b".", b"..")}
        finally:
            file.release()

    def stat(self, path: bytes, *, follow: bool = True) -> Stat:
        return self.vfs.stat(self.ctx, self.cred, self.ctx.cwd, path, follow=follow)

    def mkdir(self, path: bytes, mode: int = 0o755) -> None:
        self.vfs.mkdir(self.ctx, self.cred, self.ctx.cwd, path, mode)

    def rmdir(self, path: bytes) -> None:
        self.vfs.rmdir(self.ctx, self.cred, self.ctx.cwd, path)

    def unlink(self, path: bytes) -> None:
        self.vfs.unlink(self.ctx, self.cred, self.ctx.cwd, path)

    def rename(self, old: bytes, new: bytes) -> None:
        self.vfs.rename(self.ctx, self.cred, self.ctx.cwd, old, self.ctx.cwd, new)

    def link(self, old: bytes, new: bytes) -> None:
        self.vfs.link(self.ctx, self.cred, self.ctx.cwd, old, self.ctx.cwd, new)

    def symlink(self, target: bytes, path: bytes) -> None:
        self.vfs.symlink(self.ctx, self.cred, target, self.ctx.cwd, path)

    def readlink(self, path: bytes) -> bytes:
        return self.vfs.readlink(self.ctx, self.cred, self.ctx.cwd, path)

    def chmod(self, path: bytes, mode: int) -> None:
        self.vfs.chmod(self.cred, self.node(path), mode)

    def chown(self, path: bytes, uid: int, gid: int) -> None:
        self.vfs.chown(self.cred, self.node(path), uid, gid)

    def set_times(self, path: bytes, atime_ns: int | None, mtime_ns: int | None) -> None:
        self.vfs.set_times(self.cred, self.node(path), atime_ns, mtime_ns, explicit=True)

    def truncate(self, path: bytes, size: int) -> None:
        self.vfs.truncate(self.cred, self.node(path), size)

    @staticmethod
    def errno(action: Callable, *args, **kwargs) -> int | None:
        """The errno `action` fails with, or None if it succeeds."""
        try:
            action(*args, **kwargs)
        except LinuxError as exc:
            return exc.errno
        return None


@pytest.fixture
def sandbox():
    box = Sandbox()
    yield box
    box.close()
