"""A thread's FP/SSE state as a 512-byte FXSAVE image.

The image is made by the emulated CPU itself: two platform pages at the top of every
address space hold `fxsave64 [rax]` / `fxrstor64 [rax]` (a read-only, executable page)
and the 512-byte area they use (the page above it, beyond the guest's TASK_SIZE). One
instruction is run there with the thread's registers as they are, and the thread's
rax and rip are put back. Reading the x87 registers one by one instead does not
work: unicorn reports empty x87 registers as tagged "zero", so the abridged tag word
could not be rebuilt. (The rip-relative forms of these instructions raise an
exception in unicorn 2.1, hence the register operand.)
"""

from __future__ import annotations

import errno
import struct

from slimbox.platforms.base import PAGE_SIZE
from slimbox.platforms.emu import engine as uc

FXSAVE_SIZE = 512
#: the platform's code page (kept from the guest through AddressSpace.reserved) and the
#: data page above it, the last one below the canonical-address hole
CODE_PAGE = 0x7FFFFFFFE000
DATA_PAGE = CODE_PAGE + PAGE_SIZE
#: fxsave64 [rax], then fxrstor64 [rax]
SAVE_AT, RESTORE_AT = CODE_PAGE, CODE_PAGE + 4
STUB_CODE = b"\x48\x0f\xae\x00" + b"\x48\x0f\xae\x08"
_INSTRUCTION_LENGTH = 4

#: a freshly initialised FXSAVE image: x87 control word 0x37F, MXCSR 0x1F80 and its mask
FRESH = ((0x037F).to_bytes(2, "little") + bytes(22) + (0x1F80).to_bytes(4, "little")
         + (0xFFFF).to_bytes(4, "little") + bytes(480))
_MXCSR = struct.Struct("<I")
_MXCSR_OFFSET = 24
#: MXCSR bits the emulated CPU accepts (its MXCSR_MASK); others make fxrstor fault
MXCSR_MASK = 0xFFFF
_ATTEMPTS = 3


def check_image(data: bytes) -> bytes:
    """The legacy 512 bytes of an FXSAVE or XSAVE image, if the CPU would take them
    (OSError EINVAL otherwise: fxrstor would fault on reserved MXCSR bits)."""
    if len(data) < FXSAVE_SIZE:
        raise OSError(errno.EINVAL, f"an FP state image is at least {FXSAVE_SIZE} bytes")
    image = bytes(data[:FXSAVE_SIZE])
    if _MXCSR.unpack_from(image, _MXCSR_OFFSET)[0] & ~MXCSR_MASK:
        raise OSError(errno.EINVAL, "reserved MXCSR bits set in an FP state image")
    return image


def _run_one(engine: uc.Engine, at: int) -> None:
    """Run the stub instruction at `at`, keeping the loaded thread's rax and rip."""
    rip = engine.read_register(uc.RIP)
    rax = engine.read_register(uc.RAX)
    engine.write_register(uc.RAX, DATA_PAGE)
    try:
        for _ in range(_ATTEMPTS):
            status = engine.run(at, at + _INSTRUCTION_LENGTH)
            # (a stop meant for a guest run may land here: then run it again)
            if status == uc.ERR_OK and engine.read_register(uc.RIP) == at + _INSTRUCTION_LENGTH:
                return
        raise OSError(errno.EIO, f"the emulator did not run its FP state instruction (status {status})")
    finally:
        engine.reason = uc.STOP_NONE
        engine.write_register(uc.RAX, rax)
        engine.write_register(uc.RIP, rip)


def save(engine: uc.Engine, data_page) -> bytes:
    """The loaded thread's FXSAVE image; `data_page` is the host buffer of DATA_PAGE."""
    _run_one(engine, SAVE_AT)
    return bytes(data_page[:FXSAVE_SIZE])


def restore(engine: uc.Engine, data_page, image: bytes) -> None:
    """Load `image` (checked with check_image) into the loaded thread."""
    data_page[:FXSAVE_SIZE] = image
    _run_one(engine, RESTORE_AT)
