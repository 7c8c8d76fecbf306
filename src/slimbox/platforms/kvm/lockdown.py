"""The supervisor's seccomp filter on the KVM platform.

The Linux platform's allowed set (platforms/linux/lockdown.py) with what this platform
needs on top: the KVM ioctls a running sandbox makes (vCPU runs, registers, new vCPUs
for new threads, the memory-slot resync) and the time-slice timer. ptrace is never used
here, but it stays pinned to the Linux set's requests.
"""

from __future__ import annotations

from slimbox.abi.syscalls import BY_NAME
from slimbox.platforms.kvm import ioctl as K
from slimbox.platforms.linux import _native as native
from slimbox.platforms.linux import lockdown as linux_lockdown
from slimbox.platforms.linux import seccomp
from slimbox.platforms.linux.lockdown import HostSyscall, Rule

EXTRA = {
    "timer_settime": "the time slice that ends a vCPU's run (preempt.py)",
    "rt_sigtimedwait": "take back a time-slice signal that came after a run ended",
}
KVM_IOCTLS = (
    K.RUN, K.GET_REGS, K.SET_REGS, K.GET_SREGS, K.SET_SREGS, K.GET_MSRS, K.SET_MSRS, K.GET_XSAVE, K.SET_XSAVE,
    K.CREATE_VCPU, K.SET_USER_MEMORY_REGION, K.SET_CPUID2, K.SET_SIGNAL_MASK,
    (1 << 30) | (392 << 16) | (0xAE << 8) | 0xA7,  # KVM_SET_XCRS
)


def host_syscalls(*, network: bool = False) -> list[HostSyscall]:
    entries = []
    for entry in linux_lockdown.host_syscalls(network=network):
        if entry.name == "ioctl":
            entry = entry._replace(reason=entry.reason + "; KVM vCPU and VM requests",
                                   rule=Rule(1, (*entry.rule.values, *KVM_IOCTLS)))
        entries.append(entry)
    known = {entry.name for entry in entries}
    for name, reason in EXTRA.items():
        if name not in known:
            entries.append(HostSyscall(name, BY_NAME[name].nr, reason, None))
    return sorted(entries, key=lambda h: h.nr)


def build_filter(*, network: bool = False) -> bytes:
    entries = host_syscalls(network=network)
    asm = seccomp._Asm()
    asm.load(seccomp._ARCH)
    asm.jump(seccomp._JEQ, seccomp.AUDIT_ARCH_X86_64, 0, "kill")
    for entry in entries:
        asm.load(seccomp._NR)
        asm.jump(seccomp._JEQ, entry.nr, f"check_{entry.name}" if entry.rule else "allow", 0)
    asm.ret(seccomp.SECCOMP_RET_KILL_PROCESS)
    for entry in entries:
        rule = entry.rule
        if rule is None:
            continue
        asm.label(f"check_{entry.name}")
        asm.load(16 + 8 * rule.index)
        if rule.mask:
            asm.jump(seccomp._JSET, rule.mask, "kill", "allow")
        else:
            for value in rule.values:
                asm.jump(seccomp._JEQ, value & 0xFFFFFFFF, "allow", 0)
            asm.ret(seccomp.SECCOMP_RET_KILL_PROCESS)
    asm.label("allow")
    asm.ret(seccomp.SECCOMP_RET_ALLOW)
    asm.label("kill")
    asm.ret(seccomp.SECCOMP_RET_KILL_PROCESS)
    return asm.assemble()


def lock_down(*, network: bool = False) -> None:
    native.install_seccomp_filter(build_filter(network=network), tsync=True)
