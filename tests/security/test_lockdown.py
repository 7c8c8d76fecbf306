"""The supervisor's lock-down: once a sandbox runs, the supervisor makes only the host
syscalls listed in `slimbox host-syscalls`, and any other one kills it.

The workloads run under strace (main thread only: the supervisor, not its guests) and
every syscall after the lock-down filter is installed must be on the list.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from slimbox.platforms.linux.lockdown import (
    ALLOWED, ARGUMENT_RULES, NETWORK, build_lockdown_filter, host_syscalls, network_syscalls,
)

BUSYBOX = "/bin/busybox"
GUEST_TESTS = pathlib.Path(__file__).resolve().parent.parent / "guest"
SLIMBOX = [sys.executable, "-m", "slimbox"]

WORKLOADS = {
    "shell_pipeline": [BUSYBOX, "sh", "-c",
                       "echo hello | busybox tr a-z A-Z | busybox wc -c; busybox ls /etc > /dev/null"],
    "files_on_a_host_volume": [BUSYBOX, "sh", "-c",
                               "cd /data && echo x > f && busybox mkdir d && busybox mv f d/g && "
                               "busybox ln -s d/g l && busybox cat l && busybox chmod 600 d/g && "
                               "busybox touch d/g && busybox rm -r d l && busybox ls -la /data"],
    "signals_and_sleep": [BUSYBOX, "sh", "-c",
                          "busybox sleep 5 & kill $!; wait; trap 'echo got' USR1; kill -USR1 $$; "
                          "busybox sleep 0.05; echo done"],
    "python_threads_and_subprocess": [
        "/usr/bin/python3", "-c", textwrap.dedent("""
            import threading, subprocess, mmap, os
            out = []
            ts = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]
            [t.start() for t in ts]; [t.join() for t in ts]
            m = mmap.mmap(-1, 1 << 20); m[:5] = b"hello"
            print(sorted(out), m[:5], subprocess.run(["/bin/busybox", "echo", "child"],
                  capture_output=True).stdout)
            with open("/usr/bin/python3", "rb") as f:
                big = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
                print(big[:4])
        """)],
}

_CALL = re.compile(r"^(?:\d+ +)?([a-z_0-9]+)\(")


def _calls_after_lock_down(log: pathlib.Path) -> list[str]:
    lines = log.read_text().splitlines()
    installed = [i for i, line in enumerate(lines)
                 if line.startswith("seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC")]
    assert installed, f"the supervisor never installed its lock-down filter ({log.name})"
    return [m.group(1) for line in lines[installed[-1] + 1:] if (m := _CALL.match(line))]


def _strace_supervisor(tmp_path, argv: list[str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    if shutil.which("strace") is None:
        pytest.fail("strace is missing: run `make deps`")
    log = tmp_path / "strace.log"
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    command = ["strace", "-qq", "-o", str(log), *SLIMBOX, "run", "-q", "-v", f"{data}:/data", "--", *argv]
    proc = subprocess.run(command, capture_output=True, timeout=120)
    return proc, _calls_after_lock_down(log)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_supervisor_stays_inside_its_host_syscall_list(tmp_path, name):
    proc, calls = _strace_supervisor(tmp_path, WORKLOADS[name])
    assert proc.returncode == 0, proc.stderr.decode()
    assert calls, "nothing traced after the lock-down"
    outside = sorted(set(calls) - set(ALLOWED))
    assert not outside, f"host syscalls outside the list: {outside}"


def test_guest_suite_with_a_locked_down_supervisor_stays_inside_the_list(tmp_path):
    """Every sandbox of the guest test suite, run locked down under strace: the suite
    still passes and the supervisors' host syscalls, together, are on the list."""
    if shutil.which("strace") is None:
        pytest.fail("strace is missing: run `make deps`")
    env = {**os.environ, "SLIMBOX_TRACE_SUPERVISOR_INTO": str(tmp_path)}
    # the portability test runs only the emu platform, which this list does not cover
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(GUEST_TESTS),
                           "--ignore", str(GUEST_TESTS / "test_portability.py")],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = sorted(tmp_path.glob("*.strace"))
    assert len(logs) >= 50, "the guest suite ran too few sandboxes through the audit"
    used: set[str] = set()
    for log in logs:
        used.update(_calls_after_lock_down(log))
    assert not used - set(ALLOWED), f"host syscalls outside the list: {sorted(used - set(ALLOWED))}"
    assert len(used) <= 60
    print(f"{len(logs)} locked-down supervisors used {len(used)} distinct host syscalls: {sorted(used)}")


