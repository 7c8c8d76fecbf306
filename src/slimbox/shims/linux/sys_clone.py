"""Making and waiting for processes and threads: clone, clone3, fork, vfork, wait4, waitid."""

from __future__ import annotations

import struct

from slimbox.abi import sigframe, structs
from slimbox.abi.errno import Errno
from slimbox.kernel import clone as kclone
from slimbox.kernel import wait as kwait
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.signals import SIGCHLD

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

_CLONE_ARGS = struct.Struct("<11Q")
_CLONE_ARGS_V0 = 64
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3


def clone(task: Task, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int) -> int:
    flags &= 0xFFFFFFFF  # the x86-64 clone takes an unsigned long, but only 32 flag bits exist
    signal = flags & kclone.CSIGNAL
    if signal > 64:
        raise LinuxError(Errno.EINVAL)
    if flags & kclone.CLONE_PIDFD:
        raise LinuxError(Errno.EINVAL)  # pidfds are not offered yet
    return kclone.clone(task.kernel, task, flags & ~kclone.CSIGNAL, stack, parent_tid, child_tid, tls, signal)


def clone3(task: Task, cl_args: int, size: int) -> int:
    if size < _CLONE_ARGS_V0 or size > 4096:
        raise LinuxError(Errno.EINVAL)
    raw = task.mm.read(cl_args, size)
    if any(raw[_CLONE_ARGS.size:]):
        raise LinuxError(Errno.E2BIG)
    raw = raw[:_CLONE_ARGS.size].ljust(_CLONE_ARGS.size, b"\0")
    (flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
     cgroup) = _CLONE_ARGS.unpack(raw)
    if exit_signal > 64 or flags & kclone.CSIGNAL or set_tid or set_tid_size:
        raise LinuxError(Errno.EINVAL)
    if flags & (kclone.CLONE_PIDFD | kclone.CLONE_INTO_CGROUP):
        raise LinuxError(Errno.EINVAL)
    if (stack == 0) != (stack_size == 0):
        raise LinuxError(Errno.EINVAL)
    top = stack + stack_size if stack else 0
    return kclone.clone(task.kernel, task, flags, top, parent_tid, child_tid, tls, exit_signal)


def fork(task: Task) -> int:
    return kclone.clone(task.kernel, task, 0, 0, 0, 0, 0, SIGCHLD)


def vfork(task: Task) -> int:
    return kclone.clone(task.kernel, task, kclone.CLONE_VM | kclone.CLONE_VFORK, 0, 0, 0, 0, SIGCHLD)


def _selector(task: Task, pid: int) -> tuple[str, int]:
    if pid < -1:
        return "pgid", -pid
    if pid == -1:
        return "any", 0
    if pid == 0:
        return "pgid", task.process.pgid
    return "pid", pid


def wait4(task: Task, pid: int, wstatus: int, options: int, rusage: int) -> int:
    if options & ~(kwait.WNOHANG | kwait.WUNTRACED | kwait.WCONTINUED | kwait.WNOTHREAD | kwait.WALL
                   | kwait.WCLONE):
        raise LinuxError(Errno.EINVAL)
    which, ident = _selector(task, pid)
    state = kwait.wait(task, which, ident, options | kwait.WEXITED)
    if state is None:
        return 0
    if wstatus:
        task.mm.write(wstatus, structs.I32.pack(state.wait_status))
    if rusage:
        task.mm.write(rusage, bytes(structs.RUSAGE.size))
    return state.child.pid


def waitid(task: Task, idtype: int, id_: int, infop: int, options: int, rusage: int) -> int:
    allowed = (kwait.WNOHANG | kwait.WEXITED | kwait.WSTOPPED | kwait.WCONTINUED | kwait.WNOWAIT
               | kwait.WNOTHREAD | kwait.WALL | kwait.WCLONE)
    if options & ~allowed or not options & (kwait.WEXITED | kwait.WSTOPPED | kwait.WCONTINUED):
        raise LinuxError(Errno.EINVAL)
    if idtype == P_ALL:
        which, ident = "any", 0
    elif idtype == P_PID:
        if id_ <= 0:
            raise LinuxError(Errno.EINVAL)
        which, ident = "pid", id_
    elif idtype == P_PGID:
        if id_ < 0:
            raise LinuxError(Errno.EINVAL)
        which, ident = "pgid", id_ or task.process.pgid
    else:
        raise LinuxError(Errno.EINVAL)
    state = kwait.wait(task, which, ident, options)
    if infop:
        if state is None:
            task.mm.write(infop, bytes(128))
        else:
            child = state.child
            task.mm.write(infop, sigframe.pack_siginfo(SIGCHLD, 0, state.code, pid=child.pid, uid=child.cred.uid,
                                                       status=state.status))
    if rusage:
        task.mm.write(rusage, bytes(structs.RUSAGE.size))
    return 0
