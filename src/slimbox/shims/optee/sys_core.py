"""Core utee syscalls: return, log, panic, properties, time, waiting, cancellation and
access rights."""

from __future__ import annotations

import base64
import struct
from typing import TYPE_CHECKING

from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.kernel import NO_REPLY
from slimbox.kernel.mm import PROT_READ, PROT_WRITE
from slimbox.shims.optee import abi
from slimbox.shims.optee.errors import TeeError

if TYPE_CHECKING:
    from slimbox.shims.optee.instance import TaInstance

MAX_LOG = 4096


def utee_return(inst: TaInstance, result: int) -> object:
    inst.returned = result & 0xFFFFFFFF
    return NO_REPLY


def utee_log(inst: TaInstance, buf: int, length: int) -> int:
    text = inst.memory.read(buf, min(length, MAX_LOG))
    inst.kernel.log.info("TA %s: %s", inst.name, text.decode(errors="replace").rstrip("\n"))
    return abi.TEE_SUCCESS


def utee_panic(inst: TaInstance, code: int) -> object:
    inst.kill(f"panicked with code {code & 0xFFFFFFFF:#x}")
    return NO_REPLY


# --- properties -------------------------------------------------------------------------------


def _properties(inst: TaInstance, prop_set: int) -> list[tuple[str, int, bytes]]:
    """(name, type, encoded value) of a property set, in a fixed order."""
    header = inst.header

    def u32(value: int) -> bytes:
        return struct.pack("<I", value)

    def text(value: str) -> bytes:
        return value.encode() + b"\0"

    if prop_set == abi.TEE_PROPSET_CURRENT_TA:
        flags = header.flags
        return [
            ("gpd.ta.appID", abi.PROP_TYPE_UUID, header.uuid),
            ("gpd.ta.singleInstance", abi.PROP_TYPE_BOOL, u32(bool(flags & abi.TA_FLAG_SINGLE_INSTANCE))),
            ("gpd.ta.multiSession", abi.PROP_TYPE_BOOL, u32(bool(flags & abi.TA_FLAG_MULTI_SESSION))),
            ("gpd.ta.instanceKeepAlive", abi.PROP_TYPE_BOOL, u32(bool(flags & abi.TA_FLAG_INSTANCE_KEEP_ALIVE))),
            ("gpd.ta.dataSize", abi.PROP_TYPE_U32, u32(0)),
            ("gpd.ta.stackSize", abi.PROP_TYPE_U32, u32(header.stack_size)),
            ("gpd.ta.version", abi.PROP_TYPE_STRING, text("0.0")),
            ("gpd.ta.description", abi.PROP_TYPE_STRING, text("")),
            ("gpd.ta.endian", abi.PROP_TYPE_U32, u32(0)),
        ]
    if prop_set == abi.TEE_PROPSET_CURRENT_CLIENT:
        login, uuid = inst.client_identity
        return [
            ("gpd.client.identity", abi.PROP_TYPE_IDENTITY, abi.TEE_IDENTITY.pack(login, uuid)),
            ("gpd.client.endian", abi.PROP_TYPE_U32, u32(0)),
        ]
    if prop_set == abi.TEE_PROPSET_TEE_IMPLEMENTATION:
        return [
            ("gpd.tee.apiversion", abi.PROP_TYPE_STRING, text("1.3.1")),
            ("gpd.tee.internalCore.version", abi.PROP_TYPE_U32, u32(0x01030100)),
            ("gpd.tee.description", abi.PROP_TYPE_STRING, text("slimbox OP-TEE personality")),
            ("gpd.tee.deviceID", abi.PROP_TYPE_UUID, bytes(16)),
            ("gpd.tee.systemTime.protectionLevel", abi.PROP_TYPE_U32, u32(100)),
            ("gpd.tee.TAPersistentTime.protectionLevel", abi.PROP_TYPE_U32, u32(100)),
            ("gpd.tee.arith.maxBigIntSize", abi.PROP_TYPE_U32, u32(4096)),
            ("gpd.tee.cryptography.ecc", abi.PROP_TYPE_BOOL, u32(1)),
            ("gpd.tee.cryptography.nist", abi.PROP_TYPE_BOOL, u32(1)),
            ("gpd.tee.cryptography.bsi-r", abi.PROP_TYPE_BOOL, u32(0)),
            ("gpd.tee.cryptography.bsi-t", abi.PROP_TYPE_BOOL, u32(0)),
            ("gpd.tee.cryptography.ietf", abi.PROP_TYPE_BOOL, u32(0)),
            ("gpd.tee.cryptography.octa", abi.PROP_TYPE_BOOL, u32(0)),
            ("gpd.tee.cryptography.sec", abi.PROP_TYPE_BOOL, u32(1)),
            ("gpd.tee.trustedStorage.antiRollback.protectionLevel", abi.PROP_TYPE_U32, u32(0)),
            ("gpd.tee.trustedStorage.rollbackDetection.protectionLevel", abi.PROP_TYPE_U32, u32(0)),
            ("gpd.tee.trustedos.implementation.version", abi.PROP_TYPE_STRING, text("slimbox")),
            ("gpd.tee.trustedos.implementation.binaryversion", abi.PROP_TYPE_U32, u32(0)),
            ("gpd.tee.trustedos.manufacturer", abi.PROP_TYPE_STRING, text("slimbox")),
            ("gpd.tee.firmware.implementation.version", abi.PROP_TYPE_STRING, text("slimbox")),
            ("gpd.tee.firmware.implementation.binaryversion", abi.PROP_TYPE_U32, u32(0)),
            ("gpd.tee.firmware.manufacturer", abi.PROP_TYPE_STRING, text("slimbox")),
            ("gpd.tee.event.maxSources", abi.PROP_TYPE_U32, u32(0)),
        ]
    raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"property set {prop_set:#x}")


