"""Tasks (guest threads) and processes (thread groups) with sandbox ids.

Everything a process owns hangs off its `Process`; a `Task` is one thread with its
platform context and the state of the syscall it is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from slimbox.kernel.cred import Credentials
from slimbox.kernel.fd import FdTable
from slimbox.kernel.fs.vfs import FsContext, PathNode
from slimbox.kernel.mm import MemoryManager
from slimbox.kernel.signals import Action, SignalQueue
from slimbox.kernel.waitqueue import WaitQueue

if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel
    from slimbox.platforms.base import Context

RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE, RLIMIT_RSS = 0, 1, 2, 3, 4, 5
RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_MEMLOCK, RLIMIT_AS, RLIMIT_LOCKS = 6, 7, 8, 9, 10
RLIMIT_SIGPENDING, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_RTPRIO, RLIMIT_RTTIME = 11, 12, 13, 14, 15
RLIM_NLIMITS = 16
RLIM_INFINITY = (1 << 64) - 1


def default_rlimits() -> list[tuple[int, int]]:
    """The limits a fresh Linux login session typically has."""
    limits = [(RLIM_INFINITY, RLIM_INFINITY)] * RLIM_NLIMITS
    limits[RLIMIT_STACK] = (8 << 20, RLIM_INFINITY)
    limits[RLIMIT_CORE] = (0, RLIM_INFINITY)
    limits[RLIMIT_NPROC] = (63_000, 63_000)
    limits[RLIMIT_NOFILE] = (1024, 1 << 20)
    limits[RLIMIT_MEMLOCK] = (8 << 20, 8 << 20)
    limits[RLIMIT_SIGPENDING] = (63_000, 63_000)
    limits[RLIMIT_MSGQUEUE] = (819_200, 819_200)
    limits[RLIMIT_NICE] = (0, 0)
    limits[RLIMIT_RTPRIO] = (0, 0)
    return limits


class Personality(Protocol):
    """An ABI the kernel hosts (the Linux syscall shim, the OP-TEE shim...)."""

    name: str

    def syscall(self, task: Task, nr: int, args: list[int]) -> int | object:
        """Handle one syscall; return the result, raise LinuxError/Block, or return
        NO_REPLY when the task must not be resumed (it exited)."""


@dataclass(eq=False)
class Process:
    kernel: Kernel
    pid: int
    mm: MemoryManager
    fds: FdTable
    fs: FsContext
    cred: Credentials
    personality: Personality
    parent: Process | None = None
    pgid: int = 0
    sid: int = 0
    threads: dict[int, Task] = field(default_factory=dict)
    children: list[Process] = field(default_factory=list)
    rlimits: list[tuple[int, int]] = field(default_factory=default_rlimits)
    exe: PathNode | None = None
    comm: bytes = b""
    start_time_ns: int = 0
    #: (exit code, killing signal) once the whole process has ended (it is then a zombie
    #: until its parent reaps it)
    exit_status: tuple[int, int] | None = None
    #: a core dump would have been written (the 0x80 bit of the wait status)
    core_dumped: bool = False
    exit_description: str = ""
    exiting: bool = False
    reaped: bool = False
    no_new_privs: bool = False
    #: the signal sent to the parent when this process ends (SIGCHLD, or what clone asked)
    exit_signal: int = 17
    #: signal dispositions shared by the threads (a dict shared between processes made
    #: with CLONE_SIGHAND); missing numbers are SIG_DFL
    sigactions: dict[int, Action] = field(default_factory=dict)
    #: signals pending for the process as a whole
    pending: SignalQueue = field(default_factory=SignalQueue)
    #: job control: stopped by a stop signal, and what the parent has not been told yet
    stopped: bool = False
    stop_signal: int = 0
    report_stopped: bool = False
    report_continued: bool = False
    #: the parent waits here for children to change state
    child_events: WaitQueue = field(default_factory=WaitQueue)
    #: notified whenever a signal is queued for the process or one of its threads
    signal_arrivals: WaitQueue = field(default_factory=WaitQueue)
    #: notified when a vfork child execs or exits
    vfork_done: WaitQueue = field(default_factory=WaitQueue)
    vfork_released: bool = True
    #: ITIMER_REAL / alarm: (timer, interval_ns)
    real_timer: object = None
    real_interval_ns: int = 0
    child_subreaper: bool = False
    #: the CPU second at which SIGXCPU was last sent (RLIMIT_CPU)
    cpu_limit_signalled: int = -1

    def leader(self) -> Task | None:
        return self.threads.get(self.pid)

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    @property
    def zombie(self) -> bool:
        return self.exit_status is not None and not self.reaped


@dataclass(eq=False)
class Task:
    tid: int
    process: Process
    context: Context
    sigmask: int = 0
    clear_child_tid: int = 0
    robust_list: tuple[int, int] = (0, 0)
    #: the syscall being served: (nr, raw args), kept while the task is parked
    syscall_nr: int = -1
    syscall_args: list[int] = field(default_factory=list)
    #: handler-private state that survives re-running a blocked syscall
    restart: dict = field(default_factory=dict)
    #: queues (and timer) this task is parked on
    parked_on: tuple[WaitQueue, ...] = ()
    parked_timer: object = None
    parked: bool = False
    alive: bool = True
    sigaltstack: tuple[int, int, int] = (0, 2, 0)  # (sp, flags=SS_DISABLE, size)
    pdeath_signal: int = 0
    #: the CPUs the thread asked to run on (a bit per sandbox CPU; 0 means all)
    affinity: int = 0
    #: signals pending for this thread only
    pending: SignalQueue = field(default_factory=SignalQueue)
    #: the mask to restore when a handler runs after sigsuspend/ppoll/pselect (else None)
    saved_sigmask: int | None = None
    #: the kernel let the thread run on the host (not parked, not in the kernel's hands)
    running: bool = False
    #: what to do when a job-control stop ends (the thread is held until then)
    held: object = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def mm(self) -> MemoryManager:
        return self.process.mm

    @property
    def fds(self) -> FdTable:
        return self.process.fds

    @property
    def cred(self) -> Credentials:
        return self.process.cred

    @property
    def kernel(self) -> Kernel:
        return self.process.kernel
