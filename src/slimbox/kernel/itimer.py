"""ITIMER_VIRTUAL and ITIMER_PROF: interval timers on a process's CPU time.

When one expires the process gets SIGVTALRM (virtual) or SIGPROF (profiling), and the
timer is re-armed with its interval. The host's count of the process's CPU time (user
and system together) drives both: it is sampled every SAMPLE_NS of wall-clock time while
a timer is armed, so a signal comes within that much after its expiry. (Linux counts
only user time for ITIMER_VIRTUAL; a sandboxed thread's system time is mostly the
interception of its syscalls.) As in Linux the timers survive execve and a fork child
starts with none.
"""

from __future__ import annotations

from slimbox.abi import sigframe
from slimbox.kernel import sigdeliver
from slimbox.kernel.signals import SI_KERNEL, SIGPROF, SIGVTALRM

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel, Timer
    from slimbox.kernel.task import Process

ITIMER_VIRTUAL, ITIMER_PROF = 1, 2
SIGNAL_OF = {ITIMER_VIRTUAL: SIGVTALRM, ITIMER_PROF: SIGPROF}
SAMPLE_NS = 10_000_000


class CpuTimer:
    """One armed timer: expires when the process's CPU time reaches `expires_ns`."""

    __slots__ = ("which", "expires_ns", "interval_ns", "sampler")

    def __init__(self, which: int, expires_ns: int, interval_ns: int) -> None:
        self.which = which
        self.expires_ns = expires_ns
        self.interval_ns = interval_ns
        self.sampler: Timer | None = None


def _cpu_time_ns(process: Process) -> int:
    thread = next(iter(process.threads.values()), None)
    return thread.context.process_cpu_time_ns() if thread is not None else 0


def current(process: Process, which: int) -> tuple[int, int]:
    """(CPU time left until expiry, interval) of the timer, (0, 0) when disarmed."""
    timer = process.cpu_timers.get(which)
    if timer is None:
        return (0, 0)
    return (max(timer.expires_ns - _cpu_time_ns(process), 1), timer.interval_ns)


def arm(kernel: Kernel, process: Process, which: int, value_ns: int, interval_ns: int) -> None:
    """setitimer: a zero value disarms."""
    old = process.cpu_timers.pop(which, None)
    if old is not None and old.sampler is not None:
        old.sampler.cancel()
    if value_ns <= 0:
        return
    timer = CpuTimer(which, _cpu_time_ns(process) + value_ns, interval_ns)
    process.cpu_timers[which] = timer
    _sample_later(kernel, process, timer)


def _sample_later(kernel: Kernel, process: Process, timer: CpuTimer) -> None:
    timer.sampler = kernel.add_timer(kernel.monotonic_ns() + SAMPLE_NS, lambda: _sample(kernel, process, timer))


def _sample(kernel: Kernel, process: Process, timer: CpuTimer) -> None:
    timer.sampler = None
    if not process.alive or process.cpu_timers.get(timer.which) is not timer:
        return
    used = _cpu_time_ns(process)
    if used >= timer.expires_ns:
        signo = SIGNAL_OF[timer.which]
        sigdeliver.send_to_process(kernel, process, signo, sigframe.pack_siginfo(signo, 0, SI_KERNEL))
        if not timer.interval_ns:
            del process.cpu_timers[timer.which]
            return
        # the next expiry counts from this one, but never lies in the past
        timer.expires_ns = max(timer.expires_ns + timer.interval_ns, used + 1)
    _sample_later(kernel, process, timer)
