"""The x86-64 signal frame against the C ABI and against frames the host kernel builds.

Sizes worth stating: the kernel's `struct ucontext` is 8 (uc_flags) + 8 (uc_link) +
24 (stack_t) + 256 (struct sigcontext) + 8 (one sigset word) = 304 bytes, so in
`struct rt_sigframe` uc sits at 8 and info at 8 + 304 = 312, and the header is
312 + 128 = 440 bytes. glibc's `ucontext_t` is larger (a 128-byte sigset_t, a copy of the
FP registers and a shadow-stack area follow the same 296-byte prefix); the kernel never
writes those, so it is the uapi struct that is compared here.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys

import pytest

from slimbox.abi import sigframe as S
from slimbox.abi.regs import MASK64, REG_NAMES, Regs

ON_X86_64_LINUX = sys.platform.startswith("linux") and os.uname().machine == "x86_64"
GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(not (GCC and ON_X86_64_LINUX), reason="needs gcc on an x86-64 Linux host")

SIGUSR1, SIGSEGV, SIGCHLD, SIGBUS, SIGSYS, SIGIO, SIGTRAP, SIGILL, SIGFPE = 10, 11, 17, 7, 31, 29, 5, 4, 8

MXCSR_DEFAULT = 0x1F80
SS_DISABLE = 2


# --- helpers ----------------------------------------------------------------------------


def sample_regs(**changes: int) -> Regs:
    regs = Regs((0x1000 + 0x111 * i) * 0x10001 for i in range(len(REG_NAMES)))
    regs.cs, regs.ss = S.USER_CS, S.USER_DS
    regs.eflags = 0x246 | S.X86_EFLAGS_DF | S.X86_EFLAGS_TF
    for name, value in changes.items():
        setattr(regs, name, value)
    return regs


def fxsave_image() -> bytes:
    image = bytearray((i * 7 + 3) & 0xFF for i in range(S.FXSAVE_SIZE))
    struct.pack_into("<II", image, S.FXSAVE_MXCSR_OFFSET, MXCSR_DEFAULT, 0xFFFF)
    image[S.FPX_SW_BYTES_OFFSET:] = bytes(S.FXSAVE_SIZE - S.FPX_SW_BYTES_OFFSET)
    return bytes(image)


def xsave_image(size: int = 832, xstate_bv: int = 0x7) -> bytes:
    image = bytearray(fxsave_image()) + bytes(size - S.FXSAVE_SIZE)
    S.XSAVE_HEADER.pack_into(image, S.XSAVE_HEADER_OFFSET, xstate_bv, 0, b"")
    for i in range(S.XSAVE_MIN_SIZE, size):
        image[i] = (i * 13 + 5) & 0xFF
    return bytes(image)


def memory(base: int, data: bytes):
    """A read(addr, length) over one block of guest memory; outside it, a fault."""

    def read(addr: int, length: int) -> bytes:
        if addr < base or addr + length > base + len(data):
            raise LookupError(f"fault at {addr:#x}")
        return data[addr - base:addr - base + length]

    return read


def build(regs: Regs | None = None, **overrides):
    args = dict(
        sp=0x7FFD_1234_5678, signo=SIGUSR1, siginfo=S.pack_siginfo(SIGUSR1, 0, S.SI_TKILL, pid=42, uid=1000),
        blocked_mask=(1 << 27) | (1 << 36), altstack=(0, SS_DISABLE, 0), restorer=0x7F00_0000_1050,
        fpstate=xsave_image(), on_altstack=False,
    )
    args.update(overrides)
    return S.build_frame(regs if regs is not None else sample_regs(), **args)



def sc_field(blob: bytes, offset: int, fmt: str = "<Q") -> int:
    return struct.unpack_from(fmt, blob, S.FRAME_UC_OFFSET + S.UC_MCONTEXT_OFFSET + offset)[0]


def fp_addr_of(blob: bytes) -> int:
    return sc_field(blob, S.SC_FPSTATE_OFFSET)


# --- layout constants -------------------------------------------------------------------


def test_sizes_and_offsets():
    assert S.SIGCONTEXT_SIZE == 256
    assert S.UC_MCONTEXT_OFFSET == 40 and S.UC_SIGMASK_OFFSET == 296
    assert S.UCONTEXT_SIZE == 304
    assert (S.FRAME_UC_OFFSET, S.FRAME_INFO_OFFSET, S.RT_SIGFRAME_SIZE) == (8, 312, 440)
    assert (S.SC_CS_OFFSET, S.SC_SS_OFFSET, S.SC_ERR_OFFSET, S.SC_TRAPNO_OFFSET) == (144, 150, 152, 160)
    assert (S.SC_OLDMASK_OFFSET, S.SC_CR2_OFFSET, S.SC_FPSTATE_OFFSET) == (168, 176, 184)
    assert S.FPX_SW_BYTES.size == 48 and S.FPX_SW_BYTES_OFFSET + 48 == S.FXSAVE_SIZE
    assert S.FIX_EFLAGS == 0x50DD5


# --- building frames --------------------------------------------------------------------


@pytest.mark.parametrize("fp_size", [512, 576, 832, 2696])
def test_alignment(fp_size):
    fpstate = fxsave_image() if fp_size == 512 else xsave_image(fp_size)
    for sp in range(0x7FFD_0000_1000, 0x7FFD_0000_1000 + 130):
        frame, blob = build(sp=sp, fpstate=fpstate)
        fp = fp_addr_of(blob)
        assert (frame + 8) % 16 == 0, hex(sp)
        assert fp % 64 == 0
        assert frame + S.RT_SIGFRAME_SIZE <= fp
        area = fp_size + (4 if fp_size > 512 else 0)
        assert fp + area == frame + len(blob) <= sp
        assert sp - (fp + area) < 64  # no more padding than the alignment needs
        # fp is 64-aligned, so the 16-byte rounding below the 440-byte header always
        # leaves the same gap: the frame starts 456 bytes below the FP area
        assert fp - frame == 456


ALT = (0x7FFD_0000_0000, 0, 0x8000)
ALT_TOP = ALT[0] + ALT[2]


@pytest.mark.parametrize("rsp, altstack, sa_onstack, expected", [
    (0x7FFE_0000_1000, (0, SS_DISABLE, 0), False, (0x7FFE_0000_1000 - 128, False)),
    (0x7FFE_0000_1000, (0, SS_DISABLE, 0), True, (0x7FFE_0000_1000 - 128, False)),
    (0x7FFE_0000_1000, ALT, False, (0x7FFE_0000_1000 - 128, False)),
    (0x7FFE_0000_1000, ALT, True, (ALT_TOP, True)),  # switching: no red zone
    (ALT_TOP - 0x100, ALT, True, (ALT_TOP - 0x100 - 128, True)),  # already on it: nested
    (ALT_TOP - 0x100, ALT, False, (ALT_TOP - 0x100 - 128, True)),
    (ALT_TOP, ALT, True, (ALT_TOP - 128, True)),  # the top itself counts as on the stack
    (ALT[0], ALT, True, (ALT_TOP, True)),  # the bottom does not
    (ALT_TOP - 0x100, (ALT[0], S.SS_AUTODISARM, ALT[2]), True, (ALT_TOP, True)),
    (0x7FFE_0000_1000, (ALT[0], SS_DISABLE, ALT[2]), True, (0x7FFE_0000_1000 - 128, False)),
])
def test_signal_stack(rsp, altstack, sa_onstack, expected):
    assert S.signal_stack(rsp, altstack, sa_onstack=sa_onstack) == expected


def test_red_zone_left_alone():
    rsp = 0x7FFD_0001_0080  # rsp - 128 is 64-aligned, so a 512-byte area ends right at it
    top, on_alt = S.signal_stack(rsp, (0, SS_DISABLE, 0), sa_onstack=False)
    frame, blob = build(sp=top, fpstate=fxsave_image(), on_altstack=on_alt)
    assert frame + len(blob) == rsp - 128
    top, on_alt = S.signal_stack(rsp, ALT, sa_onstack=True)
    frame, blob = build(sp=top, fpstate=fxsave_image(), on_altstack=on_alt, altstack=ALT)
    assert frame + len(blob) == ALT_TOP


def test_nested_frame_must_fit_on_the_alternate_stack():
    top, on_alt = S.signal_stack(ALT[0] + 0x400, ALT, sa_onstack=True)
    assert on_alt
    with pytest.raises(ValueError, match="alternate"):
        build(sp=top, on_altstack=on_alt, altstack=ALT)
    top, on_alt = S.signal_stack(ALT[0] + 0x1000, ALT, sa_onstack=True)
    frame, _ = build(sp=top, on_altstack=on_alt, altstack=ALT)
    assert frame > ALT[0]


def test_frame_contents():
    regs = sample_regs()
    altstack = (0x7FFD_0000_0000, 0, 0x8000)
    siginfo = S.pack_siginfo(SIGSEGV, 0, S.SEGV_MAPERR, addr=0xDEAD)
    frame, blob = build(regs, siginfo=siginfo, altstack=altstack, trapno=14, err=6, cr2=0xDEAD,
                        blocked_mask=0x1234_5678_9ABC)
    assert struct.unpack_from("<Q", blob, 0)[0] == 0x7F00_0000_1050  # pretcode = restorer
    uc = S.FRAME_UC_OFFSET
    flags, link = struct.unpack_from("<QQ", blob, uc)
    assert flags == S.UC_FP_XSTATE | S.UC_SIGCONTEXT_SS | S.UC_STRICT_RESTORE_SS and link == 0
    assert struct.unpack_from("<Qi4xQ", blob, uc + S.UC_STACK_OFFSET) == altstack
    for index, name in enumerate(S.SIGCONTEXT_REGS):
        assert sc_field(blob, 8 * index) == getattr(regs, name), name
    assert struct.unpack_from("<4H", blob, uc + S.UC_MCONTEXT_OFFSET + 144) == (0x33, 0, 0, 0x2B)
    assert [sc_field(blob, off) for off in (152, 160, 168, 176)] == [6, 14, 0x1234_5678_9ABC, 0xDEAD]
    assert blob[uc + S.UC_MCONTEXT_OFFSET + 192:uc + S.UC_MCONTEXT_OFFSET + 256] == bytes(64)
    assert struct.unpack_from("<Q", blob, uc + S.UC_SIGMASK_OFFSET)[0] == 0x1234_5678_9ABC
    assert blob[S.FRAME_INFO_OFFSET:S.RT_SIGFRAME_SIZE] == siginfo


def test_uc_flags_without_64_bit_code_segment():
    _, blob = build(sample_regs(cs=0x23), fpstate=fxsave_image())
    assert struct.unpack_from("<Q", blob, S.FRAME_UC_OFFSET)[0] == S.UC_SIGCONTEXT_SS


def test_xsave_area_and_magic():
    image = xsave_image(832, xstate_bv=0x4)  # FP/SSE not marked: the kernel adds them
    frame, blob = build(fpstate=image)
    at = fp_addr_of(blob) - frame
    assert blob[at:at + S.FPX_SW_BYTES_OFFSET] == image[:S.FPX_SW_BYTES_OFFSET]
    magic1, extended, xfeatures, size = S.FPX_SW_BYTES.unpack_from(blob, at + S.FPX_SW_BYTES_OFFSET)
    assert (magic1, extended, xfeatures, size) == (S.FP_XSTATE_MAGIC1, 836, 0x7, 832)
    assert blob[at + S.FPX_SW_BYTES_OFFSET + 20:at + 512] == bytes(28)
    assert struct.unpack_from("<Q", blob, at + 512)[0] == 0x7
    assert blob[at + 520:at + 832] == image[520:]
    assert struct.unpack_from("<I", blob, at + 832)[0] == S.FP_XSTATE_MAGIC2
    assert len(blob) == at + 836


def test_xsave_feature_mask_sources():
    def features(image, **kw):
        frame, blob = build(fpstate=image, **kw)
        return S.FPX_SW_BYTES.unpack_from(blob, fp_addr_of(blob) - frame + S.FPX_SW_BYTES_OFFSET)[2]

    assert features(xsave_image(xstate_bv=0x3)) == 0x3
    assert features(xsave_image(xstate_bv=0x3), xfeatures=0x2E7) == 0x2E7
    described = bytearray(xsave_image(xstate_bv=0x3))  # as PTRACE_GETREGSET returns it
    S.FPX_SW_BYTES.pack_into(described, S.FPX_SW_BYTES_OFFSET, S.FP_XSTATE_MAGIC1, 836, 0x207, 832)
    assert features(bytes(described)) == 0x207


def test_fxsave_only():
    image = bytearray(fxsave_image())
    S.FPX_SW_BYTES.pack_into(image, S.FPX_SW_BYTES_OFFSET, S.FP_XSTATE_MAGIC1, 516, 3, 512)  # stale
    frame, blob = build(fpstate=bytes(image))
    at = fp_addr_of(blob) - frame
    assert struct.unpack_from("<Q", blob, S.FRAME_UC_OFFSET)[0] == S.UC_SIGCONTEXT_SS | S.UC_STRICT_RESTORE_SS
    assert blob[at:at + S.FPX_SW_BYTES_OFFSET] == image[:S.FPX_SW_BYTES_OFFSET]
    assert blob[at + S.FPX_SW_BYTES_OFFSET:] == bytes(48)  # no magic anywhere, no magic2
    assert len(blob) == at + 512


@pytest.mark.parametrize("change, message", [
    (dict(siginfo=bytes(127)), "siginfo"),
    (dict(fpstate=bytes(100)), "at least 512"),
    (dict(fpstate=bytes(540)), "at least 576"),
    (dict(sp=0x300), "no room"),
    (dict(on_altstack=True, sp=0x7FFD_0000_1000, altstack=(0x7FFD_0000_0C00, 0, 0x400)), "alternate"),
])
def test_build_rejects(change, message):
    with pytest.raises(ValueError, match=message):
        build(**change)


def test_handler_registers():
    regs = sample_regs()
    regs.eflags |= S.X86_EFLAGS_RF | S.X86_EFLAGS_AC
    frame, _ = build(regs)
    out = S.handler_registers(regs, frame, 0x40_1000, SIGUSR1)
    assert (out.rip, out.rsp, out.rdi, out.rax) == (0x40_1000, frame, SIGUSR1, 0)
    assert (out.rsi, out.rdx) == (frame + 312, frame + 8)
    assert out.eflags == regs.eflags & ~(S.X86_EFLAGS_DF | S.X86_EFLAGS_TF | S.X86_EFLAGS_RF)
    assert out.eflags & S.X86_EFLAGS_AC
    assert (out.rsp + 8) % 16 == 0
    changed = {"rip", "rsp", "rdi", "rsi", "rdx", "rax", "eflags"}
    for name in REG_NAMES:
        if name not in changed:
            assert getattr(out, name) == getattr(regs, name), name
    assert regs.rip != out.rip  # the input is left alone


# --- rt_sigreturn -----------------------------------------------------------------------


@pytest.mark.parametrize("fpstate", [xsave_image(832), xsave_image(2696, 0xE7), fxsave_image()],
                         ids=["xsave", "avx512-size", "fxsave"])
def test_round_trip(fpstate):
    regs = sample_regs()
    altstack = (0x7FFD_0000_0000, 1, 0x8000)
    frame, blob = build(regs, fpstate=fpstate, altstack=altstack, blocked_mask=(1 << 27) | (1 << 63))
    state = S.parse_frame(memory(frame, blob), frame + 8, eflags=0x202)
    for name in S.SIGCONTEXT_REGS[:-1]:
        assert state.registers[name] == getattr(regs, name), name
    assert state.registers["eflags"] == 0x202 | (regs.eflags & S.FIX_EFLAGS)
    assert state.registers["orig_rax"] == MASK64
    assert state.blocked_mask == (1 << 27) | (1 << 63)
    assert state.fpstate[:S.FPX_SW_BYTES_OFFSET] == fpstate[:S.FPX_SW_BYTES_OFFSET]
    assert state.fpstate[S.FXSAVE_SIZE:] == fpstate[S.FXSAVE_SIZE:]
    assert len(state.fpstate) == len(fpstate)
    assert state.altstack == altstack
    # given the registers at rt_sigreturn, the result is the whole new register set
    now = S.handler_registers(regs, frame, 0x401000, SIGUSR1)
    now.rsp, now.eflags, now.orig_rax = frame + 8, 0x202 | 0x3000, 15
    after = S.parse_frame(memory(frame, blob), frame + 8, now).registers
    assert isinstance(after, Regs) and after is not now and now.orig_rax == 15
    for name in S.SIGCONTEXT_REGS[:-1]:
        assert getattr(after, name) == getattr(regs, name), name
    assert after.eflags == 0x202 | 0x3000 | (regs.eflags & S.FIX_EFLAGS)
    assert after.orig_rax == MASK64
    for name in ("cs", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"):
        assert getattr(after, name) == getattr(now, name), name


def test_parse_takes_only_user_flags_from_the_frame():
    frame, blob = build(sample_regs(eflags=MASK64))
    state = S.parse_frame(memory(frame, blob), frame + 8, eflags=0x202)
    assert state.registers["eflags"] == 0x202 | S.FIX_EFLAGS
    frame, blob = build(sample_regs(eflags=0))
    state = S.parse_frame(memory(frame, blob), frame + 8, eflags=0x202 | 0x3000 | S.X86_EFLAGS_DF)
    assert state.registers["eflags"] == 0x202 | 0x3000  # IOPL kept, DF from the frame


def test_parse_mask_never_blocks_kill_or_stop():
    frame, blob = build(blocked_mask=MASK64)
    state = S.parse_frame(memory(frame, blob), frame + 8)
    assert state.blocked_mask == MASK64 & ~((1 << 8) | (1 << 18))


def _patched(blob: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(blob)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def test_parse_falls_back_to_fxsave():
    frame, blob = build(fpstate=xsave_image(832))
    at = fp_addr_of(blob) - frame
    sw = at + S.FPX_SW_BYTES_OFFSET
    for broken in (
        _patched(blob, at + 832, "<I", 0),  # magic2 missing
        _patched(blob, sw, "<I", 0),  # magic1 missing
        _patched(blob, sw + 16, "<I", 900),  # xstate_size beyond extended_size
        _patched(blob, sw + 16, "<I", 520),  # xstate_size below the XSAVE header
    ):
        state = S.parse_frame(memory(frame, broken), frame + 8)
        assert state.fpstate == broken[at:at + 512]
    state = S.parse_frame(memory(frame, blob), frame + 8, max_xstate_size=576)
    assert len(state.fpstate) == 512
    state = S.parse_frame(memory(frame, blob), frame + 8, max_xstate_size=832)
    assert len(state.fpstate) == 832


def test_parse_without_fp_state():
    frame, blob = build()
    no_fp = _patched(blob, S.FRAME_UC_OFFSET + S.UC_MCONTEXT_OFFSET + S.SC_FPSTATE_OFFSET, "<Q", 0)
    assert S.parse_frame(memory(frame, no_fp), frame + 8).fpstate == b""


def _moved_fp(blob: bytes, frame: int, fp: int) -> tuple[int, bytes]:
    """The frame with its FP area copied to `fp` (and the pointer changed to match)."""
    at = fp_addr_of(blob) - frame
    area = blob[at:]
    out = bytearray(blob[:S.RT_SIGFRAME_SIZE]) + bytes(fp - frame - S.RT_SIGFRAME_SIZE) + area
    struct.pack_into("<Q", out, S.FRAME_UC_OFFSET + S.UC_MCONTEXT_OFFSET + S.SC_FPSTATE_OFFSET, fp)
    return frame, bytes(out)


def _malformed_cases():
    frame, blob = build()
    at = fp_addr_of(blob) - frame
    yield "short read", frame, blob[:200]
    yield "misaligned xsave", *_moved_fp(blob, frame, frame + at + 32)
    fx_frame, fx_blob = build(fpstate=fxsave_image())
    yield "misaligned fxsave", *_moved_fp(fx_blob, fx_frame, fp_addr_of(fx_blob) + 8)
    yield "mxcsr", frame, _patched(blob, at + S.FXSAVE_MXCSR_OFFSET, "<I", 0x10000 | MXCSR_DEFAULT)
    yield "xcomp_bv", frame, _patched(blob, at + 520, "<Q", (1 << 63) | 7)
    yield "header reserved", frame, _patched(blob, at + 540, "<I", 1)


@pytest.mark.parametrize("case", list(_malformed_cases()), ids=lambda c: c[0])
def test_parse_rejects_malformed_frames(case):
    _, frame, blob = case

    def read(addr, length):  # a short copy rather than a fault
        return memory(frame, blob + bytes(4096))(addr, length)[:max(0, frame + len(blob) - addr)]

    with pytest.raises(ValueError):
        S.parse_frame(read, frame + 8)


@pytest.mark.parametrize("rsp", [0, 7, S.USER_SPACE_END, MASK64])
def test_parse_rejects_frames_outside_user_space(rsp):
    with pytest.raises(ValueError):
        S.parse_frame(lambda addr, length: bytes(length), rsp)


def test_parse_lets_read_faults_through():
    frame, blob = build()
    with pytest.raises(LookupError):
        S.parse_frame(memory(frame + 4096, blob), frame + 8)


def test_fxsave_to_xsave():
    image = S.fxsave_to_xsave(fxsave_image(), 832)
    assert len(image) == 832 and image[:464] == fxsave_image()[:464]
    assert S.XSAVE_HEADER.unpack_from(image, 512) == (3, 0, bytes(48))
    assert image[576:] == bytes(256)


# --- siginfo ----------------------------------------------------------------------------


@pytest.mark.parametrize("signo, code, layout", [
    (SIGUSR1, S.SI_USER, "kill"),
    (SIGUSR1, S.SI_KERNEL, "kill"),
    (SIGUSR1, S.SI_TKILL, "rt"),
    (SIGUSR1, S.SI_QUEUE, "rt"),
    (SIGUSR1, S.SI_MESGQ, "rt"),
    (40, S.SI_TIMER, "timer"),
    (SIGIO, S.SI_SIGIO, "poll"),
    (SIGIO, S.POLL_IN, "poll"),
    (40, S.POLL_IN, "poll"),  # a real-time signal chosen with F_SETSIG
    (40, 7, "kill"),
    (SIGCHLD, S.CLD_EXITED, "chld"),
    (SIGCHLD, S.CLD_CONTINUED, "chld"),
    (SIGCHLD, 7, "kill"),
    (SIGSEGV, S.SEGV_MAPERR, "fault"),
    (SIGSEGV, S.SEGV_PKUERR, "fault"),
    (SIGSEGV, 10, "fault"),
    (SIGSEGV, 11, "kill"),
    (SIGBUS, S.BUS_MCEERR_AO, "fault"),
    (SIGILL, 11, "fault"),
    (SIGFPE, 15, "fault"),
    (SIGTRAP, S.TRAP_PERF, "fault"),
    (SIGSYS, S.SYS_SECCOMP, "sys"),
    (SIGSYS, 3, "kill"),
])
def test_siginfo_layout(signo, code, layout):
    assert S.siginfo_layout(signo, code) == layout


def _fields(raw: bytes, fmt: str, offset: int = 16) -> tuple:
    return struct.unpack_from(fmt, raw, offset)


def test_pack_siginfo_layouts():
    everything = dict(pid=11, uid=22, status=33, addr=0x44, value=0x55, utime=66, stime=77, timerid=88,
                      overrun=99, band=0x111, fd=122, syscall=133, arch=0xC000003E, call_addr=0x144)
    raw = S.pack_siginfo(SIGUSR1, 5, S.SI_USER, **everything)
    assert len(raw) == 128 and _fields(raw, "<iii", 0) == (SIGUSR1, 5, 0)
    assert _fields(raw, "<iI") == (11, 22) and raw[24:] == bytes(104)
    raw = S.pack_siginfo(SIGUSR1, 0, S.SI_QUEUE, **everything)
    assert _fields(raw, "<iii", 0) == (SIGUSR1, 0, -1)
    assert _fields(raw, "<iIQ") == (11, 22, 0x55) and raw[32:] == bytes(96)
    raw = S.pack_siginfo(SIGCHLD, 0, S.CLD_EXITED, **everything)
    assert _fields(raw, "<iIi4xqq") == (11, 22, 33, 66, 77) and raw[48:] == bytes(80)
    raw = S.pack_siginfo(SIGSEGV, 0, S.SEGV_ACCERR, **everything)
    assert _fields(raw, "<Q") == (0x44,) and raw[24:] == bytes(104)
    raw = S.pack_siginfo(SIGBUS, 0, S.BUS_MCEERR_AR, **everything)
    assert _fields(raw, "<Q") == (0x44,) and raw[24:] == bytes(104)
    raw = S.pack_siginfo(SIGIO, 0, S.POLL_IN, **everything)
    assert _fields(raw, "<qi") == (0x111, 122) and raw[28:] == bytes(100)
    raw = S.pack_siginfo(SIGSYS, 0, S.SYS_SECCOMP, **everything)
    assert _fields(raw, "<QiI") == (0x144, 133, 0xC000003E) and raw[32:] == bytes(96)
    raw = S.pack_siginfo(40, 0, S.SI_TIMER, **everything)
    assert _fields(raw, "<iiQ") == (88, 99, 0x55) and raw[32:] == bytes(96)


def test_pack_siginfo_truncates_like_c():
    raw = S.pack_siginfo(SIGCHLD, -4, S.CLD_KILLED, pid=-1, uid=-1, status=1 << 32 | 9, utime=-1)
    assert _fields(raw, "<iii", 0) == (SIGCHLD, -4, 2)
    assert _fields(raw, "<iIi4xq") == (-1, 0xFFFFFFFF, 9, -1)


def test_unpack_siginfo():
    raw = S.pack_siginfo(SIGUSR1, 0, S.SI_QUEUE, pid=7, uid=8, value=0xABCDEF)
    info = S.unpack_siginfo(raw)
    assert (info["signo"], info["errno"], info["code"], info["layout"]) == (SIGUSR1, 0, -1, "rt")
    assert (info["pid"], info["uid"], info["value"], info["raw"]) == (7, 8, 0xABCDEF, raw)
    info = S.unpack_siginfo(S.pack_siginfo(SIGSYS, 0, S.SYS_SECCOMP, call_addr=0x1000, syscall=-1, arch=5))
    assert (info["call_addr"], info["syscall"], info["arch"]) == (0x1000, -1, 5)
    assert S.unpack_siginfo(bytearray(raw))["raw"] == raw
    with pytest.raises(ValueError):
        S.unpack_siginfo(raw[:100])


# --- against the C headers --------------------------------------------------------------


def _run_c(tmp_path, name: str, source: str) -> dict[str, str]:
    src = tmp_path / f"{name}.c"
    exe = tmp_path / name
    src.write_text(source)
    subprocess.run([GCC, "-O2", "-Wall", "-o", str(exe), str(src)], check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60).stdout
    return dict(line.rsplit(None, 1) for line in out.splitlines())


UAPI_LAYOUT_C = r"""
#include <stddef.h>
#include <stdio.h>
#include <asm/signal.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>
#include <asm/siginfo.h>

