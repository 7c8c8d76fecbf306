"""The supervisor's own seccomp filter on the KVM platform.

Once a sandbox runs, the supervisor needs from the host only its KVM ioctls, the time
slice timer, what the host services (files of the policy's mounts, stdio, clocks,
entropy) use, and what the Python interpreter itself does. `ALLOWED` lists them with
why; anything else kills the supervisor and with it the sandbox. Unlike the Linux
platform there is no ptrace, no process to signal and no guest memory to reach through
/proc: guest memory is the supervisor's own mapping.
"""

from __future__ import annotations

from slimbox.platforms.kvm import ioctl as K

# The filter's builder, the host-socket calls and their rules are the Linux platform's:
# both platforms supervise from a Linux host, and one assembler is less to audit.
from slimbox.platforms.linux.lockdown import ARGUMENT_RULES as LINUX_RULES
from slimbox.platforms.linux.lockdown import NETWORK, Rule, entries_of, filter_program, install

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

_SET_XCRS = (1 << 30) | (392 << 16) | (0xAE << 8) | 0xA7
KVM_REQUESTS = (
    K.RUN, K.GET_REGS, K.SET_REGS, K.GET_SREGS, K.SET_SREGS, K.GET_MSRS, K.SET_MSRS, K.GET_XSAVE, K.SET_XSAVE,
    K.CREATE_VCPU, K.SET_USER_MEMORY_REGION, K.SET_CPUID2, K.SET_SIGNAL_MASK, _SET_XCRS,
)
_TERMINAL_REQUESTS = (0x5401, 0x5402, 0x5403, 0x5404, 0x5413, 0x541B)  # TCGETS..TCSETSF, TIOCGWINSZ, FIONREAD
_PROT_EXEC = 4
ARGUMENT_RULES: dict[str, Rule] = {
    "ioctl": Rule(1, KVM_REQUESTS + _TERMINAL_REQUESTS),
    "mmap": Rule(2, mask=_PROT_EXEC),
    "mprotect": Rule(2, mask=_PROT_EXEC),
    "socket": LINUX_RULES["socket"],
    "setsockopt": LINUX_RULES["setsockopt"],
}


def allowed(*, network: bool = False) -> dict[str, str]:
    return {**ALLOWED, **NETWORK} if network else dict(ALLOWED)


def build_filter(*, network: bool = False) -> bytes:
    """The filter program: the allowed syscalls, their arguments pinned where listed."""
    return filter_program(entries_of(allowed(network=network), ARGUMENT_RULES))


def lock_down(*, network: bool = False) -> None:
    """Install the filter on every thread of this process (irreversible)."""
    install(build_filter(network=network))
