"""kernel/futex.py and futex(2): waiting, waking, timeouts and requeueing, with guest
threads parked and woken by the real run loop."""

from __future__ import annotations

import struct

import pytest

from guest import BLOCKED, FakeGuest
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import Block, LinuxError

FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
PRIVATE, CLOCK_REALTIME = 128, 256
MS = 1_000_000


def timespec(g: FakeGuest, ns: int) -> int:
    return g.put(struct.pack("<qq", ns // 1_000_000_000, ns % 1_000_000_000), 8)


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def word(g: FakeGuest, value: int = 0) -> int:
    return g.put(struct.pack("<I", value), 4)


def waiters(g: FakeGuest, n: int, addr: int, value: int = 0) -> list[FakeGuest]:
    threads = [g.thread() for _ in range(n)]
    for thread in threads:
        assert thread.syscall("futex", addr, FUTEX_WAIT | PRIVATE, value, 0, 0, 0) is BLOCKED
    return threads


# --- the table itself ----------------------------------------------------------------------


def test_table_wait_registers_once_and_returns_after_a_wake(g):
    table = g.kernel.futexes
    addr = word(g, 7)
    with pytest.raises(Block):
        table.wait(g.task, addr, 7, 0xFFFFFFFF, None)
    with pytest.raises(Block):  # re-running the blocked syscall does not queue it twice
        table.wait(g.task, addr, 7, 0xFFFFFFFF, None)
    assert table.waiting(g.task.mm, addr) == 1
    assert table.wake(g.task.mm, addr, 10) == 1
    assert table.wait(g.task, addr, 7, 0xFFFFFFFF, None) == 0
    assert table.waiting(g.task.mm, addr) == 0


def test_table_rejects_what_linux_rejects(g):
    table = g.kernel.futexes
    addr = word(g, 1)
    for action, args, expected in [
        (table.wait, (g.task, addr, 2, 0xFFFFFFFF, None), Errno.EAGAIN),  # the value changed
        (table.wait, (g.task, addr + 1, 1, 0xFFFFFFFF, None), Errno.EINVAL),  # not 4-byte aligned
        (table.wait, (g.task, addr, 1, 0, None), Errno.EINVAL),  # empty bitset
        (table.wake, (g.task.mm, addr, 1, 0), Errno.EINVAL),
        (table.wake, (g.task.mm, addr + 2, 1), Errno.EINVAL),
    ]:
        with pytest.raises(LinuxError) as info:
            action(*args)
        assert info.value.errno == expected
    assert table.waiting(g.task.mm, addr) == 0


def test_table_forgets_a_task_that_dies(g):
    addr = word(g)
    thread = g.thread()
    assert thread.syscall("futex", addr, FUTEX_WAIT, 0, 0, 0, 0) is BLOCKED
    assert g.kernel.futexes.waiting(g.task.mm, addr) == 1
    g.kernel.exit_process(g.process, 0)
    assert g.kernel.futexes.waiting(g.task.mm, addr) == 0


# --- futex(2) -----------------------------------------------------------------------------------


def test_wait_with_a_stale_value_is_eagain(g):
    addr = word(g, 5)
    assert g.syscall("futex", addr, FUTEX_WAIT | PRIVATE, 6, 0, 0, 0) == -Errno.EAGAIN
    assert g.syscall("futex", addr, FUTEX_WAIT_BITSET | PRIVATE, 4, 0, 0, 0xFFFFFFFF) == -Errno.EAGAIN


@pytest.mark.parametrize("op", [FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET])
def test_hostile_addresses(g, op):
    addr = word(g)
    assert g.syscall("futex", addr + 1, op | PRIVATE, 0, 0, 0, 1) == -Errno.EINVAL
    assert g.syscall("futex", 0x1000_0000, FUTEX_WAIT | PRIVATE, 0, 0, 0, 0) == -Errno.EFAULT
    assert g.syscall("futex", 0, FUTEX_WAIT | PRIVATE, 0, 0, 0, 0) == -Errno.EFAULT


def test_wait_blocks_until_woken(g):
    addr = word(g)
    waiter = g.thread()
    assert waiter.syscall("futex", addr, FUTEX_WAIT | PRIVATE, 0, 0, 0, 0) is BLOCKED
    assert g.syscall("futex", addr, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 1
    assert waiter.complete() == 0
    assert g.syscall("futex", addr, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 0  # nobody left


def test_wake_wakes_at_most_count_in_arrival_order(g):
    addr = word(g)
    first, second, third = waiters(g, 3, addr)
    assert g.syscall("futex", addr, FUTEX_WAKE | PRIVATE, 2, 0, 0, 0) == 2
    assert first.complete() == 0 and second.complete() == 0
    assert third.outcome() is BLOCKED
    assert g.syscall("futex", addr, FUTEX_WAKE | PRIVATE, 0x7FFFFFFF, 0, 0, 0) == 1
    assert third.complete() == 0


def test_wake_bitset_only_wakes_matching_waiters(g):
    addr = word(g)
    a, b = g.thread(), g.thread()
    assert a.syscall("futex", addr, FUTEX_WAIT_BITSET | PRIVATE, 0, 0, 0, 0b01) is BLOCKED
    assert b.syscall("futex", addr, FUTEX_WAIT_BITSET | PRIVATE, 0, 0, 0, 0b10) is BLOCKED
    assert g.syscall("futex", addr, FUTEX_WAKE_BITSET | PRIVATE, 10, 0, 0, 0b10) == 1
    assert b.complete() == 0 and a.outcome() is BLOCKED
    assert g.syscall("futex", addr, FUTEX_WAKE_BITSET | PRIVATE, 10, 0, 0, 0) == -Errno.EINVAL


def test_relative_timeout_ends_the_wait_with_etimedout_at_the_deadline(g):
    addr = word(g)
    start = g.kernel.monotonic_ns()
    assert g.syscall("futex", addr, FUTEX_WAIT | PRIVATE, 0, timespec(g, 5 * MS), 0, 0) is BLOCKED
    g.run_for(4 * MS)
    assert g.outcome() is BLOCKED
    assert g.complete() == -Errno.ETIMEDOUT
    assert g.kernel.monotonic_ns() - start == 5 * MS
    assert g.kernel.futexes.waiting(g.task.mm, addr) == 0
    assert g.syscall("futex", addr, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 0


def test_a_wake_before_the_timeout_wins(g):
    addr = word(g)
    waiter = g.thread()
    assert waiter.syscall("futex", addr, FUTEX_WAIT | PRIVATE, 0, timespec(g, 50 * MS), 0, 0) is BLOCKED
    g.run_for(10 * MS)
    assert g.syscall("futex", addr, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 1
    assert waiter.complete() == 0
    g.run_for(100 * MS)  # the cancelled deadline does nothing later
    assert waiter.outcome() == 0


def test_wait_bitset_timeouts_are_absolute_monotonic(g):
    addr = word(g)
    now = g.kernel.monotonic_ns()
    assert g.syscall("futex", addr, FUTEX_WAIT_BITSET | PRIVATE, 0, timespec(g, now - 1), 0,
                     0xFFFFFFFF) == -Errno.ETIMEDOUT
    assert g.syscall("futex", addr, FUTEX_WAIT_BITSET | PRIVATE, 0, timespec(g, now + 3 * MS), 0,
                     0xFFFFFFFF) is BLOCKED
    assert g.complete() == -Errno.ETIMEDOUT
    assert g.kernel.monotonic_ns() == now + 3 * MS


def test_wait_bitset_realtime_clock(g):
    addr = word(g)
    wall = g.kernel.realtime_ns()
    start = g.kernel.monotonic_ns()
    assert g.syscall("futex", addr, FUTEX_WAIT_BITSET | PRIVATE | CLOCK_REALTIME, 0, timespec(g, wall + 2 * MS),
                     0, 0xFFFFFFFF) is BLOCKED
    assert g.complete() == -Errno.ETIMEDOUT
    assert g.kernel.monotonic_ns() - start == 2 * MS


@pytest.mark.parametrize("sec, nsec", [(-1, 0), (0, 1_000_000_000), (0, -1)])
def test_invalid_timeouts(g, sec, nsec):
    addr = word(g)
    bad = g.put(struct.pack("<qq", sec, nsec), 8)
    assert g.syscall("futex", addr, FUTEX_WAIT | PRIVATE, 0, bad, 0, 0) == -Errno.EINVAL


def test_requeue_wakes_some_and_moves_the_rest(g):
    a, b = word(g), word(g)
    first, second, third = waiters(g, 3, a)
    # FUTEX_REQUEUE: wake 1, move at most 1 (val2 travels in the timeout argument)
    assert g.syscall("futex", a, FUTEX_REQUEUE | PRIVATE, 1, 1, b, 0) == 2
    assert first.complete() == 0
    assert second.outcome() is BLOCKED and third.outcome() is BLOCKED
    assert g.syscall("futex", b, FUTEX_WAKE | PRIVATE, 10, 0, 0, 0) == 1
    assert second.complete() == 0 and third.outcome() is BLOCKED
    assert g.syscall("futex", a, FUTEX_WAKE | PRIVATE, 10, 0, 0, 0) == 1
    assert third.complete() == 0


def test_cmp_requeue_checks_the_value_first(g):
    a, b = word(g, 3), word(g)
    (waiter,) = waiters(g, 1, a, 3)
    assert g.syscall("futex", a, FUTEX_CMP_REQUEUE | PRIVATE, 0, 1, b, 4) == -Errno.EAGAIN
    assert g.syscall("futex", a, FUTEX_CMP_REQUEUE | PRIVATE, 0, 1, b, 3) == 1
    assert waiter.outcome() is BLOCKED
    assert g.syscall("futex", b, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 1
    assert waiter.complete() == 0


def test_wake_op_changes_the_second_word_and_wakes_by_comparison(g):
    a, b = word(g), word(g, 5)
    (on_a,) = waiters(g, 1, a)
    (on_b,) = waiters(g, 1, b, 5)
    # op: *b = 0 (SET, oparg 0); wake one on a; wake one on b if old value > 1 (CMP_GT, cmparg 1)
    op = (0 << 28) | (4 << 24) | (0 << 12) | 1
    assert g.syscall("futex", a, FUTEX_WAKE_OP | PRIVATE, 1, 1, b, op) == 2
    assert g.u32(b) == 0
    assert on_a.complete() == 0 and on_b.complete() == 0


def test_futexes_of_different_processes_are_separate(g):
    addr = word(g)
    other = g.spawn()
    other_addr = other.put(struct.pack("<I", 0), 4)
    assert other_addr == addr  # the same address in two address spaces
    assert other.syscall("futex", other_addr, FUTEX_WAIT | PRIVATE, 0, 0, 0, 0) is BLOCKED
    assert g.syscall("futex", addr, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 0
    assert other.outcome() is BLOCKED


def test_unknown_operations_are_enosys(g):
    addr = word(g)
    assert g.syscall("futex", addr, 13 | PRIVATE, 0, 0, 0, 0) == -Errno.ENOSYS  # FUTEX_WAIT_REQUEUE_PI family
    assert g.syscall("futex", addr, FUTEX_WAKE | CLOCK_REALTIME, 1, 0, 0, 0) == -Errno.ENOSYS


# --- where slimbox differs from Linux --------------------------------------------------------------


def test_futex_wait_with_clock_realtime_is_enosys(g):
    addr = word(g)
    assert g.syscall("futex", addr, FUTEX_WAIT | PRIVATE | CLOCK_REALTIME, 1, 0, 0, 0) == -Errno.ENOSYS
    assert g.syscall("futex", addr, FUTEX_WAIT | PRIVATE | CLOCK_REALTIME, 0, timespec(g, 5 * MS), 0,
                     0) == -Errno.ENOSYS


def test_wake_zero_still_wakes_one_like_linux(g):
    addr = word(g)
    (waiter,) = waiters(g, 1, addr)
    assert g.syscall("futex", addr, FUTEX_WAKE | PRIVATE, 0, 0, 0, 0) == 1
    assert waiter.complete() == 0


def test_wake_op_arguments_are_signed_12_bit(g):
    a, b = word(g), word(g, 10)
    op = (1 << 28) | (0 << 24) | (0xFFF << 12) | 0xFFF  # *b += -1; wake b if old == -1
    assert g.syscall("futex", a, FUTEX_WAKE_OP | PRIVATE, 1, 1, b, op) == 0
    assert g.u32(b) == 9
