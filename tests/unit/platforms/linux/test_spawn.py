"""platforms/linux/spawn.py and the stub's preparation: what a new stub is left with."""

from __future__ import annotations

import pytest

from slimbox.platforms.base import PAGE_SIZE, PlatformUnavailable
from slimbox.platforms.linux.vdso import ranges_to_empty, vdso_pieces


def test_a_prepared_stub_holds_only_its_own_page_the_scratch_page_and_the_host_vdso():
    from slimbox.platforms.linux.platform import LinuxPlatform

    try:
        platform = LinuxPlatform(pin_cpu=False)
    except PlatformUnavailable as exc:
        pytest.skip(str(exc))
    try:
        process = platform.new_process().process
        with open(f"/proc/{process.pid}/maps", "rb") as maps:
            text = maps.read()
        starts = {int(line.split(b"-")[0], 16) for line in text.splitlines()} - {0xFFFFFFFFFF600000}  # vsyscall
        pieces = process.vdso()
        assert b"[vdso]" in [piece[3] for piece in pieces] and pieces == vdso_pieces(text)
        assert starts == {process.base, process.scratch} | {piece[0] for piece in pieces}
        # one munmap per range around the stub's page and the vDSO (two or three: the host
        # may put them side by side), the scratch mmap, seccomp, and closing the listener's
        # descriptor
        around = ranges_to_empty((process.base, process.base + PAGE_SIZE), pieces)
        assert platform.stats()["injections"] == len(around) + 3
    finally:
        platform.close()
