"""Time slices for guest threads, and the run queue.

A thread runs for at most SLICE_INSTRUCTIONS instructions per turn (unicorn's
instruction count), so a spinning thread cannot starve the others, and the platform
regains control often enough to watch host streams, deadlines and pokes.

The cheaper way, stopping the emulator from a timer thread (uc_emu_stop, which is also
how unicorn's own timeout works), is not used: in unicorn 2.1 a stop that lands while a
guest instruction writes memory ends the run after the write but with the instruction
pointer still on that instruction, so a read-modify-write instruction (`add [mem], 1`,
`lock xadd`...) runs twice when the thread goes on (measured: 1,978 extra increments
in 20 million with 2,365 stops; CPython's reference counts go wrong within a second).
Counting instructions costs about 2x in compute-bound code and nothing measurable per
syscall; a time slice is 10 to 30 ms of emulated code.
"""

from __future__ import annotations

import collections

#: the most instructions a thread runs per turn (tens of milliseconds of emulated code)
SLICE_INSTRUCTIONS = 500_000

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.platforms.emu.cpu import EmuThread


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
