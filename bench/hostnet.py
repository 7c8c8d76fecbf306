#!/usr/bin/env python3
"""The cost of brokered host networking (docs/networking.md), natively and in slimbox,
in one run:

- `publish bulk`: a host client reads --megabytes from a TCP server in the sandbox,
  published with `slimbox run -p` (MB/s);
- `publish round trips`: --trips 100-byte request/answer exchanges over one published
  connection (microseconds per round trip);
- `allow bulk`: a client in the sandbox reads --megabytes from a host server on
  127.0.0.2 that `--net host --allow` lets it reach (MB/s).

    python3 bench/hostnet.py [--megabytes 64] [--trips 2000] [--rounds 3] [--cpu 1]

Natively the same server or client program runs as a plain host process. Everything is
pinned to one CPU with taskset (pitfall 4 of the measured facts). Servers listen on
loopback only and every loop is bounded by --megabytes and --trips.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time

PYTHON = "/usr/bin/python3"
CHUNK = 65536

SERVER = """
import socket, sys
mode, port, amount = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', port))
server.listen(1)
print('listening', flush=True)
connection, _ = server.accept()
if mode == 'bulk':
    block = b'z' * 65536
    for _ in range(amount // 65536):
        connection.sendall(block)
else:
    for _ in range(amount):
        data = connection.recv(100)
        connection.sendall(data)
connection.close()
"""

CLIENT = """
import socket, sys, time
host, port, amount = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port))
start = time.perf_counter()
got = 0
while got < amount:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += len(chunk)
print(got, time.perf_counter() - start)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _connect(port: int) -> socket.socket:
    for _ in range(600):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=60)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _host_side(port: int, mode: str, amount: int) -> float:
    """Be the client of a published (or native) server; seconds the transfer took."""
    for _ in range(600):
        sock = _connect(port)
        if mode == "bulk":
            start = time.perf_counter()
            got = 0
            while got < amount:
                chunk = sock.recv(CHUNK)
                if not chunk:
                    break
                got += len(chunk)
            elapsed = time.perf_counter() - start
            sock.close()
            if got == amount:
                return elapsed
        else:
            message = b"q" * 100
            try:
                start = time.perf_counter()
                for _ in range(amount):
                    sock.sendall(message)
                    received = 0
                    while received < len(message):
                        chunk = sock.recv(100)
                        if not chunk:
                            raise ConnectionError("closed")
                        received += len(chunk)
                elapsed = time.perf_counter() - start
                sock.close()
                return elapsed
            except ConnectionError:
                sock.close()  # the published port had no listener yet: try again
        time.sleep(0.05)
    raise RuntimeError("no transfer completed")


def _served(prefix: list[str], sandboxed: bool, mode: str, amount: int) -> float:
    port = _free_port()
    guest_port = 8000 if sandboxed else port
    argv = [*prefix, *(["-p", f"{port}:{guest_port}", "--"] if sandboxed else []),
            PYTHON, "-c", SERVER, mode, str(guest_port), str(amount)]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            return _host_side(port, mode, amount)
        finally:
            proc.wait(120)


def _allowed_bulk(prefix: list[str], sandboxed: bool, amount: int) -> float:
    server = socket.socket()
    server.bind(("127.0.0.2", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def send() -> None:
        connection, _ = server.accept()
        with connection:
            block = b"z" * CHUNK
            for _ in range(amount // CHUNK):
                connection.sendall(block)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    allow = ["--net", "host", "--allow", f"127.0.0.2:{port}", "--"] if sandboxed else []
    out = subprocess.run([*prefix, *allow, PYTHON, "-c", CLIENT, "127.0.0.2", str(port), str(amount)],
                         capture_output=True, text=True, timeout=300, check=True).stdout.split()
    thread.join(60)
    server.close()
    if int(out[0]) != amount:
        raise RuntimeError(f"short transfer: {out}")
    return float(out[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--trips", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", default="1")
    args = parser.parse_args()
    amount = args.megabytes << 20
    pin = ["taskset", "-c", args.cpu]
    slimbox = [*pin, sys.executable, "-m", "slimbox", "run", "-q"]
    rows = []
    for label, prefix in (("native", pin), ("slimbox", slimbox)):
        sandboxed = label == "slimbox"
        bulk = [_served(prefix, sandboxed, "bulk", amount) for _ in range(args.rounds)]
        trips = [_served(prefix, sandboxed, "trips", args.trips) for _ in range(args.rounds)]
        allowed = [_allowed_bulk(prefix, sandboxed, amount) for _ in range(args.rounds)]
        rows.append((label, args.megabytes / statistics.median(bulk), statistics.median(trips) / args.trips * 1e6,
                     args.megabytes / statistics.median(allowed)))
    print("| | publish bulk (MB/s) | publish round trip (us) | allow bulk (MB/s) |")
    print("|---|---:|---:|---:|")
    for label, bulk, trip, allowed in rows:
        print(f"| {label} | {bulk:.0f} | {trip:.0f} | {allowed:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
