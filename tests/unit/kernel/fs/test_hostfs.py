"""hostfs through the VFS, over real temporary host directories."""

from __future__ import annotations

import os
import stat as stat_mod
from pathlib import Path

import pytest

from slimbox.abi.errno import Errno
from slimbox.kernel.file import O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY
from slimbox.kernel.fs.hostfs import HostFs
from slimbox.kernel.fs.memfs import MemFs
from slimbox.platforms.linux.hostdir import PosixHostDirectory

SECRET = b"host secret, never for the guest"
HIDDEN = (b"shadow", b"ssh/ssh_host_rsa_key")


def build_share(tmp_path: Path) -> Path:
    """tmp_path/share (to be exposed) next to tmp_path/secret.txt (not exposed)."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    share = tmp_path / "share"
    (share / "sub" / "deeper").mkdir(parents=True)
    (share / "ssh").mkdir()
    (share / "hello.txt").write_bytes(b"hello world\n")
    (share / "sub" / "inner.txt").write_bytes(b"inner\n")
    (share / "sub" / "deeper" / "leaf.txt").write_bytes(b"leaf\n")
    (share / "shadow").write_bytes(b"root:hash:0:0\n")
    (share / "ssh" / "ssh_host_rsa_key").write_bytes(b"PRIVATE KEY\n")
    (share / "ssh" / "ssh_config").write_bytes(b"Host *\n")
    os.symlink("hello.txt", share / "link_rel")
    os.symlink(str(tmp_path / "secret.txt"), share / "escape_abs")
    os.symlink("../secret.txt", share / "escape_up")
    os.symlink("../" * 12 + str(tmp_path / "secret.txt").lstrip("/"), share / "escape_deep")
    os.symlink(str(tmp_path), share / "escape_dir")
    os.mkfifo(share / "fifo")
    return share


def snapshot(root: Path) -> dict:
    """Everything observable about a host tree, to prove it was not touched."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            content = None
            if stat_mod.S_ISREG(st.st_mode):
                content = path.read_bytes()
            elif stat_mod.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            result[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino,
                                                   content)
    return result


def mount_host(sandbox, path: Path, at: bytes = b"/mnt", *, readonly: bool = False, hidden=HIDDEN,
               max_open_dirs: int = 256) -> HostFs:
    fs = HostFs(sandbox.new_dev(), sandbox.clock, PosixHostDirectory.open(str(path), not readonly),
                readonly=readonly, hidden=hidden, max_open_dirs=max_open_dirs)
    sandbox.on_close(fs.close)
    sandbox.mount(fs, fs.root, at)
    return fs


@pytest.fixture
def share(tmp_path: Path) -> Path:
    return build_share(tmp_path)


# --- reading -----------------------------------------------------------------------------


def test_reads_lists_and_stats_host_files(sandbox, share):
    fs = mount_host(sandbox, share, readonly=True)
    assert sandbox.read(b"/mnt/hello.txt") == b"hello world\n"
    assert sandbox.read(b"/mnt/sub/deeper/leaf.txt") == b"leaf\n"
    assert sandbox.read(b"/mnt/link_rel") == b"hello world\n"
    assert sandbox.listdir(b"/mnt") == sorted([b"hello.txt", b"sub", b"ssh", b"link_rel", b"escape_abs",
                                               b"escape_up", b"escape_deep", b"escape_dir", b"fifo"])
    st = sandbox.stat(b"/mnt/hello.txt")
    host = os.stat(share / "hello.txt")
    assert (st.dev, st.ino, st.size, st.mode, st.mtime_ns) == (fs.dev, host.st_ino, 12, host.st_mode,
                                                             host.st_mtime_ns)
    entries = sandbox.entries(b"/mnt")
    assert entries[b"hello.txt"].ino == host.st_ino
    assert stat_mod.S_ISLNK(sandbox.stat(b"/mnt/link_rel", follow=False).mode)


