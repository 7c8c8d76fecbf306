"""Byte layouts of the x86-64 structures syscalls exchange with programs.

Explicit little-endian formats with explicit padding, so the layouts are the same
whatever host runs the kernel. Sizes are checked by tests against the C ABI.
"""

from __future__ import annotations

import struct

# struct timespec / struct timeval / struct __kernel_timespec
TIMESPEC = struct.Struct("<qq")
TIMEVAL = struct.Struct("<qq")
ITIMERVAL = struct.Struct("<qqqq")
ITIMERSPEC = struct.Struct("<qqqq")

# struct stat (x86-64, 144 bytes); the times are signed: a file may date from before 1970
STAT = struct.Struct("<QQQIIIiQqqqqQqQqQ24x")

# struct statx (256 bytes): mask, blksize, attributes, nlink, uid, gid, mode, ino, size,
# blocks, attributes_mask, atime, btime, ctime, mtime, rdev, dev, mnt_id, dio alignments
STATX = struct.Struct("<IIQIIIH2xQQQQ" + "qI4x" * 4 + "IIII" + "QII" + "96x")

# struct statfs (x86-64, 120 bytes)
STATFS = struct.Struct("<qqQQQQQiiqqq32x")

# struct new_utsname: six 65-byte fields
UTSNAME_FIELD = 65
UTSNAME = struct.Struct("<" + f"{UTSNAME_FIELD}s" * 6)

RLIMIT = struct.Struct("<QQ")
IOVEC = struct.Struct("<QQ")

# struct sysinfo (112 bytes)
SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")

# struct rusage (144 bytes): utime, stime, then 14 longs
RUSAGE = struct.Struct("<qqqq14q")

# struct tms
TMS = struct.Struct("<qqqq")

# struct kernel_sigaction as x86-64 rt_sigaction takes it: handler, flags, restorer, mask
SIGACTION = struct.Struct("<QQQQ")

# stack_t: ss_sp, ss_flags, ss_size
STACK_T = struct.Struct("<Qi4xQ")

# struct winsize
WINSIZE = struct.Struct("<HHHH")

# struct linux_dirent64 header: d_ino, d_off, d_reclen, d_type (name follows)
DIRENT64_HEAD = struct.Struct("<QqHB")
# struct linux_dirent header: d_ino, d_off, d_reclen (name, NUL, pad, then d_type byte)
DIRENT_HEAD = struct.Struct("<QqH")

# struct open_how (openat2)
OPEN_HOW = struct.Struct("<QQQ")

U64 = struct.Struct("<Q")
I64 = struct.Struct("<q")
U32 = struct.Struct("<I")
I32 = struct.Struct("<i")
TWO_I32 = struct.Struct("<ii")


def encode_dev(major: int, minor: int) -> int:
    """dev_t as the kernel's new_encode_dev packs it."""
    return (minor & 0xFF) | ((major & 0xFFF) << 8) | ((minor & ~0xFF) << 12)


def decode_dev(dev: int) -> tuple[int, int]:
    return (dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00)


def dirent64(ino: int, offset: int, dtype: int, name: bytes) -> bytes:
    reclen = (DIRENT64_HEAD.size + len(name) + 1 + 7) & ~7
    record = DIRENT64_HEAD.pack(ino, offset, reclen, dtype) + name
    return record + bytes(reclen - len(record))


def dirent(ino: int, offset: int, dtype: int, name: bytes) -> bytes:
    reclen = (DIRENT_HEAD.size + len(name) + 2 + 7) & ~7
    record = DIRENT_HEAD.pack(ino, offset, reclen) + name + b"\0"
    return record + bytes(reclen - len(record) - 1) + bytes((dtype,))
