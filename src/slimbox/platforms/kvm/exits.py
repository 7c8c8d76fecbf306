"""How guest syscalls and faults leave the VM: the platform's own pages and their code.

Guest code runs in ring 3 and nothing of the platform runs in the guest beyond two
instructions. Every exit is a fault delivered through an ordinary IDT to a ring-0 stub,
one per vector, that stores to its own slot of a page whose guest-physical address lies
outside guest memory: KVM cannot complete that store itself and hands it to us as
KVM_EXIT_MMIO. The CPU's frame is on the ring-0 stack (IST 1 for every vector, so it
lands there whatever ring the fault came from); `iretq` returns to ring 3.

`syscall` jumps to LSTAR, an address where nothing is mapped: fetching there faults,
and that #PF is the syscall exit. On this machine's kvm_pvm `syscall` stays in ring 3
(rcx = return address, r11 = rflags, IF cleared by SFMASK); on conventional KVM it
enters ring 0, faults there the same way, and IST keeps the frame off the guest's stack.
IF is what tells a syscall from a guest jumping to LSTAR itself: ring 3 cannot clear it.

All pages sit in the top half, outside anything the guest can map, and all are
supervisor-only: to the guest they are as absent as natively (reads, writes and jumps
fault with SEGV_MAPERR). Ring-0 code is emulated by kvm_pvm (about 0.65 us an
instruction), hence one store per exit.
"""

from __future__ import annotations

import struct

from slimbox.platforms.base import PAGE_SIZE

#: where the platform's pages start: top half, PML4 slot 510 (kvm_pvm refuses slot 511)
BASE = 0xFFFF_FF00_0000_0000
#: LSTAR: never mapped, so `syscall` faults on fetching there
SYSCALL_ENTRY = BASE
IDT = BASE + 0x2000
GDT = BASE + 0x3000
TSS = BASE + 0x4000
RING0_STACK = BASE + 0x5000
RING0_STACK_TOP = BASE + 0x6000
HANDLERS = BASE + 0x6000
FAULT_EXIT_PAGE = BASE + 0x7000
END = BASE + 0x8000

VECTORS = 32
_HANDLER_SIZE = 16
IRETQ = HANDLERS + VECTORS * _HANDLER_SIZE

# GDT: null, (unused), kernel code, kernel data, user code 32, user data, user code 64, TSS
KERNEL_CS, USER32_CS, USER_SS, USER_CS, TSS_SELECTOR = 0x10, 0x23, 0x2B, 0x33, 0x38
_GDT_ENTRIES = (0, 0, 0x00AF9B000000FFFF, 0x00CF93000000FFFF, 0x00CFFB000000FFFF, 0x00CFF3000000FFFF,
                0x00AFFB000000FFFF)
_TSS_LIMIT = 0x67
#: STAR: sysret's base selector (user code 32) and syscall's kernel code selector
STAR = (USER32_CS << 48) | (KERNEL_CS << 32)

# vectors with an error code pushed by the CPU
_ERROR_CODE_VECTORS = frozenset((8, 10, 11, 12, 13, 14, 17, 21, 29, 30))
PAGE_FAULT = 14
PF_FETCH = 16
RFLAGS_IF = 0x200
#: interrupt frame words: [error code,] rip, cs, rflags, rsp, ss
_FRAME = struct.Struct("<5Q")


class PlatformLayout:
    """The addresses a vCPU is set up with (Vcpu.enter_user_mode) and the exit pages'
    guest-physical addresses (just above guest memory)."""

    user_cs = USER_CS
    user_ss = USER_SS
    tss = TSS
    tss_limit = _TSS_LIMIT
    tss_selector = TSS_SELECTOR
    gdt = GDT
    gdt_limit = (len(_GDT_ENTRIES) + 2) * 8 - 1
    idt = IDT
    idt_limit = VECTORS * 16 - 1
    syscall_entry = SYSCALL_ENTRY
    star = STAR

    def __init__(self, memory_size: int) -> None:
        self.fault_exit_gpa = memory_size

    def install(self, address_space) -> None:
        """Put the platform's pages into a fresh address space."""
        install = address_space.install_platform_page
        install(IDT, _idt(), user=False, writable=False, executable=False)
        install(GDT, _gdt(), user=False, writable=True, executable=False)
        install(TSS, _tss(), user=False, writable=True, executable=False)
        install(RING0_STACK, b"", user=False, writable=True, executable=False)
        install(HANDLERS, _handlers(), user=False, writable=False, executable=True)
        address_space.install_mmio_page(FAULT_EXIT_PAGE, self.fault_exit_gpa, user=False, writable=True)

    def vector(self, gpa: int) -> int:
        """The exception vector an MMIO exit at `gpa` reports, or -1 if it is no exit of ours."""
        offset = gpa - self.fault_exit_gpa
        if 0 <= offset < VECTORS * 8 and not offset % 8:
            return offset // 8
        return -1


