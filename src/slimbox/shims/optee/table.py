"""The OP-TEE syscall tables: every utee and ldelf call by OP-TEE's own number, its
handler, how many arguments it takes, and how well it is supported.

The personality dispatches from these tables and `docs/optee.md` is generated from
them (`slimbox optee syscalls`, or `make docs`). A call without a handler returns
TEE_ERROR_NOT_SUPPORTED and is logged by name once.

Support levels: full (as OP-TEE behaves for every input we know of), partial (the
note says what differs), none (TEE_ERROR_NOT_SUPPORTED; the note says why).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Mapping, NamedTuple

from slimbox.shims.optee import sys_core as C
from slimbox.shims.optee import sys_crypto as K
from slimbox.shims.optee import sys_ldelf as L
from slimbox.shims.optee import sys_object as O
from slimbox.shims.optee import sys_session as T
from slimbox.shims.optee import sys_storage as S

FULL, PARTIAL, NONE = "full", "partial", "none"


class Entry(NamedTuple):
    nr: int
    name: str
    arity: int
    handler: Callable[..., object] | None
    support: str
    note: str


_SE = "the deprecated Secure Element API is not provided"

# (number, name, arguments, handler, support, note)
_UTEE_ROWS: tuple[tuple[int, str, int, Callable[..., object] | None, str, str], ...] = (
    (0, "return", 1, C.utee_return, FULL, "ends the entry with its TEE_Result"),
    (1, "log", 2, C.utee_log, FULL, "to the supervisor's log, at most 4096 bytes a call"),
    (2, "panic", 1, C.utee_panic, FULL, "ends the instance: its sessions get TEE_ERROR_TARGET_DEAD"),
    (3, "get_property", 7, C.get_property, FULL, "current TA, current client and TEE implementation sets"),
    (4, "get_property_name_to_index", 4, C.get_property_name_to_index, FULL, ""),
    (5, "open_ta_session", 5, T.open_ta_session, PARTIAL,
     "the callee sees TEE_LOGIN_TRUSTED_APP and the caller's UUID; cancellation timeouts are ignored"),
    (6, "close_ta_session", 1, T.close_ta_session, FULL, ""),
    (7, "invoke_ta_command", 5, T.invoke_ta_command, PARTIAL, "cancellation timeouts are ignored; a cycle of "
                                                              "calls into a running instance is TEE_ERROR_BUSY"),
    (8, "check_access_rights", 3, C.check_access_rights, PARTIAL,
     "checks the TA's own mappings; client buffers are copies, so ANY_OWNER changes nothing"),
    (9, "get_cancellation_flag", 1, C.get_cancellation_flag, FULL,
     "clients request cancellation with invoke(..., cancel_after=SECONDS) or cancel_after_ms in a command file"),
    (10, "unmask_cancellation", 1, C.unmask_cancellation, FULL, ""),
    (11, "mask_cancellation", 1, C.mask_cancellation, FULL, ""),
    (12, "wait", 1, C.wait, FULL, "parks the TA's thread in the kernel; an unmasked cancellation ends it "
                                  "with TEE_ERROR_CANCEL"),
    (13, "get_time", 2, C.get_time, PARTIAL, "system time counts from the TEE's start; TA persistent time is "
                                             "TEE_ERROR_TIME_NOT_SET until set, then runs with the host's clock"),
    (14, "set_ta_time", 1, C.set_ta_time, FULL, "kept per TA in trusted storage (an encrypted offset from the "
                                                "host's clock)"),
    (15, "cryp_state_alloc", 5, K.state_alloc, FULL, "digests, MACs, AES ciphers and AE, RSA, ECDSA, ECDH"),
    (16, "cryp_state_copy", 2, K.state_copy, PARTIAL, "a running cipher or AE operation cannot be copied"),
    (17, "cryp_state_free", 1, K.state_free, FULL, ""),
    (18, "hash_init", 3, K.hash_init, FULL, "SHA-1/224/256/384/512; HMAC-SHA*, AES-CMAC"),
    (19, "hash_update", 3, K.hash_update, FULL, ""),
    (20, "hash_final", 5, K.hash_final, FULL, "TEE_ERROR_SHORT_BUFFER with the needed length"),
    (21, "cipher_init", 3, K.cipher_init, FULL, "AES ECB, CBC (no padding), CTR, XTS (two keys)"),
    (22, "cipher_update", 5, K.cipher_update, PARTIAL, "XTS output comes at final: the data unit is one call"),
    (23, "cipher_final", 5, K.cipher_final, FULL, ""),
    (24, "cryp_obj_get_info", 2, O.obj_get_info, FULL, ""),
    (25, "cryp_obj_restrict_usage", 2, O.obj_restrict_usage, PARTIAL,
     "usage is recorded; only extractability is enforced"),
    (26, "cryp_obj_get_attr", 4, O.obj_get_attr, FULL, "secret attributes need TEE_USAGE_EXTRACTABLE"),
    (27, "cryp_obj_alloc", 3, O.obj_alloc, PARTIAL,
     "AES, HMAC-SHA*, generic secret, RSA, ECDSA, ECDH keys and data objects"),
    (28, "cryp_obj_close", 1, O.obj_close, FULL, ""),
    (29, "cryp_obj_reset", 1, O.obj_reset, FULL, ""),
    (30, "cryp_obj_populate", 3, O.obj_populate, PARTIAL,
     "attribute sizes are checked, RSA/EC key consistency only when used"),
    (31, "cryp_obj_copy", 2, O.obj_copy, FULL, ""),
    (32, "cryp_derive_key", 4, K.derive_key, PARTIAL, "ECDH into a generic secret; no DH or HKDF"),
    (33, "cryp_random_number_generate", 2, K.random_number_generate, FULL, "the host's entropy; at most 1 MiB a call"),
    (34, "authenc_init", 6, K.authenc_init, FULL, "AES-GCM (tags of 96-128 bits), AES-CCM (32-128 bits)"),
    (35, "authenc_update_aad", 3, K.authenc_update_aad, FULL, ""),
    (36, "authenc_update_payload", 5, K.authenc_update_payload, PARTIAL, "CCM output comes at final"),
    (37, "authenc_enc_final", 7, K.authenc_enc_final, FULL, ""),
    (38, "authenc_dec_final", 7, K.authenc_dec_final, FULL, "TEE_ERROR_MAC_INVALID on a wrong tag"),
    (39, "asymm_operate", 7, K.asymm_operate, PARTIAL,
     "RSA PKCS#1 v1.5/PSS signing of a digest, RSAES PKCS#1 v1.5/OAEP; ECDSA (r||s); no raw RSA"),
    (40, "asymm_verify", 7, K.asymm_verify, FULL, "RSA PKCS#1 v1.5/PSS, ECDSA; TEE_ERROR_SIGNATURE_INVALID"),
    (41, "storage_obj_open", 5, S.obj_open, FULL, "TEE_STORAGE_PRIVATE; GP sharing rules"),
    (42, "storage_obj_create", 8, S.obj_create, FULL, "encrypted at rest (AES-GCM, per-TA key)"),
    (43, "storage_obj_del", 1, S.obj_del, FULL, ""),
    (44, "storage_obj_rename", 3, S.obj_rename, FULL, ""),
    (45, "storage_alloc_enum", 1, S.enum_alloc, FULL, ""),
    (46, "storage_free_enum", 1, S.enum_free, FULL, ""),
    (47, "storage_reset_enum", 1, S.enum_reset, FULL, ""),
    (48, "storage_start_enum", 2, S.enum_start, FULL, ""),
    (49, "storage_next_enum", 4, S.enum_next, FULL, ""),
    (50, "storage_obj_read", 4, S.obj_read, FULL, ""),
    (51, "storage_obj_write", 3, S.obj_write, PARTIAL, "each write re-encrypts the whole object (objects up to 4 MiB)"),
    (52, "storage_obj_trunc", 2, S.obj_trunc, FULL, ""),
    (53, "storage_obj_seek", 3, S.obj_seek, FULL, ""),
    (54, "cryp_obj_generate_key", 4, O.obj_generate_key, PARTIAL,
     "AES, HMAC, generic secret, RSA, ECDSA/ECDH (P-192 to P-521)"),
    (55, "se_service_open", 1, None, NONE, _SE),
    (56, "se_service_close", 1, None, NONE, _SE),
    (57, "se_service_get_readers", 3, None, NONE, _SE),
    (58, "se_reader_get_prop", 2, None, NONE, _SE),
    (59, "se_reader_get_name", 3, None, NONE, _SE),
    (60, "se_reader_open_session", 2, None, NONE, _SE),
    (61, "se_reader_close_sessions", 1, None, NONE, _SE),
    (62, "se_session_is_closed", 1, None, NONE, _SE),
    (63, "se_session_get_atr", 3, None, NONE, _SE),
    (64, "se_session_open_channel", 5, None, NONE, _SE),
    (65, "se_session_close", 1, None, NONE, _SE),
    (66, "se_channel_select_next", 1, None, NONE, _SE),
    (67, "se_channel_get_select_resp", 3, None, NONE, _SE),
    (68, "se_channel_transmit", 5, None, NONE, _SE),
    (69, "se_channel_close", 1, None, NONE, _SE),
    (70, "cache_operation", 3, C.cache_operation, FULL, "x86-64 caches are coherent: checks the flag and range only"),
)

_LDELF_ROWS: tuple[tuple[int, str, int, Callable[..., object] | None, str, str], ...] = (
    (0, "return", 1, L.ldelf_return, FULL, "hands the TA's entry point and stack (struct ldelf_arg) to the TEE"),
    (1, "log", 2, L.ldelf_log, FULL, ""),
    (2, "panic", 1, L.ldelf_panic, FULL, "the TA fails to load: its session gets TEE_ERROR_TARGET_DEAD"),
    (3, "map_zi", 5, L.map_zi, FULL, "zeroed read-write memory, at the address asked for (never over a "
                                     "mapping) or a free one"),
    (4, "unmap", 2, L.unmap, FULL, "not the loader's own image and stack (TEE_ERROR_ACCESS_DENIED)"),
    (5, "open_bin", 3, L.open_bin, PARTIAL, "the TAs the TEE was given, by UUID; no shared libraries"),
    (6, "close_bin", 1, L.close_bin, FULL, ""),
    (7, "map_bin", 7, L.map_bin, PARTIAL, "private copies of the file's pages; SHAREABLE is not shared"),
    (8, "cp_from_bin", 4, L.cp_from_bin, FULL, ""),
    (9, "set_prot", 3, L.set_prot, FULL, "BTI is ignored (x86-64); not the loader's own memory"),
    (10, "remap", 5, L.remap, FULL, "not the loader's own memory, never over a mapping"),
    (11, "gen_rnd_num", 2, L.gen_rnd_num, FULL, ""),
)


def _table(rows) -> Mapping[int, Entry]:
    return MappingProxyType({nr: Entry(nr, name, arity, handler, support, note)
                             for nr, name, arity, handler, support, note in rows})


UTEE: Mapping[int, Entry] = _table(_UTEE_ROWS)
LDELF: Mapping[int, Entry] = _table(_LDELF_ROWS)


def _section(title: str, prefix: str, table: Mapping[int, Entry]) -> list[str]:
    lines = [f"## {title}", "", "| nr | syscall | args | support | note |", "|---:|---|---:|---|---|"]
    for entry in table.values():
        note = entry.note.replace("|", "\\|")
        lines.append(f"| {entry.nr} | `{prefix}_{entry.name}` | {entry.arity} | {entry.support} | {note} |")
    counts = {level: sum(1 for e in table.values() if e.support == level) for level in (FULL, PARTIAL, NONE)}
    lines += ["", f"{len(table)} calls: {counts[FULL]} full, {counts[PARTIAL]} partial, {counts[NONE]} none.", ""]
    return lines


_USAGE = """\
## Running TAs

    slimbox optee run TA.elf [--ldelf LDELF] [--with OTHER.elf] COMMANDS.json [--storage DIR] [--secret FILE]
                      [--strace[=FILE]]