def test_pread_and_seek_on_a_host_file(sandbox, share):
    mount_host(sandbox, share, readonly=True)
    file = sandbox.open(b"/mnt/hello.txt")
    try:
        assert file.pread(5, 6) == b"world"
        assert file.seek(-3, 2) == 9
        assert file.read(None, 100) == b"ld\n"
        assert file.stat().size == 12
    finally:
        file.release()


def test_hard_links_compare_equal(sandbox, share):
    os.link(share / "hello.txt", share / "sub" / "hello_again")
    mount_host(sandbox, share, readonly=True)
    first, second = sandbox.stat(b"/mnt/hello.txt"), sandbox.stat(b"/mnt/sub/hello_again")
    assert (first.dev, first.ino) == (second.dev, second.ino)
    assert first.nlink == 2
    assert sandbox.node(b"/mnt/hello.txt").inode.key == sandbox.node(b"/mnt/sub/hello_again").inode.key


def test_host_fifo_opens_as_a_pipe_kept_in_the_sandbox(sandbox, share):
    mount_host(sandbox, share, readonly=True)
    assert stat_mod.S_ISFIFO(sandbox.stat(b"/mnt/fifo").mode)
    reader = sandbox.open(b"/mnt/fifo", O_RDONLY | O_NONBLOCK)
    writer = sandbox.open(b"/mnt/fifo", O_WRONLY | O_NONBLOCK)
    try:
        assert writer.write(None, b"through the sandbox") == 19
        assert reader.read(None, 100) == b"through the sandbox"
    finally:
        writer.release()
        reader.release()


def test_host_devices_cannot_be_opened_or_made(sandbox, share, tmp_path):
    mount_host(sandbox, share)
    sandbox.vfs.mknod(sandbox.ctx, sandbox.cred, sandbox.ctx.cwd, b"/mnt/newfifo", stat_mod.S_IFIFO | 0o600, 0)
    assert stat_mod.S_ISFIFO(os.stat(share / "newfifo").st_mode)   # a real FIFO on the host
    with pytest.raises(Exception) as refused:
        sandbox.vfs.mknod(sandbox.ctx, sandbox.cred, sandbox.ctx.cwd, b"/mnt/null2", stat_mod.S_IFCHR | 0o666,
                          0x0103)
    assert getattr(refused.value, "errno", None) == Errno.EPERM
    assert not (share / "null2").exists()


def test_open_file_keeps_its_stat_after_unlink(sandbox, share):
    mount_host(sandbox, share)
    file = sandbox.open(b"/mnt/hello.txt")
    try:
        sandbox.unlink(b"/mnt/hello.txt")
        assert file.stat().size == 12
        assert file.stat().nlink == 0
        assert file.pread(5, 0) == b"hello"
    finally:
        file.release()


# --- escapes --------------------------------------------------------------------------------


def test_absolute_symlink_to_host_file_is_resolved_in_the_sandbox(sandbox, share, tmp_path):
    mount_host(sandbox, share, readonly=True)
    host_path = str(tmp_path / "secret.txt").encode()
    assert sandbox.readlink(b"/mnt/escape_abs") == host_path  # the text is shown as it is...
    assert sandbox.errno(sandbox.read, b"/mnt/escape_abs") == Errno.ENOENT  # ...but means a sandbox path
    assert sandbox.errno(sandbox.listdir, b"/mnt/escape_dir") == Errno.ENOENT
    # a sandbox file at the same path is what the link reaches
    sandbox.makedirs(str(tmp_path).encode())
    sandbox.write(host_path, b"sandbox's own file")
    assert sandbox.read(b"/mnt/escape_abs") == b"sandbox's own file"
    assert (tmp_path / "secret.txt").read_bytes() == SECRET


