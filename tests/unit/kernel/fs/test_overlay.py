"""The overlay through the VFS: a memfs upper layer over a read-only hostfs (or tarfs)."""

from __future__ import annotations

import io
import os
import stat as stat_mod
import tarfile
from pathlib import Path

import pytest

from slimbox.abi.errno import Errno
from slimbox.kernel.file import O_APPEND, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY
from slimbox.kernel.fs.hostfs import HostFs
from slimbox.kernel.fs.overlay import UPPER_INO_OFFSET, OverlayFs
from slimbox.kernel.fs.tarfs import TarFs
from slimbox.platforms.linux.hostdir import PosixHostDirectory

OLD_MTIME = 1_500_000_000_123_456_789


def build_lower(tmp_path: Path) -> Path:
    lower = tmp_path / "lower"
    (lower / "etc" / "conf.d").mkdir(parents=True)
    (lower / "data").mkdir()
    (lower / "empty").mkdir()
    (lower / "etc" / "hosts").write_bytes(b"127.0.0.1 localhost\n")
    (lower / "etc" / "motd").write_bytes(b"welcome\n")
    (lower / "etc" / "conf.d" / "a.conf").write_bytes(b"a=1\n")
    (lower / "data" / "x").write_bytes(b"x-data")
    (lower / "data" / "y").write_bytes(b"y-data")
    (lower / "top.txt").write_bytes(b"top")
    os.symlink("etc/hosts", lower / "hosts_link")
    os.symlink(str(tmp_path / "secret.txt"), lower / "escape")
    (tmp_path / "secret.txt").write_bytes(b"host secret")
    os.chmod(lower / "etc" / "motd", 0o640)
    os.utime(lower / "etc" / "motd", ns=(OLD_MTIME, OLD_MTIME))
    os.chmod(lower / "etc", 0o751)
    os.utime(lower / "etc", ns=(OLD_MTIME, OLD_MTIME))
    return lower


def snapshot(root: Path) -> dict:
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            content = path.read_bytes() if stat_mod.S_ISREG(st.st_mode) else None
            result[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_mtime_ns, content)
    return result


@pytest.fixture
def lower(tmp_path: Path) -> Path:
    return build_lower(tmp_path)


@pytest.fixture
def overlay(sandbox, lower):
    """An overlay at /ov over a read-only hostfs of `lower`; the host tree is checked
    to be unchanged after each test."""
    before = snapshot(lower)
    host = HostFs(sandbox.new_dev(), sandbox.clock, PosixHostDirectory.open(str(lower), False), readonly=True)
    sandbox.on_close(host.close)
    fs = OverlayFs(sandbox.new_dev(), sandbox.clock, host.root)
    sandbox.mount(fs, fs.root, b"/ov")
    yield fs
    assert snapshot(lower) == before, "the lower layer was modified"


# --- reading through --------------------------------------------------------------------------


def test_lower_content_shows_through(sandbox, overlay, lower):
    assert sandbox.read(b"/ov/etc/hosts") == b"127.0.0.1 localhost\n"
    assert sandbox.read(b"/ov/hosts_link") == b"127.0.0.1 localhost\n"
    assert sandbox.listdir(b"/ov/data") == [b"x", b"y"]
    st = sandbox.stat(b"/ov/etc/hosts")
    assert (st.dev, st.ino) == (overlay.dev, os.stat(lower / "etc" / "hosts").st_ino)


def test_absolute_symlink_in_lower_does_not_reach_the_host(sandbox, overlay, tmp_path):
    assert sandbox.readlink(b"/ov/escape") == str(tmp_path / "secret.txt").encode()
    assert sandbox.errno(sandbox.read, b"/ov/escape") == Errno.ENOENT


# --- copy-up ---------------------------------------------------------------------------------------


