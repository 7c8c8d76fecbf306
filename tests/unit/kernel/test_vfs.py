"""kernel/fs/vfs.py: the path walk ('..', symlinks, mounts, trailing slashes), the
operations' errors, permissions for a non-root user, read-only mounts and the umask."""

from __future__ import annotations

import pytest

from guest import FakeGuest
from slimbox.abi.errno import Errno
from slimbox.kernel.cred import MAY_EXEC, MAY_READ, MAY_WRITE, Credentials
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import (
    O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
    DirectoryFile, PathFile,
)
from slimbox.kernel.fs.inode import S_IFMT, S_IFREG
from slimbox.kernel.fs.vfs import FsContext



class View:
    """Vfs calls as one user with one working directory and umask."""

    def __init__(self, g: FakeGuest, uid: int = 0, gid: int = 0, umask: int = 0o022) -> None:
        self.g = g
        self.vfs = g.vfs
        self.cred = Credentials.of(uid, gid)
        self.ctx = FsContext(g.vfs.root, g.vfs.root, umask)

    def node(self, path: bytes, follow: bool = True):
        return self.vfs.resolve(self.ctx, self.cred, self.ctx.cwd, path, follow=follow)

    def path_of(self, path: bytes, follow: bool = True) -> bytes:
        return self.node(path, follow).full_path()

    def open(self, path: bytes, flags: int = O_RDONLY, mode: int = 0o666):
        return self.vfs.open(self.ctx, self.cred, self.ctx.cwd, path, flags, mode)

    def errno(self, op: str, *args, **kwargs) -> int | None:
        calls = {
            "resolve": lambda p, follow=True: self.node(p, follow),
            "open": self.open,
            "mkdir": lambda p, mode=0o777: self.vfs.mkdir(self.ctx, self.cred, self.ctx.cwd, p, mode),
            "rmdir": lambda p: self.vfs.rmdir(self.ctx, self.cred, self.ctx.cwd, p),
            "unlink": lambda p: self.vfs.unlink(self.ctx, self.cred, self.ctx.cwd, p),
            "rename": lambda a, b, flags=0: self.vfs.rename(self.ctx, self.cred, self.ctx.cwd, a, self.ctx.cwd, b,
                                                            flags),
            "link": lambda a, b: self.vfs.link(self.ctx, self.cred, self.ctx.cwd, a, self.ctx.cwd, b),
            "symlink": lambda t, p: self.vfs.symlink(self.ctx, self.cred, t, self.ctx.cwd, p),
            "readlink": lambda p: self.vfs.readlink(self.ctx, self.cred, self.ctx.cwd, p),
            "access": lambda p, want: self.vfs.access(self.ctx, self.cred, self.ctx.cwd, p, want),
            "chmod": lambda p, mode: self.vfs.chmod(self.cred, self.node(p), mode),
            "chown": lambda p, uid, gid: self.vfs.chown(self.cred, self.node(p), uid, gid),
            "truncate": lambda p, size: self.vfs.truncate(self.cred, self.node(p), size),
            "times": lambda p: self.vfs.set_times(self.cred, self.node(p), 1, 2, explicit=True),
        }
        try:
            calls[op](*args, **kwargs)
        except LinuxError as exc:
            return exc.errno
        return None


@pytest.fixture
def g() -> FakeGuest:
    guest = FakeGuest()
    guest.mkdir(b"/a/b/c")
    guest.write_file(b"/a/file", b"contents")
    return guest


@pytest.fixture
def root(g) -> View:
    return View(g)


@pytest.fixture
def user(g) -> View:
    return View(g, 1000, 1000)


# --- the walk ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path, expected", [
    (b"/", b"/"), (b"/..", b"/"), (b"/../../..", b"/"), (b"/a/..", b"/"), (b"//a///b//", b"/a/b"),
    (b"/a/./b/../b/c/../../b", b"/a/b"), (b"a/b", b"/a/b"), (b".", b"/"), (b"..", b"/"),
])
def test_dot_dot_stops_at_the_root(root, path, expected):
    assert root.path_of(path) == expected


