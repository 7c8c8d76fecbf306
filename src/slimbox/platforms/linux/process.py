"""A guest process on the Linux platform: one stub process, its threads, its memory.

`StubProcess` is the AddressSpace: memory is read and written through
/proc/PID/mem, and the address space is changed only by syscalls injected at the
stub's trampoline through a stopped thread. `StubThread` is the Context.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Callable

from slimbox.abi.regs import MASK64, Regs
from slimbox.platforms.base import GuestMemoryError, PAGE_SIZE
from slimbox.platforms.linux import _native as native
from slimbox.platforms.linux import seccomp
from slimbox.platforms.linux.stub import StubImage

_NO_SYSCALL = MASK64  # orig_rax = -1: "not in a syscall", so nothing is restarted or run

_MAP_SHARED = 0x01
_MAP_PRIVATE = 0x02
_MAP_FIXED = 0x10
_MAP_ANONYMOUS = 0x20
_MAP_NORESERVE = 0x4000
_MREMAP_MAYMOVE = 1
_MREMAP_FIXED = 2
_MADV_DONTNEED = 4
_VSYSCALL_PAGE = (0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000)


class PlatformError(Exception):
    """The host did something the platform did not expect (never the guest's fault)."""


# thread states
RUNNING = "running"
STOPPED = "stopped"
GONE = "gone"


class StubThread:
    """One guest thread = one host thread of a stub process.

    Registers are fetched only when the kernel asks for them; a syscall answered
    without touching them costs two POKEUSERs instead of a full register round trip.
    """

    __slots__ = ("tid", "process", "_regs", "owner", "state")

    def __init__(self, tid: int, process: StubProcess) -> None:
        self.tid = tid
        self.process = process
        self._regs: Regs | None = None
        self.owner: object = None
        self.state = STOPPED

    @property
    def address_space(self) -> StubProcess:
        return self.process

    @property
    def regs(self) -> Regs:
        if self._regs is None:
            self._regs = self.process.tracer.get_regs(self.tid)
        return self._regs

    @regs.setter
    def regs(self, value: Regs) -> None:
        self._regs = value

    def resume(self) -> None:
        regs = self.regs
        regs.orig_rax = _NO_SYSCALL
        tracer = self.process.tracer
        tracer.set_regs(self.tid, regs)
        self._regs = None
        self.state = RUNNING
        tracer.cont(self.tid)

    def finish_syscall(self, result: int) -> None:
        if self._regs is not None:
            self._regs.rax = result
            self.resume()
            return
        tracer = self.process.tracer
        tracer.poke_user(self.tid, native.OFFSET_ORIG_RAX, _NO_SYSCALL)
        tracer.poke_user(self.tid, native.OFFSET_RAX, result)
        self.state = RUNNING
        tracer.cont(self.tid)

    def kill(self) -> None:
        if self.state != GONE:
            self.process.kill()

    def cpu_time_ns(self) -> int:
        try:
            return time.clock_gettime_ns((~self.tid << 3) | 6)  # per-thread CPUCLOCK_SCHED
        except OSError:
            return 0

    def stopped(self) -> None:
        """Record a new ptrace stop: registers must be fetched afresh."""
        self._regs = None
        self.state = STOPPED


class StubProcess:
    """The address space of one guest process."""

    def __init__(self, pid: int, keeper: int, image: StubImage, tracer: native.Ptrace,
                 wait_for: Callable[[int], int]) -> None:
        self.pid = pid
        self.keeper = keeper
        self.image = image
        self.tracer = tracer
        self._wait_for = wait_for  # blocking wait for one tid's next stop
        self.base = 0
        self.threads: dict[int, StubThread] = {}
        self.main = StubThread(pid, self)
        self.threads[pid] = self.main
        self._mem = -1
        self.injections = 0
        self.dead = False

    # --- set-up ----------------------------------------------------------------

    def prepare(self) -> None:
        """Take the freshly exec'd stub at its first int3 and make it an empty,
        filtered address space."""
        status = self._wait_for(self.pid)
        if not (os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP):
            raise PlatformError(f"sandbox process did not start (wait status {status:#x})")
        self.main.stopped()
        regs = self.main.regs
        self.base = regs.rip - 1 - self.image.entry
        self._mem = os.open(f"/proc/{self.pid}/mem", os.O_RDWR | os.O_CLOEXEC)
        for start, end, name in self._host_mappings():
            if start != self.base and (start, end) != _VSYSCALL_PAGE:
                self._checked("munmap", self.inject(11, start, end - start))
        scratch = self._checked("mmap", self.inject(9, 0, PAGE_SIZE, 3, _MAP_PRIVATE | _MAP_ANONYMOUS, MASK64, 0))
        program = seccomp.build_filter(self.image.trampoline_syscall_end(self.base))
        self.write(scratch, program)
        self.write(scratch + len(program), seccomp.fprog(program, scratch))
        installed = self.inject(317, seccomp.SECCOMP_SET_MODE_FILTER, 0, scratch + len(program))
        if installed != 0:
            raise PlatformError(f"seccomp filters are not available ({os.strerror(-installed)})")
        self._checked("munmap", self.inject(11, scratch, PAGE_SIZE))

    def _host_mappings(self) -> list[tuple[int, int, str]]:
        out = []
        with open(f"/proc/{self.pid}/maps") as maps:
            for line in maps:
                fields = line.split()
                start, end = (int(x, 16) for x in fields[0].split("-"))
                out.append((start, end, fields[5] if len(fields) > 5 else ""))
        return out

    @staticmethod
    def _checked(what: str, result: int) -> int:
        if -4096 < result < 0:
            raise PlatformError(f"injected {what} failed: {os.strerror(-result)}")
        return result

    # --- injection ----------------------------------------------------------------

    def _stopped_thread(self) -> StubThread:
        for thread in self.threads.values():
            if thread.state == STOPPED:
                return thread
        raise PlatformError("no stopped thread to inject through")

    def inject(self, nr: int, *args: int) -> int:
        """Run host syscall `nr` in this process from the trampoline; returns rax
        (negative errno on failure). The chosen thread's registers are preserved."""
        thread = self._stopped_thread()
        saved = thread.regs
        regs = saved.copy()
        regs.rip = self.base + self.image.trampoline
        regs.rax = nr
        regs.orig_rax = _NO_SYSCALL
        for name, value in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
            setattr(regs, name, value & MASK64)
        self.tracer.set_regs(thread.tid, regs)
        self.tracer.cont(thread.tid)
        status = self._wait_for(thread.tid)
        self.injections += 1
        if not (os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP):
            self.dead = not os.WIFSTOPPED(status)
            raise PlatformError(f"injected syscall {nr} did not return (wait status {status:#x})")
        after = self.tracer.get_regs(thread.tid)
        if after.rip != self.image.trampoline_trap_end(self.base):
            raise PlatformError(f"injected syscall {nr} stopped at {after.rip:#x}")
        thread.regs = saved
        self.tracer.set_regs(thread.tid, saved)
        result = after.rax
        return result - (1 << 64) if result >> 63 else result

    # --- AddressSpace ---------------------------------------------------------------

    def reserved(self) -> list[tuple[int, int]]:
        return [(self.base, self.base + PAGE_SIZE), _VSYSCALL_PAGE]

    def map(self, addr: int, length: int, prot: int, *, shared: bool = False) -> None:
        flags = _MAP_FIXED | _MAP_ANONYMOUS | _MAP_NORESERVE | (_MAP_SHARED if shared else _MAP_PRIVATE)
        result = self.inject(9, addr, length, prot, flags, MASK64, 0)
        if result != addr:
            raise OSError(-result if result < 0 else 12, "host mmap failed")

    def unmap(self, addr: int, length: int) -> None:
        self._host_errno(self.inject(11, addr, length))

    def protect(self, addr: int, length: int, prot: int) -> None:
        self._host_errno(self.inject(10, addr, length, prot))

    def move(self, old_addr: int, old_length: int, new_addr: int, new_length: int) -> None:
        result = self.inject(25, old_addr, old_length, new_length, _MREMAP_MAYMOVE | _MREMAP_FIXED, new_addr)
        if result != new_addr:
            raise OSError(-result if result < 0 else 12, "host mremap failed")

    def discard(self, addr: int, length: int) -> None:
        self._host_errno(self.inject(28, addr, length, _MADV_DONTNEED))

    @staticmethod
    def _host_errno(result: int) -> None:
        if result < 0:
            raise OSError(-result, os.strerror(-result))

    def read(self, addr: int, length: int) -> bytes:
        if length == 0:
            return b""
        try:
            data = os.pread(self._mem, length, addr)
        except (OSError, OverflowError):
            raise GuestMemoryError(addr) from None
        if len(data) != length:
            raise GuestMemoryError(addr + len(data))
        return data

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        try:
            done = os.pwrite(self._mem, data, addr)
        except (OSError, OverflowError):
            raise GuestMemoryError(addr) from None
        if done != len(data):
            raise GuestMemoryError(addr + done)

    def kill(self) -> None:
        if not self.dead:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        self.kill()
        if self._mem >= 0:
            os.close(self._mem)
            self._mem = -1
