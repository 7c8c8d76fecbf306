"""/proc as a way out: /proc/self/root and /proc/1/root, the memory of processes, and
the classic chroot escapes (a directory descriptor kept from outside, a nested
chroot leaving the cwd outside). /proc/PID/root is the sandbox's root, process
memory is not offered, and an "escaped" chroot lands in the sandbox's root."""

from __future__ import annotations

import os

import pytest

from .conftest import lines

pytestmark = pytest.mark.guest

EXPECTED = {
    "pid": "1",
    "ppid": "0",                                   # its parent is outside the sandbox
    "pids in /proc": "1",
    "/proc/self/environ": "PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LC_ALL=C TZ=UTC ",
    "/proc/1/environ": "PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LC_ALL=C TZ=UTC ",
    "/proc/self/root": "/",
    "/proc/1/root": "/",
    "/proc/1/root is /": "same",
    "/proc/self/root/.. is /": "same",
    "/proc/1/root/../../etc/shadow": "ENOENT",      # hidden from the host's /etc
    "/proc/1/root/etc/shadow": "ENOENT",
    # process memory is not offered (docs/syscalls.md: process_vm_* none; no mem file)
    "/proc/self/mem": "ENOENT",
    "/proc/1/mem": "ENOENT",
    "process_vm_readv pid 1": "ENOSYS",
    "process_vm_writev pid 1": "ENOSYS",
    "create /tmp/marker": "OK",
    "mkdir /tmp/jail": "OK",
    "mkdir /tmp/jail/inner": "OK",
    "chroot into the jail": "OK",
    "chdir / in the jail": "OK",
    "jail: marker visible": "no",
    "jail: /proc": "ENOENT",
    "jail: fchdir to the old root": "OK",
    "jail: chroot . after climbing": "OK",
    # the escape works as it does on Linux, and ends where it must: the sandbox's root
    "escape: /tmp/marker": "read 'sandbox root'",
    "escape: /etc/shadow": "ENOENT",
    "escape: / is /proc/1/root": "same",
    "escape: pids in /proc": "1 2",
    "jail child": "exited 0",
    "jail2: chroot": "OK",
    "jail2: chdir /": "OK",
    "jail2: chroot /inner": "OK",
    "jail2: chroot . after climbing": "OK",
    "escape2: /tmp/marker": "read 'sandbox root'",
    "escape2: /etc/shadow": "ENOENT",
    "escape2: jail visible": "yes",
    "jail2 child": "exited 0",
}


def test_proc_root_mem_and_chroot_escapes_stay_in_the_sandbox(sandboxed):
    host_paths = ("/tmp/marker", "/tmp/jail")
    before = {path: os.path.lexists(path) for path in host_paths}
    result = sandboxed("proc_escape")
    assert result.returncode == 0, result.stderr
    found = lines(result)
    found["pids in /proc"] = found.pop("pids in /proc").strip()
    found["escape: pids in /proc"] = found.pop("escape: pids in /proc").strip()
    assert found == EXPECTED
    assert {path: os.path.lexists(path) for path in host_paths} == before
