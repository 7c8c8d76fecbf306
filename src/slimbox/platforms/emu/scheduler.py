"""Time slices for guest threads: a timer thread that stops a run at its end.

unicorn can end a run itself after a timeout, but it starts a host thread for every
run that has one (~170 us per run, measured, against ~8 us for the run itself), and an
instruction count is implemented with a per-instruction hook. Here one timer thread
per platform wakes every TICK seconds and stops the run in progress once it has
reached the end the platform gave it, so a run that ends by itself (a syscall, a
fault) costs nothing more than two uncontended lock operations.

Stopping is the one call unicorn makes for another thread (its own timeout works
that way). The lock makes sure the emulator stopped is the one still running: the
platform closes an emulator only after its run is over.
"""

from __future__ import annotations

import collections
import threading
import time

#: how often the timer looks at the run in progress (seconds)
TICK = 0.002
#: the longest a thread runs while others wait (nanoseconds)
SLICE_NS = 10_000_000

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.platforms.emu.cpu import EmuThread
    from slimbox.platforms.emu.engine import Engine


class Preemption:
    """The timer thread; `begin`/`end` bracket each run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._ends_at = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="slimbox-emu-preemption", daemon=True)
        self._thread.start()

    def begin(self, engine: Engine, ends_at_ns: int) -> None:
        with self._lock:
            self._engine = engine
            self._ends_at = ends_at_ns

    def end(self) -> None:
        with self._lock:
            self._engine = None

    def cut_short(self) -> None:
        """End the run in progress at the next tick (safe in a signal handler: no lock)."""
        self._ends_at = 0

    def _loop(self) -> None:
        while not self._closed:
            time.sleep(TICK)
            with self._lock:
                if self._engine is not None and time.monotonic_ns() >= self._ends_at:
                    self._engine.stop()

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
