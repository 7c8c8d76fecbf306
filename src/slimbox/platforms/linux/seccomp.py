"""The seccomp filter every guest thread runs under.

Decisions, in order:
1. Not the x86-64 ABI (int 0x80 / i386), or an x32 syscall: kill the process.
2. Made from the stub's trampoline (or its batch loop, which is held to the same
   rules) and in the memory set (memory management the sandbox kernel asks for): let
   the host run it.
3. Made from either and in the approval set (clone, exit, recvmsg, close):
   stop under ptrace. The supervisor lets the host run it only when it injected the
   call itself; a guest that found the trampoline and jumped there gets the same
   emulated syscall as from anywhere else. These calls could otherwise make tasks the
   supervisor never sees (clone with CLONE_UNTRACED) or take host descriptors.
4. A syscall whose answer changes registers or the address space (execve, clone,
   mmap, rt_sigreturn...): stop for the supervisor under ptrace (SECCOMP_RET_TRACE).
5. Anything else: a seccomp user notification (SECCOMP_RET_USER_NOTIF), which the
   supervisor answers without any ptrace stop: the fast path. Without notifications
   (an older host, or asked for), these are traced too.

So nothing the guest issues reaches the host kernel except the memory set, at the
trampoline (whose address the guest is never shown), and that acts on the guest's own
address space only.
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Iterable

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 8
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_TRACE = 0x7FF00000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_ALLOW = 0x7FFF0000

# struct seccomp_notif / seccomp_notif_resp and the listener's ioctls
NOTIF_SIZE = 80
NOTIF_RESP_SIZE = 24
IOCTL_NOTIF_RECV = 0xC0502100
IOCTL_NOTIF_SEND = 0xC0182101
IOCTL_NOTIF_ID_VALID = 0x40082102
IOCTL_NOTIF_SET_FLAGS = 0x40082104
USER_NOTIF_FD_SYNC_WAKE_UP = 1

# offsets in struct seccomp_data
_NR, _ARCH, _IP_LO, _IP_HI = 0, 4, 8, 12

_LD_ABS_W = 0x20
_JEQ = 0x15
_JSET = 0x45
_RET = 0x06

# Host syscalls the supervisor injects at the trampoline and the host runs at once,
# each with why: they change only the calling process's own address space.
INJECTED_SYSCALLS: dict[int, str] = {
    9: "mmap: back guest mappings (always MAP_FIXED, anonymous)",
    10: "mprotect: guest page protections",
    11: "munmap: guest unmappings, and removing the host's vdso/vvar/stack",
    25: "mremap: guest mremap keeps page contents without a copy",
    28: "madvise: MADV_DONTNEED for guest madvise",
}

# Host syscalls the supervisor injects at the trampoline that stop under ptrace first,
# and run only when the supervisor approves the stop as its own injection.
APPROVED_SYSCALLS: dict[int, str] = {
    56: "clone: guest fork and threads, made by the kernel (new tasks are traced from birth)",
    60: "exit: one guest thread ending while its process goes on",
    47: "recvmsg: take a host file the kernel maps into the guest from the mapping channel",
    3: "close: drop that file once mapped",
}


# Syscalls that always stop under ptrace, because answering them means changing the
# thread's registers or injecting into its address space; every other syscall is
# answered through a user notification when notifications are on.
TRACED_SYSCALLS: dict[int, str] = {
    9: "mmap: injects a host mmap",
    10: "mprotect: injects",
    11: "munmap: injects",
    12: "brk: injects",
    15: "rt_sigreturn: restores every register",
    25: "mremap: injects",
    28: "madvise: injects",
    56: "clone: makes a host task and sets its registers",
    57: "fork: as clone",
    58: "vfork: as clone",
    59: "execve: replaces registers and memory",
    60: "exit: injects exit into the one thread",
    131: "sigaltstack: reads the stack pointer",
    158: "arch_prctl: sets the FS/GS base registers",
    231: "exit_group: ends the host process",
    322: "execveat: as execve",
    435: "clone3: as clone",
}


class _Asm:
    """A few classic-BPF instructions with forward jumps by label."""

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def load(self, offset: int) -> None:
        self.code.append((_LD_ABS_W, 0, 0, offset))

    def jump(self, op: int, k: int, true: str | int, false: str | int) -> None:
        self.code.append((op, true, false, k))

    def ret(self, value: int) -> None:
        self.code.append((_RET, 0, 0, value))

    def assemble(self) -> bytes:
        out = []
        for index, (op, jt, jf, k) in enumerate(self.code):
            out.append(struct.pack("<HBBI", op, self._offset(index, jt), self._offset(index, jf), k))
        return b"".join(out)

    def _offset(self, index: int, target: str | int | object) -> int:
        if isinstance(target, int):
            return target
        delta = self.labels[target] - index - 1  # type: ignore[index]
        if not 0 <= delta < 256:
            raise ValueError(f"BPF jump to {target} out of range")
        return delta


def build_filter(trampoline_ip: int, *, notify: bool, batch_ip: int | None = None,
                 injected: Iterable[int] = INJECTED_SYSCALLS, approved: Iterable[int] = APPROVED_SYSCALLS,
                 traced: Iterable[int] = TRACED_SYSCALLS) -> bytes:
    """The filter program; `trampoline_ip` is the address right after the trampoline's
    `syscall` instruction, which is what seccomp reports as the instruction pointer, and
    `batch_ip` the same for the batch loop's (both in the stub's one page)."""
    if batch_ip is not None and batch_ip >> 32 != trampoline_ip >> 32:
        raise ValueError("the two injection sites must share their upper 32 address bits")
    a = _Asm()
    a.load(_ARCH)
    a.jump(_JEQ, AUDIT_ARCH_X86_64, 0, "kill")
    a.load(_NR)
    a.jump(_JEQ, 0xFFFFFFFF, "route", 0)  # syscall(-1) is a plain ENOSYS on Linux
    a.jump(_JSET, X32_SYSCALL_BIT, "kill", 0)
    a.load(_IP_HI)
    a.jump(_JEQ, trampoline_ip >> 32, 0, "route")
    a.load(_IP_LO)
    if batch_ip is None:
        a.jump(_JEQ, trampoline_ip & 0xFFFFFFFF, 0, "route")
    else:
        a.jump(_JEQ, trampoline_ip & 0xFFFFFFFF, "site", 0)
        a.jump(_JEQ, batch_ip & 0xFFFFFFFF, 0, "route")
    a.label("site")
    a.load(_NR)
    for nr in injected:
        a.jump(_JEQ, nr, "allow", 0)
    for nr in approved:
        a.jump(_JEQ, nr, "trace", 0)
    a.label("route")
    if notify:
        a.load(_NR)
        for nr in traced:
            a.jump(_JEQ, nr, "trace", 0)
        a.ret(SECCOMP_RET_USER_NOTIF)
    a.label("trace")
    a.ret(SECCOMP_RET_TRACE)
    a.label("allow")
    a.ret(SECCOMP_RET_ALLOW)
    a.label("kill")
    a.ret(SECCOMP_RET_KILL_PROCESS)
    return a.assemble()


def fprog(program: bytes, program_address: int) -> bytes:
    """A `struct sock_fprog` for a program stored at `program_address` in the tracee."""
    return struct.pack("<H6xQ", len(program) // 8, program_address)
