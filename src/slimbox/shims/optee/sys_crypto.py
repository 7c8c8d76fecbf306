"""utee cryptographic operations: digests, MACs, ciphers, authenticated encryption,
asymmetric operations, key derivation and random numbers, with hashlib/hmac and the
`cryptography` library doing the mathematics."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slimbox.shims.optee import abi
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.objects import KeyObject, ec_curve
from slimbox.shims.optee.sys_object import key_object, read_attributes

if TYPE_CHECKING:
    from slimbox.shims.optee.instance import TaInstance

MAX_RANDOM = 1 << 20
_CIPHERS = (abi.ALG_AES_ECB_NOPAD, abi.ALG_AES_CBC_NOPAD, abi.ALG_AES_CTR, abi.ALG_AES_XTS)
_AE = (abi.ALG_AES_GCM, abi.ALG_AES_CCM)


def _operation_class(algorithm: int) -> str:
    if algorithm in abi.HASHES:
        return "digest"
    if algorithm in abi.HMACS or algorithm == abi.ALG_AES_CMAC:
        return "mac"
    if algorithm in _CIPHERS:
        return "cipher"
    if algorithm in _AE:
        return "ae"
    if algorithm in abi.ALG_RSASSA_PKCS1_V1_5 or algorithm in abi.ALG_RSASSA_PKCS1_PSS or algorithm in abi.ALG_ECDSA:
        return "signature"
    if algorithm in abi.ALG_RSAES_OAEP or algorithm in (abi.ALG_RSAES_PKCS1_V1_5, abi.ALG_RSA_NOPAD):
        return "asymmetric_cipher"
    if algorithm in abi.ALG_ECDH:
        return "derive"
    raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, f"algorithm {algorithm:#x}")


_MODES = {"digest": (abi.MODE_DIGEST,), "mac": (abi.MODE_MAC,), "cipher": (abi.MODE_ENCRYPT, abi.MODE_DECRYPT),
          "ae": (abi.MODE_ENCRYPT, abi.MODE_DECRYPT), "signature": (abi.MODE_SIGN, abi.MODE_VERIFY),
          "asymmetric_cipher": (abi.MODE_ENCRYPT, abi.MODE_DECRYPT), "derive": (abi.MODE_DERIVE,)}


@dataclass
class CrypState:
    algorithm: int
    mode: int
    kind: str
    key1: int
    key2: int
    #: the running computation (a hashlib/hmac object, a cryptography context...)
    context: object = None
    #: authenticated encryption: the tag length in bytes, the nonce, buffered input (CCM)
    tag_length: int = 0
    nonce: bytes = b""
    aad: bytes = b""
    payload: bytes = b""


def _state(inst: TaInstance, handle: int, kind: str | tuple[str, ...] | None = None) -> CrypState:
    state = inst.handles.get(handle, CrypState)
    if state is None:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"no operation {handle}")
    if kind is not None and state.kind not in ((kind,) if isinstance(kind, str) else kind):
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"operation {handle} is not a {kind} operation")
    return state


def _key(inst: TaInstance, handle: int) -> KeyObject:
    obj = key_object(inst, handle)
    if not obj.initialized:
        raise TeeError(abi.TEE_ERROR_BAD_STATE, "the operation has no key")
    return obj


def state_alloc(inst: TaInstance, algorithm: int, mode: int, key1: int, key2: int, out: int) -> int:
    algorithm &= 0xFFFFFFFF
    kind = _operation_class(algorithm)
    if mode not in _MODES[kind]:
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, f"mode {mode} for algorithm {algorithm:#x}")
    for handle in (key1, key2):
        if handle:
            key_object(inst, handle)
    inst.memory.write_u32(out, inst.handles.add(CrypState(algorithm, mode, kind, key1, key2)))
    return abi.TEE_SUCCESS


def state_copy(inst: TaInstance, destination: int, source: int) -> int:
    target, origin = _state(inst, destination), _state(inst, source)
    if (target.algorithm, target.mode) != (origin.algorithm, origin.mode):
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "operations of different algorithms")
    context = origin.context
    if context is not None:
        copy = getattr(context, "copy", None)
        if copy is None:
            raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, "copying a running cipher")
        context = copy()
    target.context = context
    target.tag_length, target.nonce, target.aad, target.payload = (origin.tag_length, origin.nonce, origin.aad,
                                                                   origin.payload)
    return abi.TEE_SUCCESS


def state_free(inst: TaInstance, handle: int) -> int:
    _state(inst, handle)
    inst.handles.remove(handle)
    return abi.TEE_SUCCESS


# --- digests and MACs (OP-TEE runs MACs through the hash calls) -------------------------------------


def hash_init(inst: TaInstance, handle: int, iv: int, iv_length: int) -> int:
    state = _state(inst, handle, ("digest", "mac"))
    if state.kind == "digest":
        state.context = hashlib.new(abi.HASHES[state.algorithm])
    elif state.algorithm == abi.ALG_AES_CMAC:
        from cryptography.hazmat.primitives.ciphers import algorithms
        from cryptography.hazmat.primitives.cmac import CMAC

        state.context = CMAC(algorithms.AES(_key(inst, state.key1).secret()))
    else:
        state.context = hmac.new(_key(inst, state.key1).secret(), digestmod=abi.HMACS[state.algorithm])
    return abi.TEE_SUCCESS


def _running(state: CrypState) -> object:
    if state.context is None:
        if state.kind == "digest":
            state.context = hashlib.new(abi.HASHES[state.algorithm])  # digests need no init
        else:
            raise TeeError(abi.TEE_ERROR_BAD_STATE, "the operation was not initialized")
    return state.context


def hash_update(inst: TaInstance, handle: int, chunk: int, length: int) -> int:
    state = _state(inst, handle, ("digest", "mac"))
    _running(state).update(inst.memory.read(chunk, length))
    return abi.TEE_SUCCESS


def hash_final(inst: TaInstance, handle: int, chunk: int, length: int, out: int, out_length: int) -> int:
    state = _state(inst, handle, ("digest", "mac"))
    context = _running(state)
    data = inst.memory.read(chunk, length)
    size = 16 if state.algorithm == abi.ALG_AES_CMAC else context.digest_size
    if inst.memory.read_u64(out_length) < size:
        # as OP-TEE: nothing is consumed, so the call can be repeated with a larger buffer
        inst.memory.write_u64(out_length, size)
        raise TeeError(abi.TEE_ERROR_SHORT_BUFFER)
    context.update(data)
    result = context.finalize() if state.algorithm == abi.ALG_AES_CMAC else context.digest()
    inst.memory.write_out(result, out, out_length)
    state.context = None  # the operation is back in its initial state
    return abi.TEE_SUCCESS


# --- ciphers ---------------------------------------------------------------------------------------


def cipher_init(inst: TaInstance, handle: int, iv: int, iv_length: int) -> int:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    state = _state(inst, handle, "cipher")
    key = _key(inst, state.key1).secret()
    nonce = inst.memory.read(iv, iv_length)
    algorithm = state.algorithm
    if algorithm == abi.ALG_AES_ECB_NOPAD:
        mode = modes.ECB()
    elif algorithm == abi.ALG_AES_CBC_NOPAD:
        mode = modes.CBC(nonce)
    elif algorithm == abi.ALG_AES_CTR:
        mode = modes.CTR(nonce)
    else:
        key = key + _key(inst, state.key2).secret()
        mode = modes.XTS(nonce)
    cipher = Cipher(algorithms.AES(key), mode)
    state.context = cipher.encryptor() if state.mode == abi.MODE_ENCRYPT else cipher.decryptor()
    state.payload = b""
    return abi.TEE_SUCCESS


def _block_aligned(state: CrypState) -> bool:
    return state.algorithm in (abi.ALG_AES_ECB_NOPAD, abi.ALG_AES_CBC_NOPAD)


def cipher_update(inst: TaInstance, handle: int, src: int, length: int, dest: int, dest_length: int) -> int:
    state = _state(inst, handle, "cipher")
    if state.context is None:
        raise TeeError(abi.TEE_ERROR_BAD_STATE, "the cipher was not initialized")
    data = inst.memory.read(src, length)
    if state.algorithm == abi.ALG_AES_XTS:
        state.payload += data  # XTS works on the whole data unit: output at final
        inst.memory.write_u64(dest_length, 0)
        return abi.TEE_SUCCESS
    capacity = inst.memory.read_u64(dest_length)
    expected = len(data) if not _block_aligned(state) else (len(state.payload) + len(data)) // 16 * 16
    if expected > capacity:
        inst.memory.write_u64(dest_length, expected)
        raise TeeError(abi.TEE_ERROR_SHORT_BUFFER)
    inst.memory.write_out(state.context.update(data), dest, dest_length)
    if _block_aligned(state):
        state.payload = (state.payload + data)[expected:]
    return abi.TEE_SUCCESS


def cipher_final(inst: TaInstance, handle: int, src: int, length: int, dest: int, dest_length: int) -> int:
    state = _state(inst, handle, "cipher")
    if state.context is None:
        raise TeeError(abi.TEE_ERROR_BAD_STATE, "the cipher was not initialized")
    data = inst.memory.read(src, length)
    if _block_aligned(state) and (len(state.payload) + len(data)) % 16:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the input is not a whole number of blocks")
    pending = len(state.payload) + len(data) if state.algorithm != abi.ALG_AES_CTR else len(data)
    _need(inst, dest_length, pending)
    if state.algorithm == abi.ALG_AES_XTS:
        data, state.payload = state.payload + data, b""
    result = state.context.update(data) + state.context.finalize()
    state.context = None
    inst.memory.write_out(result, dest, dest_length)
    return abi.TEE_SUCCESS


def _need(inst: TaInstance, length_address: int, size: int) -> None:
    """TEE_ERROR_SHORT_BUFFER, with the size needed, before any state is consumed."""
    if inst.memory.read_u64(length_address) < size:
        inst.memory.write_u64(length_address, size)
        raise TeeError(abi.TEE_ERROR_SHORT_BUFFER)


# --- authenticated encryption ------------------------------------------------------------------------


def authenc_init(inst: TaInstance, handle: int, nonce: int, nonce_length: int, tag_bits: int, aad_length: int,
                 payload_length: int) -> int:
    state = _state(inst, handle, "ae")
    key = _key(inst, state.key1).secret()
    if tag_bits % 8 or not (96 if state.algorithm == abi.ALG_AES_GCM else 32) <= tag_bits <= 128:
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, f"a {tag_bits}-bit tag")
    state.nonce = inst.memory.read(nonce, nonce_length)
    state.tag_length = tag_bits // 8
    state.aad = state.payload = b""
    if state.algorithm == abi.ALG_AES_GCM:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        cipher = Cipher(algorithms.AES(key), modes.GCM(state.nonce, min_tag_length=state.tag_length))
        state.context = cipher.encryptor() if state.mode == abi.MODE_ENCRYPT else cipher.decryptor()
    else:
        from cryptography.hazmat.primitives.ciphers.aead import AESCCM

        state.context = AESCCM(key, state.tag_length)  # CCM needs every byte first: output comes at final
    return abi.TEE_SUCCESS


def authenc_update_aad(inst: TaInstance, handle: int, aad: int, length: int) -> int:
    state = _state(inst, handle, "ae")
    data = inst.memory.read(aad, length)
    if state.algorithm == abi.ALG_AES_GCM:
        _ae_context(state).authenticate_additional_data(data)
    else:
        state.aad += data
    return abi.TEE_SUCCESS


def _ae_context(state: CrypState):
    if state.context is None:
        raise TeeError(abi.TEE_ERROR_BAD_STATE, "the operation was not initialized")
    return state.context


def authenc_update_payload(inst: TaInstance, handle: int, src: int, length: int, dest: int,
                           dest_length: int) -> int:
    state = _state(inst, handle, "ae")
    data = inst.memory.read(src, length)
    context = _ae_context(state)
    if state.algorithm == abi.ALG_AES_GCM:
        _need(inst, dest_length, len(data))
        inst.memory.write_out(context.update(data), dest, dest_length)
    else:
        state.payload += data
        inst.memory.write_u64(dest_length, 0)
    return abi.TEE_SUCCESS


def authenc_enc_final(inst: TaInstance, handle: int, src: int, length: int, dest: int, dest_length: int,
                      tag: int, tag_length: int) -> int:
    state = _state(inst, handle, "ae")
    if state.mode != abi.MODE_ENCRYPT:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "not an encryption")
    context = _ae_context(state)
    data = inst.memory.read(src, length)
    _need(inst, tag_length, state.tag_length)
    _need(inst, dest_length, len(data) + (len(state.payload) if state.algorithm == abi.ALG_AES_CCM else 0))
    if state.algorithm == abi.ALG_AES_GCM:
        output = context.update(data) + context.finalize()
        produced_tag = context.tag[:state.tag_length]
    else:
        sealed = context.encrypt(state.nonce, state.payload + data, state.aad or None)
        output, produced_tag = sealed[:-state.tag_length], sealed[-state.tag_length:]
    state.context = None
    inst.memory.write_out(output, dest, dest_length)
    inst.memory.write_out(produced_tag, tag, tag_length)
    return abi.TEE_SUCCESS


def authenc_dec_final(inst: TaInstance, handle: int, src: int, length: int, dest: int, dest_length: int,
                      tag: int, tag_length: int) -> int:
    from cryptography.exceptions import InvalidTag

    state = _state(inst, handle, "ae")
    if state.mode != abi.MODE_DECRYPT:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "not a decryption")
    context = _ae_context(state)
    data = inst.memory.read(src, length)
    expected_tag = inst.memory.read(tag, tag_length)
    if len(expected_tag) != state.tag_length:
        raise TeeError(abi.TEE_ERROR_MAC_INVALID)
    _need(inst, dest_length, len(data) + (len(state.payload) if state.algorithm == abi.ALG_AES_CCM else 0))
    try:
        if state.algorithm == abi.ALG_AES_GCM:
            output = context.update(data) + context.finalize_with_tag(expected_tag)
        else:
            output = context.decrypt(state.nonce, state.payload + data + expected_tag, state.aad or None)
    except InvalidTag:
        state.context = None
        raise TeeError(abi.TEE_ERROR_MAC_INVALID) from None
    state.context = None
    inst.memory.write_out(output, dest, dest_length)
    return abi.TEE_SUCCESS


# --- asymmetric ----------------------------------------------------------------------------------------


def _rsa_private(obj: KeyObject):
    from cryptography.hazmat.primitives.asymmetric import rsa

    n, e, d = obj.number(abi.ATTR_RSA_MODULUS), obj.number(abi.ATTR_RSA_PUBLIC_EXPONENT), \
        obj.number(abi.ATTR_RSA_PRIVATE_EXPONENT)
    if abi.ATTR_RSA_PRIME1 in obj.attributes:
        p, q = obj.number(abi.ATTR_RSA_PRIME1), obj.number(abi.ATTR_RSA_PRIME2)
    else:
        p, q = rsa.rsa_recover_prime_factors(n, e, d)
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
                                 rsa.RSAPublicNumbers(e, n)).private_key()


def _rsa_public(obj: KeyObject):
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.RSAPublicNumbers(obj.number(abi.ATTR_RSA_PUBLIC_EXPONENT), obj.number(abi.ATTR_RSA_MODULUS)).public_key()


def _ec_private(obj: KeyObject):
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.derive_private_key(obj.number(abi.ATTR_ECC_PRIVATE_VALUE), ec_curve(obj.value(abi.ATTR_ECC_CURVE)[0]))


def _ec_public(obj: KeyObject, x: int | None = None, y: int | None = None):
    from cryptography.hazmat.primitives.asymmetric import ec

    x = obj.number(abi.ATTR_ECC_PUBLIC_VALUE_X) if x is None else x
    y = obj.number(abi.ATTR_ECC_PUBLIC_VALUE_Y) if y is None else y
    return ec.EllipticCurvePublicNumbers(x, y, ec_curve(obj.value(abi.ATTR_ECC_CURVE)[0])).public_key()


def _hash(name: str):
    from cryptography.hazmat.primitives import hashes

    return getattr(hashes, name.upper())()


def _pss_salt(params: dict, digest_name: str) -> int:
    salt = params.get(abi.ATTR_RSA_PSS_SALT_LENGTH)
    return salt[0] if isinstance(salt, tuple) else hashlib.new(digest_name).digest_size


def _signature_scheme(state: CrypState, params: dict):
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    algorithm = state.algorithm
    if algorithm in abi.ALG_RSASSA_PKCS1_V1_5:
        name = abi.ALG_RSASSA_PKCS1_V1_5[algorithm]
        return name, padding.PKCS1v15(), utils.Prehashed(_hash(name))
    if algorithm in abi.ALG_RSASSA_PKCS1_PSS:
        name = abi.ALG_RSASSA_PKCS1_PSS[algorithm]
        return name, padding.PSS(padding.MGF1(_hash(name)), _pss_salt(params, name)), utils.Prehashed(_hash(name))
    name = abi.ALG_ECDSA[algorithm]
    return name, None, utils.Prehashed(_hash(name))


def _check_digest(name: str, digest: bytes) -> None:
    if len(digest) != hashlib.new(name).digest_size:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the digest has the wrong length")


def asymm_operate(inst: TaInstance, handle: int, params: int, count: int, src: int, length: int, dest: int,
                  dest_length: int) -> int:
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    state = _state(inst, handle, ("signature", "asymmetric_cipher"))
    attributes = read_attributes(inst, params, count)
    key = _key(inst, state.key1)
    data = inst.memory.read(src, length)
    if state.kind == "signature":
        if state.mode != abi.MODE_SIGN:
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "a verify operation cannot sign")
        name, pad, prehashed = _signature_scheme(state, attributes)
        _check_digest(name, data)
        if pad is None:
            r, s = decode_dss_signature(_ec_private(key).sign(data, ec.ECDSA(prehashed)))
            size = (key.size + 7) // 8
            output = r.to_bytes(size, "big") + s.to_bytes(size, "big")  # GP: r and s, each the curve's size
        else:
            output = _rsa_private(key).sign(data, pad, prehashed)
    else:
        algorithm = state.algorithm
        if algorithm == abi.ALG_RSA_NOPAD:
            raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, "raw RSA")
        if algorithm == abi.ALG_RSAES_PKCS1_V1_5:
            pad = padding.PKCS1v15()
        else:
            hashed = _hash(abi.ALG_RSAES_OAEP[algorithm])
            pad = padding.OAEP(padding.MGF1(hashed), hashed, None)
        if state.mode == abi.MODE_ENCRYPT:
            output = _rsa_public(key).encrypt(data, pad)
        else:
            try:
                output = _rsa_private(key).decrypt(data, pad)
            except ValueError:
                raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "decryption failed") from None
    inst.memory.write_out(output, dest, dest_length)
    return abi.TEE_SUCCESS


def asymm_verify(inst: TaInstance, handle: int, params: int, count: int, data: int, length: int, signature: int,
                 signature_length: int) -> int:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    state = _state(inst, handle, "signature")
    if state.mode != abi.MODE_VERIFY:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "a sign operation cannot verify")
    key = _key(inst, state.key1)
    digest = inst.memory.read(data, length)
    sig = inst.memory.read(signature, signature_length)
    name, pad, prehashed = _signature_scheme(state, read_attributes(inst, params, count))
    _check_digest(name, digest)
    try:
        if pad is None:
            half = len(sig) // 2
            if len(sig) != 2 * ((key.size + 7) // 8):
                raise TeeError(abi.TEE_ERROR_SIGNATURE_INVALID)
            der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
            _ec_public(key).verify(der, digest, ec.ECDSA(prehashed))
        else:
            _rsa_public(key).verify(sig, digest, pad, prehashed)
    except InvalidSignature:
        raise TeeError(abi.TEE_ERROR_SIGNATURE_INVALID) from None
    return abi.TEE_SUCCESS


def derive_key(inst: TaInstance, handle: int, params: int, count: int, derived: int) -> int:
    from cryptography.hazmat.primitives.asymmetric import ec

    state = _state(inst, handle, "derive")
    key = _key(inst, state.key1)
    attributes = read_attributes(inst, params, count)
    x, y = attributes.get(abi.ATTR_ECC_PUBLIC_VALUE_X), attributes.get(abi.ATTR_ECC_PUBLIC_VALUE_Y)
    if not isinstance(x, bytes) or not isinstance(y, bytes):
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the peer's public value is missing")
    peer = _ec_public(key, int.from_bytes(x, "big"), int.from_bytes(y, "big"))
    secret = _ec_private(key).exchange(ec.ECDH(), peer)
    target = key_object(inst, derived)
    if target.type != abi.TYPE_GENERIC_SECRET or len(secret) * 8 > target.max_size:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the derived key needs a generic secret large enough")
    target.reset()
    target.attributes = {abi.ATTR_SECRET_VALUE: secret}
    target.size = len(secret) * 8
    target.initialized = True
    return abi.TEE_SUCCESS


def random_number_generate(inst: TaInstance, buffer: int, length: int) -> int:
    if length > MAX_RANDOM:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"{length} random bytes")
    inst.memory.write(buffer, inst.kernel.random_bytes(length))
    return abi.TEE_SUCCESS