def test_the_list_is_short_and_every_entry_says_why():
    entries = host_syscalls()
    assert len(entries) <= 60
    assert all(entry.reason.strip() for entry in entries)
    assert set(ARGUMENT_RULES) <= set(ALLOWED) | set(NETWORK)
    # nothing that would let a compromised supervisor reach further
    for forbidden in ("execve", "execveat", "socket", "connect", "bind", "fork", "vfork", "clone",
                      "clone3", "open", "mount", "setns", "unshare", "ptrace_attach", "process_vm_writev",
                      "pidfd_getfd", "seccomp", "prctl", "chroot", "init_module", "bpf", "memfd_create"):
        assert forbidden not in ALLOWED, forbidden


def test_cli_prints_the_list():
    proc = subprocess.run([*SLIMBOX, "host-syscalls"], capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    end = lines.index(f"{len(ALLOWED)} host syscalls")
    assert {line.split()[1] for line in lines[:end]} == set(ALLOWED)
    assert lines[end + 1] == "only with --net host or -p:"
    assert lines[-1] == f"{len(NETWORK)} more host syscalls with host networking"
    assert {line.split()[1] for line in lines[end + 2:-1]} == set(NETWORK)


def _locked_child(body: str, network: bool = False) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import os, socket, mmap, ctypes
        from slimbox.platforms.linux.lockdown import lock_down
        lock_down(network={network})
        print("locked", flush=True)
        {body}
        print("survived", flush=True)
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("body", [
    "socket.socket()",
    "os.execv('/bin/true', ['true'])",
    "os.fork()",
    "os.kill(os.getppid(), 0)",
    "mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)",
    "ctypes.CDLL(None).syscall(101, 16, 1, 0, 0)",  # ptrace(PTRACE_ATTACH, 1)
    "ctypes.CDLL(None).syscall(16, 0, 0x5412, 0)",  # ioctl(0, TIOCSTI, ...)
])
def test_anything_else_kills_the_supervisor(body):
    proc = _locked_child(body)
    assert proc.stdout == "locked\n", proc.stdout + proc.stderr
    assert proc.returncode == -signal.SIGSYS, (proc.returncode, proc.stderr)


def test_allowed_calls_still_work_after_lock_down(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"abc")
    body = f"fd = os.open({str(target)!r}, os.O_RDWR); os.pwrite(fd, b'Z', 0); print(os.pread(fd, 3, 0))"
    proc = _locked_child(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["locked", "b'Zbc'", "survived"]


def test_filter_rejects_other_architectures():
    program = build_lockdown_filter()
    assert len(program) % 8 == 0 and len(program) // 8 < 4096
    # the first two instructions load the architecture and compare it with x86-64
    assert int.from_bytes(program[4:8], "little") == 4  # offsetof(struct seccomp_data, arch)


def test_no_lockdown_flag_runs_unrestricted():
    proc = subprocess.run([*SLIMBOX, "run", "-q", "--no-lockdown", "--", BUSYBOX, "echo", "ok"],
                          capture_output=True, timeout=60, env={**os.environ})
    assert proc.returncode == 0 and proc.stdout == b"ok\n"


# --- host networking: its syscalls are allowed only when a sandbox uses host sockets ---------


def test_network_syscalls_are_a_separate_list_each_with_a_reason():
    assert NETWORK and not set(NETWORK) & set(ALLOWED)
    assert all(reason.strip() for reason in NETWORK.values())
    assert {entry.name for entry in host_syscalls()} == set(ALLOWED)
    assert {entry.name for entry in host_syscalls(network=True)} == set(ALLOWED) | set(NETWORK)
    assert {entry.name for entry in network_syscalls()} == set(NETWORK)
    # without host networking the filter is exactly what it was; with it, it differs
    assert build_lockdown_filter() == build_lockdown_filter(network=False)
    assert build_lockdown_filter(network=True) != build_lockdown_filter()
    for forbidden in ("execve", "fork", "clone", "bind", "listen", "ptrace_attach", "socketpair"):
        assert forbidden not in NETWORK, forbidden
    # the socket options a host connection may get are TCP's alone
    assert ARGUMENT_RULES["setsockopt"].values == (6,)


def test_with_network_a_tcp_socket_is_allowed_but_nothing_else_is():
    proc = _locked_child("s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK); "
                         "s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); s.close()", network=True)
    assert proc.returncode == 0, proc.stderr
    proc = _locked_child("socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)"
                         ".setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)", network=True)
    assert proc.returncode == -signal.SIGSYS, (proc.returncode, proc.stderr)
    proc = _locked_child("socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)", network=True)
    assert proc.returncode == -signal.SIGSYS, (proc.returncode, proc.stderr)
    proc = _locked_child("socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)")
    assert proc.returncode == -signal.SIGSYS, (proc.returncode, proc.stderr)


NET_PROBE = textwrap.dedent("""
    import socket, sys
    for host, port in (('127.0.0.2', int(sys.argv[1])), ('192.0.2.1', 80)):
        try:
            socket.create_connection((host, port), timeout=5)
        except OSError as exc:
            print(host, exc.errno)
""")


def test_with_net_none_the_supervisor_makes_no_inet_socket_at_all(tmp_path):
    """The guest tries a host listener's address and a remote one: nothing reaches the
    host listener, and the supervisor's whole trace has no AF_INET/AF_INET6 socket and
    no connect."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.2", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        proc, calls = _strace_supervisor(tmp_path, ["/usr/bin/python3", "-c", NET_PROBE, str(port)])
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().splitlines() == ["127.0.0.2 111", "192.0.2.1 101"]  # ECONNREFUSED, ENETUNREACH
    trace = (tmp_path / "strace.log").read_text()
    assert "socket(AF_INET" not in trace and "connect(" not in trace
    assert not set(calls) & set(NETWORK)


ONE_REQUEST_SERVER = textwrap.dedent("""
    import http.server
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    server = http.server.HTTPServer(('127.0.0.1', 8000), Quiet)
    server.timeout = 60
    server.handle_request()
""")


def test_a_supervisor_publishing_a_port_stays_inside_the_network_list(tmp_path):
    """-p under strace: the supervisor accepts and relays the host client's connection
    with nothing beyond the list and its network part."""
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "strace.log"
    command = ["strace", "-qq", "-o", str(log), *SLIMBOX, "run", "-q", "--timeout", "90", "-p", f"{port}:8000",
               "--", "/usr/bin/python3", "-c", ONE_REQUEST_SERVER]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            body = None
            for _ in range(300):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20) as response:
                        body = response.read()
                    break
                except OSError:
                    threading.Event().wait(0.1)
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert body is not None and b"Directory listing" in body
    assert proc.returncode == 0, err.decode()
    calls = _calls_after_lock_down(log)
    assert "accept4" in calls
    outside = sorted(set(calls) - set(ALLOWED) - set(NETWORK))
    assert not outside, f"host syscalls outside the list: {outside}"


ALLOWED_CLIENT = textwrap.dedent("""
    import socket, sys
    with socket.create_connection(('127.0.0.2', int(sys.argv[1])), timeout=30) as s:
        s.sendall(b'hello')
        s.shutdown(socket.SHUT_WR)
        print(s.recv(100, socket.MSG_WAITALL))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(30)
    u.sendto(b'datagram', ('127.0.0.2', int(sys.argv[1])))
    print(u.recv(100))
""")


def test_a_supervisor_with_net_host_stays_inside_the_network_list(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.2", 0))
        server.listen()
        server.settimeout(60)
        port = server.getsockname()[1]

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                data = b""
                while chunk := connection.recv(100):
                    data += chunk
                connection.sendall(data.upper())

        echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        echo.bind(("127.0.0.2", port))  # the same port number for UDP: --allow covers both
        echo.settimeout(60)

        def echo_one() -> None:
            data, client = echo.recvfrom(100)
            echo.sendto(data.upper(), client)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        udp_thread = threading.Thread(target=echo_one, daemon=True)
        udp_thread.start()
        log = tmp_path / "strace.log"
        proc = subprocess.run(["strace", "-qq", "-o", str(log), *SLIMBOX, "run", "-q", "--net", "host", "--allow",
                               f"127.0.0.2:{port}", "--", "/usr/bin/python3", "-c", ALLOWED_CLIENT, str(port)],
                              capture_output=True, timeout=120)
        thread.join(60)
        udp_thread.join(60)
        echo.close()
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"b'HELLO'\nb'DATAGRAM'\n"
    calls = _calls_after_lock_down(log)
    assert {"socket", "connect"} <= set(calls)
    outside = sorted(set(calls) - set(ALLOWED) - set(NETWORK))
    assert not outside, f"host syscalls outside the list: {outside}"
