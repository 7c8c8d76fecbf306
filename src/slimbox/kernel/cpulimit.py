"""RLIMIT_CPU: SIGXCPU when a process has used its soft limit of CPU time (and once
more for every further second), SIGKILL at its hard limit.

CPU time is the host's count for the process's threads (the supervisor's own work on
their behalf is not charged). It is sampled a few times a second while some process
has a finite limit, so a limit is met within that much wall-clock time.
"""

from __future__ import annotations

from slimbox.kernel import sigdeliver
from slimbox.kernel.signals import SIGKILL, SIGXCPU, kernel_info
from slimbox.kernel.task import RLIM_INFINITY, RLIMIT_CPU

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel, Timer
    from slimbox.kernel.task import Process

CHECK_INTERVAL_NS = 200_000_000
_SECOND = 1_000_000_000


class CpuLimitWatch:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._timer: Timer | None = None

    def start(self) -> None:
        """Watch from now on, while any process has a finite CPU limit."""
        if self._timer is None:
            self._timer = self.kernel.add_timer(self.kernel.monotonic_ns() + CHECK_INTERVAL_NS, self._check)

    def _check(self) -> None:
        self._timer = None
        watching = False
        for process in list(self.kernel.processes.values()):
            if process.alive and process.rlimits[RLIMIT_CPU] != (RLIM_INFINITY, RLIM_INFINITY):
                watching = True
                self._enforce(process)
        if watching:
            self.start()

    def _enforce(self, process: Process) -> None:
        soft, hard = process.rlimits[RLIMIT_CPU]
        any_thread = next(iter(process.threads.values()), None)
        if any_thread is None:
            return
        used = any_thread.context.process_cpu_time_ns() // _SECOND
        if used >= hard:
            sigdeliver.send_to_process(self.kernel, process, SIGKILL, kernel_info(SIGKILL))
        elif used >= soft and used > process.cpu_limit_signalled:
            process.cpu_limit_signalled = used
            sigdeliver.send_to_process(self.kernel, process, SIGXCPU, kernel_info(SIGXCPU))
