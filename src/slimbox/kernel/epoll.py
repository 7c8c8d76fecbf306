"""epoll: an interest list of (file description, descriptor number) pairs and the ready
list of those that may have events.

Each interest subscribes to the wait queues of its file (`File.keyed_wait_queues`, which
also says what each queue's notifications can mean, so that, as with Linux's wake-up
keys, a change an interest does not ask about is no event for it). When one of them is
notified the interest moves to the ready list and the epoll's own queue is notified,
which wakes epoll_wait and anything polling the epoll file (another epoll nesting it,
poll, select). A queue forgets a callback once it has run it, so an interest is
subscribed again when it leaves the ready list; it is therefore always either on the
ready list or subscribed (or disabled by EPOLLONESHOT). epoll_wait polls each interest
on the ready list and reports the events it has now:

* level-triggered interests that still have events go back to the end of the list
  (so the next wait polls them again, and busy descriptors take turns);
* edge-triggered ones leave it and are reported again only after a new notification;
* EPOLLONESHOT disables the interest until EPOLL_CTL_MOD arms it again.

As in Linux the interest belongs to the open file description, not to the number: it
survives close() of that number while a dup of the description is open, and goes from
every epoll when the description's last reference does. An epoll holds no reference
to the files it watches.
"""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import AnonFile, O_RDWR, POLLIN, POLLRDNORM, File
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable
    from slimbox.kernel.kernel import Kernel

EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR, EPOLLHUP = 0x1, 0x2, 0x4, 0x8, 0x10
EPOLLRDNORM, EPOLLRDBAND, EPOLLWRNORM, EPOLLWRBAND, EPOLLMSG, EPOLLRDHUP = 0x40, 0x80, 0x100, 0x200, 0x400, 0x2000
EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLONESHOT, EPOLLET = 1 << 28, 1 << 29, 1 << 30, 1 << 31
#: bits that say how to report rather than what to report
EP_PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE
#: the only events an EPOLLEXCLUSIVE interest may ask for
EPOLLEXCLUSIVE_OK_BITS = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
#: reported whether asked for or not
ALWAYS_REPORTED = EPOLLERR | EPOLLHUP

EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
#: the most links in a chain of epolls watching epolls
EP_MAX_NESTS = 4


class Interest:
    """One (file, fd) in an epoll's interest list."""

    __slots__ = ("epoll", "file", "fd", "events", "data", "listening")

    def __init__(self, epoll: EpollFile, file: File, fd: int, events: int, data: int) -> None:
        self.epoll = epoll
        self.file = file
        self.fd = fd
        #: what to report, with EPOLLERR | EPOLLHUP added, and the EP_PRIVATE_BITS
        self.events = events
        self.data = data
        #: (queue, callback) pairs listened to; None when not subscribed
        self.listening: list[tuple[WaitQueue, Callable[[], None]]] | None = None

    @property
    def enabled(self) -> bool:
        """False once EPOLLONESHOT has reported it (until EPOLL_CTL_MOD)."""
        return bool(self.events & ~EP_PRIVATE_BITS)

    def revents(self) -> int:
        return self.file.poll() & self.events & ~EP_PRIVATE_BITS

    def subscribe(self, task) -> None:
        """Listen to the file's queues. A file that gives none now (a host stream that is
        readable already) is asked again the next time someone waits."""
        if self.listening is not None:
            return
        pairs = self.file.keyed_wait_queues(task)
        if not pairs:
            return
        self.listening = []
        for queue, key in pairs:
            callback = self._listener(queue, key)
            queue.add(callback)
            self.listening.append((queue, callback))

    def unsubscribe(self) -> None:
        if self.listening is not None:
            for queue, callback in self.listening:
                queue.remove(callback)
            self.listening = None

    def _listener(self, queue: WaitQueue, key: int) -> Callable[[], None]:
        """The callback for one queue whose notifications can signal the events `key`."""

        def heard() -> None:
            if not key & self.events:
                # a change this interest does not ask about (an eventfd read, for an
                # EPOLLIN watch): Linux's wake-up keys filter it out; keep listening
                queue.add(heard)
                return
            # the notifying queue dropped the callback; the file's other queues must too
            self.unsubscribe()
            if self.enabled:
                self.epoll.mark_ready(self)

        return heard


