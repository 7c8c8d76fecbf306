"""Checks of the Linux constants against the host's Python modules and uapi headers."""

from __future__ import annotations

import fcntl
import mmap
import os
import re
import resource
import select
import signal
import socket
import stat
import sys
import termios
import time
from enum import Enum, IntEnum, IntFlag
from pathlib import Path
from types import MappingProxyType, ModuleType

import pytest

from slimbox.abi import flags as F
from slimbox.abi import syscalls

MASK64 = (1 << 64) - 1

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and os.uname().machine == "x86_64"),
    reason="compares against an x86-64 Linux host",
)

# Names whose host (libc) value differs from the kernel's on purpose.
LIBC_DIFFERS = frozenset({
    "O_LARGEFILE",  # glibc defines it as 0 on 64-bit targets
    "SIGRTMIN",  # glibc reserves the first real-time signals for itself
    "SIGRTMAX",
    "NSIG",
})


def _exported() -> dict[str, int]:
    """Every constant the module offers: enum/flag members and plain upper-case ints."""
    out: dict[str, int] = {}
    for key, value in vars(F).items():
        if key.startswith("_"):
            continue
        if isinstance(value, type) and issubclass(value, Enum) and value.__module__ == F.__name__:
            for name, member in value.__members__.items():
                out.setdefault(name, int(member))
        elif isinstance(value, int) and not isinstance(value, bool) and key.isupper():
            out.setdefault(key, value)
    return out


EXPORTED = _exported()


def _mismatches(module: ModuleType) -> tuple[int, dict[str, tuple[int, int]]]:
    compared = 0
    wrong = {}
    for name, ours in EXPORTED.items():
        if name in LIBC_DIFFERS:
            continue
        host = getattr(module, name, None)
        if not isinstance(host, int) or isinstance(host, bool):
            continue
        compared += 1
        if ours & MASK64 != int(host) & MASK64:
            wrong[name] = (ours, int(host))
    return compared, wrong


@pytest.mark.parametrize(
    ("module", "at_least"),
    [
        (os, 50), (signal, 30), (fcntl, 30), (termios, 30), (mmap, 15),
        (socket, 40), (select, 20), (stat, 15), (resource, 15), (time, 5),
    ],
    ids=lambda m: getattr(m, "__name__", str(m)),
)
def test_values_match_host_module(module: ModuleType, at_least: int) -> None:
    compared, wrong = _mismatches(module)
    assert wrong == {}
    assert compared >= at_least


UAPI_HEADERS = [
    "asm-generic/fcntl.h", "linux/fcntl.h", "linux/stat.h", "asm-generic/mman-common.h",
    "asm-generic/mman.h", "x86_64-linux-gnu/asm/mman.h", "linux/mman.h", "linux/sched.h",
    "linux/wait.h", "asm-generic/resource.h", "linux/resource.h", "linux/prctl.h",
    "x86_64-linux-gnu/asm/prctl.h", "linux/futex.h", "x86_64-linux-gnu/asm/signal.h",
    "asm-generic/signal-defs.h", "linux/time.h", "linux/timerfd.h", "linux/memfd.h",
    "linux/falloc.h", "linux/fs.h", "linux/xattr.h", "linux/inotify.h",
    "asm-generic/ioctls.h", "asm-generic/sockios.h", "asm-generic/poll.h",
    "linux/eventpoll.h", "linux/random.h", "linux/mount.h", "linux/close_range.h",
    "linux/limits.h",
]
_RENAMED = {"__WALL": "WALL", "__WCLONE": "WCLONE", "__WNOTHREAD": "WNOTHREAD"}
_DEFINE = re.compile(
    r"^\s*#\s*define\s+(\w+)\s+\(?\s*(?:\(\s*__(?:force\s+)?\w+\s*\))?\s*"
    r"(0x[0-9A-Fa-f]+|0[0-7]*|[1-9][0-9]*)[UL]*\s*(?:<<\s*(\d+)\s*)?\)?\s*(?:/\*.*)?$",
    re.M,
)


