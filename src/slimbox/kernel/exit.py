"""How threads and processes end: thread exit (with CLEARTID and robust futexes),
process exit, zombies, reparenting, and telling the parent (SIGCHLD, wait queues)."""

from __future__ import annotations

from slimbox.abi import sigframe
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.signals import CLD_DUMPED, CLD_EXITED, CLD_KILLED, SA_NOCLDWAIT, SIG_IGN, SIGCHLD
from slimbox.platforms.base import GuestMemoryError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel
    from slimbox.kernel.task import Process, Task

_FUTEX_WAITERS = 0x80000000
_FUTEX_OWNER_DIED = 0x40000000
_FUTEX_TID_MASK = 0x3FFFFFFF
_ROBUST_LIST_LIMIT = 2048


def wait_status(process: Process) -> int:
    """The status word wait4 reports for a zombie."""
    assert process.exit_status is not None
    code, signal = process.exit_status
    if signal:
        return signal | (0x80 if process.core_dumped else 0)
    return (code & 0xFF) << 8


def _clear_child_tid(kernel: Kernel, task: Task) -> None:
    """CLONE_CHILD_CLEARTID: zero the word and wake one futex waiter (pthread_join)."""
    address = task.clear_child_tid
    if not address:
        return
    try:
        task.mm.write(address, b"\0\0\0\0")
        kernel.futexes.wake(task.mm, address, 1)
    except (LinuxError, GuestMemoryError):
        pass


def _release_robust_futexes(kernel: Kernel, task: Task) -> None:
    """Mark every robust futex the thread still holds as owner-died and wake a waiter."""
    head, _ = task.robust_list
    if not head:
        return
    mm = task.mm
    try:
        raw = mm.read(head, 24)
        entry = int.from_bytes(raw[0:8], "little")
        offset = int.from_bytes(raw[8:16], "little", signed=True)
        pending = int.from_bytes(raw[16:24], "little")
        seen = 0
        targets = []
        while entry != head and seen < _ROBUST_LIST_LIMIT:
            targets.append(entry + offset)
            entry = int.from_bytes(mm.read(entry, 8), "little")
            seen += 1
        if pending:
            targets.append(pending + offset)
        for word_address in targets:
            word = int.from_bytes(mm.read(word_address, 4), "little")
            if word & _FUTEX_TID_MASK == task.tid:
                mm.write(word_address, ((word & _FUTEX_WAITERS) | _FUTEX_OWNER_DIED).to_bytes(4, "little"))
                if word & _FUTEX_WAITERS:
                    kernel.futexes.wake(mm, word_address, 1)
    except (LinuxError, GuestMemoryError):
        pass


def exit_thread(kernel: Kernel, task: Task, code: int) -> None:
    """exit(2): one thread ends; the last one ends the process."""
    process = task.process
    if len([t for t in process.threads.values() if t.alive]) <= 1:
        exit_process(kernel, process, code)
        return
    _release_robust_futexes(kernel, task)
    _clear_child_tid(kernel, task)
    kernel.forget_task(task)
    task.context.exit_thread()


def exit_process(kernel: Kernel, process: Process, code: int, signal: int = 0, description: str = "",
                 core: bool = False) -> None:
    if process.exiting:
        return
    process.exiting = True
    process.exit_description = description
    contexts = [task.context for task in process.threads.values()]
    if contexts:
        process.mm.flush_shared()  # while the memory is still there
    for task in list(process.threads.values()):
        kernel.forget_task(task)
    if contexts:
        contexts[0].kill()  # one kill ends every host thread of the process
    process.mm.forget()
    if process.real_timer is not None:
        process.real_timer.cancel()
        process.real_timer = None
    process.fds.close_all()
    process.exit_status = (code & 0xFF, signal)
    process.core_dumped = core
    process.vfork_released = True
    process.vfork_done.notify_all()
    _reparent_children(kernel, process)
    _notify_parent(kernel, process)
    if process is kernel.init:
        kernel.kill_everything("the sandbox's first process ended")


def _reparent_children(kernel: Kernel, process: Process) -> None:
    new_parent = kernel.init if kernel.init is not process else None
    for child in list(process.children):
        child.parent = new_parent
        child.exit_signal = SIGCHLD  # as Linux does: whatever clone asked for, it must not slay init
        if new_parent is not None:
            new_parent.children.append(child)
            if child.zombie:
                _notify_parent(kernel, child)
        elif child.zombie:
            reap(kernel, child)
    process.children.clear()


def _notify_parent(kernel: Kernel, process: Process) -> None:
    parent = process.parent
    if parent is None or not parent.alive:
        if parent is None and process is not kernel.init:
            reap(kernel, process)
        return
    action = parent.sigactions.get(SIGCHLD)
    if process.exit_signal == SIGCHLD and action is not None and (
            action.handler == SIG_IGN or action.flags & SA_NOCLDWAIT):
        reap(kernel, process)  # the parent asked never to see zombies
        parent.child_events.notify_all()
        return
    if process.exit_signal:
        code, signal = process.exit_status or (0, 0)
        if signal:
            cld, status = (CLD_DUMPED if process.core_dumped else CLD_KILLED), signal
        else:
            cld, status = CLD_EXITED, code
        info = sigframe.pack_siginfo(process.exit_signal, 0, cld, pid=process.pid, uid=process.cred.uid,
                                     status=status)
        from slimbox.kernel import sigdeliver  # the two modules call each other

        sigdeliver.send_to_process(kernel, parent, process.exit_signal, info)
    parent.child_events.notify_all()


def reap(kernel: Kernel, process: Process) -> None:
    """Forget a zombie for good."""
    process.reaped = True
    kernel.processes.pop(process.pid, None)
    if process.parent is not None and process in process.parent.children:
        process.parent.children.remove(process)

