"""KvmPlatform driven directly, as the kernel drives it: tiny machine-code programs in a
fresh process, their syscalls, faults, interrupts and ends (needs a usable /dev/kvm)."""

import signal

import pytest
from kvm_host import kvm_platform

from slimbox.platforms.base import ExitEvent, FaultEvent, InterruptEvent, SyscallEvent
from slimbox.platforms.kvm import exits

CODE, DATA, STACK = 0x400000, 0x600000, 0x7FF000
R, W, X = 1, 2, 4
SEGV_MAPERR, SEGV_ACCERR = 1, 2


@pytest.fixture(scope="module")
def platform():
    made = kvm_platform(memory_size=256 << 20)
    yield made
    made.close()


def _start(platform, code: bytes):
    context = platform.new_process()
    space = context.address_space
    space.map(CODE, 0x1000, R | X)
    space.write(CODE, code)
    space.map(DATA, 0x10000, R | W)
    space.map(STACK, 0x1000, R | W)
    regs = context.regs
    regs.rip, regs.rsp = CODE, STACK + 0x1000
    context.resume()
    return context


def _next(platform):
    for _ in range(1000):
        events = platform.wait(1_000_000_000)
        if events:
            return events
    raise AssertionError("no event")


def test_syscalls_arrive_with_their_arguments_and_take_their_results(platform):
    # mov edi, 7; mov eax, 39; syscall; mov edi, eax; mov eax, 60; syscall
    code = bytes.fromhex("bf07000000" "b827000000" "0f05" "89c7" "b83c000000" "0f05")
    context = _start(platform, code)
    (event,) = _next(platform)
    assert isinstance(event, SyscallEvent) and event.context is context
    assert (event.nr, event.args[0]) == (39, 7)
    assert context.regs.rip == CODE + 12  # just past the syscall instruction
    context.finish_syscall(1234)
    (event,) = _next(platform)
    assert (event.nr, event.args[0]) == (60, 1234)
    context.kill()
    (event,) = _next(platform)
    assert isinstance(event, ExitEvent) and event.context is context


def test_untouched_pages_are_given_frames_without_the_kernel_seeing_a_fault(platform):
    # mov byte [DATA + 0x5000], 1; mov al, [DATA + 0x9000]; mov eax, 60; syscall
    code = bytes.fromhex("c6042500506000" "01" "8a042500906000" "b83c000000" "0f05")
    context = _start(platform, code)
    before = platform.stats["populated"]
    (event,) = _next(platform)
    assert isinstance(event, SyscallEvent) and event.nr == 60
    assert platform.stats["populated"] > before
    assert context.address_space.read(DATA + 0x5000, 1) == b"\x01"
    context.kill()
    _next(platform)


@pytest.mark.parametrize("code, signo, si_code, address", [
    (bytes.fromhex("c60425000010000" "1"), signal.SIGSEGV, SEGV_MAPERR, 0x100000),   # write to nothing
    (bytes.fromhex("c604250000400001"), signal.SIGSEGV, SEGV_ACCERR, CODE),          # write to code
    (bytes.fromhex("0f0b"), signal.SIGILL, 2, CODE),                                  # ud2
    (bytes.fromhex("31c9" "f7f1"), signal.SIGFPE, 1, CODE + 2),                       # div by zero
    (bytes.fromhex("8a042500100000ffff") , signal.SIGSEGV, SEGV_MAPERR, exits.IDT),   # read the IDT
    (bytes.fromhex("48b8" + exits.BASE.to_bytes(8, "little").hex() + "ffe0"),         # jmp to LSTAR
     signal.SIGSEGV, SEGV_MAPERR, exits.SYSCALL_ENTRY),
])
def test_faults_reach_the_kernel_as_linux_reports_them(platform, code, signo, si_code, address):
    if address == exits.IDT:
        code = bytes.fromhex("48a0") + exits.IDT.to_bytes(8, "little")  # mov al, [moffs64]
    context = _start(platform, code)
    (event,) = _next(platform)
    assert isinstance(event, FaultEvent), event
    assert (event.signal, event.code, event.address) == (signo, si_code, address)
    context.kill()
    _next(platform)


def test_a_rip_that_cannot_be_resumed_gives_sigsegv(platform):
    context = _start(platform, bytes.fromhex("b827000000" "0f05" "ebfe"))
    (event,) = _next(platform)
    context.regs.rip = 0x8000_0000_0000_0000  # not canonical: iretq faults in ring 0
    context.resume()
    (event,) = _next(platform)
    assert isinstance(event, FaultEvent) and (event.signal, event.code) == (signal.SIGSEGV, 0x80)
    assert context.regs.rip == 0x8000_0000_0000_0000
    context.regs.rip, context.regs.rsp = CODE + 7, STACK + 0x1000  # the kernel redirects it: it runs on
    context.interrupt_requested = False
    context.resume()
    assert platform.wait(20_000_000) == []
    context.kill()
    _next(platform)


def test_int_0x80_ends_the_process_as_on_the_linux_platform(platform):
    context = _start(platform, bytes.fromhex("cd80"))
    (event,) = _next(platform)
    assert isinstance(event, ExitEvent) and event.context is context
    assert event.killed_by == signal.SIGSYS and "int 0x80" in event.description


def test_a_looping_thread_is_interrupted_and_resumes_where_it_was(platform):
    context = _start(platform, bytes.fromhex("ebfe"))  # jmp $
    assert platform.wait(20_000_000) == []  # its time slice ends: nothing for the kernel
    context.interrupt()
    (event,) = _next(platform)
    assert isinstance(event, InterruptEvent)
    assert context.regs.rip == CODE
    context.kill()
    _next(platform)


def test_fork_copies_memory_and_registers(platform):
    # mov byte [DATA], 5; mov eax, 57; syscall (the "fork" the test answers); mov al, [DATA]; ...
    code = bytes.fromhex("c604250000600005" "b839000000" "0f05" "8a042500006000" "0fb6f8" "b83c000000" "0f05")
    parent = _start(platform, code)
    (event,) = _next(platform)
    assert event.nr == 57
    child = parent.fork()
    parent.address_space.write(DATA, b"\x09")
    child.finish_syscall(0)
    (event,) = _next(platform)
    assert event.context is child and (event.nr, event.args[0]) == (60, 5)
    parent.finish_syscall(1)
    (event,) = _next(platform)
    assert event.context is parent and (event.nr, event.args[0]) == (60, 9)
    for context in (parent, child):
        context.kill()
        _next(platform)


def test_fp_state_survives_a_round_trip(platform):
    context = _start(platform, bytes.fromhex("b827000000" "0f05"))
    (event,) = _next(platform)
    image = bytearray(context.fpu_state())
    assert len(image) == platform.xsave_size
    assert image[0:2] == b"\x7f\x03" and image[24:28] == b"\x80\x1f\x00\x00"  # fresh FCW and MXCSR
    image[160:176] = bytes(range(16))  # xmm0
    context.set_fpu_state(bytes(image))
    assert context.fpu_state()[160:176] == bytes(range(16))
    context.reset_fpu_state()
    assert context.fpu_state()[160:176] == bytes(16)
    context.kill()
    _next(platform)
