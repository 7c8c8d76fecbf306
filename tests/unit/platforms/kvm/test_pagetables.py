"""Page tables, decoded by an independent walker that reads guest memory as the MMU
would: canonical check, four levels, rights ANDed (writable, user) and NX ORed."""

from collections import namedtuple

import pytest

from slimbox.platforms.kvm.memory import GuestMemory
from slimbox.platforms.kvm.pagetables import (
    ACCESSED, NO_EXECUTE, PRESENT, USER, WRITABLE, PageTables, is_canonical, is_downgrade, leaf_rights, may_be_cached,
)

PAGE = 4096
Translation = namedtuple("Translation", "gpa writable user executable")


def translate(memory, root, va):
    """What the MMU makes of `va` (None: a page fault), or ValueError for a
    non-canonical address (a #GP on real hardware)."""
    if va >> 47 not in (0, 0x1FFFF):
        raise ValueError(f"{va:#x} is not canonical")
    table, writable, user, no_execute = root, True, True, False
    for shift in (39, 30, 21, 12):
        raw = bytes(memory.view(table + ((va >> shift) & 511) * 8, 8))
        entry = int.from_bytes(raw, "little")
        if not entry & 1:
            return None
        assert shift == 12 or not entry & 0x80, "a large page where only 4 KiB leaves are built"
        assert not entry & 0x000F_0000_0000_0000 or entry & (1 << 11), "physical address beyond 48 bits"
        writable = writable and bool(entry & 2)
        user = user and bool(entry & 4)
        no_execute = no_execute or bool(entry >> 63)
        table = entry & 0x000F_FFFF_FFFF_F000
    return Translation(table | (va & 0xFFF), writable, user, not no_execute)


def access(memory, root, va, write=False):
    """What the MMU does for an access that succeeds: set the accessed bit of every entry
    on the way (and the dirty bit of the leaf for a write) before it may cache them."""
    got = translate(memory, root, va)
    assert got is not None and (got.writable or not write), f"{va:#x} would fault"
    table = root
    for shift in (39, 30, 21, 12):
        index = table // 8 + ((va >> shift) & 511)
        memory.words[index] |= 0x20 | (0x40 if write and shift == 12 else 0)
        table = memory.words[index] & 0x000F_FFFF_FFFF_F000
    return got


@pytest.fixture
def memory():
    mem = GuestMemory(1024 * PAGE)
    yield mem
    mem.close()


@pytest.mark.parametrize("prot, expected", [
    (0, 0),
    (1, PRESENT | USER | NO_EXECUTE),
    (2, PRESENT | USER | WRITABLE | NO_EXECUTE),
    (3, PRESENT | USER | WRITABLE | NO_EXECUTE),
    (4, PRESENT | USER),
    (5, PRESENT | USER),
    (7, PRESENT | USER | WRITABLE),
    (8, 0),  # PROT_SEM alone grants nothing
])
def test_leaf_rights_follow_linux_prot(prot, expected):
    assert leaf_rights(prot) == expected


def test_supervisor_leaf_has_no_user_bit():
    assert leaf_rights(7, user=False) == PRESENT | WRITABLE


@pytest.mark.parametrize("addr, canonical", [
    (0, True), ((1 << 47) - 1, True), (1 << 47, False), (0xFFFF_7FFF_FFFF_FFFF, False),
    (0xFFFF_8000_0000_0000, True), ((1 << 64) - 1, True), (-1, False), (1 << 64, False),
])
def test_canonical_addresses(addr, canonical):
    assert is_canonical(addr) is canonical


def test_downgrades_are_what_takes_rights_away():
    rw = 0x5000 | PRESENT | USER | WRITABLE | NO_EXECUTE | ACCESSED
    ro = 0x5000 | PRESENT | USER | NO_EXECUTE | ACCESSED
    rx = 0x5000 | PRESENT | USER | ACCESSED
    assert is_downgrade(rw, ro) and is_downgrade(rx, ro) and is_downgrade(rw, 0)
    assert is_downgrade(rw, 0x6000 | PRESENT | USER | WRITABLE | NO_EXECUTE)
    assert is_downgrade(rw, rw & ~USER)
    assert not is_downgrade(ro, rw) and not is_downgrade(ro, rx | WRITABLE) and not is_downgrade(0, rw)
    assert not is_downgrade(0x5000, 0)  # a page that was not present: nothing cached
    assert not is_downgrade(rw & ~ACCESSED, 0)  # never used by the CPU: nothing cached
    assert may_be_cached(rw) and not may_be_cached(rw & ~ACCESSED) and not may_be_cached(ACCESSED)


