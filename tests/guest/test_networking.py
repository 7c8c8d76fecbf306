"""Brokered host networking (kernel/net/broker.py, platforms/linux/hostnet.py): a
sandbox port published on the host with -p, TCP to host addresses --net host allows,
and what the policy refuses. Host-side servers and clients live in this test process,
on loopback only, and every loop is bounded in count and time."""

from __future__ import annotations

import socket
import threading
import urllib.request

import pytest

import slimbox
from slimbox.kernel.policy import PolicyError
from tests.recording_log import RecordingLog

pytestmark = pytest.mark.guest

PYTHON = "/usr/bin/python3"
#: a host address that is local on Linux (127.0.0.0/8 is all loopback) but is not the
#: sandbox's own 127.0.0.1, so --allow can name it
HOST_SIDE = "127.0.0.2"


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


class Background:
    """slimbox.run in a thread, so this process can be the host-side peer meanwhile."""

    def __init__(self, argv: list[str], **kwargs) -> None:
        self.result = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(argv, kwargs), daemon=True)
        self._thread.start()

    def _run(self, argv, kwargs) -> None:
        try:
            self.result = slimbox.run(argv, capture_output=True, timeout=90, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported by join
            self.error = exc

    def join(self):
        self._thread.join(120)
        assert not self._thread.is_alive(), "the sandbox did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def _fetch(url: str, attempts: int = 300) -> bytes:
    """GET `url`, retrying while the sandbox's server is not listening yet (a published
    port with no listener closes the connection at once)."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=20) as response:
                return response.read()
        except OSError as exc:
            last = exc
            threading.Event().wait(0.1)
    raise AssertionError(f"no answer from {url}: {last}")


HTTP_SERVER = """
import http.server, os, sys
os.makedirs('/tmp/www')
payload = bytes(range(256)) * 4096 + b'end'
open('/tmp/www/file.bin', 'wb').write(payload)
os.chdir('/tmp/www')
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
server = http.server.HTTPServer(('127.0.0.1', 8000), Quiet)
server.timeout = 60
for _ in range(int(sys.argv[1])):
    server.handle_request()
print('served', flush=True)
"""


def test_http_server_in_the_sandbox_serves_a_host_client_through_a_published_port():
    port = _free_port()
    run = Background([PYTHON, "-c", HTTP_SERVER, "2"], publish=[f"{port}:8000"])
    expected = bytes(range(256)) * 4096 + b"end"
    assert _fetch(f"http://127.0.0.1:{port}/file.bin") == expected
    assert _fetch(f"http://127.0.0.1:{port}/file.bin") == expected
    result = run.join()
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"served\n"


def test_a_published_port_that_the_host_already_uses_is_refused_before_the_program_runs():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PolicyError, match=f"cannot publish 127.0.0.1:{port}"):
            slimbox.run([PYTHON, "-c", "print('never')"], publish=[f"{port}:80"], capture_output=True,
                        timeout=60)


@pytest.mark.parametrize("bad", ["80", "0:80", "70000:80", "a:80", "1.2.3:80:80", "8080:80:90:1", "[::1:80:80"])
def test_bad_publish_values_are_value_errors(bad):
    with pytest.raises(ValueError):
        slimbox.run([PYTHON, "-c", "pass"], publish=[bad])


class HostServer:
    """A TCP server on the host side: for each of `count` connections it reads a line,
    then sends `reply(line)` and closes."""

    def __init__(self, count: int, reply) -> None:
        self.sock = socket.socket()
        self.sock.bind((HOST_SIDE, 0))
        self.sock.listen(16)
        self.sock.settimeout(60)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(count, reply), daemon=True)
        self._thread.start()

    def _serve(self, count: int, reply) -> None:
        try:
            for _ in range(count):
                connection, _ = self.sock.accept()
                with connection:
                    connection.settimeout(60)
                    data = b""
                    while not data.endswith(b"\n"):
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.received.append(data)
                    try:
                        connection.sendall(reply(data))
                    except OSError:
                        pass  # the guest went away mid-transfer
        except BaseException as exc:  # noqa: BLE001
            self.errors.append(exc)

    def close(self) -> None:
        self._thread.join(60)
        self.sock.close()


ALLOWED_CLIENT = """
import socket, sys, errno
port = int(sys.argv[1])
# a blocking connect, a large request (more than a socket buffer) and a large answer
s = socket.create_connection(('127.0.0.2', port), timeout=30)
s.sendall(b'x' * 300000 + b'\\n')
answer = b''
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    answer += chunk
print('blocking', len(answer), answer == bytes(range(256)) * 2000)
# a non-blocking connect finished with poll and SO_ERROR
import select
s = socket.socket(); s.setblocking(False)
print('connect_ex', errno.errorcode.get(s.connect_ex(('127.0.0.2', port)), 0))
select.select([], [s], [], 30)
print('SO_ERROR', s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
s.setblocking(True)
print('peer', s.getpeername(), 'from', s.getsockname()[0])
s.sendall(b'second\\n')
s.shutdown(socket.SHUT_WR)
print('second', s.recv(100, socket.MSG_WAITALL))
print('eof', s.recv(100))
try:
    print('closed', s.getpeername())
except OSError as exc:
    print('closed', errno.errorcode[exc.errno])
"""


def test_net_host_relays_an_allowed_connection_both_ways():
    server = HostServer(2, lambda line: bytes(range(256)) * 2000 if line.startswith(b"x") else line.upper())
    try:
        result = slimbox.run([PYTHON, "-c", ALLOWED_CLIENT, str(server.port)], net="host",
                             allow=[f"{HOST_SIDE}:{server.port}"], capture_output=True, timeout=90)
    finally:
        server.close()
    assert not server.errors, server.errors
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines() == [
        "blocking 512000 True", "connect_ex EINPROGRESS", "SO_ERROR 0", f"peer ('127.0.0.2', {server.port}) from 127.0.0.1",
        "second b'SECOND\\n'", "eof b''", "closed ENOTCONN"]
    assert server.received == [b"x" * 300000 + b"\n", b"second\n"]


REFUSED_CLIENT = """
import socket, sys, errno
for address in sys.argv[1:]:
    host, port = address.rsplit(':', 1)
    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
    host = host.strip('[]')
    try:
        s.connect((host, int(port)))
        print(address, 'connected')
    except OSError as exc:
        print(address, errno.errorcode[exc.errno])
    s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b'x', ('192.0.2.1', 53))
    print('udp sent')
except OSError as exc:
    print('udp', errno.errorcode[exc.errno])
"""


UDP_CLIENT = """
import socket, sys
port = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(30)
u.sendto(b'first', ('127.0.0.2', port))
print(u.recvfrom(100))
u.connect(('127.0.0.2', port))
u.send(b'second')
print(u.recv(100))
"""


def test_net_host_relays_udp_to_an_allowed_address_and_only_its_answers_come_back():
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind((HOST_SIDE, 0))
    echo.settimeout(60)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind((HOST_SIDE, 0))
    port = echo.getsockname()[1]
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            for _ in range(2):
                data, client = echo.recvfrom(100)
                stranger.sendto(b"not from the allowed address", client)  # must not reach the guest
                echo.sendto(data.upper(), client)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = slimbox.run([PYTHON, "-c", UDP_CLIENT, str(port)], net="host", allow=[f"{HOST_SIDE}:{port}"],
                             capture_output=True, timeout=90)
    finally:
        thread.join(60)
        echo.close()
        stranger.close()
    assert not errors, errors
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines() == [f"(b'FIRST', ('{HOST_SIDE}', {port}))", "b'SECOND'"]


def test_net_host_refuses_addresses_not_allowed_with_econnrefused_and_logs_them():
    allowed_port = _free_port(HOST_SIDE)
    other_port = _free_port(HOST_SIDE)
    log = RecordingLog()
    with socket.socket() as listener:
        listener.bind((HOST_SIDE, other_port))
        listener.listen()
        listener.setblocking(False)
        with slimbox.Sandbox(net="host", allow=[f"{HOST_SIDE}:{allowed_port}"], log=log) as sandbox:
            result = sandbox.run([PYTHON, "-c", REFUSED_CLIENT, f"{HOST_SIDE}:{other_port}", "192.0.2.1:80"],
                                 capture_output=True, timeout=60)
        with pytest.raises(BlockingIOError):
            listener.accept()  # the refused connection never reached the host
    assert result.stdout.decode().splitlines() == [
        # 127.0.0.2 is loopback: without an --allow entry it is the sandbox's own, where nothing listens
        f"{HOST_SIDE}:{other_port} ECONNREFUSED", "192.0.2.1:80 ECONNREFUSED", "udp EPERM"]
    assert any("192.0.2.1:80" in line and "ECONNREFUSED" in line for line in log.lines), log.lines
    assert any("192.0.2.1:53" in line and "EPERM" in line for line in log.lines), log.lines


def test_net_none_reaches_nothing_and_says_enetunreach():
    log = RecordingLog()
    with socket.socket() as listener:
        listener.bind((HOST_SIDE, 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        with slimbox.Sandbox(log=log) as sandbox:
            result = sandbox.run([PYTHON, "-c", REFUSED_CLIENT, f"{HOST_SIDE}:{port}", "192.0.2.1:80",
                                  "[2001:db8::1]:443"], capture_output=True, timeout=60)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert result.stdout.decode().splitlines() == [
        f"{HOST_SIDE}:{port} ECONNREFUSED", "192.0.2.1:80 ENETUNREACH", "[2001:db8::1]:443 ENETUNREACH",
        "udp ENETUNREACH"]
    assert any("192.0.2.1:80" in line and "--net none" in line for line in log.lines), log.lines


@pytest.mark.parametrize("bad", [{"net": "bridge"}, {"allow": ["example.org:80"]},
                                 {"net": "host", "allow": ["example.org"]},
                                 {"net": "host", "allow": ["127.0.0.1:80"]},
                                 {"net": "host", "allow": ["localhost:80"]}])
def test_bad_network_policies_are_value_errors(bad):
    with pytest.raises(ValueError):
        slimbox.Sandbox(**bad)


MID_TRANSFER = """
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(('127.0.0.2', port), timeout=30)
s.sendall(b'go\\n')
print('got', len(s.recv(1000)) > 0)
s.close()  # the host is still sending megabytes
s = socket.create_connection(('127.0.0.2', port), timeout=30)
s.sendall(b'small\\n')
print('then', s.recv(100, socket.MSG_WAITALL))
"""


def test_a_guest_closing_mid_transfer_leaves_the_relay_working():
    server = HostServer(2, lambda line: b"y" * (8 << 20) if line == b"go\n" else line.upper())
    try:
        result = slimbox.run([PYTHON, "-c", MID_TRANSFER, str(server.port)], net="host",
                             allow=[f"{HOST_SIDE}:{server.port}"], capture_output=True, timeout=90)
    finally:
        server.close()
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines() == ["got True", "then b'SMALL\\n'"]


# --- the command line -----------------------------------------------------------------------------


def test_cli_publishes_a_port_for_a_host_client():
    import os
    import subprocess
    import sys

    from tests.guest.conftest import HERE

    port = _free_port()
    command = [sys.executable, "-m", "slimbox", "run", "-q", "--timeout", "90", "-p", f"127.0.0.1:{port}:8000",
               "--", PYTHON, "-c", HTTP_SERVER, "1"]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent / "src")}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        try:
            body = _fetch(f"http://127.0.0.1:{port}/file.bin")
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert body == bytes(range(256)) * 4096 + b"end"
    assert proc.returncode == 0, err.decode()
    assert out == b"served\n"


@pytest.mark.parametrize("args, message", [
    (["-p", "80"], "bad -p '80'"),
    (["-p", "99999:80"], "the port must be a number from 1 to 65535"),
    (["--net", "bridge"], "bad --net 'bridge'"),
    (["--allow", "example.org:80"], "--allow needs --net host"),
    (["--net", "host", "--allow", "127.0.0.1:80"], "the sandbox's own loopback"),
])
def test_cli_refuses_bad_network_values_with_status_2(args, message):
    from tests.guest.conftest import slimbox_cli

    proc = slimbox_cli("run", *args, "--", "/bin/true")
    assert proc.returncode == 2
    assert message in proc.stderr.decode()


def test_cli_refuses_a_host_port_in_use_with_status_2():
    from tests.guest.conftest import slimbox_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = slimbox_cli("run", "-p", f"{port}:80", "--", "/bin/echo", "never")
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert f"cannot publish 127.0.0.1:{port} -> 80" in proc.stderr.decode()


ECHO_SERVER = """
import socket, sys
count = int(sys.argv[1])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 8000))
server.listen(256)
served = 0
while served < count:
    connection, peer = server.accept()
    with connection:
        line = b''
        while not line.endswith(b'\\n'):
            chunk = connection.recv(100)
            if not chunk:
                break
            line += chunk
        connection.sendall(line[::-1])
        served += 1
