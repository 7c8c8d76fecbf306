"""KvmContext: one guest thread, held by one vCPU while it exists.

A stopped thread's registers are those KVM holds plus what its last exit told: after a
syscall exit the guest's rip and rflags are in rcx and r11 (the instruction put them
there); after a fault the CPU's frame on the ring-0 stack has rip, rflags and rsp.
`regs` turns them into a `Regs` only when the kernel asks; a syscall answered without
looking at them costs one KVM_SET_REGS. The platform (platform.py) runs threads one
at a time; a thread the kernel lets go waits in the platform's run queue.
"""

from __future__ import annotations

import time

from slimbox.abi.regs import MASK64, REG_NAMES, Regs
from slimbox.platforms.base import SyscallEvent
from slimbox.platforms.kvm import exits
from slimbox.platforms.kvm import ioctl as K

TYPE_CHECKING = False
if TYPE_CHECKING:
    from slimbox.platforms.kvm.platform import KvmPlatform
    from slimbox.platforms.kvm.vm import Vcpu

# thread states
STOPPED = "stopped"      # at an event: the kernel has it
RUNNABLE = "runnable"    # let go by the kernel; waits for the platform to run it
GONE = "gone"

#: positions in KVM's register order (ioctl.REGS_ORDER)
_RAX, _RCX, _RDX, _RSI, _RDI, _RSP = 0, 2, 3, 4, 5, 6
_R8, _R9, _R10, _R11 = 8, 9, 10, 11
_RIP, _RFLAGS = 16, 17
#: Regs index of each KVM register, in KVM's order
_TO_REGS = tuple(REG_NAMES.index(name) for name in K.REGS_ORDER)
_FS_BASE, _GS_BASE = REG_NAMES.index("fs_base"), REG_NAMES.index("gs_base")
_ORIG_RAX = REG_NAMES.index("orig_rax")
_CS, _SS = REG_NAMES.index("cs"), REG_NAMES.index("ss")
_NOT_IN_SYSCALL = MASK64
#: rflags bits the guest may not set (IOPL, VM, VIF, VIP, NT, RF are the host's)
_RFLAGS_USER = 0x00000CD5 | 0x100 | 0x200 | 0x40000 | 0x200000
_RFLAGS_FIXED = 0x2
_RFLAGS_IF = 0x200  # ring 3 always runs with interrupts on


class KvmProcess:
    """The threads sharing one address space (what kill() ends together)."""

    __slots__ = ("address_space", "threads", "alive", "ring0")

    def __init__(self, address_space, ring0: memoryview | None = None) -> None:
        self.address_space = address_space
        self.threads: list[KvmContext] = []
        self.alive = True
        #: the ring-0 stack page, where fault frames are read and return frames written
        self.ring0 = ring0


