"""The supervisor's own seccomp filter on the KVM platform.

Once a sandbox runs, the supervisor needs from the host only its KVM ioctls, the time
slice timer, what the host services (files of the policy's mounts, stdio, clocks,
entropy) use, and what the Python interpreter itself does. `ALLOWED` lists them with
why; anything else kills the supervisor and with it the sandbox. Unlike the Linux
platform there is no ptrace, no process to signal and no guest memory to reach through
/proc: guest memory is the supervisor's own mapping.
"""

from __future__ import annotations

import ctypes
import struct

from slimbox.abi.syscalls import BY_NAME
from slimbox.platforms.kvm import ioctl as K

ALLOWED: dict[str, str] = {
    # running guest threads
    "ioctl": "KVM requests on the VM and vCPU descriptors, terminal queries (requests pinned below)",
    "timer_settime": "the time slice that ends a vCPU's run (preempt.py)",
    "timer_delete": "the time slice's timer at the end",
    "rt_sigtimedwait": "take back a time-slice signal that came after a run ended",
    "epoll_wait": "waiting for host streams when no guest thread can run",
    "epoll_ctl": "watch a host stream the guest waits to read",
    # host files the policy exposes, and stdio
    "pread64": "read host files",
    "pwrite64": "write host files",
    "read": "standard input, the wake-up pipe",
    "write": "standard output and error, the wake-up pipe",
    "lseek": "file positions of host files",
    "openat": "host files one component at a time under a mount's directory descriptor",
    "close": "release host descriptors",
    "dup": "listing a host directory duplicates its descriptor",
    "fcntl": "descriptor flags of host descriptors",
    "newfstatat": "stat of host files and directories (by directory descriptor)",
    "fstat": "stat of open host files",
    "getdents64": "list host directories",
    "readlinkat": "read a host symlink's text",
    "mkdirat": "mkdir in a read-write host mount",
    "unlinkat": "unlink/rmdir in a read-write host mount",
    "renameat": "rename in a read-write host mount",
    "renameat2": "rename in a read-write host mount",
    "linkat": "hard links in a read-write host mount",
    "symlinkat": "symlinks in a read-write host mount",
    "mknodat": "FIFOs in a read-write host mount",
    "fchmodat": "chmod in a read-write host mount",
    "fchownat": "chown in a read-write host mount",
    "utimensat": "file times in a read-write host mount",
    "ftruncate": "truncate host files",
    "fsync": "fsync of host files",
    "fdatasync": "fdatasync of host files",
    "select": "is a host stream readable",
    "pselect6": "the same, where the C library uses it",
    "poll": "the same, where the C library uses it",
    # the Python interpreter, and the vCPUs' run structures
    "mmap": "the interpreter's memory and new vCPUs' run pages (never executable: pinned below)",
    "munmap": "the same",
    "mremap": "the interpreter's memory",
    "mprotect": "the interpreter's memory (never executable: pinned below)",
    "madvise": "the interpreter's memory",
    "brk": "the interpreter's memory",
    "futex": "the interpreter's locks",
    "rt_sigaction": "host signals the supervisor passes on (Ctrl-C...)",
    "rt_sigprocmask": "the same, and the time-slice signal's mask",
    "rt_sigreturn": "return from a host signal handler",
    "getrandom": "entropy for the guest",
    "clock_gettime": "time for the guest and for deadlines (when the vDSO is not used)",
    "gettimeofday": "the same",
    "getpid": "the interpreter asks",
    "gettid": "the interpreter asks",
    "getcwd": "the interpreter asks",
    "sched_yield": "the interpreter's lock hand-offs",
    "exit": "ending",
    "exit_group": "ending",
}

#: added only when the sandbox uses host sockets (`--net host` or `-p`)
NETWORK: dict[str, str] = {
    "socket": "a TCP or UDP socket for an address the policy allows (AF_INET/AF_INET6 only: pinned below)",
    "connect": "start that connection (non-blocking)",
    "getsockopt": "how a non-blocking connect ended (SO_ERROR)",
    "setsockopt": "TCP_NODELAY on a connection the policy allows (level IPPROTO_TCP only: pinned below)",
    "accept4": "take a connection to a published port",
    "recvfrom": "read from a host connection or UDP socket",
    "sendto": "write to a host connection or UDP socket",
    "shutdown": "pass on a guest's end of stream (SHUT_WR)",
    "getsockname": "the address of a socket the supervisor accepted",
    "getpeername": "the address a host client connects from",
}

