"""One unicorn CPU emulator instance: a guest address space's CPU and memory map.

The hot path (run a thread until its next syscall, read the syscall's registers,
write its result) goes straight to unicorn's C functions through the ctypes library
the unicorn package loads, with preallocated register batches: the package's
per-register `reg_read` costs ~5 us, a batch of 20 costs about as much as one.

Hooks are only the ones needed to turn guest events into kernel events: the SYSCALL
instruction, CPU interrupts (int3, divide errors, int 0x80...) and invalid memory
accesses. None of them runs per instruction or per block (only unicorn's own
instruction counter does, in C, once a process needs time slices: scheduler.py);
each records why the run ended and stops the emulator.
"""

from __future__ import annotations

import ctypes

from slimbox.platforms.base import PlatformUnavailable
from slimbox.platforms.emu.scheduler import SLICE_INSTRUCTIONS

_INSTALL_HINT = "pip install 'unicorn>=2.1,<3'"

# unicorn constants (unicorn_const.py / x86_const.py of unicorn 2), kept here so the
# hot path does not look them up in another module
UC_ARCH_X86, UC_MODE_64 = 4, 8
UC_HOOK_INTR, UC_HOOK_INSN, UC_HOOK_MEM_INVALID = 1, 2, 1008
UC_X86_INS_SYSCALL = 699
ERR_OK = 0
ERR_READ_UNMAPPED, ERR_WRITE_UNMAPPED, ERR_FETCH_UNMAPPED = 6, 7, 8
ERR_INSN_INVALID = 10
ERR_WRITE_PROT, ERR_READ_PROT, ERR_FETCH_PROT = 12, 13, 14
MEM_UNMAPPED_TYPES = frozenset((19, 20, 21))   # UC_MEM_{READ,WRITE,FETCH}_UNMAPPED
MEM_PROT_TYPES = frozenset((22, 23, 24))       # UC_MEM_{WRITE,READ,FETCH}_PROT

# x86 register ids of unicorn 2
RAX, RBP, RBX, RCX, RDI, RDX, RIP, RSI, RSP = 35, 36, 37, 38, 39, 40, 41, 43, 44
R8, R9, R10, R11, R12, R13, R14, R15 = 106, 107, 108, 109, 110, 111, 112, 113
RFLAGS, FS_BASE, GS_BASE = 253, 250, 251

#: unicorn ids of the registers of `Regs` the emulator holds, in `Regs` order without
#: orig_rax, cs, ss and the data segment selectors (the platform supplies those)
FULL_REGISTERS = (R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI, RDI, RIP, RFLAGS, RSP,
                  FS_BASE, GS_BASE)
#: what a syscall stop needs: number, six arguments, where to return and the flags
SYSCALL_REGISTERS = (RAX, RDI, RSI, RDX, R10, R8, R9, RIP, RFLAGS)
#: what finishing a syscall writes: the result, and rcx/r11 as the SYSCALL instruction leaves them
RESULT_REGISTERS = (RAX, RCX, R11)

#: why a run ended
STOP_NONE, STOP_SYSCALL, STOP_INTERRUPT, STOP_MEMORY = 0, 1, 2, 3

#: an address no run reaches: unicorn stops when the program counter equals `until`,
#: so 0 would hide a jump to address 0 (which must fault)
NEVER = (1 << 64) - 1

_SYSCALL_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_INTR_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
_MEM_CB = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_int,
                           ctypes.c_int64, ctypes.c_void_p)


def load_unicorn():
    """(the unicorn package, its C library); PlatformUnavailable if it is missing or too old."""
    try:
        import unicorn
        from unicorn.unicorn_py3.unicorn import uclib
    except ImportError:
        raise PlatformUnavailable(f"the emu platform needs the unicorn CPU emulator 2.1 or later "
                                  f"({_INSTALL_HINT})") from None
    major, minor = (int(part) for part in unicorn.__version__.split(".")[:2])
    if (major, minor) < (2, 1) or major >= 3:
        raise PlatformUnavailable(f"the emu platform needs unicorn 2.x from 2.1 on, not {unicorn.__version__} "
                                  f"({_INSTALL_HINT})")
    return unicorn, uclib


class RegisterBatch:
    """Preallocated argument arrays for uc_reg_read_batch / uc_reg_write_batch."""

    __slots__ = ("count", "ids", "values", "pointers")

    def __init__(self, ids: tuple[int, ...]) -> None:
        self.count = len(ids)
        self.ids = (ctypes.c_int * self.count)(*ids)
        self.values = (ctypes.c_uint64 * self.count)()
        base = ctypes.addressof(self.values)
        self.pointers = (ctypes.c_void_p * self.count)(*(base + 8 * i for i in range(self.count)))


