"""execve: replacing a process's program (also how the first program starts).

Everything that can fail cleanly (finding the file, permissions, parsing the ELF
and its interpreter, #! lines) happens before the point of no return; after it,
the old address space is gone and a failure kills the process, as on Linux.
"""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.abi.regs import Regs
from slimbox.kernel.cred import MAY_EXEC, MAY_READ
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_RDONLY, File
from slimbox.kernel.loader import (
    AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_FLAGS, AT_GID, AT_HWCAP, AT_HWCAP2,
    AT_MINSIGSTKSZ, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_SECURE, AT_SYSINFO_EHDR, AT_UID, ET_DYN,
    MAX_ARG_STRLEN, MAX_ARGS_TOTAL, MAX_SCRIPT_DEPTH, ElfImage, ExecResult, StackSpec, build_stack,
    image_end, map_elf, parse_elf, parse_shebang, phdr_address, read_header,
)
from slimbox.kernel.mm import PAGE, PROT_READ, PROT_WRITE, Layout, page_up
from slimbox.kernel.signals import SIG_IGN, Action

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.fs.vfs import PathNode
    from slimbox.kernel.task import Process, Task

_STACK_GUARD_GAP = 256 * PAGE
_MMAP_GAP = 128 << 20


def _become_single_threaded(task: Task) -> None:
    """execve ends every other thread of the process; the caller takes the process's id."""
    process = task.process
    kernel = process.kernel
    for other in list(process.threads.values()):
        if other is not task:
            kernel.forget_task(other)
            other.context.exit_thread()
    if task.tid != process.pid:
        kernel.tasks.pop(task.tid, None)
        process.threads.pop(task.tid, None)
        task.tid = process.pid
        kernel.register(task)


def initial_registers(old: Regs, entry: int, stack_pointer: int) -> Regs:
    """Registers for a freshly loaded image: everything zero but rip, rsp and the
    segment selectors the host gave the thread."""
    regs = Regs.zeros()
    for name in ("cs", "ss", "ds", "es", "fs", "gs"):
        setattr(regs, name, getattr(old, name))
    regs.rip = entry
    regs.rsp = stack_pointer
    regs.eflags = 0x202
    return regs


def _check_args(strings: list[bytes]) -> int:
    total = 0
    for s in strings:
        if len(s) >= MAX_ARG_STRLEN:
            raise LinuxError(Errno.E2BIG)
        total += len(s) + 1 + 8
    return total


def _check_executable(process: Process, node: PathNode) -> File:
    inode = node.inode
    if inode.is_dir() or not inode.is_regular():
        raise LinuxError(Errno.EACCES)
    process.kernel.vfs.check_access(process.cred, inode, MAY_EXEC)
    file = inode.open(O_RDONLY)
    file.path = node
    return file


def _resolve(process: Process, start: PathNode, path: bytes) -> PathNode:
    return process.kernel.vfs.resolve(process.fs, process.cred, start, path, follow=True)


def _random_pages(process: Process, bits: int) -> int:
    if not process.kernel.config.aslr:
        return 0
    value = int.from_bytes(process.kernel.random_bytes(8), "little")
    return (value & ((1 << bits) - 1)) * PAGE


def fresh_layout(process: Process) -> Layout:
    """Address-space layout for a new image: x86-64 Linux shape, randomised like ASLR."""
    stack_limit = min(process.rlimits[3][0], 1 << 30)
    stack_top = 0x7FFFFFFFF000 - _random_pages(process, 22)
    mmap_base = stack_top - max(stack_limit, 8 << 20) - _STACK_GUARD_GAP - _MMAP_GAP
    mmap_base -= _random_pages(process, 28)
    pie_base = 0x555555554000 + _random_pages(process, 28)
    return Layout(mmap_base=mmap_base, stack_top=stack_top, pie_base=pie_base)


def execve(task: Task, start: PathNode, path: bytes, argv: list[bytes], envp: list[bytes]) -> ExecResult:
    """Load `path` into the calling task's process and point its registers at it."""
    return execve_node(task, _resolve(task.process, start, path), path, argv, envp)