struct rt_sigframe { char *pretcode; struct ucontext uc; siginfo_t info; };
#define P(expr) printf("%s %ld\n", #expr, (long)(expr))
#define SC(field) printf("sc.%s %ld\n", #field, (long)offsetof(struct sigcontext, field))

int main(void)
{
    P(sizeof(struct sigcontext)); P(sizeof(struct ucontext)); P(sizeof(siginfo_t));
    P(sizeof(struct rt_sigframe)); P(offsetof(struct rt_sigframe, uc));
    P(offsetof(struct rt_sigframe, info));
    P(offsetof(struct ucontext, uc_link)); P(offsetof(struct ucontext, uc_stack));
    P(offsetof(struct ucontext, uc_mcontext)); P(offsetof(struct ucontext, uc_sigmask));
    SC(r8); SC(r9); SC(r10); SC(r11); SC(r12); SC(r13); SC(r14); SC(r15); SC(rdi); SC(rsi); SC(rbp);
    SC(rbx); SC(rdx); SC(rax); SC(rcx); SC(rsp); SC(rip); SC(eflags); SC(cs); SC(gs); SC(fs); SC(ss);
    SC(err); SC(trapno); SC(oldmask); SC(cr2); SC(fpstate); SC(reserved1);
    P(offsetof(struct _fpstate_64, mxcsr)); P(offsetof(struct _fpstate_64, sw_reserved));
    P(sizeof(struct _fpstate_64)); P(sizeof(struct _fpx_sw_bytes));
    P(offsetof(struct _fpx_sw_bytes, extended_size)); P(offsetof(struct _fpx_sw_bytes, xfeatures));
    P(offsetof(struct _fpx_sw_bytes, xstate_size)); P(offsetof(struct _xstate, xstate_hdr));
    P(FP_XSTATE_MAGIC1); P(FP_XSTATE_MAGIC2); P(FP_XSTATE_MAGIC2_SIZE);
    P(UC_FP_XSTATE); P(UC_SIGCONTEXT_SS); P(UC_STRICT_RESTORE_SS);
    P(SI_USER); P(SI_KERNEL); P(SI_QUEUE); P(SI_TIMER); P(SI_MESGQ); P(SI_ASYNCIO); P(SI_SIGIO);
    P(SI_TKILL); P(SI_DETHREAD); P(SI_ASYNCNL);
    P(NSIGILL); P(NSIGFPE); P(NSIGSEGV); P(NSIGBUS); P(NSIGTRAP); P(NSIGCHLD); P(NSIGPOLL); P(NSIGSYS);
    P(SEGV_BNDERR); P(SEGV_PKUERR); P(BUS_MCEERR_AR); P(BUS_MCEERR_AO); P(TRAP_PERF);
    P(offsetof(siginfo_t, si_pid)); P(offsetof(siginfo_t, si_uid)); P(offsetof(siginfo_t, si_value));
    P(offsetof(siginfo_t, si_tid)); P(offsetof(siginfo_t, si_overrun));
    P(offsetof(siginfo_t, si_status)); P(offsetof(siginfo_t, si_utime)); P(offsetof(siginfo_t, si_stime));
    P(offsetof(siginfo_t, si_addr)); P(offsetof(siginfo_t, si_band)); P(offsetof(siginfo_t, si_fd));
    P(offsetof(siginfo_t, si_call_addr)); P(offsetof(siginfo_t, si_syscall));
    P(offsetof(siginfo_t, si_arch));
    return 0;
}
"""

GLIBC_LAYOUT_C = r"""
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ucontext.h>

