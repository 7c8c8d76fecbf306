"""platforms/linux/process.py: which syscall stops the supervisor approves while it
injects a call of the approval set (clone, exit, recvmsg, close) at the trampoline."""

from __future__ import annotations

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
