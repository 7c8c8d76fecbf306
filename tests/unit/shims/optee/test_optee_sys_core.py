"""Properties, time and access rights on a fake instance."""

from __future__ import annotations

import pytest

from slimbox.shims.optee import abi
from slimbox.shims.optee import sys_core as C
from slimbox.shims.optee.errors import TeeError
from tests.unit.shims.optee.fake_instance import BASE, FakeInstance


def _enumerate(inst, prop_set: int) -> dict[str, tuple[int, bytes]]:
    """What TEE_GetNextProperty walks: every index until ITEM_NOT_FOUND."""
    found = {}
    for index in range(100):
        name, name_len = inst.put(b"", 128), inst.u32(128)
        value, value_len, kind = inst.put(b"", 128), inst.u32(128), inst.u32()
        try:
            C.get_property(inst, prop_set, index, name, name_len, value, value_len, kind)
        except TeeError as end:
            assert end.code == abi.TEE_ERROR_ITEM_NOT_FOUND
            return found
        text = inst.memory.read(name, inst.memory.read_u32(name_len)).rstrip(b"\0").decode()
        found[text] = (inst.memory.read_u32(kind), inst.memory.read(value, inst.memory.read_u32(value_len)))
    raise AssertionError("the enumeration never ended")


def test_the_property_sets_gp_requires():
    inst = FakeInstance()
    ta = _enumerate(inst, abi.TEE_PROPSET_CURRENT_TA)
    assert ta["gpd.ta.appID"] == (abi.PROP_TYPE_UUID, inst.header.uuid)
    for name in ("gpd.ta.singleInstance", "gpd.ta.multiSession", "gpd.ta.instanceKeepAlive", "gpd.ta.dataSize",
                 "gpd.ta.stackSize", "gpd.ta.version", "gpd.ta.description"):
        assert name in ta
    client = _enumerate(inst, abi.TEE_PROPSET_CURRENT_CLIENT)
    assert client["gpd.client.identity"][0] == abi.PROP_TYPE_IDENTITY
    tee = _enumerate(inst, abi.TEE_PROPSET_TEE_IMPLEMENTATION)
    for name in ("gpd.tee.apiversion", "gpd.tee.description", "gpd.tee.deviceID",
                 "gpd.tee.systemTime.protectionLevel", "gpd.tee.TAPersistentTime.protectionLevel",
                 "gpd.tee.arith.maxBigIntSize", "gpd.tee.cryptography.ecc",
                 "gpd.tee.trustedStorage.antiRollback.protectionLevel", "gpd.tee.trustedos.implementation.version",
                 "gpd.tee.trustedos.manufacturer", "gpd.tee.firmware.manufacturer"):
        assert name in tee


def test_short_buffers_and_unknown_sets():
    inst = FakeInstance()
    value, value_len = inst.put(b"", 4), inst.u32(2)
    with pytest.raises(TeeError) as short:
        C.get_property(inst, abi.TEE_PROPSET_CURRENT_TA, 0, 0, 0, value, value_len, 0)
    assert short.value.code == abi.TEE_ERROR_SHORT_BUFFER and inst.memory.read_u32(value_len) == 16
    with pytest.raises(TeeError) as unknown:
        C.get_property(inst, 0x1234, 0, 0, 0, value, value_len, 0)
    assert unknown.value.code == abi.TEE_ERROR_BAD_PARAMETERS


def test_time_and_access_rights():
    inst = FakeInstance()
    out = inst.put(b"", 8)
    C.get_time(inst, abi.TIME_SYSTEM, out)
    assert abi.TEE_TIME.unpack(inst.memory.read(out, 8)) == (5, 0)
    with pytest.raises(TeeError) as no_storage:
        C.get_time(inst, abi.TIME_TA_PERSISTENT, out)
    assert no_storage.value.code == abi.TEE_ERROR_TIME_NOT_SET
    C.get_time(inst, abi.TIME_REE, out)
    assert abi.TEE_TIME.unpack(inst.memory.read(out, 8))[0] == 1_700_000_000
    with pytest.raises(TeeError):
        C.get_time(inst, 9, out)
    assert C.check_access_rights(inst, abi.TEE_MEMORY_ACCESS_READ, BASE, 64) == abi.TEE_SUCCESS
    with pytest.raises(TeeError) as denied:
        C.check_access_rights(inst, abi.TEE_MEMORY_ACCESS_WRITE, 0x1000, 16)
    assert denied.value.code == abi.TEE_ERROR_ACCESS_DENIED


def test_cache_operations_need_the_flag_and_the_ta_s_own_memory():
    inst = FakeInstance()
    with pytest.raises(TeeError) as not_asked:
        C.cache_operation(inst, BASE, 64, 0)
    assert not_asked.value.code == abi.TEE_ERROR_NOT_SUPPORTED
    inst.header = inst.header.__class__(inst.header.uuid, inst.header.stack_size, C.TA_FLAG_CACHE_MAINTENANCE)
    assert C.cache_operation(inst, BASE, 64, 1) == abi.TEE_SUCCESS
    for va, operation, code in ((BASE, 3, abi.TEE_ERROR_BAD_PARAMETERS), (0x1000, 0, abi.TEE_ERROR_ACCESS_DENIED)):
        with pytest.raises(TeeError) as refused:
            C.cache_operation(inst, va, 64, operation)
        assert refused.value.code == code


def test_ta_persistent_time_is_not_set_until_set_and_then_kept(tmp_path):
    from slimbox.shims.optee.storage import SecureStorage
    from tests.unit.shims.optee.test_optee_storage import MemoryFiles

    files = MemoryFiles()
    inst = FakeInstance(SecureStorage(files, "/store", b"s" * 32).for_ta(bytes(16)))
    out = inst.put(b"", 8)
    with pytest.raises(TeeError) as unset:
        C.get_time(inst, abi.TIME_TA_PERSISTENT, out)
    assert unset.value.code == abi.TEE_ERROR_TIME_NOT_SET
    C.set_ta_time(inst, inst.put(abi.TEE_TIME.pack(1000, 250)))
    again = FakeInstance(SecureStorage(files, "/store", b"s" * 32).for_ta(bytes(16)))  # another instance
    C.get_time(again, abi.TIME_TA_PERSISTENT, out)
    assert abi.TEE_TIME.unpack(again.memory.read(out, 8)) == (1000, 250)  # the fake clock stands still
    assert all(b"1000" not in blob for blob in files.files.values())
    with pytest.raises(TeeError) as bad:
        C.set_ta_time(inst, inst.put(abi.TEE_TIME.pack(1, 1000)))
    assert bad.value.code == abi.TEE_ERROR_BAD_PARAMETERS
