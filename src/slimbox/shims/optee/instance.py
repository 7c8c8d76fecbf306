"""One TA instance: a guest process running the TA, entered once per request.

A request (open session, invoke command, close session) is an *entry*: the kernel
writes `struct utee_params` and the memref buffers into the TA's memory, points the
thread at the TA's entry function with (function id, session id, params pointer,
command id) in rdi, rsi, rdx, rcx and a fresh stack, and runs the kernel's loop until
the TA calls `return` (its result), panics, or dies. Between entries the thread stays
stopped in its `return` syscall, which is never answered.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from slimbox.kernel.mm import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, page_up
from slimbox.kernel.signals import SIGKILL
from slimbox.shims.optee.abi import (
    PARAM_MEMREF_INPUT, TEE_ERROR_BUSY, TEE_ERROR_TARGET_DEAD, TEE_NUM_PARAMS, TEE_ORIGIN_TEE, TEE_ORIGIN_TRUSTED_APP,
    UTEE_PARAMS, format_uuid,
)
from slimbox.shims.optee.memory import TaMemory
from slimbox.shims.optee.params import MEMREF_TYPES, VALUE_TYPES, ParamSet

if TYPE_CHECKING:
    from slimbox.kernel.file import File
    from slimbox.kernel.kernel import Kernel
    from slimbox.kernel.task import Task
    from slimbox.shims.optee.loader import TaHeader
    from slimbox.shims.optee.storage import TaStorage

_ALIGN = 16


@dataclass
class Outcome:
    """What one entry gave: the TEE_Result, its origin, and the parameters as they came back."""

    code: int
    origin: int
    params: ParamSet


@dataclass
class Handles:
    """The instance's numbered objects (crypto states, key and persistent objects,
    enumerators); 0 is TEE_HANDLE_NULL and is never given out."""

    items: dict[int, object] = field(default_factory=dict)
    _next: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add(self, item: object) -> int:
        handle = next(self._next)
        self.items[handle] = item
        return handle

    def get(self, handle: int, kind: type | tuple[type, ...]) -> object | None:
        item = self.items.get(handle)
        return item if isinstance(item, kind) else None

    def remove(self, handle: int) -> None:
        self.items.pop(handle, None)


class TaInstance:
    def __init__(self, kernel: Kernel, task: Task, header: TaHeader, entry: int, stack_top: int,
                 storage: TaStorage | None, client_identity: tuple[int, bytes]) -> None:
        self.kernel = kernel
        self.task = task
        self.header = header
        self.entry = entry
        self.stack_top = stack_top
        self.storage = storage
        self.client_identity = client_identity
        self.memory = TaMemory(task)
        self.handles = Handles()
        #: "ldelf" while a loader runs in the process, then "ta"
        self.phase = "ta"
        #: the result of the entry in progress, once the TA has returned
        self.returned: int | None = None
        self.cancellation_masked = True
        self.cancel_requested = False
        self.sessions: set[int] = set()
        #: what ended the instance, for the log and the client
        self.death = ""
        #: called when a loader (ldelf) returns, with its result
        self.on_loader_return: Callable[[int], None] | None = None
        #: what ldelf's open_bin opens: the file of the TA with a UUID, or None
        self.open_binary: Callable[[bytes], File | None] | None = None
        #: the TEE this instance runs in, for the sessions a TA opens on other TAs
        self.tee: object = None
        #: an entry is running (a TA calling back into a busy instance gets TEE_ERROR_BUSY)
        self.busy = False
        #: [start, end) ranges ldelf may not unmap, reprotect or move: its own image and stack
        self.permanent: list[tuple[int, int]] = []
        #: the mapping requests are written to (see _request_area)
        self._area = 0
        self._area_size = 0

    @property
    def name(self) -> str:
        return format_uuid(self.header.uuid)

    @property
    def alive(self) -> bool:
        return self.task.process.alive

    # --- entering --------------------------------------------------------------------

    def enter(self, function: int, session_id: int, params: ParamSet, command: int,
              deadline_ns: int | None = None, client: tuple[int, bytes] | None = None,
              cancel_at_ns: int | None = None) -> Outcome:
        if not self.alive:
            return Outcome(TEE_ERROR_TARGET_DEAD, TEE_ORIGIN_TEE, params)
        if self.busy:
            return Outcome(TEE_ERROR_BUSY, TEE_ORIGIN_TEE, params)
        if client is not None:
            self.client_identity = client  # what gpd.client.identity reports during this entry
        self.busy = True
        self.cancel_requested = False
        timer = None if cancel_at_ns is None else self.kernel.add_timer(cancel_at_ns, self.request_cancellation)
        try:
            return self._enter(function, session_id, params, command, deadline_ns)
        finally:
            self.busy = False
            if timer is not None:
                timer.cancel()

    def request_cancellation(self) -> None:
        """TEEC_RequestCancellation for the entry in progress: the TA sees it when it
        unmasks cancellation, and a wait it is parked in ends with TEE_ERROR_CANCEL."""
        self.cancel_requested = True
        if self.alive and self.task.parked and not self.cancellation_masked:
            self.kernel.wake(self.task)

    def _enter(self, function: int, session_id: int, params: ParamSet, command: int,
               deadline_ns: int | None) -> Outcome:
        area = self._request_area(UTEE_PARAMS.size + sum(p.size + _ALIGN for p in params.params
                                                         if p.type in MEMREF_TYPES))
        buffers = self._write_params(area, params)
        regs = self.task.context.regs
        regs.rip = self.entry
        regs.rsp = self.stack_top - 8  # as after a call: the return address slot, never used
        regs.rdi, regs.rsi, regs.rdx, regs.rcx = function, session_id, area, command
        regs.rax = 0
        self.returned = None
        self.kernel.resume(self.task)
        self._run_until(lambda: self.returned is not None, deadline_ns)
        if self.returned is None:
            return Outcome(TEE_ERROR_TARGET_DEAD, TEE_ORIGIN_TEE, params)
        return Outcome(self.returned, TEE_ORIGIN_TRUSTED_APP, self._read_params(area, params, buffers))

    def _request_area(self, size: int) -> int:
        """Where a request's utee_params and buffers go: one mapping kept between entries
        (two injected syscalls fewer per request), grown when a request needs more."""
        size = page_up(size)
        if size > self._area_size:
            mm = self.task.process.mm
            if self._area:
                mm.munmap(self._area, self._area_size)
            self._area = mm.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
            self._area_size = size
        return self._area

    def _write_params(self, area: int, params: ParamSet) -> list[int]:
        """Lay out utee_params and the memref buffers in one write; output buffers are
        zeroed, so nothing of an earlier request shows through."""
        values = []
        buffers = []
        content = bytearray(UTEE_PARAMS.size)
        for param in params.params:
            if param.type in MEMREF_TYPES:
                content.extend(bytes(-len(content) % _ALIGN))
                buffers.append(area + len(content))
                values += [area + len(content), param.size]
                content.extend(param.data.ljust(param.size, b"\0"))
            else:
                values += [param.a, param.b] if param.type in VALUE_TYPES else [0, 0]
                buffers.append(0)
        content[:UTEE_PARAMS.size] = UTEE_PARAMS.pack(params.types(), *values)
        self.memory.write(area, bytes(content))
        return buffers

    def _read_params(self, area: int, sent: ParamSet, buffers: list[int]) -> ParamSet:
        _types, *values = UTEE_PARAMS.unpack(self.memory.read(area, UTEE_PARAMS.size))
        out = ParamSet.of(sent.params)
        for index in range(TEE_NUM_PARAMS):
            param = out.params[index]
            a, b = values[2 * index], values[2 * index + 1]
            if not param.is_output():
                continue
            if param.type in VALUE_TYPES:
                param.a, param.b = a & 0xFFFFFFFF, b & 0xFFFFFFFF
            elif param.type != PARAM_MEMREF_INPUT:
                # the TA reports how much it wrote, or how much it needs (short buffer)
                param.data = self.memory.read(buffers[index], min(b, param.size))
                param.size = b
        return out

    def run_loader(self, entry: int, stack_top: int, arg_address: int, deadline_ns: int | None = None) -> int:
        """Run ldelf (already mapped) until it returns; on success the TA's entry point and
        stack are those it wrote into `struct ldelf_arg`. Returns ldelf's TEE_Result."""
        from slimbox.shims.optee.sys_ldelf import LDELF_ARG

        results: list[int] = []
        self.permanent = [(vma.start, vma.end) for vma in self.task.process.mm.vmas()]
        self.phase = "ldelf"
        self.on_loader_return = results.append
        regs = self.task.context.regs
        regs.rip, regs.rsp, regs.rdi = entry, stack_top - 8, arg_address
        self.kernel.resume(self.task)
        self._run_until(lambda: bool(results), deadline_ns)
        self.on_loader_return = None
        if not results:
            return TEE_ERROR_TARGET_DEAD
        if results[0] != 0:
            self.kill(f"its loader (ldelf) returned {results[0]:#x}")
            return results[0]
        _uuid, is_32bit, _flags, entry_func, _load, stack_ptr, *_ = LDELF_ARG.unpack(
            self.memory.read(arg_address, LDELF_ARG.size))
        if is_32bit or not entry_func or not stack_ptr:
            self.kill("its loader (ldelf) gave no 64-bit entry point and stack")
            return TEE_ERROR_TARGET_DEAD
        self.entry, self.stack_top = entry_func, stack_ptr & ~(_ALIGN - 1)
        self.phase = "ta"
        return 0

    def _run_until(self, done: Callable[[], bool], deadline_ns: int | None) -> None:
        kernel = self.kernel
        while not done() and self.alive:
            if deadline_ns is not None:
                left = deadline_ns - kernel.monotonic_ns()
                if left <= 0:
                    self.kill("the request took longer than its time limit")
                    return
                kernel.step(left)
            else:
                kernel.step()
            if kernel.failure is not None:
                failure = kernel.failure
                kernel.failure = None
                self.kill(f"internal error: {failure}")
        if not self.alive and not self.death:
            process = self.task.process
            self.death = process.exit_description or "the TA's process ended"
            self.kernel.log.error("TA %s died: %s; its sessions end with TEE_ERROR_TARGET_DEAD",
                                  self.name, self.death)

    # --- ending ------------------------------------------------------------------------

    def kill(self, why: str) -> None:
        """End the instance (a panic, a fault, a time limit): its sessions are dead."""
        if not self.death:
            self.death = why
            self.kernel.log.error("TA %s died: %s; its sessions end with TEE_ERROR_TARGET_DEAD", self.name, why)
        if self.alive:
            self.kernel.exit_process(self.task.process, 0, SIGKILL, why)

    def close(self) -> None:
        if self.alive:
            self.kernel.exit_process(self.task.process, 0, SIGKILL, "instance closed")
