"""shims/linux/args.py: raw 64-bit register values become typed arguments, as the
kernel's prototypes say (an int is the low 32 bits, sign-extended; a size_t is not)."""

from __future__ import annotations

import pytest

from slimbox.abi.syscalls import BASE_TYPES, BY_NAME, SYSCALLS
from slimbox.shims.linux.args import converter, converters, decoding, masks_and_signs

U64_MAX = (1 << 64) - 1


@pytest.mark.parametrize("type_name", ["fd", "dirfd", "int", "pid", "enum:whence", "enum:signal"])
def test_c_ints_are_the_low_32_bits_sign_extended(type_name):
    convert = converter(type_name)
    assert convert(5) == 5
    assert convert(0xFFFFFFFF) == -1
    assert convert(U64_MAX) == -1
    assert convert(0xFFFFFF9C) == -100  # AT_FDCWD as a 32-bit value
    assert convert(0x1_0000_0007) == 7  # garbage in the upper half is ignored, as by the kernel
    assert convert(0x8000_0000) == -(1 << 31)
    assert convert(0x7FFF_FFFF) == (1 << 31) - 1


@pytest.mark.parametrize("type_name", ["uid", "gid"])
def test_ids_are_unsigned_32_bits_with_minus_one_kept_for_no_change(type_name):
    convert = converter(type_name)
    assert convert(5) == 5
    assert convert(0xFFFFFFFF) == convert(U64_MAX) == -1
    assert convert(0xFFFFFFFE) == 0xFFFFFFFE  # a valid id, never a negative number
    assert convert(0x8000_0000) == 1 << 31
    assert convert(0x1_0000_0007) == 7


@pytest.mark.parametrize("type_name", ["uint", "mode", "flags:open", "flags:prot"])
def test_unsigned_ints_are_the_low_32_bits(type_name):
    convert = converter(type_name)
    assert convert(U64_MAX) == 0xFFFFFFFF
    assert convert(0x1_0000_0007) == 7
    assert convert(0o644) == 0o644


@pytest.mark.parametrize("type_name", ["long", "ssize", "off"])
def test_signed_longs_use_all_64_bits(type_name):
    convert = converter(type_name)
    assert convert(U64_MAX) == -1
    assert convert(0xFFFFFFFF) == 0xFFFFFFFF
    assert convert(1 << 63) == -(1 << 63)
    assert convert((1 << 63) - 1) == (1 << 63) - 1


@pytest.mark.parametrize("type_name", ["ulong", "size", "dev", "path", "str", "strv", "inbuf", "outbuf", "ptr",
                                       "addr"])
def test_unsigned_longs_and_pointers_are_unchanged(type_name):
    convert = converter(type_name)
    for value in (0, 1, 0xFFFFFFFF, 1 << 63, U64_MAX):
        assert convert(value) == value


def test_every_type_of_every_prototype_has_a_converter():
    for spec in SYSCALLS:
        assert len(converters(spec)) == len(spec.params)
    assert {p.type for s in SYSCALLS for p in s.params if ":" not in p.type} <= set(BASE_TYPES)
    for name in BASE_TYPES:
        converter(name)
    with pytest.raises(KeyError):
        converter("no-such-type")


def test_converters_follow_the_prototype_order():
    read = converters(BY_NAME["read"])
    assert [c(U64_MAX) for c in read] == [-1, U64_MAX, U64_MAX]  # fd, buf, count
    lseek = converters(BY_NAME["lseek"])
    assert [c(U64_MAX) for c in lseek] == [-1, -1, -1]  # fd, off_t, whence (enum)


_SAMPLES = (0, 1, 5, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1_0000_0000, 0xFFFFFFFF_FFFFFF9C, (1 << 63) - 1,
            1 << 63, U64_MAX)


@pytest.mark.parametrize("spec", SYSCALLS, ids=lambda spec: spec.name)
def test_the_inline_arithmetic_gives_what_the_converters_give(spec):
    # the dispatcher decodes with ((raw & mask) ^ sign) - sign instead of calling converters
    k = masks_and_signs(spec)
    convert = converters(spec)
    if k is None:
        assert any(p.type in ("uid", "gid") for p in spec.params)
        return
    assert len(k) == 2 * len(convert)
    for index, c in enumerate(convert):
        mask, sign = k[2 * index], k[2 * index + 1]
        for raw in _SAMPLES:
            assert ((raw & mask) ^ sign) - sign == c(raw)


def test_ids_have_no_inline_form():
    assert masks_and_signs(BY_NAME["setuid"]) is None
    assert masks_and_signs(BY_NAME["getpid"]) == ()
    assert masks_and_signs(BY_NAME["read"]) == (0xFFFFFFFF, 0x80000000, U64_MAX, 0, U64_MAX, 0)


def test_decoding_gives_the_count_masks_and_converters_of_each_prototype():
    known: dict = {}
    for spec in SYSCALLS:
        assert decoding(spec, known) == (len(spec.params), masks_and_signs(spec), converters(spec)), spec.name
    assert known  # each parameter decoded once, then found again