def test_relative_symlinks_cannot_climb_out_of_the_mount(sandbox, share, tmp_path):
    mount_host(sandbox, share, readonly=True)
    # on the host, both links lead to the secret file
    assert (share / "escape_up").read_bytes() == SECRET
    assert (share / "escape_deep").read_bytes() == SECRET
    # in the sandbox, '..' from the mount root is the sandbox's '/'
    assert sandbox.errno(sandbox.read, b"/mnt/escape_up") == Errno.ENOENT
    assert sandbox.errno(sandbox.read, b"/mnt/escape_deep") == Errno.ENOENT
    assert sandbox.errno(sandbox.read, b"/mnt/../secret.txt") == Errno.ENOENT
    sandbox.write(b"/secret.txt", b"sandbox root file")
    assert sandbox.read(b"/mnt/escape_up") == b"sandbox root file"


def test_symlinked_directory_is_not_followed_by_the_host_layer(sandbox, share):
    fs = mount_host(sandbox, share, readonly=True)
    # even asked directly for a name, the host layer gives the link, not its target
    inode = fs.root.lookup(b"escape_dir")
    assert inode.is_symlink()
    assert sandbox.errno(inode.lookup, b"secret.txt") == Errno.ENOTDIR


# --- hidden -----------------------------------------------------------------------------------


def test_hidden_names_look_absent(sandbox, share):
    mount_host(sandbox, share)
    assert b"shadow" not in sandbox.listdir(b"/mnt")
    assert sandbox.listdir(b"/mnt/ssh") == [b"ssh_config"]
    assert sandbox.errno(sandbox.read, b"/mnt/shadow") == Errno.ENOENT
    assert sandbox.errno(sandbox.stat, b"/mnt/ssh/ssh_host_rsa_key") == Errno.ENOENT
    assert sandbox.errno(sandbox.unlink, b"/mnt/shadow") == Errno.ENOENT
    sandbox.symlink(b"ssh/ssh_host_rsa_key", b"/mnt/keylink")
    assert sandbox.errno(sandbox.read, b"/mnt/keylink") == Errno.ENOENT


def test_hidden_names_cannot_be_created_over_or_moved(sandbox, share):
    mount_host(sandbox, share)
    before = (share / "shadow").read_bytes(), (share / "ssh" / "ssh_host_rsa_key").read_bytes()
    assert sandbox.errno(sandbox.write, b"/mnt/shadow", b"x") == Errno.EACCES
    assert sandbox.errno(sandbox.mkdir, b"/mnt/shadow") == Errno.EACCES
    assert sandbox.errno(sandbox.symlink, b"x", b"/mnt/ssh/ssh_host_rsa_key") == Errno.EACCES
    assert sandbox.errno(sandbox.link, b"/mnt/hello.txt", b"/mnt/shadow") == Errno.EACCES
    assert sandbox.errno(sandbox.rename, b"/mnt/hello.txt", b"/mnt/shadow") == Errno.EACCES
    # moving the directory would give the hidden key a visible name
    assert sandbox.errno(sandbox.rename, b"/mnt/ssh", b"/mnt/ssh2") == Errno.EACCES
    assert sandbox.listdir(b"/mnt/ssh") == [b"ssh_config"]
    assert ((share / "shadow").read_bytes(), (share / "ssh" / "ssh_host_rsa_key").read_bytes()) == before
    assert (share / "hello.txt").exists()


# --- read-only -------------------------------------------------------------------------------


def test_read_only_hostfs_refuses_every_change_and_leaves_the_host_alone(sandbox, share):
    before = snapshot(share)
    mount_host(sandbox, share, readonly=True)
    attempts = [
        (sandbox.write, b"/mnt/hello.txt", b"changed"),
        (sandbox.write, b"/mnt/new.txt", b"new"),
        (sandbox.open, b"/mnt/hello.txt", O_RDONLY | O_TRUNC),
        (sandbox.mkdir, b"/mnt/newdir"),
        (sandbox.unlink, b"/mnt/hello.txt"),
        (sandbox.rmdir, b"/mnt/sub/deeper"),
        (sandbox.rename, b"/mnt/hello.txt", b"/mnt/moved.txt"),
        (sandbox.symlink, b"target", b"/mnt/newlink"),
        (sandbox.link, b"/mnt/hello.txt", b"/mnt/hardlink"),
        (sandbox.chmod, b"/mnt/hello.txt", 0o777),
        (sandbox.chown, b"/mnt/hello.txt", 1, 1),
        (sandbox.set_times, b"/mnt/hello.txt", 1, 1),
        (sandbox.truncate, b"/mnt/hello.txt", 0),
    ]
    for action, *args in attempts:
        assert sandbox.errno(action, *args) == Errno.EROFS, (action.__name__, args)
    assert snapshot(share) == before


