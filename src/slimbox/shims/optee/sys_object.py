"""utee calls on key objects: alloc, populate, copy, reset, close, get info/attribute,
restrict usage, generate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slimbox.shims.optee import abi
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.objects import Attribute, KeyObject, allowed_max_size, generate, populate

if TYPE_CHECKING:
    from slimbox.shims.optee.instance import TaInstance

MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_BYTES = 4096


def key_object(inst: TaInstance, handle: int) -> KeyObject:
    from slimbox.shims.optee.sys_storage import PersistentHandle

    item = inst.handles.get(handle, (KeyObject, PersistentHandle))
    if item is None:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"no object {handle}")
    return item if isinstance(item, KeyObject) else item.key


def read_attributes(inst: TaInstance, address: int, count: int) -> dict[int, Attribute]:
    if count > MAX_ATTRIBUTES:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"{count} attributes")
    raw = inst.memory.read(address, count * abi.UTEE_ATTRIBUTE.size)
    attributes: dict[int, Attribute] = {}
    for index in range(count):
        a, b, attribute_id = abi.UTEE_ATTRIBUTE.unpack_from(raw, index * abi.UTEE_ATTRIBUTE.size)
        if attribute_id & abi.ATTR_VALUE_BIT:
            attributes[attribute_id] = (a & 0xFFFFFFFF, b & 0xFFFFFFFF)
        else:
            if b > MAX_ATTRIBUTE_BYTES:
                raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"an attribute of {b} bytes")
            attributes[attribute_id] = inst.memory.read(a, b)
    return attributes


def obj_alloc(inst: TaInstance, object_type: int, max_size: int, out: int) -> int:
    if not allowed_max_size(object_type, max_size):
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, f"object type {object_type:#x} of {max_size} bits")
    inst.memory.write_u32(out, inst.handles.add(KeyObject(object_type, max_size)))
    return abi.TEE_SUCCESS


def obj_close(inst: TaInstance, handle: int) -> int:
    """TEE_CloseObject, for transient and persistent objects alike."""
    from slimbox.shims.optee.sys_storage import close_persistent

    key_object(inst, handle)
    close_persistent(inst, handle)
    inst.handles.remove(handle)
    return abi.TEE_SUCCESS


def obj_reset(inst: TaInstance, handle: int) -> int:
    key_object(inst, handle).reset()
    return abi.TEE_SUCCESS


def obj_populate(inst: TaInstance, handle: int, attrs: int, count: int) -> int:
    populate(key_object(inst, handle), read_attributes(inst, attrs, count))
    return abi.TEE_SUCCESS


def obj_copy(inst: TaInstance, destination: int, source: int) -> int:
    key_object(inst, destination).copy_from(key_object(inst, source))
    return abi.TEE_SUCCESS


def obj_generate_key(inst: TaInstance, handle: int, key_size: int, params: int, count: int) -> int:
    generate(key_object(inst, handle), key_size, read_attributes(inst, params, count), inst.kernel.random_bytes)
    return abi.TEE_SUCCESS


def obj_restrict_usage(inst: TaInstance, handle: int, usage: int) -> int:
    obj = key_object(inst, handle)
    obj.usage &= usage
    return abi.TEE_SUCCESS


def obj_get_info(inst: TaInstance, handle: int, out: int) -> int:
    from slimbox.shims.optee.sys_storage import PersistentHandle

    item = inst.handles.get(handle, (KeyObject, PersistentHandle))
    if item is None:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"no object {handle}")
    obj = key_object(inst, handle)
    flags = abi.HANDLE_FLAG_INITIALIZED if obj.initialized else 0
    data_size = data_position = 0
    if isinstance(item, PersistentHandle):
        flags |= abi.HANDLE_FLAG_PERSISTENT | abi.HANDLE_FLAG_INITIALIZED | item.flags
        data_size, data_position = len(item.stored.data), item.position
    inst.memory.write(out, abi.UTEE_OBJECT_INFO.pack(obj.type, obj.size, obj.max_size, obj.usage, data_size,
                                                     data_position, flags))
    return abi.TEE_SUCCESS


def obj_get_attr(inst: TaInstance, handle: int, attribute_id: int, buffer: int, size: int) -> int:
    obj = key_object(inst, handle)
    attribute_id &= 0xFFFFFFFF
    if not obj.initialized or attribute_id not in obj.attributes:
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND)
    if not attribute_id & abi.ATTR_PUBLIC_BIT and not obj.usage & abi.USAGE_EXTRACTABLE:
        raise TeeError(abi.TEE_ERROR_ACCESS_DENIED, "the key is not extractable")
    value = obj.attributes[attribute_id]
    data = value if isinstance(value, bytes) else value[0].to_bytes(4, "little") + value[1].to_bytes(4, "little")
    inst.memory.write_out(data, buffer, size)
    return abi.TEE_SUCCESS
