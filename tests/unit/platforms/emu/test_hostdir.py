"""platforms/emu/hostdir.py: host directories by checked path chains, never leaving the
mounted directory, with hostile names, links pointing out and files swapped for links."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from slimbox.platforms.emu import hostdir
from slimbox.platforms.emu.hostdir import PortableHostDirectory, check_component, host_stat

O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND = 0, 1, 2, 0o100, 0o200, 0o1000, 0o2000


@pytest.fixture
def tree(tmp_path):
    """mount/ (the directory the sandbox gets) and outside/ (what it must never reach)."""
    mount, outside = tmp_path / "mount", tmp_path / "outside"
    mount.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (mount / "file").write_bytes(b"hello")
    (mount / "sub").mkdir()
    (mount / "sub" / "inner").write_bytes(b"inner")
    return mount, outside


def _errno(call, *args) -> int:
    with pytest.raises(OSError) as info:
        call(*args)
    return info.value.errno


@pytest.fixture
def root(tree):
    directory = PortableHostDirectory.open(str(tree[0]), writable=True)
    yield directory
    directory.close()


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [b"", b".", b"..", b"a/b", b"/", b"/etc", b"a\0b", b"\0"])
def test_a_name_that_is_not_one_component_is_refused_everywhere(root, name):
    calls = [(root.lookup, name), (root.subdir, name), (root.open_file, name, O_RDONLY, 0), (root.readlink, name),
             (root.mkdir, name, 0o755), (root.rmdir, name), (root.unlink, name), (root.symlink, b"x", name),
             (root.chmod, name, 0o644), (root.set_times, name, 0, 0), (root.rename, name, root, b"x"),
             (root.rename, b"file", root, name), (root.link, b"file", root, name)]
    for call, *args in calls:
        assert _errno(call, *args) == errno.EINVAL, call.__name__


@pytest.mark.parametrize("name", [b"a\\b", b"c:", b"x:stream", b"NUL", b"nul.txt", b"COM1", b"lpt9.log", b"con ",
                                  b"trailing.", b"trailing ", b"a*b", b"a?", b"\xff\xfe", b"tab\tname",
                                  "COM\u00b9".encode()])
def test_names_windows_would_read_differently_are_refused_there(name):
    with pytest.raises(OSError) as info:
        check_component(name, windows=True)
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("name", [b"file", b"COMMON", b"console.log", b"a.b.c", b".hidden", "\u00e9t\u00e9".encode()])
def test_ordinary_names_pass_on_windows(name):
    assert check_component(name, windows=True) == name.decode()


def test_names_are_bytes_on_posix_and_come_back_unchanged(root, tree):
    odd = b"\xff\xfename"
    root.open_file(odd, O_CREAT | O_WRONLY, 0o644).close()
    assert odd in [name for name, _, _ in root.list()]
    assert stat.S_ISREG(root.lookup(odd).mode)


# --- links never followed -----------------------------------------------------------------


def test_a_symlink_pointing_out_is_seen_as_a_link_and_never_followed(root, tree):
    mount, outside = tree
    os.symlink(outside, mount / "out_dir")
    os.symlink(outside / "secret", mount / "out_file")
    assert stat.S_ISLNK(root.lookup(b"out_dir").mode)
    assert root.readlink(b"out_file") == os.fsencode(outside / "secret")
    assert _errno(root.subdir, b"out_dir") == errno.ENOTDIR
    assert _errno(root.open_file, b"out_file", O_RDONLY, 0) == errno.ELOOP
    assert _errno(root.open_file, b"out_file", O_WRONLY | O_TRUNC, 0) == errno.ELOOP
    assert _errno(root.open_file, b"out_file", O_WRONLY | O_CREAT, 0o644) == errno.ELOOP
    assert _errno(root.chmod, b"out_file", 0o777) == errno.EOPNOTSUPP
    assert _errno(root.rmdir, b"out_dir") == errno.ENOTDIR
    root.set_times(b"out_file", 1_000_000_000, 2_000_000_000)  # the link's own times
    root.unlink(b"out_dir")  # removes the link, not what it points to
    assert (outside / "secret").read_bytes() == b"secret"
    assert os.stat(outside / "secret").st_mtime_ns != 2_000_000_000
    assert stat.S_IMODE(os.stat(outside / "secret").st_mode) != 0o777


def test_the_mount_path_itself_may_go_through_a_link(tree, tmp_path):
    os.symlink(tree[0], tmp_path / "via_link")
    directory = PortableHostDirectory.open(str(tmp_path / "via_link"), writable=False)
    assert directory.open_file(b"file", O_RDONLY, 0).pread(5, 0) == b"hello"


def test_a_mount_path_that_is_not_a_directory_is_refused(tree):
    assert _errno(PortableHostDirectory.open, str(tree[0] / "file"), False) == errno.ENOTDIR
    assert _errno(PortableHostDirectory.open, str(tree[0] / "missing"), False) == errno.ENOENT


def test_a_file_swapped_for_a_symlink_is_not_opened(root, tree):
    mount, outside = tree
    os.unlink(mount / "file")
    os.symlink(outside / "secret", mount / "file")
    assert _errno(root.open_file, b"file", O_RDWR | O_TRUNC, 0) == errno.ELOOP
    assert (outside / "secret").read_bytes() == b"secret"


@pytest.mark.parametrize("no_nofollow", [False, True])
def test_a_file_swapped_for_a_symlink_between_check_and_open_is_caught(root, tree, monkeypatch, no_nofollow):
    """The race of the module docstring, played out: the swap happens inside os.open.
    Without O_NOFOLLOW the host follows the link, so the identities must catch it, and
    truncation (done only after the check) never touches the file outside."""
    mount, outside = tree
    if no_nofollow:
        monkeypatch.setattr(hostdir, "_OPEN_ALWAYS", hostdir._OPEN_ALWAYS & ~getattr(os, "O_NOFOLLOW", 0))
    real_open = os.open

    def swapping_open(path, flags, mode=0o777, **kwargs):
        if os.fspath(path).endswith("file"):
            os.unlink(path)
            os.symlink(outside / "secret", path)
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(hostdir.os, "open", swapping_open)
    code = _errno(root.open_file, b"file", O_RDWR | O_TRUNC, 0)
    assert code == (errno.ENOENT if no_nofollow else errno.ELOOP)
    assert (outside / "secret").read_bytes() == b"secret"


def test_a_directory_swapped_for_a_link_reads_as_gone(root, tree):
    mount, outside = tree
    sub = root.subdir(b"sub")
    os.rename(mount / "sub", mount / "moved")
    os.symlink(outside, mount / "sub")
    for call, *args in [(sub.lookup, b"secret"), (sub.open_file, b"secret", O_RDONLY, 0), (sub.list,),
                        (sub.unlink, b"secret"), (sub.stat,), (sub.mkdir, b"new", 0o755)]:
        assert _errno(call, *args) == errno.ENOENT, call.__name__
    assert (outside / "secret").exists() and not (outside / "new").exists()


def test_a_parent_swapped_for_a_link_stops_its_descendants_too(root, tree):
    mount, outside = tree
    (mount / "sub" / "deeper").mkdir()
    deeper = root.subdir(b"sub").subdir(b"deeper")
    (outside / "deeper").mkdir()
    os.rename(mount / "sub", mount / "moved")
    os.symlink(outside, mount / "sub")
    assert _errno(deeper.open_file, b"x", O_CREAT | O_WRONLY, 0o644) == errno.ENOENT
    assert not (outside / "deeper" / "x").exists()


def test_a_directory_renamed_through_the_interface_keeps_working(root, tree):
    mount, _ = tree
    (mount / "sub" / "deeper").mkdir()
    sub = root.subdir(b"sub")
    deeper = sub.subdir(b"deeper")
    other = root.subdir(b"sub")  # a second handle on the same directory
    root.mkdir(b"dest", 0o755)
    root.rename(b"sub", root.subdir(b"dest"), b"renamed")
    assert sub.open_file(b"inner", O_RDONLY, 0).pread(5, 0) == b"inner"
    assert other.lookup(b"inner").size == 5
    deeper.open_file(b"made", O_CREAT | O_WRONLY, 0o644).close()
    assert (mount / "dest" / "renamed" / "deeper" / "made").exists()


def test_a_removed_directory_reads_as_gone(root, tree):
    (tree[0] / "empty").mkdir()
    empty = root.subdir(b"empty")
    root.rmdir(b"empty")
    assert _errno(empty.list) == errno.ENOENT


def test_rename_and_link_stay_within_one_mount(root, tree):
    other = PortableHostDirectory.open(str(tree[1]), writable=True)
    assert _errno(root.rename, b"file", other, b"stolen") == errno.EXDEV
    assert _errno(other.link, b"secret", root, b"copy") == errno.EXDEV
    assert not (tree[0] / "copy").exists()


# --- the operations ------------------------------------------------------------------------


def test_open_read_write_and_attributes(root, tree):
    mount, _ = tree
    f = root.open_file(b"new", O_CREAT | O_EXCL | O_RDWR, 0o640)
    assert stat.S_ISREG(f.opened.mode) and f.opened.size == 0
    assert f.pwrite(b"abcdef", 0) == 6
    assert f.pread(3, 2) == b"cde"
    f.truncate(2)
    assert f.stat().size == 2
    f.sync()
    f.close()
    f.close()  # a second close does nothing
    assert (mount / "new").read_bytes() == b"ab"
    assert stat.S_IMODE(root.lookup(b"new").mode) == 0o640 & ~_umask()
    assert _errno(root.open_file, b"new", O_CREAT | O_EXCL | O_WRONLY, 0o644) == errno.EEXIST
    assert _errno(root.open_file, b"missing", O_RDONLY, 0) == errno.ENOENT


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_truncation_and_append(root, tree):
    f = root.open_file(b"file", O_WRONLY | O_TRUNC, 0)
    assert f.opened.size == 0 and (tree[0] / "file").read_bytes() == b""
    f.pwrite(b"one", 0)
    f.close()
    g = root.open_file(b"file", O_WRONLY | O_APPEND, 0)
    os.write(g.fd, b"two")
    g.close()
    assert (tree[0] / "file").read_bytes() == b"onetwo"


def test_without_pread_and_pwrite_the_descriptor_is_positioned(root, monkeypatch):
    monkeypatch.delattr(os, "pread")
    monkeypatch.delattr(os, "pwrite")
    f = root.open_file(b"file", O_RDWR, 0)
    assert f.pread(3, 1) == b"ell"
    assert f.pread(100, 3) == b"lo"
    assert f.pwrite(b"J", 0) == 1
    assert f.pread(5, 0) == b"Jello"


def test_only_regular_files_are_opened(root, tree):
    assert _errno(root.open_file, b"sub", O_RDONLY, 0) == errno.EACCES
    assert _errno(root.open_file, b"sub", O_WRONLY, 0) == errno.EISDIR
    os.mkfifo(tree[0] / "fifo")
    assert _errno(root.open_file, b"fifo", O_RDONLY, 0) == errno.EACCES


@pytest.mark.parametrize("flags", [3, 0o4000000, 0o200000])  # bad access mode, O_PATH, O_DIRECTORY
def test_other_open_flags_are_refused(root, flags):
    assert _errno(root.open_file, b"file", flags, 0) == errno.EINVAL


def test_a_read_only_mount_refuses_every_change(tree):
    ro = PortableHostDirectory.open(str(tree[0]), writable=False)
    for call, *args in [(ro.open_file, b"file", O_WRONLY, 0), (ro.open_file, b"new", O_CREAT, 0o644),
                        (ro.open_file, b"file", O_TRUNC, 0), (ro.mkdir, b"d", 0o755), (ro.rmdir, b"sub"),
                        (ro.unlink, b"file"), (ro.symlink, b"x", b"l"), (ro.mkfifo, b"p", 0o644),
                        (ro.chmod, b"file", 0o600), (ro.chown, b"file", 0, 0), (ro.set_times, b"file", 0, 0),
                        (ro.rename, b"file", ro, b"x"), (ro.link, b"file", ro, b"x")]:
        assert _errno(call, *args) == errno.EROFS, call.__name__
    assert ro.open_file(b"file", O_RDONLY, 0).pread(5, 0) == b"hello"
    assert (tree[0] / "file").read_bytes() == b"hello"


def test_directory_operations(root, tree):
    mount, _ = tree
    root.mkdir(b"d", 0o755)
    root.symlink(b"../anywhere", b"l")
    assert root.readlink(b"l") == b"../anywhere"
    assert _errno(root.readlink, b"file") == errno.EINVAL
    root.link(b"file", root, b"hard")
    assert root.lookup(b"hard").ino == root.lookup(b"file").ino
    root.rename(b"hard", root.subdir(b"d"), b"moved")
    assert (mount / "d" / "moved").read_bytes() == b"hello"
    root.chmod(b"file", 0o600)
    assert stat.S_IMODE(os.stat(mount / "file").st_mode) == 0o600
    root.set_times(b"file", 5_000_000_000, None)
    assert os.stat(mount / "file").st_atime_ns == 5_000_000_000
    root.mkfifo(b"p", 0o600)
    assert stat.S_ISFIFO(root.lookup(b"p").mode)
    assert _errno(root.unlink, b"d") == errno.EISDIR
    assert _errno(root.rmdir, b"file") == errno.ENOTDIR
    assert _errno(root.rmdir, b"d") == errno.ENOTEMPTY
    root.unlink(b"l")
    kinds = {name: kind for name, _, kind in root.list()}
    assert kinds == {b"file": stat.S_IFREG, b"sub": stat.S_IFDIR, b"d": stat.S_IFDIR, b"p": 0}
    assert stat.S_ISDIR(root.stat().mode)


def test_hosts_without_owners_or_fifos_refuse_them(root, monkeypatch):
    monkeypatch.delattr(os, "lchown")
    monkeypatch.delattr(os, "mkfifo")
    assert _errno(root.chown, b"file", 0, 0) == errno.EPERM
    assert _errno(root.mkfifo, b"p", 0o600) == errno.EPERM


def test_closed_directory_refuses(root):
    root.close()
    assert _errno(root.lookup, b"file") == errno.EBADF


def test_windows_shows_regular_files_as_executable(tree):
    os.chmod(tree[0] / "file", 0o644)
    st = os.stat(tree[0] / "file")
    assert stat.S_IMODE(host_stat(st, windows=True).mode) == 0o755
    assert stat.S_IMODE(host_stat(st, windows=False).mode) == 0o644


def test_odd_link_targets_are_refused_not_raised(root):
    assert _errno(root.symlink, b"", b"l") == errno.ENOENT
    assert _errno(root.symlink, b"a\0b", b"l") == errno.EINVAL
    root.symlink(b"\xff\xfe", b"l")  # any bytes on a POSIX host
    assert root.readlink(b"l") == b"\xff\xfe"


def test_windows_refuses_a_link_target_it_cannot_hold(root, monkeypatch):
    monkeypatch.setattr(hostdir, "_WINDOWS", True)
    assert _errno(root.symlink, b"\xff", b"l") == errno.EINVAL


def test_a_windows_junction_shows_as_a_link():
    from types import SimpleNamespace

    junction = SimpleNamespace(st_mode=stat.S_IFDIR | 0o777, st_reparse_tag=0xA0000003, st_ino=7, st_dev=1,
                               st_nlink=1, st_size=0, st_atime_ns=0, st_mtime_ns=0, st_ctime_ns=0)
    assert hostdir.is_link(junction)
    assert stat.S_ISLNK(host_stat(junction, windows=True).mode)
    other_reparse = SimpleNamespace(**{**vars(junction), "st_reparse_tag": 0x9000001A})  # a cloud file
    assert not hostdir.is_link(other_reparse)
