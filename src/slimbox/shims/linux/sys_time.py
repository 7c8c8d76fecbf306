"""Clocks, sleeping, and the time of day."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_TAI = 8, 9, 11
TIMER_ABSTIME = 1
NS = 1_000_000_000

_REALTIME_CLOCKS = (CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_REALTIME_ALARM, CLOCK_TAI)
_MONOTONIC_CLOCKS = (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
                     CLOCK_BOOTTIME_ALARM)
#: the clocks a vDSO answers: read from the host's clock of the same id, so a syscall
#: tells what the vDSO (where the platform leaves one) tells for the same clock
_HOST_CLOCKS = frozenset((CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
                          CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_TAI))
#: the alarm clocks read as the clock they wake on
_ALARM_BASE = {CLOCK_REALTIME_ALARM: CLOCK_REALTIME, CLOCK_BOOTTIME_ALARM: CLOCK_BOOTTIME}


def clock_now(task: Task, clock: int) -> int:
    kernel = task.kernel
    if clock in _HOST_CLOCKS:
        return kernel.clock_ns(clock)
    if clock in _ALARM_BASE:
        return kernel.clock_ns(_ALARM_BASE[clock])
    if clock == CLOCK_PROCESS_CPUTIME_ID:
        return task.context.process_cpu_time_ns()
    if clock == CLOCK_THREAD_CPUTIME_ID:
        return task.context.cpu_time_ns()
    if clock < 0 and (clock & 7) in (2, 6):  # per-process/thread CPU clocks made by clock_getcpuclockid
        tid = ~(clock >> 3)
        if tid in (0, task.tid, task.process.pid):
            return task.context.cpu_time_ns() if clock & 4 else task.context.process_cpu_time_ns()
    raise LinuxError(Errno.EINVAL)


def _timespec(ns: int) -> bytes:
    return structs.TIMESPEC.pack(ns // NS, ns % NS)


def _read_timespec(task: Task, pointer: int) -> int:
    sec, nsec = structs.TIMESPEC.unpack(task.mm.read(pointer, 16))
    if sec < 0 or not 0 <= nsec < NS:
        raise LinuxError(Errno.EINVAL)
    return sec * NS + nsec


def clock_gettime(task: Task, clockid: int, tp: int) -> int:
    task.mm.write(tp, _timespec(clock_now(task, clockid)))
    return 0


def clock_getres(task: Task, clockid: int, res: int) -> int:
    clock_now(task, clockid)
    if res:
        coarse = clockid in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE)
        task.mm.write(res, _timespec(4_000_000 if coarse else 1))
    return 0


def gettimeofday(task: Task, tv: int, tz: int) -> int:
    if tv:
        now = task.kernel.realtime_ns()
        task.mm.write(tv, structs.TIMEVAL.pack(now // NS, (now % NS) // 1000))
    if tz:
        task.mm.write(tz, bytes(8))  # UTC, no DST: the kernel's timezone is unused by libcs
    return 0


def time(task: Task, tloc: int) -> int:
    now = task.kernel.realtime_ns() // NS
    if tloc:
        task.mm.write(tloc, structs.I64.pack(now))
    return now


def settimeofday(task: Task, tv: int, tz: int) -> int:
    raise LinuxError(Errno.EPERM)  # the sandbox never sets the host's clock


def clock_settime(task: Task, clockid: int, tp: int) -> int:
    clock_now(task, clockid)
    raise LinuxError(Errno.EPERM)


def _sleep_until(task: Task, clock: int, deadline: int, remain: int) -> int:
    """Block until `deadline` on `clock`; the wait itself is on the monotonic clock."""
    now = clock_now(task, clock)
    if now >= deadline:
        return 0
    monotonic_deadline = task.kernel.monotonic_ns() + (deadline - now)
    raise Block((), monotonic_deadline)


def clock_nanosleep(task: Task, clockid: int, flags: int, request: int, remain: int) -> int:
    if clockid in (CLOCK_THREAD_CPUTIME_ID,):
        raise LinuxError(Errno.EINVAL)
    if clockid not in _REALTIME_CLOCKS + _MONOTONIC_CLOCKS + (CLOCK_PROCESS_CPUTIME_ID,):
        raise LinuxError(Errno.EINVAL)
    if "deadline" not in task.restart:
        length = _read_timespec(task, request)
        if flags & TIMER_ABSTIME:
            task.restart["deadline"] = length
        else:
            task.restart["deadline"] = clock_now(task, clockid) + length
            if remain:
                task.restart["on_interrupt"] = lambda: _report_remaining(task, clockid, remain)
    return _sleep_until(task, clockid, task.restart["deadline"], remain)


def _report_remaining(task: Task, clockid: int, remain: int) -> None:
    """A relative sleep cut short by a signal tells how much was left."""
    left = max(task.restart["deadline"] - clock_now(task, clockid), 0)
    try:
        task.mm.write(remain, _timespec(left))
    except LinuxError:
        pass


def nanosleep(task: Task, req: int, rem: int) -> int:
    return clock_nanosleep(task, CLOCK_MONOTONIC, 0, req, rem)
