"""KvmAddressSpace: the South AddressSpace semantics (as the fake platform's) carried
out in page tables, checked through an MMU-style walk of those tables."""

import errno
import time

import pytest
from test_pagetables import Translation, access, translate

from slimbox.platforms.base import GuestMemoryError
from slimbox.platforms.kvm.address_space import FAULT_AROUND_PAGES, KvmAddressSpace
from slimbox.platforms.kvm.memory import GuestMemory

PAGE = 4096
R, W, X = 1, 2, 4
BASE = 0x40_0000
USER_TOP = 1 << 47


@pytest.fixture
def memory():
    mem = GuestMemory(4096 * PAGE)
    yield mem
    mem.close()


class Space:
    """An address space and the flushes it asked for."""

    def __init__(self, memory):
        self.flushes = 0
        self.space = KvmAddressSpace(memory, self.flush)
        self.memory = memory

    def flush(self):
        self.flushes += 1

    def walk(self, va):
        return translate(self.memory, self.space.root, va)

    def access(self, va, write=False):
        return access(self.memory, self.space.root, va, write)


@pytest.fixture
def s(memory):
    space = Space(memory)
    yield space
    space.space.close()


# --- map, read, write --------------------------------------------------------------------


def test_mapping_is_lazy_and_reads_as_zero(s, memory):
    before = memory.frames_in_use
    s.space.map(BASE, 64 * PAGE, R | W)
    assert memory.frames_in_use == before
    assert s.space.read(BASE + 100, 3 * PAGE) == bytes(3 * PAGE)
    assert memory.frames_in_use == before
    assert s.walk(BASE) is None


def test_write_populates_and_reads_back_across_pages(s, memory):
    s.space.map(BASE, 8 * PAGE, R)
    data = bytes(range(256)) * 40
    s.space.write(BASE + PAGE - 5, data)  # ignores PROT_READ-only, as the kernel needs
    assert s.space.read(BASE + PAGE - 5, len(data)) == data
    assert s.space.read(BASE, PAGE - 5) == bytes(PAGE - 5)
    got = s.walk(BASE + PAGE - 5)
    assert got == Translation(got.gpa, False, True, False)
    assert bytes(memory.view(got.gpa, 5)) == data[:5]
    second = s.walk(BASE + PAGE)
    assert bytes(memory.view(second.gpa, 16)) == data[5:21]


def test_read_and_write_with_holes_between_populated_pages(s):
    s.space.map(BASE, 16 * PAGE, R | W)
    for page in (1, 2, 7, 15):
        s.space.write(BASE + page * PAGE + 10, b"page%d" % page)
    blob = s.space.read(BASE, 16 * PAGE)
    for page in range(16):
        expected = b"page%d" % page if page in (1, 2, 7, 15) else bytes(5)
        assert blob[page * PAGE + 10:page * PAGE + 10 + len(expected)] == expected
    assert blob.count(0) == len(blob) - sum(len(b"page%d" % p) for p in (1, 2, 7, 15))


def test_unmapped_addresses_raise_guest_memory_error(s, memory):
    s.space.map(BASE, 2 * PAGE, R | W)
    with pytest.raises(GuestMemoryError) as caught:
        s.space.read(BASE + PAGE, 2 * PAGE)
    assert caught.value.address == BASE + 2 * PAGE
    before = memory.frames_in_use
    with pytest.raises(GuestMemoryError):
        s.space.write(BASE + PAGE, bytes(2 * PAGE))
    assert memory.frames_in_use == before  # nothing half written
    assert s.space.read(BASE + PAGE, 4) == bytes(4)
    for addr in (-PAGE, USER_TOP - 2, 0xFFFF_8000_0000_0000, 1 << 64):
        with pytest.raises(GuestMemoryError):
            s.space.read(addr, 4)
        with pytest.raises(GuestMemoryError):
            s.space.write(addr, b"abcd")


def test_empty_reads_and_writes(s):
    assert s.space.read(0x1234, 0) == b""
    s.space.write(0x1234, b"")


