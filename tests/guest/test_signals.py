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


@pytest.mark.xfail(strict=True, reason="a signal handler starts with the interrupted MXCSR/x87 control word, "
                                       "not the default FP state (0x1f80/0x37f) Linux gives it")
@pytest.mark.parametrize("name", ["signals", "signals.dyn"])
def test_signals_match_native(compare, name):
    outcome = compare(name)
    assert outcome.stdout.endswith(b"last line\n")
    assert outcome.returncode == -15


def _cli_in_own_group():
    """The real command line as the leader of a new process group, once its guest runs."""
    proc = subprocess.Popen([sys.executable, "-m", "slimbox", "run", "--", "/bin/busybox", "sh", "-c",
                             "echo ready; exec sleep 5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(HERE.parent.parent / "src")})
    assert proc.stdout.readline() == b"ready\n"
    return proc


def test_sigterm_to_the_cli_reaches_the_guest():
    proc = _cli_in_own_group()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.decode().splitlines()[-1:] == ["Terminated"]


@pytest.mark.xfail(strict=True, reason="the keeper process shares the CLI's process group, dies of the group's "
                                       "SIGTERM and takes the guest with it: reported as Killed (137)")
def test_sigterm_to_the_cli_process_group_reaches_the_guest():
    proc = _cli_in_own_group()
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.decode().splitlines()[-1:] == ["Terminated"]
