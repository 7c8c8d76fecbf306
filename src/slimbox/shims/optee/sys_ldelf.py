"""ldelf calls: what OP-TEE's user-mode loader uses to load a TA into its own process
(open the TA's binary by UUID, copy from it, map it, map zeroed memory, set
protections) before it returns the TA's entry point and stack in `struct ldelf_arg`.
Every address goes through the kernel's mm, as a Linux program's mmap does."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slimbox.kernel.errors import LinuxError
from slimbox.kernel.kernel import NO_REPLY
from slimbox.kernel.mm import (
    MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MREMAP_FIXED, MREMAP_MAYMOVE, PAGE, PROT_EXEC, PROT_READ,
    PROT_WRITE, page_up,
)
from slimbox.shims.optee import abi
from slimbox.shims.optee.errors import TeeError
from slimbox.shims.optee.sys_core import MAX_LOG

if TYPE_CHECKING:
    from slimbox.kernel.file import File
    from slimbox.shims.optee.instance import TaInstance

MAP_FLAG_SHAREABLE, MAP_FLAG_WRITEABLE, MAP_FLAG_EXECUTABLE, MAP_FLAG_BTI = 1, 2, 4, 8
#: struct ldelf_arg: uuid, is_32bit, flags, entry_func, load_addr, stack_ptr, dump_entry,
#: ftrace_entry, dl_entry, fbuf
LDELF_ARG = struct.Struct("<16sIIQQQQQQQ")
#: the stack OP-TEE gives ldelf (LDELF_STACK_SIZE)
LDELF_STACK_SIZE = 2 * PAGE
MAX_MAPPING = 64 << 20


@dataclass
class BinaryHandle:
    file: File
    size: int


def _prot(flags: int) -> int:
    if flags & MAP_FLAG_SHAREABLE and flags & MAP_FLAG_WRITEABLE:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "a shared mapping cannot be writable")
    return PROT_READ | (PROT_WRITE if flags & MAP_FLAG_WRITEABLE else 0) | \
        (PROT_EXEC if flags & MAP_FLAG_EXECUTABLE else 0)


def _place(inst: TaInstance, requested: int, size: int, pad_begin: int, pad_end: int) -> int:
    """The address for a mapping of `size` bytes: the one asked for, or a free range with
    `pad_begin`/`pad_end` bytes left unmapped around it."""
    if size == 0 or size > MAX_MAPPING or pad_begin > MAX_MAPPING or pad_end > MAX_MAPPING:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"a mapping of {size} bytes")
    if requested:
        if requested % PAGE:
            raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"address {requested:#x} is not page-aligned")
        return requested
    mm = inst.task.process.mm
    try:
        return mm.find_free(page_up(pad_begin) + page_up(size) + page_up(pad_end)) + page_up(pad_begin)
    except LinuxError:
        raise TeeError(abi.TEE_ERROR_OUT_OF_MEMORY) from None


def _map(inst: TaInstance, address: int, size: int, prot: int, file: File | None = None, offset: int = 0) -> None:
    """Map at exactly `address`, never over an existing mapping (as OP-TEE's vm_map)."""
    flags = MAP_PRIVATE | MAP_FIXED_NOREPLACE | (MAP_ANONYMOUS if file is None else 0)
    try:
        inst.task.process.mm.mmap(address, page_up(size), prot, flags, file, offset)
    except LinuxError as exc:
        raise TeeError(abi.TEE_ERROR_OUT_OF_MEMORY if exc.errno == 12 else abi.TEE_ERROR_BAD_PARAMETERS) from None


def ldelf_return(inst: TaInstance, result: int) -> object:
    if inst.on_loader_return is not None:
        inst.on_loader_return(result & 0xFFFFFFFF)
    return NO_REPLY


def ldelf_log(inst: TaInstance, buf: int, length: int) -> int:
    text = inst.memory.read(buf, min(length, MAX_LOG))
    inst.kernel.log.info("ldelf for TA %s: %s", inst.name, text.decode(errors="replace").rstrip("\n"))
    return abi.TEE_SUCCESS


def ldelf_panic(inst: TaInstance, code: int) -> object:
    inst.kill(f"its loader (ldelf) panicked with code {code & 0xFFFFFFFF:#x}")
    return NO_REPLY


def map_zi(inst: TaInstance, va: int, size: int, pad_begin: int, pad_end: int, flags: int) -> int:
    address = _place(inst, inst.memory.read_u64(va), size, pad_begin, pad_end)
    _map(inst, address, size, PROT_READ | PROT_WRITE)
    inst.memory.write_u64(va, address)
    return abi.TEE_SUCCESS


def _not_permanent(inst: TaInstance, va: int, size: int) -> None:
    """The loader's own image and stack cannot be unmapped, reprotected or moved (as
    OP-TEE's permanent mappings): a confused or hostile ldelf cannot pull them away."""
    end = va + page_up(size)
    if any(start < end and va < stop for start, stop in inst.permanent):
        raise TeeError(abi.TEE_ERROR_ACCESS_DENIED, "the loader's own memory")


def unmap(inst: TaInstance, va: int, size: int) -> int:
    _not_permanent(inst, va, size)
    try:
        inst.task.process.mm.munmap(va, page_up(size))
    except LinuxError:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS) from None
    return abi.TEE_SUCCESS