@pytest.mark.parametrize("addr, length, code", [
    (BASE + 1, PAGE, errno.EINVAL),
    (BASE, 0, errno.EINVAL),
    (BASE, -PAGE, errno.EINVAL),
    (-PAGE, PAGE, errno.EINVAL),
    (USER_TOP - PAGE, 2 * PAGE, errno.ENOMEM),
    (USER_TOP, PAGE, errno.ENOMEM),
    (0xFFFF_8000_0000_0000, PAGE, errno.ENOMEM),
    (BASE, 1 << 64, errno.ENOMEM),
])
def test_bad_ranges_are_refused_by_every_operation(s, addr, length, code):
    s.space.map(BASE, PAGE, R)
    calls = [lambda: s.space.map(addr, length, R), lambda: s.space.unmap(addr, length),
             lambda: s.space.protect(addr, length, R), lambda: s.space.discard(addr, length),
             lambda: s.space.move(addr, length, 0x1000_0000, PAGE), lambda: s.space.move(BASE, PAGE, addr, length)]
    for call in calls:
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == code
    assert s.space.mappings() == [(BASE, BASE + PAGE, R, False)]


def test_huge_mappings_allocate_nothing_and_go_away_quickly(s, memory):
    before = memory.frames_in_use
    started = time.perf_counter()
    s.space.map(0x1000, USER_TOP - 0x2000, R | W)
    s.space.write(0x7000_0000_0000, b"far")
    s.space.write(0x1000, b"near")
    s.space.protect(0x1000, USER_TOP - 0x2000, R)
    s.space.unmap(0, USER_TOP)
    elapsed = time.perf_counter() - started
    assert memory.frames_in_use == before
    assert s.space.mappings() == []
    assert elapsed < 5, "work proportional to the range size, not to the pages in it"


def test_partial_last_page_is_rounded_up(s):
    s.space.map(BASE, PAGE + 1, R | W)
    assert s.space.mappings() == [(BASE, BASE + 2 * PAGE, R | W, False)]


def test_map_replaces_what_was_there(s):
    s.space.map(BASE, 4 * PAGE, R | W)
    s.space.write(BASE, b"x" * 4 * PAGE)
    s.space.map(BASE + PAGE, PAGE, R)
    assert s.flushes == 0  # the guest never used the page: nothing to forget
    s.access(BASE + 2 * PAGE)
    s.space.map(BASE + 2 * PAGE, PAGE, R | W)
    assert s.flushes == 1
    assert s.space.read(BASE, 4 * PAGE) == b"x" * PAGE + bytes(2 * PAGE) + b"x" * PAGE
    assert s.space.mappings() == [(BASE, BASE + PAGE, R | W, False), (BASE + PAGE, BASE + 2 * PAGE, R, False),
                                  (BASE + 2 * PAGE, BASE + 4 * PAGE, R | W, False)]


def test_map_file_is_declined(s):
    assert s.space.map_file(BASE, PAGE, R, object(), 0) is False


# --- the bits the CPU sees ----------------------------------------------------------------


@pytest.mark.parametrize("prot, writable, executable", [
    (R, False, False), (R | W, True, False), (R | X, False, True), (R | W | X, True, True), (W, True, False),
    (X, False, True),
])
def test_page_bits_follow_prot(s, prot, writable, executable):
    s.space.map(BASE, PAGE, prot)
    assert s.space.populate(BASE, False, False)
    got = s.walk(BASE)
    assert (got.writable, got.user, got.executable) == (writable, True, executable)


def test_prot_none_is_not_present_but_keeps_its_contents(s):
    s.space.map(BASE, PAGE, R | W)
    s.space.write(BASE, b"kept")
    s.access(BASE)
    flushes = s.flushes
    s.space.protect(BASE, PAGE, 0)
    assert s.walk(BASE) is None
    assert s.flushes == flushes + 1
    assert s.space.read(BASE, 4) == b"kept"  # the kernel reads regardless of protection
    s.space.protect(BASE, PAGE, R)
    assert s.flushes == flushes + 1  # more rights: nothing to flush
    assert s.walk(BASE).writable is False
    assert s.space.read(BASE, 4) == b"kept"


