"""How an OP-TEE syscall handler fails: with a TEE_Result, never a Python exception."""

from __future__ import annotations

from slimbox.shims.optee.abi import result_name


class TeeError(Exception):
    """The syscall returns `code` (a TEE_ERROR_* value) to the TA."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(f"{result_name(code)}{': ' + detail if detail else ''}")
        self.code = code