def test_writing_a_lower_file_leaves_the_host_file_unchanged(sandbox, overlay, lower):
    ino = sandbox.stat(b"/ov/etc/hosts").ino
    sandbox.write(b"/ov/etc/hosts", b" more", flags=O_WRONLY | O_APPEND)
    assert sandbox.read(b"/ov/etc/hosts") == b"127.0.0.1 localhost\n more"
    assert (lower / "etc" / "hosts").read_bytes() == b"127.0.0.1 localhost\n"
    assert sandbox.stat(b"/ov/etc/hosts").ino == ino  # stable across copy-up
    sandbox.write(b"/ov/etc/hosts", b"replaced")  # O_TRUNC
    assert sandbox.read(b"/ov/etc/hosts") == b"replaced"


def test_pwrite_into_the_middle_keeps_the_rest(sandbox, overlay):
    file = sandbox.open(b"/ov/data/x", O_RDWR)
    try:
        file.pwrite(b"X", 0)
        assert file.pread(100, 0) == b"X-data"
    finally:
        file.release()
    assert sandbox.read(b"/ov/data/x") == b"X-data"


def test_copy_up_keeps_mode_owner_and_times(sandbox, overlay, lower):
    host = os.stat(lower / "etc" / "motd")
    before = sandbox.stat(b"/ov/etc/motd")
    sandbox.open(b"/ov/etc/motd", O_RDWR).release()  # opening for writing copies up
    after = sandbox.stat(b"/ov/etc/motd")
    assert (after.mode, after.uid, after.gid, after.mtime_ns, after.ino) == \
        (host.st_mode, host.st_uid, host.st_gid, OLD_MTIME, before.ino)
    assert stat_mod.S_IMODE(after.mode) == 0o640
    assert sandbox.read(b"/ov/etc/motd") == b"welcome\n"
    # the parent was copied up with its own attributes, untouched by the copy-up
    etc = sandbox.stat(b"/ov/etc")
    assert (stat_mod.S_IMODE(etc.mode), etc.mtime_ns) == (0o751, OLD_MTIME)
    assert overlay.root.lookup(b"etc").upper is not None


def test_copy_up_of_the_chain_of_parents(sandbox, overlay):
    sandbox.write(b"/ov/etc/conf.d/b.conf", b"b=2\n")
    assert sandbox.listdir(b"/ov/etc/conf.d") == [b"a.conf", b"b.conf"]
    assert sandbox.listdir(b"/ov/etc") == [b"conf.d", b"hosts", b"motd"]
    assert sandbox.read(b"/ov/etc/conf.d/a.conf") == b"a=1\n"


def test_attribute_changes_copy_up(sandbox, overlay, lower):
    sandbox.chmod(b"/ov/top.txt", 0o600)
    assert stat_mod.S_IMODE(sandbox.stat(b"/ov/top.txt").mode) == 0o600
    sandbox.chown(b"/ov/top.txt", 4321, 8765)
    assert (sandbox.stat(b"/ov/top.txt").uid, sandbox.stat(b"/ov/top.txt").gid) == (4321, 8765)
    sandbox.set_times(b"/ov/data", 5, 6)
    assert sandbox.stat(b"/ov/data").mtime_ns == 6
    sandbox.truncate(b"/ov/data/y", 1)
    assert sandbox.read(b"/ov/data/y") == b"y"
    assert sandbox.read(b"/ov/top.txt") == b"top"
    assert stat_mod.S_IMODE(os.stat(lower / "top.txt").st_mode) != 0o600


def test_open_with_o_trunc_empties_the_copy(sandbox, overlay):
    sandbox.open(b"/ov/data/x", O_RDONLY | O_TRUNC).release()
    assert sandbox.read(b"/ov/data/x") == b""
    assert stat_mod.S_IMODE(sandbox.stat(b"/ov/data/x").mode) == 0o644


def test_new_files_get_inode_numbers_apart_from_the_lower(sandbox, overlay, lower):
    sandbox.write(b"/ov/new", b"n")
    st = sandbox.stat(b"/ov/new")
    assert st.ino >= UPPER_INO_OFFSET
    lower_inos = {os.lstat(Path(d) / n).st_ino for d, ds, fs in os.walk(lower) for n in ds + fs}
    assert st.ino not in lower_inos
    assert sandbox.entries(b"/ov")[b"new"].ino == st.ino


# --- removal ----------------------------------------------------------------------------------------


