"""A guest thread of the emu platform (the Context).

Threads of one process share its unicorn instance; each keeps its whole CPU state in
a unicorn context blob while another thread of the process has the CPU (switching
costs one save and one restore, only when the thread that runs changes).

Registers are read from the emulator only when the kernel asks for them: a syscall
the kernel answers without looking at them costs one batch read of the number and
arguments and one batch write of rax, rcx and r11.
"""

from __future__ import annotations

import errno

from slimbox.abi.regs import MASK64, Regs
from slimbox.platforms.emu import engine as uc
from slimbox.platforms.emu import fpu

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.platforms.emu.memory import EmuAddressSpace
    from slimbox.platforms.emu.platform import EmuPlatform

# thread states
RUNNABLE = "runnable"   # waiting for the CPU (in the platform's run queue)
STOPPED = "stopped"     # at an event, until the kernel resumes it
GONE = "gone"

_NOT_IN_SYSCALL = MASK64
_ENOSYS = -errno.ENOSYS & MASK64
#: the selectors of 64-bit user code and data, as Linux gives them (and the CPU has)
USER_CS, USER_SS = fpu.USER_CS, fpu.USER_DS


class EmuThread:
    """One guest thread; see the module docstring."""

    __slots__ = ("platform", "address_space", "owner", "state", "cpu", "rip", "rflags", "in_syscall", "syscall_nr",
                 "_regs", "_result", "cpu_ns")

    def __init__(self, platform: EmuPlatform, address_space: EmuAddressSpace) -> None:
        self.platform = platform
        self.address_space = address_space
        self.owner: object = None
        self.state = STOPPED
        self.cpu = address_space.engine.new_cpu_state()
        #: where the thread goes on, and its flags, as of its last stop
        self.rip = 0
        self.rflags = 0
        #: stopped in a syscall (orig_rax is its number; rcx and r11 as SYSCALL left them)
        self.in_syscall = False
        self.syscall_nr = 0
        #: registers as the kernel sees and edits them (written back before the next run)
        self._regs: Regs | None = None
        #: a syscall result waiting to be written before the next run
        self._result: int | None = None
        self.cpu_ns = 0
        address_space.threads.append(self)

    # --- the CPU ----------------------------------------------------------------------

    def load(self) -> uc.Engine:
        """Put this thread's CPU state in its process's emulator; returns the emulator."""
        space = self.address_space
        engine = space.engine
        if space.loaded is not self:
            if space.loaded is not None:
                engine.save_cpu(space.loaded.cpu)
            engine.restore_cpu(self.cpu)
            space.loaded = self
        return engine

    def prepare_run(self) -> uc.Engine:
        """Load the thread with what the kernel gave it; returns the emulator."""
        engine = self.load()
        regs = self._regs
        if regs is not None:
            engine.write(engine.full, (*regs[:15], regs[16], regs[18], regs[19], regs[21], regs[22]))
            self.rip = regs[16]
            self._regs = None
        elif self._result is not None:
            engine.write(engine.result, (self._result & MASK64, self.rip, self.rflags))
            self._result = None
        self.in_syscall = False
        return engine

    @property
    def regs(self) -> Regs:
        regs = self._regs
        if regs is None:
            if self.state == GONE:
                raise ProcessLookupError(errno.ESRCH, "the thread has ended")
            engine = self.load()
            values = engine.read(engine.full)
            regs = Regs((*values[:15], _NOT_IN_SYSCALL, values[15], USER_CS, values[16], values[17], USER_SS,
                         values[18], values[19], 0, 0, 0, 0))
            if self.in_syscall:
                # as Linux shows a thread stopped at syscall entry
                regs.orig_rax = self.syscall_nr
                regs.rax = _ENOSYS
                regs.rcx = self.rip
                regs.r11 = self.rflags
            elif self._result is not None:
                regs.rax = self._result
                regs.rcx = self.rip
                regs.r11 = self.rflags
                self._result = None
            self._regs = regs
        return regs

    @regs.setter
    def regs(self, value: Regs) -> None:
        self._regs = value

    # --- Context -----------------------------------------------------------------------

    def resume(self) -> None:
        self._require_alive()
        self.regs  # noqa: B018 - materialised: resumed registers are written back as they are
        self.in_syscall = False
        self.platform.make_runnable(self)

    def finish_syscall(self, result: int) -> None:
        self._require_alive()
        if self._regs is not None:
            self._regs.rax = result
        else:
            self._result = result
        self.in_syscall = False
        self.platform.make_runnable(self)

    def kill(self) -> None:
        if self.state != GONE:
            self.platform.end_process(self.address_space, 9, "killed by the kernel")

    def interrupt(self) -> None:
        self.platform.interrupt(self)

    def cpu_time_ns(self) -> int:
        return self.cpu_ns

    def process_cpu_time_ns(self) -> int:
        space = self.address_space
        return space.exited_cpu_ns + sum(thread.cpu_ns for thread in space.threads)

    def fpu_state(self) -> bytes:
        self._require_alive()
        return self.address_space.fpu.save(self.load())

    def set_fpu_state(self, data: bytes) -> None:
        self._require_alive()
        image = fpu.check_image(data)
        self.address_space.fpu.restore(self.load(), image)

    def reset_fpu_state(self) -> None:
        self.set_fpu_state(fpu.FRESH)

    def fork(self) -> EmuThread:
        self._require_alive()
        regs = self.regs.copy()
        image = self.fpu_state()
        child_space = self.address_space.copy()
        child = EmuThread(self.platform, child_space)
        child_space.loaded = child  # the new emulator's CPU is the child's
        child_space.fpu.restore(child_space.engine, image)
        child._regs = regs
        child.rip = regs.rip
        self.platform.adopt(child_space)
        return child

    def spawn_thread(self) -> EmuThread:
        self._require_alive()
        regs = self.regs.copy()
        engine = self.load()
        thread = EmuThread(self.platform, self.address_space)
        engine.save_cpu(thread.cpu)  # the parent's FP state and everything else, as a start
        thread._regs = regs
        thread.rip = regs.rip
        return thread

    def exit_thread(self) -> None:
        if self.state == GONE:
            return
        self.platform.forget_thread(self)
        self.release()

    # --- ending ------------------------------------------------------------------------

    def release(self) -> None:
        """Mark the thread gone and free its CPU state (its process may go on)."""
        if self.cpu is None:
            return
        self.state = GONE
        space = self.address_space
        if self in space.threads:
            space.threads.remove(self)
            space.exited_cpu_ns += self.cpu_ns
        if space.loaded is self:
            space.loaded = None
        space.engine.free_cpu_state(self.cpu)
        self.cpu = None
        self._regs = None

    def _require_alive(self) -> None:
        if self.state == GONE:
            raise ProcessLookupError(errno.ESRCH, "the thread has ended")
