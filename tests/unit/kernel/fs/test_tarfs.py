"""tarfs through the VFS, over archives built here with tarfile."""

from __future__ import annotations

import io
import os
import stat as stat_mod
import tarfile

import pytest

from slimbox.abi.errno import Errno
from slimbox.kernel.file import O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY
from slimbox.kernel.fs.tarfs import TarFs, TarFsError

MTIME = 1_600_000_000
BIG = bytes(range(256)) * 400  # 100 KiB, spans several tar blocks


def _member(name: str, kind: bytes = tarfile.REGTYPE, *, mode: int = 0o644, uid: int = 0, gid: int = 0,
            linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = MTIME
    info.linkname = linkname
    info.size = size
    return info


def build_tar(members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    buffer.seek(0)
    return buffer


def image_members() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    fifo = _member("run/fifo", tarfile.FIFOTYPE, mode=0o600)
    null = _member("dev/null", tarfile.CHRTYPE, mode=0o666)
    null.devmajor, null.devminor = 1, 3
    return [
        (_member("./etc/", tarfile.DIRTYPE, mode=0o750, uid=1, gid=2), None),
        (_member("./etc/passwd", mode=0o644, uid=0, gid=0), b"root:x:0:0::/root:/bin/sh\n"),
        (_member("usr/bin/tool", mode=0o755, uid=10, gid=20), b"#!/bin/sh\necho tool\n"),
        (_member("/abs/file", mode=0o600), b"leading slash"),
        (_member("usr/bin/alias", tarfile.SYMTYPE, linkname="tool"), None),
        (_member("etc/abs_link", tarfile.SYMTYPE, linkname="/etc/passwd"), None),
        (_member("etc/passwd.bak", tarfile.LNKTYPE, linkname="./etc/passwd"), None),
        (_member("big.bin"), BIG),
        (fifo, None),
        (null, None),
    ]


def mount_tar(sandbox, fileobj, at: bytes = b"/img") -> TarFs:
    fs = TarFs(sandbox.new_dev(), sandbox.clock, fileobj)
    sandbox.on_close(fs.close)
    sandbox.mount(fs, fs.root, at)
    return fs


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_archive_is_readable_and_listable(sandbox, mode):
    fs = mount_tar(sandbox, build_tar(image_members(), mode))
    assert sandbox.listdir(b"/img") == [b"abs", b"big.bin", b"dev", b"etc", b"run", b"usr"]
    assert sandbox.listdir(b"/img/etc") == [b"abs_link", b"passwd", b"passwd.bak"]
    assert sandbox.read(b"/img/etc/passwd") == b"root:x:0:0::/root:/bin/sh\n"
    assert sandbox.read(b"/img/usr/bin/tool") == b"#!/bin/sh\necho tool\n"
    assert sandbox.read(b"/img/abs/file") == b"leading slash"
    assert sandbox.read(b"/img/big.bin") == BIG
    st = sandbox.stat(b"/img/usr/bin/tool")
    assert (st.dev, st.mode, st.uid, st.gid, st.size) == (fs.dev, stat_mod.S_IFREG | 0o755, 10, 20, 20)
    assert st.mtime_ns == MTIME * 1_000_000_000


def test_random_access_reads(sandbox):
    mount_tar(sandbox, build_tar(image_members(), "w:gz"))
    file = sandbox.open(b"/img/big.bin")
    try:
        assert file.pread(10, 70_000) == BIG[70_000:70_010]
        assert file.pread(10, 5) == BIG[5:15]
        assert file.pread(100, len(BIG) - 4) == BIG[-4:]
        assert file.pread(10, len(BIG) + 10) == b""
        file.seek(1000, 0)
        assert file.read(None, 24) == BIG[1000:1024]
    finally:
        file.release()


def test_directories_explicit_and_implied(sandbox):
    mount_tar(sandbox, build_tar(image_members()))
    etc = sandbox.stat(b"/img/etc")
    assert (etc.mode, etc.uid, etc.gid) == (stat_mod.S_IFDIR | 0o750, 1, 2)
    usr = sandbox.stat(b"/img/usr")
    assert (usr.mode, usr.uid, usr.gid) == (stat_mod.S_IFDIR | 0o755, 0, 0)
    assert usr.nlink == 3  # '.', the entry in the root, and bin's '..'


def test_symlinks(sandbox):
    mount_tar(sandbox, build_tar(image_members()))
    assert sandbox.readlink(b"/img/usr/bin/alias") == b"tool"
    assert sandbox.read(b"/img/usr/bin/alias") == b"#!/bin/sh\necho tool\n"
    assert stat_mod.S_ISLNK(sandbox.stat(b"/img/usr/bin/alias", follow=False).mode)
    # absolute link text is resolved in the sandbox: /etc/passwd is not in /img
    assert sandbox.readlink(b"/img/etc/abs_link") == b"/etc/passwd"
    assert sandbox.errno(sandbox.read, b"/img/etc/abs_link") == Errno.ENOENT


def test_hard_links_share_the_inode(sandbox):
    mount_tar(sandbox, build_tar(image_members()))
    first, second = sandbox.stat(b"/img/etc/passwd"), sandbox.stat(b"/img/etc/passwd.bak")
    assert first.ino == second.ino
    assert first.nlink == second.nlink == 2
    assert sandbox.read(b"/img/etc/passwd.bak") == b"root:x:0:0::/root:/bin/sh\n"
    assert sandbox.stat(b"/img/usr/bin/tool").nlink == 1


def test_device_and_fifo_nodes_cannot_be_opened(sandbox):
    mount_tar(sandbox, build_tar(image_members()))
    null = sandbox.stat(b"/img/dev/null")
    assert stat_mod.S_ISCHR(null.mode)
    assert null.rdev == os.makedev(1, 3)
    assert stat_mod.S_ISFIFO(sandbox.stat(b"/img/run/fifo").mode)
    assert sandbox.errno(sandbox.open, b"/img/dev/null") == Errno.EACCES
    assert sandbox.errno(sandbox.open, b"/img/run/fifo") == Errno.EACCES


def test_every_write_fails_with_erofs(sandbox):
    fs = mount_tar(sandbox, build_tar(image_members()))
    attempts = [
        (sandbox.open, b"/img/etc/passwd", O_WRONLY),
        (sandbox.open, b"/img/etc/passwd", O_RDONLY | O_TRUNC),
        (sandbox.write, b"/img/new", b"x"),
        (sandbox.mkdir, b"/img/newdir"),
        (sandbox.unlink, b"/img/etc/passwd"),
        (sandbox.rmdir, b"/img/run"),
        (sandbox.rename, b"/img/etc/passwd", b"/img/etc/moved"),
        (sandbox.symlink, b"x", b"/img/newlink"),
        (sandbox.link, b"/img/etc/passwd", b"/img/hard"),
        (sandbox.chmod, b"/img/etc/passwd", 0o777),
        (sandbox.truncate, b"/img/etc/passwd", 0),
    ]
    for action, *args in attempts:
        assert sandbox.errno(action, *args) == Errno.EROFS, (action.__name__, args)
    # the inodes refuse on their own too (as an overlay's lower layer they are used directly)
    passwd = fs.root.lookup(b"etc").lookup(b"passwd")
    direct = [
        (passwd.open, O_RDWR), (passwd.open, O_RDONLY | O_TRUNC), (passwd.truncate, 0),
        (fs.root.create, b"n", 0o644, sandbox.cred), (fs.root.mkdir, b"n", 0o755, sandbox.cred),
        (fs.root.unlink, b"big.bin"), (fs.root.rename, b"big.bin", fs.root, b"n"),
        (lambda: passwd.setattr(mode=0o600),),
    ]
    for action, *args in direct:
        assert sandbox.errno(action, *args) == Errno.EROFS
    assert sandbox.read(b"/img/etc/passwd") == b"root:x:0:0::/root:/bin/sh\n"


def test_later_member_replaces_earlier(sandbox):
    members = [(_member("f"), b"first"), (_member("f"), b"second"),
               (_member("d", tarfile.DIRTYPE, mode=0o700), None), (_member("d/x"), b"x"),
               (_member("d/", tarfile.DIRTYPE, mode=0o711), None)]
    mount_tar(sandbox, build_tar(members))
    assert sandbox.read(b"/img/f") == b"second"
    assert sandbox.stat(b"/img/f").nlink == 1
    assert sandbox.listdir(b"/img/d") == [b"x"]
    assert sandbox.stat(b"/img/d").mode == stat_mod.S_IFDIR | 0o711


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "./x/../y", "/../etc/passwd"])
def test_dot_dot_members_are_rejected(sandbox, name):
    archive = build_tar([(_member("ok"), b"fine"), (_member(name), b"evil")])
    with pytest.raises(TarFsError, match="'..'"):
        TarFs(sandbox.new_dev(), sandbox.clock, archive)