def test_dot_dot_stops_at_a_chroot_too(g, root):
    root.ctx.root = root.node(b"/a")
    assert root.path_of(b"/") == b"/a"
    assert root.path_of(b"/../../b") == b"/a/b"
    g.symlink(b"/file", b"/a/b/abs")  # an absolute link starts at the process's root
    assert root.path_of(b"/b/abs") == b"/a/file"


def test_dot_dot_leaves_a_mount_for_its_parent(g, root):
    assert root.path_of(b"/tmp/..") == b"/"
    assert root.node(b"/tmp").mount is not root.node(b"/").mount
    assert root.node(b"/tmp/..").mount is root.node(b"/").mount


def test_empty_and_overlong_paths(root):
    assert root.errno("resolve", b"") == Errno.ENOENT
    assert root.errno("resolve", b"/" + b"x" * 256) == Errno.ENAMETOOLONG  # one component over NAME_MAX
    assert root.errno("resolve", b"/a/" * 1366) == Errno.ENAMETOOLONG  # 4098 bytes: over PATH_MAX
    assert root.errno("resolve", b"/" + b"x" * 255) == Errno.ENOENT


def test_a_trailing_slash_needs_a_directory(g, root):
    assert root.errno("resolve", b"/a/file/") == Errno.ENOTDIR
    assert root.errno("resolve", b"/a/file/.") == Errno.ENOTDIR
    assert root.errno("open", b"/a/file/") == Errno.ENOTDIR
    assert root.errno("resolve", b"/a/file/x") == Errno.ENOTDIR
    assert root.path_of(b"/a/b/") == b"/a/b"
    g.symlink(b"b", b"/a/to-dir")
    assert root.path_of(b"/a/to-dir/") == b"/a/b"  # followed, even without follow=True
    assert root.node(b"/a/to-dir/", follow=False).inode.is_dir()


def test_relative_symlinks_resolve_from_their_own_directory(g, root):
    g.symlink(b"../file", b"/a/b/up")
    g.symlink(b"c/../../file", b"/a/b/around")
    assert root.path_of(b"/a/b/up") == b"/a/file"
    assert root.path_of(b"/a/b/around") == b"/a/file"
    assert root.node(b"/a/b/up", follow=False).inode.is_symlink()


def test_symlink_loops_are_eloop(g, root):
    g.symlink(b"self", b"/a/self")
    g.symlink(b"pong", b"/a/ping")
    g.symlink(b"ping", b"/a/pong")
    for path in (b"/a/self", b"/a/ping", b"/a/self/x", b"/a/ping/"):
        assert root.errno("resolve", path) == Errno.ELOOP
    assert root.node(b"/a/self", follow=False).inode.is_symlink()


def test_forty_links_are_followed_and_the_forty_first_is_eloop(g, root):
    previous = b"file"
    for index in range(1, 42):
        g.symlink(previous, b"/a/l%d" % index)
        previous = b"l%d" % index
    assert root.path_of(b"/a/l40") == b"/a/file"
    assert root.errno("resolve", b"/a/l41") == Errno.ELOOP


def test_missing_components(root):
    assert root.errno("resolve", b"/nope") == Errno.ENOENT
    assert root.errno("resolve", b"/nope/x") == Errno.ENOENT
    assert root.errno("resolve", b"/a/b/c/d/e") == Errno.ENOENT


# --- open -------------------------------------------------------------------------------------------


def test_open_kinds(root):
    assert isinstance(root.open(b"/a"), DirectoryFile)
    assert isinstance(root.open(b"/a/file", O_PATH), PathFile)
    file = root.open(b"/a/file", O_RDWR | O_APPEND)
    assert file.readable and file.writable and file.path.full_path() == b"/a/file"


