"""utee persistent storage calls: create, open, read, write, seek, truncate, rename,
delete and enumerate a TA's objects (kept by storage.py, encrypted at rest)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from slimbox.shims.optee import abi
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.objects import KeyObject, pack_attributes, unpack_attributes
from slimbox.shims.optee.storage import MAX_OBJECT, StoredObject

if TYPE_CHECKING:
    from slimbox.shims.optee.instance import TaInstance
    from slimbox.shims.optee.storage import TaStorage

_ACCESS = abi.DATA_FLAG_ACCESS_READ | abi.DATA_FLAG_ACCESS_WRITE | abi.DATA_FLAG_ACCESS_WRITE_META
_SHARE = abi.DATA_FLAG_SHARE_READ | abi.DATA_FLAG_SHARE_WRITE
_KNOWN_FLAGS = _ACCESS | _SHARE | abi.DATA_FLAG_OVERWRITE


@dataclass
class PersistentHandle:
    stored: StoredObject
    flags: int
    key: KeyObject
    position: int = 0


@dataclass
class Enumerator:
    started: bool = False
    pending: list | None = None


def _storage(inst: TaInstance, storage_id: int) -> TaStorage:
    if storage_id not in (abi.TEE_STORAGE_PRIVATE, abi.TEE_STORAGE_PRIVATE_REE):
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND, f"storage {storage_id:#x}")
    if inst.storage is None:
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED,
                       "no trusted storage in this TEE")
    return inst.storage


def _object_id(inst: TaInstance, address: int, length: int) -> bytes:
    if length > abi.OBJECT_ID_MAX_LEN:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"an object id of {length} bytes")
    return inst.memory.read(address, length)


def _check_share(storage: TaStorage, object_id: bytes, flags: int) -> None:
    """GP's sharing rules: every handle on an object must allow what the others do."""
    for other in storage.open_flags.get(object_id, []):
        for access, share in ((abi.DATA_FLAG_ACCESS_READ, abi.DATA_FLAG_SHARE_READ),
                              (abi.DATA_FLAG_ACCESS_WRITE, abi.DATA_FLAG_SHARE_WRITE)):
            if (flags & access and not other & share) or (other & access and not flags & share):
                raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)
        if (flags & _SHARE) != (other & _SHARE):
            raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)


def _register(inst: TaInstance, storage: TaStorage, stored: StoredObject, flags: int, out: int) -> int:
    key = unpack_attributes(stored.object_type, stored.attributes)
    handle = inst.handles.add(PersistentHandle(stored, flags & _KNOWN_FLAGS, key))
    storage.open_flags.setdefault(stored.object_id, []).append(flags & _KNOWN_FLAGS)
    try:
        inst.memory.write_u32(out, handle)
    except TeeError:
        _forget(inst, storage, handle)
        raise
    return abi.TEE_SUCCESS


def _forget(inst: TaInstance, storage: TaStorage, handle: int) -> None:
    item = inst.handles.get(handle, PersistentHandle)
    if item is None:
        return
    inst.handles.remove(handle)
    flags = storage.open_flags.get(item.stored.object_id, [])
    if item.flags in flags:
        flags.remove(item.flags)
    if not flags:
        storage.open_flags.pop(item.stored.object_id, None)


def close_persistent(inst: TaInstance, handle: int) -> None:
    if inst.storage is not None:
        _forget(inst, inst.storage, handle)


def obj_open(inst: TaInstance, storage_id: int, object_id: int, id_length: int, flags: int, out: int) -> int:
    storage = _storage(inst, storage_id)
    if flags & ~(_ACCESS | _SHARE):
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"flags {flags:#x}")
    name = _object_id(inst, object_id, id_length)
    stored = storage.load(name)
    if stored is None:
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND)
    _check_share(storage, name, flags)
    return _register(inst, storage, stored, flags, out)


def obj_create(inst: TaInstance, storage_id: int, object_id: int, id_length: int, flags: int, attributes: int,
               data: int, length: int, out: int) -> int:
    from slimbox.shims.optee.sys_object import key_object

    storage = _storage(inst, storage_id)
    if flags & ~_KNOWN_FLAGS:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"flags {flags:#x}")
    if length > MAX_OBJECT:
        raise TeeError(abi.TEE_ERROR_STORAGE_NO_SPACE)
    name = _object_id(inst, object_id, id_length)
    initial = inst.memory.read(data, length)
    key = key_object(inst, attributes) if attributes else None
    exists = storage.exists(name)
    if exists and not flags & abi.DATA_FLAG_OVERWRITE:
        raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)
    if exists:
        _check_share(storage, name, flags)
    stored = StoredObject(name, key.type if key is not None else abi.TYPE_DATA, pack_attributes(key),
                          bytearray(initial))
    storage.save(stored)
    return _register(inst, storage, stored, flags, out)


def _handle(inst: TaInstance, handle: int) -> PersistentHandle:
    item = inst.handles.get(handle, PersistentHandle)
    if item is None:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"no persistent object {handle}")
    return item


def obj_del(inst: TaInstance, handle: int) -> int:
    item = _handle(inst, handle)
    if not item.flags & abi.DATA_FLAG_ACCESS_WRITE_META:
        raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)
    storage = _storage(inst, abi.TEE_STORAGE_PRIVATE)
    storage.delete(item.stored.object_id)
    _forget(inst, storage, handle)
    return abi.TEE_SUCCESS


