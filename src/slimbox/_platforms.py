"""The one place a platform is chosen by name.

`linux` runs guest code as host processes under seccomp and ptrace; `kvm` runs it in
ring 3 of a KVM virtual machine (platforms/kvm); `emu` runs it in a CPU emulator with
a host made only of portable Python (platforms/emu), so it also works where the host
is not Linux. `auto` picks the best one this host offers. Each platform is imported
only when it is chosen, so a host without ptrace or /dev/kvm never loads their code.
"""

from __future__ import annotations

import sys

from slimbox.platforms.base import PlatformUnavailable

NAMES = ("linux", "kvm", "emu")
CHOICES = ("auto", *NAMES)


def resolve(name: str) -> str:
    """The platform `name` stands for ('auto' becomes a real name); ValueError if unknown."""
    if name == "auto":
        return "linux" if sys.platform.startswith("linux") else "emu"
    if name not in NAMES:
        raise ValueError(f"unknown platform {name!r} (choose from {', '.join(CHOICES)})")
    return name


def make_host(name: str):
    """The host services the platform `name` (already resolved) runs with."""
    if name == "emu":
        from slimbox.platforms.emu.host import PortableHost

        return PortableHost()
    if not sys.platform.startswith("linux"):
        raise PlatformUnavailable(f"the {name} platform needs a Linux host; use --platform emu")
    from slimbox.platforms.linux.host import PosixHost

    return PosixHost()


def platform_class(name: str):
    """The class of the platform `name` (already resolved), its module imported now."""
    if name == "linux":
        from slimbox.platforms.linux.platform import LinuxPlatform

        return LinuxPlatform
    if name == "kvm":
        from slimbox.platforms.kvm.platform import KvmPlatform

        return KvmPlatform
    if name == "emu":
        from slimbox.platforms.emu.platform import EmuPlatform

        return EmuPlatform
    raise ValueError(f"unknown platform {name!r}")


#: how the linux platform catches guest syscalls (LinuxPlatform's `notify`)
INTERCEPTS = ("notify", "ptrace")


def check_intercept(name: str, intercept: str) -> str:
    """`intercept` if the platform `name` (already resolved) takes it; ValueError if not."""
    if intercept not in INTERCEPTS:
        raise ValueError(f"unknown intercept {intercept!r} (choose from {', '.join(INTERCEPTS)})")
    if intercept != "notify" and name != "linux":
        raise ValueError(f"intercept {intercept!r} is for the linux platform; the {name} platform catches "
                         "syscalls its own way")
    return intercept


def make_platform(name: str, host, *, intercept: str = "notify"):
    """A fresh platform instance for one run (PlatformUnavailable says what is missing)."""
    if name == "linux":
        return platform_class(name)(host, notify=intercept == "notify")
    return platform_class(name)(host)


def host_network(name: str):
    """The HostNetwork class of the platform `name` (None: it has no host sockets)."""
    if name in ("linux", "kvm"):
        from slimbox.platforms.linux.hostnet import PosixHostNetwork

        return PosixHostNetwork
    return None
