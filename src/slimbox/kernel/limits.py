"""Sandbox-wide resource limits and the budgets that enforce them.

`Limits` is what a user asks for (CLI flags, `Sandbox(limits=...)`); the kernel turns it
into per-process rlimits (open files, CPU time, file size), which the guest may lower
but never raise past the sandbox's value, and into budgets shared by every process of
the sandbox (memory, in-memory file data, output). Each limit fails the way Linux does
when the corresponding resource runs out, so programs handle it as they would there.
"""

from __future__ import annotations

from slimbox.kernel.errors import LinuxError
from slimbox.kernel.record import Frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Process

#: Linux's default thread limit is far higher; 1024 keeps a fork or thread bomb cheap to
#: stop while leaving room for thread pools and make -j.
DEFAULT_TASKS = 1024


class Limits(Frozen):
    """Resource limits of one sandbox; None means no limit beyond the host's own.

    memory:      bytes of guest memory, all processes together (writable or copied
                 mappings, heap, stacks; not read-only views of host files): mmap, brk,
                 mremap, mprotect and fork fail with ENOMEM past it.
    tasks:       threads alive at once, all processes together: clone/fork fail with EAGAIN.
    open_files:  descriptors per process (RLIMIT_NOFILE): EMFILE past it.
    tmpfs:       bytes held by the in-memory filesystems (the writable layer over the
                 root, /tmp, --tmpfs mounts), file data plus a small cost per inode:
                 ENOSPC past it. None: half the host's memory, as tmpfs does.
    cpu_seconds: CPU time per process (RLIMIT_CPU): SIGXCPU when it is used up, SIGKILL
                 one second of CPU later.
    file_size:   largest file a process may write (RLIMIT_FSIZE): SIGXFSZ and EFBIG.
    output:      bytes the sandbox may write to its standard output and error together:
                 past it, writes there fail with EFBIG and raise SIGXFSZ.
    """

    __slots__ = ("memory", "tasks", "open_files", "tmpfs", "cpu_seconds", "file_size", "output")

    def __init__(self, memory: int | None = None, tasks: int = DEFAULT_TASKS, open_files: int | None = None,
                 tmpfs: int | None = None, cpu_seconds: int | None = None, file_size: int | None = None,
                 output: int | None = None) -> None:
        optional = {"memory": memory, "open_files": open_files, "tmpfs": tmpfs, "cpu_seconds": cpu_seconds,
                    "file_size": file_size, "output": output}
        for name, value in optional.items():
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"limit {name} must be a non-negative integer or None, not {value!r}")
        if not isinstance(tasks, int) or tasks < 1:
            raise ValueError(f"limit tasks must be a positive integer, not {tasks!r}")
        if open_files is not None and open_files < 3:
            raise ValueError("limit open_files must leave room for standard input, output and error (at least 3)")
        self._set(tasks=tasks, **optional)


class Budget:
    """A quantity shared by the whole sandbox, charged and released as it is used."""

    __slots__ = ("limit", "used", "errno")

    def __init__(self, limit: int | None, errno: int) -> None:
        self.limit = limit
        self.used = 0
        self.errno = errno

    def room(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    def fits(self, amount: int) -> bool:
        return amount <= 0 or self.limit is None or self.used + amount <= self.limit

    def check(self, amount: int) -> None:
        """Fail (with nothing charged) if `amount` more would not fit."""
        if not self.fits(amount):
            raise LinuxError(self.errno)

    def charge(self, amount: int) -> None:
        self.check(amount)
        self.used += amount

    def release(self, amount: int) -> None:
        self.used -= amount


def rlimit_ceilings(limits: Limits) -> dict[int, tuple[int, int]]:
    """The rlimits the sandbox's limits set for each process (soft, hard), by resource;
    a process may lower them but never raise them past these, whatever its privileges."""
    from slimbox.kernel.task import RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE

    ceilings = {}
    if limits.open_files is not None:
        ceilings[RLIMIT_NOFILE] = (limits.open_files, limits.open_files)
    if limits.cpu_seconds is not None:
        ceilings[RLIMIT_CPU] = (limits.cpu_seconds, limits.cpu_seconds + 1)
    if limits.file_size is not None:
        ceilings[RLIMIT_FSIZE] = (limits.file_size, limits.file_size)
    return ceilings


def apply_rlimits(process: Process, limits: Limits) -> None:
    """Start a sandbox's first process with the rlimits its limits ask for."""
    from slimbox.kernel.task import RLIMIT_NOFILE

    for resource, (soft, hard) in rlimit_ceilings(limits).items():
        current_soft, current_hard = process.rlimits[resource]
        process.rlimits[resource] = (min(soft, current_soft), min(hard, current_hard))
    process.fds.limit = min(process.fds.limit, process.rlimits[RLIMIT_NOFILE][0])
