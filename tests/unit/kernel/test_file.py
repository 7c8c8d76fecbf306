"""kernel/file.py: what an open file description allows."""

from __future__ import annotations

import pytest

from slimbox.kernel.file import O_ACCMODE, O_APPEND, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, File


@pytest.mark.parametrize("access, readable, writable", [
    (O_RDONLY, True, False), (O_WRONLY, False, True), (O_RDWR, True, True), (O_ACCMODE, False, False),
])
@pytest.mark.parametrize("other", [0, O_APPEND | O_NONBLOCK])
def test_access_mode_decides_reading_and_writing(access, readable, writable, other):
    file = File(access | other)
    assert (file.readable, file.writable) == (readable, writable)
    path = File(access | other | O_PATH)
    assert (path.readable, path.writable) == (False, False)
