"""platforms/emu/host.py: host services from portable Python only."""

from __future__ import annotations

import errno
import os
import time

import pytest

from slimbox.platforms.emu.host import FALLBACK_MEMORY_BYTES, PortableHost
from slimbox.platforms.emu.hostdir import PortableHostDirectory
from slimbox.platforms.emu.stdio import PortableStream


def test_clocks_come_from_the_time_module():
    host = PortableHost()
    before = time.time_ns()
    assert before <= host.clock_ns(0) <= time.time_ns()
    first = host.clock_ns(1)
    assert 0 < first <= host.clock_ns(1)
    with pytest.raises(OSError) as info:
        host.clock_ns(2)  # CLOCK_PROCESS_CPUTIME_ID is the kernel's business, not the host's
    assert info.value.errno == errno.EINVAL


def test_entropy_is_fresh_bytes():
    host = PortableHost()
    a, b = host.entropy(32), host.entropy(32)
    assert len(a) == 32 and a != b


def test_stdio_are_the_process_streams():
    streams = PortableHost().stdio()
    assert [s.fileno() for s in streams] == [0, 1, 2]
    assert all(isinstance(s, PortableStream) for s in streams)


def test_host_directories_and_archives(tmp_path):
    (tmp_path / "a").write_bytes(b"tar bytes")
    host = PortableHost()
    directory = host.open_host_directory(str(tmp_path), False)
    assert isinstance(directory, PortableHostDirectory)
    assert directory.lookup(b"a").size == 9
    with host.open_archive(str(tmp_path / "a")) as archive:
        assert archive.read() == b"tar bytes"
    with pytest.raises(OSError) as info:
        host.open_archive(str(tmp_path / "missing"))
    assert info.value.errno == errno.ENOENT


def test_cpu_count_without_affinity(monkeypatch):
    assert PortableHost().cpu_count() >= 1
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert PortableHost().cpu_count() == (os.cpu_count() or 1)


def test_memory_from_sysconf_or_the_documented_fallback(monkeypatch):
    assert PortableHost().memory_bytes() > 0
    monkeypatch.delattr(os, "sysconf", raising=False)
    assert PortableHost().memory_bytes() == FALLBACK_MEMORY_BYTES


def test_hardware_capabilities_describe_the_emulated_cpu():
    pytest.importorskip("unicorn")
    from slimbox.platforms.emu.capabilities import AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ, emulated_cpuid

    capabilities = PortableHost().hardware_capabilities()
    assert capabilities[AT_HWCAP] == emulated_cpuid(1)[3]
    assert capabilities[AT_HWCAP2] == 0
    assert capabilities[AT_MINSIGSTKSZ] % 16 == 0 and capabilities[AT_MINSIGSTKSZ] >= 512 + 440
