"""The x86-64 signal frame: what the kernel writes on a stack to run a signal handler,
and what rt_sigreturn reads back.

Memory, from high addresses to low, when a handler is entered::

    top (the interrupted rsp minus the 128-byte red zone, or the top of the
         alternate signal stack when the delivery switches to it: `signal_stack`)
    ... padding down to a 64-byte boundary
    FP area: FXSAVE (512 bytes) or XSAVE image + FP_XSTATE_MAGIC2   <- sigcontext.fpstate
    ... padding
    struct rt_sigframe { pretcode; struct ucontext uc; siginfo_t info; }
    ^ frame address = rsp at handler entry; (frame + 8) % 16 == 0, as after a `call`

`struct ucontext` here is the kernel's (304 bytes: flags, link, stack_t, sigcontext and
one 64-bit sigset word), not glibc's larger `ucontext_t`, whose extra fields only follow
the common prefix.

Everything here is a pure function of its arguments; reading guest memory is delegated to
the `read(addr, length) -> bytes` callable that `parse_frame` is given.
"""

from __future__ import annotations

import struct

from slimbox.abi.regs import MASK64, Regs
from slimbox.abi.structs import STACK_T
from slimbox.abi.tuples import named_tuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable

MASK32 = (1 << 32) - 1

# --- siginfo_t --------------------------------------------------------------------------

SS_DISABLE, SS_AUTODISARM = 2, 1 << 31  # stack_t flags (as in flags.py, which is costly to import)
SIGINFO_SIZE = 128
#: si_signo, si_errno, si_code, then 4 bytes of padding: the union starts 8-aligned at 16
SIGINFO_HEAD = struct.Struct("<iii4x")
SIGINFO_UNION_OFFSET = 16

# si_code values that are not specific to one signal
SI_USER = 0
SI_KERNEL = 0x80
SI_QUEUE = -1
SI_TIMER = -2
SI_MESGQ = -3
SI_ASYNCIO = -4
SI_SIGIO = -5
SI_TKILL = -6
SI_DETHREAD = -7
SI_ASYNCNL = -60

# A few signal-specific codes the layout rules single out
SEGV_MAPERR = 1
SEGV_ACCERR = 2
SEGV_BNDERR = 3
SEGV_PKUERR = 4
BUS_MCEERR_AR = 4
BUS_MCEERR_AO = 5
TRAP_PERF = 6
CLD_EXITED = 1
CLD_KILLED = 2
CLD_DUMPED = 3
CLD_TRAPPED = 4
CLD_STOPPED = 5
CLD_CONTINUED = 6
POLL_IN = 1
SYS_SECCOMP = 1

# How many codes each signal defines (NSIGILL, NSIGFPE, ...); codes 1..limit select the
# signal's own union member, larger positive ones (below SI_KERNEL) fall back to kill.
_SIGNAL_CODE_LIMITS: dict[int, tuple[int, str]] = {
    4: (11, "fault"),   # SIGILL
    8: (15, "fault"),   # SIGFPE
    11: (10, "fault"),  # SIGSEGV
    7: (5, "fault"),    # SIGBUS
    5: (6, "fault"),    # SIGTRAP
    17: (6, "chld"),    # SIGCHLD
    29: (6, "poll"),    # SIGPOLL / SIGIO
    31: (2, "sys"),     # SIGSYS
}
NSIGPOLL = 6

#: the union members, as `siginfo_layout` names them
SIGINFO_LAYOUTS = ("kill", "timer", "rt", "chld", "fault", "poll", "sys")

_KILL = struct.Struct("<iI")  # si_pid, si_uid
_TIMER = struct.Struct("<iiQ")  # si_tid, si_overrun, si_value
_RT = struct.Struct("<iIQ")  # si_pid, si_uid, si_value
_CHLD = struct.Struct("<iIi4xqq")  # si_pid, si_uid, si_status, si_utime, si_stime
_FAULT = struct.Struct("<Q")  # si_addr (the variants' extra fields stay zero)
_POLL = struct.Struct("<qi")  # si_band, si_fd
_SYS = struct.Struct("<QiI")  # si_call_addr, si_syscall, si_arch