def test_protect_needs_a_mapping_and_valid_bits(s):
    s.space.map(BASE, PAGE, R)
    with pytest.raises(OSError) as caught:
        s.space.protect(BASE, 2 * PAGE, R)
    assert caught.value.errno == errno.ENOMEM
    with pytest.raises(OSError) as caught:
        s.space.protect(BASE, PAGE, 0x0100_0000)  # PROT_GROWSDOWN
    assert caught.value.errno == errno.EINVAL


def test_only_removals_and_restrictions_flush(s):
    s.space.map(BASE, 4 * PAGE, R | W)
    s.space.unmap(BASE, PAGE)  # nothing was populated: the guest cannot have cached it
    s.space.protect(BASE + PAGE, PAGE, R)
    assert s.flushes == 0
    s.space.write(BASE + 2 * PAGE, b"x")
    s.space.protect(BASE + 2 * PAGE, PAGE, R | X)
    assert s.flushes == 0  # present, but never used by the guest
    s.access(BASE + 2 * PAGE)
    s.space.protect(BASE + 2 * PAGE, PAGE, R | W | X)
    assert s.flushes == 0
    s.space.protect(BASE + 2 * PAGE, PAGE, R | X)
    assert s.flushes == 1
    s.space.unmap(BASE + 2 * PAGE, PAGE)
    assert s.flushes == 2
    assert s.walk(BASE + 2 * PAGE) is None


# --- faults ---------------------------------------------------------------------------------


def test_populate_answers_for_the_mapping(s, memory):
    s.space.map(BASE, PAGE, R)
    s.space.map(BASE + PAGE, PAGE, 0)
    s.space.map(BASE + 2 * PAGE, PAGE, R | W)
    assert not s.space.populate(BASE - PAGE, False, False)
    assert not s.space.populate(BASE, True, False)
    assert not s.space.populate(BASE, False, True)
    assert not s.space.populate(BASE + PAGE, False, False)
    assert not s.space.populate(0xFFFF_FF80_0000_0000, False, False)
    assert s.space.populate(BASE + 2 * PAGE + 17, True, False)
    assert s.walk(BASE + 2 * PAGE).writable
    assert s.walk(BASE + PAGE) is None  # fault-around stays inside the mapping


def test_populate_fills_a_window_inside_the_mapping(s, memory):
    pages = 4 * FAULT_AROUND_PAGES
    s.space.map(BASE, pages * PAGE, R | W)
    before = memory.frames_in_use
    assert s.space.populate(BASE + (FAULT_AROUND_PAGES + 3) * PAGE, True, False)
    window = BASE + FAULT_AROUND_PAGES * PAGE
    populated = [page for page in range(pages) if s.walk(BASE + page * PAGE)]
    assert populated == list(range(FAULT_AROUND_PAGES, 2 * FAULT_AROUND_PAGES))
    assert memory.frames_in_use - before >= FAULT_AROUND_PAGES
    assert s.space.read(window, FAULT_AROUND_PAGES * PAGE) == bytes(FAULT_AROUND_PAGES * PAGE)


def test_populate_on_a_present_page_asks_for_a_flush(s):
    s.space.map(BASE, PAGE, R | W)
    s.space.write(BASE, b"x")
    assert s.space.populate(BASE, True, False)
    assert s.flushes == 1


def test_populate_after_prot_none_reuses_the_frame(s):
    s.space.map(BASE, PAGE, R | W)
    s.space.write(BASE, b"old")
    frame = s.space.frame_of(BASE)
    s.space.protect(BASE, PAGE, 0)
    s.space.protect(BASE, PAGE, R)
    assert s.space.frame_of(BASE) == frame
    assert s.space.read(BASE, 3) == b"old"


def test_access_allowed(s):
    s.space.map(BASE, PAGE, R | X)
    s.space.map(BASE + PAGE, PAGE, 0)
    assert s.space.access_allowed(BASE, False, True) is True
    assert s.space.access_allowed(BASE, True, False) is False
    assert s.space.access_allowed(BASE + PAGE, False, False) is False
    assert s.space.access_allowed(BASE + 2 * PAGE, False, False) is None
    assert s.space.access_allowed(-1, False, False) is None


# --- move and discard ------------------------------------------------------------------------


