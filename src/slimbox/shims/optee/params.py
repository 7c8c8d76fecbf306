"""The four TEE_Param values of a request, as the client gives them and gets them back,
and their place in the TA's memory (struct utee_params and the memref buffers)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from slimbox.shims.optee.abi import (
    PARAM_MEMREF_INOUT, PARAM_MEMREF_INPUT, PARAM_MEMREF_OUTPUT, PARAM_NONE, PARAM_TYPE_NAMES,
    PARAM_VALUE_INOUT, PARAM_VALUE_INPUT, PARAM_VALUE_OUTPUT, TEE_NUM_PARAMS,
)

_TYPE_BY_NUMBER = {number: name for name, number in PARAM_TYPE_NAMES.items()}
VALUE_TYPES = (PARAM_VALUE_INPUT, PARAM_VALUE_OUTPUT, PARAM_VALUE_INOUT)
MEMREF_TYPES = (PARAM_MEMREF_INPUT, PARAM_MEMREF_OUTPUT, PARAM_MEMREF_INOUT)
#: the largest buffer a client may pass or ask for in one parameter
MAX_MEMREF = 4 << 20


class ParamError(ValueError):
    """A parameter the client described wrongly (the message says which and why)."""


@dataclass
class Param:
    """One TEE_Param: a value pair, or a memory reference with its data and buffer size."""

    type: int = PARAM_NONE
    a: int = 0
    b: int = 0
    data: bytes = b""
    #: the buffer's size: for output references what the TA may fill, afterwards what it wrote
    size: int = 0

    @classmethod
    def value_input(cls, a: int, b: int = 0) -> Param:
        return cls(PARAM_VALUE_INPUT, a, b)

    @classmethod
    def value_inout(cls, a: int, b: int = 0) -> Param:
        return cls(PARAM_VALUE_INOUT, a, b)

    @classmethod
    def value_output(cls) -> Param:
        return cls(PARAM_VALUE_OUTPUT)

    @classmethod
    def memref_input(cls, data: bytes) -> Param:
        return cls(PARAM_MEMREF_INPUT, data=bytes(data), size=len(data))

    @classmethod
    def memref_output(cls, size: int) -> Param:
        return cls(PARAM_MEMREF_OUTPUT, size=size)

    @classmethod
    def memref_inout(cls, data: bytes, size: int | None = None) -> Param:
        return cls(PARAM_MEMREF_INOUT, data=bytes(data), size=len(data) if size is None else size)

    @property
    def type_name(self) -> str:
        return _TYPE_BY_NUMBER.get(self.type, str(self.type))

    def check(self) -> None:
        if self.type not in _TYPE_BY_NUMBER:
            raise ParamError(f"unknown parameter type {self.type}")
        if self.type in VALUE_TYPES and not (0 <= self.a <= 0xFFFFFFFF and 0 <= self.b <= 0xFFFFFFFF):
            raise ParamError("values are 32-bit unsigned integers")
        if self.type in MEMREF_TYPES:
            if not 0 <= self.size <= MAX_MEMREF or len(self.data) > MAX_MEMREF:
                raise ParamError(f"a memory reference holds at most {MAX_MEMREF} bytes")
            if len(self.data) > self.size:
                raise ParamError("the data is larger than the buffer")

    def is_output(self) -> bool:
        return self.type in (PARAM_VALUE_OUTPUT, PARAM_VALUE_INOUT, PARAM_MEMREF_OUTPUT, PARAM_MEMREF_INOUT)

    def to_json(self) -> dict:
        if self.type in VALUE_TYPES:
            return {"type": self.type_name, "value_a": self.a, "value_b": self.b}
        if self.type in MEMREF_TYPES:
            return {"type": self.type_name, "size": self.size, "data_base64": base64.b64encode(self.data).decode()}
        return {"type": self.type_name}

    @classmethod
    def from_json(cls, spec: dict) -> Param:
        if not isinstance(spec, dict) or spec.get("type") not in PARAM_TYPE_NAMES:
            raise ParamError(f"a parameter needs a type, one of {', '.join(PARAM_TYPE_NAMES)}: {spec!r}")
        kind = PARAM_TYPE_NAMES[spec["type"]]
        try:
            data = base64.b64decode(spec.get("data_base64", ""), validate=True)
        except (ValueError, TypeError):
            raise ParamError(f"data_base64 is not base64: {spec!r}") from None
        param = cls(kind, _int(spec, "value_a"), _int(spec, "value_b"))
        if kind in MEMREF_TYPES:
            param.data = data if kind != PARAM_MEMREF_OUTPUT else b""
            param.size = _int(spec, "buffer_size", len(param.data)) if kind != PARAM_MEMREF_INPUT else len(data)
        param.check()
        return param


def _int(spec: dict, key: str, default: int = 0) -> int:
    value = spec.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParamError(f"{key} must be an integer: {spec!r}")
    return value


@dataclass
class ParamSet:
    params: list[Param] = field(default_factory=lambda: [Param() for _ in range(TEE_NUM_PARAMS)])

    @classmethod
    def of(cls, params: list[Param] | tuple[Param, ...] | None) -> ParamSet:
        given = list(params or [])
        if len(given) > TEE_NUM_PARAMS:
            raise ParamError(f"at most {TEE_NUM_PARAMS} parameters")
        for param in given:
            if not isinstance(param, Param):
                raise ParamError(f"not a Param: {param!r}")
            param.check()
        return cls([Param(p.type, p.a, p.b, p.data, p.size) for p in given] +
                   [Param() for _ in range(TEE_NUM_PARAMS - len(given))])

    def types(self) -> int:
        return sum(p.type << (4 * i) for i, p in enumerate(self.params))
