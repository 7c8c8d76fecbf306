"""OP-TEE's user-space ABI as data: syscall numbers, TEE_Result codes, parameter types,
algorithm, object-type and attribute identifiers, and the layouts of the structures
that cross the syscall boundary (utee_params, utee_attribute, utee_object_info)."""

from __future__ import annotations

import struct

# --- TEE_Result codes and origins (GlobalPlatform TEE Internal Core API) ---------------
TEE_SUCCESS = 0x00000000
TEE_ERROR_CORRUPT_OBJECT = 0xF0100001
TEE_ERROR_GENERIC = 0xFFFF0000
TEE_ERROR_ACCESS_DENIED = 0xFFFF0001
TEE_ERROR_CANCEL = 0xFFFF0002
TEE_ERROR_ACCESS_CONFLICT = 0xFFFF0003
TEE_ERROR_EXCESS_DATA = 0xFFFF0004
TEE_ERROR_BAD_FORMAT = 0xFFFF0005
TEE_ERROR_BAD_PARAMETERS = 0xFFFF0006
TEE_ERROR_BAD_STATE = 0xFFFF0007
TEE_ERROR_ITEM_NOT_FOUND = 0xFFFF0008
TEE_ERROR_NOT_IMPLEMENTED = 0xFFFF0009
TEE_ERROR_NOT_SUPPORTED = 0xFFFF000A
TEE_ERROR_NO_DATA = 0xFFFF000B
TEE_ERROR_OUT_OF_MEMORY = 0xFFFF000C
TEE_ERROR_BUSY = 0xFFFF000D
TEE_ERROR_COMMUNICATION = 0xFFFF000E
TEE_ERROR_SECURITY = 0xFFFF000F
TEE_ERROR_SHORT_BUFFER = 0xFFFF0010
TEE_ERROR_OVERFLOW = 0xFFFF300F
TEE_ERROR_TARGET_DEAD = 0xFFFF3024
TEE_ERROR_STORAGE_NO_SPACE = 0xFFFF3041
TEE_ERROR_MAC_INVALID = 0xFFFF3071
TEE_ERROR_SIGNATURE_INVALID = 0xFFFF3072
TEE_ERROR_TIME_NOT_SET = 0xFFFF5000
TEE_ERROR_TIME_NEEDS_RESET = 0xFFFF5001

TEE_ORIGIN_API, TEE_ORIGIN_COMMS, TEE_ORIGIN_TEE, TEE_ORIGIN_TRUSTED_APP = 1, 2, 3, 4

RESULT_NAMES = {value: name for name, value in dict(globals()).items()
                if name.startswith(("TEE_ERROR_", "TEE_SUCCESS")) and isinstance(value, int)}

# --- the TA entry convention ---------------------------------------------------------------
ENTRY_OPEN_SESSION, ENTRY_CLOSE_SESSION, ENTRY_INVOKE_COMMAND = 0, 1, 2
TEE_NUM_PARAMS = 4

PARAM_NONE = 0
PARAM_VALUE_INPUT, PARAM_VALUE_OUTPUT, PARAM_VALUE_INOUT = 1, 2, 3
PARAM_MEMREF_INPUT, PARAM_MEMREF_OUTPUT, PARAM_MEMREF_INOUT = 5, 6, 7
PARAM_TYPE_NAMES = {
    "none": PARAM_NONE, "value_input": PARAM_VALUE_INPUT, "value_output": PARAM_VALUE_OUTPUT,
    "value_inout": PARAM_VALUE_INOUT, "memref_input": PARAM_MEMREF_INPUT,
    "memref_output": PARAM_MEMREF_OUTPUT, "memref_inout": PARAM_MEMREF_INOUT,
}

#: struct utee_params: u64 types (4 bits per parameter), then a/buffer and b/size per parameter
UTEE_PARAMS = struct.Struct("<Q8Q")
#: struct utee_attribute: u64 a (value or pointer), u64 b (value or length), u32 id (padded to 24)
UTEE_ATTRIBUTE = struct.Struct("<QQI4x")
#: struct utee_object_info: type, size, max size, usage, data size, data position, handle flags
UTEE_OBJECT_INFO = struct.Struct("<7I")
#: struct ta_head, in the TA's .ta_head section: UUID, stack size, flags, deprecated entry
TA_HEAD = struct.Struct("<16sIIQ")
#: TEE_Time: seconds, milliseconds
TEE_TIME = struct.Struct("<II")
#: TEE_Identity: login (u32), then a TEE_UUID
TEE_IDENTITY = struct.Struct("<I16s")

