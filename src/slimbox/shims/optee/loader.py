"""Loading a TA: its ELF image through the kernel's loader, its header from `.ta_head`.

A TA is an x86-64 ELF executable (ET_EXEC or ET_DYN without an interpreter) whose
`.ta_head` section holds `struct ta_head`: the TA's UUID, the stack size it asks for,
and its flags (single instance, multi-session, keep alive). The file is read through
the sandbox's VFS like any program the kernel loads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from slimbox.kernel.errors import LinuxError
from slimbox.kernel.exec import fresh_layout, initial_registers
from slimbox.kernel.loader import ET_DYN, map_elf, parse_elf, read_header
from slimbox.kernel.mm import PAGE, PROT_READ, PROT_WRITE, page_up
from slimbox.shims.optee.abi import TA_HEAD, format_uuid

if TYPE_CHECKING:
    from slimbox.kernel.file import File
    from slimbox.kernel.task import Task

_SECTION = struct.Struct("<IIQQQQIIQQ")
MAX_STACK = 8 << 20
#: room above the TA's own stack for what the entry convention puts there
STACK_SLACK = 2 * PAGE


class TaFormatError(ValueError):
    """The file is not a TA this personality can run (the message says why)."""


@dataclass(frozen=True)
class TaHeader:
    uuid: bytes
    stack_size: int
    flags: int

    @property
    def uuid_text(self) -> str:
        return format_uuid(self.uuid)


def _section_headers(read_at: Callable[[int, int], bytes], header: bytes) -> tuple[list[tuple[int, ...]], int]:
    shoff = struct.unpack_from("<Q", header, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", header, 0x3A)
    if shentsize != _SECTION.size or not 0 < shnum <= 4096 or shstrndx >= shnum:
        raise TaFormatError("the ELF file has no usable section headers")
    table = read_at(shoff, shnum * shentsize)
    if len(table) != shnum * shentsize:
        raise TaFormatError("the ELF section headers are cut short")
    return [_SECTION.unpack_from(table, i * shentsize) for i in range(shnum)], shstrndx


def read_ta_header(read_at: Callable[[int, int], bytes]) -> TaHeader:
    """The TA's `struct ta_head`, found by section name; TaFormatError if absent."""
    header = read_at(0, 64)
    if len(header) < 64 or header[:4] != b"\x7fELF":
        raise TaFormatError("not an ELF file")
    sections, shstrndx = _section_headers(read_at, header)
    names = sections[shstrndx]
    strtab = read_at(names[4], min(names[5], 1 << 16))
    for section in sections:
        name_offset = section[0]
        name = strtab[name_offset:strtab.find(b"\0", name_offset)] if name_offset < len(strtab) else b""
        if name == b".ta_head":
            if section[5] < TA_HEAD.size:
                raise TaFormatError(".ta_head is smaller than struct ta_head")
            raw = read_at(section[4], TA_HEAD.size)
            if len(raw) != TA_HEAD.size:
                raise TaFormatError(".ta_head lies outside the file")
            uuid, stack_size, flags, _ = TA_HEAD.unpack(raw)
            return TaHeader(uuid, stack_size, flags)
    raise TaFormatError("no .ta_head section: not a TA")


@dataclass
class LoadedTa:
    entry: int
    stack_top: int


def load_ta(task: Task, file: File, header: TaHeader) -> LoadedTa:
    """Map the TA's segments and a stack of the size its header asks for into the task's
    (empty) process, with registers pointing nowhere yet: every request enters afresh."""
    if not 0 < header.stack_size <= MAX_STACK:
        raise TaFormatError(f"stack size {header.stack_size} out of range (1..{MAX_STACK})")
    entry, top = _map_program(task, file, page_up(header.stack_size), "the TA")
    task.context.regs = initial_registers(task.context.regs, entry, top)
    task.context.reset_fpu_state()
    return LoadedTa(entry, top)


def _map_program(task: Task, file: File, stack_size: int, what: str) -> tuple[int, int]:
    """Replace the task's address space with the static ELF `file` and a stack of
    `stack_size` bytes (plus slack); returns (entry point, stack top). `what` names the
    program in errors."""
    process = task.process
    mm = process.mm
    try:
        image = parse_elf(read_header(file), lambda off, n: file.pread(n, off))
    except LinuxError:
        raise TaFormatError(f"{what} is not an x86-64 ELF executable") from None
    if image.interp is not None:
        raise TaFormatError(f"{what} must not name an ELF interpreter")
    mm.clear()
    mm.layout = fresh_layout(process)
    bias = map_elf(mm, file, image, mm.layout.pie_base if image.type == ET_DYN else None)
    size = stack_size + STACK_SLACK
    top = mm.layout.stack_top
    mm.map_fixed_anonymous(top - size, size, PROT_READ | PROT_WRITE, b"[stack]")
    mm.stack_start, mm.stack_end = top - size, top
    return bias + image.entry, top


def load_ldelf(task: Task, file: File, uuid: bytes) -> tuple[int, int, int]:
    """Map an ldelf binary and its stack into the task's (empty) process, with a
    `struct ldelf_arg` naming the TA to load on the stack; returns (entry, initial stack
    pointer, address of the argument), the argument sitting at the stack pointer."""
    from slimbox.shims.optee.sys_ldelf import LDELF_ARG, LDELF_STACK_SIZE

    entry, top = _map_program(task, file, LDELF_STACK_SIZE, "ldelf")
    argument = (top - LDELF_ARG.size) & ~15
    task.process.mm.write(argument, LDELF_ARG.pack(uuid, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    task.context.regs = initial_registers(task.context.regs, entry, argument)
    task.context.reset_fpu_state()
    return entry, argument, argument
