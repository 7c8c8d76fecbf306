"""kernel/mm.py: VMAs, mmap/munmap/mprotect/mremap, brk, madvise and checked access,
over the fake address space (which records what the platform was asked to do)."""

from __future__ import annotations

import itertools

import pytest

from slimbox.abi.errno import Errno
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_RDONLY, O_RDWR, O_WRONLY
from slimbox.kernel.fs.memfs import MemFs
from slimbox.kernel.mm import (
    MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED,
    MAP_SHARED_VALIDATE, MMAP_MIN_ADDR, MREMAP_FIXED, MREMAP_MAYMOVE, PAGE, PROT_EXEC, PROT_GROWSDOWN,
    PROT_GROWSUP, PROT_NONE, PROT_READ, PROT_WRITE, TASK_SIZE, Layout, MemoryManager,
)
from slimbox.platforms.fake import FakeAddressSpace

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


def errno_of(action, *args, **kwargs) -> int | None:
    try:
        action(*args, **kwargs)
    except LinuxError as exc:
        return exc.errno
    return None


@pytest.fixture
def mm() -> MemoryManager:
    return MemoryManager(FakeAddressSpace(), Layout(mmap_base=0x7F00_0000_0000))


def memfile(data: bytes):
    """An inode of a tmpfs file holding `data`, and a way to open it."""
    clock = itertools.count(1)
    fs = MemFs(1, lambda: next(clock))
    inode = fs.root.create(b"f", 0o644, Credentials.of(0, 0))
    inode.write_at(0, data)
    return inode


# --- mmap ----------------------------------------------------------------------------------


def test_anonymous_mappings_are_zeroed_page_aligned_and_placed_top_down(mm):
    a = mm.mmap(0, 3 * PAGE + 1, RW, ANON)
    b = mm.mmap(0, PAGE, RW, ANON)
    assert a % PAGE == 0 and b % PAGE == 0
    assert a + 4 * PAGE <= 0x7F00_0000_0000  # the length was rounded up to 4 pages
    assert b + PAGE == a  # top-down, right below the previous one, as Linux places them
    assert mm.read(a, 4 * PAGE) == bytes(4 * PAGE)
    assert mm.aspace.mappings() == [(b, a + 4 * PAGE, RW, False)]
    assert [(v.start, v.end) for v in mm.vmas()] == [(b, b + PAGE), (a, a + 4 * PAGE)]


def test_a_free_hint_is_honoured_and_a_taken_one_is_not(mm):
    hint = 0x5000_0000
    assert mm.mmap(hint, PAGE, RW, ANON) == hint
    other = mm.mmap(hint, PAGE, RW, ANON)
    assert other != hint and mm.find(other) is not None


@pytest.mark.parametrize("length, prot, flags, expected", [
    (0, RW, ANON, Errno.EINVAL),                              # empty
    (PAGE, RW, MAP_ANONYMOUS, Errno.EINVAL),                  # neither private nor shared
    (PAGE, RW, 0xF | MAP_ANONYMOUS, Errno.EINVAL),            # an unknown mapping type
    (PAGE, 0x40, ANON, Errno.EINVAL),                         # an unknown protection bit
    (1 << 62, RW, ANON, Errno.ENOMEM),                        # more than the address space
    (PAGE, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | 0x400, Errno.EOPNOTSUPP),  # unknown flag, validated
])
def test_bad_mmap_arguments(mm, length, prot, flags, expected):
    assert errno_of(mm.mmap, 0, length, prot, flags) == expected
    assert mm.vmas() == [] and mm.aspace.mappings() == []


def test_map_fixed_needs_an_aligned_address_inside_user_space(mm):
    assert errno_of(mm.mmap, 0x5000_0001, PAGE, RW, ANON | MAP_FIXED) == Errno.EINVAL
    assert errno_of(mm.mmap, TASK_SIZE - PAGE, 2 * PAGE, RW, ANON | MAP_FIXED) == Errno.ENOMEM
    assert errno_of(mm.mmap, MMAP_MIN_ADDR - PAGE, PAGE, RW, ANON | MAP_FIXED) == Errno.EPERM


