"""Persistent-object handlers on a fake instance over in-memory files: positions,
truncation, access flags, enumeration."""

from __future__ import annotations

import pytest

from slimbox.shims.optee import abi
from slimbox.shims.optee import sys_storage as S
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.storage import SecureStorage
from tests.unit.shims.optee.fake_instance import FakeInstance
from tests.unit.shims.optee.test_optee_storage import MemoryFiles

ALL = abi.DATA_FLAG_ACCESS_READ | abi.DATA_FLAG_ACCESS_WRITE | abi.DATA_FLAG_ACCESS_WRITE_META


@pytest.fixture
def inst() -> FakeInstance:
    return FakeInstance(SecureStorage(MemoryFiles(), "/store", b"s" * 32).for_ta(bytes(16)))


def _create(inst, object_id: bytes, data: bytes, flags: int = ALL) -> int:
    out = inst.u32()
    S.obj_create(inst, abi.TEE_STORAGE_PRIVATE, inst.put(object_id), len(object_id), flags, 0, inst.put(data),
                 len(data), out)
    return inst.memory.read_u32(out)


def _read_all(inst, handle: int) -> bytes:
    S.obj_seek(inst, handle, 0, abi.SEEK_SET)
    buffer, count = inst.put(b"", 256), inst.u64(0)
    S.obj_read(inst, handle, buffer, 256, count)
    return inst.memory.read(buffer, inst.memory.read_u64(count))


def test_seek_write_and_truncate(inst):
    handle = _create(inst, b"obj", b"hello")
    S.obj_seek(inst, handle, -2 & 0xFFFFFFFF, abi.SEEK_END)  # int32 -2, as the TA passes it
    S.obj_write(inst, handle, inst.put(b"LO!"), 3)
    assert _read_all(inst, handle) == b"helLO!"
    S.obj_seek(inst, handle, 10, abi.SEEK_SET)
    S.obj_write(inst, handle, inst.put(b"x"), 1)
    assert _read_all(inst, handle) == b"helLO!\0\0\0\0x"
    S.obj_trunc(inst, handle, 3)
    assert _read_all(inst, handle) == b"hel"
    S.obj_seek(inst, handle, -100 & 0xFFFFFFFF, abi.SEEK_CUR)  # before the start: position 0
    with pytest.raises(TeeError) as whence:
        S.obj_seek(inst, handle, 0, 7)
    assert whence.value.code == abi.TEE_ERROR_BAD_PARAMETERS


def test_access_flags_are_enforced(inst):
    handle = _create(inst, b"ro", b"data", abi.DATA_FLAG_ACCESS_READ)
    for call in (lambda: S.obj_write(inst, handle, inst.put(b"x"), 1), lambda: S.obj_trunc(inst, handle, 0),
                 lambda: S.obj_del(inst, handle)):
        with pytest.raises(TeeError) as refused:
            call()
        assert refused.value.code == abi.TEE_ERROR_ACCESS_CONFLICT
    out = inst.u32()
    with pytest.raises(TeeError) as exists:  # no OVERWRITE flag: the object stays as it is
        S.obj_create(inst, abi.TEE_STORAGE_PRIVATE, inst.put(b"ro"), 2, ALL, 0, 0, 0, out)
    assert exists.value.code == abi.TEE_ERROR_ACCESS_CONFLICT
    with pytest.raises(TeeError) as other_storage:
        S.obj_open(inst, 7, inst.put(b"ro"), 2, abi.DATA_FLAG_ACCESS_READ, out)
    assert other_storage.value.code == abi.TEE_ERROR_ITEM_NOT_FOUND
    with pytest.raises(TeeError) as long_id:
        S.obj_open(inst, abi.TEE_STORAGE_PRIVATE, inst.put(b"i" * 65), 65, abi.DATA_FLAG_ACCESS_READ, out)
    assert long_id.value.code == abi.TEE_ERROR_BAD_PARAMETERS


def test_enumeration_reset_and_end(inst):
    for name in (b"x", b"y"):
        _create(inst, name, name)
    out = inst.u32()
    S.enum_alloc(inst, out)
    enumerator = inst.memory.read_u32(out)
    with pytest.raises(TeeError):
        S.enum_next(inst, enumerator, 0, inst.put(b"", 64), inst.u64(64))  # not started
    seen = []
    for _ in range(2):
        S.enum_start(inst, enumerator, abi.TEE_STORAGE_PRIVATE)
        names = []
        while True:
            name, length = inst.put(b"", 64), inst.u64(64)
            try:
                S.enum_next(inst, enumerator, inst.put(b"", abi.UTEE_OBJECT_INFO.size), name, length)
            except TeeError as end:
                assert end.code == abi.TEE_ERROR_ITEM_NOT_FOUND
                break
            names.append(inst.memory.read(name, inst.memory.read_u64(length)))
        seen.append(sorted(names))
        S.enum_reset(inst, enumerator)
    assert seen == [[b"x", b"y"]] * 2
    S.enum_free(inst, enumerator)
