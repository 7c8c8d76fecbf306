"""kernel/limits.py and the places that enforce it: the memory budget across mm
operations and processes, the storage budget of in-memory filesystems, rlimits the
sandbox sets (open files, file size, CPU time) and the output budget."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parent)
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import GONE, FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.errors import LinuxError  # noqa: E402
from slimbox.kernel.fs.memfs import INODE_COST, MemFs  # noqa: E402
from slimbox.kernel.kernel import KernelConfig  # noqa: E402
from slimbox.kernel.limits import Budget, Limits  # noqa: E402
from slimbox.kernel.mm import (  # noqa: E402
    MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MREMAP_MAYMOVE, PAGE, PROT_NONE, PROT_READ, PROT_WRITE, Layout,
    MemoryManager,
)
from slimbox.kernel.signals import SIGKILL, SIGXCPU, SIGXFSZ  # noqa: E402
from slimbox.platforms.fake import FakeAddressSpace  # noqa: E402

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
O_WRONLY, O_CREAT, O_TRUNC = 0o1, 0o100, 0o1000
RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIM_INFINITY = 0, 1, 7, (1 << 64) - 1
SECOND = 1_000_000_000


def guest_with(**limits) -> FakeGuest:
    return FakeGuest(config=KernelConfig(cpu_count=2, memory_bytes=1 << 30, limits=Limits(**limits)))


def pending(g: FakeGuest, signo: int) -> bool:
    return bool((g.process.pending.mask() | g.task.pending.mask()) & (1 << (signo - 1)))


# --- Limits and Budget ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [dict(memory=-1), dict(tasks=0), dict(open_files=2), dict(cpu_seconds=1.5),
                                 dict(output="10")])
def test_limits_refuse_values_that_make_no_sense(bad):
    with pytest.raises(ValueError):
        Limits(**bad)


def test_a_budget_refuses_what_would_not_fit_and_charges_nothing_then():
    budget = Budget(100, Errno.ENOSPC)
    budget.charge(60)
    with pytest.raises(LinuxError) as failure:
        budget.charge(41)
    assert failure.value.errno == Errno.ENOSPC and budget.used == 60 and budget.room() == 40
    budget.charge(40)
    budget.release(100)
    assert budget.used == 0 and Budget(None, Errno.ENOMEM).room() is None


# --- memory ------------------------------------------------------------------------------------


def _random_mm_operation(mm: MemoryManager, rng: random.Random, base: int) -> None:
    """One mmap, munmap, mprotect, mremap or brk over a small window, so they overlap."""
    addr = base + rng.randrange(64) * PAGE
    length = rng.randrange(1, 16) * PAGE
    prot = rng.choice((PROT_NONE, PROT_READ, RW))
    action = rng.randrange(5)
    if action == 0:
        mm.mmap(addr, length, prot, ANON | MAP_FIXED)
    elif action == 1:
        mm.munmap(addr, length)
    elif action == 2:
        mm.mprotect(addr, length, prot)
    elif action == 3:
        mm.mremap(addr, length, rng.randrange(1, 16) * PAGE, MREMAP_MAYMOVE)
    else:
        mm.brk(mm.brk_start + rng.randrange(32) * PAGE)


def test_the_memory_budget_matches_the_mappings_after_any_sequence_of_operations():
    budget = Budget(40 * PAGE, Errno.ENOMEM)
    rng = random.Random(5)
    mms = [MemoryManager(FakeAddressSpace(), Layout(mmap_base=0x7F00_0000_0000), budget) for _ in range(2)]
    for mm in mms:
        mm.set_brk_start(0x5000_0000)
    refused = 0
    for _ in range(3000):
        mm = rng.choice(mms)
        before = budget.used
        try:
            _random_mm_operation(mm, rng, 0x1000_0000)
        except LinuxError as exc:
            refused += exc.errno == Errno.ENOMEM
            assert budget.used == before, "a refused operation charged something"
        assert budget.used == sum(m.charged() for m in mms) <= budget.limit
        writable_or_private = sum(v.end - v.start for m in mms for v in m.vmas() if v.prot != PROT_NONE)
        assert mms[0].charged() + mms[1].charged() == writable_or_private  # anonymous memory: all but PROT_NONE
    assert refused > 50  # the limit was reached, many times
    for mm in mms:
        mm.forget()
    assert budget.used == 0


def test_mmap_brk_and_fork_fail_with_enomem_past_the_memory_limit():
    g = guest_with(memory=1 << 30)
    room = 64 * PAGE
    g.kernel.memory.limit = g.kernel.memory.used + room  # what the test's scratch memory left
    assert g.syscall("mmap", 0, room + PAGE, RW, ANON, -1, 0) == -Errno.ENOMEM
    addr = g.syscall("mmap", 0, room, RW, ANON, -1, 0)
    assert addr > 0 and g.kernel.memory.used == g.kernel.memory.limit
    assert g.syscall("mmap", 0, PAGE, RW, ANON, -1, 0) == -Errno.ENOMEM
    assert g.syscall("mmap", 0, PAGE, PROT_NONE, ANON, -1, 0) > 0  # a reservation costs nothing
    current = g.syscall("brk", 0)
    assert g.syscall("brk", current + PAGE) == current  # brk reports failure by not moving
    assert g.syscall("fork") == -Errno.ENOMEM  # the copy would not fit
    assert g.syscall("munmap", addr, room) == 0
    assert g.syscall("fork") > 0


def test_a_dead_process_gives_its_memory_back():
    g = guest_with(memory=1 << 24)
    before = g.kernel.memory.used
    child = g.spawn()
    assert child.syscall("mmap", 0, 64 * PAGE, RW, ANON, -1, 0) > 0
    assert g.kernel.memory.used == before + child.task.mm.charged() > before + 64 * PAGE
    assert child.syscall("exit_group", 0) is GONE
    g.settle()
    assert g.kernel.memory.used == before


# --- in-memory filesystems -----------------------------------------------------------------------


def memfs_guest(limit: int) -> FakeGuest:
    g = guest_with(tmpfs=limit)
    g.mkdir(b"/scratch")
    fs = MemFs(g._w.new_dev(), g.kernel.realtime_ns, root_mode=0o1777, budget=g.kernel.storage)
    g.vfs.mount(fs, fs.root, g.node(b"/scratch"), source="tmpfs")
    return g


def test_writes_past_the_tmpfs_size_fail_with_enospc_and_unlink_gives_the_room_back():
    g = memfs_guest(8 * INODE_COST + 4096)  # the root directory and the file take one each
    fd = g.syscall("openat", -100, b"/scratch/big", O_WRONLY | O_CREAT, 0o644)
    assert fd >= 0
    data = g.put(b"x" * 8192)
    written = g.syscall("write", fd, data, 8192)
    assert 0 < written < 8192  # a short write up to what fits
    assert g.syscall("write", fd, data, 8192) == -Errno.ENOSPC
    statfs = g.alloc(120)
    assert g.syscall("statfs", b"/scratch", statfs) == 0
    assert g.u64(statfs + 32) == 0  # f_bavail: nothing left
    assert g.syscall("close", fd) == 0
    assert g.syscall("unlinkat", -100, b"/scratch/big", 0) == 0
    assert g.kernel.storage.used == INODE_COST
    fd = g.syscall("openat", -100, b"/scratch/again", O_WRONLY | O_CREAT, 0o644)
    assert g.syscall("write", fd, data, 4096) == 4096


def test_every_inode_costs_something_so_empty_files_cannot_fill_memory():
    g = memfs_guest(5 * INODE_COST)  # one for the root directory
    made = 0
    while (fd := g.syscall("openat", -100, b"/scratch/f%d" % made, O_WRONLY | O_CREAT, 0o644)) >= 0:
        g.syscall("close", fd)
        made += 1
    assert fd == -Errno.ENOSPC and made == 4
    assert g.syscall("mkdirat", -100, b"/scratch/d", 0o755) == -Errno.ENOSPC


def test_an_unlinked_file_still_open_keeps_its_space_until_closed():
    g = memfs_guest(1 << 20)
    fd = g.syscall("openat", -100, b"/scratch/f", O_WRONLY | O_CREAT, 0o644)
    assert g.syscall("write", fd, g.put(b"y" * 5000), 5000) == 5000
    assert g.syscall("unlinkat", -100, b"/scratch/f", 0) == 0
    assert g.kernel.storage.used == 2 * INODE_COST + 5000  # with the root directory's
    assert g.syscall("close", fd) == 0
    assert g.kernel.storage.used == INODE_COST


# --- rlimits the sandbox sets ------------------------------------------------------------------------


def test_the_sandbox_rlimits_cannot_be_raised_even_by_root():
    g = guest_with(open_files=16, file_size=1 << 20, cpu_seconds=5)
    out = g.alloc(16)
    assert g.syscall("prlimit64", 0, RLIMIT_NOFILE, 0, out) == 0
    assert (g.u64(out), g.u64(out + 8)) == (16, 16)
    assert g.syscall("prlimit64", 0, RLIMIT_CPU, 0, out) == 0
    assert (g.u64(out), g.u64(out + 8)) == (5, 6)
    raised = g.put((32).to_bytes(8, "little") * 2)
    assert g.syscall("prlimit64", 0, RLIMIT_NOFILE, raised, 0) == -Errno.EPERM
    infinite = g.put(RLIM_INFINITY.to_bytes(8, "little") * 2)
    assert g.syscall("prlimit64", 0, RLIMIT_FSIZE, infinite, 0) == -Errno.EPERM
    lowered = g.put((8).to_bytes(8, "little") * 2)
    assert g.syscall("prlimit64", 0, RLIMIT_NOFILE, lowered, 0) == 0


def test_open_files_past_the_limit_fail_with_emfile():
    g = guest_with(open_files=8)
    fds = []
    while (fd := g.syscall("openat", -100, b"/", 0, 0)) >= 0:
        fds.append(fd)
    assert fd == -Errno.EMFILE and max(fds) == 7
    assert g.syscall("dup", 0) == -Errno.EMFILE


def test_writing_past_the_file_size_limit_raises_sigxfsz_and_fails_with_efbig():
    g = guest_with(file_size=1000)
    g.mkdir(b"/w", mode=0o1777)
    fd = g.syscall("openat", -100, b"/w/f", O_WRONLY | O_CREAT, 0o644)
    data = g.put(b"z" * 1500)
    assert g.syscall("rt_sigprocmask", 0, g.put((1 << (SIGXFSZ - 1)).to_bytes(8, "little")),
                     0, 8) == 0  # blocked: it stays pending where the test can see it
    assert g.syscall("write", fd, data, 1500) == 1000  # short, up to the limit
    assert not pending(g, SIGXFSZ)
    assert g.syscall("write", fd, data, 1) == -Errno.EFBIG
    assert pending(g, SIGXFSZ)
    assert g.syscall("ftruncate", fd, 1001) == -Errno.EFBIG
    assert g.syscall("pwrite64", fd, data, 10, 995) == 5
    assert g.read_file(b"/w/f") == b"z" * 1000


def test_output_past_its_limit_is_cut_short_then_fails_with_efbig():
    g = guest_with(output=10)
    data = g.put(b"0123456789abcdef")
    assert g.syscall("write", 1, data, 6) == 6
    assert g.syscall("write", 2, data, 6) == 4  # standard output and error share the budget
    assert g.syscall("rt_sigprocmask", 0, g.put((1 << (SIGXFSZ - 1)).to_bytes(8, "little")), 0, 8) == 0
    assert g.syscall("write", 1, data, 1) == -Errno.EFBIG
    assert pending(g, SIGXFSZ)
    assert (bytes(g.stdout.output), bytes(g.stderr.output)) == (b"012345", b"0123")


def test_cpu_time_past_the_soft_limit_raises_sigxcpu_every_second_then_sigkill():
    g = guest_with(cpu_seconds=2)
    mask = g.put(((1 << (SIGXCPU - 1))).to_bytes(8, "little"))
    assert g.syscall("rt_sigprocmask", 0, mask, 0, 8) == 0
    g.context.cpu_ns = 1 * SECOND + 900_000_000
    g.run_for(SECOND)
    assert not pending(g, SIGXCPU)
    g.context.cpu_ns = 2 * SECOND
    g.run_for(SECOND)
    assert pending(g, SIGXCPU) and g.process.cpu_limit_signalled == 2
    g.context.cpu_ns = 3 * SECOND  # the hard limit: soft + 1
    for _ in range(10):  # the next check, within a fraction of a second
        g.step(max_wait_ns=SECOND // 4)
    assert g.process.exit_status is not None and g.process.exit_status[1] == SIGKILL
