"""Host processes seen from inside: the supervisor, a canary process and its process
group are exactly as unreachable as a pid no process has (which natively gives the
same answers, apart from the calls the sandbox does not offer at all), and are alive
afterwards. kill(-1, SIGKILL) inside reaches the sandbox's own processes only."""

from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import lines

pytestmark = pytest.mark.guest

# not offered in the sandbox whatever the pid (docs/syscalls.md: none)
NOT_OFFERED = {"PTRACE_ATTACH", "PTRACE_SEIZE", "process_vm_readv", "pidfd_open"}


def _absent_pid() -> str:
    """A pid no process can have: pids stay below pid_max."""
    with open("/proc/sys/kernel/pid_max") as f:
        return f.read().strip()


@pytest.fixture
def canary():
    """A host process in a session (and process group) of its own."""
    process = subprocess.Popen(["sleep", "600"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def _per_target(found: dict[str, str], name: str) -> dict[str, str]:
    prefix = f"{name}: "
    return {label[len(prefix):]: result for label, result in found.items() if label.startswith(prefix)}


@pytest.fixture
def probed(sandboxed, canary):
    """The probe's lines for the supervisor, the canary, the supervisor's parent and an
    absent pid, then its kill(-1) from inside."""
    targets = {"supervisor": os.getpid(), "canary": canary.pid, "supervisor's parent": os.getppid(),
               "absent": _absent_pid()}
    args = [str(item) for name, pid in targets.items() for item in (name, pid)]
    result = sandboxed("host_pids", "--kill-all", *args)
    assert result.returncode == 0, result.stderr
    return lines(result)


def test_host_pids_look_like_no_process_at_all(probed, canary):
    absent = _per_target(probed, "absent")
    assert len(absent) == 22
    for name in ("supervisor", "canary", "supervisor's parent"):
        assert _per_target(probed, name) == absent, name
    assert canary.poll() is None, "the canary was killed"


def test_kill_all_from_inside_reaches_only_the_sandbox(probed, canary):
    assert probed["killer: kill(-1, SIGKILL)"] == "OK"
    assert probed["victims killed by SIGKILL"] == "3"
    assert probed["killer exit status"] == "7"          # kill(-1) leaves out the caller
    assert probed["init: kill(-1, SIGKILL) alone"] == "ESRCH"
    assert probed["init: kill(-1, 0) alone"] == "ESRCH"
    assert canary.poll() is None
    os.kill(canary.pid, 0)


def test_an_absent_pid_gets_the_answers_linux_gives(sandboxed, native):
    pid = _absent_pid()
    expected = _per_target(lines(native("host_pids", "absent", pid)), "absent")
    found = _per_target(lines(sandboxed("host_pids", "absent", pid)), "absent")
    assert {call: "ENOSYS" for call in NOT_OFFERED} == {call: found.pop(call) for call in NOT_OFFERED}
    for call in NOT_OFFERED:
        expected.pop(call)
    assert found == expected
