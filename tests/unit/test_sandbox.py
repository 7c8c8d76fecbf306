"""sandbox.py: host signals passed on to the guest, on hosts with fewer signals than Linux."""

from __future__ import annotations

import signal
import subprocess
import threading

import slimbox
from slimbox import sandbox
from slimbox.sandbox import _forwarding_host_signals


class _Kernel:
    def __init__(self) -> None:
        self.host_signals: list[int] = []


class _Platform:
    def __init__(self) -> None:
        self.pokes = 0

    def poke(self) -> None:
        self.pokes += 1


def test_forwarded_signals_arrive_in_linux_numbering():
    kernel, platform = _Kernel(), _Platform()
    with _forwarding_host_signals(kernel, platform):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGWINCH)
    assert kernel.host_signals == [2, 28]
    assert platform.pokes == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_only_the_signals_the_host_has_are_taken_by_name(monkeypatch):
    """Windows has no SIGHUP, SIGQUIT or SIGWINCH; a host numbering SIGTERM otherwise
    (here pretending it is SIGUSR1's number) still passes on Linux's SIGTERM, 15."""
    host = sandbox.signal  # the module of host signals the runner reads (_signal)
    for name in ("SIGHUP", "SIGQUIT", "SIGWINCH"):
        monkeypatch.delattr(host, name)
    usr1 = signal.Signals.SIGUSR1.value
    monkeypatch.setattr(host, "SIGTERM", usr1)
    kernel, platform = _Kernel(), _Platform()
    before = signal.getsignal(usr1)
    with _forwarding_host_signals(kernel, platform):
        assert signal.getsignal(signal.Signals.SIGHUP.value) is signal.SIG_DFL
        signal.raise_signal(usr1)
    assert kernel.host_signals == [15]
    assert signal.getsignal(usr1) == before


def test_the_third_signal_kills_the_sandbox():
    kernel, platform = _Kernel(), _Platform()
    with _forwarding_host_signals(kernel, platform):
        for _ in range(3):
            signal.raise_signal(signal.SIGTERM)
    assert kernel.host_signals == [15, 15, 9]


def test_no_signal_is_taken_outside_the_main_thread():
    kernel, platform = _Kernel(), _Platform()
    before = signal.getsignal(signal.SIGINT)
    seen = []

    def body() -> None:
        with _forwarding_host_signals(kernel, platform):
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [before]
    assert signal.getsignal(signal.SIGINT) is before


def test_the_result_type_is_still_a_completed_process():
    from slimbox.sandbox import SandboxResult

    assert slimbox.SandboxResult is SandboxResult
    assert issubclass(SandboxResult, subprocess.CompletedProcess)
    result = SandboxResult(["p"], 3, b"o", None, signal=0, syscalls=5)
    assert (result.args, result.returncode, result.stdout, result.stderr, result.syscalls) == (["p"], 3, b"o", None, 5)
    try:
        result.check_returncode()
    except subprocess.CalledProcessError as exc:
        assert exc.returncode == 3
    else:
        raise AssertionError("check_returncode passed a failure")
