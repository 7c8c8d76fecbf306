"""kernel/exit.py: process exit, reparenting and telling the parent."""

from __future__ import annotations

from guest import GONE, FakeGuest

SIGHUP = 1


def test_an_orphan_tells_init_of_its_end_with_sigchld_whatever_its_exit_signal():
    # found by the syscall fuzzer: a child made by clone(SIGHUP) outlived its parent, and
    # its end then killed init with SIGHUP; Linux resets the exit signal on reparenting
    init = FakeGuest()
    parent = init.spawn()
    child = parent.spawn()
    child.process.exit_signal = SIGHUP  # as clone(SIGHUP | ...) leaves it
    assert parent.syscall("exit_group", 0) is GONE
    assert child.process.parent is init.process
    assert child.syscall("exit_group", 0) is GONE
    assert init.syscall("getpid") == init.process.pid  # init lives on
