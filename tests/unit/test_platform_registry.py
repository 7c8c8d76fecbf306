"""_platforms.py: choosing a platform by name, and what a host that is not Linux gets."""

from __future__ import annotations

import pytest

from slimbox import _platforms as registry
from slimbox.platforms.base import PlatformUnavailable


@pytest.mark.parametrize("host,expected", [("linux", "linux"), ("darwin", "emu"), ("win32", "emu")])
def test_auto_is_linux_on_linux_and_emu_elsewhere(monkeypatch, host, expected):
    monkeypatch.setattr(registry.sys, "platform", host)
    assert registry.resolve("auto") == expected
    assert registry.resolve("emu") == "emu"


def test_an_unknown_name_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="auto, linux, kvm, emu"):
        registry.resolve("qemu")


@pytest.mark.parametrize("name", ["linux", "kvm"])
def test_the_linux_host_services_are_refused_off_linux(monkeypatch, name):
    monkeypatch.setattr(registry.sys, "platform", "darwin")
    with pytest.raises(PlatformUnavailable, match="--platform emu"):
        registry.make_host(name)


def test_emu_gets_the_portable_host_and_no_host_network(monkeypatch):
    from slimbox.platforms.emu.host import PortableHost

    monkeypatch.setattr(registry.sys, "platform", "win32")
    assert isinstance(registry.make_host("emu"), PortableHost)
    assert registry.host_network("emu") is None


def test_intercept_is_checked_against_the_platform():
    assert registry.check_intercept("linux", "ptrace") == "ptrace"
    assert registry.check_intercept("emu", "notify") == "notify"  # the default goes with any platform
    with pytest.raises(ValueError, match="notify, ptrace"):
        registry.check_intercept("linux", "sysemu")
    with pytest.raises(ValueError, match="for the linux platform"):
        registry.check_intercept("kvm", "ptrace")


@pytest.mark.parametrize("intercept,notify", [("notify", True), ("ptrace", False)])
def test_the_linux_platform_is_made_with_the_intercept_asked_for(monkeypatch, intercept, notify):
    made = {}

    class Recorder:
        def __init__(self, host, *, notify):
            made.update(host=host, notify=notify)

    monkeypatch.setattr(registry, "platform_class", lambda name: Recorder)
    registry.make_platform("linux", "the host", intercept=intercept)
    assert made == {"host": "the host", "notify": notify}
