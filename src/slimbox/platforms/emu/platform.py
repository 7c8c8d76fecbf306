"""The emu platform: guest code runs in the unicorn CPU emulator, in the calling thread.

`wait` takes the next runnable guest thread, runs it until it makes a syscall, takes
a fault, or uses up its time slice (scheduler.py), and reports what happened as an
event; scheduler.py says how runs that do not end by themselves are cut short. With nothing runnable it sleeps until the timeout, a `poke`, or a watched host
stream turning ready (polled: nothing here waits on host descriptors, so the platform
works wherever Python and unicorn do).
"""

from __future__ import annotations

import time

from slimbox.platforms.base import Event, ExitEvent, FaultEvent, HostReadyEvent, InterruptEvent, SyscallEvent
from slimbox.platforms.emu import engine as uc
from slimbox.platforms.emu import fpu
from slimbox.platforms.emu.cpu import RUNNABLE, STOPPED, EmuThread
from slimbox.platforms.emu.engine import load_unicorn
from slimbox.platforms.emu.memory import EmuAddressSpace
from slimbox.platforms.emu.scheduler import FOREVER, UNCOUNTED_TURN_NS, Preemption, RunQueue

_SIGILL, _SIGTRAP, _SIGBUS, _SIGFPE, _SIGKILL, _SIGSEGV, _SIGSYS = 4, 5, 7, 8, 9, 11, 31
_SEGV_MAPERR, _SEGV_ACCERR, _SI_KERNEL = 1, 2, 0x80
_ILL_ILLOPN, _FPE_INTDIV, _TRAP_BRKPT, _BUS_ADRALN = 2, 1, 1, 1
#: syscall numbers with this bit are the x32 ABI, which a sandboxed program may not use
_X32_SYSCALL_BIT = 0x40000000
_INT80 = 0x80
_ABI_VIOLATION = "killed by the sandbox: a system call outside the x86-64 ABI (int 0x80 or x32)"

#: CPU exception -> (signal, si_code, si_addr is the instruction's address, description),
#: as Linux reports them to a user program; any other vector is a general protection fault
_EXCEPTIONS = {
    0: (_SIGFPE, _FPE_INTDIV, True, "integer divide error"),
    1: (_SIGTRAP, _TRAP_BRKPT, True, "debug trap"),
    3: (_SIGTRAP, _SI_KERNEL, False, "breakpoint (int3)"),
    6: (_SIGILL, _ILL_ILLOPN, True, "invalid opcode"),
    16: (_SIGFPE, 0, True, "x87 floating-point exception"),
    17: (_SIGBUS, _BUS_ADRALN, False, "alignment check"),
    19: (_SIGFPE, 0, True, "SIMD floating-point exception"),
}
_GENERAL_PROTECTION = (_SIGSEGV, _SI_KERNEL, False, "general protection fault")
#: the hole between the user and kernel halves of the 48-bit address space
_NON_CANONICAL_START, _NON_CANONICAL_END = 1 << 47, (1 << 64) - (1 << 47)
#: unicorn reports a bad address cut to the 52 bits of its physical address space
_REPORTED_BITS = 52
_KERNEL_HALF_BITS = 0x1F  # bits 47..51 of a reported kernel-half address


def _guest_address(reported: int) -> int:
    """The address a guest instruction used, from the 52-bit one unicorn reports: one
    whose bits 47 to 51 are all set is taken as a (canonical) kernel-half address, any
    other above bit 47 as non-canonical (both fault as on Linux then; the top 12 bits
    themselves are lost)."""
    if reported >> 47 == _KERNEL_HALF_BITS:
        return reported | ((1 << 64) - (1 << _REPORTED_BITS))
    if reported >= 1 << 47:
        return _NON_CANONICAL_START
    return reported

#: the idle loop's polling interval for watched streams and pokes: it starts short (a
#: reply is often on its way) and grows to the longest
_IDLE_FIRST_S, _IDLE_LONGEST_S = 0.0005, 0.01


