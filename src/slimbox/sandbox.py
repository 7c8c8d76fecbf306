"""The runner: where a shim meets a platform.

`Sandbox` holds one kernel and its filesystem view; `Sandbox.run` starts a program
in it on a platform and waits for it, subprocess-style. Files written in the
sandbox stay in the Sandbox object between runs (and in `Sandbox.os`) and are
gone when it is dropped, unless they went to a writable host mount.
"""

from __future__ import annotations

import _signal as signal  # `signal` without the enum classes it builds at import (and enum): ~6 ms a run

from slimbox._view import build_view
from slimbox.abi.errno import Errno, strerror
from slimbox.kernel import exec as kexec
from slimbox.kernel import signals as ksignals
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import InternalError as InternalError  # re-exported: Sandbox.run raises it
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fd import FdTable
from slimbox.kernel.file import File
from slimbox.kernel.fs.vfs import FsContext
from slimbox.kernel.kernel import Kernel, KernelConfig, SandboxTimeout
from slimbox.kernel.limits import Limits
from slimbox.kernel.net.policy import NetworkPolicy
from slimbox.kernel.policy import MountSpec, Policy, PolicyError
from slimbox.kernel.stdio import CaptureFile, HostStreamFile, InputFile
from slimbox.north import SandboxOS
from slimbox import _platforms as registry
from slimbox.shims.linux.personality import LinuxPersonality

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Iterable, Mapping, Sequence, TextIO
    import logging

    from slimbox._result import SandboxResult

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PIPE = -1  # subprocess.PIPE, whose module (with locale, re, selectors) `slimbox run` never needs
_STREAM_NAMES = (b"/dev/stdin", b"/dev/stdout", b"/dev/stderr")


class ExecError(OSError):
    """The program could not be started in the sandbox (not found, not executable...)."""


def __getattr__(name: str):
    # SandboxResult is a subprocess.CompletedProcess: made, with subprocess, on first use
    if name == "SandboxResult":
        from slimbox._result import SandboxResult

        return SandboxResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Outcome:
    """How a program run by `Sandbox.execute` ended, before it is made a SandboxResult."""

    __slots__ = ("returncode", "signal", "description", "unsupported", "syscalls")

    def __init__(self, returncode: int, signal: int, description: str, unsupported: frozenset[str],
                 syscalls: int) -> None:
        self.returncode = returncode
        self.signal = signal
        self.description = description
        self.unsupported = unsupported
        self.syscalls = syscalls


#: signals the supervisor passes on to the guest while a program runs (when it can: in the
#: main thread), by name: those the host has (Windows has only SIGINT and SIGTERM of them);
#: after this many of them the sandbox is killed, so a guest that ignores them cannot keep
#: the supervisor from being stopped
_FORWARDED = {"SIGINT": ksignals.SIGINT, "SIGQUIT": ksignals.SIGQUIT, "SIGTERM": ksignals.SIGTERM,
              "SIGHUP": ksignals.SIGHUP, "SIGWINCH": ksignals.SIGWINCH}
_FORWARD_LIMIT = 3


class _forwarding_host_signals:
    """While a program runs, host signals the supervisor receives are passed on to the
    guest (`with _forwarding_host_signals(kernel, platform): ...`). Outside the main
    thread, where Python takes no signal handlers, nothing is forwarded."""

    def __init__(self, kernel: Kernel, platform) -> None:
        self._kernel = kernel
        self._platform = platform
        self._received: list[int] = []
        # host signal number -> Linux's (they agree on Linux and macOS, not everywhere)
        self._to_linux = {getattr(signal, name): linux for name, linux in _FORWARDED.items() if hasattr(signal, name)}
        self._previous: dict = {}

    def _handler(self, signo: int, frame) -> None:
        linux = self._to_linux[signo]
        if linux != ksignals.SIGWINCH:
            self._received.append(linux)
        if len(self._received) >= _FORWARD_LIMIT:
            self._kernel.host_signals.append(ksignals.SIGKILL)
        else:
            self._kernel.host_signals.append(linux)
        self._platform.poke()

    def __enter__(self) -> None:
        try:
            for signo in self._to_linux:
                self._previous[signo] = signal.signal(signo, self._handler)
        except ValueError:  # not the main thread: the first signal.signal refused
            self._restore()

    def __exit__(self, *exc_info) -> None:
        self._restore()

    def _restore(self) -> None:
        for signo, old in self._previous.items():
            signal.signal(signo, old)
        self._previous.clear()


def default_environment(uid: int) -> dict[str, str]:
    return {"PATH": DEFAULT_PATH, "HOME": "/root" if uid == 0 else "/", "TERM": "xterm"}


