"""What a guest can learn of the host from inside: the command line's environment
(here with a secret in it), descriptors the guest did not open (the stub holds a
host descriptor of its own), host paths of its volumes, its own identity in /proc."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from .conftest import GUEST_DIR, lines

pytestmark = pytest.mark.guest

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")

# the host paths of volumes are no business of the guest's; the sandbox still names
# them in its mount table
MOUNT_TABLES = ("/proc/self/mountinfo", "/proc/mounts")


@pytest.fixture(scope="module")
def leaks(hostile, tmp_path_factory):
    """The probe's lines, run by the command line with a secret in its environment and
    a volume; the secrets to look for go to the probe's stdin."""
    token = f"slimbox-canary-{secrets.token_hex(8)}"
    volume = tmp_path_factory.mktemp("volume")
    env = {**os.environ, "SLIMBOX_CANARY": token, "PYTHONPATH": os.path.abspath(SRC)}
    proc = subprocess.run([sys.executable, "-m", "slimbox", "run", "-v", f"{hostile}:{GUEST_DIR}:ro",
                           "-v", f"{volume}:/data", "--", f"{GUEST_DIR}/host_leaks"],
                          input=f"{token}\n{volume}\n{hostile}\n".encode(), capture_output=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert token.encode() not in proc.stdout
    return lines(proc)


def test_no_host_environment_descriptors_or_identity(leaks):
    found = {label: result for label, result in leaks.items() if label not in MOUNT_TABLES}
    assert found.pop("secrets to look for") == "3"
    assert found == {
        "environment variables": "3",                   # PATH, HOME, TERM: the clean default
        "environment": "nothing of the host",
        "AT_EXECFN": f"{GUEST_DIR}/host_leaks",
        "open descriptors": "0 1 2",
        "/proc/self/fd entries": "3",
        "fstat 3": "EBADF",                            # the stub's own descriptor 3 is not the guest's
        "read 3": "EBADF",
        "open /proc/self/fd/3": "ENOENT",
        "dup2 3": "EBADF",
        "/proc/self/exe": f"{GUEST_DIR}/host_leaks",    # never the stub
        "uname shows the host": "no",
        "/proc/self/environ": "nothing of the host",
        "/proc/1/environ": "nothing of the host",
        "/proc/self/cmdline": "nothing of the host",
        "/proc/self/maps": "nothing of the host",
        "/proc/self/status": "nothing of the host",
        "/proc/self/stat": "nothing of the host",
        "/proc/cpuinfo": "nothing of the host",
        "/proc/sys/kernel/hostname": "nothing of the host",
        "/etc/hostname": "nothing of the host",
        "/etc/hosts": "nothing of the host",
    }


def test_mount_tables_do_not_name_host_paths(leaks):
    assert {table: leaks[table] for table in MOUNT_TABLES} == {table: "nothing of the host"
                                                              for table in MOUNT_TABLES}
