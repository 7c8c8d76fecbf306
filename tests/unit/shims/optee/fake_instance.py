"""A TA instance without a process: memory is a bytearray behind the kernel's checks'
interface, so handlers run exactly as they do for a real TA."""

from __future__ import annotations

import logging
import os

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.shims.optee.instance import Handles
from slimbox.shims.optee.loader import TaHeader
from slimbox.shims.optee.memory import TaMemory

BASE = 0x10000
SIZE = 1 << 16


class FakeMm:
    def __init__(self) -> None:
        self.data = bytearray(SIZE)

    def check(self, addr: int, length: int, prot: int) -> None:
        if addr < BASE or addr + length > BASE + SIZE:
            raise LinuxError(Errno.EFAULT)

    def read(self, addr: int, length: int) -> bytes:
        self.check(addr, length, 1)
        return bytes(self.data[addr - BASE:addr - BASE + length])

    def write(self, addr: int, data: bytes) -> None:
        self.check(addr, len(data), 2)
        self.data[addr - BASE:addr - BASE + len(data)] = data


class FakeKernel:
    boot_ns = 0
    log = logging.getLogger("slimbox.optee.unit")

    @staticmethod
    def random_bytes(length: int) -> bytes:
        return os.urandom(length)

    @staticmethod
    def monotonic_ns() -> int:
        return 5_000_000_000

    @staticmethod
    def realtime_ns() -> int:
        return 1_700_000_000_000_000_000


class _Process:
    def __init__(self) -> None:
        self.mm = FakeMm()


class _Task:
    def __init__(self) -> None:
        self.process = _Process()
        self.restart: dict = {}


class FakeInstance:
    def __init__(self, storage=None) -> None:
        self.task = _Task()
        self.kernel = FakeKernel()
        self.memory = TaMemory(self.task)
        self.handles = Handles()
        self.storage = storage
        self.header = TaHeader(bytes(range(16)), 8192, 0)
        self.client_identity = (0, bytes(16))
        self.cancel_requested = False
        self.cancellation_masked = True
        self.name = "fake"
        self._next = BASE

    def put(self, data: bytes, size: int | None = None) -> int:
        """Place `data` in the TA's memory (in a buffer of `size` bytes); its address."""
        address = self._next
        self.memory.write(address, bytes(data).ljust(size or len(data), b"\0"))
        self._next += ((size or len(data) or 1) + 15) & ~15
        return address

    def u64(self, value: int) -> int:
        return self.put(value.to_bytes(8, "little"))

    def u32(self, value: int = 0) -> int:
        return self.put(value.to_bytes(4, "little"))