def _u32(value: int) -> int:
    return value & MASK32


def _s32(value: int) -> int:
    """`value` truncated to 32 bits as C does, read back as signed."""
    return ((value & MASK32) ^ 0x80000000) - 0x80000000


def _s64(value: int) -> int:
    return ((value & MASK64) ^ (1 << 63)) - (1 << 63)


def siginfo_layout(signo: int, code: int) -> str:
    """Which member of the siginfo union Linux fills for this signal and si_code."""
    if SI_USER < code < SI_KERNEL:
        entry = _SIGNAL_CODE_LIMITS.get(signo)
        if entry is not None and code <= entry[0]:
            return entry[1]
        if entry is None and code <= NSIGPOLL:
            # e.g. a real-time signal chosen with F_SETSIG carries POLL_* codes
            return "poll"
        return "kill"
    if code == SI_TIMER:
        return "timer"
    if code == SI_SIGIO:
        return "poll"
    if code < 0:
        return "rt"
    return "kill"  # SI_USER, SI_KERNEL and anything above it


def pack_siginfo(signo: int, errno: int, code: int, *, pid: int = 0, uid: int = 0, status: int = 0,
                 addr: int = 0, value: int = 0, utime: int = 0, stime: int = 0, timerid: int = 0,
                 overrun: int = 0, band: int = 0, fd: int = 0, syscall: int = 0, arch: int = 0,
                 call_addr: int = 0) -> bytes:
    """A 128-byte siginfo_t with only the union member `siginfo_layout` selects filled in;
    the rest is zero, as the kernel clears a siginfo before filling it."""
    out = bytearray(SIGINFO_SIZE)
    SIGINFO_HEAD.pack_into(out, 0, _s32(signo), _s32(errno), _s32(code))
    layout = siginfo_layout(signo, code)
    at = SIGINFO_UNION_OFFSET
    u32, s32, s64 = _u32, _s32, _s64
    if layout == "kill":
        _KILL.pack_into(out, at, s32(pid), u32(uid))
    elif layout == "timer":
        _TIMER.pack_into(out, at, s32(timerid), s32(overrun), value & MASK64)
    elif layout == "rt":
        _RT.pack_into(out, at, s32(pid), u32(uid), value & MASK64)
    elif layout == "chld":
        _CHLD.pack_into(out, at, s32(pid), u32(uid), s32(status), s64(utime), s64(stime))
    elif layout == "fault":
        _FAULT.pack_into(out, at, addr & MASK64)
    elif layout == "poll":
        _POLL.pack_into(out, at, s64(band), s32(fd))
    else:
        _SYS.pack_into(out, at, call_addr & MASK64, s32(syscall), u32(arch))
    return bytes(out)


def unpack_siginfo(raw: bytes) -> dict:
    """Decode a siginfo_t a program handed in (rt_sigqueueinfo, rt_tgsigqueueinfo): the
    header, the layout name, the fields of that layout and the untouched 128 bytes."""
    raw = bytes(raw)
    if len(raw) != SIGINFO_SIZE:
        raise ValueError(f"siginfo_t is {SIGINFO_SIZE} bytes, not {len(raw)}")
    signo, errno, code = SIGINFO_HEAD.unpack_from(raw, 0)
    layout = siginfo_layout(signo, code)
    out: dict = {"signo": signo, "errno": errno, "code": code, "layout": layout, "raw": raw}
    at = SIGINFO_UNION_OFFSET
    if layout == "kill":
        out["pid"], out["uid"] = _KILL.unpack_from(raw, at)
    elif layout == "timer":
        out["timerid"], out["overrun"], out["value"] = _TIMER.unpack_from(raw, at)
    elif layout == "rt":
        out["pid"], out["uid"], out["value"] = _RT.unpack_from(raw, at)
    elif layout == "chld":
        out["pid"], out["uid"], out["status"], out["utime"], out["stime"] = _CHLD.unpack_from(raw, at)
    elif layout == "fault":
        (out["addr"],) = _FAULT.unpack_from(raw, at)
    elif layout == "poll":
        out["band"], out["fd"] = _POLL.unpack_from(raw, at)
    else:
        out["call_addr"], out["syscall"], out["arch"] = _SYS.unpack_from(raw, at)
    return out


