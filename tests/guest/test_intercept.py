"""The Linux platform's ptrace-only route (`--intercept ptrace`, for hosts without
seccomp user notifications): the same programs give the native output, and every
syscall then takes a turn of the kernel loop (no notification is served in passing)."""

from __future__ import annotations

import pytest

import slimbox

from .conftest import ENV, GUEST_DIR, run_native, slimbox_cli

PROBES = [("hello",), ("files",), ("mm",), ("pthreads",), ("signals",), ("time",), ("forkexec",),
          ("stdin_echo",), ("syscall_loop", "200")]


# the same known difference as on the notification route (tests/guest/test_threads.py)
POSIX_SPAWN_MISSING = pytest.mark.xfail(strict=True, reason="glibc posix_spawn of a missing program returns 0, "
                                        "not ENOENT: the CLONE_VM|CLONE_VFORK child's error write lands in a "
                                        "copy of memory")
RUNS = [pytest.param(probe, build, id=f"{probe[0]}-{kind}",
                     marks=[POSIX_SPAWN_MISSING] if (probe[0], build) == ("forkexec", ".dyn") else [])
        for probe in PROBES for build, kind in (("", "static"), (".dyn", "dynamic"))]


@pytest.mark.parametrize("probe,build", RUNS)
def test_probes_give_the_native_output_with_ptrace_alone(probes, tmp_path, probe, build):
    name, *args = probe
    stdin = b"some input\n" * 100 if name == "stdin_echo" else None
    native = run_native([str(probes / f"{name}{build}"), *args], input=stdin, cwd=str(tmp_path))
    result = slimbox.run([f"{GUEST_DIR}/{name}{build}", *args], env=ENV, input=stdin, capture_output=True,
                         mounts=(f"{probes}:{GUEST_DIR}:ro",), cwd="/tmp", platform="linux", intercept="ptrace",
                         timeout=120)
    assert result.stdout.decode(errors="replace") == native.stdout.decode(errors="replace")
    assert result.stderr.decode(errors="replace") == native.stderr.decode(errors="replace")
    assert result.returncode == native.returncode


def test_with_ptrace_alone_every_syscall_is_a_turn_of_the_loop(probes, counted_turns):
    result = slimbox.run([f"{GUEST_DIR}/syscall_loop", "500"], env=ENV, capture_output=True,
                         mounts=(f"{probes}:{GUEST_DIR}:ro",), platform="linux", intercept="ptrace", timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(counted_turns) >= result.syscalls > 500


def test_the_command_line_takes_the_route_and_refuses_what_does_not_fit(probes):
    mount = f"{probes}:{GUEST_DIR}:ro"
    ran = slimbox_cli("run", "--intercept", "ptrace", "-v", mount, "--", f"{GUEST_DIR}/hello")
    assert (ran.returncode, ran.stdout) == (0, b"hello\n"), ran.stderr
    unknown = slimbox_cli("run", "--intercept", "sysemu", "-v", mount, "--", f"{GUEST_DIR}/hello")
    assert unknown.returncode == 2 and b"unknown intercept 'sysemu'" in unknown.stderr
    other = slimbox_cli("run", "--platform", "emu", "--intercept", "ptrace", "-v", mount, "--",
                        f"{GUEST_DIR}/hello")
    assert other.returncode == 2 and b"for the linux platform" in other.stderr