class KvmContext:
    """One guest thread (the South Context)."""

    def __init__(self, platform: KvmPlatform, process: KvmProcess, vcpu: Vcpu) -> None:
        self.platform = platform
        self.process = process
        self.vcpu = vcpu
        self.owner: object = None
        self.state = STOPPED
        #: KVM's registers with the guest's own rip, rflags and rsp (KVM order), or None
        #: while the thread runs
        self.gprs: list[int] = [0] * 18
        self._regs: Regs | None = None
        self.fs_base = 0
        self.gs_base = 0
        #: the thread's FP state when it is not loaded in its vCPU (a new thread's)
        self.pending_fpu: bytes | None = None
        self.interrupt_requested = False
        #: whether the vCPU holds this thread's FS/GS base (not yet for a new thread)
        self.bases_loaded = False
        self.cpu_ns = 0
        self.syscall_event = SyscallEvent(self, -1, ())
        process.threads.append(self)

    @property
    def address_space(self):
        return self.process.address_space

    # --- registers ----------------------------------------------------------------------

    @property
    def regs(self) -> Regs:
        if self.state == GONE:
            raise ProcessLookupError("the thread has ended")
        regs = self._regs
        if regs is None:
            if self.bases_loaded:
                self.fs_base, self.gs_base = self.platform.thread_bases(self)
            regs = Regs.zeros()
            for value, index in zip(self.gprs, _TO_REGS):
                regs[index] = value
            regs[_FS_BASE] = self.fs_base
            regs[_GS_BASE] = self.gs_base
            regs[_ORIG_RAX] = _NOT_IN_SYSCALL
            regs[_CS] = exits.USER_CS
            regs[_SS] = exits.USER_SS
            self._regs = regs
        return regs

    @regs.setter
    def regs(self, value: Regs) -> None:
        if self.state == GONE:
            raise ProcessLookupError("the thread has ended")
        self._regs = value

    def settle_regs(self) -> None:
        """Fold an edited `Regs` back into the KVM-ordered registers."""
        regs = self._regs
        if regs is None:
            return
        self.gprs = [regs[index] for index in _TO_REGS]
        self.gprs[_RFLAGS] = (self.gprs[_RFLAGS] & _RFLAGS_USER) | _RFLAGS_FIXED | _RFLAGS_IF
        self.fs_base = regs[_FS_BASE]
        self.gs_base = regs[_GS_BASE]
        self._regs = None

    def stopped_at_syscall(self, raw: tuple[int, ...], rsp: int) -> SyscallEvent:
        """Record a syscall exit (`raw`: KVM's registers there, `rsp`: the guest's, from
        the fault frame) and describe it."""
        gprs = list(raw)
        gprs[_RIP] = raw[_RCX]
        gprs[_RFLAGS] = raw[_R11]
        gprs[_RSP] = rsp
        self.gprs = gprs
        self._regs = None
        self.state = STOPPED
        event = self.syscall_event
        event.nr = raw[_RAX]
        event.args = [raw[_RDI], raw[_RSI], raw[_RDX], raw[_R10], raw[_R8], raw[_R9]]
        return event

    def stopped_at_fault(self, raw: tuple[int, ...], rip: int, rflags: int, rsp: int) -> None:
        gprs = list(raw)
        gprs[_RIP] = rip
        gprs[_RFLAGS] = rflags
        gprs[_RSP] = rsp
        self.gprs = gprs
        self._regs = None
        self.state = STOPPED

    def stopped_in_user_mode(self, raw: tuple[int, ...]) -> None:
        self.gprs = list(raw)
        self._regs = None
        self.state = STOPPED

    # --- the South Context ----------------------------------------------------------------

    def resume(self) -> None:
        if self.state == GONE:
            raise RuntimeError("resume on a thread that has ended")
        self.settle_regs()
        self.platform.make_runnable(self)

    def finish_syscall(self, result: int) -> None:
        if self.state == GONE:
            raise RuntimeError("finish_syscall on a thread that has ended")
        if self._regs is not None:
            self._regs.rax = result
        else:
            self.gprs[_RAX] = result & MASK64
        self.resume()

    def kill(self) -> None:
        self.platform.kill_process(self.process)

    def interrupt(self) -> None:
        if self.state == RUNNABLE:
            self.interrupt_requested = True

    def cpu_time_ns(self) -> int:
        return self.cpu_ns

    def process_cpu_time_ns(self) -> int:
        return sum(thread.cpu_ns for thread in self.process.threads)

    def fpu_state(self) -> bytes:
        if self.state == GONE:
            raise ProcessLookupError("the thread has ended")
        if self.pending_fpu is not None:
            return self.pending_fpu
        return self.platform.read_fpu(self.vcpu)

    def set_fpu_state(self, data: bytes) -> None:
        if self.state == GONE:
            raise ProcessLookupError("the thread has ended")
        self.pending_fpu = None
        self.platform.write_fpu(self.vcpu, data)

    def reset_fpu_state(self) -> None:
        self.set_fpu_state(self.platform.initial_fpu)

    def fork(self) -> KvmContext:
        return self.platform.fork_thread(self)

    def spawn_thread(self) -> KvmContext:
        return self.platform.spawn_thread(self)

    def exit_thread(self) -> None:
        self.platform.end_thread(self)

    # --- accounting ---------------------------------------------------------------------------

    #: the clock a vCPU's time in KVM_RUN is measured with (a guest thread never waits
    #: in KVM_RUN: it runs or exits, so that time is its CPU time)
    clock = staticmethod(time.perf_counter_ns)
