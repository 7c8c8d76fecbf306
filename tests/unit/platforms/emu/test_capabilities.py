"""platforms/emu/capabilities.py: what the emulated CPU offers, asked of unicorn."""

from __future__ import annotations

import pytest

pytest.importorskip("unicorn")

from slimbox.platforms.emu.capabilities import (  # noqa: E402 - after the skip
    AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ, emulated_cpuid, hardware_capabilities)


def test_cpuid_runs_in_the_emulator():
    eax, ebx, ecx, edx = emulated_cpuid(0)
    vendor = b"".join(r.to_bytes(4, "little") for r in (ebx, edx, ecx))
    assert eax >= 1 and vendor.isalnum()
    assert emulated_cpuid(1)[3] & (1 << 25)  # SSE: every x86-64 CPU has it


def test_capabilities_follow_the_cpu_model():
    from unicorn import x86_const

    qemu64 = hardware_capabilities(x86_const.UC_CPU_X86_QEMU64)
    haswell = hardware_capabilities(x86_const.UC_CPU_X86_HASWELL)
    assert qemu64[AT_HWCAP] == emulated_cpuid(1, 0, x86_const.UC_CPU_X86_QEMU64)[3]
    assert haswell[AT_HWCAP] == emulated_cpuid(1, 0, x86_const.UC_CPU_X86_HASWELL)[3]
    assert qemu64[AT_HWCAP2] == haswell[AT_HWCAP2] == 0
    # Haswell has XSAVE with AVX: a larger FP area than QEMU64's FXSAVE-only one
    assert haswell[AT_MINSIGSTKSZ] > qemu64[AT_MINSIGSTKSZ] >= 512 + 440
