"""Acting on signals: sending, waking the target, default actions, handler frames,
rt_sigreturn, faults, and job control (stop/continue).

A signal is acted on when one of the target's threads is in the kernel's hands:
- a thread finishing a syscall (Kernel.complete) or interrupted on purpose
  (Context.interrupt, because it was running on the host) goes through `deliver`;
- a thread parked in a blocking syscall is woken by `interrupt`, which ends the
  syscall with EINTR, or arranges for it to run again after the handler when the
  handler has SA_RESTART and the syscall may be restarted;
- a fault arrives as `force_fault`.
"""

from __future__ import annotations

from slimbox.abi import sigframe
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.signals import (
    CLD_CONTINUED, CLD_STOPPED, CONTINUE, CORE, IGNORE, SA_NOCLDSTOP, SA_NODEFER, SA_ONSTACK, SA_RESETHAND,
    SA_RESTART, SIG_DFL, SIG_IGN, SIGCHLD, SIGCONT, SIGINT, SIGKILL, SIGQUIT, SIGWINCH, SIGSEGV, STOP, STOP_SIGNALS, UNBLOCKABLE,
    Action, PendingSignal, bit, default_action, is_ignored, kernel_info, pick_thread,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel
    from slimbox.kernel.task import Process, Task

SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
_RED_ZONE = 128
_DEFAULT_ACTION = Action()


def _allowed(task: Task) -> int:
    return ~task.sigmask | UNBLOCKABLE


def has_deliverable(task: Task) -> bool:
    allowed = _allowed(task)
    return bool((task.pending.mask() | task.process.pending.mask()) & allowed)


def _peek(task: Task) -> int:
    """The number of the signal `deliver` would take next, or 0."""
    allowed = _allowed(task) & (task.pending.mask() | task.process.pending.mask())
    if not allowed:
        return 0
    return (allowed & -allowed).bit_length()


def _take(task: Task) -> PendingSignal | None:
    allowed = _allowed(task)
    own = task.pending.mask() & allowed
    shared = task.process.pending.mask() & allowed
    if own and (not shared or (own & -own) <= (shared & -shared)):
        return task.pending.take(allowed)
    return task.process.pending.take(allowed) if shared else None


def action_for(process: Process, signo: int) -> Action:
    return process.sigactions.get(signo, _DEFAULT_ACTION)


# --- acting on pending signals ------------------------------------------------------------


def deliver(kernel: Kernel, task: Task) -> bool:
    """Act on the task's pending signals; False if the task is gone as a result."""
    process = task.process
    while True:
        item = _take(task)
        if item is None:
            if task.saved_sigmask is not None:  # no handler ran: the temporary mask ends
                task.sigmask = task.saved_sigmask
                task.saved_sigmask = None
            return True
        signo = item.signo
        if signo == SIGKILL:
            kernel.exit_process(process, 0, SIGKILL, "killed by SIGKILL")
            return False
        action = action_for(process, signo)
        if action.handler == SIG_IGN:
            continue
        if action.handler == SIG_DFL:
            what = default_action(signo)
            if what in (IGNORE, CONTINUE):
                continue
            if what == STOP:
                stop_process(kernel, process, signo)
                return True
            kernel.exit_process(process, 0, signo, f"killed by signal {signo}", core=what == CORE)
            return False
        return _run_handler(kernel, task, item, action)


def _run_handler(kernel: Kernel, task: Task, item: PendingSignal, action: Action) -> bool:
    """Push a signal frame and point the thread at the handler."""
    context = task.context
    regs = context.regs
    old_mask = task.sigmask if task.saved_sigmask is None else task.saved_sigmask
    task.saved_sigmask = None
    top, on_altstack = sigframe.signal_stack(regs.rsp, task.sigaltstack, sa_onstack=bool(action.flags & SA_ONSTACK))
    switched = on_altstack and not (task.sigaltstack[0] < regs.rsp <= task.sigaltstack[0] + task.sigaltstack[2])
    try:
        frame_addr, frame = sigframe.build_frame(
            regs, sp=top, signo=item.signo, siginfo=item.info, blocked_mask=old_mask,
            altstack=task.sigaltstack, restorer=action.restorer, fpstate=context.fpu_state(),
            on_altstack=on_altstack)
        task.mm.write(frame_addr, frame)
    except (LinuxError, ValueError):
        # no usable stack for the frame: the thread cannot take the signal
        kernel.exit_process(task.process, 0, SIGSEGV, "no stack for a signal handler", core=True)
        return False
    context.regs = sigframe.handler_registers(regs, frame_addr, action.handler, item.signo)
    context.reset_fpu_state()  # handlers start with a clean FPU, as on Linux
    blocked = old_mask | action.mask
    if not action.flags & SA_NODEFER:
        blocked |= bit(item.signo)
    task.sigmask = blocked & ~UNBLOCKABLE
    if action.flags & SA_RESETHAND:
        task.process.sigactions[item.signo] = Action()
    if switched and task.sigaltstack[1] & SS_AUTODISARM:
        task.sigaltstack = (0, SS_DISABLE, 0)
    return True


def sigreturn(kernel: Kernel, task: Task) -> int:
    """rt_sigreturn: restore what the frame saved; returns the restored rax."""
    context = task.context
    regs = context.regs
    try:
        restored, mask, fpstate, uc_stack = sigframe.parse_frame(task.mm.read, regs.rsp, regs)
    except (LinuxError, ValueError):
        kernel.exit_process(task.process, 0, SIGSEGV, "bad signal frame in rt_sigreturn", core=True)
        raise LinuxError(Errno.EFAULT) from None
    context.regs = restored
    if fpstate:
        current = context.fpu_state()
        if len(fpstate) < len(current):  # a plain FXSAVE image: widen it to the thread's XSAVE size
            fpstate = sigframe.fxsave_to_xsave(fpstate, len(current))
        try:
            context.set_fpu_state(fpstate)
        except OSError:
            kernel.exit_process(task.process, 0, SIGSEGV, "bad FP state in rt_sigreturn", core=True)
            raise LinuxError(Errno.EFAULT) from None
    task.sigmask = mask & ~UNBLOCKABLE
    sp, flags, size = uc_stack
    if flags & SS_DISABLE:
        task.sigaltstack = (0, SS_DISABLE, 0)
    elif size:
        task.sigaltstack = (sp, flags & SS_AUTODISARM, size)
    return restored.rax


def force_fault(kernel: Kernel, task: Task, signo: int, code: int, addr: int, description: str) -> None:
    """A synchronous fault: run the handler, or end the process if there is none (or
    the signal is blocked or ignored, as Linux forces it then)."""
    action = action_for(task.process, signo)
    if action.handler in (SIG_DFL, SIG_IGN) or task.sigmask & bit(signo):
        what = default_action(signo)
        kernel.exit_process(task.process, 0, signo, f"{description} at {addr:#x}", core=what == CORE)
        return
    info = sigframe.pack_siginfo(signo, 0, code, addr=addr)
    _run_handler(kernel, task, PendingSignal(signo, info), action)


# --- sending ------------------------------------------------------------------------------


def send_to_process(kernel: Kernel, process: Process, signo: int, info: bytes) -> None:
    if not process.alive or process.exiting:
        return
    if signo == SIGKILL:
        kernel.exit_process(process, 0, SIGKILL, "killed by SIGKILL")
        return
    _prepare(kernel, process, signo)
    if is_ignored(process, signo) and not any(t.sigmask & bit(signo) for t in process.threads.values()):
        return
    process.pending.add(signo, info)
    process.signal_arrivals.notify_all()
    target = pick_thread(process, signo)
    if target is not None:
        _kick(kernel, target)


def send_to_task(kernel: Kernel, task: Task, signo: int, info: bytes) -> None:
    process = task.process
    if not task.alive or process.exiting:
        return
    if signo == SIGKILL:
        kernel.exit_process(process, 0, SIGKILL, "killed by SIGKILL")
        return
    _prepare(kernel, process, signo)
    if is_ignored(process, signo) and not task.sigmask & bit(signo):
        return
    task.pending.add(signo, info)
    process.signal_arrivals.notify_all()
    if not task.sigmask & bit(signo):
        _kick(kernel, task)


def send_to_group(kernel: Kernel, pgid: int, signo: int, info: bytes) -> int:
    targets = [p for p in kernel.processes.values() if p.pgid == pgid and p.alive]
    for process in targets:
        send_to_process(kernel, process, signo, info)
    return len(targets)


def _prepare(kernel: Kernel, process: Process, signo: int) -> None:
    """What sending does before queueing: SIGCONT continues, stop signals cancel it."""
    if signo == SIGCONT:
        process.pending.discard(sum(bit(s) for s in STOP_SIGNALS))
        for task in process.threads.values():
            task.pending.discard(sum(bit(s) for s in STOP_SIGNALS))
        continue_process(kernel, process)
    elif signo in STOP_SIGNALS:
        process.pending.discard(bit(SIGCONT))


def _kick(kernel: Kernel, task: Task) -> None:
    """Get the task into the kernel's hands soon so it acts on its signals."""
    if task.parked:
        interrupt(kernel, task)
    elif task.running:
        task.context.interrupt()


def interrupt(kernel: Kernel, task: Task) -> None:
    """A signal for a task parked in a blocking syscall: end the syscall (EINTR), or
    set it up to run again after the handler (SA_RESTART), then act on the signal.
    Signals that would only stop the process, or do nothing, leave it parked."""
    signo = _peek(task)
    if not signo:
        return
    action = action_for(task.process, signo)
    if action.handler == SIG_IGN:
        return
    if action.handler == SIG_DFL and signo != SIGKILL and default_action(signo) in (IGNORE, CONTINUE, STOP):
        if default_action(signo) == STOP:
            stop_process(kernel, task.process, signo)
        return
    kernel._unpark(task)
    personality = task.process.personality
    restartable = getattr(personality, "restartable", lambda nr: False)(task.syscall_nr)
    if action.handler not in (SIG_DFL, SIG_IGN) and action.flags & SA_RESTART and restartable:
        regs = task.context.regs
        regs.rax = task.syscall_nr
        regs.rip = regs.rip - 2  # back onto the syscall instruction
        if "futex" in task.restart:
            kernel.futexes.forget(task)  # or a later FUTEX_WAKE would count the abandoned wait
        task.restart.clear()
        kernel.resume(task)
    else:
        on_interrupt = task.restart.get("on_interrupt")
        if on_interrupt is not None:
            on_interrupt()  # e.g. nanosleep reports the time left
        kernel.complete(task, -Errno.EINTR)


# --- job control ----------------------------------------------------------------------------


def _tell_parent(kernel: Kernel, process: Process, code: int, status: int) -> None:
    parent = process.parent
    if parent is None or not parent.alive:
        return
    action = action_for(parent, SIGCHLD)
    if not action.flags & SA_NOCLDSTOP:
        info = sigframe.pack_siginfo(SIGCHLD, 0, code, pid=process.pid, uid=process.cred.uid, status=status)
        send_to_process(kernel, parent, SIGCHLD, info)
    parent.child_events.notify_all()


def stop_process(kernel: Kernel, process: Process, signo: int) -> None:
    if process.stopped or process.exiting:
        return
    process.stopped = True
    process.stop_signal = signo
    process.report_stopped = True
    process.report_continued = False
    for task in process.threads.values():
        if task.running:
            task.context.interrupt()  # it is held when the interrupt arrives
    _tell_parent(kernel, process, CLD_STOPPED, signo)


def continue_process(kernel: Kernel, process: Process) -> None:
    if not process.stopped:
        return
    process.stopped = False
    process.report_stopped = False
    process.report_continued = True
    for task in list(process.threads.values()):
        if task.held:
            task.held = None
            kernel.resume(task)
    _tell_parent(kernel, process, CLD_CONTINUED, SIGCONT)


def forward_host_signal(kernel: Kernel, signo: int) -> None:
    """A signal the supervisor received from its host, passed on as a terminal or a
    container runtime would: keyboard signals to the foreground process group, others
    to the sandbox's first process; SIGKILL ends the whole sandbox."""
    if signo == SIGKILL:
        kernel.kill_everything("the supervisor was told to stop")
        return
    init = kernel.init
    if init is None or not init.alive:
        return
    info = kernel_info(signo)
    if signo in (SIGINT, SIGQUIT, SIGWINCH):
        terminal = kernel.terminal
        pgid = getattr(terminal, "foreground_pgid", 0) if terminal is not None else 0
        if send_to_group(kernel, pgid or init.pgid, signo, info):
            return
    send_to_process(kernel, init, signo, info)
