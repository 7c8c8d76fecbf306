"""Turning raw 64-bit register values into typed arguments, per the ABI prototype."""

from __future__ import annotations

from slimbox.abi.syscalls import SyscallSpec

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _u32(value: int) -> int:
    return value & 0xFFFFFFFF


def _id(value: int) -> int:
    """A uid_t or gid_t: unsigned 32 bits, except that (uid_t)-1, "leave it as it is",
    comes out as -1, which is what handlers compare with. Any other id is stored and
    written back as the unsigned value the guest passed (0xFFFFFFFE is a valid uid)."""
    value &= 0xFFFFFFFF
    return -1 if value == 0xFFFFFFFF else value


def _s64(value: int) -> int:
    return value - (1 << 64) if value & (1 << 63) else value


def _u64(value: int) -> int:
    return value


_BY_TYPE: dict[str, Callable[[int], int]] = {
    "fd": _s32, "dirfd": _s32, "int": _s32, "pid": _s32, "uid": _id, "gid": _id,
    "uint": _u32, "mode": _u32,
    "long": _s64, "ssize": _s64, "off": _s64,
    "ulong": _u64, "size": _u64, "dev": _u64, "path": _u64, "str": _u64, "strv": _u64,
    "inbuf": _u64, "outbuf": _u64, "ptr": _u64, "addr": _u64,
}


def converter(type_name: str) -> Callable[[int], int]:
    if type_name.startswith("flags:"):
        return _u32
    if type_name.startswith("enum:"):
        return _s32
    return _BY_TYPE[type_name]


def converters(spec: SyscallSpec) -> tuple[Callable[[int], int], ...]:
    return tuple(converter(p.type) for p in spec.params)


# Every conversion but _id is "keep the low bits, then sign-extend from the top one":
# ((value & mask) ^ sign) - sign, with sign 0 for unsigned types. The dispatcher
# applies that arithmetic inline instead of calling a converter per argument.
_MASK_AND_SIGN: dict[Callable[[int], int], tuple[int, int]] = {
    _s32: (0xFFFFFFFF, 0x80000000),
    _u32: (0xFFFFFFFF, 0),
    _s64: ((1 << 64) - 1, 1 << 63),
    _u64: ((1 << 64) - 1, 0),
}


def masks_and_signs(spec: SyscallSpec) -> tuple[int, ...] | None:
    """(mask0, sign0, mask1, sign1, ...) such that argument i converts as
    ((raw & mask_i) ^ sign_i) - sign_i, the same value `converters(spec)[i]` gives; None
    when some argument needs a conversion of another kind (uid_t, gid_t)."""
    out: list[int] = []
    for convert in converters(spec):
        pair = _MASK_AND_SIGN.get(convert)
        if pair is None:
            return None
        out.extend(pair)
    return tuple(out)


to_s32 = _s32
to_s64 = _s64


def decoding(spec: SyscallSpec, known: dict) -> tuple[int, tuple[int, ...] | None, tuple[Callable[[int], int], ...]]:
    """(argument count, masks_and_signs(spec), converters(spec)), the conversion of each
    distinct parameter looked up once in all the specs decoded with the same `known`
    (a dict the caller keeps): a personality decodes every prototype when it is made, in
    every run, and doing it parameter by parameter was half of that."""
    convert = []
    ks: list[int] | None = []
    for param in spec.params:
        found = known.get(param)
        if found is None:
            function = converter(param.type)
            found = known[param] = (function, _MASK_AND_SIGN.get(function))
        convert.append(found[0])
        if ks is not None:
            if found[1] is None:
                ks = None
            else:
                ks.extend(found[1])
    return len(convert), None if ks is None else tuple(ks), tuple(convert)
