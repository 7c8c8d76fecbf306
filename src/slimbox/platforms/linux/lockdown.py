"""The supervisor's own seccomp filter: the host syscalls it may make once a sandbox runs.

Once the first guest process is set up, everything the supervisor still needs from the
host is in `ALLOWED` below, each with why. Anything else kills the supervisor (and, with
it, the sandbox): a bug or a compromise of the supervisor cannot open sockets, spawn or
exec programs, map new executable memory, signal foreign processes or ptrace new ones.
Where a syscall's use is narrow, its arguments are pinned too (`ARGUMENT_RULES`).

This is the whole host attack surface of a running sandbox without host networking;
`NETWORK` adds the calls of host sockets only for a sandbox that uses them (`--net
host` or `-p`). `slimbox host-syscalls` prints both and a test checks the supervisor
stays inside them.
"""

from __future__ import annotations

from slimbox.abi.syscalls import BY_NAME
from slimbox.abi.tuples import named_tuple
from slimbox.platforms.linux import _native as native
from slimbox.platforms.linux import seccomp

# name -> why the running supervisor needs it. HOST_SERVICES and INTERPRETER are what
# the host services (PosixHost) and the Python interpreter need on any platform that
# supervises from a Linux host; the KVM platform's list starts from them too.
HOST_SERVICES: dict[str, str] = {
    "pread64": "read host files",
    "pwrite64": "write host files",
    "read": "standard input, the wake-up pipe",
    "write": "standard output and error, the wake-up pipe",
    "lseek": "file positions of host files the supervisor reads",
    "openat": "host files one component at a time under a mount's directory descriptor",
    "close": "release host descriptors",
    "dup": "listing a host directory duplicates its descriptor",
    "fcntl": "descriptor flags (close-on-exec) of host descriptors",
    "newfstatat": "stat of host files and directories (by directory descriptor, never by path)",
    "fstat": "stat of open host files",
    "getdents64": "list host directories",
    "readlinkat": "read a host symlink's text (resolved inside the sandbox, never followed)",
    "mkdirat": "mkdir in a read-write host mount",
    "unlinkat": "unlink/rmdir in a read-write host mount",
    "renameat": "rename in a read-write host mount",
    "renameat2": "rename in a read-write host mount",
    "linkat": "hard links in a read-write host mount",
    "symlinkat": "symlinks in a read-write host mount",
    "mknodat": "FIFOs in a read-write host mount",
    "fchmodat": "chmod in a read-write host mount",
    "fchownat": "chown in a read-write host mount",
    "utimensat": "file times in a read-write host mount",
    "ftruncate": "truncate host files",
    "fsync": "fsync of host files",
    "fdatasync": "fdatasync of host files",
    "select": "is a host stream readable (no data taken)",
    "pselect6": "the same, where the C library uses it",
    "poll": "the same, where the C library uses it",
}

INTERPRETER: dict[str, str] = {
    "mmap": "the interpreter's memory (never executable: pinned below)",
    "munmap": "the interpreter's memory",
    "mremap": "the interpreter's memory",
    "mprotect": "the interpreter's memory (never executable: pinned below)",
    "madvise": "the interpreter's memory",
    "brk": "the interpreter's memory",
    "futex": "the interpreter's locks",
    "rt_sigaction": "host signals the supervisor passes on (Ctrl-C...)",
    "rt_sigprocmask": "the same",
    "rt_sigreturn": "return from a host signal handler",
    "getrandom": "entropy for the guest (getrandom, /dev/urandom, AT_RANDOM)",
    "clock_gettime": "time for the guest and for deadlines (when the vDSO is not used)",
    "gettimeofday": "the same",
    "getpid": "the interpreter asks",
    "gettid": "the interpreter asks",
    "getcwd": "the interpreter asks",
    "sched_yield": "the interpreter's lock hand-offs",
    "exit": "ending",
    "exit_group": "ending",
}

