"""platforms/emu/scheduler.py: time slices and the run queue."""

from __future__ import annotations

import time

from .emu_guest import CODE, DATA, SPIN, need_unicorn

need_unicorn()

from slimbox.platforms.emu import engine as uc  # noqa: E402 - after the skip
from slimbox.platforms.emu.memory import EmuAddressSpace  # noqa: E402
from slimbox.platforms.emu.scheduler import SLICE_INSTRUCTIONS, Preemption, RunQueue  # noqa: E402


def _spinning_space() -> EmuAddressSpace:
    """An address space whose code at CODE loops for ever."""
    space = EmuAddressSpace()
    space.map(CODE, 0x1000, 5)
    space.write(CODE, SPIN)
    return space


def test_a_spinning_run_ends_after_its_slice():
    space = _spinning_space()
    space.engine.start_slicing()
    assert space.engine.run(CODE) == uc.ERR_OK and space.engine.reason == uc.STOP_NONE
    assert space.engine.read_register(uc.RIP) == CODE
    space.close()


def test_slices_neither_lose_nor_repeat_instructions():
    # rcx = n; loop: add qword [DATA], 1; add rbx, 1; dec rcx; jnz loop; syscall
    rounds = 3 * SLICE_INSTRUCTIONS // 4 + 17
    code = (b"\x48\xb9" + rounds.to_bytes(8, "little") + b"\x48\x83\x04\x25" + DATA.to_bytes(4, "little") + b"\x01"
            + bytes.fromhex("4883c301" "48ffc9" "75ee" "0f05"))
    space = EmuAddressSpace()
    space.map(CODE, 0x1000, 5)
    space.map(DATA, 0x1000, 3)
    space.write(CODE, code)
    engine = space.engine
    engine.start_slicing()
    rip, slices = CODE, 0
    while engine.run(rip) == uc.ERR_OK and engine.reason != uc.STOP_SYSCALL:
        rip = engine.read_register(uc.RIP)
        slices += 1
    assert slices >= 2
    assert int.from_bytes(space.read(DATA, 8), "little") == engine.read_register(uc.RBX) == rounds
    space.close()


def test_an_uncounted_run_is_stopped_once_past_its_end():
    space = _spinning_space()
    preemption = Preemption()
    try:
        started = time.monotonic()
        preemption.begin(space.engine, time.monotonic_ns() + 20_000_000)
        status = space.engine.run(CODE)
        assert preemption.end()  # it was this thread that stopped the run
        assert status == uc.ERR_OK and space.engine.reason == uc.STOP_NONE
        assert 0.019 <= time.monotonic() - started < 5
        preemption.begin(space.engine, time.monotonic_ns() + 10**12)
        assert not preemption.end()
    finally:
        preemption.close()
        space.close()


def test_slicing_applies_to_code_translated_before():
    space = _spinning_space()
    preemption = Preemption()
    try:
        preemption.begin(space.engine, time.monotonic_ns() + 10_000_000)
        space.engine.run(CODE)  # uncounted: translated without a count, stopped from outside
        assert preemption.end()
    finally:
        preemption.close()
    space.engine.start_slicing()
    assert space.engine.run(CODE) == uc.ERR_OK and space.engine.reason == uc.STOP_NONE  # ends by itself
    space.close()


def test_the_queue_is_first_come_first_served():
    queue = RunQueue()
    for item in ("a", "b", "c"):
        queue.push(item)
    assert queue.remove("b") and not queue.remove("b")
    assert [queue.pop(), queue.pop(), queue.pop()] == ["a", "c", None]
    assert len(queue) == 0
