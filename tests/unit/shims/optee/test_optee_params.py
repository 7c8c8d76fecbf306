"""Client parameters: JSON in and out, and the checks on what a client may pass."""

import pytest

from slimbox.shims.optee.abi import format_uuid, parse_uuid
from slimbox.shims.optee.params import Param, ParamError, ParamSet


def test_json_round_trip():
    param = Param.from_json({"type": "memref_inout", "data_base64": "aGVsbG8=", "buffer_size": 8})
    assert (param.data, param.size) == (b"hello", 8)
    assert Param.from_json({"type": "memref_output", "buffer_size": 32}).size == 32
    value = Param.from_json({"type": "value_inout", "value_a": 1, "value_b": 2})
    assert value.to_json() == {"type": "value_inout", "value_a": 1, "value_b": 2}


@pytest.mark.parametrize("spec", [
    {"type": "value_input", "value_a": 1 << 32},
    {"type": "value_input", "value_a": "1"},
    {"type": "memref_inout", "data_base64": "aGVsbG8=", "buffer_size": 2},
    {"type": "memref_input", "data_base64": "!!"},
    {"type": "memref_output", "buffer_size": -1},
    {"type": "nothing"},
    "value_input",
])
def test_bad_parameters_are_refused(spec):
    with pytest.raises(ParamError):
        Param.from_json(spec)


def test_types_word_and_count():
    params = ParamSet.of([Param.value_input(1), Param.memref_output(4)])
    assert params.types() == 0x61
    with pytest.raises(ParamError):
        ParamSet.of([Param()] * 5)


def test_uuid_text_round_trip():
    text = "8aaaf200-2450-11e4-abe2-0002a5d5c51b"
    assert format_uuid(parse_uuid(text)) == text
    assert parse_uuid(text)[:4] == bytes.fromhex("00f2aa8a")  # time_low is little-endian, as the TA stores it
    with pytest.raises(ValueError):
        parse_uuid("8aaaf200-2450")
