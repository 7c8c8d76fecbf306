"""The file descriptor table of a process."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import File

FD_CLOEXEC = 1


class FdTable:
    """Descriptor number -> (open file description, close-on-exec flag)."""

    def __init__(self, limit: int = 1024) -> None:
        self._files: dict[int, File] = {}
        self._cloexec: set[int] = set()
        self.limit = limit  # RLIMIT_NOFILE soft limit, kept in step by prlimit
        #: every number below this one is in use: where the search for the lowest free
        #: number starts, so filling a big table is not quadratic (Linux's next_fd)
        self._next_free = 0

    def __contains__(self, fd: int) -> bool:
        return fd in self._files

    def items(self) -> list[tuple[int, File]]:
        return sorted(self._files.items())

    def get(self, fd: int) -> File:
        try:
            return self._files[fd]
        except KeyError:
            raise LinuxError(Errno.EBADF) from None

    def _lowest_free(self, minimum: int) -> int:
        fd = max(minimum, self._next_free)
        while fd in self._files:
            fd += 1
        if minimum <= self._next_free:
            self._next_free = fd
        if fd >= self.limit:
            raise LinuxError(Errno.EMFILE)
        return fd

    def install(self, file: File, *, cloexec: bool = False, minimum: int = 0) -> int:
        if minimum >= self.limit:
            raise LinuxError(Errno.EINVAL)
        fd = self._lowest_free(minimum)
        self._place(fd, file, cloexec)
        return fd

    def _place(self, fd: int, file: File, cloexec: bool) -> None:
        file.refs += 1
        self._files[fd] = file
        if cloexec:
            self._cloexec.add(fd)
        else:
            self._cloexec.discard(fd)

    def install_at(self, fd: int, file: File, *, cloexec: bool = False) -> None:
        """dup2/dup3 semantics: whatever was at `fd` is closed first."""
        if fd < 0 or fd >= self.limit:
            raise LinuxError(Errno.EBADF)
        old = self._files.get(fd)
        if old is file:
            if cloexec:
                self._cloexec.add(fd)
            else:
                self._cloexec.discard(fd)
            return
        self._place(fd, file, cloexec)
        if old is not None:
            _drop(old)

    def close(self, fd: int) -> None:
        file = self._files.pop(fd, None)
        if file is None:
            raise LinuxError(Errno.EBADF)
        self._next_free = min(self._next_free, fd)
        self._cloexec.discard(fd)
        _drop(file)

    def get_cloexec(self, fd: int) -> bool:
        self.get(fd)
        return fd in self._cloexec

    def set_cloexec(self, fd: int, on: bool) -> None:
        self.get(fd)
        if on:
            self._cloexec.add(fd)
        else:
            self._cloexec.discard(fd)

    def close_on_exec(self) -> None:
        for fd in sorted(self._cloexec):
            self.close(fd)

    def close_all(self) -> None:
        for fd in list(self._files):
            self.close(fd)

    def copy(self) -> FdTable:
        clone = FdTable(self.limit)
        for fd, file in self._files.items():
            clone._place(fd, file, fd in self._cloexec)
        clone._next_free = self._next_free
        return clone

    def count(self) -> int:
        return len(self._files)


def _drop(file: File) -> None:
    file.refs -= 1
    if file.refs == 0:
        file.release()
        if file.watchers:
            for forget in list(file.watchers):
                forget(file)


def drop_reference(file: File) -> None:
    """Give up one reference to `file` held outside any table (a descriptor in flight
    in a socket message): the last one releases it."""
    _drop(file)
