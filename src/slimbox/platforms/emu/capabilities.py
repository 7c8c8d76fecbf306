"""What the emulated CPU offers, asked of the emulator itself: the auxiliary-vector
entries a Linux kernel derives from its CPU (AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ).

They describe the CPU the guest runs on, which is unicorn's, not the host's: a guest
that chose code paths from the host's CPUID could meet instructions the emulator lacks.
"""

from __future__ import annotations

AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ = 16, 26, 51
_FXSAVE_SIZE = 512
_XSAVE_BIT = 1 << 26  # CPUID.1:ECX
#: what a signal frame holds besides the FP area (rt_sigframe 440 bytes, FP_XSTATE_MAGIC2,
#: the padding that aligns the FP area to 64 and the frame to 16); see abi/sigframe.py
_FRAME_OVERHEAD = 440 + 4 + 63 + 15
_CODE_ADDRESS = 0x1000
_CPUID = b"\x0f\xa2"


def emulated_cpuid(leaf: int, subleaf: int = 0, cpu_model: int | None = None) -> tuple[int, int, int, int]:
    """(eax, ebx, ecx, edx) of one CPUID instruction run in a fresh unicorn x86-64 CPU."""
    return _cpuid_leaves(((leaf, subleaf),), cpu_model)[0]


def _cpuid_leaves(queries, cpu_model: int | None) -> list[tuple[int, int, int, int]]:
    """CPUID for each (leaf, subleaf), in one emulator (making one costs most of the time)."""
    from unicorn import UC_ARCH_X86, UC_MODE_64, Uc
    from unicorn import x86_const as x86

    cpu = Uc(UC_ARCH_X86, UC_MODE_64)
    if cpu_model is not None:
        cpu.ctl_set_cpu_model(cpu_model)
    cpu.mem_map(_CODE_ADDRESS, 0x1000)
    cpu.mem_write(_CODE_ADDRESS, _CPUID)
    results = []
    for leaf, subleaf in queries:
        cpu.reg_write(x86.UC_X86_REG_RAX, leaf)
        cpu.reg_write(x86.UC_X86_REG_RCX, subleaf)
        cpu.emu_start(_CODE_ADDRESS, _CODE_ADDRESS + len(_CPUID))
        results.append(tuple(cpu.reg_read(r) for r in (x86.UC_X86_REG_EAX, x86.UC_X86_REG_EBX,
                                                        x86.UC_X86_REG_ECX, x86.UC_X86_REG_EDX)))
    return results


def hardware_capabilities(cpu_model: int | None = None) -> dict[int, int]:
    """AT_HWCAP is CPUID.1:EDX, as Linux gives it on x86-64. AT_HWCAP2 stays 0: its bits
    (FSGSBASE use, ring-3 MONITOR/MWAIT) are for the kernel to enable, and the emulated
    kernel enables neither. AT_MINSIGSTKSZ bounds the signal frame with the largest FP
    area the CPU can have (XSAVE's size for every feature it supports)."""
    (_, _, ecx, edx), (_, _, xsave_size, _) = _cpuid_leaves(((1, 0), (0xD, 0)), cpu_model)
    fp_area = xsave_size if ecx & _XSAVE_BIT else _FXSAVE_SIZE
    frame = (max(fp_area, _FXSAVE_SIZE) + _FRAME_OVERHEAD + 15) // 16 * 16
    return {AT_HWCAP: edx, AT_HWCAP2: 0, AT_MINSIGSTKSZ: frame}