# --- struct sigcontext, struct ucontext, struct rt_sigframe --------------------------------

#: the general registers in struct sigcontext order (all u64), eflags last
SIGCONTEXT_REGS: tuple[str, ...] = (
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    "rdi", "rsi", "rbp", "rbx", "rdx", "rax", "rcx", "rsp", "rip", "eflags",
)
# 18 registers; cs, gs, fs, ss (u16); err, trapno, oldmask, cr2, fpstate; reserved1[8]
SIGCONTEXT = struct.Struct("<18Q4H5Q64x")
SIGCONTEXT_SIZE = SIGCONTEXT.size  # 256
SC_CS_OFFSET = 8 * len(SIGCONTEXT_REGS)  # 144
SC_SS_OFFSET = SC_CS_OFFSET + 6  # 150
SC_ERR_OFFSET = SC_CS_OFFSET + 8  # 152
SC_TRAPNO_OFFSET = SC_ERR_OFFSET + 8  # 160
SC_OLDMASK_OFFSET = SC_TRAPNO_OFFSET + 8  # 168
SC_CR2_OFFSET = SC_OLDMASK_OFFSET + 8  # 176
SC_FPSTATE_OFFSET = SC_CR2_OFFSET + 8  # 184

# struct ucontext (the kernel's): uc_flags, uc_link, uc_stack, uc_mcontext, uc_sigmask
UC_FLAGS_OFFSET = 0
UC_LINK_OFFSET = 8
UC_STACK_OFFSET = 16
UC_MCONTEXT_OFFSET = UC_STACK_OFFSET + STACK_T.size  # 40
UC_SIGMASK_OFFSET = UC_MCONTEXT_OFFSET + SIGCONTEXT_SIZE  # 296
UCONTEXT_SIZE = UC_SIGMASK_OFFSET + 8  # 304
UCONTEXT_HEAD = struct.Struct("<QQ")

# struct rt_sigframe: pretcode, uc, info
FRAME_PRETCODE_OFFSET = 0
FRAME_UC_OFFSET = 8
FRAME_INFO_OFFSET = FRAME_UC_OFFSET + UCONTEXT_SIZE  # 312
RT_SIGFRAME_SIZE = FRAME_INFO_OFFSET + SIGINFO_SIZE  # 440

UC_FP_XSTATE = 0x1
UC_SIGCONTEXT_SS = 0x2
UC_STRICT_RESTORE_SS = 0x4

RED_ZONE = 128
USER_CS = 0x33
USER_DS = 0x2B
#: the end of the user half of the address space (TASK_SIZE_MAX with 4-level paging)
USER_SPACE_END = 0x7FFFFFFFF000

# eflags bits
X86_EFLAGS_CF = 0x00000001
X86_EFLAGS_PF = 0x00000004
X86_EFLAGS_AF = 0x00000010
X86_EFLAGS_ZF = 0x00000040
X86_EFLAGS_SF = 0x00000080
X86_EFLAGS_TF = 0x00000100
X86_EFLAGS_IF = 0x00000200
X86_EFLAGS_DF = 0x00000400
X86_EFLAGS_OF = 0x00000800
X86_EFLAGS_RF = 0x00010000
X86_EFLAGS_AC = 0x00040000
#: the flags rt_sigreturn takes from the frame; every other bit keeps its current value
FIX_EFLAGS = (X86_EFLAGS_AC | X86_EFLAGS_OF | X86_EFLAGS_DF | X86_EFLAGS_TF | X86_EFLAGS_SF
              | X86_EFLAGS_ZF | X86_EFLAGS_AF | X86_EFLAGS_PF | X86_EFLAGS_CF | X86_EFLAGS_RF)
