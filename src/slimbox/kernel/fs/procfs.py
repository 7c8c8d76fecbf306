"""procfs: /proc, generated on demand from the kernel's own state.

Nothing here is stored: each lookup builds a small inode that knows how to produce
its contents, and each open takes a snapshot of the text (as seq_file does at the
first read), which is then read with ordinary offset semantics. No host /proc is
consulted; every value comes from the sandbox's kernel, so what a guest learns about
"the system" is what the sandbox chooses to show.

Key decisions:
- The calling task is not an argument of filesystem operations, so the ProcFs is
  given a `current` callable at construction that returns the task whose syscall is
  being served (or None); /proc/self, /proc/thread-self and the paths printed by
  the fd/cwd/root/exe links (relative to the reader's root, as Linux prints them)
  depend on it.
- Inode numbers are a hash of the path inside /proc, so they are stable across
  lookups and across ProcFs instances without any table to grow; the root is 1.
- A pid directory exists while its process is in `kernel.processes`; any lookup
  through the directory of a process that has gone answers ENOENT. /proc/TID also
  works for a thread that is not a group leader (listed only under task/), as on
  Linux. Entries of /proc/PID are owned by the process's euid/egid.
- Files are S_IFREG with size 0 (as on Linux). Opening one for writing, or
  truncating it, fails with EACCES even for root, and nothing can be created,
  removed or changed (EACCES for create, EPERM for the rest).
- /proc/PID/fd/N is a symlink whose text is the open file's path (relative to the
  reader's root) or, for a file with no path, `File.describe()`; the VFS follows the
  path text like any symlink, so a file with a path can be reopened through it, and
  one without (a pipe) cannot, except a pathless inode (a memfd), which the link
  leads to directly (`Inode.jump`).
- Values the kernel does not track are given the value an idle, unprivileged-ish
  Linux system would show: zero page faults and context switches, load 0.00, no
  swap. Memory figures are estimates from the VMA list: every mapping that is not
  PROT_NONE counts as resident. CPU time is all counted as user time.
- Time in /proc/PID/stat is in clock ticks of 100 Hz (AT_CLKTCK is 100).
"""

from __future__ import annotations

import zlib

from slimbox.abi.errno import Errno
from slimbox.abi.tuples import named_tuple
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_ACCMODE, O_CLOEXEC, O_LARGEFILE, O_RDONLY, O_TRUNC, File, RegularFile
from slimbox.kernel.fs.devfs import dev_major, dev_minor
from slimbox.kernel.fs.inode import (
    DT_DIR, DT_LNK, DT_REG, S_IFDIR, S_IFLNK, S_IFREG, DirEntry, FileSystem, Inode, Stat,
)
from slimbox.kernel.fs.vfs import Mount, PathNode, Vfs
from slimbox.kernel.mm import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE
from slimbox.kernel.task import RLIM_INFINITY, RLIM_NLIMITS, RLIMIT_RSS, RLIMIT_SIGPENDING

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable, Iterable, Union

    from slimbox.kernel.cred import Credentials
    from slimbox.kernel.kernel import Kernel
    from slimbox.kernel.task import Process, Task

PROC_SUPER_MAGIC = 0x9FA0
CLK_TCK = 100
_NS_PER_TICK = 1_000_000_000 // CLK_TCK
CAP_LAST_CAP = 40
_ALL_CAPS = (1 << (CAP_LAST_CAP + 1)) - 1
SIGCHLD = 17
SIG_DFL, SIG_IGN = 0, 1
PID_MAX = 4194304

CPU_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
    "syscall nx lm constant_tsc rep_good nopl pni ssse3 cx16 sse4_1 sse4_2 popcnt aes xsave avx hypervisor "
    "lahf_lm"
)
CPU_MHZ = 2400.0

#: names and units of the rlimits, in RLIMIT_* order, as /proc/PID/limits shows them
_LIMIT_NAMES = (
    ("Max cpu time", "seconds"), ("Max file size", "bytes"), ("Max data size", "bytes"),
    ("Max stack size", "bytes"), ("Max core file size", "bytes"), ("Max resident set", "bytes"),
    ("Max processes", "processes"), ("Max open files", "files"), ("Max locked memory", "bytes"),
    ("Max address space", "bytes"), ("Max file locks", "locks"), ("Max pending signals", "signals"),
    ("Max msgqueue size", "bytes"), ("Max nice priority", ""), ("Max realtime priority", ""),
    ("Max realtime timeout", "us"),
)

#: filesystem types this kernel provides even when none is mounted
_BUILTIN_FSTYPES = ("tmpfs", "devtmpfs", "proc")


class ProcFs(FileSystem):
    """The /proc filesystem of one kernel.

    `current` returns the task whose syscall is being served (None outside a
    syscall); the kernel must provide it.
    """

    fstype = "proc"

    def __init__(self, dev: int, kernel: Kernel, current: Callable[[], Task | None]) -> None:
        super().__init__(dev, kernel.realtime_ns)
        self.kernel = kernel
        self.current = current
        self.boot_id = format_uuid(kernel.random_bytes(16))
        self.created_ns = kernel.realtime_ns()
        self.root = RootDir(self)

    def statfs(self) -> tuple[int, int, int, int]:
        return (PROC_SUPER_MAGIC, 0, 0, 0)

    def ino_for(self, path: bytes) -> int:
        """The inode number of the entry at `path` (relative to /proc, b"" for the root)."""
        if not path:
            return 1
        value = zlib.crc32(path) | (zlib.adler32(path) & 0xFFFF) << 32
        return value if value > 1 else value + 2

    def reader_root(self, fallback: PathNode) -> PathNode:
        """The root directory of the calling task, for printing paths."""
        task = self.current()
        return task.process.fs.root if task is not None else fallback


