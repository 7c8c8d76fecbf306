"""KVM ioctl numbers and the layouts of the structs they take (x86-64, linux/kvm.h).

Structs are packed and unpacked with `struct` over bytearrays handed to
`fcntl.ioctl`, which passes a mutable buffer to the host and copies it back.
"""

from __future__ import annotations

import struct

_IOC_WRITE, _IOC_READ = 1, 2
_KVMIO = 0xAE


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (_KVMIO << 8) | nr


# struct kvm_userspace_memory_region: slot, flags, guest_phys_addr, memory_size, userspace_addr
MEMORY_REGION = struct.Struct("<IIQQQ")
# struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8-r15 rip rflags
REGS = struct.Struct("<18Q")
REGS_ORDER = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12",
              "r13", "r14", "r15", "rip", "eflags")
# struct kvm_segment: base, limit, selector, type, present, dpl, db, s, l, g, avl, unusable, padding
SEGMENT = struct.Struct("<QIHBBBBBBBBBx")
# struct kvm_dtable: base, limit, padding[3]
DTABLE = struct.Struct("<QH6x")
#: struct kvm_sregs: cs ds es fs gs ss tr ldt, gdt idt, cr0 cr2 cr3 cr4 cr8 efer apic_base, interrupt_bitmap[4]
SREGS_SIZE = 8 * SEGMENT.size + 2 * DTABLE.size + 7 * 8 + 4 * 8
SREGS_SEGMENTS = ("cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt")
SREGS_CONTROL = struct.Struct("<7Q")
SREGS_CONTROL_OFFSET = 8 * SEGMENT.size + 2 * DTABLE.size
MSR_HEADER = struct.Struct("<II")
MSR_ENTRY = struct.Struct("<IIQ")
CPUID_HEADER = struct.Struct("<II")
CPUID_ENTRY = struct.Struct("<IIIIIII12x")  # function index flags eax ebx ecx edx padding[3]
XSAVE_SIZE = 4096
FPU_SIZE = 416

GET_API_VERSION = _ioc(0, 0x00, 0)
CREATE_VM = _ioc(0, 0x01, 0)
CHECK_EXTENSION = _ioc(0, 0x03, 0)
GET_VCPU_MMAP_SIZE = _ioc(0, 0x04, 0)
GET_SUPPORTED_CPUID = _ioc(_IOC_READ | _IOC_WRITE, 0x05, CPUID_HEADER.size)
CREATE_VCPU = _ioc(0, 0x41, 0)
SET_USER_MEMORY_REGION = _ioc(_IOC_WRITE, 0x46, MEMORY_REGION.size)
RUN = _ioc(0, 0x80, 0)
GET_REGS = _ioc(_IOC_READ, 0x81, REGS.size)
SET_REGS = _ioc(_IOC_WRITE, 0x82, REGS.size)
GET_SREGS = _ioc(_IOC_READ, 0x83, SREGS_SIZE)
SET_SREGS = _ioc(_IOC_WRITE, 0x84, SREGS_SIZE)
GET_MSRS = _ioc(_IOC_READ | _IOC_WRITE, 0x88, MSR_HEADER.size)
SET_MSRS = _ioc(_IOC_WRITE, 0x89, MSR_HEADER.size)
SET_SIGNAL_MASK = _ioc(_IOC_WRITE, 0x8B, 4)
GET_FPU = _ioc(_IOC_READ, 0x8C, FPU_SIZE)
SET_FPU = _ioc(_IOC_WRITE, 0x8D, FPU_SIZE)
SET_CPUID2 = _ioc(_IOC_WRITE, 0x90, CPUID_HEADER.size)
GET_XSAVE = _ioc(_IOC_READ, 0xA4, XSAVE_SIZE)
SET_XSAVE = _ioc(_IOC_WRITE, 0xA5, XSAVE_SIZE)

CAP_USER_MEMORY = 3
CAP_NR_MEMSLOTS = 10
CAP_MAX_VCPUS = 66
CAP_XSAVE = 55
CAP_IMMEDIATE_EXIT = 136
CAP_SYNC_REGS = 74
SYNC_X86_REGS = 1

EXIT_UNKNOWN = 0
EXIT_EXCEPTION = 1
EXIT_IO = 2
EXIT_HYPERCALL = 3
EXIT_DEBUG = 4
EXIT_HLT = 5
EXIT_MMIO = 6
EXIT_SHUTDOWN = 8
EXIT_FAIL_ENTRY = 9
EXIT_INTR = 10
EXIT_INTERNAL_ERROR = 17
EXIT_SYSTEM_EVENT = 24

# struct kvm_run: the fields read here
RUN_IMMEDIATE_EXIT = 1
RUN_EXIT_REASON = 8
RUN_UNION = 32
# kvm_valid_regs, kvm_dirty_regs, then struct kvm_sync_regs (its kvm_regs first)
RUN_VALID_REGS = 288
RUN_DIRTY_REGS = 296
RUN_SYNC_REGS = 304
U64 = struct.Struct("<Q")
# exit union, mmio: phys_addr, data[8], len, is_write
RUN_MMIO = struct.Struct("<Q8sIB")

# model-specific registers
MSR_EFER = 0xC0000080
MSR_STAR = 0xC0000081
MSR_LSTAR = 0xC0000082
MSR_CSTAR = 0xC0000083
MSR_SYSCALL_MASK = 0xC0000084
MSR_FS_BASE = 0xC0000100
MSR_GS_BASE = 0xC0000101
MSR_KERNEL_GS_BASE = 0xC0000102
MSR_PAT = 0x277
# the PVM paravirtual hypervisor's registers (kvm_pvm)
MSR_PVM_LINEAR_ADDRESS_RANGE = 0x4B564DF0
MSR_PVM_VCPU_STRUCT = 0x4B564DF1
MSR_PVM_SUPERVISOR_RSP = 0x4B564DF2
MSR_PVM_EVENT_ENTRY = 0x4B564DF4
MSR_PVM_RETU_RIP = 0x4B564DF5
MSR_PVM_RETS_RIP = 0x4B564DF6
MSR_PVM_SWITCH_CR3 = 0x4B564DF7