#: the flags cleared for the handler: DF for the function-entry ABI, TF and RF so a
#: traced or single-stepped program does not trap at once inside the handler
HANDLER_CLEARED_EFLAGS = X86_EFLAGS_DF | X86_EFLAGS_RF | X86_EFLAGS_TF
#: what user-mode eflags normally hold (IF and the always-one bit 1)
DEFAULT_USER_EFLAGS = 0x202

#: signals that can never be blocked: SIGKILL (9) and SIGSTOP (19)
UNBLOCKABLE_MASK = (1 << (9 - 1)) | (1 << (19 - 1))

# --- the FP area ------------------------------------------------------------------------

FXSAVE_SIZE = 512
FXSAVE_MXCSR_OFFSET = 24
MXCSR_RESERVED = 0xFFFF0000  # bits an FXRSTOR/XRSTOR refuses (#GP) if set
#: struct _fpx_sw_bytes lives in the last 48 bytes of the FXSAVE area (sw_reserved)
FPX_SW_BYTES_OFFSET = 464
FPX_SW_BYTES = struct.Struct("<IIQI28x")  # magic1, extended_size, xfeatures, xstate_size
FP_XSTATE_MAGIC1 = 0x46505853
FP_XSTATE_MAGIC2 = 0x46505845
FP_XSTATE_MAGIC2_SIZE = 4
XSAVE_HEADER_OFFSET = 512
XSAVE_HEADER = struct.Struct("<QQ48s")  # xstate_bv, xcomp_bv, reserved
XSAVE_MIN_SIZE = XSAVE_HEADER_OFFSET + XSAVE_HEADER.size  # 576
XFEATURE_MASK_FPSSE = 0x3
#: the largest XSAVE image parse_frame accepts unless told the thread's own size
XSTATE_SIZE_LIMIT = 16384

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def _fp_area(fpstate: bytes, xfeatures: int | None) -> tuple[bytes, bool]:
    """The bytes the kernel puts at sigcontext.fpstate, and whether they are XSAVE."""
    size = len(fpstate)
    if size < FXSAVE_SIZE:
        raise ValueError(f"an FP state image is at least {FXSAVE_SIZE} bytes, not {size}")
    image = bytearray(fpstate)
    if size == FXSAVE_SIZE:
        # plain FXSAVE: nothing in sw_reserved may pass for an XSAVE description
        image[FPX_SW_BYTES_OFFSET:FXSAVE_SIZE] = bytes(FXSAVE_SIZE - FPX_SW_BYTES_OFFSET)
        return bytes(image), False
    if size < XSAVE_MIN_SIZE:
        raise ValueError(f"an XSAVE image is at least {XSAVE_MIN_SIZE} bytes, not {size}")
    (xstate_bv,) = _U64.unpack_from(image, XSAVE_HEADER_OFFSET)
    # FP and SSE are always marked present, so a handler that edits only the legacy area
    # gets its edits restored.
    xstate_bv |= XFEATURE_MASK_FPSSE
    _U64.pack_into(image, XSAVE_HEADER_OFFSET, xstate_bv)
    if xfeatures is None:
        magic1, _, own_features, _ = FPX_SW_BYTES.unpack_from(image, FPX_SW_BYTES_OFFSET)
        # Images read with PTRACE_GETREGSET(NT_X86_XSTATE) already describe the features
        # the thread may use; otherwise name the ones present in this image.
        xfeatures = own_features if magic1 == FP_XSTATE_MAGIC1 else xstate_bv
    FPX_SW_BYTES.pack_into(image, FPX_SW_BYTES_OFFSET, FP_XSTATE_MAGIC1, size + FP_XSTATE_MAGIC2_SIZE,
                           (xfeatures | XFEATURE_MASK_FPSSE) & MASK64, size)
    return bytes(image) + _U32.pack(FP_XSTATE_MAGIC2), True


