"""Typed access to a TA's memory: every pointer is checked against the process's
mappings by the kernel's mm; a bad one is TEE_ERROR_ACCESS_DENIED, as in OP-TEE."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from slimbox.kernel.errors import LinuxError
from slimbox.platforms.base import GuestMemoryError
from slimbox.shims.optee.abi import TEE_ERROR_ACCESS_DENIED, TEE_ERROR_BAD_PARAMETERS, TEE_ERROR_SHORT_BUFFER
from slimbox.shims.optee.errors import TeeError

if TYPE_CHECKING:
    from slimbox.kernel.task import Task

#: the most one syscall copies in or out (a TA's buffers are small; this bounds the supervisor)
MAX_TRANSFER = 16 << 20


class TaMemory:
    """The memory of one TA instance."""

    def __init__(self, task: Task) -> None:
        self._mm = task.process.mm

    def read(self, addr: int, length: int) -> bytes:
        if length == 0:
            return b""
        if length > MAX_TRANSFER:
            raise TeeError(TEE_ERROR_BAD_PARAMETERS, f"a buffer of {length} bytes")
        try:
            return self._mm.read(addr, length)
        except (LinuxError, GuestMemoryError):
            raise TeeError(TEE_ERROR_ACCESS_DENIED, f"{length} bytes at {addr:#x}") from None

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        try:
            self._mm.write(addr, data)
        except (LinuxError, GuestMemoryError):
            raise TeeError(TEE_ERROR_ACCESS_DENIED, f"{len(data)} bytes at {addr:#x}") from None

    def read_u32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def write_u32(self, addr: int, value: int) -> None:
        self.write(addr, struct.pack("<I", value & 0xFFFFFFFF))

    def read_u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def write_u64(self, addr: int, value: int) -> None:
        self.write(addr, struct.pack("<Q", value & (1 << 64) - 1))

    def write_out(self, data: bytes, dest: int, length_addr: int, length_is_u64: bool = True) -> None:
        """Copy `data` to `dest` if the capacity at `length_addr` allows, and store the
        length there; TEE_ERROR_SHORT_BUFFER (with the needed length stored) if not."""
        capacity = self.read_u64(length_addr) if length_is_u64 else self.read_u32(length_addr)
        store = self.write_u64 if length_is_u64 else self.write_u32
        store(length_addr, len(data))
        if len(data) > capacity:
            raise TeeError(TEE_ERROR_SHORT_BUFFER)
        self.write(dest, data)

