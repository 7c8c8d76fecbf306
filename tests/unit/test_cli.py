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
