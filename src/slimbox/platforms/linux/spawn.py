"""Starting the stub in fresh namespaces, traced from its first instruction.

    supervisor ── fork ──> keeper ── unshare(user, pid, mnt, net, ipc, uts, cgroup)
                                 └── fork ──> stub-to-be (pid 1 of the new pid namespace)
                                              private mounts, empty tmpfs root,
                                              no_new_privs, parent-death signal,
                                              new session, no file descriptors,
                                              waits at a gate until seized, then execs
                                              the stub

The keeper only waits for the stub and passes its status on; both die with the
supervisor (PR_SET_PDEATHSIG), and the supervisor also seizes the stub with
PTRACE_O_EXITKILL. Namespaces are taken as the host allows; `Isolation` records
which were obtained.
"""

from __future__ import annotations

import os
import _signal as signal  # `signal` without the enum classes it builds at import (and enum): ~6 ms a run

from slimbox.platforms.linux import _native as native

_NAMESPACES = (
    ("user", native.CLONE_NEWUSER),
    ("pid", native.CLONE_NEWPID),
    ("mount", native.CLONE_NEWNS),
    ("net", native.CLONE_NEWNET),
    ("ipc", native.CLONE_NEWIPC),
    ("uts", native.CLONE_NEWUTS),
    ("cgroup", native.CLONE_NEWCGROUP),
)


class Isolation:
    """What the host granted the stub beyond seccomp and ptrace."""

    __slots__ = ("namespaces", "empty_root")

    def __init__(self, namespaces: list[str] | None = None, empty_root: bool = False) -> None:
        self.namespaces = [] if namespaces is None else namespaces
        self.empty_root = empty_root

    def __repr__(self) -> str:
        return f"Isolation(namespaces={self.namespaces!r}, empty_root={self.empty_root!r})"


class SpawnedStub:
    __slots__ = ("pid", "keeper", "isolation")

    def __init__(self, pid: int, keeper: int, isolation: Isolation) -> None:
        self.pid = pid              # host pid of the stub (the guest process)
        # the stub holds its end of the mapping channel as CHANNEL_FD
        self.keeper = keeper        # host pid of the keeper process
        self.isolation = isolation


def _report(fd: int, text: str) -> None:
    os.write(fd, text.encode() + b"\n")


def _unshare_what_we_can(report_fd: int) -> list[str]:
    """Unshare all namespaces at once if possible, else one by one (user first)."""
    every = 0
    for _, flag in _NAMESPACES:
        every |= flag
    try:
        native.unshare(every)
        got = [name for name, _ in _NAMESPACES]
    except OSError:
        got = []
        for name, flag in _NAMESPACES:
            try:
                native.unshare(flag)
                got.append(name)
            except OSError:
                continue
    _report(report_fd, "ns " + " ".join(got))
    return got


def _empty_root() -> bool:
    """Make this process's root an empty tmpfs. Only ever called inside a mount
    namespace of the stub's own: elsewhere these mounts would change the host."""
    try:
        native.mount(None, b"/", None, native.MS_REC | native.MS_PRIVATE, None)
        native.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, b"size=4k,mode=0500")
        os.chdir("/tmp")
        native.chroot(b".")
        os.chdir("/")
        return True
    except OSError:
        return False


#: the descriptor number the stub holds its end of the mapping channel under
CHANNEL_FD = 3


def _stub_side(stub_fd: int, gate_fd: int, report_fd: int, keeper_pid: int, private_mounts: bool,
               channel_fd: int) -> None:
    """Runs in the stub-to-be; never returns."""
    try:
        native.prctl(native.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != keeper_pid and os.getppid() != 0:
            os._exit(1)
        if private_mounts and _empty_root():
            _report(report_fd, "root")
        native.prctl(native.PR_SET_NO_NEW_PRIVS, 1)
        # Stubs never wait for their children; an ignored SIGCHLD (kept across exec and
        # inherited by forks) lets the host reap them once the supervisor has seen them exit.
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        try:
            os.setsid()
        except OSError:
            pass
        _report(report_fd, "ready")
        if os.read(gate_fd, 1) != b"g":  # the supervisor seizes us, then opens the gate
            os._exit(1)
        if stub_fd == CHANNEL_FD:
            stub_fd = os.dup(stub_fd)
        os.dup2(channel_fd, CHANNEL_FD, inheritable=True)
        keep = {stub_fd, CHANNEL_FD}
        for fd in _open_fds():
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        os.execve(stub_fd, [b"slimbox-stub"], {})
    finally:
        os._exit(127)


def _open_fds() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 1024))


def spawn_stub(stub_fd: int, seize: "callable[[int], None]", namespaces: bool = True,
               channel_fd: int = -1) -> SpawnedStub:
    """Start a stub; `seize(pid)` is called before the stub may run any code of its own.
    The stub keeps `channel_fd` (the supervisor hands it host file descriptors to map
    through it) as descriptor CHANNEL_FD and nothing else."""
    report_r, report_w = os.pipe()
    gate_r, gate_w = os.pipe()
    supervisor = os.getpid()
    keeper = os.fork()
    if keeper == 0:  # keeper
        try:
            os.close(report_r)
            os.close(gate_w)
            native.prctl(native.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != supervisor:
                os._exit(1)
            # Out of the caller's process group and deaf to job-control signals: Ctrl-C
            # at the terminal is for the supervisor to pass on, not to end the keeper
            # (whose death would take the guest with it).
            os.setpgid(0, 0)
            for signo in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP, signal.SIGTSTP,
                          signal.SIGTTIN, signal.SIGTTOU):
                signal.signal(signo, signal.SIG_IGN)
            obtained = _unshare_what_we_can(report_w) if namespaces else []
            me = os.getpid()
            child = os.fork()
            if child == 0:
                _stub_side(stub_fd, gate_r, report_w, me, "mount" in obtained, channel_fd)
            _report(report_w, f"pid {child}")
            os.close(gate_r)
            for fd in _open_fds():
                if fd != report_w:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            os.close(report_w)
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
        finally:
            os._exit(126)
    os.close(report_w)
    os.close(gate_r)
    isolation = Isolation()
    pid = 0
    lines = _read_lines(report_r, until=lambda seen: "ready" in seen)
    for line in lines:
        if line.startswith("ns "):
            isolation.namespaces = line.split()[1:]
        elif line == "root":
            isolation.empty_root = True
        elif line.startswith("pid "):
            pid = int(line.split()[1])
    if not pid or "ready" not in lines:
        os.close(report_r)
        os.close(gate_w)
        _reap(keeper)
        raise OSError(0, "the sandbox process could not be started")
    try:
        seize(pid)
    except OSError:
        os.kill(pid, signal.SIGKILL)
        _reap(keeper)
        os.close(report_r)
        os.close(gate_w)
        raise
    os.write(gate_w, b"go")
    os.close(gate_w)
    os.close(report_r)
    return SpawnedStub(pid, keeper, isolation)


def _read_lines(fd: int, until) -> list[str]:
    data = b""
    while True:
        lines = data.decode(errors="replace").splitlines()
        complete = lines if data.endswith(b"\n") else lines[:-1]
        if until(complete) and any(line.startswith("pid ") for line in complete):
            return complete
        chunk = os.read(fd, 4096)
        if not chunk:
            return complete
        data += chunk


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
