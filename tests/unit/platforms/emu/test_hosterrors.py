"""platforms/emu/hosterrors.py: host errno values in Linux's numbering."""

from __future__ import annotations

import errno

import pytest

from slimbox.abi.errno import Errno
from slimbox.platforms.emu.hosterrors import LinuxErrno, linux_errno, linux_errors

#: errno values of macOS (sys/errno.h) where they differ from Linux's
MACOS = {35: "EAGAIN", 66: "ENOTEMPTY", 62: "ELOOP", 63: "ENAMETOOLONG", 45: "ENOTSUP", 102: "EOPNOTSUPP",
         2: "ENOENT", 106: "ELAST"}


def test_numbers_are_translated_by_name():
    table = {number: getattr(Errno, name) for number, name in MACOS.items() if hasattr(Errno, name)}
    assert linux_errno(35, table) == Errno.EAGAIN == 11
    assert linux_errno(66, table) == Errno.ENOTEMPTY == 39
    assert linux_errno(62, table) == Errno.ELOOP == 40
    assert linux_errno(45, table) == linux_errno(102, table) == Errno.EOPNOTSUPP
    assert linux_errno(2, table) == Errno.ENOENT
    assert linux_errno(106, table) == Errno.EIO  # a name Linux has not
    assert linux_errno(None, table) == Errno.EIO


def test_this_hosts_own_errors_are_translated():
    for number, name in errno.errorcode.items():
        if hasattr(Errno, name):
            assert linux_errno(number) == getattr(Errno, name)


def test_the_context_turns_host_errors_into_linux_ones(monkeypatch):
    from slimbox.platforms.emu import hosterrors

    monkeypatch.setattr(hosterrors.linux_errno, "__defaults__", ({66: Errno.ENOTEMPTY},))
    with pytest.raises(LinuxErrno) as info:
        with linux_errors():
            raise OSError(66, "Directory not empty")
    assert info.value.errno == Errno.ENOTEMPTY


def test_errors_already_in_linux_numbering_and_others_pass_unchanged():
    with pytest.raises(LinuxErrno) as info:
        with linux_errors():
            raise LinuxErrno(Errno.ELOOP, "loop")
    assert info.value.errno == Errno.ELOOP
    with pytest.raises(FileNotFoundError):
        with linux_errors():
            open("/nonexistent/file")
    with pytest.raises(ValueError):
        with linux_errors():
            raise ValueError("not an OSError")
