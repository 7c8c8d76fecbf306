"""RSA and elliptic-curve operations in a test TA, checked with the cryptography library:
signatures made in the TA verify outside it and the other way round, and ECDH agrees."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from slimbox.optee import Param
from slimbox.shims.optee import abi
from tests.guest.optee.conftest import SIGN

RSA_PKCS1_SHA256, RSA_PSS_SHA256 = 0x70004830, 0x70414930
RSAES_PKCS1, RSAES_OAEP_SHA256 = 0x60000130, 0x60410230
ECDSA_SHA256, ECDSA_SHA384 = 0x70003042, 0x70004042
DIGEST = hashlib.sha256(b"a message to sign").digest()


@pytest.mark.parametrize("algorithm,scheme", [
    (RSA_PKCS1_SHA256, lambda: padding.PKCS1v15()),
    (RSA_PSS_SHA256, lambda: padding.PSS(padding.MGF1(hashes.SHA256()), 32)),
])
def test_rsa_signature_from_the_ta_verifies_with_cryptography(tee, algorithm, scheme):
    with tee.open_session(SIGN) as session:
        result = session.invoke(0, [Param.value_input(algorithm, 2048), Param.memref_input(DIGEST),
                                    Param.memref_output(512), Param.memref_output(512)])
    assert result.code == abi.TEE_SUCCESS
    signature, modulus = result.params[2].data, result.params[3].data
    public = rsa.RSAPublicNumbers(65537, int.from_bytes(modulus, "big")).public_key()
    public.verify(signature, DIGEST, scheme(), utils.Prehashed(hashes.SHA256()))
    if algorithm == RSA_PKCS1_SHA256:  # deterministic: the same bytes cryptography makes
        with pytest.raises(InvalidSignature):
            public.verify(signature, hashlib.sha256(b"another").digest(), scheme(), utils.Prehashed(hashes.SHA256()))


def test_rsa_signature_from_cryptography_verifies_in_the_ta(tee):
    key = rsa.generate_private_key(65537, 2048)
    modulus = key.public_key().public_numbers().n.to_bytes(256, "big")
    signature = key.sign(DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    with tee.open_session(SIGN) as session:
        good = session.invoke(2, [Param.memref_input(modulus), Param.memref_input(DIGEST),
                                  Param.memref_input(signature), Param.value_input(RSA_PKCS1_SHA256)])
        bad = session.invoke(2, [Param.memref_input(modulus), Param.memref_input(DIGEST),
                                 Param.memref_input(signature[:-1] + bytes([signature[-1] ^ 1])),
                                 Param.value_input(RSA_PKCS1_SHA256)])
    assert good.code == abi.TEE_SUCCESS
    assert bad.code == abi.TEE_ERROR_SIGNATURE_INVALID


@pytest.mark.parametrize("algorithm,scheme", [
    (RSAES_PKCS1, lambda: padding.PKCS1v15()),
    (RSAES_OAEP_SHA256, lambda: padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)),
])
def test_rsa_encryption_in_the_ta_decrypts_with_cryptography(tee, algorithm, scheme):
    key = rsa.generate_private_key(65537, 2048)
    modulus = key.public_key().public_numbers().n.to_bytes(256, "big")
    with tee.open_session(SIGN) as session:
        result = session.invoke(3, [Param.memref_input(modulus), Param.memref_input(b"secret message"),
                                    Param.memref_output(256), Param.value_input(algorithm)])
    assert result.code == abi.TEE_SUCCESS
    assert key.decrypt(result.params[2].data, scheme()) == b"secret message"


@pytest.mark.parametrize("algorithm,curve_id,curve,size", [(ECDSA_SHA256, 3, ec.SECP256R1, 32),
                                                           (ECDSA_SHA384, 4, ec.SECP384R1, 48)])
def test_ecdsa_both_ways(tee, algorithm, curve_id, curve, size):
    digest = hashlib.sha256(b"m").digest() if size == 32 else hashlib.sha384(b"m").digest()
    hashed = hashes.SHA256() if size == 32 else hashes.SHA384()
    with tee.open_session(SIGN) as session:
        result = session.invoke(1, [Param.value_input(algorithm, curve_id), Param.memref_input(digest),
                                    Param.memref_output(2 * size), Param.memref_output(2 * size)])
        assert result.code == abi.TEE_SUCCESS
        signature, point = result.params[2].data, result.params[3].data
        public = ec.EllipticCurvePublicNumbers(int.from_bytes(point[:size], "big"), int.from_bytes(point[size:], "big"),
                                               curve()).public_key()
        der = utils.encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                         int.from_bytes(signature[size:], "big"))
        public.verify(der, digest, ec.ECDSA(utils.Prehashed(hashed)))
        # and a signature made by cryptography verifies in the TA
        key = ec.generate_private_key(curve())
        r, s = utils.decode_dss_signature(key.sign(digest, ec.ECDSA(utils.Prehashed(hashed))))
        numbers = key.public_key().public_numbers()
        xy = numbers.x.to_bytes(size, "big") + numbers.y.to_bytes(size, "big")
        raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        verified = session.invoke(5, [Param.memref_input(xy), Param.memref_input(digest), Param.memref_input(raw),
                                      Param.value_input(algorithm, curve_id)])
        assert verified.code == abi.TEE_SUCCESS
        forged = session.invoke(5, [Param.memref_input(xy), Param.memref_input(digest),
                                    Param.memref_input(raw[:-1] + bytes([raw[-1] ^ 1])),
                                    Param.value_input(algorithm, curve_id)])
        assert forged.code == abi.TEE_ERROR_SIGNATURE_INVALID


def test_ecdh_agrees_with_cryptography(tee):
    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    peer = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
    with tee.open_session(SIGN) as session:
        result = session.invoke(4, [Param.memref_input(peer), Param.memref_output(64), Param.memref_output(32)])
    assert result.code == abi.TEE_SUCCESS
    point = result.params[1].data
    theirs = ec.EllipticCurvePublicNumbers(int.from_bytes(point[:32], "big"), int.from_bytes(point[32:], "big"),
                                           ec.SECP256R1()).public_key()
    assert result.params[2].data == key.exchange(ec.ECDH(), theirs)
