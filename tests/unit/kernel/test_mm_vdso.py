"""kernel/mm.py: the platform's vDSO pieces as VMAs (named, avoided, unmapped, moved or
protected only when asked, kept by exec while intact), over the fake address space."""

from __future__ import annotations

import pytest

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.mm import (
    MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MREMAP_MAYMOVE, PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, Layout,
    MemoryManager,
)
from slimbox.platforms.fake import FakeAddressSpace

ANON = MAP_PRIVATE | MAP_ANONYMOUS
VVAR, VCLOCK, VDSO = 0x7F0000000000, 0x7F0000004000, 0x7F0000006000
PIECES = [(VVAR, VCLOCK, PROT_READ, b"[vvar]"), (VCLOCK, VDSO, PROT_READ, b"[vvar_vclock]"),
          (VDSO, VDSO + 2 * PAGE, PROT_READ | PROT_EXEC, b"[vdso]")]


def make_mm(pieces=PIECES) -> tuple[MemoryManager, FakeAddressSpace]:
    aspace = FakeAddressSpace(vdso=pieces)
    # the top-down search starts right above the vDSO, so the next mapping would overlap it
    return MemoryManager(aspace, Layout(mmap_base=VDSO + 2 * PAGE)), aspace


def names(mm: MemoryManager) -> list[bytes]:
    return [vma.name for vma in mm.vmas()]


def test_pieces_are_named_vmas_listed_in_maps():
    mm, _ = make_mm()
    assert names(mm) == [b"[vvar]", b"[vvar_vclock]", b"[vdso]"]
    lines = mm.maps_text().splitlines()
    assert lines[2].startswith(b"7f0000006000-7f0000008000 r-xp 00000000 00:00 0 ")
    assert lines[2].endswith(b" [vdso]")
    assert mm.vdso_base() == VDSO
    assert mm.charged() == 0  # the host's pages, not the guest's memory


def test_no_pieces_no_vdso():
    mm, _ = make_mm([])
    assert mm.vmas() == [] and mm.vdso_base() == 0


def test_mmap_without_fixed_goes_around_them():
    mm, _ = make_mm()
    addr = mm.mmap(0, 4 * PAGE, PROT_READ, ANON)
    assert addr + 4 * PAGE <= VVAR
    assert mm.vdso_base() == VDSO


def test_map_fixed_over_them_unmaps_them_for_good():
    mm, aspace = make_mm()
    mm.mmap(VDSO, PAGE, PROT_READ | PROT_WRITE, ANON | MAP_FIXED)
    assert mm.find(VDSO).name == b"" and aspace.mappings()[-2][:3] == (VDSO, VDSO + PAGE, PROT_READ | PROT_WRITE)
    assert mm.vdso_base() == 0
    mm.clear()
    assert mm.vmas() == [] and aspace.mappings() == [] and mm.vdso_pieces == []
    assert mm.vdso_base() == 0


def test_clear_keeps_intact_pieces_and_unmaps_the_rest():
    mm, aspace = make_mm()
    mm.mmap(0, 4 * PAGE, PROT_READ, ANON)
    mm.mmap(VDSO + 2 * PAGE, PAGE, PROT_READ, ANON | MAP_FIXED)  # right after [vdso]
    mm.clear()
    assert names(mm) == [b"[vvar]", b"[vvar_vclock]", b"[vdso]"]
    # (the fake lists neighbouring ranges of one protection as one)
    assert [m[:3] for m in aspace.mappings()] == [(VVAR, VDSO, PROT_READ), PIECES[2][:3]]
    assert mm.vdso_base() == VDSO


def test_clear_restores_the_protection_of_a_protected_vdso():
    mm, aspace = make_mm()
    mm.mprotect(VDSO, PAGE, PROT_READ)
    assert [vma.prot for vma in mm.vmas()][-2:] == [PROT_READ, PROT_READ | PROT_EXEC]
    mm.clear()
    assert mm.find(VDSO).prot == PROT_READ | PROT_EXEC and mm.find(VDSO).end == VDSO + 2 * PAGE
    assert aspace.mappings()[-1][:3] == (VDSO, VDSO + 2 * PAGE, PROT_READ | PROT_EXEC)


def test_a_vdso_made_writable_is_not_kept():
    mm, aspace = make_mm()
    mm.mprotect(VDSO, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC)
    mm.mprotect(VDSO, PAGE, PROT_READ | PROT_EXEC)
    assert mm.vdso_base() == 0  # it may have been written: not the host's any more
    mm.clear()
    assert mm.vmas() == [] and aspace.mappings() == []


def test_munmap_of_one_piece_drops_the_vdso_at_exec():
    mm, aspace = make_mm()
    mm.munmap(VVAR, VCLOCK - VVAR)
    assert names(mm) == [b"[vvar_vclock]", b"[vdso]"] and mm.vdso_base() == 0
    mm.clear()
    assert mm.vmas() == [] and aspace.mappings() == []


def test_mremap_moves_but_never_grows_them():
    mm, _ = make_mm()
    with pytest.raises(LinuxError) as raised:
        mm.mremap(VDSO, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE)
    assert raised.value.errno == Errno.EFAULT
    moved = mm.mremap(VDSO, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | 2, 0x7E0000000000)
    assert mm.find(moved).name == b"[vdso]" and mm.vdso_base() == 0


def test_host_refusal_of_mprotect_leaves_the_vmas_as_they_were():
    mm, aspace = make_mm()

    def refuse(addr, length, prot):
        raise OSError(Errno.EACCES, "no")

    aspace.protect = refuse
    with pytest.raises(LinuxError) as raised:
        mm.mprotect(VVAR, PAGE, PROT_READ | PROT_WRITE)
    assert raised.value.errno == Errno.EACCES
    assert [(vma.start, vma.end, vma.prot) for vma in mm.vmas()] == [piece[:3] for piece in PIECES]
    assert mm.vdso_base() == VDSO


def test_fork_copies_the_vdso_state():
    mm, _ = make_mm()
    mm.munmap(VDSO, 2 * PAGE)
    child = MemoryManager(FakeAddressSpace(vdso=PIECES))
    child.copy_from(mm)
    assert names(child) == [b"[vvar]", b"[vvar_vclock]"] and child.vdso_base() == 0