class EmuPlatform:
    """Guest processes in unicorn instances, scheduled here (see the module docstring)."""

    name = "emu"

    def __init__(self, host) -> None:
        load_unicorn()  # PlatformUnavailable before anything else is made
        self.host = host
        self._queue = RunQueue()
        self._events: list[Event] = []
        self._watches: list[tuple[object, object]] = []
        self._spaces: list[EmuAddressSpace] = []
        self._preemption = Preemption()
        self._poked = False
        self.closed = False

    # --- processes and threads ------------------------------------------------------

    def new_process(self) -> EmuThread:
        if self.closed:
            raise RuntimeError("platform is closed")
        space = EmuAddressSpace()
        thread = EmuThread(self, space)
        space.loaded = thread
        space.fpu.restore(space.engine, fpu.FRESH)  # unicorn starts with x87 and MXCSR zeroed
        self._spaces.append(space)
        return thread

    def adopt(self, space: EmuAddressSpace) -> None:
        """A process made by fork."""
        self._spaces.append(space)

    def make_runnable(self, thread: EmuThread) -> None:
        if thread.state == STOPPED:
            thread.state = RUNNABLE
            self._queue.push(thread)

    def interrupt(self, thread: EmuThread) -> None:
        """A thread waiting for the CPU stops at once; a stopped or gone one is left alone."""
        if thread.state == RUNNABLE and self._queue.remove(thread):
            thread.state = STOPPED
            self._events.append(InterruptEvent(thread))

    def forget_thread(self, thread: EmuThread) -> None:
        self._queue.remove(thread)

    def end_process(self, space: EmuAddressSpace, signal: int, description: str, *,
                    release_memory: bool = True) -> None:
        """End every thread of `space` (ExitEvents follow). The memory goes with them
        unless the guest itself caused the end: the kernel still writes back shared
        file mappings then, and the memory is released with the platform."""
        for thread in list(space.threads):
            self._queue.remove(thread)
            thread.release()
            self._events.append(ExitEvent(thread, signal, description))
        if release_memory and not space.dead:
            space.close()
            if space in self._spaces:
                self._spaces.remove(space)

    # --- events ------------------------------------------------------------------------

    def poke(self) -> None:
        """Make wait() return soon; safe in a signal handler (it only sets flags)."""
        self._poked = True
        self._preemption.cut_short()

    def watch_readable(self, stream, key: object) -> None:
        for index, (watched, _) in enumerate(self._watches):
            if watched is stream:
                self._watches[index] = (stream, key)
                return
        self._watches.append((stream, key))

    def wait(self, timeout_ns: int | None) -> list[Event]:
        if self._events:
            events, self._events = self._events, []
            return events
        if self._watches:
            ready = self._ready_watches()
            if ready:
                return ready
        if self._poked:
            self._poked = False
            return []
        thread = self._queue.pop()
        if thread is None:
            return self._idle(timeout_ns)
        return self._run(thread, timeout_ns)

    def _run(self, thread: EmuThread, timeout_ns: int | None) -> list[Event]:
        engine = thread.prepare_run()
        started = time.perf_counter_ns()
        if engine.sliced:
            status = engine.run(thread.rip)
        else:
            # uncounted: cut short by the timer thread only past the deadline, or once it
            # has run long while another thread waits (then the process is sliced for good)
            ends_at = FOREVER if timeout_ns is None else time.monotonic_ns() + max(timeout_ns, 0)
            if len(self._queue):
                ends_at = min(ends_at, time.monotonic_ns() + UNCOUNTED_TURN_NS)
            preemption = self._preemption
            preemption.begin(engine, ends_at)
            status = engine.run(thread.rip)
            if preemption.end():
                engine.start_slicing()
        thread.cpu_ns += time.perf_counter_ns() - started
        reason = engine.reason
        if reason == uc.STOP_SYSCALL:
            values = engine.read(engine.syscall)
            nr = values[0]
            thread.rip = values[7]
            thread.rflags = values[8]
            thread.state = STOPPED
            thread.in_syscall = True
            thread.syscall_nr = nr
            if nr & _X32_SYSCALL_BIT:
                return self._abi_violation(thread)
            return [SyscallEvent(thread, nr, values[1:7])]
        if reason == uc.STOP_NONE and status == uc.ERR_OK:
            # the time slice ended (or the run was cut short): to the back of the queue
            thread.rip = engine.read_register(uc.RIP)
            thread.state = RUNNABLE
            self._queue.push(thread)
            return []
        return self._fault(thread, engine, status, reason)

    def _fault(self, thread: EmuThread, engine: uc.Engine, status: int, reason: int) -> list[Event]:
        if reason == uc.STOP_MEMORY:
            kind, address = engine.detail
            rip = engine.fault_rip
            address = _guest_address(address)
            if _NON_CANONICAL_START <= address < _NON_CANONICAL_END:
                # a general protection fault on x86-64, not a page fault: no address
                signal, code, _, description = _GENERAL_PROTECTION
                address = 0
            else:
                code = _SEGV_ACCERR if kind in uc.MEM_PROT_TYPES else _SEGV_MAPERR
                signal, description = _SIGSEGV, "segmentation fault"
        elif reason == uc.STOP_INTERRUPT:
            vector = engine.detail
            if vector == _INT80:
                return self._abi_violation(thread)
            rip = engine.fault_rip
            thread.address_space.forget_exception()
            signal, code, at_instruction, description = _EXCEPTIONS.get(vector, _GENERAL_PROTECTION)
            address = rip if at_instruction else 0
        elif status == uc.ERR_INSN_INVALID:
            rip = engine.read_register(uc.RIP)
            signal, code, address, description = _SIGILL, _ILL_ILLOPN, rip, "invalid opcode"
        else:
            rip = engine.read_register(uc.RIP)
            signal, code, address = _SIGSEGV, _SI_KERNEL, 0
            description = f"emulator error: {engine.lib.uc_strerror(status).decode()}"
        engine.write_register(uc.RIP, rip)
        thread.rip = rip
        thread.state = STOPPED
        return [FaultEvent(thread, signal, code, address, description)]

    def _abi_violation(self, thread: EmuThread) -> list[Event]:
        self.end_process(thread.address_space, _SIGSYS, _ABI_VIOLATION, release_memory=False)
        events, self._events = self._events, []
        return events

    def _idle(self, timeout_ns: int | None) -> list[Event]:
        """Nothing to run: sleep until the timeout, a poke or a watched stream is ready."""
        deadline = None if timeout_ns is None else time.monotonic_ns() + max(timeout_ns, 0)
        interval = _IDLE_FIRST_S
        while True:
            if self._poked:
                self._poked = False
                return []
            if self._watches:
                ready = self._ready_watches()
                if ready:
                    return ready
            if deadline is None:
                pause = interval
            else:
                left = deadline - time.monotonic_ns()
                if left <= 0:
                    return []
                pause = min(interval, left / 1e9)
            time.sleep(pause)
            interval = min(interval * 2, _IDLE_LONGEST_S)

    def _ready_watches(self) -> list[Event]:
        ready = [(stream, key) for stream, key in self._watches if stream.ready()]
        if not ready:
            return []
        self._watches = [(s, k) for s, k in self._watches if all(s is not r for r, _ in ready)]
        return [HostReadyEvent(key) for _, key in ready]

    # --- the rest of Platform --------------------------------------------------------------

    def lock_down(self, *, network: bool = False) -> None:
        """Nothing to restrict: this platform makes no host calls for the guest beyond the
        emulator's, and it has no portable way to limit the process it runs in."""

    def stats(self) -> dict[str, int]:
        return {"processes": len(self._spaces)}

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._preemption.close()
        for space in list(self._spaces):
            for thread in list(space.threads):
                thread.release()
            if not space.dead:
                space.close()
        self._spaces.clear()
        self._watches.clear()
        self._events.clear()


__all__ = ["EmuPlatform"]
