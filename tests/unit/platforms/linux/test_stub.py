"""platforms/linux/stub.py: the stub's code, where its two syscall sites and traps are."""

from __future__ import annotations

from slimbox.platforms.linux.stub import BATCH_ENTRY, build_stub

BASE = 0x7F00_0000_0000


def test_the_trampoline_is_syscall_then_int3():
    image = build_stub()
    assert image.elf[image.trampoline:image.trampoline + 3] == b"\x0f\x05\xcc"
    assert image.trampoline_syscall_end(BASE) == BASE + image.trampoline + 2
    assert image.trampoline_trap_end(BASE) == BASE + image.trampoline + 3


def test_the_batch_loop_has_one_syscall_and_ends_in_int3():
    image = build_stub()
    loop = image.elf[image.batch:]
    end = image.batch_trap_end(0) - image.batch
    assert loop.count(b"\x0f\x05") == 1 and loop[end - 1] == 0xCC and len(loop) == end
    syscall_end = image.batch_syscall_end(0) - image.batch
    assert loop[syscall_end - 2:syscall_end] == b"\x0f\x05"
    # the table stride the loop steps by (add rbx, imm8) is the size of one entry
    assert b"\x48\x83\xc3" + bytes((BATCH_ENTRY.size,)) in loop


def test_both_sites_are_in_the_stubs_one_page():
    image = build_stub()
    assert image.batch_trap_end(0) <= 4096 and len(image.elf) <= 4096
    assert image.batch_syscall_end(BASE) >> 32 == image.trampoline_syscall_end(BASE) >> 32