def test_read_only_hostfs_refuses_changes_without_the_vfs(sandbox, share):
    """As an overlay's lower layer the filesystem is reached without a read-only mount."""
    before = snapshot(share)
    fs = HostFs(sandbox.new_dev(), sandbox.clock, PosixHostDirectory.open(str(share), True), readonly=True)
    sandbox.on_close(fs.close)
    hello = fs.root.lookup(b"hello.txt")
    attempts = [
        (hello.open, O_WRONLY), (hello.open, O_RDONLY | O_TRUNC), (hello.truncate, 0),
        (fs.root.create, b"new", 0o644, sandbox.cred), (fs.root.mkdir, b"new", 0o755, sandbox.cred),
        (fs.root.symlink, b"new", b"t", sandbox.cred), (fs.root.link, b"new", hello),
        (fs.root.unlink, b"hello.txt"), (fs.root.rmdir, b"sub"), (fs.root.rename, b"hello.txt", fs.root, b"x"),
    ]
    for action, *args in attempts:
        assert sandbox.errno(action, *args) == Errno.EROFS, (action.__name__, args)
    assert sandbox.errno(lambda: hello.setattr(mode=0o600)) == Errno.EROFS
    assert snapshot(share) == before


# --- read-write -------------------------------------------------------------------------------


def test_writes_land_on_the_host(sandbox, share):
    mount_host(sandbox, share)
    sandbox.ctx.umask = 0
    sandbox.write(b"/mnt/new.txt", b"from the sandbox", mode=0o666)
    assert (share / "new.txt").read_bytes() == b"from the sandbox"
    assert stat_mod.S_IMODE(os.stat(share / "new.txt").st_mode) == 0o666  # host umask undone

    sandbox.write(b"/mnt/new.txt", b" and more", flags=O_WRONLY | O_APPEND)
    assert (share / "new.txt").read_bytes() == b"from the sandbox and more"

    sandbox.write(b"/mnt/hello.txt", b"bye")  # O_TRUNC
    assert (share / "hello.txt").read_bytes() == b"bye"

    sandbox.mkdir(b"/mnt/made", 0o777)
    assert (share / "made").is_dir()
    assert stat_mod.S_IMODE(os.stat(share / "made").st_mode) == 0o777

    sandbox.rename(b"/mnt/new.txt", b"/mnt/made/renamed.txt")
    assert not (share / "new.txt").exists()
    assert (share / "made" / "renamed.txt").read_bytes() == b"from the sandbox and more"

    sandbox.link(b"/mnt/made/renamed.txt", b"/mnt/hard")
    assert os.stat(share / "hard").st_ino == os.stat(share / "made" / "renamed.txt").st_ino

    sandbox.symlink(b"/anywhere/at/all", b"/mnt/sym")
    assert os.readlink(share / "sym") == "/anywhere/at/all"

    sandbox.chmod(b"/mnt/hard", 0o600)
    assert stat_mod.S_IMODE(os.stat(share / "hard").st_mode) == 0o600

    sandbox.set_times(b"/mnt/hard", 1_000_000_000, 2_000_000_000)
    assert os.stat(share / "hard").st_mtime_ns == 2_000_000_000

    sandbox.truncate(b"/mnt/hard", 4)
    assert (share / "hard").read_bytes() == b"from"

    sandbox.unlink(b"/mnt/hard")
    sandbox.unlink(b"/mnt/made/renamed.txt")
    sandbox.rmdir(b"/mnt/made")
    assert not (share / "made").exists()
    assert sandbox.errno(sandbox.rmdir, b"/mnt/sub") == Errno.ENOTEMPTY


