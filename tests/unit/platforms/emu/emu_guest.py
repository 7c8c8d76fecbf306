"""Helpers for the emu platform's unit tests: skip without unicorn, tiny guest programs."""

from __future__ import annotations

import pytest

from slimbox.platforms.base import PlatformUnavailable
from slimbox.platforms.emu.engine import load_unicorn


def need_unicorn() -> None:
    """Skip the calling test module, with the platform's own reason, when unicorn is missing."""
    try:
        load_unicorn()
    except PlatformUnavailable as exc:
        pytest.skip(str(exc), allow_module_level=True)


CODE = 0x400000
DATA = 0x500000
#: mov eax, 39 (getpid); syscall; jmp back to the start
GETPID_LOOP = bytes.fromhex("b827000000" "0f05" "ebf7")
#: jmp $ (spins forever)
SPIN = bytes.fromhex("ebfe")


def load_program(thread, code: bytes, *, data: bool = True) -> None:
    """Map `code` at CODE (read+exec) and a data page at DATA, and point the thread at it."""
    space = thread.address_space
    space.map(CODE, 0x1000, 5)
    space.write(CODE, code)
    if data:
        space.map(DATA, 0x1000, 3)
    regs = thread.regs
    regs.rip = CODE
    regs.rsp = DATA + 0x1000
