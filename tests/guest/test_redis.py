"""Debian's redis-server (an epoll event loop, background threads, jemalloc) over
loopback TCP: the same script of redis-cli commands runs natively and in the sandbox
and must print the same, a large value must come back byte for byte, and a short
redis-benchmark must complete every test.

The clients (redis-cli, redis-benchmark) run next to the server, in the same sandbox."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import socket

import pytest

from .conftest import run_native, run_sandboxed

pytestmark = pytest.mark.guest

PROGRAMS = ("redis-server", "redis-cli", "redis-benchmark")
GUEST_ROOT = "/srv/redis"
BENCHMARK_TESTS = ("set", "get", "incr", "lpush", "lpop")

# Starts redis from the directory ($1) on the port ($2), waits for PONG (a bounded
# number of tries), runs commands and optionally redis-benchmark, then shuts it down
# and prints its exit status.
SCRIPT = r"""
dir=$1 port=$2 load=$3
redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$dir" --logfile "$dir/redis.log" &
server=$!
cli() { redis-cli -p $port "$@"; }
tries=0
until [ "$(cli ping 2>/dev/null)" = PONG ]; do
    tries=$((tries + 1))
    if [ $tries -ge 100 ]; then echo "redis did not answer"; kill -KILL $server; exit 1; fi
    sleep 0.1
done
cli set greeting "hello world"
cli get greeting
cli append greeting "!"
cli strlen greeting
cli incr counter; cli incrby counter 41; cli decr counter
cli rpush list a b c d; cli lpush list z; cli lrange list 0 -1; cli lpop list; cli llen list
cli hset user name ada lang c; cli hgetall user
cli sadd set x y z y; cli scard set; cli sismember set y
cli zadd board 3 three 1 one 2 two; cli zrange board 0 -1 withscores
cli mset k1 v1 k2 v2; cli mget k1 k2 missing
cli set big "$(cat "$dir/big.txt")" > /dev/null
cli --raw get big > "$dir/big.out"
cli exists greeting big nothing
cli del greeting list; cli dbsize
cli config get bind | tail -n 1
cli nosuchcommand 2>&1 | cut -c1-40
if [ "$load" = benchmark ]; then
    redis-benchmark -p $port -c 4 -n 300 -q -t set,get,incr,lpush,lpop > "$dir/benchmark.txt" 2>&1
    echo "benchmark exit $?"
fi
cli shutdown nosave
wait $server
echo "redis exit $?"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _need_programs() -> None:
    for program in PROGRAMS:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is missing: `make deps` installs redis-server and redis-tools")


def _run(tmp_path: pathlib.Path, where: str, *, load: str = "") -> tuple[str, pathlib.Path, bytes]:
    """Run the script natively or in the sandbox: its stdout, its directory and the big value."""
    root = tmp_path / where
    root.mkdir()
    big = os.urandom(60_000).hex().encode()  # text, so the shell can pass it as one argument
    (root / "big.txt").write_bytes(big)
    (root / "run.sh").write_text(SCRIPT)
    port = _free_port()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C", "TZ": "UTC"}
    if where == "native":
        outcome = run_native(["sh", str(root / "run.sh"), str(root), str(port), load], env=env, timeout=120)
    else:
        outcome = run_sandboxed(["sh", f"{GUEST_ROOT}/run.sh", GUEST_ROOT, str(port), load], env=env,
                                mounts=(f"{root}:{GUEST_ROOT}",), timeout=120)
    assert outcome.returncode == 0, outcome.stderr.decode(errors="replace")
    return outcome.stdout.decode(errors="replace"), root, big


def test_redis_commands_match_native(tmp_path):
    _need_programs()
    native, _, _ = _run(tmp_path, "native")
    sandboxed, root, big = _run(tmp_path, "sandboxed")
    assert sandboxed == native
    assert "hello world\n" in sandboxed and "redis exit 0" in sandboxed
    assert (root / "big.out").read_bytes() == big + b"\n"
    log = (root / "redis.log").read_text()
    assert "Ready to accept connections" in log
    assert "ready to exit, bye bye" in log


def test_redis_benchmark_completes(tmp_path):
    _need_programs()
    sandboxed, root, _ = _run(tmp_path, "sandboxed", load="benchmark")
    assert "benchmark exit 0" in sandboxed and "redis exit 0" in sandboxed
    # -q prints one "NAME: N requests per second" line per test, after progress lines ending in \r
    report = (root / "benchmark.txt").read_text().replace("\r", "\n")
    finished = re.findall(r"^(\w+): ([\d.]+) requests per second", report, re.MULTILINE)
    assert [name.lower() for name, _ in finished] == list(BENCHMARK_TESTS), report
    assert all(float(rate) > 0 for _, rate in finished)
    assert "error" not in report.lower(), report