def test_move_keeps_contents_and_frames(s, memory):
    s.space.map(BASE, 4 * PAGE, R | W)
    s.space.write(BASE, b"a" * PAGE + b"b" * PAGE)
    s.access(BASE + PAGE)
    frames = [s.space.frame_of(BASE), s.space.frame_of(BASE + PAGE)]
    in_use = memory.frames_in_use
    new = 0x7F00_0000_0000
    s.space.move(BASE, 4 * PAGE, new, 6 * PAGE)
    assert s.space.read(new, 6 * PAGE) == b"a" * PAGE + b"b" * PAGE + bytes(4 * PAGE)
    assert [s.space.frame_of(new), s.space.frame_of(new + PAGE)] == frames  # nothing copied
    assert s.walk(BASE) is None and s.walk(new).writable
    assert s.space.mappings() == [(new, new + 6 * PAGE, R | W, False)]
    assert s.flushes == 1
    assert memory.frames_in_use <= in_use  # the old tables were freed
    with pytest.raises(GuestMemoryError):
        s.space.read(BASE, 1)


def test_move_shrinking_releases_the_rest(s, memory):
    s.space.map(BASE, 4 * PAGE, R | W)
    s.space.write(BASE, b"z" * 4 * PAGE)
    s.space.move(BASE, 4 * PAGE, BASE + 0x10_0000, PAGE)
    assert s.space.read(BASE + 0x10_0000, PAGE) == b"z" * PAGE
    s.space.unmap(BASE + 0x10_0000, PAGE)
    s.space.close()
    assert memory.frames_in_use == 0


def test_move_of_unmapped_memory_is_efault(s):
    s.space.map(BASE, PAGE, R)
    with pytest.raises(OSError) as caught:
        s.space.move(BASE, 2 * PAGE, 0x1000_0000, 2 * PAGE)
    assert caught.value.errno == errno.EFAULT


def test_move_keeps_each_pieces_protection(s):
    s.space.map(BASE, 2 * PAGE, R | W)
    s.space.protect(BASE + PAGE, PAGE, R)
    s.space.write(BASE, b"rw" * PAGE)
    s.space.move(BASE, 2 * PAGE, 0x1000_0000, 3 * PAGE)
    assert s.space.mappings() == [(0x1000_0000, 0x1000_1000, R | W, False), (0x1000_1000, 0x1000_3000, R, False)]
    assert s.walk(0x1000_0000).writable and not s.walk(0x1000_1000).writable


def test_discard_reads_zero_afterwards_and_keeps_the_mapping(s, memory):
    s.space.map(BASE, 2 * PAGE, R | W)
    before = memory.frames_in_use
    s.space.write(BASE, b"q" * 2 * PAGE)
    s.access(BASE, write=True)
    s.space.discard(BASE, 2 * PAGE)
    assert s.space.read(BASE, 2 * PAGE) == bytes(2 * PAGE)
    assert memory.frames_in_use == before
    assert s.flushes == 1
    assert s.space.mappings() == [(BASE, BASE + 2 * PAGE, R | W, False)]
    with pytest.raises(OSError) as caught:
        s.space.discard(BASE, 3 * PAGE)
    assert caught.value.errno == errno.ENOMEM


# --- shared mappings and fork ------------------------------------------------------------------


def test_fork_copies_private_and_shares_shared(s, memory):
    s.space.map(BASE, 2 * PAGE, R | W)
    s.space.map(BASE + 0x10_0000, 4 * PAGE, R | W, shared=True)
    s.space.write(BASE, b"parent")
    s.space.write(BASE + 0x10_0000, b"shared")
    child = s.space.fork()
    try:
        assert child.root != s.space.root
        child.write(BASE, b"CHILD!")
        assert s.space.read(BASE, 6) == b"parent" and child.read(BASE, 6) == b"CHILD!"
        child.write(BASE + 0x10_0000, b"SHARED")
        assert s.space.read(BASE + 0x10_0000, 6) == b"SHARED"
        # a shared page first touched after the fork is still one page for both
        s.space.write(BASE + 0x10_3000, b"late")
        assert child.read(BASE + 0x10_3000, 4) == b"late"
        assert child.populate(BASE + 0x10_2000, True, False)
        child.write(BASE + 0x10_2000, b"mine")
        assert s.space.read(BASE + 0x10_2000, 4) == b"mine"
        assert translate(memory, child.root, BASE + 0x10_0000).gpa == s.walk(BASE + 0x10_0000).gpa
        assert translate(memory, child.root, BASE).gpa != s.walk(BASE).gpa
        assert child.mappings() == s.space.mappings()
    finally:
        child.close()
    assert s.space.read(BASE + 0x10_0000, 6) == b"SHARED"


