"""lockdown.py: the filter program, run through a small classic-BPF interpreter."""

import struct

from slimbox.abi.syscalls import BY_NAME
from slimbox.platforms.kvm import ioctl as K
from slimbox.platforms.kvm.lockdown import build_filter

ALLOW, KILL = 0x7FFF0000, 0x80000000
X86_64 = 0xC000003E


def _run(program: bytes, nr: int, args=(0,) * 6, arch=X86_64) -> int:
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args)  # struct seccomp_data
    pc, acc = 0, 0
    while True:
        op, jt, jf, k = struct.unpack_from("<HBBI", program, pc * 8)
        pc += 1
        if op == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
        elif op == 0x15:
            pc += jt if acc == k else jf
        elif op == 0x45:
            pc += jt if acc & k else jf
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected BPF op {op:#x}")


def test_kvm_requests_and_the_interpreters_needs_pass():
    program = build_filter()
    assert _run(program, BY_NAME["ioctl"].nr, (5, K.RUN, 0, 0, 0, 0)) == ALLOW
    assert _run(program, BY_NAME["ioctl"].nr, (5, K.SET_REGS, 0, 0, 0, 0)) == ALLOW
    assert _run(program, BY_NAME["timer_settime"].nr) == ALLOW
    assert _run(program, BY_NAME["mmap"].nr, (0, 4096, 3, 1, 5, 0)) == ALLOW


def test_everything_else_kills():
    program = build_filter()
    assert _run(program, BY_NAME["ioctl"].nr, (5, K.CREATE_VM, 0, 0, 0, 0)) == KILL  # no new VMs
    assert _run(program, BY_NAME["mmap"].nr, (0, 4096, 7, 1, 5, 0)) == KILL         # nothing executable
    for name in ("execve", "ptrace", "fork", "clone", "kill", "socket", "open_by_handle_at"):
        assert _run(program, BY_NAME[name].nr) == KILL, name
    assert _run(program, BY_NAME["read"].nr, arch=0x40000003) == KILL               # i386


def test_host_sockets_only_with_network():
    nr = BY_NAME["socket"].nr
    assert _run(build_filter(), nr, (2, 1, 0, 0, 0, 0)) == KILL
    assert _run(build_filter(network=True), nr, (2, 1, 0, 0, 0, 0)) == ALLOW
    assert _run(build_filter(network=True), nr, (1, 1, 0, 0, 0, 0)) == KILL       # AF_UNIX
