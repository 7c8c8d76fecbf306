"""FakeGuest: a guest process on the real kernel, over the fake platform, that tests
drive one syscall at a time.

`g.syscall("openat", AT_FDCWD, b"/tmp/x", O_RDONLY, 0)` queues the syscall on the
fake platform as the guest thread executing it, and runs one turn of the kernel's
loop, so it reaches `LinuxPersonality.syscall` through `Kernel._dispatch` exactly as
on a real host: a LinuxError comes back as -errno, a bad pointer as -EFAULT, a
handler bug kills the process with SIGSYS. `bytes` arguments are copied into guest
memory (NUL-terminated) and passed by address; negative numbers are passed as the
64-bit register values a program would load.

A syscall that blocks returns `BLOCKED`; the test then moves the world (feeds a
stream, wakes a futex from another thread) and calls `g.complete()`, which turns the
loop until the syscall finishes. Time passes only when the loop waits with nothing
else to do, and then exactly up to the next timer, so sleeps end at their deadline.
`g.run_for(ns)` lets a fixed amount of time pass instead.

`step()` is one iteration of `Kernel.run`'s loop, written out here because the real
loop only returns when init exits (tests/unit/kernel/test_kernel_loop.py runs that
one itself).
"""

from __future__ import annotations

import itertools
import struct
from typing import TextIO

from slimbox.abi.syscalls import BY_NAME
from slimbox.kernel.cred import Credentials
from slimbox.kernel.fd import FdTable
from slimbox.kernel.file import O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY
from slimbox.kernel.fs.devfs import DevFs
from slimbox.kernel.fs.inode import Stat
from slimbox.kernel.fs.memfs import MemFs
from slimbox.kernel.fs.vfs import FsContext, Mount, PathNode, Vfs
from slimbox.kernel.kernel import Kernel, KernelConfig
from slimbox.kernel.mm import MAP_ANONYMOUS, MAP_PRIVATE, PAGE, PROT_READ, PROT_WRITE
from slimbox.kernel.stdio import HostStreamFile
from slimbox.kernel.task import Task
from slimbox.platforms.fake import FakeContext, FakeHost, FakePlatform, FakeStream
from slimbox.shims.linux.personality import LinuxPersonality

MASK64 = (1 << 64) - 1
SCRATCH_BASE = 0x2000_0000
SCRATCH_PAGES = 64
#: an address nothing is ever mapped at (below the scratch area, above mmap_min_addr)
UNMAPPED = 0x1000_0000


class _Outcome:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: the syscall parked its task (it will finish after something happens)
BLOCKED = _Outcome("BLOCKED")
#: the task is gone (the syscall ended the process, or something killed it)
GONE = _Outcome("GONE")

_STREAM_NAMES = (b"/dev/stdin", b"/dev/stdout", b"/dev/stderr")


