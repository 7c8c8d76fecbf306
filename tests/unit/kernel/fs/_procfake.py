"""A small guest world for /proc and /dev tests: the real Kernel, Process, Task and
MemoryManager over the deterministic fake host and platform (slimbox.platforms.fake)."""

from __future__ import annotations

from slimbox.kernel.cred import Credentials
from slimbox.kernel.fd import FdTable
from slimbox.kernel.fs.vfs import FsContext
from slimbox.kernel.kernel import Kernel, KernelConfig
from slimbox.kernel.mm import PROT_READ, PROT_WRITE, MemoryManager
from slimbox.kernel.task import Process, Task
from slimbox.platforms.base import PAGE_SIZE
from slimbox.platforms.fake import FakeAddressSpace, FakeContext, FakeHost, FakePlatform

__all__ = ["Current", "FakeAddressSpace", "FakeContext", "FakeHost", "FakePlatform", "STACK_SIZE", "STACK_TOP",
           "add_thread", "make_kernel", "spawn", "write_strings"]

STACK_TOP = 0x7FFF_F000_0000
STACK_SIZE = 16 * PAGE_SIZE


class Current:
    """What ProcFs asks for the calling task."""

    def __init__(self) -> None:
        self.task: Task | None = None

    def __call__(self) -> Task | None:
        return self.task


def make_kernel(sandbox, *, cpu_count: int = 2, memory_bytes: int = 1 << 30) -> Kernel:
    host = FakeHost(cpu_count=cpu_count, memory_bytes=memory_bytes)
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
