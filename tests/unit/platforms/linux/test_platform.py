"""platforms/linux/platform.py: host readiness watches."""

from __future__ import annotations

import os

import pytest

from slimbox.platforms.base import HostReadyEvent, PlatformUnavailable
from slimbox.platforms.linux.stdio import FdStream


@pytest.fixture
def platform():
    from slimbox.platforms.linux.platform import LinuxPlatform

    try:
        made = LinuxPlatform(pin_cpu=False)
    except PlatformUnavailable as exc:
        pytest.skip(str(exc))
    yield made
    made.close()


def test_a_stream_epoll_refuses_is_reported_ready_at_once(platform):
    # found by the syscall fuzzer: select() on a standard input that is /dev/null (which
    # epoll refuses with EPERM) stopped the sandbox with an internal error
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        key = object()
        platform.watch_readable(FdStream(fd), key)
        events = platform.wait(0)
        assert [type(e) for e in events] == [HostReadyEvent] and events[0].key is key
        assert platform.wait(0) == []  # reported once, as any watch
    finally:
        os.close(fd)


def test_host_signals_are_named_as_the_signal_module_names_them():
    import signal

    from slimbox.platforms.linux.platform import _SIGNAL_NAMES, _describe_exit

    assert {number: _SIGNAL_NAMES[number] for number in signal.Signals} == {s.value: s.name for s in signal.Signals}
    assert _describe_exit(signal.SIGKILL) == (9, "host thread killed by SIGKILL")
    assert _describe_exit(40) == (40, "host thread killed by signal 40")  # a real-time signal has no name

