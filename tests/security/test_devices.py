"""Device nodes for the host's real devices (memory, I/O ports, disks, KVM, FUSE, TUN,
consoles, the kernel log), made by the guest as root in the sandbox's /tmp and /dev:
making them is allowed, as in a memory filesystem on Linux, and opening them is ENXIO,
as Linux answers for a device no driver serves; no host device is ever behind them."""

from __future__ import annotations

import pytest

from .conftest import lines

pytestmark = pytest.mark.guest

DEVICES = ["mem", "kmem", "port", "kmsg", "tty1", "console", "ptmx", "sda", "loop0", "tun", "fuse", "kvm", "nvme0n1"]


def test_nodes_for_host_devices_open_nothing(sandboxed):
    result = sandboxed("devices")
    assert result.returncode == 0, result.stderr
    expected = {}
    for directory in ("/tmp", "/dev"):
        for name in DEVICES:
            expected[f"mknod {directory}/{name}"] = "OK"
            expected[f"open {directory}/{name}"] = "ENXIO"
    assert lines(result) == expected