class EpollFile(AnonFile):
    """An open epoll instance."""

    #: an epoll cannot be read or written, not even 0 bytes
    min_transfer = 1

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(O_RDWR)
        self.kernel = kernel
        self.interests: dict[tuple[File, int], Interest] = {}
        #: the descriptor numbers of each watched file's interests, so that closing one
        #: file of many does not scan the whole interest list
        self.numbers_of: dict[File, set[int]] = {}
        #: interests that may have events, oldest first (a dict used as an ordered set)
        self.ready: dict[Interest, None] = {}
        #: notified when an interest becomes ready
        self.queue = WaitQueue()

    def describe(self) -> bytes:
        return b"anon_inode:[eventpoll]"

    # --- the interest list -------------------------------------------------------------------

    def add(self, task, file: File, fd: int, events: int, data: int) -> None:
        key = (file, fd)
        if key in self.interests:
            raise LinuxError(Errno.EEXIST)
        if isinstance(file, EpollFile):
            self._check_nesting(file)
        item = Interest(self, file, fd, events | ALWAYS_REPORTED, data)
        self.interests[key] = item
        self.numbers_of.setdefault(file, set()).add(fd)
        if file.watchers is None:
            file.watchers = []
        if self.forget_file not in file.watchers:
            file.watchers.append(self.forget_file)
        self._arm(task, item)

    def modify(self, task, file: File, fd: int, events: int, data: int) -> None:
        item = self.interests.get((file, fd))
        if item is None:
            raise LinuxError(Errno.ENOENT)
        if item.events & EPOLLEXCLUSIVE:
            raise LinuxError(Errno.EINVAL)
        item.events = events | ALWAYS_REPORTED
        item.data = data
        self._arm(task, item)

    def delete(self, file: File, fd: int) -> None:
        item = self.interests.get((file, fd))
        if item is None:
            raise LinuxError(Errno.ENOENT)
        self._drop(item)
        if file.watchers is not None and file not in self.numbers_of:
            _remove_watcher(file, self.forget_file)

    def forget_file(self, file: File) -> None:
        """The last reference to `file` went: its interests (any fd number) go too."""
        for fd in list(self.numbers_of.get(file, ())):
            self._drop(self.interests[(file, fd)])

    def _drop(self, item: Interest) -> None:
        item.unsubscribe()
        self.ready.pop(item, None)
        del self.interests[(item.file, item.fd)]
        numbers = self.numbers_of[item.file]
        numbers.discard(item.fd)
        if not numbers:
            del self.numbers_of[item.file]

    def _arm(self, task, item: Interest) -> None:
        """After ADD or MOD (which always enable the interest: EPOLLERR and EPOLLHUP are
        added): listen for changes, and report events the file has now."""
        item.subscribe(task)
        if item.revents():
            self.mark_ready(item)

    def _check_nesting(self, target: EpollFile) -> None:
        """ELOOP if adding `target` would close a loop back to this epoll, or make a
        chain of nested epolls (those above this one, this one, `target` and those
        below it) more than EP_MAX_NESTS links long."""
        below: dict[int, int] = {}

        def depth_below(epoll: EpollFile) -> int:
            if id(epoll) not in below:
                deepest = 0
                for inner in _inner_epolls(epoll):
                    if inner is self:
                        raise LinuxError(Errno.ELOOP)
                    deepest = max(deepest, 1 + depth_below(inner))
                below[id(epoll)] = deepest
            return below[id(epoll)]

        def depth_above(epoll: EpollFile) -> int:
            return max((1 + depth_above(outer) for outer in _outer_epolls(epoll)), default=0)

        if depth_below(target) + 1 + depth_above(self) > EP_MAX_NESTS:
            raise LinuxError(Errno.ELOOP)

    # --- readiness -------------------------------------------------------------------------------

    def mark_ready(self, item: Interest) -> None:
        if item not in self.ready:
            self.ready[item] = None
        self.queue.notify_all()

    def _leave_ready(self, item: Interest, task) -> None:
        """An interest off the ready list must be listening (see the module notes); with
        no task to subscribe for, it stays on the list to be polled again."""
        if task is None and item.enabled:
            return
        self.ready.pop(item, None)
        if item.enabled:
            item.subscribe(task)

    def collect(self, task, max_events: int) -> list[tuple[Interest, int]]:
        """Up to `max_events` (interest, events) pairs to report, in ready-list order.
        Interests found without events leave the ready list; nothing else changes until
        `consume`, so a failed copy to the caller loses no event."""
        found: list[tuple[Interest, int]] = []
        for item in list(self.ready):
            if len(found) >= max_events:
                break
            revents = item.revents() if item.enabled else 0
            if revents:
                found.append((item, revents))
            else:
                self._leave_ready(item, task)
        return found

    def consume(self, task, reported: list[tuple[Interest, int]]) -> None:
        """The pairs of `collect` were given to the caller: apply the triggering modes."""
        for item, _ in reported:
            if item.events & EPOLLONESHOT:
                item.events &= EP_PRIVATE_BITS
                self._leave_ready(item, task)
            elif item.events & EPOLLET:
                self._leave_ready(item, task)
            else:
                del self.ready[item]
                self.ready[item] = None

    def subscribe_all(self, task) -> None:
        """Before waiting: every enabled interest off the ready list listens."""
        for item in self.interests.values():
            if item.listening is None and item.enabled and item not in self.ready:
                item.subscribe(task)

    def poll(self) -> int:
        task = self.kernel.current
        for item in list(self.ready):
            if item.enabled and item.revents():
                return POLLIN | POLLRDNORM
            self._leave_ready(item, task)
        return 0

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        self.subscribe_all(task)
        return (self.queue,)

    def read(self, task, length: int) -> bytes:
        raise LinuxError(Errno.EINVAL)

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.EINVAL)

    def release(self) -> None:
        for item in list(self.interests.values()):
            item.unsubscribe()
            if item.file.watchers is not None:
                _remove_watcher(item.file, self.forget_file)
        self.interests.clear()
        self.numbers_of.clear()
        self.ready.clear()


def _inner_epolls(epoll: EpollFile) -> list[EpollFile]:
    """The epolls `epoll` watches, each once."""
    found = {id(item.file): item.file for item in epoll.interests.values() if isinstance(item.file, EpollFile)}
    return list(found.values())


def _outer_epolls(epoll: EpollFile) -> list[EpollFile]:
    """The epolls watching `epoll`: the owners of its watchers (EpollFile.forget_file)."""
    owners = (getattr(forget, "__self__", None) for forget in epoll.watchers or ())
    return [owner for owner in owners if isinstance(owner, EpollFile)]


def _remove_watcher(file: File, forget: Callable[[File], None]) -> None:
    try:
        file.watchers.remove(forget)
    except ValueError:
        pass
