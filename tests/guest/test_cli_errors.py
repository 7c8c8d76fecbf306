"""Acceptance 5: bad input gets one clear line and a conventional status."""

import shutil
import struct

import pytest

from .conftest import slimbox_cli

pytestmark = pytest.mark.guest


def _one_line(stderr: bytes) -> str:
    lines = stderr.decode().strip().splitlines()
    assert len(lines) <= 2, lines           # the message (and at most a usage hint)
    assert "Traceback" not in stderr.decode()
    return lines[0]


def test_program_not_found_on_path_is_127():
    result = slimbox_cli("run", "--", "no-such-program-anywhere")
    assert result.returncode == 127
    assert _one_line(result.stderr) == "slimbox: no-such-program-anywhere: command not found"


def test_program_path_not_found_is_127():
    result = slimbox_cli("run", "--", "/no/such/file")
    assert result.returncode == 127
    assert _one_line(result.stderr) == "slimbox: /no/such/file: No such file or directory"


def test_not_executable_is_126(tmp_path):
    (tmp_path / "data.txt").write_text("not a program\n")
    result = slimbox_cli("run", "-v", f"{tmp_path}:/d", "--", "/d/data.txt")
    assert result.returncode == 126
    assert _one_line(result.stderr) == "slimbox: /d/data.txt: cannot execute: Permission denied"


def test_executable_that_is_not_an_elf_is_126(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"\x00\x01\x02 just bytes")
    blob.chmod(0o755)
    result = slimbox_cli("run", "-v", f"{tmp_path}:/d", "--", "/d/blob")
    assert result.returncode == 126
    assert "Exec format error" in _one_line(result.stderr)


def test_elf_for_another_machine_is_126(tmp_path):
    arm = tmp_path / "arm64-program"
    header = b"\x7fELF" + bytes((2, 1, 1, 0)) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0x400000, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    header += struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 0x100, 0x100, 0x1000)
    arm.write_bytes(header + bytes(0x100))
    arm.chmod(0o755)
    result = slimbox_cli("run", "-v", f"{tmp_path}:/d", "--", "/d/arm64-program")
    assert result.returncode == 126
    assert "Exec format error" in _one_line(result.stderr)


@pytest.mark.parametrize("spec", ["nocolon", "/a:relative", ":/x", "/a:/b:rx", "/a:/b:ro:extra"])
def test_malformed_mount_spec_is_2(spec):
    result = slimbox_cli("run", "-v", spec, "--", "/bin/true")
    assert result.returncode == 2
    assert _one_line(result.stderr).startswith(f"slimbox: bad mount '{spec}'")


def test_mount_of_a_missing_host_directory_is_2():
    result = slimbox_cli("run", "-v", "/no/such/dir:/x", "--", "/bin/true")
    assert result.returncode == 2
    assert "/no/such/dir" in _one_line(result.stderr)


def test_unknown_flag_is_2():
    result = slimbox_cli("run", "--no-such-flag", "--", "/bin/true")
    assert result.returncode == 2
    assert "--no-such-flag" in _one_line(result.stderr)


def test_missing_program_is_2():
    result = slimbox_cli("run")
    assert result.returncode == 2


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to make ptrace unavailable")
def test_host_without_usable_ptrace_names_what_is_missing():
    # Under a tracer, ptrace cannot be used again: the supervisor must say so plainly.
    import subprocess
    import sys

    from .conftest import HERE

    result = subprocess.run(["strace", "-f", "-o", "/dev/null", sys.executable, "-m", "slimbox", "run", "--",
                             "/bin/true"], capture_output=True, timeout=60,
                            env={"PYTHONPATH": str(HERE.parent.parent / "src"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 125
    line = _one_line(result.stderr)
    assert "ptrace" in line and "cannot run here" in line
