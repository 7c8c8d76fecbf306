"""The command's start-up stays lean: modules that a run does not need at start are
imported only when used (docs/performance.md, "Start-up")."""

import subprocess
import sys

from slimbox.kernel.log import StderrLog

# imported only when a message is logged, a type is checked, a help text needs the
# terminal's width...: importing the CLI and parsing a `run` command line must not
# bring them back (docs/performance.md, "Start-up", says what each cost)
LAZY = ("logging", "traceback", "dataclasses", "inspect", "typing", "shutil")


def test_parsing_a_run_command_leaves_lazy_modules_unimported():
    code = ("import sys, slimbox.cli; slimbox.cli._parser().parse_args(['run', '-q', '--', 'prog']); "
            f"print(' '.join(m for m in {LAZY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == [], "imported at start-up again (see docs/performance.md, Start-up)"


def test_log_prints_messages_from_its_level_up(capsys):
    log = StderrLog(30)
    log.info("hidden %s", 1)
    log.warning("unsupported syscall %s -> ENOSYS", "foo(1)")
    log.error("plain")
    assert capsys.readouterr().err == "slimbox: unsupported syscall foo(1) -> ENOSYS\nslimbox: plain\n"


def test_log_appends_the_traceback_when_asked(capsys):
    log = StderrLog(10)
    try:
        raise KeyError("planted")
    except KeyError:
        log.debug("internal error", exc_info=True)
    err = capsys.readouterr().err
    assert err.startswith("slimbox: internal error\nTraceback (most recent call last):\n")
    assert err.rstrip().endswith("KeyError: 'planted'")