def test_map_fixed_replaces_what_was_there(mm):
    base = mm.mmap(0x5000_0000, 3 * PAGE, RW, ANON | MAP_FIXED)
    mm.write(base, b"x" * 3 * PAGE)
    assert mm.mmap(base + PAGE, PAGE, PROT_READ, ANON | MAP_FIXED) == base + PAGE
    assert mm.read(base + PAGE, PAGE) == bytes(PAGE)  # fresh zero page
    assert mm.read(base, 1) == b"x" and mm.read(base + 2 * PAGE, 1) == b"x"
    assert [(v.start - base, v.end - base, v.prot) for v in mm.vmas()] == [
        (0, PAGE, RW), (PAGE, 2 * PAGE, PROT_READ), (2 * PAGE, 3 * PAGE, RW)]


def test_map_fixed_noreplace_refuses_to_clobber(mm):
    base = mm.mmap(0x5000_0000, 2 * PAGE, RW, ANON | MAP_FIXED)
    mm.write(base, b"keep")
    assert errno_of(mm.mmap, base + PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE) == Errno.EEXIST
    assert mm.read(base, 4) == b"keep"
    assert mm.mmap(base + 2 * PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE) == base + 2 * PAGE


def test_reserved_platform_ranges_are_never_handed_out():
    reserved = (0x7EFF_FFFF_0000, 0x7F00_0000_0000)
    mm = MemoryManager(FakeAddressSpace([reserved]), Layout(mmap_base=0x7F00_0000_0000))
    got = mm.mmap(0, 4 * PAGE, RW, ANON)
    assert got + 4 * PAGE <= reserved[0]
    assert errno_of(mm.mmap, reserved[0], PAGE, RW, ANON | MAP_FIXED) == Errno.EPERM


def test_file_mapping_is_a_private_copy_zero_filled_past_the_end(mm):
    inode = memfile(b"hello, mapping")
    file = inode.open(O_RDONLY)
    addr = mm.mmap(0, 2 * PAGE, RW, MAP_PRIVATE, file, 0)
    assert mm.read(addr, 14) == b"hello, mapping"
    assert mm.read(addr + 14, 2 * PAGE - 14) == bytes(2 * PAGE - 14)
    mm.write(addr, b"HELLO")
    assert inode.read_at(0, 5) == b"hello"  # MAP_PRIVATE never writes back
    assert mm.find(addr).inode is inode


def test_file_mapping_checks_the_open_mode(mm):
    inode = memfile(b"data")
    assert errno_of(mm.mmap, 0, PAGE, PROT_READ, MAP_PRIVATE, inode.open(O_WRONLY), 0) == Errno.EACCES
    shared_write = (0, PAGE, RW, MAP_SHARED, inode.open(O_RDONLY), 0)
    assert errno_of(mm.mmap, *shared_write) == Errno.EACCES  # PROT_WRITE shared needs a writable fd
    assert errno_of(mm.mmap, 0, PAGE, PROT_READ, MAP_PRIVATE, inode.open(O_RDONLY), 123) == Errno.EINVAL
    assert mm.mmap(0, PAGE, RW, MAP_PRIVATE, inode.open(O_RDONLY), 0)  # private: writable copy is fine
    assert mm.mmap(0, PAGE, PROT_READ, MAP_SHARED, inode.open(O_RDWR), 0)


# --- munmap ----------------------------------------------------------------------------------


def test_munmap_in_the_middle_splits_the_mapping(mm):
    base = mm.mmap(0x5000_0000, 3 * PAGE, RW, ANON | MAP_FIXED)
    mm.write(base, b"a" * PAGE + b"b" * PAGE + b"c" * PAGE)
    mm.munmap(base + PAGE, PAGE)
    assert [(v.start - base, v.end - base) for v in mm.vmas()] == [(0, PAGE), (2 * PAGE, 3 * PAGE)]
    assert errno_of(mm.read, base + PAGE, 1) == Errno.EFAULT
    assert mm.read(base + 2 * PAGE, 1) == b"c"
    assert not mm.aspace.is_mapped(base + PAGE)