def test_moved_shared_pages_stay_shared(s):
    s.space.map(BASE, 2 * PAGE, R | W, shared=True)
    child = s.space.fork()
    try:
        child.move(BASE, 2 * PAGE, 0x2000_0000, 3 * PAGE)
        child.write(0x2000_1000, b"moved")
        assert s.space.read(BASE + PAGE, 5) == b"moved"
    finally:
        child.close()


def test_every_frame_comes_back(memory):
    parent = Space(memory)
    parent.space.map(BASE, 32 * PAGE, R | W)
    parent.space.map(0x7000_0000_0000, 8 * PAGE, R | W, shared=True)
    parent.space.install_platform_page(0xFFFF_FF80_0000_0000, b"\x90", user=True, writable=False, executable=True)
    parent.space.install_mmio_page(0xFFFF_FF80_0000_1000, memory.size, user=True, writable=True)
    parent.space.write(BASE, b"p" * 32 * PAGE)
    parent.space.write(0x7000_0000_0000, b"s" * 8 * PAGE)
    child = parent.space.fork()
    grandchild = child.fork()
    child.unmap(0x7000_0000_0000, 8 * PAGE)
    parent.space.close()
    assert grandchild.read(0x7000_0000_0000, 3) == b"sss"
    grandchild.close()
    child.close()
    assert memory.frames_in_use == 0


def test_shared_region_is_freed_with_its_last_mapping(s, memory):
    before = memory.frames_in_use
    s.space.map(BASE, 4 * PAGE, R | W, shared=True)
    s.space.write(BASE, b"x" * 4 * PAGE)
    s.space.unmap(BASE, 2 * PAGE)
    assert s.space.read(BASE + 2 * PAGE, 2) == b"xx"
    s.space.unmap(BASE + 2 * PAGE, 2 * PAGE)
    assert memory.frames_in_use == before


# --- platform pages --------------------------------------------------------------------------------


def test_platform_pages_are_reserved_and_untouchable(s, memory):
    stub = 0x7FFF_FFFF_0000
    s.space.install_platform_page(stub, b"\x0f\x05", user=True, writable=False, executable=True)
    s.space.install_platform_page(stub + PAGE, b"gdt", user=False, writable=True, executable=False)
    assert s.space.reserved() == [(stub, stub + 2 * PAGE)]
    got = s.walk(stub)
    assert (got.writable, got.user, got.executable) == (False, True, True)
    assert bytes(memory.view(got.gpa, 2)) == b"\x0f\x05"
    sup = s.walk(stub + PAGE)
    assert (sup.writable, sup.user, sup.executable) == (True, False, False)
    for call in (lambda: s.space.map(stub - PAGE, 2 * PAGE, R | W), lambda: s.space.unmap(stub, PAGE),
                 lambda: s.space.protect(stub, PAGE, R | W), lambda: s.space.discard(stub, PAGE),
                 lambda: s.space.unmap(0, USER_TOP)):
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == errno.EPERM
    with pytest.raises(GuestMemoryError):
        s.space.read(stub, 2)
    with pytest.raises(GuestMemoryError):
        s.space.write(stub, b"\xcc")
    assert not s.space.populate(stub, True, False)
    # to the guest's kernel nothing is mapped there: a fault is SEGV_MAPERR, as natively
    assert s.space.access_allowed(stub, True, False) is None
    assert s.space.access_allowed(stub, False, True) is None
    assert s.space.access_allowed(stub + PAGE, False, False) is None
    s.space.map(BASE, PAGE, R)
    with pytest.raises(ValueError):
        s.space.install_platform_page(BASE, b"", user=True, writable=False, executable=False)
    with pytest.raises(ValueError):
        s.space.install_platform_page(1 << 47, b"", user=True, writable=False, executable=False)
    child = s.space.fork()
    try:
        assert child.reserved() == s.space.reserved()
        copied = translate(memory, child.root, stub)
        assert copied.gpa != got.gpa and bytes(memory.view(copied.gpa, 2)) == b"\x0f\x05"
    finally:
        child.close()


