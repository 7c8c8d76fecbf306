"""The program loader: ELF executables (static, static-pie, dynamic) and #! scripts.

Files are read through the sandbox VFS, never from the host by path. Dynamic
programs get their PT_INTERP loaded the same way. The initial stack carries argv,
envp and an auxiliary vector; AT_SYSINFO_EHDR is in it only where the platform left
its host's vDSO in the address space (MemoryManager.vdso_base), so elsewhere libcs
read the clocks with syscalls the kernel answers.
"""

from __future__ import annotations

import struct

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_RDONLY, File
from slimbox.kernel.mm import (
    MAP_FIXED, MAP_PRIVATE, PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, MemoryManager, page_down, page_up,
)
from slimbox.kernel.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable
    from slimbox.kernel.fs.vfs import PathNode

ELF_MAGIC = b"\x7fELF"
ET_EXEC, ET_DYN = 2, 3
EM_X86_64 = 62
PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_SYSINFO_EHDR, AT_MINSIGSTKSZ = 23, 25, 26, 31, 33, 51

MAX_SCRIPT_DEPTH = 5          # nested #! interpreters Linux (5.8 and later) follows
SHEBANG_MAX = 256             # Linux reads this much of a file's start (BINPRM_BUF_SIZE)
MAX_ARG_STRLEN = 32 * PAGE    # one argument or environment string
MAX_ARGS_TOTAL = 2 * 1024 * 1024  # all of argv + envp (Linux allows a quarter of the stack limit)


class ProgramHeader(Record):
    __slots__ = ("type", "flags", "offset", "vaddr", "filesz", "memsz")

    def __init__(self, type: int, flags: int, offset: int, vaddr: int, filesz: int, memsz: int) -> None:
        self.type = type
        self.flags = flags
        self.offset = offset
        self.vaddr = vaddr
        self.filesz = filesz
        self.memsz = memsz


class ElfImage(Record):
    __slots__ = ("type", "entry", "phoff", "phentsize", "phnum", "headers", "interp")

    def __init__(self, type: int, entry: int, phoff: int, phentsize: int, phnum: int, headers: list[ProgramHeader],
                 interp: bytes | None) -> None:
        self.type = type
        self.entry = entry
        self.phoff = phoff
        self.phentsize = phentsize
        self.phnum = phnum
        self.headers = headers
        self.interp = interp

    def loads(self) -> list[ProgramHeader]:
        return [h for h in self.headers if h.type == PT_LOAD]


class ExecResult(Record):
    """What execve produced: where to start, and what /proc will show."""

    __slots__ = ("entry", "stack_pointer", "exe", "argv", "auxv")

    def __init__(self, entry: int, stack_pointer: int, exe: PathNode, argv: list[bytes],
                 auxv: list[tuple[int, int]] | None = None) -> None:
        self.entry = entry
        self.stack_pointer = stack_pointer
        self.exe = exe
        self.argv = argv
        self.auxv = [] if auxv is None else auxv


class ExecRequest(Record):
    __slots__ = ("path", "argv", "envp")

    def __init__(self, path: bytes, argv: list[bytes], envp: list[bytes]) -> None:
        self.path = path
        self.argv = argv
        self.envp = envp


def parse_elf(header: bytes, read_at: Callable[[int, int], bytes]) -> ElfImage:
    """Validate an x86-64 ELF executable; ENOEXEC for anything we cannot run."""
    if len(header) < _EHDR.size or header[:4] != ELF_MAGIC:
        raise LinuxError(Errno.ENOEXEC)
    (ident, e_type, machine, _version, entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum,
     _shentsize, _shnum, _shstrndx) = _EHDR.unpack_from(header)
    if ident[4] != 2 or ident[5] != 1 or machine != EM_X86_64 or e_type not in (ET_EXEC, ET_DYN):
        raise LinuxError(Errno.ENOEXEC)
    if phentsize != _PHDR.size or not 0 < phnum <= 512:
        raise LinuxError(Errno.ENOEXEC)
    table = read_at(phoff, phnum * phentsize)
    if len(table) != phnum * phentsize:
        raise LinuxError(Errno.ENOEXEC)
    headers = []
    interp = None
    for index in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, p_align = _PHDR.unpack_from(
            table, index * phentsize)
        headers.append(ProgramHeader(p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz))
        if p_type == PT_LOAD:
            if p_filesz > p_memsz or (p_offset - p_vaddr) % PAGE:
                raise LinuxError(Errno.ENOEXEC)
        elif p_type == PT_INTERP:
            if interp is not None or not 1 < p_filesz <= 4096:
                raise LinuxError(Errno.ENOEXEC)
            raw = read_at(p_offset, p_filesz)
            if len(raw) != p_filesz or not raw.endswith(b"\0") or b"\0" in raw[:-1]:
                raise LinuxError(Errno.ENOEXEC)
            interp = raw[:-1]
    image = ElfImage(e_type, entry, phoff, phentsize, phnum, headers, interp)
    if not image.loads():
        raise LinuxError(Errno.ENOEXEC)
    return image


