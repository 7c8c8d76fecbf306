"""One KVM virtual machine and its vCPUs, through /dev/kvm ioctls only.

`Vm` owns the VM descriptor and the memory slot that makes a `GuestMemory` the
guest's physical memory; `Vcpu` wraps one vCPU: its registers, special registers,
MSRs, XSAVE state and its `struct kvm_run` page. Every buffer an ioctl fills is
allocated once per vCPU and reused, since several of these run per guest syscall.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import struct

from slimbox.platforms.base import PAGE_SIZE, PlatformUnavailable
from slimbox.platforms.kvm import ioctl as K

_KVM_API_VERSION = 12
#: the memory slot of guest memory, and the spare one added and removed to resync kvm_pvm
_MEMORY_SLOT, _RESYNC_SLOT = 0, 1

# control registers and EFER of 64-bit paging with NX, SSE and XSAVE
_CR0 = 0x80050033          # PG | AM | WP | NE | ET | MP | PE
_CR4_BASE = 0x20 | 0x200 | 0x400 | 0x10000  # PAE | OSFXSR | OSXMMEXCPT | FSGSBASE
_CR4_OSXSAVE = 0x40000
_EFER = 0xD01              # NXE | LMA | LME | SCE
_XCR0_X87_SSE, _XCR0_AVX = 0x3, 0x4
_CPUID_XSAVE_ECX = 1 << 26
_CPUID_AVX_ECX = 1 << 28
_XCRS = struct.Struct("<II" + "IIQ" * 16 + "16Q")  # struct kvm_xcrs
_SET_XCRS = (1 << 30) | (_XCRS.size << 16) | (0xAE << 8) | 0xA7
_GET_SIGNAL_MASK_LEN = 8  # the host kernel's sigset size
_U32 = struct.Struct("<I")


def open_kvm(path: str = "/dev/kvm") -> int:
    """The /dev/kvm descriptor, or PlatformUnavailable saying why there is none."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PlatformUnavailable(f"the kvm platform needs {path}, which this host does not have") from None
    except PermissionError:
        raise PlatformUnavailable(f"the kvm platform cannot open {path}: permission denied") from None
    except OSError as exc:
        raise PlatformUnavailable(f"the kvm platform cannot open {path}: {exc.strerror}") from None
    try:
        try:
            version = fcntl.ioctl(fd, K.GET_API_VERSION, 0)
        except OSError as exc:
            raise PlatformUnavailable(f"{path} is not a KVM device ({exc.strerror})") from None
        if version != _KVM_API_VERSION:
            raise PlatformUnavailable(f"{path} speaks KVM API version {version}, not {_KVM_API_VERSION}")
        for cap, name in ((K.CAP_USER_MEMORY, "user memory"), (K.CAP_IMMEDIATE_EXIT, "immediate exit")):
            if fcntl.ioctl(fd, K.CHECK_EXTENSION, cap) <= 0:
                raise PlatformUnavailable(f"{path} lacks the {name} capability")
    except BaseException:
        os.close(fd)
        raise
    return fd


