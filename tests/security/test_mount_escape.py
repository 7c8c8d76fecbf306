"""Leaving a host volume: `..`, symlinks the host left and symlinks the guest plants,
descriptors, /proc magic links, renames and hard links across mounts, a read-only
volume, and a symlink the host swaps in during the walk. Every attempt ends inside the
sandbox (or is refused as Linux refuses it across mounts), and on the host nothing
outside the writable volume changes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from .conftest import lines, snapshot

pytestmark = pytest.mark.guest

SECRET = b"host secret\n"


@pytest.fixture
def host_tree(tmp_path):
    """tmp_path/secret.txt next to vol/ (mounted writable at /vol) and ro/ (read-only
    at /ro), with symlinks in vol/ aimed at the secret."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "inside.txt").write_text("inside\n")
    (vol / "abs").symlink_to(tmp_path / "secret.txt")
    (vol / "rel").symlink_to("../secret.txt")
    (vol / "deep").symlink_to("../../../.." + str(tmp_path / "secret.txt"))
    (vol / "dotdot").symlink_to("..")
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "file.txt").write_text("ro\n")
    return tmp_path


def _mounts(tree) -> tuple[str, ...]:
    return (f"{tree / 'vol'}:/vol", f"{tree / 'ro'}:/ro:ro")


# What each attempt gives. '..' at a mount's root stays at the mount point, whose
# parent is the sandbox's root; symlink text is resolved inside the sandbox, where
# the host's paths do not exist. Renames and links between mounts are EXDEV, as on
# Linux; device and socket nodes are never made on the host (EPERM).
EXPECTED = {
    "dotdot past the mount": "ENOENT",
    "many dotdots": "ENOENT",
    "stat /vol/..": "the sandbox root",
    "dotdots then the host path": "ENOENT",
    "the host path itself": "ENOENT",
    "absolute symlink": "ENOENT",
    "relative symlink": "ENOENT",
    "deep symlink": "ENOENT",
    "symlink to dotdot": "ENOENT",
    "stat /vol/dotdot": "the sandbox root",
    "inside file": "read 'inside'",
    "plant relative symlink": "OK",
    "read through planted symlink": "ENOENT",
    "plant dangling symlink": "OK",
    "create through dangling symlink": "OK",
    "write through dangling symlink": "OK",
    "created in the sandbox root": "yes",
    "plant absolute symlink": "OK",
    "read through planted absolute symlink": "ENOENT",
    "open /vol": "OK",
    "openat vol ../secret.txt": "ENOENT",
    "openat vol deep dotdots": "ENOENT",
    "fstatat vol ..": "the sandbox root",
    "openat vol ..": "OK",
    "openat vol .. is": "the sandbox root",
    "openat from the parent": "ENOENT",
    "O_PATH /vol": "OK",
    "openat O_PATH ../secret.txt": "ENOENT",
    "O_PATH|O_NOFOLLOW on the absolute symlink": "OK",
    "reopen the symlink through /proc/self/fd": "ENOENT",
    "openat the symlink with empty path": "ENOENT",
    "fchdir to O_PATH /vol": "OK",
    "relative dotdot from the O_PATH cwd": "ENOENT",
    "chdir /vol": "OK",
    "/proc/self/cwd/../secret.txt": "ENOENT",
    "readlink /proc/self/cwd": "/vol",
    "cwd after ten chdir(..)": "/",
    "/proc/self/fd/N/../secret.txt": "ENOENT",
    "/proc/self/fd/N/../../../..": "the sandbox root",
    "rename out to /tmp": "EXDEV",
    "rename out through dotdot": "EXDEV",
    "renameat across mounts": "EXDEV",
    "rename in from /etc": "EXDEV",
    "hard link /etc/passwd into the volume": "EXDEV",
    "hard link out of the volume": "EXDEV",
    "hard link across volumes": "EXDEV",
    "linkat AT_EMPTY_PATH into the volume": "EXDEV",
    "linkat through /proc/self/fd": "EXDEV",
    "mknod a device in the volume": "EPERM",
    "mknod a socket in the volume": "EPERM",
    "open ro file for writing": "EROFS",
    "open ro file with O_TRUNC": "EROFS",
    "create in ro": "EROFS",
    "unlink in ro": "EROFS",
    "mkdir in ro": "EROFS",
    "symlink in ro": "EROFS",
    "chmod in ro": "EROFS",
    "truncate in ro": "EROFS",
    "utimensat in ro": "EROFS",
    "rename in ro": "EROFS",
    "rename into ro": "EXDEV",
    "ro file": "read 'ro'",
}

# what the guest may leave in the writable volume: its own symlinks, as written
PLANTED = {
    "vol/planted": b"../secret.txt",
    "vol/planted-create": b"../created-outside",
    "vol/planted-abs": None,  # the host path of the secret, filled in by the test
}


@pytest.mark.parametrize("build", ["mount_escape", "mount_escape.dyn"])
def test_escapes_from_host_volumes_stay_in_the_sandbox(sandboxed, host_tree, build):
    before = snapshot(host_tree)
    secret_path = str(host_tree / "secret.txt")
    result = sandboxed(build, secret_path, mounts=_mounts(host_tree))
    assert result.returncode == 0, result.stderr
    assert lines(result) == EXPECTED
    assert SECRET not in result.stdout

    after = snapshot(host_tree)
    planted = {**PLANTED, "vol/planted-abs": secret_path.encode()}
    assert {name: after[name][1] for name in planted if name in after} == planted
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert changed == {"vol", *planted}, "the host changed outside what the guest may write"


RACE_SECONDS = 1.5

# Swaps vol/flip between a directory holding a decoy and a symlink to '..' (on the
# host, the directory holding the real secret), as fast as it can.
FLIPPER = textwrap.dedent("""
    import os, sys, time
    vol = sys.argv[1]
    flip, as_dir, as_link = (os.path.join(vol, n) for n in ("flip", ".flip-dir", ".flip-link"))
    until = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < until:
        os.rename(as_dir, flip)
        os.rename(flip, as_dir)
        os.rename(as_link, flip)
        os.rename(flip, as_link)
""")


def test_a_symlink_swapped_in_by_the_host_mid_walk_resolves_inside(sandboxed, host_tree):
    vol = host_tree / "vol"
    (vol / ".flip-dir").mkdir()
    (vol / ".flip-dir" / "secret.txt").write_text("decoy\n")
    (vol / ".flip-link").symlink_to("..")
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(vol), str(RACE_SECONDS + 2)])
    try:
        result = sandboxed("symlink_race", str(int(RACE_SECONDS * 1000)), mounts=_mounts(host_tree))
    finally:
        flipper.kill()
        flipper.wait()
    assert result.returncode == 0, result.stderr
    assert lines(result) == {"decoy read": "1", "missed": "1", "host secret read": "0", "other content read": "0"}
    assert (host_tree / "secret.txt").read_bytes() == SECRET