# --- inodes ------------------------------------------------------------------------------


Owner = named_tuple("Owner", "uid gid time_ns")


class ProcNode(Inode):
    """An entry of /proc; `path` is relative to the /proc root."""

    __slots__ = ("path", "perm", "owner")
    kind = S_IFREG

    def __init__(self, fs: ProcFs, path: bytes, perm: int, owner: Owner) -> None:
        super().__init__(fs, fs.ino_for(path))
        self.path = path
        self.perm = perm
        self.owner = owner

    @property
    def procfs(self) -> ProcFs:
        assert isinstance(self.fs, ProcFs)
        return self.fs

    @property
    def mode(self) -> int:
        return self.kind | self.perm

    def nlink(self) -> int:
        return 1

    def stat(self) -> Stat:
        t = self.owner.time_ns
        return Stat(self.fs.dev, self.ino, self.mode, self.nlink(), self.owner.uid, self.owner.gid, 0, 0,
                    1024, 0, t, t, t)


class Snapshot:
    """The Storage of an open /proc file: the text generated at open."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read_at(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]

    def write_at(self, offset: int, data: bytes) -> int:
        raise LinuxError(Errno.EACCES)

    def size(self) -> int:
        return len(self.data)

    def truncate(self, size: int) -> None:
        raise LinuxError(Errno.EACCES)

    def sync(self) -> None:
        return None

    def close(self) -> None:
        return None


class ProcFile(ProcNode):
    """A read-only file whose text is generated when it is opened."""

    __slots__ = ("_generate",)

    def __init__(self, fs: ProcFs, path: bytes, perm: int, owner: Owner, generate: Callable[[], bytes]) -> None:
        super().__init__(fs, path, perm, owner)
        self._generate = generate

    def open(self, flags: int) -> File:
        if flags & O_ACCMODE != O_RDONLY or flags & O_TRUNC:
            raise LinuxError(Errno.EACCES)
        return RegularFile(flags, None, self, Snapshot(self._generate()))

    def truncate(self, size: int) -> None:
        raise LinuxError(Errno.EACCES)


class ProcLink(ProcNode):
    """A symlink whose text is computed when it is read."""

    __slots__ = ("_target", "_jump")
    kind = S_IFLNK

    def __init__(self, fs: ProcFs, path: bytes, perm: int, owner: Owner, target: Callable[[], bytes],
                 jump: Callable[[], Inode | None] | None = None) -> None:
        super().__init__(fs, path, perm, owner)
        self._target = target
        self._jump = jump

    def readlink(self) -> bytes:
        return self._target()

    def jump(self) -> Inode | None:
        return self._jump() if self._jump is not None else None


class ProcDir(ProcNode):
    """A directory; subclasses say what it holds. Nothing can be added or removed."""

    __slots__ = ()
    kind = S_IFDIR

    def names(self) -> list[tuple[bytes, int]]:
        """(name, DT_*) of every entry."""
        raise NotImplementedError

    def child(self, name: bytes) -> ProcNode | None:
        raise NotImplementedError

    def nlink(self) -> int:
        return 2 + sum(1 for _, kind in self.names() if kind == DT_DIR)

    def lookup(self, name: bytes) -> Inode:
        found = self.child(name)
        if found is None:
            raise LinuxError(Errno.ENOENT)
        return found

    def entries(self) -> list[DirEntry]:
        return [DirEntry(name, self.fs.ino_for(self._sub(name)), kind) for name, kind in self.names()]

    def _sub(self, name: bytes) -> bytes:
        return self.path + b"/" + name

    def create(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        raise LinuxError(Errno.EACCES)

    def mkdir(self, name: bytes, mode: int, cred: Credentials) -> Inode:
        raise LinuxError(Errno.EPERM)

    def mknod(self, name: bytes, mode: int, rdev: int, cred: Credentials) -> Inode:
        raise LinuxError(Errno.EPERM)

    def symlink(self, name: bytes, target: bytes, cred: Credentials) -> Inode:
        raise LinuxError(Errno.EPERM)

    def link(self, name: bytes, inode: Inode) -> None:
        raise LinuxError(Errno.EPERM)

    def unlink(self, name: bytes) -> None:
        self.lookup(name)
        raise LinuxError(Errno.EPERM)

    def rmdir(self, name: bytes) -> None:
        self.lookup(name)
        raise LinuxError(Errno.EPERM)

    def rename(self, name: bytes, new_dir: Inode, new_name: bytes, flags: int = 0) -> None:
        self.lookup(name)
        raise LinuxError(Errno.EPERM)


# A table describes a directory's fixed entries: each value is a generated file, a
# symlink, a nested table (a subdirectory), or a builder of a dynamic subdirectory.


#: a file whose text `generate()` makes at open
Gen = named_tuple("Gen", "generate perm", defaults=(0o444,))
#: a symlink whose target `target()` gives
Link = named_tuple("Link", "target perm", defaults=(0o777,))
#: a dynamic subdirectory: `build(path)` makes the directory inode (which knows its own mode)
Sub = named_tuple("Sub", "build")

if TYPE_CHECKING:
    Table = dict[bytes, Union[Gen, Link, Sub, "Table"]]


class TableDir(ProcDir):
    """A directory whose entries are given by a Table."""

    __slots__ = ("table",)

    def __init__(self, fs: ProcFs, path: bytes, perm: int, owner: Owner, table: Table) -> None:
        super().__init__(fs, path, perm, owner)
        self.table = table

    def names(self) -> list[tuple[bytes, int]]:
        return [(name, _entry_type(spec)) for name, spec in self.table.items()]

    def child(self, name: bytes) -> ProcNode | None:
        spec = self.table.get(name)
        if spec is None:
            return None
        path = self._sub(name)
        if isinstance(spec, Gen):
            return ProcFile(self.procfs, path, spec.perm, self.owner, spec.generate)
        if isinstance(spec, Link):
            return ProcLink(self.procfs, path, spec.perm, self.owner, spec.target)
        if isinstance(spec, Sub):
            return spec.build(path)
        return TableDir(self.procfs, path, 0o555, self.owner, spec)


def _entry_type(spec: Gen | Link | Sub | Table) -> int:
    if isinstance(spec, Gen):
        return DT_REG
    if isinstance(spec, Link):
        return DT_LNK
    return DT_DIR


def _text(value: object) -> Callable[[], bytes]:
    """A generator for a constant one-line file."""
    data = (value if isinstance(value, bytes) else str(value).encode()) + b"\n"
    return lambda: data


def _pid_name(name: bytes) -> int | None:
    """The number a pid directory name stands for, or None (no sign, no leading zero)."""
    if not name.isdigit() or (len(name) > 1 and name.startswith(b"0")) or len(name) > 10:
        return None
    return int(name)


class RootDir(TableDir):
    """/proc itself: the global files plus one directory per live process."""

    __slots__ = ()

    def __init__(self, fs: ProcFs) -> None:
        super().__init__(fs, b"", 0o555, Owner(0, 0, fs.created_ns), _global_table(fs))

    def names(self) -> list[tuple[bytes, int]]:
        pids = [(str(pid).encode(), DT_DIR) for pid in sorted(self.procfs.kernel.processes)]
        return super().names() + pids

    def child(self, name: bytes) -> ProcNode | None:
        number = _pid_name(name)
        if number is None:
            return super().child(name)
        kernel = self.procfs.kernel
        process = kernel.processes.get(number)
        if process is None:
            task = kernel.tasks.get(number)
            if task is None or task.process.pid not in kernel.processes:
                return None
            process = task.process
        return PidDir(self.procfs, self._sub(name), process, number, thread_view=False)

    def _sub(self, name: bytes) -> bytes:
        return name


def _global_table(fs: ProcFs) -> Table:
    def setting(name: str) -> Callable[[], bytes]:
        """A file showing a KernelConfig value as it is when opened (sethostname changes them)."""
        return lambda: getattr(fs.kernel.config, name) + b"\n"

    def current_pid() -> bytes:
        task = fs.current()
        if task is None:
            raise LinuxError(Errno.ENOENT)
        return str(task.pid).encode()

    def current_thread() -> bytes:
        task = fs.current()
        if task is None:
            raise LinuxError(Errno.ENOENT)
        return b"%d/task/%d" % (task.pid, task.tid)

    return {
        b"self": Link(current_pid),
        b"thread-self": Link(current_thread),
        b"cpuinfo": Gen(lambda: cpuinfo_text(fs.kernel)),
        b"meminfo": Gen(lambda: meminfo_text(fs.kernel)),
        b"uptime": Gen(lambda: uptime_text(fs.kernel)),
        b"version": Gen(lambda: version_text(fs.kernel)),
        b"loadavg": Gen(lambda: loadavg_text(fs.kernel)),
        b"stat": Gen(lambda: stat_text(fs.kernel)),
        b"filesystems": Gen(lambda: filesystems_text(fs.kernel)),
        b"mounts": Link(lambda: b"self/mounts"),
        b"sys": {
            b"kernel": {
                b"hostname": Gen(setting("hostname")),
                b"domainname": Gen(setting("domainname")),
                b"ostype": Gen(_text(b"Linux")),
                b"osrelease": Gen(setting("release")),
                b"version": Gen(setting("version")),
                b"pid_max": Gen(_text(PID_MAX)),
                b"ngroups_max": Gen(_text(65536)),
                b"cap_last_cap": Gen(_text(CAP_LAST_CAP)),
                b"random": {
                    b"uuid": Gen(lambda: format_uuid(fs.kernel.random_bytes(16)) + b"\n"),
                    b"boot_id": Gen(_text(fs.boot_id)),
                },
            },
            b"vm": {b"overcommit_memory": Gen(_text(0))},
            b"fs": {b"file-max": Gen(_text((1 << 63) - 1))},
            b"net": {b"core": {b"somaxconn": Gen(_text(4096))}},
        },
    }


class PidDir(TableDir):
    """/proc/PID, /proc/TID or /proc/PID/task/TID (`thread_view`: per-thread figures
    and no task/ subdirectory)."""

    __slots__ = ("pid", "tid", "thread_view")

    def __init__(self, fs: ProcFs, path: bytes, process: Process, tid: int, *, thread_view: bool) -> None:
        self.pid = process.pid
        self.tid = tid
        self.thread_view = thread_view
        super().__init__(fs, path, 0o555, process_owner(fs, process), {})
        self.table = self._table()

    def _live(self) -> Process:
        process = self.procfs.kernel.processes.get(self.pid)
        if process is None or (self.tid != self.pid and self.tid not in process.threads):
            raise LinuxError(Errno.ENOENT)
        return process

    def _task(self, process: Process) -> Task | None:
        task = process.threads.get(self.tid)
        if task is None and self.tid == self.pid and process.threads:
            task = next(iter(process.threads.values()))  # the leader has exited, its threads go on
        return task

    def _view(self, render: Callable[[ProcFs, Process, Task | None, int, bool], bytes], perm: int = 0o444) -> Gen:
        def generate() -> bytes:
            process = self._live()
            return render(self.procfs, process, self._task(process), self.tid, self.thread_view)
        return Gen(generate, perm)

    def _link(self, target: Callable[[ProcFs, Process], bytes]) -> Link:
        return Link(lambda: target(self.procfs, self._live()))

    def _table(self) -> Table:
        def sub(kind: type[_ProcessDir]) -> Sub:
            return Sub(lambda path: kind(self.procfs, path, self._live(), self.owner))

        table: Table = {}
        if not self.thread_view:
            table[b"task"] = sub(TaskDir)
        table.update({
            b"fd": sub(FdDir),
            b"fdinfo": sub(FdInfoDir),
            b"environ": self._view(environ_text, 0o400),
            b"status": self._view(status_text),
            b"limits": self._view(limits_text),
            b"comm": self._view(comm_text),
            b"cmdline": self._view(cmdline_text),
            b"stat": self._view(pid_stat_text),
            b"statm": self._view(statm_text),
            b"maps": self._view(maps_text),
            b"cwd": self._link(cwd_target),
            b"root": self._link(root_target),
            b"exe": self._link(exe_target),
            b"mounts": self._view(mounts_view),
            b"mountinfo": self._view(mountinfo_view),
            b"oom_score_adj": Gen(_text(0)),
        })
        return table

    def child(self, name: bytes) -> ProcNode | None:
        self._live()
        return super().child(name)

    def names(self) -> list[tuple[bytes, int]]:
        self._live()
        return super().names()


def process_owner(fs: ProcFs, process: Process) -> Owner:
    kernel = fs.kernel
    start = process.start_time_ns
    when = kernel.boot_realtime_ns + (start - kernel.boot_ns) if start else fs.created_ns
    return Owner(process.cred.euid, process.cred.egid, when)


class _ProcessDir(ProcDir):
    """A directory below /proc/PID whose entries depend on the process's state."""

    __slots__ = ("pid",)
    dir_perm = 0o555

    def __init__(self, fs: ProcFs, path: bytes, process: Process, owner: Owner) -> None:
        super().__init__(fs, path, self.dir_perm, owner)
        self.pid = process.pid

    def _live(self) -> Process:
        process = self.procfs.kernel.processes.get(self.pid)
        if process is None:
            raise LinuxError(Errno.ENOENT)
        return process

    def nlink(self) -> int:
        return 2


