"""shims/linux/sys_process.py: ids and credentials, exit and execve, prctl and
arch_prctl, resource limits and scheduling queries."""

from __future__ import annotations

import struct
import sys
from pathlib import Path


_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import GONE, UNMAPPED, FakeGuest, elf_executable  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402

NONE = 0xFFFFFFFF  # -1 as a 32-bit uid/gid argument
ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_SET_DUMPABLE = 1, 2, 4
PR_SET_NAME, PR_GET_NAME, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 15, 16, 38, 39
RLIMIT_STACK, RLIMIT_NOFILE, RLIM_INFINITY = 3, 7, (1 << 64) - 1
AT_EMPTY_PATH = 0x1000


def resuid(g: FakeGuest, name: str = "getresuid") -> tuple[int, int, int]:
    r, e, s = g.alloc(4), g.alloc(4), g.alloc(4)
    assert g.syscall(name, r, e, s) == 0
    return g.u32(r), g.u32(e), g.u32(s)


# --- ids ---------------------------------------------------------------------------------------


def test_ids_of_a_process_and_its_child():
    g = FakeGuest(uid=1000, gid=100)
    child = g.spawn(uid=1000, gid=100)
    assert g.syscall("getpid") == g.process.pid == g.syscall("gettid")
    assert g.syscall("getppid") == 0  # init: its parent is outside the sandbox
    assert child.syscall("getppid") == g.process.pid
    assert [g.syscall(n) for n in ("getuid", "geteuid", "getgid", "getegid")] == [1000, 1000, 100, 100]
    assert resuid(g) == (1000, 1000, 1000) and resuid(g, "getresgid") == (100, 100, 100)
    assert g.syscall("getresuid", UNMAPPED, g.alloc(4), g.alloc(4)) == -Errno.EFAULT
    thread = g.thread()
    assert thread.syscall("gettid") != thread.syscall("getpid") == g.process.pid


def test_an_unprivileged_process_may_only_shuffle_its_own_ids():
    g = FakeGuest()
    assert g.syscall("setresuid", 1000, 2000, 3000) == 0  # root may set anything
    assert resuid(g) == (1000, 2000, 3000)
    assert g.process.cred.fsuid == 2000  # the filesystem id follows the effective one
    assert g.syscall("setresuid", 0, NONE, NONE) == -Errno.EPERM
    assert g.syscall("setresuid", 3000, 1000, 2000) == 0  # a permutation is fine
    assert resuid(g) == (3000, 1000, 2000)
    assert g.syscall("setresuid", NONE, NONE, 4000) == -Errno.EPERM
    assert resuid(g) == (3000, 1000, 2000)


def test_ids_above_2_to_the_31_are_kept_and_read_back_unsigned():
    # found by the syscall fuzzer: getresuid raised struct.error after setresuid(-2, ...)
    g = FakeGuest()
    assert g.syscall("setresgid", 0xFFFFFFFE, 0xFFFFFFFE, 0xFFFFFFFE) == 0
    assert resuid(g, "getresgid") == (0xFFFFFFFE,) * 3
    assert g.syscall("setresuid", 0xFFFFFFFE, 0x80000000, NONE) == 0
    assert resuid(g) == (0xFFFFFFFE, 0x80000000, 0)
    assert g.syscall("getuid") == 0xFFFFFFFE


def test_setuid():
    g = FakeGuest()
    assert g.syscall("setuid", NONE) == -Errno.EINVAL
    assert g.syscall("setresuid", 0, 0, 0) == 0
    assert g.syscall("setuid", 1000) == 0  # root: all three ids change for good
    assert resuid(g) == (1000, 1000, 1000)
    assert g.syscall("setuid", 0) == -Errno.EPERM
    user = FakeGuest(uid=1000, gid=1000)
    assert user.syscall("setresuid", NONE, 2000, NONE) == -Errno.EPERM
    assert user.syscall("setgid", 0) == -Errno.EPERM


def test_setuid_to_the_saved_id_changes_only_the_effective_one():
    g = FakeGuest()
    assert g.syscall("setresuid", 1000, 1000, 0) == 0
    assert g.syscall("setuid", 0) == 0  # back to the saved root id, as the effective id only
    assert resuid(g) == (1000, 0, 0)
    assert g.syscall("setuid", 1000) == 0  # privileged again: now all three change
    assert resuid(g) == (1000, 1000, 1000)