COMMANDS.json is a list of steps; each output parameter comes back as JSON:

    [{"step": "open_session"},
     {"step": "invoke_command", "command": 0,
      "params": [{"type": "value_inout", "value_a": 41, "value_b": 0},
                 {"type": "memref_input", "data_base64": "aGVsbG8="},
                 {"type": "memref_output", "buffer_size": 32}]},
     {"step": "close_session"}]

Parameter types: `value_input`, `value_output`, `value_inout` (`value_a`, `value_b`),
`memref_input` (`data_base64`), `memref_output` (`buffer_size`), `memref_inout` (both).
An `invoke_command` step may add `"cancel_after_ms": N` to request cancellation N ms in.
From Python, as libteec offers it:

    from slimbox.optee import Param, TeeContext

    with TeeContext(["hello.ta"]) as tee:
        session = tee.open_session("8aaaf200-2450-11e4-abe2-0002a5d5c51b")
        result = session.invoke(0, [Param.value_inout(41)])   # result.code, .origin, .params
        session.close()

Each TA file is mounted read-only in a sandbox and loaded by the kernel's ELF loader, or
by an ldelf binary in the TA's own process when `--ldelf` is given. A TA's header is its
`.ta_head` section (UUID, stack size, flags); without TA_FLAG_SINGLE_INSTANCE every
session gets its own instance (a guest process). A TA that panics or faults ends its
instance: its sessions answer TEE_ERROR_TARGET_DEAD and the supervisor logs why.