#define P(expr) printf("%s %ld\n", #expr, (long)(expr))

int main(void)
{
    P(offsetof(ucontext_t, uc_flags)); P(offsetof(ucontext_t, uc_link));
    P(offsetof(ucontext_t, uc_stack)); P(offsetof(ucontext_t, uc_mcontext));
    P(offsetof(ucontext_t, uc_sigmask)); P(sizeof(mcontext_t)); P(sizeof(stack_t));
    P(offsetof(mcontext_t, fpregs));
    P(REG_R8); P(REG_R15); P(REG_RDI); P(REG_RSI); P(REG_RBP); P(REG_RBX); P(REG_RDX); P(REG_RAX);
    P(REG_RCX); P(REG_RSP); P(REG_RIP); P(REG_EFL); P(REG_CSGSFS); P(REG_ERR); P(REG_TRAPNO);
    P(REG_OLDMASK); P(REG_CR2);
    P(sizeof(siginfo_t)); P(offsetof(siginfo_t, si_pid)); P(offsetof(siginfo_t, si_uid));
    P(offsetof(siginfo_t, si_value)); P(offsetof(siginfo_t, si_status));
    P(offsetof(siginfo_t, si_utime)); P(offsetof(siginfo_t, si_stime));
    P(offsetof(siginfo_t, si_addr)); P(offsetof(siginfo_t, si_band)); P(offsetof(siginfo_t, si_fd));
    P(offsetof(siginfo_t, si_timerid)); P(offsetof(siginfo_t, si_overrun));
    P(offsetof(siginfo_t, si_call_addr)); P(offsetof(siginfo_t, si_syscall));
    P(offsetof(siginfo_t, si_arch));
    return 0;
}
"""


@needs_gcc
def test_layout_matches_kernel_headers(tmp_path):
    c = {k: int(v) for k, v in _run_c(tmp_path, "uapi", UAPI_LAYOUT_C).items()}
    assert c["sizeof(struct sigcontext)"] == S.SIGCONTEXT_SIZE
    assert c["sizeof(struct ucontext)"] == S.UCONTEXT_SIZE
    assert c["sizeof(siginfo_t)"] == S.SIGINFO_SIZE
    assert c["sizeof(struct rt_sigframe)"] == S.RT_SIGFRAME_SIZE
    assert c["offsetof(struct rt_sigframe, uc)"] == S.FRAME_UC_OFFSET
    assert c["offsetof(struct rt_sigframe, info)"] == S.FRAME_INFO_OFFSET
    assert c["offsetof(struct ucontext, uc_link)"] == S.UC_LINK_OFFSET
    assert c["offsetof(struct ucontext, uc_stack)"] == S.UC_STACK_OFFSET
    assert c["offsetof(struct ucontext, uc_mcontext)"] == S.UC_MCONTEXT_OFFSET
    assert c["offsetof(struct ucontext, uc_sigmask)"] == S.UC_SIGMASK_OFFSET
    assert [c[f"sc.{n}"] for n in S.SIGCONTEXT_REGS] == [8 * i for i in range(len(S.SIGCONTEXT_REGS))]
    assert [c[f"sc.{n}"] for n in ("cs", "gs", "fs", "ss")] == [144, 146, 148, S.SC_SS_OFFSET]
    assert [c[f"sc.{n}"] for n in ("err", "trapno", "oldmask", "cr2", "fpstate", "reserved1")] == [
        S.SC_ERR_OFFSET, S.SC_TRAPNO_OFFSET, S.SC_OLDMASK_OFFSET, S.SC_CR2_OFFSET, S.SC_FPSTATE_OFFSET, 192]
    assert c["offsetof(struct _fpstate_64, mxcsr)"] == S.FXSAVE_MXCSR_OFFSET
    assert c["offsetof(struct _fpstate_64, sw_reserved)"] == S.FPX_SW_BYTES_OFFSET
    assert c["sizeof(struct _fpstate_64)"] == S.FXSAVE_SIZE
    assert c["sizeof(struct _fpx_sw_bytes)"] == S.FPX_SW_BYTES.size
    assert [c[f"offsetof(struct _fpx_sw_bytes, {f})"] for f in ("extended_size", "xfeatures", "xstate_size")] \
        == [4, 8, 16]
    assert c["offsetof(struct _xstate, xstate_hdr)"] == S.XSAVE_HEADER_OFFSET
    assert (c["FP_XSTATE_MAGIC1"], c["FP_XSTATE_MAGIC2"]) == (S.FP_XSTATE_MAGIC1, S.FP_XSTATE_MAGIC2)
    assert c["FP_XSTATE_MAGIC2_SIZE"] == S.FP_XSTATE_MAGIC2_SIZE
    for name in ("UC_FP_XSTATE", "UC_SIGCONTEXT_SS", "UC_STRICT_RESTORE_SS", "SI_USER", "SI_KERNEL",
                 "SI_QUEUE", "SI_TIMER", "SI_MESGQ", "SI_ASYNCIO", "SI_SIGIO", "SI_TKILL", "SI_DETHREAD",
                 "SI_ASYNCNL", "SEGV_BNDERR", "SEGV_PKUERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO", "TRAP_PERF",
                 "NSIGPOLL"):
        assert c[name] == getattr(S, name), name
    limits = {SIGILL: "NSIGILL", SIGFPE: "NSIGFPE", SIGSEGV: "NSIGSEGV", SIGBUS: "NSIGBUS",
              SIGTRAP: "NSIGTRAP", SIGCHLD: "NSIGCHLD", SIGIO: "NSIGPOLL", SIGSYS: "NSIGSYS"}
    for signo, name in limits.items():
        ours = S._SIGNAL_CODE_LIMITS[signo][0]
        # headers older than the kernel this follows may lack the newest codes (SEGV_CPERR)
        assert ours == c[name] or (signo == SIGSEGV and ours >= c[name]), name
    raw = S.pack_siginfo(SIGCHLD, 0, S.CLD_EXITED, pid=0x1111, uid=0x2222, status=0x3333, utime=0x4444,
                         stime=0x5555)
    for field, fmt, value in (("si_pid", "<i", 0x1111), ("si_uid", "<I", 0x2222), ("si_status", "<i", 0x3333),
                              ("si_utime", "<q", 0x4444), ("si_stime", "<q", 0x5555)):
        assert struct.unpack_from(fmt, raw, c[f"offsetof(siginfo_t, {field})"])[0] == value, field
    raw = S.pack_siginfo(40, 0, S.SI_TIMER, timerid=0x11, overrun=0x22, value=0x33)
    for field, fmt, value in (("si_tid", "<i", 0x11), ("si_overrun", "<i", 0x22), ("si_value", "<Q", 0x33)):
        assert struct.unpack_from(fmt, raw, c[f"offsetof(siginfo_t, {field})"])[0] == value, field
    raw = S.pack_siginfo(SIGIO, 0, S.POLL_IN, band=0x44, fd=0x55)
    assert struct.unpack_from("<q", raw, c["offsetof(siginfo_t, si_band)"])[0] == 0x44
    assert struct.unpack_from("<i", raw, c["offsetof(siginfo_t, si_fd)"])[0] == 0x55
    raw = S.pack_siginfo(SIGSYS, 0, S.SYS_SECCOMP, call_addr=0x66, syscall=0x77, arch=0x88)
    for field, fmt, value in (("si_call_addr", "<Q", 0x66), ("si_syscall", "<i", 0x77), ("si_arch", "<I", 0x88)):
        assert struct.unpack_from(fmt, raw, c[f"offsetof(siginfo_t, {field})"])[0] == value, field
    raw = S.pack_siginfo(SIGSEGV, 0, S.SEGV_MAPERR, addr=0x99)
    assert struct.unpack_from("<Q", raw, c["offsetof(siginfo_t, si_addr)"])[0] == 0x99


@needs_gcc
def test_layout_matches_glibc_prefix(tmp_path):
    c = {k: int(v) for k, v in _run_c(tmp_path, "glibc", GLIBC_LAYOUT_C).items()}
    assert c["offsetof(ucontext_t, uc_link)"] == S.UC_LINK_OFFSET
    assert c["offsetof(ucontext_t, uc_stack)"] == S.UC_STACK_OFFSET
    assert c["offsetof(ucontext_t, uc_mcontext)"] == S.UC_MCONTEXT_OFFSET
    assert c["offsetof(ucontext_t, uc_sigmask)"] == S.UC_SIGMASK_OFFSET
    assert c["sizeof(mcontext_t)"] == S.SIGCONTEXT_SIZE and c["sizeof(stack_t)"] == 24
    assert c["offsetof(mcontext_t, fpregs)"] == S.SC_FPSTATE_OFFSET
    glibc = ["REG_R8", "REG_R15", "REG_RDI", "REG_RSI", "REG_RBP", "REG_RBX", "REG_RDX", "REG_RAX",
             "REG_RCX", "REG_RSP", "REG_RIP", "REG_EFL"]
    ours = ["r8", "r15", "rdi", "rsi", "rbp", "rbx", "rdx", "rax", "rcx", "rsp", "rip", "eflags"]
    assert [c[g] for g in glibc] == [S.SIGCONTEXT_REGS.index(n) for n in ours]
    assert [8 * c[g] for g in ("REG_CSGSFS", "REG_ERR", "REG_TRAPNO", "REG_OLDMASK", "REG_CR2")] == [
        S.SC_CS_OFFSET, S.SC_ERR_OFFSET, S.SC_TRAPNO_OFFSET, S.SC_OLDMASK_OFFSET, S.SC_CR2_OFFSET]
    assert c["sizeof(siginfo_t)"] == S.SIGINFO_SIZE
    assert [c[f"offsetof(siginfo_t, {f})"] for f in ("si_pid", "si_uid", "si_value", "si_status", "si_utime",
                                                     "si_stime", "si_addr", "si_band", "si_fd", "si_timerid",
                                                     "si_overrun", "si_call_addr", "si_syscall", "si_arch")] \
        == [16, 20, 24, 24, 32, 40, 16, 16, 24, 16, 20, 16, 24, 28]


# --- against frames the host kernel builds ------------------------------------------------

# Two signals are taken on an alternate stack with every general register holding a
# known value: SIGUSR1 raised by a raw tgkill (delivered as that syscall returns) and a
# SIGSEGV from reading address 0x1234. DF is set at both points. Each handler copies
# everything from its frame up to the top of the alternate stack, which is zeroed before.
NATIVE_FRAME_C = r"""
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define STACK_BYTES 65536
#define SS_SIZE (STACK_BYTES - 40)
static unsigned char altstack[STACK_BYTES] __attribute__((aligned(4096)));

