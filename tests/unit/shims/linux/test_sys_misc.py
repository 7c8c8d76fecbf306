"""shims/linux/sys_misc.py: uname and host names, sysinfo, getrandom, syslog."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import UNMAPPED, FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.mm import PROT_READ  # noqa: E402

GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE = 1, 2, 4


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def uname(g: FakeGuest) -> list[bytes]:
    buf = g.alloc(6 * 65)
    assert g.syscall("uname", buf) == 0
    raw = g.get(buf, 6 * 65)
    return [raw[i * 65:(i + 1) * 65].split(b"\0", 1)[0] for i in range(6)]


def test_uname_describes_the_sandbox_not_the_host(g):
    sysname, nodename, release, version, machine, domain = uname(g)
    assert (sysname, machine) == (b"Linux", b"x86_64")
    assert nodename == b"slimbox" and domain == b"(none)"
    assert release == g.kernel.config.release and version == g.kernel.config.version
    assert g.syscall("uname", UNMAPPED) == -Errno.EFAULT
    assert g.syscall("uname", g.map(4096, PROT_READ)) == -Errno.EFAULT


def test_fields_are_always_nul_terminated(g):
    g.kernel.config.hostname = b"h" * 100
    assert uname(g)[1] == b"h" * 64


def test_sethostname_and_setdomainname(g):
    name = g.put(b"guest-box")
    assert g.syscall("sethostname", name, 9) == 0
    assert g.syscall("setdomainname", name, 5) == 0
    assert uname(g)[1] == b"guest-box" and uname(g)[5] == b"guest"
    assert g.syscall("sethostname", g.put(b"x" * 65), 65) == -Errno.EINVAL
    assert g.syscall("sethostname", g.put(b"x" * 64), 64) == 0
    assert g.syscall("sethostname", UNMAPPED, 4) == -Errno.EFAULT
    assert g.syscall("sethostname", name, (1 << 64) - 1) == -Errno.EINVAL
    user = g.spawn(uid=1000, gid=1000)
    assert user.syscall("sethostname", user.put(b"mine"), 4) == -Errno.EPERM
    assert uname(g)[1] == b"x" * 64


def test_getrandom_fills_the_buffer_deterministically_on_the_fake_host(g):
    a, b = g.alloc(48), g.alloc(48)
    assert g.syscall("getrandom", a, 48, 0) == 48
    assert g.syscall("getrandom", b, 48, GRND_NONBLOCK) == 48
    assert g.get(a, 48) != g.get(b, 48)  # never the same bytes twice
    assert g.get(a, 48) != bytes(48)
    replay = FakeGuest()
    c = replay.alloc(48)
    assert replay.syscall("getrandom", c, 48, 0) == 48
    assert replay.get(c, 48) == g.get(a, 48)  # the same sequence in every run
    assert g.syscall("getrandom", a, 0, 0) == 0
    assert g.syscall("getrandom", UNMAPPED, 0, 0) == 0


def test_getrandom_errors(g):
    buf = g.alloc(16)
    assert g.syscall("getrandom", buf, 16, 8) == -Errno.EINVAL
    assert g.syscall("getrandom", buf, 16, GRND_RANDOM | GRND_INSECURE) == -Errno.EINVAL
    assert g.syscall("getrandom", UNMAPPED, 16, 0) == -Errno.EFAULT
    assert g.syscall("getrandom", g.alloc_tail(8), 16, 0) == -Errno.EFAULT


def test_a_huge_getrandom_fills_what_is_mapped(g):
    addr = g.map(32 << 20)
    assert g.syscall("getrandom", addr, 1 << 40, 0) == 32 << 20  # Linux too stops where the buffer ends


def test_sysinfo(g):
    info = g.alloc(112)
    g.host.advance(90 * 1_000_000_000)
    assert g.syscall("sysinfo", info) == 0
    raw = g.get(info, 112)
    uptime = struct.unpack_from("<q", raw, 0)[0]
    totalram, freeram = struct.unpack_from("<QQ", raw, 32)
    procs = struct.unpack_from("<H", raw, 80)[0]
    mem_unit = struct.unpack_from("<I", raw, 104)[0]
    assert uptime == 90
    assert totalram == g.kernel.config.memory_bytes and 0 < freeram < totalram
    assert procs == 1 and mem_unit == 1
    assert g.syscall("sysinfo", UNMAPPED) == -Errno.EFAULT


def test_syslog(g):
    assert g.syscall("syslog", 10, 0, 0) == 0  # SYSLOG_ACTION_SIZE_BUFFER: an empty log
    assert g.syscall("syslog", 5, 0, 0) == -Errno.EPERM  # clearing the host's log: no
