"""Very long names, paths, symlink targets and symlink chains, directory chains deeper
than PATH_MAX, and argument lists and environments past the kernel's limits: the same
answers as Linux gives natively (in an empty directory), in the sandbox's memory /tmp
and on a host volume, and nothing on the host outside that volume changes."""

from __future__ import annotations

import pytest

from .conftest import lines, snapshot

pytestmark = pytest.mark.guest

GETCWD = "getcwd deeper than PATH_MAX"


@pytest.fixture
def natively(native):
    outcome = native("long_paths")
    assert outcome.returncode == 0
    return lines(outcome)


def test_long_paths_in_memory_match_linux(sandboxed, natively):
    result = sandboxed("long_paths", cwd="/tmp")
    assert result.returncode == 0, result.stderr
    assert lines(result) == natively


def test_long_paths_on_a_host_volume_match_linux_and_stay_inside(sandboxed, natively, tmp_path):
    host = tmp_path / "host"
    volume = host / "volume"
    volume.mkdir(parents=True)
    (host / "beside.txt").write_text("beside\n")
    outside = snapshot(host, skip=("volume",))
    result = sandboxed("long_paths", cwd="/vol", mounts=(f"{volume}:/vol",))
    assert result.returncode == 0, result.stderr
    assert lines(result) == natively
    after = snapshot(host, skip=("volume",))
    outside.pop("volume"), after.pop("volume")  # its own times change, as they must
    assert after == outside
    assert (volume / ("d" * 200)).is_dir()  # the chain was really made on the host


def test_getcwd_deeper_than_a_page_is_enametoolong(sandboxed, natively):
    assert natively[GETCWD] == "ENAMETOOLONG"
    assert lines(sandboxed("long_paths", cwd="/tmp"))[GETCWD] == "ENAMETOOLONG"
