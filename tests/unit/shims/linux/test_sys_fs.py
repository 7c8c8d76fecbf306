"""shims/linux/sys_fs.py: syscalls that name files by path, with hostile paths, a
non-root user, a read-only mount, the umask and the working directory."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import UNMAPPED, FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.fs.inode import S_IFIFO, S_IFLNK, S_IFMT, S_IFREG  # noqa: E402
from slimbox.kernel.mm import PROT_READ  # noqa: E402

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH, AT_EACCESS = 0x100, 0x200, 0x400, 0x1000, 0x200
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC = 0, 1, 2, 0o100, 0o200, 0o1000
O_DIRECTORY, O_NOFOLLOW, O_PATH, O_TMPFILE = 0o200000, 0o400000, 0o10000000, 0o20200000
F_OK, X_OK, W_OK, R_OK = 0, 1, 2, 4
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


@pytest.fixture
def g() -> FakeGuest:
    guest = FakeGuest()
    guest.mkdir(b"/a/b")
    guest.write_file(b"/a/file", b"contents")
    return guest


def stat_of(g: FakeGuest, path: bytes, flags: int = 0, dirfd: int = AT_FDCWD) -> tuple[int, ...] | int:
    """(ino, mode, size, uid, gid, atime_ns, mtime_ns) by newfstatat, or -errno."""
    buf = g.alloc(144)
    result = g.syscall("newfstatat", dirfd, path, buf, flags)
    if result:
        return result
    raw = g.get(buf, 144)
    ino = struct.unpack_from("<Q", raw, 8)[0]
    mode, uid, gid = struct.unpack_from("<III", raw, 24)
    size = struct.unpack_from("<q", raw, 48)[0]
    atime = struct.unpack_from("<qq", raw, 72)
    mtime = struct.unpack_from("<qq", raw, 88)
    return ino, mode, size, uid, gid, atime[0] * 10**9 + atime[1], mtime[0] * 10**9 + mtime[1]


# --- hostile paths -----------------------------------------------------------------------------------


def test_path_pointers_are_checked(g):
    assert g.syscall("open", 0, O_RDONLY, 0) == -Errno.EFAULT
    assert g.syscall("open", UNMAPPED, O_RDONLY, 0) == -Errno.EFAULT
    assert g.syscall("open", b"", O_RDONLY, 0) == -Errno.ENOENT
    tail = g.alloc_tail(5)
    g.set(tail, b"/a/fi")  # no NUL before the mapping ends
    assert g.syscall("open", tail, O_RDONLY, 0) == -Errno.EFAULT
    assert g.syscall("open", b"/" + b"a" * 4095, O_RDONLY, 0) == -Errno.ENAMETOOLONG  # 4096 bytes + NUL
    assert g.syscall("open", b"/" * 4095, O_RDONLY, 0) >= 0  # 4095 bytes + NUL: the longest path there is
    assert g.syscall("mkdir", UNMAPPED, 0o755) == -Errno.EFAULT
    assert g.syscall("rename", b"/a/file", UNMAPPED) == -Errno.EFAULT
    assert g.exists(b"/a/file")


def test_open_errors(g):
    assert g.syscall("open", b"/a/file/", O_RDONLY, 0) == -Errno.ENOTDIR
    assert g.syscall("open", b"/a/file/", O_RDONLY | O_CREAT, 0o644) == -Errno.EISDIR
    assert g.syscall("open", b"/a/new/", O_WRONLY | O_CREAT, 0o644) == -Errno.EISDIR
    assert g.syscall("open", b"/a", O_WRONLY, 0) == -Errno.EISDIR
    assert g.syscall("open", b"/a/file", O_DIRECTORY, 0) == -Errno.ENOTDIR
    assert g.syscall("open", b"/a/file", O_CREAT | O_EXCL | O_WRONLY, 0o644) == -Errno.EEXIST
    assert g.syscall("open", b"/a", O_TMPFILE | O_RDWR, 0o600) == -Errno.EOPNOTSUPP
    assert g.syscall("open", b"/missing/x", O_CREAT | O_WRONLY, 0o644) == -Errno.ENOENT


def test_openat_relative_to_a_directory_descriptor(g):
    dirfd = g.syscall("open", b"/a", O_DIRECTORY, 0)
    fd = g.syscall("openat", dirfd, b"file", O_RDONLY, 0)
    assert fd >= 0 and g.task.fds.get(fd).path.full_path() == b"/a/file"
    filefd = g.syscall("open", b"/a/file", O_RDONLY, 0)
    assert g.syscall("openat", filefd, b"x", O_RDONLY, 0) == -Errno.ENOTDIR
    assert g.syscall("openat", 99, b"file", O_RDONLY, 0) == -Errno.EBADF
    assert g.syscall("openat", 99, b"/a/file", O_RDONLY, 0) >= 0  # an absolute path ignores dirfd
    pathfd = g.syscall("open", b"/a", O_PATH, 0)
    assert g.syscall("openat", pathfd, b"file", O_RDONLY, 0) >= 0  # O_PATH directories work as dirfds


def test_symlink_loops_and_nofollow(g):
    assert g.syscall("symlink", b"loop", b"/a/loop") == 0
    assert g.syscall("symlink", b"file", b"/a/link") == 0
    assert g.syscall("open", b"/a/loop", O_RDONLY, 0) == -Errno.ELOOP
    assert g.syscall("open", b"/a/link", O_RDONLY | O_NOFOLLOW, 0) == -Errno.ELOOP
    assert stat_of(g, b"/a/loop") == -Errno.ELOOP
    assert stat_of(g, b"/a/loop", AT_SYMLINK_NOFOLLOW)[1] & S_IFMT == S_IFLNK
    assert stat_of(g, b"/a/link")[1] & S_IFMT == S_IFREG


def test_dot_dot_at_the_root(g):
    assert stat_of(g, b"/../../..")[0] == stat_of(g, b"/")[0]
    assert g.syscall("chdir", b"/") == 0
    assert stat_of(g, b"../a")[0] == stat_of(g, b"/a")[0]


# --- stat family ------------------------------------------------------------------------------------


def test_stat_variants(g):
    ino = g.stat(b"/a/file").ino
    fd = g.syscall("open", b"/a/file", O_RDONLY, 0)
    assert stat_of(g, b"/a/file")[:3] == (ino, S_IFREG | 0o644, 8)
    assert stat_of(g, b"", AT_EMPTY_PATH, fd)[0] == ino
    assert stat_of(g, b"", 0, fd) == -Errno.ENOENT  # an empty path needs AT_EMPTY_PATH
    assert stat_of(g, b"file", 0, g.syscall("open", b"/a", O_DIRECTORY, 0))[0] == ino
    assert stat_of(g, b"/a/file", 0x4) == -Errno.EINVAL  # an unknown flag
    buf = g.alloc(144)
    assert g.syscall("stat", b"/a/file", buf) == 0 and g.syscall("lstat", b"/a/file", buf) == 0
    assert g.syscall("stat", b"/a/file", UNMAPPED) == -Errno.EFAULT
    assert g.syscall("stat", b"/a/file", g.map(4096, PROT_READ)) == -Errno.EFAULT
    statx = g.alloc(256)
    assert g.syscall("statx", AT_FDCWD, b"/a/file", 0, 0x7FF, statx) == 0
    assert struct.unpack_from("<H", g.get(statx, 256), 28)[0] == S_IFREG | 0o644
    assert struct.unpack_from("<Q", g.get(statx, 256), 40)[0] == 8
    assert g.syscall("statx", AT_FDCWD, b"/a/file", 0, 0x80000000, statx) == -Errno.EINVAL


def test_statfs(g):
    buf = g.alloc(120)
    assert g.syscall("statfs", b"/tmp", buf) == 0
    assert struct.unpack_from("<q", g.get(buf, 8))[0] == 0x01021994  # TMPFS_MAGIC
    assert g.syscall("statfs", b"/nope", buf) == -Errno.ENOENT


# --- creating and removing names -------------------------------------------------------------------------


def test_umask_applies_to_everything_created(g):
    assert g.syscall("umask", 0o027) == 0o022
    assert g.syscall("umask", 0o7777) == 0o027  # only the permission bits are kept
    assert g.syscall("umask", 0o027) == 0o777
    fd = g.syscall("creat", b"/a/created", 0o666)
    assert fd >= 0
    assert g.syscall("mkdir", b"/a/dir", 0o777) == 0
    assert g.syscall("mknod", b"/a/fifo", S_IFIFO | 0o666, 0) == 0
    assert g.stat(b"/a/created").mode == S_IFREG | 0o640
    assert g.stat(b"/a/dir").mode & 0o7777 == 0o750
    assert g.stat(b"/a/fifo").mode == S_IFIFO | 0o640


def test_directory_syscall_errors(g):
    assert g.syscall("mkdir", b"/a", 0o755) == -Errno.EEXIST
    assert g.syscall("rmdir", b"/a") == -Errno.ENOTEMPTY
    assert g.syscall("rmdir", b"/a/file") == -Errno.ENOTDIR
    assert g.syscall("rmdir", b"/a/b/.") == -Errno.EINVAL
    assert g.syscall("unlink", b"/a/b") == -Errno.EISDIR
    assert g.syscall("unlink", b"/a/file/") == -Errno.ENOTDIR
    assert g.syscall("unlinkat", AT_FDCWD, b"/a/b", 0x1) == -Errno.EINVAL
    assert g.syscall("unlinkat", AT_FDCWD, b"/a/b", AT_REMOVEDIR) == 0
    assert g.syscall("rename", b"/a", b"/a/inside") == -Errno.EINVAL
    assert g.syscall("renameat2", AT_FDCWD, b"/a/file", AT_FDCWD, b"/a/file", 1) == -Errno.EEXIST
    assert g.syscall("link", b"/a", b"/a/hard") == -Errno.EPERM
    assert g.syscall("link", b"/a/file", b"/tmp/hard") == -Errno.EXDEV
    assert g.syscall("unlink", b"/a/file") == 0
    assert g.syscall("unlink", b"/a/file") == -Errno.ENOENT


def test_mknod(g):
    assert g.syscall("mknod", b"/a/plain", 0o600, 0) == 0  # type 0 means a regular file
    assert g.stat(b"/a/plain").mode == S_IFREG | 0o600
    assert g.syscall("mknod", b"/a/plain", 0o600, 0) == -Errno.EEXIST
    assert g.syscall("mknod", b"/a/dir", 0o040755, 0) == -Errno.EINVAL
    assert g.syscall("mknod", b"/a/odd", 0o170000 | 0o644, 0) == -Errno.EINVAL


def test_links(g):
    assert g.syscall("link", b"/a/file", b"/a/hard") == 0
    assert g.stat(b"/a/hard").ino == g.stat(b"/a/file").ino and g.stat(b"/a/file").nlink == 2
    assert g.syscall("symlink", b"../file", b"/a/b/soft") == 0
    buf = g.alloc(64)
    assert g.syscall("readlink", b"/a/b/soft", buf, 64) == 7 and g.get(buf, 8) == b"../file\0"
    assert g.syscall("readlink", b"/a/b/soft", buf, 4) == 4 and g.get(buf, 5) == b"../fi"  # cut, no NUL added
    assert g.syscall("readlink", b"/a/b/soft", buf, 0) == -Errno.EINVAL
    assert g.syscall("readlink", b"/a/file", buf, 64) == -Errno.EINVAL
    assert g.syscall("readlink", b"/a/b/soft", UNMAPPED, 64) == -Errno.EFAULT
    assert g.syscall("linkat", AT_FDCWD, b"/a/b/soft", AT_FDCWD, b"/a/via", AT_SYMLINK_FOLLOW) == 0
    assert g.stat(b"/a/via", follow=False).ino == g.stat(b"/a/file").ino
    assert g.syscall("linkat", AT_FDCWD, b"/a/file", AT_FDCWD, b"/a/x", 0x2) == -Errno.EINVAL


def test_linkat_empty_path_gives_a_descriptor_a_name(g):
    fd = g.syscall("open", b"/a/file", O_RDONLY, 0)
    assert g.syscall("linkat", fd, b"", AT_FDCWD, b"/a/named", AT_EMPTY_PATH) == 0
    assert g.stat(b"/a/named").ino == g.stat(b"/a/file").ino
    assert g.syscall("linkat", fd, b"", AT_FDCWD, b"/a/other", 0) == -Errno.ENOENT  # no AT_EMPTY_PATH


def test_linkat_empty_path_still_checks_the_target_directory(g):
    user = g.spawn(uid=1000, gid=1000)
    g.write_file(b"/home/users", b"", 0o644, uid=1000, gid=1000)  # on the same filesystem as /etc
    fd = user.syscall("open", b"/home/users", O_RDONLY, 0)
    # the user may not write /etc (Linux also wants CAP_DAC_READ_SEARCH for AT_EMPTY_PATH: ENOENT)
    assert user.syscall("linkat", fd, b"", AT_FDCWD, b"/etc/planted", AT_EMPTY_PATH) in (-Errno.EACCES,
                                                                                         -Errno.ENOENT)
    assert not g.exists(b"/etc/planted")
    g.bind_mount(b"/a", b"/mnt", readonly=True)  # /a again, read-only
    rootfd = g.syscall("open", b"/a/file", O_RDONLY, 0)
    assert g.syscall("linkat", rootfd, b"", AT_FDCWD, b"/mnt/linked", AT_EMPTY_PATH) == -Errno.EROFS


# --- attributes ------------------------------------------------------------------------------------------


def test_chmod_and_chown(g):
    assert g.syscall("chmod", b"/a/file", 0o4711) == 0
    assert g.stat(b"/a/file").mode == S_IFREG | 0o4711
    assert g.syscall("chown", b"/a/file", 5, 6) == 0
    st = g.stat(b"/a/file")
    assert (st.uid, st.gid, st.mode & 0o7777) == (5, 6, 0o711)  # set-id bits dropped
    assert g.syscall("chown", b"/a/file", -1 & 0xFFFFFFFF, 7) == 0 and g.stat(b"/a/file").uid == 5
    fd = g.syscall("open", b"/a/file", O_RDONLY, 0)
    assert g.syscall("fchmod", fd, 0o600) == 0 and g.stat(b"/a/file").mode & 0o7777 == 0o600
    assert g.syscall("fchmod", g.syscall("open", b"/a/file", O_PATH, 0), 0o644) == -Errno.EBADF
    g.symlink(b"file", b"/a/ln")
    assert g.syscall("fchmodat2", AT_FDCWD, b"/a/ln", 0o600, AT_SYMLINK_NOFOLLOW) == -Errno.EOPNOTSUPP
    assert g.syscall("fchownat", AT_FDCWD, b"/a/ln", 9, 9, AT_SYMLINK_NOFOLLOW) == 0
    assert g.stat(b"/a/ln", follow=False).uid == 9 and g.stat(b"/a/file").uid == 5


def test_utimensat(g):
    times = g.put(struct.pack("<qqqq", 100, 5, 200, 6), 8)
    assert g.syscall("utimensat", AT_FDCWD, b"/a/file", times, 0) == 0
    assert stat_of(g, b"/a/file")[5:] == (100 * 10**9 + 5, 200 * 10**9 + 6)
    omit = g.put(struct.pack("<qqqq", 0, UTIME_OMIT, 300, 0), 8)
    assert g.syscall("utimensat", AT_FDCWD, b"/a/file", omit, 0) == 0
    assert stat_of(g, b"/a/file")[5:] == (100 * 10**9 + 5, 300 * 10**9)
    assert g.syscall("utimensat", AT_FDCWD, b"/a/file", 0, 0) == 0
    assert stat_of(g, b"/a/file")[6] == g.kernel.realtime_ns()  # NULL: now (the fake clock stands still)
    g.host.advance(5)
    now = g.put(struct.pack("<qqqq", 0, UTIME_NOW, 0, UTIME_OMIT), 8)
    assert g.syscall("utimensat", AT_FDCWD, b"/a/file", now, 0) == 0
    assert stat_of(g, b"/a/file")[5] == g.kernel.realtime_ns()
    bad = g.put(struct.pack("<qqqq", 0, 1_000_000_000, 0, 0), 8)
    assert g.syscall("utimensat", AT_FDCWD, b"/a/file", bad, 0) == -Errno.EINVAL
    assert g.syscall("utimensat", AT_FDCWD, b"/a/file", UNMAPPED, 0) == -Errno.EFAULT
    assert g.syscall("utimensat", AT_FDCWD, b"/a/file", times, 0x2) == -Errno.EINVAL


def test_times_before_1970_are_stored_and_reported_negative(g):
    # found by the syscall fuzzer: stat of such a file raised struct.error
    times = g.put(struct.pack("<qqqq", -1, 0, -86400, 500), 8)
    assert g.syscall("utimensat", AT_FDCWD, b"/a/file", times, 0) == 0
    assert stat_of(g, b"/a/file")[5:] == (-10**9, -86400 * 10**9 + 500)
    assert g.syscall("newfstatat", AT_FDCWD, b"/a/file", 0, 0) == -Errno.EFAULT


def test_chown_to_a_large_id_keeps_it_unsigned(g):
    assert g.syscall("chown", b"/a/file", 0xFFFFFFFE, 0x80000000) == 0
    assert stat_of(g, b"/a/file")[3:5] == (0xFFFFFFFE, 0x80000000)


def test_truncate(g):
    assert g.syscall("truncate", b"/a/file", 3) == 0 and g.read_file(b"/a/file") == b"con"
    assert g.syscall("truncate", b"/a/file", -1) == -Errno.EINVAL
    assert g.syscall("truncate", b"/a", 0) == -Errno.EISDIR
    assert g.syscall("truncate", b"/a/none", 0) == -Errno.ENOENT


def test_access(g):
    assert g.syscall("access", b"/a/file", F_OK) == 0
    assert g.syscall("access", b"/a/file", R_OK | W_OK) == 0
    assert g.syscall("access", b"/a/file", X_OK) == -Errno.EACCES  # no execute bit at all, even for root
    assert g.syscall("access", b"/a/file", 8) == -Errno.EINVAL
    assert g.syscall("access", b"/a/none", F_OK) == -Errno.ENOENT
    assert g.syscall("faccessat2", AT_FDCWD, b"/a/file", R_OK, 0x8) == -Errno.EINVAL


def test_access_checks_the_real_ids_unless_asked_for_the_effective_ones():
    g = FakeGuest(uid=1000, gid=1000)
    g.write_file(b"/tmp/roots", b"", 0o600)
    cred = g.process.cred
    cred.euid = cred.fsuid = 0  # a set-user-ID-root program
    assert g.syscall("access", b"/tmp/roots", R_OK) == -Errno.EACCES
    assert g.syscall("faccessat2", AT_FDCWD, b"/tmp/roots", R_OK, AT_EACCESS) == 0


def test_extended_attributes(g):
    value = g.alloc(64)
    assert g.syscall("getxattr", b"/a/file", b"user.x", value, 64) == -Errno.ENODATA
    assert g.syscall("setxattr", b"/a/file", b"user.x", value, 1, 0) == -Errno.EOPNOTSUPP
    assert g.syscall("listxattr", b"/a/file", value, 64) == 0
    assert g.syscall("getxattr", b"/a/none", b"user.x", value, 64) == -Errno.ENOENT


# --- the working directory and the root --------------------------------------------------------------------


def getcwd(g: FakeGuest, size: int = 256) -> bytes | int:
    buf = g.alloc(max(size, 1))
    got = g.syscall("getcwd", buf, size)
    return g.get(buf, got) if got > 0 else got


def test_getcwd_follows_chdir(g):
    assert getcwd(g) == b"/\0"
    assert g.syscall("chdir", b"/a/b") == 0
    assert getcwd(g) == b"/a/b\0"
    assert g.syscall("chdir", b"..") == 0 and getcwd(g) == b"/a\0"
    fd = g.syscall("open", b"/tmp", O_DIRECTORY, 0)
    assert g.syscall("fchdir", fd) == 0 and getcwd(g) == b"/tmp\0"
    assert g.syscall("open", b"../a/file", O_RDONLY, 0) >= 0


def test_getcwd_size_and_buffer(g):
    g.syscall("chdir", b"/a/b")
    assert getcwd(g, 5) == b"/a/b\0"  # exactly enough, with the NUL
    assert getcwd(g, 4) == -Errno.ERANGE
    assert getcwd(g, 0) == -Errno.ERANGE
    assert g.syscall("getcwd", UNMAPPED, 256) == -Errno.EFAULT


def test_chdir_errors(g):
    assert g.syscall("chdir", b"/a/file") == -Errno.ENOTDIR
    assert g.syscall("chdir", b"/none") == -Errno.ENOENT
    assert g.syscall("fchdir", g.syscall("open", b"/a/file", O_RDONLY, 0)) == -Errno.ENOTDIR
    assert g.syscall("fchdir", 99) == -Errno.EBADF
    assert getcwd(g) == b"/\0"


def test_chroot(g):
    assert g.syscall("chroot", b"/a") == 0
    assert g.syscall("chdir", b"/") == 0
    assert getcwd(g) == b"/\0"
    assert stat_of(g, b"/../..")[0] == g.stat(b"/a").ino
    assert stat_of(g, b"/file")[0] == g.stat(b"/a/file").ino
    assert g.syscall("chroot", b"/none") == -Errno.ENOENT


# --- a user that is not root --------------------------------------------------------------------------------


@pytest.fixture
def user(g) -> FakeGuest:
    g.mkdir(b"/home/user", 0o755, uid=1000, gid=1000)
    g.write_file(b"/etc/shadow", b"secret", 0o600)
    g.mkdir(b"/private", 0o700)
    return g.spawn(uid=1000, gid=1000)


def test_user_permission_checks(g, user):
    assert user.syscall("open", b"/etc/shadow", O_RDONLY, 0) == -Errno.EACCES
    assert user.syscall("open", b"/etc/new", O_CREAT | O_WRONLY, 0o644) == -Errno.EACCES
    assert user.syscall("mkdir", b"/etc/dir", 0o755) == -Errno.EACCES
    assert user.syscall("unlink", b"/a/file") == -Errno.EACCES
    assert user.syscall("open", b"/a/file", O_WRONLY, 0) == -Errno.EACCES
    assert user.syscall("open", b"/a/file", O_RDONLY, 0) >= 0
    assert user.syscall("chdir", b"/private") == -Errno.EACCES
    assert user.syscall("chmod", b"/a/file", 0o777) == -Errno.EPERM
    assert user.syscall("chown", b"/home/user", 0, 0) == -Errno.EPERM
    assert user.syscall("chroot", b"/home/user") == -Errno.EPERM
    assert user.syscall("access", b"/etc/shadow", R_OK) == -Errno.EACCES
    assert user.syscall("mknod", b"/home/user/dev", 0o020644, 0x0103) == -Errno.EPERM


def test_user_files_belong_to_the_user(g, user):
    fd = user.syscall("open", b"/home/user/mine", O_CREAT | O_WRONLY, 0o600)
    assert fd >= 0
    st = g.stat(b"/home/user/mine")
    assert (st.uid, st.gid) == (1000, 1000)
    assert user.syscall("chmod", b"/home/user/mine", 0o640) == 0
    assert user.syscall("rename", b"/home/user/mine", b"/home/user/moved") == 0
    assert g.syscall("open", b"/home/user/moved", O_RDONLY, 0) >= 0  # root reads anything


# --- a read-only mount -------------------------------------------------------------------------------------


def test_read_only_mount_through_syscalls(g):
    mount = g.mount_memfs(b"/ro")
    g.write_file(b"/ro/file", b"fixed")
    g.mkdir(b"/ro/dir")
    mount.readonly = True
    assert g.syscall("open", b"/ro/file", O_WRONLY, 0) == -Errno.EROFS
    assert g.syscall("open", b"/ro/file", O_RDONLY | O_TRUNC, 0) == -Errno.EROFS
    assert g.syscall("open", b"/ro/new", O_CREAT | O_WRONLY, 0o644) == -Errno.EROFS
    assert g.syscall("mkdir", b"/ro/new", 0o755) == -Errno.EROFS
    assert g.syscall("rmdir", b"/ro/dir") == -Errno.EROFS
    assert g.syscall("unlink", b"/ro/file") == -Errno.EROFS
    assert g.syscall("rename", b"/ro/file", b"/ro/moved") == -Errno.EROFS
    assert g.syscall("symlink", b"x", b"/ro/link") == -Errno.EROFS
    assert g.syscall("chmod", b"/ro/file", 0o600) == -Errno.EROFS
    assert g.syscall("truncate", b"/ro/file", 0) == -Errno.EROFS
    assert g.syscall("utimensat", AT_FDCWD, b"/ro/file", 0, 0) == -Errno.EROFS
    assert g.syscall("access", b"/ro/file", W_OK) == -Errno.EROFS
    assert g.syscall("access", b"/ro/file", R_OK) == 0
    assert g.syscall("open", b"/ro/file", O_RDONLY, 0) >= 0
    assert g.read_file(b"/ro/file") == b"fixed"


def test_statfs_of_a_read_only_mount_says_so(g):
    mount = g.mount_memfs(b"/ro")
    mount.readonly = True
    buf = g.alloc(120)
    assert g.syscall("statfs", b"/ro", buf) == 0
    assert struct.unpack_from("<q", g.get(buf, 120), 80)[0] & 1  # f_flags & ST_RDONLY
    assert g.syscall("statfs", b"/tmp", buf) == 0
    assert not struct.unpack_from("<q", g.get(buf, 120), 80)[0] & 1