def get_property(inst: TaInstance, prop_set: int, index: int, name: int, name_len: int, buf: int, blen: int,
                 prop_type: int) -> int:
    properties = _properties(inst, prop_set & 0xFFFFFFFF)
    if index >= len(properties):
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND)
    prop_name, kind, value = properties[index]
    if prop_type:
        inst.memory.write_u32(prop_type, kind)
    short = False
    if name and name_len:
        encoded = prop_name.encode() + b"\0"
        try:
            inst.memory.write_out(encoded, name, name_len, length_is_u64=False)
        except TeeError:
            short = True
    if buf and blen:
        if kind == abi.PROP_TYPE_BINARY_BLOCK:
            value = base64.b64encode(value) + b"\0"
        try:
            inst.memory.write_out(value, buf, blen, length_is_u64=False)
        except TeeError:
            short = True
    if short:
        raise TeeError(abi.TEE_ERROR_SHORT_BUFFER)
    return abi.TEE_SUCCESS


def get_property_name_to_index(inst: TaInstance, prop_set: int, name: int, name_len: int, index: int) -> int:
    wanted = inst.memory.read(name, min(name_len, 256)).split(b"\0", 1)[0].decode(errors="replace")
    for position, (prop_name, _, _) in enumerate(_properties(inst, prop_set & 0xFFFFFFFF)):
        if prop_name == wanted:
            inst.memory.write_u32(index, position)
            return abi.TEE_SUCCESS
    raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND)


# --- time, waiting, cancellation ---------------------------------------------------------------


