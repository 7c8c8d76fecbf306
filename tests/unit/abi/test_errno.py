"""Checks of the errno table against the host's errno module and libc messages."""

from __future__ import annotations

import errno as host_errno
import os
import platform
import re
import sys
from pathlib import Path

import pytest

from slimbox.abi.errno import ERRNO_VALUES, Errno, RestartCode, errno_name, strerror

ERRNO_HEADERS = (
    Path("/usr/include/asm-generic/errno-base.h"),
    Path("/usr/include/asm-generic/errno.h"),
)


def test_values_match_host_errno_module() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("errno values are Linux-specific")
    common = [name for name in ERRNO_VALUES if hasattr(host_errno, name)]
    assert len(common) > 120
    wrong = {n: (ERRNO_VALUES[n], getattr(host_errno, n)) for n in common
             if ERRNO_VALUES[n] != getattr(host_errno, n)}
    assert wrong == {}


def test_values_match_kernel_headers() -> None:
    if not all(p.exists() for p in ERRNO_HEADERS):
        pytest.skip("kernel errno headers are not installed")
    text = "".join(p.read_text() for p in ERRNO_HEADERS)
    defined = {m[1]: int(m[2]) for m in re.finditer(r"#define\s+(E\w+)\s+(\d+)", text)}
    assert len(defined) >= 130
    assert {n: v for n, v in defined.items() if ERRNO_VALUES.get(n) != v} == {}


def test_covers_one_to_133() -> None:
    values = set(ERRNO_VALUES.values())
    # 41 and 58 were never assigned on Linux.
    assert values == set(range(1, 134)) - {41, 58}


def test_aliases() -> None:
    assert Errno.EWOULDBLOCK == Errno.EAGAIN
    assert Errno.EDEADLOCK == Errno.EDEADLK
    assert Errno.ENOTSUP == Errno.EOPNOTSUPP
    assert errno_name(11) == "EAGAIN" and errno_name(35) == "EDEADLK" and errno_name(95) == "EOPNOTSUPP"
    assert errno_name(2) == "ENOENT" and errno_name(41) is None and errno_name(512) is None


def test_restart_codes() -> None:
    assert RestartCode.ERESTARTSYS == 512
    assert RestartCode.ERESTARTNOINTR == 513
    assert RestartCode.ERESTARTNOHAND == 514
    assert RestartCode.ERESTART_RESTARTBLOCK == 516
    assert not {v for k, v in vars(RestartCode).items() if k.startswith("E")} & set(ERRNO_VALUES.values())


def test_strerror_matches_host_libc() -> None:
    if not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        pytest.skip("messages are glibc's")
    mismatched = {}
    for n in range(1, 134):
        host = os.strerror(n)
        if host.startswith("Unknown error"):
            continue
        if strerror(n) != host:
            mismatched[n] = (strerror(n), host)
    assert mismatched == {}


def test_strerror_known_messages() -> None:
    assert strerror(Errno.ENOENT) == "No such file or directory"
    assert strerror(Errno.EAGAIN) == "Resource temporarily unavailable"
    assert strerror(Errno.ENOSYS) == "Function not implemented"
    assert strerror(Errno.EHWPOISON) == "Memory page has hardware error"
    assert strerror(0) == "Success"


def test_strerror_unknown() -> None:
    assert strerror(41) == "Unknown error 41"
    assert strerror(58) == "Unknown error 58"
    assert strerror(512) == "Unknown error 512"
    assert strerror(9999) == "Unknown error 9999"
    assert strerror(-1) == "Unknown error -1"


def test_every_errno_has_a_message() -> None:
    for name, value in ERRNO_VALUES.items():
        assert not strerror(value).startswith("Unknown error"), name
