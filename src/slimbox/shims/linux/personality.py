"""The Linux personality: decode a syscall by its prototype and run its handler."""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.abi.syscalls import name_of
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.kernel import NO_REPLY
from slimbox.shims.linux.args import converters, decoding
from slimbox.shims.linux.strace import Strace, format_call, format_result
from slimbox.shims.linux.table import BY_NAME, BY_NUMBER, NOT_IMPLEMENTED, Entry

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable, TextIO
    from slimbox.kernel.task import Task

_ENOSYS = -Errno.ENOSYS
_NEVER_RESTARTED = frozenset(
    BY_NAME[name].nr for name in (
        "poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "epoll_pwait2", "pause",
        "rt_sigsuspend", "rt_sigtimedwait", "nanosleep", "clock_nanosleep", "io_getevents", "io_pgetevents",
        "semtimedop", "msgrcv", "msgsnd", "recvmmsg",
    ))


class Dispatch(dict):
    """nr -> (handler, argument count, masks and signs or None, argument converters,
    entry) of each handled syscall, decoded the first time it is asked for: a run uses a
    few dozen of the several hundred, and decoding them all was most of making a
    personality. A syscall without a handler is a KeyError."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        super().__init__()
        self._known: dict = {}  # the conversions of the parameters decoded so far

    def __missing__(self, nr: int) -> tuple[Callable[..., int], int, tuple[int, ...] | None,
                                            tuple[Callable[[int], int], ...], Entry]:
        entry = BY_NUMBER.get(nr)
        if entry is None or entry.handler is None:
            raise KeyError(nr)
        found = self[nr] = (entry.handler, *decoding(entry.spec, self._known), entry)
        return found

    def decode_all(self) -> None:
        for nr, entry in BY_NUMBER.items():
            if entry.handler is not None:
                self[nr]


class LinuxPersonality:
    name = "linux"

    def __init__(self, strace: TextIO | None = None) -> None:
        self._strace = Strace(strace) if strace is not None else None
        self._dispatch = Dispatch()

    @staticmethod
    def syscall_name(nr: int) -> str:
        return name_of(nr)

    @staticmethod
    def restartable(nr: int) -> bool:
        """Whether an interrupted call may run again after a SA_RESTART handler (Linux
        never restarts waits with timeouts or for signals)."""
        return nr not in _NEVER_RESTARTED

    def syscall(self, task: Task, nr: int, args: list[int]) -> int | object:
        try:
            handler, count, k, convert, entry = self._dispatch[nr]
        except KeyError:
            return self._unsupported(task, nr, args)
        if self._strace is not None:
            return self._traced(task, handler, entry, [c(a) for c, a in zip(convert, args)])
        if not count:
            return handler(task)
        if k is None:
            return handler(task, *[c(a) for c, a in zip(convert, args)])
        # the converters' arithmetic written out (args.masks_and_signs): this runs for
        # every syscall, and a call per argument cost more than the handler of many
        if count == 1:
            return handler(task, ((args[0] & k[0]) ^ k[1]) - k[1])
        if count == 2:
            return handler(task, ((args[0] & k[0]) ^ k[1]) - k[1], ((args[1] & k[2]) ^ k[3]) - k[3])
        if count == 3:
            return handler(task, ((args[0] & k[0]) ^ k[1]) - k[1], ((args[1] & k[2]) ^ k[3]) - k[3],
                           ((args[2] & k[4]) ^ k[5]) - k[5])
        return handler(task, *[((a & k[i]) ^ k[i + 1]) - k[i + 1] for i, a in zip(range(0, 2 * count, 2), args)])

    def _traced(self, task: Task, handler: Callable[..., int], entry: Entry, values: list[int]) -> int | object:
        strace = self._strace
        assert strace is not None
        if "_traced" not in task.restart:
            task.restart["_traced"] = format_call(task, entry.spec, values)
        call = task.restart["_traced"]
        try:
            result = handler(task, *values)
        except Block:
            raise
        except LinuxError as exc:
            strace.line(task, f"{call} = {format_result(entry.spec, -exc.errno)}")
            raise
        if result is NO_REPLY:
            strace.line(task, f"{call} = ?")
        else:
            strace.line(task, f"{call} = {format_result(entry.spec, result)}")
        return result

    def _unsupported(self, task: Task, nr: int, args: list[int]) -> int:
        entry = BY_NUMBER.get(nr)
        if entry is not None:
            values = [c(a) for c, a in zip(converters(entry.spec), args)]
            described = format_call(task, entry.spec, values)
            name = entry.name
        else:
            name = name_of(nr)
            described = f"{name}({', '.join(hex(a) for a in args)})"
        deliberate = entry is not None and entry.note != NOT_IMPLEMENTED
        task.kernel.report_unsupported(name, described, deliberate=deliberate)
        if self._strace is not None:
            self._strace.line(task, f"{described} = -1 ENOSYS")
        return _ENOSYS
