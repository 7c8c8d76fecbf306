"""Process and identity syscalls: ids, credentials, exit, execve, thread-area set-up,
prctl, resource limits, scheduling queries."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel import exec as kexec
from slimbox.kernel import exit as kexit
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.kernel import NO_REPLY
from slimbox.kernel.limits import rlimit_ceilings
from slimbox.kernel.loader import MAX_ARGS_TOTAL
from slimbox.kernel.task import RLIM_INFINITY, RLIM_NLIMITS, RLIMIT_CPU, RLIMIT_NOFILE
from slimbox.shims.linux.common import AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, dir_start, read_optional_path, read_strv

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
ARCH_GET_CPUID, ARCH_SET_CPUID = 0x1011, 0x1012
TASK_SIZE = 0x7FFFFFFFF000

PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_GET_KEEPCAPS, PR_SET_KEEPCAPS = 7, 8
PR_SET_NAME, PR_GET_NAME = 15, 16
PR_GET_SECCOMP, PR_SET_SECCOMP = 21, 22
PR_CAPBSET_READ = 23
PR_GET_TIMERSLACK, PR_SET_TIMERSLACK = 30, 29
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
PR_GET_TID_ADDRESS = 40
PR_SET_THP_DISABLE, PR_GET_THP_DISABLE = 41, 42
PR_SET_VMA = 0x53564D41
PR_CAP_AMBIENT = 47
_LAST_CAP = 40


# --- ids ---------------------------------------------------------------------------------


def getpid(task: Task) -> int:
    return task.process.pid


def gettid(task: Task) -> int:
    return task.tid


def getppid(task: Task) -> int:
    parent = task.process.parent
    return parent.pid if parent is not None else 0


def getuid(task: Task) -> int:
    return task.cred.uid


def geteuid(task: Task) -> int:
    return task.cred.euid


def getgid(task: Task) -> int:
    return task.cred.gid


def getegid(task: Task) -> int:
    return task.cred.egid


def getresuid(task: Task, ruid: int, euid: int, suid: int) -> int:
    cred = task.cred
    for pointer, value in ((ruid, cred.uid), (euid, cred.euid), (suid, cred.suid)):
        task.mm.write(pointer, structs.U32.pack(value))
    return 0


def getresgid(task: Task, rgid: int, egid: int, sgid: int) -> int:
    cred = task.cred
    for pointer, value in ((rgid, cred.gid), (egid, cred.egid), (sgid, cred.sgid)):
        task.mm.write(pointer, structs.U32.pack(value))
    return 0


def getgroups(task: Task, size: int, list_: int) -> int:
    groups = task.cred.groups
    if size == 0:
        return len(groups)
    if size < len(groups):
        raise LinuxError(Errno.EINVAL)
    task.mm.write(list_, b"".join(structs.U32.pack(g) for g in groups))
    return len(groups)


def setgroups(task: Task, size: int, list_: int) -> int:
    if not task.cred.is_root:
        raise LinuxError(Errno.EPERM)
    if size < 0 or size > 65536:
        raise LinuxError(Errno.EINVAL)
    raw = task.mm.read(list_, 4 * size)
    task.process.cred.groups = tuple(structs.U32.unpack_from(raw, 4 * i)[0] for i in range(size))
    return 0


def _privileged(task: Task) -> bool:
    return task.cred.euid == 0


def setresuid(task: Task, ruid: int, euid: int, suid: int) -> int:
    cred = task.cred
    allowed = {cred.uid, cred.euid, cred.suid}
    for value in (ruid, euid, suid):
        if value != -1 and value not in allowed and not _privileged(task):
            raise LinuxError(Errno.EPERM)
    if ruid != -1:
        cred.uid = ruid
    if euid != -1:
        cred.euid = euid
    if suid != -1:
        cred.suid = suid
    cred.fsuid = cred.euid
    return 0


def setresgid(task: Task, rgid: int, egid: int, sgid: int) -> int:
    cred = task.cred
    allowed = {cred.gid, cred.egid, cred.sgid}
    for value in (rgid, egid, sgid):
        if value != -1 and value not in allowed and not _privileged(task):
            raise LinuxError(Errno.EPERM)
    if rgid != -1:
        cred.gid = rgid
    if egid != -1:
        cred.egid = egid
    if sgid != -1:
        cred.sgid = sgid
    cred.fsgid = cred.egid
    return 0


def setuid(task: Task, uid: int) -> int:
    if uid == -1:
        raise LinuxError(Errno.EINVAL)
    if _privileged(task):
        return setresuid(task, uid, uid, uid)
    if uid not in (task.cred.uid, task.cred.suid):
        raise LinuxError(Errno.EPERM)
    return setresuid(task, -1, uid, -1)


def setgid(task: Task, gid: int) -> int:
    if gid == -1:
        raise LinuxError(Errno.EINVAL)
    if _privileged(task):
        return setresgid(task, gid, gid, gid)
    if gid not in (task.cred.gid, task.cred.sgid):
        raise LinuxError(Errno.EPERM)
    return setresgid(task, -1, gid, -1)


def _setre(task: Task, real: int, effective: int, ids: tuple[int, int, int]) -> tuple[int, int, int]:
    """setreuid/setregid rules: an unprivileged caller may set the real id to the real or
    effective id, the effective id to any of the three; the saved id follows the new
    effective id whenever the real id is set or the effective id moves off the old real."""
    old_real, old_effective, old_saved = ids
    if not _privileged(task):
        if real != -1 and real not in (old_real, old_effective):
            raise LinuxError(Errno.EPERM)
        if effective != -1 and effective not in (old_real, old_effective, old_saved):
            raise LinuxError(Errno.EPERM)
    new_real = old_real if real == -1 else real
    new_effective = old_effective if effective == -1 else effective
    new_saved = old_saved
    if real != -1 or (effective != -1 and effective != old_real):
        new_saved = new_effective
    return new_real, new_effective, new_saved


def setreuid(task: Task, ruid: int, euid: int) -> int:
    cred = task.cred
    cred.uid, cred.euid, cred.suid = _setre(task, ruid, euid, (cred.uid, cred.euid, cred.suid))
    cred.fsuid = cred.euid
    return 0


def setregid(task: Task, rgid: int, egid: int) -> int:
    cred = task.cred
    cred.gid, cred.egid, cred.sgid = _setre(task, rgid, egid, (cred.gid, cred.egid, cred.sgid))
    cred.fsgid = cred.egid
    return 0


def setfsuid(task: Task, fsuid: int) -> int:
    cred = task.cred
    old = cred.fsuid
    if fsuid != -1 and (_privileged(task) or fsuid in (cred.uid, cred.euid, cred.suid, cred.fsuid)):
        cred.fsuid = fsuid
    return old


def setfsgid(task: Task, fsgid: int) -> int:
    cred = task.cred
    old = cred.fsgid
    if fsgid != -1 and (_privileged(task) or fsgid in (cred.gid, cred.egid, cred.sgid, cred.fsgid)):
        cred.fsgid = fsgid
    return old


def getpgrp(task: Task) -> int:
    return task.process.pgid


def getpgid(task: Task, pid: int) -> int:
    return _process(task, pid).pgid


def getsid(task: Task, pid: int) -> int:
    return _process(task, pid).sid


def setpgid(task: Task, pid: int, pgid: int) -> int:
    target = _process(task, pid)
    if pgid < 0:
        raise LinuxError(Errno.EINVAL)
    if target.sid != task.process.sid:
        raise LinuxError(Errno.EPERM)
    target.pgid = pgid or target.pid
    return 0


def setsid(task: Task) -> int:
    process = task.process
    if any(p.pgid == process.pid for p in task.kernel.processes.values()):
        raise LinuxError(Errno.EPERM)
    process.sid = process.pgid = process.pid
    return process.pid


def _process(task: Task, pid: int):
    if pid == 0:
        return task.process
    process = task.kernel.processes.get(pid)
    if process is None:
        raise LinuxError(Errno.ESRCH)
    return process


# --- exit and exec -------------------------------------------------------------------------------


def exit_group(task: Task, status: int) -> object:
    task.kernel.exit_process(task.process, status & 0xFF)
    return NO_REPLY


def exit(task: Task, status: int) -> object:  # noqa: A001 - the syscall's name
    kexit.exit_thread(task.kernel, task, status & 0xFF)
    return NO_REPLY


def execveat(task: Task, dirfd: int, pathname: int, argv: int, envp: int, flags: int) -> int:
    if flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW):
        raise LinuxError(Errno.EINVAL)
    path = read_optional_path(task, pathname, flags)
    budget = [MAX_ARGS_TOTAL]
    args = read_strv(task, argv, budget) or [b""]  # Linux passes one empty argument for a NULL argv
    env = read_strv(task, envp, budget)
    if not path:
        file = task.fds.get(dirfd)
        if file.path is None:
            raise LinuxError(Errno.EBADF)
        kexec.execve_node(task, file.path, b"/dev/fd/%d" % dirfd, args, env)
        return 0
    kexec.execve(task, dir_start(task, dirfd, path), path, args, env)
    return 0


def execve(task: Task, pathname: int, argv: int, envp: int) -> int:
    return execveat(task, AT_FDCWD, pathname, argv, envp, 0)


def set_tid_address(task: Task, tidptr: int) -> int:
    task.clear_child_tid = tidptr
    return task.tid


def set_robust_list(task: Task, head: int, len_: int) -> int:
    if len_ != 24:
        raise LinuxError(Errno.EINVAL)
    task.robust_list = (head, len_)
    return 0


def get_robust_list(task: Task, pid: int, head_ptr: int, len_ptr: int) -> int:
    target = task if pid == 0 else task.kernel.tasks.get(pid)
    if target is None:
        raise LinuxError(Errno.ESRCH)
    head, length = target.robust_list
    task.mm.write(head_ptr, structs.U64.pack(head))
    task.mm.write(len_ptr, structs.U64.pack(length or 24))
    return 0


def arch_prctl(task: Task, code: int, addr: int) -> int:
    regs = task.context.regs
    if code == ARCH_SET_FS:
        if addr >= TASK_SIZE:
            raise LinuxError(Errno.EPERM)
        regs.fs_base = addr
        return 0
    if code == ARCH_SET_GS:
        if addr >= TASK_SIZE:
            raise LinuxError(Errno.EPERM)
        regs.gs_base = addr
        return 0
    if code == ARCH_GET_FS:
        task.mm.write(addr, structs.U64.pack(regs.fs_base))
        return 0
    if code == ARCH_GET_GS:
        task.mm.write(addr, structs.U64.pack(regs.gs_base))
        return 0
    if code == ARCH_GET_CPUID:
        return 1
    raise LinuxError(Errno.EINVAL)


def prctl(task: Task, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    process = task.process
    if option == PR_SET_NAME:
        raw = task.mm.read(arg2, 16)  # Linux copies at most TASK_COMM_LEN bytes
        process.comm = raw.split(b"\0", 1)[0][:15]
        return 0
    if option == PR_GET_NAME:
        task.mm.write(arg2, process.comm[:15].ljust(16, b"\0"))
        return 0
    if option == PR_GET_DUMPABLE:
        return 1
    if option == PR_SET_DUMPABLE:
        if arg2 not in (0, 1):
            raise LinuxError(Errno.EINVAL)
        return 0
    if option == PR_SET_PDEATHSIG:
        if not 0 <= arg2 <= 64:
            raise LinuxError(Errno.EINVAL)
        task.pdeath_signal = arg2
        return 0
    if option == PR_GET_PDEATHSIG:
        task.mm.write(arg2, structs.I32.pack(task.pdeath_signal))
        return 0
    if option == PR_GET_NO_NEW_PRIVS:
        return int(process.no_new_privs)
    if option == PR_SET_NO_NEW_PRIVS:
        if arg2 != 1 or arg3 or arg4 or arg5:
            raise LinuxError(Errno.EINVAL)
        process.no_new_privs = True
        return 0
    if option == PR_GET_SECCOMP:
        return 0
    if option == PR_CAPBSET_READ:
        if arg2 > _LAST_CAP:
            raise LinuxError(Errno.EINVAL)
        return 1 if task.cred.euid == 0 else 0
    if option in (PR_GET_KEEPCAPS, PR_GET_CHILD_SUBREAPER, PR_GET_THP_DISABLE):
        return 0
    if option == PR_GET_TIMERSLACK:
        return 50_000
    if option == PR_SET_VMA:
        return 0  # naming anonymous memory is cosmetic (shows in /proc/PID/maps on Linux)
    if option == PR_CAP_AMBIENT and arg2 in (1, 4):  # IS_SET / CLEAR_ALL: nothing is ambient
        return 0
    raise LinuxError(Errno.EINVAL)


# --- resource limits ------------------------------------------------------------------------------


def prlimit64(task: Task, pid: int, resource: int, new_limit: int, old_limit: int) -> int:
    if pid not in (0, task.process.pid):
        target = task.kernel.processes.get(pid)
        if target is None:
            raise LinuxError(Errno.ESRCH)
    else:
        target = task.process
    if not 0 <= resource < RLIM_NLIMITS:
        raise LinuxError(Errno.EINVAL)
    new = None
    if new_limit:
        new = structs.RLIMIT.unpack(task.mm.read(new_limit, 16))
        if new[0] > new[1]:
            raise LinuxError(Errno.EINVAL)
        if new[1] > target.rlimits[resource][1] and not task.cred.is_root:
            raise LinuxError(Errno.EPERM)
        ceiling = rlimit_ceilings(task.kernel.config.limits).get(resource)
        if ceiling is not None and new[1] > ceiling[1]:
            raise LinuxError(Errno.EPERM)  # the sandbox's own limit: not even root goes past it
        if resource == RLIMIT_NOFILE and new[1] > 1 << 20 and new[1] != RLIM_INFINITY:
            raise LinuxError(Errno.EPERM)
    if old_limit:
        task.mm.write(old_limit, structs.RLIMIT.pack(*target.rlimits[resource]))
    if new is not None:
        target.rlimits[resource] = new
        if resource == RLIMIT_NOFILE:
            target.fds.limit = min(new[0], 1 << 20)
        elif resource == RLIMIT_CPU and new != (RLIM_INFINITY, RLIM_INFINITY):
            task.kernel.cpu_limits.start()
    return 0


def getrlimit(task: Task, resource: int, rlim: int) -> int:
    return prlimit64(task, 0, resource, 0, rlim)


def setrlimit(task: Task, resource: int, rlim: int) -> int:
    return prlimit64(task, 0, resource, rlim, 0)


def getrusage(task: Task, who: int, usage: int) -> int:
    if who not in (0, -1, 1):  # RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD
        raise LinuxError(Errno.EINVAL)
    cpu = {0: task.context.process_cpu_time_ns, 1: task.context.cpu_time_ns}.get(who, lambda: 0)()
    sec, usec = cpu // 1_000_000_000, (cpu % 1_000_000_000) // 1000
    values = [0] * 14
    values[0] = task.mm.total_mapped() // 1024  # ru_maxrss in KiB: an upper bound
    task.mm.write(usage, structs.RUSAGE.pack(sec, usec, 0, 0, *values))
    return 0


def times(task: Task, buf: int) -> int:
    ticks = task.context.process_cpu_time_ns() // 10_000_000
    if buf:
        task.mm.write(buf, structs.TMS.pack(ticks, 0, 0, 0))
    return (task.kernel.monotonic_ns() - task.kernel.boot_ns) // 10_000_000 + 1


_PRIO_PROCESS, _PRIO_PGRP, _PRIO_USER = 0, 1, 2


def _priority_targets(task: Task, which: int, who: int) -> list[Task]:
    """The threads (which, who) names, as Linux: ESRCH when there are none."""
    if which not in (_PRIO_PROCESS, _PRIO_PGRP, _PRIO_USER):
        raise LinuxError(Errno.EINVAL)
    kernel = task.kernel
    if which == _PRIO_PROCESS:
        target = task if who == 0 else kernel.tasks.get(who)
        found = [target] if target is not None else []
    else:
        if which == _PRIO_PGRP:
            group = who or task.process.pgid
            processes = [p for p in kernel.processes.values() if p.alive and p.pgid == group]
        else:
            uid = who or task.cred.uid
            processes = [p for p in kernel.processes.values() if p.alive and p.cred.uid == uid]
        found = [thread for p in processes for thread in p.threads.values()]
    if not found:
        raise LinuxError(Errno.ESRCH)
    return found


def getpriority(task: Task, which: int, who: int) -> int:
    """The highest priority (lowest nice) among the targets, in the kernel's 40..1 encoding."""
    return 20 - min(target.nice for target in _priority_targets(task, which, who))


