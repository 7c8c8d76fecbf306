"""Futexes: wait queues keyed by a guest address, kept entirely in the kernel.

Guest futex words are never handed to the host: a waiter is parked here and woken
by the kernel's own FUTEX_WAKE (or a thread's exit). A private futex is keyed by
(address space, address); a shared one in MAP_SHARED memory by the shared pages and
the offset into them, so processes that share the memory (through fork) meet on it.
"""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.mm import MemoryManager
    from slimbox.kernel.task import Task

BITSET_ANY = 0xFFFFFFFF


class Waiter:
    __slots__ = ("task", "key", "bitset", "queue", "woken")

    def __init__(self, task: Task, key: tuple[object, int], bitset: int) -> None:
        self.task = task
        self.key = key
        self.bitset = bitset
        self.queue = WaitQueue()
        self.woken = False


class FutexTable:
    def __init__(self) -> None:
        self._waiters: dict[tuple[int, int], list[Waiter]] = {}

    @staticmethod
    def key(mm: MemoryManager, addr: int, private: bool = True) -> tuple[object, int]:
        if addr & 3:
            raise LinuxError(Errno.EINVAL)
        if not private:
            vma = mm.find(addr)
            if vma is not None:
                shared = vma.shared_key(addr)
                if shared is not None:
                    return shared
        return (mm, addr)

    def wait(self, task: Task, addr: int, expected: int, bitset: int, deadline_ns: int | None,
             private: bool = True) -> int:
        """FUTEX_WAIT(_BITSET); re-entered after every wake-up of the task."""
        if bitset == 0:
            raise LinuxError(Errno.EINVAL)
        waiter: Waiter | None = task.restart.get("futex")
        if waiter is None:
            key = self.key(task.mm, addr, private)
            current = int.from_bytes(task.mm.read(addr, 4), "little")
            if current != expected & 0xFFFFFFFF:
                raise LinuxError(Errno.EAGAIN)
            waiter = Waiter(task, key, bitset)
            task.restart["futex"] = waiter
            self._waiters.setdefault(key, []).append(waiter)
        if waiter.woken:
            return 0
        if deadline_ns is not None and task.kernel.monotonic_ns() >= deadline_ns:
            self._remove(waiter)
            raise LinuxError(Errno.ETIMEDOUT)
        raise Block((waiter.queue,), deadline_ns)

    def wake(self, mm: MemoryManager, addr: int, count: int, bitset: int = BITSET_ANY,
             private: bool = True) -> int:
        if bitset == 0:
            raise LinuxError(Errno.EINVAL)
        key = self.key(mm, addr, private)
        woken = 0
        count = max(count, 1)  # Linux wakes one waiter even when asked for none
        for waiter in list(self._waiters.get(key, ())):
            if woken >= count:
                break
            if waiter.bitset & bitset:
                self._wake_one(waiter)
                woken += 1
        return woken

    def requeue(self, mm: MemoryManager, addr: int, count: int, target: int, requeue: int,
                private: bool = True) -> int:
        """Wake `count` waiters on addr and move up to `requeue` more to `target`."""
        key = self.key(mm, addr, private)
        target_key = self.key(mm, target, private)
        done = 0
        moved = 0
        for waiter in list(self._waiters.get(key, ())):
            if done < count:
                self._wake_one(waiter)
                done += 1
            elif moved < requeue:
                self._remove(waiter)
                waiter.key = target_key
                self._waiters.setdefault(target_key, []).append(waiter)
                moved += 1
            else:
                break
        return done + moved

    def _wake_one(self, waiter: Waiter) -> None:
        self._remove(waiter)
        waiter.woken = True
        waiter.queue.notify_all()

    def _remove(self, waiter: Waiter) -> None:
        waiters = self._waiters.get(waiter.key)
        if waiters and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[waiter.key]

    def forget(self, task: Task) -> None:
        """Drop a task's wait (it died or was interrupted)."""
        waiter = task.restart.get("futex")
        if waiter is not None:
            self._remove(waiter)

    def waiting(self, mm: MemoryManager, addr: int, private: bool = True) -> int:
        return len(self._waiters.get(self.key(mm, addr, private), ()))
