"""vm.py and ioctl.py: request numbers, struct sizes, opening /dev/kvm."""

import pytest

from slimbox.platforms.base import PlatformUnavailable
from slimbox.platforms.kvm import ioctl as K
from slimbox.platforms.kvm.vm import open_kvm


def test_request_numbers_are_those_of_linux_kvm_h():
    assert K.RUN == 0xAE80
    assert K.GET_REGS == 0x8090AE81 and K.SET_REGS == 0x4090AE82
    assert K.GET_SREGS == 0x8138AE83 and K.SET_SREGS == 0x4138AE84
    assert K.SET_USER_MEMORY_REGION == 0x4020AE46
    assert K.GET_XSAVE == 0x9000AEA4 and K.SET_XSAVE == 0x5000AEA5
    assert K.SREGS_SIZE == 312 and K.REGS.size == 144 and K.SEGMENT.size == 24


def test_a_missing_device_makes_the_platform_unavailable(tmp_path):
    with pytest.raises(PlatformUnavailable, match="does not have"):
        open_kvm(str(tmp_path / "kvm"))


def test_a_device_that_is_not_kvm_makes_the_platform_unavailable():
    with pytest.raises(PlatformUnavailable, match="/dev/null"):
        open_kvm("/dev/null")


def test_a_vm_gives_vcpus_their_own_state():
    from kvm_host import kvm_platform

    platform = kvm_platform(memory_size=64 << 20)
    try:
        vm = platform.vm
        assert vm.xsave_size() in (512, 576, 832)
        first, second = vm.create_vcpu(), vm.create_vcpu()
        first.set_msrs(((K.MSR_FS_BASE, 0x1234000),))
        assert first.get_msrs((K.MSR_FS_BASE,)) == (0x1234000,)
        assert second.get_msrs((K.MSR_FS_BASE,)) == (0,)
        vm.resync()  # adding and removing the spare slot works
    finally:
        platform.close()
