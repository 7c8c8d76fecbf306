"""shims/linux/common.py: reading argv/envp arrays from guest memory."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.errors import LinuxError  # noqa: E402
from slimbox.shims.linux.common import read_strv  # noqa: E402

PAGE = 4096


def counting_reads(g: FakeGuest, monkeypatch) -> list[int]:
    """Count the reads of guest memory the kernel makes from now on."""
    calls: list[int] = []
    read = g.task.mm.read

    def counted(addr: int, length: int) -> bytes:
        calls.append(length)
        return read(addr, length)

    monkeypatch.setattr(g.task.mm, "read", counted)
    return calls


def strv_at(g: FakeGuest, base: int, pointers: list[int]) -> int:
    g.set(base, struct.pack(f"<{len(pointers) + 1}Q", *pointers, 0))
    return base


def test_a_million_empty_strings_are_refused_without_reading_each(monkeypatch):
    g = FakeGuest()
    empty = g.put_string(b"")
    array = g.map(8 * (1 << 20) + PAGE)
    g.set(array, struct.pack("<Q", empty) * (1 << 20))
    reads = counting_reads(g, monkeypatch)
    with pytest.raises(LinuxError) as refused:
        read_strv(g.task, array)
    assert refused.value.errno == Errno.E2BIG
    assert len(reads) < 1000  # a read per page of pointers, none per string


def test_arrays_read_the_same_wherever_they_lie():
    g = FakeGuest()
    memory = g.map(4 * PAGE)
    strings = [b"a", b"", b"x" * 5000, b"last"]
    places = []
    at = memory + 2 * PAGE + 8
    for text in strings:  # the long one runs across a page boundary
        g.set(at, text + b"\0")
        places.append(at)
        at += len(text) + 1
    for base in (memory, memory + 3, memory + PAGE - 12, memory + PAGE - 8, memory + PAGE - 37):
        assert read_strv(g.task, strv_at(g, base, places)) == strings, hex(base - memory)


def test_a_string_at_the_very_end_of_memory_and_faults():
    g = FakeGuest()
    memory = g.map(PAGE)
    g.set(memory + PAGE - 3, b"ab\0")
    assert read_strv(g.task, strv_at(g, memory, [memory + PAGE - 3])) == [b"ab"]
    g.set(memory + PAGE - 2, b"ab")  # no NUL before the end of the mapping
    with pytest.raises(LinuxError) as fault:
        read_strv(g.task, strv_at(g, memory, [memory + PAGE - 2]))
    assert fault.value.errno == Errno.EFAULT
    g.set(memory + PAGE - 8, struct.pack("<Q", memory))  # no NULL pointer before the end
    with pytest.raises(LinuxError) as fault:
        read_strv(g.task, memory + PAGE - 8)
    assert fault.value.errno == Errno.EFAULT
