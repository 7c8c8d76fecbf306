"""timerfd: a timer read through a file descriptor.

The timer keeps its next expiry in its own clock's time and counts expirations
lazily: whoever looks (read, poll, gettime) first brings the count up to date from
the clock, so a periodic timer that nobody reads costs nothing per period. A kernel
timer (Kernel.add_timer) wakes the file's waiters at each expiry, so blocked readers
and epoll see it; the wake-ups of a fast periodic timer are spaced at least
MIN_WAKE_GAP_NS apart (the count stays exact) so that it cannot keep the loop busy.

Kernel timers run on the monotonic clock: an expiry on CLOCK_REALTIME is turned into
a monotonic deadline when armed, so a later step of the host's wall clock moves it
no more (the sandbox itself never sets a clock).
"""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.file import AnonFile, O_NONBLOCK, O_RDWR, POLLIN, POLLRDNORM
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel, Timer

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME = 0, 1, 7
CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM = 8, 9
#: the clocks timerfd_create accepts; the alarm clocks (which would wake a suspended
#: machine) behave as their plain clock, as they do on a machine that never sleeps
TIMERFD_CLOCKS = frozenset({CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM,
                            CLOCK_BOOTTIME_ALARM})
ALARM_CLOCKS = frozenset({CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM})
_WALL_CLOCKS = frozenset({CLOCK_REALTIME, CLOCK_REALTIME_ALARM})

TFD_TIMER_ABSTIME = 0x1
TFD_TIMER_CANCEL_ON_SET = 0x2
MIN_WAKE_GAP_NS = 1_000_000
COUNT_SIZE = 8


class TimerFdFile(AnonFile):
    """An open timerfd."""

    min_transfer = COUNT_SIZE

    def __init__(self, kernel: Kernel, clock: int, flags: int) -> None:
        super().__init__(O_RDWR | (flags & O_NONBLOCK))
        self.kernel = kernel
        self.clock = clock
        #: the next expiry in the clock's time; None when disarmed
        self.next_expiry: int | None = None
        self.interval = 0
        #: expirations not yet read
        self.ticks = 0
        self.queue = WaitQueue()
        self._wake_timer: Timer | None = None

    def describe(self) -> bytes:
        return b"anon_inode:[timerfd]"

    def now(self) -> int:
        return self.kernel.realtime_ns() if self.clock in _WALL_CLOCKS else self.kernel.monotonic_ns()

    # --- the count ------------------------------------------------------------------------

    def _account(self) -> None:
        """Add the expirations that have passed to the count and move the next expiry on."""
        expiry = self.next_expiry
        if expiry is None:
            return
        now = self.now()
        if now < expiry:
            return
        if self.interval:
            passed = 1 + (now - expiry) // self.interval
            self.ticks += passed
            self.next_expiry = expiry + passed * self.interval
        else:
            self.ticks += 1
            self.next_expiry = None

    def _arm(self, not_before: int = 0) -> None:
        """(Re)schedule the kernel timer that wakes waiters at the next expiry."""
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None
        if self.next_expiry is None:
            return
        delay = max(self.next_expiry - self.now(), not_before, 0)
        self._wake_timer = self.kernel.add_timer(self.kernel.monotonic_ns() + delay, self._expired)

    def _expired(self) -> None:
        self._wake_timer = None
        self._account()
        if self.ticks:
            self.queue.notify_all()
        self._arm(MIN_WAKE_GAP_NS if self.ticks else 0)

    # --- timerfd_settime / timerfd_gettime ----------------------------------------------------

    def get(self) -> tuple[int, int]:
        """(time to the next expiry or 0 when disarmed, interval), in ns."""
        self._account()
        remaining = 0 if self.next_expiry is None else max(self.next_expiry - self.now(), 1)
        return remaining, self.interval

    def set(self, flags: int, value_ns: int, interval_ns: int) -> tuple[int, int]:
        """Arm (value 0: disarm) the timer; returns the setting it had. Expirations not
        read yet are dropped, as Linux does."""
        old = self.get()
        self.ticks = 0
        self.interval = interval_ns
        if value_ns == 0:
            self.next_expiry = None
        elif flags & TFD_TIMER_ABSTIME:
            self.next_expiry = value_ns
        else:
            self.next_expiry = self.now() + value_ns
        self._arm()
        return old

    # --- file operations ------------------------------------------------------------------------

    def read(self, task, length: int) -> bytes:
        if length < COUNT_SIZE:
            raise LinuxError(Errno.EINVAL)
        self._account()
        if self.ticks == 0:
            if self.nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((self.queue,))
        ticks, self.ticks = self.ticks, 0
        if self.next_expiry is not None and self._wake_timer is None:
            self._arm()
        return structs.U64.pack(ticks)

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.EINVAL)

    def poll(self) -> int:
        self._account()
        return POLLIN | POLLRDNORM if self.ticks else 0

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        return (self.queue,)

    def release(self) -> None:
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None