def test_unlink_of_a_lower_file_hides_it(sandbox, overlay, lower):
    sandbox.unlink(b"/ov/etc/hosts")
    assert sandbox.errno(sandbox.stat, b"/ov/etc/hosts") == Errno.ENOENT
    assert b"hosts" not in sandbox.listdir(b"/ov/etc")
    assert sandbox.errno(sandbox.read, b"/ov/hosts_link") == Errno.ENOENT
    assert (lower / "etc" / "hosts").read_bytes() == b"127.0.0.1 localhost\n"
    assert sandbox.errno(sandbox.unlink, b"/ov/etc/hosts") == Errno.ENOENT
    # a new file can take the name; listed once, with the new content
    sandbox.write(b"/ov/etc/hosts", b"new hosts")
    assert sandbox.read(b"/ov/etc/hosts") == b"new hosts"
    assert sandbox.listdir(b"/ov/etc").count(b"hosts") == 1
    # and removing it again hides the lower file again
    sandbox.unlink(b"/ov/etc/hosts")
    assert sandbox.errno(sandbox.read, b"/ov/etc/hosts") == Errno.ENOENT


def test_merged_listing(sandbox, overlay):
    sandbox.write(b"/ov/data/z", b"z")
    sandbox.mkdir(b"/ov/data/sub")
    assert sandbox.listdir(b"/ov/data") == [b"sub", b"x", b"y", b"z"]
    sandbox.unlink(b"/ov/data/x")
    assert sandbox.listdir(b"/ov/data") == [b"sub", b"y", b"z"]
    sandbox.write(b"/ov/data/y", b"changed")
    assert sandbox.listdir(b"/ov/data") == [b"sub", b"y", b"z"]


def test_rmdir_of_a_non_empty_merged_directory(sandbox, overlay, lower):
    assert sandbox.errno(sandbox.rmdir, b"/ov/data") == Errno.ENOTEMPTY
    sandbox.unlink(b"/ov/data/x")
    assert sandbox.errno(sandbox.rmdir, b"/ov/data") == Errno.ENOTEMPTY
    sandbox.unlink(b"/ov/data/y")
    assert sandbox.listdir(b"/ov/data") == []
    sandbox.rmdir(b"/ov/data")
    assert b"data" not in sandbox.listdir(b"/ov")
    assert sandbox.errno(sandbox.stat, b"/ov/data/x") == Errno.ENOENT
    assert (lower / "data" / "x").exists()


def test_mkdir_after_rmdir_is_opaque(sandbox, overlay):
    sandbox.unlink(b"/ov/data/x")
    sandbox.unlink(b"/ov/data/y")
    sandbox.rmdir(b"/ov/data")
    sandbox.mkdir(b"/ov/data")
    assert sandbox.listdir(b"/ov/data") == []
    assert sandbox.errno(sandbox.read, b"/ov/data/y") == Errno.ENOENT
    sandbox.write(b"/ov/data/fresh", b"f")
    assert sandbox.listdir(b"/ov/data") == [b"fresh"]


def test_rmdir_of_an_empty_lower_directory_and_file_over_it(sandbox, overlay):
    sandbox.rmdir(b"/ov/empty")
    assert sandbox.errno(sandbox.stat, b"/ov/empty") == Errno.ENOENT
    sandbox.write(b"/ov/empty", b"now a file")
    assert stat_mod.S_ISREG(sandbox.stat(b"/ov/empty").mode)
    assert sandbox.read(b"/ov/empty") == b"now a file"


# --- rename and link ---------------------------------------------------------------------------------


def test_rename_over_another_lower_file(sandbox, overlay, lower):
    ino = sandbox.stat(b"/ov/data/x").ino
    sandbox.rename(b"/ov/data/x", b"/ov/data/y")
    assert sandbox.read(b"/ov/data/y") == b"x-data"
    assert sandbox.stat(b"/ov/data/y").ino == ino
    assert sandbox.errno(sandbox.stat, b"/ov/data/x") == Errno.ENOENT
    assert sandbox.listdir(b"/ov/data") == [b"y"]
    assert (lower / "data" / "y").read_bytes() == b"y-data"