class TaskDir(_ProcessDir):
    """/proc/PID/task: one directory per thread."""

    __slots__ = ()

    def names(self) -> list[tuple[bytes, int]]:
        return [(str(tid).encode(), DT_DIR) for tid in sorted(self._live().threads)]

    def nlink(self) -> int:
        return 2 + len(self.names())

    def child(self, name: bytes) -> ProcNode | None:
        process = self._live()
        tid = _pid_name(name)
        if tid is None or tid not in process.threads:
            return None
        return PidDir(self.procfs, self._sub(name), process, tid, thread_view=True)


class FdDir(_ProcessDir):
    """/proc/PID/fd: one symlink per open descriptor."""

    __slots__ = ()
    dir_perm = 0o500

    def names(self) -> list[tuple[bytes, int]]:
        return [(str(fd).encode(), DT_LNK) for fd, _ in self._live().fds.items()]

    def child(self, name: bytes) -> ProcNode | None:
        fd = _pid_name(name)
        process = self._live()
        if fd is None or fd not in process.fds:
            return None
        file = process.fds.get(fd)
        # the link's permission bits say how the descriptor was opened
        perm = (0o500 if file.readable else 0) | (0o300 if file.writable else 0)

        def target() -> bytes:
            live = self._live()
            if fd not in live.fds:
                raise LinuxError(Errno.ENOENT)
            return fd_target(live.fds.get(fd), self.procfs.reader_root(live.fs.root))

        def jump() -> Inode | None:
            live = self._live()
            inode = live.fds.get(fd).inode if fd in live.fds else None
            return inode if inode is not None and inode.pathless else None

        return ProcLink(self.procfs, self._sub(name), perm, self.owner, target, jump)


