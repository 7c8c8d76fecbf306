"""Raw host calls for the Linux platform, through ctypes.

This module and its siblings in `platforms/linux` are the only code that talks to
the host kernel directly. Each wrapper raises OSError with the host errno.
"""

from __future__ import annotations

import ctypes
import os
import struct

# The C module under `socket`, which has all the supervisor uses (a socket pair, sendmsg
# with descriptors); `socket` itself builds its enums at import, a few ms of start-up.
from _socket import AF_UNIX, SCM_RIGHTS, SOCK_DGRAM, SOL_SOCKET, socketpair  # noqa: F401 - used by siblings
from _socket import socket as Socket  # noqa: F401 - used by siblings

from slimbox.abi.regs import REG_NAMES, Regs

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
# A second binding of syscall(2) with fixed argument types, for ptrace on the hot path.
_ptrace = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_long,
                           ctypes.c_ulong, ctypes.c_ulong, use_errno=True)(("syscall", _libc))

# x86-64 host syscall numbers used here (the host surface is documented in host_syscalls.py)
SYS_PTRACE = 101
SYS_PRCTL = 157
SYS_MOUNT = 165
SYS_UNSHARE = 272
SYS_PROCESS_VM_READV = 310
SYS_PROCESS_VM_WRITEV = 311
SYS_SIGNALFD4 = 289
SYS_PIDFD_OPEN = 434
SYS_PIDFD_GETFD = 438

PTRACE_CONT = 7
PTRACE_KILL = 8
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_GETFPREGS = 14
PTRACE_SETFPREGS = 15
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_PEEKUSER = 3
PTRACE_POKEUSER = 6
PTRACE_GET_SYSCALL_INFO = 0x420E
PTRACE_GETREGSET = 0x4204
PTRACE_SETREGSET = 0x4205
NT_X86_XSTATE = 0x202
_XSTATE_MAX = 16384  # larger than any XSAVE area an x86-64 CPU defines today

PTRACE_O_TRACESYSGOOD = 0x01
PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000

PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_EXIT = 6
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

WALL = 0x40000000

CLONE_NEWNS = 0x20000
CLONE_NEWCGROUP = 0x2000000
CLONE_NEWUTS = 0x4000000
CLONE_NEWIPC = 0x8000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_PRIVATE = 1 << 18
MS_REC = 16384

_REGS_STRUCT = struct.Struct(f"<{len(REG_NAMES)}Q")
# struct ptrace_syscall_info for a seccomp stop: op, arch, ip, sp, nr, args[6]
_SYSCALL_INFO = struct.Struct("<B3xIQQQ6Q")
_USER_OFFSET = {name: 8 * index for index, name in enumerate(REG_NAMES)}
OFFSET_RAX = _USER_OFFSET["rax"]
OFFSET_ORIG_RAX = _USER_OFFSET["orig_rax"]
_U64 = (1 << 64) - 1


