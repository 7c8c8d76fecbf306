"""platforms/emu/memory.py: guest memory as host buffers mapped into unicorn."""

from __future__ import annotations

import errno

import pytest

from .emu_guest import need_unicorn
from slimbox.platforms.base import GuestMemoryError

need_unicorn()

from slimbox.platforms.emu import engine as uc  # noqa: E402 - after the skip
from slimbox.platforms.emu import fpu  # noqa: E402
from slimbox.platforms.emu.memory import EmuAddressSpace, unicorn_perms  # noqa: E402

A = 0x10000
PAGE = 0x1000
RW, RX = 3, 5


@pytest.fixture
def space():
    space = EmuAddressSpace()
    yield space
    space.close()


def test_fresh_memory_reads_zero_and_keeps_what_is_written(space):
    space.map(A, 4 * PAGE, RW)
    assert space.read(A, 16) == bytes(16)
    space.write(A + PAGE - 2, b"abcd")  # across a page boundary
    assert space.read(A + PAGE - 2, 4) == b"abcd"


def test_unmapped_memory_is_a_guest_memory_error(space):
    space.map(A, PAGE, RW)
    with pytest.raises(GuestMemoryError) as caught:
        space.read(A + PAGE - 1, 2)
    assert caught.value.address == A + PAGE
    with pytest.raises(GuestMemoryError):
        space.write(A - 1, b"xy")


def test_partial_unmap_and_protect_keep_the_rest(space):
    space.map(A, 4 * PAGE, RW)
    space.write(A, b"\x11" * 4 * PAGE)
    space.unmap(A + PAGE, PAGE)
    space.protect(A + 2 * PAGE, PAGE, 1)
    assert space.mappings() == [(A, A + PAGE, RW, False), (A + 2 * PAGE, A + 3 * PAGE, 1, False),
                                (A + 3 * PAGE, A + 4 * PAGE, RW, False)]
    assert space.read(A + 2 * PAGE, 2 * PAGE) == b"\x11" * 2 * PAGE
    with pytest.raises(GuestMemoryError):
        space.read(A + PAGE, 1)
    with pytest.raises(OSError) as caught:
        space.protect(A, 2 * PAGE, RW)
    assert caught.value.errno == errno.ENOMEM


def test_move_keeps_contents_and_grows_with_zeros(space):
    space.map(A, 2 * PAGE, RW)
    space.write(A, b"moved")
    space.move(A, 2 * PAGE, A + 0x100000, 3 * PAGE)
    assert space.read(A + 0x100000, 5) == b"moved"
    assert space.read(A + 0x100000 + 2 * PAGE, PAGE) == bytes(PAGE)
    with pytest.raises(GuestMemoryError):
        space.read(A, 1)


def test_discard_zeroes_private_memory_only(space):
    space.map(A, PAGE, RW)
    space.map(A + PAGE, PAGE, RW, shared=True)
    space.write(A, b"p")
    space.write(A + PAGE, b"s")
    space.discard(A, 2 * PAGE)
    assert space.read(A, 1) == b"\0" and space.read(A + PAGE, 1) == b"s"


def test_a_copy_has_private_memory_of_its_own_and_shares_shared_memory(space):
    space.map(A, PAGE, RW)
    space.map(A + PAGE, PAGE, RW, shared=True)
    space.write(A, b"parent")
    child = space.copy()
    try:
        child.write(A, b"child!")
        child.write(A + PAGE, b"both")
        assert space.read(A, 6) == b"parent"
        assert space.read(A + PAGE, 4) == b"both"
    finally:
        child.close()


def test_code_written_by_the_kernel_replaces_what_was_translated(space):
    space.map(A, PAGE, RX)
    for value in (1, 2):
        space.write(A, bytes((0xB8, value, 0, 0, 0)) + b"\x0f\x05")  # mov eax, value; syscall
        space.engine.run(A)
        assert space.engine.read_register(uc.RAX) == value


def test_the_platform_pages_are_not_the_guests(space):
    assert space.reserved() == [(fpu.CODE_PAGE, fpu.DATA_PAGE + PAGE)]
    space.map(A, PAGE, RX)
    space.write(A, bytes.fromhex("488b00"))  # mov rax, [rax]
    space.engine.write_register(uc.RAX, fpu.DATA_PAGE)
    assert space.engine.run(A) == uc.ERR_READ_UNMAPPED


def test_misaligned_requests_are_refused(space):
    with pytest.raises(OSError) as caught:
        space.map(A + 1, PAGE, RW)
    assert caught.value.errno == errno.EINVAL


def test_writable_or_executable_pages_are_readable():
    assert unicorn_perms(2) == 3 and unicorn_perms(4) == 5 and unicorn_perms(0) == 0
