"""utee calls for sessions a TA opens on other TAs: open, invoke, close.

The calling TA's `struct utee_params` and memref buffers are copied into a request
like a client application's; the callee runs while the caller waits in its syscall,
with the caller's UUID as its client identity (TEE_LOGIN_TRUSTED_APP); outputs are
copied back into the caller's memory. An instance already running an entry (a cycle
of calls) answers TEE_ERROR_BUSY, and nesting is bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slimbox.shims.optee import abi
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.params import MEMREF_TYPES, MAX_MEMREF, VALUE_TYPES, Param

if TYPE_CHECKING:
    from slimbox.shims.optee.client import Session, TeeCore
    from slimbox.shims.optee.instance import TaInstance


def _read_params(inst: TaInstance, address: int) -> tuple[list[Param], list[int]]:
    """The caller's parameters, and where each memref buffer lies in its memory."""
    if not address:
        return [], []
    types, *values = abi.UTEE_PARAMS.unpack(inst.memory.read(address, abi.UTEE_PARAMS.size))
    params, buffers = [], []
    for index in range(abi.TEE_NUM_PARAMS):
        kind = (types >> (4 * index)) & 0xF
        a, b = values[2 * index], values[2 * index + 1]
        if kind in VALUE_TYPES:
            params.append(Param(kind, a & 0xFFFFFFFF, b & 0xFFFFFFFF))
            buffers.append(0)
        elif kind in MEMREF_TYPES:
            if b > MAX_MEMREF:
                raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"a memref of {b} bytes")
            data = inst.memory.read(a, b) if kind != abi.PARAM_MEMREF_OUTPUT else b""
            params.append(Param(kind, data=data, size=b))
            buffers.append(a)
        elif kind == abi.PARAM_NONE:
            params.append(Param())
            buffers.append(0)
        else:
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"parameter type {kind}")
    return params, buffers


def _write_back(inst: TaInstance, address: int, params: list[Param], buffers: list[int]) -> None:
    if not address:
        return
    types, *values = abi.UTEE_PARAMS.unpack(inst.memory.read(address, abi.UTEE_PARAMS.size))
    for index, param in enumerate(params):
        if not param.is_output():
            continue
        if param.type in VALUE_TYPES:
            values[2 * index], values[2 * index + 1] = param.a, param.b
        else:
            capacity = values[2 * index + 1]
            inst.memory.write(buffers[index], param.data[:capacity])
            values[2 * index + 1] = param.size
    inst.memory.write(address, abi.UTEE_PARAMS.pack(types, *values))


def _core(inst: TaInstance) -> TeeCore:
    from slimbox.shims.optee.client import MAX_NESTING

    core = inst.tee
    if core is None:
        raise TeeError(abi.TEE_ERROR_NOT_SUPPORTED, "this instance has no TEE to call")
    if core.nesting >= MAX_NESTING:
        raise TeeError(abi.TEE_ERROR_BUSY, "TA sessions nested too deep")
    return core


def open_ta_session(inst: TaInstance, uuid: int, _cancel_timeout: int, params: int, session_out: int,
                    origin_out: int) -> int:
    from slimbox.shims.optee.client import OpenSessionError, TeeClientError

    core = _core(inst)
    target = inst.memory.read(uuid, 16)
    request, buffers = _read_params(inst, params)
    origin, code = abi.TEE_ORIGIN_TRUSTED_APP, abi.TEE_SUCCESS
    core.nesting += 1
    try:
        session = core.open_session(target, request, (abi.TEE_LOGIN_TRUSTED_APP, inst.header.uuid))
        _write_back(inst, params, session.opened_with, buffers)
        inst.memory.write_u32(session_out, inst.handles.add(session))
    except OpenSessionError as failure:
        _write_back(inst, params, failure.params, buffers)
        origin, code = failure.origin, failure.code
    except TeeClientError as failure:
        origin, code = failure.origin, failure.code
    finally:
        core.nesting -= 1
    if origin_out:
        inst.memory.write_u32(origin_out, origin)
    return code


def _session(inst: TaInstance, handle: int) -> Session:
    from slimbox.shims.optee.client import Session

    session = inst.handles.get(handle, Session)
    if session is None:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"no TA session {handle}")
    return session


def invoke_ta_command(inst: TaInstance, handle: int, _cancel_timeout: int, command: int, params: int,
                      origin_out: int) -> int:
    session = _session(inst, handle)
    core = _core(inst)
    request, buffers = _read_params(inst, params)
    core.nesting += 1
    try:
        result = session.invoke(command & 0xFFFFFFFF, request)
    finally:
        core.nesting -= 1
    _write_back(inst, params, result.params, buffers)
    if origin_out:
        inst.memory.write_u32(origin_out, result.origin)
    return result.code


def close_ta_session(inst: TaInstance, handle: int) -> int:
    session = _session(inst, handle)
    inst.handles.remove(handle)
    core = _core(inst)
    core.nesting += 1
    try:
        session.close()
    finally:
        core.nesting -= 1
    return abi.TEE_SUCCESS


def close_all(inst: TaInstance) -> None:
    """The sessions a dying or closing instance still holds on other TAs."""
    from slimbox.shims.optee.client import Session

    for handle, item in list(inst.handles.items.items()):
        if isinstance(item, Session):
            inst.handles.remove(handle)
            item.close()
