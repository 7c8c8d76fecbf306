"""Syscalls on open file descriptors: read/write and friends, seeking, dup, fcntl,
getdents, fstat, sync, truncate."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fd import FD_CLOEXEC
from slimbox.kernel.file import (
    ACCESS_BITS, MAX_RW, O_APPEND, O_CLOEXEC, O_LARGEFILE, O_RDWR, READ_ACCESS, SETFL_MASK, WRITE_ACCESS, PathFile,
)
from slimbox.kernel.fs.memfs import (
    ALL_SEALS, F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE,
    MemFs, MemfdFile, MemfdInode,
)
from slimbox.kernel.mm import TASK_SIZE
from slimbox.kernel.task import RLIM_INFINITY, RLIMIT_FSIZE
from slimbox.shims.linux.common import refuse_past_file_size
from slimbox.shims.linux.stat import pack_stat, pack_statfs

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.task import Task

IOV_MAX = 1024

F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG = 8, 9, 10, 11
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
F_SETLEASE, F_GETLEASE, F_NOTIFY = 1024, 1025, 1026
DN_MULTISHOT = 0x80000000
F_DUPFD_CLOEXEC = 1030
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
F_ADD_SEALS, F_GET_SEALS = 1033, 1034
F_UNLCK = 2
_MAX_COUNT = (1 << 63) - 1  # a byte count above this is negative as ssize_t


def _readable(task: Task, fd: int):
    file = task.fds.get(fd)
    if not file.readable:
        raise LinuxError(Errno.EBADF)
    return file


def _writable(task: Task, fd: int):
    file = task.fds.get(fd)
    if not file.writable:
        raise LinuxError(Errno.EBADF)
    return file


def _file_size_room(task: Task, file, offset: int | None, count: int) -> int:
    """How many of `count` bytes a write at `offset` (None: where a write() lands) may
    put in a regular file under RLIMIT_FSIZE; none at all is SIGXFSZ and EFBIG."""
    limit = task.process.rlimits[RLIMIT_FSIZE][0]
    if limit == RLIM_INFINITY or file.inode is None or not file.inode.is_regular():
        return count
    if offset is None:
        offset = file.stat().size if file.flags & O_APPEND else file.offset
    refuse_past_file_size(task, offset + 1)
    return min(count, limit - offset)


def _check_buffer(addr: int, count: int) -> int:
    """What Linux's access_ok does: the range must lie in user space (EFAULT); whether
    it is mapped is found out byte by byte as data is copied. Returns the count this
    call will move."""
    if count > _MAX_COUNT or addr + count > TASK_SIZE:
        raise LinuxError(Errno.EFAULT)
    return min(count, MAX_RW)


# read, write, pread64 and pwrite64 run for most syscalls of many programs: they do
# what _readable/_writable and _check_buffer do written out, and look task.mm up once.

def read(task: Task, fd: int, buf: int, count: int) -> int:
    file = task.fds.get(fd)
    if file.flags & ACCESS_BITS not in READ_ACCESS:
        raise LinuxError(Errno.EBADF)
    if count > _MAX_COUNT or buf + count > TASK_SIZE:
        raise LinuxError(Errno.EFAULT)
    if count > MAX_RW:
        count = MAX_RW
    if count < file.min_transfer:
        raise LinuxError(Errno.EINVAL)
    if count == 0:
        return 0
    mm = task.mm
    mm.check(buf, 1, 2)  # a buffer that is not there at all fails before data is taken
    data = file.read(task, count)
    mm.write(buf, data)
    return len(data)


def write(task: Task, fd: int, buf: int, count: int) -> int:
    file = task.fds.get(fd)
    if file.flags & ACCESS_BITS not in WRITE_ACCESS:
        raise LinuxError(Errno.EBADF)
    if count > _MAX_COUNT or buf + count > TASK_SIZE:
        raise LinuxError(Errno.EFAULT)
    if count > MAX_RW:
        count = MAX_RW
    if count < file.min_transfer:
        raise LinuxError(Errno.EINVAL)
    if count == 0:
        return 0
    count = _file_size_room(task, file, None, count)
    return file.write(task, task.mm.read(buf, count))


def pread64(task: Task, fd: int, buf: int, count: int, offset: int) -> int:
    file = task.fds.get(fd)
    if file.flags & ACCESS_BITS not in READ_ACCESS:
        raise LinuxError(Errno.EBADF)
    if offset < 0:
        raise LinuxError(Errno.EINVAL)
    if count > _MAX_COUNT or buf + count > TASK_SIZE:
        raise LinuxError(Errno.EFAULT)
    if count > MAX_RW:
        count = MAX_RW
    if count == 0:
        file.pread(0, offset)
        return 0
    mm = task.mm
    mm.check(buf, 1, 2)
    data = file.pread(count, offset)
    mm.write(buf, data)
    return len(data)


def pwrite64(task: Task, fd: int, buf: int, count: int, offset: int) -> int:
    file = task.fds.get(fd)
    if file.flags & ACCESS_BITS not in WRITE_ACCESS:
        raise LinuxError(Errno.EBADF)
    if offset < 0:
        raise LinuxError(Errno.EINVAL)
    if count > _MAX_COUNT or buf + count > TASK_SIZE:
        raise LinuxError(Errno.EFAULT)
    if count > MAX_RW:
        count = MAX_RW
    if count == 0:
        return 0
    count = _file_size_room(task, file, offset, count)
    return file.pwrite(task.mm.read(buf, count), offset)


def _iovecs(task: Task, iov: int, iovcnt: int) -> list[tuple[int, int]]:
    if iovcnt < 0 or iovcnt > IOV_MAX:
        raise LinuxError(Errno.EINVAL)
    raw = task.mm.read(iov, iovcnt * structs.IOVEC.size)
    out = []
    total = 0
    for index in range(iovcnt):
        base, length = structs.IOVEC.unpack_from(raw, index * structs.IOVEC.size)
        if length > (1 << 63) - 1:
            raise LinuxError(Errno.EINVAL)
        total += length
        out.append((base, length))
    if total > (1 << 63) - 1:
        raise LinuxError(Errno.EINVAL)
    return out


def _scatter(task: Task, vectors: list[tuple[int, int]], data: bytes) -> None:
    pos = 0
    for base, length in vectors:
        if pos >= len(data):
            break
        piece = data[pos:pos + length]
        task.mm.write(base, piece)
        pos += len(piece)


def _gather(task: Task, vectors: list[tuple[int, int]]) -> bytes:
    """The bytes the vectors name, up to MAX_RW (a longer writev is a short write)."""
    pieces = []
    left = MAX_RW
    for base, length in vectors:
        if left == 0:
            break
        if length:
            piece = task.mm.read(base, min(length, left))
            pieces.append(piece)
            left -= len(piece)
    return b"".join(pieces)


def _check_out_vectors(task: Task, vectors: list[tuple[int, int]]) -> int:
    total = 0
    for base, length in vectors:
        task.mm.check(base, length, 2)
        total += length
    return min(total, MAX_RW)


def readv(task: Task, fd: int, iov: int, iovcnt: int) -> int:
    file = _readable(task, fd)
    vectors = _iovecs(task, iov, iovcnt)
    total = _check_out_vectors(task, vectors)
    if total < file.min_transfer:
        raise LinuxError(Errno.EINVAL)
    if total == 0:
        return 0
    data = file.read(task, total)
    _scatter(task, vectors, data)
    return len(data)


def writev(task: Task, fd: int, iov: int, iovcnt: int) -> int:
    file = _writable(task, fd)
    data = _gather(task, _iovecs(task, iov, iovcnt))
    if len(data) < file.min_transfer:
        raise LinuxError(Errno.EINVAL)
    if not data:
        return 0
    return file.write(task, data[:_file_size_room(task, file, None, len(data))])


def _split_offset(pos_l: int, pos_h: int) -> int:
    offset = (pos_l & 0xFFFFFFFFFFFFFFFF) | ((pos_h & 0xFFFFFFFF) << 64)
    offset &= (1 << 64) - 1
    return offset - (1 << 64) if offset >> 63 else offset


def preadv(task: Task, fd: int, iov: int, iovcnt: int, pos_l: int, pos_h: int) -> int:
    file = _readable(task, fd)
    offset = _split_offset(pos_l, pos_h)
    if offset < 0:
        raise LinuxError(Errno.EINVAL)
    vectors = _iovecs(task, iov, iovcnt)
    total = _check_out_vectors(task, vectors)
    data = file.pread(total, offset)
    _scatter(task, vectors, data)
    return len(data)


def pwritev(task: Task, fd: int, iov: int, iovcnt: int, pos_l: int, pos_h: int) -> int:
    file = _writable(task, fd)
    offset = _split_offset(pos_l, pos_h)
    if offset < 0:
        raise LinuxError(Errno.EINVAL)
    data = _gather(task, _iovecs(task, iov, iovcnt))
    return file.pwrite(data[:_file_size_room(task, file, offset, len(data))], offset) if data else 0


def preadv2(task: Task, fd: int, iov: int, iovcnt: int, pos_l: int, pos_h: int, flags: int) -> int:
    if flags & ~0x1F:
        raise LinuxError(Errno.EOPNOTSUPP)
    if _split_offset(pos_l, pos_h) == -1:
        return readv(task, fd, iov, iovcnt)
    return preadv(task, fd, iov, iovcnt, pos_l, pos_h)


def pwritev2(task: Task, fd: int, iov: int, iovcnt: int, pos_l: int, pos_h: int, flags: int) -> int:
    if flags & ~0x1F:
        raise LinuxError(Errno.EOPNOTSUPP)
    if _split_offset(pos_l, pos_h) == -1:
        return writev(task, fd, iov, iovcnt)
    return pwritev(task, fd, iov, iovcnt, pos_l, pos_h)


def lseek(task: Task, fd: int, offset: int, whence: int) -> int:
    return task.fds.get(fd).seek(offset, whence)


def close(task: Task, fd: int) -> int:
    task.fds.close(fd)
    return 0


def close_range(task: Task, first: int, last: int, flags: int) -> int:
    CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 2, 4
    if flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) or first > last:
        raise LinuxError(Errno.EINVAL)
    for fd, _ in task.fds.items():
        if first <= fd <= last:
            if flags & CLOSE_RANGE_CLOEXEC:
                task.fds.set_cloexec(fd, True)
            else:
                task.fds.close(fd)
    return 0


def dup(task: Task, oldfd: int) -> int:
    return task.fds.install(task.fds.get(oldfd))


def dup2(task: Task, oldfd: int, newfd: int) -> int:
    file = task.fds.get(oldfd)
    if oldfd == newfd:
        return newfd
    task.fds.install_at(newfd, file)
    return newfd


def dup3(task: Task, oldfd: int, newfd: int, flags: int) -> int:
    if flags & ~O_CLOEXEC or oldfd == newfd:
        raise LinuxError(Errno.EINVAL)
    file = task.fds.get(oldfd)
    task.fds.install_at(newfd, file, cloexec=bool(flags & O_CLOEXEC))
    return newfd


def fcntl(task: Task, fd: int, cmd: int, arg: int) -> int:
    fds = task.fds
    file = fds.get(fd)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        minimum = arg & 0xFFFFFFFF
        if minimum >= 1 << 31:
            raise LinuxError(Errno.EINVAL)
        return fds.install(file, cloexec=cmd == F_DUPFD_CLOEXEC, minimum=minimum)
    if cmd == F_GETFD:
        return FD_CLOEXEC if fds.get_cloexec(fd) else 0
    if cmd == F_SETFD:
        fds.set_cloexec(fd, bool(arg & FD_CLOEXEC))
        return 0
    if cmd == F_GETFL:
        return file.flags
    if cmd == F_SETFL:
        if isinstance(file, PathFile):
            raise LinuxError(Errno.EBADF)
        file.flags = (file.flags & ~SETFL_MASK) | (arg & SETFL_MASK)
        return 0
    if cmd in (F_GETLK, F_OFD_GETLK):
        # no other process can hold a conflicting lock yet: report the range unlocked
        flock_type_offset = 0
        task.mm.check(arg, 32, 3)
        task.mm.write(arg + flock_type_offset, F_UNLCK.to_bytes(2, "little"))
        return 0
    if cmd in (F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW):
        task.mm.check(arg, 32, 1)
        return 0  # advisory locks between processes arrive with the process model
    if cmd == F_GETOWN:
        return 0
    if cmd == F_SETOWN:
        return 0
    if cmd in (F_GETSIG, F_GETLEASE):
        return 0
    if cmd == F_NOTIFY and not arg & 0xFFFFFFFF & ~DN_MULTISHOT:
        return 0  # asks for no events: drops this description's watches, and none is ever set
    if cmd in (F_ADD_SEALS, F_GET_SEALS):
        if not isinstance(file, MemfdFile):
            raise LinuxError(Errno.EINVAL)
        return _seals(task, file, arg) if cmd == F_ADD_SEALS else file.memfd.seals
    if cmd in (F_GETPIPE_SZ, F_SETPIPE_SZ):
        if not hasattr(file, "pipe_size"):
            raise LinuxError(Errno.EBADF)
        return file.pipe_size() if cmd == F_GETPIPE_SZ else file.set_pipe_size(arg)
    raise LinuxError(Errno.EINVAL)


def _seals(task: Task, file: MemfdFile, arg: int) -> int:
    seals = arg & 0xFFFFFFFF
    memfd = file.memfd
    if not file.writable:
        raise LinuxError(Errno.EPERM)
    if seals & ~ALL_SEALS:
        raise LinuxError(Errno.EINVAL)
    if memfd.seals & F_SEAL_SEAL:
        raise LinuxError(Errno.EPERM)
    if seals & F_SEAL_EXEC and memfd.mode & 0o111:
        seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE  # W^X from then on
    if seals & F_SEAL_WRITE and not memfd.seals & F_SEAL_WRITE:
        # refused while any process maps the file shared and may write through the mapping
        for process in task.kernel.processes.values():
            if any(vma.inode is memfd and vma.write_back for vma in process.mm.vmas()):
                raise LinuxError(Errno.EBUSY)
    memfd.seals |= seals
    return 0


# --- memfd_create ---------------------------------------------------------------------------

MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB, MFD_NOEXEC_SEAL, MFD_EXEC = 0x1, 0x2, 0x4, 0x8, 0x10
MFD_HUGE_BITS = 0x3F << 26
#: NAME_MAX less the "memfd:" prefix
MFD_NAME_MAX = 249


def memfd_create(task: Task, name: int, flags: int) -> int:
    flags &= 0xFFFFFFFF
    if flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC) or (
            flags & MFD_EXEC and flags & MFD_NOEXEC_SEAL):
        raise LinuxError(Errno.EINVAL)  # no huge pages in the sandbox: MFD_HUGETLB is refused too
    label = task.mm.read_cstring(name, MFD_NAME_MAX, Errno.EINVAL)
    kernel = task.kernel
    fs = kernel.memfd_fs
    if fs is None:
        fs = kernel.memfd_fs = MemFs(0, kernel.realtime_ns, budget=kernel.storage)
    mode, seals = 0o777, F_SEAL_SEAL
    if flags & MFD_NOEXEC_SEAL:
        mode, seals = 0o666, F_SEAL_EXEC
    elif flags & MFD_ALLOW_SEALING:
        seals = 0
    inode = MemfdInode(fs, label, mode, task.cred.fsuid, task.cred.fsgid, seals)
    return task.fds.install(inode.open(O_RDWR | O_LARGEFILE), cloexec=bool(flags & MFD_CLOEXEC))


def getdents64(task: Task, fd: int, dirp: int, count: int) -> int:
    return _getdents(task, fd, dirp, count, structs.dirent64)


def getdents(task: Task, fd: int, dirp: int, count: int) -> int:
    return _getdents(task, fd, dirp, count, structs.dirent)


def _getdents(task: Task, fd: int, dirp: int, count: int, pack) -> int:
    file = task.fds.get(fd)
    if isinstance(file, PathFile):
        raise LinuxError(Errno.EBADF)
    count = min(count, 1 << 20)
    task.mm.check(dirp, count, 2)
    out = bytearray()
    for next_position, entry in file.entries_from(file.offset):
        record = pack(entry.ino, next_position, entry.type, entry.name)
        if len(out) + len(record) > count:
            if not out:
                raise LinuxError(Errno.EINVAL)
            break
        out += record
        file.offset = next_position
    task.mm.write(dirp, bytes(out))
    return len(out)


def fstat(task: Task, fd: int, statbuf: int) -> int:
    task.mm.write(statbuf, pack_stat(task.fds.get(fd).stat()))
    return 0


def fstatfs(task: Task, fd: int, buf: int) -> int:
    file = task.fds.get(fd)
    if file.inode is None:
        raise LinuxError(Errno.ENOSYS)
    readonly = file.path.mount.readonly if file.path is not None else file.inode.fs.readonly
    task.mm.write(buf, pack_statfs(file.inode.fs, readonly))
    return 0


def fsync(task: Task, fd: int) -> int:
    task.fds.get(fd).sync()
    return 0


def fdatasync(task: Task, fd: int) -> int:
    return fsync(task, fd)


def sync(task: Task) -> int:
    return 0


def syncfs(task: Task, fd: int) -> int:
    task.fds.get(fd)
    return 0


def ftruncate(task: Task, fd: int, length: int) -> int:
    file = task.fds.get(fd)
    if length < 0:
        raise LinuxError(Errno.EINVAL)
    if not file.writable:
        raise LinuxError(Errno.EINVAL if file.readable else Errno.EBADF)
    if file.inode is not None and file.inode.is_dir():
        raise LinuxError(Errno.EISDIR)
    if file.path is not None and file.path.mount.readonly:
        raise LinuxError(Errno.EROFS)
    if file.inode is not None and file.inode.is_regular():
        refuse_past_file_size(task, length)
    file.truncate(length)
    return 0


def fadvise64(task: Task, fd: int, offset: int, length: int, advice: int) -> int:
    file = task.fds.get(fd)
    if advice not in range(6):
        raise LinuxError(Errno.EINVAL)
    if file.inode is None or not file.inode.is_regular():
        raise LinuxError(Errno.ESPIPE)
    return 0


def fallocate(task: Task, fd: int, mode: int, offset: int, length: int) -> int:
    file = task.fds.get(fd)
    if offset < 0 or length <= 0:
        raise LinuxError(Errno.EINVAL)
    if not file.writable:
        raise LinuxError(Errno.EBADF)
    if mode == 0:
        size = file.stat().size
        if offset + length > size:
            if file.inode is not None and file.inode.is_regular():
                refuse_past_file_size(task, offset + length)
            file.truncate(offset + length)
        return 0
    raise LinuxError(Errno.EOPNOTSUPP)


def flock(task: Task, fd: int, operation: int) -> int:
    LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8
    task.fds.get(fd)
    if operation & ~LOCK_NB not in (LOCK_SH, LOCK_EX, LOCK_UN):
        raise LinuxError(Errno.EINVAL)
    return 0  # locks between processes arrive with the process model


def copy_file_range(task: Task, fd_in: int, off_in: int, fd_out: int, off_out: int, length: int,
                    flags: int) -> int:
    if flags:
        raise LinuxError(Errno.EINVAL)
    source = _readable(task, fd_in)
    target = _writable(task, fd_out)
    for file in (source, target):
        if file.inode is None or not file.inode.is_regular():
            raise LinuxError(Errno.EINVAL)
    if target.flags & O_APPEND:
        raise LinuxError(Errno.EBADF)
    length = min(length, MAX_RW)
    read_at = _load_offset(task, off_in)
    write_at = _load_offset(task, off_out)
    length = _file_size_room(task, target, target.offset if write_at is None else write_at, length)
    data = source.pread(length, source.offset if read_at is None else read_at)
    if not data:
        return 0
    written = target.pwrite(data, target.offset if write_at is None else write_at)
    if read_at is None:
        source.offset += written
    else:
        task.mm.write(off_in, structs.I64.pack(read_at + written))
    if write_at is None:
        target.offset += written
    else:
        task.mm.write(off_out, structs.I64.pack(write_at + written))
    return written


def _load_offset(task: Task, pointer: int) -> int | None:
    if pointer == 0:
        return None
    (value,) = structs.I64.unpack(task.mm.read(pointer, 8))
    if value < 0:
        raise LinuxError(Errno.EINVAL)
    return value


def sendfile(task: Task, out_fd: int, in_fd: int, offset: int, count: int) -> int:
    """The source is read at its offset without moving it, and moved by what the target
    took, so a target that blocks (a full pipe) loses nothing when the call runs again."""
    source = _readable(task, in_fd)
    target = _writable(task, out_fd)
    if source.inode is None or not source.inode.is_regular():
        raise LinuxError(Errno.EINVAL)
    count = min(count, MAX_RW)
    start = _load_offset(task, offset)
    count = _file_size_room(task, target, None, count)
    room = target.write_room()
    if room is not None:
        # read only what a socket can take now (nginx asks for 2 MiB where 200 KiB fit);
        # with no room, one byte lets the target's write wait or say EAGAIN
        count = min(count, max(room, 1))
    data = source.pread(count, source.offset if start is None else start)
    if not data:
        return 0
    written = target.write(task, data)
    if start is None:
        source.offset += written
    else:
        task.mm.write(offset, structs.I64.pack(start + written))
    return written
