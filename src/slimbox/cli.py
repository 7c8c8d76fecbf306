"""The `slimbox` command."""

from __future__ import annotations

import gc
import os
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


#: the sections of `slimbox run --help` below its plain options, with their descriptions
_RUN_GROUPS = {
    "resource limits": "SIZE takes K, M, G suffixes (powers of 1024)",
    "network": "see docs/networking.md",
}


def _run_options() -> tuple:
    """The options of `slimbox run` as (help section or None, option strings,
    add_argument keywords), in the order of its help: declared once for argparse and for
    the fast path of `_fast_run_arguments`."""
    return (
        (None, ("-v", "--volume"), dict(action="append", default=[], metavar="HOST:GUEST[:ro|rw]",
                                        help="mount a host directory (read-write unless :ro)")),
        (None, ("--rootfs",), dict(metavar="DIR|TAR", help="use this directory or tar archive as the root "
                                                           "(read-only, with an in-memory writable layer)")),
        (None, ("--tmpfs",), dict(action="append", default=[], metavar="PATH",
                                  help="mount an empty in-memory directory at PATH")),
        (None, ("-e", "--env"), dict(action="append", default=[], metavar="K=V",
                                     help="set an environment variable (K alone copies the host's value)")),
        (None, ("-w", "--workdir"), dict(metavar="DIR", help="working directory in the sandbox (default /)")),
        (None, ("--hostname",), dict(default="slimbox", help="the sandbox's host name")),
        (None, ("--platform",), dict(
            default="auto", metavar="linux|kvm|emu|auto",
            help="how guest code runs: host processes under seccomp and ptrace (linux), a KVM virtual "
                 "machine (kvm), a CPU emulator that needs nothing of the host but Python (emu), or the "
                 "best this host offers (auto, the default: linux on Linux, emu elsewhere)")),
        (None, ("--intercept",), dict(
            default="notify", metavar="notify|ptrace",
            help="how the linux platform catches syscalls: seccomp user notifications for those the "
                 "kernel answers from its own state, ptrace for the rest (notify, the default; ptrace "
                 "alone where the host has no notifications), or ptrace for every one (ptrace)")),
        (None, ("--strace",), dict(nargs="?", const="-", metavar="FILE",
                                   help="log every syscall with decoded arguments and result (to stderr, or FILE)")),
        ("resource limits", ("--memory",), dict(
            type=_size, metavar="SIZE", help="guest memory of all processes together (mmap, brk, fork fail with ENOMEM)")),
        ("resource limits", ("--pids",), dict(
            type=_count, default=DEFAULT_TASKS, metavar="N",
            help=f"threads alive at once (clone, fork fail with EAGAIN; default {DEFAULT_TASKS})")),
        ("resource limits", ("--nofile",), dict(type=_count, metavar="N", help="open files per process (EMFILE)")),
        ("resource limits", ("--tmpfs-size",), dict(
            type=_size, metavar="SIZE",
            help="what the in-memory filesystems hold together (ENOSPC; default half the memory)")),
        ("resource limits", ("--cpu",), dict(type=_count, metavar="SECONDS",
                                             help="CPU time per process: SIGXCPU, then SIGKILL a second later")),
        ("resource limits", ("--max-file-size",), dict(type=_size, metavar="SIZE",
                                                       help="largest file a process may write (SIGXFSZ, EFBIG)")),
        ("resource limits", ("--max-output",), dict(
            type=_size, metavar="SIZE",
            help="bytes written to standard output and error together (then SIGXFSZ, EFBIG)")),
        ("resource limits", ("--timeout",), dict(
            type=_seconds, metavar="SECONDS", help=f"stop the whole sandbox after this long (exit status {EXIT_TIMED_OUT})")),
        ("network", ("--net",), dict(
            default="none", metavar="none|host",
            help="none (default): the sandbox's own loopback only; host: TCP and UDP to the --allow entries")),
        ("network", ("--allow",), dict(
            action="append", default=[], metavar="HOST:PORT",
            help="with --net host, a host address and port the sandbox may reach (TCP and UDP) "
                 "(names resolved once, at start)")),
        ("network", ("-p", "--publish"), dict(
            action="append", default=[], metavar="[IP:]HOSTPORT:GUESTPORT",
            help="make the sandbox's TCP listener on GUESTPORT reachable on the host at HOSTPORT "
                 "(on 127.0.0.1 unless IP is given)")),
        (None, ("--no-lockdown",), dict(
            dest="lockdown", action="store_false",
            help="do not restrict the supervisor to the host syscalls of `slimbox host-syscalls`")),
        (None, ("-q", "--quiet"), dict(action="store_true", help="report only errors of the sandbox itself")),
        (None, ("--debug",), dict(action="store_true", help="log what the sandbox does")),
    )


