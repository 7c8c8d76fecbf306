"""Hostile probes: programs that try to reach past the sandbox.

Probes in probes/ are built like the guest probes (tests/guest/conftest.py) into
.build/, mounted read-only at /probes. Each prints one `label: RESULT` line per
attempt; the tests compare those with what Linux does, or with the exact refusal the
sandbox gives, and then look at the host to check that nothing reached it.
"""

from __future__ import annotations

import os
import pathlib

import pytest

from tests.guest.conftest import ENV, Outcome, build_probes, run_native, run_sandboxed

HERE = pathlib.Path(__file__).resolve().parent
PROBES = HERE / "probes"
BUILD = HERE / ".build"
GUEST_DIR = "/probes"

__all__ = ["ENV", "GUEST_DIR", "Outcome", "lines", "run_native", "run_sandboxed", "snapshot"]


@pytest.fixture(scope="session")
def hostile() -> pathlib.Path:
    """The build directory of the hostile probes (NAME static musl, NAME.dyn gcc)."""
    return build_probes(PROBES, BUILD)


@pytest.fixture
def sandboxed(hostile):
    """sandboxed(name, *args, mounts=(), ...) runs a hostile probe in a fresh sandbox."""

    def _run(name: str, *args: str, mounts: tuple[str, ...] = (), **kwargs) -> Outcome:
        return run_sandboxed([f"{GUEST_DIR}/{name}", *args], mounts=(f"{hostile}:{GUEST_DIR}:ro", *mounts), **kwargs)

    return _run


@pytest.fixture
def native(hostile, tmp_path):
    """native(name, *args) runs a hostile probe on the host, in an empty directory (only
    for probes whose attempts are harmless there)."""

    def _run(name: str, *args: str, **kwargs) -> Outcome:
        kwargs.setdefault("cwd", str(tmp_path))
        return run_native([str(hostile / name), *args], **kwargs)

    return _run


def snapshot(root: pathlib.Path, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[str, bytes]]:
    """Every entry under `root` (without following symlinks, and without entering the
    directories named in `skip`): relative path -> (mode and mtime, content for a file,
    target for a symlink), so that any change on the host shows."""
    entries: dict[str, tuple[str, bytes]] = {}
    for directory, subdirectories, files in os.walk(root):
        names = sorted(subdirectories + files)
        subdirectories[:] = [name for name in subdirectories
                             if str((pathlib.Path(directory) / name).relative_to(root)) not in skip]
        for name in names:
            path = pathlib.Path(directory) / name
            info = path.lstat()
            if path.is_symlink():
                content = os.readlink(path).encode()
            elif path.is_file():
                content = path.read_bytes()
            else:
                content = b""
            entries[str(path.relative_to(root))] = (f"{info.st_mode:o}:{info.st_mtime_ns}", content)
    return entries


def lines(outcome: Outcome) -> dict[str, str]:
    """The probe's `label: RESULT` lines as a dict (labels are unique within a probe)."""
    found: dict[str, str] = {}
    for line in outcome.stdout.decode(errors="replace").splitlines():
        label, sep, result = line.rpartition(": ")  # labels may hold ": " themselves
        if sep:
            assert label not in found, f"label printed twice: {label}"
            found[label] = result
    return found


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _session_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[4])
    except (OSError, ValueError, IndexError):
        return None


def host_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def first_stub_below(ancestor: int) -> int | None:
    """The host pid of a sandbox's first guest process (a stub whose parent is not a
    stub), among the descendants of `ancestor`."""
    for pid in sorted(host_pids()):
        try:
            if "slimbox-stub" not in os.readlink(f"/proc/{pid}/exe"):
                continue
            parent = _parent_of(pid)
            if parent is None or "slimbox-stub" in os.readlink(f"/proc/{parent}/exe"):
                continue
        except OSError:
            continue
        walk: int | None = pid
        while walk is not None and walk > 1:
            walk = _parent_of(walk)
            if walk == ancestor:
                return pid
    return None


def live_processes_in_session(session: int) -> list[int]:
    """Host processes (zombies aside) still in a session: the sandbox's stubs run in
    one of their own, whose id is the first stub's pid."""
    found = []
    for pid in host_pids():
        if _session_of(pid) == session:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(pid)
            except OSError:
                continue
    return found
