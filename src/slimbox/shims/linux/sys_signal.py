"""Signal syscalls: dispositions, masks, sending, waiting, the alternate stack,
rt_sigreturn, and the real-time interval timer (alarm/setitimer)."""

from __future__ import annotations

from slimbox.abi import sigframe, structs
from slimbox.abi.errno import Errno
from slimbox.kernel import itimer, sigdeliver
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.signals import (
    SI_KERNEL, SI_TKILL, SI_USER, SIGALRM, SIGKILL, SIGSTOP, UNBLOCKABLE, Action, bit, kill_info,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Process, Task

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048
ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
NS = 1_000_000_000


def _check_signal(sig: int) -> None:
    if not 1 <= sig <= 64:
        raise LinuxError(Errno.EINVAL)


def _read_sigset(task: Task, pointer: int, size: int) -> int:
    if size != 8:
        raise LinuxError(Errno.EINVAL)
    return structs.U64.unpack(task.mm.read(pointer, 8))[0]


# --- dispositions and masks -----------------------------------------------------------------


def rt_sigaction(task: Task, signum: int, act: int, oldact: int, sigsetsize: int) -> int:
    if sigsetsize != 8:
        raise LinuxError(Errno.EINVAL)
    _check_signal(signum)
    actions = task.process.sigactions
    new = None
    if act:
        if signum in (SIGKILL, SIGSTOP):
            raise LinuxError(Errno.EINVAL)
        handler, flags, restorer, mask = structs.SIGACTION.unpack(task.mm.read(act, structs.SIGACTION.size))
        new = Action(handler, flags & 0xFFFFFFFF, restorer, mask & ~UNBLOCKABLE)
    if oldact:
        old = actions.get(signum, Action())
        task.mm.write(oldact, structs.SIGACTION.pack(old.handler, old.flags, old.restorer, old.mask))
    if new is not None:
        actions[signum] = new
        if new.handler == 1 or (new.handler == 0 and signum in (17, 18, 23, 28)):
            # now ignored: anything pending for it is dropped, as Linux does
            task.process.pending.discard(bit(signum))
            for thread in task.process.threads.values():
                thread.pending.discard(bit(signum))
    return 0


def rt_sigprocmask(task: Task, how: int, set_: int, oldset: int, sigsetsize: int) -> int:
    if sigsetsize != 8:
        raise LinuxError(Errno.EINVAL)
    new = None
    if set_:
        new = _read_sigset(task, set_, 8)
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
        task.sigmask &= ~UNBLOCKABLE & ((1 << 64) - 1)
    return 0


def rt_sigpending(task: Task, set_: int, sigsetsize: int) -> int:
    if sigsetsize > 8:
        raise LinuxError(Errno.EINVAL)
    pending = (task.pending.mask() | task.process.pending.mask()) & task.sigmask
    task.mm.write(set_, pending.to_bytes(8, "little")[:sigsetsize])
    return 0


def sigaltstack(task: Task, ss: int, old_ss: int) -> int:
    sp, flags, size = task.sigaltstack
    on_stack = not flags & SS_DISABLE and size and sp <= task.context.regs.rsp < sp + size
    new = None
    if ss:
        new_sp, new_flags, new_size = structs.STACK_T.unpack(task.mm.read(ss, structs.STACK_T.size))
        mode = new_flags & ~SS_AUTODISARM
        if mode not in (0, SS_ONSTACK, SS_DISABLE):
            raise LinuxError(Errno.EINVAL)
        if on_stack:
            raise LinuxError(Errno.EPERM)
        if mode == SS_DISABLE:
            new = (0, SS_DISABLE, 0)
        else:
            if new_size < MINSIGSTKSZ:
                raise LinuxError(Errno.ENOMEM)
            new = (new_sp, new_flags & SS_AUTODISARM, new_size)
    if old_ss:
        shown_flags = SS_ONSTACK if on_stack else flags
        task.mm.write(old_ss, structs.STACK_T.pack(sp, shown_flags, size))
    if new is not None:
        task.sigaltstack = new
    return 0


def rt_sigreturn(task: Task) -> int:
    return sigdeliver.sigreturn(task.kernel, task)


# --- waiting for signals ----------------------------------------------------------------------


def _suspend_with(task: Task, mask: int) -> int:
    """Wait, with `mask` in force, until a signal is acted on (then EINTR)."""
    if task.saved_sigmask is None:
        task.saved_sigmask = task.sigmask
        task.sigmask = mask & ~UNBLOCKABLE
    if sigdeliver.has_deliverable(task):
        raise LinuxError(Errno.EINTR)
    raise Block((), None)


def rt_sigsuspend(task: Task, mask: int, sigsetsize: int) -> int:
    return _suspend_with(task, _read_sigset(task, mask, sigsetsize))


def pause(task: Task) -> int:
    if task.saved_sigmask is None:
        task.saved_sigmask = task.sigmask
    if sigdeliver.has_deliverable(task):
        raise LinuxError(Errno.EINTR)
    raise Block((), None)


def rt_sigtimedwait(task: Task, set_: int, info: int, timeout: int, sigsetsize: int) -> int:
    wanted = _read_sigset(task, set_, sigsetsize) & ~UNBLOCKABLE
    for queue in (task.pending, task.process.pending):
        item = queue.take(wanted)
        if item is not None:
            if info:
                task.mm.write(info, item.info)
            return item.signo
    if "deadline" not in task.restart:
        if timeout:
            sec, nsec = structs.TIMESPEC.unpack(task.mm.read(timeout, 16))
            if sec < 0 or not 0 <= nsec < NS:
                raise LinuxError(Errno.EINVAL)
            task.restart["deadline"] = task.kernel.monotonic_ns() + sec * NS + nsec
        else:
            task.restart["deadline"] = None
    deadline = task.restart["deadline"]
    if deadline is not None and task.kernel.monotonic_ns() >= deadline:
        raise LinuxError(Errno.EAGAIN)
    raise Block((task.process.signal_arrivals,), deadline)


# --- sending ------------------------------------------------------------------------------------


def _may_signal(task: Task, target: Process) -> bool:
    cred, other = task.cred, target.cred
    return cred.euid == 0 or cred.uid in (other.uid, other.suid) or cred.euid in (other.uid, other.suid)


def _send_process(task: Task, target: Process, sig: int, info: bytes) -> None:
    if not _may_signal(task, target):
        raise LinuxError(Errno.EPERM)
    if sig:
        sigdeliver.send_to_process(task.kernel, target, sig, info)


def kill(task: Task, pid: int, sig: int) -> int:
    if not 0 <= sig <= 64:
        raise LinuxError(Errno.EINVAL)
    kernel = task.kernel
    info = kill_info(sig, task.process, SI_USER)
    if pid > 0:
        target = kernel.processes.get(pid)
        if target is None:
            raise LinuxError(Errno.ESRCH)
        _send_process(task, target, sig, info)
        return 0
    if pid == -1:
        # every process but init and the caller, as Linux; a target that may not be
        # signalled is skipped without failing the call
        targets = [p for p in kernel.processes.values()
                   if p.alive and p is not kernel.init and p is not task.process]
        if not targets:
            raise LinuxError(Errno.ESRCH)
        for target in targets:
            if sig and _may_signal(task, target):
                sigdeliver.send_to_process(kernel, target, sig, info)
        return 0
    pgid = task.process.pgid if pid == 0 else -pid
    targets = [p for p in kernel.processes.values() if p.alive and p.pgid == pgid]
    if not targets:
        raise LinuxError(Errno.ESRCH)
    allowed = [p for p in targets if _may_signal(task, p)]
    if not allowed:
        raise LinuxError(Errno.EPERM)
    for target in allowed:
        if sig:
            sigdeliver.send_to_process(kernel, target, sig, info)
    return 0


def _send_thread(task: Task, tgid: int | None, tid: int, sig: int, info: bytes) -> int:
    if not 0 <= sig <= 64:
        raise LinuxError(Errno.EINVAL)
    target = task.kernel.tasks.get(tid)
    if target is None or not target.alive or (tgid is not None and target.process.pid != tgid):
        raise LinuxError(Errno.ESRCH)
    if not _may_signal(task, target.process):
        raise LinuxError(Errno.EPERM)
    if sig:
        sigdeliver.send_to_task(task.kernel, target, sig, info)
    return 0


def tkill(task: Task, tid: int, sig: int) -> int:
    if tid <= 0:
        raise LinuxError(Errno.EINVAL)
    return _send_thread(task, None, tid, sig, kill_info(sig, task.process, SI_TKILL))


def tgkill(task: Task, tgid: int, tid: int, sig: int) -> int:
    if tgid <= 0 or tid <= 0:
        raise LinuxError(Errno.EINVAL)
    return _send_thread(task, tgid, tid, sig, kill_info(sig, task.process, SI_TKILL))


def _queued_info(task: Task, pointer: int, sig: int, target_pid: int) -> bytes:
    raw = task.mm.read(pointer, 128)
    code = int.from_bytes(raw[8:12], "little", signed=True)
    if target_pid != task.process.pid and (code >= 0 or code == SI_TKILL):
        raise LinuxError(Errno.EPERM)  # only the kernel may claim to be the kernel
    return sig.to_bytes(4, "little") + raw[4:]


def rt_sigqueueinfo(task: Task, tgid: int, sig: int, info: int) -> int:
    _check_signal(sig)
    target = task.kernel.processes.get(tgid)
    if target is None or not target.alive:
        raise LinuxError(Errno.ESRCH)
    _send_process(task, target, sig, _queued_info(task, info, sig, tgid))
    return 0


def rt_tgsigqueueinfo(task: Task, tgid: int, tid: int, sig: int, info: int) -> int:
    _check_signal(sig)
    return _send_thread(task, tgid, tid, sig, _queued_info(task, info, sig, tgid))


# --- alarm and ITIMER_REAL ------------------------------------------------------------------------


def _arm_real_timer(task: Task, value_ns: int, interval_ns: int) -> None:
    process = task.process
    kernel = task.kernel
    if process.real_timer is not None:
        process.real_timer.cancel()
        process.real_timer = None
    process.real_interval_ns = interval_ns
    if value_ns <= 0:
        return

    def fire() -> None:
        process.real_timer = None
        if not process.alive:
            return
        sigdeliver.send_to_process(kernel, process, SIGALRM, sigframe.pack_siginfo(SIGALRM, 0, SI_KERNEL))
        if process.real_interval_ns:
            process.real_timer = kernel.add_timer(kernel.monotonic_ns() + process.real_interval_ns, fire)

    process.real_timer = kernel.add_timer(kernel.monotonic_ns() + value_ns, fire)


def _real_timer_left(task: Task) -> int:
    timer = task.process.real_timer
    if timer is None or timer.cancelled:
        return 0
    return max(timer.deadline - task.kernel.monotonic_ns(), 1)


def alarm(task: Task, seconds: int) -> int:
    left = _real_timer_left(task)
    _arm_real_timer(task, seconds * NS, 0)
    return (left + NS // 2) // NS if left else 0


def _itimerval(value_ns: int, interval_ns: int) -> bytes:
    return structs.ITIMERVAL.pack(interval_ns // NS, (interval_ns % NS) // 1000, value_ns // NS,
                                  (value_ns % NS) // 1000)


def _itimer_now(task: Task, which: int) -> bytes:
    if which == ITIMER_REAL:
        return _itimerval(_real_timer_left(task), task.process.real_interval_ns)
    return _itimerval(*itimer.current(task.process, which))


def getitimer(task: Task, which: int, curr_value: int) -> int:
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        raise LinuxError(Errno.EINVAL)
    task.mm.write(curr_value, _itimer_now(task, which))
    return 0


def setitimer(task: Task, which: int, new_value: int, old_value: int) -> int:
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        raise LinuxError(Errno.EINVAL)
    interval_s, interval_us, value_s, value_us = structs.ITIMERVAL.unpack(task.mm.read(new_value, 32)) \
        if new_value else (0, 0, 0, 0)
    if not (0 <= interval_us < 1_000_000 and 0 <= value_us < 1_000_000) or interval_s < 0 or value_s < 0:
        raise LinuxError(Errno.EINVAL)
    if old_value:
        task.mm.write(old_value, _itimer_now(task, which))
    value_ns, interval_ns = value_s * NS + value_us * 1000, interval_s * NS + interval_us * 1000
    if which == ITIMER_REAL:
        _arm_real_timer(task, value_ns, interval_ns)
    else:
        itimer.arm(task.kernel, task.process, which, value_ns, interval_ns)
    return 0
