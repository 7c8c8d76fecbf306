"""The time slice: a POSIX timer that ends a KVM_RUN after a while.

The supervisor runs one vCPU at a time in its own thread, so a guest thread that never
exits must be stopped from outside for others (and the kernel's timers) to get a turn.
The timer sends a real-time signal to this thread only. While the timer is armed that
signal is blocked in the thread except inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it ends
KVM_RUN with EINTR and is otherwise never delivered: no handler is needed, whatever
thread this is. Disarming stops the timer, takes back a late expiry with sigtimedwait
and puts the thread's mask back, so nothing of it outlives the run: a process the
supervisor's process starts afterwards does not inherit a blocked signal.
"""

from __future__ import annotations

import ctypes
import signal
import struct
import threading

_CLOCK_MONOTONIC = 1
_SIGEV_THREAD_ID = 4
#: a real-time signal nothing else here uses
SLICE_SIGNAL = signal.SIGRTMAX - 2
_SIGEVENT = struct.Struct("<QiiI44x")  # sigev_value, sigev_signo, sigev_notify, _tid, padding to 64
_ITIMERSPEC = struct.Struct("<qqqq")


class SliceTimer:
    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._timer = ctypes.c_void_p()
        event = ctypes.create_string_buffer(_SIGEVENT.pack(0, SLICE_SIGNAL, _SIGEV_THREAD_ID,
                                                           threading.get_native_id()), _SIGEVENT.size)
        if self._libc.timer_create(_CLOCK_MONOTONIC, event, ctypes.byref(self._timer)) != 0:
            raise OSError(ctypes.get_errno(), "timer_create failed")
        self._spec = ctypes.create_string_buffer(_ITIMERSPEC.size)
        self.armed = False
        self._was_blocked = False

    def run_mask(self) -> bytes:
        """The signal mask a vCPU runs with: this thread's own, with the slice signal let through."""
        mask = 0
        for signo in signal.pthread_sigmask(signal.SIG_BLOCK, ()):
            if signo != SLICE_SIGNAL:
                mask |= 1 << (int(signo) - 1)
        return mask.to_bytes(8, "little")

    def arm(self, ns: int) -> None:
        if not self.armed:
            self._was_blocked = SLICE_SIGNAL in signal.pthread_sigmask(signal.SIG_BLOCK, {SLICE_SIGNAL})
        ns = max(ns, 1000)
        _ITIMERSPEC.pack_into(self._spec, 0, 0, 0, ns // 1_000_000_000, ns % 1_000_000_000)
        self._libc.timer_settime(self._timer, 0, self._spec, None)
        self.armed = True

    def disarm(self) -> None:
        """Stop the timer and take back an expiry that came after the run ended."""
        if not self.armed:
            return
        _ITIMERSPEC.pack_into(self._spec, 0, 0, 0, 0, 0)
        self._libc.timer_settime(self._timer, 0, self._spec, None)
        self.armed = False
        signal.sigtimedwait({SLICE_SIGNAL}, 0)
        if not self._was_blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {SLICE_SIGNAL})

    def close(self) -> None:
        """Delete the timer (disarmed first, so the thread's mask is as it was)."""
        self.disarm()
        if self._timer:
            self._libc.timer_delete(self._timer)
            self._timer = ctypes.c_void_p()