class _Scratch:
    """A bump allocator over the scratch mapping of one process."""

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.end = base + size
        self.next = base

    def take(self, length: int, align: int) -> int:
        addr = -(-self.next // align) * align
        if addr + length > self.end:
            raise MemoryError("scratch area exhausted; make the FakeGuest with more scratch_pages")
        self.next = addr + length
        return addr


class _World:
    """What every view of one FakeGuest shares: kernel, platform, filesystem."""

    def __init__(self, config: KernelConfig | None, terminal: bool, strace: TextIO | None) -> None:
        self.host = FakeHost(terminal=terminal)
        self.platform = FakePlatform(self.host)
        self.kernel = Kernel(self.host, config or KernelConfig(cpu_count=2, memory_bytes=1 << 30))
        self.kernel.platform = self.platform
        self.strace = strace
        self._devs = itertools.count(1)
        self.rootfs = MemFs(self.new_dev(), self.kernel.realtime_ns, root_mode=0o755)
        self.vfs = Vfs(self.rootfs, self.rootfs.root)
        self.kernel.vfs = self.vfs
        #: how set-up code (not the guest) sees the tree: as root, with no umask
        self.root_ctx = FsContext(self.vfs.root, self.vfs.root, umask=0)
        self.root_cred = Credentials.of(0, 0)

    def new_dev(self) -> int:
        return next(self._devs)


class FakeGuest:
    """One guest thread and its process. Build it with FakeGuest(); more threads of
    the same process with `thread()`, other processes with `spawn()`."""

    def __init__(self, *, uid: int = 0, gid: int = 0, groups: tuple[int, ...] = (),
                 config: KernelConfig | None = None, terminal: bool = False, strace: TextIO | None = None,
                 scratch_pages: int = SCRATCH_PAGES, _world: _World | None = None,
                 _task: Task | None = None, _scratch: _Scratch | None = None) -> None:
        fresh = _world is None
        self._w = _World(config, terminal, strace) if _world is None else _world
        if fresh:
            self._build_tree()
        if _task is None:
            _task, _scratch = self._new_process(uid, gid, groups, scratch_pages)
            if self.kernel.init is None:
                self.kernel.init = _task.process
            self._let_go(_task)
        self.task = _task
        self.scratch = _scratch
        self._before: int | None = None

    # --- the shared world ---------------------------------------------------------

    @property
    def kernel(self) -> Kernel:
        return self._w.kernel

    @property
    def host(self) -> FakeHost:
        return self._w.host

    @property
    def platform(self) -> FakePlatform:
        return self._w.platform

    @property
    def vfs(self) -> Vfs:
        return self._w.vfs

    @property
    def stdin(self) -> FakeStream:
        return self.host.stdin

    @property
    def stdout(self) -> FakeStream:
        return self.host.stdout

    @property
    def stderr(self) -> FakeStream:
        return self.host.stderr

    @property
    def process(self):
        return self.task.process

    @property
    def context(self) -> FakeContext:
        return self.task.context

    @property
    def personality(self) -> LinuxPersonality:
        return self.task.process.personality

    def _build_tree(self) -> None:
        w = self._w
        for path in (b"/bin", b"/etc", b"/home", b"/usr", b"/usr/bin", b"/dev"):
            self.mkdir(path, 0o755)
        self.mkdir(b"/root", 0o700)
        self.mkdir(b"/tmp", 0o1777)
        tmp = MemFs(w.new_dev(), self.kernel.realtime_ns, root_mode=0o1777)
        w.vfs.mount(tmp, tmp.root, self.node(b"/tmp"), source="tmpfs")
        devfs = DevFs(w.new_dev(), self.kernel.realtime_ns, self.kernel.random_bytes, lambda: self.kernel.terminal)
        w.vfs.mount(devfs, devfs.root, self.node(b"/dev"), source="devtmpfs")

    def _new_process(self, uid: int, gid: int, groups: tuple[int, ...], scratch_pages: int,
                     parent=None) -> tuple[Task, _Scratch]:
        kernel = self.kernel
        fds = FdTable()
        for number, stream in enumerate(self.host.streams):
            flags = O_RDONLY if number == 0 else O_WRONLY
            fds.install_at(number, HostStreamFile(stream, flags, _STREAM_NAMES[number], number))
        fs = FsContext(self.vfs.root, self.vfs.root)
        personality = LinuxPersonality(self._w.strace)
        task = kernel.new_process(personality, Credentials.of(uid, gid, tuple(groups)), fs, fds, parent)
        size = scratch_pages * PAGE
        task.mm.map_fixed_anonymous(SCRATCH_BASE, size, PROT_READ | PROT_WRITE, b"[scratch]")
        return task, _Scratch(SCRATCH_BASE, size)

    def _let_go(self, task: Task) -> None:
        """Hand a new thread to the platform to run, as the runner does after exec."""
        resume = getattr(self.kernel, "resume", None)
        if resume is not None:
            resume(task)
        else:
            task.context.resume()

    def thread(self) -> FakeGuest:
        """Another thread of this process (same memory, descriptors and credentials)."""
        process = self.task.process
        tid = self.kernel.next_id()
        context = self.context.spawn_thread()
        task = Task(tid, process, context)
        context.owner = task
        process.threads[tid] = task
        self.kernel.tasks[tid] = task
        self._let_go(task)
        return FakeGuest(_world=self._w, _task=task, _scratch=self.scratch)

    def spawn(self, *, uid: int = 0, gid: int = 0, groups: tuple[int, ...] = ()) -> FakeGuest:
        """A new process (a child of this one) with its own memory and credentials."""
        task, scratch = self._new_process(uid, gid, groups, SCRATCH_PAGES, parent=self.task.process)
        self._let_go(task)
        return FakeGuest(_world=self._w, _task=task, _scratch=scratch)

    # --- guest memory ------------------------------------------------------------------

    def alloc(self, length: int, align: int = 16) -> int:
        """Zeroed scratch memory for the guest."""
        return self.scratch.take(max(length, 1), align)

    def alloc_tail(self, length: int) -> int:
        """`length` bytes that end exactly where the scratch mapping ends: the next
        byte is unmapped."""
        addr = self.scratch.end - length
        if addr < self.scratch.next:
            raise MemoryError("scratch area exhausted")
        self.scratch.end = addr  # nothing else is handed out from there on
        return addr

    def put(self, data: bytes, align: int = 16) -> int:
        addr = self.alloc(len(data), align)
        self.task.mm.aspace.write(addr, data)
        return addr

    def put_string(self, text: bytes) -> int:
        return self.put(bytes(text) + b"\0", 1)

    def put_strv(self, strings: list[bytes]) -> int:
        """A NULL-terminated array of string pointers (argv, envp)."""
        pointers = [self.put_string(s) for s in strings] + [0]
        return self.put(struct.pack(f"<{len(pointers)}Q", *pointers), 8)

    def get(self, addr: int, length: int) -> bytes:
        """Guest memory, whatever its protection."""
        return self.task.mm.aspace.read(addr, length)

    def set(self, addr: int, data: bytes) -> None:
        self.task.mm.aspace.write(addr, data)

    def u32(self, addr: int) -> int:
        return struct.unpack("<I", self.get(addr, 4))[0]

    def i32(self, addr: int) -> int:
        return struct.unpack("<i", self.get(addr, 4))[0]

    def u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.get(addr, 8))[0]

    def i64(self, addr: int) -> int:
        return struct.unpack("<q", self.get(addr, 8))[0]

    def map(self, length: int, prot: int = PROT_READ | PROT_WRITE) -> int:
        """Fresh anonymous memory mapped the way mmap(2) would (not through the syscall)."""
        return self.task.mm.mmap(0, length, prot, MAP_PRIVATE | MAP_ANONYMOUS)

    # --- syscalls -------------------------------------------------------------------------

    def syscall(self, name: str | int, *args: int | bytes) -> int | _Outcome:
        """Run one syscall as this thread: its result (a value or -errno), BLOCKED
        if it parked the thread, or GONE if the thread no longer exists."""
        nr = name if isinstance(name, int) else BY_NAME[name].nr
        if len(args) > 6:
            raise TypeError("a syscall has at most six arguments")
        if not self.task.alive:
            raise RuntimeError("this thread is gone")
        if self.task.parked:
            raise RuntimeError("this thread is parked in a syscall; complete() it first")
        raw = [self.put_string(a) if isinstance(a, (bytes, bytearray)) else a for a in args]
        self._before = len(self.context.history)
        self.platform.syscall(self.context, nr, *raw)
        self.step()
        return self.outcome()

    def outcome(self) -> int | _Outcome:
        """The result of this thread's latest syscall, BLOCKED while it waits, GONE
        if the thread has ended."""
        if self._before is not None and len(self.context.history) > self._before:
            _, value = self.context.history[self._before]
            value &= MASK64  # as the guest finds it in rax, read as a signed long
            return value - (1 << 64) if value >> 63 else value
        if not self.task.alive:
            return GONE
        if self.task.parked or self.task in self.kernel._runnable:  # woken, to run on the next turn
            return BLOCKED
        raise AssertionError("the syscall neither finished, parked its task nor ended it")

    def complete(self, max_steps: int = 10_000) -> int | _Outcome:
        """Turn the loop until this thread's latest syscall finishes; its result.
        Raises FakeDeadlock if nothing could ever wake it."""
        for _ in range(max_steps):
            result = self.outcome()
            if result is not BLOCKED:
                return result
            if self.kernel._runnable:
                self._run_runnable()
            else:
                self.step()
        raise AssertionError("syscall still blocked after %d loop turns" % max_steps)

    def run_for(self, ns: int) -> None:
        """Let `ns` nanoseconds of guest time pass, serving whatever happens meanwhile."""
        target = self.kernel.monotonic_ns() + ns
        while True:
            before = self.kernel.monotonic_ns()
            self.step(max_wait_ns=max(target - before, 0))
            if self.kernel.monotonic_ns() >= target:
                break
            if self.kernel.monotonic_ns() == before and not self.kernel._runnable:
                raise AssertionError("time stands still: the loop has nothing left to wait for")
        self.settle()

    def settle(self) -> None:
        """Serve everything already queued (events, woken tasks) without letting time pass."""
        self.step(max_wait_ns=0)
        self._run_runnable()

    def step(self, max_wait_ns: int | None = None) -> None:
        """One turn of Kernel.run's loop (Kernel.step)."""
        self.kernel.step(max_wait_ns)

    def _run_runnable(self) -> None:
        self.kernel.run_woken()

    # --- the filesystem, set up as root (not through syscalls) -------------------------------

    def node(self, path: bytes, *, follow: bool = True) -> PathNode:
        ctx = self._w.root_ctx
        return self.vfs.resolve(ctx, self._w.root_cred, ctx.root, path, follow=follow)

    def mkdir(self, path: bytes, mode: int = 0o755, *, uid: int = 0, gid: int = 0) -> None:
        """Make `path` and any missing parents; the last gets `mode` and the owner."""
        ctx = self._w.root_ctx
        parts = [p for p in path.split(b"/") if p]
        for depth in range(1, len(parts) + 1):
            current = b"/" + b"/".join(parts[:depth])
            if not self.exists(current):
                self.vfs.mkdir(ctx, self._w.root_cred, ctx.root, current, 0o755)
        node = self.node(path)
        self.vfs.chmod(self._w.root_cred, node, mode)
        self.vfs.chown(self._w.root_cred, node, uid, gid)

    def write_file(self, path: bytes, data: bytes = b"", mode: int = 0o644, *, uid: int = 0, gid: int = 0) -> None:
        ctx = self._w.root_ctx
        file = self.vfs.open(ctx, self._w.root_cred, ctx.root, path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        try:
            if data:
                file.write(None, data)
        finally:
            file.release()
        node = self.node(path)
        self.vfs.chmod(self._w.root_cred, node, mode)
        self.vfs.chown(self._w.root_cred, node, uid, gid)

    def read_file(self, path: bytes) -> bytes:
        ctx = self._w.root_ctx
        file = self.vfs.open(ctx, self._w.root_cred, ctx.root, path, O_RDONLY)
        try:
            chunks = []
            while chunk := file.read(None, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            file.release()

    def symlink(self, target: bytes, path: bytes) -> None:
        ctx = self._w.root_ctx
        self.vfs.symlink(ctx, self._w.root_cred, target, ctx.root, path)

    def stat(self, path: bytes, *, follow: bool = True) -> Stat:
        return self.node(path, follow=follow).inode.stat()

    def exists(self, path: bytes, *, follow: bool = False) -> bool:
        try:
            self.node(path, follow=follow)
        except Exception:  # noqa: BLE001 - any failure to resolve means "not there"
            return False
        return True

    def bind_mount(self, source: bytes, target: bytes, *, readonly: bool = False) -> Mount:
        """The directory `source` again at `target` (made if missing)."""
        node = self.node(source)
        if not self.exists(target):
            self.mkdir(target)
        return self.vfs.mount(node.mount.fs, node.inode, self.node(target), readonly=readonly, source="bind")

    def mount_memfs(self, path: bytes, *, mode: int = 0o755) -> Mount:
        """A fresh tmpfs at `path` (made if missing); set `.readonly` on the returned
        mount once it is populated to make it a read-only mount."""
        if not self.exists(path):
            self.mkdir(path)
        fs = MemFs(self._w.new_dev(), self.kernel.realtime_ns, root_mode=mode)
        return self.vfs.mount(fs, fs.root, self.node(path), source="tmpfs")


# --- ELF images for exec tests -------------------------------------------------------------------

ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
PF_X, PF_W, PF_R = 1, 2, 4
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")


def elf_image(phdrs: list[tuple[int, int, int, int, int, int]], blobs: dict[int, bytes] | None = None, *,
              entry: int = 0x401000, e_type: int = ET_EXEC, machine: int = 62, ei_class: int = 2,
              ei_data: int = 1, phentsize: int = _PHDR.size, phnum: int | None = None, phoff: int = 64,
              size: int = 0) -> bytes:
    """An ELF file from raw program headers (type, flags, offset, vaddr, filesz, memsz)
    and blobs of bytes placed at file offsets; every field can be made wrong."""
    ident = b"\x7fELF" + bytes((ei_class, ei_data, 1, 0)) + bytes(8)
    header = _EHDR.pack(ident, e_type, machine, 1, entry, phoff, 0, 0, _EHDR.size, phentsize,
                        len(phdrs) if phnum is None else phnum, 64, 0, 0)
    image = bytearray(header)
    table = b"".join(_PHDR.pack(t, f, off, vaddr, vaddr, filesz, memsz, PAGE)
                     for t, f, off, vaddr, filesz, memsz in phdrs)
    placed = sorted((blobs or {}).items())
    if phoff < 1 << 20:  # a table claimed to be far away is simply not there
        placed.insert(0, (phoff, table))
    for offset, blob in placed:
        if len(image) < offset + len(blob):
            image.extend(bytes(offset + len(blob) - len(image)))
        image[offset:offset + len(blob)] = blob
    if len(image) < size:
        image.extend(bytes(size - len(image)))
    return bytes(image)


def elf_executable(code: bytes = b"\xcc", *, base: int = 0x400000, e_type: int = ET_EXEC, bss: int = 0,
                   interp: bytes | None = None, data: bytes = b"") -> bytes:
    """A small x86-64 program: the headers and `code` in one R+X segment (code at file
    offset 0x1000, the entry point), optionally a R+W segment of `data` followed by
    `bss` zero bytes at file offset 0x2000, and a PT_INTERP naming `interp`."""
    phdrs = []
    blobs = {0x1000: code}
    text_size = 0x1000 + len(code)
    phdrs.append((PT_LOAD, PF_R | PF_X, 0, base, text_size, text_size))
    if data or bss:
        phdrs.append((PT_LOAD, PF_R | PF_W, 0x2000, base + 0x2000, len(data), len(data) + bss))
        blobs[0x2000] = data
    if interp is not None:
        phdrs.insert(0, (PT_INTERP, PF_R, 0x800, base + 0x800, len(interp) + 1, len(interp) + 1))
        blobs[0x800] = interp + b"\0"
    return elf_image(phdrs, blobs, entry=base + 0x1000, e_type=e_type)
