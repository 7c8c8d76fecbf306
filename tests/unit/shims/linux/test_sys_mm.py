"""shims/linux/sys_mm.py: the memory syscalls as a program makes them, with unaligned
and hostile arguments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import UNMAPPED, FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.mm import PAGE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE  # noqa: E402

RW = PROT_READ | PROT_WRITE
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x1, 0x2, 0x10, 0x20
ANON = MAP_PRIVATE | MAP_ANONYMOUS
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
MADV_DONTNEED = 4
NO_FD = 0xFFFFFFFF  # -1 as the 32-bit fd argument
O_RDONLY, O_WRONLY, O_RDWR, O_DIRECTORY = 0, 1, 2, 0o200000


@pytest.fixture
def g() -> FakeGuest:
    guest = FakeGuest()
    guest.write_file(b"/tmp/file", b"F" * PAGE + b"tail")
    return guest


def mmap(g: FakeGuest, length: int, prot: int = RW, flags: int = ANON, addr: int = 0, fd: int = NO_FD,
         offset: int = 0) -> int:
    return g.syscall("mmap", addr, length, prot, flags, fd, offset)


def test_anonymous_memory_is_zeroed_and_usable(g):
    addr = mmap(g, 3 * PAGE)
    assert addr > 0 and addr % PAGE == 0
    assert g.get(addr, 3 * PAGE) == bytes(3 * PAGE)
    assert g.syscall("read", 0, addr, 0) == 0
    g.stdin.feed(b"into the mapping")
    assert g.syscall("read", 0, addr + PAGE - 4, 16) == 16  # straddles two pages
    assert g.get(addr + PAGE - 4, 16) == b"into the mapping"


@pytest.mark.parametrize("length, prot, flags, addr, expected", [
    (0, RW, ANON, 0, Errno.EINVAL),
    (PAGE, RW, MAP_ANONYMOUS, 0, Errno.EINVAL),                      # neither shared nor private
    (PAGE, RW, ANON | MAP_FIXED, 0x5000_0001, Errno.EINVAL),         # unaligned fixed address
    (PAGE, RW, ANON | MAP_FIXED, 0x1000, Errno.EPERM),               # below mmap_min_addr
    (PAGE, RW, ANON | MAP_FIXED, 0x7FFF_FFFF_F000, Errno.ENOMEM),    # past the top of user space
    ((1 << 64) - PAGE, RW, ANON, 0, Errno.ENOMEM),
    (1 << 62, RW, ANON, 0, Errno.ENOMEM),
])
def test_bad_mmaps(g, length, prot, flags, addr, expected):
    assert mmap(g, length, prot, flags, addr) == -expected


def test_an_unaligned_offset_is_einval(g):
    assert mmap(g, PAGE, offset=1) == -Errno.EINVAL
    fd = g.syscall("open", b"/tmp/file", O_RDONLY, 0)
    assert mmap(g, PAGE, PROT_READ, MAP_PRIVATE, fd=fd, offset=100) == -Errno.EINVAL


def test_a_file_mapping_that_ends_past_the_largest_file_offset_is_eoverflow(g):
    # found by the syscall fuzzer: a "negative" offset was taken as such, and writing a
    # shared mapping back at exit then read gigabytes of guest memory into the supervisor
    fd = g.syscall("open", b"/tmp/file", O_RDWR, 0)
    for offset in (1 << 63, -PAGE & ((1 << 64) - 1), (1 << 63) - PAGE):
        assert mmap(g, PAGE, RW, MAP_SHARED, fd=fd, offset=offset) == -Errno.EOVERFLOW
    assert mmap(g, PAGE, RW, MAP_SHARED, fd=fd, offset=(1 << 63) - 2 * PAGE) > 0  # far past the end, as Linux allows
    assert mmap(g, PAGE, offset=1 << 63) > 0  # an anonymous mapping ignores its offset


def test_file_mappings(g):
    fd = g.syscall("open", b"/tmp/file", O_RDONLY, 0)
    addr = mmap(g, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd=fd)
    assert g.get(addr, 4) == b"FFFF" and g.get(addr + PAGE, 5) == b"tail\0"
    second = mmap(g, PAGE, PROT_READ, MAP_PRIVATE, fd=fd, offset=PAGE)
    assert g.get(second, 4) == b"tail"
    assert mmap(g, PAGE, PROT_READ, MAP_PRIVATE, fd=77) == -Errno.EBADF
    wo = g.syscall("open", b"/tmp/file", O_WRONLY, 0)
    assert mmap(g, PAGE, PROT_READ, MAP_PRIVATE, fd=wo) == -Errno.EACCES
    assert mmap(g, PAGE, RW, MAP_SHARED, fd=fd) == -Errno.EACCES  # shared writes need a writable fd
    directory = g.syscall("open", b"/tmp", O_DIRECTORY, 0)
    assert mmap(g, PAGE, PROT_READ, MAP_PRIVATE, fd=directory) == -Errno.ENODEV
    assert mmap(g, PAGE, PROT_READ, MAP_PRIVATE, fd=0) == -Errno.ENODEV  # a pipe cannot be mapped
    zero = g.syscall("open", b"/dev/zero", O_RDWR, 0)
    shared = mmap(g, PAGE, RW, MAP_SHARED, fd=zero)
    assert shared > 0 and g.get(shared, PAGE) == bytes(PAGE)


def test_munmap(g):
    addr = mmap(g, 3 * PAGE)
    assert g.syscall("munmap", addr + 1, PAGE) == -Errno.EINVAL
    assert g.syscall("munmap", addr, 0) == -Errno.EINVAL
    assert g.syscall("munmap", addr + PAGE, 1) == 0  # the length is rounded up
    assert g.syscall("write", 1, addr + PAGE, 1) == -Errno.EFAULT
    assert g.syscall("write", 1, addr, 1) == 1 and g.syscall("write", 1, addr + 2 * PAGE, 1) == 1
    assert g.syscall("munmap", addr, 3 * PAGE) == 0
    assert g.syscall("munmap", addr, 3 * PAGE) == 0  # nothing there any more: still fine
    assert g.syscall("munmap", 0x7FFF_FFFF_F000, 2 * PAGE) == -Errno.EINVAL


def test_mprotect(g):
    addr = mmap(g, 2 * PAGE)
    assert g.syscall("mprotect", addr, PAGE, PROT_READ) == 0
    g.stdin.feed(b"x")
    assert g.syscall("read", 0, addr, 1) == -Errno.EFAULT  # the kernel honours the protection
    assert g.syscall("read", 0, addr + PAGE, 1) == 1
    assert g.syscall("mprotect", addr, PAGE, PROT_NONE) == 0
    assert g.syscall("write", 1, addr, 1) == -Errno.EFAULT
    assert g.syscall("mprotect", addr, 3 * PAGE, RW) == -Errno.ENOMEM  # runs into unmapped memory
    assert g.syscall("mprotect", UNMAPPED, PAGE, RW) == -Errno.ENOMEM
    assert g.syscall("mprotect", addr + 8, PAGE, RW) == -Errno.EINVAL
    assert g.syscall("mprotect", addr, PAGE, 0x100) == -Errno.EINVAL
    assert g.syscall("mprotect", UNMAPPED, 0, RW) == 0
    assert g.syscall("mprotect", addr, 2 * PAGE, PROT_READ | PROT_EXEC) == 0
    assert g.task.mm.find(addr).prot == PROT_READ | PROT_EXEC


def test_mremap_keeps_contents_when_growing_shrinking_and_moving(g):
    addr = mmap(g, 2 * PAGE)
    g.set(addr, b"A" * PAGE + b"B" * PAGE)
    assert g.syscall("mremap", addr, 2 * PAGE, PAGE, 0, 0) == addr  # shrink in place
    assert g.get(addr, PAGE) == b"A" * PAGE
    assert g.syscall("write", 1, addr + PAGE, 1) == -Errno.EFAULT
    assert g.syscall("mremap", addr, PAGE, 2 * PAGE, 0, 0) == addr  # grow in place: free behind it
    assert g.get(addr + PAGE, PAGE) == bytes(PAGE)
    blocker = mmap(g, PAGE, PROT_READ, ANON | MAP_FIXED, addr=addr + 2 * PAGE)
    assert blocker == addr + 2 * PAGE
    assert g.syscall("mremap", addr, 2 * PAGE, 4 * PAGE, 0, 0) == -Errno.ENOMEM
    moved = g.syscall("mremap", addr, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE, 0)
    assert moved > 0 and moved != addr
    assert g.get(moved, PAGE) == b"A" * PAGE
    assert g.syscall("write", 1, addr, 1) == -Errno.EFAULT
    target = 0x6000_0000
    assert g.syscall("mremap", moved, 4 * PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target) == target
    assert g.get(target, PAGE) == b"A" * PAGE


def test_bad_mremaps(g):
    addr = mmap(g, 2 * PAGE)
    assert g.syscall("mremap", addr + 1, PAGE, PAGE, 0, 0) == -Errno.EINVAL
    assert g.syscall("mremap", addr, PAGE, 0, MREMAP_MAYMOVE, 0) == -Errno.EINVAL
    assert g.syscall("mremap", addr, PAGE, PAGE, MREMAP_FIXED, 0x6000_0000) == -Errno.EINVAL
    assert g.syscall("mremap", addr, PAGE, PAGE, 0x10, 0) == -Errno.EINVAL
    assert g.syscall("mremap", UNMAPPED, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0) == -Errno.EFAULT
    assert g.syscall("mremap", addr, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE, 0) == -Errno.EFAULT


def test_brk(g):
    mm = g.task.mm
    mm.set_brk_start(0x5555_5555_8000)  # where exec would have put it
    start = g.syscall("brk", 0)
    assert start == 0x5555_5555_8000
    assert g.syscall("brk", start + 100) == start + 100
    g.set(start, b"heap")
    assert g.syscall("brk", start + 5 * PAGE) == start + 5 * PAGE
    assert g.get(start, 4) == b"heap"
    assert g.syscall("write", 1, start + 5 * PAGE - 1, 1) == 1
    assert g.syscall("brk", start + PAGE) == start + PAGE  # shrink: the pages go
    assert g.syscall("write", 1, start + 2 * PAGE, 1) == -Errno.EFAULT
    assert g.syscall("brk", start - PAGE) == start + PAGE  # below the start: refused, old break returned
    assert g.syscall("brk", (1 << 64) - 1) == start + PAGE  # absurd: refused the same way
    assert g.syscall("brk", 0) == start + PAGE


def test_madvise_msync_mincore(g):
    addr = mmap(g, 2 * PAGE)
    g.set(addr, b"dirty")
    assert g.syscall("madvise", addr, 2 * PAGE, MADV_DONTNEED) == 0
    assert g.get(addr, 5) == bytes(5)
    assert g.syscall("madvise", addr, 3 * PAGE, MADV_DONTNEED) == -Errno.ENOMEM
    assert g.syscall("madvise", addr + 1, PAGE, MADV_DONTNEED) == -Errno.EINVAL
    assert g.syscall("madvise", addr, PAGE, 999) == -Errno.EINVAL
    assert g.syscall("msync", addr, 2 * PAGE, 4) == 0
    assert g.syscall("msync", addr, 2 * PAGE, 1 | 4) == -Errno.EINVAL  # MS_ASYNC and MS_SYNC together
    assert g.syscall("msync", UNMAPPED, PAGE, 4) == -Errno.ENOMEM
    vec = g.alloc(2)
    assert g.syscall("mincore", addr, 2 * PAGE, vec) == 0 and g.get(vec, 2) == b"\x01\x01"
    assert g.syscall("mincore", UNMAPPED, PAGE, vec) == -Errno.ENOMEM
    assert g.syscall("mincore", addr + 1, PAGE, vec) == -Errno.EINVAL
    assert g.syscall("mincore", addr, PAGE, UNMAPPED) == -Errno.EFAULT


def test_mlock_family(g):
    addr = mmap(g, PAGE)
    assert g.syscall("mlock", addr, PAGE) == 0 and g.syscall("munlock", addr, PAGE) == 0
    assert g.syscall("mlock2", addr, PAGE, 2) == -Errno.EINVAL
    assert g.syscall("mlockall", 0) == -Errno.EINVAL
    assert g.syscall("mlockall", 1) == 0 and g.syscall("munlockall") == 0


def test_mlock_of_unmapped_memory_is_enomem(g):
    assert g.syscall("mlock", UNMAPPED, PAGE) == -Errno.ENOMEM
    assert g.syscall("munlock", UNMAPPED, PAGE) == -Errno.ENOMEM