struct capture {
    uintptr_t uc, info, ret, fpregs, handler_eflags, frame;
    size_t len;
    unsigned char bytes[STACK_BYTES];
};
static struct capture cap[2];
static volatile int which;

unsigned long g_rbp, g_rsp[2], g_rip[2], g_pid, g_tid;

static void handler(int sig, siginfo_t *si, void *ucv)
{
    struct capture *c = &cap[which];
    ucontext_t *uc = ucv;
    uintptr_t top = (uintptr_t)altstack + SS_SIZE;
    uintptr_t flags;
    __asm__ volatile("pushfq; popq %0" : "=r"(flags));
    c->frame = (uintptr_t)ucv - 8;
    c->uc = (uintptr_t)ucv;
    c->info = (uintptr_t)si;
    c->ret = (uintptr_t)__builtin_return_address(0);
    c->fpregs = (uintptr_t)uc->uc_mcontext.fpregs;
    c->handler_eflags = flags;
    if (c->frame >= (uintptr_t)altstack && c->frame < top) {
        c->len = top - c->frame;
        memcpy(c->bytes, (void *)c->frame, c->len);
    }
    if (sig == SIGSEGV)
        uc->uc_mcontext.gregs[REG_RIP] += 3; /* past movq (%rbx),%rax */
}

