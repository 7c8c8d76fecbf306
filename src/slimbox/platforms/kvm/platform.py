"""The KVM platform: guest threads run in ring 3 of one KVM virtual machine.

One VM holds every guest process of a sandbox: one `GuestMemory` is its physical
memory, each process is a page-table tree in it (KvmAddressSpace) and each thread has
a vCPU of its own. The supervisor stays single-threaded: `wait()` runs one runnable
thread at a time in KVM_RUN until it makes a syscall, takes a fault the kernel must
see, or its time slice ends (preempt.py), and hands that back as an event. Page faults
on pages the kernel's mm has mapped but not yet backed are served here (populate) and
never reach the kernel. How syscalls and faults leave the VM is in exits.py.
"""

from __future__ import annotations

import errno
import os
import select
import signal
from collections import deque

from slimbox.platforms.base import (
    Event, ExitEvent, FaultEvent, GuestMemoryError, InterruptEvent, PlatformUnavailable,
)
from slimbox.platforms.kvm import exits
from slimbox.platforms.kvm import ioctl as K
from slimbox.platforms.kvm.context import GONE, RUNNABLE, STOPPED, KvmContext, KvmProcess
from slimbox.platforms.kvm.preempt import SliceTimer
from slimbox.platforms.kvm.vm import Vm, open_kvm
from slimbox.platforms.linux.watches import StreamWatches, drain

#: guest-physical memory reserved for a sandbox (the host backs only what is touched)
DEFAULT_MEMORY = 8 << 30
#: how long one thread runs while others wait, or host streams are watched
SLICE_NS = 10_000_000
_RIP, _RFLAGS, _RSP = 16, 17, 6
_MASK64 = (1 << 64) - 1

# si_code values
_SEGV_MAPERR, _SEGV_ACCERR = 1, 2
_ILL_ILLOPN, _FPE_INTDIV, _BUS_ADRALN, _TRAP_BRKPT, _SI_KERNEL = 2, 1, 1, 1, 0x80
_FPE_FLTDIV, _FPE_FLTOVF, _FPE_FLTUND, _FPE_FLTRES, _FPE_FLTINV = 3, 4, 5, 6, 7
_PF_PRESENT, _PF_WRITE, _PF_FETCH = 1, 2, 16


