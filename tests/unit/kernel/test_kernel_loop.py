"""kernel/kernel.py: the real Kernel.run loop over the fake platform, with guest threads
that issue scripted syscalls; timers, blocking, faults, vanished threads, the internal
error path and the run deadline."""

from __future__ import annotations

import logging
import struct

import pytest

from guest import BLOCKED, GONE, FakeGuest
from slimbox.abi.errno import Errno
from slimbox.abi.syscalls import BY_NAME
from slimbox.kernel.errors import InternalError, LinuxError
from slimbox.kernel.kernel import SandboxTimeout
from slimbox.platforms.base import ExitEvent, FaultEvent

SIGKILL, SIGSEGV, SIGSYS = 9, 11, 31
SECOND = 1_000_000_000


def nr(name: str) -> int:
    return BY_NAME[name].nr


def timespec(g: FakeGuest, ns: int) -> int:
    return g.put(struct.pack("<qq", ns // SECOND, ns % SECOND), 8)


def start(g: FakeGuest, *calls: tuple[str, tuple[int, ...]]) -> None:
    """Give the thread a program of syscalls and let it go, as the runner does after exec."""
    g.context.script.extend((nr(name), args) for name, args in calls)
    g.context.resume()


def test_run_serves_a_scripted_program_until_init_exits():
    g = FakeGuest()
    hello = g.put(b"hello")
    start(g, ("write", (1, hello, 5)), ("getpid", ()), ("write", (99, hello, 5)), ("exit_group", (7,)))
    process = g.kernel.run()
    assert process is g.process and process.exit_status == (7, 0)
    assert g.context.finished == [5, g.process.pid, -Errno.EBADF]  # exit_group is never answered
    assert g.stdout.output == b"hello"
    assert g.context.killed and not any(p.alive for p in g.kernel.processes.values())
    assert g.kernel.syscall_count == 4


def test_a_sleep_in_the_loop_ends_exactly_at_its_deadline():
    g = FakeGuest()
    before = g.kernel.monotonic_ns()
    start(g, ("nanosleep", (timespec(g, 2 * SECOND + 5), 0)), ("exit_group", (0,)))
    g.kernel.run()
    assert g.context.finished == [0]
    assert g.kernel.monotonic_ns() - before == 2 * SECOND + 5
    assert 2 * SECOND + 5 in g.platform.waits  # the loop waited exactly until the timer


def test_a_blocked_read_is_woken_by_the_host_stream():
    g = FakeGuest()
    buf = g.alloc(16)
    before = g.kernel.monotonic_ns()
    # input "arrives" half a second in: a timer stands in for the person at the keyboard
    g.kernel.add_timer(before + SECOND // 2, lambda: g.stdin.feed(b"typed"))
    start(g, ("read", (0, buf, 16)), ("exit_group", (0,)))
    g.kernel.run()
    assert g.context.finished == [5]
    assert g.get(buf, 5) == b"typed"
    assert g.kernel.monotonic_ns() - before == SECOND // 2


def test_unsupported_syscalls_are_enosys_and_logged_once(caplog):
    g = FakeGuest()
    caplog.set_level(logging.INFO, logger="slimbox")
    start(g, ("io_uring_setup", (1, 0)), ("io_uring_setup", (1, 0)))
    g.context.script.extend([(999, ()), (999, ()), (nr("exit_group"), (0,))])
    g.kernel.run()
    assert g.context.finished == [-Errno.ENOSYS] * 4
    assert g.kernel.reported_unsupported == {"io_uring_setup", "syscall_999"}
    refused = [r for r in caplog.records if "io_uring_setup" in r.getMessage()]
    unknown = [r for r in caplog.records if "syscall_999" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.INFO  # refused by design
    assert len(unknown) == 1 and unknown[0].levelno == logging.WARNING


def broken(task, *args):
    raise ZeroDivisionError("a bug in a handler")


def break_handler(g: FakeGuest, name: str, handler=broken) -> None:
    _, *rest = g.personality._dispatch[nr(name)]
    g.personality._dispatch[nr(name)] = (handler, *rest)


def test_a_handler_bug_stops_the_whole_sandbox_and_names_the_syscall():
    g = FakeGuest()
    victim = g.spawn()
    break_handler(victim, "getppid")
    start(victim, ("getppid", ()), ("getpid", ()))
    start(g, ("nanosleep", (timespec(g, SECOND), 0)), ("getppid", ()), ("exit_group", (3,)))
    with pytest.raises(InternalError) as caught:
        g.kernel.run()
    assert str(caught.value) == f"internal error in getppid (pid {victim.process.pid}): ZeroDivisionError: a bug in a handler"
    assert caught.value.syscall == "getppid" and isinstance(caught.value.error, ZeroDivisionError)
    assert victim.process.exit_status == (0, SIGSYS)
    assert victim.context.finished == [] and victim.context.killed
    assert not g.process.alive and g.context.killed  # never carried on past a kernel bug


def test_the_internal_error_path_through_a_single_syscall():
    g = FakeGuest()
    break_handler(g, "umask")
    assert g.syscall("umask", 0o77) is GONE
    assert g.process.exit_status == (0, SIGSYS)
    assert g.kernel.failure is not None and g.kernel.failure.syscall == "umask"


def test_guest_memory_errors_from_a_handler_become_efault():
    g = FakeGuest()

    def raw_read(task, *args):  # bypasses mm's checks: the platform itself refuses
        return len(task.mm.aspace.read(0x1000_0000, 4))

    break_handler(g, "getpid", raw_read)
    assert g.syscall("getpid") == -Errno.EFAULT
    assert g.process.alive


def test_linux_errors_become_negative_errnos():
    g = FakeGuest()

    def refuse(task, *args):
        raise LinuxError(Errno.EXDEV)

    break_handler(g, "getpid", refuse)
    assert g.syscall("getpid") == -Errno.EXDEV
    assert g.task.restart == {}


def test_a_fault_ends_the_process_with_its_signal():
    g = FakeGuest()
    start(g)
    g.platform.push(FaultEvent(g.context, SIGSEGV, 1, 0xDEAD000, "segmentation fault"))
    process = g.kernel.run()
    assert process.exit_status == (0, SIGSEGV)
    assert "segmentation fault at 0xdead000" == process.exit_description


def test_a_thread_that_vanishes_takes_its_process_down():
    g = FakeGuest()
    start(g)
    g.platform.push(ExitEvent(g.context, SIGKILL, "killed on the host"))
    process = g.kernel.run()
    assert process.exit_status == (0, SIGKILL)
    assert process.exit_description == "killed on the host"


def test_the_run_deadline_kills_everything():
    g = FakeGuest()
    other = g.spawn()
    before = g.kernel.monotonic_ns()
    start(g, ("nanosleep", (timespec(g, 10 * SECOND), 0)))
    start(other, ("nanosleep", (timespec(other, 10 * SECOND), 0)))
    with pytest.raises(SandboxTimeout):
        g.kernel.run(deadline_ns=before + SECOND)
    assert g.kernel.monotonic_ns() - before == SECOND
    assert g.process.exit_status == (0, SIGKILL) and other.process.exit_status == (0, SIGKILL)
    assert not any(p.alive for p in g.kernel.processes.values())


def test_timers_fire_in_deadline_order_and_cancelled_ones_do_not():
    g = FakeGuest()
    kernel = g.kernel
    now = kernel.monotonic_ns()
    fired = []
    kernel.add_timer(now + 30, lambda: fired.append("c"))
    kernel.add_timer(now + 10, lambda: fired.append("a"))
    cancelled = kernel.add_timer(now + 20, lambda: fired.append("never"))
    kernel.add_timer(now + 10, lambda: fired.append("b"))  # same deadline: in the order added
    cancelled.cancel()
    assert kernel._next_deadline() == now + 10
    g.host.advance(25)
    kernel._fire_timers()
    assert fired == ["a", "b"]
    assert kernel._next_deadline() == now + 30
    g.host.advance(5)
    kernel._fire_timers()
    assert fired == ["a", "b", "c"] and kernel._next_deadline() is None


def test_a_woken_task_reruns_its_syscall_with_the_same_arguments():
    g = FakeGuest()
    sleeper = g.thread()
    request = timespec(g, SECOND)
    assert sleeper.syscall("nanosleep", request, 0) is not GONE
    assert sleeper.task.syscall_args[0] == request
    g.set(request, struct.pack("<qq", 1000, 0))  # changing the request meanwhile changes nothing
    assert sleeper.complete() == 0
    assert sleeper.task.restart == {}


# --- the fake platform the loop runs on ----------------------------------------------------------


def test_fake_platform_time_passes_only_in_wait():
    from slimbox.platforms.fake import FakeDeadlock, FakeHost, FakePlatform, FakeStream

    host = FakeHost()
    platform = FakePlatform(host)
    start, wall = host.clock_ns(1), host.clock_ns(0)
    assert platform.wait(0) == [] and host.clock_ns(1) == start
    assert platform.wait(250) == [] and host.clock_ns(1) == start + 250
    assert host.clock_ns(0) == wall + 250
    with pytest.raises(FakeDeadlock):
        platform.wait(None)  # nothing could ever happen
    context = platform.new_process()
    event = FaultEvent(context, SIGSEGV, 1, 0, "test")
    platform.push(event)
    assert platform.wait(None) == [event] and host.clock_ns(1) == start + 250  # no waiting when busy
    stream, key = FakeStream(), object()
    platform.watch_readable(stream, key)
    assert platform.wait(10) == []
    stream.feed(b"x")
    (ready,) = platform.wait(None)
    assert ready.key is key
    assert platform.wait(5) == []  # reported once
    with pytest.raises(OSError):
        host.open_host_directory("/etc", False)  # a fake host has no files
    with pytest.raises(OSError):
        host.open_archive("/root.tar")


def test_fake_context_kill_ends_every_thread_of_its_process():
    from slimbox.platforms.fake import FakePlatform

    platform = FakePlatform()
    main = platform.new_process()
    thread = main.spawn_thread()
    other = platform.new_process()
    thread.kill()
    assert main.killed and thread.killed and not other.killed
    events = platform.wait(0)
    assert sorted(type(e).__name__ for e in events) == ["ExitEvent", "ExitEvent"]
    with pytest.raises(RuntimeError):
        main.finish_syscall(0)  # a dead thread is never answered


def test_a_syscall_of_a_process_killed_earlier_in_the_same_turn_is_not_run():
    # found by the syscall fuzzer: the handler ran for the dead thread, and on the Linux
    # platform its first register access failed with ProcessLookupError (an internal error)
    g = FakeGuest()
    victim = g.spawn()
    g.platform.syscall(g.context, nr("kill"), victim.process.pid, SIGKILL)
    g.platform.syscall(victim.context, nr("umask"), 0o777)
    g.step()
    assert not victim.process.alive
    assert victim.process.fs.umask == 0o022  # the umask call never ran
    assert g.kernel.failure is None


class _Vanished:
    """The registers of a host thread that has ended: ptrace fails."""

    def __getattr__(self, name):
        raise ProcessLookupError(3, "No such process")


def test_a_thread_that_vanishes_during_its_syscall_is_left_to_its_exit_event():
    g = FakeGuest()
    victim = g.spawn()
    g.platform.syscall(victim.context, nr("arch_prctl"), 0x1003, g.alloc(8))  # ARCH_GET_FS reads registers
    victim.context.regs = _Vanished()  # gone on the host, its ExitEvent not yet seen
    g.step()
    assert g.kernel.failure is None
    g.platform.push(ExitEvent(victim.context, SIGKILL, "killed on the host"))
    g.step()
    assert not victim.process.alive


def test_a_call_that_wakes_a_thread_lets_that_thread_finish_first():
    # In a hand-off (a pipe or futex ping-pong) the waker's next call then finds the other
    # side's answer instead of parking and being run again.
    g = FakeGuest()
    reader = g.thread()
    fds = g.alloc(8)
    assert g.syscall("pipe2", fds, 0) == 0
    read_end, write_end = struct.unpack("<ii", g.get(fds, 8))
    buf = g.alloc(1)
    assert reader.syscall("read", read_end, buf, 1) is BLOCKED
    order = []
    for who, guest in (("reader", reader), ("writer", g)):
        def finish(result, who=who, finish=guest.context.finish_syscall):
            order.append(who)
            finish(result)
        guest.context.finish_syscall = finish
    assert g.syscall("write", write_end, g.put(b"x"), 1) == 1
    g.settle()
    assert reader.outcome() == 1 and reader.get(buf, 1) == b"x"
    assert order == ["reader", "writer"]
