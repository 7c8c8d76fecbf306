"""The Linux platform: each guest process is a stub process under ptrace + seccomp.

The supervisor waits for its tracees with `waitpid(-pgid, __WALL)` (the stubs run in
a session of their own, so other children of the calling process are left alone)
and, when host streams or deadlines must be watched too, with epoll over a SIGCHLD
signalfd and those streams.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import _signal as signal  # `signal` without the enum classes it builds at import (and enum): ~6 ms a run
import struct
import time
from types import MappingProxyType

from slimbox.platforms.base import (
    Event, ExitEvent, FaultEvent, InterruptEvent, PlatformUnavailable, SyscallEvent,
)
from slimbox.platforms.linux import _native as native
from slimbox.platforms.linux import lockdown, seccomp
from slimbox.platforms.linux.watches import StreamWatches, drain
from slimbox.platforms.linux.host import PosixHost
from slimbox.platforms.linux.process import GONE, NOTIFIED, RUNNING, PlatformError, StubProcess, StubThread
from slimbox.platforms.linux.spawn import Isolation, spawn_stub
from slimbox.platforms.linux.stdio import FdStream
from slimbox.platforms.linux.stub import build_stub

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.platforms.base import Serve

_TRACE_OPTIONS = (native.PTRACE_O_EXITKILL | native.PTRACE_O_TRACESECCOMP | native.PTRACE_O_TRACECLONE
                  | native.PTRACE_O_TRACEFORK | native.PTRACE_O_TRACEVFORK)
_CLONE_EVENTS = (native.PTRACE_EVENT_CLONE, native.PTRACE_EVENT_FORK, native.PTRACE_EVENT_VFORK)
_FAULT_SIGNALS = frozenset((signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP))
_SIGCHLD_MISSED_POLL = 0.05  # seconds; bounds the delay if SIGCHLD went to another thread
_EVENT_SECCOMP = native.PTRACE_EVENT_SECCOMP
# struct seccomp_notif: id, pid, flags, then struct seccomp_data (nr, arch, ip, args[6])
_NOTIFICATION = struct.Struct("<QIIiIQ6Q")
_ZERO_NOTIFICATION = bytes(_NOTIFICATION.size)
_RESPONSE = struct.Struct("<QqiI")  # struct seccomp_notif_resp: id, val, error, flags
_IOCTL_NOTIF_RECV = seccomp.IOCTL_NOTIF_RECV
_IOCTL_NOTIF_SEND = seccomp.IOCTL_NOTIF_SEND
_NOT_IN_SYSCALL = (1 << 64) - 1


def _signal_names() -> MappingProxyType:
    """Host signal number -> its name as signal.Signals gives it (of aliases such as
    SIGABRT and SIGIOT, the first in alphabetical order)."""
    names: dict[int, str] = {}
    for name in sorted(vars(signal)):
        number = getattr(signal, name)
        if name.startswith("SIG") and not name.startswith("SIG_") and isinstance(number, int):
            names.setdefault(number, name)
    return MappingProxyType(names)


_SIGNAL_NAMES = _signal_names()


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def _describe_exit(status: int) -> tuple[int, str]:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGSYS:
            return sig, "killed by the sandbox: a system call outside the x86-64 ABI (int 0x80 or x32)"
        return sig, f"host thread killed by {_SIGNAL_NAMES.get(sig, f'signal {sig}')}"
    return 0, f"host thread exited with status {os.WEXITSTATUS(status)}"


class LinuxPlatform:
    """Guest processes as traced host processes; see DESIGN section 4."""

    name = "linux"

    def __init__(self, host: PosixHost | None = None, *, namespaces: bool = True, pin_cpu: bool = True,
                 notify: bool = True) -> None:
        check_host_support()
        self.host = host or PosixHost()
        self._stub = build_stub()
        self._stub_fd = os.memfd_create("slimbox-stub", os.MFD_CLOEXEC)
        os.write(self._stub_fd, self._stub.elf)
        self._tracer = native.Ptrace()
        self._namespaces = namespaces
        self._processes: dict[int, StubProcess] = {}
        self._threads: dict[int, StubThread] = {}
        self._sessions: list[int] = []
        #: keys of watched streams epoll cannot watch (regular files, /dev/null): always
        #: ready, so reported by the next wait()
        self._channels: list[native.Socket] = []
        #: answer syscalls through seccomp user notifications where possible (the fast path)
        self._notify = notify
        self._listeners: list[int] = []
        # Both ioctl structs are preallocated and passed as mutable buffers: fcntl.ioctl
        # then takes them as they are (an immutable argument is first tried as a
        # writable buffer, and that failure costs an exception per call).
        self._notification = bytearray(seccomp.NOTIF_SIZE)
        self._response = bytearray(seccomp.NOTIF_RESP_SIZE)
        self._ioctl = fcntl.ioctl
        #: the XSAVE image of a thread that has not touched its FP state (captured once)
        self.initial_fpu = b""
        self.isolation = Isolation()
        self._locked = False
        self._old_affinity = None
        if pin_cpu:
            self._pin_to_current_cpu()
        self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        self._sigchld = native.signalfd_for([signal.SIGCHLD])
        self._epoll = select.epoll()
        self._watches = StreamWatches(self._epoll)
        self._epoll.register(self._sigchld, select.EPOLLIN)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._poked = False
        #: the injection counts of processes already gone (stats() adds the live ones)
        self._retired = {"injections": 0, "injection_stops": 0}

    # --- processes ---------------------------------------------------------------

    def new_process(self) -> StubThread:
        def seize(pid: int) -> None:
            self._tracer.seize(pid, _TRACE_OPTIONS)

        channel, stub_end = native.socketpair(native.AF_UNIX, native.SOCK_DGRAM)
        try:
            spawned = spawn_stub(self._stub_fd, seize, self._namespaces, stub_end.fileno())
        except OSError as exc:
            channel.close()
            stub_end.close()
            if exc.errno in (errno.EPERM, errno.EACCES):
                raise PlatformUnavailable(f"the Linux platform cannot run here: ptrace is not permitted "
                                          f"({exc.strerror})") from None
            raise
        stub_end.close()
        self._channels.append(channel)
        self.isolation = spawned.isolation
        process = StubProcess(spawned.pid, spawned.keeper, self._stub, self._tracer, self, channel)
        self._processes[spawned.pid] = process
        self._threads[spawned.pid] = process.main
        self._sessions.append(spawned.pid)
        try:
            listener = process.prepare(self._notify)
        except PlatformError as exc:
            self._forget(process)
            raise PlatformUnavailable(f"the Linux platform cannot run here: {exc}") from None
        except BaseException:
            self._forget(process)
            raise
        if listener >= 0:
            try:
                fcntl.ioctl(listener, seccomp.IOCTL_NOTIF_SET_FLAGS, seccomp.USER_NOTIF_FD_SYNC_WAKE_UP)
            except OSError:
                pass  # an older kernel: notifications still work, with a slower wake-up
            process.listener = listener
            self._listeners.append(listener)
            self._epoll.register(listener, select.EPOLLIN)
        return process.main

    def _forget(self, process: StubProcess) -> None:
        if self._processes.pop(process.pid, None) is not None:
            self._retired["injections"] += process.injections
            self._retired["injection_stops"] += process.injection_stops
        process.close()
        for tid in list(process.threads):
            self._threads.pop(tid, None)
        if process.keeper is not None:
            try:
                os.waitpid(process.keeper, 0)
            except ChildProcessError:
                pass
        if process.pid in self._sessions:
            self._sessions.remove(process.pid)

    def wait_tid(self, tid: int) -> int:
        """The next wait status of one thread (during injections and set-up)."""
        _, status = os.waitpid(tid, native.WALL)
        return status

    def adopt_process(self, process: StubProcess) -> None:
        self._processes[process.pid] = process
        for thread in process.threads.values():
            self._threads[thread.tid] = thread

    def adopt_thread(self, thread: StubThread) -> None:
        self._threads[thread.tid] = thread

    def forget_thread(self, thread: StubThread) -> None:
        self._threads.pop(thread.tid, None)

    # --- events ------------------------------------------------------------------

    def poke(self) -> None:
        """Make a blocked wait() return soon; safe to call from a signal handler."""
        self._poked = True
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:
            pass
        for thread in self._threads.values():
            if thread.state == RUNNING:
                thread.interrupt()  # a blocking waitpid returns when it stops
                break

    def wait(self, timeout_ns: int | None) -> list[Event]:
        events: list[Event] = self._watches.take_ready_now()
        if events:
            return events
        if self._poked:
            self._poked = False
            drain(self._wake_r)
            return events
        listeners = self._listeners
        if not listeners and not self._watches and timeout_ns is None and len(self._sessions) == 1 \
                and any(t.state == RUNNING for t in self._threads.values()):
            # only ptrace stops can come: one blocking waitpid is the cheapest wait
            try:
                tid, status = os.waitpid(-self._sessions[0], native.WALL)
            except ChildProcessError:
                return events
            self._translate(tid, status, events)
            return events
        # Otherwise epoll over the SIGCHLD signalfd (ptrace stops), the seccomp listeners,
        # the wake-up pipe and watched host streams. Each SIGCHLD is followed by reaping
        # everything pending; the timeout is bounded in case one went to another thread.
        if timeout_ns is None:
            timeout = _SIGCHLD_MISSED_POLL
        else:
            timeout = min(timeout_ns / 1e9, _SIGCHLD_MISSED_POLL) if timeout_ns > 0 else 0
        try:
            ready = self._epoll.poll(timeout)
        except InterruptedError:
            ready = ()
        self._collect(ready, events)
        return events

    def wait_serving(self, timeout_ns: int | None, serve: Serve) -> list[Event]:
        """wait(), except that seccomp notifications go to `serve` as they arrive instead
        of being returned: an int it returns is the syscall's result, answered at once,
        and the wait goes on; None ends the wait (the kernel saw to the call, or wants
        its loop). Returns the other events. One epoll and two ioctls per syscall, with
        no event objects in between: this is the path most guest syscalls take."""
        listeners = self._listeners
        if not listeners or self._poked or self._watches.ready_now:
            return self.wait(timeout_ns)
        epoll = self._epoll
        clock = time.monotonic
        if timeout_ns is None:
            deadline = None
            timeout = _SIGCHLD_MISSED_POLL
        else:
            timeout = min(timeout_ns / 1e9, _SIGCHLD_MISSED_POLL)
            deadline = clock() + timeout_ns / 1e9
        while True:
            try:
                ready = epoll.poll(timeout)
            except InterruptedError:
                ready = ()
            if len(ready) != 1 or ready[0][0] not in listeners:
                events: list[Event] = []
                self._collect(ready, events)
                return events
            listener = ready[0][0]
            thread = self._take_notification(listener)
            if thread is None:
                continue
            result = serve(thread, thread.syscall_event.nr, thread.syscall_event.args)
            if result is None:
                return []
            if self.answer(listener, thread.notification, result):
                thread.state = RUNNING
            else:  # cancelled meanwhile (an interrupt): finished at a ptrace stop instead
                try:
                    thread.finish_syscall(result)
                except ProcessLookupError:
                    pass  # the thread is gone (killed from outside): its exit is reaped next
            if self._poked or self._watches.ready_now:
                return []
            if deadline is not None:  # the caller's time is up even if the guest keeps calling
                left = deadline - clock()
                if left <= 0:
                    return []
                timeout = min(left, _SIGCHLD_MISSED_POLL)

    def _collect(self, ready: list[tuple[int, int]], events: list[Event]) -> None:
        """The events of the descriptors epoll reported ready (none: look for stops
        whose SIGCHLD was missed)."""
        if not ready:
            self._reap_nohang(events)
            return
        reap = False
        for fd, _ in ready:
            if fd in self._listeners:
                self._receive_notification(fd, events)
            elif fd == self._sigchld:
                drain(self._sigchld)
                reap = True
            elif fd == self._wake_r:
                self._poked = False
                drain(self._wake_r)
            else:
                events.append(self._watches.fired(fd))
        if reap:
            self._reap_nohang(events)

    def _receive_notification(self, listener: int, events: list[Event]) -> None:
        thread = self._take_notification(listener)
        if thread is not None:
            events.append(thread.syscall_event)

    def _take_notification(self, listener: int) -> StubThread | None:
        """Take the notification pending on `listener`: its thread, now NOTIFIED, with
        the call in its syscall_event. A thread's event object is its own, reused for
        each of its syscalls: a notified thread waits for its answer, so it never has
        two events at once. None if the notification went away meanwhile."""
        buffer = self._notification
        buffer[:] = _ZERO_NOTIFICATION  # the kernel wants a zeroed struct every time
        try:
            self._ioctl(listener, _IOCTL_NOTIF_RECV, buffer, True)
        except OSError:
            return None  # the notifying thread died or was interrupted meanwhile
        fields = _NOTIFICATION.unpack_from(buffer)
        thread = self._threads.get(fields[1])
        if thread is None:
            self.answer(listener, fields[0], -errno.ENOSYS)
            return None
        thread._regs = None
        thread.state = NOTIFIED
        thread.notification = fields[0]
        event = thread.syscall_event
        event.nr = fields[3]
        event.args = fields[6:]
        return thread

    def answer(self, listener: int, notification: int, result: int) -> bool:
        """Complete a notified syscall with `result` (a value or -errno); False if the
        notification was cancelled meanwhile (the thread was interrupted or killed)."""
        response = self._response
        if -4096 < result < 0:
            _RESPONSE.pack_into(response, 0, notification, 0, result, 0)
        else:
            _RESPONSE.pack_into(response, 0, notification, result - (1 << 64) if result >> 63 else result, 0, 0)
        try:
            self._ioctl(listener, _IOCTL_NOTIF_SEND, response, True)
        except OSError:
            return False
        return True

    def _reap_nohang(self, events: list[Event]) -> None:
        for session in list(self._sessions):
            while True:
                try:
                    tid, status = os.waitpid(-session, native.WALL | os.WNOHANG)
                except ChildProcessError:
                    break
                if tid == 0:
                    break
                self._translate(tid, status, events)

    def _translate(self, tid: int, status: int, events: list[Event]) -> None:
        thread = self._threads.get(tid)
        if thread is None:
            if os.WIFSTOPPED(status):  # a task the kernel did not make: end it
                try:
                    os.kill(tid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            thread.state = GONE
            self._threads.pop(tid, None)
            process = thread.process
            process.threads.pop(tid, None)
            if not process.threads:
                process.dead = True
                self._forget(process)
            killed_by, text = _describe_exit(status)
            events.append(ExitEvent(thread, killed_by, text))
            return
        sig = os.WSTOPSIG(status)
        event = status >> 16
        if event == _EVENT_SECCOMP:
            thread.stopped()
            nr, *args = self._tracer.syscall_info(tid)
            events.append(SyscallEvent(thread, nr, args))
        elif event == native.PTRACE_EVENT_STOP:
            if thread.state == NOTIFIED:
                # the interrupt cancelled a notification the kernel already holds: the
                # thread now waits at a ptrace stop for that same answer
                thread.interrupt_requested = False
                thread.stopped()
            elif thread.interrupt_requested:
                thread.interrupt_requested = False
                thread.stopped()
                regs = thread.regs
                if regs.orig_rax != _NOT_IN_SYSCALL and -516 <= _signed(regs.rax) <= -512:
                    # stopped inside a syscall the kernel had not seen yet (a notification
                    # the interrupt cancelled): make it run again once the thread resumes
                    regs.rip -= 2
                    regs.rax = regs.orig_rax
                events.append(InterruptEvent(thread))
            else:
                self._tracer.cont(tid, 0)
        elif event in _CLONE_EVENTS:
            # The guest ran clone at the trampoline itself: only the kernel makes tasks.
            stray = self._tracer.event_message(tid)
            for pid in (stray, thread.process.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        elif event == 0 and sig in _FAULT_SIGNALS:
            signo, _, code, addr = self._tracer.get_siginfo(tid)
            if code <= 0:  # sent from the host, not a fault of the guest's own
                self._tracer.cont(tid, 0)
                return
            thread.stopped()
            events.append(FaultEvent(thread, signo, code, addr, _SIGNAL_NAMES.get(signo, f'signal {signo}')))
        else:
            # host signals and group/interrupt stops are not the guest's business
            self._tracer.cont(tid, 0)

    def watch_readable(self, stream: FdStream, key: object) -> None:
        self._watches.watch(stream.fileno(), key)

    def lock_down(self, *, network: bool = False) -> None:
        """Restrict this supervisor process to the host syscalls a running sandbox needs
        (platforms/linux/lockdown.py), with those of host sockets when `network`.
        Irreversible: for a process that exists to supervise one sandbox, such as
        `slimbox run`."""
        lockdown.lock_down(network=network)
        self._locked = True

    def stats(self) -> dict[str, int]:
        """Host syscalls injected into guest processes since the platform was made, and
        the ptrace round trips they took (a batch of memory calls is one)."""
        processes = self._processes.values()
        return {"injections": self._retired["injections"] + sum(p.injections for p in processes),
                "injection_stops": self._retired["injection_stops"] + sum(p.injection_stops for p in processes)}

    def close(self) -> None:
        for process in list(self._processes.values()):
            process.kill()
        # Reap by session, not thread by thread: the first stub is the pid namespace's
        # init, whose exit waits until every other task in the namespace is reaped.
        for session in list(self._sessions):
            while True:
                try:
                    os.waitpid(-session, native.WALL)
                except ChildProcessError:
                    break
        for process in list(self._processes.values()):
            self._forget(process)
        for channel in self._channels:
            channel.close()
        for listener in self._listeners:
            os.close(listener)
        self._epoll.close()
        os.close(self._sigchld)
        os.close(self._wake_r)
        os.close(self._wake_w)
        os.close(self._stub_fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
        if self._old_affinity is not None and not self._locked:
            os.sched_setaffinity(0, self._old_affinity)

    def _pin_to_current_cpu(self) -> None:
        try:
            with open("/proc/thread-self/stat") as f:
                cpu = int(f.read().rsplit(")", 1)[1].split()[36])
            self._old_affinity = os.sched_getaffinity(0)
            if cpu in self._old_affinity:
                os.sched_setaffinity(0, {cpu})
        except (OSError, ValueError, IndexError):
            self._old_affinity = None


def check_host_support() -> None:
    """Raise PlatformUnavailable naming what this host lacks."""
    missing = []
    if not os.path.exists("/proc/self/status"):
        missing.append("/proc is not mounted")
    else:
        with open("/proc/self/status") as f:
            status = f.read()
        if "Seccomp:" not in status:
            missing.append("the kernel has no seccomp support (CONFIG_SECCOMP_FILTER)")
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            if f.read().strip() == "3":
                missing.append("ptrace is disabled (kernel.yama.ptrace_scope=3)")
    except OSError:
        pass
    if missing:
        raise PlatformUnavailable("the Linux platform cannot run here: " + "; ".join(missing))


__all__ = ["LinuxPlatform", "PlatformError", "check_host_support"]
