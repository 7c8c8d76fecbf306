"""kernel/fd.py: the descriptor table (numbers, close-on-exec, reference counts)."""

from __future__ import annotations

import pytest

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fd import FdTable
from slimbox.kernel.file import File, O_RDONLY


class Tracked(File):
    """A file description that counts its releases."""

    def __init__(self, name: str = "") -> None:
        super().__init__(O_RDONLY)
        self.name = name
        self.released = 0

    def release(self) -> None:
        self.released += 1


def errno_of(action, *args, **kwargs) -> int | None:
    try:
        action(*args, **kwargs)
    except LinuxError as exc:
        return exc.errno
    return None


def test_install_takes_the_lowest_free_number():
    fds = FdTable()
    files = [Tracked(str(i)) for i in range(4)]
    assert [fds.install(f) for f in files[:3]] == [0, 1, 2]
    fds.close(1)
    assert fds.install(files[3]) == 1
    assert fds.get(1) is files[3]


def test_install_respects_the_minimum_and_the_limit():
    fds = FdTable(limit=8)
    assert fds.install(Tracked(), minimum=5) == 5
    assert fds.install(Tracked(), minimum=5) == 6
    assert fds.install(Tracked(), minimum=5) == 7
    assert errno_of(fds.install, Tracked(), minimum=5) == Errno.EMFILE  # no number left below the limit
    assert errno_of(fds.install, Tracked(), minimum=8) == Errno.EINVAL  # F_DUPFD at or past RLIMIT_NOFILE


def test_get_and_close_of_unknown_numbers_are_ebadf():
    fds = FdTable()
    for fd in (-1, 0, 3, 1 << 40):
        assert errno_of(fds.get, fd) == Errno.EBADF
        assert errno_of(fds.close, fd) == Errno.EBADF
    assert errno_of(fds.set_cloexec, 0, True) == Errno.EBADF
    assert errno_of(fds.get_cloexec, 0) == Errno.EBADF


def test_description_is_released_when_its_last_descriptor_closes():
    fds = FdTable()
    file = Tracked()
    fd = fds.install(file)
    dup = fds.install(fds.get(fd))
    assert file.refs == 2
    fds.close(fd)
    assert file.released == 0
    fds.close(dup)
    assert file.released == 1 and file.refs == 0


def test_install_at_closes_what_was_there():
    fds = FdTable()
    old, new = Tracked("old"), Tracked("new")
    fds.install_at(4, old)
    fds.install_at(4, new)
    assert fds.get(4) is new
    assert old.released == 1 and new.released == 0


def test_install_at_the_same_description_keeps_it_and_only_sets_the_flag():
    fds = FdTable()
    file = Tracked()
    fds.install_at(3, file)
    fds.install_at(3, file, cloexec=True)
    assert file.refs == 1 and file.released == 0
    assert fds.get_cloexec(3)
    fds.install_at(3, file)
    assert not fds.get_cloexec(3)


@pytest.mark.parametrize("fd", [-1, 1024, 1 << 31])
def test_install_at_out_of_range_is_ebadf(fd):
    fds = FdTable()
    file = Tracked()
    assert errno_of(fds.install_at, fd, file) == Errno.EBADF
    assert file.refs == 0


def test_close_on_exec_closes_exactly_the_marked_descriptors():
    fds = FdTable()
    keep, drop, shared = Tracked("keep"), Tracked("drop"), Tracked("shared")
    fds.install(keep)
    fds.install(drop, cloexec=True)
    a = fds.install(shared, cloexec=True)
    b = fds.install(shared)
    fds.close_on_exec()
    assert [fd for fd, _ in fds.items()] == [0, b]
    assert a not in fds
    assert drop.released == 1 and keep.released == 0 and shared.released == 0


def test_close_on_exec_flag_is_per_descriptor():
    fds = FdTable()
    file = Tracked()
    a = fds.install(file, cloexec=True)
    b = fds.install(file)
    assert fds.get_cloexec(a) and not fds.get_cloexec(b)
    fds.set_cloexec(a, False)
    fds.set_cloexec(b, True)
    assert not fds.get_cloexec(a) and fds.get_cloexec(b)


def test_a_reused_number_does_not_inherit_close_on_exec():
    fds = FdTable()
    fd = fds.install(Tracked(), cloexec=True)
    fds.close(fd)
    assert fds.install(Tracked()) == fd
    assert not fds.get_cloexec(fd)


def test_copy_shares_descriptions_and_flags():
    fds = FdTable(limit=64)
    file = Tracked()
    fds.install(file)
    fds.install(file, cloexec=True)
    clone = fds.copy()
    assert clone.limit == 64
    assert clone.get(0) is file and clone.get(1) is file
    assert clone.get_cloexec(1) and not clone.get_cloexec(0)
    assert file.refs == 4
    clone.close_all()
    assert file.released == 0 and fds.count() == 2
    fds.close_all()
    assert file.released == 1 and fds.count() == 0


def test_lowest_free_number_matches_a_plain_search_after_any_mix_of_operations():
    """The table remembers where its lowest free number may be; whatever install,
    install_at, close and copy did before, install takes the number a search from 0
    (or from the minimum) finds."""
    import random

    rng = random.Random(7)
    fds = FdTable(limit=64)
    for _ in range(3000):
        action = rng.randrange(5)
        used = {fd for fd, _ in fds.items()}
        if action == 0 and len(used) < 64:
            expected = min(n for n in range(64) if n not in used)
            assert fds.install(Tracked()) == expected
        elif action == 1:
            minimum = rng.randrange(64)
            free = [n for n in range(minimum, 64) if n not in used]
            if free:
                assert fds.install(Tracked(), minimum=minimum) == free[0]
            else:
                assert errno_of(fds.install, Tracked(), minimum=minimum) == Errno.EMFILE
        elif action == 2:
            fds.install_at(rng.randrange(64), Tracked())
        elif action == 3 and used:
            fds.close(rng.choice(sorted(used)))
        elif action == 4:
            fds = fds.copy()