def _check(result: int) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def syscall(nr: int, *args: int) -> int:
    return _check(_syscall(ctypes.c_long(nr), *(ctypes.c_ulong(a & _U64) for a in args)))


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Ptrace:
    """ptrace(2) with preallocated buffers, for the hot path."""

    def __init__(self) -> None:
        self._regs = ctypes.create_string_buffer(_REGS_STRUCT.size)
        self._regs_addr = ctypes.addressof(self._regs)
        self._siginfo = ctypes.create_string_buffer(128)
        self._siginfo_addr = ctypes.addressof(self._siginfo)
        self._info = ctypes.create_string_buffer(_SYSCALL_INFO.size)
        self._info_addr = ctypes.addressof(self._info)
        self._msg = ctypes.c_ulong()
        self._msg_addr = ctypes.addressof(self._msg)

    @staticmethod
    def call(request: int, tid: int, addr: int = 0, data: int = 0) -> int:
        return _check(_ptrace(SYS_PTRACE, request, tid, addr, data))

    def seize(self, tid: int, options: int) -> None:
        self.call(PTRACE_SEIZE, tid, 0, options)

    def cont(self, tid: int, signal: int = 0) -> None:
        _check(_ptrace(SYS_PTRACE, PTRACE_CONT, tid, 0, signal))

    def interrupt(self, tid: int) -> None:
        self.call(PTRACE_INTERRUPT, tid)

    def get_regs(self, tid: int) -> Regs:
        _check(_ptrace(SYS_PTRACE, PTRACE_GETREGS, tid, 0, self._regs_addr))
        return Regs(_REGS_STRUCT.unpack_from(self._regs))

    def set_regs(self, tid: int, regs: Regs) -> None:
        _REGS_STRUCT.pack_into(self._regs, 0, *regs)
        _check(_ptrace(SYS_PTRACE, PTRACE_SETREGS, tid, 0, self._regs_addr))

    def syscall_info(self, tid: int) -> tuple[int, int, int, int, int, int, int]:
        """(nr, arg0..arg5) of the syscall a seccomp stop reports."""
        _check(_ptrace(SYS_PTRACE, PTRACE_GET_SYSCALL_INFO, tid, _SYSCALL_INFO.size, self._info_addr))
        return _SYSCALL_INFO.unpack_from(self._info)[4:]

    def syscall_site(self, tid: int) -> tuple[int, int, tuple[int, ...]]:
        """(instruction pointer, nr, arguments) of the syscall a seccomp stop reports."""
        _check(_ptrace(SYS_PTRACE, PTRACE_GET_SYSCALL_INFO, tid, _SYSCALL_INFO.size, self._info_addr))
        fields = _SYSCALL_INFO.unpack_from(self._info)
        return fields[2], fields[4], fields[5:11]

    def poke_user(self, tid: int, offset: int, value: int) -> None:
        _check(_ptrace(SYS_PTRACE, PTRACE_POKEUSER, tid, offset, value & _U64))

    def get_xstate(self, tid: int) -> bytes:
        """The thread's whole FP/SSE/AVX state as an XSAVE image."""
        buf = ctypes.create_string_buffer(_XSTATE_MAX)
        iov = _IoVec(ctypes.addressof(buf), _XSTATE_MAX)
        self.call(PTRACE_GETREGSET, tid, NT_X86_XSTATE, ctypes.addressof(iov))
        return buf.raw[:iov.len]

    def set_xstate(self, tid: int, data: bytes) -> None:
        buf = ctypes.create_string_buffer(data, len(data))
        iov = _IoVec(ctypes.addressof(buf), len(data))
        self.call(PTRACE_SETREGSET, tid, NT_X86_XSTATE, ctypes.addressof(iov))

    def get_siginfo(self, tid: int) -> tuple[int, int, int, int]:
        """(signo, errno, code, fault address) of the signal the thread stopped with."""
        self.call(PTRACE_GETSIGINFO, tid, 0, self._siginfo_addr)
        signo, errno_, code = struct.unpack_from("<iii", self._siginfo.raw, 0)
        (addr,) = struct.unpack_from("<Q", self._siginfo.raw, 16)
        return signo, errno_, code, addr

    def event_message(self, tid: int) -> int:
        self.call(PTRACE_GETEVENTMSG, tid, 0, self._msg_addr)
        return self._msg.value


def process_vm_read(pid: int, addr: int, length: int) -> bytes:
    """Copy `length` bytes from another process; short copies raise EFAULT."""
    buf = ctypes.create_string_buffer(length)
    local = _IoVec(ctypes.addressof(buf), length)
    remote = _IoVec(addr, length)
    got = _check(_syscall(SYS_PROCESS_VM_READV, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
    if got != length:
        raise OSError(14, "short process_vm_readv")
    return buf.raw


def process_vm_write(pid: int, addr: int, data: bytes) -> None:
    buf = ctypes.create_string_buffer(data, len(data))
    local = _IoVec(ctypes.addressof(buf), len(data))
    remote = _IoVec(addr, len(data))
    put = _check(_syscall(SYS_PROCESS_VM_WRITEV, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
    if put != len(data):
        raise OSError(14, "short process_vm_writev")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return syscall(SYS_PRCTL, option, arg2, arg3, arg4, arg5)


def unshare(flags: int) -> None:
    syscall(SYS_UNSHARE, flags)


def mount(source: bytes | None, target: bytes, fstype: bytes | None, flags: int, data: bytes | None) -> None:
    _check(_libc.mount(source, target, fstype, ctypes.c_ulong(flags), data))


def chroot(path: bytes) -> None:
    _check(_libc.chroot(path))


SYS_SECCOMP = 317
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1


def install_seccomp_filter(program: bytes, *, tsync: bool) -> None:
    """Filter the calling process (all threads with `tsync`) with a classic-BPF program."""
    code = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("<H6xQ", len(program) // 8, ctypes.addressof(code))
    fprog_buffer = ctypes.create_string_buffer(fprog, len(fprog))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    syscall(SYS_SECCOMP, _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC if tsync else 0,
            ctypes.addressof(fprog_buffer))


def take_descriptor(pid: int, fd: int) -> int:
    """A copy of descriptor `fd` of process `pid` (pidfd_open + pidfd_getfd)."""
    pidfd = syscall(SYS_PIDFD_OPEN, pid, 0)
    try:
        return syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    finally:
        os.close(pidfd)


def signalfd_for(signals: list[int]) -> int:
    """A non-blocking, close-on-exec signalfd for `signals` (which the caller blocks)."""
    mask = 0
    for sig in signals:
        mask |= 1 << (sig - 1)
    sigset = ctypes.c_uint64(mask)
    return syscall(SYS_SIGNALFD4, _U64, ctypes.addressof(sigset), 8, os.O_NONBLOCK | os.O_CLOEXEC)
