"""The `slimbox` command."""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys

from slimbox.abi.errno import Errno
from slimbox.kernel.limits import DEFAULT_TASKS
from slimbox.kernel.log import DEBUG, ERROR, WARNING, StderrLog

# what a POSIX shell prints when a foreground program dies of a signal
_SHELL_MESSAGES = {
    1: "Hangup", 2: "", 3: "Quit", 4: "Illegal instruction", 5: "Trace/breakpoint trap", 6: "Aborted",
    7: "Bus error", 8: "Floating point exception", 9: "Killed", 10: "User defined signal 1",
    11: "Segmentation fault", 12: "User defined signal 2", 13: "", 14: "Alarm clock", 15: "Terminated",
    16: "Stack fault", 24: "CPU time limit exceeded", 25: "File size limit exceeded",
    26: "Virtual timer expired", 27: "Profiling timer expired", 29: "I/O possible", 30: "Power failure",
    31: "Bad system call",
}
EXIT_INTERNAL_ERROR = 70    # a bug in slimbox stopped the sandbox (EX_SOFTWARE)
EXIT_TIMED_OUT = 124        # --timeout passed (as timeout(1) reports it)
EXIT_SANDBOX_FAILED = 125   # the sandbox itself could not run (as docker and podman use it)
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127


def _terminal_columns() -> int:
    """What shutil.get_terminal_size().columns gives, without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own formatter, given the terminal's width: argparse would ask shutil,
    whose import (with bz2 and lzma) cost every run a few milliseconds."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, status 2, like other CLIs
        self.exit(2, f"slimbox: {message}\n(see 'slimbox --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="slimbox", description="Run Linux programs in a sandbox whose kernel is written "
                                                  "in Python: the host kernel serves none of their syscalls.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a program in a fresh sandbox",
                         description="Run PROG in a fresh sandbox. By default the sandbox sees the host's "
                                     "system directories read-only (writes go to memory and vanish at exit), "
                                     "fresh /tmp, /root, /home and /run, and its own /dev and /proc.")
    run.add_argument("-v", "--volume", action="append", default=[], metavar="HOST:GUEST[:ro|rw]",
                     help="mount a host directory (read-write unless :ro)")
    run.add_argument("--rootfs", metavar="DIR|TAR", help="use this directory or tar archive as the root "
                                                          "(read-only, with an in-memory writable layer)")
    run.add_argument("--tmpfs", action="append", default=[], metavar="PATH", help="mount an empty in-memory "
                                                                                   "directory at PATH")
    run.add_argument("-e", "--env", action="append", default=[], metavar="K=V",
                     help="set an environment variable (K alone copies the host's value)")
    run.add_argument("-w", "--workdir", metavar="DIR", help="working directory in the sandbox (default /)")
    run.add_argument("--hostname", default="slimbox", help="the sandbox's host name")
    run.add_argument("--platform", default="linux", metavar="linux|kvm|emu|auto",
                     help="how guest code runs: host processes under seccomp and ptrace (linux, the default), "
                          "a KVM virtual machine (kvm), a CPU emulator that needs nothing of the host but "
                          "Python (emu), or the best this host offers (auto)")
    run.add_argument("--strace", nargs="?", const="-", metavar="FILE",
                     help="log every syscall with decoded arguments and result (to stderr, or FILE)")
    limits = run.add_argument_group("resource limits", "SIZE takes K, M, G suffixes (powers of 1024)")
    limits.add_argument("--memory", type=_size, metavar="SIZE",
                        help="guest memory of all processes together (mmap, brk, fork fail with ENOMEM)")
    limits.add_argument("--pids", type=_count, default=DEFAULT_TASKS, metavar="N",
                        help=f"threads alive at once (clone, fork fail with EAGAIN; default {DEFAULT_TASKS})")
    limits.add_argument("--nofile", type=_count, metavar="N", help="open files per process (EMFILE)")
    limits.add_argument("--tmpfs-size", type=_size, metavar="SIZE",
                        help="what the in-memory filesystems hold together (ENOSPC; default half the memory)")
    limits.add_argument("--cpu", type=_count, metavar="SECONDS",
                        help="CPU time per process: SIGXCPU, then SIGKILL a second later")
    limits.add_argument("--max-file-size", type=_size, metavar="SIZE",
                        help="largest file a process may write (SIGXFSZ, EFBIG)")
    limits.add_argument("--max-output", type=_size, metavar="SIZE",
                        help="bytes written to standard output and error together (then SIGXFSZ, EFBIG)")
    limits.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                        help=f"stop the whole sandbox after this long (exit status {EXIT_TIMED_OUT})")
    net = run.add_argument_group("network", "see docs/networking.md")
    net.add_argument("--net", default="none", metavar="none|host",
                     help="none (default): the sandbox's own loopback only; host: TCP and UDP to the --allow "
                          "entries")
    net.add_argument("--allow", action="append", default=[], metavar="HOST:PORT",
                     help="with --net host, a host address and port the sandbox may reach (TCP and UDP) "
                          "(names resolved once, at start)")
    net.add_argument("-p", "--publish", action="append", default=[], metavar="[IP:]HOSTPORT:GUESTPORT",
                     help="make the sandbox's TCP listener on GUESTPORT reachable on the host at HOSTPORT "
                          "(on 127.0.0.1 unless IP is given)")
    run.add_argument("--no-lockdown", dest="lockdown", action="store_false",
                     help="do not restrict the supervisor to the host syscalls of `slimbox host-syscalls`")
    run.add_argument("-q", "--quiet", action="store_true", help="report only errors of the sandbox itself")
    run.add_argument("--debug", action="store_true", help="log what the sandbox does")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- PROG [ARGS]")
    sub.add_parser("syscalls", help="print the syscall support table (markdown)")
    host = sub.add_parser("host-syscalls", help="print the host syscalls a running supervisor may make")
    host.add_argument("--markdown", action="store_true", help="as the page docs/host-syscalls.md")
    optee = sub.add_parser("optee", add_help=False, help="run OP-TEE Trusted Applications (slimbox optee run --help)")
    optee.add_argument("-h", "--help", dest="optee_help", action="store_true", help="show the optee options")
    optee.add_argument("optee_args", nargs=argparse.REMAINDER, metavar="run TA.elf [--ldelf LDELF] COMMANDS.json")
    return parser


_SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size(text: str) -> int:
    number, suffix = text, ""
    if text and text[-1].upper() in _SIZE_SUFFIXES:
        number, suffix = text[:-1], text[-1].upper()
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"bad size {text!r}: expected a number of bytes, e.g. 4096, 64K, 512M, 2G")
    return int(number) * _SIZE_SUFFIXES[suffix]


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: expected a positive integer")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"bad duration {text!r}: expected a positive number of seconds")
    return value


def _environment(pairs: list[str]) -> dict[str, str]:
    from slimbox.sandbox import default_environment

    env = default_environment(0)
    if "TERM" in os.environ:
        env["TERM"] = os.environ["TERM"]
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key:
            raise ValueError(f"bad -e {pair!r}: expected K=V")
        if sep:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]
    return env


def _logger(args: argparse.Namespace) -> StderrLog:
    return StderrLog(DEBUG if args.debug else ERROR if args.quiet else WARNING)


def _run(args: argparse.Namespace) -> int:
    from slimbox.kernel.policy import PolicyError
    from slimbox.platforms.base import PlatformUnavailable
    from slimbox.sandbox import ExecError, InternalError, Limits, Sandbox

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        print("slimbox: no program given (usage: slimbox run [OPTIONS] -- PROG [ARGS])", file=sys.stderr)
        return 2
    log = _logger(args)
    try:
        env = _environment(args.env)
        limits = Limits(memory=args.memory, tasks=args.pids, open_files=args.nofile, tmpfs=args.tmpfs_size,
                        cpu_seconds=args.cpu, file_size=args.max_file_size, output=args.max_output)
    except ValueError as exc:
        print(f"slimbox: {exc}", file=sys.stderr)
        return 2
    strace = None
    try:
        if args.strace:
            strace = sys.stderr if args.strace == "-" else open(args.strace, "w")  # noqa: SIM115
        sandbox = Sandbox(mounts=args.volume, rootfs=args.rootfs, tmpfs=args.tmpfs, hostname=args.hostname, log=log,
                          limits=limits, net=args.net, allow=args.allow, publish=args.publish,
                          platform=args.platform)
        result = sandbox.run(argv, env=env, cwd=args.workdir, strace=strace, lockdown=args.lockdown,
                             timeout=args.timeout)
    except PolicyError as exc:
        print(f"slimbox: {exc}", file=sys.stderr)
        return 2
    except PlatformUnavailable as exc:
        print(f"slimbox: {exc}", file=sys.stderr)
        return EXIT_SANDBOX_FAILED
    except ExecError as exc:
        if exc.errno == Errno.ENOENT:
            why = "No such file or directory" if "/" in argv[0] else "command not found"
            print(f"slimbox: {argv[0]}: {why}", file=sys.stderr)
            return EXIT_NOT_FOUND
        if exc.errno == Errno.ENOEXEC:
            print(f"slimbox: {argv[0]}: cannot execute binary file: Exec format error", file=sys.stderr)
        else:
            print(f"slimbox: {argv[0]}: cannot execute: {exc.strerror}", file=sys.stderr)
        return EXIT_CANNOT_EXECUTE
    except KeyboardInterrupt:
        return 128 + 2
    except subprocess.TimeoutExpired:
        print(f"slimbox: timed out after {args.timeout:g} s; the sandbox was stopped", file=sys.stderr)
        return EXIT_TIMED_OUT
    except Exception as exc:  # noqa: BLE001 - a bug in slimbox: one line, a distinct status
        log.debug("internal error", exc_info=True)
        print(f"slimbox: {exc if isinstance(exc, InternalError) else f'internal error: {type(exc).__name__}: {exc}'}"
              "; the sandbox was stopped", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    finally:
        if strace is not None and strace is not sys.stderr:
            strace.close()
    if result.signal:
        message = _SHELL_MESSAGES.get(result.signal, f"Signal {result.signal}")
        if result.description and result.description.startswith("killed by the sandbox"):
            print(f"slimbox: {result.description}", file=sys.stderr)
        if message:
            print(message, file=sys.stderr)
        return 128 + result.signal
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    # What is imported by now lives as long as this process: keep it out of the cyclic
    # collector's passes, which would otherwise walk it again and again during the run
    # (about a tenth of a hello-world run's CPU time).
    gc.freeze()
    args = _parser().parse_args(argv)
    try:
        return _command(args)
    except BrokenPipeError:
        # The reader went away (`slimbox syscalls | head`): quiet, like other tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13


def _command(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "syscalls":
        from slimbox.shims.linux.table import markdown

        sys.stdout.write(markdown())
        return 0
    if args.command == "optee":
        from slimbox.optee import main as optee_main

        return optee_main(["--help"] if args.optee_help else args.optee_args)
    if args.command == "host-syscalls":
        from slimbox.platforms.linux.lockdown import host_syscalls, markdown, network_syscalls

        if args.markdown:
            print(markdown(), end="")
            return 0
        for entry in host_syscalls():
            rule = f" [{entry.constraint()}]" if entry.rule is not None else ""
            print(f"{entry.nr:4} {entry.name:<16} {entry.reason}{rule}")
        print(f"{len(host_syscalls())} host syscalls")
        print("only with --net host or -p:")
        for entry in network_syscalls():
            rule = f" [{entry.constraint()}]" if entry.rule is not None else ""
            print(f"{entry.nr:4} {entry.name:<16} {entry.reason}{rule}")
        print(f"{len(network_syscalls())} more host syscalls with host networking")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
