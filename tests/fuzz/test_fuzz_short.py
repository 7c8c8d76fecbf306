"""A short run of both syscall fuzzers with fixed seeds, as part of the test suite
(`make fuzz` is the long run): no Python exception in the kernel on the fake platform,
and every sandbox on the real platform ends cleanly."""

from __future__ import annotations

import logging
import shutil

import pytest

from slimbox.platforms.base import PlatformUnavailable
from tests.fuzz import fake, real


def test_fake_platform_short_run():
    logging.getLogger("slimbox").setLevel(logging.CRITICAL)
    stats = fake.FakeFuzzer(20261128, shrink=False).run(20_000)
    assert stats.syscalls >= 20_000
    assert not stats.bugs, "\n\n".join(bug.report() for bug in stats.bugs)


def test_real_platform_short_run():
    if shutil.which("musl-gcc") is None:
        pytest.fail("musl-gcc is missing: run `make deps` (Debian: musl-tools)")
    try:
        from slimbox.platforms.linux.platform import check_host_support

        check_host_support()
    except PlatformUnavailable as exc:
        pytest.skip(str(exc))
    stats = real.run(20261128, 6_000, 2)
    assert not stats.failures, "\n\n".join(failure.report() for failure in stats.failures)
    assert stats.syscalls >= 6_000