def obj_rename(inst: TaInstance, handle: int, new_id: int, new_id_length: int) -> int:
    item = _handle(inst, handle)
    if not item.flags & abi.DATA_FLAG_ACCESS_WRITE_META:
        raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)
    storage = _storage(inst, abi.TEE_STORAGE_PRIVATE)
    name = _object_id(inst, new_id, new_id_length)
    if name == item.stored.object_id:
        return abi.TEE_SUCCESS
    if storage.exists(name):
        raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)
    old = item.stored.object_id
    item.stored.object_id = name
    storage.save(item.stored)
    storage.delete(old)
    flags = storage.open_flags.pop(old, [])
    storage.open_flags.setdefault(name, []).extend(flags)
    return abi.TEE_SUCCESS


def obj_read(inst: TaInstance, handle: int, data: int, length: int, count: int) -> int:
    item = _handle(inst, handle)
    if not item.flags & abi.DATA_FLAG_ACCESS_READ:
        raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)
    chunk = bytes(item.stored.data[item.position:item.position + min(length, MAX_OBJECT)])
    inst.memory.write(data, chunk)
    inst.memory.write_u64(count, len(chunk))
    item.position += len(chunk)
    return abi.TEE_SUCCESS


def obj_write(inst: TaInstance, handle: int, data: int, length: int) -> int:
    item = _handle(inst, handle)
    if not item.flags & abi.DATA_FLAG_ACCESS_WRITE:
        raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)
    chunk = inst.memory.read(data, length)
    end = item.position + len(chunk)
    if end > MAX_OBJECT:
        raise TeeError(abi.TEE_ERROR_STORAGE_NO_SPACE)
    buffer = item.stored.data
    if item.position > len(buffer):
        buffer.extend(bytes(item.position - len(buffer)))  # a write past the end fills the gap with zeros
    buffer[item.position:end] = chunk
    item.position = end
    _storage(inst, abi.TEE_STORAGE_PRIVATE).save(item.stored)
    return abi.TEE_SUCCESS


def obj_trunc(inst: TaInstance, handle: int, length: int) -> int:
    item = _handle(inst, handle)
    if not item.flags & abi.DATA_FLAG_ACCESS_WRITE:
        raise TeeError(abi.TEE_ERROR_ACCESS_CONFLICT)
    if length > MAX_OBJECT:
        raise TeeError(abi.TEE_ERROR_STORAGE_NO_SPACE)
    buffer = item.stored.data
    if length < len(buffer):
        del buffer[length:]
    else:
        buffer.extend(bytes(length - len(buffer)))
    _storage(inst, abi.TEE_STORAGE_PRIVATE).save(item.stored)
    return abi.TEE_SUCCESS


def obj_seek(inst: TaInstance, handle: int, offset: int, whence: int) -> int:
    item = _handle(inst, handle)
    offset &= 0xFFFFFFFF
    offset = offset - (1 << 32) if offset & 0x80000000 else offset  # int32_t, sign-extended
    base = {abi.SEEK_SET: 0, abi.SEEK_CUR: item.position, abi.SEEK_END: len(item.stored.data)}.get(whence)
    if base is None:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"whence {whence}")
    position = base + offset
    if position > abi.DATA_MAX_POSITION:
        raise TeeError(abi.TEE_ERROR_OVERFLOW)
    item.position = max(0, position)
    return abi.TEE_SUCCESS


# --- enumeration -----------------------------------------------------------------------------------------


def enum_alloc(inst: TaInstance, out: int) -> int:
    inst.memory.write_u32(out, inst.handles.add(Enumerator()))
    return abi.TEE_SUCCESS


def _enumerator(inst: TaInstance, handle: int) -> Enumerator:
    item = inst.handles.get(handle, Enumerator)
    if item is None:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"no enumerator {handle}")
    return item


def enum_free(inst: TaInstance, handle: int) -> int:
    _enumerator(inst, handle)
    inst.handles.remove(handle)
    return abi.TEE_SUCCESS


def enum_reset(inst: TaInstance, handle: int) -> int:
    enumerator = _enumerator(inst, handle)
    enumerator.started, enumerator.pending = False, None
    return abi.TEE_SUCCESS


def enum_start(inst: TaInstance, handle: int, storage_id: int) -> int:
    enumerator = _enumerator(inst, handle)
    objects = _storage(inst, storage_id).all()
    if not objects:
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND)
    enumerator.started, enumerator.pending = True, objects
    return abi.TEE_SUCCESS


def enum_next(inst: TaInstance, handle: int, info: int, object_id: int, length: int) -> int:
    enumerator = _enumerator(inst, handle)
    if not enumerator.started or enumerator.pending is None:
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND)
    if not enumerator.pending:
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND)
    stored = enumerator.pending[0]
    inst.memory.write_out(stored.object_id, object_id, length)
    if info:
        key = unpack_attributes(stored.object_type, stored.attributes)
        inst.memory.write(info, abi.UTEE_OBJECT_INFO.pack(stored.object_type, key.size, key.max_size, key.usage,
                                                          len(stored.data), 0, abi.HANDLE_FLAG_PERSISTENT |
                                                          abi.HANDLE_FLAG_INITIALIZED))
    enumerator.pending.pop(0)
    return abi.TEE_SUCCESS
