"""shims/linux/strace.py: strace-style lines for strings, flags, pointers, results and
errors, from the ABI prototypes, as a traced guest produces them."""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import BLOCKED, GONE, UNMAPPED, FakeGuest  # noqa: E402
from slimbox.abi.syscalls import BY_NAME  # noqa: E402
from slimbox.shims.linux.strace import _quote, format_argument, format_result  # noqa: E402

AT_FDCWD = -100


@pytest.fixture
def traced():
    out = io.StringIO()
    guest = FakeGuest(strace=out)
    return guest, out


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_a_successful_call(traced):
    g, out = traced
    fd = g.syscall("openat", AT_FDCWD, b"/tmp/x", 0o1 | 0o100 | 0o2000000, 0o644)
    assert lines(out) == [f'[pid {g.task.tid:>5}] openat(AT_FDCWD, "/tmp/x", O_WRONLY|O_CREAT|O_CLOEXEC, 0o644) = {fd}']


def test_errors_are_shown_by_name(traced):
    g, out = traced
    g.syscall("openat", AT_FDCWD, b"/nowhere", 0, 0)
    g.syscall("close", -1 & 0xFFFFFFFF)
    assert lines(out)[0].endswith('openat(AT_FDCWD, "/nowhere", O_RDONLY, 0o0) = -1 ENOENT')
    assert lines(out)[1].endswith("close(-1) = -1 EBADF")


def test_strings_are_escaped_and_cut(traced):
    g, out = traced
    g.syscall("write", 1, b'a"b\\\n\t\x01\xff', 8)
    g.syscall("write", 1, b"x" * 40, 40)
    first, second = lines(out)
    assert first.endswith(r'write(1, "a\"b\\\n\t\x01\xff", 8) = 8')
    assert second.endswith('write(1, "' + "x" * 32 + '"..., 40) = 40')


def test_bad_and_null_pointers_do_not_break_the_trace(traced):
    g, out = traced
    assert g.syscall("openat", AT_FDCWD, UNMAPPED, 0, 0) == -14
    assert g.syscall("openat", AT_FDCWD, 0, 0, 0) == -14
    assert g.syscall("write", 1, UNMAPPED, 4) == -14
    assert lines(out)[0].endswith(f"openat(AT_FDCWD, {UNMAPPED:#x}, O_RDONLY, 0o0) = -1 EFAULT")
    assert lines(out)[1].endswith("openat(AT_FDCWD, NULL, O_RDONLY, 0o0) = -1 EFAULT")
    assert lines(out)[2].endswith(f"write(1, {UNMAPPED:#x}, 4) = -1 EFAULT")


def test_addresses_flags_and_enums(traced):
    g, out = traced
    addr = g.syscall("mmap", 0, 4096, 3, 0x22, -1 & 0xFFFFFFFF, 0)
    g.syscall("lseek", 0, 0, 2)
    assert lines(out)[0].endswith(
        f"mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = {addr:#x}")
    assert "lseek(0, 0, SEEK_END) = -1 ESPIPE" in lines(out)[1]


def test_a_blocking_call_is_traced_once_with_its_final_result(traced):
    g, out = traced
    request = g.put(struct.pack("<qq", 0, 1000), 8)
    assert g.syscall("nanosleep", request, 0) is BLOCKED
    assert lines(out) == []
    assert g.complete() == 0
    assert lines(out) == [f"[pid {g.task.tid:>5}] nanosleep({request:#x}, NULL) = 0"]


def test_unsupported_and_exiting_calls(traced):
    g, out = traced
    g.syscall("io_uring_setup", 4, 0)
    assert g.syscall("exit_group", 3) is GONE
    assert lines(out)[0].endswith("io_uring_setup(4, NULL) = -1 ENOSYS")
    assert lines(out)[1].endswith("exit_group(3) = ?")


def test_string_vectors(traced):
    g, _ = traced
    argv = g.put_strv([b"prog", b"-c", b"x y"])
    assert format_argument(g.task, "strv", argv, None) == '["prog", "-c", "x y"]'
    many = g.put_strv([b"%d" % i for i in range(12)])
    assert format_argument(g.task, "strv", many, None) == "[" + ", ".join(f'"{i}"' for i in range(8)) + ", ...]"
    assert format_argument(g.task, "strv", 0, None) == "NULL"
    assert format_argument(g.task, "strv", UNMAPPED, None) == f"{UNMAPPED:#x}"


def test_quote_and_results():
    assert _quote(b"") == '""'
    assert _quote(b"\x00\x7f ~") == r'"\x00\x7f ~"'
    assert _quote(b"abcdef", limit=3) == '"abc"...'
    spec = BY_NAME["read"]
    assert format_result(spec, 0) == "0"
    assert format_result(spec, -2) == "-1 ENOENT"
    assert format_result(spec, -4000) == "-1 4000"  # no name for it
    assert format_result(spec, -5000) == "-5000"  # not an error: outside -4095..-1
    assert format_result(BY_NAME["mmap"], 0x7F0000000000) == "0x7f0000000000"