def test_munmap_rounds_the_length_up_and_ignores_holes(mm):
    base = mm.mmap(0x5000_0000, 2 * PAGE, RW, ANON | MAP_FIXED)
    mm.munmap(base, 1)  # one byte unmaps the whole page
    assert mm.find(base) is None and mm.find(base + PAGE) is not None
    mm.munmap(0x6000_0000, 16 * PAGE)  # nothing there: not an error
    assert len(mm.vmas()) == 1


@pytest.mark.parametrize("addr, length", [(0x5000_0001, PAGE), (0x5000_0000, 0), (TASK_SIZE - PAGE, 2 * PAGE),
                                          (0x5000_0000, (1 << 64) - PAGE)])
def test_bad_munmap_is_einval(mm, addr, length):
    mm.mmap(0x5000_0000, PAGE, RW, ANON | MAP_FIXED)
    assert errno_of(mm.munmap, addr, length) == Errno.EINVAL
    assert mm.find(0x5000_0000) is not None


# --- mprotect -----------------------------------------------------------------------------------


def test_mprotect_splits_and_applies_the_protection(mm):
    base = mm.mmap(0x5000_0000, 3 * PAGE, RW, ANON | MAP_FIXED)
    mm.mprotect(base + PAGE, PAGE, PROT_READ)
    assert [v.prot for v in mm.vmas()] == [RW, PROT_READ, RW]
    assert mm.aspace.prot_at(base + PAGE) == PROT_READ
    assert errno_of(mm.write, base + PAGE, b"x") == Errno.EFAULT
    mm.write(base, b"ok")
    mm.mprotect(base, 3 * PAGE, PROT_NONE)
    assert errno_of(mm.read, base, 1) == Errno.EFAULT


def test_mprotect_of_anything_unmapped_is_enomem(mm):
    base = mm.mmap(0x5000_0000, 2 * PAGE, RW, ANON | MAP_FIXED)
    assert errno_of(mm.mprotect, 0x6000_0000, PAGE, PROT_READ) == Errno.ENOMEM
    assert errno_of(mm.mprotect, base, 3 * PAGE, PROT_READ) == Errno.ENOMEM  # runs past the end
    assert [v.prot for v in mm.vmas()] == [RW]  # nothing changed on failure
    assert errno_of(mm.mprotect, base + 1, PAGE, PROT_READ) == Errno.EINVAL
    assert errno_of(mm.mprotect, base, PAGE, 0x40) == Errno.EINVAL
    assert errno_of(mm.mprotect, base, (1 << 64) - PAGE, PROT_READ) == Errno.ENOMEM  # wraps around
    mm.mprotect(0x6000_0000, 0, PROT_READ)  # an empty range is fine anywhere


# --- mremap ---------------------------------------------------------------------------------------


def test_mremap_shrink_keeps_the_head(mm):
    base = mm.mmap(0x5000_0000, 4 * PAGE, RW, ANON | MAP_FIXED)
    mm.write(base, b"head")
    assert mm.mremap(base, 4 * PAGE, PAGE, 0) == base
    assert mm.read(base, 4) == b"head"
    assert mm.find(base + PAGE) is None and not mm.aspace.is_mapped(base + PAGE)


def test_mremap_grows_in_place_when_the_next_pages_are_free(mm):
    base = mm.mmap(0x5000_0000, PAGE, RW, ANON | MAP_FIXED)
    mm.write(base, b"data")
    assert mm.mremap(base, PAGE, 3 * PAGE, 0) == base
    assert mm.read(base, 4) == b"data"
    assert mm.read(base + PAGE, 2 * PAGE) == bytes(2 * PAGE)
    assert [(v.start, v.end) for v in mm.vmas()] == [(base, base + 3 * PAGE)]