def frame_uc_flags(regs: Regs, xsave: bool) -> int:
    """uc_flags as Linux sets them: SS is always saved; it is restored strictly when the
    signal interrupted 64-bit code; UC_FP_XSTATE when the FP area is an XSAVE image."""
    flags = UC_SIGCONTEXT_SS
    if xsave:
        flags |= UC_FP_XSTATE
    if regs.cs & 0xFFFF == USER_CS:
        flags |= UC_STRICT_RESTORE_SS
    return flags


def signal_stack(rsp: int, altstack: tuple[int, int, int], *, sa_onstack: bool) -> tuple[int, bool]:
    """Where a signal frame goes, as Linux chooses: (top, on_altstack) for `build_frame`.

    `rsp` is the interrupted stack pointer and `altstack` the thread's sigaltstack
    (ss_sp, ss_flags, ss_size) at delivery. The red zone below rsp is left alone; a
    handler with SA_ONSTACK switches to the alternate stack unless the thread is already
    on it. `on_altstack` is true when the frame lands on the alternate stack, whether by
    switching or because the thread was running on it, so it must fit there.
    """
    ss_sp, ss_flags, ss_size = altstack
    enabled = ss_size > 0 and not ss_flags & SS_DISABLE

    def on_sig_stack(sp: int) -> bool:
        # SS_AUTODISARM makes the kernel treat the thread as off the alternate stack
        return enabled and not ss_flags & SS_AUTODISARM and sp > ss_sp and sp - ss_sp <= ss_size

    nested = on_sig_stack(rsp)
    top = rsp - RED_ZONE
    if sa_onstack and enabled and not on_sig_stack(top):
        return ss_sp + ss_size, True
    return top, nested


def frame_layout(top: int, fp_area_size: int) -> tuple[int, int]:
    """(frame address, FP area address) for a frame placed below `top`."""
    fp_addr = (top - fp_area_size) & ~63
    frame = ((fp_addr - RT_SIGFRAME_SIZE) & ~15) - 8
    return frame, fp_addr


def build_frame(regs: Regs, *, sp: int, signo: int, siginfo: bytes, blocked_mask: int,
                altstack: tuple[int, int, int], restorer: int, fpstate: bytes, on_altstack: bool,
                trapno: int = 0, err: int = 0, cr2: int = 0,
                xfeatures: int | None = None) -> tuple[int, bytes]:
    """Lay out the signal frame for delivering `signo` to a thread with registers `regs`.

    `sp` is the stack top to build below: the interrupted rsp minus the red zone, or the
    top of the alternate signal stack (`signal_stack` computes it). `on_altstack` says the
    frame lands on the alternate stack `altstack` (ss_sp, ss_flags, ss_size), so it must
    fit inside it. `altstack` is also written to uc_stack as given. `blocked_mask` is the
    mask rt_sigreturn should restore (the one in force before the handler's own sa_mask).
    `restorer` is sa_restorer: x86-64 delivers only with SA_RESTORER.
    `fpstate` is the thread's FXSAVE (512 bytes) or XSAVE image (longer); for an XSAVE
    image `xfeatures` overrides the feature mask written to its software-reserved bytes.

    Returns (frame address, bytes to write there); the bytes run up to the end of the FP
    area and the gaps between the pieces are zero. The handler's rsp is the frame address.
    Raises ValueError if the frame cannot be placed (the kernel then forces SIGSEGV).
    """
    if len(siginfo) != SIGINFO_SIZE:
        raise ValueError(f"siginfo must be {SIGINFO_SIZE} bytes, not {len(siginfo)}")
    area, xsave = _fp_area(fpstate, xfeatures)
    frame, fp_addr = frame_layout(sp, len(area))
    end = fp_addr + len(area)
    if frame <= 0 or end > USER_SPACE_END:
        raise ValueError(f"no room for a signal frame below {sp:#x}")
    if on_altstack:
        ss_sp, _, ss_size = altstack
        if not (frame > ss_sp and frame - ss_sp <= ss_size):
            raise ValueError("the signal frame does not fit on the alternate signal stack")

    out = bytearray(end - frame)
    _U64.pack_into(out, FRAME_PRETCODE_OFFSET, restorer & MASK64)
    uc = FRAME_UC_OFFSET
    UCONTEXT_HEAD.pack_into(out, uc + UC_FLAGS_OFFSET, frame_uc_flags(regs, xsave), 0)
    ss_sp, ss_flags, ss_size = altstack
    STACK_T.pack_into(out, uc + UC_STACK_OFFSET, ss_sp & MASK64, _s32(ss_flags), ss_size & MASK64)
    SIGCONTEXT.pack_into(
        out, uc + UC_MCONTEXT_OFFSET,
        *(getattr(regs, name) for name in SIGCONTEXT_REGS),
        regs.cs & 0xFFFF, 0, 0, regs.ss & 0xFFFF,  # cs, gs, fs (saved as 0), ss
        err & MASK64, trapno & MASK64, blocked_mask & MASK64, cr2 & MASK64, fp_addr,
    )
    _U64.pack_into(out, uc + UC_SIGMASK_OFFSET, blocked_mask & MASK64)
    out[FRAME_INFO_OFFSET:RT_SIGFRAME_SIZE] = siginfo
    out[fp_addr - frame:] = area
    return frame, bytes(out)


