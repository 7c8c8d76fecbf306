"""Packing the kernel's Stat into the stat/statx/statfs layouts."""

from __future__ import annotations

from slimbox.abi import structs
from slimbox.kernel.fs.inode import FileSystem, Stat

STATX_BASIC_STATS = 0x7FF
STATX_BTIME = 0x800
STATX_MNT_ID = 0x1000

NAME_MAX = 255
_STAT = structs.STAT


def _split(ns: int) -> tuple[int, int]:
    return ns // 1_000_000_000, ns % 1_000_000_000


def pack_stat(st: Stat) -> bytes:
    # divmod inline rather than _split: every stat and fstat comes through here
    a, an = divmod(st.atime_ns, 1_000_000_000)
    m, mn = divmod(st.mtime_ns, 1_000_000_000)
    c, cn = divmod(st.ctime_ns, 1_000_000_000)
    return _STAT.pack(st.dev, st.ino, st.nlink, st.mode, st.uid & 0xFFFFFFFF, st.gid & 0xFFFFFFFF, 0,
                      st.rdev, st.size, st.blksize, st.blocks, a, an, m, mn, c, cn)


def pack_statx(st: Stat, mount_id: int = 0) -> bytes:
    a, an = _split(st.atime_ns)
    m, mn = _split(st.mtime_ns)
    c, cn = _split(st.ctime_ns)
    rdev_major, rdev_minor = structs.decode_dev(st.rdev)
    dev_major, dev_minor = structs.decode_dev(st.dev)
    return structs.STATX.pack(
        STATX_BASIC_STATS | STATX_MNT_ID, st.blksize, 0, st.nlink, st.uid & 0xFFFFFFFF,
        st.gid & 0xFFFFFFFF, st.mode, st.ino, st.size, st.blocks, 0,
        a, an, 0, 0, c, cn, m, mn,
        rdev_major, rdev_minor, dev_major, dev_minor, mount_id, 0, 0)


ST_RDONLY, ST_VALID = 0x1, 0x20


def pack_statfs(fs: FileSystem, readonly: bool) -> bytes:
    """statfs of `fs` as mounted (`readonly` is the mount's, which may differ from the fs's)."""
    magic, blocks, free, files = fs.statfs()
    flags = ST_VALID | (ST_RDONLY if readonly else 0)  # the kernel always sets ST_VALID
    return structs.STATFS.pack(magic, 4096, blocks, free, free, files, files, 0, fs.dev, NAME_MAX, 4096, flags)
