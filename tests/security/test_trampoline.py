"""A guest that knows where the stub's `syscall; int3` trampoline is (the test reads
the stub's page from the host and hands it over; the probe also finds it by itself)
and jumps there with registers of its own.

What the host runs at once from the trampoline is only the memory set (mmap, mprotect,
munmap, mremap, madvise), acting on the guest's own address space; the same holds for
the syscall of the stub's batch loop (several memory calls in one stop), which the
probe also finds and jumps to. Everything else
made there is the sandbox's own emulated syscall, exactly as from anywhere else:
clone, exit, recvmsg and close stop for the supervisor, which lets the host run them
only when it injected them itself. Taking the stub's page away or rewriting it stops
the sandbox (the supervisor can no longer trust the process) and nothing is left
running on the host."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from .conftest import GUEST_DIR, first_stub_below, lines, live_processes_in_session

pytestmark = pytest.mark.guest

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def _stub_page(stub: int) -> int:
    # /proc/PID/exe names the stub as soon as exec begins, a moment before the stub's
    # page is mapped: look again for a while before giving up
    deadline = time.monotonic() + 10
    while True:
        with open(f"/proc/{stub}/maps") as maps:
            for line in maps:
                if "slimbox-stub" in line:
                    return int(line.split("-", 1)[0], 16)
        if time.monotonic() > deadline:
            raise AssertionError("the stub's page is not in its host maps")
        time.sleep(0.01)


def run_with_the_address(hostile, mode: str) -> tuple[subprocess.CompletedProcess, int]:
    """The probe under the real command line (locked down), given the stub's page on
    stdin; returns the outcome and the host pid of the first stub."""
    cli = subprocess.Popen([sys.executable, "-m", "slimbox", "run", "-v", f"{hostile}:{GUEST_DIR}:ro", "--",
                            f"{GUEST_DIR}/trampoline", mode],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env={**os.environ, "PYTHONPATH": os.path.abspath(SRC)})
    try:
        deadline = time.monotonic() + 30
        stub = None
        while stub is None and time.monotonic() < deadline:
            time.sleep(0.01)
            stub = first_stub_below(cli.pid)
        assert stub is not None, "the sandbox never started"
        out, err = cli.communicate(f"{_stub_page(stub):x}\n".encode(), timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    return subprocess.CompletedProcess(cli.args, cli.returncode, out, err), stub


def _nothing_left_running(stub: int) -> None:
    deadline = time.monotonic() + 5
    while live_processes_in_session(stub) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not live_processes_in_session(stub), "a host process of the sandbox outlived it"


CALLS = {
    "trampoline found": "yes",
    # not in the memory set: the sandbox's own syscalls
    "uname": "slimbox",
    "getpid": "1",
    "recvmsg on descriptor 3": "EBADF",       # the guest's fd 3 (none), never the stub's channel
    "close descriptor 3": "EBADF",
    "open": "a sandbox descriptor",
    "file in the sandbox": "yes",
    "socket": "a sandbox socket",
    "kill pid 1 with signal 0": "0",
    "ptrace": "ENOSYS",
    # the memory set: the host's, in this process only, and unknown to the sandbox
    "mmap": "mapped",
    "the sandbox knows that mapping": "no",
    # clone made there is the sandbox's emulated clone: its child is one the parent can
    # wait for, CLONE_UNTRACED or not (exit 51 = child seen exiting with 50)
    "clone": "exit 51",
    "clone a thread": "exit 51",
    "clone untraced": "exit 51",
    "execve": "exit 0",
    "exit_group(54)": "exit 54",
    "exit(56)": "exit 56",
    "unmap the stub": "killed by signal 11",  # the call returns to an unmapped page
    "parent": "still here",
}


@pytest.mark.parametrize("mode", ["calls", "batch-calls"], ids=["trampoline", "batch loop"])
def test_calls_made_at_the_trampoline_are_the_sandboxs_own(hostile, mode):
    result, stub = run_with_the_address(hostile, mode)
    assert result.returncode == 0, result.stderr.decode()
    found = lines(result)
    if mode == "batch-calls":
        assert found.pop("batch loop found") == "yes"
    # the page can be found by the guest (mmap refusals, and it is readable): the
    # tests above must hold even so
    assert found.pop("mmap errors reveal the stub page") in ("yes", "no")
    assert found.pop("stub page starts with") in ("ELF", "something else")
    assert found == CALLS
    assert b"exec through the trampoline ran in the sandbox" in result.stdout
    _nothing_left_running(stub)


def test_unmapping_the_stub_then_needing_an_injection_stops_the_sandbox(hostile):
    result, stub = run_with_the_address(hostile, "unmap")
    assert result.returncode == 70, result.stderr.decode()
    assert b"the process's trampoline is gone" in result.stderr
    assert b"parent: still here" not in result.stdout
    _nothing_left_running(stub)


def test_rewriting_the_code_after_the_trampoline_gains_nothing(hostile):
    """The next clone the supervisor injects would run on into the guest's code and ask
    for an untraced clone: that second syscall stop ends the sandbox instead."""
    result, stub = run_with_the_address(hostile, "rewrite")
    assert b"trampoline rewritten" in result.stdout
    assert result.returncode == 70, result.stderr.decode()
    assert b"a second syscall stop while injecting syscall 56" in result.stderr
    assert b"fork after the rewrite returned" not in result.stdout
    _nothing_left_running(stub)


def test_rewriting_the_trampoline_itself_gains_nothing(hostile):
    """The injected clone first runs into guest code, which puts the syscall back and
    makes a clone of its own (CLONE_UNTRACED) at the trampoline: same place, same
    number, other arguments. The supervisor approves only its own arguments."""
    result, stub = run_with_the_address(hostile, "rewrite-entry")
    assert b"trampoline entry rewritten" in result.stdout
    assert result.returncode == 70, result.stderr.decode()
    assert b"injected syscall 56 stopped as syscall 56" in result.stderr
    assert b"with other arguments" in result.stderr
    assert b"fork after the rewrite returned" not in result.stdout
    _nothing_left_running(stub)
