"""shims/linux/sys_signal.py: dispositions, masks, the alternate stack, and sending
signals whose default action ends the target."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import GONE, UNMAPPED, FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402

SIGHUP, SIGKILL, SIGUSR1, SIGTERM, SIGCHLD, SIGSTOP, SIGALRM = 1, 9, 10, 15, 17, 19, 14
SIG_DFL, SIG_IGN = 0, 1
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SS_DISABLE = 2
SA_RESTART = 0x10000000


def bit(sig: int) -> int:
    return 1 << (sig - 1)


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def sigaction(g: FakeGuest, handler: int, flags: int = 0, mask: int = 0) -> int:
    return g.put(struct.pack("<QQQQ", handler, flags, 0, mask), 8)


def old_action(g: FakeGuest, sig: int) -> tuple[int, int, int, int]:
    out = g.alloc(32)
    assert g.syscall("rt_sigaction", sig, 0, out, 8) == 0
    return struct.unpack("<QQQQ", g.get(out, 32))


# --- dispositions ----------------------------------------------------------------------------------


def test_sigaction_stores_and_returns_the_action(g):
    assert old_action(g, SIGUSR1) == (SIG_DFL, 0, 0, 0)
    mask = bit(SIGHUP) | bit(SIGKILL) | bit(SIGSTOP)
    assert g.syscall("rt_sigaction", SIGUSR1, sigaction(g, 0x401000, SA_RESTART, mask), 0, 8) == 0
    handler, flags, _, stored_mask = old_action(g, SIGUSR1)
    assert (handler, flags & SA_RESTART) == (0x401000, SA_RESTART)
    assert stored_mask == bit(SIGHUP)  # SIGKILL and SIGSTOP can never be blocked
    previous = g.alloc(32)
    assert g.syscall("rt_sigaction", SIGUSR1, sigaction(g, SIG_IGN), previous, 8) == 0
    assert struct.unpack_from("<Q", g.get(previous, 8))[0] == 0x401000  # the old one comes back


@pytest.mark.parametrize("sig", [0, 65, -1 & 0xFFFFFFFF])
def test_sigaction_of_no_signal_is_einval(g, sig):
    assert g.syscall("rt_sigaction", sig, 0, g.alloc(32), 8) == -Errno.EINVAL


def test_sigaction_errors(g):
    assert g.syscall("rt_sigaction", SIGKILL, sigaction(g, SIG_IGN), 0, 8) == -Errno.EINVAL
    assert g.syscall("rt_sigaction", SIGSTOP, sigaction(g, SIG_IGN), 0, 8) == -Errno.EINVAL
    assert old_action(g, SIGKILL)[0] == SIG_DFL  # reading them is fine
    assert g.syscall("rt_sigaction", SIGUSR1, sigaction(g, SIG_IGN), 0, 4) == -Errno.EINVAL
    assert g.syscall("rt_sigaction", SIGUSR1, UNMAPPED, 0, 8) == -Errno.EFAULT
    assert g.syscall("rt_sigaction", SIGUSR1, 0, UNMAPPED, 8) == -Errno.EFAULT
    assert old_action(g, SIGUSR1)[0] == SIG_DFL


# --- masks ---------------------------------------------------------------------------------------------


def procmask(g: FakeGuest, how: int, mask: int | None) -> int:
    old = g.alloc(8)
    new = 0 if mask is None else g.put(struct.pack("<Q", mask), 8)
    assert g.syscall("rt_sigprocmask", how, new, old, 8) == 0
    return g.u64(old)


def test_sigprocmask(g):
    assert procmask(g, SIG_BLOCK, bit(SIGUSR1) | bit(SIGKILL) | bit(SIGSTOP)) == 0
    assert procmask(g, SIG_BLOCK, bit(SIGHUP)) == bit(SIGUSR1)  # SIGKILL and SIGSTOP were dropped
    assert procmask(g, SIG_UNBLOCK, bit(SIGUSR1)) == bit(SIGUSR1) | bit(SIGHUP)
    assert procmask(g, SIG_SETMASK, (1 << 64) - 1) == bit(SIGHUP)
    assert procmask(g, SIG_BLOCK, None) == ((1 << 64) - 1) & ~(bit(SIGKILL) | bit(SIGSTOP))  # NULL: a query


def test_sigprocmask_errors(g):
    mask = g.put(struct.pack("<Q", bit(SIGUSR1)), 8)
    assert g.syscall("rt_sigprocmask", 7, mask, 0, 8) == -Errno.EINVAL
    assert g.syscall("rt_sigprocmask", 7, 0, 0, 8) == 0  # how is not looked at without a set, as on Linux
    assert g.syscall("rt_sigprocmask", SIG_BLOCK, mask, 0, 16) == -Errno.EINVAL
    assert g.syscall("rt_sigprocmask", SIG_BLOCK, UNMAPPED, 0, 8) == -Errno.EFAULT
    assert g.syscall("rt_sigprocmask", SIG_BLOCK, 0, UNMAPPED, 8) == -Errno.EFAULT
    assert g.task.sigmask == 0


def test_a_blocked_signal_stays_pending(g):
    procmask(g, SIG_BLOCK, bit(SIGUSR1))
    assert g.syscall("kill", g.process.pid, SIGUSR1) == 0
    assert g.process.alive
    pending = g.alloc(8)
    assert g.syscall("rt_sigpending", pending, 8) == 0
    assert g.u64(pending) == bit(SIGUSR1)
    assert g.syscall("rt_sigpending", pending, 16) == -Errno.EINVAL
    assert g.syscall("rt_sigprocmask", SIG_UNBLOCK, g.put(struct.pack("<Q", bit(SIGUSR1)), 8), 0, 8) is GONE
    assert g.process.exit_status == (0, SIGUSR1)  # delivered as soon as it was unblocked


# --- the alternate stack ------------------------------------------------------------------------------


def test_sigaltstack(g):
    old = g.alloc(24)
    assert g.syscall("sigaltstack", 0, old) == 0
    assert struct.unpack("<Qi4xQ", g.get(old, 24)) == (0, SS_DISABLE, 0)
    stack = g.put(struct.pack("<Qi4xQ", 0x7000_0000, 0, 8192), 8)
    assert g.syscall("sigaltstack", stack, 0) == 0
    assert g.syscall("sigaltstack", 0, old) == 0
    assert struct.unpack("<Qi4xQ", g.get(old, 24)) == (0x7000_0000, 0, 8192)
    small = g.put(struct.pack("<Qi4xQ", 0x7000_0000, 0, 1024), 8)
    assert g.syscall("sigaltstack", small, 0) == -Errno.ENOMEM
    odd = g.put(struct.pack("<Qi4xQ", 0x7000_0000, 0x40, 8192), 8)
    assert g.syscall("sigaltstack", odd, 0) == -Errno.EINVAL
    assert g.syscall("sigaltstack", UNMAPPED, 0) == -Errno.EFAULT
    off = g.put(struct.pack("<Qi4xQ", 0, SS_DISABLE, 0), 8)
    assert g.syscall("sigaltstack", off, 0) == 0
    assert g.syscall("sigaltstack", 0, old) == 0 and struct.unpack_from("<Qi", g.get(old, 12))[1] == SS_DISABLE


# --- sending ----------------------------------------------------------------------------------------------


def test_kill_checks(g):
    other = g.spawn()
    assert g.syscall("kill", other.process.pid, 0) == 0  # signal 0: is it there?
    assert g.syscall("kill", 4242, 0) == -Errno.ESRCH
    assert g.syscall("kill", other.process.pid, 65) == -Errno.EINVAL
    assert g.syscall("tgkill", 0, 1, SIGTERM) == -Errno.EINVAL
    assert g.syscall("tgkill", g.process.pid, other.task.tid, SIGTERM) == -Errno.ESRCH  # not in that group
    assert g.syscall("tkill", 0, SIGTERM) == -Errno.EINVAL
    assert other.process.alive


def test_default_actions_end_the_target(g):
    victim, killed = g.spawn(), g.spawn()
    assert g.syscall("kill", victim.process.pid, SIGTERM) == 0
    assert g.syscall("kill", killed.process.pid, SIGKILL) == 0
    g.settle()
    assert victim.process.exit_status == (0, SIGTERM)
    assert killed.process.exit_status == (0, SIGKILL)
    assert g.process.alive


def test_kill_minus_one_spares_init_and_the_caller(g):
    killer, victim, other = g.spawn(), g.spawn(), g.spawn(uid=1000)
    assert killer.syscall("kill", -1, SIGKILL) == 0
    g.settle()
    assert victim.process.exit_status == (0, SIGKILL)
    assert other.process.exit_status == (0, SIGKILL)  # root may signal anyone
    assert killer.process.alive and g.process.alive   # the caller and init are left out


def test_kill_minus_one_without_permission_skips_the_target(g):
    weak, strong = g.spawn(uid=1000), g.spawn(uid=2000)
    assert weak.syscall("kill", -1, SIGTERM) == 0  # Linux counts the target, EPERM is not reported
    g.settle()
    assert strong.process.alive and g.process.alive and weak.process.alive


def test_kill_minus_one_alone_is_esrch(g):
    assert g.syscall("kill", -1, 0) == -Errno.ESRCH  # init itself is never a target


def test_ignored_signals_do_nothing(g):
    other = g.spawn()
    assert other.syscall("rt_sigaction", SIGTERM, sigaction(other, SIG_IGN), 0, 8) == 0
    assert g.syscall("kill", other.process.pid, SIGTERM) == 0
    assert g.syscall("kill", other.process.pid, SIGCHLD) == 0  # ignored by default
    g.settle()
    assert other.process.alive
    assert g.syscall("kill", other.process.pid, SIGKILL) == 0  # SIGKILL cannot be ignored
    g.settle()
    assert other.process.exit_status == (0, SIGKILL)


def test_a_process_that_signals_itself(g):
    assert g.syscall("kill", g.process.pid, SIGTERM) is GONE
    assert g.process.exit_status == (0, SIGTERM)


def test_users_may_only_signal_their_own_processes(g):
    user = g.spawn(uid=1000, gid=1000)
    same = g.spawn(uid=1000, gid=1000)
    assert user.syscall("kill", g.process.pid, SIGTERM) == -Errno.EPERM
    assert user.syscall("kill", g.process.pid, 0) == -Errno.EPERM
    assert user.syscall("kill", same.process.pid, 0) == 0
    assert g.process.alive


def test_alarm_delivers_sigalrm_when_the_fake_clock_gets_there(g):
    assert g.syscall("alarm", 2) == 0
    assert g.syscall("alarm", 3) == 2  # seconds left on the previous alarm
    g.run_for(2_999_000_000)
    assert g.process.alive
    g.run_for(1_000_000)
    assert g.process.exit_status == (0, SIGALRM)
