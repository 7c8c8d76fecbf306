"""The Linux syscall table: every x86-64 syscall, its handler and how well it is supported.

This table is the single source of truth: the dispatcher uses it, and
`docs/syscalls.md` is generated from it (`slimbox syscalls`, or `make docs`).
A syscall absent from `_ROWS` has no handler: it returns ENOSYS and is logged once.

Support levels:
  full     behaves as on Linux for every input we know of
  partial  works for common use; the note says what differs
  none     ENOSYS (the note says why when the refusal is deliberate)
"""

from __future__ import annotations

from types import MappingProxyType

from slimbox.abi.syscalls import SYSCALLS
from slimbox.abi.tuples import named_tuple
from slimbox.shims.linux import sys_clone as K
from slimbox.shims.linux import sys_epoll as E
from slimbox.shims.linux import sys_eventfd as V
from slimbox.shims.linux import sys_file as F
from slimbox.shims.linux import sys_fs as P
from slimbox.shims.linux import sys_futex as U
from slimbox.shims.linux import sys_ioctl as I
from slimbox.shims.linux import sys_misc as X
from slimbox.shims.linux import sys_mm as M
from slimbox.shims.linux import sys_net as N
from slimbox.shims.linux import sys_pipe as PI
from slimbox.shims.linux import sys_poll as Q
from slimbox.shims.linux import sys_process as T
from slimbox.shims.linux import sys_signal as S
from slimbox.shims.linux import sys_time as C

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable, Mapping

FULL, PARTIAL, NONE = "full", "partial", "none"
NOT_IMPLEMENTED = "not implemented"


class Entry(named_tuple("Entry", "spec handler support note")):
    """A syscall's SyscallSpec, its handler (or None), how fully it is supported
    (FULL, PARTIAL, NONE) and a note."""

    __slots__ = ()

    @property
    def nr(self) -> int:
        return self.spec.nr

    @property
    def name(self) -> str:
        return self.spec.name


_LOCKS = "advisory locks are always granted: locks between processes are not kept yet"

