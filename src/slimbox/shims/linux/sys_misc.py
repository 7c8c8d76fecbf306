"""System information and randomness: uname, sysinfo, getrandom, host names."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE = 1, 2, 4
_GETRANDOM_MAX = 32 * 1024 * 1024


def uname(task: Task, buf: int) -> int:
    config = task.kernel.config
    fields = (b"Linux", config.hostname, config.release, config.version, b"x86_64", config.domainname)
    task.mm.write(buf, structs.UTSNAME.pack(*(f[:structs.UTSNAME_FIELD - 1] for f in fields)))
    return 0


def _set_name(task: Task, name: int, length: int) -> bytes:
    if not task.cred.is_root:
        raise LinuxError(Errno.EPERM)
    if length < 0 or length > 64:
        raise LinuxError(Errno.EINVAL)
    return task.mm.read(name, length)


def sethostname(task: Task, name: int, len_: int) -> int:
    task.kernel.config.hostname = _set_name(task, name, len_)
    return 0


def setdomainname(task: Task, name: int, len_: int) -> int:
    task.kernel.config.domainname = _set_name(task, name, len_)
    return 0


def sysinfo(task: Task, info: int) -> int:
    kernel = task.kernel
    uptime = (kernel.monotonic_ns() - kernel.boot_ns) // 1_000_000_000
    total = kernel.config.memory_bytes
    used = sum(p.mm.total_mapped() for p in kernel.processes.values())
    free = max(total - used, 0)
    task.mm.write(info, structs.SYSINFO.pack(uptime, 0, 0, 0, total, free, 0, 0, 0, 0,
                                             len(kernel.tasks), 0, 0, 0, 1))
    return 0


def getrandom(task: Task, buf: int, buflen: int, flags: int) -> int:
    if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) or (
            flags & GRND_RANDOM and flags & GRND_INSECURE):
        raise LinuxError(Errno.EINVAL)
    length = min(buflen, _GETRANDOM_MAX)
    if length == 0:
        return 0
    task.mm.check(buf, length, 2)
    task.mm.write(buf, task.kernel.random_bytes(length))
    return length


def syslog(task: Task, type_: int, bufp: int, len_: int) -> int:
    if type_ in (3, 10):  # READ_ALL, SIZE_BUFFER: an empty kernel log
        return 0
    raise LinuxError(Errno.EPERM)
