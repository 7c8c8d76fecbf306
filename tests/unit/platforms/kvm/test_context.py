"""context.py: registers between KVM's order and Regs, without running anything."""

from slimbox.abi.regs import MASK64
from slimbox.platforms.kvm import exits
from slimbox.platforms.kvm.context import GONE, RUNNABLE, KvmContext, KvmProcess


class Recorder:
    """What a context asks of its platform."""

    def __init__(self):
        self.runnable = []
        self.bases = (0x7000, 0x8000)

    def make_runnable(self, context):
        context.state = RUNNABLE
        self.runnable.append(context)

    def thread_bases(self, context):
        return self.bases


def _context():
    return KvmContext(Recorder(), KvmProcess(object()), vcpu=None)


def test_a_syscall_exit_reports_rcx_and_r11_as_rip_and_rflags():
    context = _context()
    raw = (39, 2, 0x401234, 4, 5, 6, 0xFFFF_FF00_0000_5FD0, 8, 9, 10, 11, 0x246, 13, 14, 15, 16,
           exits.SYSCALL_ENTRY, 0x2)
    event = context.stopped_at_syscall(raw, rsp=0x7FFF_1000)
    assert (event.nr, event.args) == (39, [6, 5, 4, 11, 9, 10])
    regs = context.regs
    assert (regs.rip, regs.eflags, regs.rsp, regs.rcx, regs.r11) == (0x401234, 0x246, 0x7FFF_1000, 0x401234, 0x246)
    assert (regs.cs, regs.ss, regs.orig_rax) == (exits.USER_CS, exits.USER_SS, MASK64)


def test_fs_and_gs_base_come_from_the_vcpu_once_it_holds_them():
    context = _context()
    assert (context.regs.fs_base, context.regs.gs_base) == (0, 0)
    context = _context()
    context.bases_loaded = True
    assert (context.regs.fs_base, context.regs.gs_base) == (0x7000, 0x8000)


def test_edited_registers_are_folded_back_with_only_user_flags():
    context = _context()
    context.stopped_in_user_mode(tuple(range(18)))
    regs = context.regs
    regs.rip = 0x500000
    regs.eflags = 0x3000 | 0x20000 | 0x4000 | 0x246  # IOPL, VM and NT are not the guest's to set
    regs.fs_base = 0x9000
    context.resume()
    assert context.state == RUNNABLE and context.platform.runnable == [context]
    assert context.gprs[16] == 0x500000 and context.gprs[17] == 0x246
    assert context.fs_base == 0x9000


def test_finishing_a_syscall_sets_rax_without_building_regs():
    context = _context()
    context.stopped_in_user_mode(tuple(range(18)))
    context.finish_syscall(-2)
    assert context.gprs[0] == MASK64 - 1 and context._regs is None


def test_an_ended_thread_has_no_registers():
    context = _context()
    context.state = GONE
    try:
        context.regs
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("registers of an ended thread")
