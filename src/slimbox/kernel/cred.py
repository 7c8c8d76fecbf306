"""Credentials and the permission checks that use them."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.record import Record

MAY_EXEC, MAY_WRITE, MAY_READ = 1, 2, 4


class Credentials(Record):
    __slots__ = ("uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid", "groups")

    def __init__(self, uid: int = 0, euid: int = 0, suid: int = 0, fsuid: int = 0, gid: int = 0, egid: int = 0,
                 sgid: int = 0, fsgid: int = 0, groups: tuple[int, ...] = ()) -> None:
        self.uid = uid
        self.euid = euid
        self.suid = suid
        self.fsuid = fsuid
        self.gid = gid
        self.egid = egid
        self.sgid = sgid
        self.fsgid = fsgid
        self.groups = groups

    @classmethod
    def of(cls, uid: int, gid: int, groups: tuple[int, ...] = ()) -> Credentials:
        return cls(uid, uid, uid, uid, gid, gid, gid, gid, groups)

    def copy(self) -> Credentials:
        return Credentials(*self._values())

    @property
    def is_root(self) -> bool:
        return self.fsuid == 0

    def in_group(self, gid: int) -> bool:
        return gid == self.fsgid or gid in self.groups


def permitted(cred: Credentials, mode: int, uid: int, gid: int, want: int) -> bool:
    """Classic Unix permission bits; root may do anything except execute a file with
    no execute bit at all."""
    if cred.is_root:
        if want & MAY_EXEC and not mode & 0o111 and (mode & 0o170000) != 0o040000:
            return False
        return True
    if cred.fsuid == uid:
        bits = (mode >> 6) & 7
    elif cred.in_group(gid):
        bits = (mode >> 3) & 7
    else:
        bits = mode & 7
    return bits & want == want


def check_permission(cred: Credentials, mode: int, uid: int, gid: int, want: int) -> None:
    if not permitted(cred, mode, uid, gid, want):
        raise LinuxError(Errno.EACCES)