def _parser():
    """The argument parser of every command (argparse, imported here: a plain `run`
    command line is parsed without it, by `_fast_run_arguments`)."""
    import argparse

    class HelpFormatter(argparse.HelpFormatter):
        """argparse's own formatter, given the terminal's width: argparse would ask shutil,
        whose import (with bz2 and lzma) cost every run a few milliseconds."""

        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                     width: int | None = None) -> None:
            super().__init__(prog, indent_increment, max_help_position,
                             _terminal_columns() - 2 if width is None else width)

    class Parser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("formatter_class", HelpFormatter)
            super().__init__(*args, **kwargs)

        def error(self, message: str) -> None:  # one line, status 2, like other CLIs
            self.exit(2, f"slimbox: {message}\n(see 'slimbox --help')\n")

    parser = Parser(prog="slimbox", description="Run Linux programs in a sandbox whose kernel is written "
                                                 "in Python: the host kernel serves none of their syscalls.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run = sub.add_parser("run", help="run a program in a fresh sandbox",
                         description="Run PROG in a fresh sandbox. By default the sandbox sees the host's "
                                     "system directories read-only (writes go to memory and vanish at exit), "
                                     "fresh /tmp, /root, /home and /run, and its own /dev and /proc.")
    groups = {None: run}
    for group, flags, keywords in _run_options():
        if group not in groups:
            groups[group] = run.add_argument_group(group, _RUN_GROUPS[group])
        groups[group].add_argument(*flags, **keywords)
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- PROG [ARGS]")
    sub.add_parser("syscalls", help="print the syscall support table (markdown)")
    host = sub.add_parser("host-syscalls", help="print the host syscalls a running supervisor may make")
    host.add_argument("--markdown", action="store_true", help="as the page docs/host-syscalls.md")
    optee = sub.add_parser("optee", add_help=False, help="run OP-TEE Trusted Applications (slimbox optee run --help)")
    optee.add_argument("-h", "--help", dest="optee_help", action="store_true", help="show the optee options")
    optee.add_argument("optee_args", nargs=argparse.REMAINDER, metavar="run TA.elf [--ldelf LDELF] COMMANDS.json")
    return parser


