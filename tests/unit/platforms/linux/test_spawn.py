"""platforms/linux/spawn.py: a keeper started ahead of time (start_keeper), used by the
platform for its first process or ended unused."""

from __future__ import annotations

import os

import pytest

from slimbox.platforms.base import PlatformUnavailable
from slimbox.platforms.linux.spawn import spawn_from, start_keeper


def _gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_an_unused_keeper_ends_when_closed():
    keeper = start_keeper()
    assert not keeper.used
    keeper.close()
    assert keeper.used and keeper.stub_fd == -1 and keeper.channel is None
    assert _gone(keeper.pid)
    keeper.close()  # a second close does nothing


def test_a_keeper_starts_the_platforms_first_process_on_the_supervisors_cpus():
    from slimbox.platforms.linux.platform import LinuxPlatform

    keeper = start_keeper()
    try:
        platform = LinuxPlatform(pin_cpu=True, keeper=keeper)
    except PlatformUnavailable as exc:
        keeper.close()
        pytest.skip(str(exc))
    try:
        assert keeper.stub_fd == -1  # the platform holds the stub's image now
        thread = platform.new_process()
        assert keeper.used and keeper.channel is None
        pid = thread.process.pid
        assert os.sched_getaffinity(pid) == os.sched_getaffinity(0)  # pinned after the keeper was forked
        assert "user" in platform.isolation.namespaces or platform.isolation.namespaces == []
        assert platform.new_process().process.pid != pid  # later processes: a keeper of their own
        with pytest.raises(ValueError):
            spawn_from(keeper, lambda pid: None)
    finally:
        platform.close()
    assert _gone(keeper.pid)


def test_a_platform_closed_unused_ends_its_keeper():
    from slimbox.platforms.linux.platform import LinuxPlatform

    keeper = start_keeper()
    try:
        platform = LinuxPlatform(pin_cpu=False, keeper=keeper)
    except PlatformUnavailable as exc:
        keeper.close()
        pytest.skip(str(exc))
    platform.close()
    assert keeper.used and _gone(keeper.pid)


def test_a_prepared_stub_holds_only_its_own_page_and_the_scratch_page():
    from slimbox.platforms.linux.platform import LinuxPlatform

    try:
        platform = LinuxPlatform(pin_cpu=False)
    except PlatformUnavailable as exc:
        pytest.skip(str(exc))
    try:
        process = platform.new_process().process
        with open(f"/proc/{process.pid}/maps") as maps:
            starts = {int(line.split("-")[0], 16) for line in maps} - {0xFFFFFFFFFF600000}  # vsyscall, if any
        assert starts == {process.base, process.scratch}
        # two munmaps, the scratch mmap, seccomp, and closing the listener's descriptor
        assert platform.stats()["injections"] == 5
    finally:
        platform.close()
