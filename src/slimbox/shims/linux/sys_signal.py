"""Signal dispositions and masks.

Handlers are recorded but not yet delivered: a signal whose action is to run a
handler is refused with ENOSYS by kill/tkill/tgkill (and logged) rather than being
dropped. Default actions (terminate, ignore) are carried out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError

if TYPE_CHECKING:
    from slimbox.kernel.task import Task

SIG_DFL, SIG_IGN = 0, 1
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGKILL, SIGSTOP, SIGCHLD, SIGCONT, SIGURG, SIGWINCH = 9, 19, 17, 18, 23, 28
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048
_IGNORED_BY_DEFAULT = frozenset({SIGCHLD, SIGCONT, SIGURG, SIGWINCH})
_UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))


def _check_signal(sig: int) -> None:
    if not 1 <= sig <= 64:
        raise LinuxError(Errno.EINVAL)


def rt_sigaction(task: Task, signum: int, act: int, oldact: int, sigsetsize: int) -> int:
    if sigsetsize != 8:
        raise LinuxError(Errno.EINVAL)
    _check_signal(signum)
    actions = task.process.sigactions
    new = None
    if act:
        if signum in (SIGKILL, SIGSTOP):
            raise LinuxError(Errno.EINVAL)
        new = structs.SIGACTION.unpack(task.mm.read(act, structs.SIGACTION.size))
    if oldact:
        task.mm.write(oldact, structs.SIGACTION.pack(*actions.get(signum, (SIG_DFL, 0, 0, 0))))
    if new is not None:
        handler, flags, restorer, mask = new
        actions[signum] = (handler, flags, restorer, mask & ~_UNBLOCKABLE)
    return 0


def rt_sigprocmask(task: Task, how: int, set_: int, oldset: int, sigsetsize: int) -> int:
    if sigsetsize != 8:
        raise LinuxError(Errno.EINVAL)
    new = None
    if set_:
        (new,) = structs.U64.unpack(task.mm.read(set_, 8))
        if how not in (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK):
            raise LinuxError(Errno.EINVAL)
    if oldset:
        task.mm.write(oldset, structs.U64.pack(task.sigmask))
    if new is not None:
        if how == SIG_BLOCK:
            task.sigmask |= new
        elif how == SIG_UNBLOCK:
            task.sigmask &= ~new
        else:
            task.sigmask = new
        task.sigmask &= ~_UNBLOCKABLE
    return 0


def rt_sigpending(task: Task, set_: int, sigsetsize: int) -> int:
    if sigsetsize > 8:
        raise LinuxError(Errno.EINVAL)
    task.mm.write(set_, bytes(sigsetsize))
    return 0


def sigaltstack(task: Task, ss: int, old_ss: int) -> int:
    new = None
    if ss:
        sp, flags, size = structs.STACK_T.unpack(task.mm.read(ss, structs.STACK_T.size))
        if flags & ~(SS_DISABLE | SS_AUTODISARM | SS_ONSTACK):
            raise LinuxError(Errno.EINVAL)
        if not flags & SS_DISABLE and size < MINSIGSTKSZ:
            raise LinuxError(Errno.ENOMEM)
        new = (0, SS_DISABLE, 0) if flags & SS_DISABLE else (sp, flags & SS_AUTODISARM, size)
    if old_ss:
        task.mm.write(old_ss, structs.STACK_T.pack(*task.sigaltstack))
    if new is not None:
        task.sigaltstack = new
    return 0


def _send(task: Task, target, sig: int) -> int:
    if sig == 0:
        return 0
    _check_signal(sig)
    handler = target.sigactions.get(sig, (SIG_DFL, 0, 0, 0))[0]
    if sig not in (SIGKILL, SIGSTOP) and (handler == SIG_IGN or (handler == SIG_DFL and sig in _IGNORED_BY_DEFAULT)):
        return 0
    if sig in (SIGKILL,) or handler == SIG_DFL:
        if sig == SIGSTOP or sig in (20, 21, 22):  # stopping arrives with job control
            raise LinuxError(Errno.ENOSYS)
        task.kernel.exit_process(target, 0, sig, f"killed by signal {sig}")
        return 0
    task.kernel.report_unsupported("signal delivery", f"delivery of signal {sig} to a handler")
    raise LinuxError(Errno.ENOSYS)


def kill(task: Task, pid: int, sig: int) -> int:
    process = task.process
    if pid in (process.pid, 0, -process.pgid) or (pid == -1 and len(task.kernel.processes) == 1):
        return _send(task, process, sig)
    target = task.kernel.processes.get(pid)
    if target is None:
        raise LinuxError(Errno.ESRCH)
    return _send(task, target, sig)


def tkill(task: Task, tid: int, sig: int) -> int:
    if tid <= 0:
        raise LinuxError(Errno.EINVAL)
    target = task.kernel.tasks.get(tid)
    if target is None:
        raise LinuxError(Errno.ESRCH)
    return _send(task, target.process, sig)


def tgkill(task: Task, tgid: int, tid: int, sig: int) -> int:
    if tgid <= 0 or tid <= 0:
        raise LinuxError(Errno.EINVAL)
    target = task.kernel.tasks.get(tid)
    if target is None or target.process.pid != tgid:
        raise LinuxError(Errno.ESRCH)
    return _send(task, target.process, sig)
