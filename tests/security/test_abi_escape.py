"""The other doors into an x86-64 kernel: int 0x80, sysenter and syscall from 32-bit
code, x32 numbers, numbers with high bits set, and the vsyscall page. Each legacy
attempt asks for exit(N) with a telling N; the sandbox kills the process with SIGSYS
instead (README: "int 0x80/x32 calls kill the process"), so no N ever shows. The
rest behaves as natively."""

from __future__ import annotations

import signal

import pytest

from .conftest import lines

pytestmark = pytest.mark.guest

KILLED_BY_SIGSYS = f"killed by signal {int(signal.SIGSYS)}"

# the i386 and x32 entries the seccomp filter kills on sight
LEGACY_KILLED = ["int80 exit(42)", "int80 getpid", "32-bit code int80 exit(46)", "x32 exit(44)", "x32 getpid"]

# these fault in hardware before any kernel entry (which fault depends on the CPU)
LEGACY_FAULTING = ["sysenter exit(43)", "32-bit code syscall exit(47)"]


@pytest.mark.parametrize("build", ["abi_escape", "abi_escape.dyn"])
def test_legacy_entries_kill_the_process_and_reach_nothing(sandboxed, native, build):
    found = lines(sandboxed(build, "legacy"))
    natively = lines(native(build, "legacy"))
    assert {label: found[label] for label in LEGACY_KILLED} == {label: KILLED_BY_SIGSYS for label in LEGACY_KILLED}
    for label in LEGACY_FAULTING:
        assert found[label] == natively[label], label
        assert found[label].startswith("killed by signal"), label
    assert found["parent"] == "still here"
    assert len(found) == len(LEGACY_KILLED) + len(LEGACY_FAULTING) + 1


@pytest.mark.parametrize("group", ["high-bits", "vsyscall"])
def test_high_syscall_bits_and_the_vsyscall_page_behave_as_natively(sandboxed, native, group):
    """Linux ignores the upper half of rax; the vsyscall page (execute-only here) is
    the host's, and its calls stop for the sandbox like any other."""
    found = sandboxed("abi_escape", group)
    assert found.returncode == 0, found.stderr
    assert lines(found) == lines(native("abi_escape", group))