def test_setreuid_drops_privileges_for_good():
    g = FakeGuest()
    assert g.syscall("setreuid", 1000, 1000) == 0
    assert resuid(g) == (1000, 1000, 1000)
    assert g.syscall("setuid", 0) == -Errno.EPERM


def test_setfsuid_reports_the_previous_value():
    g = FakeGuest()
    assert g.syscall("setfsuid", 1234) == 0
    assert g.syscall("setfsuid", NONE) == 1234  # -1 changes nothing: a query
    assert g.process.cred.fsuid == 1234


def test_supplementary_groups():
    g = FakeGuest()
    groups = g.put(struct.pack("<3I", 10, 20, 30))
    assert g.syscall("setgroups", 3, groups) == 0
    assert g.syscall("getgroups", 0, 0) == 3
    out = g.alloc(12)
    assert g.syscall("getgroups", 3, out) == 3 and struct.unpack("<3I", g.get(out, 12)) == (10, 20, 30)
    assert g.syscall("getgroups", 2, out) == -Errno.EINVAL
    assert g.syscall("getgroups", -1 & NONE, out) == -Errno.EINVAL
    assert g.syscall("setgroups", 1 << 20, groups) == -Errno.EINVAL
    assert g.syscall("setgroups", 3, UNMAPPED) == -Errno.EFAULT
    user = g.spawn(uid=1000, gid=1000)
    assert user.syscall("setgroups", 0, 0) == -Errno.EPERM


def test_sessions_and_groups():
    g = FakeGuest()
    child = g.spawn()
    assert g.syscall("setsid") == -Errno.EPERM  # already a process-group leader
    child.process.pgid = g.process.pgid  # as after fork
    child.process.sid = g.process.sid
    assert child.syscall("getpgid", 0) == g.process.pid
    assert child.syscall("setsid") == child.process.pid
    assert child.syscall("getsid", 0) == child.process.pid == child.syscall("getpgrp")
    assert g.syscall("getpgid", 4242) == -Errno.ESRCH
    assert g.syscall("getsid", child.process.pid) == child.process.pid


# --- exit and exec --------------------------------------------------------------------------------


def test_exit_group_ends_the_process_with_the_low_byte():
    g = FakeGuest()
    assert g.syscall("exit_group", 256 + 3) is GONE
    assert g.process.exit_status == (3, 0)
    assert g.context.finished == []  # nothing is ever answered to an exiting thread


def test_execve_reads_its_arguments_from_guest_memory():
    g = FakeGuest()
    g.write_file(b"/bin/prog", elf_executable(b"\x90"), 0o755)
    argv = g.put_strv([b"prog", b"--flag", b""])
    envp = g.put_strv([b"HOME=/root"])
    assert g.syscall("execve", b"/bin/prog", argv, envp) == 0
    regs = g.context.regs
    assert regs.rip == 0x401000 and regs.rax == 0
    sp = regs.rsp
    assert g.u64(sp) == 3
    strings = [g.task.mm.read_cstring(g.u64(sp + 8 * i), 100) for i in (1, 2, 3, 5)]
    assert strings == [b"prog", b"--flag", b"", b"HOME=/root"]
    assert g.u64(sp + 32) == 0 and g.u64(sp + 48) == 0
    assert g.process.comm == b"prog"


def test_execve_with_no_argv_gets_one_empty_argument():
    g = FakeGuest()
    g.write_file(b"/bin/prog", elf_executable(), 0o755)
    assert g.syscall("execve", b"/bin/prog", 0, 0) == 0
    sp = g.context.regs.rsp
    assert g.u64(sp) == 1
    assert g.task.mm.read_cstring(g.u64(sp + 8), 10) == b""


def test_execve_failures():
    g = FakeGuest()
    g.write_file(b"/bin/prog", elf_executable(), 0o755)
    g.write_file(b"/bin/noexec", elf_executable(), 0o644)
    argv = g.put_strv([b"prog"])
    assert g.syscall("execve", UNMAPPED, argv, 0) == -Errno.EFAULT
    assert g.syscall("execve", b"/bin/prog", UNMAPPED, 0) == -Errno.EFAULT
    assert g.syscall("execve", b"/bin/prog", g.put(struct.pack("<QQ", UNMAPPED, 0), 8), 0) == -Errno.EFAULT
    assert g.syscall("execve", b"/bin/prog", argv, UNMAPPED) == -Errno.EFAULT
    assert g.syscall("execve", b"/bin/missing", argv, 0) == -Errno.ENOENT
    assert g.syscall("execve", b"/bin/noexec", argv, 0) == -Errno.EACCES
    assert g.syscall("execve", b"", argv, 0) == -Errno.ENOENT
    chunk = g.put_string(b"x" * 100_000)
    big = g.put(struct.pack("<31Q", *[chunk] * 30, 0), 8)  # 3 MB of arguments
    assert g.syscall("execve", b"/bin/prog", big, 0) == -Errno.E2BIG
    assert g.syscall("execveat", 0xFFFFFF9C, b"/bin/prog", argv, 0, 0x8) == -Errno.EINVAL
    assert g.process.alive and g.task.mm.find(0x2000_0000) is not None  # still the old program