def test_mremap_grow_blocked_needs_maymove(mm):
    base = mm.mmap(0x5000_0000, 2 * PAGE, RW, ANON | MAP_FIXED)
    mm.mmap(base + 2 * PAGE, PAGE, PROT_READ, ANON | MAP_FIXED)
    mm.write(base, b"A" * PAGE + b"B" * PAGE)
    assert errno_of(mm.mremap, base, 2 * PAGE, 4 * PAGE, 0) == Errno.ENOMEM
    moved = mm.mremap(base, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE)
    assert moved != base
    assert mm.read(moved, 2 * PAGE) == b"A" * PAGE + b"B" * PAGE
    assert mm.read(moved + 2 * PAGE, 2 * PAGE) == bytes(2 * PAGE)
    assert mm.find(base) is None and errno_of(mm.read, base, 1) == Errno.EFAULT
    assert mm.find(base + 2 * PAGE).prot == PROT_READ  # the neighbour is untouched


def test_mremap_fixed_moves_to_exactly_there_replacing_it(mm):
    base = mm.mmap(0x5000_0000, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, ANON | MAP_FIXED)
    target = mm.mmap(0x6000_0000, 8 * PAGE, RW, ANON | MAP_FIXED)
    mm.write(target + 4 * PAGE, b"old")
    mm.write(base, b"moving")
    assert mm.mremap(base, 2 * PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target + 4 * PAGE) == target + 4 * PAGE
    assert mm.read(target + 4 * PAGE, 6) == b"moving"
    assert mm.find(target + 4 * PAGE).prot == PROT_READ | PROT_WRITE | PROT_EXEC
    assert mm.find(target + 3 * PAGE).prot == RW and mm.find(target + 5 * PAGE).prot == RW
    assert mm.find(base) is None


@pytest.mark.parametrize("old, old_size, new_size, flags, new, expected", [
    (0x5000_0001, PAGE, PAGE, 0, 0, Errno.EINVAL),                       # misaligned
    (0x5000_0000, PAGE, 0, MREMAP_MAYMOVE, 0, Errno.EINVAL),             # to nothing
    (0x5000_0000, PAGE, PAGE, 0x80, 0, Errno.EINVAL),                    # unknown flag
    (0x5000_0000, PAGE, PAGE, MREMAP_FIXED, 0x6000_0000, Errno.EINVAL),  # FIXED without MAYMOVE
    (0x5000_0000, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x4FFF_F000, Errno.EINVAL),  # overlap
    (0x5000_0000, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x6000_0001, Errno.EINVAL),  # misaligned target
    (0x6000_0000, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0, Errno.EFAULT),      # nothing mapped there
    (0x5000_0000, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE, 0, Errno.EFAULT),  # runs past the mapping
    # below mmap_min_addr, as mmap: found by the syscall fuzzer (the host refused the move)
    (0x5000_0000, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0, Errno.EPERM),
    (0x5000_0000, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, MMAP_MIN_ADDR - PAGE, Errno.EPERM),
])
def test_bad_mremap(mm, old, old_size, new_size, flags, new, expected):
    mm.mmap(0x5000_0000, 2 * PAGE, RW, ANON | MAP_FIXED)
    mm.write(0x5000_0000, b"still here")
    assert errno_of(mm.mremap, old, old_size, new_size, flags, new) == expected
    assert mm.read(0x5000_0000, 10) == b"still here"


def test_mmap_ignores_the_grows_bits_of_its_protection(mm):
    # found by the real-platform syscall fuzzer: a read-only shared file mapping passed
    # PROT_GROWSDOWN on to the host's mprotect, which refused it (an internal error)
    inode = memfile(b"M" * PAGE)
    shared = mm.mmap(0, PAGE, PROT_READ | PROT_GROWSDOWN, MAP_SHARED, inode.open(O_RDWR))
    anonymous = mm.mmap(0, PAGE, RW | PROT_GROWSUP, ANON)
    assert mm.find(shared).prot == PROT_READ and mm.read(shared, 1) == b"M"
    assert mm.find(anonymous).prot == RW


