"""Building the sandbox's filesystem view from a Policy.

Default view (no --rootfs): an in-memory root holding the host's system directories
(/usr, /bin, /lib*, /sbin, /etc) read-only under a writable in-memory overlay, so
writes succeed and vanish at exit; fresh tmpfs at /tmp, /root, /home, /run; a
synthetic /dev and /proc. `--rootfs DIR|TAR` puts that tree (read-only, overlaid)
in place of the host's directories. `-v HOST:GUEST` mounts a host directory as is
(read-write unless :ro), `--tmpfs PATH` adds an in-memory directory.
"""

from __future__ import annotations

import itertools

from slimbox.abi.errno import Errno
from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fs.devfs import DevFs
from slimbox.kernel.fs.hostfs import HostFs
from slimbox.kernel.fs.inode import S_IFDIR, S_IFLNK, S_IFMT
from slimbox.kernel.fs.memfs import MemFs
from slimbox.kernel.fs.overlay import OverlayFs
from slimbox.kernel.fs.procfs import ProcFs
from slimbox.kernel.fs.vfs import FsContext, Vfs
from slimbox.kernel.policy import Policy, PolicyError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel
    from slimbox.platforms.base import Host

_ROOT = Credentials.of(0, 0)


def _is_tar(host: Host, path: str) -> bool:
    import tarfile  # only a --rootfs archive needs it: kept off the start-up path

    try:
        with host.open_archive(path) as archive:
            return tarfile.is_tarfile(archive)
    except (IsADirectoryError, OSError):
        return False


class _Builder:
    def __init__(self, kernel: Kernel, host: Host) -> None:
        self.kernel = kernel
        self.host = host
        self._devs = itertools.count(1)
        self.clock = kernel.realtime_ns

    def dev(self) -> int:
        return next(self._devs)

    def host_dir(self, path: str, writable: bool):
        try:
            return self.host.open_host_directory(path, writable)
        except OSError as exc:
            raise PolicyError(f"cannot use host directory {path!r}: {exc.strerror}") from None

    def hostfs(self, path: str, writable: bool, hidden=()) -> HostFs:
        try:
            return HostFs(self.dev(), self.clock, self.host_dir(path, writable), readonly=not writable,
                          hidden=hidden)
        except LinuxError as exc:
            raise PolicyError(f"cannot use host directory {path!r}: {exc}") from None


def build_view(kernel: Kernel, host: Host, policy: Policy) -> Vfs:
    b = _Builder(kernel, host)
    if policy.rootfs is not None:
        if _is_tar(host, policy.rootfs):
            from slimbox.kernel.fs.tarfs import TarFs, TarFsError

            try:
                lower = TarFs(b.dev(), b.clock, host.open_archive(policy.rootfs))
            except TarFsError as exc:
                raise PolicyError(f"bad root archive {policy.rootfs!r}: {exc}") from None
        else:
            lower = b.hostfs(policy.rootfs, False)
        root_fs = OverlayFs(b.dev(), b.clock, lower.root, kernel.storage)
        vfs = Vfs(root_fs, root_fs.root, source="rootfs")  # never a host path: /proc/mounts shows it
    else:
        root_fs = MemFs(b.dev(), b.clock, root_mode=0o755, budget=kernel.storage)
        vfs = Vfs(root_fs, root_fs.root, source="rootfs")
        _host_system_dirs(b, vfs, policy)
    ctx = FsContext(vfs.root, vfs.root, 0)

    def mountpoint(path: str):
        raw = path.encode()
        _mkdirs(vfs, ctx, raw)
        return vfs.resolve(ctx, _ROOT, vfs.root, raw)

    dev = DevFs(b.dev(), b.clock, kernel.random_bytes, lambda: kernel.terminal)
    vfs.mount(dev, dev.root, mountpoint("/dev"), source="devtmpfs", options="rw,nosuid")
    proc = ProcFs(b.dev(), kernel, lambda: kernel.current)
    vfs.mount(proc, proc.root, mountpoint("/proc"), source="proc", options="rw,nosuid,nodev,noexec")
    for path in ("/tmp", "/var/tmp"):
        tmp = MemFs(b.dev(), b.clock, root_mode=0o1777, budget=kernel.storage)
        vfs.mount(tmp, tmp.root, mountpoint(path), source="tmpfs", options="rw,nosuid,nodev")
    for path, mode in (("/root", 0o700), ("/home", 0o755), ("/run", 0o755)):
        if policy.rootfs is None:
            fs = MemFs(b.dev(), b.clock, root_mode=mode, budget=kernel.storage)
            vfs.mount(fs, fs.root, mountpoint(path), source="tmpfs", options="rw,nosuid,nodev")
        else:
            mountpoint(path)
    for mount in policy.mounts:
        fs = b.hostfs(mount.host, mount.writable)
        vfs.mount(fs, fs.root, mountpoint(mount.guest), readonly=not mount.writable, source="none",
                  options="rw" if mount.writable else "ro")  # the host path stays unnamed
    for path in policy.tmpfs:
        if not path.startswith("/"):
            raise PolicyError(f"bad --tmpfs {path!r}: the path must be absolute")
        fs = MemFs(b.dev(), b.clock, root_mode=0o1777, budget=kernel.storage)
        vfs.mount(fs, fs.root, mountpoint(path), source="tmpfs", options="rw")
    kernel.memfd_fs = MemFs(b.dev(), b.clock, budget=kernel.storage)
    _name_this_host(vfs, ctx, kernel.config.hostname)
    return vfs