def test_execveat_an_open_descriptor():
    g = FakeGuest()
    g.write_file(b"/bin/prog", elf_executable(), 0o755)
    fd = g.syscall("open", b"/bin/prog", 0, 0)
    assert g.syscall("execveat", fd, b"", g.put_strv([b"prog"]), 0, AT_EMPTY_PATH) == 0
    assert g.process.exe.full_path() == b"/bin/prog"


def test_thread_area_and_tid_address():
    g = FakeGuest()
    assert g.syscall("arch_prctl", ARCH_SET_FS, 0x7000_1234) == 0
    assert g.context.regs.fs_base == 0x7000_1234
    out = g.alloc(8)
    assert g.syscall("arch_prctl", ARCH_GET_FS, out) == 0 and g.u64(out) == 0x7000_1234
    assert g.syscall("arch_prctl", ARCH_SET_GS, 0x8000) == 0 and g.context.regs.gs_base == 0x8000
    assert g.syscall("arch_prctl", ARCH_GET_GS, out) == 0 and g.u64(out) == 0x8000
    assert g.syscall("arch_prctl", ARCH_SET_FS, 0x7FFF_FFFF_F000) == -Errno.EPERM  # not a user address
    assert g.syscall("arch_prctl", ARCH_GET_FS, UNMAPPED) == -Errno.EFAULT
    assert g.syscall("arch_prctl", 0x9999, 0) == -Errno.EINVAL
    assert g.syscall("set_tid_address", 0x1234) == g.task.tid and g.task.clear_child_tid == 0x1234
    assert g.syscall("set_robust_list", g.alloc(24), 24) == 0
    assert g.syscall("set_robust_list", g.alloc(24), 16) == -Errno.EINVAL


# --- prctl --------------------------------------------------------------------------------------


