"""eventfd: a 64-bit counter that threads and processes signal each other through.

A write adds to the counter and a read takes it (all of it, or one at a time in
semaphore mode). The counter never reaches 2**64 - 1: a write that would take it
there waits (or fails with EAGAIN) until a read makes room, and writing 2**64 - 1
itself is EINVAL. Both directions move exactly 8 bytes; a shorter buffer is EINVAL.
"""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.file import AnonFile, O_NONBLOCK, O_RDWR, POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from slimbox.kernel.waitqueue import WaitQueue

EFD_SEMAPHORE = 0x1
#: the value no counter may hold: reads and writes see it as the overflow mark
COUNTER_OVERFLOW = (1 << 64) - 1
#: the largest value the counter may hold
COUNTER_MAX = COUNTER_OVERFLOW - 1
VALUE_SIZE = 8


class EventFdFile(AnonFile):
    """An open eventfd; every descriptor dup'ed or inherited from it shares the counter."""

    min_transfer = VALUE_SIZE

    def __init__(self, initial: int, flags: int) -> None:
        super().__init__(O_RDWR | (flags & O_NONBLOCK))
        self.count = initial
        self.semaphore = bool(flags & EFD_SEMAPHORE)
        #: readers waiting for a count, notified by writes; writers waiting for room,
        #: notified by reads (so edge-triggered epoll sees EPOLLIN edges only from writes)
        self.readers = WaitQueue()
        self.writers = WaitQueue()

    def describe(self) -> bytes:
        return b"anon_inode:[eventfd]"

    def read(self, task, length: int) -> bytes:
        if length < VALUE_SIZE:
            raise LinuxError(Errno.EINVAL)
        if self.count == 0:
            if self.nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((self.readers,))
        value = 1 if self.semaphore else self.count
        self.count -= value
        self.writers.notify_all()
        return structs.U64.pack(value)

    def write(self, task, data: bytes) -> int:
        if len(data) < VALUE_SIZE:
            raise LinuxError(Errno.EINVAL)
        (value,) = structs.U64.unpack_from(data)
        if value == COUNTER_OVERFLOW:
            raise LinuxError(Errno.EINVAL)
        if value > COUNTER_MAX - self.count:
            if self.nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((self.writers,))
        self.count += value
        # Linux wakes readers even for a write of 0, which edge-triggered epoll sees
        self.readers.notify_all()
        return VALUE_SIZE

    def poll(self) -> int:
        events = 0
        if self.count > 0:
            events |= POLLIN | POLLRDNORM
        if self.count < COUNTER_MAX:
            events |= POLLOUT | POLLWRNORM
        if self.count == COUNTER_OVERFLOW:
            events |= POLLERR
        return events

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        return (self.readers, self.writers)

    def keyed_wait_queues(self, task) -> tuple[tuple[WaitQueue, int], ...]:
        return ((self.readers, POLLIN | POLLRDNORM), (self.writers, POLLOUT | POLLWRNORM))