def get_time(inst: TaInstance, category: int, out: int) -> int:
    kernel = inst.kernel
    if category == abi.TIME_SYSTEM:
        ms = (kernel.monotonic_ns() - kernel.boot_ns) // 1_000_000
    elif category == abi.TIME_REE:
        ms = kernel.realtime_ns() // 1_000_000
    elif category == abi.TIME_TA_PERSISTENT:
        offset = inst.storage.load_time_offset() if inst.storage is not None else None
        if offset is None:
            raise TeeError(abi.TEE_ERROR_TIME_NOT_SET)
        ms = kernel.realtime_ns() // 1_000_000 + offset
        if not 0 <= ms // 1000 <= 0xFFFFFFFF:
            raise TeeError(abi.TEE_ERROR_OVERFLOW)
    else:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"time category {category}")
    inst.memory.write(out, abi.TEE_TIME.pack((ms // 1000) & 0xFFFFFFFF, ms % 1000))
    return abi.TEE_SUCCESS


def set_ta_time(inst: TaInstance, time_address: int) -> int:
    """TEE_SetTAPersistentTime: kept as an offset from the host's clock in the TA's
    trusted storage, so it survives the TA and the TEE, and runs on with the host."""
    seconds, millis = abi.TEE_TIME.unpack(inst.memory.read(time_address, abi.TEE_TIME.size))
    if millis > 999:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"{millis} milliseconds")
    if inst.storage is None:
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, "no trusted storage to keep the time in")
    inst.storage.save_time_offset(seconds * 1000 + millis - inst.kernel.realtime_ns() // 1_000_000)
    return abi.TEE_SUCCESS


def wait(inst: TaInstance, timeout_ms: int) -> int:
    """Park the TA's thread in the kernel until the timeout (TEE_TIMEOUT_INFINITE: until
    the request's time limit ends the instance)."""
    timeout_ms &= 0xFFFFFFFF
    if inst.cancel_requested and not inst.cancellation_masked:
        raise TeeError(abi.TEE_ERROR_CANCEL)
    if timeout_ms == abi.TEE_TIMEOUT_INFINITE:
        raise Block()  # until a cancellation wakes it, or the request's time limit
    kernel = inst.kernel
    deadline = inst.task.restart.setdefault("optee_wait", kernel.monotonic_ns() + timeout_ms * 1_000_000)
    if kernel.monotonic_ns() < deadline:
        raise Block((), deadline)
    return abi.TEE_SUCCESS


def get_cancellation_flag(inst: TaInstance, out: int) -> int:
    inst.memory.write_u32(out, int(inst.cancel_requested and not inst.cancellation_masked))
    return abi.TEE_SUCCESS


def unmask_cancellation(inst: TaInstance, old: int) -> int:
    inst.memory.write_u32(old, int(inst.cancellation_masked))
    inst.cancellation_masked = False
    return abi.TEE_SUCCESS


def mask_cancellation(inst: TaInstance, old: int) -> int:
    inst.memory.write_u32(old, int(inst.cancellation_masked))
    inst.cancellation_masked = True
    return abi.TEE_SUCCESS


def check_access_rights(inst: TaInstance, flags: int, buf: int, length: int) -> int:
    """Whether [buf, buf+length) is mapped in the TA with the access `flags` ask for.
    Every mapping here is the TA's own (client buffers are copies), so ANY_OWNER adds nothing."""
    if length == 0:
        return abi.TEE_SUCCESS
    prot = (PROT_READ if flags & abi.TEE_MEMORY_ACCESS_READ else 0) | \
           (PROT_WRITE if flags & abi.TEE_MEMORY_ACCESS_WRITE else 0)
    try:
        inst.task.process.mm.check(buf, length, prot)
    except LinuxError:
        raise TeeError(abi.TEE_ERROR_ACCESS_DENIED) from None
    return abi.TEE_SUCCESS


TA_FLAG_CACHE_MAINTENANCE = 1 << 7
CACHE_OPERATIONS = (0, 1, 2)  # clean, flush, invalidate


def cache_operation(inst: TaInstance, va: int, length: int, operation: int) -> int:
    """TEE_CacheClean/Flush/Invalidate: x86-64 caches are coherent, so once the TA may
    ask (TA_FLAG_CACHE_MAINTENANCE) and the range is its own, there is nothing to do."""
    if not inst.header.flags & TA_FLAG_CACHE_MAINTENANCE:
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, "the TA's header does not ask for cache maintenance")
    if operation not in CACHE_OPERATIONS:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"cache operation {operation}")
    return check_access_rights(inst, abi.TEE_MEMORY_ACCESS_WRITE, va, length)
