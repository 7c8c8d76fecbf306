"""kernel/clone.py: new processes and threads."""

from __future__ import annotations

from guest import GONE, FakeGuest
from slimbox.abi.errno import Errno

SIGHUP, SIGCHLD = 1, 17
CLONE_PARENT, CLONE_SETTLS = 0x8000, 0x80000


def test_a_sibling_made_with_clone_parent_has_the_callers_exit_signal():
    # found by the syscall fuzzer: clone(CLONE_PARENT | SIGHUP) from a child of init gave
    # init a child whose end killed it with SIGHUP
    init = FakeGuest()
    worker = init.spawn()
    pid = worker.syscall("clone", CLONE_PARENT | SIGHUP, 0, 0, 0, 0)
    sibling = init.kernel.processes[pid]
    assert sibling.parent is init.process
    assert sibling.exit_signal == SIGCHLD
    init.kernel.exit_process(sibling, 0)
    assert init.syscall("getpid") == init.process.pid


def test_init_may_not_clone_a_sibling():
    init = FakeGuest()
    assert init.syscall("clone", CLONE_PARENT | SIGCHLD, 0, 0, 0, 0) == -Errno.EINVAL
    assert init.syscall("getpid") is not GONE


def test_a_thread_pointer_outside_user_space_is_eperm():
    # found by the syscall fuzzer: the Linux platform refused the child's registers
    # (PTRACE_SETREGS: EIO) after the child had been made, an internal error
    g = FakeGuest()
    for tls in (0x7FFF_FFFF_F000, 1 << 63, (1 << 64) - 1):
        assert g.syscall("clone", CLONE_SETTLS | SIGCHLD, 0, 0, 0, tls) == -Errno.EPERM
    assert len(g.kernel.processes) == 1  # nothing was made
    assert g.syscall("clone", CLONE_SETTLS | SIGCHLD, 0, 0, 0, 0x7FFF_FFFF_E000) > 0
