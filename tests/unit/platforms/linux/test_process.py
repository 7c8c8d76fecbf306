"""platforms/linux/process.py: which syscall stops the supervisor approves while it
injects a call of the approval set (clone, exit, recvmsg, close) at the trampoline, and
what waits in a batch of memory calls and when it runs."""

from __future__ import annotations

import os

import pytest

from slimbox.platforms.linux.process import PlatformError, StubProcess
from slimbox.platforms.linux.stub import build_stub

BASE = 0x7F00_0000_0000
CLONE = 56


class FakeTracer:
    """Reports one seccomp stop and records which threads were let go."""

    def __init__(self, ip: int, nr: int, args: tuple[int, ...]) -> None:
        self.site = (ip, nr, args + (0,) * (6 - len(args)))
        self.continued: list[int] = []

    def syscall_site(self, tid: int) -> tuple[int, int, tuple[int, ...]]:
        return self.site

    def cont(self, tid: int, sig: int = 0) -> None:
        self.continued.append(tid)


def stub_process(tracer: FakeTracer) -> StubProcess:
    process = StubProcess(4242, None, build_stub(), tracer, platform=None)
    process.base = BASE
    process.dead = True  # nothing to kill: there is no host process behind it
    return process


def trampoline_end() -> int:
    return build_stub().trampoline_syscall_end(BASE)


def test_the_injected_call_itself_is_let_run():
    tracer = FakeTracer(trampoline_end(), CLONE, (0, 0, 0, 0, 0))
    process = stub_process(tracer)
    process._approve(process.main, CLONE, (0, 0, 0, 0, 0))
    assert tracer.continued == [process.main.tid]


@pytest.mark.parametrize("site", [
    (0x40_1000, CLONE, (0, 0, 0, 0, 0)),                   # made elsewhere
    ("trampoline", 57, (0, 0, 0, 0, 0)),                   # another number
    ("trampoline", CLONE, (0x0080_0011, 0, 0, 0, 0)),      # CLONE_UNTRACED | SIGCHLD of the guest's
    ("trampoline", CLONE, (0, 0x7FFF_0000, 0, 0, 0)),      # a stack of the guest's
], ids=["elsewhere", "other number", "other flags", "other stack"])
def test_anything_else_ends_the_process(site):
    ip, nr, args = site
    tracer = FakeTracer(trampoline_end() if ip == "trampoline" else ip, nr, args)
    process = stub_process(tracer)
    with pytest.raises(PlatformError):
        process._approve(process.main, CLONE, (0, 0, 0, 0, 0))
    assert tracer.continued == []


def test_negative_arguments_compare_as_the_registers_hold_them():
    tracer = FakeTracer(trampoline_end(), 3, ((1 << 64) - 1,))
    process = stub_process(tracer)
    process._approve(process.main, 3, (-1,))
    assert tracer.continued == [process.main.tid]


# --- batches of memory calls ------------------------------------------------------------

MMAP, MUNMAP, MPROTECT = 9, 11, 10
LOW, HIGH = 0x10000, 0x20000   # two pages, far enough apart


@pytest.fixture
def batching():
    """A process whose memory is a memfd (addresses = file offsets) and whose injections
    are recorded in `log` instead of run: ("inject", nr) or ("batch", [nr...], bytes
    at LOW when the batch ran)."""
    process = stub_process(FakeTracer(0, 0, ()))
    process._mem = os.memfd_create("memory")
    os.ftruncate(process._mem, 1 << 20)
    log: list[tuple] = []
    failing: list[int] = []

    def inject_through(thread, nr, args):
        log.append(("inject", nr))
        return (-12 if nr in failing else (args[0] if nr == MMAP else 0)), 0

    def run_batch(calls):
        log.append(("batch", [nr for nr, _ in calls], os.pread(process._mem, 2, LOW)))
        for index, (nr, _) in enumerate(calls):
            if nr in failing:
                return nr, -12
        return -1, 0

    process._inject_through = inject_through
    process._run_batch = run_batch
    process.log, process.failing = log, failing
    yield process
    os.close(process._mem)


def test_without_a_batch_each_call_is_injected_at_once(batching):
    batching.map(LOW, 4096, 3)
    batching.protect(LOW, 4096, 1)
    assert batching.log == [("inject", MMAP), ("inject", MPROTECT)]


def test_a_batch_runs_its_calls_in_one_stop_and_the_writes_after_them(batching):
    with batching.batched():
        batching.unmap(LOW, 1 << 16)
        batching.map(LOW, 4096, 3)
        batching.write(LOW, b"ab")
        batching.map(HIGH, 4096, 3)
        assert batching.log == []
    assert batching.log == [("batch", [MUNMAP, MMAP, MMAP], b"\0\0")]
    assert batching.read(LOW, 2) == b"ab"


def test_a_call_over_bytes_written_in_the_batch_runs_what_waits_first(batching):
    with batching.batched():
        batching.map(LOW, 4096, 3)
        batching.map(HIGH, 4096, 3)
        batching.write(LOW, b"ab")
        batching.unmap(LOW, 4096)  # would lose the write if it ran before it
        assert batching.log == [("batch", [MMAP, MMAP], b"\0\0")]
        assert batching.read(LOW, 2) == b"ab"  # written before the unmap, as in turn
    assert batching.log[-1] == ("inject", MUNMAP)  # a batch of one is a plain injection


def test_a_read_or_another_injection_runs_what_waits_first(batching):
    with batching.batched():
        batching.map(LOW, 4096, 3)
        batching.map(HIGH, 4096, 3)
        batching.read(HIGH, 1)
        assert batching.log == [("batch", [MMAP, MMAP], b"\0\0")]
        batching.map(LOW, 4096, 3)
        batching.inject(3, 5)
        assert batching.log[1:] == [("inject", MMAP), ("inject", 3)]
    assert len(batching.log) == 3


def test_a_failed_call_in_a_batch_is_an_error_at_its_end(batching):
    batching.failing.append(MPROTECT)
    with pytest.raises(OSError) as failure:
        with batching.batched():
            batching.map(LOW, 4096, 3)
            batching.protect(LOW, 4096, 1)
            batching.write(LOW, b"ab")
    assert failure.value.errno == 12
    assert batching.read(LOW, 2) == b"\0\0"  # nothing after the failure was done


def test_batches_nest_and_the_outermost_runs_them(batching):
    with batching.batched():
        with batching.batched():
            batching.map(LOW, 4096, 3)
            batching.map(HIGH, 4096, 3)
        assert batching.log == []
    assert batching.log == [("batch", [MMAP, MMAP], b"\0\0")]
