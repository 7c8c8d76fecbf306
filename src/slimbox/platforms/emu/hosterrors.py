"""Host errors in Linux's numbering.

The South interface carries Linux errno values (platforms/base.py). Error numbers are the
host's own elsewhere: macOS has ENOTEMPTY 66 where Linux has 39, Windows' C runtime has 41.
Every host call of this package runs inside `linux_errors()`, which re-raises an OSError
with the Linux number of the same errno name (EIO when Linux has no such name). Errors
this package raises itself are `LinuxErrno`s, already in Linux's numbering.
"""

from __future__ import annotations

import errno

from slimbox.abi.errno import Errno

#: host errno -> Linux errno, for the names both know (the identity on a Linux host)
_TO_LINUX = {number: getattr(Errno, name) for number, name in errno.errorcode.items() if hasattr(Errno, name)}


def linux_errno(host_errno: int | None, table: dict[int, int] = _TO_LINUX) -> int:
    """The Linux errno for a host errno; EIO for one Linux has no name for."""
    if host_errno is None:
        return Errno.EIO
    return table.get(host_errno, Errno.EIO)


class LinuxErrno(OSError):
    """An OSError whose errno is Linux's already."""


class linux_errors:  # noqa: N801 - used as `with linux_errors():`, like a function
    """Re-raise a host OSError with its Linux errno (unchanged when the numbers agree)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, traceback) -> bool:
        if not isinstance(exc, OSError) or isinstance(exc, LinuxErrno):
            return False
        number = linux_errno(exc.errno)
        if number == exc.errno:
            return False
        raise LinuxErrno(number, exc.strerror or "host error") from None

