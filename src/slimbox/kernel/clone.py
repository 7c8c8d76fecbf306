"""clone, fork and vfork: new processes and threads.

The platform makes the host side (a copied address space, or a thread sharing this
one) and the kernel the rest: ids, shared or copied tables, the child's registers.
CLONE_VM without CLONE_THREAD (vfork, posix_spawn) is served with a copy of the
memory, the parent waiting until the child execs or exits as vfork requires.
"""

from __future__ import annotations

from slimbox.abi.errno import Errno
from slimbox.abi.regs import Regs
from slimbox.kernel.errors import Block, LinuxError
from slimbox.kernel.mm import TASK_SIZE, MemoryManager
from slimbox.kernel.task import Process, Task

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.kernel import Kernel

# plain ints (faster than IntFlag members in bit tests; a test checks them against the ABI)
CSIGNAL = 0xff
CLONE_VM = 0x100
CLONE_FS = 0x200
CLONE_FILES = 0x400
CLONE_SIGHAND = 0x800
CLONE_PIDFD = 0x1000
CLONE_VFORK = 0x4000
CLONE_PARENT = 0x8000
CLONE_THREAD = 0x10000
CLONE_NEWNS = 0x20000
CLONE_SETTLS = 0x80000
CLONE_PARENT_SETTID = 0x100000
CLONE_CHILD_CLEARTID = 0x200000
CLONE_CHILD_SETTID = 0x1000000
CLONE_NEWCGROUP = 0x2000000
CLONE_NEWUTS = 0x4000000
CLONE_NEWIPC = 0x8000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_CLEAR_SIGHAND = 0x100000000
CLONE_INTO_CGROUP = 0x200000000
_NAMESPACES = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET


def _validate(flags: int) -> None:
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise LinuxError(Errno.EINVAL)
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
        raise LinuxError(Errno.EINVAL)
    if flags & CLONE_FS and flags & CLONE_NEWNS:
        raise LinuxError(Errno.EINVAL)
    if flags & CLONE_THREAD and flags & CLONE_PIDFD:
        raise LinuxError(Errno.EINVAL)
    if flags & _NAMESPACES:
        raise LinuxError(Errno.EPERM)  # namespaces inside the sandbox are not offered


def _validate_tls(flags: int, tls: int) -> None:
    """A new thread pointer must be a user address, as for arch_prctl(ARCH_SET_FS) (the
    host refuses to set a non-canonical one, and the clone would fail half made)."""
    if flags & CLONE_SETTLS and tls >= TASK_SIZE:
        raise LinuxError(Errno.EPERM)


def _child_registers(parent_regs: Regs, stack: int, tls: int, flags: int) -> Regs:
    regs = parent_regs.copy()
    regs.rax = 0
    if stack:
        regs.rsp = stack
    if flags & CLONE_SETTLS:
        regs.fs_base = tls
    return regs


def clone(kernel: Kernel, task: Task, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int,
          exit_signal: int) -> int:
    """The shared part of clone/clone3/fork/vfork; returns the child's id (or blocks the
    parent of a vfork child until it execs or exits)."""
    waiting = task.restart.get("vfork_child")
    if waiting is not None:
        return _vfork_wait(task, waiting)
    _validate(flags)
    _validate_tls(flags, tls)
    if flags & CLONE_PARENT and task.process is kernel.init:
        raise LinuxError(Errno.EINVAL)  # init has no parent here to share (Linux refuses a namespace init too)
    if len(kernel.tasks) >= kernel.config.limits.tasks:
        raise LinuxError(Errno.EAGAIN)
    parent = task.process
    if not flags & CLONE_THREAD:
        parent.mm.budget.check(parent.mm.charged())  # the child's copy of the memory
    parent_regs = task.context.regs
    if flags & CLONE_THREAD:
        context = task.context.spawn_thread()
        child_process = parent
    else:
        context = task.context.fork()
    tid = kernel.next_id()
    if flags & CLONE_THREAD:
        child = Task(tid, parent, context)
    else:
        child_process = _new_process(kernel, task, flags, tid, context, exit_signal)
        child = Task(tid, child_process, context)
    context.owner = child
    context.regs = _child_registers(parent_regs, stack, tls, flags)
    child.sigmask = task.sigmask
    child.nice = task.nice
    child.sigaltstack = task.sigaltstack if flags & CLONE_VM and not flags & CLONE_VFORK else (0, 2, 0)
    if flags & CLONE_CHILD_CLEARTID:
        child.clear_child_tid = child_tid
    kernel.register(child)
    tid_bytes = tid.to_bytes(4, "little")
    try:
        if flags & CLONE_PARENT_SETTID:
            task.mm.write(parent_tid, tid_bytes)
        if flags & CLONE_CHILD_SETTID:
            child.mm.write(child_tid, tid_bytes)
    except LinuxError:
        pass  # Linux ignores faults here too
    kernel.resume(child)
    if flags & CLONE_VFORK and not flags & CLONE_THREAD:
        child_process.vfork_released = False
        task.restart["vfork_child"] = child_process
        return _vfork_wait(task, child_process)
    return tid


def _vfork_wait(task: Task, child: Process) -> int:
    if child.vfork_released:
        return child.pid
    raise Block((child.vfork_done,))


def _new_process(kernel: Kernel, task: Task, flags: int, pid: int, context, exit_signal: int) -> Process:
    parent = task.process
    real_parent = parent.parent if flags & CLONE_PARENT and parent.parent is not None else parent
    mm = MemoryManager(context.address_space, parent.mm.layout)
    mm.copy_from(parent.mm)
    sigactions = parent.sigactions if flags & CLONE_SIGHAND else {n: a.copy() for n, a in parent.sigactions.items()}
    if flags & CLONE_CLEAR_SIGHAND:
        sigactions = {n: a for n, a in sigactions.items() if a.handler == 1}
    child = Process(
        kernel, pid, mm,
        parent.fds if flags & CLONE_FILES else parent.fds.copy(),
        parent.fs if flags & CLONE_FS else parent.fs.copy(),
        parent.cred.copy(), parent.personality,
        parent=real_parent, pgid=parent.pgid, sid=parent.sid,
        rlimits=list(parent.rlimits), exe=parent.exe, comm=parent.comm,
        # A sibling made with CLONE_PARENT tells the shared parent of its end the way the
        # caller would (Linux): else it could end init with any signal it liked.
        start_time_ns=kernel.monotonic_ns(),
        exit_signal=parent.exit_signal if flags & CLONE_PARENT else exit_signal,
        sigactions=sigactions, no_new_privs=parent.no_new_privs,
    )
    real_parent.children.append(child)
    return child
