"""platforms/emu/platform.py: running guest threads and reporting what they do."""

from __future__ import annotations

import time

import pytest

from .emu_guest import CODE, DATA, GETPID_LOOP, SPIN, load_program, need_unicorn
from slimbox.platforms.base import ExitEvent, FaultEvent, HostReadyEvent, InterruptEvent, SyscallEvent

need_unicorn()

from slimbox.platforms.emu.platform import EmuPlatform  # noqa: E402 - after the skip


@pytest.fixture
def platform():
    platform = EmuPlatform(None)
    yield platform
    platform.close()


def _started(platform, code: bytes):
    thread = platform.new_process()
    load_program(thread, code)
    thread.resume()
    return thread


def _next_event(platform, limit: int = 500):
    for _ in range(limit):
        events = platform.wait(50_000_000)
        if events:
            assert len(events) == 1
            return events[0]
    raise AssertionError("no event")


def test_a_syscall_is_an_event_and_its_result_goes_back(platform):
    # mov eax, 39; syscall; mov rbx, rax; mov eax, 60; syscall
    thread = _started(platform, bytes.fromhex("b827000000" "0f05" "4889c3" "b83c000000" "0f05"))
    event = _next_event(platform)
    assert isinstance(event, SyscallEvent) and event.context is thread and event.nr == 39
    thread.finish_syscall(1234)
    assert _next_event(platform).nr == 60
    regs = thread.regs
    assert regs.rbx == 1234 and regs.orig_rax == 60 and regs.rax == (-38) & ((1 << 64) - 1)
    assert regs.rcx == regs.rip == CODE + 17 and regs.r11 == regs.eflags


@pytest.mark.parametrize("code, signal, si_code, address", [
    (bytes.fromhex("488b042500100000"), 11, 1, 0x1000),         # read of unmapped memory: MAPERR
    (bytes.fromhex("c60425" + CODE.to_bytes(4, "little").hex() + "01"), 11, 2, CODE),  # write to code: ACCERR
    (bytes.fromhex("31c9" "48f7f1"), 8, 1, CODE + 2),           # divide by zero
    (bytes.fromhex("0f0b"), 4, 2, CODE),                        # ud2
    (bytes.fromhex("cc"), 5, 0x80, 0),                          # int3
    (bytes.fromhex("f4"), 11, 0x80, 0),                         # hlt: privileged, as in a Linux process
    (bytes.fromhex("0f20c0"), 11, 0x80, 0),                     # mov rax, cr0: likewise
])
def test_faults_are_reported_as_linux_would(platform, code, signal, si_code, address):
    thread = _started(platform, code)
    event = _next_event(platform)
    assert isinstance(event, FaultEvent) and event.context is thread
    assert (event.signal, event.code, event.address) == (signal, si_code, address)


def test_int80_ends_the_process_with_sigsys(platform):
    thread = _started(platform, bytes.fromhex("cd80"))
    event = _next_event(platform)
    assert isinstance(event, ExitEvent) and event.context is thread and event.killed_by == 31


def test_a_spinning_thread_does_not_starve_another(platform):
    spinner = _started(platform, SPIN)
    worker = spinner.spawn_thread()
    worker.regs.rip = CODE + len(SPIN)
    spinner.address_space.write(CODE + len(SPIN), GETPID_LOOP)
    worker.resume()
    event = _next_event(platform)
    assert isinstance(event, SyscallEvent) and event.context is worker
    assert spinner.cpu_time_ns() > 0


def test_threads_keep_their_own_registers(platform):
    first = _started(platform, GETPID_LOOP)
    second = first.spawn_thread()
    second.regs.rbx = 2
    first.regs.rbx = 1
    second.resume()
    for _ in range(4):
        event = _next_event(platform)
        assert event.context.regs.rbx == (1 if event.context is first else 2)
        event.context.finish_syscall(0)


def test_fork_copies_memory_and_registers(platform):
    parent = _started(platform, GETPID_LOOP)
    _next_event(platform)
    parent.address_space.write(DATA, b"before")
    child = parent.fork()
    parent.address_space.write(DATA, b"parent")
    assert child.address_space.read(DATA, 6) == b"before"
    assert child.regs.rip == parent.regs.rip
    child.finish_syscall(0)
    event = _next_event(platform)
    assert event.context is child and event.nr == 39


def test_interrupt_kill_and_exit_thread(platform):
    thread = _started(platform, SPIN)
    other = thread.spawn_thread()
    other.resume()
    thread.interrupt()
    event = _next_event(platform)
    assert isinstance(event, InterruptEvent) and event.context is thread
    other.exit_thread()
    assert other.state == "gone"
    thread.kill()
    event = _next_event(platform)
    assert isinstance(event, ExitEvent) and event.context is thread and event.killed_by == 9


def test_interrupting_a_waiting_thread_stops_it_at_once(platform):
    first = _started(platform, SPIN)
    second = first.spawn_thread()
    second.resume()
    second.interrupt()  # waiting for the CPU behind the first
    events = platform.wait(0)
    assert [(type(e), e.context) for e in events] == [(InterruptEvent, second)]
    assert second.state == "stopped"


def test_idle_wait_sleeps_until_the_timeout_or_a_ready_stream(platform):
    started = time.monotonic()
    assert platform.wait(20_000_000) == []
    assert time.monotonic() - started >= 0.019

    class Stream:
        ready_at = time.monotonic() + 0.02

        def ready(self):
            return time.monotonic() >= self.ready_at

    platform.watch_readable(Stream(), "key")
    events = platform.wait(None)
    assert [type(e) for e in events] == [HostReadyEvent] and events[0].key == "key"


def test_poke_ends_an_idle_wait(platform):
    platform.poke()
    assert platform.wait(None) == []


def test_fpu_state_survives_a_thread_switch(platform):
    first = _started(platform, GETPID_LOOP)
    second = first.spawn_thread()
    image = bytearray(first.fpu_state())
    image[24:28] = (0x1F80 | 0x6000).to_bytes(4, "little")  # MXCSR rounding: toward zero
    first.set_fpu_state(bytes(image))
    second.reset_fpu_state()
    assert first.fpu_state()[24:28] == bytes(image[24:28])
    assert second.fpu_state()[24:28] == (0x1F80).to_bytes(4, "little")


def test_addresses_outside_the_user_half_fault_as_on_linux(platform):
    # mov rax, [rax] with rax in the kernel half, then in the non-canonical hole
    for address, si_code, reported in ((0xFFFF800000001000, 1, 0xFFFF800000001000), (0xDEAD000000000000, 0x80, 0)):
        thread = platform.new_process()
        load_program(thread, bytes.fromhex("488b00"))
        thread.regs.rax = address
        thread.resume()
        event = _next_event(platform)
        assert isinstance(event, FaultEvent) and (event.signal, event.code, event.address) == (11, si_code, reported)
        thread.kill()
        _next_event(platform)


def test_every_divide_error_is_a_sigfpe(platform):
    # unicorn leaves the exception in flight: without forgetting it, the second would be
    # a double fault and the third a CPU reset
    thread = _started(platform, bytes.fromhex("31c9" "48f7f1"))
    for _ in range(4):
        event = _next_event(platform)
        assert isinstance(event, FaultEvent) and (event.signal, event.code, event.address) == (8, 1, CODE + 2)
        assert thread.regs.rip == CODE + 2 and thread.regs.cs == 0x33
        thread.regs.rip = CODE
        thread.resume()
