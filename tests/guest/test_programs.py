"""Acceptance 1 and 3: real programs, static and dynamic, behave as natively."""

import os

import pytest

from .conftest import run_native, run_sandboxed, slimbox_cli

pytestmark = pytest.mark.guest


def test_busybox_echo_through_the_cli():
    result = slimbox_cli("run", "--", "/bin/busybox", "echo", "hello")
    assert result.stdout == b"hello\n"
    assert result.returncode == 0


def test_busybox_shell_exit_status_through_the_cli():
    result = slimbox_cli("run", "--", "/bin/busybox", "sh", "-c", "echo a; exit 7")
    assert result.stdout == b"a\n"
    assert result.returncode == 7


@pytest.mark.every_platform
@pytest.mark.parametrize("argv", [
    ["/bin/ls", "-la", "/usr/bin/env"],
    ["/bin/cat", "/etc/os-release"],
    ["/usr/bin/python3.11", "-c", "import json, os, hashlib; "
                                  "print(json.dumps({'h': hashlib.sha256(b'slimbox').hexdigest(), 'sep': os.sep}))"],
])
def test_dynamic_host_program_matches_native(compare, argv):
    compare(argv)


def test_sha256sum_of_a_file_matches_native(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "blob.bin").write_bytes(os.urandom(300_000))
    argv = ["/usr/bin/sha256sum", "blob.bin"]
    native = run_native(argv, cwd=str(data))
    sandboxed = run_sandboxed(argv, mounts=(f"{data}:/data:ro",), cwd="/data")
    assert native.returncode == 0
    assert sandboxed == native


def test_shell_script_run_by_path_matches_native(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    script = scripts / "hello.sh"
    script.write_text('#!/bin/sh\necho "args: $# [$1] [$2]"\necho "to stderr" >&2\nexit 3\n')
    script.chmod(0o755)
    native = run_native([str(script), "one", "two words"])
    sandboxed = run_sandboxed(["/scripts/hello.sh", "one", "two words"], mounts=(f"{scripts}:/scripts:ro",))
    assert native.returncode == 3
    assert sandboxed == native


def test_environment_is_exactly_what_was_given():
    result = run_sandboxed(["/usr/bin/env"], env={"ONLY": "this"})
    assert result.stdout == b"ONLY=this\n"


def test_default_environment_does_not_leak_the_hosts(monkeypatch):
    monkeypatch.setenv("SLIMBOX_HOST_SECRET", "do-not-leak")
    result = slimbox_cli("run", "--", "/usr/bin/env")
    assert b"SLIMBOX_HOST_SECRET" not in result.stdout
    assert b"PATH=" in result.stdout


def test_cli_env_flag_sets_and_copies(monkeypatch):
    monkeypatch.setenv("FROM_HOST", "copied")
    result = slimbox_cli("run", "-e", "A=1", "-e", "FROM_HOST", "--", "/usr/bin/env")
    lines = result.stdout.decode().splitlines()
    assert "A=1" in lines and "FROM_HOST=copied" in lines


def test_workdir_flag():
    result = slimbox_cli("run", "-w", "/usr/bin", "--", "/bin/busybox", "pwd")
    assert result.stdout == b"/usr/bin\n"


def test_strace_flag_prints_decoded_syscalls():
    result = slimbox_cli("run", "--strace", "--", "/bin/busybox", "echo", "hi")
    assert result.stdout == b"hi\n"
    err = result.stderr.decode()
    assert 'write(1, "hi\\n", 3) = 3' in err
    assert "exit_group(0) = ?" in err


def test_strace_to_a_file(tmp_path):
    log = tmp_path / "trace.txt"
    result = slimbox_cli("run", f"--strace={log}", "--", "/bin/busybox", "true")
    assert result.returncode == 0
    assert "exit_group(0)" in log.read_text()