def test_mmio_page_points_outside_memory(s, memory):
    addr = 0xFFFF_FF80_0000_2000
    s.space.install_mmio_page(addr, memory.size + 0x3000, user=True, writable=True)
    got = s.walk(addr + 8)
    assert got == Translation(memory.size + 0x3008, True, True, False)
    with pytest.raises(ValueError):
        s.space.install_mmio_page(addr, PAGE, user=True, writable=True)
    child = s.space.fork()
    assert translate(memory, child.root, addr) == got._replace(gpa=memory.size + 0x3000)
    child.close()


def test_closed_space_refuses_work(memory):
    space = KvmAddressSpace(memory, lambda: None)
    space.map(BASE, PAGE, R)
    space.close()
    space.close()
    with pytest.raises(OSError):
        space.map(BASE, PAGE, R)
    with pytest.raises(GuestMemoryError):
        space.read(BASE, 1)
    assert not space.populate(BASE, False, False)
    assert memory.frames_in_use == 0


def test_freeing_a_table_the_guest_walked_asks_for_a_flush(s, memory):
    s.space.map(0x7000_0000_0000, 2 * PAGE, R | W)
    s.space.write(0x7000_0000_0000, b"x" * 2 * PAGE)
    tables = s.space.tables.table_frames
    s.space.unmap(0x7000_0000_0000, PAGE)
    s.space.unmap(0x7000_0000_1000, PAGE)  # tables the guest never walked go quietly
    assert s.space.tables.table_frames == tables - 3 and s.flushes == 0
    s.space.map(0x7000_0000_0000, PAGE, R | W)
    s.space.write(0x7000_0000_0000, b"x")
    s.access(0x7000_0000_0000)
    s.space.protect(0x7000_0000_0000, PAGE, 0)
    flushes = s.flushes
    s.space.unmap(0x7000_0000_0000, PAGE)  # the page was not present, but its tables go
    assert s.space.tables.table_frames == tables - 3
    assert s.flushes == flushes + 1


def test_a_damaged_entry_is_repaired_from_the_mapping(s, memory):
    s.space.map(BASE, PAGE, R | W)
    s.space.write(BASE, b"x")
    index = s.space.tables.leaf_index(BASE, False)
    memory.words[index] &= ~0x2  # as if the writable bit were lost
    assert s.space.populate(BASE, True, False)
    assert s.walk(BASE).writable and s.flushes == 0


# --- copy-on-write after fork -----------------------------------------------------------------


def test_fork_shares_private_frames_read_only_until_written(s, memory):
    s.space.map(BASE, 4 * PAGE, R | W)
    s.space.write(BASE, b"a" * PAGE + b"b" * PAGE + b"c" * PAGE + b"d" * PAGE)
    s.access(BASE)
    data_frames = memory.frames_in_use
    child = s.space.fork()
    try:
        assert s.flushes == 1  # the parent's writable pages became read-only
        assert memory.frames_in_use - data_frames == child.tables.table_frames  # no data copied
        for space in (s.space, child):
            got = translate(memory, space.root, BASE)
            assert got.gpa == s.walk(BASE).gpa and not got.writable
        # the child's write fault copies; the parent's page stays as it was
        assert child.populate(BASE, True, False)
        assert translate(memory, child.root, BASE).writable
        assert translate(memory, child.root, BASE).gpa != s.walk(BASE).gpa
        memory.view(translate(memory, child.root, BASE).gpa, 1)[:] = b"A"
        assert s.space.read(BASE, 2) == b"aa" and child.read(BASE, 2) == b"Aa"
        # the parent is now the frame's only user: no copy
        frame = s.walk(BASE).gpa
        flushes = s.flushes
        assert s.space.populate(BASE, True, False)
        assert s.walk(BASE) == Translation(frame, True, True, False) and s.flushes == flushes
        # the kernel's writes copy too, across pages
        s.space.write(BASE + PAGE - 1, b"XY")
        assert child.read(BASE + PAGE - 1, 2) == b"ab"
        child.write(BASE + 2 * PAGE, b"Z")
        assert s.space.read(BASE + 2 * PAGE, 1) == b"c"
        assert s.space.read(BASE + 3 * PAGE, 1) == child.read(BASE + 3 * PAGE, 1) == b"d"
    finally:
        child.close()
    assert s.space.read(BASE + 3 * PAGE, 1) == b"d"