@pytest.mark.parametrize("path, flags, expected", [
    (b"/a", O_WRONLY, Errno.EISDIR),
    (b"/a", O_RDWR, Errno.EISDIR),
    (b"/a", O_RDONLY | O_CREAT, Errno.EISDIR),
    (b"/a/", O_RDONLY | O_CREAT, Errno.EISDIR),
    (b"/a/new/", O_WRONLY | O_CREAT, Errno.EISDIR),
    (b"/a/file", O_DIRECTORY, Errno.ENOTDIR),
    (b"/a/file", O_PATH | O_DIRECTORY, Errno.ENOTDIR),
    (b"/a/file", O_CREAT | O_EXCL | O_WRONLY, Errno.EEXIST),
    (b"/a/missing", O_RDONLY, Errno.ENOENT),
    (b"/missing/x", O_CREAT | O_WRONLY, Errno.ENOENT),
    (b"/a/file/x", O_CREAT | O_WRONLY, Errno.ENOTDIR),
])
def test_open_errors(root, path, flags, expected):
    assert root.errno("open", path, flags) == expected


def test_symlinks_and_open_flags(g, root):
    g.symlink(b"file", b"/a/link")
    g.symlink(b"target", b"/a/dangling")
    assert root.errno("open", b"/a/link", O_RDONLY | O_NOFOLLOW) == Errno.ELOOP
    assert root.errno("open", b"/a/dangling", O_CREAT | O_EXCL | O_WRONLY) == Errno.EEXIST
    assert root.errno("open", b"/a/dangling", O_RDONLY) == Errno.ENOENT
    root.open(b"/a/dangling", O_CREAT | O_WRONLY, 0o600)  # creates what the link names
    assert root.node(b"/a/target").inode.stat().mode == S_IFREG | 0o600
    assert isinstance(root.open(b"/a/link", O_PATH | O_NOFOLLOW), PathFile)


def test_o_creat_over_a_taken_name_charges_and_numbers_nothing(g, root):
    """Root's O_CREAT tries creating first; a taken name (file, directory, symlink)
    must then cost the filesystem nothing: no inode charged, no inode number used."""
    g.symlink(b"file", b"/a/link")
    fs = root.node(b"/a").inode.fs
    used = fs.budget.used
    first = root.open(b"/a/probe1", O_CREAT | O_WRONLY).inode.ino
    used_by_one = fs.budget.used - used
    for path, flags in ((b"/a/file", O_CREAT | O_WRONLY), (b"/a/link", O_CREAT | O_RDONLY),
                        (b"/a/file", O_CREAT | O_EXCL | O_WRONLY), (b"/a/b", O_CREAT | O_WRONLY)):
        root.errno("open", path, flags)
    assert root.errno("open", b"/a/file", O_CREAT | O_EXCL | O_WRONLY) == Errno.EEXIST
    assert root.errno("open", b"/a/b", O_CREAT | O_WRONLY) == Errno.EISDIR
    assert g.read_file(b"/a/file") == b"contents"
    second = root.open(b"/a/probe2", O_CREAT | O_WRONLY).inode.ino
    assert second == first + 1
    assert fs.budget.used - used == 2 * used_by_one


def test_o_trunc_empties_and_o_creat_applies_the_umask(g, root):
    root.open(b"/a/file", O_WRONLY | O_TRUNC)
    assert g.read_file(b"/a/file") == b""
    root.open(b"/a/new", O_WRONLY | O_CREAT, 0o777)
    assert g.stat(b"/a/new").mode & 0o7777 == 0o755
    root.ctx.umask = 0o077
    root.open(b"/a/private", O_WRONLY | O_CREAT, 0o666)
    assert g.stat(b"/a/private").mode & 0o7777 == 0o600
    root.open(b"/a/file", O_WRONLY | O_CREAT, 0o600)  # an existing file keeps its mode
    assert g.stat(b"/a/file").mode & 0o7777 == 0o644


def test_access_mode_three_opens_for_neither_reading_nor_writing(root):
    file = root.open(b"/a/file", 3)
    assert not file.readable and not file.writable