def parse_shebang(header: bytes) -> tuple[bytes, bytes | None]:
    """(interpreter, optional single argument) from a '#!' line, as Linux splits it:
    the interpreter ends at the first blank, the rest (trimmed, inner blanks kept) is one
    argument; a line that does not end within the buffer may cut the argument, but an
    interpreter path cut short is ENOEXEC."""
    complete = len(header) < SHEBANG_MAX  # the file ended inside the buffer (Linux pads with NULs)
    buffer = header[2:SHEBANG_MAX - 1].split(b"\0", 1)
    if len(buffer) > 1:
        complete = True
    line, newline, _ = buffer[0].partition(b"\n")
    blanks = b" \t"
    line = line.lstrip(blanks)
    interp_end = len(line)
    for index, byte in enumerate(line):
        if byte in blanks:
            interp_end = index
            break
    interp = line[:interp_end]
    if not interp:
        raise LinuxError(Errno.ENOEXEC)
    if not newline and not complete and interp_end == len(line):
        raise LinuxError(Errno.ENOEXEC)  # the interpreter's name runs past what was read
    rest = line[interp_end:].strip(blanks)
    return interp, (rest or None)


def _prot(flags: int) -> int:
    return (PROT_READ if flags & PF_R else 0) | (PROT_WRITE if flags & PF_W else 0) | \
           (PROT_EXEC if flags & PF_X else 0)


def map_elf(mm: MemoryManager, file: File, image: ElfImage, base_hint: int | None) -> int:
    """Map the PT_LOAD segments of `image`; returns the load bias."""
    loads = image.loads()
    low = page_down(min(h.vaddr for h in loads))
    high = page_up(max(h.vaddr + h.memsz for h in loads))
    if image.type == ET_DYN:
        span = high - low
        start = mm.find_free(span, base_hint or 0)
        bias = start - low
    else:
        bias = 0
    for header in loads:
        vaddr = bias + header.vaddr
        start = page_down(vaddr)
        prot = _prot(header.flags)
        file_end = vaddr + header.filesz
        mem_end = vaddr + header.memsz
        mapped_end = page_up(file_end) if header.filesz else start
        if mapped_end > start:
            mm.mmap(start, mapped_end - start, prot, MAP_PRIVATE | MAP_FIXED, file,
                    header.offset - (vaddr - start))
            if header.memsz > header.filesz and mapped_end > file_end:
                mm.write_force(file_end, bytes(mapped_end - file_end))  # bss starts in this page
        if page_up(mem_end) > mapped_end:
            mm.map_fixed_anonymous(mapped_end, page_up(mem_end) - mapped_end, prot)
    return bias


def phdr_address(image: ElfImage, bias: int) -> int:
    for header in image.headers:
        if header.type == PT_PHDR:
            return bias + header.vaddr
    for header in image.loads():
        if header.offset <= image.phoff < header.offset + header.filesz:
            return bias + header.vaddr + (image.phoff - header.offset)
    return 0


def image_end(image: ElfImage, bias: int) -> int:
    return max(bias + h.vaddr + h.memsz for h in image.loads())


class StackSpec(Record):
    __slots__ = ("argv", "envp", "execfn", "auxv", "random16")

    def __init__(self, argv: list[bytes], envp: list[bytes], execfn: bytes, auxv: list[tuple[int, int]],
                 random16: bytes) -> None:
        self.argv = argv
        self.envp = envp
        self.execfn = execfn
        self.auxv = auxv
        self.random16 = random16


def build_stack(mm: MemoryManager, top: int, spec: StackSpec) -> tuple[int, list[tuple[int, int]]]:
    """Write argv/envp/auxv below `top`; returns (stack pointer, final auxv)."""
    strings = bytearray()
    offsets: list[int] = []

    def add(s: bytes) -> int:
        offsets.append(len(strings))
        strings.extend(s + b"\0")
        return len(offsets) - 1

    arg_ids = [add(a) for a in spec.argv]
    env_ids = [add(e) for e in spec.envp]
    execfn_id = add(spec.execfn)
    platform_id = add(b"x86_64")
    strings_start = (top - len(strings) - 16) & ~15
    random_addr = strings_start - 16
    def at(index: int) -> int:
        return strings_start + offsets[index]

    auxv = list(spec.auxv) + [(AT_RANDOM, random_addr), (AT_EXECFN, at(execfn_id)),
                              (AT_PLATFORM, at(platform_id)), (AT_NULL, 0)]
    words = [len(spec.argv)] + [at(i) for i in arg_ids] + [0] + [at(i) for i in env_ids] + [0]
    for key, value in auxv:
        words += [key, value]
    table = struct.pack(f"<{len(words)}Q", *words)
    sp = (random_addr - len(table)) & ~15
    mm.write(sp, table)
    mm.write(random_addr, spec.random16)
    mm.write(strings_start, bytes(strings))
    if spec.argv:
        mm.arg_start = at(arg_ids[0])
        mm.arg_end = at(arg_ids[-1]) + len(spec.argv[-1]) + 1
    else:
        mm.arg_start = mm.arg_end = strings_start
    if spec.envp:
        mm.env_start = at(env_ids[0])
        mm.env_end = at(env_ids[-1]) + len(spec.envp[-1]) + 1
    else:
        mm.env_start = mm.env_end = mm.arg_end
    return sp, auxv


def read_header(file: File, length: int = 256) -> bytes:
    return file.pread(length, 0)


__all__ = [
    "AT_BASE", "AT_CLKTCK", "AT_EGID", "AT_ENTRY", "AT_EUID", "AT_FLAGS", "AT_GID", "AT_HWCAP",
    "AT_HWCAP2", "AT_MINSIGSTKSZ", "AT_PAGESZ", "AT_PHDR", "AT_PHENT", "AT_PHNUM", "AT_SECURE",
    "AT_UID", "ElfImage", "ExecRequest", "ExecResult", "MAX_ARGS_TOTAL", "MAX_ARG_STRLEN",
    "MAX_SCRIPT_DEPTH", "O_RDONLY", "StackSpec", "build_stack", "image_end", "map_elf", "parse_elf",
    "parse_shebang", "phdr_address", "read_header",
]
