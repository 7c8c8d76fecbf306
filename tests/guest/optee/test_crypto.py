"""Digests, MACs, ciphers, authenticated encryption and random numbers computed by test
TAs, checked byte for byte against hashlib, hmac and the cryptography library."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from slimbox.optee import Param
from slimbox.shims.optee import abi
from tests.guest.optee.conftest import AES, DIGEST, HMAC, RANDOM

DATA = bytes(range(256)) * 5 + b"tail"
DIGESTS = {"sha1": abi.ALG_SHA1, "sha224": abi.ALG_SHA224, "sha256": abi.ALG_SHA256, "sha384": abi.ALG_SHA384,
           "sha512": abi.ALG_SHA512}


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_digests_match_hashlib(tee, name):
    with tee.open_session(DIGEST) as session:
        for data in (b"", b"abc", DATA):
            result = session.invoke(0, [Param.memref_input(data), Param.value_input(DIGESTS[name]),
                                        Param.memref_output(64)])
            assert result.code == abi.TEE_SUCCESS
            assert result.params[2].data == hashlib.new(name, data).digest()


def test_a_short_digest_buffer_reports_the_size_needed(tee):
    with tee.open_session(DIGEST) as session:
        result = session.invoke(0, [Param.memref_input(b"abc"), Param.value_input(abi.ALG_SHA256),
                                    Param.memref_output(16)])
    assert result.code == abi.TEE_ERROR_SHORT_BUFFER and result.params[2].size == 32


def test_an_unknown_algorithm_is_not_supported(tee):
    with tee.open_session(DIGEST) as session:
        result = session.invoke(0, [Param.memref_input(b"abc"), Param.value_input(0x50000001 + 0x100),
                                    Param.memref_output(64)])
    assert result.code == abi.TEE_ERROR_NOT_SUPPORTED


@pytest.mark.parametrize("name,algorithm", [("sha1", abi.ALG_HMAC_SHA1), ("sha224", abi.ALG_HMAC_SHA224),
                                            ("sha256", abi.ALG_HMAC_SHA256), ("sha384", abi.ALG_HMAC_SHA384),
                                            ("sha512", abi.ALG_HMAC_SHA512)])
def test_hmac_matches_python(tee, name, algorithm):
    key = os.urandom(32)
    with tee.open_session(HMAC) as session:
        result = session.invoke(0, [Param.memref_input(key), Param.memref_input(DATA), Param.value_input(algorithm),
                                    Param.memref_output(64)])
    assert result.code == abi.TEE_SUCCESS
    assert result.params[3].data == hmac.new(key, DATA, name).digest()


def test_aes_cmac_matches_cryptography(tee):
    key = os.urandom(16)
    with tee.open_session(HMAC) as session:
        result = session.invoke(0, [Param.memref_input(key), Param.memref_input(DATA),
                                    Param.value_input(abi.ALG_AES_CMAC), Param.memref_output(16)])
    reference = CMAC(algorithms.AES(key))
    reference.update(DATA)
    assert result.code == abi.TEE_SUCCESS and result.params[3].data == reference.finalize()


def _cipher(tee_session, algorithm: int, mode: int, key: bytes, iv: bytes, data: bytes):
    return tee_session.invoke(0, [Param.memref_input(key), Param.memref_input(iv), Param.value_input(algorithm, mode),
                                  Param.memref_inout(data)])


@pytest.mark.parametrize("algorithm,key_size,make_mode", [
    (abi.ALG_AES_ECB_NOPAD, 16, lambda iv: modes.ECB()),
    (abi.ALG_AES_CBC_NOPAD, 24, modes.CBC),
    (abi.ALG_AES_CTR, 32, modes.CTR),
    (abi.ALG_AES_XTS, 64, modes.XTS),
])
def test_aes_round_trip_matches_cryptography(tee, algorithm, key_size, make_mode):
    key, iv = os.urandom(key_size), os.urandom(16)
    plain = os.urandom(16 * 40)
    if algorithm == abi.ALG_AES_ECB_NOPAD:
        iv = b""
    with tee.open_session(AES) as session:
        encrypted = _cipher(session, algorithm, abi.MODE_ENCRYPT, key, iv, plain)
        assert encrypted.code == abi.TEE_SUCCESS
        encryptor = Cipher(algorithms.AES(key), make_mode(iv)).encryptor()
        assert encrypted.params[3].data == encryptor.update(plain) + encryptor.finalize()
        decrypted = _cipher(session, algorithm, abi.MODE_DECRYPT, key, iv, encrypted.params[3].data)
        assert decrypted.code == abi.TEE_SUCCESS and decrypted.params[3].data == plain


def test_cbc_needs_whole_blocks(tee):
    with tee.open_session(AES) as session:
        result = _cipher(session, abi.ALG_AES_CBC_NOPAD, abi.MODE_ENCRYPT, os.urandom(16), os.urandom(16), b"x" * 17)
    assert result.code == abi.TEE_ERROR_BAD_PARAMETERS


@pytest.mark.parametrize("encrypt_command,reference", [(1, AESGCM), (3, lambda key: AESCCM(key, 16))])
def test_authenticated_encryption_matches_cryptography(tee, encrypt_command, reference):
    key, aad, plain = os.urandom(32), b"header bytes", os.urandom(1000)
    nonce = os.urandom(12 if encrypt_command == 1 else 13)

    def run(command: int, data: bytes):
        return session.invoke(command, [Param.memref_input(key + nonce), Param.memref_input(aad),
                                        Param.memref_input(data), Param.memref_output(len(data) + 16)])

    with tee.open_session(AES) as session:
        sealed = run(encrypt_command, plain)
        assert sealed.code == abi.TEE_SUCCESS
        assert sealed.params[3].data == reference(key).encrypt(nonce, plain, aad)
        opened = run(encrypt_command + 1, sealed.params[3].data)
        assert opened.code == abi.TEE_SUCCESS and opened.params[3].data == plain
        tampered = bytearray(sealed.params[3].data)
        tampered[5] ^= 1
        assert run(encrypt_command + 1, bytes(tampered)).code == abi.TEE_ERROR_MAC_INVALID


def test_random_numbers(tee):
    with tee.open_session(RANDOM) as session:
        first = session.invoke(0, [Param.memref_output(64)])
        second = session.invoke(0, [Param.memref_output(64)])
    assert first.code == second.code == abi.TEE_SUCCESS
    assert len(first.params[0].data) == 64 and first.params[0].data != second.params[0].data