def test_read_write_open_sees_its_own_writes(sandbox, share):
    mount_host(sandbox, share)
    file = sandbox.open(b"/mnt/hello.txt", O_RDWR)
    try:
        assert file.pwrite(b"HELLO", 0) == 5
        assert file.pread(100, 0) == b"HELLO world\n"
        file.truncate(5)
        assert file.stat().size == 5
    finally:
        file.release()
    assert (share / "hello.txt").read_bytes() == b"HELLO"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners on the host needs root")
def test_chown_and_creation_owner(sandbox, share):
    from slimbox.kernel.cred import Credentials

    mount_host(sandbox, share)
    sandbox.chown(b"/mnt/hello.txt", 1234, 5678)
    st = os.stat(share / "hello.txt")
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    os.chmod(share, 0o777)
    sandbox.cred = Credentials.of(1234, 5678)
    sandbox.write(b"/mnt/mine", b"x")
    st = os.stat(share / "mine")
    assert (st.st_uid, st.st_gid) == (1234, 5678)


# --- descriptors ----------------------------------------------------------------------------


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_directory_handles_are_bounded(sandbox, tmp_path):
    tree = tmp_path / "tree"
    deep = tree.joinpath(*[f"d{i}" for i in range(40)])
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_bytes(b"bottom")
    for i in range(40):
        (tree / f"wide{i}").mkdir()
        (tree / f"wide{i}" / "f").write_bytes(str(i).encode())
    fs = mount_host(sandbox, tree, max_open_dirs=4)
    baseline = _open_descriptors()

    deep_path = b"/mnt/" + b"/".join(b"d%d" % i for i in range(40)) + b"/bottom.txt"
    assert sandbox.read(deep_path) == b"bottom"
    for i in range(40):
        assert sandbox.read(b"/mnt/wide%d/f" % i) == str(i).encode()
        assert sandbox.listdir(b"/mnt/wide%d" % i) == [b"f"]
    assert fs.open_directory_count <= 4
    assert _open_descriptors() <= baseline + 4
    # evicted directories are reopened on demand
    assert sandbox.read(deep_path) == b"bottom"
    sandbox.write(b"/mnt/d0/d1/d2/new", b"n")
    assert (tree / "d0" / "d1" / "d2" / "new").read_bytes() == b"n"
    assert _open_descriptors() <= baseline + 4


def test_reopening_an_evicted_directory_checks_it_is_the_same_one(sandbox, tmp_path):
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    for i in range(6):
        (tree / f"other{i}").mkdir()
    mount_host(sandbox, tree, max_open_dirs=2)
    sandbox.ctx.cwd = sandbox.node(b"/mnt/a/b")
    sandbox.write(b"here", b"1")
    for i in range(6):
        sandbox.listdir(b"/mnt/other%d" % i)  # pushes a/b out of the cache
    os.rename(tree / "a" / "b", tree / "a" / "moved")
    (tree / "a" / "b").mkdir()
    assert sandbox.errno(sandbox.write, b"here2", b"2") == Errno.ESTALE
    assert not (tree / "a" / "b" / "here2").exists()


# --- what the walk learns is never kept past the call --------------------------------------


def test_stat_sees_a_file_replaced_or_removed_on_the_host(sandbox, share):
    mount_host(sandbox, share, readonly=True)
    before = sandbox.stat(b"/mnt/sub/inner.txt")
    replacement = share / "sub" / "replacement"
    replacement.write_bytes(b"a longer replacement\n")
    os.rename(replacement, share / "sub" / "inner.txt")
    after = sandbox.stat(b"/mnt/sub/inner.txt")
    host = os.stat(share / "sub" / "inner.txt")
    assert (after.ino, after.size) == (host.st_ino, host.st_size) != (before.ino, before.size)
    assert sandbox.read(b"/mnt/sub/inner.txt") == b"a longer replacement\n"
    os.unlink(share / "sub" / "inner.txt")
    assert sandbox.errno(sandbox.stat, b"/mnt/sub/inner.txt") == Errno.ENOENT