class Vm:
    """A VM whose physical memory is one `GuestMemory`, at guest-physical address 0."""

    def __init__(self, kvm_fd: int, memory) -> None:
        self.kvm = kvm_fd
        self.memory = memory
        try:
            self.fd = fcntl.ioctl(kvm_fd, K.CREATE_VM, 0)
        except OSError as exc:
            raise PlatformUnavailable(f"the kvm platform cannot create a VM here: {exc.strerror}") from None
        self.run_size = fcntl.ioctl(kvm_fd, K.GET_VCPU_MMAP_SIZE, 0)
        self.max_vcpus = max(1, fcntl.ioctl(kvm_fd, K.CHECK_EXTENSION, K.CAP_MAX_VCPUS))
        self.sync_regs = bool(fcntl.ioctl(kvm_fd, K.CHECK_EXTENSION, K.CAP_SYNC_REGS) & K.SYNC_X86_REGS)
        self.cpuid = self._guest_cpuid()
        self.xcr0 = self._xcr0()
        fcntl.ioctl(self.fd, K.SET_USER_MEMORY_REGION,
                    K.MEMORY_REGION.pack(_MEMORY_SLOT, 0, 0, memory.size, memory.host_address))
        # a page of host memory put in a spare slot and taken out again (resync)
        self._spare = mmap.mmap(-1, PAGE_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        anchor = ctypes.c_char.from_buffer(self._spare)
        self._spare_address = ctypes.addressof(anchor)
        del anchor
        self._spare_gpa = memory.size + (1 << 30)  # above guest memory and its exit pages
        self.vcpus: list[Vcpu] = []
        self.resyncs = 0

    def _guest_cpuid(self) -> bytearray:
        """What KVM can give the guest, as a filled struct kvm_cpuid2."""
        count = 256
        while True:
            buffer = bytearray(K.CPUID_HEADER.pack(count, 0) + bytes(K.CPUID_ENTRY.size * count))
            try:
                fcntl.ioctl(self.kvm, K.GET_SUPPORTED_CPUID, buffer)
            except OSError as exc:
                if exc.errno == errno.E2BIG and count < 4096:
                    count *= 2
                    continue
                raise PlatformUnavailable(f"the kvm platform cannot read the CPUID KVM supports: "
                                          f"{exc.strerror}") from None
            return buffer

    def _cpuid_entries(self):
        count = K.CPUID_HEADER.unpack_from(self.cpuid)[0]
        for index in range(count):
            yield index, K.CPUID_ENTRY.unpack_from(self.cpuid, K.CPUID_HEADER.size + index * K.CPUID_ENTRY.size)

    def _xcr0(self) -> int:
        """The XSAVE features the guest gets: x87 and SSE, and AVX where KVM can hold it.
        Leaf 0xD is what counts: kvm_pvm hides XSAVE and AVX from leaf 1 (its guests'
        kernels would need them), yet user code runs with the host's CPUID and uses AVX,
        so its state must be switched and saved all the same."""
        for _, (function, index, _, eax, _, _, _) in self._cpuid_entries():
            if function == 0xD and index == 0:
                return eax & (_XCR0_X87_SSE | _XCR0_AVX) if eax & _XCR0_X87_SSE == _XCR0_X87_SSE else 0
        return 0

    def xsave_size(self) -> int:
        """Bytes of the standard-form XSAVE image of the guest's features (512: FXSAVE only)."""
        if not self.xcr0:
            return 512
        return 576 + (256 if self.xcr0 & _XCR0_AVX else 0)

    def create_vcpu(self) -> Vcpu:
        if len(self.vcpus) >= self.max_vcpus:
            raise OSError(errno.EAGAIN, f"the VM has its {self.max_vcpus} vCPUs already")
        fd = fcntl.ioctl(self.fd, K.CREATE_VCPU, len(self.vcpus))
        vcpu = Vcpu(self, fd, len(self.vcpus))
        self.vcpus.append(vcpu)
        return vcpu

    def resync(self) -> None:
        """Make every vCPU see page-table entries the host removed or restricted. On
        kvm_pvm the shadow page tables only notice such a change when the memory slots
        change, so a spare slot is added and removed again (docs/kvm.md)."""
        fcntl.ioctl(self.fd, K.SET_USER_MEMORY_REGION,
                    K.MEMORY_REGION.pack(_RESYNC_SLOT, 0, self._spare_gpa, PAGE_SIZE, self._spare_address))
        fcntl.ioctl(self.fd, K.SET_USER_MEMORY_REGION,
                    K.MEMORY_REGION.pack(_RESYNC_SLOT, 0, self._spare_gpa, 0, self._spare_address))
        self.resyncs += 1

    def close(self) -> None:
        for vcpu in self.vcpus:
            vcpu.close()
        self.vcpus.clear()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self._spare.close()


class Vcpu:
    """One vCPU: registers in, run, registers out."""

    def __init__(self, vm: Vm, fd: int, index: int) -> None:
        self.vm = vm
        self.fd = fd
        self.index = index
        self.run = mmap.mmap(fd, vm.run_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._regs = bytearray(K.REGS.size)
        self._sregs = bytearray(K.SREGS_SIZE)
        self._xsave = bytearray(K.XSAVE_SIZE)
        self._msr = bytearray(K.MSR_HEADER.size + 2 * K.MSR_ENTRY.size)
        self._ioctl = fcntl.ioctl
        #: registers travel in the run page (KVM_CAP_SYNC_REGS): no ioctl for them
        self.sync_regs = vm.sync_regs
        if self.sync_regs:
            K.U64.pack_into(self.run, K.RUN_VALID_REGS, K.SYNC_X86_REGS)
        self._set_cpuid()

    # --- set-up ----------------------------------------------------------------------

    def _set_cpuid(self) -> None:
        cpuid = bytearray(self.vm.cpuid)
        for index, (function, sub, flags, eax, ebx, ecx, edx) in self.vm._cpuid_entries():
            if function == 1 and self.vm.xcr0:
                # XSAVE and OSXSAVE (CR4.OSXSAVE is set below), and AVX when XCR0 has it
                ecx |= _CPUID_XSAVE_ECX | (1 << 27) | (_CPUID_AVX_ECX if self.vm.xcr0 & _XCR0_AVX else 0)
                K.CPUID_ENTRY.pack_into(cpuid, K.CPUID_HEADER.size + index * K.CPUID_ENTRY.size,
                                        function, sub, flags, eax, ebx, ecx, edx)
        fcntl.ioctl(self.fd, K.SET_CPUID2, cpuid)

    def enter_user_mode(self, cr3: int, tables) -> None:
        """Put a vCPU that has never run into 64-bit ring 3 with page tables `cr3` and the
        descriptor tables `tables` (exits.PlatformLayout); only possible before its first
        run on kvm_pvm, which fixes the privilege level from then on."""
        sregs = self._sregs
        self._ioctl(self.fd, K.GET_SREGS, sregs)
        for index, name in enumerate(K.SREGS_SEGMENTS):
            offset = index * K.SEGMENT.size
            if name == "cs":
                K.SEGMENT.pack_into(sregs, offset, 0, 0xFFFFFFFF, tables.user_cs, 11, 1, 3, 0, 1, 1, 1, 0, 0)
            elif name == "ss":
                K.SEGMENT.pack_into(sregs, offset, 0, 0xFFFFFFFF, tables.user_ss, 3, 1, 3, 1, 1, 0, 1, 0, 0)
            elif name == "tr":
                K.SEGMENT.pack_into(sregs, offset, tables.tss, tables.tss_limit, tables.tss_selector, 11, 1, 0,
                                    0, 0, 0, 0, 0, 0)
            elif name == "ldt":
                K.SEGMENT.pack_into(sregs, offset, 0, 0xFFFF, 0, 2, 1, 0, 0, 0, 0, 0, 0, 1)
            else:
                K.SEGMENT.pack_into(sregs, offset, 0, 0xFFFFFFFF, 0, 3, 1, 3, 1, 1, 0, 1, 0, 0)
        K.DTABLE.pack_into(sregs, 8 * K.SEGMENT.size, tables.gdt, tables.gdt_limit)
        K.DTABLE.pack_into(sregs, 8 * K.SEGMENT.size + K.DTABLE.size, tables.idt, tables.idt_limit)
        control = list(K.SREGS_CONTROL.unpack_from(sregs, K.SREGS_CONTROL_OFFSET))
        control[0] = _CR0
        control[2] = cr3
        control[3] = _CR4_BASE | (_CR4_OSXSAVE if self.vm.xcr0 else 0)
        control[5] = _EFER
        K.SREGS_CONTROL.pack_into(sregs, K.SREGS_CONTROL_OFFSET, *control)
        self._ioctl(self.fd, K.SET_SREGS, sregs)
        if self.vm.xcr0:
            xcrs = [1, 0] + [0, 0, self.vm.xcr0] + [0, 0, 0] * 15 + [0] * 16
            self._ioctl(self.fd, _SET_XCRS, _XCRS.pack(*xcrs))
        self.set_msrs(((K.MSR_LSTAR, tables.syscall_entry), (K.MSR_STAR, tables.star)))
        self.set_msrs(((K.MSR_SYSCALL_MASK, 0x700), (K.MSR_FS_BASE, 0)))  # TF DF IF cleared on entry
        self.cr3 = cr3

    def set_signal_mask(self, mask: bytes) -> None:
        """The signals blocked while this vCPU runs (KVM_SET_SIGNAL_MASK)."""
        buffer = struct.pack("<I", _GET_SIGNAL_MASK_LEN) + mask
        fcntl.ioctl(self.fd, (1 << 30) | (4 << 16) | (0xAE << 8) | 0x8B, buffer)

    # --- registers -------------------------------------------------------------------

    def get_regs(self) -> tuple[int, ...]:
        """(rax rbx rcx rdx rsi rdi rsp rbp r8-r15 rip rflags) as of the last exit"""
        if self.sync_regs:
            return K.REGS.unpack_from(self.run, K.RUN_SYNC_REGS)
        self._ioctl(self.fd, K.GET_REGS, self._regs)
        return K.REGS.unpack(self._regs)

    def set_regs(self, values) -> None:
        """The registers the next run starts with."""
        if self.sync_regs:
            K.REGS.pack_into(self.run, K.RUN_SYNC_REGS, *values)
            K.U64.pack_into(self.run, K.RUN_DIRTY_REGS, K.SYNC_X86_REGS)
            return
        K.REGS.pack_into(self._regs, 0, *values)
        self._ioctl(self.fd, K.SET_REGS, self._regs)

    def get_sregs(self) -> bytearray:
        self._ioctl(self.fd, K.GET_SREGS, self._sregs)
        return self._sregs

    def set_sregs(self, sregs: bytearray) -> None:
        self._ioctl(self.fd, K.SET_SREGS, sregs)

    def control_registers(self) -> tuple[int, ...]:
        """(cr0 cr2 cr3 cr4 cr8 efer apic_base)"""
        return K.SREGS_CONTROL.unpack_from(self.get_sregs(), K.SREGS_CONTROL_OFFSET)

    def set_cr3(self, cr3: int) -> None:
        sregs = self.get_sregs()
        control = list(K.SREGS_CONTROL.unpack_from(sregs, K.SREGS_CONTROL_OFFSET))
        control[2] = cr3
        K.SREGS_CONTROL.pack_into(sregs, K.SREGS_CONTROL_OFFSET, *control)
        self.set_sregs(sregs)
        self.cr3 = cr3

    def get_msrs(self, indices: tuple[int, ...]) -> tuple[int, ...]:
        buffer = self._msr_buffer(len(indices))
        K.MSR_HEADER.pack_into(buffer, 0, len(indices), 0)
        for slot, index in enumerate(indices):
            K.MSR_ENTRY.pack_into(buffer, K.MSR_HEADER.size + slot * K.MSR_ENTRY.size, index, 0, 0)
        done = self._ioctl(self.fd, K.GET_MSRS, buffer)
        if done != len(indices):
            raise OSError(errno.EIO, f"KVM read {done} of {len(indices)} MSRs")
        return tuple(K.MSR_ENTRY.unpack_from(buffer, K.MSR_HEADER.size + slot * K.MSR_ENTRY.size)[2]
                     for slot in range(len(indices)))

    def set_msrs(self, pairs) -> None:
        pairs = tuple(pairs)
        buffer = self._msr_buffer(len(pairs))
        K.MSR_HEADER.pack_into(buffer, 0, len(pairs), 0)
        for slot, (index, value) in enumerate(pairs):
            K.MSR_ENTRY.pack_into(buffer, K.MSR_HEADER.size + slot * K.MSR_ENTRY.size, index, 0, value)
        done = self._ioctl(self.fd, K.SET_MSRS, buffer)
        if done != len(pairs):
            raise OSError(errno.EINVAL, f"KVM refused MSR {pairs[done][0]:#x} = {pairs[done][1]:#x}")

    def _msr_buffer(self, count: int) -> bytearray:
        if count > 2:
            return bytearray(K.MSR_HEADER.size + count * K.MSR_ENTRY.size)
        return self._msr

    def get_xsave(self) -> bytes:
        self._ioctl(self.fd, K.GET_XSAVE, self._xsave)
        return bytes(self._xsave)

    def set_xsave(self, image: bytes) -> None:
        buffer = bytearray(K.XSAVE_SIZE)
        buffer[:len(image)] = image[:K.XSAVE_SIZE]
        self._ioctl(self.fd, K.SET_XSAVE, buffer)

    # --- running ---------------------------------------------------------------------

    def enter(self) -> int:
        """Run until the next exit; its KVM_EXIT_* reason. InterruptedError when a host
        signal came first (Python's handlers for it have run by then)."""
        self._ioctl(self.fd, K.RUN, 0)
        return _U32.unpack_from(self.run, K.RUN_EXIT_REASON)[0]

    def mmio(self) -> tuple[int, bytes, int, int]:
        """(guest-physical address, data, length, is_write) of the last KVM_EXIT_MMIO."""
        return K.RUN_MMIO.unpack_from(self.run, K.RUN_UNION)

    def close(self) -> None:
        if self.fd >= 0:
            self.run.close()
            os.close(self.fd)
            self.fd = -1
