"""Tasks (guest threads) and processes (thread groups) with sandbox ids.

Everything a process owns hangs off its `Process`; a `Task` is one thread with its
platform context and the state of the syscall it is in.
"""

from __future__ import annotations

from slimbox.kernel.cred import Credentials
from slimbox.kernel.fd import FdTable
from slimbox.kernel.fs.vfs import FsContext, PathNode
from slimbox.kernel.mm import MemoryManager
from slimbox.kernel.signals import Action, SignalQueue
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the protocols below document the interface; nothing checks them at run time

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


class Process:
    def __init__(self, kernel: Kernel, pid: int, mm: MemoryManager, fds: FdTable, fs: FsContext, cred: Credentials,
                 personality: Personality, parent: Process | None = None, pgid: int = 0, sid: int = 0, *,
                 rlimits: list[tuple[int, int]] | None = None, exe: PathNode | None = None, comm: bytes = b"",
                 start_time_ns: int = 0, exit_signal: int = 17, sigactions: dict[int, Action] | None = None,
                 no_new_privs: bool = False) -> None:
        self.kernel = kernel
        self.pid = pid
        self.mm = mm
        self.fds = fds
        self.fs = fs
        self.cred = cred
        self.personality = personality
        self.parent = parent
        self.pgid = pgid
        self.sid = sid
        self.threads: dict[int, Task] = {}
        self.children: list[Process] = []
        self.rlimits = default_rlimits() if rlimits is None else rlimits
        self.exe = exe
        self.comm = comm
        self.start_time_ns = start_time_ns
        #: (exit code, killing signal) once the whole process has ended (it is then a zombie
        #: until its parent reaps it)
        self.exit_status: tuple[int, int] | None = None
        #: a core dump would have been written (the 0x80 bit of the wait status)
        self.core_dumped = False
        self.exit_description = ""
        self.exiting = False
        self.reaped = False
        self.no_new_privs = no_new_privs
        #: the signal sent to the parent when this process ends (SIGCHLD, or what clone asked)
        self.exit_signal = exit_signal
        #: signal dispositions shared by the threads (a dict shared between processes made
        #: with CLONE_SIGHAND); missing numbers are SIG_DFL
        self.sigactions = {} if sigactions is None else sigactions
        #: signals pending for the process as a whole
        self.pending = SignalQueue()
        #: job control: stopped by a stop signal, and what the parent has not been told yet
        self.stopped = False
        self.stop_signal = 0
        self.report_stopped = False
        self.report_continued = False
        #: the parent waits here for children to change state
        self.child_events = WaitQueue()
        #: notified whenever a signal is queued for the process or one of its threads
        self.signal_arrivals = WaitQueue()
        #: notified when a vfork child execs or exits
        self.vfork_done = WaitQueue()
        self.vfork_released = True
        #: ITIMER_REAL / alarm: (timer, interval_ns)
        self.real_timer: object = None
        self.real_interval_ns = 0
        #: ITIMER_VIRTUAL / ITIMER_PROF (kernel/itimer.py): which -> CpuTimer
        self.cpu_timers: dict = {}
        self.child_subreaper = False
        #: the CPU second at which SIGXCPU was last sent (RLIMIT_CPU)
        self.cpu_limit_signalled = -1

    def leader(self) -> Task | None:
        return self.threads.get(self.pid)

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    @property
    def zombie(self) -> bool:
        return self.exit_status is not None and not self.reaped


class Task:
    def __init__(self, tid: int, process: Process, context: Context) -> None:
        self.tid = tid
        self.process = process
        self.context = context
        self.sigmask = 0
        self.clear_child_tid = 0
        self.robust_list = (0, 0)
        #: the syscall being served: (nr, raw args), kept while the task is parked
        self.syscall_nr = -1
        self.syscall_args: list[int] = []
        #: handler-private state that survives re-running a blocked syscall
        self.restart: dict = {}
        #: queues (and timer) this task is parked on
        self.parked_on: tuple[WaitQueue, ...] = ()
        self.parked_timer: object = None
        self.parked = False
        self.alive = True
        self.sigaltstack = (0, 2, 0)  # (sp, flags=SS_DISABLE, size)
        self.pdeath_signal = 0
        #: the CPUs the thread asked to run on (a bit per sandbox CPU; 0 means all)
        self.affinity = 0
        #: the nice value (-20..19) setpriority gave the thread: recorded and reported; the
        #: host schedules every guest thread alike
        self.nice = 0
        #: signals pending for this thread only
        self.pending = SignalQueue()
        #: the mask to restore when a handler runs after sigsuspend/ppoll/pselect (else None)
        self.saved_sigmask: int | None = None
        #: the kernel let the thread run on the host (not parked, not in the kernel's hands)
        self.running = False
        #: what to do when a job-control stop ends (the thread is held until then)
        self.held: object = None

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