# --- names -----------------------------------------------------------------------------------------


def test_directory_operation_errors(g, root):
    assert root.errno("mkdir", b"/a") == Errno.EEXIST
    assert root.errno("mkdir", b"/a/file/x") == Errno.ENOTDIR
    assert root.errno("mkdir", b"/") == Errno.EEXIST
    assert root.errno("rmdir", b"/a") == Errno.ENOTEMPTY
    assert root.errno("rmdir", b"/a/file") == Errno.ENOTDIR
    assert root.errno("rmdir", b"/a/b/c/.") == Errno.EINVAL
    assert root.errno("rmdir", b"/a/b/c/..") == Errno.ENOTEMPTY
    assert root.errno("rmdir", b"/") == Errno.EBUSY
    assert root.errno("unlink", b"/a/b") == Errno.EISDIR
    assert root.errno("unlink", b"/a/b/") == Errno.EISDIR
    assert root.errno("unlink", b"/a/file/") == Errno.ENOTDIR
    assert root.errno("unlink", b"/a/none") == Errno.ENOENT
    assert root.errno("link", b"/a/b", b"/a/hard") == Errno.EPERM
    assert root.errno("link", b"/a/file", b"/tmp/hard") == Errno.EXDEV
    assert root.errno("symlink", b"", b"/a/empty") == Errno.ENOENT
    assert root.errno("symlink", b"x", b"/a/file") == Errno.EEXIST
    assert root.errno("readlink", b"/a/file") == Errno.EINVAL
    root.vfs.mkdir(root.ctx, root.cred, root.ctx.cwd, b"/a/made/", 0o777)  # a trailing slash is fine
    assert root.errno("rmdir", b"/a/made/") is None


def test_rename_rules(g, root):
    assert root.errno("rename", b"/a", b"/a/b/c/inside") == Errno.EINVAL  # into its own subdirectory
    assert root.errno("rename", b"/a/b", b"/a/b/x") == Errno.EINVAL
    assert root.errno("rename", b"/a/b", b"/a/file") == Errno.ENOTDIR
    assert root.errno("rename", b"/a/file", b"/a/b") == Errno.EISDIR
    g.mkdir(b"/a/full/x")
    assert root.errno("rename", b"/a/b", b"/a/full") == Errno.ENOTEMPTY
    assert root.errno("rename", b"/a/missing", b"/a/x") == Errno.ENOENT
    assert root.errno("rename", b"/a/file", b"/tmp/file") == Errno.EXDEV
    assert root.errno("rename", b"/a/file", b"/a/file") is None
    g.write_file(b"/a/other", b"other")
    assert root.errno("rename", b"/a/file", b"/a/other", 1) == Errno.EEXIST  # RENAME_NOREPLACE
    assert root.errno("rename", b"/a/file", b"/a/other", 8) == Errno.EINVAL
    assert root.errno("rename", b"/a/file", b"/a/other") is None
    assert g.read_file(b"/a/other") == b"contents" and not g.exists(b"/a/file")
    g.mkdir(b"/a/empty")
    assert root.errno("rename", b"/a/b", b"/a/empty") is None  # over an empty directory
    assert root.path_of(b"/a/empty/c") == b"/a/empty/c"


def test_mount_points_cannot_be_removed_or_renamed(g, root):
    assert root.errno("rmdir", b"/tmp") == Errno.EBUSY
    assert root.errno("rename", b"/tmp", b"/elsewhere") == Errno.EBUSY
    assert root.node(b"/tmp").mount is not root.node(b"/").mount


def test_rename_with_a_trailing_slash_needs_directories(g, root):
    assert root.errno("rename", b"/a/file", b"/a/renamed/") == Errno.ENOTDIR
    assert root.errno("rename", b"/a/file/", b"/a/renamed") == Errno.ENOTDIR
    assert g.exists(b"/a/file") and not g.exists(b"/a/renamed")
    assert root.errno("rename", b"/a/b/", b"/a/moved/") is None  # directories may have one


