"""The stub: the tiny static ELF that becomes each guest process on the host.

It is generated here, byte by byte, so no compiler is needed at run time. It holds
one page of position-independent code and nothing else:

    entry:      int3            ; report "ready" to the supervisor (SIGTRAP stop)
                jmp entry
    trampoline: syscall         ; one of the two places host syscalls may come from, and
                int3            ; only those the seccomp filter lets through there
    batch:      mov rax, [rbx]      ; rbx: a table of calls, 7 words each (number and
                mov rdi, [rbx+8]    ; six arguments); r12: how many
                ...                 ; (the other four argument registers)
                syscall             ; the other place, under the same filter rules
                cmp rax, -4095
                jae done            ; the first failure ends the batch
                add rbx, 56
                dec r12
                jnz batch
    done:       int3                ; r12 = calls not done (0: all succeeded), rax

The batch loop runs several memory calls in one stop instead of one stop each; it
reads its table from memory the guest could change too, so it gives a guest that
finds it nothing the trampoline does not.

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

_BATCH_LOOP = bytes((
    0x48, 0x8B, 0x03,                    # batch: mov rax, [rbx]
    0x48, 0x8B, 0x7B, 0x08,              # mov rdi, [rbx+8]
    0x48, 0x8B, 0x73, 0x10,              # mov rsi, [rbx+16]
    0x48, 0x8B, 0x53, 0x18,              # mov rdx, [rbx+24]
    0x4C, 0x8B, 0x53, 0x20,              # mov r10, [rbx+32]
    0x4C, 0x8B, 0x43, 0x28,              # mov r8, [rbx+40]
    0x4C, 0x8B, 0x4B, 0x30,              # mov r9, [rbx+48]
    0x0F, 0x05,                          # syscall
    0x48, 0x3D, 0x01, 0xF0, 0xFF, 0xFF,  # cmp rax, -4095
    0x73, 0x09,                          # jae done (an error: stop at it)
    0x48, 0x83, 0xC3, 0x38,              # add rbx, 56
    0x49, 0xFF, 0xCC,                    # dec r12
))
_BATCH_SYSCALL_END = 29      # offset in the loop just after its syscall
_CODE = bytes((
    0xCC,        # entry: int3
    0xEB, 0xFD,  # jmp entry
    0x0F, 0x05,  # trampoline: syscall
    0xCC,        # int3
)) + _BATCH_LOOP + bytes((0x75, (-(len(_BATCH_LOOP) + 2)) & 0xFF,  # jnz batch
                          0xCC))                                   # done: int3
_ENTRY_OFFSET = 0
_TRAMPOLINE_OFFSET = 3
_BATCH_OFFSET = 6
#: the layout of one call in a batch table: number and six arguments
BATCH_ENTRY = struct.Struct("<7Q")


class StubImage(named_tuple("StubImage", "elf entry trampoline batch")):
    """The stub's ELF bytes, the file offset (= load offset) of its entry point, the
    load offset of the trampoline's `syscall` instruction and that of the batch loop."""

    __slots__ = ()

    def trampoline_syscall_end(self, base: int) -> int:
        """The instruction pointer seccomp reports for a syscall made at the trampoline."""
        return base + self.trampoline + 2

    def trampoline_trap_end(self, base: int) -> int:
        """The instruction pointer after the trampoline's int3."""
        return base + self.trampoline + 3

    def batch_syscall_end(self, base: int) -> int:
        """The instruction pointer seccomp reports for a syscall made in the batch loop."""
        return base + self.batch + _BATCH_SYSCALL_END

    def batch_trap_end(self, base: int) -> int:
        """The instruction pointer after the batch loop's closing int3."""
        return base + self.batch + len(_BATCH_LOOP) + 3


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
                     code_offset + _TRAMPOLINE_OFFSET, code_offset + _BATCH_OFFSET)
