"""A short piece of CPython's own regression suite (Debian's libpython3.11-testsuite) run by
its driver with two worker processes, natively and in the sandbox: the same modules pass.
The whole subset is `make cpython-tests` (docs/cpython-tests.md)."""

import os
import re

import pytest

from .conftest import run_native, run_sandboxed

pytestmark = pytest.mark.guest

PYTHON = "/usr/bin/python3.11"
MODULES = ["test_fcntl", "test_select", "test_epoll", "test_resource"]


def outcome(output: bytes) -> tuple[str, ...]:
    """regrtest's per-module progress lines, without times and in module order."""
    found = re.findall(r"\] (test_\w+) (\w+)", output.decode(errors="replace"))
    return tuple(sorted(f"{module} {verdict}" for module, verdict in found))


@pytest.mark.skipif(not os.path.exists("/usr/lib/python3.11/test/test_fcntl.py"),
                    reason="needs Debian's libpython3.11-testsuite")
def test_a_few_regression_modules_pass_as_natively(tmp_path):
    argv = [PYTHON, "-m", "test", "-j", "2", "--timeout", "120", *MODULES]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path), "LANG": "C.UTF-8"}
    native = run_native(argv, env=env, cwd=str(tmp_path), timeout=300)
    sandboxed = run_sandboxed(argv, env={**env, "HOME": "/root", "TMPDIR": "/tmp"}, timeout=300)
    assert outcome(native.stdout) == tuple(f"{m} passed" for m in sorted(MODULES))
    assert outcome(sandboxed.stdout) == outcome(native.stdout)
    assert sandboxed.returncode == native.returncode == 0