def setpriority(task: Task, which: int, who: int, prio: int) -> int:
    targets = _priority_targets(task, which, who)
    nice = max(-20, min(19, prio))
    for target in targets:
        if nice < target.nice and not task.cred.is_root:
            raise LinuxError(Errno.EACCES)  # lowering the nice value takes CAP_SYS_NICE
    for target in targets:
        target.nice = nice
    return 0


def _thread(task: Task, pid: int) -> Task:
    if pid == 0:
        return task
    target = task.kernel.tasks.get(pid)
    if target is None:
        raise LinuxError(Errno.ESRCH)
    return target


def sched_getaffinity(task: Task, pid: int, cpusetsize: int, mask: int) -> int:
    target = _thread(task, pid)
    count = task.kernel.config.cpu_count
    needed = max(8, ((count + 63) // 64) * 8)
    if cpusetsize < needed or cpusetsize & 7:
        raise LinuxError(Errno.EINVAL)
    every = (1 << count) - 1
    bits = target.affinity or every
    task.mm.write(mask, bits.to_bytes(needed, "little"))
    return needed


def sched_setaffinity(task: Task, pid: int, cpusetsize: int, mask: int) -> int:
    target = _thread(task, pid)
    raw = task.mm.read(mask, min(cpusetsize, 1024))
    every = (1 << task.kernel.config.cpu_count) - 1
    chosen = int.from_bytes(raw, "little") & every
    if not chosen:
        raise LinuxError(Errno.EINVAL)
    target.affinity = chosen  # kept and reported; where threads run is the platform's choice
    return 0


def sched_yield(task: Task) -> int:
    return 0


def getcpu(task: Task, cpu: int, node: int, unused: int) -> int:
    if cpu:
        task.mm.write(cpu, structs.U32.pack(0))
    if node:
        task.mm.write(node, structs.U32.pack(0))
    return 0


def sched_getscheduler(task: Task, pid: int) -> int:
    if pid < 0:
        raise LinuxError(Errno.EINVAL)
    _thread(task, pid)
    return 0  # SCHED_OTHER


def sched_getparam(task: Task, pid: int, param: int) -> int:
    if pid < 0 or not param:
        raise LinuxError(Errno.EINVAL)
    _thread(task, pid)
    task.mm.write(param, structs.I32.pack(0))
    return 0


_SCHED_PRIORITY_RANGE = {0: (0, 0), 1: (1, 99), 2: (1, 99), 3: (0, 0), 5: (0, 0)}
SCHED_OTHER, SCHED_RESET_ON_FORK = 0, 0x40000000


def _set_scheduling(task: Task, pid: int, policy: int | None, param: int) -> int:
    """sched_setscheduler/sched_setparam (policy None: keep the thread's). Every thread
    stays SCHED_OTHER at priority 0: asking for that succeeds; another valid policy is
    EPERM, as for a process that may not change its scheduling class."""
    if pid < 0 or not param:
        raise LinuxError(Errno.EINVAL)
    priority = structs.I32.unpack(task.mm.read(param, 4))[0]
    _thread(task, pid)
    if policy is None:
        policy = SCHED_OTHER
    policy &= ~SCHED_RESET_ON_FORK
    if policy not in _SCHED_PRIORITY_RANGE:
        raise LinuxError(Errno.EINVAL)
    low, high = _SCHED_PRIORITY_RANGE[policy]
    if not low <= priority <= high:
        raise LinuxError(Errno.EINVAL)
    if policy != SCHED_OTHER:
        raise LinuxError(Errno.EPERM)
    return 0


def sched_setscheduler(task: Task, pid: int, policy: int, param: int) -> int:
    if policy < 0:
        raise LinuxError(Errno.EINVAL)
    return _set_scheduling(task, pid, policy, param)


def sched_setparam(task: Task, pid: int, param: int) -> int:
    return _set_scheduling(task, pid, None, param)


def sched_rr_get_interval(task: Task, pid: int, tp: int) -> int:
    """The round-robin quantum: every thread is SCHED_OTHER, for which Linux 6 reports 0."""
    if pid < 0:
        raise LinuxError(Errno.EINVAL)
    _thread(task, pid)
    task.mm.write(tp, structs.TIMESPEC.pack(0, 0))
    return 0


def sched_get_priority_max(task: Task, policy: int) -> int:
    if policy not in _SCHED_PRIORITY_RANGE:
        raise LinuxError(Errno.EINVAL)
    return _SCHED_PRIORITY_RANGE[policy][1]


def sched_get_priority_min(task: Task, policy: int) -> int:
    if policy not in _SCHED_PRIORITY_RANGE:
        raise LinuxError(Errno.EINVAL)
    return _SCHED_PRIORITY_RANGE[policy][0]


def capget(task: Task, hdrp: int, datap: int) -> int:
    version, _pid = structs.TWO_I32.unpack(task.mm.read(hdrp, 8))
    if version not in (0x19980330, 0x20071026, 0x20080522):
        task.mm.write(hdrp, structs.U32.pack(0x20080522))
        raise LinuxError(Errno.EINVAL)
    if datap:
        # root in the sandbox holds every capability (of the sandbox, not of the host)
        everything = (1 << (_LAST_CAP + 1)) - 1 if task.cred.euid == 0 else 0
        words = 1 if version == 0x19980330 else 2
        data = b""
        for index in range(words):
            word = (everything >> (32 * index)) & 0xFFFFFFFF
            data += structs.U32.pack(word) * 2 + structs.U32.pack(0)  # effective, permitted, inheritable
        task.mm.write(datap, data)
    return 0


def capset(task: Task, hdrp: int, datap: int) -> int:
    version, _pid = structs.TWO_I32.unpack(task.mm.read(hdrp, 8))
    if version not in (0x19980330, 0x20071026, 0x20080522):
        raise LinuxError(Errno.EINVAL)
    if task.cred.euid != 0:
        raise LinuxError(Errno.EPERM)
    return 0


def personality(task: Task, persona: int) -> int:
    if persona in (0, 0xFFFFFFFF):
        return 0
    raise LinuxError(Errno.EINVAL)