class FdInfoDir(_ProcessDir):
    """/proc/PID/fdinfo: position, flags and mount of each open descriptor."""

    __slots__ = ()
    dir_perm = 0o500

    def names(self) -> list[tuple[bytes, int]]:
        return [(str(fd).encode(), DT_REG) for fd, _ in self._live().fds.items()]

    def child(self, name: bytes) -> ProcNode | None:
        fd = _pid_name(name)
        if fd is None or fd not in self._live().fds:
            return None

        def generate() -> bytes:
            live = self._live()
            if fd not in live.fds:
                raise LinuxError(Errno.ENOENT)
            return fdinfo_text(self.procfs.kernel.vfs, live, fd)

        return ProcFile(self.procfs, self._sub(name), 0o400, self.owner, generate)


# --- paths -------------------------------------------------------------------------------


def path_from(node: PathNode, root: PathNode) -> bytes | None:
    """`node`'s path as seen from `root`, or None if `root` does not contain it."""
    names = []
    current: PathNode | None = node
    while current is not None and not current.same(root):
        names.append(current.name)
        current = current.parent
    if current is None:
        return None
    return b"/" + b"/".join(reversed(names))


def printable_path(node: PathNode, root: PathNode) -> bytes:
    """What Linux prints for a location: relative to `root` if it is inside it,
    else from the top of the namespace."""
    inside = path_from(node, root)
    return inside if inside is not None else node.full_path()


