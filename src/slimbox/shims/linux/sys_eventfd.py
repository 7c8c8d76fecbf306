"""Descriptors that deliver events: eventfd, eventfd2, timerfd_create, timerfd_settime,
timerfd_gettime, signalfd, signalfd4."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.eventfd import EFD_SEMAPHORE, EventFdFile
from slimbox.kernel.file import O_CLOEXEC, O_NONBLOCK
from slimbox.kernel.signalfd import SignalFdFile
from slimbox.kernel.timerfd import (
    ALARM_CLOCKS, TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET, TIMERFD_CLOCKS, TimerFdFile,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

NS = 1_000_000_000
EFD_CLOEXEC, EFD_NONBLOCK = O_CLOEXEC, O_NONBLOCK
TFD_CLOEXEC, TFD_NONBLOCK = O_CLOEXEC, O_NONBLOCK
SFD_CLOEXEC, SFD_NONBLOCK = O_CLOEXEC, O_NONBLOCK
SIGSET_SIZE = 8


# --- eventfd ---------------------------------------------------------------------------------


def eventfd2(task: Task, initval: int, flags: int) -> int:
    if flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK):
        raise LinuxError(Errno.EINVAL)
    return task.fds.install(EventFdFile(initval, flags), cloexec=bool(flags & EFD_CLOEXEC))


def eventfd(task: Task, initval: int) -> int:
    return eventfd2(task, initval, 0)


# --- timerfd ---------------------------------------------------------------------------------


def timerfd_create(task: Task, clockid: int, flags: int) -> int:
    if flags & ~(TFD_CLOEXEC | TFD_NONBLOCK) or clockid not in TIMERFD_CLOCKS:
        raise LinuxError(Errno.EINVAL)
    if clockid in ALARM_CLOCKS and task.cred.euid != 0:
        raise LinuxError(Errno.EPERM)  # CAP_WAKE_ALARM, which root in the sandbox holds
    return task.fds.install(TimerFdFile(task.kernel, clockid, flags), cloexec=bool(flags & TFD_CLOEXEC))


def _timer(task: Task, fd: int) -> TimerFdFile:
    file = task.fds.get(fd)
    if not isinstance(file, TimerFdFile):
        raise LinuxError(Errno.EINVAL)
    return file


def _pack_itimerspec(value_ns: int, interval_ns: int) -> bytes:
    return structs.ITIMERSPEC.pack(interval_ns // NS, interval_ns % NS, value_ns // NS, value_ns % NS)


def timerfd_settime(task: Task, fd: int, flags: int, new_value: int, old_value: int) -> int:
    interval_sec, interval_nsec, value_sec, value_nsec = structs.ITIMERSPEC.unpack(
        task.mm.read(new_value, structs.ITIMERSPEC.size))
    if flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET):
        raise LinuxError(Errno.EINVAL)
    for sec, nsec in ((interval_sec, interval_nsec), (value_sec, value_nsec)):
        if sec < 0 or not 0 <= nsec < NS:
            raise LinuxError(Errno.EINVAL)
    timer = _timer(task, fd)
    # TFD_TIMER_CANCEL_ON_SET ends a wait when the wall clock is set; nothing in the
    # sandbox sets it, so such a timer is never cancelled
    old = timer.set(flags, value_sec * NS + value_nsec, interval_sec * NS + interval_nsec)
    if old_value:
        task.mm.write(old_value, _pack_itimerspec(*old))
    return 0


def timerfd_gettime(task: Task, fd: int, curr_value: int) -> int:
    timer = _timer(task, fd)
    task.mm.write(curr_value, _pack_itimerspec(*timer.get()))
    return 0


# --- signalfd -------------------------------------------------------------------------------


def signalfd4(task: Task, fd: int, mask: int, sizemask: int, flags: int) -> int:
    if sizemask != SIGSET_SIZE:
        raise LinuxError(Errno.EINVAL)
    (signals,) = structs.U64.unpack(task.mm.read(mask, SIGSET_SIZE))
    if flags & ~(SFD_CLOEXEC | SFD_NONBLOCK):
        raise LinuxError(Errno.EINVAL)
    if fd == -1:
        file = SignalFdFile(task.kernel, signals, flags)
        return task.fds.install(file, cloexec=bool(flags & SFD_CLOEXEC))
    existing = task.fds.get(fd)
    if not isinstance(existing, SignalFdFile):
        raise LinuxError(Errno.EINVAL)
    existing.set_mask(signals)
    task.process.signal_arrivals.notify_all()  # readers may now find something to read
    return fd


def signalfd(task: Task, fd: int, mask: int, sizemask: int) -> int:
    return signalfd4(task, fd, mask, sizemask, 0)
