"""The Linux platform's serving loop (Platform.wait_serving): notified syscalls are
answered as they arrive, without a turn of the kernel loop each, and the loop still
gives way to timers and the caller's deadline."""

from __future__ import annotations

import slimbox

from .conftest import ENV, GUEST_DIR, slimbox_cli

CALLS = 5000


def test_back_to_back_syscalls_take_few_turns_of_the_kernel_loop(probes, counted_turns):
    result = slimbox.run([f"{GUEST_DIR}/syscall_loop", str(CALLS)], capture_output=True, env=ENV,
                         mounts=(f"{probes}:{GUEST_DIR}:ro",), platform="linux", timeout=120)
    assert result.stdout == f"{CALLS} of {CALLS} calls gave the same pid\n".encode()
    assert result.returncode == 0
    assert result.syscalls > CALLS
    # each turn answered many syscalls (start-up, the exit and the write take a few)
    assert len(counted_turns) < CALLS // 10, (len(counted_turns), result.syscalls)


def test_a_program_that_never_stops_calling_still_times_out(probes):
    outcome = slimbox_cli("run", "--platform", "linux", "--timeout", "1", "-v", f"{probes}:{GUEST_DIR}:ro",
                          "--", f"{GUEST_DIR}/syscall_loop", "forever", timeout=60)
    assert outcome.returncode == 124, outcome.stderr
    assert b"timed out after 1 s" in outcome.stderr


def test_the_dynamic_build_gives_the_native_answer(compare):
    compare("syscall_loop.dyn", "3000")