def test_mremap_of_a_file_mapping_fills_the_new_part_from_the_file(mm):
    inode = memfile(b"P" * PAGE + b"Q" * PAGE + b"R" * 100)
    addr = mm.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, inode.open(O_RDONLY), 0)
    grown = mm.mremap(addr, PAGE, 3 * PAGE, MREMAP_MAYMOVE)
    assert mm.read(grown, 1) == b"P"
    assert mm.read(grown + PAGE, PAGE) == b"Q" * PAGE
    assert mm.read(grown + 2 * PAGE, 101) == b"R" * 100 + b"\0"


# --- brk ------------------------------------------------------------------------------------------


def test_brk_grows_and_shrinks_the_heap(mm):
    mm.set_brk_start(0x5555_0000_0123)
    start = mm.brk_start
    assert start == 0x5555_0000_1000  # page-aligned up
    assert mm.brk(0) == start  # a query
    assert mm.brk(start + 10) == start + 10
    heap = mm.find(start)
    assert heap is not None and heap.name == b"[heap]" and heap.prot == RW
    mm.write(start, b"heap data")
    assert mm.brk(start + 3 * PAGE) == start + 3 * PAGE
    assert [(v.start, v.end) for v in mm.vmas()] == [(start, start + 3 * PAGE)]  # one [heap] VMA
    assert mm.read(start, 9) == b"heap data"
    assert mm.brk(start + PAGE) == start + PAGE
    assert mm.find(start + PAGE) is None
    assert mm.brk(start + 3 * PAGE) == start + 3 * PAGE
    assert mm.read(start + PAGE, 2 * PAGE) == bytes(2 * PAGE)  # pages given back come back zeroed


def test_brk_below_the_start_or_into_a_mapping_leaves_it_unchanged(mm):
    mm.set_brk_start(0x5555_0000_0000)
    start = mm.brk_start
    assert mm.brk(start + PAGE) == start + PAGE
    assert mm.brk(start - PAGE) == start + PAGE
    mm.mmap(start + 4 * PAGE, PAGE, RW, ANON | MAP_FIXED)
    assert mm.brk(start + 8 * PAGE) == start + PAGE  # the kernel says no by returning the old break
    assert mm.brk((1 << 64) - 1) == start + PAGE


# --- madvise -------------------------------------------------------------------------------------


def test_madvise_dontneed_zeroes_anonymous_and_refills_file_pages(mm):
    anon = mm.mmap(0x5000_0000, 2 * PAGE, RW, ANON | MAP_FIXED)
    mm.write(anon, b"scribble")
    mm.madvise(anon, 2 * PAGE, MADV_DONTNEED)
    assert mm.read(anon, 8) == bytes(8)
    inode = memfile(b"file contents")
    mapped = mm.mmap(0, PAGE, RW, MAP_PRIVATE, inode.open(O_RDONLY), 0)
    mm.write(mapped, b"FILE")
    mm.madvise(mapped, PAGE, MADV_DONTNEED)
    assert mm.read(mapped, 13) == b"file contents"


def test_bad_madvise(mm):
    base = mm.mmap(0x5000_0000, PAGE, RW, ANON | MAP_FIXED)
    assert errno_of(mm.madvise, base + 1, PAGE, MADV_DONTNEED) == Errno.EINVAL
    assert errno_of(mm.madvise, base, PAGE, 12345) == Errno.EINVAL
    assert errno_of(mm.madvise, base, 2 * PAGE, MADV_DONTNEED) == Errno.ENOMEM


# --- checked access to guest memory ----------------------------------------------------------------


@pytest.mark.parametrize("addr, length", [(0, 1), (-1, 1), (TASK_SIZE - 1, 2), (1 << 63, 1), (0x5000_0000, PAGE + 1)])
def test_access_outside_the_mappings_is_efault(mm, addr, length):
    mm.mmap(0x5000_0000, PAGE, RW, ANON | MAP_FIXED)
    assert errno_of(mm.read, addr, length) == Errno.EFAULT
    assert errno_of(mm.write, addr, bytes(length)) == Errno.EFAULT