# (name, handler, support, note)
_ROWS: tuple[tuple[str, Callable[..., int] | None, str, str], ...] = (
    # --- file descriptors ---
    ("read", F.read, FULL, ""),
    ("write", F.write, FULL, ""),
    ("pread64", F.pread64, FULL, ""),
    ("pwrite64", F.pwrite64, FULL, ""),
    ("readv", F.readv, FULL, ""),
    ("writev", F.writev, FULL, ""),
    ("preadv", F.preadv, FULL, ""),
    ("pwritev", F.pwritev, FULL, ""),
    ("preadv2", F.preadv2, PARTIAL, "RWF_* flags accepted and ignored"),
    ("pwritev2", F.pwritev2, PARTIAL, "RWF_* flags accepted and ignored"),
    ("lseek", F.lseek, FULL, "SEEK_DATA/SEEK_HOLE treat files as having no holes"),
    ("close", F.close, FULL, ""),
    ("close_range", F.close_range, PARTIAL, "CLOSE_RANGE_UNSHARE has no effect (fd tables are not shared yet)"),
    ("dup", F.dup, FULL, ""),
    ("dup2", F.dup2, FULL, ""),
    ("dup3", F.dup3, FULL, ""),
    ("fcntl", F.fcntl, PARTIAL, "dup/fd/status flags full; " + _LOCKS + "; no leases, signals; F_NOTIFY only "
     "removes watches (setting one is EINVAL); memfd seals as Linux"),
    ("ioctl", I.ioctl, PARTIAL, "FIOCLEX/FIONCLEX/FIONBIO/FIOASYNC; terminals: TCGETS/TCSETS*/TIOCGWINSZ/"
                                "TIOCGPGRP/TIOCSPGRP/FIONREAD; TIOCSTI and TIOCSWINSZ refused"),
    ("getdents64", F.getdents64, FULL, ""),
    ("getdents", F.getdents, FULL, ""),
    ("fstat", F.fstat, FULL, ""),
    ("fstatfs", F.fstatfs, FULL, ""),
    ("fsync", F.fsync, FULL, ""),
    ("fdatasync", F.fdatasync, FULL, ""),
    ("sync", F.sync, FULL, ""),
    ("syncfs", F.syncfs, FULL, ""),
    ("ftruncate", F.ftruncate, FULL, ""),
    ("fadvise64", F.fadvise64, FULL, "advice is a hint; nothing to do"),
    ("fallocate", F.fallocate, PARTIAL, "mode 0 only; other modes EOPNOTSUPP"),
    ("flock", F.flock, PARTIAL, _LOCKS),
    ("copy_file_range", F.copy_file_range, FULL, "regular files; copies through the kernel"),
    ("sendfile", F.sendfile, PARTIAL, "the source must be a regular file (EINVAL otherwise)"),
    ("pipe", PI.pipe, PARTIAL, "capacity counted in bytes, not page slots; a blocking write over PIPE_BUF "
                               "may return short"),
    ("pipe2", PI.pipe2, PARTIAL, "as pipe; O_DIRECT packet mode supported; O_NOTIFICATION_PIPE: ENOPKG"),
    # --- paths ---
    ("open", P.open, FULL, "O_TMPFILE: EOPNOTSUPP"),
    ("openat", P.openat, FULL, "O_TMPFILE: EOPNOTSUPP"),
    ("openat2", P.openat2, PARTIAL, "RESOLVE_* restrictions other than NO_MAGICLINKS: EOPNOTSUPP"),
    ("creat", P.creat, FULL, ""),
    ("stat", P.stat, FULL, ""),
    ("lstat", P.lstat, FULL, ""),
    ("newfstatat", P.newfstatat, FULL, ""),
    ("statx", P.statx, PARTIAL, "basic fields and mount id; no birth time"),
    ("statfs", P.statfs, FULL, ""),
    ("access", P.access, FULL, ""),
    ("faccessat", P.faccessat, FULL, ""),
    ("faccessat2", P.faccessat2, FULL, ""),
    ("mkdir", P.mkdir, FULL, ""),
    ("mkdirat", P.mkdirat, FULL, ""),
    ("mknod", P.mknod, PARTIAL, "FIFOs open as pipes; sockets and devices outside /dev cannot be opened"),
    ("mknodat", P.mknodat, PARTIAL, "as mknod"),
    ("rmdir", P.rmdir, FULL, ""),
    ("unlink", P.unlink, FULL, ""),
    ("unlinkat", P.unlinkat, FULL, ""),
    ("rename", P.rename, FULL, ""),
    ("renameat", P.renameat, FULL, ""),
    ("renameat2", P.renameat2, PARTIAL, "RENAME_NOREPLACE supported; RENAME_EXCHANGE and WHITEOUT: EINVAL"),
    ("link", P.link, FULL, ""),
    ("linkat", P.linkat, FULL, ""),
    ("symlink", P.symlink, FULL, ""),
    ("symlinkat", P.symlinkat, FULL, ""),
    ("readlink", P.readlink, FULL, ""),
    ("readlinkat", P.readlinkat, FULL, ""),
    ("chmod", P.chmod, FULL, ""),
    ("fchmod", P.fchmod, FULL, ""),
    ("fchmodat", P.fchmodat, FULL, ""),
    ("fchmodat2", P.fchmodat2, FULL, ""),
    ("chown", P.chown, FULL, ""),
    ("fchown", P.fchown, FULL, ""),
    ("lchown", P.lchown, FULL, ""),
    ("fchownat", P.fchownat, FULL, ""),
    ("utime", P.utime, FULL, ""),
    ("utimes", P.utimes, FULL, ""),
    ("futimesat", P.futimesat, FULL, ""),
    ("utimensat", P.utimensat, FULL, ""),
    ("truncate", P.truncate, FULL, ""),
    ("getcwd", P.getcwd, FULL, ""),
    ("chdir", P.chdir, FULL, ""),
    ("fchdir", P.fchdir, FULL, ""),
    ("chroot", P.chroot, FULL, "within the sandbox's own filesystem"),
    ("umask", P.umask, FULL, ""),
    ("getxattr", P.getxattr, PARTIAL, "no extended attributes are stored: ENODATA"),
    ("lgetxattr", P.lgetxattr, PARTIAL, "no extended attributes are stored: ENODATA"),
    ("fgetxattr", P.fgetxattr, PARTIAL, "no extended attributes are stored: ENODATA"),
    ("listxattr", P.listxattr, PARTIAL, "always an empty list"),
    ("llistxattr", P.llistxattr, PARTIAL, "always an empty list"),
    ("flistxattr", P.flistxattr, PARTIAL, "always an empty list"),
    ("setxattr", P.setxattr, PARTIAL, "EOPNOTSUPP"),
    ("lsetxattr", P.lsetxattr, PARTIAL, "EOPNOTSUPP"),
    ("fsetxattr", P.fsetxattr, PARTIAL, "EOPNOTSUPP"),
    ("removexattr", P.removexattr, PARTIAL, "ENODATA"),
    ("lremovexattr", P.lremovexattr, PARTIAL, "ENODATA"),
    ("fremovexattr", P.fremovexattr, PARTIAL, "ENODATA"),
    # --- memory ---
    ("mmap", M.mmap, PARTIAL, "file mappings are copies; MAP_SHARED file mappings are shared memory written "
                              "back to the file at munmap/msync/exec/exit, not coherent with read/write between"),
    ("munmap", M.munmap, FULL, ""),
    ("mprotect", M.mprotect, FULL, ""),
    ("mremap", M.mremap, PARTIAL, "MREMAP_DONTUNMAP and old_size 0: EINVAL"),
    ("madvise", M.madvise, FULL, "DONTNEED drops and refills pages; other advice is a hint"),
    ("brk", M.brk, FULL, ""),
    ("msync", M.msync, FULL, "writes shared file mappings back"),
    ("mincore", M.mincore, PARTIAL, "every mapped page reported resident"),
    ("mlock", M.mlock, FULL, "nothing is swapped by the sandbox"),
    ("munlock", M.munlock, FULL, ""),
    ("mlock2", M.mlock2, FULL, ""),
    ("mlockall", M.mlockall, FULL, ""),
    ("munlockall", M.munlockall, FULL, ""),
    # --- processes and identity ---
    ("getpid", T.getpid, FULL, ""),
    ("gettid", T.gettid, FULL, ""),
    ("getppid", T.getppid, FULL, ""),
    ("getuid", T.getuid, FULL, ""),
    ("geteuid", T.geteuid, FULL, ""),
    ("getgid", T.getgid, FULL, ""),
    ("getegid", T.getegid, FULL, ""),
    ("getresuid", T.getresuid, FULL, ""),
    ("getresgid", T.getresgid, FULL, ""),
    ("getgroups", T.getgroups, FULL, ""),
    ("setgroups", T.setgroups, FULL, ""),
    ("setuid", T.setuid, FULL, "sandbox identities only"),
    ("setgid", T.setgid, FULL, "sandbox identities only"),
    ("setreuid", T.setreuid, FULL, ""),
    ("setregid", T.setregid, FULL, ""),
    ("setresuid", T.setresuid, FULL, ""),
    ("setresgid", T.setresgid, FULL, ""),
    ("setfsuid", T.setfsuid, FULL, ""),
    ("setfsgid", T.setfsgid, FULL, ""),
    ("getpgrp", T.getpgrp, FULL, ""),
    ("getpgid", T.getpgid, FULL, ""),
    ("setpgid", T.setpgid, PARTIAL, "no check that the group exists in the session"),
    ("getsid", T.getsid, FULL, ""),
    ("setsid", T.setsid, FULL, ""),
    ("exit", T.exit, FULL, "clear_child_tid and robust futexes are released"),
    ("exit_group", T.exit_group, FULL, ""),
    ("execve", T.execve, FULL, "other threads end; the caller takes the process id"),
    ("execveat", T.execveat, FULL, ""),
    ("clone", K.clone, PARTIAL, "CLONE_VM without CLONE_THREAD gets a copy of memory (vfork semantics "
                                "otherwise kept); namespaces EPERM; CLONE_PIDFD EINVAL"),
    ("clone3", K.clone3, PARTIAL, "as clone; set_tid and cgroups EINVAL"),
    ("fork", K.fork, FULL, ""),
    ("vfork", K.vfork, PARTIAL, "the child gets a copy of memory; the parent waits for exec or exit"),
    ("wait4", K.wait4, PARTIAL, "rusage is reported as zeros"),
    ("waitid", K.waitid, PARTIAL, "P_PIDFD EINVAL; rusage zeros"),
    ("set_tid_address", T.set_tid_address, FULL, ""),
    ("set_robust_list", T.set_robust_list, FULL, "held robust futexes are released at thread exit"),
    ("get_robust_list", T.get_robust_list, FULL, ""),
    ("arch_prctl", T.arch_prctl, PARTIAL, "FS/GS base get/set; CPUID faulting is not offered"),
    ("prctl", T.prctl, PARTIAL, "names, dumpable, pdeathsig, no_new_privs, capability queries; "
                                "other options EINVAL"),
    ("prlimit64", T.prlimit64, PARTIAL, "limits are recorded; RLIMIT_NOFILE and RLIMIT_STACK are enforced"),
    ("getrlimit", T.getrlimit, FULL, ""),
    ("setrlimit", T.setrlimit, PARTIAL, "as prlimit64"),
    ("getrusage", T.getrusage, PARTIAL, "CPU time of the caller; children report zero"),
    ("times", T.times, PARTIAL, "as getrusage"),
    ("getpriority", T.getpriority, FULL, ""),
    ("setpriority", T.setpriority, PARTIAL, "nice values recorded and reported; the host schedules"),
    ("sched_getaffinity", T.sched_getaffinity, FULL, "the sandbox's CPUs"),
    ("sched_setaffinity", T.sched_setaffinity, PARTIAL, "validated; placement is the platform's"),
    ("sched_yield", T.sched_yield, FULL, ""),
    ("getcpu", T.getcpu, PARTIAL, "always CPU 0, node 0"),
    ("sched_getscheduler", T.sched_getscheduler, FULL, "SCHED_OTHER"),
    ("sched_getparam", T.sched_getparam, FULL, ""),
    ("sched_get_priority_max", T.sched_get_priority_max, FULL, ""),
    ("sched_get_priority_min", T.sched_get_priority_min, FULL, ""),
    ("sched_setscheduler", T.sched_setscheduler, PARTIAL, "SCHED_OTHER at priority 0 only; other policies EPERM"),
    ("sched_setparam", T.sched_setparam, PARTIAL, "as sched_setscheduler"),
    ("sched_rr_get_interval", T.sched_rr_get_interval, PARTIAL, "0: threads are SCHED_OTHER"),
    ("capget", T.capget, FULL, "root in the sandbox holds every capability of the sandbox"),
    ("capset", T.capset, PARTIAL, "accepted for root; capabilities are not tracked"),
    ("personality", T.personality, PARTIAL, "only PER_LINUX"),
    # --- waiting on descriptors ---
    ("poll", Q.poll, PARTIAL, "the remaining time is not written back"),
    ("ppoll", Q.ppoll, PARTIAL, "as poll; the signal mask is applied for the wait"),
    ("select", Q.select, PARTIAL, "as poll"),
    ("pselect6", Q.pselect6, PARTIAL, "as ppoll"),
    ("epoll_create", E.epoll_create, FULL, ""),
    ("epoll_create1", E.epoll_create1, FULL, ""),
    ("epoll_ctl", E.epoll_ctl, PARTIAL, "level/edge-triggered, ONESHOT, nesting with ELOOP checks; EPOLLEXCLUSIVE "
                                        "accepted (every waiter wakes); EPOLLWAKEUP has no effect; no limit on "
                                        "wake-up paths (max_user_watches)"),
    ("epoll_wait", E.epoll_wait, FULL, ""),
    ("epoll_pwait", E.epoll_pwait, FULL, "the signal mask is applied for the wait"),
    ("epoll_pwait2", E.epoll_pwait2, FULL, "as epoll_pwait"),
    # --- event descriptors ---
    ("memfd_create", F.memfd_create, PARTIAL, "an unlinked tmpfs file counted in the tmpfs size; seals "
                                               "as Linux 6.x except that F_SEAL_EXEC does not stop chmod, and "
                                               "a shared mapping cannot write back once F_SEAL_FUTURE_WRITE is "
                                               "set; MFD_HUGETLB is EINVAL (no huge pages)"),
    ("eventfd", V.eventfd, FULL, ""),
    ("eventfd2", V.eventfd2, FULL, ""),
    ("timerfd_create", V.timerfd_create, PARTIAL, "alarm clocks behave as their plain clock; "
                                                  "TFD_IOC_SET_TICKS not offered"),
    ("timerfd_settime", V.timerfd_settime, PARTIAL, "realtime expiries are fixed on the monotonic clock when "
                                                    "armed; TFD_TIMER_CANCEL_ON_SET never cancels (the sandbox "
                                                    "never sets the clock)"),
    ("timerfd_gettime", V.timerfd_gettime, FULL, ""),
    ("signalfd", V.signalfd, FULL, ""),
    ("signalfd4", V.signalfd4, FULL, ""),
    # --- futexes ---
    ("futex", U.futex, PARTIAL, "WAIT/WAKE(_BITSET), REQUEUE, CMP_REQUEUE, WAKE_OP, shared and private; "
                                "no PI futexes"),
    # --- signals ---
    ("rt_sigaction", S.rt_sigaction, FULL, ""),
    ("rt_sigprocmask", S.rt_sigprocmask, FULL, ""),
    ("rt_sigpending", S.rt_sigpending, FULL, ""),
    ("rt_sigreturn", S.rt_sigreturn, FULL, "restores registers, FP/SSE/AVX state, mask and altstack"),
    ("rt_sigsuspend", S.rt_sigsuspend, FULL, ""),
    ("rt_sigtimedwait", S.rt_sigtimedwait, FULL, ""),
    ("rt_sigqueueinfo", S.rt_sigqueueinfo, FULL, ""),
    ("rt_tgsigqueueinfo", S.rt_tgsigqueueinfo, FULL, ""),
    ("pause", S.pause, FULL, ""),
    ("sigaltstack", S.sigaltstack, FULL, ""),
    ("kill", S.kill, FULL, "sandbox processes only"),
    ("tkill", S.tkill, FULL, ""),
    ("tgkill", S.tgkill, FULL, ""),
    ("alarm", S.alarm, FULL, ""),
    ("getitimer", S.getitimer, PARTIAL, "ITIMER_VIRTUAL counts system time too; CPU timers sampled every 10 ms"),
    ("setitimer", S.setitimer, PARTIAL, "as getitimer"),
    # --- time ---
    ("clock_gettime", C.clock_gettime, FULL, ""),
    ("clock_getres", C.clock_getres, FULL, ""),
    ("clock_nanosleep", C.clock_nanosleep, FULL, ""),
    ("nanosleep", C.nanosleep, FULL, ""),
    ("gettimeofday", C.gettimeofday, FULL, ""),
    ("time", C.time, FULL, ""),
    ("settimeofday", C.settimeofday, FULL, "EPERM: the sandbox never sets the host clock"),
    ("clock_settime", C.clock_settime, FULL, "EPERM: the sandbox never sets the host clock"),
    # --- system ---
    ("uname", X.uname, FULL, ""),
    ("sethostname", X.sethostname, FULL, "the sandbox's own name"),
    ("setdomainname", X.setdomainname, FULL, "the sandbox's own name"),
    ("sysinfo", X.sysinfo, PARTIAL, "memory figures are the sandbox's; no load average"),
    ("getrandom", X.getrandom, FULL, ""),
    ("syslog", X.syslog, PARTIAL, "an empty kernel log; other actions EPERM"),
    # --- sockets ---
    ("socket", N.socket, PARTIAL, "AF_UNIX; AF_INET/AF_INET6 TCP and UDP on the sandbox's loopback, and to "
                                  "host addresses --net host allows through the supervisor (docs/networking.md); "
                                  "SOCK_RAW EPERM; other families EAFNOSUPPORT"),
    ("socketpair", N.socketpair, PARTIAL, "AF_UNIX stream, datagram and seqpacket pairs in the kernel; AF_INET/"
                                          "AF_INET6 EOPNOTSUPP; other families EAFNOSUPPORT"),
    ("bind", N.bind, PARTIAL, "AF_UNIX: filesystem paths (an S_IFSOCK inode), abstract names and autobind; "
                              "inet: loopback and wildcard addresses (others EADDRNOTAVAIL), ephemeral ports "
                              "32768-60999, SO_REUSEADDR/SO_REUSEPORT sharing, ports below 1024 for root"),
    ("listen", N.listen, FULL, "AF_UNIX and TCP (an unbound TCP socket takes an ephemeral port)"),
    ("accept", N.accept, FULL, "AF_UNIX and TCP"),
    ("accept4", N.accept4, FULL, "AF_UNIX and TCP"),
    ("connect", N.connect, PARTIAL, "AF_UNIX paths and abstract names, connections queued for accept as in "
                                    "Linux; no autobind with SO_PASSCRED; inet: loopback, and addresses --net "
                                    "host allows, relayed by the supervisor; others ENETUNREACH (--net none) or "
                                    "ECONNREFUSED (--net host), logged; a non-blocking loopback TCP connect "
                                    "completes at once and reports EINPROGRESS"),
    ("sendto", N.sendto, PARTIAL, "AF_UNIX: MSG_OOB EOPNOTSUPP; a blocking stream send may be short; buffers "
                                  "are counted in bytes at the receiver; UDP drops a datagram nobody can take, "
                                  "goes through the supervisor to addresses --net host allows (others EPERM, "
                                  "ENETUNREACH with --net none); TCP urgent data (MSG_OOB) EOPNOTSUPP"),
    ("recvfrom", N.recvfrom, PARTIAL, "AF_UNIX and inet: MSG_PEEK, MSG_DONTWAIT, MSG_TRUNC, MSG_WAITALL (short "
                                      "when the buffer fills first); MSG_OOB refused"),
    ("sendmsg", N.sendmsg, PARTIAL, "as sendto, with iovecs, SCM_RIGHTS and SCM_CREDENTIALS (AF_UNIX only; "
                                    "EINVAL on inet); descriptors in flight are bounded by RLIMIT_NOFILE for root "
                                    "too (ETOOMANYREFS); root may not claim another pid in SCM_CREDENTIALS"),
    ("recvmsg", N.recvmsg, PARTIAL, "as recvfrom, with iovecs, SCM_RIGHTS (MSG_CMSG_CLOEXEC), SCM_CREDENTIALS "
                                    "with SO_PASSCRED and MSG_CTRUNC; descriptors sent in a cycle are not "
                                    "collected; no IP control messages"),
    ("shutdown", N.shutdown, FULL, "AF_UNIX and inet (TCP SHUT_RD stays local, as in Linux)"),
    ("getsockopt", N.getsockopt, PARTIAL, "SOL_SOCKET: SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_PASSCRED, "
                                          "SO_PEERCRED, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_REUSEADDR, "
                                          "SO_REUSEPORT, SO_LINGER and flag options; TCP_NODELAY, TCP_MAXSEG, "
                                          "TCP_KEEP*, IP_TOS, IP_TTL, IPV6_V6ONLY, IPV6_UNICAST_HOPS; others "
                                          "(timeouts...) ENOPROTOOPT"),
    ("setsockopt", N.setsockopt, PARTIAL, "as getsockopt, stored and reported only (no timing semantics); "
                                          "IPV6_V6ONLY before bind; others ENOPROTOOPT"),
    ("getsockname", N.getsockname, FULL, "AF_UNIX, sockaddr_in, sockaddr_in6"),
    ("getpeername", N.getpeername, FULL, "AF_UNIX, sockaddr_in, sockaddr_in6 (v4-mapped for IPv4 peers of an "
                                         "IPv6 socket)"),
    # --- deliberately refused ---
    ("io_uring_setup", None, NONE, "refused: io_uring would bypass syscall mediation"),
    ("io_uring_enter", None, NONE, "refused with io_uring_setup"),
    ("io_uring_register", None, NONE, "refused with io_uring_setup"),
    ("bpf", None, NONE, "refused: no BPF in the sandbox"),
    ("perf_event_open", None, NONE, "refused: host performance counters stay out of reach"),
    ("ptrace", None, NONE, "refused for now; tracing within the sandbox is future work"),
    ("kexec_load", None, NONE, "refused"),
    ("kexec_file_load", None, NONE, "refused"),
    ("init_module", None, NONE, "refused"),
    ("finit_module", None, NONE, "refused"),
    ("delete_module", None, NONE, "refused"),
    ("reboot", None, NONE, "refused"),
    ("swapon", None, NONE, "refused"),
    ("swapoff", None, NONE, "refused"),
    ("rseq", None, NONE, "not offered: libcs fall back to plain syscalls"),
)


