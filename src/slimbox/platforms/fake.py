"""A deterministic in-memory platform for unit tests.

Nothing here touches the host: guest memory is a dict of pages, clocks move only
when a test (or `FakePlatform.wait`) moves them, entropy is a fixed sequence, the
standard streams are byte buffers and there is no host filesystem at all. The
kernel runs over these exactly as it runs over a real platform, so a test can drive
the real run loop, park tasks and wake them, and know every result in advance.

Errors follow the South interface: memory that is not mapped raises
`GuestMemoryError` from `read`/`write`; every other refusal raises `OSError` with
the errno a Linux host would give (EINVAL for a misaligned address, ENOMEM for a
range that is not mapped, EFAULT for moving one).

Guest threads never run by themselves. A test makes one "execute" a syscall by
queueing a `SyscallEvent` with `FakePlatform.push`, or gives its context a
`script` of syscalls that are issued one after another each time the kernel
completes the previous one (or resumes the thread).
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import itertools
from collections import deque

from slimbox.abi.regs import Regs
from slimbox.platforms.base import (
    PAGE_SIZE, Event, ExitEvent, GuestMemoryError, HostReadyEvent, HostStat, InterruptEvent, SyscallEvent,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Iterable, Sequence

#: where the fake clocks start: a monotonic clock some seconds after boot, and a
#: realtime clock in November 2023
MONOTONIC_START_NS = 5_000_000_000
REALTIME_START_NS = 1_700_000_000_000_000_000

#: a freshly initialised FXSAVE image: x87 control word 0x37F, MXCSR 0x1F80
_FRESH_FPU = (0x037F).to_bytes(2, "little") + bytes(22) + (0x1F80).to_bytes(4, "little") + bytes(484)
TERMIOS_SIZE = 36
WINSIZE_SIZE = 8
#: protection bits the host's mprotect takes on any mapping: read, write, exec, PROT_SEM
_HOST_PROT = 0x1 | 0x2 | 0x4 | 0x8
_S_IFCHR, _S_IFIFO = 0o020000, 0o010000
#: /dev/pts/0, as a terminal stream reports it
_PTS0_RDEV = (136 << 8) | 0
#: a cooked-mode terminal: ICRNL | IXON, OPOST | ONLCR, B38400 | CS8 | CREAD,
#: ISIG | ICANON | ECHO | ECHOE | ECHOK | IEXTEN | ECHOCTL | ECHOKE, then c_line and
#: the first control characters (intr, quit, erase, kill, eof, time, min)
_DEFAULT_TERMIOS = (
    (0x0500).to_bytes(4, "little") + (0x0005).to_bytes(4, "little") + (0x00BF).to_bytes(4, "little")
    + (0x8A3B).to_bytes(4, "little") + b"\0" + bytes((3, 28, 127, 21, 4, 0, 1)) + bytes(12)
)


class FakeDeadlock(RuntimeError):
    """`FakePlatform.wait(None)` was called with nothing that could ever happen: on a
    real host the sandbox would hang forever."""


def _check_aligned(addr: int, length: int) -> int:
    """The page-rounded length of a fixed-address operation (Linux EINVALs as a host does)."""
    if addr % PAGE_SIZE or addr < 0 or length <= 0:
        raise OSError(errno.EINVAL, "fake address space: misaligned address or empty range")
    return -(-length // PAGE_SIZE) * PAGE_SIZE


class FakeAddressSpace:
    """Guest memory: mapped ranges with their protections, and the contents of pages
    that were ever written, in a dict of page number -> bytearray. Pages mapped but
    never written read as zeros, so a test may map gigabytes for free."""

    def __init__(self, reserved: Iterable[tuple[int, int]] = (),
                 vdso: Iterable[tuple[int, int, int, bytes]] = ()) -> None:
        self._reserved = sorted((int(lo), int(hi)) for lo, hi in reserved)
        #: what vdso() answers (none unless a test gives pieces; they are mapped here)
        self._vdso = list(vdso)
        #: page number -> contents, only for pages that have been written
        self.pages: dict[int, bytearray] = {}
        # sorted, non-overlapping [start, end) ranges and what they were mapped with
        self._starts: list[int] = []
        self._ranges: list[tuple[int, int, int, bool]] = []
        self.closed = False
        for start, end, prot, _ in self._vdso:
            self._insert(start, end, prot, False)

    # --- the protocol -------------------------------------------------------------

    def reserved(self) -> list[tuple[int, int]]:
        return list(self._reserved)

    def vdso(self) -> list[tuple[int, int, int, bytes]]:
        return list(self._vdso)

    def map(self, addr: int, length: int, prot: int, *, shared: bool = False) -> None:
        length = _check_aligned(addr, length)
        end = addr + length
        if any(lo < end and addr < hi for lo, hi in self._reserved):
            raise OSError(errno.EPERM, "fake address space: mapping over a reserved range")
        self._carve(addr, end)
        self._drop_pages(addr, end)
        self._insert(addr, end, prot, shared)

    def map_file(self, addr: int, length: int, prot: int, host_file, offset: int) -> bool:
        return False  # nothing on a fake host can be mapped: the kernel copies

    def unmap(self, addr: int, length: int) -> None:
        length = _check_aligned(addr, length)
        self._carve(addr, addr + length)
        self._drop_pages(addr, addr + length)

    def protect(self, addr: int, length: int, prot: int) -> None:
        length = _check_aligned(addr, length)
        if prot & ~_HOST_PROT:
            # as the host: PROT_GROWSDOWN/UP need a grows-down mapping, and there is none
            raise OSError(errno.EINVAL, "fake address space: protection the host would refuse")
        end = addr + length
        self._require_mapped(addr, end, errno.ENOMEM)
        pieces = self._carve(addr, end)
        for start, stop, _, shared in pieces:
            self._insert(start, stop, prot, shared)

    def move(self, old_addr: int, old_length: int, new_addr: int, new_length: int) -> None:
        old_length = _check_aligned(old_addr, old_length)
        new_length = _check_aligned(new_addr, new_length)
        self._require_mapped(old_addr, old_addr + old_length, errno.EFAULT)
        _, _, prot, shared = self._range_at(old_addr)
        kept = {page - old_addr // PAGE_SIZE: data for page, data in self.pages.items()
                if old_addr // PAGE_SIZE <= page < (old_addr + min(old_length, new_length)) // PAGE_SIZE}
        self.unmap(old_addr, old_length)
        self.map(new_addr, new_length, prot, shared=shared)
        first = new_addr // PAGE_SIZE
        for index, data in kept.items():
            self.pages[first + index] = data

    def discard(self, addr: int, length: int) -> None:
        length = _check_aligned(addr, length)
        self._require_mapped(addr, addr + length, errno.ENOMEM)
        self._drop_pages(addr, addr + length)

    def read(self, addr: int, length: int) -> bytes:
        if length <= 0:
            return b""
        self._require_mapped(addr, addr + length, None)
        out = bytearray()
        while len(out) < length:
            at = addr + len(out)
            offset = at % PAGE_SIZE
            chunk = min(PAGE_SIZE - offset, length - len(out))
            page = self.pages.get(at // PAGE_SIZE)
            out += page[offset:offset + chunk] if page is not None else bytes(chunk)
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        self._require_mapped(addr, addr + len(data), None)
        done = 0
        while done < len(data):
            at = addr + done
            offset = at % PAGE_SIZE
            chunk = min(PAGE_SIZE - offset, len(data) - done)
            page = self.pages.setdefault(at // PAGE_SIZE, bytearray(PAGE_SIZE))
            page[offset:offset + chunk] = data[done:done + chunk]
            done += chunk

    def close(self) -> None:
        self.pages.clear()
        self._starts.clear()
        self._ranges.clear()
        self.closed = True

    def copy_from(self, other: FakeAddressSpace) -> None:
        """Become a copy of `other` (what fork gives the child)."""
        self._reserved = list(other._reserved)
        self._starts = list(other._starts)
        self._ranges = list(other._ranges)
        self.pages = {page: bytearray(data) for page, data in other.pages.items()}

    # --- inspection for tests ----------------------------------------------------------

    def mappings(self) -> list[tuple[int, int, int, bool]]:
        """(start, end, prot, shared) of every mapped range, adjacent ranges with the
        same attributes merged."""
        merged: list[tuple[int, int, int, bool]] = []
        for start, end, prot, shared in self._ranges:
            if merged and merged[-1][1] == start and merged[-1][2:] == (prot, shared):
                merged[-1] = (merged[-1][0], end, prot, shared)
            else:
                merged.append((start, end, prot, shared))
        return merged

    def is_mapped(self, addr: int) -> bool:
        return self._range_at(addr) is not None

    def prot_at(self, addr: int) -> int | None:
        found = self._range_at(addr)
        return None if found is None else found[2]

    # --- ranges -------------------------------------------------------------------------

    def _range_at(self, addr: int) -> tuple[int, int, int, bool] | None:
        index = bisect.bisect_right(self._starts, addr) - 1
        if index >= 0 and self._ranges[index][1] > addr:
            return self._ranges[index]
        return None

    def _require_mapped(self, start: int, end: int, error: int | None) -> None:
        """Raise for the first address in [start, end) that is not mapped: a
        GuestMemoryError (error None) or OSError(error)."""
        addr = start
        while addr < end:
            found = self._range_at(addr)
            if found is None:
                if error is None:
                    raise GuestMemoryError(addr)
                raise OSError(error, f"fake address space: {addr:#x} is not mapped")
            addr = found[1]

    def _insert(self, start: int, end: int, prot: int, shared: bool) -> None:
        index = bisect.bisect_left(self._starts, start)
        self._starts.insert(index, start)
        self._ranges.insert(index, (start, end, prot, shared))

    def _carve(self, start: int, end: int) -> list[tuple[int, int, int, bool]]:
        """Remove [start, end) from the mapped ranges; returns the pieces removed."""
        removed = []
        index = max(bisect.bisect_right(self._starts, start) - 1, 0)
        while index < len(self._ranges):
            lo, hi, prot, shared = self._ranges[index]
            if lo >= end:
                break
            if hi <= start:
                index += 1
                continue
            del self._ranges[index]
            del self._starts[index]
            removed.append((max(lo, start), min(hi, end), prot, shared))
            if lo < start:
                self._ranges.insert(index, (lo, start, prot, shared))
                self._starts.insert(index, lo)
                index += 1
            if hi > end:
                self._ranges.insert(index, (end, hi, prot, shared))
                self._starts.insert(index, end)
                index += 1
        return removed

    def _drop_pages(self, start: int, end: int) -> None:
        first, last = start // PAGE_SIZE, -(-end // PAGE_SIZE)
        if last - first < len(self.pages):
            for page in range(first, last):
                self.pages.pop(page, None)
        else:
            for page in [p for p in self.pages if first <= p < last]:
                del self.pages[page]


class FakeContext:
    """One guest thread that never runs by itself. It records what the kernel did to
    it: the results of finished syscalls, resumptions, interruptions, being killed."""

    def __init__(self, address_space: FakeAddressSpace, cpu_ns: int = 0,
                 platform: FakePlatform | None = None) -> None:
        self._regs = Regs.zeros()
        self.owner: object = None
        self.address_space = address_space
        self.cpu_ns = cpu_ns
        self.platform = platform
        self.fpu = _FRESH_FPU
        #: every result passed to finish_syscall, in order
        self.finished: list[int] = []
        #: ("finish", result) and ("resume", rax) in the order the kernel let the thread go:
        #: a syscall's result is whichever comes first after it
        self.history: list[tuple[str, int]] = []
        #: how many times resume() and interrupt() were called
        self.resumed = 0
        self.interrupted = 0
        #: killed with its process, or ended alone with exit_thread()
        self.killed = False
        self.exited = False
        #: (nr, raw arguments) the thread issues next, one each time it is let go
        self.script: deque[tuple[int, Sequence[int]]] = deque()

    @property
    def gone(self) -> bool:
        return self.killed or self.exited

    @property
    def regs(self) -> Regs:
        """The register file; like a host thread's, it cannot be read once the thread
        has ended (the Linux platform's ptrace then fails with ProcessLookupError)."""
        if self.gone:
            raise ProcessLookupError(errno.ESRCH, "the thread has ended")
        return self._regs

    @regs.setter
    def regs(self, value: Regs) -> None:
        self._regs = value

    def resume(self) -> None:
        self._check_alive("resume")
        self.resumed += 1
        self.history.append(("resume", self.regs.rax))
        self._issue_next()

    def finish_syscall(self, result: int) -> None:
        self._check_alive("finish_syscall")
        self.finished.append(result)
        self.regs.rax = result
        self.history.append(("finish", result))
        self._issue_next()

    def kill(self) -> None:
        """End every thread of this process (the contexts sharing its address space)."""
        siblings = [self] if self.platform is None else self.platform.threads_of(self.address_space)
        for context in siblings:
            context._end(killed=True, signal=9, why="killed by the kernel")

    def exit_thread(self) -> None:
        self._end(killed=False, signal=0, why="thread exited")

    def interrupt(self) -> None:
        self.interrupted += 1
        if self.platform is not None and not self.gone:
            self.platform.push(InterruptEvent(self))

    def cpu_time_ns(self) -> int:
        return self.cpu_ns

    def process_cpu_time_ns(self) -> int:
        siblings = [self] if self.platform is None else self.platform.threads_of(self.address_space)
        return sum(context.cpu_ns for context in siblings)

    def fpu_state(self) -> bytes:
        return self.fpu

    def set_fpu_state(self, data: bytes) -> None:
        self.fpu = bytes(data)

    def reset_fpu_state(self) -> None:
        self.fpu = _FRESH_FPU

    def fork(self) -> FakeContext:
        """A new process: a copy of this address space and of this thread's registers."""
        if self.platform is None:
            raise RuntimeError("fork needs a platform")
        child = self.platform.new_process()
        child.address_space.copy_from(self.address_space)
        child.regs = self.regs.copy()
        child.fpu = self.fpu
        return child

    def spawn_thread(self) -> FakeContext:
        """A new thread in this address space with a copy of this thread's registers."""
        thread = FakeContext(self.address_space, platform=self.platform)
        thread.regs = self.regs.copy()
        thread.fpu = self.fpu
        if self.platform is not None:
            self.platform.contexts.append(thread)
        return thread

    def _end(self, *, killed: bool, signal: int, why: str) -> None:
        if self.gone:
            return
        self.killed = killed
        self.exited = not killed
        self.script.clear()
        if self.platform is not None:
            self.platform.push(ExitEvent(self, signal, why))

    def _check_alive(self, what: str) -> None:
        if self.gone:
            raise RuntimeError(f"{what} on a thread that has ended")

    def _issue_next(self) -> None:
        if self.script and not self.gone and self.platform is not None:
            nr, args = self.script.popleft()
            self.platform.syscall(self, nr, *args)


class FakeStream:
    """A standard stream as a byte buffer: `feed` what the guest will read,
    `close_input` for end of file, and find what it wrote in `output`."""

    def __init__(self, data: bytes = b"", *, terminal: bool = False, eof: bool = False, ino: int = 1) -> None:
        self.input = bytearray(data)
        self.output = bytearray()
        self.eof = eof
        self.terminal = terminal
        self.ino = ino
        self.termios = _DEFAULT_TERMIOS
        self.winsize = (24).to_bytes(2, "little") + (80).to_bytes(2, "little") + bytes(4)
        #: at most this many bytes accepted per write (None: everything)
        self.max_write: int | None = None
        #: errno every write fails with (None: writes succeed)
        self.write_error: int | None = None
        self.closed = False

    # --- what tests do ----------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.eof:
            raise ValueError("input already closed")
        self.input += data

    def close_input(self) -> None:
        self.eof = True

    # --- HostStream ---------------------------------------------------------------------

    def ready(self) -> bool:
        return bool(self.input) or self.eof

    def read(self, length: int) -> bytes | None:
        if length < 0:
            raise OSError(errno.EINVAL, "negative length")
        if self.input:
            data = bytes(self.input[:length])
            del self.input[:length]
            return data
        return b"" if self.eof else None

    def write(self, data: bytes) -> int:
        if self.write_error is not None:
            raise OSError(self.write_error, errno.errorcode.get(self.write_error, "error"))
        accepted = data if self.max_write is None else data[:self.max_write]
        self.output += accepted
        return len(accepted)

    def is_terminal(self) -> bool:
        return self.terminal

    def stat(self) -> HostStat:
        mode = _S_IFCHR | 0o620 if self.terminal else _S_IFIFO | 0o600
        return HostStat(mode, self.ino, 0x16, 1, 0, 5 if self.terminal else 0,
                        _PTS0_RDEV if self.terminal else 0, 0, 4096, 0,
                        REALTIME_START_NS, REALTIME_START_NS, REALTIME_START_NS)

    def terminal_attributes(self) -> bytes:
        self._need_terminal()
        return self.termios

    def set_terminal_attributes(self, when: int, termios: bytes) -> None:
        self._need_terminal()
        if when not in (0, 1, 2) or len(termios) != TERMIOS_SIZE:
            raise OSError(errno.EINVAL, "bad termios request")
        self.termios = bytes(termios)

    def window_size(self) -> bytes:
        self._need_terminal()
        return self.winsize

    def pending(self) -> int:
        return len(self.input)

    def close(self) -> None:
        self.closed = True

    def _need_terminal(self) -> None:
        if not self.terminal:
            raise OSError(errno.ENOTTY, "not a terminal")


class FakeHost:
    """Clocks moved by hand, deterministic entropy, buffer streams, no host files."""

    def __init__(self, *, cpu_count: int = 2, memory_bytes: int = 1 << 30,
                 hwcap: dict[int, int] | None = None, terminal: bool = False) -> None:
        self.monotonic = MONOTONIC_START_NS
        self.realtime = REALTIME_START_NS
        self._draws = itertools.count()
        self._cpu_count = cpu_count
        self._memory_bytes = memory_bytes
        self._hwcap = dict(hwcap or {})
        self.streams = (FakeStream(terminal=terminal, ino=1), FakeStream(terminal=terminal, ino=2),
                        FakeStream(terminal=terminal, ino=3))

    @property
    def stdin(self) -> FakeStream:
        return self.streams[0]

    @property
    def stdout(self) -> FakeStream:
        return self.streams[1]

    @property
    def stderr(self) -> FakeStream:
        return self.streams[2]

    def clock_ns(self, clock: int) -> int:
        if clock in (0, 5, 11):  # realtime, its coarse and TAI variants
            return self.realtime
        if clock in (1, 4, 6, 7):  # monotonic, raw, coarse, boottime
            return self.monotonic
        raise OSError(errno.EINVAL, f"no host clock {clock}")

    def advance(self, ns: int) -> None:
        """Let `ns` nanoseconds pass on both clocks."""
        if ns < 0:
            raise ValueError("time does not run backwards")
        self.monotonic += ns
        self.realtime += ns

    def set_realtime(self, ns: int) -> None:
        """Step the wall clock (as an administrator or NTP would); monotonic time is unaffected."""
        self.realtime = ns

    def entropy(self, length: int) -> bytes:
        """Never the same bytes twice, and the same sequence in every run."""
        return hashlib.shake_256(b"slimbox fake entropy %d" % next(self._draws)).digest(length) if length else b""

    def stdio(self) -> tuple[FakeStream, FakeStream, FakeStream]:
        return self.streams

    def open_host_directory(self, path: str, writable: bool):
        raise OSError(errno.EACCES, "a fake host exposes no host files", path)

    def open_archive(self, path: str):
        raise OSError(errno.EACCES, "a fake host exposes no host files", path)

    def cpu_count(self) -> int:
        return self._cpu_count

    def memory_bytes(self) -> int:
        return self._memory_bytes

    def hardware_capabilities(self) -> dict[int, int]:
        return dict(self._hwcap)


class FakePlatform:
    """Hands out fake threads and delivers the events a test queues. Time passes
    only in `wait`: when nothing is queued it jumps the host clocks to the end of
    the timeout, so a sleeping guest wakes at exactly its deadline."""

    name = "fake"

    def __init__(self, host: FakeHost | None = None, *, reserved: Iterable[tuple[int, int]] = ()) -> None:
        self.host = host if host is not None else FakeHost()
        self.reserved = tuple(reserved)
        self.contexts: list[FakeContext] = []
        self._events: deque[Event] = deque()
        self._watches: list[tuple[FakeStream, object]] = []
        #: the timeout of every wait() call, for tests of the loop
        self.waits: list[int | None] = []
        self.closed = False

    def lock_down(self, *, network: bool = False) -> None:
        self.locked = True

    def new_process(self) -> FakeContext:
        if self.closed:
            raise RuntimeError("platform is closed")
        context = FakeContext(FakeAddressSpace(self.reserved), platform=self)
        self.contexts.append(context)
        return context

    def push(self, event: Event) -> None:
        """Queue an event for the next wait()."""
        self._events.append(event)

    def syscall(self, context: FakeContext, nr: int, *args: int) -> None:
        """Queue `context` executing syscall `nr` (arguments as registers hold them)."""
        raw = [value & ((1 << 64) - 1) for value in args]
        self.push(SyscallEvent(context, nr, raw + [0] * (6 - len(raw))))

    def threads_of(self, address_space: FakeAddressSpace) -> list[FakeContext]:
        return [c for c in self.contexts if c.address_space is address_space]

    def watching(self, stream: FakeStream) -> bool:
        return any(watched is stream for watched, _ in self._watches)

    def wait(self, timeout_ns: int | None) -> list[Event]:
        self.waits.append(timeout_ns)
        events = list(self._events)
        self._events.clear()
        events.extend(self._ready_watches())
        if events:
            return events
        if timeout_ns is None:
            raise FakeDeadlock("wait() without a timeout and nothing queued, watched-and-ready or pending")
        self.host.advance(max(timeout_ns, 0))
        return []

    def watch_readable(self, stream: FakeStream, key: object) -> None:
        for index, (watched, _) in enumerate(self._watches):
            if watched is stream:
                self._watches[index] = (stream, key)
                return
        self._watches.append((stream, key))

    def close(self) -> None:
        for context in self.contexts:
            context.kill()
            context.address_space.close()
        self._watches.clear()
        self.closed = True

    def _ready_watches(self) -> list[Event]:
        ready = [(stream, key) for stream, key in self._watches if stream.ready()]
        if ready:
            self._watches = [(s, k) for s, k in self._watches if not s.ready()]
        return [HostReadyEvent(key) for _, key in ready]


class FakeHostConnection:
    """A host TCP connection whose far end is the test: `incoming` is what the host
    peer has sent (the test appends), `outgoing` what the supervisor sent it. It
    connects when the test calls `finish_connect`."""

    def __init__(self, network: FakeHostNetwork, remote: tuple[bytes, int], *, connected: bool) -> None:
        self.network = network
        self.remote = remote
        #: None while connecting, then the errno the connect ended with (0: connected)
        self.connect_error: int | None = 0 if connected else None
        self.incoming = bytearray()
        self.outgoing = bytearray()
        #: the host peer sent its end of stream
        self.incoming_eof = False
        #: how many bytes the host takes before its buffer is full
        self.capacity = 1 << 20
        #: an errno every send/receive raises (a reset), or 0
        self.broken = 0
        self.shut_send = False
        self.closed = False
        self.interest = (False, False)

    def finish_connect(self, error: int = 0) -> None:
        self.connect_error = error

    def connect_result(self) -> int:
        return self.connect_error or 0

    def send(self, data: bytes) -> int:
        if self.broken:
            raise OSError(self.broken, errno.errorcode.get(self.broken, "error"))
        taken = data[:max(self.capacity - len(self.outgoing), 0)]
        self.outgoing += taken
        return len(taken)

    def receive(self, length: int) -> bytes | None:
        if self.broken:
            raise OSError(self.broken, errno.errorcode.get(self.broken, "error"))
        if self.incoming:
            data = bytes(self.incoming[:length])
            del self.incoming[:length]
            return data
        return b"" if self.incoming_eof else None

    def shutdown_send(self) -> None:
        self.shut_send = True

    def close(self) -> None:
        self.closed = True
        self.network.open.discard(self)

    def ready_for(self, readable: bool, writable: bool) -> bool:
        if self.connect_error is None:
            return False
        can_read = bool(self.incoming) or self.incoming_eof or bool(self.broken)
        can_write = len(self.outgoing) < self.capacity or bool(self.broken)
        return (readable and can_read) or (writable and can_write)


class FakeHostDatagramSocket:
    """A host UDP socket: `sent` holds (data, ip, port) the supervisor sent; the test
    appends (data, (ip, port)) to `incoming` for datagrams that arrive."""

    def __init__(self, network: FakeHostNetwork, ip: bytes) -> None:
        self.network = network
        self.ipv4 = ip[:12] == bytes(10) + b"\xff\xff"
        self.sent: list[tuple[bytes, bytes, int]] = []
        self.incoming: deque[tuple[bytes, tuple[bytes, int]]] = deque()
        self.closed = False
        self.interest = (False, False)

    def send_to(self, data: bytes, ip: bytes, port: int) -> int:
        if (ip[:12] == bytes(10) + b"\xff\xff") != self.ipv4:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        self.sent.append((bytes(data), ip, port))
        return len(data)

    def receive_from(self, length: int) -> tuple[bytes, tuple[bytes, int]] | None:
        if not self.incoming:
            return None
        data, source = self.incoming.popleft()
        return data[:length], source

    def close(self) -> None:
        self.closed = True
        self.network.open.discard(self)

    def ready_for(self, readable: bool, writable: bool) -> bool:
        return (readable and bool(self.incoming)) or writable


class FakeHostListener:
    """A published host port; the test queues clients with `connect_client`."""

    def __init__(self, network: FakeHostNetwork, address: tuple[bytes, int]) -> None:
        self.network = network
        self.address = address
        self.waiting: deque[tuple[FakeHostConnection, tuple[bytes, int]]] = deque()
        self.closed = False
        self.interest = (False, False)

    def connect_client(self, client: tuple[bytes, int]) -> FakeHostConnection:
        connection = FakeHostConnection(self.network, client, connected=True)
        self.waiting.append((connection, client))
        return connection

    def accept(self) -> tuple[FakeHostConnection, tuple[bytes, int]] | None:
        if not self.waiting:
            return None
        connection, client = self.waiting.popleft()
        self.network.open.add(connection)
        return connection, client

    def close(self) -> None:
        self.closed = True
        self.network.open.discard(self)

    def ready_for(self, readable: bool, writable: bool) -> bool:
        return readable and bool(self.waiting)


class FakeHostNetwork:
    """The host side of a sandbox's network, in memory (see platforms/base.py's
    HostNetwork). `names` answers resolve(); `ports_in_use` are refused by listen()."""

    def __init__(self) -> None:
        self.open: set = set()
        self.connections: list[FakeHostConnection] = []
        self.listeners: list[FakeHostListener] = []
        self.datagram_sockets: list[FakeHostDatagramSocket] = []
        self.names: dict[str, list[bytes]] = {}
        self.ports_in_use: set[int] = set()
        self._keys: dict[int, tuple[object, object]] = {}
        self.closed = False

    def ready(self) -> bool:
        return bool(self.ready_keys())

    def ready_keys(self) -> list[object]:
        return [key for handle, key in self._keys.values()
                if handle in self.open and handle.ready_for(*handle.interest)]

    def watch(self, handle, key: object, readable: bool, writable: bool) -> None:
        handle.interest = (readable, writable)
        self._keys[id(handle)] = (handle, key)

    def connect(self, ip: bytes, port: int) -> FakeHostConnection:
        connection = FakeHostConnection(self, (ip, port), connected=False)
        self.connections.append(connection)
        self.open.add(connection)
        return connection

    def open_datagram(self, ip: bytes) -> FakeHostDatagramSocket:
        handle = FakeHostDatagramSocket(self, ip)
        self.datagram_sockets.append(handle)
        self.open.add(handle)
        return handle

    def listen(self, ip: str, port: int) -> FakeHostListener:
        if port in self.ports_in_use:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        listener = FakeHostListener(self, (bytes(10) + b"\xff\xff" + bytes(int(p) for p in ip.split(".")), port))
        self.listeners.append(listener)
        self.open.add(listener)
        return listener

    def resolve(self, name: str) -> list[bytes]:
        if name not in self.names:
            raise OSError(errno.ENOENT, f"{name}: unknown")
        return list(self.names[name])

    def close(self) -> None:
        for handle in list(self.open):
            handle.close()
        self.closed = True
