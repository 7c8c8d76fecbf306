"""A thread's FP/SSE state as a 512-byte FXSAVE image.

The image is made by the emulated CPU itself: two platform pages at the top of the
address space hold `fxsave64 [rax]` / `fxrstor64 [rax]` and the 512-byte area they
use. They are mapped only while one of those instructions runs, with the thread's
registers as they are (its rax and rip are put back after), so the guest never sees
them: its accesses there fault as if nothing were there. Reading the x87 registers
one by one instead does not work: unicorn reports empty x87 registers as tagged
"zero", so the abridged tag word could not be rebuilt. (The rip-relative forms of these instructions raise an
exception in unicorn 2.1, hence the register operand.)

The same pages take a fresh emulator to ring 3 once (`StubPages.enter_user_mode`).
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import struct

from slimbox.platforms.base import PAGE_SIZE
from slimbox.platforms.emu import engine as uc

FXSAVE_SIZE = 512
#: the platform's code page (kept from the guest through AddressSpace.reserved) and the
#: data page above it (beyond TASK_SIZE), the last one below the canonical-address hole
CODE_PAGE = 0x7FFFFFFFE000
DATA_PAGE = CODE_PAGE + PAGE_SIZE
#: fxsave64 [rax], then fxrstor64 [rax]
SAVE_AT, RESTORE_AT = CODE_PAGE, CODE_PAGE + 4
STUB_CODE = b"\x48\x0f\xae\x00" + b"\x48\x0f\xae\x08"
_INSTRUCTION_LENGTH = 4

#: user mode: Linux's selectors (GDT entries 6 and 5, RPL 3) and their descriptors (64-bit
#: code, and data, both DPL 3), an iretq into ring 3 and where it lands
USER_CS, USER_DS = 0x33, 0x2B
_GDT = bytes(5 * 8) + (0x00CFF3000000FFFF).to_bytes(8, "little") + (0x00AFFB000000FFFF).to_bytes(8, "little")
_IRETQ = b"\x48\xcf"
_IRETQ_AT = CODE_PAGE + 0x100
_LANDING = _IRETQ_AT + len(_IRETQ)
_FRAME_AT = DATA_PAGE + 0x400
_GDT_AT = DATA_PAGE + 0x800
_IRET_FRAME = struct.Struct("<5Q")  # rip, cs, rflags, rsp, ss
_USER_EFLAGS = 0x202
_GDTR = 243  # UC_X86_REG_GDTR

#: a freshly initialised FXSAVE image: x87 control word 0x37F, MXCSR 0x1F80 and its mask
FRESH = ((0x037F).to_bytes(2, "little") + bytes(22) + (0x1F80).to_bytes(4, "little")
         + (0xFFFF).to_bytes(4, "little") + bytes(480))
_MXCSR = struct.Struct("<I")
_MXCSR_OFFSET = 24
#: MXCSR bits the emulated CPU accepts (its MXCSR_MASK); others make fxrstor fault
MXCSR_MASK = 0xFFFF
_READ_WRITE_EXEC = 7


def check_image(data: bytes) -> bytes:
    """The legacy 512 bytes of an FXSAVE or XSAVE image, if the CPU would take them
    (OSError EINVAL otherwise: fxrstor would fault on reserved MXCSR bits)."""
    if len(data) < FXSAVE_SIZE:
        raise OSError(errno.EINVAL, f"an FP state image is at least {FXSAVE_SIZE} bytes")
    image = bytes(data[:FXSAVE_SIZE])
    if _MXCSR.unpack_from(image, _MXCSR_OFFSET)[0] & ~MXCSR_MASK:
        raise OSError(errno.EINVAL, "reserved MXCSR bits set in an FP state image")
    return image


def _run_one(engine: uc.Engine, pages: int, at: int) -> None:
    """Run the stub instruction at `at` with the stub's two pages (host address `pages`)
    mapped, keeping the loaded thread's rax and rip."""
    rip = engine.read_register(uc.RIP)
    rax = engine.read_register(uc.RAX)
    engine.write_register(uc.RAX, DATA_PAGE)
    engine.map_host_memory(CODE_PAGE, 2 * PAGE_SIZE, _READ_WRITE_EXEC, pages)
    try:
        status = engine.run(at, at + _INSTRUCTION_LENGTH)
        if status != uc.ERR_OK or engine.read_register(uc.RIP) != at + _INSTRUCTION_LENGTH:
            raise OSError(errno.EIO, f"the emulator did not run its FP state instruction (status {status})")
    finally:
        engine.unmap(CODE_PAGE, 2 * PAGE_SIZE)
        engine.reason = uc.STOP_NONE
        engine.write_register(uc.RAX, rax)
        engine.write_register(uc.RIP, rip)


class StubPages:
    """The host buffer of the two stub pages of one address space. Besides the FP state
    instructions they hold what takes a fresh emulator to user mode (`enter_user_mode`)."""

    def __init__(self) -> None:
        self.buffer = mmap.mmap(-1, 2 * PAGE_SIZE)
        self.buffer[:len(STUB_CODE)] = STUB_CODE
        self._anchor = ctypes.c_char.from_buffer(self.buffer)
        self.address = ctypes.addressof(self._anchor)

    def enter_user_mode(self, engine: uc.Engine) -> None:
        """Put the emulated CPU in ring 3 with Linux's user code and data selectors, as a
        Linux process runs: privileged instructions (hlt, cli, mov to control registers,
        in/out) then raise a general protection fault instead of acting on the CPU. unicorn
        sets no privilege level through its registers, so an `iretq` does it, with a GDT
        of the two user descriptors on the data page; both pages are unmapped after."""
        buffer = self.buffer
        buffer[_IRETQ_AT - CODE_PAGE:_IRETQ_AT - CODE_PAGE + 2] = _IRETQ
        buffer[_GDT_AT - CODE_PAGE:_GDT_AT - CODE_PAGE + len(_GDT)] = _GDT
        buffer[_FRAME_AT - CODE_PAGE:_FRAME_AT - CODE_PAGE + _IRET_FRAME.size] = _IRET_FRAME.pack(
            _LANDING, USER_CS, _USER_EFLAGS, 0, USER_DS)
        engine.uc.reg_write(_GDTR, (0, _GDT_AT, len(_GDT) - 1, 0))
        engine.write_register(uc.RSP, _FRAME_AT)
        engine.map_host_memory(CODE_PAGE, 2 * PAGE_SIZE, _READ_WRITE_EXEC, self.address)
        try:
            status = engine.run(_IRETQ_AT, _LANDING)
            if status != uc.ERR_OK or engine.read_register(uc.RIP) != _LANDING:
                raise OSError(errno.EIO, f"the emulator did not enter user mode (status {status})")
        finally:
            engine.unmap(CODE_PAGE, 2 * PAGE_SIZE)
            engine.reason = uc.STOP_NONE
            engine.write_register(uc.RSP, 0)
            engine.write_register(uc.RIP, 0)

    def save(self, engine: uc.Engine) -> bytes:
        """The loaded thread's FXSAVE image."""
        _run_one(engine, self.address, SAVE_AT)
        return self.buffer[PAGE_SIZE:PAGE_SIZE + FXSAVE_SIZE]

    def restore(self, engine: uc.Engine, image: bytes) -> None:
        """Load `image` (checked with check_image) into the loaded thread."""
        self.buffer[PAGE_SIZE:PAGE_SIZE + FXSAVE_SIZE] = image
        _run_one(engine, self.address, RESTORE_AT)
