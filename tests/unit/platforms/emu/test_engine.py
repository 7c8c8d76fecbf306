"""platforms/emu/engine.py: the unicorn instance, its hooks and register batches."""

from __future__ import annotations

import sys

import pytest

from .emu_guest import CODE, need_unicorn
from slimbox.platforms.base import PlatformUnavailable
from slimbox.platforms.emu import engine as uc

need_unicorn()

from slimbox.platforms.emu.memory import Backing  # noqa: E402 - after the skip


def _engine_with(code: bytes) -> tuple[uc.Engine, Backing]:
    engine = uc.Engine()
    backing = Backing(0x1000, False)
    backing.buffer[:len(code)] = code
    engine.map_host_memory(CODE, 0x1000, 7, backing.address)
    return engine, backing


def test_a_syscall_ends_the_run_with_its_registers():
    # mov eax, 39; mov edi, 5; mov r10d, 7; syscall
    engine, _ = _engine_with(bytes.fromhex("b827000000" "bf05000000" "41ba07000000" "0f05"))
    status = engine.run(CODE)
    assert status == uc.ERR_OK and engine.reason == uc.STOP_SYSCALL
    nr, rdi, rsi, rdx, r10, r8, r9, rip, _ = engine.read(engine.syscall)
    assert (nr, rdi, r10) == (39, 5, 7)
    assert rip == CODE + 18  # just after the syscall instruction


def test_interrupts_and_bad_memory_are_recorded():
    engine, _ = _engine_with(bytes.fromhex("90" "cc" "90"))  # nop; int3
    engine.run(CODE)
    assert (engine.reason, engine.detail, engine.fault_rip) == (uc.STOP_INTERRUPT, 3, CODE + 2)
    engine, _ = _engine_with(bytes.fromhex("488b042500100000"))  # mov rax, [0x1000]
    status = engine.run(CODE)
    assert status == uc.ERR_READ_UNMAPPED and engine.reason == uc.STOP_MEMORY
    assert engine.detail == (19, 0x1000) and engine.fault_rip == CODE


def test_register_batches_round_trip():
    engine, _ = _engine_with(b"")
    values = list(range(1, len(uc.FULL_REGISTERS) + 1))
    values[uc.FULL_REGISTERS.index(uc.RFLAGS)] = 0x202
    engine.write(engine.full, values)
    assert engine.read(engine.full) == values
    engine.write_register(uc.RAX, 1 << 63)
    assert engine.read_register(uc.RAX) == 1 << 63


def test_missing_unicorn_is_a_platform_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "unicorn", None)
    with pytest.raises(PlatformUnavailable, match="unicorn"):
        uc.load_unicorn()
