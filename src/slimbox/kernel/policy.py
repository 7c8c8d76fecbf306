"""What a sandbox may see: the filesystem view asked for, as plain data."""

from __future__ import annotations

from slimbox.kernel.record import Frozen

#: host directories the default view exposes read-only (when they exist)
DEFAULT_HOST_DIRS: tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")

#: directories the default view gives a fresh in-memory filesystem
DEFAULT_TMPFS: tuple[str, ...] = ("/tmp", "/root", "/home", "/run", "/var/tmp")

#: names under /etc that never appear in the sandbox: secrets and host-only identity
DEFAULT_HIDDEN_IN_ETC: frozenset[bytes] = frozenset({
    b"shadow", b"shadow-", b"gshadow", b"gshadow-", b"sudoers", b"sudoers.d",
    b"ssh/ssh_host_rsa_key", b"ssh/ssh_host_ecdsa_key", b"ssh/ssh_host_ed25519_key",
    b"ssh/ssh_host_dsa_key", b"ssl/private", b"machine-id", b"security/opasswd",
    b"krb5.keytab", b"docker/key.json",
})


class PolicyError(ValueError):
    """A policy that cannot be built (bad mount spec, missing host path...)."""


class MountSpec(Frozen):
    __slots__ = ("host", "guest", "writable")

    def __init__(self, host: str, guest: str, writable: bool = True) -> None:
        self._set(host=host, guest=guest, writable=writable)

    @classmethod
    def parse(cls, spec: str) -> MountSpec:
        """HOST:GUEST[:ro|rw], as docker -v takes it. Where that reading fails and HOST
        starts with a Windows drive (C:\\data:/data), the drive's colon is not a separator."""
        split = _split_mount(spec.split(":"))
        if split is None and len(spec) > 2 and spec[0].isascii() and spec[0].isalpha() and spec[1] == ":" \
                and spec[2] in "\\/":
            rest = spec[2:].split(":")
            split = _split_mount([spec[:2] + rest[0], *rest[1:]])
        if split is None:
            raise PolicyError(f"bad mount {spec!r}: expected HOST:GUEST[:ro|rw]")
        parts, writable = split
        host, guest = parts
        if not host or not guest:
            raise PolicyError(f"bad mount {spec!r}: empty path")
        if not guest.startswith("/"):
            raise PolicyError(f"bad mount {spec!r}: the sandbox path must be absolute")
        return cls(host, guest, writable)


def _split_mount(parts: list[str]) -> tuple[list[str], bool] | None:
    """([HOST, GUEST], writable) of HOST:GUEST[:ro|rw] split at colons, or None."""
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        return parts[:2], parts[2] == "rw"
    if len(parts) == 2:
        return parts, True
    return None


class Policy(Frozen):
    """`rootfs`: a host directory or tar archive replacing the host view."""

    __slots__ = ("mounts", "rootfs", "tmpfs", "host_dirs", "hidden_in_etc")

    def __init__(self, mounts: tuple[MountSpec, ...] = (), rootfs: str | None = None, tmpfs: tuple[str, ...] = (),
                 host_dirs: tuple[str, ...] = DEFAULT_HOST_DIRS,
                 hidden_in_etc: frozenset[bytes] = DEFAULT_HIDDEN_IN_ETC) -> None:
        self._set(mounts=mounts, rootfs=rootfs, tmpfs=tmpfs, host_dirs=host_dirs, hidden_in_etc=hidden_in_etc)
