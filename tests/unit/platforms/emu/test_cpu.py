"""platforms/emu/cpu.py: a guest thread's registers as the kernel sees them."""

from __future__ import annotations

import pytest

from .emu_guest import CODE, GETPID_LOOP, load_program, need_unicorn

need_unicorn()

from slimbox.platforms.emu.cpu import USER_CS, USER_SS  # noqa: E402 - after the skip
from slimbox.platforms.emu.platform import EmuPlatform  # noqa: E402


@pytest.fixture
def platform():
    platform = EmuPlatform(None)
    yield platform
    platform.close()


def test_registers_written_by_the_kernel_are_what_the_thread_runs_with(platform):
    thread = platform.new_process()
    load_program(thread, GETPID_LOOP)
    regs = thread.regs
    regs.r15, regs.fs_base, regs.gs_base = 15, 0x7000, 0x8000
    thread.resume()
    platform.wait(None)
    regs = thread.regs
    assert (regs.r15, regs.fs_base, regs.gs_base) == (15, 0x7000, 0x8000)
    assert (regs.cs, regs.ss, regs.rip) == (USER_CS, USER_SS, CODE + 7)


def test_a_gone_thread_has_no_registers(platform):
    thread = platform.new_process()
    thread.kill()
    with pytest.raises(ProcessLookupError):
        thread.regs
    with pytest.raises(ProcessLookupError):
        thread.fpu_state()


def test_cpu_time_counts_for_the_thread_and_its_process(platform):
    thread = platform.new_process()
    load_program(thread, GETPID_LOOP)
    thread.resume()
    platform.wait(None)
    other = thread.spawn_thread()
    assert thread.cpu_time_ns() > 0 and other.cpu_time_ns() == 0
    assert thread.process_cpu_time_ns() == thread.cpu_time_ns()
    other.exit_thread()
    assert thread.process_cpu_time_ns() == thread.cpu_time_ns()