TA_FLAG_SINGLE_INSTANCE = 1 << 2
TA_FLAG_MULTI_SESSION = 1 << 3
TA_FLAG_INSTANCE_KEEP_ALIVE = 1 << 4

TEE_LOGIN_PUBLIC = 0
TEE_LOGIN_TRUSTED_APP = 0xF0000000

# --- properties -------------------------------------------------------------------------------
TEE_PROPSET_TEE_IMPLEMENTATION = 0xFFFFFFFD
TEE_PROPSET_CURRENT_CLIENT = 0xFFFFFFFE
TEE_PROPSET_CURRENT_TA = 0xFFFFFFFF
PROP_TYPE_BOOL, PROP_TYPE_U32, PROP_TYPE_UUID, PROP_TYPE_IDENTITY = 0, 1, 2, 3
PROP_TYPE_STRING, PROP_TYPE_BINARY_BLOCK, PROP_TYPE_U64 = 4, 5, 6

TEE_MEMORY_ACCESS_READ, TEE_MEMORY_ACCESS_WRITE, TEE_MEMORY_ACCESS_ANY_OWNER = 1, 2, 4
TIME_SYSTEM, TIME_TA_PERSISTENT, TIME_REE = 0, 1, 2
TEE_TIMEOUT_INFINITE = 0xFFFFFFFF

# --- algorithms ---------------------------------------------------------------------------------
ALG_AES_ECB_NOPAD = 0x10000010
ALG_AES_CBC_NOPAD = 0x10000110
ALG_AES_CTR = 0x10000210
ALG_AES_XTS = 0x10000410
ALG_AES_CMAC = 0x30000610
ALG_AES_CCM = 0x40000710
ALG_AES_GCM = 0x40000810
ALG_SHA1, ALG_SHA224, ALG_SHA256, ALG_SHA384, ALG_SHA512 = (0x50000002, 0x50000003, 0x50000004,
                                                            0x50000005, 0x50000006)
ALG_HMAC_SHA1, ALG_HMAC_SHA224, ALG_HMAC_SHA256, ALG_HMAC_SHA384, ALG_HMAC_SHA512 = (
    0x30000002, 0x30000003, 0x30000004, 0x30000005, 0x30000006)
ALG_RSASSA_PKCS1_V1_5 = {0x70002830: "sha1", 0x70003830: "sha224", 0x70004830: "sha256",
                         0x70005830: "sha384", 0x70006830: "sha512"}
ALG_RSASSA_PKCS1_PSS = {0x70212930: "sha1", 0x70313930: "sha224", 0x70414930: "sha256",
                        0x70515930: "sha384", 0x70616930: "sha512"}
ALG_RSAES_PKCS1_V1_5 = 0x60000130
ALG_RSAES_OAEP = {0x60210230: "sha1", 0x60310230: "sha224", 0x60410230: "sha256",
                  0x60510230: "sha384", 0x60610230: "sha512"}
ALG_RSA_NOPAD = 0x60000030
#: ECDSA by hash (GP 1.3 values, and OP-TEE's older per-curve values: hash chosen by curve)
ALG_ECDSA = {0x70001042: "sha1", 0x70002042: "sha224", 0x70003042: "sha256", 0x70004042: "sha384",
             0x70005042: "sha512", 0x70001041: "sha1", 0x70002041: "sha224", 0x70003041: "sha256",
             0x70004041: "sha384", 0x70005041: "sha512"}
ALG_ECDH = frozenset((0x80000042, 0x80001042, 0x80002042, 0x80003042, 0x80004042, 0x80005042))

HASHES = {ALG_SHA1: "sha1", ALG_SHA224: "sha224", ALG_SHA256: "sha256", ALG_SHA384: "sha384",
          ALG_SHA512: "sha512"}
HMACS = {ALG_HMAC_SHA1: "sha1", ALG_HMAC_SHA224: "sha224", ALG_HMAC_SHA256: "sha256",
         ALG_HMAC_SHA384: "sha384", ALG_HMAC_SHA512: "sha512"}

