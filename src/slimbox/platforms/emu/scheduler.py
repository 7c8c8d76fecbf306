"""Time slices for guest threads, and the run queue.

unicorn offers two ways to end a run that does not end by itself, and neither is
right on its own:

- its instruction count (what `emu_start(count=...)` uses) is exact, but it makes
  unicorn call a helper after every instruction: compute-bound code runs up to ~100x
  slower (measured: an xorshift loop 0.10 s -> 9.8 s; Python's start-up 5x);
- stopping it from another thread (uc_emu_stop, also how its own timeout works) costs
  nothing until it happens, but in unicorn 2.1 a stop that lands while a guest
  instruction writes memory ends the run after the write with the instruction pointer
  still on that instruction, so a read-modify-write instruction (`add [mem], 1`,
  `lock xadd`...) runs twice when the thread goes on (measured: 1,978 extra
  increments in 20 million with 2,365 stops).

So a process runs at full speed, with no count, until a run of it has to be cut
short: it computed without a syscall for UNCOUNTED_TURN_NS while another thread waited
for the CPU, or past the deadline of the platform's wait, or the platform was poked (a
host signal). The `Preemption` timer thread then stops it with uc_emu_stop (the one
place the hazard above remains, at most once per process), and from then on the
process's runs are counted, at most SLICE_INSTRUCTIONS each (for good: the switch drops
all code translated so far, which carries no count; Engine.start_slicing). Processes
that make syscalls often (pipelines, servers, most programs) are seldom cut short, so
seldom counted.
"""

from __future__ import annotations

import collections
import threading
import time

#: the most instructions a time-sliced thread runs per turn (tens of milliseconds)
SLICE_INSTRUCTIONS = 500_000
#: how long an uncounted run may go on while another thread waits (nanoseconds)
UNCOUNTED_TURN_NS = 300_000_000
#: how often the timer thread looks at an uncounted run (seconds)
TICK = 0.005
#: "no deadline"
FOREVER = 1 << 63

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.platforms.emu.cpu import EmuThread
    from slimbox.platforms.emu.engine import Engine


class Preemption:
    """The timer thread that stops an uncounted run once it is past its end.

    The lock makes sure the emulator stopped is the one still running: `end` is called
    as soon as a run is over, and an emulator is closed only after that."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._ends_at = FOREVER
        self._stopped = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="slimbox-emu-preemption", daemon=True)
        self._thread.start()

    def begin(self, engine: Engine, ends_at_ns: int) -> None:
        with self._lock:
            self._engine = engine
            self._ends_at = ends_at_ns
            self._stopped = False

    def end(self) -> bool:
        """The run is over; True if this thread stopped it."""
        with self._lock:
            self._engine = None
            return self._stopped

    def cut_short(self) -> None:
        """End the run in progress at the next tick (safe in a signal handler: no lock)."""
        self._ends_at = 0

    def _loop(self) -> None:
        while not self._closed:
            time.sleep(TICK)
            with self._lock:
                if self._engine is not None and not self._stopped and time.monotonic_ns() >= self._ends_at:
                    self._engine.stop()
                    self._stopped = True

    def close(self) -> None:
        self._closed = True
        self._thread.join()


class RunQueue:
    """Threads waiting for the CPU, first come first served; a preempted thread goes last."""

    def __init__(self) -> None:
        self._queue: collections.deque[EmuThread] = collections.deque()

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, thread: EmuThread) -> None:
        self._queue.append(thread)

    def pop(self) -> EmuThread | None:
        return self._queue.popleft() if self._queue else None

    def remove(self, thread: EmuThread) -> bool:
        try:
            self._queue.remove(thread)
        except ValueError:
            return False
        return True