class KvmPlatform:
    """Guest processes as page tables in one VM, guest threads as its vCPUs."""

    name = "kvm"

    def __init__(self, host=None, *, memory_size: int = DEFAULT_MEMORY) -> None:
        self.host = host  # the Linux host services (_platforms.make_host); None in platform tests
        self._kvm = open_kvm()
        self.memory = None
        self.vm = None
        self._timer = None
        try:
            from slimbox.platforms.kvm.memory import GuestMemory

            self.memory = GuestMemory(memory_size)
            self.vm = Vm(self._kvm, self.memory)
            self.layout = exits.PlatformLayout(self.memory.size)
            self._stale = False
            self._timer = SliceTimer()
            self._run_mask = self._timer.run_mask()
            self._free_vcpus: list = []
            self._processes: list[KvmProcess] = []
            self.xsave_size = self.vm.xsave_size()
            self.initial_fpu = b""
            self.syscall_in_ring0 = False
            self.syscall_in_ring0, self.initial_fpu = self._probe()
        except PlatformUnavailable:
            self._release_host()
            raise
        except OSError as exc:
            self._release_host()
            raise PlatformUnavailable(f"the kvm platform cannot run here: {exc}") from None
        self._runnable: deque[KvmContext] = deque()
        self._events: list[Event] = []
        self._epoll = select.epoll()
        self._watches = StreamWatches(self._epoll)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._poked = False
        self._locked = False
        self.stats = {"exits": 0, "populated": 0, "preempted": 0}

    # --- set-up -------------------------------------------------------------------------------

    def _probe(self) -> tuple[bool, bytes]:
        """Run one `syscall` on a fresh vCPU: it must come back as the syscall exit
        (exits.py); the frame tells whether it stayed in ring 3 (kvm_pvm) or entered ring
        0 (conventional KVM). Also take a fresh vCPU's FP state as the initial one."""
        space = self._new_address_space()
        try:
            code = 0x10000
            space.map(code, 0x1000, 5)
            space.write(code, b"\xb8\x27\x00\x00\x00\x0f\x05\x0f\x0b")  # mov eax, 39; syscall; ud2
            vcpu = self._take_vcpu(space)
            fpu = self._fpu_image(vcpu.get_xsave())
            vcpu.set_regs([0] * 16 + [code, 0x202])
            if self._stale:
                self._stale = False
                self.vm.resync()
            reason = vcpu.enter()
            vector = self.layout.vector(vcpu.mmio()[0]) if reason == K.EXIT_MMIO else -1
            if vector < 0:
                raise PlatformUnavailable(f"the kvm platform cannot run here: a probe syscall ended with "
                                          f"{_describe_exit(vcpu, reason)}, not a fault exit")
            vcpu.ring = 0
            ring0 = exits.ring0_stack(space)
            error, rip, rflags, _ = exits.fault_frame(ring0, vector)
            regs = vcpu.get_regs()
            if not exits.is_syscall(vector, error, rip, rflags) or regs[0] != 39 or regs[2] != code + 7:
                raise PlatformUnavailable(f"the kvm platform cannot run here: the probe syscall faulted with "
                                          f"vector {vector} at {rip:#x}, rcx {regs[2]:#x}")
            in_ring0 = exits.fault_frame_cs(ring0) & 3 == 0
            ring0.release()
            self._free_vcpus.append(vcpu)
            return in_ring0, fpu
        finally:
            self._close_address_space(space)

    def _close_address_space(self, space) -> None:
        """Free a process's page tables and frames. The frames will serve as other pages
        and page tables, so KVM must forget what it derived from them (its shadow page
        tables on kvm_pvm only notice when the memory slots change)."""
        space.close()
        self._tables_changed()

    def _tables_changed(self) -> None:
        """A page-table entry was removed or restricted, or a frame freed. KVM must see
        that before a guest thread runs again (Vm.resync); nothing runs before then, so
        one resync serves every change made in between."""
        self._stale = True

    def _new_address_space(self):
        from slimbox.platforms.kvm.address_space import KvmAddressSpace

        space = KvmAddressSpace(self.memory, self._tables_changed)
        self.layout.install(space)
        return space

    def _take_vcpu(self, space):
        if self._free_vcpus:
            vcpu = self._free_vcpus.pop()
        else:
            vcpu = self.vm.create_vcpu()
            vcpu.enter_user_mode(space.root, self.layout)
            vcpu.set_signal_mask(self._run_mask)
            vcpu.ring = 3
            vcpu.fs_base = vcpu.gs_base = 0
        if vcpu.cr3 != space.root:
            vcpu.set_cr3(space.root)
        return vcpu

    def _release_host(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        if self.vm is not None:
            self.vm.close()
            self.vm = None
        if self.memory is not None:
            self.memory.close()
            self.memory = None
        if self._kvm >= 0:
            os.close(self._kvm)
            self._kvm = -1

    # --- processes and threads ----------------------------------------------------------------

    def new_process(self) -> KvmContext:
        space = self._new_address_space()
        process = KvmProcess(space, exits.ring0_stack(space))
        self._processes.append(process)
        context = KvmContext(self, process, self._take_vcpu(space))
        context.pending_fpu = self.initial_fpu
        context.gprs[_RFLAGS] = 0x202
        return context

    def fork_thread(self, parent: KvmContext) -> KvmContext:
        space = parent.process.address_space.fork()
        process = KvmProcess(space, exits.ring0_stack(space))
        self._processes.append(process)
        return self._copy_thread(parent, process)

    def spawn_thread(self, parent: KvmContext) -> KvmContext:
        return self._copy_thread(parent, parent.process)

    def _copy_thread(self, parent: KvmContext, process: KvmProcess) -> KvmContext:
        regs = parent.regs  # also reads the parent's FS/GS base as its vCPU has them
        fpu = parent.fpu_state()
        context = KvmContext(self, process, self._take_vcpu(process.address_space))
        context.regs = regs.copy()
        context.settle_regs()
        context.pending_fpu = fpu
        context.bases_loaded = False
        return context

    def end_thread(self, context: KvmContext) -> None:
        if context.state == GONE:
            return
        self._retire(context)
        threads = context.process.threads
        if context in threads:
            threads.remove(context)

    def kill_process(self, process: KvmProcess, signo: int = signal.SIGKILL, why: str = "killed by the kernel") -> None:
        if not process.alive:
            return
        process.alive = False
        for context in list(process.threads):
            if context.state != GONE:
                self._retire(context)
                self._events.append(ExitEvent(context, signo, why))
        if process.ring0 is not None:
            process.ring0.release()
            process.ring0 = None
        self._close_address_space(process.address_space)
        if process in self._processes:
            self._processes.remove(process)

    def _retire(self, context: KvmContext) -> None:
        context.state = GONE
        context.interrupt_requested = False
        if context.vcpu is not None:
            self._free_vcpus.append(context.vcpu)
            context.vcpu = None

    def thread_bases(self, context: KvmContext) -> tuple[int, int]:
        """The FS and GS base the thread's vCPU has now (the guest may set them itself
        with wrfsbase/wrgsbase)."""
        vcpu = context.vcpu
        vcpu.fs_base, vcpu.gs_base = vcpu.get_msrs((K.MSR_FS_BASE, K.MSR_GS_BASE))
        return vcpu.fs_base, vcpu.gs_base

    def make_runnable(self, context: KvmContext) -> None:
        context.state = RUNNABLE
        self._runnable.append(context)

    # --- FP state -------------------------------------------------------------------------------

    def _fpu_image(self, xsave: bytes) -> bytes:
        """The XSAVE image the kernel sees: as long as the guest's features need, with the
        software-reserved bytes describing them as Linux's ptrace does."""
        size = self.xsave_size
        image = bytearray(xsave[:size])
        if size > 512:
            image[464:480] = (0x46505853).to_bytes(4, "little") + (size + 4).to_bytes(4, "little") \
                + self.vm.xcr0.to_bytes(8, "little")
            image[480:484] = size.to_bytes(4, "little")
        return bytes(image)

    def read_fpu(self, vcpu) -> bytes:
        return self._fpu_image(vcpu.get_xsave())

    def write_fpu(self, vcpu, data: bytes) -> None:
        image = bytearray(K.XSAVE_SIZE)
        image[:len(data)] = data[:K.XSAVE_SIZE]
        image[464:512] = bytes(48)
        if len(data) < 576:
            image[512:520] = (3).to_bytes(8, "little")  # XSTATE_BV: x87 and SSE from the legacy area
        else:
            # x87 and SSE always from the image: KVM fills their legacy area even in init state
            bv = (int.from_bytes(image[512:520], "little") | 3) & (self.vm.xcr0 or 3)
            image[512:520] = bv.to_bytes(8, "little")
            image[520:576] = bytes(56)  # standard form, no compaction
        try:
            vcpu.set_xsave(bytes(image))
        except OSError as exc:
            raise OSError(errno.EINVAL, f"KVM refused the FP state: {exc.strerror}") from None

    # --- events -----------------------------------------------------------------------------------

    def poke(self) -> None:
        """Make a blocked wait() return soon; safe to call from a signal handler (a host
        signal also ends a KVM_RUN in progress)."""
        self._poked = True
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:
            pass

    def wait(self, timeout_ns: int | None) -> list[Event]:
        if self._events:
            events, self._events = self._events, []
            return events
        events = self._watches.take_ready_now()
        if events:
            return events
        if self._poked:
            self._poked = False
            drain(self._wake_r)
            return []
        if self._watches:
            events = self._poll(0)
            if events:
                return events
        if timeout_ns is not None and timeout_ns <= 0:
            return []  # a kernel timer is due: it fires before any thread runs on
        runnable = self._runnable
        while runnable:
            context = runnable.popleft()
            if context.state != RUNNABLE:
                continue
            if context.interrupt_requested:
                context.interrupt_requested = False
                context.state = STOPPED
                return [InterruptEvent(context)]
            limit = None
            if runnable or self._watches:
                limit = SLICE_NS
            if timeout_ns is not None:
                limit = timeout_ns if limit is None else min(limit, timeout_ns)
            return self._run(context, limit)
        return self._poll(timeout_ns)

    def _poll(self, timeout_ns: int | None) -> list[Event]:
        timeout = None if timeout_ns is None else max(timeout_ns, 0) / 1e9
        try:
            ready = self._epoll.poll(timeout)
        except InterruptedError:
            ready = ()
        events: list[Event] = []
        for fd, _ in ready:
            if fd == self._wake_r:
                self._poked = False
                drain(self._wake_r)
            elif fd in self._watches:
                events.append(self._watches.fired(fd))
        return events

    def watch_readable(self, stream, key: object) -> None:
        self._watches.watch(stream.fileno(), key)

    # --- running a thread ---------------------------------------------------------------------

    def _load(self, context: KvmContext) -> None:
        """Put the thread's state into its vCPU, ready to continue in ring 3."""
        vcpu = context.vcpu
        space = context.process.address_space
        if vcpu.cr3 != space.root:
            vcpu.set_cr3(space.root)
        if context.pending_fpu is not None:
            self.write_fpu(vcpu, context.pending_fpu)
            context.pending_fpu = None
        if vcpu.fs_base != context.fs_base or vcpu.gs_base != context.gs_base:
            vcpu.set_msrs(((K.MSR_FS_BASE, context.fs_base), (K.MSR_GS_BASE, context.gs_base)))
            vcpu.fs_base, vcpu.gs_base = context.fs_base, context.gs_base
        context.bases_loaded = True
        gprs = context.gprs
        if vcpu.ring == 3:
            vcpu.set_regs(gprs)
        else:
            # in ring 0 (after a fault, or a syscall on conventional KVM): iretq to ring 3
            frame = exits.push_return_frame(context.process.ring0, gprs[_RIP], gprs[_RFLAGS], gprs[_RSP])
            entry = list(gprs)
            entry[_RIP], entry[_RSP], entry[_RFLAGS] = exits.IRETQ, frame, 0x2
            vcpu.set_regs(entry)
            vcpu.ring = 3

    def _run(self, context: KvmContext, limit_ns: int | None) -> list[Event]:
        self._load(context)
        vcpu = context.vcpu
        timer = self._timer
        if limit_ns is not None:
            timer.arm(limit_ns)
        clock = context.clock
        try:
            while True:
                if self._stale:
                    self._stale = False
                    self.vm.resync()
                started = clock()
                try:
                    reason = vcpu.enter()
                except InterruptedError:
                    reason = K.EXIT_INTR
                context.cpu_ns += clock() - started
                self.stats["exits"] += 1
                if reason == K.EXIT_MMIO:
                    gpa = vcpu.mmio()[0]
                    vector = self.layout.vector(gpa)
                    if vector < 0:
                        return self._crash(context, f"the guest reached guest-physical {gpa:#x}")
                    events = self._fault_exit(context, vector)
                    if events is None:
                        continue
                    return events
                if reason == K.EXIT_INTR:
                    if self._preempted(context):
                        return []
                    continue
                return self._crash(context, _describe_exit(vcpu, reason))
        finally:
            if limit_ns is not None:
                timer.disarm()

    def _fault_exit(self, context: KvmContext, vector: int) -> list[Event] | None:
        """A fault's events, or None when it was served here and the thread runs on."""
        vcpu = context.vcpu
        vcpu.ring = 0
        space = context.process.address_space
        ring0 = context.process.ring0
        error, rip, rflags, rsp = exits.fault_frame(ring0, vector)
        if exits.is_syscall(vector, error, rip, rflags):
            return [context.stopped_at_syscall(vcpu.get_regs(), rsp)]
        if rip == exits.IRETQ:
            # the return to ring 3 itself faulted: the registers the kernel set (a
            # non-canonical rip or rsp) cannot be resumed; as Linux, SIGSEGV with them
            context.stopped_in_user_mode(tuple(context.gprs))
            return [FaultEvent(context, signal.SIGSEGV, _SI_KERNEL, 0, "SIGSEGV")]
        if vector == exits.PAGE_FAULT:
            address = vcpu.control_registers()[1]
            write, fetch = bool(error & _PF_WRITE), bool(error & _PF_FETCH)
            try:
                served = space.populate(address, write, fetch)
            except OSError as exc:
                if exc.errno != errno.ENOMEM:
                    raise
                return self._crash(context, "out of guest memory", signal.SIGKILL)
            if served:
                self.stats["populated"] += 1
                frame = exits.push_return_frame(ring0, rip, rflags, rsp)
                entry = list(vcpu.get_regs())
                entry[_RIP], entry[_RSP], entry[_RFLAGS] = exits.IRETQ, frame, 0x2
                vcpu.set_regs(entry)
                vcpu.ring = 3
                return None
            allowed = space.access_allowed(address, write, fetch)
            code = _SEGV_MAPERR if allowed is None or exits.BASE <= address < exits.END else _SEGV_ACCERR
            context.stopped_at_fault(vcpu.get_regs(), rip, rflags, rsp)
            return [FaultEvent(context, signal.SIGSEGV, code, address, "SIGSEGV")]
        if vector in (6, 13) and _is_int80(space, rip):
            # the 32-bit syscall gate: not part of the x86-64 ABI, ended as on the Linux platform
            return self._crash(context, "killed by the sandbox: a system call outside the x86-64 ABI (int 0x80)",
                               signal.SIGSYS)
        context.stopped_at_fault(vcpu.get_regs(), rip, rflags, rsp)
        signo, code, address = self._fault_signal(context, vector, error, rip)
        return [FaultEvent(context, signo, code, address, signal.Signals(signo).name)]

    def _fault_signal(self, context: KvmContext, vector: int, error: int, rip: int) -> tuple[int, int, int]:
        """The signal, si_code and si_addr Linux gives for exception `vector`."""
        if vector == 0:
            return signal.SIGFPE, _FPE_INTDIV, rip
        if vector == 1:
            return signal.SIGTRAP, 2, rip  # TRAP_TRACE
        if vector == 3:
            return signal.SIGTRAP, _SI_KERNEL, 0
        if vector == 6:
            return signal.SIGILL, _ILL_ILLOPN, rip
        if vector == 16:
            return signal.SIGFPE, _FPE_FLTINV, rip
        if vector == 17:
            return signal.SIGBUS, _BUS_ADRALN, 0
        if vector == 19:
            return signal.SIGFPE, _simd_code(self.read_fpu(context.vcpu)), rip
        if vector == 12:
            return signal.SIGBUS, _SI_KERNEL, 0
        return signal.SIGSEGV, _SI_KERNEL, 0  # #GP and the rest

    def _preempted(self, context: KvmContext) -> bool:
        """After KVM_RUN was interrupted: True if the thread stopped in its own code (it
        goes to the back of the queue), False if it was inside the platform's few
        instructions, which must first reach their exit."""
        vcpu = context.vcpu
        raw = vcpu.get_regs()
        if exits.BASE <= raw[_RIP] < exits.END:
            self._timer.disarm()  # let the platform's instructions finish undisturbed
            return False
        vcpu.ring = 3
        context.stopped_in_user_mode(raw)
        self.stats["preempted"] += 1
        self.make_runnable(context)
        return True

    def _crash(self, context: KvmContext, why: str, signo: int = signal.SIGSEGV) -> list[Event]:
        """The VM cannot continue this thread: its process ends."""
        self.kill_process(context.process, signo, why)
        events, self._events = self._events, []
        return events

    # --- the rest of the interface -------------------------------------------------------------------

    def lock_down(self, *, network: bool = False) -> None:
        """Restrict this supervisor process to the host syscalls a running sandbox needs
        (the Linux platform's set and the KVM ioctls); irreversible."""
        from slimbox.platforms.kvm.lockdown import lock_down

        lock_down(network=network)
        self._locked = True

    def close(self) -> None:
        for process in list(self._processes):
            self.kill_process(process)
        self._events.clear()
        self._runnable.clear()
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._release_host()


def _is_int80(space, rip: int) -> bool:
    """Whether the instruction at `rip` is `int 0x80` (kvm_pvm raises #UD for it, a
    conventional IDT without that gate #GP)."""
    try:
        return space.read(rip, 2) == b"\xcd\x80"
    except GuestMemoryError:  # an unreadable rip: not that instruction
        return False


def _simd_code(xsave: bytes) -> int:
    """si_code for a SIMD floating-point exception, from the MXCSR flags not masked."""
    mxcsr = int.from_bytes(xsave[24:28], "little")
    raised = mxcsr & 0x3F & ~(mxcsr >> 7)
    for bit, code in ((0x1, _FPE_FLTINV), (0x4, _FPE_FLTDIV), (0x8, _FPE_FLTOVF), (0x10, _FPE_FLTUND),
                      (0x20, _FPE_FLTRES), (0x2, _FPE_FLTUND)):
        if raised & bit:
            return code
    return _FPE_FLTINV


def _describe_exit(vcpu, reason: int) -> str:
    names = {K.EXIT_SHUTDOWN: "the guest thread triple-faulted", K.EXIT_INTERNAL_ERROR: "KVM could not emulate an "
             "instruction", K.EXIT_FAIL_ENTRY: "KVM could not enter the guest", K.EXIT_HLT: "hlt",
             K.EXIT_IO: "port I/O", K.EXIT_UNKNOWN: "an unknown exit"}
    return f"KVM exit {reason} ({names.get(reason, 'unexpected')})"


__all__ = ["KvmPlatform"]