ALLOWED: dict[str, str] = {
    **HOST_SERVICES,
    **INTERPRETER,
    # waiting for and steering guest threads
    "wait4": "collect ptrace stops and exits of guest threads (waitpid)",
    "ptrace": "read/set guest registers and resume guest threads (requests pinned below)",
    "epoll_wait": "the run loop's single wait",
    "epoll_ctl": "watch a host stream the guest waits to read",
    "ioctl": "seccomp notifications (receive/answer) and terminal queries (commands pinned below)",
    "kill": "end a guest's host process (SIGKILL only)",
    "sendmsg": "hand a host file to a stub over its mapping channel (no copy)",
    # the same calls for guest memory (/proc/PID/mem) and the SIGCHLD signalfd too
    "pread64": "read guest memory (/proc/PID/mem) and host files",
    "pwrite64": "write guest memory and host files",
    "read": "standard input, the SIGCHLD signalfd, the wake-up pipe",
    "openat": "host files one component at a time under a mount's directory descriptor; "
              "/proc/PID/mem of a new guest process; a guest thread's CPU time (/proc schedstat)",
}


# name -> why: added only when the sandbox uses host sockets (`--net host` or `-p`);
# the sockets are made in platforms/linux/hostnet.py
NETWORK: dict[str, str] = {
    "socket": "a TCP or UDP socket for an address the policy allows (AF_INET/AF_INET6 only: pinned below)",
    "connect": "start that connection (non-blocking)",
    "getsockopt": "how a non-blocking connect ended (SO_ERROR)",
    "setsockopt": "TCP_NODELAY on a connection the policy allows (level IPPROTO_TCP only: pinned below)",
    "accept4": "take a connection to a published port",
    "recvfrom": "read from a host connection or UDP socket",
    "sendto": "write to a host connection or UDP socket",
    "shutdown": "pass on a guest's end of stream (SHUT_WR)",
    "getsockname": "the address of a socket the supervisor accepted",
    "getpeername": "the address a host client connects from",
}


class Rule(named_tuple("Rule", "index values mask", defaults=((), 0))):
    """Allow the syscall only when argument `index` (its low 32 bits) is one of `values`,
    or, with `mask`, when those bits are clear."""

    __slots__ = ()


_PROT_EXEC = 4
_SIGKILL = 9
_AF_INET, _AF_INET6 = 2, 10
_IPPROTO_TCP = 6
ARGUMENT_RULES: dict[str, Rule] = {
    "ioctl": Rule(1, (
        seccomp.IOCTL_NOTIF_RECV, seccomp.IOCTL_NOTIF_SEND, seccomp.IOCTL_NOTIF_ID_VALID,
        seccomp.IOCTL_NOTIF_SET_FLAGS,
        0x5401, 0x5402, 0x5403, 0x5404,  # TCGETS, TCSETS, TCSETSW, TCSETSF
        0x5413, 0x541B,                  # TIOCGWINSZ, FIONREAD
    )),
    "kill": Rule(1, (_SIGKILL,)),
    "ptrace": Rule(0, (
        native.PTRACE_CONT, native.PTRACE_GETREGS, native.PTRACE_SETREGS, native.PTRACE_PEEKUSER,
        native.PTRACE_POKEUSER, native.PTRACE_GETEVENTMSG, native.PTRACE_GETSIGINFO, native.PTRACE_INTERRUPT,
        native.PTRACE_GET_SYSCALL_INFO, native.PTRACE_GETREGSET, native.PTRACE_SETREGSET,
    )),
    "mmap": Rule(2, mask=_PROT_EXEC),
    "mprotect": Rule(2, mask=_PROT_EXEC),
    "socket": Rule(0, (_AF_INET, _AF_INET6)),
    "setsockopt": Rule(1, (_IPPROTO_TCP,)),
}


class HostSyscall(named_tuple("HostSyscall", "name nr reason rule")):
    """An allowed host syscall: why, and its Rule (or None)."""

    __slots__ = ()

    def constraint(self) -> str:
        """The argument rule in words ('' when the syscall is allowed with any arguments)."""
        if self.rule is None:
            return ""
        if self.rule.mask:
            return f"arg{self.rule.index} never has bits {self.rule.mask:#x}"
        return f"arg{self.rule.index} in {{{', '.join(hex(v) for v in self.rule.values)}}}"


