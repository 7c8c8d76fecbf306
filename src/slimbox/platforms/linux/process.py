"""A guest process on the Linux platform: one stub process, its threads, its memory.

`StubProcess` is the AddressSpace: memory is read and written through
/proc/PID/mem, and the address space is changed only by syscalls injected at the
stub's trampoline through a stopped thread. `StubThread` is the Context. New guest
processes and threads are made the same way: by injecting clone(2), so the host
kernel copies (or shares) the address space and the new task is traced from birth.
"""

from __future__ import annotations

import itertools
import os
import _signal as signal  # `signal` without the enum classes it builds at import (and enum): ~6 ms a run
import struct
import time

from slimbox.abi.regs import MASK64, REG_NAMES, SYSCALL_ARG_REGS, Regs
from slimbox.platforms.base import PAGE_SIZE, GuestMemoryError, SyscallEvent
from slimbox.platforms.linux import _native as native
from slimbox.platforms.linux import seccomp
from slimbox.platforms.linux.spawn import CHANNEL_FD
from slimbox.platforms.linux.stub import BATCH_ENTRY, StubImage
from slimbox.platforms.linux.vdso import ranges_to_empty, vdso_pieces

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.platforms.linux.platform import LinuxPlatform

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

_SYS_MMAP, _SYS_MPROTECT, _SYS_MUNMAP, _SYS_MREMAP, _SYS_MADVISE = 9, 10, 11, 25, 28
_SYS_CLONE, _SYS_EXIT, _SYS_SECCOMP = 56, 60, 317
_SYS_CLOSE, _SYS_RECVMSG = 3, 47
_MSG_CMSG_CLOEXEC = 0x40000000
_MSG_DONTWAIT = 0x40  # never leave the host thread blocked in recvmsg
_SOL_SOCKET, _SCM_RIGHTS = 1, 1

# the process's scratch page, used only for receiving descriptors on the mapping channel
_MSGHDR = struct.Struct("<QI4xQQQQi4x")   # name, namelen, iov, iovlen, control, controllen, flags
_IOVEC = struct.Struct("<QQ")
_CMSG_FD = struct.Struct("<QiiI")           # cmsg_len, level, type, one descriptor
_SCRATCH_MSGHDR, _SCRATCH_IOVEC, _SCRATCH_TAG, _SCRATCH_CONTROL = 0, 64, 96, 128
_TAG = struct.Struct("<Q")
# the upper half of the scratch page holds the table of a batch of injected calls
_SCRATCH_BATCH = PAGE_SIZE // 2
_BATCH_MAX = (PAGE_SIZE - _SCRATCH_BATCH) // BATCH_ENTRY.size
_FD = struct.Struct("i")  # one descriptor, as SCM_RIGHTS carries it

# host clone flags for a guest thread: everything shared, as a pthread is
_THREAD_FLAGS = 0x00000100 | 0x00000200 | 0x00000400 | 0x00000800 | 0x00010000 | 0x00040000
_CLONE_EVENTS = (native.PTRACE_EVENT_CLONE, native.PTRACE_EVENT_FORK, native.PTRACE_EVENT_VFORK)
_FAULTS = frozenset((signal.SIGSEGV, signal.SIGBUS, signal.SIGILL))
_ARG_INDEX = tuple(REG_NAMES.index(name) for name in SYSCALL_ARG_REGS)


class PlatformError(Exception):
    """The host did something the platform did not expect (never the guest's fault)."""


# thread states
RUNNING = "running"
STOPPED = "stopped"      # in a ptrace stop: registers and injections available
NOTIFIED = "notified"    # blocked in a seccomp user notification, waiting for our answer
GONE = "gone"


