"""Constants the kernel keeps as plain ints (for speed and start-up) agree with the
ABI's definitions."""

import pytest

from slimbox.abi import flags
from slimbox.kernel import clone, file, mm
from slimbox.platforms.linux import _native
from slimbox.shims.linux import common


@pytest.mark.parametrize("module, cls", [
    (file, flags.OpenFlag), (mm, flags.MapFlag), (mm, flags.Prot), (mm, flags.MremapFlag),
    (clone, flags.CloneFlag), (_native, flags.CloneFlag),
])
def test_kernel_constants_match_the_abi(module, cls):
    shared = [name for name in dir(module) if name in cls.__members__]
    assert shared, f"{module.__name__} shares no names with {cls.__name__}"
    for name in shared:
        assert getattr(module, name) == cls.__members__[name].value, name


def test_plain_access_modes_and_at_constants():
    assert (file.O_ACCMODE, file.O_RDONLY, file.O_WRONLY, file.O_RDWR) == (
        flags.O_ACCMODE, flags.O_RDONLY, flags.O_WRONLY, flags.O_RDWR)
    assert common.AT_FDCWD == flags.AT_FDCWD
    for name in ("AT_SYMLINK_NOFOLLOW", "AT_REMOVEDIR", "AT_SYMLINK_FOLLOW", "AT_EMPTY_PATH"):
        assert getattr(common, name) == flags.AtFlag.__members__[name].value
