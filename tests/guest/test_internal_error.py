"""A bug in a syscall handler stops that sandbox, with a one-line report naming the
syscall and a distinct exit status; it is never swallowed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import slimbox

# Plants a bug in the sysinfo handler of every Linux personality created afterwards.
PLANT_BUG = """
from slimbox.abi.syscalls import BY_NAME
from slimbox.shims.linux.personality import LinuxPersonality

def plant_bug():
    original = LinuxPersonality.__init__
    nr = BY_NAME["sysinfo"].nr

    def broken(task, *args):
        raise KeyError("planted bug")

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        _, *rest = self._dispatch[nr]
        self._dispatch[nr] = (broken, *rest)

    LinuxPersonality.__init__ = init
    return original
"""


def test_api_raises_internal_error_and_a_new_sandbox_still_works():
    scope: dict = {}
    exec(PLANT_BUG, scope)
    original = scope["plant_bug"]()
    try:
        with pytest.raises(slimbox.InternalError) as caught:
            slimbox.run(["/bin/busybox", "sh", "-c", "echo before; busybox sleep 30 & busybox free; echo after"],
                        capture_output=True, timeout=60)
    finally:
        scope["LinuxPersonality"].__init__ = original
    assert caught.value.syscall == "sysinfo"
    assert "internal error in sysinfo" in str(caught.value) and "KeyError" in str(caught.value)
    again = slimbox.run(["/bin/busybox", "uname", "-s"], capture_output=True, timeout=60)
    assert again.returncode == 0 and again.stdout == b"Linux\n"


def test_cli_reports_one_line_and_exits_70():
    script = PLANT_BUG + textwrap.dedent("""
        import sys
        from slimbox.cli import main
        plant_bug()
        sys.exit(main(["run", "-q", "--", "/bin/busybox", "sh", "-c", "echo before; busybox free; echo after"]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 70
    assert proc.stdout == "before\n"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("slimbox: internal error in sysinfo (pid ")
    assert "KeyError" in lines[0] and lines[0].endswith("the sandbox was stopped")