def test_rename_to_another_directory_and_back(sandbox, overlay):
    sandbox.rename(b"/ov/top.txt", b"/ov/etc/top.txt")
    assert sandbox.errno(sandbox.stat, b"/ov/top.txt") == Errno.ENOENT
    assert sandbox.read(b"/ov/etc/top.txt") == b"top"
    sandbox.rename(b"/ov/etc/top.txt", b"/ov/top.txt")
    assert sandbox.read(b"/ov/top.txt") == b"top"
    assert b"top.txt" not in sandbox.listdir(b"/ov/etc")


def test_rename_of_a_symlink_copies_it_up(sandbox, overlay):
    sandbox.rename(b"/ov/hosts_link", b"/ov/etc/link")
    assert sandbox.readlink(b"/ov/etc/link") == b"etc/hosts"
    assert sandbox.errno(sandbox.readlink, b"/ov/hosts_link") == Errno.ENOENT


def test_rename_of_a_directory_with_lower_content_is_exdev(sandbox, overlay):
    assert sandbox.errno(sandbox.rename, b"/ov/data", b"/ov/data2") == Errno.EXDEV
    assert sandbox.errno(sandbox.rename, b"/ov/empty", b"/ov/empty2") == Errno.EXDEV
    sandbox.mkdir(b"/ov/mine")
    sandbox.write(b"/ov/mine/f", b"f")
    sandbox.rename(b"/ov/mine", b"/ov/etc/mine")
    assert sandbox.read(b"/ov/etc/mine/f") == b"f"
    # over an empty lower directory: the moved one hides it
    sandbox.rename(b"/ov/etc/mine", b"/ov/empty")
    assert sandbox.listdir(b"/ov/empty") == [b"f"]
    assert sandbox.errno(sandbox.rename, b"/ov/empty", b"/ov/etc/conf.d") == Errno.ENOTEMPTY


def test_rename_of_a_directory_into_itself_is_einval(sandbox, overlay):
    sandbox.mkdir(b"/ov/a")
    sandbox.mkdir(b"/ov/a/b")
    assert sandbox.errno(sandbox.rename, b"/ov/a", b"/ov/a/b/c") == Errno.EINVAL


def test_link_copies_up_and_shares_the_copy(sandbox, overlay, lower):
    sandbox.link(b"/ov/data/x", b"/ov/x_again")
    assert sandbox.stat(b"/ov/x_again").ino == sandbox.stat(b"/ov/data/x").ino
    assert sandbox.stat(b"/ov/x_again").nlink == 2
    sandbox.write(b"/ov/x_again", b"shared")
    assert sandbox.read(b"/ov/data/x") == b"shared"
    assert (lower / "data" / "x").read_bytes() == b"x-data"


# --- identity ----------------------------------------------------------------------------------------


def test_references_taken_before_a_copy_up_follow_it(sandbox, overlay):
    sandbox.ctx.cwd = sandbox.node(b"/ov/etc")
    held = sandbox.node(b"/ov/etc/motd")
    key = held.inode.key
    sandbox.write(b"/ov/etc/motd", b"new motd")
    assert held.inode.stat().size == len(b"new motd")
    assert held.inode.key == key == sandbox.node(b"/ov/etc/motd").inode.key
    assert sandbox.read(b"motd") == b"new motd"  # relative to the held cwd
    sandbox.write(b"made_in_cwd", b"c")
    assert sandbox.read(b"/ov/etc/made_in_cwd") == b"c"


def test_open_file_survives_unlink_and_copy_up(sandbox, overlay):
    file = sandbox.open(b"/ov/data/x", O_RDONLY)
    try:
        sandbox.unlink(b"/ov/data/x")
        assert file.pread(100, 0) == b"x-data"
        file.inode.setattr(mode=0o600)  # fchmod after unlink: an orphan copy
        assert stat_mod.S_IMODE(file.stat().mode) == 0o600
        assert sandbox.errno(sandbox.stat, b"/ov/data/x") == Errno.ENOENT
    finally:
        file.release()


# --- over tarfs ----------------------------------------------------------------------------------------


