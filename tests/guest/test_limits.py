"""Resource limits, each set through its command-line flag, met by a program that uses
the resource up (probes/exhaust.c, fork_bomb.c): what the program sees (errno, signal)
and the status the sandbox ends with. These run only in the sandbox: natively the
probes would exhaust the machine."""

from __future__ import annotations

import subprocess
import time

import pytest

import slimbox

from .conftest import GUEST_DIR, slimbox_cli

pytestmark = pytest.mark.guest

SIGKILL, SIGXFSZ = 9, 25


def run_limited(probes, *flags: str, argv: tuple[str, ...], timeout: float = 60):
    return slimbox_cli("run", "-v", f"{probes}:{GUEST_DIR}:ro", "-w", "/tmp", *flags, "--", *argv,
                       timeout=timeout)


def exhaust(probes, what: str, *flags: str, timeout: float = 60):
    return run_limited(probes, *flags, argv=(f"{GUEST_DIR}/exhaust", what), timeout=timeout)


def test_memory_limit_fails_mmap_with_enomem(probes):
    result = exhaust(probes, "memory", "--memory", "64M")
    assert result.returncode == 0, result.stderr
    line = result.stdout.decode().strip()
    assert line.startswith("memory: ENOMEM after ")
    assert 40 <= int(line.split()[-2]) < 64  # most of it, minus the program's own memory


def test_task_limit_fails_fork_with_eagain(probes):
    result = run_limited(probes, "--pids", "20", argv=(f"{GUEST_DIR}/fork_bomb",))
    assert result.returncode == 0, result.stderr
    assert b"fork failed: EAGAIN\n" in result.stdout and b"fork works again: yes\n" in result.stdout


def test_open_file_limit_fails_open_with_emfile(probes):
    result = exhaust(probes, "files", "--nofile", "50")
    assert (result.returncode, result.stdout) == (0, b"files: EMFILE after 47\n")  # 50 minus stdin, stdout, stderr


def test_tmpfs_size_fails_writes_with_enospc_and_unlink_frees_it(probes):
    result = exhaust(probes, "disk", "--tmpfs-size", "1M")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.decode().splitlines()
    assert first.startswith("disk: ENOSPC after ") and 900 <= int(first.split()[-2]) <= 1024
    assert second == "after unlink: room again"


def test_tmpfs_size_also_bounds_the_writable_layer_over_host_system_directories(probes):
    result = slimbox_cli("run", "-v", f"{probes}:{GUEST_DIR}:ro", "-w", "/usr", "--tmpfs-size", "1M", "--",
                         f"{GUEST_DIR}/exhaust", "disk")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.decode().splitlines()
    assert first.startswith("disk: ENOSPC after ") and 900 <= int(first.split()[-2]) <= 1024
    assert second == "after unlink: room again"


def test_file_size_limit_gives_efbig_then_sigxfsz(probes):
    result = exhaust(probes, "fsize", "--max-file-size", "10K")
    assert result.stdout == b"fsize: EFBIG at 10240 bytes\n"
    assert result.returncode == 128 + SIGXFSZ  # the default action, as a shell reports it


def test_output_limit_cuts_output_and_fails_with_efbig(probes):
    result = exhaust(probes, "output", "--max-output", "1000")
    assert result.returncode == 42, result.stderr
    assert len(result.stdout) == 1000 and result.stdout.startswith(b"a line of output")


def test_cpu_limit_sends_sigxcpu_then_sigkill(probes):
    result = exhaust(probes, "cpu", "--cpu", "1", timeout=30)
    assert result.stdout == b"SIGXCPU\n"  # once at the soft limit, then SIGKILL a second later
    assert result.returncode == 128 + SIGKILL


def test_timeout_stops_the_sandbox_with_status_124():
    started = time.monotonic()
    result = slimbox_cli("run", "--timeout", "1", "--", "/bin/busybox", "sleep", "30", timeout=30)
    assert time.monotonic() - started < 15
    assert result.returncode == 124
    assert result.stderr.decode().strip().splitlines()[-1] == "slimbox: timed out after 1 s; the sandbox was stopped"


def test_the_library_reports_a_timeout_as_subprocess_does():
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as info:
        slimbox.run(["/bin/busybox", "sh", "-c", "echo early; sleep 30"], capture_output=True, timeout=1)
    assert time.monotonic() - started < 15
    assert (info.value.cmd, info.value.timeout, info.value.stdout) == (
        ["/bin/busybox", "sh", "-c", "echo early; sleep 30"], 1, b"early\n")


@pytest.mark.parametrize("flag,value", [("--memory", "lots"), ("--pids", "0"), ("--nofile", "2"),
                                        ("--timeout", "-3"), ("--max-output", "1X")])
def test_bad_limit_values_are_refused_with_status_2(flag, value):
    result = slimbox_cli("run", flag, value, "--", "/bin/busybox", "true")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr.decode()
    assert flag in result.stderr.decode() or "open_files" in result.stderr.decode()