#define LOAD_REGS \
    "movabsq $0x0808080808080808, %%r8\n\t" \
    "movabsq $0x0909090909090909, %%r9\n\t" \
    "movabsq $0x1010101010101010, %%r10\n\t" \
    "movabsq $0x1212121212121212, %%r12\n\t" \
    "movabsq $0x1313131313131313, %%r13\n\t" \
    "movabsq $0x1414141414141414, %%r14\n\t" \
    "movabsq $0x1515151515151515, %%r15\n\t" \
    "movabsq $0x0b0b0b0b0b0b0b0b, %%rbp\n\t"

#define CLOBBERS "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", \
    "r12", "r13", "r14", "r15", "memory", "cc"

static void fire_tgkill(void)
{
    __asm__ volatile(
        "movq %%rbp, %[rbp_]\n\t"
        "movq %%rsp, %[rsp_]\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "movq %%rax, %[rip_]\n\t"
        "movq %[pid], %%rdi\n\t"
        "movq %[tid], %%rsi\n\t"
        "movl $10, %%edx\n\t"
        "movabsq $0x0c0c0c0c0c0c0c0c, %%rbx\n\t"
        LOAD_REGS
        "movl $234, %%eax\n\t"
        "std\n\t"
        "syscall\n"
        "1:\n\t"
        "cld\n\t"
        "movq %[rbp_], %%rbp\n\t"
        : [rbp_] "+m"(g_rbp), [rsp_] "+m"(g_rsp[0]), [rip_] "+m"(g_rip[0])
        : [pid] "m"(g_pid), [tid] "m"(g_tid)
        : CLOBBERS);
}

