"""The OP-TEE personality: a TA process's syscalls, decoded by OP-TEE's numbers.

The TA library issues `syscall` with the utee number in rax and up to eight arguments
in rdi, rsi, rdx, r10, r8, r9, r12, r13 (OP-TEE allows eight; the last two are read
from the register file only by the calls that take them). While a loader (ldelf) runs
in the process, numbers are looked up in the ldelf table instead. A call no table
handles returns TEE_ERROR_NOT_SUPPORTED and is logged by name once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.exceptions import UnsupportedAlgorithm

from slimbox.kernel.errors import LinuxError
from slimbox.kernel.kernel import NO_REPLY
from slimbox.platforms.base import GuestMemoryError
from slimbox.shims.optee.abi import TEE_ERROR_ACCESS_DENIED, TEE_ERROR_BAD_PARAMETERS, TEE_ERROR_NOT_SUPPORTED
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.table import LDELF, UTEE

if TYPE_CHECKING:
    from slimbox.kernel.task import Task
    from slimbox.shims.optee.instance import TaInstance


class OpteePersonality:
    name = "optee"

    def __init__(self) -> None:
        self.instance: TaInstance | None = None
        self._reported: set[str] = set()

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
            return TEE_ERROR_NOT_SUPPORTED
        values = list(args[:entry.arity])
        if entry.arity > 6:
            regs = task.context.regs
            values += [regs.r12, regs.r13][:entry.arity - 6]
        try:
            result = entry.handler(instance, *values)
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

    def _report(self, task: Task, name: str, why: str) -> None:
        if name in self._reported:
            return
        self._reported.add(name)
        task.kernel.log.warning("unsupported OP-TEE syscall %s -> TEE_ERROR_NOT_SUPPORTED (%s; reported once)",
                                name, why)
