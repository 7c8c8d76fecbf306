"""Guest tests: the same program natively and in the sandbox, compared.

Probes in probes/ are compiled at test time (musl-gcc -static, and gcc for dynamic
builds) into a build directory that is mounted read-only at /probes in the sandbox.
Natively they run in a fresh temporary directory; in the sandbox in a fresh /tmp.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import pytest

import slimbox

HERE = pathlib.Path(__file__).resolve().parent
PROBES = HERE / "probes"
BUILD = HERE / ".build"
GUEST_DIR = "/probes"
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LC_ALL": "C", "TZ": "UTC"}


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: bytes
    stderr: bytes


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: run `make deps` (Debian: musl-tools, gcc)")
    return path


def _compile(compiler: str, source: pathlib.Path, out: pathlib.Path, extra: list[str], headers: bytes = b"") -> None:
    digest = hashlib.sha256(source.read_bytes() + headers + compiler.encode()
                            + " ".join(extra).encode()).hexdigest()[:16]
    stamp = out.parent / f"{out.name}.stamp"  # NAME and NAME.dyn each have their own
    if out.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    subprocess.run([compiler, "-O1", "-Wall", "-o", str(out), str(source), *extra], check=True)
    stamp.write_text(digest)


def build_probes(sources: pathlib.Path, build: pathlib.Path) -> pathlib.Path:
    """Build every sources/*.c twice into `build`: NAME (static musl) and NAME.dyn (gcc,
    dynamic). A probe is rebuilt when it, or a header next to it, changes."""
    musl = _need("musl-gcc")
    gcc = _need("gcc")
    build.mkdir(exist_ok=True)
    headers = b"".join(header.read_bytes() for header in sorted(sources.glob("*.h")))
    for source in sorted(sources.glob("*.c")):
        _compile(musl, source, build / source.stem, ["-static"], headers)
        _compile(gcc, source, build / f"{source.stem}.dyn", [], headers)
    return build


@pytest.fixture(scope="session")
def probes() -> pathlib.Path:
    """Directory with each probe built twice: NAME (static musl) and NAME.dyn (gcc, dynamic)."""
    return build_probes(PROBES, BUILD)


def run_native(argv: list[str], *, env: dict | None = None, input: bytes | None = None,
               cwd: str | None = None, timeout: float = 60) -> Outcome:
    proc = subprocess.run(argv, env=ENV if env is None else env, input=input, capture_output=True,
                          cwd=cwd, timeout=timeout)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def run_sandboxed(argv: list[str], *, env: dict | None = None, input: bytes | None = None,
                  mounts: tuple[str, ...] = (), cwd: str = "/tmp", timeout: float = 60,
                  platform: str = "linux") -> Outcome:
    if os.environ.get(TRACE_ENV) and platform == "linux":
        return _run_traced(argv, env=ENV if env is None else env, input=input, mounts=mounts, cwd=cwd,
                           timeout=timeout)
    # emulated code runs many times slower than native: give it more time on a busy machine
    result = slimbox.run(argv, env=ENV if env is None else env, input=input, capture_output=True,
                         mounts=mounts, cwd=cwd, timeout=timeout * 3 if platform == "emu" else timeout,
                         platform=platform)
    return Outcome(result.returncode, result.stdout, result.stderr)


# The host-syscall audit (tests/security/test_lockdown.py) reruns this suite with this
# variable naming a directory: each sandbox then runs locked down in its own process
# under strace, which leaves one log of the supervisor's host syscalls there per run.
TRACE_ENV = "SLIMBOX_TRACE_SUPERVISOR_INTO"


def _run_traced(argv: list[str], *, env: dict, input: bytes | None, mounts: tuple[str, ...], cwd: str,
                timeout: float) -> Outcome:
    directory = pathlib.Path(os.environ[TRACE_ENV])
    fd, request = tempfile.mkstemp(dir=directory, suffix=".json")
    os.close(fd)
    stem = request[:-len(".json")]
    pathlib.Path(request).write_text(json.dumps({
        "argv": argv, "env": env, "mounts": list(mounts), "cwd": cwd, "timeout": timeout,
        "input": None if input is None else base64.b64encode(input).decode()}))
    subprocess.run(["strace", "-qq", "-o", f"{stem}.strace", sys.executable, str(HERE / "locked_runner.py"),
                    request, f"{stem}.result"], check=True, timeout=timeout + 60)
    result = json.loads(pathlib.Path(f"{stem}.result").read_text())
    return Outcome(result["returncode"], base64.b64decode(result["stdout"]), base64.b64decode(result["stderr"]))


# --- platforms ----------------------------------------------------------------------
# A test marked `every_platform` runs once per platform (linux, kvm, emu) through the
# `guest_platform` parameter; every other test runs on linux only. A platform this host
# cannot offer is skipped with the reason. A test that is known to differ on a platform
# is listed, with the reason, in differences_<platform>.py and expected to fail there.

GUEST_PLATFORMS = ("linux", "kvm", "emu")


def pytest_generate_tests(metafunc):
    if "guest_platform" in metafunc.fixturenames and metafunc.definition.get_closest_marker("every_platform"):
        # the host-syscall audit reruns this suite for the Linux platform's list only
        metafunc.parametrize("guest_platform", ("linux",) if os.environ.get(TRACE_ENV) else GUEST_PLATFORMS)


@pytest.fixture
def guest_platform() -> str:
    return "linux"


def _differences(platform: str) -> dict[str, str]:
    import importlib

    return importlib.import_module(f"{__package__}.differences_{platform}").DIFFERENCES


def pytest_collection_modifyitems(config, items):
    differences = {name: _differences(name) for name in GUEST_PLATFORMS if name != "linux"}
    for item in items:
        callspec = getattr(item, "callspec", None)
        platform = callspec.params.get("guest_platform") if callspec else None
        reason = differences.get(platform, {}).get(item.name)
        if reason:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"{platform}: {reason}"))


@pytest.fixture(scope="session")
def _platform_unavailable() -> dict[str, str | None]:
    return {}


@pytest.fixture
def usable_platform(guest_platform, _platform_unavailable) -> str:
    """`guest_platform`, or a skip saying why this host cannot run it."""
    if guest_platform not in _platform_unavailable:
        from slimbox import _platforms as registry
        from slimbox.platforms.base import PlatformUnavailable

        try:
            registry.make_platform(guest_platform, registry.make_host(guest_platform)).close()
            _platform_unavailable[guest_platform] = None
        except PlatformUnavailable as exc:
            _platform_unavailable[guest_platform] = f"{type(exc).__name__}: {exc}"
    reason = _platform_unavailable[guest_platform]
    if reason:
        pytest.skip(f"platform {guest_platform} is not available here: {reason}")
    return guest_platform


@pytest.fixture
def compare(probes, tmp_path, usable_platform):
    """compare(name_or_argv, ...) runs a probe (or a host program) natively and in the
    sandbox and asserts identical stdout, stderr and exit status; returns the outcome."""

    def _compare(program: str | list[str], *args: str, input: bytes | None = None,
                 env: dict | None = None) -> Outcome:
        if isinstance(program, list):
            native_argv = sandbox_argv = program
        else:
            native_argv = [str(probes / program), *args]
            sandbox_argv = [f"{GUEST_DIR}/{program}", *args]
        native = run_native(native_argv, env=env, input=input, cwd=str(tmp_path))
        sandboxed = run_sandboxed(sandbox_argv, env=env, input=input, mounts=(f"{probes}:{GUEST_DIR}:ro",),
                                  platform=usable_platform)
        assert sandboxed.stdout.decode(errors="replace") == native.stdout.decode(errors="replace")
        assert sandboxed.stderr.decode(errors="replace") == native.stderr.decode(errors="replace")
        assert sandboxed.returncode == native.returncode
        return sandboxed

    return _compare


def slimbox_cli(*args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real command line, in a child process."""
    return subprocess.run([sys.executable, "-m", "slimbox", *args], input=input, capture_output=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(HERE.parent.parent / "src")})


@pytest.fixture
def counted_turns(monkeypatch) -> list:
    """Grows by one at each turn of the kernel loop (Kernel.step) from now on."""
    from slimbox.kernel.kernel import Kernel

    turns: list = []
    step = Kernel.step

    def counting_step(self, max_wait_ns=None):
        turns.append(1)
        return step(self, max_wait_ns)

    monkeypatch.setattr(Kernel, "step", counting_step)
    return turns
