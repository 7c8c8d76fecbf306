"""System calls that would change the machine, its mounts, its namespaces, its kernel
or its clock, each with arguments that would really act on a host that ran them.
Every one is refused with the errno the syscall table documents (docs/syscalls.md),
and the host's mounts, clock, names and files are unchanged afterwards."""

from __future__ import annotations

import os
import socket
import time

import pytest

import slimbox
from slimbox.shims.linux.table import BY_NAME, NONE

from .conftest import GUEST_DIR, lines

pytestmark = pytest.mark.guest

# not offered at all (ENOSYS): mounts and namespaces, bpf, io_uring, perf, keys,
# userfaultfd, modules, kexec, reboot, swap, accounting, port I/O, LDT...
UNSUPPORTED = [
    "mount", "mount bind", "mount remount", "umount2", "pivot_root", "unshare", "unshare net", "setns",
    "open_tree", "fsopen", "move_mount", "mount_setattr", "bpf", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "perf_event_open", "keyctl", "keyctl join", "add_key", "request_key", "userfaultfd",
    "init_module", "finit_module", "delete_module", "kexec_load", "reboot", "swapon", "swapoff", "acct", "iopl",
    "ioperm", "modify_ldt", "vhangup", "quotactl", "fanotify_init", "name_to_handle_at", "open_by_handle_at",
    "seccomp", "kcmp", "pidfd_getfd", "adjtimex",
]

# implemented, and refused as their table notes say
REFUSED = {
    "clone with namespaces": "EPERM",
    "syslog clear": "EPERM",
    "syslog console off": "EPERM",
    "settimeofday": "EPERM",
    "clock_settime": "EPERM",
}

# the host kernel's knobs are not in the sandbox's /proc and /sys at all
KNOBS = {f"open {path} for writing": "ENOENT" for path in (
    "/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches", "/proc/sys/kernel/modprobe",
    "/sys/kernel/uevent_helper", "/sys/power/state")}

# the sandbox's own names, which it may change
OWN = {"sethostname": "OK", "setdomainname": "OK", "nodename now": "hostile"}


def _host_state() -> dict[str, object]:
    with open("/proc/self/mountinfo") as f:
        mounts = f.read()
    with open("/proc/sys/kernel/core_pattern") as f:
        core_pattern = f.read()
    return {"mounts": mounts, "hostname": socket.gethostname(), "uname": os.uname(), "core_pattern": core_pattern,
            "files": {p: os.path.lexists(p) for p in ("/tmp/newroot", "/tmp/acct")}}


def test_every_unsupported_probe_is_documented_as_none():
    for label in UNSUPPORTED:
        assert BY_NAME[label.split()[0]].support == NONE, label


@pytest.mark.parametrize("build", ["forbidden", "forbidden.dyn"])
def test_calls_that_would_change_the_machine_are_refused(sandboxed, build):
    before = _host_state()
    wall = time.time()
    result = sandboxed(build)
    assert result.returncode == 0, result.stderr
    assert lines(result) == {**{label: "ENOSYS" for label in UNSUPPORTED}, **REFUSED, **KNOBS, **OWN}
    assert _host_state() == before
    assert abs(time.time() - wall) < 120  # the clock was not set back to 2000


def test_refusals_are_named_in_the_result(hostile):
    result = slimbox.run([f"{GUEST_DIR}/forbidden"], capture_output=True, mounts=(f"{hostile}:{GUEST_DIR}:ro",))
    assert {"mount", "pivot_root", "unshare", "setns", "bpf", "io_uring_setup", "perf_event_open", "keyctl",
            "userfaultfd", "init_module", "reboot"} <= result.unsupported