def _header_values() -> dict[str, int]:
    root = Path("/usr/include")
    values: dict[str, int] = {}
    clashing: set[str] = set()
    for rel in UAPI_HEADERS:
        path = root / rel
        if not path.exists():
            continue
        for m in _DEFINE.finditer(path.read_text()):
            name = _RENAMED.get(m[1], m[1])
            literal = m[2]
            octal = literal.startswith("0") and not literal.startswith("0x")
            value = int(literal, 8) if octal else int(literal, 0)
            if m[3]:
                value <<= int(m[3])
            if values.get(name, value) != value:
                clashing.add(name)
            values[name] = value
    for name in clashing:
        del values[name]
    return values


def test_values_match_uapi_headers() -> None:
    values = _header_values()
    if not values:
        pytest.skip("Linux uapi headers are not installed")
    compared = {n: v for n, v in values.items() if n in EXPORTED}
    assert len(compared) > 400
    wrong = {n: (EXPORTED[n], v) for n, v in compared.items() if EXPORTED[n] & MASK64 != v & MASK64}
    assert wrong == {}


def test_set_registries() -> None:
    assert isinstance(F.FLAG_SETS, MappingProxyType)
    assert isinstance(F.ENUM_SETS, MappingProxyType)
    assert all(issubclass(c, IntFlag) for c in F.FLAG_SETS.values())
    assert all(issubclass(c, IntEnum) for c in F.ENUM_SETS.values())
    assert not set(F.FLAG_SETS) & set(F.ENUM_SETS)
    for name in ("open", "at", "prot", "mmap", "mremap", "clone", "rename", "statx_mask",
                 "sigaction", "getrandom", "wait", "msync", "socket_type", "epoll", "poll"):
        assert name in F.FLAG_SETS, name
    for name in ("clockid", "whence", "fcntl", "signal", "sigprocmask_how", "rlimit",
                 "prctl", "arch_prctl", "futex", "madvise", "ioctl", "family", "idtype"):
        assert name in F.ENUM_SETS, name


def test_every_set_used_by_syscalls_exists() -> None:
    used = {p.type for s in syscalls.SYSCALLS for p in s.params if ":" in p.type}
    for t in used:
        kind, _, name = t.partition(":")
        assert name in (F.FLAG_SETS if kind == "flags" else F.ENUM_SETS), t


def test_open_flags() -> None:
    assert (F.O_RDONLY, F.O_WRONLY, F.O_RDWR, F.O_ACCMODE) == (0, 1, 2, 3)
    assert not any(int(m) & F.O_ACCMODE for m in F.OpenFlag)
    assert F.OpenFlag.O_LARGEFILE == 0o100000
    assert F.OpenFlag.O_SYNC & F.OpenFlag.O_DSYNC == F.OpenFlag.O_DSYNC
    assert F.OpenFlag.O_TMPFILE & F.OpenFlag.O_DIRECTORY == F.OpenFlag.O_DIRECTORY
    assert F.AT_FDCWD == -100
    assert F.FD_CLOEXEC == 1


def test_misc_constants() -> None:
    assert F.PAGE_SIZE == 4096 and F.PATH_MAX == 4096 and F.NAME_MAX == 255
    assert F.PIPE_BUF == 4096 and F.UTSNAME_LENGTH == 65
    assert F.RLIM_INFINITY == MASK64
    assert (F.SIGRTMIN, F.SIGRTMAX) == (32, 64)
    assert [int(s) for s in F.Signal] == list(range(1, 32))
    assert F.CloneFlag.CSIGNAL == F.CSIGNAL == 0xFF
    assert F.WaitOption.WALL == 0x40000000 and F.WaitOption.WCLONE == 0x80000000
    assert F.ArchPrctl.ARCH_SET_GS == 0x1001 and F.ArchPrctl.ARCH_SET_FS == 0x1002
    assert F.FutexOp.FUTEX_WAIT_BITSET_PRIVATE == F.FutexOp.FUTEX_WAIT_BITSET | F.FUTEX_PRIVATE_FLAG
    assert F.FUTEX_CLOCK_REALTIME == 256
    assert F.Ioctl.TIOCGPTN == 0x80045430 and F.Ioctl.TCGETS == 0x5401