_SET_XCRS = (1 << 30) | (392 << 16) | (0xAE << 8) | 0xA7
KVM_REQUESTS = (
    K.RUN, K.GET_REGS, K.SET_REGS, K.GET_SREGS, K.SET_SREGS, K.GET_MSRS, K.SET_MSRS, K.GET_XSAVE, K.SET_XSAVE,
    K.CREATE_VCPU, K.SET_USER_MEMORY_REGION, K.SET_CPUID2, K.SET_SIGNAL_MASK, _SET_XCRS,
)
_TERMINAL_REQUESTS = (0x5401, 0x5402, 0x5403, 0x5404, 0x5413, 0x541B)  # TCGETS..TCSETSF, TIOCGWINSZ, FIONREAD
_PROT_EXEC = 4
#: syscall -> (argument index, allowed values) or (argument index, bits that must be clear)
_VALUES = {
    "ioctl": (1, KVM_REQUESTS + _TERMINAL_REQUESTS),
    "socket": (0, (2, 10)),       # AF_INET, AF_INET6
    "setsockopt": (1, (6,)),      # IPPROTO_TCP
}
_CLEAR_BITS = {"mmap": (2, _PROT_EXEC), "mprotect": (2, _PROT_EXEC)}

# classic BPF
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_ARCH_OFFSET, _NR_OFFSET, _ARGS_OFFSET = 4, 0, 16
_AUDIT_ARCH_X86_64 = 0xC000003E
_RET_ALLOW, _RET_KILL_PROCESS = 0x7FFF0000, 0x80000000
_PR_SET_NO_NEW_PRIVS, _SYS_SECCOMP, _SET_MODE_FILTER, _FLAG_TSYNC = 38, 317, 1, 1


def allowed(*, network: bool = False) -> dict[str, str]:
    return {**ALLOWED, **NETWORK} if network else dict(ALLOWED)


def build_filter(*, network: bool = False) -> bytes:
    """The filter program: the allowed syscalls, their arguments pinned where listed."""
    names = sorted(allowed(network=network), key=lambda name: BY_NAME[name].nr)
    ruled = [name for name in names if name in _VALUES or name in _CLEAR_BITS]
    # (op, k, true target, false target); targets are labels or 0 (the next instruction)
    code: list[tuple[int, int, object, object]] = [
        (_LD_W_ABS, _ARCH_OFFSET, 0, 0),
        (_JEQ_K, _AUDIT_ARCH_X86_64, 0, "kill"),
        (_LD_W_ABS, _NR_OFFSET, 0, 0),
    ]
    for name in names:
        code.append((_JEQ_K, BY_NAME[name].nr, f"check {name}" if name in ruled else "allow", 0))
    code.append((_RET_K, _RET_KILL_PROCESS, 0, 0))
    labels: dict[str, int] = {}
    for name in ruled:
        labels[f"check {name}"] = len(code)
        if name in _VALUES:
            index, values = _VALUES[name]
            code.append((_LD_W_ABS, _ARGS_OFFSET + 8 * index, 0, 0))
            for value in values:
                code.append((_JEQ_K, value & 0xFFFFFFFF, "allow", 0))
            code.append((_RET_K, _RET_KILL_PROCESS, 0, 0))
        else:
            index, bits = _CLEAR_BITS[name]
            code.append((_LD_W_ABS, _ARGS_OFFSET + 8 * index, 0, 0))
            code.append((_JSET_K, bits, "kill", "allow"))
    labels["allow"] = len(code)
    code.append((_RET_K, _RET_ALLOW, 0, 0))
    labels["kill"] = len(code)
    code.append((_RET_K, _RET_KILL_PROCESS, 0, 0))

    def offset(at: int, target: object) -> int:
        if not isinstance(target, str):
            return 0
        delta = labels[target] - at - 1
        if not 0 <= delta < 256:
            raise ValueError(f"BPF jump to {target!r} out of range")
        return delta

    return b"".join(struct.pack("<HBBI", op, offset(at, true), offset(at, false), k)
                    for at, (op, k, true, false) in enumerate(code))


def lock_down(*, network: bool = False) -> None:
    """Install the filter on every thread of this process (irreversible)."""
    program = build_filter(network=network)
    libc = ctypes.CDLL(None, use_errno=True)
    code = ctypes.create_string_buffer(program, len(program))
    fprog = ctypes.create_string_buffer(struct.pack("<H6xQ", len(program) // 8, ctypes.addressof(code)))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.syscall(ctypes.c_long(_SYS_SECCOMP), ctypes.c_long(_SET_MODE_FILTER), ctypes.c_long(_FLAG_TSYNC),
                    ctypes.c_void_p(ctypes.addressof(fprog))) != 0:
        raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER) failed")
