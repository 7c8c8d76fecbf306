"""Key objects on a fake instance: populate, copy, reset, information, generation, and
an RSA key pair made by the cryptography library used for decryption in the TEE."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from slimbox.shims.optee import abi
from slimbox.shims.optee import sys_crypto as K
from slimbox.shims.optee import sys_object as O
from slimbox.shims.optee.errors import TeeError
from tests.unit.shims.optee.fake_instance import FakeInstance


def _new(inst, object_type: int, max_size: int) -> int:
    out = inst.u32()
    O.obj_alloc(inst, object_type, max_size, out)
    return inst.memory.read_u32(out)


def _attrs(inst, attributes: list[tuple[int, bytes]]) -> int:
    packed = b"".join(abi.UTEE_ATTRIBUTE.pack(inst.put(value), len(value), attribute_id)
                      for attribute_id, value in attributes)
    return inst.put(packed)


def _info(inst, handle: int) -> tuple[int, ...]:
    out = inst.put(b"", abi.UTEE_OBJECT_INFO.size)
    O.obj_get_info(inst, handle, out)
    return abi.UTEE_OBJECT_INFO.unpack(inst.memory.read(out, abi.UTEE_OBJECT_INFO.size))


def test_populate_copy_reset_and_info():
    inst = FakeInstance()
    source = _new(inst, 0xA0000004, 256)  # TEE_TYPE_HMAC_SHA256
    O.obj_populate(inst, source, _attrs(inst, [(abi.ATTR_SECRET_VALUE, b"s" * 24)]), 1)
    kind, size, max_size, _usage, _data, _pos, flags = _info(inst, source)
    assert (kind, size, max_size) == (0xA0000004, 192, 256) and flags & abi.HANDLE_FLAG_INITIALIZED
    target = _new(inst, 0xA0000004, 256)
    O.obj_copy(inst, target, source)
    with pytest.raises(TeeError) as twice:
        O.obj_copy(inst, target, source)
    assert twice.value.code == abi.TEE_ERROR_BAD_STATE
    O.obj_reset(inst, source)
    assert not _info(inst, source)[6] & abi.HANDLE_FLAG_INITIALIZED
    assert _info(inst, target)[1] == 192
    with pytest.raises(TeeError):
        O.obj_populate(inst, target, _attrs(inst, [(abi.ATTR_SECRET_VALUE, b"x")]), 1)  # already initialized


def test_sizes_are_checked():
    inst = FakeInstance()
    with pytest.raises(TeeError) as odd:
        O.obj_alloc(inst, abi.TYPE_AES, 100, inst.u32())
    assert odd.value.code == abi.TEE_ERROR_NOT_SUPPORTED
    small = _new(inst, abi.TYPE_AES, 128)
    with pytest.raises(TeeError) as large:
        O.obj_populate(inst, small, _attrs(inst, [(abi.ATTR_SECRET_VALUE, b"k" * 32)]), 1)
    assert large.value.code == abi.TEE_ERROR_BAD_PARAMETERS
    with pytest.raises(TeeError):
        O.obj_generate_key(inst, small, 256, 0, 0)


def test_rsa_keypair_from_cryptography_decrypts_oaep():
    inst = FakeInstance()
    key = rsa.generate_private_key(65537, 1024)
    numbers = key.private_numbers()

    def be(value: int) -> bytes:
        return value.to_bytes((value.bit_length() + 7) // 8, "big")

    pair = _new(inst, abi.TYPE_RSA_KEYPAIR, 1024)
    O.obj_populate(inst, pair, _attrs(inst, [
        (abi.ATTR_RSA_MODULUS, be(numbers.public_numbers.n)), (abi.ATTR_RSA_PUBLIC_EXPONENT, be(65537)),
        (abi.ATTR_RSA_PRIVATE_EXPONENT, be(numbers.d))]), 3)  # no primes: recovered from n, e, d
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    secret = b"only the TA may read this"
    ciphertext = key.public_key().encrypt(secret, oaep)
    out = inst.u32()
    K.state_alloc(inst, 0x60410230, abi.MODE_DECRYPT, pair, 0, out)
    state = inst.memory.read_u32(out)
    dest, length = inst.put(b"", 128), inst.u64(128)
    K.asymm_operate(inst, state, 0, 0, inst.put(ciphertext), len(ciphertext), dest, length)
    assert inst.memory.read(dest, inst.memory.read_u64(length)) == secret
    with pytest.raises(TeeError) as garbled:
        K.asymm_operate(inst, state, 0, 0, inst.put(bytes(128)), 128, dest, length)
    assert garbled.value.code == abi.TEE_ERROR_BAD_PARAMETERS


def test_a_digest_state_copy_continues_independently():
    inst = FakeInstance()
    out = inst.u32()
    K.state_alloc(inst, abi.ALG_SHA1, abi.MODE_DIGEST, 0, 0, out)
    first = inst.memory.read_u32(out)
    K.state_alloc(inst, abi.ALG_SHA1, abi.MODE_DIGEST, 0, 0, out)
    second = inst.memory.read_u32(out)
    K.hash_update(inst, first, inst.put(b"common "), 7)
    K.state_copy(inst, second, first)
    K.hash_update(inst, second, inst.put(b"tail"), 4)
    digest, length = inst.put(b"", 20), inst.u64(20)
    K.hash_final(inst, first, 0, 0, digest, length)
    assert inst.memory.read(digest, 20) == hashlib.sha1(b"common ").digest()
    inst.memory.write_u64(length, 20)
    K.hash_final(inst, second, 0, 0, digest, length)
    assert inst.memory.read(digest, 20) == hashlib.sha1(b"common tail").digest()