def test_access_respects_protections_but_write_force_does_not(mm):
    base = mm.mmap(0x5000_0000, PAGE, PROT_READ, ANON | MAP_FIXED)
    assert errno_of(mm.write, base, b"x") == Errno.EFAULT
    mm.write_force(base, b"loader")
    assert mm.read(base, 6) == b"loader"
    assert errno_of(mm.write_force, base + PAGE - 2, b"xyz") == Errno.EFAULT
    wo = mm.mmap(0x5100_0000, PAGE, PROT_WRITE, ANON | MAP_FIXED)
    assert errno_of(mm.read, wo, 1) == Errno.EFAULT
    assert errno_of(mm.check, wo, 1, PROT_EXEC) == Errno.EFAULT


def test_read_cstring(mm):
    base = mm.mmap(0x5000_0000, 2 * PAGE, RW, ANON | MAP_FIXED)
    mm.write(base + PAGE - 3, b"abcdef\0")  # crosses a page boundary
    assert mm.read_cstring(base + PAGE - 3, 100) == b"abcdef"
    assert mm.read_cstring(base + PAGE - 3, 6) == b"abcdef"  # exactly the limit
    assert errno_of(mm.read_cstring, base + PAGE - 3, 5) == Errno.ENAMETOOLONG
    assert errno_of(mm.read_cstring, base + PAGE - 3, 5, Errno.E2BIG) == Errno.E2BIG
    mm.write(base + 2 * PAGE - 4, b"tail")  # no NUL before the end of the mapping
    assert errno_of(mm.read_cstring, base + 2 * PAGE - 4, 4096) == Errno.EFAULT


@pytest.mark.parametrize("length", [0, 1, 255, 256, 257, 1000, 4000])
def test_read_cstring_of_any_length_within_a_page_and_across(mm, length):
    """Strings shorter and longer than the first read, at a page's start and across
    the page boundary; the limit counts the same whatever was read first."""
    base = mm.mmap(0x5000_0000, 3 * PAGE, RW, ANON | MAP_FIXED)
    text = bytes(b"abcdefghij"[i % 10] for i in range(length))
    for addr in (base, base + PAGE - 100):
        mm.write(addr, text + b"\0")
        assert mm.read_cstring(addr, 4095) == text
        assert mm.read_cstring(addr, length) == text
        if length:
            assert errno_of(mm.read_cstring, addr, length - 1) == Errno.ENAMETOOLONG


def test_clear_unmaps_everything(mm):
    mm.mmap(0, 4 * PAGE, RW, ANON)
    mm.set_brk_start(0x5555_0000_0000)
    mm.brk(mm.brk_start + PAGE)
    mm.clear()
    assert mm.vmas() == [] and mm.aspace.mappings() == [] and mm.total_mapped() == 0
    assert mm.brk_start == mm.brk_current == 0


def test_maps_text_lines(mm):
    inode = memfile(b"x" * 100)
    file = inode.open(O_RDONLY)
    mm.mmap(0x5000_0000, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, file, 0)
    mm.mmap(0x5100_0000, PAGE, RW, ANON | MAP_FIXED)
    lines = mm.maps_text().decode().splitlines()
    assert lines[0].startswith("50000000-50001000 r-xp 00000000 00:01 %d" % inode.ino)
    assert lines[1] == "51000000-51001000 rw-p 00000000 00:00 0"


# --- the fake address space answers as a host would ----------------------------------------------


def test_fake_address_space_refuses_like_a_host():
    import errno

    from slimbox.platforms.base import GuestMemoryError

    aspace = FakeAddressSpace([(0x1000_0000, 0x1000_1000)])
    for action, args, expected in [
        (aspace.map, (0x5000_0001, PAGE, RW), errno.EINVAL),
        (aspace.map, (0x5000_0000, 0, RW), errno.EINVAL),
        (aspace.map, (0x1000_0000, PAGE, RW), errno.EPERM),  # the platform's own pages
        (aspace.protect, (0x5000_0000, PAGE, RW), errno.ENOMEM),
        (aspace.discard, (0x5000_0000, PAGE), errno.ENOMEM),
        (aspace.move, (0x5000_0000, PAGE, 0x6000_0000, PAGE), errno.EFAULT),
    ]:
        with pytest.raises(OSError) as info:
            action(*args)
        assert info.value.errno == expected, action
    with pytest.raises(GuestMemoryError) as info:
        aspace.read(0x5000_0000, 1)
    assert info.value.address == 0x5000_0000


