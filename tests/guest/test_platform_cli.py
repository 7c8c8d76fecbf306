"""Each platform through the command line, which locks the supervisor down before the
guest runs (the Linux and KVM platforms install their seccomp filters; the emu platform
has none): a shell pipeline and Debian's python3 give their native output."""

import pytest

from .conftest import run_native, slimbox_cli

pytestmark = pytest.mark.guest

PROGRAMS = {
    "shell": ["/bin/busybox", "sh", "-c", "echo one two | wc -w; ls /etc/os-release; exit 3"],
    "python3": ["/usr/bin/python3", "-c", "import json, os, sys; print(json.dumps(sorted(os.listdir('/usr'))[:2]));"
                "sys.stderr.write('err\\n'); sys.exit(5)"],
}


@pytest.mark.every_platform
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_locked_down_cli_run_matches_native(usable_platform, program):
    argv = PROGRAMS[program]
    native = run_native(argv)
    sandboxed = slimbox_cli("run", "--platform", usable_platform, "--", *argv,
                            timeout=180 if usable_platform == "emu" else 60)
    assert (sandboxed.returncode, sandboxed.stdout, sandboxed.stderr) == (native.returncode, native.stdout,
                                                                           native.stderr)