def test_new_names_with_a_trailing_slash_are_enoent(g, root):
    assert root.errno("link", b"/a/file", b"/a/new/") == Errno.ENOENT
    assert root.errno("symlink", b"x", b"/a/new/") == Errno.ENOENT


# --- permissions ----------------------------------------------------------------------------------------


def test_a_user_needs_search_permission_on_every_directory(g, user):
    g.mkdir(b"/locked", 0o700)
    g.write_file(b"/locked/f", b"x", 0o644)
    assert user.errno("resolve", b"/locked/f") == Errno.EACCES
    assert user.errno("resolve", b"/locked") is None  # the directory itself is visible
    g.mkdir(b"/listable", 0o744)
    g.write_file(b"/listable/f", b"x")
    assert user.errno("open", b"/listable") is None  # may list it...
    assert user.errno("resolve", b"/listable/f") == Errno.EACCES  # ...but not go through it


def test_a_user_needs_read_and_write_permission_to_open(g, user):
    g.write_file(b"/tmp/root-only", b"secret", 0o600)
    g.write_file(b"/tmp/readable", b"public", 0o644)
    g.write_file(b"/tmp/group", b"g", 0o660, gid=1000)
    assert user.errno("open", b"/tmp/root-only") == Errno.EACCES
    assert user.errno("open", b"/tmp/readable") is None
    assert user.errno("open", b"/tmp/readable", O_WRONLY) == Errno.EACCES
    assert user.errno("open", b"/tmp/readable", O_RDONLY | O_TRUNC) == Errno.EACCES
    assert user.errno("open", b"/tmp/group", O_RDWR) is None
    assert user.errno("access", b"/tmp/readable", MAY_READ) is None
    assert user.errno("access", b"/tmp/readable", MAY_WRITE) == Errno.EACCES
    assert user.errno("access", b"/tmp/readable", MAY_EXEC) == Errno.EACCES
    assert g.read_file(b"/tmp/readable") == b"public"


def test_root_may_not_execute_a_file_without_any_execute_bit(g, root):
    g.write_file(b"/tmp/data", b"", 0o644)
    g.write_file(b"/tmp/tool", b"", 0o700)
    assert root.errno("access", b"/tmp/data", MAY_EXEC) == Errno.EACCES
    assert root.errno("access", b"/tmp/tool", MAY_EXEC) is None
    assert root.errno("access", b"/tmp/data", MAY_READ | MAY_WRITE) is None


def test_a_user_needs_write_permission_on_the_directory_to_change_names(g, user):
    g.write_file(b"/a/file2", b"", 0o666)
    assert user.errno("mkdir", b"/a/mine") == Errno.EACCES
    assert user.errno("open", b"/a/new", O_CREAT | O_WRONLY) == Errno.EACCES
    assert user.errno("unlink", b"/a/file2") == Errno.EACCES
    assert user.errno("rename", b"/a/file2", b"/a/renamed") == Errno.EACCES
    assert user.errno("symlink", b"x", b"/a/sym") == Errno.EACCES
    assert user.errno("open", b"/a/file2", O_WRONLY) is None  # the file itself is writable


def test_sticky_directories_protect_other_users_files(g, user):
    g.write_file(b"/tmp/roots", b"", 0o666)
    g.write_file(b"/tmp/users", b"", 0o666, uid=1000, gid=1000)
    assert user.errno("unlink", b"/tmp/roots") == Errno.EPERM
    assert user.errno("rename", b"/tmp/roots", b"/tmp/stolen") == Errno.EPERM
    assert user.errno("unlink", b"/tmp/users") is None


def test_sticky_directories_protect_rename_targets_too(g, user):
    g.write_file(b"/tmp/roots", b"root's", 0o666)
    g.write_file(b"/tmp/users", b"user's", 0o644, uid=1000, gid=1000)
    assert user.errno("rename", b"/tmp/users", b"/tmp/roots") == Errno.EPERM
    assert g.read_file(b"/tmp/roots") == b"root's" and g.stat(b"/tmp/roots").uid == 0