def test_fake_address_space_is_lazy_and_keeps_contents_when_moving():
    from slimbox.platforms.base import GuestMemoryError

    aspace = FakeAddressSpace()
    base = 0x5000_0000
    aspace.map(base, 1 << 40, RW)  # a terabyte costs nothing until written
    aspace.write(base + (1 << 39) - 2, b"span")
    assert aspace.read(base + (1 << 39) - 2, 4) == b"span" and len(aspace.pages) == 2
    with pytest.raises(GuestMemoryError) as info:
        aspace.read(base + (1 << 40) - 2, 4)
    assert info.value.address == base + (1 << 40)  # the first byte that is not mapped
    aspace.unmap(base, 1 << 40)
    assert aspace.pages == {} and aspace.mappings() == []
    aspace.map(base, 2 * PAGE, PROT_READ)
    aspace.write(base, b"A" * PAGE + b"B" * PAGE)  # protections are the kernel's business
    aspace.move(base, 2 * PAGE, 0x6000_0000, 3 * PAGE)
    assert aspace.read(0x6000_0000, 2 * PAGE) == b"A" * PAGE + b"B" * PAGE
    assert aspace.read(0x6000_0000 + 2 * PAGE, PAGE) == bytes(PAGE)
    assert aspace.mappings() == [(0x6000_0000, 0x6000_0000 + 3 * PAGE, PROT_READ, False)]
    aspace.discard(0x6000_0000, PAGE)
    assert aspace.read(0x6000_0000, 2) == b"\0\0" and aspace.read(0x6000_0000 + PAGE, 1) == b"B"
    aspace.protect(0x6000_0000 + PAGE, PAGE, PROT_NONE)
    assert [m[2] for m in aspace.mappings()] == [PROT_READ, PROT_NONE, PROT_READ]


# --- unmapping in few host calls -------------------------------------------------------------


class _RecordingAddressSpace(FakeAddressSpace):
    """Records every unmap the kernel asks of the platform."""

    def __init__(self, reserved) -> None:
        super().__init__(reserved)
        self.unmapped: list[tuple[int, int]] = []

    def unmap(self, addr: int, length: int) -> None:
        self.unmapped.append((addr, addr + length))
        super().unmap(addr, length)


_RESERVED = (0x5000_0000, 0x5000_1000)


def _scattered(aspace: FakeAddressSpace) -> MemoryManager:
    mm = MemoryManager(aspace, Layout(mmap_base=0x7F00_0000_0000))
    for addr in (0x40_0000, 0x40_2000, 0x40_5000, _RESERVED[0] - PAGE, _RESERVED[1], 0x6000_0000, 0x7000_0000):
        mm.mmap(addr, PAGE, RW, ANON | MAP_FIXED)
    return mm


def test_clearing_an_address_space_unmaps_runs_around_reserved_ranges_only():
    aspace = _RecordingAddressSpace([_RESERVED])
    mm = _scattered(aspace)
    mm.clear()
    assert mm.vmas() == []
    assert aspace._ranges == []  # nothing of the guest's is left on the host
    assert aspace.unmapped == [(0x40_0000, _RESERVED[0]), (_RESERVED[1], 0x7000_0000 + PAGE)]


def test_munmap_across_mappings_spares_a_reserved_range_inside():
    aspace = _RecordingAddressSpace([_RESERVED])
    mm = _scattered(aspace)
    mm.munmap(0x40_2000, 0x6000_0000 - 0x40_2000 + PAGE)
    assert [(v.start, v.end) for v in mm.vmas()] == [(0x40_0000, 0x40_1000), (0x7000_0000, 0x7000_1000)]
    assert aspace.unmapped == [(0x40_2000, _RESERVED[0]), (_RESERVED[1], 0x6000_0000 + PAGE)]
    assert all(not (lo < _RESERVED[1] and _RESERVED[0] < hi) for lo, hi in aspace.unmapped)