class StubThread:
    """One guest thread = one host thread of a stub process.

    Registers are fetched only when the kernel asks for them; a syscall answered
    without touching them costs two POKEUSERs instead of a full register round trip.
    """

    __slots__ = ("tid", "process", "_regs", "owner", "state", "interrupt_requested", "notification",
                 "syscall_event")

    def __init__(self, tid: int, process: StubProcess) -> None:
        self.tid = tid
        self.process = process
        self._regs: Regs | None = None
        self.owner: object = None
        self.state = STOPPED
        self.interrupt_requested = False
        #: the id of the user notification the thread waits in (state NOTIFIED)
        self.notification = 0
        #: the event its notified syscalls are reported with (reused: one at a time)
        self.syscall_event = SyscallEvent(self, -1, ())

    @property
    def address_space(self) -> StubProcess:
        return self.process

    @property
    def regs(self) -> Regs:
        if self._regs is None:
            if self.state != STOPPED:
                self.take_ptrace_stop()
            self._regs = self.process.tracer.get_regs(self.tid)
        return self._regs

    def notified(self, notification: int) -> None:
        """Record that the thread waits in user notification `notification`."""
        self._regs = None
        self.state = NOTIFIED
        self.notification = notification

    def take_ptrace_stop(self) -> None:
        """Bring a thread that is running, or waiting in a notification, to a ptrace stop
        (for its registers, an injection, or its end). An interrupt cancels a pending
        notification; the thread then stops inside that syscall, which resume()
        completes without restarting it."""
        tracer = self.process.tracer
        tracer.interrupt(self.tid)
        while True:
            status = self.process.platform.wait_tid(self.tid)
            if not os.WIFSTOPPED(status):
                self.state = GONE
                raise PlatformError(f"thread {self.tid} ended while being stopped")
            event = status >> 16
            if event in (native.PTRACE_EVENT_STOP, native.PTRACE_EVENT_SECCOMP):
                # (a syscall-entry stop is a stop too; the caller overwrites orig_rax, so
                # the syscall is never run by the host)
                break
            tracer.cont(self.tid)  # a host signal: not ours to deliver
        self.state = STOPPED
        self.notification = 0
        self.interrupt_requested = False

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
        if self.state == NOTIFIED:
            process = self.process
            if process.platform.answer(process.listener, self.notification, result):
                self.state = RUNNING
                return
            # The notification was cancelled under us (an interrupt landed as the thread
            # entered the syscall): finish it at the ptrace stop instead, so it is not
            # restarted and run twice.
            self.take_ptrace_stop()
        tracer = self.process.tracer
        tracer.poke_user(self.tid, native.OFFSET_ORIG_RAX, _NO_SYSCALL)
        tracer.poke_user(self.tid, native.OFFSET_RAX, result)
        self.state = RUNNING
        tracer.cont(self.tid)

    def kill(self) -> None:
        if self.state != GONE:
            self.process.kill()

    def interrupt(self) -> None:
        """Ask a running thread to stop; an InterruptEvent follows."""
        if self.state == RUNNING and not self.interrupt_requested:
            self.interrupt_requested = True
            try:
                self.process.tracer.interrupt(self.tid)
            except ProcessLookupError:
                pass

    def cpu_time_ns(self) -> int:
        # Linux lets only a thread's own process read its thread clock; from outside, the
        # scheduler's count in /proc is the per-thread figure.
        if len(self.process.threads) == 1:
            return self.process_cpu_time_ns()
        try:
            fd = os.open(f"/proc/{self.process.pid}/task/{self.tid}/schedstat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return 0
        try:
            return int(os.read(fd, 128).split()[0])
        except (OSError, ValueError, IndexError):
            return 0
        finally:
            os.close(fd)

    def process_cpu_time_ns(self) -> int:
        try:
            return time.clock_gettime_ns((~self.tid << 3) | 2)  # CPUCLOCK_SCHED of the thread's process
        except OSError:
            return 0

    def stopped(self) -> None:
        """Record a new ptrace stop: registers must be fetched afresh."""
        self._regs = None
        self.state = STOPPED

    # --- FP/SSE/AVX state --------------------------------------------------------------

    def fpu_state(self) -> bytes:
        if self.state != STOPPED:
            self.take_ptrace_stop()
        return self.process.tracer.get_xstate(self.tid)

    def set_fpu_state(self, data: bytes) -> None:
        if self.state != STOPPED:
            self.take_ptrace_stop()
        self.process.tracer.set_xstate(self.tid, data)

    def reset_fpu_state(self) -> None:
        """The FP/SSE/AVX state a fresh process starts with (signal handlers, exec)."""
        self.set_fpu_state(self.process.platform.initial_fpu)

    # --- new guest tasks ----------------------------------------------------------------

    def fork(self) -> StubThread:
        """A new process whose memory is a copy of this one's, with one stopped thread
        whose registers are a copy of this thread's."""
        return self.process.fork_from(self)

    def spawn_thread(self) -> StubThread:
        """A new stopped thread in this process, registers copied from this thread."""
        return self.process.thread_from(self)

    def exit_thread(self) -> None:
        """End this host thread only (the other threads of the process go on)."""
        if self.state in (NOTIFIED, RUNNING):
            self.take_ptrace_stop()
        self.process.exit_thread(self)


class StubProcess:
    """The address space of one guest process."""

    def __init__(self, pid: int, keeper: int | None, image: StubImage, tracer: native.Ptrace,
                 platform: LinuxPlatform, channel: native.Socket | None = None) -> None:
        self.pid = pid
        self.keeper = keeper
        self.image = image
        self.tracer = tracer
        self.platform = platform
        #: the supervisor's end of the channel host files are passed through (shared by forks)
        self.channel = channel
        self._tags = itertools.count(1) if channel is not None else None
        #: the seccomp listener this process's notifications arrive on (shared by forks)
        self.listener = -1
        self.scratch = 0
        self.base = 0
        #: the host's vDSO mappings left in place at prepare (a fork has its parent's)
        self.vdso_pieces: list[tuple[int, int, int, bytes]] = []
        self.threads: dict[int, StubThread] = {}
        self.main = StubThread(pid, self)
        self.threads[pid] = self.main
        self._mem = -1
        #: host syscalls injected, and the ptrace round trips that took (a batch is one)
        self.injections = 0
        self.injection_stops = 0
        self.dead = False
        #: while batched() is open: the memory calls and writes waiting for one batch
        self._batching = 0
        self._queued: list[tuple[int, tuple[int, ...]]] = []
        self._queued_writes: list[tuple[int, bytes]] = []

    # --- set-up ----------------------------------------------------------------

    def prepare(self, notify: bool) -> int:
        """Take the freshly exec'd stub at its first int3 and make it an empty, filtered
        address space. Returns the seccomp listener descriptor (now the supervisor's),
        or -1 when syscalls are only traced."""
        status = self.platform.wait_tid(self.pid)
        if not (os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP):
            raise PlatformError(f"sandbox process did not start (wait status {status:#x})")
        self.main.stopped()
        regs = self.main.regs
        self.base = regs.rip - 1 - self.image.entry
        if not self.platform.initial_fpu:
            self.platform.initial_fpu = self.main.fpu_state()  # untouched since exec: the initial state
        self._open_memory()
        # The host's vDSO stays (guest clock reads without a syscall); everything else
        # but the stub's page goes (the vsyscall page cannot be unmapped and is reserved).
        with open(f"/proc/{self.pid}/maps", "rb") as maps:
            self.vdso_pieces = vdso_pieces(maps.read())
        for start, end in ranges_to_empty((self.base, self.base + PAGE_SIZE), self.vdso_pieces):
            self._checked("munmap", self.inject(_SYS_MUNMAP, start, end - start))
        scratch = self._checked("mmap", self.inject(_SYS_MMAP, 0, PAGE_SIZE, 3, _MAP_PRIVATE | _MAP_ANONYMOUS,
                                                    MASK64, 0))
        listener = -1
        for with_notifications in ((True, False) if notify else (False,)):
            program = seccomp.build_filter(self.image.trampoline_syscall_end(self.base), notify=with_notifications,
                                           batch_ip=self.image.batch_syscall_end(self.base))
            self.write(scratch, program)
            self.write(scratch + len(program), seccomp.fprog(program, scratch))
            flags = seccomp.SECCOMP_FILTER_FLAG_NEW_LISTENER if with_notifications else 0
            installed = self.inject(_SYS_SECCOMP, seccomp.SECCOMP_SET_MODE_FILTER, flags, scratch + len(program))
            if installed >= 0:
                if with_notifications:
                    listener = native.take_descriptor(self.pid, installed)
                    self.inject(_SYS_CLOSE, installed)
                break
        else:
            raise PlatformError(f"seccomp filters are not available ({os.strerror(-installed)})")
        self.write(scratch, bytes(PAGE_SIZE))
        self.scratch = scratch  # kept: reserved from the guest, used to receive descriptors
        return listener

    def _open_memory(self) -> None:
        self._mem = os.open(f"/proc/{self.pid}/mem", os.O_RDWR | os.O_CLOEXEC)

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
        for thread in self.threads.values():
            if thread.state == NOTIFIED:
                thread.take_ptrace_stop()
                return thread
        raise PlatformError("no stopped thread to inject through")

    def inject(self, nr: int, *args: int) -> int:
        """Run host syscall `nr` in this process from the trampoline; returns rax
        (negative errno on failure)."""
        if self._queued:
            self._flush()
        return self._inject_through(self._stopped_thread(), nr, args)[0]

    def _inject_through(self, thread: StubThread, nr: int, args: tuple[int, ...]) -> tuple[int, int]:
        """(rax, pid of a task the syscall created or 0). The thread's guest registers
        stay in its register cache; the next resume writes them back."""
        guest = thread.regs
        regs = guest.copy()
        regs.rip = self.base + self.image.trampoline
        regs.rax = nr
        regs.orig_rax = _NO_SYSCALL
        for index, value in enumerate(args):
            regs[_ARG_INDEX[index]] = value & MASK64
        after, created = self._run_to_trap(thread, regs, f"syscall {nr}", (nr, args))
        if after.rip != self.image.trampoline_trap_end(self.base):
            raise PlatformError(f"injected syscall {nr} stopped at {after.rip:#x}")
        self.injections += 1
        thread._regs = guest
        result = after.rax
        return (result - (1 << 64) if result >> 63 else result), created

    def _run_to_trap(self, thread: StubThread, regs: Regs, what: str,
                     approvable: tuple[int, tuple[int, ...]] | None) -> tuple[Regs, int]:
        """Run `thread` from `regs` to the int3 that ends an injection of `what` ("syscall
        56"); (its registers there, pid of a task a clone created or 0). `approvable` is
        the one call of the approval set that may stop on the way, with its arguments;
        any other syscall stop ends the process."""
        tracer = self.tracer
        tracer.set_regs(thread.tid, regs)
        tracer.cont(thread.tid)
        self.injection_stops += 1
        created = 0
        while True:
            status = self.platform.wait_tid(thread.tid)
            if not os.WIFSTOPPED(status):
                self.dead = True
                thread.state = GONE
                raise PlatformError(f"injected {what} did not return (wait status {status:#x})")
            event = status >> 16
            if event in _CLONE_EVENTS:
                created = tracer.event_message(thread.tid)
                tracer.cont(thread.tid)
            elif event == native.PTRACE_EVENT_SECCOMP and approvable is not None:
                self._approve(thread, *approvable)
                approvable = None
            elif event == native.PTRACE_EVENT_SECCOMP:
                self.kill()
                raise PlatformError(f"a second syscall stop while injecting {what}")
            elif event == 0 and os.WSTOPSIG(status) == signal.SIGTRAP:
                break
            elif event == 0 and os.WSTOPSIG(status) in _FAULTS and tracer.get_siginfo(thread.tid)[2] > 0:
                self._trampoline_gone(what)  # a fault (si_code > 0), not a signal sent from the host
            else:  # a host signal or a stale interrupt: not the guest's, not ours
                tracer.cont(thread.tid)
        return tracer.get_regs(thread.tid), created

    # --- batches of memory calls -------------------------------------------------------------

    def batched(self) -> _Batch:
        """A scope in which the memory calls (map, unmap, protect, discard) wait and then
        run together in one stop, through the stub's batch loop, with the writes made
        meanwhile after them. A read, any other injection, or a call over bytes written
        meanwhile runs what waits first, so the outcome is that of doing each in turn."""
        return _Batch(self)

    def _queue(self, nr: int, args: tuple[int, ...]) -> bool:
        """Keep a memory call for the batch (True), or say there is no batch open."""
        if not self._batching:
            return False
        lo, hi = args[0], args[0] + args[1]
        if any(addr < hi and lo < addr + len(data) for addr, data in self._queued_writes):
            self._flush()  # the call would undo (or be undone by) a write made before it
        self._queued.append((nr, args))
        return True

    def _flush(self) -> None:
        calls, writes = self._queued, self._queued_writes
        self._queued, self._queued_writes = [], []
        for first in range(0, len(calls), _BATCH_MAX):
            chunk = calls[first:first + _BATCH_MAX]
            if len(chunk) == 1:
                nr, args = chunk[0]
                failed, result = nr, self._inject_through(self._stopped_thread(), nr, args)[0]
                if result >= 0:
                    continue
            else:
                failed, result = self._run_batch(chunk)
                if failed < 0:
                    continue
            raise OSError(-result, f"host syscall {failed} failed: {os.strerror(-result)}")
        for addr, data in writes:
            self.write(addr, data)

    def _run_batch(self, calls: list[tuple[int, tuple[int, ...]]]) -> tuple[int, int]:
        """Run `calls` (memory calls only: nothing in a batch may stop for approval) in
        one stop, up to the first that fails: (-1, 0) when all succeeded, else (its
        number, negative errno)."""
        thread = self._stopped_thread()
        table = self.scratch + _SCRATCH_BATCH
        entries = []
        for nr, args in calls:
            words = [value & MASK64 for value in args] + [0] * (6 - len(args))
            entries.append(BATCH_ENTRY.pack(nr, *words))
        self.write(table, b"".join(entries))
        guest = thread.regs
        regs = guest.copy()
        regs.rip = self.base + self.image.batch
        regs.rbx = table
        regs.r12 = len(calls)
        regs.orig_rax = _NO_SYSCALL
        after, _ = self._run_to_trap(thread, regs, f"a batch of {len(calls)} syscalls", None)
        left = after.r12
        if after.rip != self.image.batch_trap_end(self.base) or not 0 <= left <= len(calls):
            raise PlatformError(f"a batch of injected syscalls stopped at {after.rip:#x}")
        self.injections += len(calls) - max(left - 1, 0)
        thread._regs = guest
        if not left:
            return -1, 0
        return calls[len(calls) - left][0], after.rax - (1 << 64)

    def _approve(self, thread: StubThread, nr: int, args: tuple[int, ...]) -> None:
        """Let the host run a syscall of the approval set that this thread stopped in
        (seccomp.APPROVED_SYSCALLS). It must be the very call just injected: made at the
        trampoline, with the injected number and arguments. Anything else means the
        guest rewrote the stub's page to run code of its own on the way (it could then
        set up a clone of its choosing and jump to the trampoline), and the process ends."""
        ip, seen, seen_args = self.tracer.syscall_site(thread.tid)
        injected = tuple(value & MASK64 for value in args)
        if (ip, seen, seen_args[:len(injected)]) != (self.image.trampoline_syscall_end(self.base), nr, injected):
            self.kill()
            raise PlatformError(f"injected syscall {nr} stopped as syscall {seen} at {ip:#x} "
                                f"with other arguments")
        self.tracer.cont(thread.tid)

    def _trampoline_gone(self, what: str) -> None:
        """The injection faulted: the guest unmapped or changed the stub's page (or the
        scratch page a batch reads) through the trampoline itself. Nothing can be
        injected into it any more (and resuming would fault again forever): the process
        ends."""
        self.kill()
        raise PlatformError(f"injected {what} faulted: the process's trampoline is gone")

    # --- new processes and threads ---------------------------------------------------------

    def _adopt_new_task(self, parent: StubThread, result: int, created: int, what: str) -> int:
        if result < 0:
            raise OSError(-result, f"host {what} failed: {os.strerror(-result)}")
        tid = created or result
        status = self.platform.wait_tid(tid)  # an auto-attached task starts with PTRACE_EVENT_STOP
        if not os.WIFSTOPPED(status):
            raise PlatformError(f"new {what} did not start (wait status {status:#x})")
        return tid

    def fork_from(self, parent: StubThread) -> StubThread:
        if self._queued:
            self._flush()
        result, created = self._inject_through(parent, _SYS_CLONE, (0, 0, 0, 0, 0))
        pid = self._adopt_new_task(parent, result, created, "fork")
        child = StubProcess(pid, None, self.image, self.tracer, self.platform, self.channel)
        child._tags = self._tags
        child.listener = self.listener
        child.scratch = self.scratch
        child.base = self.base
        child.vdso_pieces = self.vdso_pieces
        child._open_memory()
        child.main._regs = parent.regs.copy()
        self.platform.adopt_process(child)
        return child.main

    def thread_from(self, parent: StubThread) -> StubThread:
        if self._queued:
            self._flush()
        result, created = self._inject_through(parent, _SYS_CLONE, (_THREAD_FLAGS, 0, 0, 0, 0))
        tid = self._adopt_new_task(parent, result, created, "thread")
        thread = StubThread(tid, self)
        thread._regs = parent.regs.copy()
        self.threads[tid] = thread
        self.platform.adopt_thread(thread)
        return thread

    def exit_thread(self, thread: StubThread) -> None:
        """Inject exit(0) into one thread. The thread-group leader's host thread lingers
        as a zombie until the process ends, so only other threads are waited for."""
        if thread.state == GONE:
            return
        if self._queued:
            self._flush()
        regs = thread.regs.copy()
        regs.rip = self.base + self.image.trampoline
        regs.rax = _SYS_EXIT
        regs.rdi = 0
        regs.orig_rax = _NO_SYSCALL
        self.tracer.set_regs(thread.tid, regs)
        self.tracer.cont(thread.tid)
        thread.state = GONE
        self.threads.pop(thread.tid, None)
        while True:
            status = self.platform.wait_tid(thread.tid)
            if not os.WIFSTOPPED(status):
                break
            if status >> 16 == native.PTRACE_EVENT_SECCOMP:
                self._approve(thread, _SYS_EXIT, (0,))  # exit stops for approval too
                if thread.tid == self.pid:
                    break  # the leader lingers as a zombie: its end is not waited for
                continue
            self.tracer.cont(thread.tid)
        self.platform.forget_thread(thread)

    # --- AddressSpace ---------------------------------------------------------------

    def reserved(self) -> list[tuple[int, int]]:
        ranges = [(self.base, self.base + PAGE_SIZE), _VSYSCALL_PAGE]
        if self.scratch:
            ranges.append((self.scratch, self.scratch + PAGE_SIZE))
        return ranges

    def vdso(self) -> list[tuple[int, int, int, bytes]]:
        return list(self.vdso_pieces)

    def map_file(self, addr: int, length: int, prot: int, host_file, offset: int) -> bool:
        """Map a host file privately at exactly `addr` (no copy: the host shares its page
        cache). The descriptor travels over the mapping channel and is closed at once.
        False when that cannot be done; the kernel then copies the bytes instead."""
        fd = getattr(host_file, "fd", -1)
        if self.channel is None or not self.scratch or fd < 0:
            return False
        tag = _TAG.pack(next(self._tags))
        try:
            self.channel.sendmsg([tag], [(native.SOL_SOCKET, native.SCM_RIGHTS, _FD.pack(fd))])
        except OSError:
            return False
        received = self._receive_descriptor(tag)
        if received < 0:
            return False
        flags = _MAP_FIXED | _MAP_PRIVATE
        mapped = self.inject(_SYS_MMAP, addr, length, prot, flags, received, offset)
        self.inject(_SYS_CLOSE, received)
        return mapped == addr

    def _receive_descriptor(self, tag: bytes) -> int:
        """Inject recvmsg on the channel until the message with `tag` arrives (an earlier
        process may have left one behind); -1 if the channel does not work here."""
        base = self.scratch
        header = _MSGHDR.pack(0, 0, base + _SCRATCH_IOVEC, 1, base + _SCRATCH_CONTROL, _CMSG_FD.size + 4, 0)
        self.write(base + _SCRATCH_MSGHDR, header)
        self.write(base + _SCRATCH_IOVEC, _IOVEC.pack(base + _SCRATCH_TAG, _TAG.size))
        for _ in range(8):
            got = self.inject(_SYS_RECVMSG, CHANNEL_FD, base + _SCRATCH_MSGHDR, _MSG_CMSG_CLOEXEC | _MSG_DONTWAIT)
            if got != _TAG.size:
                return -1
            length, level, kind, fd = _CMSG_FD.unpack(self.read(base + _SCRATCH_CONTROL, _CMSG_FD.size))
            if level != _SOL_SOCKET or kind != _SCM_RIGHTS or length < 20:
                return -1
            if self.read(base + _SCRATCH_TAG, _TAG.size) == tag:
                return fd
            self.inject(_SYS_CLOSE, fd)  # someone else's, left over
        return -1

    def map(self, addr: int, length: int, prot: int, *, shared: bool = False) -> None:
        flags = _MAP_FIXED | _MAP_ANONYMOUS | _MAP_NORESERVE | (_MAP_SHARED if shared else _MAP_PRIVATE)
        args = (addr, length, prot, flags, MASK64, 0)
        if self._queue(_SYS_MMAP, args):
            return
        result = self.inject(_SYS_MMAP, *args)
        if result != addr:
            raise OSError(-result if result < 0 else 12, "host mmap failed")

    def unmap(self, addr: int, length: int) -> None:
        if not self._queue(_SYS_MUNMAP, (addr, length)):
            self._host_errno(self.inject(_SYS_MUNMAP, addr, length))

    def protect(self, addr: int, length: int, prot: int) -> None:
        if not self._queue(_SYS_MPROTECT, (addr, length, prot)):
            self._host_errno(self.inject(_SYS_MPROTECT, addr, length, prot))

    def move(self, old_addr: int, old_length: int, new_addr: int, new_length: int) -> None:
        result = self.inject(_SYS_MREMAP, old_addr, old_length, new_length, _MREMAP_MAYMOVE | _MREMAP_FIXED, new_addr)
        if result != new_addr:
            raise OSError(-result if result < 0 else 12, "host mremap failed")

    def discard(self, addr: int, length: int) -> None:
        if not self._queue(_SYS_MADVISE, (addr, length, _MADV_DONTNEED)):
            self._host_errno(self.inject(_SYS_MADVISE, addr, length, _MADV_DONTNEED))

    @staticmethod
    def _host_errno(result: int) -> None:
        if result < 0:
            raise OSError(-result, os.strerror(-result))

    def read(self, addr: int, length: int) -> bytes:
        if length == 0:
            return b""
        if self._queued:
            self._flush()
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
        if self._queued:  # after the mappings it may need (a copy: the caller may reuse its buffer)
            self._queued_writes.append((addr, bytes(data)))
            return
        try:
            done = os.pwrite(self._mem, data, addr)
        except (OSError, OverflowError):
            raise GuestMemoryError(addr) from None
        if done != len(data):
            raise GuestMemoryError(addr + done)

    def kill(self) -> None:
        self._queued, self._queued_writes = [], []
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


class _Batch:
    """StubProcess.batched(): nests; the outermost exit runs what waits."""

    __slots__ = ("process",)

    def __init__(self, process: StubProcess) -> None:
        self.process = process

    def __enter__(self) -> None:
        self.process._batching += 1

    def __exit__(self, kind, value, traceback) -> None:
        process = self.process
        process._batching -= 1
        if process._batching or not process._queued:
            return
        if kind is None:
            process._flush()
            return
        try:  # what came before the failure is still done, as without a batch
            process._flush()
        except (OSError, GuestMemoryError, PlatformError):
            pass  # the first failure is the one to report
