"""A server run natively or in a sandbox whose port is published on the host, for tests
whose clients run on the host (tests/guest/test_nginx.py, test_redis.py).

The server's shell script gets its directory, its port and its stop signal; it starts
the server, waits until the test leaves a `stop` file in that directory (at most a
minute), stops the server and prints its exit status. Natively the directory and port
are the host's; in the sandbox the directory is mounted at GUEST_ROOT and the guest port
is published on a free host port with `slimbox run -p`, so a client on the host reaches
both the same way: 127.0.0.1 and a port.
"""

from __future__ import annotations

import pathlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

GUEST_ROOT = "/srv/served"
GUEST_PORT = 8080
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C", "TZ": "UTC"}
SRC = pathlib.Path(__file__).resolve().parent.parent.parent / "src"

# the tail every server script ends with: wait for the test's stop file, stop, report
WAIT_AND_STOP = r"""
tries=0
while [ ! -e "$dir/stop" ] && [ $tries -lt 600 ]; do tries=$((tries + 1)); sleep 0.1; done
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    """A running server: where clients reach it, and its directory on the host."""

    where: str
    port: int
    root: pathlib.Path
    process: subprocess.Popen

    def stop(self, timeout: float = 90) -> tuple[int, str, str]:
        """Leave the stop file and wait: (exit status, stdout, stderr) of the script."""
        (self.root / "stop").write_text("")
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def start(where: str, root: pathlib.Path, script: str, *args: str) -> Served:
    """Run `root/script` natively or in a sandbox (where: "native" or "sandboxed")."""
    port = free_port()
    if where == "native":
        argv = ["sh", str(root / script), str(root), str(port), *args]
        env = ENV
    else:
        argv = [sys.executable, "-m", "slimbox", "run", "-q", "--timeout", "120",
                "-p", f"127.0.0.1:{port}:{GUEST_PORT}", "-v", f"{root}:{GUEST_ROOT}", "--",
                "sh", f"{GUEST_ROOT}/{script}", GUEST_ROOT, str(GUEST_PORT), *args]
        env = {**ENV, "PYTHONPATH": str(SRC)}
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, start_new_session=True)
    return Served(where, port, root, process)


def wait_until(answers, served: Served, tries: int = 300) -> None:
    """Call `answers()` until it is true (every 0.1 s, `tries` times at most); fail with
    the server's output if it never is or the server ends first."""
    for _ in range(tries):
        if answers():
            return
        if served.process.poll() is not None:
            break
        time.sleep(0.1)
    status, out, err = served.stop(timeout=10)
    raise AssertionError(f"the {served.where} server never answered (status {status}):\n{out}\n{err}")


def run_client(argv: list[str], timeout: float = 60, input: bytes | None = None) -> subprocess.CompletedProcess:
    """A client on the host."""
    return subprocess.run(argv, capture_output=True, env=ENV, timeout=timeout, input=input)