def test_a_directory_renamed_on_the_host_is_found_under_its_new_name_only(sandbox, share):
    mount_host(sandbox, share, readonly=True)
    assert sandbox.read(b"/mnt/sub/deeper/leaf.txt") == b"leaf\n"  # its handle is now held
    os.rename(share / "sub", share / "renamed")
    assert sandbox.errno(sandbox.stat, b"/mnt/sub/deeper/leaf.txt") == Errno.ENOENT
    assert sandbox.read(b"/mnt/renamed/deeper/leaf.txt") == b"leaf\n"
    assert sandbox.stat(b"/mnt/renamed/deeper/leaf.txt").ino == os.stat(share / "renamed/deeper/leaf.txt").st_ino


def test_a_symlink_swapped_in_for_a_walked_directory_is_resolved_in_the_sandbox(sandbox, share, tmp_path):
    mount_host(sandbox, share, readonly=True)
    assert sandbox.read(b"/mnt/sub/inner.txt") == b"inner\n"
    os.rename(share / "sub", share / "sub.old")
    os.symlink(str(tmp_path), share / "sub")  # on the host it would lead to secret.txt
    assert sandbox.errno(sandbox.read, b"/mnt/sub/secret.txt") == Errno.ENOENT
    assert sandbox.errno(sandbox.stat, b"/mnt/sub/secret.txt") == Errno.ENOENT
    assert sandbox.errno(sandbox.stat, b"/mnt/sub/inner.txt") == Errno.ENOENT
    assert stat_mod.S_ISLNK(sandbox.stat(b"/mnt/sub", follow=False).mode)


# --- the handle a creation opens serves the open that follows -------------------------------


def test_a_file_created_without_write_permission_is_still_written_by_its_creator(sandbox, share, tmp_path):
    native = tmp_path / "native"
    fd = os.open(native, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o400)
    try:
        native_wrote = os.write(fd, b"first words")
    finally:
        os.close(fd)
    mount_host(sandbox, share)
    file = sandbox.open(b"/mnt/readonly-new", O_CREAT | O_WRONLY, 0o400)
    try:
        assert file.write(None, b"first words") == native_wrote
    finally:
        file.release()
    assert (share / "readonly-new").read_bytes() == native.read_bytes()
    assert stat_mod.S_IMODE(os.stat(share / "readonly-new").st_mode) == 0o400
    write_only = sandbox.open(b"/mnt/other-new", O_CREAT | O_WRONLY, 0o600)
    try:  # the guest's file is write-only, whatever the host handle behind it allows
        assert (write_only.readable, write_only.writable) == (False, True)
    finally:
        write_only.release()


def test_a_creation_handle_nobody_opens_is_not_kept(sandbox, share):
    fs = mount_host(sandbox, share)
    directory = sandbox.node(b"/mnt").inode
    baseline = _open_descriptors()
    for index in range(5):
        directory.create(b"made%d" % index, 0o644, sandbox.cred)
    assert _open_descriptors() <= baseline + 1
    fs.close()
    assert _open_descriptors() < baseline
    assert sorted(p.name for p in share.glob("made*")) == [f"made{i}" for i in range(5)]


def test_a_listing_gives_the_numbers_and_types_the_host_listing_gives(sandbox, share):
    fs = mount_host(sandbox, share, readonly=True, hidden=())
    entries = sandbox.entries(b"/mnt")
    kinds = {"file": 8, "dir": 4, "symlink": 10, "fifo": 1}
    with os.scandir(share) as host:
        expected = {}
        for entry in host:
            st = entry.stat(follow_symlinks=False)
            kind = ("symlink" if entry.is_symlink() else "dir" if entry.is_dir(follow_symlinks=False)
                    else "file" if entry.is_file(follow_symlinks=False) else "fifo")
            expected[os.fsencode(entry.name)] = (entry.inode(), kinds[kind], st.st_ino)
    assert {name: (e.ino, e.type) for name, e in entries.items()} == {
        name: (ino, kind) for name, (ino, kind, _) in expected.items()}
    for name, entry in entries.items():  # and agree with what stat says
        assert entry.ino == sandbox.stat(b"/mnt/" + name, follow=False).ino == expected[name][2]
    assert fs.dev == sandbox.stat(b"/mnt/hello.txt").dev


