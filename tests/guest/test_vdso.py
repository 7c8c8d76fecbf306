"""The host's vDSO on the Linux platform: clocks read without syscalls, AT_SYSINFO_EHDR
pointing at [vdso], its pages unwritable, kept by exec; and, once a process unmapped it,
no vDSO for the images it execs (the sandbox cannot make a new one). On the platforms
without a vDSO (kvm, emu) only the clock lines are compared: the libc reads every clock
with a syscall there."""

from __future__ import annotations

import pytest

import slimbox

from .conftest import ENV, GUEST_DIR, run_sandboxed

pytestmark = pytest.mark.guest


@pytest.mark.parametrize("build", ["vdso", "vdso.dyn"])
def test_vdso_probe_matches_native(compare, build):
    compare(build)


@pytest.mark.every_platform
@pytest.mark.parametrize("build", ["vdso", "vdso.dyn"])
def test_clocks_move_forward_and_agree_with_the_syscalls(compare, build):
    compare(build, "clocks")


@pytest.mark.parametrize("build", ["vdso", "vdso.dyn"])
def test_clock_reads_make_no_syscalls(probes, build):
    calls = 20000
    result = slimbox.run([f"{GUEST_DIR}/{build}", "loop", str(calls)], env=ENV, capture_output=True,
                         mounts=(f"{probes}:{GUEST_DIR}:ro",), cwd="/tmp", timeout=60, platform="linux")
    assert result.stdout == f"loop: {calls} calls, never back: yes\n".encode(), result.stderr
    # start-up and exit only (a few dozen calls; a dynamic program's loader some more)
    assert result.syscalls < calls // 20


@pytest.mark.parametrize("build", ["vdso", "vdso.dyn"])
def test_an_unmapped_vdso_is_not_given_again_by_exec(probes, build):
    result = run_sandboxed([f"{GUEST_DIR}/{build}", "unmapped"], mounts=(f"{probes}:{GUEST_DIR}:ro",))
    assert result.returncode == 0, result.stderr
    # the libc falls back to the clock syscalls
    assert result.stdout == (b"munmap [vdso]: 0\n"
                             b"after exec: AT_SYSINFO_EHDR: unset\n"
                             b"after exec: AT_SYSINFO_EHDR is the [vdso] start: no\n"
                             b"after exec: ELF magic there: no\n"
                             b"after exec: vdso mappings: none\n"
                             b"after exec: clock_gettime: 0\n")
