"""The supervisor's own seccomp filter on the KVM platform.

Once a sandbox runs, the supervisor needs from the host only its KVM ioctls, the time
slice timer, what the host services (files of the policy's mounts, stdio, clocks,
entropy) use, and what the Python interpreter itself does. `ALLOWED` lists them with
why; anything else kills the supervisor and with it the sandbox. Unlike the Linux
platform there is no ptrace, no process to signal and no guest memory to reach through
/proc: guest memory is the supervisor's own mapping.
"""

from __future__ import annotations

# The filter's builder, the calls of the host services and the interpreter, and those of
# host sockets with their rules are the Linux platform's: both platforms supervise from a
# Linux host with the same host services, and one list and one assembler are less to audit.
import slimbox.platforms.linux.lockdown as linux
from slimbox.platforms.kvm import ioctl as K

ALLOWED: dict[str, str] = {
    **linux.HOST_SERVICES,
    **linux.INTERPRETER,
    # running guest threads
    "ioctl": "KVM requests on the VM and vCPU descriptors, terminal queries (requests pinned below)",
    "timer_settime": "the time slice that ends a vCPU's run (preempt.py)",
    "timer_delete": "the time slice's timer at the end",
    "rt_sigtimedwait": "take back a time-slice signal that came after a run ended",
    "epoll_wait": "waiting for host streams when no guest thread can run",
    "epoll_ctl": "watch a host stream the guest waits to read",
    # the interpreter's calls that serve the vCPUs too
    "mmap": "the interpreter's memory and new vCPUs' run pages (never executable: pinned below)",
    "munmap": "the same",
    "rt_sigprocmask": "host signals the supervisor passes on, and the time-slice signal's mask",
}

_SET_XCRS = (1 << 30) | (392 << 16) | (0xAE << 8) | 0xA7
KVM_REQUESTS = (
    K.RUN, K.GET_REGS, K.SET_REGS, K.GET_SREGS, K.SET_SREGS, K.GET_MSRS, K.SET_MSRS, K.GET_XSAVE, K.SET_XSAVE,
    K.CREATE_VCPU, K.SET_USER_MEMORY_REGION, K.SET_CPUID2, K.SET_SIGNAL_MASK, _SET_XCRS,
)
_TERMINAL_REQUESTS = (0x5401, 0x5402, 0x5403, 0x5404, 0x5413, 0x541B)  # TCGETS..TCSETSF, TIOCGWINSZ, FIONREAD
_PROT_EXEC = 4
ARGUMENT_RULES: dict[str, linux.Rule] = {
    "ioctl": linux.Rule(1, KVM_REQUESTS + _TERMINAL_REQUESTS),
    "mmap": linux.Rule(2, mask=_PROT_EXEC),
    "mprotect": linux.Rule(2, mask=_PROT_EXEC),
    "socket": linux.ARGUMENT_RULES["socket"],
    "setsockopt": linux.ARGUMENT_RULES["setsockopt"],
}


def allowed(*, network: bool = False) -> dict[str, str]:
    return {**ALLOWED, **linux.NETWORK} if network else dict(ALLOWED)


def build_filter(*, network: bool = False) -> bytes:
    """The filter program: the allowed syscalls, their arguments pinned where listed."""
    return linux.filter_program(linux.entries_of(allowed(network=network), ARGUMENT_RULES))


def lock_down(*, network: bool = False) -> None:
    """Install the filter on every thread of this process (irreversible)."""
    linux.install(build_filter(network=network))
