"""Key objects (GlobalPlatform transient objects): a type, a maximum size, attributes.

Attributes are kept as bytes (buffer attributes, big-endian for numbers, as GP defines)
or as (a, b) pairs (value attributes, id bit 29). Keys are generated with the
`cryptography` library or the kernel's entropy.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable

from slimbox.shims.optee import abi
from slimbox.shims.optee.errors import TeeError

Attribute = bytes | tuple[int, int]

_AES_SIZES = (128, 192, 256)


@dataclass
class KeyObject:
    type: int
    max_size: int
    attributes: dict[int, Attribute] = field(default_factory=dict)
    usage: int = abi.USAGE_ALL
    initialized: bool = False
    #: the key size in bits, once initialized
    size: int = 0

    def secret(self) -> bytes:
        value = self.attributes.get(abi.ATTR_SECRET_VALUE)
        if not self.initialized or not isinstance(value, bytes):
            raise TeeError(abi.TEE_ERROR_BAD_STATE, "the key object holds no secret value")
        return value

    def number(self, attribute_id: int) -> int:
        value = self.attributes.get(attribute_id)
        if not isinstance(value, bytes):
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"attribute {attribute_id:#x} is missing")
        return int.from_bytes(value, "big")

    def value(self, attribute_id: int) -> tuple[int, int]:
        value = self.attributes.get(attribute_id)
        if not isinstance(value, tuple):
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"attribute {attribute_id:#x} is missing")
        return value

    def reset(self) -> None:
        self.attributes.clear()
        self.initialized = False
        self.size = 0
        self.usage = abi.USAGE_ALL

    def copy_from(self, other: KeyObject) -> None:
        if self.initialized:
            raise TeeError(abi.TEE_ERROR_BAD_STATE, "the destination object is already initialized")
        if not other.initialized or other.size > self.max_size:
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the source cannot be copied here")
        self.attributes = dict(other.attributes)
        self.size = other.size
        self.usage = other.usage
        self.initialized = True


def allowed_max_size(object_type: int, max_size: int) -> bool:
    if object_type == abi.TYPE_AES:
        return max_size in _AES_SIZES or max_size == 512  # 512: an AES-XTS pair in one object
    if object_type in abi.TYPE_HMAC or object_type == abi.TYPE_GENERIC_SECRET:
        return 0 < max_size <= 4096 and max_size % 8 == 0
    if object_type in (abi.TYPE_RSA_KEYPAIR, abi.TYPE_RSA_PUBLIC_KEY):
        return 256 <= max_size <= 4096
    if object_type in (abi.TYPE_ECDSA_KEYPAIR, abi.TYPE_ECDSA_PUBLIC_KEY, abi.TYPE_ECDH_KEYPAIR,
                       abi.TYPE_ECDH_PUBLIC_KEY):
        return max_size in (192, 224, 256, 384, 521)
    return object_type == abi.TYPE_DATA and max_size == 0


def populate(obj: KeyObject, attributes: dict[int, Attribute]) -> None:
    """TEE_PopulateTransientObject: set the attributes the type needs, checking sizes."""
    if obj.initialized:
        raise TeeError(abi.TEE_ERROR_BAD_STATE, "the object is already initialized")
    kind = obj.type
    if kind == abi.TYPE_AES or kind in abi.TYPE_HMAC or kind == abi.TYPE_GENERIC_SECRET:
        secret = attributes.get(abi.ATTR_SECRET_VALUE)
        if not isinstance(secret, bytes) or len(secret) * 8 > obj.max_size:
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "a secret value of the wrong size")
        if kind == abi.TYPE_AES and len(secret) * 8 not in _AES_SIZES + (512,):
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "AES keys are 128, 192 or 256 bits")
        size = len(secret) * 8
    elif kind in (abi.TYPE_RSA_KEYPAIR, abi.TYPE_RSA_PUBLIC_KEY):
        needed = [abi.ATTR_RSA_MODULUS, abi.ATTR_RSA_PUBLIC_EXPONENT]
        if kind == abi.TYPE_RSA_KEYPAIR:
            needed.append(abi.ATTR_RSA_PRIVATE_EXPONENT)
        if not all(isinstance(attributes.get(a), bytes) for a in needed):
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "an RSA attribute is missing")
        size = int.from_bytes(attributes[abi.ATTR_RSA_MODULUS], "big").bit_length()
    elif kind in (abi.TYPE_ECDSA_KEYPAIR, abi.TYPE_ECDSA_PUBLIC_KEY, abi.TYPE_ECDH_KEYPAIR,
                  abi.TYPE_ECDH_PUBLIC_KEY):
        curve = attributes.get(abi.ATTR_ECC_CURVE)
        if not isinstance(curve, tuple) or curve[0] not in abi.CURVES:
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "an unknown curve")
        size = abi.CURVES[curve[0]][1]
    else:
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, f"object type {kind:#x}")
    if size > obj.max_size:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the key is larger than the object")
    obj.attributes = dict(attributes)
    obj.size = size
    obj.initialized = True


def _be(number: int, length: int | None = None) -> bytes:
    return number.to_bytes(length or max(1, (number.bit_length() + 7) // 8), "big")


def generate(obj: KeyObject, key_size: int, params: dict[int, Attribute], entropy: Callable[[int], bytes]) -> None:
    """TEE_GenerateKey."""
    if obj.initialized:
        raise TeeError(abi.TEE_ERROR_BAD_STATE, "the object is already initialized")
    if key_size > obj.max_size:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the key is larger than the object")
    kind = obj.type
    if kind == abi.TYPE_AES or kind in abi.TYPE_HMAC or kind == abi.TYPE_GENERIC_SECRET:
        if key_size % 8 or (kind == abi.TYPE_AES and key_size not in _AES_SIZES):
            raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, f"a {key_size}-bit key")
        populate(obj, {abi.ATTR_SECRET_VALUE: entropy(key_size // 8)})
    elif kind == abi.TYPE_RSA_KEYPAIR:
        from cryptography.hazmat.primitives.asymmetric import rsa

        exponent = params.get(abi.ATTR_RSA_PUBLIC_EXPONENT, _be(65537))
        if not isinstance(exponent, bytes) or key_size % 8:
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS)
        key = rsa.generate_private_key(int.from_bytes(exponent, "big"), key_size)
        numbers = key.private_numbers()
        populate(obj, {
            abi.ATTR_RSA_MODULUS: _be(numbers.public_numbers.n), abi.ATTR_RSA_PUBLIC_EXPONENT:
            _be(numbers.public_numbers.e), abi.ATTR_RSA_PRIVATE_EXPONENT: _be(numbers.d),
            abi.ATTR_RSA_PRIME1: _be(numbers.p), abi.ATTR_RSA_PRIME2: _be(numbers.q),
            abi.ATTR_RSA_EXPONENT1: _be(numbers.dmp1), abi.ATTR_RSA_EXPONENT2: _be(numbers.dmq1),
            abi.ATTR_RSA_COEFFICIENT: _be(numbers.iqmp)})
    elif kind in (abi.TYPE_ECDSA_KEYPAIR, abi.TYPE_ECDH_KEYPAIR):
        from cryptography.hazmat.primitives.asymmetric import ec

        curve = params.get(abi.ATTR_ECC_CURVE)
        if not isinstance(curve, tuple) or curve[0] not in abi.CURVES or abi.CURVES[curve[0]][1] != key_size:
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the curve does not match the key size")
        key = ec.generate_private_key(ec_curve(curve[0]))
        numbers = key.private_numbers()
        length = (key_size + 7) // 8
        populate(obj, {
            abi.ATTR_ECC_CURVE: curve, abi.ATTR_ECC_PRIVATE_VALUE: _be(numbers.private_value, length),
            abi.ATTR_ECC_PUBLIC_VALUE_X: _be(numbers.public_numbers.x, length),
            abi.ATTR_ECC_PUBLIC_VALUE_Y: _be(numbers.public_numbers.y, length)})
    else:
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, f"generating object type {kind:#x}")


def ec_curve(curve_id: int):
    from cryptography.hazmat.primitives.asymmetric import ec

    return {1: ec.SECP192R1, 2: ec.SECP224R1, 3: ec.SECP256R1, 4: ec.SECP384R1, 5: ec.SECP521R1}[curve_id]()


# --- attributes in storage ---------------------------------------------------------------------

_ATTR = struct.Struct("<IBI")  # id, kind (0 buffer, 1 value), length


def pack_attributes(obj: KeyObject | None) -> bytes:
    if obj is None or not obj.initialized:
        return b""
    out = [struct.pack("<III", obj.max_size, obj.size, obj.usage)]
    for attribute_id, value in obj.attributes.items():
        if isinstance(value, tuple):
            out.append(_ATTR.pack(attribute_id, 1, 8) + struct.pack("<II", *value))
        else:
            out.append(_ATTR.pack(attribute_id, 0, len(value)) + value)
    return b"".join(out)


def unpack_attributes(object_type: int, blob: bytes) -> KeyObject:
    obj = KeyObject(object_type, 0)
    if not blob:
        return obj
    obj.max_size, obj.size, obj.usage = struct.unpack_from("<III", blob)
    offset = 12
    while offset < len(blob):
        attribute_id, kind, length = _ATTR.unpack_from(blob, offset)
        offset += _ATTR.size
        raw = blob[offset:offset + length]
        offset += length
        obj.attributes[attribute_id] = struct.unpack("<II", raw) if kind == 1 else raw
    obj.initialized = True
    return obj
