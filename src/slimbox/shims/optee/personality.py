"""The OP-TEE personality: a TA process's syscalls, decoded by OP-TEE's numbers.

The TA library issues `syscall` with the utee number in rax and up to eight arguments
in rdi, rsi, rdx, r10, r8, r9, r12, r13 (OP-TEE allows eight; the last two are read
from the register file only by the calls that take them). While a loader (ldelf) runs
in the process, numbers are looked up in the ldelf table instead. A call no table
handles returns TEE_ERROR_NOT_SUPPORTED and is logged by name once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from cryptography.exceptions import UnsupportedAlgorithm

from slimbox.kernel.errors import LinuxError
from slimbox.kernel.kernel import NO_REPLY
from slimbox.platforms.base import GuestMemoryError
from slimbox.shims.optee.abi import (
    TEE_ERROR_ACCESS_DENIED, TEE_ERROR_BAD_PARAMETERS, TEE_ERROR_NOT_SUPPORTED, result_name,
)
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.table import LDELF, UTEE

if TYPE_CHECKING:
    from slimbox.kernel.task import Task
    from slimbox.shims.optee.instance import TaInstance


class OpteePersonality:
    name = "optee"

    def __init__(self, strace: TextIO | None = None) -> None:
        self.instance: TaInstance | None = None
        self._reported: set[str] = set()
        #: where to print every call with its arguments and result, or None
        self._strace = strace

    def table_for_phase(self):
        return LDELF if self.instance is not None and self.instance.phase == "ldelf" else UTEE

    def syscall_name(self, nr: int) -> str:
        table = self.table_for_phase()
        entry = table.get(nr)
        prefix = "ldelf" if table is LDELF else "utee"
        return f"{prefix}_{entry.name}" if entry is not None else f"{prefix} syscall {nr}"

    @staticmethod
    def restartable(nr: int) -> bool:
        return False

    def syscall(self, task: Task, nr: int, args: list[int]) -> int | object:
        instance = self.instance
        entry = self.table_for_phase().get(nr)
        if instance is None or entry is None or entry.handler is None:
            self._report(task, self.syscall_name(nr), entry.note if entry is not None else "unknown number")
            if self._strace is not None:
                self._trace(nr, args[:6], TEE_ERROR_NOT_SUPPORTED)
            return TEE_ERROR_NOT_SUPPORTED
        values = list(args[:entry.arity])
        if entry.arity > 6:
            regs = task.context.regs
            values += [regs.r12, regs.r13][:entry.arity - 6]
        result = self._call(task, nr, entry.handler, instance, values)
        if self._strace is not None:
            self._trace(nr, values, result)
        return result

    def _call(self, task: Task, nr: int, handler, instance: TaInstance, values: list[int]) -> int | object:
        try:
            result = handler(instance, *values)
        except TeeError as exc:
            return exc.code
        except (LinuxError, GuestMemoryError):
            return TEE_ERROR_ACCESS_DENIED
        except (ValueError, OverflowError) as exc:
            # input the crypto library refused (a key of the wrong size...)
            task.kernel.log.debug("%s refused: %s", self.syscall_name(nr), exc)
            return TEE_ERROR_BAD_PARAMETERS
        except UnsupportedAlgorithm as exc:
            task.kernel.log.debug("%s: %s", self.syscall_name(nr), exc)
            return TEE_ERROR_NOT_SUPPORTED
        return NO_REPLY if result is NO_REPLY else result & 0xFFFFFFFF

    def _trace(self, nr: int, values: list[int], result: int | object) -> None:
        """One line per call, as --strace prints Linux calls: name, raw arguments, result."""
        assert self._strace is not None and self.instance is not None
        answer = "?" if result is NO_REPLY else result_name(result)
        arguments = ", ".join(hex(v) for v in values)
        self._strace.write(f"[{self.instance.name[:8]}] {self.syscall_name(nr)}({arguments}) = {answer}\n")

    def _report(self, task: Task, name: str, why: str) -> None:
        if name in self._reported:
            return
        self._reported.add(name)
        task.kernel.log.warning("unsupported OP-TEE syscall %s -> TEE_ERROR_NOT_SUPPORTED (%s; reported once)",
                                name, why)
