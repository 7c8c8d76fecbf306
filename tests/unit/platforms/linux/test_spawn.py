"""platforms/linux/spawn.py and the stub's preparation: what a new stub is left with."""

from __future__ import annotations

import pytest

from slimbox.platforms.base import PlatformUnavailable


def test_a_prepared_stub_holds_only_its_own_page_the_scratch_page_and_the_host_vdso():
    from slimbox.platforms.linux.platform import LinuxPlatform

    try:
        platform = LinuxPlatform(pin_cpu=False)
    except PlatformUnavailable as exc:
        pytest.skip(str(exc))
    try:
        process = platform.new_process().process
        with open(f"/proc/{process.pid}/maps") as maps:
            starts = {int(line.split("-")[0], 16) for line in maps} - {0xFFFFFFFFFF600000}  # vsyscall, if any
        pieces = process.vdso()
        assert b"[vdso]" in [piece[3] for piece in pieces]
        assert starts == {process.base, process.scratch} | {piece[0] for piece in pieces}
        # three munmaps (below the stub's page or the vDSO, between them, above both), the
        # scratch mmap, seccomp, and closing the listener's descriptor
        assert platform.stats()["injections"] == 6
    finally:
        platform.close()
