"""The stub: the tiny static ELF that becomes each guest process on the host.

It is generated here, byte by byte, so no compiler is needed at run time. It holds
one page of position-independent code and nothing else:

    entry:      int3            ; report "ready" to the supervisor (SIGTRAP stop)
                jmp entry
    trampoline: syscall         ; the only place host syscalls may come from, and
                int3            ; only those the seccomp filter lets through there

The host kernel loads it at a randomised address (it is ET_DYN without an
interpreter), so a guest cannot guess where the trampoline is; the sandbox kernel's
own view of memory never shows it.
"""

from __future__ import annotations

import struct

from slimbox.abi.tuples import named_tuple

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")

_ET_DYN = 3
_EM_X86_64 = 62
_PT_LOAD = 1
_PT_GNU_STACK = 0x6474E551
_PF_X, _PF_W, _PF_R = 1, 2, 4

_CODE = bytes((
    0xCC,        # entry: int3
    0xEB, 0xFD,  # jmp entry
    0x0F, 0x05,  # trampoline: syscall
    0xCC,        # int3
))
_ENTRY_OFFSET = 0
_TRAMPOLINE_OFFSET = 3


class StubImage(named_tuple("StubImage", "elf entry trampoline")):
    """The stub's ELF bytes, the file offset (= load offset) of its entry point and the
    load offset of the trampoline's `syscall` instruction."""

    __slots__ = ()

    def trampoline_syscall_end(self, base: int) -> int:
        """The instruction pointer seccomp reports for a syscall made at the trampoline."""
        return base + self.trampoline + 2

    def trampoline_trap_end(self, base: int) -> int:
        """The instruction pointer after the trampoline's int3."""
        return base + self.trampoline + 3


def build_stub() -> StubImage:
    phnum = 2
    code_offset = _EHDR.size + phnum * _PHDR.size
    total = code_offset + len(_CODE)
    ident = b"\x7fELF" + bytes((2, 1, 1, 0)) + bytes(8)  # 64-bit, little endian, SysV
    ehdr = _EHDR.pack(ident, _ET_DYN, _EM_X86_64, 1, code_offset + _ENTRY_OFFSET,
                      _EHDR.size, 0, 0, _EHDR.size, _PHDR.size, phnum, 64, 0, 0)
    load = _PHDR.pack(_PT_LOAD, _PF_R | _PF_X, 0, 0, 0, total, total, 0x1000)
    stack = _PHDR.pack(_PT_GNU_STACK, _PF_R | _PF_W, 0, 0, 0, 0, 0, 16)
    return StubImage(ehdr + load + stack + _CODE, code_offset + _ENTRY_OFFSET,
                     code_offset + _TRAMPOLINE_OFFSET)