def test_a_mount_on_a_host_directory_follows_the_host_directory_not_its_old_name(sandbox, share):
    from slimbox.kernel.fs.memfs import MemFs

    mount_host(sandbox, share)
    memory = MemFs(sandbox.new_dev(), sandbox.clock)
    sandbox.mount(memory, memory.root, b"/mnt/sub")
    sandbox.write(b"/mnt/sub/in-memory", b"m")
    assert sandbox.read(b"/mnt/sub/in-memory") == b"m"
    os.rename(share / "sub", share / "sub.old")
    (share / "sub").mkdir()  # a different directory under the mounted-on name
    assert sandbox.errno(sandbox.stat, b"/mnt/sub/in-memory") == Errno.ENOENT
    assert sandbox.read(b"/mnt/sub.old/in-memory") == b"m"  # the mount went with its directory


# --- creating and unlinking without a lookup first --------------------------------------------


class CountingDirectory:
    """A host directory handle that counts the calls made through it."""

    def __init__(self, inner, counts: dict) -> None:
        self._inner = inner
        self._counts = counts

    def __getattr__(self, name: str):
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self._counts[name] = self._counts.get(name, 0) + 1
            result = attribute(*args, **kwargs)
            return CountingDirectory(result, self._counts) if name == "subdir" else result
        return counted


def mount_counted(sandbox, path: Path) -> dict:
    counts: dict = {}
    root = CountingDirectory(PosixHostDirectory.open(str(path), True), counts)
    fs = HostFs(sandbox.new_dev(), sandbox.clock, root)
    sandbox.on_close(fs.close)
    sandbox.mount(fs, fs.root, b"/mnt")
    return counts


def test_creating_a_new_file_asks_the_host_once_and_unlinking_once(sandbox, share):
    counts = mount_counted(sandbox, share)
    sandbox.write(b"/mnt/new.txt", b"new\n")
    assert counts == {"stat": 1, "open_file": 1}  # (the stat: the mount's root, when mounted)
    sandbox.unlink(b"/mnt/new.txt")
    assert counts == {"stat": 1, "open_file": 1, "unlink": 1}
    assert not (share / "new.txt").exists()


def test_creating_over_an_existing_name_behaves_as_a_lookup_first_would(sandbox, share, tmp_path):
    mount_host(sandbox, share)
    sandbox.write(b"/mnt/hello.txt", b"replaced\n")  # O_CREAT|O_TRUNC on an existing file
    assert (share / "hello.txt").read_bytes() == b"replaced\n"
    assert sandbox.errno(sandbox.open, b"/mnt/hello.txt", O_CREAT | O_EXCL | O_WRONLY) == Errno.EEXIST
    assert sandbox.errno(sandbox.open, b"/mnt/sub", O_CREAT | O_WRONLY) == Errno.EISDIR
    sandbox.write(b"/mnt/link_rel", b"through the link\n")  # an existing symlink is followed
    assert (share / "hello.txt").read_bytes() == b"through the link\n"
    os.symlink("made_by_link.txt", share / "dangling")
    sandbox.write(b"/mnt/dangling", b"target\n")  # a dangling one: its target is created
    assert (share / "made_by_link.txt").read_bytes() == b"target\n"
    assert sandbox.errno(sandbox.open, b"/mnt/escape_abs", O_CREAT | O_WRONLY | O_NOFOLLOW) == Errno.ELOOP
    assert (tmp_path / "secret.txt").read_bytes() == SECRET