def test_copy_on_write_survives_protect_move_discard_and_another_fork(s, memory):
    s.space.map(BASE, 2 * PAGE, R)
    s.space.write(BASE, b"r" * 2 * PAGE)
    child = s.space.fork()
    grandchild = child.fork()
    try:
        assert memory.references(s.walk(BASE).gpa) == 3
        child.protect(BASE, 2 * PAGE, R | W)
        assert not translate(memory, child.root, BASE).writable  # still shared
        child.move(BASE, 2 * PAGE, 0x3000_0000, 2 * PAGE)
        assert child.populate(0x3000_0000, True, False)
        child.write(0x3000_0000, b"C")
        grandchild.discard(BASE, PAGE)
        assert grandchild.read(BASE, 1) == b"\0"
        assert s.space.read(BASE, 2) == b"rr" and child.read(0x3000_0000, 2) == b"Cr"
        assert grandchild.read(BASE + PAGE, 1) == b"r"
    finally:
        grandchild.close()
        child.close()
    assert memory.references(s.walk(BASE).gpa) == 1


def test_shared_mappings_are_not_copy_on_write(s, memory):
    s.space.map(BASE, PAGE, R | W, shared=True)
    s.space.write(BASE, b"s")
    child = s.space.fork()
    try:
        assert s.flushes == 0
        assert translate(memory, child.root, BASE).writable
        child.write(BASE, b"t")
        assert s.space.read(BASE, 1) == b"t"
    finally:
        child.close()


def test_a_read_fault_on_a_copy_on_write_page_only_flushes(s, memory):
    s.space.map(BASE, PAGE, R | W)
    s.space.write(BASE, b"x")
    child = s.space.fork()
    try:
        flushes = s.flushes
        assert s.space.populate(BASE, False, False)
        assert s.flushes == flushes + 1 and not s.walk(BASE).writable
    finally:
        child.close()


def test_fork_copies_pages_the_guest_dirtied_and_shares_the_rest(s, memory):
    s.space.map(BASE, 2 * PAGE, R | W)
    s.space.write(BASE, b"d" * PAGE + b"c" * PAGE)
    s.access(BASE, write=True)
    s.access(BASE + PAGE)
    child = s.space.fork()
    try:
        assert s.flushes == 1  # for the clean page, now read-only
        dirty, clean = s.walk(BASE), s.walk(BASE + PAGE)
        assert dirty.writable and not clean.writable
        assert translate(memory, child.root, BASE).gpa != dirty.gpa
        assert translate(memory, child.root, BASE).writable
        assert translate(memory, child.root, BASE + PAGE).gpa == clean.gpa
        assert not memory.words[s.space.tables.leaf_index(BASE, False)] & 0x40  # tracked afresh
        assert child.read(BASE, 1) == b"d" and child.read(BASE + PAGE, 1) == b"c"
    finally:
        child.close()


def test_fork_running_out_of_memory_leaves_the_parent_whole():
    memory = GuestMemory(64 * PAGE)
    try:
        parent = KvmAddressSpace(memory, lambda: None)
        parent.map(BASE, 8 * PAGE, R | W)
        parent.write(BASE, bytes(range(256)) * 128)
        for page in range(8):
            memory.words[parent.tables.leaf_index(BASE + page * PAGE, False)] |= 0x40
        hog = memory.allocate_many(memory.frames_total - memory.frames_in_use - 6)
        with pytest.raises(OSError) as caught:
            parent.fork()
        assert caught.value.errno == errno.ENOMEM
        memory.release_many(hog)
        assert parent.read(BASE, 8 * PAGE) == bytes(range(256)) * 128
        parent.write(BASE, b"still mine")
        parent.close()
        assert memory.frames_in_use == 0
    finally:
        memory.close()


