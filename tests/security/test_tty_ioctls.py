"""Terminal requests with the host's terminal (a pseudo-terminal here) as the
sandbox's stdin and stdout: pushing input into it (TIOCSTI), console and line
discipline changes, resizing, hanging up. The sandbox refuses them (EPERM for
TIOCSTI and TIOCSWINSZ, ENOTTY for requests it does not pass on) and the terminal's
input queue, modes, size and line discipline are as they were."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios

import pytest

from .conftest import GUEST_DIR, Outcome, lines

pytestmark = pytest.mark.guest

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")

EXPECTED = {
    "stdin is a terminal": "yes",
    "open /dev/tty": "OK",
    "TIOCSTI refused": "14 of 14 (EPERM)",
    "TIOCSTI on /dev/tty": "EPERM",
    "TIOCSTI on stdout": "EPERM",
    "TIOCLINUX": "ENOTTY",
    "TIOCCONS": "ENOTTY",
    "TIOCSETD": "ENOTTY",
    "TIOCEXCL": "ENOTTY",
    "TIOCSWINSZ": "EPERM",
    "TIOCSIG": "ENOTTY",
    "TIOCVHANGUP": "ENOTTY",
    "TIOCMBIS": "ENOTTY",
    "TIOCSSERIAL": "ENOTTY",
    "KDSETMODE": "ENOTTY",
    "VT_ACTIVATE": "ENOTTY",
    # accepted, acting only on the sandbox's view of its session
    "TIOCSCTTY": "OK",
    "TIOCSPGRP": "OK",
    "TCFLSH input": "OK",
    "TIOCNOTTY": "OK",
}


def _int_ioctl(fd: int, request: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, request, bytes(4)))[0]


def _terminal_state(fd: int) -> dict[str, object]:
    return {"modes": termios.tcgetattr(fd), "size": fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8)),
            "discipline": _int_ioctl(fd, termios.TIOCGETD), "pending input": _int_ioctl(fd, termios.FIONREAD)}


def _read_all(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: nobody holds the other side any more
            break
        if not chunk:
            break
        out += chunk
    return out


@pytest.fixture
def terminal():
    """A pseudo-terminal (master, slave) in non-canonical mode, so that any byte pushed
    into its input queue counts as pending input."""
    master, slave = os.openpty()
    modes = termios.tcgetattr(slave)
    modes[3] &= ~(termios.ICANON | termios.ECHO)
    termios.tcsetattr(slave, termios.TCSANOW, modes)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    yield master, slave
    os.close(master)
    os.close(slave)


def test_terminal_requests_leave_the_host_terminal_alone(hostile, terminal):
    master, slave = terminal
    before = _terminal_state(slave)
    proc = subprocess.run([sys.executable, "-m", "slimbox", "run", "-v", f"{hostile}:{GUEST_DIR}:ro", "--",
                           f"{GUEST_DIR}/tty_ioctls"], stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                          env={**os.environ, "PYTHONPATH": os.path.abspath(SRC)}, timeout=60)
    output = _read_all(master)
    assert proc.returncode == 0, proc.stderr.decode()
    assert lines(Outcome(proc.returncode, output.replace(b"\r\n", b"\n"), proc.stderr)) == EXPECTED
    assert _terminal_state(slave) == before
    assert b"INJECTED" not in output