MODE_ENCRYPT, MODE_DECRYPT, MODE_SIGN, MODE_VERIFY, MODE_MAC, MODE_DIGEST, MODE_DERIVE = range(7)

# --- object types and attributes ---------------------------------------------------------------
TYPE_AES = 0xA0000010
TYPE_HMAC = {0xA0000002: "sha1", 0xA0000003: "sha224", 0xA0000004: "sha256", 0xA0000005: "sha384",
             0xA0000006: "sha512"}
TYPE_GENERIC_SECRET = 0xA0000000
TYPE_RSA_PUBLIC_KEY, TYPE_RSA_KEYPAIR = 0xA0000030, 0xA1000030
TYPE_ECDSA_PUBLIC_KEY, TYPE_ECDSA_KEYPAIR = 0xA0000041, 0xA1000041
TYPE_ECDH_PUBLIC_KEY, TYPE_ECDH_KEYPAIR = 0xA0000042, 0xA1000042
TYPE_DATA = 0xA00000BF

ATTR_SECRET_VALUE = 0xC0000000
ATTR_RSA_MODULUS, ATTR_RSA_PUBLIC_EXPONENT, ATTR_RSA_PRIVATE_EXPONENT = 0xD0000130, 0xD0000230, 0xC0000330
ATTR_RSA_PRIME1, ATTR_RSA_PRIME2 = 0xC0000430, 0xC0000530
ATTR_RSA_EXPONENT1, ATTR_RSA_EXPONENT2, ATTR_RSA_COEFFICIENT = 0xC0000630, 0xC0000730, 0xC0000830
ATTR_RSA_PSS_SALT_LENGTH = 0xF0000A30
ATTR_ECC_PUBLIC_VALUE_X, ATTR_ECC_PUBLIC_VALUE_Y = 0xD0000141, 0xD0000241
ATTR_ECC_PRIVATE_VALUE, ATTR_ECC_CURVE = 0xC0000341, 0xF0000441
#: bit 29 of an attribute id: a value attribute (two u32) rather than a buffer
ATTR_VALUE_BIT = 1 << 29
#: bit 28: a public attribute, readable whatever the object's usage
ATTR_PUBLIC_BIT = 1 << 28

CURVES = {1: ("secp192r1", 192), 2: ("secp224r1", 224), 3: ("secp256r1", 256), 4: ("secp384r1", 384),
          5: ("secp521r1", 521)}

USAGE_EXTRACTABLE = 0x00000001
USAGE_ALL = 0xFFFFFFFF
HANDLE_FLAG_PERSISTENT = 0x00010000
HANDLE_FLAG_INITIALIZED = 0x00020000

# --- persistent storage ------------------------------------------------------------------------
TEE_STORAGE_PRIVATE = 0x00000001
TEE_STORAGE_PRIVATE_REE = 0x80000000
DATA_FLAG_ACCESS_READ = 0x00000001
DATA_FLAG_ACCESS_WRITE = 0x00000002
DATA_FLAG_ACCESS_WRITE_META = 0x00000004
DATA_FLAG_SHARE_READ = 0x00000010
DATA_FLAG_SHARE_WRITE = 0x00000020
DATA_FLAG_OVERWRITE = 0x00000400
OBJECT_ID_MAX_LEN = 64
DATA_MAX_POSITION = 0xFFFFFFFF
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2


def result_name(code: int) -> str:
    return RESULT_NAMES.get(code, f"{code:#010x}")


def format_uuid(raw: bytes) -> str:
    """A TEE_UUID (u32, u16, u16 in the TA's byte order, then 8 bytes) as text."""
    time_low, time_mid, time_hi = struct.unpack_from("<IHH", raw)
    node = raw[8:16].hex()
    return f"{time_low:08x}-{time_mid:04x}-{time_hi:04x}-{node[:4]}-{node[4:]}"


def parse_uuid(text: str) -> bytes:
    """The TEE_UUID layout of `text` (8-4-4-4-12 hex digits); ValueError if malformed."""
    parts = text.strip().lower().split("-")
    if [len(p) for p in parts] != [8, 4, 4, 4, 12]:
        raise ValueError(f"bad UUID {text!r}")
    return struct.pack("<IHH", int(parts[0], 16), int(parts[1], 16), int(parts[2], 16)) + \
        bytes.fromhex(parts[3] + parts[4])