def open_bin(inst: TaInstance, uuid: int, uuid_size: int, out: int) -> int:
    if uuid_size != 16:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"a UUID of {uuid_size} bytes")
    wanted = inst.memory.read(uuid, 16)
    if inst.open_binary is None:
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND)
    file = inst.open_binary(wanted)
    if file is None:
        raise TeeError(abi.TEE_ERROR_ITEM_NOT_FOUND, f"no TA {abi.format_uuid(wanted)}")
    handle = inst.handles.add(BinaryHandle(file, file.inode.size if hasattr(file.inode, "size") else 0))
    inst.memory.write_u32(out, handle)
    return abi.TEE_SUCCESS


def _binary(inst: TaInstance, handle: int) -> BinaryHandle:
    item = inst.handles.get(handle, BinaryHandle)
    if item is None:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"no binary {handle}")
    return item


def close_bin(inst: TaInstance, handle: int) -> int:
    _binary(inst, handle).file.release()
    inst.handles.remove(handle)
    return abi.TEE_SUCCESS


def map_bin(inst: TaInstance, va: int, size: int, handle: int, offset: int, pad_begin: int, pad_end: int,
            flags: int) -> int:
    binary = _binary(inst, handle)
    if offset % PAGE:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"offset {offset:#x} is not page-aligned")
    address = _place(inst, inst.memory.read_u64(va), size, pad_begin, pad_end)
    _map(inst, address, size, _prot(flags), binary.file, offset)
    inst.memory.write_u64(va, address)
    return abi.TEE_SUCCESS


def cp_from_bin(inst: TaInstance, destination: int, offset: int, size: int, handle: int) -> int:
    binary = _binary(inst, handle)
    if size > MAX_MAPPING:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, f"{size} bytes")
    data = binary.file.pread(size, offset)
    if len(data) != size:
        raise TeeError(abi.TEE_ERROR_BAD_FORMAT, "the copy runs past the end of the binary")
    inst.memory.write(destination, data)
    return abi.TEE_SUCCESS


def set_prot(inst: TaInstance, va: int, size: int, flags: int) -> int:
    _not_permanent(inst, va, size)
    try:
        inst.task.process.mm.mprotect(va, page_up(size), _prot(flags))
    except LinuxError:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS) from None
    return abi.TEE_SUCCESS


def remap(inst: TaInstance, old_va: int, new_va: int, size: int, pad_begin: int, pad_end: int) -> int:
    _not_permanent(inst, old_va, size)
    address = _place(inst, inst.memory.read_u64(new_va), size, pad_begin, pad_end)
    mm = inst.task.process.mm
    if any(vma.start < address + page_up(size) and address < vma.end for vma in mm.vmas()):
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS, "the new address is in use")
    try:
        mm.mremap(old_va, page_up(size), page_up(size), MREMAP_MAYMOVE | MREMAP_FIXED, address)
    except LinuxError:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS) from None
    inst.memory.write_u64(new_va, address)
    return abi.TEE_SUCCESS


def gen_rnd_num(inst: TaInstance, buf: int, size: int) -> int:
    if size > MAX_MAPPING:
        raise TeeError(abi.TEE_ERROR_BAD_PARAMETERS)
    inst.memory.write(buf, inst.kernel.random_bytes(size))
    return abi.TEE_SUCCESS