print('served', served, peer[0], flush=True)
"""


def test_many_host_clients_of_a_published_port_each_get_their_own_answer():
    """100 host clients at once (more than the guest server's accept loop takes at a
    time) each get their own line back, reversed."""
    import os
    import subprocess
    import sys

    from tests.guest.conftest import HERE

    count = 100
    port = _free_port()
    # the supervisor in a process of its own: 100 client threads here would otherwise
    # starve it of this interpreter's lock
    command = [sys.executable, "-m", "slimbox", "run", "-q", "--timeout", "90", "-p", f"{port}:8000",
               "--", PYTHON, "-c", ECHO_SERVER, str(count)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent / "src")}
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    answers: dict[int, bytes] = {}
    failures: list[BaseException] = []

    def client(number: int) -> None:
        line = f"client {number}\n".encode()
        last: BaseException | None = None
        # until the sandbox publishes the port (refused) and its server listens (closed at once)
        for _ in range(600):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                    sock.sendall(line)
                    answer = b""
                    while chunk := sock.recv(100):
                        answer += chunk
                if answer:
                    answers[number] = answer
                    return
            except OSError as exc:
                last = exc
            threading.Event().wait(0.1)
        failures.append(last or AssertionError(f"client {number} never got an answer"))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(120)
        out, err = run.communicate(timeout=120)
    finally:
        run.kill()
        run.wait()
    assert not failures, failures[:3]
    assert answers == {n: f"client {n}\n".encode()[::-1] for n in range(count)}
    assert run.returncode == 0, err.decode()
    # a host client appears to come from the sandbox's own loopback address
    assert out == f"served {count} 127.0.0.1\n".encode()


def test_an_allowed_connection_behaves_as_natively():
    """The client program of test_net_host_relays_an_allowed_connection_both_ways, run
    natively and in the sandbox against the same host server, prints the same."""
    from tests.guest.conftest import run_native

    server = HostServer(4, lambda line: bytes(range(256)) * 2000 if line.startswith(b"x") else line.upper())
    try:
        native = run_native([PYTHON, "-c", ALLOWED_CLIENT, str(server.port)])
        sandboxed = slimbox.run([PYTHON, "-c", ALLOWED_CLIENT, str(server.port)], net="host",
                                allow=[f"{HOST_SIDE}:{server.port}"], capture_output=True, timeout=90)
    finally:
        server.close()
    assert native.returncode == 0, native.stderr.decode()
    assert (sandboxed.returncode, sandboxed.stdout, sandboxed.stderr) == (0, native.stdout, native.stderr)


NAMED_CLIENT = """
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
print('hosts has it', any(name in line.split() for line in open('/etc/hosts')))
print('resolves to', sorted({info[4][0] for info in socket.getaddrinfo(name, port, socket.AF_INET)}))
with socket.create_connection((name, port), timeout=30) as s:
    s.sendall(b'by name\\n')
    print('answer', s.recv(100, socket.MSG_WAITALL))