def test_moving_a_directory_elsewhere_needs_write_permission_on_it(g, user):
    g.mkdir(b"/tmp/u1", 0o755, uid=1000, gid=1000)
    g.mkdir(b"/tmp/u2", 0o755, uid=1000, gid=1000)
    g.mkdir(b"/tmp/u1/roots", 0o755)
    assert user.errno("rename", b"/tmp/u1/roots", b"/tmp/u1/renamed") is None  # same parent: fine
    assert user.errno("rename", b"/tmp/u1/renamed", b"/tmp/u2/moved") == Errno.EACCES


def test_attribute_changes_are_for_the_owner(g, user):
    g.write_file(b"/tmp/roots", b"", 0o666)
    g.write_file(b"/tmp/mine", b"", 0o644, uid=1000, gid=1000)
    assert user.errno("chmod", b"/tmp/roots", 0o777) == Errno.EPERM
    assert user.errno("chown", b"/tmp/mine", 0, 1000) == Errno.EPERM  # giving files away
    assert user.errno("chown", b"/tmp/mine", 1000, 0) == Errno.EPERM  # a group it is not in
    assert user.errno("times", b"/tmp/roots") == Errno.EPERM
    assert user.errno("chmod", b"/tmp/mine", 0o4755) is None
    assert g.stat(b"/tmp/mine").mode & 0o7777 == 0o4755
    assert View(g).errno("chown", b"/tmp/mine", 1001, 1001) is None
    assert g.stat(b"/tmp/mine").mode & 0o7777 == 0o755  # chown clears set-user-ID


# --- read-only mounts ------------------------------------------------------------------------------------


def test_a_read_only_mount_refuses_every_change(g, root):
    mount = g.mount_memfs(b"/ro")
    g.mkdir(b"/ro/dir")
    g.write_file(b"/ro/file", b"fixed")
    mount.readonly = True
    for op, args in [
        ("open", (b"/ro/file", O_WRONLY)), ("open", (b"/ro/file", O_RDWR)), ("open", (b"/ro/new", O_CREAT | O_WRONLY)),
        ("mkdir", (b"/ro/new",)), ("rmdir", (b"/ro/dir",)), ("unlink", (b"/ro/file",)),
        ("rename", (b"/ro/file", b"/ro/moved")), ("symlink", (b"x", b"/ro/link")), ("chmod", (b"/ro/file", 0o600)),
        ("chown", (b"/ro/file", 5, 5)), ("truncate", (b"/ro/file", 0)), ("times", (b"/ro/file",)),
        ("access", (b"/ro/file", MAY_WRITE)),
    ]:
        assert root.errno(op, *args) == Errno.EROFS, (op, args)
    assert root.errno("open", b"/ro/file", O_RDONLY) is None
    assert root.errno("mkdir", b"/ro/dir") == Errno.EEXIST  # existence is reported before EROFS
    assert g.read_file(b"/ro/file") == b"fixed"


def test_truncate_checks(g, root, user):
    assert root.errno("truncate", b"/a/file", -1) == Errno.EINVAL
    assert root.errno("truncate", b"/a", 0) == Errno.EISDIR
    assert user.errno("truncate", b"/a/file", 0) == Errno.EACCES
    assert root.errno("truncate", b"/a/file", 3) is None
    assert g.read_file(b"/a/file") == b"con"
    assert root.errno("truncate", b"/a/file", 6) is None
    assert g.read_file(b"/a/file") == b"con\0\0\0"
    assert g.stat(b"/a/file").mode & S_IFMT == S_IFREG


# --- remembered walks ---------------------------------------------------------------------------


def _contents(view: View, path: bytes) -> bytes:
    file = view.open(path)
    try:
        return file.read(None, 100)
    finally:
        file.release()


