"""strace-style logging of syscalls, driven by the ABI prototypes."""

from __future__ import annotations

from slimbox.abi.errno import errno_name
from slimbox.abi.syscalls import SyscallSpec
from slimbox.kernel.errors import LinuxError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import TextIO
    from slimbox.kernel.task import Task

_STRING_SHOWN = 32
_STRV_SHOWN = 8


def _quote(data: bytes, limit: int = _STRING_SHOWN) -> str:
    shown = data[:limit]
    out = []
    for byte in shown:
        ch = chr(byte)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"' + ("..." if len(data) > limit else "")


def _string_at(task: Task, addr: int) -> str:
    if addr == 0:
        return "NULL"
    try:
        return _quote(task.mm.read_cstring(addr, 4095))
    except LinuxError:
        return f"{addr:#x}"


def _strv_at(task: Task, addr: int) -> str:
    if addr == 0:
        return "NULL"
    items = []
    try:
        for index in range(_STRV_SHOWN + 1):
            pointer = int.from_bytes(task.mm.read(addr + 8 * index, 8), "little")
            if pointer == 0:
                break
            if index == _STRV_SHOWN:
                items.append("...")
                break
            items.append(_string_at(task, pointer))
    except LinuxError:
        return f"{addr:#x}"
    return "[" + ", ".join(items) + "]"


def format_argument(task: Task, type_name: str, value: int, next_value: int | None) -> str:
    if type_name in ("path", "str"):
        return _string_at(task, value)
    if type_name == "strv":
        return _strv_at(task, value)
    if type_name == "inbuf":
        if value == 0:
            return "NULL"
        try:
            return _quote(task.mm.read(value, min(next_value or 0, _STRING_SHOWN + 1)))
        except LinuxError:
            return f"{value:#x}"
    if type_name in ("ptr", "outbuf", "addr"):
        return "NULL" if value == 0 else f"{value:#x}"
    if type_name == "dirfd" and value == -100:
        return "AT_FDCWD"
    if type_name == "mode":
        return f"{value:#o}"
    if type_name.startswith(("flags:", "enum:")):
        from slimbox.abi.flags import describe_value  # the enum classes are costly to import

        try:
            return describe_value(type_name, value)
        except (ValueError, KeyError):
            return f"{value:#x}"
    return str(value)


def format_call(task: Task, spec: SyscallSpec, args: list[int]) -> str:
    parts = []
    for index, param in enumerate(spec.params):
        following = args[index + 1] if index + 1 < len(args) else None
        parts.append(format_argument(task, param.type, args[index], following))
    return f"{spec.name}({', '.join(parts)})"


def format_result(spec: SyscallSpec, result: int) -> str:
    if -4096 < result < 0:
        errno = -result
        return f"-1 {errno_name(errno) or errno}"
    if spec.ret == "addr":
        return f"{result:#x}"
    return str(result)


class Strace:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, task: Task, text: str) -> None:
        self.out.write(f"[pid {task.tid:>5}] {text}\n")
        self.out.flush()
