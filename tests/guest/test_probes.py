"""Acceptance 2: static musl probes (and their glibc dynamic builds) print exactly
what they print natively."""

import pytest

pytestmark = pytest.mark.guest

PROBES = ["hello", "files", "mm", "time", "random_uname", "memfd"]


@pytest.mark.every_platform
@pytest.mark.parametrize("name", PROBES)
def test_static_probe_matches_native(compare, name):
    compare(name)


@pytest.mark.every_platform
def test_argv_env_auxv_match_native(compare):
    env = {"PATH": "/usr/bin:/bin", "PROBE_B": "two words", "PROBE_A": "1", "OTHER": "x"}
    compare("argv_env_auxv", "a", "b c", "", env=env)


@pytest.mark.every_platform
@pytest.mark.parametrize("status", ["0", "3", "kill"])
def test_exit_status_and_streams_match_native(compare, status):
    compare("exit_status", status)


@pytest.mark.every_platform
def test_stdin_passes_through(compare):
    compare("stdin_echo", input=bytes(range(256)) * 400)


@pytest.mark.every_platform
@pytest.mark.parametrize("name", PROBES)
def test_dynamic_probe_matches_native(compare, name):
    compare(f"{name}.dyn")