def fd_target(file: File, root: PathNode) -> bytes:
    return printable_path(file.path, root) if file.path is not None else file.describe()


def cwd_target(fs: ProcFs, process: Process) -> bytes:
    return printable_path(process.fs.cwd, fs.reader_root(process.fs.root))


def root_target(fs: ProcFs, process: Process) -> bytes:
    return printable_path(process.fs.root, fs.reader_root(process.fs.root))


def exe_target(fs: ProcFs, process: Process) -> bytes:
    if process.exe is None:
        raise LinuxError(Errno.ENOENT)
    return printable_path(process.exe, fs.reader_root(process.fs.root))


# --- per-process files ---------------------------------------------------------------------


class MemoryUse(named_tuple("MemoryUse", "size rss anon file shmem data stack exe lib")):
    """Byte counts estimated from the VMA list (every non-PROT_NONE mapping counts
    as resident)."""

    __slots__ = ()

    @classmethod
    def of(cls, process: Process) -> MemoryUse:
        size = rss = anon = file = shmem = data = stack = exe = lib = 0
        exe_key = process.exe.inode.key if process.exe is not None else None
        for vma in process.mm.vmas():
            length = vma.end - vma.start
            size += length
            if vma.name == b"[stack]":
                stack += length
            elif vma.prot & PROT_WRITE and not vma.shared:
                data += length
            if vma.prot & PROT_EXEC and vma.inode is not None:
                if vma.inode.key == exe_key:
                    exe += length
                else:
                    lib += length
            if not vma.prot & (PROT_READ | PROT_WRITE | PROT_EXEC):
                continue
            rss += length
            if vma.inode is not None:
                file += length
            elif vma.shared:
                shmem += length
            else:
                anon += length
        return cls(size, rss, anon, file, shmem, data, stack, exe, lib)


def _alive(process: Process) -> bool:
    return process.alive and not process.exiting and bool(process.threads)


def _state(process: Process, task: Task | None) -> str:
    if not _alive(process) or task is None:
        return "Z (zombie)"
    if process.stopped:
        return "T (stopped)"
    return "S (sleeping)" if task.parked else "R (running)"


def _cpu_ns(tasks: Iterable[Task]) -> int:
    return sum(task.context.cpu_time_ns() for task in tasks)


def _ticks(ns: int) -> int:
    return max(0, ns) // _NS_PER_TICK


def _signal_sets(process: Process, task: Task | None) -> tuple[int, int, int]:
    """(blocked, ignored, caught) signal masks."""
    ignored = caught = 0
    for sig, action in process.sigactions.items():
        handler = action.handler
        if handler == SIG_IGN:
            ignored |= 1 << (sig - 1)
        elif handler != SIG_DFL:
            caught |= 1 << (sig - 1)
    return (task.sigmask if task is not None else 0), ignored, caught


def _escape_comm(comm: bytes) -> bytes:
    out = bytearray()
    for byte in comm:
        if byte == 0x5C:
            out += b"\\\\"
        elif byte == 0x0A:
            out += b"\\n"
        elif byte == 0x09:
            out += b"\\t"
        else:
            out.append(byte)
    return bytes(out)


def _fd_size(process: Process) -> int:
    highest = max((fd for fd, _ in process.fds.items()), default=-1)
    size = 64
    while size <= highest:
        size *= 2
    return size