def execve_node(task: Task, node: PathNode, path: bytes, argv: list[bytes], envp: list[bytes]) -> ExecResult:
    """As execve, for a file already found (`path` is what the program asked for: it
    becomes AT_EXECFN and a script's argument)."""
    process = task.process
    if _check_args(argv) + _check_args(envp) > MAX_ARGS_TOTAL:
        raise LinuxError(Errno.E2BIG)
    exec_path = path
    file: File | None = _check_executable(process, node)
    interp_file: File | None = None
    try:
        for depth in range(MAX_SCRIPT_DEPTH + 1):
            header = read_header(file)
            if not header.startswith(b"#!"):
                break
            if depth == MAX_SCRIPT_DEPTH:
                raise LinuxError(Errno.ELOOP)
            interp, extra = parse_shebang(header)
            argv = [interp] + ([extra] if extra is not None else []) + [path] + argv[1:]
            path = interp
            file.release()
            file = None
            node = _resolve(process, process.fs.cwd, interp)
            file = _check_executable(process, node)
        image = parse_elf(header, lambda off, n: file.pread(n, off))
        interp_image = None
        if image.interp is not None:
            interp_node = _resolve(process, process.fs.cwd, image.interp)
            if not interp_node.inode.is_regular():
                raise LinuxError(Errno.ELIBBAD)
            process.kernel.vfs.check_access(process.cred, interp_node.inode, MAY_READ)
            interp_file = interp_node.inode.open(O_RDONLY)
            interp_file.path = interp_node
            loaded = interp_file
            interp_image = parse_elf(read_header(loaded), lambda off, n: loaded.pread(n, off))
            if interp_image.interp is not None:
                raise LinuxError(Errno.ELIBBAD)
        # --- point of no return ---
        _become_single_threaded(task)
        # The old image's unmapping and the new one's mappings go to the host in one
        # batch where the platform can (the writes of the image and stack follow them).
        with process.mm.batched():
            return _load(task, node, file, image, interp_file, interp_image, argv, envp, exec_path)
    finally:
        if file is not None:
            file.release()
        if interp_file is not None:
            interp_file.release()


def _load(task: Task, node: PathNode, file: File, image: ElfImage, interp_file: File | None,
          interp_image: ElfImage | None, argv: list[bytes], envp: list[bytes], execfn: bytes) -> ExecResult:
    process = task.process
    kernel = process.kernel
    mm = process.mm
    mm.clear()
    mm.layout = fresh_layout(process)
    bias = map_elf(mm, file, image, mm.layout.pie_base if image.type == ET_DYN else None)
    entry = bias + image.entry
    interp_bias = 0
    if interp_file is not None and interp_image is not None:
        interp_bias = map_elf(mm, interp_file, interp_image, None)
    mm.set_brk_start(page_up(image_end(image, bias)) + _random_pages(process, 13))

    stack_size = min(process.rlimits[3][0], 1 << 30)
    stack_size = max(page_up(stack_size), 128 * PAGE)
    stack_top = mm.layout.stack_top
    mm.map_fixed_anonymous(stack_top - stack_size, stack_size, PROT_READ | PROT_WRITE, b"[stack]")
    mm.stack_start, mm.stack_end = stack_top - stack_size, stack_top

    cred = process.cred
    # the vDSO, when the process still has it, comes first, as Linux's x86-64 auxv has it
    vdso = mm.vdso_base()
    auxv = [(AT_SYSINFO_EHDR, vdso)] if vdso else []
    auxv += [
        (AT_HWCAP, kernel.config.hwcap.get(AT_HWCAP, 0)),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, 100),
        (AT_PHDR, phdr_address(image, bias)),
        (AT_PHENT, image.phentsize),
        (AT_PHNUM, image.phnum),
        (AT_BASE, interp_bias),
        (AT_FLAGS, 0),
        (AT_ENTRY, entry),
        (AT_UID, cred.uid),
        (AT_EUID, cred.euid),
        (AT_GID, cred.gid),
        (AT_EGID, cred.egid),
        (AT_SECURE, 0),
        (AT_HWCAP2, kernel.config.hwcap.get(AT_HWCAP2, 0)),
    ]
    if AT_MINSIGSTKSZ in kernel.config.hwcap:
        auxv.append((AT_MINSIGSTKSZ, kernel.config.hwcap[AT_MINSIGSTKSZ]))
    spec = StackSpec(argv, envp, execfn, auxv, kernel.random_bytes(16))
    sp, final_auxv = build_stack(mm, stack_top, spec)
    start = interp_bias + interp_image.entry if interp_image is not None else entry

    task.context.regs = initial_registers(task.context.regs, start, sp)
    task.context.reset_fpu_state()
    process.exe = node
    # Linux names the process after the path execve was given, not the file it reached
    name = execfn.rstrip(b"/").rsplit(b"/", 1)[-1] or node.name
    process.comm = name[:15]
    process.fds.close_on_exec()
    # handlers do not survive exec; ignored signals stay ignored
    process.sigactions = {sig: Action(SIG_IGN) for sig, act in process.sigactions.items() if act.handler == SIG_IGN}
    task.sigaltstack = (0, 2, 0)
    task.clear_child_tid = 0
    task.robust_list = (0, 0)
    if not process.vfork_released:
        process.vfork_released = True
        process.vfork_done.notify_all()
    return ExecResult(start, sp, node, list(argv), final_auxv)