def test_unlink_errors_without_a_lookup_first(sandbox, share, tmp_path):
    mount_host(sandbox, share)
    assert sandbox.errno(sandbox.unlink, b"/mnt/missing") == Errno.ENOENT
    assert sandbox.errno(sandbox.unlink, b"/mnt/sub") == Errno.EISDIR
    assert sandbox.errno(sandbox.unlink, b"/mnt/hello.txt/") == Errno.ENOTDIR
    assert sandbox.errno(sandbox.unlink, b"/mnt/shadow") == Errno.ENOENT  # hidden
    assert (share / "shadow").exists() and (share / "sub").is_dir()
    sandbox.unlink(b"/mnt/escape_abs")  # the link goes, never what it points to
    assert not os.path.lexists(share / "escape_abs")
    assert (tmp_path / "secret.txt").read_bytes() == SECRET


def test_read_only_mount_still_answers_lookups_first(sandbox, share):
    mount_host(sandbox, share, readonly=True)
    assert sandbox.errno(sandbox.unlink, b"/mnt/missing") == Errno.ENOENT
    assert sandbox.errno(sandbox.unlink, b"/mnt/hello.txt") == Errno.EROFS
    file = sandbox.open(b"/mnt/hello.txt", O_CREAT | O_RDONLY)  # exists: opened, not created
    file.release()
    assert sandbox.errno(sandbox.open, b"/mnt/absent", O_CREAT | O_RDONLY) == Errno.EROFS


def test_stat_answers_from_the_lookup_only_where_nothing_is_followed_or_crossed(sandbox, share):
    mount_host(sandbox, share)
    file_stat = sandbox.stat(b"/mnt/hello.txt")
    assert stat_mod.S_ISREG(file_stat.mode) and file_stat.size == len(b"hello world\n")
    assert sandbox.stat(b"/mnt/link_rel") == file_stat  # followed
    assert stat_mod.S_ISLNK(sandbox.stat(b"/mnt/link_rel", follow=False).mode)
    assert sandbox.errno(sandbox.stat, b"/mnt/hello.txt/") == Errno.ENOTDIR
    # a mount on the directory: stat shows what is mounted there, not the host directory
    inner = MemFs(sandbox.new_dev(), sandbox.clock, root_mode=0o700)
    sandbox.vfs.mount(inner, inner.root, sandbox.node(b"/mnt/sub"))
    assert sandbox.stat(b"/mnt/sub").mode == inner.root.stat().mode
    assert sandbox.stat(b"/mnt/sub").dev == inner.dev


def test_a_listing_on_a_device_other_than_the_first_numbers_as_stat_does(sandbox, share):
    fs = mount_host(sandbox, share, readonly=True, hidden=())
    # another device seen first: the share's own numbers carry a device index
    fs._devices.clear()
    fs.ino_on(-1, 0)
    entries = sandbox.entries(b"/mnt")
    assert entries[b"hello.txt"].ino == fs.ino_on(os.stat(share).st_dev, os.lstat(share / "hello.txt").st_ino)
    assert entries[b"hello.txt"].ino != os.lstat(share / "hello.txt").st_ino
    for name in (b"hello.txt", b"link_rel", b"sub", b"fifo"):
        assert entries[name].ino == sandbox.stat(b"/mnt/" + name, follow=False).ino


def test_a_directory_read_from_any_position_gives_the_rest_of_its_listing(sandbox, share):
    mount_host(sandbox, share, readonly=True, hidden=())
    directory = sandbox.open(b"/mnt/sub")
    everything = directory.entries_from(0)
    assert [position for position, _ in everything] == [1, 2, 3, 4]
    assert sorted(entry.name for _, entry in everything) == [b".", b"..", b"deeper", b"inner.txt"]
    assert directory.entries_from(2) == everything[2:]
    assert directory.entries_from(4) == [] and directory.entries_from(9) == []
    assert directory.entries_from(-3) == everything
