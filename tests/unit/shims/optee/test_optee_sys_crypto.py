"""The crypto handlers on a fake instance: state machines, buffer sizes and errors,
with results checked against hashlib and the cryptography library."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from slimbox.shims.optee import abi
from slimbox.shims.optee import sys_crypto as K
from slimbox.shims.optee import sys_object as O
from slimbox.shims.optee.errors import TeeError
from tests.unit.shims.optee.fake_instance import FakeInstance


def _alloc(inst, algorithm, mode, key1=0, key2=0) -> int:
    out = inst.u32()
    assert K.state_alloc(inst, algorithm, mode, key1, key2, out) == abi.TEE_SUCCESS
    return inst.memory.read_u32(out)


def _aes_key(inst, key: bytes) -> int:
    out = inst.u32()
    O.obj_alloc(inst, abi.TYPE_AES, len(key) * 8, out)
    handle = inst.memory.read_u32(out)
    attrs = inst.put(abi.UTEE_ATTRIBUTE.pack(inst.put(key), len(key), abi.ATTR_SECRET_VALUE))
    O.obj_populate(inst, handle, attrs, 1)
    return handle


def test_digest_short_buffer_then_success_then_fresh_state():
    inst = FakeInstance()
    state = _alloc(inst, abi.ALG_SHA256, abi.MODE_DIGEST)
    data = inst.put(b"abc")
    out, length = inst.put(b"", 64), inst.u64(16)
    with pytest.raises(TeeError) as short:
        K.hash_final(inst, state, data, 3, out, length)
    assert short.value.code == abi.TEE_ERROR_SHORT_BUFFER and inst.memory.read_u64(length) == 32
    K.hash_update(inst, state, data, 3)
    inst.memory.write_u64(length, 64)
    K.hash_final(inst, state, data, 0, out, length)
    assert inst.memory.read(out, 32) == hashlib.sha256(b"abc").digest()
    inst.memory.write_u64(length, 64)
    K.hash_final(inst, state, data, 0, out, length)  # final puts the operation back in its initial state
    assert inst.memory.read(out, 32) == hashlib.sha256(b"").digest()


def test_wrong_mode_and_unknown_algorithm():
    inst = FakeInstance()
    out = inst.u32()
    for algorithm, mode, code in ((abi.ALG_SHA256, abi.MODE_ENCRYPT, abi.TEE_ERROR_NOT_SUPPORTED),
                                  (0x12345678, abi.MODE_DIGEST, abi.TEE_ERROR_NOT_SUPPORTED)):
        with pytest.raises(TeeError) as refused:
            K.state_alloc(inst, algorithm, mode, 0, 0, out)
        assert refused.value.code == code


def test_cbc_in_uneven_pieces_matches_cryptography():
    inst = FakeInstance()
    key, iv, plain = os.urandom(16), os.urandom(16), os.urandom(80)
    state = _alloc(inst, abi.ALG_AES_CBC_NOPAD, abi.MODE_ENCRYPT, _aes_key(inst, key))
    K.cipher_init(inst, state, inst.put(iv), 16)
    src, dest, length = inst.put(plain), inst.put(b"", 128), inst.u64(128)
    K.cipher_update(inst, state, src, 20, dest, length)  # 20 bytes in: one whole block out
    first = inst.memory.read_u64(length)
    assert first == 16
    inst.memory.write_u64(length, 128)
    K.cipher_final(inst, state, src + 20, 60, dest + first, length)
    produced = inst.memory.read(dest, first + inst.memory.read_u64(length))
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    assert produced == encryptor.update(plain) + encryptor.finalize()


def test_a_cipher_needs_init_and_a_key():
    inst = FakeInstance()
    state = _alloc(inst, abi.ALG_AES_CTR, abi.MODE_ENCRYPT, _aes_key(inst, os.urandom(32)))
    with pytest.raises(TeeError) as early:
        K.cipher_update(inst, state, inst.put(b"x"), 1, inst.put(b"", 16), inst.u64(16))
    assert early.value.code == abi.TEE_ERROR_BAD_STATE
    out = inst.u32()
    O.obj_alloc(inst, abi.TYPE_AES, 128, out)
    empty = _alloc(inst, abi.ALG_AES_CTR, abi.MODE_ENCRYPT, inst.memory.read_u32(out))
    with pytest.raises(TeeError) as keyless:
        K.cipher_init(inst, empty, inst.put(bytes(16)), 16)
    assert keyless.value.code == abi.TEE_ERROR_BAD_STATE


def test_secret_attributes_need_extractable_usage():
    inst = FakeInstance()
    handle = _aes_key(inst, b"k" * 16)
    buffer, size = inst.put(b"", 32), inst.u64(32)
    O.obj_get_attr(inst, handle, abi.ATTR_SECRET_VALUE, buffer, size)
    assert inst.memory.read(buffer, 16) == b"k" * 16
    O.obj_restrict_usage(inst, handle, 0)
    with pytest.raises(TeeError) as denied:
        O.obj_get_attr(inst, handle, abi.ATTR_SECRET_VALUE, buffer, size)
    assert denied.value.code == abi.TEE_ERROR_ACCESS_DENIED


def test_bad_pointers_are_access_denied():
    inst = FakeInstance()
    with pytest.raises(TeeError) as denied:
        K.random_number_generate(inst, 0xDEAD0000, 16)
    assert denied.value.code == abi.TEE_ERROR_ACCESS_DENIED
    with pytest.raises(TeeError) as too_much:
        K.random_number_generate(inst, inst.put(b"", 16), 1 << 30)
    assert too_much.value.code == abi.TEE_ERROR_BAD_PARAMETERS


def test_short_output_buffers_consume_nothing():
    inst = FakeInstance()
    key, iv, plain = os.urandom(16), os.urandom(16), os.urandom(32)
    state = _alloc(inst, abi.ALG_AES_CBC_NOPAD, abi.MODE_ENCRYPT, _aes_key(inst, key))
    K.cipher_init(inst, state, inst.put(iv), 16)
    src, dest, length = inst.put(plain), inst.put(b"", 64), inst.u64(8)
    with pytest.raises(TeeError) as short:
        K.cipher_final(inst, state, src, 32, dest, length)
    assert short.value.code == abi.TEE_ERROR_SHORT_BUFFER and inst.memory.read_u64(length) == 32
    K.cipher_final(inst, state, src, 32, dest, length)  # the same call again, with room
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    assert inst.memory.read(dest, 32) == encryptor.update(plain) + encryptor.finalize()


def test_gcm_short_tag_buffer_then_success():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    inst = FakeInstance()
    key, nonce, plain = os.urandom(16), os.urandom(12), b"sixteen bytes!!!"
    state = _alloc(inst, abi.ALG_AES_GCM, abi.MODE_ENCRYPT, _aes_key(inst, key))
    K.authenc_init(inst, state, inst.put(nonce), 12, 128, 0, len(plain))
    src, dest, length, tag, tag_length = inst.put(plain), inst.put(b"", 32), inst.u64(32), inst.put(b"", 16), \
        inst.u64(4)
    with pytest.raises(TeeError) as short:
        K.authenc_enc_final(inst, state, src, len(plain), dest, length, tag, tag_length)
    assert short.value.code == abi.TEE_ERROR_SHORT_BUFFER and inst.memory.read_u64(tag_length) == 16
    K.authenc_enc_final(inst, state, src, len(plain), dest, length, tag, tag_length)
    assert inst.memory.read(dest, 16) + inst.memory.read(tag, 16) == AESGCM(key).encrypt(nonce, plain, None)