static void fire_segv(void)
{
    __asm__ volatile(
        "movq %%rbp, %[rbp_]\n\t"
        "movq %%rsp, %[rsp_]\n\t"
        "leaq 2f(%%rip), %%rax\n\t"
        "movq %%rax, %[rip_]\n\t"
        "movabsq $0x0d0d0d0d0d0d0d0d, %%rdi\n\t"
        "movabsq $0x0e0e0e0e0e0e0e0e, %%rsi\n\t"
        "movabsq $0x0f0f0f0f0f0f0f0f, %%rdx\n\t"
        "movabsq $0x0a0a0a0a0a0a0a0a, %%rax\n\t"
        "movabsq $0x0c0c0c0c0c0c0c0c, %%rcx\n\t"
        "movl $0x1234, %%ebx\n\t"
        LOAD_REGS
        "std\n\t"
        "2: movq (%%rbx), %%rax\n\t"
        "cld\n\t"
        "movq %[rbp_], %%rbp\n\t"
        : [rbp_] "+m"(g_rbp), [rsp_] "+m"(g_rsp[1]), [rip_] "+m"(g_rip[1])
        : : CLOBBERS);
}

static void dump(const char *name, struct capture *c, int i)
{
    printf("%s.frame %lu\n%s.uc %lu\n%s.info %lu\n%s.ret %lu\n%s.fpregs %lu\n%s.handler_eflags %lu\n",
           name, (unsigned long)c->frame, name, (unsigned long)c->uc, name, (unsigned long)c->info,
           name, (unsigned long)c->ret, name, (unsigned long)c->fpregs, name,
           (unsigned long)c->handler_eflags);
    printf("%s.rip %lu\n%s.rsp %lu\n%s.bytes ", name, g_rip[i], name, g_rsp[i], name);
    for (size_t k = 0; k < c->len; k++)
        printf("%02x", c->bytes[k]);
    printf("\n");
}