def _name_this_host(vfs: Vfs, ctx: FsContext, hostname: bytes) -> None:
    """Let the sandbox's own host name resolve (as container runtimes do): add it to the
    view's /etc/hosts, a copy that never reaches the host."""
    try:
        file = vfs.open(ctx, _ROOT, vfs.root, b"/etc/hosts", 0o2)  # O_RDWR
    except LinuxError:
        return
    try:
        text = file.pread(1 << 20, 0)
        names = {name for line in text.splitlines() for name in line.split(b"#", 1)[0].split()[1:]}
        if hostname not in names:
            addition = (b"" if not text or text.endswith(b"\n") else b"\n") + b"127.0.1.1\t" + hostname + b"\n"
            file.pwrite(addition, len(text))
    except LinuxError:
        pass
    finally:
        file.release()


def _host_system_dirs(b: _Builder, vfs: Vfs, policy: Policy) -> None:
    """Replicate the host's top-level system directories: symlinks stay symlinks (as on
    merged-/usr systems), directories become read-only host trees under an overlay."""
    try:
        host_root = b.host.open_host_directory("/", False)
    except OSError as exc:
        raise PolicyError(f"cannot read the host's root directory: {exc.strerror}") from None
    root = vfs.root.inode
    try:
        for path in policy.host_dirs:
            name = path.strip("/").encode()
            if not name or b"/" in name:
                raise PolicyError(f"host system directory must be top-level: {path!r}")
            try:
                st = host_root.lookup(name)
            except OSError:
                continue
            kind = st.mode & S_IFMT
            if kind == S_IFLNK:
                root.symlink(name, host_root.readlink(name), _ROOT)
            elif kind == S_IFDIR:
                hidden = policy.hidden_in_etc if name == b"etc" else ()
                lower = b.hostfs(path, False, hidden)
                overlay = OverlayFs(b.dev(), b.clock, lower.root, b.kernel.storage)
                root.mkdir(name, st.mode & 0o7777, _ROOT)
                at = vfs.resolve(FsContext(vfs.root, vfs.root), _ROOT, vfs.root, name)
                vfs.mount(overlay, overlay.root, at, source="overlay", options="rw")
    finally:
        host_root.close()


def _mkdirs(vfs: Vfs, ctx: FsContext, path: bytes) -> None:
    parts = [p for p in path.split(b"/") if p]
    for index in range(len(parts)):
        current = b"/" + b"/".join(parts[:index + 1])
        try:
            vfs.mkdir(ctx, _ROOT, vfs.root, current, 0o755)
        except LinuxError as exc:
            if exc.errno != Errno.EEXIST:
                raise PolicyError(f"cannot create mount point {path.decode(errors='replace')}: {exc}") from None