def handler_registers(regs: Regs, frame_addr: int, handler: int, signo: int) -> Regs:
    """The registers a handler starts with, for a frame built at `frame_addr`:
    handler(signo, &frame->info, &frame->uc) entered as if called, rax 0 for varargs
    callers, DF/TF/RF clear; cs, ss and everything else as interrupted."""
    out = regs.copy()
    out.rip = handler
    out.rsp = frame_addr
    out.rdi = signo
    out.rsi = frame_addr + FRAME_INFO_OFFSET
    out.rdx = frame_addr + FRAME_UC_OFFSET
    out.rax = 0
    out.eflags = regs.eflags & ~HANDLER_CLEARED_EFLAGS
    return out


# --- rt_sigreturn -----------------------------------------------------------------------


class SigreturnState(named_tuple("SigreturnState", "registers blocked_mask fpstate altstack")):
    """What rt_sigreturn restores from a frame.

    registers:    the thread's new registers when parse_frame was given them, else
                  register name -> new value; either way orig_rax is -1 so no syscall
                  restart follows
    blocked_mask: the signal mask to install (SIGKILL and SIGSTOP already removed)
    fpstate:      the XSAVE image, the 512-byte FXSAVE legacy area alone (the other
                  components return to their initial state), or b"" when the frame has no
                  FP state (reset it all)
    altstack:     uc_stack as (ss_sp, ss_flags, ss_size), to hand to sigaltstack (whose
                  failures other than a fault rt_sigreturn ignores)
    """

    __slots__ = ()


def _read(read: Callable[[int, int], bytes], addr: int, length: int) -> bytes:
    if addr < 0 or addr + length > USER_SPACE_END:
        raise ValueError(f"signal frame memory {addr:#x}+{length} is outside user space")
    data = read(addr, length)
    if len(data) != length:
        raise ValueError(f"short read of signal frame memory at {addr:#x}")
    return bytes(data)


def _read_fpstate(read: Callable[[int, int], bytes], fp: int, max_xstate_size: int) -> bytes:
    legacy = _read(read, fp, FXSAVE_SIZE)
    magic1, extended_size, _, xstate_size = FPX_SW_BYTES.unpack_from(legacy, FPX_SW_BYTES_OFFSET)
    xsave = (magic1 == FP_XSTATE_MAGIC1 and XSAVE_MIN_SIZE <= xstate_size <= extended_size
             and xstate_size <= max_xstate_size
             and _U32.unpack(_read(read, fp + xstate_size, 4))[0] == FP_XSTATE_MAGIC2)
    # XRSTOR needs 64-byte alignment, FXRSTOR 16; a fault there makes sigreturn fail
    if fp % (64 if xsave else 16):
        raise ValueError(f"misaligned FP state at {fp:#x}")
    (mxcsr,) = _U32.unpack_from(legacy, FXSAVE_MXCSR_OFFSET)
    if mxcsr & MXCSR_RESERVED:
        raise ValueError(f"reserved MXCSR bits set: {mxcsr:#x}")
    if not xsave:
        return legacy
    data = legacy + _read(read, fp + FXSAVE_SIZE, xstate_size - FXSAVE_SIZE)
    _, xcomp_bv, reserved = XSAVE_HEADER.unpack_from(data, XSAVE_HEADER_OFFSET)
    if xcomp_bv or any(reserved):
        raise ValueError("the XSAVE header is not in standard form")
    return data