int main(void)
{
    stack_t ss = {.ss_sp = altstack, .ss_flags = 0, .ss_size = SS_SIZE};
    struct sigaction sa, old;
    sigset_t block;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGSEGV, &sa, NULL))
        return 1;
    if (sigaction(SIGUSR1, NULL, &old))
        return 1;
    sigemptyset(&block);
    sigaddset(&block, SIGWINCH);
    sigaddset(&block, 37);
    if (sigprocmask(SIG_BLOCK, &block, NULL))
        return 1;

    g_pid = getpid();
    g_tid = syscall(SYS_gettid);
    memset(altstack, 0, sizeof altstack);
    which = 0;
    fire_tgkill();
    memset(altstack, 0, sizeof altstack);
    which = 1;
    fire_segv();

    printf("pid %lu\ntid %lu\nuid %lu\n", g_pid, g_tid, (unsigned long)getuid());
    printf("ss_sp %lu\nss_size %lu\nrestorer %lu\n", (unsigned long)altstack, (unsigned long)SS_SIZE,
           (unsigned long)old.sa_restorer);
    dump("usr1", &cap[0], 0);
    dump("segv", &cap[1], 1);
    return 0;
}
"""

KNOWN = dict(r8=0x0808080808080808, r9=0x0909090909090909, r10=0x1010101010101010, r12=0x1212121212121212,
             r13=0x1313131313131313, r14=0x1414141414141414, r15=0x1515151515151515, rbp=0x0B0B0B0B0B0B0B0B)
BLOCKED = (1 << (28 - 1)) | (1 << (37 - 1))  # SIGWINCH and signal 37


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    if not (GCC and ON_X86_64_LINUX):
        pytest.skip("needs gcc on an x86-64 Linux host")
    raw = _run_c(tmp_path_factory.mktemp("sigframe"), "native", NATIVE_FRAME_C)
    out: dict = {k: (bytes.fromhex(v) if k.endswith(".bytes") else int(v)) for k, v in raw.items()}
    out["top"] = out["ss_sp"] + out["ss_size"]
    for name in ("usr1", "segv"):
        assert out[f"{name}.bytes"], f"the {name} frame was not on the alternate stack"
    return out


def _kernel_case(native, name):
    """What the kernel delivered for one signal: its frame, and the inputs build_frame needs
    to lay out the same frame (registers we set, plus those we could not choose)."""
    frame, blob = native[f"{name}.frame"], native[f"{name}.bytes"]
    sc = S.SIGCONTEXT.unpack_from(blob, S.FRAME_UC_OFFSET + S.UC_MCONTEXT_OFFSET)
    kernel = dict(zip(S.SIGCONTEXT_REGS, sc))
    regs = Regs.zeros()
    for reg, value in KNOWN.items():
        setattr(regs, reg, value)
    regs.rsp, regs.rip, regs.cs, regs.ss = native[f"{name}.rsp"], native[f"{name}.rip"], 0x33, 0x2B
    if name == "usr1":
        regs.rdi, regs.rsi, regs.rdx, regs.rbx, regs.rax = native["pid"], native["tid"], SIGUSR1, 0x0C0C0C0C0C0C0C0C, 0
        regs.rcx = regs.rip  # the syscall instruction leaves the return address in rcx
        regs.r11 = kernel["r11"]  # ... and the flags in r11
        assert kernel["r11"] & 0xFFFF == kernel["eflags"] & 0xFFFF
    else:
        regs.rdi, regs.rsi, regs.rdx, regs.rbx = 0x0D0D0D0D0D0D0D0D, 0x0E0E0E0E0E0E0E0E, 0x0F0F0F0F0F0F0F0F, 0x1234
        regs.rax, regs.rcx, regs.r11 = 0x0A0A0A0A0A0A0A0A, 0x0C0C0C0C0C0C0C0C, kernel["r11"]
    regs.eflags = kernel["eflags"]
    fp = native[f"{name}.fpregs"]
    legacy = blob[fp - frame:fp - frame + S.FXSAVE_SIZE]
    magic1, _, xfeatures, xstate_size = S.FPX_SW_BYTES.unpack_from(legacy, S.FPX_SW_BYTES_OFFSET)
    size = xstate_size if magic1 == S.FP_XSTATE_MAGIC1 else S.FXSAVE_SIZE
    fpstate = bytearray(blob[fp - frame:fp - frame + size])
    fpstate[S.FPX_SW_BYTES_OFFSET:S.FXSAVE_SIZE] = bytes(48)  # build_frame must write these itself
    return frame, blob, regs, bytes(fpstate), xfeatures


@needs_gcc
@pytest.mark.parametrize("name", ["usr1", "segv"])
def test_frame_matches_the_kernel(native, name):
    frame, blob, regs, fpstate, xfeatures = _kernel_case(native, name)
    if name == "usr1":
        siginfo = S.pack_siginfo(SIGUSR1, 0, S.SI_TKILL, pid=native["pid"], uid=native["uid"])
        faults = {}
    else:
        siginfo = S.pack_siginfo(SIGSEGV, 0, S.SEGV_MAPERR, addr=0x1234)
        faults = dict(trapno=14, err=4, cr2=0x1234)  # page fault; user-mode read, page not present
    assert blob[S.FRAME_INFO_OFFSET:S.RT_SIGFRAME_SIZE] == siginfo
    ours_at, ours = S.build_frame(
        regs, sp=native["top"], signo=SIGUSR1, siginfo=siginfo, blocked_mask=BLOCKED,
        altstack=(native["ss_sp"], 0, native["ss_size"]), restorer=native["restorer"], fpstate=fpstate,
        on_altstack=True, xfeatures=xfeatures if len(fpstate) > 512 else None, **faults)
    assert ours_at == frame
    assert len(ours) <= len(blob)
    differing = [i for i in range(len(ours)) if ours[i] != blob[i]]
    assert not differing, f"bytes differ at frame offsets {differing[:16]}"
    assert not any(blob[len(ours):]), "the kernel wrote above the FP area"


@needs_gcc
@pytest.mark.parametrize("name", ["usr1", "segv"])
def test_kernel_frame_facts(native, name):
    frame, blob = native[f"{name}.frame"], native[f"{name}.bytes"]
    uc_flags = struct.unpack_from("<Q", blob, S.FRAME_UC_OFFSET)[0]
    fp = native[f"{name}.fpregs"]
    assert native[f"{name}.uc"] - frame == S.FRAME_UC_OFFSET
    assert native[f"{name}.info"] - native[f"{name}.uc"] == S.UCONTEXT_SIZE
    assert native[f"{name}.ret"] == native["restorer"] == struct.unpack_from("<Q", blob, 0)[0]
    assert (frame + 8) % 16 == 0 and fp % 64 == 0
    assert uc_flags & (S.UC_SIGCONTEXT_SS | S.UC_STRICT_RESTORE_SS) == S.UC_SIGCONTEXT_SS | S.UC_STRICT_RESTORE_SS
    if uc_flags & S.UC_FP_XSTATE:
        magic1, extended, _, size = S.FPX_SW_BYTES.unpack_from(blob, fp - frame + S.FPX_SW_BYTES_OFFSET)
        assert magic1 == S.FP_XSTATE_MAGIC1 and extended == size + 4
        assert struct.unpack_from("<I", blob, fp - frame + size)[0] == S.FP_XSTATE_MAGIC2
        expected = S.frame_layout(native["top"], size + 4)
    else:
        expected = S.frame_layout(native["top"], 512)
    assert expected == (frame, fp)
    altstack = (native["ss_sp"], 0, native["ss_size"])
    assert S.signal_stack(native[f"{name}.rsp"], altstack, sa_onstack=True) == (native["top"], True)
    eflags = sc_field(blob, 8 * S.SIGCONTEXT_REGS.index("eflags"))
    assert eflags & S.X86_EFLAGS_DF  # the interrupted code ran with DF set
    assert not native[f"{name}.handler_eflags"] & S.X86_EFLAGS_DF  # the handler did not
    regs = Regs.zeros()
    regs.eflags = eflags
    assert not S.handler_registers(regs, frame, 0, 0).eflags & S.X86_EFLAGS_DF
    assert sc_field(blob, S.SC_CS_OFFSET, "<H") == S.USER_CS
    assert sc_field(blob, S.SC_SS_OFFSET, "<H") == S.USER_DS


@needs_gcc
@pytest.mark.parametrize("name", ["usr1", "segv"])
def test_parse_reads_the_kernel_frame(native, name):
    frame, blob, regs, fpstate, _ = _kernel_case(native, name)
    state = S.parse_frame(memory(frame, blob), frame + 8, eflags=0x202)
    for reg in S.SIGCONTEXT_REGS[:-1]:
        assert state.registers[reg] == getattr(regs, reg), reg
    assert state.registers["eflags"] & S.X86_EFLAGS_DF
    assert state.registers["orig_rax"] == MASK64
    assert state.blocked_mask == BLOCKED
    assert state.altstack == (native["ss_sp"], 0, native["ss_size"])
    assert len(state.fpstate) == len(fpstate)
    assert state.fpstate[:S.FPX_SW_BYTES_OFFSET] == fpstate[:S.FPX_SW_BYTES_OFFSET]
    assert state.fpstate[S.FXSAVE_SIZE:] == fpstate[S.FXSAVE_SIZE:]
