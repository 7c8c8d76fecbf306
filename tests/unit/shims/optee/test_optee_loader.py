"""Reading a TA's header: anything but a well-formed ELF file with a .ta_head section
is a TaFormatError, never a crash."""

from __future__ import annotations

import random
import struct

import pytest

from slimbox.shims.optee.abi import TA_HEAD
from slimbox.shims.optee.loader import TaFormatError, read_ta_header

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")


def _elf(sections: list[tuple[bytes, bytes]]) -> bytes:
    """An ELF header, a string table and the given (name, contents) sections."""
    names = b"\0" + b"".join(name + b"\0" for name, _ in sections) + b".shstrtab\0"
    body = bytearray(64)
    offsets = []
    for _, contents in sections:
        offsets.append(len(body))
        body += contents
    strtab_offset = len(body)
    body += names
    shoff = len(body)
    headers = [_SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    position = 1
    for (name, contents), offset in zip(sections, offsets):
        headers.append(_SHDR.pack(position, 1, 0, 0, offset, len(contents), 0, 0, 1, 0))
        position += len(name) + 1
    headers.append(_SHDR.pack(position, 3, 0, 0, strtab_offset, len(names), 0, 0, 1, 0))
    body += b"".join(headers)
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    body[:64] = _EHDR.pack(ident, 2, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, len(headers), len(headers) - 1)
    return bytes(body)


def _reader(blob: bytes):
    return lambda offset, length: blob[offset:offset + length]


def test_the_header_is_found_by_section_name():
    head = TA_HEAD.pack(bytes(range(16)), 12288, 4, 0)
    header = read_ta_header(_reader(_elf([(b".text", b"\x90" * 8), (b".ta_head", head)])))
    assert (header.uuid, header.stack_size, header.flags) == (bytes(range(16)), 12288, 4)


@pytest.mark.parametrize("sections", [[(b".text", b"x")], [(b".ta_head", b"short")]])
def test_a_missing_or_short_header_is_refused(sections):
    with pytest.raises(TaFormatError):
        read_ta_header(_reader(_elf(sections)))


def test_garbage_and_cut_files_are_refused():
    good = _elf([(b".ta_head", TA_HEAD.pack(bytes(16), 4096, 0, 0))])
    chooser = random.Random(3)
    candidates = [b"", b"\x7fELF", good[:63], good[:len(good) - 10], bytes(200)]
    for _ in range(200):
        mutated = bytearray(good)
        for _ in range(chooser.randint(1, 8)):
            mutated[chooser.randrange(len(mutated))] = chooser.randrange(256)
        candidates.append(bytes(mutated))
    for blob in candidates:
        try:
            read_ta_header(_reader(blob))
        except TaFormatError:
            pass
