"""Trusted storage: a TA's persistent objects, encrypted at rest.

Objects live as files under one directory per TA on the sandbox's filesystem (a host
directory mounted read-write). Each TA has its own keys, derived with HKDF-SHA256 from
a secret the host holds and the TA's UUID: one names files (an HMAC of the object id,
so names reveal nothing), one encrypts them with AES-GCM (the object id, type,
attributes and data together; the file name is authenticated with them, so a file
moved to another name or another TA's directory fails to decrypt).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass, field
from typing import Protocol

from slimbox.shims.optee.abi import TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_STORAGE_NO_SPACE, format_uuid
from slimbox.shims.optee.errors import TeeError

_NONCE = 12
_HEADER = struct.Struct("<4sIII")  # magic, object type, id length, attribute blob length
_MAGIC = b"SBO1"
_SUFFIX = ".obj"
#: the TA's persistent-time offset (not an object: enumeration never lists it)
_TIME_FILE = "persistent-time"
#: the largest object (data and attributes) a TA may keep
MAX_OBJECT = 4 << 20


class Files(Protocol):
    """The file operations storage needs, on the sandbox's filesystem."""

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None: ...

    def listdir(self, path: str) -> list: ...

    def makedirs(self, path: str, mode: int = 0o700, exist_ok: bool = False) -> None: ...

    def remove(self, path: str) -> None: ...

    def rename(self, src: str, dst: str) -> None: ...


def _hkdf(secret: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"slimbox optee storage", info=info).derive(secret)


@dataclass
class StoredObject:
    object_id: bytes
    object_type: int
    attributes: bytes = b""
    data: bytearray = field(default_factory=bytearray)


class TaStorage:
    """The persistent objects of one TA."""

    def __init__(self, files: Files, directory: str, name_key: bytes, data_key: bytes) -> None:
        self._files = files
        self._directory = directory
        self._name_key = name_key
        self._data_key = data_key
        #: object ids open now, with the handles' access and share flags (for conflicts)
        self.open_flags: dict[bytes, list[int]] = {}

    def _name(self, object_id: bytes) -> str:
        return hmac.new(self._name_key, object_id, hashlib.sha256).hexdigest() + _SUFFIX

    def _path(self, name: str) -> str:
        return f"{self._directory}/{name}"

    def _ensure_directory(self) -> None:
        self._files.makedirs(self._directory, 0o700, exist_ok=True)

    def load(self, object_id: bytes) -> StoredObject | None:
        name = self._name(object_id)
        try:
            blob = self._files.read_file(self._path(name))
        except FileNotFoundError:
            return None
        stored = self._decrypt(name, blob)
        if stored.object_id != object_id:
            raise TeeError(TEE_ERROR_CORRUPT_OBJECT, "the object's id does not match its name")
        return stored

    def exists(self, object_id: bytes) -> bool:
        return self._name(object_id) in self._names()

    def save(self, stored: StoredObject) -> None:
        if len(stored.data) + len(stored.attributes) > MAX_OBJECT:
            raise TeeError(TEE_ERROR_STORAGE_NO_SPACE)
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._ensure_directory()
        name = self._name(stored.object_id)
        plain = _HEADER.pack(_MAGIC, stored.object_type, len(stored.object_id), len(stored.attributes)) + \
            stored.object_id + stored.attributes + bytes(stored.data)
        nonce = os.urandom(_NONCE)
        blob = nonce + AESGCM(self._data_key).encrypt(nonce, plain, name.encode())
        temporary = self._path(name + ".new")
        self._files.write_file(temporary, blob, 0o600)
        self._files.rename(temporary, self._path(name))

    def delete(self, object_id: bytes) -> None:
        try:
            self._files.remove(self._path(self._name(object_id)))
        except FileNotFoundError:
            pass

    def _names(self) -> list[str]:
        try:
            return [n if isinstance(n, str) else n.decode() for n in self._files.listdir(self._directory)]
        except FileNotFoundError:
            return []

    def all(self) -> list[StoredObject]:
        """Every object of the TA (files that fail to decrypt are left out)."""
        found = []
        for name in sorted(self._names()):
            if not name.endswith(_SUFFIX):
                continue
            try:
                found.append(self._decrypt(name, self._files.read_file(self._path(name))))
            except (TeeError, FileNotFoundError):
                continue
        return found

    def load_time_offset(self) -> int | None:
        """The TA's persistent-time offset from the host's clock, in milliseconds, if it
        set one (kept apart from its objects, encrypted like them)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            blob = self._files.read_file(self._path(_TIME_FILE))
            plain = AESGCM(self._data_key).decrypt(blob[:_NONCE], blob[_NONCE:], _TIME_FILE.encode())
        except FileNotFoundError:
            return None
        except (InvalidTag, ValueError):
            raise TeeError(TEE_ERROR_CORRUPT_OBJECT, "the persistent time failed authentication") from None
        return int.from_bytes(plain, "little", signed=True)

    def save_time_offset(self, offset_ms: int) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._ensure_directory()
        nonce = os.urandom(_NONCE)
        plain = offset_ms.to_bytes(16, "little", signed=True)
        self._files.write_file(self._path(_TIME_FILE + ".new"),
                               nonce + AESGCM(self._data_key).encrypt(nonce, plain, _TIME_FILE.encode()), 0o600)
        self._files.rename(self._path(_TIME_FILE + ".new"), self._path(_TIME_FILE))

    def _decrypt(self, name: str, blob: bytes) -> StoredObject:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plain = AESGCM(self._data_key).decrypt(blob[:_NONCE], blob[_NONCE:], name.encode())
        except (InvalidTag, ValueError):
            raise TeeError(TEE_ERROR_CORRUPT_OBJECT, "an object failed authentication") from None
        if len(plain) < _HEADER.size:
            raise TeeError(TEE_ERROR_CORRUPT_OBJECT)
        magic, object_type, id_length, attributes_length = _HEADER.unpack_from(plain)
        start = _HEADER.size
        if magic != _MAGIC or start + id_length + attributes_length > len(plain):
            raise TeeError(TEE_ERROR_CORRUPT_OBJECT)
        object_id = plain[start:start + id_length]
        attributes = plain[start + id_length:start + id_length + attributes_length]
        data = bytearray(plain[start + id_length + attributes_length:])
        return StoredObject(object_id, object_type, attributes, data)


class SecureStorage:
    """Trusted storage for every TA: one directory and one pair of keys per TA UUID."""

    def __init__(self, files: Files, root: str, secret: bytes) -> None:
        self._files = files
        self._root = root.rstrip("/")
        self._secret = secret
        self._by_ta: dict[bytes, TaStorage] = {}

    def for_ta(self, uuid: bytes) -> TaStorage:
        storage = self._by_ta.get(uuid)
        if storage is None:
            storage = TaStorage(self._files, f"{self._root}/{format_uuid(uuid)}",
                                _hkdf(self._secret, b"names " + uuid), _hkdf(self._secret, b"data " + uuid))
            self._by_ta[uuid] = storage
        return storage