def _build() -> tuple[Mapping[int, Entry], Mapping[str, Entry]]:
    # Entries are made through tuple.__new__, not the named tuple's own __new__ (Python
    # code, run for each of the table's rows at every start)
    new = tuple.__new__
    by_name = {spec.name: spec for spec in SYSCALLS}
    rows = {}
    for name, handler, support, note in _ROWS:
        if name in rows:
            raise ValueError(f"syscall {name} listed twice")
        rows[name] = new(Entry, (by_name[name], handler, support, note))
    entries = {}
    for spec in SYSCALLS:
        entries[spec.nr] = rows.get(spec.name) or new(Entry, (spec, None, NONE, NOT_IMPLEMENTED))
    return MappingProxyType(entries), MappingProxyType({spec.name: entries[spec.nr] for spec in SYSCALLS})


BY_NUMBER, BY_NAME = _build()


def counts() -> dict[str, int]:
    out = {FULL: 0, PARTIAL: 0, NONE: 0}
    for entry in BY_NUMBER.values():
        out[entry.support] += 1
    return out


def markdown() -> str:
    c = counts()
    lines = [
        "# Linux syscall support",
        "",
        "Generated from `src/slimbox/shims/linux/table.py` by `slimbox syscalls` (`make docs`);",
        "a test fails when this page is out of date.",
        "",
        f"{len(BY_NUMBER)} x86-64 syscalls: {c[FULL]} full, {c[PARTIAL]} partial, {c[NONE]} none.",
        "A syscall marked *none* returns ENOSYS and is logged once, by name, with its arguments.",
        "",
        "| nr | name | support | note |",
        "|---:|---|---|---|",
    ]
    for nr in sorted(BY_NUMBER):
        entry = BY_NUMBER[nr]
        note = entry.note.replace("|", "\\|")
        lines.append(f"| {nr} | {entry.name} | {entry.support} | {note} |")
    return "\n".join(lines) + "\n"

