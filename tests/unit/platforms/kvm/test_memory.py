"""GuestMemory: frames out of one host mapping, zeroed, reference-counted, bounded."""

import errno

import pytest

from slimbox.platforms.kvm.memory import TRIM_FRAMES, GuestMemory

PAGE = 4096


@pytest.fixture
def memory():
    mem = GuestMemory(16 * PAGE)
    yield mem
    mem.close()


def test_frames_are_aligned_distinct_and_never_frame_zero(memory):
    frames = [memory.allocate() for _ in range(memory.frames_total)]
    assert len(set(frames)) == len(frames) == 15
    assert all(gpa % PAGE == 0 and PAGE <= gpa < memory.size for gpa in frames)
    assert memory.frames_in_use == 15


def test_full_memory_is_enomem(memory):
    for _ in range(memory.frames_total):
        memory.allocate()
    with pytest.raises(OSError) as caught:
        memory.allocate()
    assert caught.value.errno == errno.ENOMEM


def test_a_released_frame_comes_back_zeroed(memory):
    gpa = memory.allocate()
    memory.view(gpa, PAGE)[:] = b"\xAA" * PAGE
    memory.release(gpa)
    assert memory.frames_in_use == 0
    again = memory.allocate()
    assert again == gpa
    assert memory.view(again, PAGE) == bytes(PAGE)


def test_shared_frame_is_freed_by_its_last_reference(memory):
    gpa = memory.allocate()
    memory.share(gpa)
    memory.share(gpa)
    assert memory.references(gpa) == 3
    memory.release(gpa)
    memory.release(gpa)
    assert memory.frames_in_use == 1
    memory.release(gpa)
    assert memory.frames_in_use == 0


@pytest.mark.parametrize("bad", [0, 1, PAGE + 8, 15 * PAGE, 16 * PAGE, -PAGE])
def test_releasing_what_is_not_an_allocated_frame_is_refused(memory, bad):
    memory.allocate()
    with pytest.raises(ValueError):
        memory.release(bad)


def test_double_release_is_refused(memory):
    gpa = memory.allocate()
    memory.release(gpa)
    with pytest.raises(ValueError):
        memory.release(gpa)
    with pytest.raises(ValueError):
        memory.share(gpa)


def test_view_is_bounded_and_aliases_the_words(memory):
    gpa = memory.allocate()
    memory.view(gpa + 8, 8)[:] = (0x1122334455667788).to_bytes(8, "little")
    assert memory.words[gpa // 8 + 1] == 0x1122334455667788
    for start, length in ((memory.size - 8, 16), (-8, 8), (0, -1)):
        with pytest.raises(ValueError):
            memory.view(start, length)


def test_sizes_that_are_not_whole_frames_are_refused():
    for size in (PAGE, 3 * PAGE + 1, 0):
        with pytest.raises(ValueError):
            GuestMemory(size)


def test_a_huge_reservation_costs_nothing_until_touched():
    mem = GuestMemory(64 << 30)
    try:
        assert mem.host_address and mem.size == 64 << 30
        gpa = mem.allocate()
        mem.view(gpa, 4)[:] = b"abcd"
        assert bytes(mem.view(gpa, 4)) == b"abcd"
    finally:
        mem.close()
    assert mem.closed


def test_unzeroed_allocation_is_only_for_callers_that_fill_the_frame(memory):
    gpa = memory.allocate()
    memory.view(gpa, 4)[:] = b"junk"
    memory.release(gpa)
    again = memory.allocate(zeroed=False)
    assert again == gpa and memory.frames_in_use == 1
    assert memory.view(memory.allocate(), PAGE) == bytes(PAGE)


def test_many_frames_at_once_are_all_or_nothing(memory):
    first = memory.allocate()
    memory.view(first, 4)[:] = b"junk"
    memory.release(first)
    frames = memory.allocate_many(5)
    assert frames[0] == first and memory.view(first, 4) == bytes(4)
    assert frames[1:] == [frames[1] + i * PAGE for i in range(4)]  # fresh frames ascend
    assert memory.frames_in_use == 5
    with pytest.raises(OSError):
        memory.allocate_many(memory.frames_total)
    assert memory.frames_in_use == 5
    assert memory.allocate_many(0) == []
    for gpa in frames:
        memory.release(gpa)
    assert memory.frames_in_use == 0


def test_release_many_counts_references(memory):
    a, b = memory.allocate(), memory.allocate()
    memory.share(b)
    memory.release_many([a, b])
    assert memory.frames_in_use == 1 and memory.references(b) == 1
    with pytest.raises(ValueError):
        memory.release_many([a])
    memory.release_many([b])
    assert memory.frames_in_use == 0


def test_share_many_adds_one_reference_each(memory):
    a, b = memory.allocate(), memory.allocate()
    memory.share_many([a, b, b])
    assert (memory.references(a), memory.references(b)) == (2, 3)
    with pytest.raises(ValueError):
        memory.share_many([a + 1])


def test_a_large_release_gives_memory_back_to_the_host():
    mem = GuestMemory(8192 * PAGE)
    try:
        frames = mem.allocate_many(TRIM_FRAMES + 10)
        for gpa in frames:
            mem.view(gpa, 8)[:] = b"occupied"
        shared = frames[5]
        mem.share(shared)
        mem.release_many(frames)
        assert mem.frames_in_use == 1
        assert bytes(mem.view(frames[0], 8)) == bytes(8)  # given back: zero
        assert bytes(mem.view(shared, 8)) == b"occupied"  # still in use: untouched
        again = mem.allocate_many(3)
        assert all(mem.view(gpa, PAGE) == bytes(PAGE) for gpa in again)
    finally:
        mem.close()
