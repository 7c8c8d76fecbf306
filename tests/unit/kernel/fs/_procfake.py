"""A small guest world for /proc and /dev tests: the real Kernel, Process, Task and
MemoryManager over a fake host and platform whose address space keeps pages in a dict."""

from __future__ import annotations

import hashlib
import itertools

from slimbox.kernel.cred import Credentials
from slimbox.kernel.fd import FdTable
from slimbox.kernel.fs.vfs import FsContext
from slimbox.kernel.kernel import Kernel, KernelConfig
from slimbox.kernel.mm import PROT_READ, PROT_WRITE, MemoryManager
from slimbox.kernel.task import Process, Task
from slimbox.platforms.base import PAGE_SIZE, GuestMemoryError

STACK_TOP = 0x7FFF_F000_0000
STACK_SIZE = 16 * PAGE_SIZE


class FakeAddressSpace:
    """Guest memory as a dict of page number -> bytearray."""

    def __init__(self) -> None:
        self.pages: dict[int, bytearray] = {}

    def reserved(self) -> list[tuple[int, int]]:
        return []

    def map(self, addr: int, length: int, prot: int, *, shared: bool = False) -> None:
        for page in range(addr // PAGE_SIZE, (addr + length) // PAGE_SIZE):
            self.pages[page] = bytearray(PAGE_SIZE)

    def unmap(self, addr: int, length: int) -> None:
        for page in range(addr // PAGE_SIZE, (addr + length) // PAGE_SIZE):
            self.pages.pop(page, None)

    def protect(self, addr: int, length: int, prot: int) -> None:
        return None

    def move(self, old_addr: int, old_length: int, new_addr: int, new_length: int) -> None:
        data = self.read(old_addr, min(old_length, new_length))
        self.unmap(old_addr, old_length)
        self.map(new_addr, new_length, 0)
        self.write(new_addr, data)

    def discard(self, addr: int, length: int) -> None:
        self.map(addr, length, 0)

    def _page(self, addr: int) -> bytearray:
        try:
            return self.pages[addr // PAGE_SIZE]
        except KeyError:
            raise GuestMemoryError(addr) from None

    def read(self, addr: int, length: int) -> bytes:
        out = bytearray()
        while len(out) < length:
            at = addr + len(out)
            offset = at % PAGE_SIZE
            chunk = min(PAGE_SIZE - offset, length - len(out))
            out += self._page(at)[offset:offset + chunk]
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        done = 0
        while done < len(data):
            at = addr + done
            offset = at % PAGE_SIZE
            chunk = min(PAGE_SIZE - offset, len(data) - done)
            self._page(at)[offset:offset + chunk] = data[done:done + chunk]
            done += chunk

    def close(self) -> None:
        self.pages.clear()


class FakeContext:
    def __init__(self, address_space: FakeAddressSpace, cpu_ns: int = 0) -> None:
        self.regs = None
        self.owner: object = None
        self.address_space = address_space
        self.cpu_ns = cpu_ns
        self.killed = False

    def resume(self) -> None:
        return None

    def finish_syscall(self, result: int) -> None:
        return None

    def kill(self) -> None:
        self.killed = True

    def cpu_time_ns(self) -> int:
        return self.cpu_ns


class FakeHost:
    """Clocks the test moves by hand and deterministic, never-repeating entropy."""

    def __init__(self) -> None:
        self.monotonic = 5_000_000_000
        self.realtime = 1_700_000_000_000_000_000
        self._draws = itertools.count()

    def clock_ns(self, clock: int) -> int:
        return self.realtime if clock == 0 else self.monotonic

    def advance(self, ns: int) -> None:
        self.monotonic += ns
        self.realtime += ns

    def entropy(self, length: int) -> bytes:
        out = bytearray()
        draw = next(self._draws)
        block = 0
        while len(out) < length:
            out += hashlib.sha256(b"%d/%d" % (draw, block)).digest()
            block += 1
        return bytes(out[:length])


class FakePlatform:
    """Hands out empty fake address spaces with one thread; nothing ever runs."""

    name = "fake"

    def __init__(self, host: FakeHost) -> None:
        self.host = host

    def new_process(self) -> FakeContext:
        return FakeContext(FakeAddressSpace())


class Current:
    """What ProcFs asks for the calling task."""

    def __init__(self) -> None:
        self.task: Task | None = None

    def __call__(self) -> Task | None:
        return self.task


def make_kernel(sandbox, *, cpu_count: int = 2, memory_bytes: int = 1 << 30) -> Kernel:
    host = FakeHost()
    kernel = Kernel(host, KernelConfig(cpu_count=cpu_count, memory_bytes=memory_bytes))
    kernel.platform = FakePlatform(host)
    kernel.vfs = sandbox.vfs
    return kernel


def write_strings(mm: MemoryManager, addr: int, strings: list[bytes]) -> tuple[int, int]:
    blob = b"".join(s + b"\0" for s in strings)
    mm.write(addr, blob)
    return addr, addr + len(blob)


def spawn(kernel: Kernel, sandbox, argv: list[bytes], envp: list[bytes] = (), *,
          parent: Process | None = None, cred: Credentials | None = None, cpu_ns: int = 0) -> Process:
    """A live process made by the kernel, with one thread whose argv and environment
    sit at the top of its stack, as the loader leaves them."""
    fs = FsContext(sandbox.vfs.root, sandbox.vfs.root)
    task = kernel.new_process(None, cred or Credentials.of(0, 0), fs, FdTable(), parent)
    task.context.cpu_ns = cpu_ns
    process = task.process
    if parent is not None:
        process.pgid, process.sid = parent.pgid, parent.sid
    process.comm = argv[0].rsplit(b"/", 1)[-1][:15] if argv else b""
    mm = process.mm
    mm.map_fixed_anonymous(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE, b"[stack]")
    mm.stack_start, mm.stack_end = STACK_TOP - STACK_SIZE, STACK_TOP
    mm.arg_start, mm.arg_end = write_strings(mm, STACK_TOP - 2 * PAGE_SIZE, argv)
    mm.env_start, mm.env_end = write_strings(mm, mm.arg_end, list(envp))
    return process


def add_thread(kernel: Kernel, process: Process, tid: int | None = None, cpu_ns: int = 0) -> Task:
    tid = kernel.next_id() if tid is None else tid
    context = FakeContext(process.mm.aspace, cpu_ns)
    task = Task(tid, process, context)
    context.owner = task
    process.threads[tid] = task
    kernel.tasks[tid] = task
    return task