def test_file_types_agree_with_stat_module() -> None:
    for ft in F.FileType:
        assert stat.S_IFMT(ft) == ft
    assert stat.S_ISDIR(F.FileType.S_IFDIR) and stat.S_ISLNK(F.FileType.S_IFLNK)


def test_describe_flags() -> None:
    assert F.describe_flags(0, F.OpenFlag) == "0"
    assert F.describe_flags(0o1100 | 0x40000000, F.OpenFlag) == "O_CREAT|O_TRUNC|0x40000000"
    assert F.describe_flags(F.Prot.PROT_READ | F.Prot.PROT_WRITE, F.Prot) == "PROT_READ|PROT_WRITE"
    assert F.describe_flags(0x22, F.MapFlag) == "MAP_PRIVATE|MAP_ANONYMOUS"
    assert F.describe_flags(0x3, F.MapFlag) == "MAP_SHARED_VALIDATE"
    assert F.describe_flags(0x4, F.MapFlag) == "0x4"
    assert (F.describe_flags(0o2004001, F.SocketType)
            == "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC")
    assert F.describe_flags(3, F.SocketType) == "SOCK_RAW"
    assert F.describe_flags(0xFFF, F.StatxMask) == "STATX_BASIC_STATS|STATX_BTIME"
    assert F.describe_flags(F.WaitOption.WUNTRACED, F.WaitOption) == "WUNTRACED"
    assert F.describe_flags(-1 & 0x3, F.RenameFlag) == "RENAME_NOREPLACE|RENAME_EXCHANGE"


def test_describe_open_flags() -> None:
    assert F.describe_open_flags(0) == "O_RDONLY"
    assert F.describe_open_flags(0o1101) == "O_WRONLY|O_CREAT|O_TRUNC"
    assert F.describe_open_flags(0o2 | 0o4010000) == "O_RDWR|O_SYNC"
    assert F.describe_open_flags(0o2000000 | 0o200000) == "O_RDONLY|O_DIRECTORY|O_CLOEXEC"
    assert F.describe_open_flags(0o20200002) == "O_RDWR|O_TMPFILE"
    assert F.describe_open_flags(0o10000000 | 0o2000000) == "O_RDONLY|O_CLOEXEC|O_PATH"


def test_describe_clone_and_signals() -> None:
    value = 0x01200000 | 17
    assert F.describe_clone_flags(value) == "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
    assert F.describe_clone_flags(0x100 | 0x200) == "CLONE_VM|CLONE_FS"
    assert F.signal_name(9) == "SIGKILL"
    assert F.signal_name(32) == "SIGRTMIN"
    assert F.signal_name(35) == "SIGRT_3"
    assert F.signal_name(65) == "65"


def test_describe_value() -> None:
    assert F.describe_value("flags:open", 0o101) == "O_WRONLY|O_CREAT"
    assert F.describe_value("flags:clone", 17) == "SIGCHLD"
    assert F.describe_value("enum:whence", 2) == "SEEK_END"
    assert F.describe_value("enum:whence", 77) == "77"
    assert F.describe_value("enum:arch_prctl", 0x1002) == "ARCH_SET_FS"
    assert F.describe_value("enum:rusage", MASK64) == "RUSAGE_CHILDREN"
    assert F.describe_value("enum:signal", 17) == "SIGCHLD"
    assert F.describe_value("enum:futex", 0x89) == "FUTEX_WAIT_BITSET_PRIVATE"
    assert F.describe_value("fd", 3) is None


def test_every_referenced_set_renders() -> None:
    for spec in syscalls.SYSCALLS:
        for p in spec.params:
            if ":" in p.type:
                assert isinstance(F.describe_value(p.type, 1), str), (spec.name, p)