try:
    socket.getaddrinfo('not-allowed.example', 80)
    print('other name resolved')
except socket.gaierror:
    print('other name unknown')
print(open('/etc/resolv.conf').read().split('nameserver ', 1)[1].split()[0])
"""


def test_allowed_names_are_resolved_by_the_supervisor_into_etc_hosts(monkeypatch):
    """The host's resolver is asked for the --allow name once, at start; the sandbox
    finds the name in its /etc/hosts and nothing else resolves. (The host's answer is
    stubbed, so the test needs no name of this machine pointing off 127.0.0.1.)"""
    from slimbox import _network
    from slimbox.platforms.linux.hostnet import PosixHostNetwork

    asked = []

    class StubbedResolver(PosixHostNetwork):
        @staticmethod
        def resolve(name: str) -> list[bytes]:
            asked.append(name)
            return [bytes(10) + b"\xff\xff" + socket.inet_aton(HOST_SIDE)]

    monkeypatch.setattr(_network, "_host_network", lambda platform: StubbedResolver)
    server = HostServer(1, lambda line: line.upper())
    try:
        result = slimbox.run([PYTHON, "-c", NAMED_CLIENT, "service.test", str(server.port)], net="host",
                             allow=[f"service.test:{server.port}"], capture_output=True, timeout=90)
    finally:
        server.close()
    assert asked == ["service.test"]
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines() == [
        "hosts has it True", f"resolves to ['{HOST_SIDE}']", "answer b'BY NAME\\n'", "other name unknown",
        "127.0.0.1"]
