"""Signals: the signals probe (siginfo, nesting, masks, sigaltstack, SIGSEGV recovery,
SA_RESTART, sigsuspend, sigtimedwait, FP state across handlers) compared with native
runs. It ends killed by its own SIGTERM, which both runs must report alike."""

import os
import signal
import subprocess
import sys

import pytest

from .conftest import HERE

pytestmark = pytest.mark.guest


@pytest.mark.every_platform
@pytest.mark.parametrize("name", ["signals", "signals.dyn"])
def test_signals_match_native(compare, name):
    outcome = compare(name)
    assert outcome.stdout.endswith(b"last line\n")
    assert outcome.returncode == -15


@pytest.mark.every_platform
@pytest.mark.parametrize("name", ["sleep_signals", "sleep_signals.dyn"])
def test_signals_end_sleeps_and_waits_like_native(compare, name):
    compare(name)


def test_sigterm_to_the_cli_reaches_the_guest():
    """The command line forwards SIGTERM to the guest's first process and exits as it does."""
    proc = subprocess.Popen([sys.executable, "-m", "slimbox", "run", "--", "/bin/busybox", "sh", "-c",
                             "echo ready; exec sleep 5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(HERE.parent.parent / "src")})
    try:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.decode().splitlines()[-1:] == ["Terminated"]
