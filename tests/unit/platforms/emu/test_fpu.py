"""platforms/emu/fpu.py: FXSAVE images made by the emulated CPU."""

from __future__ import annotations

import errno
import struct

import pytest

from .emu_guest import need_unicorn

need_unicorn()

from slimbox.platforms.emu import engine as uc  # noqa: E402 - after the skip
from slimbox.platforms.emu import fpu  # noqa: E402
from slimbox.platforms.emu.memory import EmuAddressSpace  # noqa: E402

A = 0x10000


@pytest.fixture
def space():
    space = EmuAddressSpace()
    space.fpu.restore(space.engine, fpu.FRESH)
    yield space
    space.close()


def test_a_fresh_state_reads_back_as_fresh(space):
    assert space.fpu.save(space.engine) == fpu.FRESH


def test_the_image_follows_the_cpu_and_restores_it(space):
    space.map(A, 0x1000, 7)
    space.write(A, bytes.fromhex("d9e8"))  # fld1
    space.engine.run(A, A + 2)
    image = space.fpu.save(space.engine)
    fsw, ftw = struct.unpack_from("<HB", image, 2)
    assert (fsw >> 11) & 7 == 7 and ftw == 0x80  # TOP=7, physical register 7 in use
    assert image[32:42] == (1 << 63).to_bytes(8, "little") + (0x3FFF).to_bytes(2, "little")  # ST0 = 1.0
    space.fpu.restore(space.engine, fpu.FRESH)
    assert _state(space.fpu.save(space.engine)) == _state(fpu.FRESH)
    space.fpu.restore(space.engine, image)
    assert _state(space.fpu.save(space.engine)) == _state(image)


def _state(image: bytes) -> bytes:
    """The image without the last x87 instruction and operand pointers (the emulator
    keeps its own, as a CPU does after the next x87 instruction)."""
    return image[:8] + image[24:]


def test_the_thread_keeps_its_rax_and_rip(space):
    space.engine.write_register(uc.RAX, 1234)
    space.engine.write_register(uc.RIP, 0x777000)
    space.fpu.save(space.engine)
    assert space.engine.read_register(uc.RAX) == 1234 and space.engine.read_register(uc.RIP) == 0x777000


def test_images_the_cpu_would_refuse_are_rejected():
    assert fpu.check_image(fpu.FRESH + bytes(64)) == fpu.FRESH  # the legacy area of an XSAVE image
    for bad in (fpu.FRESH[:100], fpu.FRESH[:24] + struct.pack("<I", 1 << 20) + fpu.FRESH[28:]):
        with pytest.raises(OSError) as caught:
            fpu.check_image(bad)
        assert caught.value.errno == errno.EINVAL