class Arguments:
    """A parsed command line, as argparse.Namespace holds one (attributes by `dest`)."""

    def __init__(self, **values) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Arguments({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


def _fast_run_arguments(argv: list[str]) -> Arguments | None:
    """The common `run [OPTIONS] [--] PROG [ARGS]` command line parsed as argparse parses
    it, without importing argparse (with gettext, and the parser it builds, several
    milliseconds of every run); None for anything else (help, abbreviated or combined
    options, --strace, a value that looks like an option or does not convert...), which
    argparse then parses, or reports, itself."""
    if argv[:1] != ["run"]:
        return None
    values: dict = {"command": "run"}
    by_flag = {}
    for _, flags, keywords in _run_options():
        action = keywords.get("action", "store")
        dest = keywords.get("dest") or next((f for f in flags if f.startswith("--")), flags[0]).lstrip("-")
        dest = dest.replace("-", "_")
        if action == "append":
            values[dest] = []
        else:
            values[dest] = keywords.get("default", {"store_true": False, "store_false": True}.get(action))
        for flag in flags:
            by_flag[flag] = (dest, action, keywords)
    values["argv"] = []
    index = 1
    while index < len(argv):
        token = argv[index]
        if token == "--" or not token.startswith("-") or token == "-":
            values["argv"] = argv[index:]
            break
        flag, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        found = by_flag.get(flag)
        if found is None or "nargs" in found[2]:
            return None  # an abbreviation, -h, combined short options, --strace...
        dest, action, keywords = found
        if action in ("store_true", "store_false"):
            if equals:
                return None
            values[dest] = action == "store_true"
            index += 1
            continue
        if not equals:
            if index + 1 >= len(argv) or argv[index + 1].startswith("-"):
                return None
            value = argv[index + 1]
            index += 1
        index += 1
        convert = keywords.get("type")
        if convert is not None:
            try:
                value = convert(value)
            except Exception:  # noqa: BLE001 - argparse reports it as it does
                return None
        if action == "append":
            values[dest].append(value)
        else:
            values[dest] = value
    return Arguments(**values)


_SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _bad_value(message: str) -> Exception:
    """The error argparse reports as it is, for a value that does not convert."""
    from argparse import ArgumentTypeError

    return ArgumentTypeError(message)


def _size(text: str) -> int:
    number, suffix = text, ""
    if text and text[-1].upper() in _SIZE_SUFFIXES:
        number, suffix = text[:-1], text[-1].upper()
    if not number.isdigit():
        raise _bad_value(f"bad size {text!r}: expected a number of bytes, e.g. 4096, 64K, 512M, 2G")
    return int(number) * _SIZE_SUFFIXES[suffix]


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise _bad_value(f"bad number {text!r}: expected a positive integer")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise _bad_value(f"bad duration {text!r}: expected a positive number of seconds")
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


def _logger(args: Arguments) -> StderrLog:
    return StderrLog(DEBUG if args.debug else ERROR if args.quiet else WARNING)


def _run(args: Arguments, collecting: bool) -> int:
    from slimbox import _platforms
    from slimbox.kernel.kernel import SandboxTimeout
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
                          platform=args.platform, intercept=args.intercept)
        # The platform's modules too are imported with the collector paused; then
        # everything made so far, which lives as long as this process, is frozen out of
        # the collector's reach before the guest runs.
        _platforms.platform_class(sandbox.platform_name)
        gc.freeze()
        if collecting:
            gc.enable()
        result = sandbox.execute(argv, env=env, cwd=args.workdir, strace=strace, lockdown=args.lockdown,
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
    except SandboxTimeout:
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
    # The modules a command imports and the sandbox it builds live as long as this
    # process: the cyclic collector is paused while they are made (its passes over the
    # imports alone were about 5 ms of a hello-world run) and `_run` freezes them out of
    # its reach before the guest runs (walking them again and again during the run was
    # about a tenth of its CPU time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        if argv is None:
            argv = sys.argv[1:]
        args = _fast_run_arguments(argv) or _parser().parse_args(argv)
        code = _command(args, collecting)
    except BrokenPipeError:
        # The reader went away (`slimbox syscalls | head`): quiet, like other tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    finally:
        if collecting:
            gc.enable()
    if args.command == "run" and args.lockdown:
        _exit(code)
    return code


def _exit(code: int) -> None:
    """End a process that ran a locked-down sandbox, which can do nothing else: its
    output flushed, without the interpreter's finalization (freeing every module and
    object one by one, a few milliseconds of every run). Exit status 120 if the flush
    fails, as the interpreter's own exit gives."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            code = 120
    os._exit(code)


def _command(args: Arguments, collecting: bool) -> int:
    if args.command == "run":
        return _run(args, collecting)
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