def entries_of(allowed: dict[str, str], rules: dict[str, Rule]) -> list[HostSyscall]:
    """`allowed` (name: why) with each name's rule from `rules`, in syscall-number order."""
    return sorted((HostSyscall(name, BY_NAME[name].nr, reason, rules.get(name))
                   for name, reason in allowed.items()), key=lambda h: h.nr)


def host_syscalls(*, network: bool = False) -> list[HostSyscall]:
    """The allowed host syscalls; with `network`, those of host sockets too."""
    return entries_of({**ALLOWED, **NETWORK} if network else ALLOWED, ARGUMENT_RULES)


def network_syscalls() -> list[HostSyscall]:
    """Only those the host sockets add."""
    return [entry for entry in host_syscalls(network=True) if entry.name in NETWORK]


def markdown() -> str:
    """The list as the page docs/host-syscalls.md."""
    entries = host_syscalls()
    lines = [
        "# The supervisor's host syscalls",
        "",
        "Generated from `src/slimbox/platforms/linux/lockdown.py` by `slimbox host-syscalls --markdown`",
        "(`make docs`); a test fails when this page is out of date.",
        "",
        f"Once a sandbox runs, its supervisor may make these {len(entries)} host syscalls and no others:",
        "any other kills it (and so the sandbox). See [security.md](security.md).",
        "",
        "| nr | name | why | arguments allowed |",
        "|---:|---|---|---|",
    ]
    for entry in entries:
        lines.append(f"| {entry.nr} | {entry.name} | {entry.reason} | {entry.constraint() or 'any'} |")
    extra = network_syscalls()
    lines += [
        "",
        "## With host networking",
        "",
        f"Only when the sandbox uses host sockets (`--net host` or `-p`), these {len(extra)} more are",
        "allowed; with `--net none` and no `-p` the list above is the whole of it.",
        "See [networking.md](networking.md).",
        "",
        "| nr | name | why | arguments allowed |",
        "|---:|---|---|---|",
    ]
    for entry in extra:
        lines.append(f"| {entry.nr} | {entry.name} | {entry.reason} | {entry.constraint() or 'any'} |")
    return "\n".join(lines) + "\n"


def build_lockdown_filter(*, network: bool = False) -> bytes:
    """The filter program: the allowed syscalls (with their argument rules), with those
    of host sockets when `network`; anything else, or another architecture, kills the
    process."""
    return filter_program(host_syscalls(network=network))


def filter_program(entries: list[HostSyscall]) -> bytes:
    """A filter allowing exactly `entries` (with their argument rules); anything else, or
    another architecture, kills the process. The KVM platform builds its own list with it."""
    asm = seccomp._Asm()
    asm.load(seccomp._ARCH)
    asm.jump(seccomp._JEQ, seccomp.AUDIT_ARCH_X86_64, 0, "kill")
    for entry in entries:
        label = f"check_{entry.name}"
        asm.load(seccomp._NR)
        asm.jump(seccomp._JEQ, entry.nr, label if entry.rule else "allow", 0)
    asm.ret(seccomp.SECCOMP_RET_KILL_PROCESS)
    for entry in entries:
        rule = entry.rule
        if rule is None:
            continue
        asm.label(f"check_{entry.name}")
        asm.load(16 + 8 * rule.index)  # struct seccomp_data args[i], low 32 bits
        if rule.mask:
            asm.jump(seccomp._JSET, rule.mask, "kill", "allow")
        else:
            for value in rule.values:
                asm.jump(seccomp._JEQ, value & 0xFFFFFFFF, "allow", 0)
            asm.ret(seccomp.SECCOMP_RET_KILL_PROCESS)
    asm.label("allow")
    asm.ret(seccomp.SECCOMP_RET_ALLOW)
    asm.label("kill")
    asm.ret(seccomp.SECCOMP_RET_KILL_PROCESS)
    return asm.assemble()


def lock_down(*, network: bool = False) -> None:
    """Install the filter on every thread of the calling process (irreversible)."""
    install(build_lockdown_filter(network=network))


def install(program: bytes) -> None:
    """Install a filter program on every thread of the calling process (irreversible)."""
    native.install_seccomp_filter(program, tsync=True)