class Sandbox:
    def __init__(self, *, mounts: Iterable[str | MountSpec] = (), rootfs: str | None = None,
                 tmpfs: Iterable[str] = (), hostname: str = "slimbox", platform: str = "auto",
                 uid: int | None = None, gid: int | None = None, log: logging.Logger | None = None,
                 limits: Limits | None = None, net: str = "none", allow: Iterable[str] = (),
                 publish: Iterable[str] = (), intercept: str = "notify") -> None:
        """`net`: "none" (only the sandbox's own loopback) or "host" (TCP to the HOST:PORT
        entries of `allow`, resolved here); `publish`: "[IP:]HOSTPORT:GUESTPORT" entries,
        host ports whose connections reach sandbox listeners (docs/networking.md);
        `platform`: "linux", "kvm", "emu" or "auto" (the default: linux on a Linux host, emu
        elsewhere; _platforms.py); `intercept`: how the linux platform catches syscalls,
        "notify" (seccomp user notifications where they serve, ptrace for the rest) or
        "ptrace" (every syscall stops under ptrace)."""
        specs = tuple(m if isinstance(m, MountSpec) else MountSpec.parse(m) for m in mounts)
        self.policy = Policy(mounts=specs, rootfs=rootfs, tmpfs=tuple(tmpfs))
        self.network = NetworkPolicy.build(net, allow, publish)
        try:
            self.platform_name = registry.resolve(platform)
            self.intercept = registry.check_intercept(self.platform_name, intercept)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        self.host = registry.make_host(self.platform_name)
        self.uid = 0 if uid is None else uid
        self.gid = 0 if gid is None else gid
        limits = Limits() if limits is None else limits
        memory = self.host.memory_bytes()
        config = KernelConfig(hostname=hostname.encode(), cpu_count=self.host.cpu_count(),
                              memory_bytes=memory if limits.memory is None else min(memory, limits.memory),
                              hwcap=self.host.hardware_capabilities(), limits=limits)
        self.kernel = Kernel(self.host, config, log)
        self.kernel.vfs = build_view(self.kernel, self.host, self.policy)
        self.os = SandboxOS(self.kernel)
        self._allowed: frozenset = frozenset()
        if self.network.mode == "host":
            from slimbox import _network

            self._allowed, hosts = _network.resolve_allowed(self.platform_name, self.network)
            _network.write_resolver_files(self.os, hostname, hosts)

    # --- running programs ------------------------------------------------------------

    def run(self, argv: Sequence[str | bytes], *, input: bytes | None = None, capture_output: bool = False,
            stdout=None, stderr=None, timeout: float | None = None, env: Mapping[str, str] | None = None,
            cwd: str | None = None, strace: TextIO | None = None, check: bool = False,
            lockdown: bool = False) -> SandboxResult:
        """Run `argv` to completion, like subprocess.run. Raises ExecError (a
        FileNotFoundError/PermissionError subclass by errno) if it cannot start, and
        subprocess.TimeoutExpired after killing the sandbox's processes on timeout, and
        InternalError (naming the syscall) when a kernel bug stopped the sandbox.
        `lockdown` restricts this whole process to the host syscalls a running sandbox
        needs, for good: for a process that exists to run one sandbox (as the CLI does)."""
        # imported before the run (and any lock-down, after which an import may be refused)
        import subprocess

        from slimbox._result import SandboxResult

        if capture_output:
            stdout = stderr = PIPE
        out, err = bytearray(), bytearray()
        try:
            outcome = self.execute(argv, input=input, stdout=stdout, stderr=stderr, out=out, err=err,
                                   timeout=timeout, env=env, cwd=cwd, strace=strace, lockdown=lockdown)
        except SandboxTimeout:
            raise subprocess.TimeoutExpired(list(argv), timeout, bytes(out) if stdout == PIPE else None,
                                            bytes(err) if stderr == PIPE else None) from None
        result = SandboxResult(list(argv), outcome.returncode,
                               bytes(out) if stdout == PIPE else None,
                               bytes(err) if stderr == PIPE else None,
                               signal=outcome.signal, description=outcome.description,
                               unsupported=outcome.unsupported, syscalls=outcome.syscalls)
        if check:
            result.check_returncode()
        return result

    def execute(self, argv: Sequence[str | bytes], *, input: bytes | None = None, stdout=None, stderr=None,
                out: bytearray | None = None, err: bytearray | None = None, timeout: float | None = None,
                env: Mapping[str, str] | None = None, cwd: str | None = None, strace: TextIO | None = None,
                lockdown: bool = False) -> Outcome:
        """`run` without subprocess's types, for the CLI (whose start-up would pay for
        importing subprocess): what stdout and stderr capture (PIPE) is appended to `out`
        and `err`; the ending is an Outcome; a timeout raises SandboxTimeout once the
        sandbox's processes are killed."""
        if not argv:
            raise ValueError("argv must not be empty")
        args = [a if isinstance(a, bytes) else a.encode() for a in argv]
        environ = dict(default_environment(self.uid) if env is None else env)
        envp = [f"{k}={v}".encode() for k, v in environ.items()]
        out = bytearray() if out is None else out
        err = bytearray() if err is None else err
        kernel = self.kernel
        platform = registry.make_platform(self.platform_name, self.host, intercept=self.intercept)
        kernel.platform = platform
        try:
            from slimbox._network import start_network

            kernel.network = start_network(kernel, self.platform_name, platform, self.network, self._allowed)
            fds, terminal = self._stdio(input, stdout, stderr, out, err)
            kernel.terminal = terminal
            cred = Credentials.of(self.uid, self.gid)
            fs = FsContext(kernel.vfs.root, kernel.vfs.root)
            fs.cwd = self._cwd(fs, cred, cwd)
            task = kernel.new_process(LinuxPersonality(strace), cred, fs, fds)
            kernel.init = task.process
            path = self._find_program(fs, cred, args[0], environ.get("PATH", DEFAULT_PATH))
            try:
                kexec.execve(task, fs.cwd, path, args, envp)
            except LinuxError as exc:
                kernel.exit_process(task.process, 127)
                raise ExecError(exc.errno, strerror(exc.errno), args[0].decode(errors="replace")) from None
            task.context.resume()
            if lockdown:
                platform.lock_down(network=self.network.uses_host_sockets)
            deadline = None if timeout is None else kernel.monotonic_ns() + int(timeout * 1e9)
            with _forwarding_host_signals(kernel, platform):
                process = kernel.run(deadline)
        finally:
            kernel.kill_everything("run finished")
            if getattr(kernel, "network", None) is not None:
                kernel.network.close()
                kernel.network = None
            platform.close()
            kernel.platform = None
            kernel.init = None
            kernel.terminal = None
        code, sig = process.exit_status or (0, 9)
        return Outcome(-sig if sig else code, sig, process.exit_description if sig else "",
                       frozenset(kernel.reported_unsupported), kernel.syscall_count)

    def _stdio(self, input: bytes | None, stdout, stderr, out: bytearray, err: bytearray
               ) -> tuple[FdTable, File | None]:
        streams = self.host.stdio()
        files: list[File] = [
            InputFile(input) if input is not None else HostStreamFile(streams[0], 0, _STREAM_NAMES[0], 0),
            CaptureFile(out, 1) if stdout == PIPE else HostStreamFile(streams[1], 1, _STREAM_NAMES[1], 1),
            CaptureFile(err, 2) if stderr == PIPE else HostStreamFile(streams[2], 1, _STREAM_NAMES[2], 2),
        ]
        for choice in (stdout, stderr):
            if choice not in (None, PIPE):
                raise ValueError("stdout/stderr may be None (inherit) or subprocess.PIPE")
        fds = FdTable()
        for number, file in enumerate(files):
            fds.install_at(number, file)
        terminal = next((f for f in files if isinstance(f, HostStreamFile) and f.stream.is_terminal()), None)
        return fds, terminal

    def _cwd(self, fs: FsContext, cred: Credentials, cwd: str | None):
        path = (cwd or "/").encode()
        try:
            node = self.kernel.vfs.resolve(fs, cred, fs.root, path)
        except LinuxError as exc:
            raise ExecError(exc.errno, strerror(exc.errno), cwd) from None
        if not node.inode.is_dir():
            raise ExecError(Errno.ENOTDIR, strerror(Errno.ENOTDIR), cwd)
        return node

    def _find_program(self, fs: FsContext, cred: Credentials, name: bytes, search: str) -> bytes:
        """execvp's search, inside the sandbox."""
        if b"/" in name:
            return name
        vfs = self.kernel.vfs
        denied = False
        for directory in search.split(":"):
            candidate = (directory or ".").encode().rstrip(b"/") + b"/" + name
            try:
                node = vfs.resolve(fs, cred, fs.cwd, candidate)
            except LinuxError:
                continue
            if node.inode.is_regular():
                try:
                    vfs.check_access(cred, node.inode, 1)
                    return candidate
                except LinuxError:
                    denied = True
        errno = Errno.EACCES if denied else Errno.ENOENT
        raise ExecError(errno, strerror(errno), name.decode(errors="replace"))

    # --- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Forget the sandbox's files (host mounts are left as they are) and release the
        host directories it held open."""
        self.kernel.kill_everything("sandbox closed")
        if self.kernel.vfs is not None:
            self.kernel.vfs.close()
            self.kernel.vfs = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def run(argv: Sequence[str | bytes], *, input: bytes | None = None, capture_output: bool = False,
        stdout=None, stderr=None, timeout: float | None = None, env: Mapping[str, str] | None = None,
        cwd: str | None = None, mounts: Iterable[str | MountSpec] = (), rootfs: str | None = None,
        tmpfs: Iterable[str] = (), strace: TextIO | None = None, check: bool = False,
        lockdown: bool = False, limits: Limits | None = None, net: str = "none", allow: Iterable[str] = (),
        publish: Iterable[str] = (), platform: str = "auto", intercept: str = "notify") -> SandboxResult:
    """Run one program in a fresh sandbox, like subprocess.run (see Sandbox.run; `net`,
    `allow`, `publish`, `platform` and `intercept` as Sandbox takes them)."""
    with Sandbox(mounts=mounts, rootfs=rootfs, tmpfs=tmpfs, limits=limits, net=net, allow=allow,
                 publish=publish, platform=platform, intercept=intercept) as sandbox:
        return sandbox.run(argv, input=input, capture_output=capture_output, stdout=stdout, stderr=stderr,
                           timeout=timeout, env=env, cwd=cwd, strace=strace, check=check, lockdown=lockdown)

