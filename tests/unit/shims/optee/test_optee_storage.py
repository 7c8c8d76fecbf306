"""Trusted storage on its own, over an in-memory file tree: encryption at rest, keys
per TA, and refusal of tampered or moved files."""

from __future__ import annotations

import pytest

from slimbox.shims.optee import abi
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.objects import KeyObject, pack_attributes, populate, unpack_attributes
from slimbox.shims.optee.storage import SecureStorage, StoredObject

TA_A, TA_B = bytes(range(16)), bytes(range(1, 17))


class MemoryFiles:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def read_file(self, path: str) -> bytes:
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        self.files[path] = bytes(data)

    def listdir(self, path: str) -> list:
        names = [p[len(path) + 1:] for p in self.files if p.startswith(path + "/")]
        if not names:
            raise FileNotFoundError(path)
        return names

    def makedirs(self, path: str, mode: int = 0o700, exist_ok: bool = False) -> None:
        pass

    def remove(self, path: str) -> None:
        if self.files.pop(path, None) is None:
            raise FileNotFoundError(path)

    def rename(self, src: str, dst: str) -> None:
        self.files[dst] = self.files.pop(src)


@pytest.fixture
def files() -> MemoryFiles:
    return MemoryFiles()


def test_round_trip_and_nothing_in_clear(files):
    storage = SecureStorage(files, "/store", b"k" * 32).for_ta(TA_A)
    storage.save(StoredObject(b"my-object", abi.TYPE_DATA, b"", bytearray(b"plain words here")))
    assert storage.load(b"my-object").data == b"plain words here"
    assert storage.exists(b"my-object") and not storage.exists(b"other")
    assert [o.object_id for o in storage.all()] == [b"my-object"]
    for path, blob in files.files.items():
        assert b"plain words" not in blob and b"my-object" not in blob and "my-object" not in path


def test_another_ta_or_secret_sees_nothing(files):
    SecureStorage(files, "/store", b"k" * 32).for_ta(TA_A).save(StoredObject(b"x", abi.TYPE_DATA))
    assert SecureStorage(files, "/store", b"k" * 32).for_ta(TA_B).load(b"x") is None
    assert SecureStorage(files, "/store", b"j" * 32).for_ta(TA_A).load(b"x") is None


def test_tampering_and_moving_files_are_corrupt_objects(files):
    storage = SecureStorage(files, "/store", b"k" * 32).for_ta(TA_A)
    storage.save(StoredObject(b"one", abi.TYPE_DATA, b"", bytearray(b"1")))
    storage.save(StoredObject(b"two", abi.TYPE_DATA, b"", bytearray(b"2")))
    paths = sorted(p for p in files.files)
    first, second = paths
    files.files[first], files.files[second] = files.files[second], files.files[first]  # swapped names
    for object_id in (b"one", b"two"):
        with pytest.raises(TeeError) as refused:
            storage.load(object_id)
        assert refused.value.code == abi.TEE_ERROR_CORRUPT_OBJECT
    blob = bytearray(files.files[first])
    blob[-1] ^= 1
    files.files[first] = bytes(blob)
    assert storage.all() == []  # undecryptable files are left out of enumerations


def test_key_attributes_survive_storage():
    key = KeyObject(abi.TYPE_ECDSA_KEYPAIR, 256)
    populate(key, {abi.ATTR_ECC_CURVE: (3, 0), abi.ATTR_ECC_PRIVATE_VALUE: b"\x01" * 32,
                   abi.ATTR_ECC_PUBLIC_VALUE_X: b"\x02" * 32, abi.ATTR_ECC_PUBLIC_VALUE_Y: b"\x03" * 32})
    again = unpack_attributes(abi.TYPE_ECDSA_KEYPAIR, pack_attributes(key))
    assert again.attributes == key.attributes and again.size == 256 and again.initialized
