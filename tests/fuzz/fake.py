"""The fake-platform syscall fuzzer: the real Linux personality and kernel, on the fake
platform, fed seeded random syscalls (strategy.py) from the threads and processes of a
small guest world.

Each world is a FakeGuest: its first process (init) only waits, and a child of it (the
fuzzed process) is given memory with guard pages, a hole and a read-only page, a stack
for signal frames, and open descriptors of every kind. Random syscalls come from any
thread or process in it that can make one; a thread that blocks stays parked (time
passes now and then, and other syscalls may wake it); when the fuzzed process and its
descendants are gone a new one is spawned, and every few thousand syscalls the world is
made afresh. Now and then several threads make their syscalls in the same turn of the
loop, as on a real host.

A Python exception from the kernel (an InternalError the loop recorded, or anything
escaping `Kernel.step`) is a bug: the world's trace since it was made is replayed and
shrunk to the few calls that still raise it, and printed as a reproducer.

    python -m tests.fuzz.fake --syscalls 200000 --seed 1
    python -m tests.fuzz.fake --replay build/fuzz/bug-....json
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import random
import resource
import struct
import sys
import time
import traceback
from dataclasses import dataclass, field

_HERE = pathlib.Path(__file__).resolve().parent
for _path in (_HERE.parent.parent / "src", _HERE.parent / "unit" / "kernel"):  # slimbox, and guest.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from guest import FakeGuest, elf_executable  # noqa: E402
from slimbox.abi.syscalls import BY_NUMBER as SPECS  # noqa: E402
from slimbox.kernel.kernel import KernelConfig  # noqa: E402
from slimbox.kernel.mm import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_WRITE  # noqa: E402
from slimbox.shims.linux.table import BY_NUMBER as TABLE  # noqa: E402

try:
    from . import strategy as S
except ImportError:  # run as a script
    import strategy as S  # type: ignore[no-redef]

MASK64 = S.MASK64
PAGE = S.PAGE

# --- the fuzzed process's memory ----------------------------------------------------------------

ARENA = 0x3000_0000
STRINGS = ARENA                    # page 0: the path strings
STRUCTS = ARENA + 1 * PAGE         # page 1: 32 slots of 128 bytes, structs of plausible shapes
RANDOM = ARENA + 2 * PAGE          # pages 2-3: random bytes, refreshed as the fuzz goes
DATA = ARENA + 4 * PAGE            # pages 4-7: buffers syscalls write into
GUARD = ARENA + 8 * PAGE           # page 8: PROT_NONE
READONLY = ARENA + 9 * PAGE        # page 9: read-only
HOLE = ARENA + 10 * PAGE           # page 10: nothing mapped
LONE = ARENA + 11 * PAGE           # page 11: read-write, with nothing mapped after it
ARENA_END = ARENA + 12 * PAGE
SLOT = 128
SLOTS_USED = 24                    # of the 32 slots of page 1
STACK = 0x3100_0000
STACK_PAGES = 16
UNMAPPED = 0x1000_0000

O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_APPEND = 0, 1, 2, 0x40, 0x400
O_DIRECTORY, O_PATH = 0x10000, 0x200000
AT_FDCWD = -100 & MASK64

#: pointers that are always wrong, or right only by luck
BAD_POINTERS = tuple(v & MASK64 for v in (
    0, 0, 1, 8, 0xFFF, 0x1000, 0xFFF8, GUARD, GUARD + 100, GUARD - 1, GUARD - 8, GUARD - 100, GUARD - 4095,
    READONLY, READONLY + 100, HOLE - 8, HOLE - 1, HOLE, LONE + PAGE - 1, LONE + PAGE - 8, LONE + PAGE - 100,
    ARENA_END, UNMAPPED, S.TASK_SIZE - 1, S.TASK_SIZE - 8, S.TASK_SIZE - PAGE, S.TASK_SIZE, 1 << 47,
    0xFFFF_8000_0000_0000, 0xFFFF_FFFF_FF60_0000, -1, -8, -PAGE, 1 << 63, DATA + 1, DATA + 3, DATA + 4093,
))

SYSCALL_NRS = tuple(sorted(SPECS))
IMPLEMENTED = tuple(nr for nr in SYSCALL_NRS if TABLE[nr].handler is not None)
PARAMS = S.syscall_params()
TERMINAL_NRS = frozenset(nr for nr in SYSCALL_NRS if SPECS[nr].name in S.TERMINAL)
FLAG_BITS = {name: S.flag_bits(name) for name in {s for shape in PARAMS.values() for k, s in shape if k == S.K_FLAGS}}
ENUM_VALUES = {name: S.enum_values(name) for name in {s for shape in PARAMS.values() for k, s in shape
                                                      if k == S.K_ENUM}}


def _path_table() -> tuple[bytes, dict[bytes, int]]:
    blob = bytearray()
    where = {}
    for path in S.PATHS:
        where[path] = STRINGS + len(blob)
        blob += path + b"\0"
    assert len(blob) <= PAGE
    return bytes(blob), where


PATH_BLOB, PATH_AT = _path_table()
PATH_POINTERS = tuple(PATH_AT.values())


def _structs() -> bytes:
    """Page 1: struct-shaped contents for pointer arguments (slot i at STRUCTS + SLOT*i)."""
    q = lambda *values: struct.pack(f"<{len(values)}Q", *(v & MASK64 for v in values))  # noqa: E731
    paths = PATH_POINTERS
    slot = lambda index: STRUCTS + SLOT * index  # noqa: E731
    slots = [
        b"",                                                          # 0: zeros
        q(*range(16)),                                                # 1: small integers
        q(0, 1000, 0, 0, 1, 0, 0, 999_999_999),                      # 2: timespecs and timevals
        q(-1, -1, 0, 1_000_000_000, (1 << 63) - 1, 999_999_999, -1, 0),  # 3: invalid times
        q(DATA, 16, DATA + 4096, 100, READONLY, 8, GUARD - 8, 16, 0, 0, DATA, 1 << 63, LONE + 4000, 200),  # 4: iovecs
        q(paths[0], paths[1], paths[7], 0),                           # 5: argv-like
        q(paths[0], UNMAPPED, 0),                                     # 6: argv with a bad pointer
        q(-1, 0, 1 << 13, 1 << 16),                                   # 7: signal sets
        q(1, 0x0400_0000 | 0x4, STACK, 0),                            # 8: sigaction: SIG_IGN
        q(ARENA + 0x123, 0x0800_0000 | 0x4 | 0x1000_0000, STACK, -1),  # 9: sigaction: a handler
        struct.pack("<iHHiHHiHHiHH", 0, 1, 0, 1, 4, 0, 8, 0x3F, 0, -1, 1, 0),  # 10: pollfds
        struct.pack("<16i", *range(3, 19)),                           # 11: descriptor numbers
        q(0, 0, 1024, 1024, -1, -1, 16 << 20, 1 << 40),               # 12: rlimits
        q(0, 1000, 0, 1000, 1, 0, 0, 1),                              # 13: itimervals
        q(0, 0, DATA, DATA + 8, 17, STACK, PAGE, 0, 0, 0, 0),         # 14: clone_args
        struct.pack("<8I", 0, 1, 2, 0x8000_0000, 0xFFFF_FFFF, 0, 0, 0),  # 15: futex words
        struct.pack("<H", 1) + b"/tmp/sock\0",                       # 16: sockaddr_un
        struct.pack("<HH4s", 2, 0x5000, bytes((127, 0, 0, 1))),      # 17: sockaddr_in, port 80
        q(slot(16), 110, slot(4), 2, slot(19), 24, 0),                # 18: msghdr
        struct.pack("<QiiII", 24, 1, 1, 3, 4),                        # 19: cmsghdr: SCM_RIGHTS of fds 3 and 4
        struct.pack("<IQIQ", 0x1 | 0x4, 7, 0x8000_0000 | 0x1, 8),    # 20: epoll_events (packed)
        struct.pack("<Qii", 5, 10, 0),                                # 21: sigevent: SIGUSR1, SIGEV_SIGNAL
        q(0, 1_000_000, 0, 1_000_000),                                # 22: itimerspec: 1 ms, repeating
        struct.pack("<H", 1) + b"\0abstract",                        # 23: sockaddr_un, abstract name
    ]
    assert len(slots) == SLOTS_USED
    page = bytearray(PAGE)
    for index, data in enumerate(slots):
        assert len(data) <= SLOT
        page[SLOT * index:SLOT * index + len(data)] = data
    return bytes(page)


STRUCT_PAGE = _structs()
STRUCT_POINTERS = tuple(STRUCTS + SLOT * i for i in range(SLOTS_USED))


# --- outcomes ------------------------------------------------------------------------------------


@dataclass
class Bug:
    """One kernel exception: where it was raised, and how to get there again."""

    signature: str            # exception type and innermost slimbox frame
    description: str          # the exception, one line
    detail: str               # the traceback
    seed: int
    index: int                # the syscall count of the run when it happened
    call: str                 # the syscall that raised it
    trace: list = field(default_factory=list)   # the world's trace (shrunk when possible)
    world_seed: int = 0

    def report(self) -> str:
        lines = [f"BUG {self.signature}", f"  {self.description}",
                 f"  seed {self.seed}, syscall #{self.index}: {self.call}",
                 f"  reproducer (world seed {self.world_seed}, {len(self.trace)} steps):"]
        lines += [f"    {format_step(step)}" for step in self.trace]
        lines += ["  " + line for line in self.detail.rstrip().splitlines()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"signature": self.signature, "description": self.description, "seed": self.seed,
                "index": self.index, "call": self.call, "world_seed": self.world_seed, "trace": self.trace}


@dataclass
class Stats:
    syscalls: int = 0
    completed: int = 0
    errors: int = 0
    blocked: int = 0
    gone: int = 0
    worlds: int = 0
    processes: int = 0
    seconds: float = 0.0
    bugs: list[Bug] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.syscalls / self.seconds if self.seconds else 0.0


def format_call(nr: int, args: list[int]) -> str:
    spec = SPECS.get(nr)
    name = spec.name if spec is not None else f"syscall_{nr:#x}"
    return f"{name}({', '.join(hex(a) for a in args)})"


def format_step(step: list) -> str:
    kind = step[0]
    if kind == "call":
        return f"tid {step[1]}: {format_call(step[2], step[3])}"
    if kind == "batch":
        return "together: " + "; ".join(f"tid {tid}: {format_call(nr, args)}" for tid, nr, args in step[1])
    if kind == "time":
        return f"{step[1]} ns pass"
    if kind == "refresh":
        return f"random bytes of pid {step[1]} refreshed (seed {step[2]})"
    return f"a new fuzzed process (seed {step[1]})"


def _describe(call) -> str:
    if isinstance(call, tuple):
        return format_call(*call)
    if isinstance(call, list):
        return " + ".join(format_call(nr, args) for nr, args in call)
    return call


class Livelock(Exception):
    """Threads the loop keeps waking without anything happening: a busy supervisor."""


class KernelBug(Exception):
    def __init__(self, error: BaseException, call: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.call = call


def _signature(error: BaseException) -> str:
    if isinstance(error, Livelock):
        return "Livelock in " + str(error).split(" in ", 1)[1].split("(", 1)[0]
    frames = traceback.extract_tb(error.__traceback__)
    inner = [f for f in frames if "/slimbox/" in f.filename] or frames
    where = f"{pathlib.Path(inner[-1].filename).name}:{inner[-1].lineno} ({inner[-1].name})" if inner else "?"
    return f"{type(error).__name__} at {where}"


# --- a world --------------------------------------------------------------------------------------


class World:
    """One kernel on the fake platform, with an idle init and fuzzed processes under it."""

    #: made afresh after this many syscalls, so state does not pile up for ever
    LIFETIME = 4000
    MAX_TASKS = 48
    MAX_PROCESSES = 40

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.guest = FakeGuest(config=KernelConfig(cpu_count=2, memory_bytes=256 << 20))
        self.kernel = self.guest.kernel
        self.platform = self.guest.platform
        self._share_storage_budget()
        self.guest.stdin.close_input()  # reads of the sandbox's stdin end rather than wait for a person
        self._build_files()
        #: tid -> length of its context's history when its latest syscall was issued
        self.issued: dict[int, int] = {}
        self.trace: list[list] = []
        self.calls = 0
        self.fuzzed_pid = 0
        self.spawn(self.rng.getrandbits(32))

    def _share_storage_budget(self) -> None:
        """The world's in-memory filesystems count against the kernel's storage budget,
        as a sandbox's do (when the kernel keeps one)."""
        storage = getattr(self.kernel, "storage", None)
        if storage is None:
            return
        for fs in (self.guest._w.rootfs, self.guest.node(b"/tmp").mount.fs):
            if hasattr(fs, "budget"):
                fs.budget = storage

    def _build_files(self) -> None:
        g = self.guest
        g.write_file(b"/tmp/f", b"0123456789abcdef" * 300, 0o666)
        g.mkdir(b"/tmp/d", 0o777)
        g.write_file(b"/tmp/d/x", b"x", 0o644)
        g.write_file(b"/tmp/prog", elf_executable(b"\x0f\x05\xcc"), 0o755)
        g.write_file(b"/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        g.symlink(b"/tmp/f", b"/tmp/link")
        g.symlink(b"/tmp/loop", b"/tmp/loop")

    # --- processes -------------------------------------------------------------------------

    def spawn(self, seed: int) -> None:
        """A new fuzzed process, child of init, with its memory and descriptors set up."""
        self.trace.append(["spawn", seed])
        child = self.guest.spawn()
        task = child.task
        self.fuzzed_pid = task.pid
        rng = random.Random(seed)
        mm = task.mm
        anonymous = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
        mm.mmap(ARENA, ARENA_END - ARENA, PROT_READ | PROT_WRITE, anonymous)
        mm.mmap(STACK, STACK_PAGES * PAGE, PROT_READ | PROT_WRITE, anonymous)
        aspace = mm.aspace
        aspace.write(STRINGS, PATH_BLOB)
        aspace.write(STRUCTS, STRUCT_PAGE)
        aspace.write(RANDOM, rng.randbytes(2 * PAGE))
        aspace.write(READONLY, PATH_BLOB[:PAGE // 2] + rng.randbytes(PAGE // 2))
        mm.mprotect(GUARD, PAGE, PROT_NONE)
        mm.mprotect(READONLY, PAGE, PROT_READ)
        mm.munmap(HOLE, PAGE)
        task.context.regs.rsp = STACK + STACK_PAGES * PAGE - 256
        for path, flags in ((b"/tmp/f", O_RDWR), (b"/tmp/d", O_RDONLY | O_DIRECTORY), (b"/dev/null", O_RDWR),
                            (b"/proc/self/maps", O_RDONLY), (b"/tmp/f", O_PATH), (b"/dev/zero", O_RDONLY),
                            (b"/tmp/new", O_WRONLY | O_CREAT | O_APPEND)):
            self._setup_call(task, "openat", AT_FDCWD, PATH_AT[path], flags, 0o644)
        self._setup_call(task, "pipe2", DATA, 0)
        self._setup_call(task, "pipe2", DATA, 0x800)  # O_NONBLOCK
        self._setup_call(task, "socket", 1, 1, 0)     # AF_UNIX, SOCK_STREAM
        aspace.write(DATA, bytes(16))

    def _setup_call(self, task, name: str, *args: int) -> None:
        from slimbox.abi.syscalls import BY_NAME

        self.run_call(task, BY_NAME[name].nr, list(args))

    def idle_tasks(self) -> list:
        """Threads that could make a syscall now: alive, not parked, not stopped, not
        in the middle of one."""
        out = []
        for task in self.kernel.tasks.values():
            if task.process.pid == 1 or not task.alive or task.parked or task.held or task.process.stopped:
                continue
            context = task.context
            if context.gone or len(context.history) <= self.issued.get(task.tid, 0):
                continue
            out.append(task)
        return out

    def settle(self) -> None:
        """Serve what is already queued (woken tasks, interruptions), without letting time
        pass. Threads that are still being woken after a few turns, with nothing new
        happening, would keep a real supervisor busy for ever: that is a bug too."""
        kernel = self.kernel
        for _ in range(8):
            if not kernel._runnable and not self.platform._events:
                return
            self.step(0, "(serving queued events)")
        spinning = [f"tid {t.tid} in {format_call(t.syscall_nr, t.syscall_args)}" for t in kernel._runnable]
        if spinning:
            raise KernelBug(Livelock("woken again and again with nothing happening: " + "; ".join(spinning)),
                            spinning[0])

    def step(self, max_wait_ns: int, call) -> None:
        """One loop turn; `call` says what was going on ((nr, args), a list of them, or text)."""
        try:
            self.kernel.step(max_wait_ns)
        except Exception as exc:  # anything escaping the loop would take a supervisor down
            raise KernelBug(exc, _describe(call)) from exc
        failure = self.kernel.failure
        if failure is not None:
            raise KernelBug(failure.error, _describe(call))

    def run_call(self, task, nr: int, args: list[int]) -> None:
        self.issued[task.tid] = len(task.context.history)
        self.platform.syscall(task.context, nr, *args)
        self.step(0, (nr, args))

    def run_batch(self, calls: list[tuple[object, int, list[int]]]) -> None:
        for task, nr, args in calls:
            self.issued[task.tid] = len(task.context.history)
            self.platform.syscall(task.context, nr, *args)
        self.step(0, [(nr, args) for _, nr, args in calls])

    def pass_time(self, ns: int) -> None:
        self.step(ns, f"(letting {ns} ns pass)")

    def refresh(self, pid: int, seed: int) -> None:
        process = self.kernel.processes.get(pid)
        if process is None or not process.alive:
            return
        rng = random.Random(seed)
        offset = rng.randrange(0, 2 * PAGE - 256)
        try:
            process.mm.aspace.write(RANDOM + offset, rng.randbytes(256))
        except Exception:  # noqa: BLE001 - unmapped by the fuzz meanwhile: nothing to refresh
            pass

    def worn_out(self) -> bool:
        kernel = self.kernel
        init = kernel.init
        return (init is None or not init.alive or self.calls >= self.LIFETIME
                or len(kernel.tasks) > self.MAX_TASKS or len(kernel.processes) > self.MAX_PROCESSES)

    def fuzzed_alive(self) -> bool:
        return any(p.alive and p.pid != 1 for p in self.kernel.processes.values())

    # --- replaying a trace ---------------------------------------------------------------------------

    def replay(self, steps: list[list]) -> None:
        """Run recorded steps (after the first spawn, which __init__ did); a step whose
        thread is not there to make it is skipped. Raises KernelBug."""
        for step in steps:
            kind = step[0]
            if kind == "call":
                task = self._replay_task(step[1])
                if task is not None:
                    self.settle()
                    if task in self.idle_tasks():
                        self.run_call(task, step[2], list(step[3]))
            elif kind == "batch":
                self.settle()
                idle = self.idle_tasks()
                calls = [(t, nr, list(args)) for t, nr, args in
                         ((self._replay_task(tid), nr, args) for tid, nr, args in step[1]) if t in idle]
                if calls:
                    self.run_batch(calls)
            elif kind == "time":
                self.pass_time(step[1])
            elif kind == "refresh":
                self.refresh(step[1], step[2])
            elif kind == "spawn":
                self.spawn(step[1])
        self.settle()  # what the fuzzer does before its next call (where a livelock shows)

    def _replay_task(self, tid: int):
        return self.kernel.tasks.get(tid)


# --- the fuzzer -----------------------------------------------------------------------------------


class FakeFuzzer:
    """Seeded random syscalls against worlds on the fake platform."""

    #: how often (per syscall) several threads issue theirs in the same loop turn
    BATCH_RATE = 0.03
    #: how often time passes
    TIME_RATE = 0.03

    def __init__(self, seed: int, *, shrink: bool = True, stop_on_bug: bool = False,
                 out_dir: pathlib.Path | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.shrink = shrink
        self.stop_on_bug = stop_on_bug
        self.out_dir = out_dir
        self.stats = Stats()
        self._seen: set[str] = set()
        self._random = self.rng.random

    def pick(self, seq):
        """random.choice, faster (it is most of what the fuzzer itself spends time on)."""
        return seq[int(self._random() * len(seq))]

    # --- choosing ----------------------------------------------------------------------------------

    def pick_nr(self) -> int:
        pick = self.pick
        rng = self.rng
        roll = rng.random()
        if roll < 0.9:
            nr = pick(IMPLEMENTED)
            if nr in TERMINAL_NRS and rng.random() < 0.9:
                nr = pick(IMPLEMENTED)  # picked rarely: each one ends a process
            return nr
        if roll < 0.97:
            return pick(SYSCALL_NRS)
        return pick(S.OUT_OF_RANGE_NRS)

    def pick_args(self, task, nr: int) -> list[int]:
        pick = self.pick
        rng = self.rng
        shape = PARAMS.get(nr, ())
        args = []
        for kind, set_name in shape:
            if rng.random() < 0.05:
                kind, set_name = rng.randrange(16), ""  # now and then, a value made for another type
            args.append(self.value(task, kind, set_name) & MASK64)
        while len(args) < 6:  # registers the syscall does not read still hold something
            args.append(pick((0, 0, 0, rng.getrandbits(64), pick(S.INTERESTING_INTS))))
        # a buffer and its length: sometimes exactly up to (or just past) the end of its mapping
        for index, (kind, _) in enumerate(shape[:-1]):
            if kind in (S.K_INBUF, S.K_OUTBUF) and shape[index + 1][0] == S.K_SIZE and rng.random() < 0.3:
                end = self._mapping_end(args[index])
                if end:
                    args[index + 1] = end - args[index] + pick((0, 0, 1, 7, 8, 4096))
        return args

    def _mapping_end(self, addr: int) -> int:
        for lo, hi in ((ARENA, GUARD), (READONLY, HOLE), (LONE, ARENA_END)):
            if lo <= addr < hi:
                return hi
        return 0

    def value(self, task, kind: int, set_name: str) -> int:
        pick = self.pick
        rng = self.rng
        if kind == S.K_INT:
            roll = rng.random()
            if roll < 0.7:
                return pick(S.INTERESTING_INTS)
            if roll < 0.85:
                return rng.getrandbits(pick((8, 16, 32, 64)))
            return self.value(task, pick((S.K_FD, S.K_PID, S.K_SIZE)), "")
        if kind == S.K_SIZE:
            return pick(S.INTERESTING_SIZES) if rng.random() < 0.9 else rng.getrandbits(pick((12, 32, 64)))
        if kind in (S.K_FD, S.K_DIRFD):
            roll = rng.random()
            if roll < 0.65:
                open_fds = list(task.process.fds._files)
                if open_fds:
                    return pick(open_fds)
            if kind == S.K_DIRFD and roll < 0.8:
                return AT_FDCWD
            return pick(S.INTERESTING_FDS)
        if kind == S.K_PID:
            roll = rng.random()
            if roll < 0.5:
                pids = list(self.world.kernel.processes) + list(self.world.kernel.tasks)
                pid = pick(pids)
                return -pid if rng.random() < 0.15 else pid
            if roll < 0.7:
                return task.pid if rng.random() < 0.5 else task.tid
            return pick(S.INTERESTING_PIDS)
        if kind == S.K_ID:
            return pick(S.INTERESTING_IDS)
        if kind == S.K_MODE:
            return pick(S.INTERESTING_MODES) if rng.random() < 0.85 else rng.getrandbits(32)
        if kind == S.K_DEV:
            return pick(S.INTERESTING_DEVS)
        if kind == S.K_FLAGS:
            bits = FLAG_BITS.get(set_name, ())
            roll = rng.random()
            if roll < 0.15 or not bits:
                return pick((0, 0, rng.getrandbits(32), 0xFFFF_FFFF))
            value = 0
            for _ in range(pick((1, 1, 1, 2, 2, 3, 4))):
                value |= pick(bits)
            if roll > 0.93:
                value |= 1 << rng.randrange(32)
            return value
        if kind == S.K_ENUM:
            values = ENUM_VALUES.get(set_name, ())
            if values and rng.random() < 0.85:
                return pick(values)
            return pick((-1, 0, 1, 2, 3, 64, 65, 1 << 31, rng.getrandbits(32), rng.getrandbits(8)))
        if kind == S.K_ADDR:
            return self.address(task)
        return self.pointer(task, kind)

    def pointer(self, task, kind: int) -> int:
        pick = self.pick
        rng = self.rng
        roll = rng.random()
        if kind == S.K_PATH:
            if roll < 0.75:
                return pick(PATH_POINTERS)
        elif kind == S.K_STRV:
            if roll < 0.6:
                return pick((STRUCTS + 5 * SLOT, STRUCTS + 6 * SLOT, STRUCTS, 0))
        elif kind == S.K_OUTBUF:
            if roll < 0.55:
                return DATA + pick((0, 0, 8, 100, 4096, 3 * 4096 + 4000, rng.randrange(4 * PAGE)))
        elif kind == S.K_INBUF:
            if roll < 0.55:
                return pick((DATA, RANDOM + rng.randrange(2 * PAGE), pick(PATH_POINTERS),
                                   pick(STRUCT_POINTERS)))
        elif roll < 0.55:  # K_PTR and anything else
            return pick(STRUCT_POINTERS) + pick((0, 0, 0, 8, 16))
        roll = rng.random()
        if roll < 0.65:
            return pick(BAD_POINTERS)
        if roll < 0.8:
            return self._vma_edge(task)
        if roll < 0.9:
            return pick((DATA, RANDOM, STACK, STACK + STACK_PAGES * PAGE - 64)) + rng.randrange(PAGE)
        return rng.getrandbits(64)

    def address(self, task) -> int:
        pick = self.pick
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            return ARENA + PAGE * rng.randrange(16)
        if roll < 0.6:
            return self._vma_edge(task) & ~(PAGE - 1)
        if roll < 0.75:
            return pick((0, UNMAPPED, STACK, 0x10000, 0xF000, S.TASK_SIZE - PAGE, S.TASK_SIZE, 1 << 46))
        if roll < 0.9:
            return pick(BAD_POINTERS)
        return rng.getrandbits(pick((32, 47, 64)))

    def _vma_edge(self, task) -> int:
        vmas = task.mm._vmas
        if not vmas:
            return 0
        vma = self.pick(vmas)
        return self.pick((vma.start, vma.end, vma.end - 8, vma.end - 1, vma.start - 8, vma.end - PAGE))

    # --- running -------------------------------------------------------------------------------------

    def new_world(self) -> None:
        self.world = World(self.rng.getrandbits(32))
        self.stats.worlds += 1
        self.stats.processes += 1

    def run(self, count: int, *, progress=None) -> Stats:
        stats = self.stats
        started = time.perf_counter()
        self.new_world()
        while stats.syscalls < count:
            try:
                self._one()
            except KernelBug as bug:
                self._record(bug)
                if self.stop_on_bug:
                    break
                self.new_world()
            if progress is not None and stats.syscalls % 50_000 == 0:
                progress(stats, time.perf_counter() - started)
        stats.seconds = time.perf_counter() - started
        return stats

    def _one(self) -> None:
        pick = self.pick
        world = self.world
        rng = self.rng
        stats = self.stats
        if world.worn_out():
            self.new_world()
            world = self.world
        world.settle()
        idle = world.idle_tasks()
        if not idle:
            world.trace.append(["time", 10_000_000])
            world.pass_time(10_000_000)
            world.settle()
            idle = world.idle_tasks()
            if not idle:  # every thread is parked or gone: a new process gets on with it
                world.spawn(rng.getrandbits(32))
                stats.processes += 1
                return
        roll = rng.random()
        if roll < self.TIME_RATE:
            ns = pick((1, 1000, 1_000_000, 20_000_000, 1_000_000_000, rng.getrandbits(34)))
            world.trace.append(["time", ns])
            world.pass_time(ns)
            return
        if roll < self.TIME_RATE + 0.01:
            pid, seed = pick(idle).pid, rng.getrandbits(32)
            world.trace.append(["refresh", pid, seed])
            world.refresh(pid, seed)
        if len(idle) > 1 and rng.random() < self.BATCH_RATE:
            chosen = rng.sample(idle, min(len(idle), pick((2, 2, 3))))
            calls = []
            for task in chosen:
                nr = self.pick_nr()
                calls.append((task, nr, self.pick_args(task, nr)))
            world.trace.append(["batch", [[t.tid, nr, args] for t, nr, args in calls]])
            world.calls += len(calls)
            stats.syscalls += len(calls)
            world.run_batch(calls)
            self._tally(calls)
            return
        task = pick(idle)
        nr = self.pick_nr()
        args = self.pick_args(task, nr)
        world.trace.append(["call", task.tid, nr, args])
        world.calls += 1
        stats.syscalls += 1
        world.run_call(task, nr, args)
        self._tally([(task, nr, args)])
        if not world.fuzzed_alive():
            world.spawn(rng.getrandbits(32))
            stats.processes += 1
        if world.calls % 64 == 0:
            for stream in (world.guest.stdout, world.guest.stderr):
                del stream.output[:]

    def _tally(self, calls) -> None:
        stats = self.stats
        for task, _, _ in calls:
            history = task.context.history
            before = self.world.issued.get(task.tid, 0)
            if not task.alive:
                stats.gone += 1
            elif len(history) > before:
                value = history[before][1] & MASK64
                if value >= MASK64 - 4095:
                    stats.errors += 1
                else:
                    stats.completed += 1
            else:
                stats.blocked += 1

    # --- bugs ---------------------------------------------------------------------------------------------

    def _record(self, bug: KernelBug) -> None:
        error = bug.error
        signature = _signature(error)
        detail = "".join(traceback.format_exception(error))
        world = self.world
        trace = list(world.trace)
        if signature in self._seen:
            return
        self._seen.add(signature)
        if self.shrink:
            trace = shrink(world.seed, trace, signature)
        found = Bug(signature, f"{type(error).__name__}: {error}", detail, self.seed, self.stats.syscalls,
                    bug.call, trace, world.seed)
        self.stats.bugs.append(found)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            name = "bug-" + "".join(c if c.isalnum() else "-" for c in signature)[:80] + ".json"
            (self.out_dir / name).write_text(json.dumps(found.to_json(), indent=1))


# --- replaying and shrinking ------------------------------------------------------------------------------


def replay(world_seed: int, trace: list[list]) -> str | None:
    """The signature of the bug the trace raises in a fresh world, or None."""
    world = World.__new__(World)
    try:
        _init_for_replay(world, world_seed, trace)
        world.replay(trace[1:])
    except KernelBug as bug:
        return _signature(bug.error)
    return None


def _init_for_replay(world: World, world_seed: int, trace: list[list]) -> None:
    """World.__init__ with the first spawn taken from the trace."""
    world.seed = world_seed
    world.rng = random.Random(world_seed)
    world.guest = FakeGuest(config=KernelConfig(cpu_count=2, memory_bytes=256 << 20))
    world.kernel = world.guest.kernel
    world.platform = world.guest.platform
    world._share_storage_budget()
    world.guest.stdin.close_input()
    world._build_files()
    world.issued = {}
    world.trace = []
    world.calls = 0
    world.fuzzed_pid = 0
    world.spawn(trace[0][1])


def shrink(world_seed: int, trace: list[list], signature: str, budget_s: float = 60.0) -> list[list]:
    """The shortest trace found (by removing chunks, then single steps) that still raises
    the same bug; the first step (the first spawn) always stays."""
    if replay(world_seed, trace) != signature:
        return trace  # not reproducible on its own (depends on more than the trace)
    deadline = time.monotonic() + budget_s
    head, steps = trace[:1], trace[1:]
    chunk = max(len(steps) // 2, 1)
    while chunk >= 1 and time.monotonic() < deadline:
        index = 0
        while index < len(steps) and time.monotonic() < deadline:
            candidate = steps[:index] + steps[index + chunk:]
            if replay(world_seed, head + candidate) == signature:
                steps = candidate
            else:
                index += chunk
        chunk //= 2
    return head + steps


# --- command line ----------------------------------------------------------------------------------------


def limit_memory(gib: int) -> None:
    """Make a runaway allocation a MemoryError (a bug the fuzzer reports) rather than
    the host's out-of-memory killer."""
    limit = gib << 30
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--syscalls", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=pathlib.Path, default=None, help="write each bug's reproducer here")
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument("--stop", action="store_true", help="stop at the first bug")
    parser.add_argument("--replay", type=pathlib.Path, help="replay a bug file written by --out")
    parser.add_argument("--memory-gib", type=int, default=4)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("slimbox").setLevel(logging.CRITICAL)
    limit_memory(args.memory_gib)
    if args.replay:
        data = json.loads(args.replay.read_text())
        world = World.__new__(World)
        _init_for_replay(world, data["world_seed"], data["trace"])
        for step in data["trace"]:
            print(format_step(step))
        try:
            world.replay(data["trace"][1:])
        except KernelBug as bug:
            traceback.print_exception(bug.error)
            return 1
        print("no bug")
        return 0
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    fuzzer = FakeFuzzer(seed, shrink=not args.no_shrink, stop_on_bug=args.stop, out_dir=args.out)

    def progress(stats: Stats, elapsed: float) -> None:
        if not args.quiet:
            print(f"  {stats.syscalls} syscalls, {stats.syscalls / elapsed:.0f}/s, {len(stats.bugs)} bugs",
                  file=sys.stderr, flush=True)

    stats = fuzzer.run(args.syscalls, progress=progress)
    for bug in stats.bugs:
        print(bug.report())
    print(f"fake platform: seed {seed}: {stats.syscalls} syscalls in {stats.seconds:.1f} s "
          f"({stats.rate:.0f}/s); {stats.completed} succeeded, {stats.errors} failed, {stats.blocked} blocked, "
          f"{stats.gone} ended their thread; {stats.worlds} worlds, {stats.processes} fuzzed processes; "
          f"{len(stats.bugs)} bugs")
    return 1 if stats.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