def _tar_image() -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        files = [("bin/sh", b"\x7fELF...", 0o755, 0), ("home/u/notes", b"notes", 0o600, 1000)]
        for name, data, mode, uid in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, uid, 1_234_567_890
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def test_overlay_over_tarfs(sandbox):
    tar = TarFs(sandbox.new_dev(), sandbox.clock, _tar_image())
    sandbox.on_close(tar.close)
    fs = OverlayFs(sandbox.new_dev(), sandbox.clock, tar.root)
    sandbox.mount(fs, fs.root, b"/r")
    assert sandbox.read(b"/r/bin/sh") == b"\x7fELF..."
    sandbox.write(b"/r/home/u/notes", b" more", flags=O_WRONLY | O_APPEND)
    st = sandbox.stat(b"/r/home/u/notes")
    assert (st.uid, st.gid, stat_mod.S_IMODE(st.mode)) == (1000, 1000, 0o600)
    assert sandbox.read(b"/r/home/u/notes") == b"notes more"
    assert tar.root.lookup(b"home").lookup(b"u").lookup(b"notes").stat().size == 5
    sandbox.unlink(b"/r/bin/sh")
    assert sandbox.listdir(b"/r/bin") == []
    sandbox.mkdir(b"/r/tmp", 0o1777)
    assert sandbox.listdir(b"/r") == [b"bin", b"home", b"tmp"]


# --- walks through the lower layer still ask the host ------------------------------------------


@pytest.fixture
def changing(sandbox, lower):
    """An overlay at /ov over `lower`, which these tests change on the host themselves."""
    host = HostFs(sandbox.new_dev(), sandbox.clock, PosixHostDirectory.open(str(lower), False), readonly=True)
    sandbox.on_close(host.close)
    fs = OverlayFs(sandbox.new_dev(), sandbox.clock, host.root)
    sandbox.mount(fs, fs.root, b"/ov")
    return fs


def test_a_lower_file_replaced_on_the_host_is_seen_at_the_next_walk(sandbox, changing, lower):
    assert sandbox.read(b"/ov/etc/conf.d/a.conf") == b"a=1\n"
    before = sandbox.stat(b"/ov/etc/conf.d/a.conf")
    (lower / "etc" / "conf.d" / "new").write_bytes(b"a=22\n")
    os.rename(lower / "etc" / "conf.d" / "new", lower / "etc" / "conf.d" / "a.conf")
    after = sandbox.stat(b"/ov/etc/conf.d/a.conf")
    assert (after.ino, after.size) == (os.stat(lower / "etc" / "conf.d" / "a.conf").st_ino, 5)
    assert after.ino != before.ino
    assert sandbox.read(b"/ov/etc/conf.d/a.conf") == b"a=22\n"


def test_a_lower_directory_renamed_on_the_host_is_gone_under_its_old_name(sandbox, changing, lower):
    assert sandbox.read(b"/ov/etc/conf.d/a.conf") == b"a=1\n"
    os.rename(lower / "etc" / "conf.d", lower / "etc" / "conf.moved")
    assert sandbox.errno(sandbox.stat, b"/ov/etc/conf.d/a.conf") == Errno.ENOENT
    assert sandbox.read(b"/ov/etc/conf.moved/a.conf") == b"a=1\n"


def test_a_symlink_swapped_in_on_the_host_is_followed_in_the_sandbox(sandbox, changing, lower, tmp_path):
    assert sandbox.read(b"/ov/data/x") == b"x-data"
    os.rename(lower / "data", lower / "data.old")
    os.symlink(str(tmp_path), lower / "data")  # on the host it leads to secret.txt
    assert sandbox.errno(sandbox.read, b"/ov/data/secret.txt") == Errno.ENOENT
    assert stat_mod.S_ISLNK(sandbox.stat(b"/ov/data", follow=False).mode)


def test_directories_kept_after_their_walk_are_bounded(sandbox, changing, lower):
    for index in range(300):
        (lower / "data" / f"d{index}").mkdir()
    for index in range(300):
        assert sandbox.listdir(b"/ov/data/d%d" % index) == []
    assert len(changing._recent_dirs) <= 128