Persistent objects live in a host directory (`--storage`, default
`$XDG_STATE_HOME/slimbox/optee/storage`), one subdirectory per TA, each object a file
named by an HMAC of its id and encrypted with AES-GCM (id, attributes and data) under a
per-TA key derived with HKDF-SHA256 from a host-held secret (`--secret`, default
`$XDG_STATE_HOME/slimbox/optee/secret`, made with mode 0600 when absent).

TAs are built against the TA library in `src/slimbox/shims/optee/talib/` (the entry
function and one wrapper per utee call), for example:

    gcc -O2 -static -nostdlib -ffreestanding -fno-stack-protector -fno-pic -no-pie \\
        -fcf-protection=none -e __ta_entry -I talib -o hello.ta hello.c talib/tee_ta.c

Every syscall of a TA process stops under ptrace: the seccomp notification fast path is
off in these sandboxes, since `return` and `panic` stop or redirect the thread.
"""


def markdown() -> str:
    """docs/optee.md: how TAs run, then both tables with their support levels."""
    lines = [
        "# OP-TEE Trusted Applications",
        "",
        "<!-- generated by `slimbox optee syscalls` from src/slimbox/shims/optee/table.py; do not edit -->",
        "",
        "slimbox runs x86-64 OP-TEE Trusted Applications (TAs): ELF programs written against the",
        "GlobalPlatform TEE Internal Core API, whose calls reach the TEE as OP-TEE's utee system",
        "calls, by OP-TEE's own numbers and structures, served by the same kernel as Linux programs.",
        "",
        _USAGE,
        "## The syscall ABI",
        "",
        "On x86-64 the utee number goes in rax and up to eight arguments in rdi, rsi, rdx, r10,",
        "r8, r9, r12, r13; the TEE_Result comes back in rax. A loader (ldelf) running in the",
        "TA's process uses its own smaller set until it returns. A call marked *none*, and any",
        "number not listed, returns TEE_ERROR_NOT_SUPPORTED and is logged by name once. One",
        "exception: a number with bit 30 set (the x32 marker) is refused by the Linux platform's",
        "seccomp filter before the kernel sees it, so the TA is killed and its sessions get",
        "TEE_ERROR_TARGET_DEAD.",
        "",
    ]
    lines += _section("utee calls", "_utee", UTEE)
    lines += _section("ldelf calls", "_ldelf", LDELF)
    return "\n".join(lines)
