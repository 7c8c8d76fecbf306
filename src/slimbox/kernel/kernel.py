"""The Kernel: state of one sandbox, and its single-threaded run loop.

One loop owns all kernel state, so kernel code takes no locks. Guest threads run in
parallel on host CPUs; only their syscalls pass through here, one at a time:

    while the sandbox lives:
        run the tasks that were woken (re-running the syscall they blocked in)
        wait for platform events until the next timer deadline
        handle each event (syscall -> personality; fault -> signal; interrupt; thread gone)
        fire due timers

A handler either completes (the result goes back in rax) or raises `Block`, which
parks the task on wait queues and/or a deadline; waking re-runs the syscall. Before a
thread goes back to the host, pending signals are acted on (sigdeliver.py) and a
stopped process keeps its threads.
"""

from __future__ import annotations

import heapq
import itertools
from _collections import deque  # the C module behind collections, whose import costs ~3 ms a run

from slimbox.abi.errno import Errno
from slimbox.abi.regs import MASK64
from slimbox.kernel import exit as kexit
from slimbox.kernel import sigdeliver
from slimbox.kernel.cpulimit import CpuLimitWatch
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import Block, InternalError, LinuxError
from slimbox.kernel.fd import FdTable
from slimbox.kernel.file import File
from slimbox.kernel.fs.vfs import FsContext, Vfs
from slimbox.kernel.futex import FutexTable
from slimbox.kernel.limits import Budget, Limits, apply_rlimits
from slimbox.kernel.log import DeferredLogger
from slimbox.kernel.mm import MemoryManager
from slimbox.kernel.record import Record
from slimbox.kernel.signals import SIGKILL, SIGSYS, kernel_info
from slimbox.kernel.task import Personality, Process, Task
from slimbox.platforms.base import (
    ExitEvent, FaultEvent, GuestMemoryError, Host, HostReadyEvent, InterruptEvent, Platform, SyscallEvent,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable, Sequence
    import logging
    from slimbox.platforms.base import Context
    from slimbox.kernel.fs.memfs import MemFs

CLOCK_REALTIME, CLOCK_MONOTONIC = 0, 1

#: returned by a handler when the task must not be resumed (it is gone or replaced)
NO_REPLY = object()


class KernelConfig(Record):
    __slots__ = ("hostname", "domainname", "release", "version", "uid", "gid", "aslr", "cpu_count", "memory_bytes",
                 "limits", "hwcap")

    def __init__(self, hostname: bytes = b"slimbox", domainname: bytes = b"(none)", release: bytes = b"6.1.0-slimbox",
                 version: bytes = b"#1 SMP PREEMPT_DYNAMIC slimbox", uid: int = 0, gid: int = 0, aslr: bool = True,
                 cpu_count: int = 1, memory_bytes: int = 4 << 30, limits: Limits | None = None,
                 hwcap: dict[int, int] | None = None) -> None:
        self.hostname = hostname
        self.domainname = domainname
        self.release = release
        self.version = version
        self.uid = uid
        self.gid = gid
        self.aslr = aslr
        self.cpu_count = cpu_count
        self.memory_bytes = memory_bytes
        #: the sandbox's resource limits (see limits.py)
        self.limits = Limits() if limits is None else limits
        self.hwcap = {} if hwcap is None else hwcap


class Timer:
    __slots__ = ("deadline", "callback", "cancelled")

    def __init__(self, deadline: int, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SandboxTimeout(Exception):
    """The run's wall-clock deadline passed; every guest process has been killed."""


def _held_for_signals(task: Task, process: Process) -> bool:
    """Whether a task finishing a syscall must pass through signal delivery first: a
    signal is pending, its process is stopped, or sigsuspend-like calls left a mask to
    restore."""
    return bool(task.pending.items or process.pending.items or process.stopped or task.saved_sigmask is not None)


class Kernel:
    def __init__(self, host: Host, config: KernelConfig | None = None,
                 log: logging.Logger | None = None) -> None:
        self.host = host
        #: the platform guest code runs on, attached for the duration of a run
        self.platform: Platform | None = None
        #: the filesystem view, set by whoever builds the sandbox
        self.vfs: Vfs | None = None
        self.config = config or KernelConfig()
        self.log = log or DeferredLogger("slimbox")
        self.tasks: dict[int, Task] = {}
        #: live processes and zombies not yet reaped
        self.processes: dict[int, Process] = {}
        self._ids = itertools.count(1)
        self._timers: list[tuple[int, int, Timer]] = []
        self._timer_seq = itertools.count()
        self._runnable: deque[Task] = deque()
        self._running_woken = False
        self.boot_ns = self.monotonic_ns()
        self.boot_realtime_ns = self.realtime_ns()
        self.init: Process | None = None
        #: the task whose syscall is being served (what /proc/self means)
        self.current: Task | None = None
        #: the sandbox's controlling terminal (what /dev/tty opens), if stdio is one
        self.terminal: File | None = None
        self.reported_unsupported: set[str] = set()
        self.futexes = FutexTable()
        self.syscall_count = 0
        #: the first internal error met; run() stops the sandbox and raises it
        self.failure: InternalError | None = None
        #: signals the supervisor received from its host (Ctrl-C...), to pass on to the guest
        self.host_signals: list[int] = []
        #: sandbox-wide budgets: guest memory, bytes written to the sandbox's stdout/stderr
        self.memory = Budget(self.config.limits.memory, Errno.ENOMEM)
        self.output = Budget(self.config.limits.output, Errno.EFBIG)
        #: what the in-memory filesystems hold (tmpfs's default size: half the memory)
        tmpfs = self.config.limits.tmpfs
        self.storage = Budget(self.config.memory_bytes // 2 if tmpfs is None else tmpfs, Errno.ENOSPC)
        #: the filesystem of memfd_create's files (made with the view, or on first use)
        self.memfd_fs: MemFs | None = None
        #: RLIMIT_CPU enforcement, sampling while some process has a finite limit
        self.cpu_limits = CpuLimitWatch(self)

    # --- time and ids -------------------------------------------------------------

    def monotonic_ns(self) -> int:
        return self.host.clock_ns(CLOCK_MONOTONIC)

    def realtime_ns(self) -> int:
        return self.host.clock_ns(CLOCK_REALTIME)

    def clock_ns(self, clock: int) -> int:
        """The host's clock `clock` (one a vDSO answers: realtime, monotonic, their raw,
        coarse, boottime and TAI variants; Host.clock_ns)."""
        return self.host.clock_ns(clock)

    def next_id(self) -> int:
        while True:
            candidate = next(self._ids)
            if candidate not in self.tasks and candidate not in self.processes:
                return candidate

    def random_bytes(self, length: int) -> bytes:
        return self.host.entropy(length)

    # --- timers ----------------------------------------------------------------------

    def add_timer(self, deadline_ns: int, callback: Callable[[], None]) -> Timer:
        timer = Timer(deadline_ns, callback)
        heapq.heappush(self._timers, (deadline_ns, next(self._timer_seq), timer))
        return timer

    def _next_deadline(self) -> int | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def _fire_timers(self) -> None:
        if not self._timers:
            return
        now = self.monotonic_ns()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.cancelled = True
                timer.callback()

    # --- blocking ----------------------------------------------------------------------

    def _park(self, task: Task, block: Block) -> None:
        task.parked = True
        restart = task.restart
        wake = restart.get("_wake")
        if wake is None:
            wake = restart["_wake"] = lambda: self.wake(task)
        task.parked_on = queues = block.queues
        for queue in queues:
            queue.add(wake)
        if block.deadline_ns is not None:
            task.parked_timer = self.add_timer(block.deadline_ns, wake)
        if (task.pending.items or task.process.pending.items) and sigdeliver.has_deliverable(task):
            sigdeliver.interrupt(self, task)  # a signal arrived before the task could park

    def _unpark(self, task: Task) -> bool:
        if not task.parked:
            return False
        wake = task.restart.get("_wake")
        for queue in task.parked_on:
            queue.remove(wake)
        if task.parked_timer is not None:
            task.parked_timer.cancel()
        task.parked_on = ()
        task.parked_timer = None
        task.parked = False
        return True

    def wake(self, task: Task) -> None:
        """Unpark `task`; its syscall runs again from the loop."""
        if self._unpark(task):
            self._runnable.append(task)

    # --- processes ----------------------------------------------------------------------

    def new_process(self, personality: Personality, cred: Credentials, fs: FsContext, fds: FdTable,
                    parent: Process | None = None) -> Task:
        """A process with an empty address space and one stopped thread; the caller
        loads a program into it (see exec.py) and resumes the thread."""
        assert self.platform is not None
        context = self.platform.new_process()
        pid = self.next_id()
        process = Process(self, pid, MemoryManager(context.address_space, budget=self.memory), fds, fs, cred,
                          personality, parent=parent, pgid=pid, sid=pid, start_time_ns=self.monotonic_ns())
        apply_rlimits(process, self.config.limits)
        if self.config.limits.cpu_seconds is not None:
            self.cpu_limits.start()
        task = Task(pid, process, context)
        context.owner = task
        self.register(task)
        if parent is not None:
            parent.children.append(process)
        return task

    def register(self, task: Task) -> None:
        task.process.threads[task.tid] = task
        self.tasks[task.tid] = task
        self.processes[task.process.pid] = task.process

    # --- the loop --------------------------------------------------------------------------

    def run(self, deadline_ns: int | None = None) -> Process:
        """Run until the init process has ended (or the deadline passes); returns it."""
        assert self.init is not None and self.platform is not None
        timed_out = []
        if deadline_ns is not None:
            self.add_timer(deadline_ns, lambda: timed_out.append(True))
        while self.init.alive:
            self.step()
            if self.failure is not None:
                self.kill_everything(str(self.failure))
                raise self.failure
            if timed_out:
                self.kill_everything("wall-clock timeout")
                raise SandboxTimeout()
        self.kill_everything("init exited")
        return self.init

    def step(self, max_wait_ns: int | None = None) -> None:
        """One turn of the loop: run woken tasks, wait for platform events until the next
        timer (or `max_wait_ns`), handle them, fire due timers, pass on host signals."""
        # This runs once per guest syscall or more: the common turn (one notified syscall,
        # no timers, nothing woken) is kept to a few attribute tests.
        if self._runnable:
            self.run_woken()
        init = self.init
        if init is not None and init.exit_status is not None:
            return
        timers = self._timers
        timeout = None
        if timers:
            deadline = self._next_deadline()
            if deadline is not None:
                timeout = max(0, deadline - self.monotonic_ns())
        if max_wait_ns is not None:
            timeout = max_wait_ns if timeout is None else min(timeout, max_wait_ns)
        platform = self.platform
        serve = self._serve
        wait_serving = getattr(platform, "wait_serving", None)
        events = platform.wait(timeout) if wait_serving is None else wait_serving(timeout, serve)
        for event in events:
            kind = type(event)
            if kind is SyscallEvent:
                context = event.context
                result = serve(context, event.nr, event.args)
                if result is not None:
                    self._finish(context, result)
            elif kind is HostReadyEvent:
                event.key.notify_all()
            elif kind is InterruptEvent:
                task = event.context.owner
                task.running = False
                if task.alive:
                    self.resume(task)
            elif kind is FaultEvent:
                self._on_fault(event)
            elif kind is ExitEvent:
                self._on_thread_gone(event)
        if timers:
            self._fire_timers()
        while self.host_signals:
            sigdeliver.forward_host_signal(self, self.host_signals.pop(0))

    def _serve(self, context: Context, nr: int, args: Sequence[int]) -> int | None:
        """A syscall handed over as it arrives (Platform.wait_serving): _dispatch and
        complete in one, returning the result when the thread may simply go on with it;
        anything else (a parked or unanswered call, signals to deliver, woken tasks,
        timers due, host signals) is seen to here or by the loop, and gives None."""
        task = context.owner
        if not task.alive:
            return None  # killed by an earlier event: its syscall never runs
        task.running = False
        task.syscall_nr = nr
        task.syscall_args = args
        self.syscall_count += 1
        self.current = task
        process = task.process
        try:
            result = process.personality.syscall(task, nr, args)
        except Block as block:
            self._park(task, block)
            return None
        except LinuxError as exc:
            result = -exc.errno
        except GuestMemoryError:
            result = -Errno.EFAULT
        except ProcessLookupError:
            return None  # the host thread is gone (killed from outside): its ExitEvent follows
        except Exception as exc:  # a bug in a handler must not take the supervisor down
            self._internal_error(task, exc)
            return None
        if result is NO_REPLY or not task.alive:
            return None
        if self._runnable and not self._running_woken:
            # The tasks this call woke go first, as a woken thread often does on Linux: in
            # a hand-off (a pipe or futex ping-pong) the waker's next call then finds the
            # other side's answer there instead of parking and being run again.
            self.run_woken()
            if not task.alive:
                return None
        if (task.restart or _held_for_signals(task, process) or self._runnable or self.host_signals
                or (self._timers and self._timers[0][0] <= self.monotonic_ns())):
            self.complete(task, result)
            return None
        task.running = True
        return result

    def run_woken(self) -> None:
        """Re-run the syscalls of the tasks that were woken."""
        runnable = self._runnable
        self._running_woken = True  # the calls run here leave whatever they wake to this loop
        try:
            while runnable:
                task = runnable.popleft()
                if task.alive:
                    self._dispatch(task)
        finally:
            self._running_woken = False

    def _dispatch(self, task: Task) -> None:
        """Run the task's syscall (again, after a wake-up) and finish it if it may go on."""
        context = task.context
        result = self._serve(context, task.syscall_nr, task.syscall_args)
        if result is not None:
            self._finish(context, result)

    @staticmethod
    def _finish(context: Context, result: int) -> None:
        try:
            context.finish_syscall(result)
        except ProcessLookupError:
            pass  # the host thread is gone (killed from outside): its ExitEvent follows

    def complete(self, task: Task, result: int) -> None:
        """Finish the task's syscall with `result` and let it run."""
        restart = task.restart
        if restart:
            if "futex" in restart:
                self.futexes.forget(task)  # ended some other way than a wake (EINTR, timeout)
            restart.clear()
        process = task.process
        try:
            if _held_for_signals(task, process):
                task.context.regs.rax = result & MASK64
                self.resume(task)
                return
            task.running = True
            task.context.finish_syscall(result)
        except ProcessLookupError:
            pass  # the host thread is gone (killed from outside): its ExitEvent follows

    def resume(self, task: Task) -> None:
        """Let a task in the kernel's hands run on, with its registers as they are, after
        acting on its pending signals; a stopped process keeps it until continued."""
        try:
            if sigdeliver.deliver(self, task) and task.alive:
                if task.process.stopped:
                    task.held = True
                    return
                task.running = True
                task.context.resume()
        except ProcessLookupError:
            pass  # the host thread is gone (killed from outside): its ExitEvent follows

    def _internal_error(self, task: Task, exc: Exception) -> None:
        """A handler failed with a Python exception: a kernel bug. The whole sandbox
        stops (its state can no longer be trusted) and run() raises InternalError."""
        name = getattr(task.process.personality, "syscall_name", lambda nr: str(nr))(task.syscall_nr)
        import traceback  # only for this rare report: kept off the start-up path

        self.log.debug("%s", traceback.format_exc())
        if self.failure is None:
            self.failure = InternalError(name, task.pid, exc)
        self.exit_process(task.process, 0, SIGSYS, f"internal error in {name}")

    def _on_fault(self, event: FaultEvent) -> None:
        task = event.context.owner
        task.running = False
        if task.alive:
            sigdeliver.force_fault(self, task, event.signal, event.code, event.address, event.description)
            if task.alive:
                self.resume(task)

    def _on_thread_gone(self, event: ExitEvent) -> None:
        task = event.context.owner
        if task is None or not task.alive:
            return
        # the host thread died without the kernel asking for it
        self.exit_process(task.process, 0, event.killed_by or SIGKILL, event.description)

    # --- ending tasks and processes ----------------------------------------------------------

    def send_signal_to_task(self, task: Task, signo: int) -> None:
        """A signal the kernel raises for a thread (SIGPIPE on a broken pipe...)."""
        sigdeliver.send_to_task(self, task, signo, kernel_info(signo))

    def forget_task(self, task: Task) -> None:
        task.alive = False
        task.running = False
        self.futexes.forget(task)
        self._unpark(task)
        task.process.threads.pop(task.tid, None)
        self.tasks.pop(task.tid, None)

    def exit_process(self, process: Process, code: int, signal: int = 0, description: str = "",
                     core: bool = False) -> None:
        """End every thread of `process` with exit code `code` or killing `signal`."""
        kexit.exit_process(self, process, code, signal, description, core)

    def kill_everything(self, why: str) -> None:
        for process in list(self.processes.values()):
            if process.alive:
                self.exit_process(process, 0, SIGKILL, why)

    # --- unsupported syscalls ----------------------------------------------------------------

    def report_unsupported(self, name: str, detail: str, *, deliberate: bool = False) -> None:
        """Log an unsupported syscall once per name: a warning, or an info line when the
        refusal is by design (the syscall table says why)."""
        if name in self.reported_unsupported:
            return
        self.reported_unsupported.add(name)
        if deliberate:
            self.log.info("refused syscall %s -> ENOSYS (by design; reported once)", detail)
        else:
            self.log.warning("unsupported syscall %s -> ENOSYS (reported once)", detail)
