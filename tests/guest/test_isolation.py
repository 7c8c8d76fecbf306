"""Acceptance 4: what the sandbox must keep from the host."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

import slimbox

from .conftest import GUEST_DIR, HERE, run_sandboxed, slimbox_cli

pytestmark = pytest.mark.guest


def test_writes_to_etc_and_tmp_stay_in_the_sandbox():
    name = f"slimbox-isolation-{os.getpid()}"
    script = f"echo one > /etc/{name} && echo two > /tmp/{name} && cat /etc/{name} /tmp/{name}"
    result = run_sandboxed(["/bin/busybox", "sh", "-c", script])
    assert result.stdout == b"one\ntwo\n"
    assert result.returncode == 0
    assert not pathlib.Path(f"/etc/{name}").exists()
    assert not pathlib.Path(f"/tmp/{name}").exists()


def test_changing_a_host_file_in_the_sandbox_leaves_the_host_file_alone():
    before = pathlib.Path("/etc/os-release").read_bytes()
    result = run_sandboxed(["/bin/busybox", "sh", "-c",
                            "echo changed > /etc/os-release && read line < /etc/os-release && echo $line"])
    assert result.stdout == b"changed\n"
    assert pathlib.Path("/etc/os-release").read_bytes() == before


def test_removing_a_host_file_in_the_sandbox_leaves_it_on_the_host():
    result = run_sandboxed(["/bin/busybox", "rm", "/etc/passwd"])
    assert result.returncode == 0
    assert pathlib.Path("/etc/passwd").exists()
    again = run_sandboxed(["/bin/busybox", "cat", "/etc/passwd"])
    assert again.stdout.startswith(b"root:")     # a fresh sandbox sees it again


def test_secrets_in_etc_are_not_visible():
    result = run_sandboxed(["/bin/busybox", "cat", "/etc/shadow"])
    assert b"root:" not in result.stdout
    assert b"No such file" in result.stderr
    listing = run_sandboxed(["/bin/busybox", "ls", "-a", "/etc"])
    names = listing.stdout.split()
    assert b"passwd" in names
    assert not {b"shadow", b"gshadow", b"shadow-"} & set(names)


@pytest.fixture
def mounted_with_escapes(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "ok.txt").write_text("inside\n")
    (shared / "absolute").symlink_to(secret)
    (shared / "relative").symlink_to("../secret.txt")
    (shared / "deep").symlink_to("../../../../../../../../" + str(secret).lstrip("/"))
    return shared


@pytest.mark.parametrize("link", ["absolute", "relative", "deep"])
def test_symlink_in_a_mount_cannot_reach_host_files(mounted_with_escapes, link):
    result = run_sandboxed(["/bin/busybox", "cat", f"/shared/{link}"], mounts=(f"{mounted_with_escapes}:/shared",))
    assert b"host secret" not in result.stdout
    assert result.returncode != 0


def test_symlink_in_a_mount_resolves_inside_the_sandbox(mounted_with_escapes):
    result = run_sandboxed(["/bin/busybox", "cat", "/shared/ok.txt"], mounts=(f"{mounted_with_escapes}:/shared",))
    assert result.stdout == b"inside\n"


def test_int80_is_killed_and_reported(probes):
    result = slimbox_cli("run", "-v", f"{probes}:{GUEST_DIR}:ro", "--", f"{GUEST_DIR}/int80")
    assert result.stdout == b"before\n"            # never "after int80"
    assert result.returncode == 128 + signal.SIGSYS
    assert b"int 0x80" in result.stderr


def test_int80_through_the_api(probes):
    result = slimbox.run([f"{GUEST_DIR}/int80"], capture_output=True, mounts=(f"{probes}:{GUEST_DIR}:ro",))
    assert result.returncode == -signal.SIGSYS
    assert "int 0x80" in result.description


def test_unknown_syscall_is_enosys_and_logged_by_name(probes):
    result = slimbox_cli("run", "-v", f"{probes}:{GUEST_DIR}:ro", "--", f"{GUEST_DIR}/enosys")
    assert result.stdout.splitlines()[0] == b"syscall 1000: ENOSYS"
    assert b"io_uring_setup: refused" in result.stdout
    assert result.returncode == 0
    assert b"unsupported syscall syscall_1000(" in result.stderr
    assert result.stderr.count(b"syscall_1000") == 1


def test_refused_syscall_is_named_in_the_result(probes):
    result = slimbox.run([f"{GUEST_DIR}/enosys"], capture_output=True, mounts=(f"{probes}:{GUEST_DIR}:ro",))
    assert {"io_uring_setup", "syscall_1000"} <= result.unsupported


def _stub_pids_below(ancestor: int) -> set[int]:
    """Host pids of sandbox stubs descending from `ancestor`."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found = set()
    for pid in parents:
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if "slimbox-stub" not in exe:
            continue
        walk = pid
        while walk in parents and walk > 1:
            walk = parents[walk]
            if walk == ancestor:
                found.add(pid)
                break
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_killing_the_supervisor_kills_the_guest():
    cli = subprocess.Popen([sys.executable, "-m", "slimbox", "run", "--", "/bin/busybox", "sh", "-c",
                            "while :; do :; done"],
                           env={**os.environ, "PYTHONPATH": str(HERE.parent.parent / "src")},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stubs: set[int] = set()
        deadline = time.monotonic() + 20
        while not stubs and time.monotonic() < deadline:
            time.sleep(0.05)
            stubs = _stub_pids_below(cli.pid)
        assert stubs, "the guest never started"
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in stubs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in stubs)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
