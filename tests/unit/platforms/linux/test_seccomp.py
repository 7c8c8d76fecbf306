"""The guest seccomp filter, run on a small classic-BPF interpreter: which calls the
host runs at once, which stop for the supervisor, which kill."""

from __future__ import annotations

import struct

import pytest

from slimbox.platforms.linux import seccomp

TRAMPOLINE_END = 0x7F12_3456_7002  # what seccomp reports as the ip of a trampoline syscall
ELSEWHERE = 0x40_1234

ALLOW = seccomp.SECCOMP_RET_ALLOW
TRACE = seccomp.SECCOMP_RET_TRACE
NOTIFY = seccomp.SECCOMP_RET_USER_NOTIF
KILL = seccomp.SECCOMP_RET_KILL_PROCESS


def run_filter(program: bytes, nr: int, ip: int, arch: int = seccomp.AUDIT_ARCH_X86_64) -> int:
    """Evaluate the filter's instructions (the kinds build_filter emits) on one call."""
    data = struct.pack("<iIQ6Q", nr, arch, ip, *([0] * 6))
    pc, accumulator = 0, 0
    while True:
        op, jt, jf, k = struct.unpack_from("<HBBI", program, pc * 8)
        pc += 1
        if op == 0x20:    # ld [k]
            accumulator = struct.unpack_from("<I", data, k)[0]
        elif op == 0x15:  # jeq #k
            pc += jt if accumulator == k else jf
        elif op == 0x45:  # jset #k
            pc += jt if accumulator & k else jf
        elif op == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"unexpected BPF opcode {op:#x}")


@pytest.fixture(params=[True, False], ids=["notifications", "traced only"])
def program(request) -> bytes:
    return seccomp.build_filter(TRAMPOLINE_END, notify=request.param)


@pytest.mark.parametrize("nr", sorted(seccomp.INJECTED_SYSCALLS))
def test_memory_calls_at_the_trampoline_run_on_the_host(program, nr):
    assert run_filter(program, nr, TRAMPOLINE_END) == ALLOW


@pytest.mark.parametrize("nr", sorted(seccomp.APPROVED_SYSCALLS))
def test_calls_that_reach_beyond_the_address_space_stop_even_at_the_trampoline(program, nr):
    """clone (CLONE_UNTRACED would make a task nobody traces), exit, recvmsg and close
    on the mapping channel: a guest that jumps to the trampoline must not get them."""
    assert run_filter(program, nr, TRAMPOLINE_END) == TRACE


def test_the_approval_set_is_traced_elsewhere_too(program):
    for nr in seccomp.APPROVED_SYSCALLS:
        assert run_filter(program, nr, ELSEWHERE) in (TRACE, NOTIFY)


def test_nothing_else_runs_on_the_host_at_the_trampoline(program):
    allowed = {nr for nr in range(460) if run_filter(program, nr, TRAMPOLINE_END) == ALLOW}
    assert allowed == set(seccomp.INJECTED_SYSCALLS)
    assert allowed == {9, 10, 11, 25, 28}  # mmap, mprotect, munmap, mremap, madvise


def test_nothing_runs_on_the_host_away_from_the_trampoline(program):
    for nr in range(460):
        assert run_filter(program, nr, ELSEWHERE) != ALLOW, nr
        assert run_filter(program, nr, TRAMPOLINE_END + 4096) != ALLOW, nr
        assert run_filter(program, nr, TRAMPOLINE_END ^ (1 << 40)) != ALLOW, nr


def test_other_abis_are_killed(program):
    assert run_filter(program, 1, ELSEWHERE, arch=0x40000003) == KILL          # i386
    assert run_filter(program, 0x40000000 | 60, TRAMPOLINE_END) == KILL        # x32, even here
    assert run_filter(program, -1, ELSEWHERE) != KILL                          # syscall(-1): ENOSYS


BATCH_END = TRAMPOLINE_END + 0x20  # the batch loop's syscall, in the same page


@pytest.fixture(params=[True, False], ids=["notifications", "traced only"])
def with_batch(request) -> bytes:
    return seccomp.build_filter(TRAMPOLINE_END, notify=request.param, batch_ip=BATCH_END)


def test_the_batch_loop_is_held_to_the_trampolines_rules(with_batch):
    for site in (TRAMPOLINE_END, BATCH_END):
        allowed = {nr for nr in range(460) if run_filter(with_batch, nr, site) == ALLOW}
        assert allowed == set(seccomp.INJECTED_SYSCALLS)
        for nr in seccomp.APPROVED_SYSCALLS:
            assert run_filter(with_batch, nr, site) == TRACE


def test_nothing_runs_on_the_host_away_from_both_sites(with_batch):
    for nr in range(460):
        for ip in (ELSEWHERE, BATCH_END + 2, BATCH_END - 2, BATCH_END ^ (1 << 40), TRAMPOLINE_END + 1):
            assert run_filter(with_batch, nr, ip) != ALLOW, (nr, hex(ip))


def test_the_two_sites_must_share_the_upper_address_bits():
    with pytest.raises(ValueError):
        seccomp.build_filter(TRAMPOLINE_END, notify=True, batch_ip=TRAMPOLINE_END + (1 << 32))
