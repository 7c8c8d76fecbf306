"""epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2."""

from __future__ import annotations

import struct

from slimbox.abi.errno import Errno
from slimbox.kernel import sigdeliver
from slimbox.kernel.epoll import (
    EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLLEXCLUSIVE, EPOLLEXCLUSIVE_OK_BITS, EpollFile,
)
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.file import O_CLOEXEC, O_PATH, File
from slimbox.kernel.mm import PROT_WRITE
from slimbox.shims.linux.sys_poll import apply_wait_mask, read_timeout, wait_deadline

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

EPOLL_CLOEXEC = O_CLOEXEC
#: struct epoll_event is packed on x86-64: u32 events, u64 data
EPOLL_EVENT = struct.Struct("<IQ")
#: the most events one wait may ask for (INT_MAX / sizeof(struct epoll_event))
EP_MAX_EVENTS = 0x7FFFFFFF // EPOLL_EVENT.size


def _file(task: Task, fd: int) -> File:
    """The description behind `fd`, as epoll looks descriptors up: O_PATH ones do not count."""
    file = task.fds.get(fd)
    if file.flags & O_PATH:
        raise LinuxError(Errno.EBADF)
    return file


def epoll_create1(task: Task, flags: int) -> int:
    if flags & ~EPOLL_CLOEXEC:
        raise LinuxError(Errno.EINVAL)
    return task.fds.install(EpollFile(task.kernel), cloexec=bool(flags & EPOLL_CLOEXEC))


def epoll_create(task: Task, size: int) -> int:
    if size <= 0:
        raise LinuxError(Errno.EINVAL)  # the size is otherwise only a hint, long ignored
    return epoll_create1(task, 0)


def epoll_ctl(task: Task, epfd: int, op: int, fd: int, event: int) -> int:
    has_event = op != EPOLL_CTL_DEL
    events = data = 0
    if has_event:
        events, data = EPOLL_EVENT.unpack(task.mm.read(event, EPOLL_EVENT.size))
    epoll = _file(task, epfd)
    target = _file(task, fd)
    if not target.pollable:
        raise LinuxError(Errno.EPERM)
    if epoll is target or not isinstance(epoll, EpollFile):
        raise LinuxError(Errno.EINVAL)
    if has_event and events & EPOLLEXCLUSIVE:
        if op == EPOLL_CTL_MOD:
            raise LinuxError(Errno.EINVAL)
        if op == EPOLL_CTL_ADD and (isinstance(target, EpollFile) or events & ~EPOLLEXCLUSIVE_OK_BITS):
            raise LinuxError(Errno.EINVAL)
    if op == EPOLL_CTL_ADD:
        epoll.add(task, target, fd, events, data)
    elif op == EPOLL_CTL_MOD:
        epoll.modify(task, target, fd, events, data)
    elif op == EPOLL_CTL_DEL:
        epoll.delete(target, fd)
    else:
        raise LinuxError(Errno.EINVAL)
    return 0


def _wait(task: Task, epfd: int, events: int, maxevents: int, timeout_ns: int | None) -> int:
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise LinuxError(Errno.EINVAL)
    epoll = _file(task, epfd)
    if not isinstance(epoll, EpollFile):
        raise LinuxError(Errno.EINVAL)
    deadline = wait_deadline(task, timeout_ns)
    found = epoll.collect(task, maxevents)
    if found:
        # the whole array must take the events before any interest is consumed
        task.mm.check(events, len(found) * EPOLL_EVENT.size, PROT_WRITE)
        epoll.consume(task, found)
        task.mm.write(events, b"".join(EPOLL_EVENT.pack(revents, item.data) for item, revents in found))
        return len(found)
    if deadline == 0 or (deadline is not None and task.kernel.monotonic_ns() >= deadline):
        return 0
    if sigdeliver.has_deliverable(task):
        raise LinuxError(Errno.EINTR)
    epoll.subscribe_all(task)
    raise Block((epoll.queue,), deadline)


def epoll_wait(task: Task, epfd: int, events: int, maxevents: int, timeout: int) -> int:
    return _wait(task, epfd, events, maxevents, None if timeout < 0 else timeout * 1_000_000)


def epoll_pwait(task: Task, epfd: int, events: int, maxevents: int, timeout: int, sigmask: int,
                sigsetsize: int) -> int:
    apply_wait_mask(task, sigmask, sigsetsize)
    return _wait(task, epfd, events, maxevents, None if timeout < 0 else timeout * 1_000_000)


def epoll_pwait2(task: Task, epfd: int, events: int, maxevents: int, timeout: int, sigmask: int,
                 sigsetsize: int) -> int:
    timeout_ns = read_timeout(task, timeout)
    apply_wait_mask(task, sigmask, sigsetsize)
    return _wait(task, epfd, events, maxevents, timeout_ns)
