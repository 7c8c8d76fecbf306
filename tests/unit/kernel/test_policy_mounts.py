"""kernel/policy.py: mount specifications as -v takes them."""

import pytest

from slimbox.kernel.policy import MountSpec, PolicyError


@pytest.mark.parametrize("spec,expected", [
    ("data:/data", ("data", "/data", True)),
    ("a:/b", ("a", "/b", True)),  # a one-letter directory, not a drive
    ("a:/b:ro", ("a", "/b", False)),
    ("/srv/a:/a:ro", ("/srv/a", "/a", False)),
    ("/srv/a:/a:rw", ("/srv/a", "/a", True)),
    ("C:\\data:/data", ("C:\\data", "/data", True)),
    ("d:/work:/work:ro", ("d:/work", "/work", False)),
])
def test_mount_specs_parse(spec, expected):
    mount = MountSpec.parse(spec)
    assert (mount.host, mount.guest, mount.writable) == expected


@pytest.mark.parametrize("spec", [
    "data", "data:", ":/data", "data:rel", "a:/b:/c:/d", "/a:/b:rx", "C:", "C:\\data", "C:/data:rel", "é:\\x:/x",
])
def test_bad_mount_specs_are_refused_with_the_spec_named(spec):
    with pytest.raises(PolicyError, match="bad mount"):
        MountSpec.parse(spec)
