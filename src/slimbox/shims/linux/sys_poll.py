"""poll, ppoll, select, pselect6."""

from __future__ import annotations

import struct

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel import sigdeliver
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.signals import UNBLOCKABLE
from slimbox.kernel.file import POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM
from slimbox.kernel.poll import wait_for_any

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

_POLLFD = struct.Struct("<ihh")
NS = 1_000_000_000
FD_SETSIZE_MAX = 1 << 20
_SELECT_READ = POLLIN | POLLRDNORM | POLLHUP | POLLERR
_SELECT_WRITE = POLLOUT | POLLWRNORM | POLLERR
_SELECT_EXCEPT = POLLPRI


def wait_deadline(task: Task, timeout_ns: int | None) -> int | None:
    """Deadlines are fixed on the first run of a syscall and kept across re-runs."""
    if "deadline" not in task.restart:
        if timeout_ns is None:
            task.restart["deadline"] = None
        elif timeout_ns <= 0:
            task.restart["deadline"] = 0
        else:
            task.restart["deadline"] = task.kernel.monotonic_ns() + timeout_ns
    return task.restart["deadline"]


def _do_poll(task: Task, fds: int, nfds: int, timeout_ns: int | None) -> int:
    if nfds > task.process.fds.limit or nfds > FD_SETSIZE_MAX:
        raise LinuxError(Errno.EINVAL)
    raw = task.mm.read(fds, nfds * _POLLFD.size) if nfds else b""
    wanted = [(fd, events & 0xFFFF) for fd, events, _ in _POLLFD.iter_unpack(raw)]
    revents = wait_for_any(task, wanted, wait_deadline(task, timeout_ns))
    out = bytearray(raw)
    for index, value in enumerate(revents):
        struct.pack_into("<h", out, index * _POLLFD.size + 6, value - 0x10000 if value & 0x8000 else value)
    task.mm.write(fds, bytes(out))
    return sum(1 for value in revents if value)


def poll(task: Task, fds: int, nfds: int, timeout: int) -> int:
    return _do_poll(task, fds, nfds, None if timeout < 0 else timeout * 1_000_000)


def read_timeout(task: Task, pointer: int) -> int | None:
    if pointer == 0:
        return None
    sec, nsec = structs.TIMESPEC.unpack(task.mm.read(pointer, 16))
    if sec < 0 or not 0 <= nsec < NS:
        raise LinuxError(Errno.EINVAL)
    return sec * NS + nsec


def apply_wait_mask(task: Task, pointer: int, size: int) -> None:
    """ppoll/pselect6's temporary signal mask: in force for the wait, and put back when
    the call returns (after the handler, if a signal ends it)."""
    if pointer == 0 or task.saved_sigmask is not None:
        return
    if size != 8:
        raise LinuxError(Errno.EINVAL)
    (mask,) = structs.U64.unpack(task.mm.read(pointer, 8))
    task.saved_sigmask = task.sigmask
    task.sigmask = mask & ~UNBLOCKABLE


def ppoll(task: Task, fds: int, nfds: int, tmo_p: int, sigmask: int, sigsetsize: int) -> int:
    apply_wait_mask(task, sigmask, sigsetsize)
    if sigdeliver.has_deliverable(task):
        raise LinuxError(Errno.EINTR)
    return _do_poll(task, fds, nfds, read_timeout(task, tmo_p))


def _read_set(task: Task, pointer: int, nfds: int) -> int:
    if pointer == 0:
        return 0
    size = ((nfds + 63) // 64) * 8
    return int.from_bytes(task.mm.read(pointer, size), "little")


def _do_select(task: Task, nfds: int, readfds: int, writefds: int, exceptfds: int,
               timeout_ns: int | None) -> int:
    if nfds < 0 or nfds > FD_SETSIZE_MAX:
        raise LinuxError(Errno.EINVAL)
    sets = [_read_set(task, p, nfds) for p in (readfds, writefds, exceptfds)]
    wanted = []
    for fd in range(nfds):
        events = ((_SELECT_READ if sets[0] >> fd & 1 else 0) | (_SELECT_WRITE if sets[1] >> fd & 1 else 0)
                  | (_SELECT_EXCEPT if sets[2] >> fd & 1 else 0))
        if events:
            wanted.append((fd, events))
    revents = wait_for_any(task, wanted, wait_deadline(task, timeout_ns), for_select=True)
    results = [0, 0, 0]
    count = 0
    for (fd, events), got in zip(wanted, revents):
        if got & 0x20:  # POLLNVAL
            raise LinuxError(Errno.EBADF)
        for index, mask in enumerate((_SELECT_READ, _SELECT_WRITE, _SELECT_EXCEPT)):
            if events & mask and got & mask:
                results[index] |= 1 << fd
                count += 1
    size = ((nfds + 63) // 64) * 8
    for pointer, value in zip((readfds, writefds, exceptfds), results):
        if pointer:
            task.mm.write(pointer, value.to_bytes(size, "little"))
    return count


def select(task: Task, nfds: int, readfds: int, writefds: int, exceptfds: int, timeout: int) -> int:
    timeout_ns = None
    if timeout:
        sec, usec = structs.TIMEVAL.unpack(task.mm.read(timeout, 16))
        if sec < 0 or not 0 <= usec < 1_000_000:
            raise LinuxError(Errno.EINVAL)
        timeout_ns = sec * NS + usec * 1000
    return _do_select(task, nfds, readfds, writefds, exceptfds, timeout_ns)


def pselect6(task: Task, nfds: int, readfds: int, writefds: int, exceptfds: int, timeout: int,
             sigmask: int) -> int:
    if sigmask:
        pointer, size = structs.IOVEC.unpack(task.mm.read(sigmask, 16))  # { sigset_t *ss; size_t ss_len; }
        apply_wait_mask(task, pointer, size)
        if sigdeliver.has_deliverable(task):
            raise LinuxError(Errno.EINTR)
    return _do_select(task, nfds, readfds, writefds, exceptfds, read_timeout(task, timeout))