def test_dot_dot_hard_link_target_is_rejected(sandbox):
    archive = build_tar([(_member("ok"), b"fine"), (_member("h", tarfile.LNKTYPE, linkname="../ok"), None)])
    with pytest.raises(TarFsError):
        TarFs(sandbox.new_dev(), sandbox.clock, archive)


def test_hard_link_to_missing_member_is_rejected(sandbox):
    archive = build_tar([(_member("h", tarfile.LNKTYPE, linkname="nothere"), None)])
    with pytest.raises(TarFsError, match="hard link"):
        TarFs(sandbox.new_dev(), sandbox.clock, archive)


def test_member_below_a_file_is_rejected(sandbox):
    archive = build_tar([(_member("f"), b"file"), (_member("f/g"), b"below")])
    with pytest.raises(TarFsError, match="non-directory"):
        TarFs(sandbox.new_dev(), sandbox.clock, archive)


@pytest.mark.parametrize("data", [
    b"",
    b"this is not a tar archive at all" * 50,
    b"\x1f\x8b\x08\x00" + b"\x00" * 100,  # a gzip header with garbage after it
])
def test_malformed_archives_raise_tarfs_error(sandbox, data):
    with pytest.raises(TarFsError) as info:
        TarFs(sandbox.new_dev(), sandbox.clock, io.BytesIO(data))
    assert isinstance(info.value, ValueError)


def test_truncated_compressed_archive_raises_tarfs_error(sandbox):
    whole = build_tar(image_members(), "w:gz").getvalue()
    with pytest.raises(TarFsError):
        TarFs(sandbox.new_dev(), sandbox.clock, io.BytesIO(whole[: len(whole) // 2]))