def test_prctl_names_and_flags():
    g = FakeGuest()
    assert g.syscall("prctl", PR_SET_NAME, g.put_string(b"a-rather-long-thread-name"), 0, 0, 0) == 0
    name = g.alloc(16)
    assert g.syscall("prctl", PR_GET_NAME, name, 0, 0, 0) == 0
    assert g.get(name, 16) == b"a-rather-long-t\0"  # 15 bytes and a NUL, as TASK_COMM_LEN
    assert g.syscall("prctl", PR_SET_NAME, UNMAPPED, 0, 0, 0) == -Errno.EFAULT
    assert g.syscall("prctl", PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0
    assert g.syscall("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    assert g.syscall("prctl", PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1
    assert g.syscall("prctl", PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0) == -Errno.EINVAL
    assert g.syscall("prctl", PR_SET_PDEATHSIG, 65, 0, 0, 0) == -Errno.EINVAL
    assert g.syscall("prctl", PR_SET_PDEATHSIG, 9, 0, 0, 0) == 0
    sig = g.alloc(4)
    assert g.syscall("prctl", PR_GET_PDEATHSIG, sig, 0, 0, 0) == 0 and g.i32(sig) == 9
    assert g.syscall("prctl", PR_SET_DUMPABLE, 2, 0, 0, 0) == -Errno.EINVAL
    assert g.syscall("prctl", 0x7777, 0, 0, 0, 0) == -Errno.EINVAL


def test_prctl_set_name_with_a_very_long_string():
    g = FakeGuest()
    assert g.syscall("prctl", PR_SET_NAME, g.put_string(b"n" * 5000), 0, 0, 0) == 0
    assert g.process.comm == b"n" * 15


# --- limits ----------------------------------------------------------------------------------------


def rlimit(g: FakeGuest, resource: int) -> tuple[int, int]:
    out = g.alloc(16)
    assert g.syscall("prlimit64", 0, resource, 0, out) == 0
    return struct.unpack("<QQ", g.get(out, 16))


def test_resource_limits():
    g = FakeGuest()
    assert rlimit(g, RLIMIT_NOFILE) == (1024, 1 << 20)
    assert rlimit(g, RLIMIT_STACK) == (8 << 20, RLIM_INFINITY)
    new = g.put(struct.pack("<QQ", 5, 100), 8)
    assert g.syscall("setrlimit", RLIMIT_NOFILE, new) == 0
    assert rlimit(g, RLIMIT_NOFILE) == (5, 100)
    assert [g.syscall("open", b"/etc", 0, 0) for _ in range(3)] == [3, 4, -Errno.EMFILE]  # enforced
    assert g.syscall("setrlimit", RLIMIT_NOFILE, g.put(struct.pack("<QQ", 10, 5), 8)) == -Errno.EINVAL
    assert g.syscall("prlimit64", 0, 16, 0, g.alloc(16)) == -Errno.EINVAL
    assert g.syscall("prlimit64", 4242, RLIMIT_NOFILE, 0, g.alloc(16)) == -Errno.ESRCH
    assert g.syscall("getrlimit", RLIMIT_NOFILE, UNMAPPED) == -Errno.EFAULT
    user = g.spawn(uid=1000, gid=1000)
    lower = user.put(struct.pack("<QQ", 64, 512), 8)
    assert user.syscall("setrlimit", RLIMIT_NOFILE, lower) == 0
    higher = user.put(struct.pack("<QQ", 64, 4096), 8)
    assert user.syscall("setrlimit", RLIMIT_NOFILE, higher) == -Errno.EPERM  # only root raises a hard limit


def test_usage_and_scheduling_queries():
    g = FakeGuest()
    g.context.cpu_ns = 1_500_000_000
    usage = g.alloc(144)
    assert g.syscall("getrusage", 0, usage) == 0
    assert struct.unpack_from("<qq", g.get(usage, 16)) == (1, 500_000)
    assert g.syscall("getrusage", 7, usage) == -Errno.EINVAL
    assert g.syscall("getrusage", 0, UNMAPPED) == -Errno.EFAULT
    mask = g.alloc(128)
    assert g.syscall("sched_getaffinity", 0, 128, mask) == 8
    assert g.u64(mask) == 0b11  # the fake host's two CPUs
    assert g.syscall("sched_getaffinity", 0, 4, mask) == -Errno.EINVAL
    assert g.syscall("sched_getaffinity", 0, 12, mask) == -Errno.EINVAL
    assert g.syscall("sched_setaffinity", 0, 8, g.put(bytes(8))) == -Errno.EINVAL  # no CPU at all
    assert g.syscall("sched_get_priority_max", 1) == 99 and g.syscall("sched_get_priority_min", 1) == 1
    assert g.syscall("sched_get_priority_max", 42) == -Errno.EINVAL
    assert g.syscall("getpriority", 0, 0) == 20
    assert g.syscall("getpriority", 9, 0) == -Errno.EINVAL
    user = g.spawn(uid=1000, gid=1000)
    assert user.syscall("setpriority", 0, 0, -5 & NONE) == -Errno.EACCES
    assert user.syscall("setpriority", 0, 0, 5) == 0


def test_capabilities_and_personality():
    g = FakeGuest()
    header = g.put(struct.pack("<ii", 0x20080522, 0), 8)
    data = g.alloc(24)
    assert g.syscall("capget", header, data) == 0
    effective = struct.unpack_from("<I", g.get(data, 24), 0)[0]
    assert effective == 0xFFFFFFFF  # root holds every capability of the sandbox
    bad = g.put(struct.pack("<ii", 0x1234, 0), 8)
    assert g.syscall("capget", bad, data) == -Errno.EINVAL
    assert struct.unpack("<I", g.get(bad, 4))[0] == 0x20080522  # the kernel says which version it wants
    assert g.syscall("personality", 0xFFFFFFFF) == 0
    user = g.spawn(uid=1000, gid=1000)
    assert user.syscall("capget", user.put(struct.pack("<ii", 0x20080522, 0), 8), user.alloc(24)) == 0


def test_priority_and_scheduler_queries_of_an_absent_pid_are_esrch():
    g = FakeGuest()
    absent = 4242
    assert g.syscall("getpriority", 0, absent) == -Errno.ESRCH
    assert g.syscall("setpriority", 0, absent, 19) == -Errno.ESRCH
    assert g.syscall("getpriority", 1, absent) == -Errno.ESRCH   # no such process group
    assert g.syscall("getpriority", 2, 77777) == -Errno.ESRCH    # no process of that user
    assert g.syscall("sched_getscheduler", absent) == -Errno.ESRCH
    assert g.syscall("sched_getparam", absent, g.alloc(4)) == -Errno.ESRCH
    assert g.syscall("sched_getparam", 0, 0) == -Errno.EINVAL
    assert g.syscall("getpriority", 0, 0) == 20 and g.syscall("getpriority", 0, g.process.pid) == 20
    assert g.syscall("getpriority", 3, 0) == -Errno.EINVAL


def test_setting_the_scheduler_keeps_every_thread_sched_other():
    g = FakeGuest()
    zero, five = g.put(struct.pack("<i", 0), 4), g.put(struct.pack("<i", 5), 4)
    assert g.syscall("sched_setscheduler", 0, 0, zero) == 0          # SCHED_OTHER, priority 0: as it is
    assert g.syscall("sched_setscheduler", 0, 0x40000000, zero) == 0  # with SCHED_RESET_ON_FORK
    assert g.syscall("sched_setparam", 0, zero) == 0
    assert g.syscall("sched_setscheduler", 0, 0, five) == -Errno.EINVAL  # SCHED_OTHER has priority 0 only
    assert g.syscall("sched_setparam", 0, five) == -Errno.EINVAL
    assert g.syscall("sched_setscheduler", 0, 1, zero) == -Errno.EINVAL  # SCHED_FIFO needs 1..99
    assert g.syscall("sched_setscheduler", 0, 1, five) == -Errno.EPERM   # another class: not granted
    assert g.syscall("sched_setscheduler", 0, 3, zero) == -Errno.EPERM
    assert g.syscall("sched_setscheduler", 0, 4, zero) == -Errno.EINVAL  # no policy 4
    assert g.syscall("sched_setscheduler", 0, -1, zero) == -Errno.EINVAL
    assert g.syscall("sched_setscheduler", -1, 0, zero) == -Errno.EINVAL
    assert g.syscall("sched_setscheduler", 0, 0, 0) == -Errno.EINVAL
    assert g.syscall("sched_setscheduler", 0, 0, UNMAPPED) == -Errno.EFAULT
    assert g.syscall("sched_setscheduler", 4242, 0, zero) == -Errno.ESRCH
    assert g.syscall("sched_getscheduler", 0) == 0
    interval = g.alloc(16)
    assert g.syscall("sched_rr_get_interval", 0, interval) == 0
    assert struct.unpack("<qq", g.get(interval, 16)) == (0, 0)
    assert g.syscall("sched_rr_get_interval", 4242, interval) == -Errno.ESRCH
    assert g.syscall("sched_rr_get_interval", 0, UNMAPPED) == -Errno.EFAULT


def test_nice_values_are_recorded_per_thread_and_inherited():
    g = FakeGuest()
    PRIO_PROCESS, PRIO_PGRP, SIGCHLD = 0, 1, 17
    assert g.syscall("setpriority", PRIO_PROCESS, 0, 5) == 0
    assert g.syscall("getpriority", PRIO_PROCESS, 0) == 15  # 20 - nice
    assert g.syscall("setpriority", PRIO_PROCESS, 0, 99) == 0  # clamped to 19
    assert g.syscall("getpriority", PRIO_PROCESS, g.process.pid) == 1
    assert g.syscall("setpriority", PRIO_PROCESS, 0, -5 & NONE) == 0  # root may lower it
    assert g.syscall("getpriority", PRIO_PROCESS, 0) == 25
    child = g.syscall("clone", SIGCHLD, 0, 0, 0, 0)
    assert g.syscall("getpriority", PRIO_PROCESS, child) == 25  # a child starts with its parent's
    user = g.spawn(uid=1000, gid=1000)
    assert user.syscall("setpriority", PRIO_PROCESS, 0, 10) == 0
    assert user.syscall("setpriority", PRIO_PROCESS, 0, 11) == 0
    assert user.syscall("setpriority", PRIO_PROCESS, 0, 10) == -Errno.EACCES  # back down: not without privilege
    assert user.syscall("getpriority", PRIO_PROCESS, 0) == 9
    assert g.syscall("getpriority", PRIO_PGRP, 0) == 25  # the highest priority in the group