def cpus_allowed_mask(count: int) -> str:
    """A CPU bitmap as Linux prints it: hex in 32-bit groups separated by commas."""
    count = max(1, count)
    mask = (1 << count) - 1
    groups = []
    for _ in range((count + 31) // 32):
        groups.append(mask & 0xFFFFFFFF)
        mask >>= 32
    groups.reverse()
    lead_digits = ((count - 1) % 32) // 4 + 1
    return ",".join([f"{groups[0]:0{lead_digits}x}"] + [f"{g:08x}" for g in groups[1:]])


def cpus_allowed_list(count: int) -> str:
    return "0" if count <= 1 else f"0-{count - 1}"


def status_text(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    cred = process.cred
    mem = MemoryUse.of(process)
    blocked, ignored, caught = _signal_sets(process, task)
    caps = _ALL_CAPS if cred.euid == 0 else 0
    ppid = process.parent.pid if process.parent is not None else 0
    groups = " ".join(str(g) for g in cred.groups)
    cpus = fs.kernel.config.cpu_count

    def kb(value: int) -> str:
        return f"{value // 1024:8d} kB"

    fields = [
        ("Umask", "0" + format(process.fs.umask & 0o777, "03o")),
        ("State", _state(process, task)),
        ("Tgid", process.pid),
        ("Ngid", 0),
        ("Pid", tid),
        ("PPid", ppid),
        ("TracerPid", 0),
        ("Uid", f"{cred.uid}\t{cred.euid}\t{cred.suid}\t{cred.fsuid}"),
        ("Gid", f"{cred.gid}\t{cred.egid}\t{cred.sgid}\t{cred.fsgid}"),
        ("FDSize", _fd_size(process)),
        ("Groups", groups + " "),  # Linux ends the list with a space
        ("NStgid", process.pid),
        ("NSpid", tid),
        ("NSpgid", process.pgid),
        ("NSsid", process.sid),
        ("VmPeak", kb(mem.size)),
        ("VmSize", kb(mem.size)),
        ("VmLck", kb(0)),
        ("VmPin", kb(0)),
        ("VmHWM", kb(mem.rss)),
        ("VmRSS", kb(mem.rss)),
        ("RssAnon", kb(mem.anon)),
        ("RssFile", kb(mem.file)),
        ("RssShmem", kb(mem.shmem)),
        ("VmData", kb(mem.data)),
        ("VmStk", kb(mem.stack)),
        ("VmExe", kb(mem.exe)),
        ("VmLib", kb(mem.lib)),
        ("VmPTE", kb(mem.size // 512)),
        ("VmSwap", kb(0)),
        ("HugetlbPages", kb(0)),
        ("CoreDumping", 0),
        ("THP_enabled", 1),
        ("Threads", len(process.threads)),
        ("SigQ", f"0/{process.rlimits[RLIMIT_SIGPENDING][0]}"),
        ("SigPnd", f"{0:016x}"),
        ("ShdPnd", f"{0:016x}"),
        ("SigBlk", f"{blocked:016x}"),
        ("SigIgn", f"{ignored:016x}"),
        ("SigCgt", f"{caught:016x}"),
        ("CapInh", f"{0:016x}"),
        ("CapPrm", f"{caps:016x}"),
        ("CapEff", f"{caps:016x}"),
        ("CapBnd", f"{_ALL_CAPS:016x}"),
        ("CapAmb", f"{0:016x}"),
        ("NoNewPrivs", int(process.no_new_privs)),
        ("Seccomp", 0),
        ("Seccomp_filters", 0),
        ("Speculation_Store_Bypass", "thread vulnerable"),
        ("SpeculationIndirectBranch", "conditional enabled"),
        ("Cpus_allowed", cpus_allowed_mask(cpus)),
        ("Cpus_allowed_list", cpus_allowed_list(cpus)),
        ("Mems_allowed", "00000001"),
        ("Mems_allowed_list", "0"),
        ("voluntary_ctxt_switches", 0),
        ("nonvoluntary_ctxt_switches", 0),
    ]
    body = "".join(f"{name}:\t{value}\n" for name, value in fields).encode()
    return b"Name:\t" + _escape_comm(process.comm) + b"\n" + body


def _exe_ranges(process: Process) -> tuple[int, int, int, int]:
    """(start_code, end_code, start_data, end_data) from the executable's mappings."""
    if process.exe is None:
        return 0, 0, 0, 0
    key = process.exe.inode.key
    code = [v for v in process.mm.vmas() if v.inode is not None and v.inode.key == key and v.prot & PROT_EXEC]
    data = [v for v in process.mm.vmas() if v.inode is not None and v.inode.key == key and v.prot & PROT_WRITE]
    start_code, end_code = (code[0].start, code[-1].end) if code else (0, 0)
    start_data, end_data = (data[0].start, data[-1].end) if data else (0, 0)
    return start_code, end_code, start_data, end_data


def pid_stat_fields(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> list[str]:
    """The 52 fields of /proc/PID/stat, as text."""
    kernel = fs.kernel
    mm = process.mm
    mem = MemoryUse.of(process)
    blocked, ignored, caught = _signal_sets(process, task)
    tasks = ([task] if task is not None else []) if thread_view else list(process.threads.values())
    start = _ticks(process.start_time_ns - kernel.boot_ns) if process.start_time_ns else 0
    start_code, end_code, start_data, end_data = _exe_ranges(process)
    leader = tid == process.pid
    comm = process.comm.decode("utf-8", "surrogateescape")
    values: list[object] = [
        tid, f"({comm})", _state(process, task)[0],
        process.parent.pid if process.parent is not None else 0, process.pgid, process.sid,
        0, -1,                                  # tty_nr, tpgid
        0x400000,                               # flags: PF_RANDOMIZE
        0, 0, 0, 0,                             # minflt, cminflt, majflt, cmajflt
        _ticks(_cpu_ns(tasks)), 0, 0, 0,        # utime, stime, cutime, cstime
        20, 0,                                  # priority, nice
        len(process.threads), 0,                # num_threads, itrealvalue
        start, mem.size, mem.rss // PAGE, process.rlimits[RLIMIT_RSS][0],
        start_code, end_code, mm.arg_start,     # startstack: the argument strings sit at its top
        0, 0,                                   # kstkesp, kstkeip
        0, blocked, ignored, caught,            # signal, blocked, sigignore, sigcatch
        0, 0, 0,                                # wchan, nswap, cnswap
        SIGCHLD if leader else -1, 0, 0, 0,     # exit_signal, processor, rt_priority, policy
        0, 0, 0,                                # delayacct_blkio_ticks, guest_time, cguest_time
        start_data, end_data, mm.brk_start,
        mm.arg_start, mm.arg_end, mm.env_start, mm.env_end,
        0,                                      # exit_code
    ]
    return [str(v) for v in values]


def pid_stat_text(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    return (" ".join(pid_stat_fields(fs, process, task, tid, thread_view)) + "\n").encode("utf-8", "surrogateescape")


def statm_text(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    mem = MemoryUse.of(process)
    pages = [mem.size, mem.rss, mem.file + mem.shmem, mem.exe, 0, mem.data + mem.stack, 0]
    return (" ".join(str(v // PAGE) for v in pages) + "\n").encode()


def _guest_range(process: Process, start: int, end: int) -> bytes:
    if not _alive(process) or end <= start:
        return b""
    try:
        return process.mm.read(start, end - start)
    except LinuxError:
        return b""


def cmdline_text(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    return _guest_range(process, process.mm.arg_start, process.mm.arg_end)


def environ_text(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    return _guest_range(process, process.mm.env_start, process.mm.env_end)


def comm_text(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    return process.comm + b"\n"


def maps_text(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    return process.mm.maps_text() if _alive(process) else b""


def limits_text(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    def value(limit: int) -> str:
        return "unlimited" if limit == RLIM_INFINITY else str(limit)

    lines = [f"{'Limit':<25} {'Soft Limit':<20} {'Hard Limit':<20} {'Units':<10}\n"]
    for (name, unit), (soft, hard) in zip(_LIMIT_NAMES, process.rlimits[:RLIM_NLIMITS]):
        line = f"{name:<25} {value(soft):<20} {value(hard):<20} "
        lines.append(line + (f"{unit:<10}\n" if unit else "\n"))
    return "".join(lines).encode()


def fdinfo_text(vfs: Vfs, process: Process, fd: int) -> bytes:
    file = process.fds.get(fd)
    flags = file.flags | O_LARGEFILE | (O_CLOEXEC if process.fds.get_cloexec(fd) else 0)
    mount_id = mount_ids(vfs).get(id(file.path.mount), 0) if file.path is not None else 0
    ino = file.inode.ino if file.inode is not None else 0
    return f"pos:\t{file.offset}\nflags:\t0{flags:o}\nmnt_id:\t{mount_id}\nino:\t{ino}\n".encode()


# --- mounts -------------------------------------------------------------------------------------


def mount_ids(vfs: Vfs) -> dict[int, int]:
    """id(Mount) -> the number mountinfo gives it. The hidden initial mount of Linux
    is 1, so the sandbox's root mount is 2."""
    return {id(mount): index + 2 for index, (_, mount) in enumerate(vfs.walk_mounts())}


def mount_point(mount: Mount, root: PathNode) -> bytes | None:
    """Where `mount` appears to a process whose root is `root`; None if it cannot see it."""
    top = PathNode(mount, mount.root, b"", None)
    if top.same(root):
        return b"/"
    if mount.mountpoint is None:
        return None
    return path_from(mount.mountpoint, root)


def _mangle(text: bytes) -> bytes:
    """Escape what would break the space-separated line, as Linux does (octal)."""
    out = bytearray()
    for byte in text:
        if byte in b" \t\n\\":
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out)


def _mount_lines(vfs: Vfs, root: PathNode, info: bool) -> bytes:
    ids = mount_ids(vfs)
    lines = []
    for _, mount in vfs.walk_mounts():
        point = mount_point(mount, root)
        if point is None:
            continue
        source = _mangle(mount.source.encode("utf-8", "surrogateescape") or b"none")
        fstype = mount.fs.fstype.encode()
        access = b"ro" if mount.readonly else b"rw"
        extra = [o for o in mount.options.encode().split(b",") if o and o not in (b"rw", b"ro")]  # access is above
        options = b",".join([access, *extra])
        if not info:
            lines.append(b"%s %s %s %s 0 0\n" % (source, _mangle(point), fstype, options))
            continue
        parent = ids.get(id(mount.parent), 1) if mount.parent is not None else 1
        dev = mount.fs.dev
        lines.append(b"%d %d %d:%d / %s %s - %s %s %s\n" % (
            ids[id(mount)], parent, dev_major(dev), dev_minor(dev), _mangle(point), access, fstype, source,
            options))
    return b"".join(lines)


def mounts_view(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    return _mount_lines(fs.kernel.vfs, process.fs.root, info=False)


def mountinfo_view(fs: ProcFs, process: Process, task: Task | None, tid: int, thread_view: bool) -> bytes:
    return _mount_lines(fs.kernel.vfs, process.fs.root, info=True)


# --- global files -----------------------------------------------------------------------------


def format_uuid(raw: bytes) -> bytes:
    """A random (version 4) UUID in its text form."""
    data = bytearray(raw[:16].ljust(16, b"\0"))
    data[6] = (data[6] & 0x0F) | 0x40
    data[8] = (data[8] & 0x3F) | 0x80
    text = data.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}".encode()


def cpuinfo_text(kernel: Kernel) -> bytes:
    count = max(1, kernel.config.cpu_count)
    blocks = []
    for cpu in range(count):
        blocks.append(
            f"processor\t: {cpu}\n"
            "vendor_id\t: GenuineIntel\n"
            "cpu family\t: 6\n"
            "model\t\t: 85\n"
            "model name\t: slimbox virtual CPU\n"
            "stepping\t: 7\n"
            "microcode\t: 0x1\n"
            f"cpu MHz\t\t: {CPU_MHZ:.3f}\n"
            "cache size\t: 16384 KB\n"
            "physical id\t: 0\n"
            f"siblings\t: {count}\n"
            f"core id\t\t: {cpu}\n"
            f"cpu cores\t: {count}\n"
            f"apicid\t\t: {cpu}\n"
            f"initial apicid\t: {cpu}\n"
            "fpu\t\t: yes\n"
            "fpu_exception\t: yes\n"
            "cpuid level\t: 13\n"
            "wp\t\t: yes\n"
            f"flags\t\t: {CPU_FLAGS}\n"
            "bugs\t\t:\n"
            f"bogomips\t: {CPU_MHZ * 2:.2f}\n"
            "clflush size\t: 64\n"
            "cache_alignment\t: 64\n"
            "address sizes\t: 46 bits physical, 48 bits virtual\n"
            "power management:\n"
            "\n"
        )
    return "".join(blocks).encode()


def _memory_in_use(kernel: Kernel) -> tuple[int, int, int]:
    """(resident estimate, shared anonymous, committed) bytes over all processes."""
    rss = shmem = committed = 0
    for process in kernel.processes.values():
        mem = MemoryUse.of(process)
        rss += mem.rss
        shmem += mem.shmem
        committed += mem.size
    return rss, shmem, committed


def meminfo_text(kernel: Kernel) -> bytes:
    total = kernel.config.memory_bytes
    rss, shmem, committed = _memory_in_use(kernel)
    used = min(rss, total)
    free = total - used
    kb = 1024
    rows: list[tuple[str, int | None]] = [
        ("MemTotal", total // kb), ("MemFree", free // kb), ("MemAvailable", free // kb),
        ("Buffers", 0), ("Cached", shmem // kb), ("SwapCached", 0),
        ("Active", used // kb), ("Inactive", 0), ("Active(anon)", used // kb), ("Inactive(anon)", 0),
        ("Active(file)", 0), ("Inactive(file)", 0), ("Unevictable", 0), ("Mlocked", 0),
        ("SwapTotal", 0), ("SwapFree", 0), ("Zswap", 0), ("Zswapped", 0), ("Dirty", 0), ("Writeback", 0),
        ("AnonPages", (used - min(shmem, used)) // kb), ("Mapped", 0), ("Shmem", shmem // kb),
        ("KReclaimable", 0), ("Slab", 0), ("SReclaimable", 0), ("SUnreclaim", 0), ("KernelStack", 0),
        ("PageTables", committed // 512 // kb), ("NFS_Unstable", 0), ("Bounce", 0), ("WritebackTmp", 0),
        ("CommitLimit", total // 2 // kb), ("Committed_AS", committed // kb),
        ("VmallocTotal", 34359738367), ("VmallocUsed", 0), ("VmallocChunk", 0), ("Percpu", 0),
        ("HardwareCorrupted", 0), ("AnonHugePages", 0), ("ShmemHugePages", 0), ("ShmemPmdMapped", 0),
        ("FileHugePages", 0), ("FilePmdMapped", 0),
    ]
    rows += [("HugePages_Total", None), ("HugePages_Free", None), ("HugePages_Rsvd", None), ("HugePages_Surp", None),
             ("Hugepagesize", 2048), ("Hugetlb", 0), ("DirectMap4k", total // kb), ("DirectMap2M", 0),
             ("DirectMap1G", 0)]
    return "".join(_meminfo_line(name, value) for name, value in rows).encode()


def _meminfo_line(name: str, kilobytes: int | None) -> str:
    """One meminfo line: the label padded to 16 columns and the number ending at
    column 24 (later if it is wide); the HugePages_ counts are plain numbers."""
    head = f"{name + ':':<16}"
    value = kilobytes if kilobytes is not None else 0
    return f"{head}{value:>{24 - len(head)}}" + (" kB\n" if kilobytes is not None else "\n")


def _busy_ns(kernel: Kernel) -> int:
    return _cpu_ns(kernel.tasks.values())


def uptime_text(kernel: Kernel) -> bytes:
    up_ns = max(0, kernel.monotonic_ns() - kernel.boot_ns)
    idle_ns = max(0, up_ns * max(1, kernel.config.cpu_count) - _busy_ns(kernel))
    return f"{up_ns / 1e9:.2f} {idle_ns / 1e9:.2f}\n".encode()


def version_text(kernel: Kernel) -> bytes:
    config = kernel.config
    return (b"Linux version " + config.release + b" (slimbox@slimbox) (gcc (GCC) 12.2.0, GNU ld 2.40) "
            + config.version + b"\n")


def _last_pid(kernel: Kernel) -> int:
    return max(list(kernel.tasks) + list(kernel.processes), default=0)


def loadavg_text(kernel: Kernel) -> bytes:
    running = max(1, sum(1 for task in kernel.tasks.values() if not task.parked))
    total = max(running, len(kernel.tasks))
    return f"0.00 0.00 0.00 {running}/{total} {_last_pid(kernel)}\n".encode()


def stat_text(kernel: Kernel) -> bytes:
    cpus = max(1, kernel.config.cpu_count)
    up_ticks = _ticks(kernel.monotonic_ns() - kernel.boot_ns)
    busy = _ticks(_busy_ns(kernel))
    idle = max(0, up_ticks * cpus - busy)

    def cpu_line(name: str, user: int, idle_ticks: int) -> str:
        return f"{name} {user} 0 0 {idle_ticks} 0 0 0 0 0 0\n"

    lines = [cpu_line("cpu ", busy, idle)]
    for cpu in range(cpus):
        lines.append(cpu_line(f"cpu{cpu}", busy // cpus, idle // cpus))
    running = max(1, sum(1 for task in kernel.tasks.values() if not task.parked))
    lines += [
        "intr 0\n",
        "ctxt 0\n",
        f"btime {kernel.boot_realtime_ns // 1_000_000_000}\n",
        f"processes {_last_pid(kernel)}\n",
        f"procs_running {running}\n",
        "procs_blocked 0\n",
        "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
    ]
    return "".join(lines).encode()


def filesystems_text(kernel: Kernel) -> bytes:
    names = list(_BUILTIN_FSTYPES)
    for _, mount in kernel.vfs.walk_mounts():
        if mount.fs.fstype not in names:
            names.append(mount.fs.fstype)
    return "".join(f"nodev\t{name}\n" for name in names).encode()

