"""The command's start-up stays lean: modules that a run does not need at start are
imported only when used (docs/performance.md, "Start-up")."""

import subprocess
import sys

# imported only when a message is logged, a type is checked, a help text needs the
# terminal's width...: importing the CLI and parsing a `run` command line must not
# bring them back (docs/performance.md, "Start-up", says what each cost)
LAZY = ("logging", "traceback", "dataclasses", "inspect", "typing", "shutil")


def test_parsing_a_run_command_leaves_lazy_modules_unimported():
    code = ("import sys, slimbox.cli; slimbox.cli._parser().parse_args(['run', '-q', '--', 'prog']); "
            f"print(' '.join(m for m in {LAZY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == [], "imported at start-up again (see docs/performance.md, Start-up)"


# standard modules a run does without (docs/performance.md, "Start-up"): subprocess
# (with locale, re, selectors and threading) is for the library's subprocess-style API
# (SandboxResult, TimeoutExpired); signal and collections are replaced by the C modules
# behind them, without the enum classes and the Python code they add; termios only gave
# request numbers, and operator only a fallback of the named tuples
NOT_FOR_THE_CLI = ("subprocess", "threading", "contextlib", "locale", "selectors", "re", "signal", "enum",
                   "functools", "collections", "termios", "operator")


def test_what_a_run_imports_leaves_unneeded_standard_modules_unimported():
    code = ("import sys, slimbox.cli, slimbox.sandbox, slimbox._network, slimbox.platforms.linux.platform; "
            "slimbox.cli._fast_run_arguments(['run', '-q', '--', 'prog']); "
            f"print(' '.join(m for m in {NOT_FOR_THE_CLI!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == []


def test_a_plain_run_command_line_is_parsed_without_argparse():
    code = ("import sys, slimbox.cli; args = slimbox.cli._fast_run_arguments(['run', '-q', '-v', 'a:b', '--', 'p']); "
            "print(args.quiet, args.volume, args.argv, 'argparse' in sys.modules, 'gettext' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["True", "['a:b']", "['--',", "'p']", "False", "False"]


# command lines the fast path parses, each compared with what argparse makes of it
PARSED_FAST = [
    ["run"],
    ["run", "--", "prog"],
    ["run", "prog", "arg", "-q", "--", "-v"],
    ["run", "-", "x"],
    ["run", "--", "--", "x"],
    ["run", "--", "-x"],
    ["run", "-q", "-v", "/a:/b:ro", "--volume", "/c:/d", "--volume=/e:/f", "-e", "A=B", "-e", "C", "--env=D=E",
     "--", "/bin/true", "x"],
    ["run", "--volume=", "--", "x"],
    ["run", "-e", "", "x"],
    ["run", "--rootfs", "r.tar", "--tmpfs", "/t", "--tmpfs=/u", "-w", "/w", "--workdir=/v", "--hostname", "h",
     "--platform", "emu", "prog"],
    ["run", "--platform", "linux", "--intercept", "ptrace", "prog"],
    ["run", "--intercept=notify", "prog"],
    ["run", "--memory", "64M", "--pids", "7", "--nofile=9", "--tmpfs-size", "1k", "--cpu", "3",
     "--max-file-size", "2G", "--max-output", "100", "--timeout", "1.5", "prog"],
    ["run", "--net", "host", "--allow", "localhost:80", "--allow=127.0.0.1:53", "-p", "8080:80",
     "--publish", "1.2.3.4:1:2", "prog"],
    ["run", "--no-lockdown", "--debug", "--quiet", "--", "prog"],
    ["run", "--timeout=0.25", "--pids=1", "--memory=4096", "prog"],
]
# command lines left to argparse: it parses them (or reports them) as it always did
LEFT_TO_ARGPARSE = [
    [],
    ["--help"],
    ["syscalls"],
    ["host-syscalls", "--markdown"],
    ["optee", "run", "x"],
    ["run", "-h"],
    ["run", "--vol", "a:b", "prog"],          # an abbreviation
    ["run", "-qv", "a:b", "prog"],            # combined short options
    ["run", "-va:b", "prog"],                 # a value attached to a short option
    ["run", "-v=a:b", "prog"],
    ["run", "--strace", "prog"],
    ["run", "--strace=out", "prog"],
    ["run", "-v"],                            # a value missing
    ["run", "-v", "--", "prog"],
    ["run", "-e", "-x", "prog"],
    ["run", "--memory", "5X", "prog"],        # a value that does not convert
    ["run", "--memory", "²", "prog"],
    ["run", "--pids", "0", "prog"],
    ["run", "--timeout", "inf", "prog"],
    ["run", "--quiet=yes", "prog"],
    ["run", "--no-such-option", "prog"],
]


def test_the_fast_path_parses_as_argparse_does():
    from slimbox.cli import _fast_run_arguments, _parser

    for argv in PARSED_FAST:
        fast = _fast_run_arguments(list(argv))
        assert fast is not None, argv
        assert vars(fast) == vars(_parser().parse_args(list(argv))), argv


def test_the_fast_path_leaves_everything_else_to_argparse():
    from slimbox.cli import _fast_run_arguments

    for argv in LEFT_TO_ARGPARSE:
        assert _fast_run_arguments(list(argv)) is None, argv


def test_a_locked_down_run_ends_with_its_output_flushed_and_its_status():
    code = "import sys; from slimbox.cli import _exit; print('out', end=''); print('err', end='', file=sys.stderr); _exit(3)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out", "err")


def test_a_run_imports_with_the_collector_paused_and_freezes_before_the_guest_runs():
    """Every module of the sandbox and its platform is imported with the cyclic collector
    paused; once the run itself starts (it imports the network set-up first thing) the
    collector is on again and everything made so far is frozen out of its reach. The
    working directory does not exist, so no guest starts."""
    code = """if True:
        import gc, sys

        seen = []

        class Recorder:
            def find_spec(self, name, path=None, target=None):
                if name.startswith('slimbox.'):
                    seen.append((name, gc.isenabled(), gc.get_freeze_count()))
                return None

        sys.meta_path.insert(0, Recorder())
        import slimbox.cli
        del seen[:]  # what the command imports once it runs
        status = slimbox.cli.main(['run', '-q', '--no-lockdown', '--platform', 'linux', '-w', '/no/such/dir',
                                   '--', '/bin/true'])
        names = [name for name, _, _ in seen]
        start = names.index('slimbox._network')
        print('status', status)
        print('before the run:', sorted({on for _, on, _ in seen[:start]}))
        print('platform imported before the run:', 'slimbox.platforms.linux.platform' in names[:start])
        print('at the run:', seen[start][1], seen[start][2] > 5000)
        print('collecting after:', gc.isenabled())
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines() == [
        "status 127", "before the run: [False]", "platform imported before the run: True", "at the run: True True",
        "collecting after: True"], proc.stderr


def test_the_package_imports_its_api_on_first_use():
    code = ("import sys, slimbox; before = 'slimbox.sandbox' in sys.modules; "
            "from slimbox import Sandbox, run, Limits, ExecError, InternalError; "
            "print(before, Sandbox.__module__, run.__module__, 'subprocess' in sys.modules, slimbox.SandboxResult.__mro__[1].__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["False", "slimbox.sandbox", "slimbox.sandbox", "False", "CompletedProcess"]