def test_walk_finds_what_was_set_in_both_halves(memory):
    tables = PageTables(memory)
    data = memory.allocate()
    low, high = 0x7FFF_FFFF_E000, 0xFFFF_FF80_0000_3000
    tables.set(low, data | leaf_rights(3))
    tables.set(high, data | leaf_rights(5, user=False))
    assert translate(memory, tables.root, low + 0x123) == Translation(data + 0x123, True, True, False)
    assert translate(memory, tables.root, high + 7) == Translation(data + 7, False, False, True)
    assert translate(memory, tables.root, low - PAGE) is None
    assert translate(memory, tables.root, 0x1000) is None
    # the upper half lives in the root's last entries, the lower half in its first
    root_entries = [memory.words[tables.root // 8 + i] for i in range(512)]
    assert [i for i, e in enumerate(root_entries) if e] == [255, 511]
    with pytest.raises(ValueError):
        translate(memory, tables.root, 0x0000_8000_0000_0000)


def test_directory_entries_leave_the_decision_to_the_leaf(memory):
    tables = PageTables(memory)
    tables.set(0x400000, memory.allocate() | leaf_rights(7))
    table = tables.root
    for shift in (39, 30, 21):
        entry = memory.words[table // 8 + ((0x400000 >> shift) & 511)]
        assert entry & (PRESENT | WRITABLE | USER) == PRESENT | WRITABLE | USER
        assert not entry & NO_EXECUTE
        table = entry & 0x000F_FFFF_FFFF_F000
    assert translate(memory, tables.root, 0x400000).executable


def test_not_present_leaf_faults_even_with_a_frame(memory):
    tables = PageTables(memory)
    tables.set(0x400000, memory.allocate())  # PROT_NONE keeps its frame, not present
    assert translate(memory, tables.root, 0x400000) is None


def test_leaves_visit_only_existing_tables(memory):
    tables = PageTables(memory)
    frames = [memory.allocate() for _ in range(3)]
    for va, frame in zip((0x1000, 0x7000_0000_0000, 0x7FFF_FFFF_F000), frames):
        tables.set(va, frame | PRESENT)
    found = tables.leaves(0, 1 << 47)
    assert [va for va, _ in found] == [0x1000, 0x7000_0000_0000, 0x7FFF_FFFF_F000]
    assert [memory.words[index] & ~0xFFF for _, index in found] == frames
    assert [va for va, _ in tables.leaves(0x2000, 0x7FFF_FFFF_F000)] == [0x7000_0000_0000]
    assert tables.leaves(5, 5) == []


def test_prune_frees_empty_tables_only(memory):
    tables = PageTables(memory)
    base = memory.frames_in_use
    tables.set(0x400000, memory.allocate() | PRESENT)
    tables.set(0x7000_0000_0000, memory.allocate() | PRESENT)
    assert tables.table_frames == 1 + 3 + 3
    index = tables.leaf_index(0x7000_0000_0000, False)
    memory.release(memory.words[index] & ~0xFFF)
    memory.words[index] = 0
    tables.prune(0, 1 << 47)
    assert tables.table_frames == 1 + 3
    assert translate(memory, tables.root, 0x400000) is not None
    assert tables.leaf_index(0x7000_0000_0000, False) == -1
    assert memory.frames_in_use == base + 1 + 3


def test_copy_reproduces_the_structure(memory):
    tables = PageTables(memory)
    frame = memory.allocate()
    tables.set(0x400000, frame | leaf_rights(5))
    tables.set(0xFFFF_FF80_0000_0000, frame | leaf_rights(1, user=False))
    copied = []
    other = PageTables(memory)

    def copy_leaves(index, other_index):
        copied.append(index)
        memory.words[other_index:other_index + 512] = memory.words[index:index + 512]

    tables.copy_into(other, copy_leaves)
    assert len(copied) == 2  # one page table each
    for va in (0x400000, 0xFFFF_FF80_0000_0000):
        assert translate(memory, other.root, va) == translate(memory, tables.root, va)
    assert other.table_frames == tables.table_frames


def test_release_frees_every_table(memory):
    tables = PageTables(memory)
    frame = memory.allocate()
    tables.set(0x400000, frame | PRESENT)
    tables.set(0xFFFF_FF80_0000_0000, frame | PRESENT)
    leaves = []
    tables.release(leaves.append)
    assert len(leaves) == 2
    assert memory.frames_in_use == 1  # only the data frame, which the caller owns


def test_prune_says_how_many_tables_it_freed(memory):
    tables = PageTables(memory)
    tables.set(0x400000, memory.allocate() | PRESENT)
    assert tables.prune(0, 1 << 47) == 0
    index = tables.leaf_index(0x400000, False)
    memory.release(memory.words[index] & ~0xFFF)
    memory.words[index] = 0
    assert tables.prune(0x400000, 0x401000) == 0  # freed, but the CPU never walked them
    assert tables.table_frames == 1
    tables.set(0x400000, memory.allocate() | PRESENT)
    access(memory, tables.root, 0x400000)
    index = tables.leaf_index(0x400000, False)
    memory.release(memory.words[index] & ~0xFFF)
    memory.words[index] = 0
    assert tables.prune(0x400000, 0x401000) == 3
    assert tables.prune(0, 1 << 47) == 0
