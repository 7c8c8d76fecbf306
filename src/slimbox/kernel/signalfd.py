"""signalfd: reading pending signals as records instead of having them delivered.

A read takes signals in the file's mask from the reading thread's own pending set,
then from its process's, lowest number first (as delivery would pick them), and
returns one 128-byte struct signalfd_siginfo for each, as many as the buffer holds.
The signals are normally blocked too, or they would be delivered before a read.

As in Linux, which signals a signalfd sees depends on who looks: reading and polling
use the calling thread, so a signalfd inherited across fork reads the child's
signals.
"""

from __future__ import annotations

import struct

from slimbox.abi import sigframe
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.file import AnonFile, O_NONBLOCK, O_RDWR, POLLIN, POLLRDNORM
from slimbox.kernel.signals import UNBLOCKABLE, PendingSignal
from slimbox.kernel.waitqueue import WaitQueue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel

SIGNALFD_SIGINFO_SIZE = 128
# struct signalfd_siginfo: signo, errno, code, pid, uid, fd, tid, band, overrun, trapno,
# status, int, ptr, utime, stime, addr, addr_lsb, (pad), syscall, call_addr, arch, (pad)
_SIGNALFD_SIGINFO = struct.Struct("<IiiIIiIIIIiiQQQQH2xiQI28x")
assert _SIGNALFD_SIGINFO.size == SIGNALFD_SIGINFO_SIZE


def signalfd_siginfo(item: PendingSignal) -> bytes:
    """The record a read returns for a pending signal: the siginfo's fields moved to
    their signalfd_siginfo places, only those of its union member filled in."""
    info = sigframe.unpack_siginfo(item.info)
    layout = info["layout"]
    fields = dict(pid=0, uid=0, fd=0, tid=0, band=0, overrun=0, status=0, value=0, utime=0, stime=0, addr=0,
                  syscall=0, call_addr=0, arch=0)
    if layout in ("kill", "rt", "chld"):
        fields["pid"], fields["uid"] = info["pid"], info["uid"]
    if layout in ("rt", "timer"):
        fields["value"] = info["value"]
    if layout == "timer":
        fields["tid"], fields["overrun"] = info["timerid"], info["overrun"]
    elif layout == "chld":
        fields.update(status=info["status"], utime=info["utime"], stime=info["stime"])
    elif layout == "fault":
        fields["addr"] = info["addr"]
    elif layout == "poll":
        fields["band"], fields["fd"] = info["band"], info["fd"]
    elif layout == "sys":
        fields.update(syscall=info["syscall"], call_addr=info["call_addr"], arch=info["arch"])
    mask32 = 0xFFFFFFFF
    value = fields["value"]
    sival_int = ((value & mask32) ^ 0x80000000) - 0x80000000
    return _SIGNALFD_SIGINFO.pack(
        item.signo, info["errno"], info["code"], fields["pid"] & mask32, fields["uid"] & mask32, fields["fd"],
        fields["tid"] & mask32, fields["band"] & mask32, fields["overrun"] & mask32, 0, fields["status"],
        sival_int, value, fields["utime"] & (1 << 64) - 1, fields["stime"] & (1 << 64) - 1, fields["addr"], 0,
        fields["syscall"], fields["call_addr"], fields["arch"])


class SignalFdFile(AnonFile):
    """An open signalfd and the set of signals it reads."""

    min_transfer = SIGNALFD_SIGINFO_SIZE

    def __init__(self, kernel: Kernel, mask: int, flags: int) -> None:
        super().__init__(O_RDWR | (flags & O_NONBLOCK))
        self.kernel = kernel
        self.mask = mask & ~UNBLOCKABLE

    def describe(self) -> bytes:
        return b"anon_inode:[signalfd]"

    def set_mask(self, mask: int) -> None:
        self.mask = mask & ~UNBLOCKABLE

    def read(self, task, length: int) -> bytes:
        if length < SIGNALFD_SIGINFO_SIZE:
            raise LinuxError(Errno.EINVAL)
        records = bytearray()
        while len(records) + SIGNALFD_SIGINFO_SIZE <= length:
            item = task.pending.take(self.mask) or task.process.pending.take(self.mask)
            if item is None:
                break
            records += signalfd_siginfo(item)
        if not records:
            if self.nonblocking:
                raise LinuxError(Errno.EAGAIN)
            raise Block((task.process.signal_arrivals,))
        return bytes(records)

    def write(self, task, data: bytes) -> int:
        raise LinuxError(Errno.EINVAL)

    def poll(self) -> int:
        task = self.kernel.current
        if task is None:
            return 0
        pending = task.pending.mask() | task.process.pending.mask()
        return POLLIN | POLLRDNORM if pending & self.mask else 0

    def wait_queues(self, task) -> tuple[WaitQueue, ...]:
        return (task.process.signal_arrivals,)