class Engine:
    """A unicorn x86-64 instance with the platform's hooks installed."""

    def __init__(self) -> None:
        unicorn, lib = load_unicorn()
        self.lib = lib
        self.uc = unicorn.Uc(UC_ARCH_X86, UC_MODE_64)
        self.handle = self.uc._uch
        self.full = RegisterBatch(FULL_REGISTERS)
        self.syscall = RegisterBatch(SYSCALL_REGISTERS)
        self.result = RegisterBatch(RESULT_REGISTERS)
        self._one = ctypes.c_uint64()
        #: runs are counted into time slices (scheduler.py); never switched back off
        self.sliced = False
        #: why the last run ended (STOP_*) and what the hook saw: interrupt number or
        #: (memory access type, address), and the instruction pointer then
        self.reason = STOP_NONE
        self.detail = 0
        self.fault_rip = 0
        self._callbacks = (_SYSCALL_CB(self._on_syscall), _INTR_CB(self._on_interrupt), _MEM_CB(self._on_memory))
        hook = ctypes.c_size_t()
        for kind, callback, extra in ((UC_HOOK_INSN, self._callbacks[0], (UC_X86_INS_SYSCALL,)),
                                      (UC_HOOK_INTR, self._callbacks[1], ()),
                                      (UC_HOOK_MEM_INVALID, self._callbacks[2], ())):
            status = lib.uc_hook_add(self.handle, ctypes.byref(hook), kind, ctypes.cast(callback, ctypes.c_void_p),
                                     None, ctypes.c_uint64(1), ctypes.c_uint64(0), *extra)
            if status != ERR_OK:
                raise RuntimeError(f"unicorn refused a hook: {lib.uc_strerror(status).decode()}")
        self.closed = False

    # --- hooks (called by unicorn in the middle of a run) --------------------------

    def _on_syscall(self, handle, user_data) -> None:
        self.reason = STOP_SYSCALL
        self.lib.uc_emu_stop(self.handle)

    def _on_interrupt(self, handle, number: int, user_data) -> None:
        self.reason = STOP_INTERRUPT
        self.detail = number
        self.fault_rip = self.read_register(RIP)
        self.lib.uc_emu_stop(self.handle)

    def _on_memory(self, handle, kind: int, address: int, size: int, value: int, user_data) -> bool:
        self.reason = STOP_MEMORY
        self.detail = (kind, address)
        self.fault_rip = self.read_register(RIP)
        return False  # not handled: the run ends with the matching UC_ERR_*

    # --- running -------------------------------------------------------------------

    def run(self, begin: int, until: int = NEVER) -> int:
        """Run from `begin` until a hook ends the run, `until` is reached, `stop()` is
        called or, once `sliced`, a time slice of instructions has run; the unicorn status."""
        self.reason = STOP_NONE
        return self.lib.uc_emu_start(self.handle, begin, until, 0, SLICE_INSTRUCTIONS if self.sliced else 0)

    def start_slicing(self) -> None:
        """Count every later run into time slices. Code translated so far carries no
        counting (unicorn adds the count to code as it translates it), so it is dropped."""
        if not self.sliced:
            self.sliced = True
            self.uc.ctl_flush_tb()

    def stop(self) -> None:
        """End the current run soon (thread-safe; see scheduler.py for its hazard)."""
        self.lib.uc_emu_stop(self.handle)

    # --- registers -------------------------------------------------------------------

    def read(self, batch: RegisterBatch) -> list[int]:
        self.lib.uc_reg_read_batch(self.handle, batch.ids, batch.pointers, batch.count)
        return batch.values[:]

    def write(self, batch: RegisterBatch, values) -> None:
        batch.values[:] = values
        self.lib.uc_reg_write_batch(self.handle, batch.ids, batch.pointers, batch.count)

    def read_register(self, register: int) -> int:
        self.lib.uc_reg_read(self.handle, register, ctypes.byref(self._one))
        return self._one.value

    def write_register(self, register: int, value: int) -> None:
        self._one.value = value
        self.lib.uc_reg_write(self.handle, register, ctypes.byref(self._one))

    # --- whole CPU states (one per guest thread of this address space) ---------------

    def new_cpu_state(self) -> ctypes.c_void_p:
        state = ctypes.c_void_p()
        self._check(self.lib.uc_context_alloc(self.handle, ctypes.byref(state)), "context_alloc")
        return state

    def save_cpu(self, state: ctypes.c_void_p) -> None:
        self._check(self.lib.uc_context_save(self.handle, state), "context_save")

    def restore_cpu(self, state: ctypes.c_void_p) -> None:
        self._check(self.lib.uc_context_restore(self.handle, state), "context_restore")

    def free_cpu_state(self, state: ctypes.c_void_p) -> None:
        self.lib.uc_context_free(state)

    # --- memory map ------------------------------------------------------------------

    def map_host_memory(self, addr: int, length: int, perms: int, pointer: int) -> None:
        self._check(self.lib.uc_mem_map_ptr(self.handle, addr, length, perms, pointer), f"map at {addr:#x}")

    def unmap(self, addr: int, length: int) -> None:
        self._check(self.lib.uc_mem_unmap(self.handle, addr, length), f"unmap at {addr:#x}")

    def forget_code(self, start: int, end: int) -> None:
        """Drop translated code of [start, end): unicorn does not notice writes made
        through the host pointer, nor a mapping replaced under translated code."""
        self.uc.ctl_remove_cache(start, end)

    def _check(self, status: int, what: str) -> None:
        if status != ERR_OK:
            raise OSError(12, f"unicorn {what} failed: {self.lib.uc_strerror(status).decode()}")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.uc = None  # the package's finalizer closes the unicorn instance
            self.handle = None
            self._callbacks = ()
