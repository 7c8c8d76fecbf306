"""Issue 8, acceptance 2: a guest cannot reach memory outside its own, on any platform.

The probes read, write and jump to wild addresses (NULL, low pages, the top of user
space, non-canonical and kernel-half addresses, just past the stack), hand such
addresses to syscalls, execute from data pages, write to code, and aim mprotect,
madvise, mremap, munmap and mmap at the platform's own pages. The platform's pages are
the ranges `AddressSpace.reserved()` gives for a fresh process of that platform; they
are passed in argv, so the native run, where nothing is mapped there, shows what the
sandbox must show. Every result is compared with the native run, and after each hostile
run a plain probe still runs in this same process: the supervisor survived.

On the Linux platform the stub's page is loaded at a randomised address, so the range
handed over is another process's and lands on nothing; the real trampoline is attacked
in tests/security/test_trampoline.py. Platforms that place their pages at fixed
addresses (kvm, emu) are attacked at those very pages.
"""

from __future__ import annotations

import pytest

from slimbox import _platforms

pytestmark = pytest.mark.guest

BUILDS = ["static", "dynamic"]


def _program(name: str, build: str) -> str:
    return name if build == "static" else f"{name}.dyn"


@pytest.fixture
def platform_ranges(usable_platform) -> list[str]:
    """The [start, end) ranges a fresh process of the platform reserves, as START-END in hex."""
    platform = _platforms.make_platform(usable_platform, _platforms.make_host(usable_platform))
    try:
        ranges = list(platform.new_process().address_space.reserved())
    finally:
        platform.close()
    assert ranges, f"{usable_platform} reports no pages of its own"
    return [f"{start:x}-{end:x}" for start, end in ranges]


def _lines(outcome) -> list[str]:
    return outcome.stdout.decode().splitlines()


def _supervisor_survived(compare) -> None:
    assert compare("hello").stdout == b"hello\n"


@pytest.mark.every_platform
@pytest.mark.parametrize("build", BUILDS)
def test_wild_addresses_fault_and_give_efault_as_natively(compare, platform_ranges, build):
    outcome = compare(_program("wild_memory", build), *platform_ranges)
    lines = _lines(outcome)
    acts = [line for line in lines if line.startswith(("read ", "write ", "jump "))]
    assert len(acts) >= 3 * 10 + 2 * 3 * len(platform_ranges)
    assert all("SIGSEGV" in line or "not tried" in line for line in acts), acts
    wild_calls = [line for line in lines if line.startswith("  ") and "bytes left" not in line]
    assert sum("EFAULT" in line for line in wild_calls) >= len(wild_calls) - 4  # NULL: gettimeofday etc. are 0
    assert all("child killed by SIGSEGV" in line for line in lines if line.startswith("child "))
    assert lines[-1] == "still working: yes"
    _supervisor_survived(compare)


@pytest.mark.every_platform
@pytest.mark.parametrize("build", BUILDS)
def test_code_runs_only_from_executable_pages(compare, build):
    lines = _lines(compare(_program("exec_data", build)))
    jumps = {line.split(":")[0]: line for line in lines if line.startswith("jump ")}
    assert jumps.pop("jump to read+exec mapping").endswith("no fault (42)")
    assert all("SIGSEGV SEGV_ACCERR" in line or "SEGV_MAPERR" in line for line in jumps.values()), jumps
    writes = [line for line in lines if line.startswith("write ")]
    assert writes and all("SIGSEGV SEGV_ACCERR at the address" in line for line in writes), writes
    assert lines[-1] == "done"
    _supervisor_survived(compare)


@pytest.mark.every_platform
@pytest.mark.parametrize("build", BUILDS)
def test_platform_pages_act_as_if_nothing_were_there(compare, platform_ranges, build):
    lines = _lines(compare(_program("platform_pages", build), *platform_ranges))
    assert sum(line.startswith("platform range ") for line in lines) == len(platform_ranges)
    assert lines[-1] == "still working: yes"
    _supervisor_survived(compare)
