"""futex(2): decoding the operations; the waiting is kernel/futex.py."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 2, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
NS = 1_000_000_000


def _timeout(task: Task, pointer: int, absolute: bool, realtime: bool) -> int | None:
    """The wait's deadline on the kernel's monotonic clock."""
    if pointer == 0:
        return None
    sec, nsec = structs.TIMESPEC.unpack(task.mm.read(pointer, 16))
    if sec < 0 or not 0 <= nsec < NS:
        raise LinuxError(Errno.EINVAL)
    value = sec * NS + nsec
    kernel = task.kernel
    if not absolute:
        return kernel.monotonic_ns() + value
    if realtime:
        return kernel.monotonic_ns() + (value - kernel.realtime_ns())
    return value


def _signed12(value: int) -> int:
    value &= 0xFFF
    return value - 0x1000 if value & 0x800 else value


def _wake_op_value(op: int, old: int, arg: int) -> int:
    kind = (op >> 28) & 7
    arg = _signed12(arg)
    if op & (8 << 28):
        arg = 1 << (arg & 31)
    arg &= 0xFFFFFFFF
    if kind == 0:
        return arg
    if kind == 1:
        return (old + arg) & 0xFFFFFFFF
    if kind == 2:
        return old | arg
    if kind == 3:
        return old & ~arg & 0xFFFFFFFF
    if kind == 4:
        return old ^ arg
    raise LinuxError(Errno.ENOSYS)


def _wake_op_compare(op: int, old: int) -> bool:
    cmp, cmparg = (op >> 24) & 15, _signed12(op)
    old = old - (1 << 32) if old & 0x80000000 else old
    table = {0: old == cmparg, 1: old != cmparg, 2: old < cmparg, 3: old <= cmparg, 4: old > cmparg,
             5: old >= cmparg}
    if cmp not in table:
        raise LinuxError(Errno.ENOSYS)
    return table[cmp]


def futex(task: Task, uaddr: int, futex_op: int, val: int, timeout: int, uaddr2: int, val3: int) -> int:
    table = task.kernel.futexes
    private = bool(futex_op & FUTEX_PRIVATE_FLAG)
    cmd = futex_op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    realtime = bool(futex_op & FUTEX_CLOCK_REALTIME)
    if realtime and cmd != FUTEX_WAIT_BITSET:
        raise LinuxError(Errno.ENOSYS)
    if cmd == FUTEX_WAIT:
        deadline = task.restart.get("futex_deadline")
        if "futex_deadline" not in task.restart:
            deadline = task.restart["futex_deadline"] = _timeout(task, timeout, absolute=realtime,
                                                                 realtime=realtime)
        return table.wait(task, uaddr, val, 0xFFFFFFFF, deadline, private)
    if cmd == FUTEX_WAIT_BITSET:
        if "futex_deadline" not in task.restart:
            task.restart["futex_deadline"] = _timeout(task, timeout, absolute=True, realtime=realtime)
        return table.wait(task, uaddr, val, val3 & 0xFFFFFFFF, task.restart["futex_deadline"], private)
    if cmd == FUTEX_WAKE:
        return table.wake(task.mm, uaddr, max(val, 0), private=private)
    if cmd == FUTEX_WAKE_BITSET:
        return table.wake(task.mm, uaddr, max(val, 0), val3 & 0xFFFFFFFF, private)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        requeue = timeout & 0x7FFFFFFF  # val2 travels in the timeout argument
        if val < 0 or (timeout & 0xFFFFFFFF) >> 31:
            raise LinuxError(Errno.EINVAL)
        if cmd == FUTEX_CMP_REQUEUE:
            current = int.from_bytes(task.mm.read(uaddr, 4), "little")
            if current != val3 & 0xFFFFFFFF:
                raise LinuxError(Errno.EAGAIN)
        return table.requeue(task.mm, uaddr, val, uaddr2, requeue, private)
    if cmd == FUTEX_WAKE_OP:
        table.key(task.mm, uaddr2, private)
        old = int.from_bytes(task.mm.read(uaddr2, 4), "little")
        task.mm.write(uaddr2, _wake_op_value(val3, old, (val3 >> 12) & 0xFFF).to_bytes(4, "little"))
        woken = table.wake(task.mm, uaddr, max(val, 0), private=private)
        if _wake_op_compare(val3, old):
            woken += table.wake(task.mm, uaddr2, timeout & 0x7FFFFFFF, private=private)
        return woken
    raise LinuxError(Errno.ENOSYS)