def test_a_renamed_directory_is_not_found_through_a_remembered_walk(g, root):
    g.write_file(b"/a/b/c/file", b"first")
    assert _contents(root, b"/a/b/c/file") == b"first"
    assert root.errno("rename", b"/a/b", b"/a/moved") is None
    assert root.errno("resolve", b"/a/b/c/file") == Errno.ENOENT
    assert _contents(root, b"/a/moved/c/file") == b"first"
    assert root.path_of(b"/a/moved/c/file") == b"/a/moved/c/file"


def test_a_directory_removed_and_made_again_is_the_new_one(g, root, user):
    g.write_file(b"/a/b/c/file", b"old")
    assert _contents(root, b"/a/b/c/file") == b"old"
    assert root.errno("unlink", b"/a/b/c/file") is None
    assert root.errno("rmdir", b"/a/b/c") is None
    assert root.errno("resolve", b"/a/b/c/file") == Errno.ENOENT
    assert root.errno("mkdir", b"/a/b/c", 0o755) is None
    file = root.open(b"/a/b/c/file", O_WRONLY | O_CREAT, 0o644)
    try:
        file.write(None, b"new")
    finally:
        file.release()
    assert _contents(root, b"/a/b/c/file") == b"new"
    assert _contents(user, b"/a/b/c/file") == b"new"  # a user's walk is never remembered


def test_a_symlink_swapped_in_for_a_walked_directory_is_followed(g, root):
    g.write_file(b"/a/b/c/file", b"directory")
    g.mkdir(b"/elsewhere")
    g.write_file(b"/elsewhere/file", b"link target")
    assert _contents(root, b"/a/b/c/file") == b"directory"
    assert root.errno("rename", b"/a/b/c", b"/a/b/c.old") is None
    assert root.errno("symlink", b"/elsewhere", b"/a/b/c") is None
    assert _contents(root, b"/a/b/c/file") == b"link target"


def test_a_mount_over_a_walked_directory_hides_what_was_below(g, root):
    g.write_file(b"/a/b/c/file", b"below")
    assert _contents(root, b"/a/b/c/file") == b"below"
    g.mount_memfs(b"/a/b")
    assert root.errno("resolve", b"/a/b/c/file") == Errno.ENOENT


def test_a_walk_remembered_for_root_still_checks_a_user(g, root, user):
    g.mkdir(b"/a/b/locked", 0o700)
    g.write_file(b"/a/b/locked/f", b"x")
    assert _contents(root, b"/a/b/locked/f") == b"x"
    assert user.errno("resolve", b"/a/b/locked/f") == Errno.EACCES


def test_remembered_walks_are_bounded(g, root):
    for index in range(300):
        g.mkdir(b"/many/d%d" % index)
        g.write_file(b"/many/d%d/f" % index, b"%d" % index)
    for index in range(300):
        assert _contents(root, b"/many/d%d/f" % index) == b"%d" % index
    assert len(g.vfs._walks) <= 256


def test_a_wholly_remembered_walk_still_treats_dots_and_slashes_as_a_walk_does(g, root):
    g.write_file(b"/a/b/c/file", b"x")
    assert _contents(root, b"/a/b/c/file") == b"x"  # /a/b/c is now remembered whole
    assert _contents(root, b"/a/b/c/file") == b"x"
    assert root.path_of(b"/a/b/c/.") == b"/a/b/c"
    assert root.path_of(b"/a/b/c/..") == b"/a/b"
    assert root.path_of(b"/a/b/c//file") == b"/a/b/c/file"
    assert root.errno("resolve", b"/a/b/c/file/") == Errno.ENOTDIR
    assert root.errno("resolve", b"/a/b/c/missing") == Errno.ENOENT
    root.ctx.cwd = root.node(b"/a")
    assert root.path_of(b"b/c/file") == b"/a/b/c/file"  # relative: another start, another walk
    assert _contents(root, b"b/c/file") == b"x"
