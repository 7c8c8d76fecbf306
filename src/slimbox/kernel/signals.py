"""Signals: dispositions, pending sets, sending, and what each signal does by default.

Signals are entirely the sandbox kernel's: the host never delivers one to a guest. A
signal is queued on a thread or a process, and acted on when a thread of the target
is in the kernel's hands (finishing a syscall, stopped by a fault, or interrupted on
purpose when it was running): default action, ignore, or a handler frame built by
`kernel/sigdeliver.py`.
"""

from __future__ import annotations

from slimbox.abi import sigframe
from slimbox.kernel.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Process, Task

NSIG = 64
SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT = 9, 10, 11, 12, 13, 14, 15, 16
SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU = 17, 18, 19, 20, 21, 22, 23, 24
SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR, SIGSYS = 25, 26, 27, 28, 29, 30, 31
SIGRTMIN = 32

SIG_DFL, SIG_IGN = 0, 1

SA_NOCLDSTOP, SA_NOCLDWAIT, SA_SIGINFO, SA_RESTORER = 0x1, 0x2, 0x4, 0x04000000
SA_ONSTACK, SA_RESTART, SA_NODEFER, SA_RESETHAND = 0x08000000, 0x10000000, 0x40000000, 0x80000000

SI_USER, SI_KERNEL, SI_QUEUE, SI_TIMER, SI_TKILL = 0, 0x80, -1, -2, -6
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6

# default actions
TERMINATE, CORE, STOP, CONTINUE, IGNORE = "terminate", "core", "stop", "continue", "ignore"
_DEFAULTS = {
    SIGHUP: TERMINATE, SIGINT: TERMINATE, SIGQUIT: CORE, SIGILL: CORE, SIGTRAP: CORE, SIGABRT: CORE,
    SIGBUS: CORE, SIGFPE: CORE, SIGKILL: TERMINATE, SIGUSR1: TERMINATE, SIGSEGV: CORE, SIGUSR2: TERMINATE,
    SIGPIPE: TERMINATE, SIGALRM: TERMINATE, SIGTERM: TERMINATE, SIGSTKFLT: TERMINATE, SIGCHLD: IGNORE,
    SIGCONT: CONTINUE, SIGSTOP: STOP, SIGTSTP: STOP, SIGTTIN: STOP, SIGTTOU: STOP, SIGURG: IGNORE,
    SIGXCPU: CORE, SIGXFSZ: CORE, SIGVTALRM: TERMINATE, SIGPROF: TERMINATE, SIGWINCH: IGNORE,
    SIGIO: TERMINATE, SIGPWR: TERMINATE, SIGSYS: CORE,
}
STOP_SIGNALS = frozenset({SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU})
#: signals the kernel raises for a fault in the thread itself
SYNCHRONOUS = frozenset({SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS})
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))


def bit(sig: int) -> int:
    return 1 << (sig - 1)


def default_action(sig: int) -> str:
    return _DEFAULTS.get(sig, TERMINATE)  # real-time signals terminate by default


class Action(Record):
    __slots__ = ("handler", "flags", "restorer", "mask")

    def __init__(self, handler: int = SIG_DFL, flags: int = 0, restorer: int = 0, mask: int = 0) -> None:
        self.handler = handler
        self.flags = flags
        self.restorer = restorer
        self.mask = mask

    def copy(self) -> Action:
        return Action(self.handler, self.flags, self.restorer, self.mask)


class PendingSignal(Record):
    __slots__ = ("signo", "info")

    def __init__(self, signo: int, info: bytes) -> None:
        self.signo = signo
        self.info = info  # a packed 128-byte siginfo


class SignalQueue(Record):
    """Pending signals of a thread or of a whole process. Standard signals are held
    once; real-time signals queue."""

    __slots__ = ("items",)

    def __init__(self, items: list[PendingSignal] | None = None) -> None:
        self.items = [] if items is None else items

    def mask(self) -> int:
        value = 0
        for item in self.items:
            value |= bit(item.signo)
        return value

    def add(self, signo: int, info: bytes) -> bool:
        if signo < SIGRTMIN and any(item.signo == signo for item in self.items):
            return False
        self.items.append(PendingSignal(signo, info))
        return True

    def take(self, allowed: int) -> PendingSignal | None:
        """The lowest-numbered pending signal in `allowed` (standard before real-time)."""
        best = None
        for item in self.items:
            if allowed & bit(item.signo) and (best is None or item.signo < best.signo):
                best = item
        if best is not None:
            self.items.remove(best)
        return best

    def discard(self, signals: int) -> None:
        self.items = [item for item in self.items if not signals & bit(item.signo)]


def kill_info(signo: int, sender: Process | None, code: int = SI_USER) -> bytes:
    pid = sender.pid if sender is not None else 0
    uid = sender.cred.uid if sender is not None else 0
    return sigframe.pack_siginfo(signo, 0, code, pid=pid, uid=uid)


def kernel_info(signo: int) -> bytes:
    return sigframe.pack_siginfo(signo, 0, SI_KERNEL)


def is_ignored(process: Process, signo: int) -> bool:
    """Whether sending `signo` to `process` is a no-op (ignored and not blocked anywhere)."""
    action = process.sigactions.get(signo)
    handler = action.handler if action is not None else SIG_DFL
    if handler == SIG_IGN:
        return True
    return handler == SIG_DFL and default_action(signo) == IGNORE


def pick_thread(process: Process, signo: int) -> Task | None:
    """A thread that does not block `signo`, preferring one already in our hands."""
    candidates = [t for t in process.threads.values() if t.alive and not t.sigmask & bit(signo)]
    if not candidates:
        return None
    for task in candidates:
        if task.parked:
            return task
    return candidates[0]
