"""preempt.py: the time-slice timer leaves the thread's signal mask as it found it."""

import signal
import time

from slimbox.platforms.kvm.preempt import SLICE_SIGNAL, SliceTimer


def _blocked() -> bool:
    return SLICE_SIGNAL in signal.pthread_sigmask(signal.SIG_BLOCK, ())


def test_an_expiry_is_taken_back_and_the_mask_restored():
    assert not _blocked()
    timer = SliceTimer()
    assert not _blocked()  # nothing blocked until a slice is armed
    timer.arm(1000)
    assert _blocked()
    time.sleep(0.01)  # the timer expires while nothing runs: the signal waits, blocked
    assert SLICE_SIGNAL in signal.sigpending()
    timer.disarm()
    assert SLICE_SIGNAL not in signal.sigpending()
    assert not _blocked()
    timer.arm(10_000_000_000)
    timer.close()  # closing an armed timer disarms it first
    assert not _blocked()


def test_a_signal_blocked_before_stays_blocked():
    signal.pthread_sigmask(signal.SIG_BLOCK, {SLICE_SIGNAL})
    try:
        timer = SliceTimer()
        timer.arm(1000)
        time.sleep(0.01)
        timer.close()
        assert _blocked()
        assert SLICE_SIGNAL not in signal.sigpending()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {SLICE_SIGNAL})
