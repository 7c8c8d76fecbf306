"""exits.py: the platform's pages as the CPU would read them (no /dev/kvm needed)."""

import struct

import pytest
from test_pagetables import translate

from slimbox.platforms.kvm import exits
from slimbox.platforms.kvm.address_space import KvmAddressSpace
from slimbox.platforms.kvm.memory import GuestMemory

PAGE = 4096


@pytest.fixture
def space():
    memory = GuestMemory(512 * PAGE)
    flushes = []
    aspace = KvmAddressSpace(memory, lambda: flushes.append(1))
    exits.PlatformLayout(memory.size).install(aspace)
    yield aspace
    aspace.close()
    memory.close()


def _page(space, va):
    return bytes(space.memory.view(space.frame_of(va), PAGE))


def test_every_platform_page_is_supervisor_only_and_listed(space):
    listed = space.reserved()
    assert listed and all(exits.BASE <= start < end <= exits.END for start, end in listed)
    pages = [va for start, end in listed for va in range(start, end, PAGE)]
    for va in pages:
        where = translate(space.memory, space.root, va)
        assert where is not None
        assert not where.user, f"{va:#x} is reachable from ring 3"
        assert where.executable == (va == exits.HANDLERS), f"{va:#x}"
    # LSTAR has nothing behind it: fetching there is the syscall exit
    assert translate(space.memory, space.root, exits.SYSCALL_ENTRY) is None


def test_fault_exit_page_is_outside_guest_memory(space):
    where = translate(space.memory, space.root, exits.FAULT_EXIT_PAGE)
    assert where is not None and not where.user and where.writable and not where.executable
    assert where.gpa >= space.memory.size


def test_each_vector_has_a_gate_to_a_stub_storing_to_its_own_slot(space):
    idt, handlers = _page(space, exits.IDT), _page(space, exits.HANDLERS)
    layout = exits.PlatformLayout(space.memory.size)
    for vector in range(exits.VECTORS):
        low, selector, ist, attributes, mid, high, _ = struct.unpack_from("<HHBBHII", idt, vector * 16)
        handler = low | (mid << 16) | (high << 32)
        assert selector == exits.KERNEL_CS and ist == 1
        assert attributes == (0xEE if vector in (3, 4) else 0x8E)  # only int3/into from ring 3
        code = handlers[handler - exits.HANDLERS:][:7]
        assert code[:2] == b"\xc6\x05" and code[6] == vector  # mov byte [rip + disp32], vector
        target = handler + 7 + struct.unpack_from("<i", code, 2)[0]
        assert target == exits.FAULT_EXIT_PAGE + vector * 8
        assert layout.vector(layout.fault_exit_gpa + vector * 8) == vector
    assert handlers[exits.IRETQ - exits.HANDLERS:][:2] == b"\x48\xcf"
    assert layout.vector(layout.fault_exit_gpa + exits.VECTORS * 8) == -1
    assert layout.vector(layout.fault_exit_gpa + 3) == -1


def test_tss_sends_every_fault_to_the_ring0_stack(space):
    tss = _page(space, exits.TSS)
    rsp0, = struct.unpack_from("<Q", tss, 4)
    ist1, = struct.unpack_from("<Q", tss, 36)
    assert rsp0 == ist1 == exits.RING0_STACK_TOP
    gdt = _page(space, exits.GDT)
    low, high = struct.unpack_from("<QQ", gdt, exits.TSS_SELECTOR)
    base = ((low >> 16) & 0xFFFFFF) | (((low >> 56) & 0xFF) << 24) | (high << 32)
    assert base == exits.TSS


def test_frames_round_trip_through_the_ring0_stack(space):
    view = exits.ring0_stack(space)
    sp = exits.push_return_frame(view, 0x401000, 0x246, 0x7FFF0000)
    assert sp == exits.RING0_STACK_TOP - 40
    assert exits.fault_frame(view, 6) == (0, 0x401000, 0x246, 0x7FFF0000)
    assert exits.fault_frame_cs(view) == exits.USER_CS
    struct.pack_into("<Q", view, PAGE - 48, 0x14)  # a page fault's error code below the frame
    assert exits.fault_frame(view, exits.PAGE_FAULT) == (0x14, 0x401000, 0x246, 0x7FFF0000)
    assert bytes(space.memory.view(space.frame_of(exits.RING0_STACK), PAGE)) == bytes(view)
    view.release()


@pytest.mark.parametrize("vector, error, rip, rflags, expected", [
    (14, 0x14, exits.SYSCALL_ENTRY, 0x46, True),      # a syscall: IF cleared by SFMASK
    (14, 0x14, exits.SYSCALL_ENTRY, 0x246, False),    # a jump there: ring 3 cannot clear IF
    (14, 0x06, exits.SYSCALL_ENTRY, 0x46, False),     # not a fetch
    (14, 0x14, exits.SYSCALL_ENTRY + 1, 0x46, False),
    (6, 0, exits.SYSCALL_ENTRY, 0x46, False),
])
def test_syscall_exit_is_a_fetch_fault_at_lstar_with_if_clear(vector, error, rip, rflags, expected):
    assert bool(exits.is_syscall(vector, error, rip, rflags)) is expected