def is_syscall(vector: int, error: int, rip: int, rflags: int) -> bool:
    """Whether a fault is the syscall exit: an instruction fetch at LSTAR with IF clear."""
    return vector == PAGE_FAULT and rip == SYSCALL_ENTRY and error & PF_FETCH and not rflags & RFLAGS_IF


def fault_frame(view: memoryview, vector: int) -> tuple[int, int, int, int]:
    """(error code, rip, rflags, rsp) the CPU pushed for `vector` on the ring-0 stack
    (`view`: that page, from ring0_stack)."""
    words = 6 if vector in _ERROR_CODE_VECTORS else 5
    top = PAGE_SIZE - 8 * words
    error = struct.unpack_from("<Q", view, top)[0] if words == 6 else 0
    rip, _, rflags, rsp, _ = _FRAME.unpack_from(view, PAGE_SIZE - _FRAME.size)
    return error, rip, rflags, rsp


def fault_frame_cs(view: memoryview) -> int:
    """The code selector the fault came from (its low bits are the ring)."""
    return struct.unpack_from("<Q", view, PAGE_SIZE - 32)[0]


def push_return_frame(view: memoryview, rip: int, rflags: int, rsp: int) -> int:
    """Write the frame `iretq` takes back to ring 3; the ring-0 rsp to run IRETQ with."""
    _FRAME.pack_into(view, PAGE_SIZE - _FRAME.size, rip, USER_CS, rflags, rsp, USER_SS)
    return RING0_STACK_TOP - _FRAME.size


def ring0_stack(address_space) -> memoryview:
    """The ring-0 stack page of an address space (fixed for its life: a platform page)."""
    frame = address_space.frame_of(RING0_STACK)
    return address_space.memory.view(frame, PAGE_SIZE)


def _gdt() -> bytes:
    low = _TSS_LIMIT | ((TSS & 0xFFFFFF) << 16) | (0x89 << 40) | (((TSS >> 24) & 0xFF) << 56)
    return b"".join(struct.pack("<Q", entry) for entry in (*_GDT_ENTRIES, low, TSS >> 32))


def _tss() -> bytes:
    data = bytearray(104)
    struct.pack_into("<Q", data, 4, RING0_STACK_TOP)   # rsp0
    struct.pack_into("<Q", data, 36, RING0_STACK_TOP)  # ist1: every vector's stack
    struct.pack_into("<H", data, 102, 104)              # no I/O permission bitmap
    return bytes(data)


def _idt() -> bytes:
    out = bytearray()
    for vector in range(VECTORS):
        handler = HANDLERS + vector * _HANDLER_SIZE
        # interrupt gates; int3 and into may be raised from ring 3 (DPL 3)
        attributes = 0xEE if vector in (3, 4) else 0x8E
        out += struct.pack("<HHBBHII", handler & 0xFFFF, KERNEL_CS, 1, attributes, (handler >> 16) & 0xFFFF,
                           handler >> 32, 0)
    return bytes(out)


def _handlers() -> bytes:
    """Per vector: mov byte [rip + to its slot of the fault exit page], vector; ud2."""
    out = bytearray()
    for vector in range(VECTORS):
        at = HANDLERS + vector * _HANDLER_SIZE
        target = FAULT_EXIT_PAGE + vector * 8
        code = b"\xc6\x05" + struct.pack("<i", target - (at + 7)) + bytes((vector,)) + b"\x0f\x0b"
        out += code.ljust(_HANDLER_SIZE, b"\xcc")
    out += b"\x48\xcf"  # iretq
    return bytes(out)