# --- the same random work on the fake platform's address space ----------------------------------


def _check_tables_match_mappings(space, memory):
    """Every frame the tables hold is inside a mapping and has exactly its rights."""
    for va, index in space.tables.leaves(0, USER_TOP):
        entry = memory.words[index]
        prot = space.access_allowed(va, False, False)
        assert prot is not None, f"a frame at {va:#x} outside every mapping"
        got = translate(memory, space.root, va)
        mapping = next(m for m in space.mappings() if m[0] <= va < m[1])
        if not mapping[2] & 7:
            assert got is None
            continue
        assert got is not None and got.user
        assert got.writable == bool(mapping[2] & W and not entry & (1 << 52))
        assert got.executable == bool(mapping[2] & X)


@pytest.mark.parametrize("seed", range(12))
def test_random_work_matches_the_fake_address_space(seed):
    import random

    from slimbox.platforms.fake import FakeAddressSpace

    rng = random.Random(seed)
    memory = GuestMemory(4096 * PAGE)
    kvm = [KvmAddressSpace(memory, lambda: None)]
    fake = [FakeAddressSpace()]
    area = [BASE + i * PAGE for i in range(48)]

    def both(name, *args, **kwargs):
        results = []
        for space in (kvm[-1], fake[-1]):
            try:
                results.append(("ok", getattr(space, name)(*args, **kwargs)))
            except GuestMemoryError as error:
                results.append(("fault", error.address))
            except OSError as error:
                results.append(("error", error.errno))
        assert results[0] == results[1], (name, args, results)

    try:
        for step in range(300):
            op = rng.choice(["map", "map", "unmap", "protect", "move", "discard", "read", "write", "write", "fork",
                             "touch"])
            addr, pages = rng.choice(area), rng.randint(1, 8)
            if op == "map":
                both("map", addr, pages * PAGE, rng.choice([0, R, R | W, R | X, R | W | X]), shared=rng.random() < 0.3)
            elif op == "unmap":
                both("unmap", addr, pages * PAGE)
            elif op == "protect":
                both("protect", addr, pages * PAGE, rng.choice([0, R, R | W, R | X]))
            elif op == "move":
                end = addr + pages * PAGE
                inside = [m for m in fake[-1].mappings() if m[0] < end and addr < m[1]]
                if not inside or inside[0][0] <= addr and end <= inside[0][1]:  # one mapping, as mremap
                    both("move", addr, pages * PAGE, rng.choice(area) + 0x100_0000, rng.randint(1, 8) * PAGE)
            elif op == "discard":
                if all(not m[3] for m in fake[-1].mappings() if m[0] < addr + pages * PAGE and addr < m[1]):
                    both("discard", addr, pages * PAGE)  # (the kernel never discards shared pages)
            elif op == "read":
                both("read", addr + rng.randint(0, PAGE), rng.randint(1, 3 * PAGE))
            elif op == "write":
                both("write", addr + rng.randint(0, PAGE), bytes([step % 251 + 1]) * rng.randint(1, 3 * PAGE))
            elif op == "touch" and kvm[-1].populate(addr, False, False):
                access(memory, kvm[-1].root, addr)
            elif op == "fork" and len(kvm) < 4:
                kvm.append(kvm[-1].fork())
                child = FakeAddressSpace()
                child.copy_from(fake[-1])
                fake.append(child)
            assert kvm[-1].mappings() == fake[-1].mappings()
        for space in kvm:
            _check_tables_match_mappings(space, memory)
        # every process still sees what it should, shared pages excepted (the fake copies them)
        for k_space, f_space in zip(kvm, fake):
            for start, end, _, shared in f_space.mappings():
                if not shared:
                    assert k_space.read(start, end - start) == f_space.read(start, end - start)
    finally:
        for space in kvm:
            space.close()
        assert memory.frames_in_use == 0
        memory.close()
