"""The x86-64 general-purpose register file, in the order of `struct user_regs_struct`."""

from __future__ import annotations

REG_NAMES: tuple[str, ...] = (
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
    "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
    "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
)

#: Registers carrying syscall arguments 1..6 (the kernel ABI uses r10, not rcx).
SYSCALL_ARG_REGS: tuple[str, ...] = ("rdi", "rsi", "rdx", "r10", "r8", "r9")

MASK64 = (1 << 64) - 1

_RDI, _RSI, _RDX, _R10, _R8, _R9 = (REG_NAMES.index(n) for n in SYSCALL_ARG_REGS)


class Regs(list):
    """A mutable copy of one thread's registers: a list of 27 unsigned 64-bit values
    (so a platform can pack it in one call) with a named attribute per register.
    Assigning through an attribute keeps the value in 64 bits."""

    __slots__ = ()

    @classmethod
    def zeros(cls) -> Regs:
        return cls((0,) * len(REG_NAMES))

    def copy(self) -> Regs:
        return Regs(self)

    def syscall_args(self) -> tuple[int, int, int, int, int, int]:
        return (self[_RDI], self[_RSI], self[_RDX], self[_R10], self[_R8], self[_R9])

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n):#x}" for n in ("rip", "rsp", "rax", "orig_rax"))
        return f"Regs({shown})"


def _register_property(index: int) -> property:
    def get(self: Regs) -> int:
        return self[index]

    def set_(self: Regs, value: int) -> None:
        self[index] = value & MASK64

    return property(get, set_)


for _index, _name in enumerate(REG_NAMES):
    setattr(Regs, _name, _register_property(_index))
del _index, _name