def parse_frame(read: Callable[[int, int], bytes], rsp: int, regs: Regs | None = None, *,
                eflags: int | None = None, max_xstate_size: int = XSTATE_SIZE_LIMIT) -> SigreturnState:
    """Read back the frame rt_sigreturn finds at `rsp` - 8 (the handler's `ret` popped
    pretcode). `read(addr, length)` copies guest memory; its own faults propagate.

    With `regs` (the thread's registers at rt_sigreturn) the result carries a new Regs:
    a copy of them with the restored values; without, a dict of the restored values.
    Only the FIX_EFLAGS bits of eflags come from the frame, the rest from `eflags`,
    which defaults to `regs.eflags` (or DEFAULT_USER_EFLAGS without `regs`).
    `max_xstate_size` is the thread's XSAVE size: a frame claiming more is taken as
    FXSAVE-only, as is one whose sw_reserved magic or trailing magic word is missing.
    Registers cs and ss are not taken from the frame: a slimbox thread stays in 64-bit
    mode. Raises ValueError for a frame rt_sigreturn would refuse (SIGSEGV follows).
    """
    frame = rsp - 8
    if frame < 0 or frame + RT_SIGFRAME_SIZE > USER_SPACE_END:
        raise ValueError(f"no signal frame can be at {frame:#x}")
    uc = _read(read, frame + FRAME_UC_OFFSET, UCONTEXT_SIZE)
    values = SIGCONTEXT.unpack_from(uc, UC_MCONTEXT_OFFSET)
    if eflags is None:
        eflags = regs.eflags if regs is not None else DEFAULT_USER_EFLAGS
    updates = dict(zip(SIGCONTEXT_REGS, values))
    updates["eflags"] = (eflags & ~FIX_EFLAGS) | (updates["eflags"] & FIX_EFLAGS)
    updates["orig_rax"] = MASK64
    registers: Regs | dict[str, int] = updates
    if regs is not None:
        registers = regs.copy()
        for name, value in updates.items():
            setattr(registers, name, value)
    fp = values[-1]
    fpstate = b"" if fp == 0 else _read_fpstate(read, fp, max_xstate_size)
    (mask,) = _U64.unpack_from(uc, UC_SIGMASK_OFFSET)
    altstack = STACK_T.unpack_from(uc, UC_STACK_OFFSET)
    return SigreturnState(registers, mask & ~UNBLOCKABLE_MASK, fpstate, altstack)


def fxsave_to_xsave(fxsave: bytes, size: int) -> bytes:
    """A standard-form XSAVE image of `size` bytes that restores `fxsave`'s FP/SSE state and
    puts every other component in its initial state (what rt_sigreturn does with an
    FXSAVE-only frame on an XSAVE machine)."""
    if len(fxsave) != FXSAVE_SIZE or size < XSAVE_MIN_SIZE:
        raise ValueError("need a 512-byte FXSAVE area and an XSAVE size of at least 576")
    out = bytearray(size)
    out[:FPX_SW_BYTES_OFFSET] = fxsave[:FPX_SW_BYTES_OFFSET]
    XSAVE_HEADER.pack_into(out, XSAVE_HEADER_OFFSET, XFEATURE_MASK_FPSSE, 0, b"")
    return bytes(out)
