"""Threads and processes: the pthreads and forkexec probes compared with native runs,
and a fork bomb that must hit the sandbox's task limit without harming the host."""

import os
import time

import pytest

import slimbox

from .conftest import ENV, GUEST_DIR

pytestmark = pytest.mark.guest


@pytest.mark.every_platform
@pytest.mark.parametrize("name", ["pthreads", "pthreads.dyn"])
def test_pthreads_match_native(compare, name):
    compare(name)


@pytest.mark.every_platform
def test_forkexec_static_matches_native(compare):
    compare("forkexec")


@pytest.mark.xfail(strict=True, reason="glibc posix_spawn of a missing program returns 0, not ENOENT: the "
                                       "CLONE_VM|CLONE_VFORK child's error write lands in a copy of memory")
def test_forkexec_dynamic_matches_native(compare):
    compare("forkexec.dyn")


def _descendants(pid: int) -> list[int]:
    """Host processes below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _run_fork_bomb(probes) -> None:
    result = slimbox.run([f"{GUEST_DIR}/fork_bomb"], env=ENV, capture_output=True, cwd="/tmp",
                         mounts=(f"{probes}:{GUEST_DIR}:ro",), timeout=60)
    lines = result.stdout.decode().splitlines()
    assert "fork failed: EAGAIN" in lines
    assert "reaped all: yes" in lines
    assert "fork works again: yes" in lines
    assert result.returncode == 0, result.stderr


def test_fork_bomb_hits_the_task_limit_and_everything_is_reaped(probes):
    _run_fork_bomb(probes)
    # the test process itself is unharmed: no host processes left behind, no
    # stray children to reap, and it can still start programs
    deadline = time.monotonic() + 5
    while _descendants(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _descendants(os.getpid()) == []
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
    again = slimbox.run(["/bin/busybox", "echo", "still fine"], capture_output=True, timeout=30)
    assert again.stdout == b"still fine\n"


def test_thread_bomb_hits_the_task_limit(probes):
    result = slimbox.run([f"{GUEST_DIR}/thread_bomb"], env=ENV, capture_output=True, cwd="/tmp",
                         mounts=(f"{probes}:{GUEST_DIR}:ro",), timeout=120)
    assert result.stdout.decode().splitlines() == [
        "pthread_create failed: EAGAIN", "made some threads first: yes", "threads work again: yes"]
    assert result.returncode == 0, result.stderr


def test_fork_bomb_leaves_no_descriptors_behind(probes):
    before = sorted(os.listdir("/proc/self/fd"))
    _run_fork_bomb(probes)
    assert sorted(os.listdir("/proc/self/fd")) == before
