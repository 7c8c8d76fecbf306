"""Debian's redis-server (an epoll event loop, background threads, jemalloc) in the
sandbox, published on a host port with `slimbox run -p`, and the same server natively:
the same redis-cli commands from the host must get the same answers, a large value must
come back byte for byte, and a short redis-benchmark from the host must complete every
test. One test runs redis-benchmark inside the sandbox too."""

from __future__ import annotations

import os
import pathlib
import re
import shutil

import pytest

from . import serving
from .conftest import run_sandboxed

pytestmark = pytest.mark.guest

PROGRAMS = ("redis-server", "redis-cli", "redis-benchmark")
BENCHMARK_TESTS = ("set", "get", "incr", "lpush", "lpop")

START = r"""
redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$dir" --logfile "$dir/redis.log" &
server=$!
"""

# $1 the directory, $2 the port
SERVE = "dir=$1 port=$2\n" + START + serving.WAIT_AND_STOP + r"""
redis-cli -p $port shutdown nosave
wait $server
echo "redis exit $?"
"""

# the server and redis-benchmark together in one sandbox, over its own loopback
SERVE_AND_LOAD = "dir=$1 port=$2\n" + START + r"""
tries=0
until [ "$(redis-cli -p $port ping 2>/dev/null)" = PONG ]; do
    tries=$((tries + 1))
    if [ $tries -ge 300 ]; then echo "redis did not answer"; kill -KILL $server; exit 1; fi
    sleep 0.1
done
redis-benchmark -p $port -c 4 -n 200 -q -t TESTS > "$dir/benchmark.txt" 2>&1
echo "benchmark exit $?"
redis-cli -p $port shutdown nosave
wait $server
echo "redis exit $?"
""".replace("TESTS", ",".join(BENCHMARK_TESTS))

COMMANDS = [
    ["set", "greeting", "hello world"], ["get", "greeting"], ["append", "greeting", "!"], ["strlen", "greeting"],
    ["incr", "counter"], ["incrby", "counter", "41"], ["decr", "counter"],
    ["rpush", "list", "a", "b", "c", "d"], ["lpush", "list", "z"], ["lrange", "list", "0", "-1"],
    ["lpop", "list"], ["llen", "list"],
    ["hset", "user", "name", "ada", "lang", "c"], ["hgetall", "user"],
    ["sadd", "set", "x", "y", "z", "y"], ["scard", "set"], ["sismember", "set", "y"],
    ["zadd", "board", "3", "three", "1", "one", "2", "two"], ["zrange", "board", "0", "-1", "withscores"],
    ["mset", "k1", "v1", "k2", "v2"], ["mget", "k1", "k2", "missing"],
    ["exists", "greeting", "nothing"], ["del", "greeting", "list"], ["dbsize"],
    ["config", "get", "bind"], ["nosuchcommand"],
]


def _need_programs() -> None:
    for program in PROGRAMS:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is missing: `make deps` installs redis-server and redis-tools")


def _prepare(root: pathlib.Path) -> None:
    root.mkdir()
    (root / "serve.sh").write_text(SERVE)
    (root / "serve_and_load.sh").write_text(SERVE_AND_LOAD)


def _cli(served: serving.Served, *args: str, stdin_file: pathlib.Path | None = None) -> str:
    argv = ["redis-cli", "-p", str(served.port), *(["-x"] if stdin_file else []), *args]
    answer = serving.run_client(argv, input=None if stdin_file is None else stdin_file.read_bytes())
    return answer.stdout.decode(errors="replace") + answer.stderr.decode(errors="replace")


def _start(tmp_path: pathlib.Path, where: str) -> serving.Served:
    root = tmp_path / where
    _prepare(root)
    served = serving.start(where, root, "serve.sh")
    serving.wait_until(lambda: _cli(served, "ping") == "PONG\n", served)
    return served


def test_redis_commands_from_the_host_match_native(tmp_path):
    _need_programs()
    big = os.urandom(200_000)
    (tmp_path / "big.bin").write_bytes(big)
    transcripts = {}
    for where in ("native", "sandboxed"):
        served = _start(tmp_path, where)
        lines = [_cli(served, *command) for command in COMMANDS]
        # a binary value of 200 kB through stdin, back byte for byte
        lines.append(_cli(served, "set", "big", stdin_file=tmp_path / "big.bin"))
        fetched = serving.run_client(["redis-cli", "-p", str(served.port), "--raw", "get", "big"])
        assert fetched.stdout == big + b"\n"
        status, out, err = served.stop()
        assert (status, out) == (0, "redis exit 0\n"), err
        transcripts[where] = "".join(lines)
    assert transcripts["sandboxed"] == transcripts["native"]
    assert "hello world\n" in transcripts["sandboxed"]
    log = (tmp_path / "sandboxed" / "redis.log").read_text()
    assert "Ready to accept connections" in log and "ready to exit, bye bye" in log


def _benchmark_rates(report: str) -> list[tuple[str, float]]:
    # -q prints one "NAME: N requests per second" line per test, after progress lines ending in \r
    finished = re.findall(r"^(\w+): ([\d.]+) requests per second", report.replace("\r", "\n"), re.MULTILINE)
    return [(name.lower(), float(rate)) for name, rate in finished]


def test_redis_benchmark_from_the_host_completes(tmp_path):
    _need_programs()
    served = _start(tmp_path, "sandboxed")
    load = serving.run_client(["redis-benchmark", "-p", str(served.port), "-c", "4", "-n", "500", "-q",
                               "-t", ",".join(BENCHMARK_TESTS)], timeout=120)
    status, out, err = served.stop()
    report = load.stdout.decode() + load.stderr.decode()
    assert load.returncode == 0, report
    rates = _benchmark_rates(report)
    assert [name for name, _ in rates] == list(BENCHMARK_TESTS), report
    assert all(rate > 0 for _, rate in rates)
    assert "error" not in report.lower(), report
    assert (status, out) == (0, "redis exit 0\n"), err


def test_redis_benchmark_inside_the_sandbox_completes(tmp_path):
    _need_programs()
    root = tmp_path / "inside"
    _prepare(root)
    outcome = run_sandboxed(["sh", f"{serving.GUEST_ROOT}/serve_and_load.sh", serving.GUEST_ROOT, "6379"],
                            env=serving.ENV, mounts=(f"{root}:{serving.GUEST_ROOT}",), timeout=120)
    assert outcome.stdout.decode() == "benchmark exit 0\nredis exit 0\n", outcome.stderr.decode(errors="replace")
    report = (root / "benchmark.txt").read_text()
    assert [name for name, _ in _benchmark_rates(report)] == list(BENCHMARK_TESTS), report
    assert "error" not in report.lower(), report


def _persistence(served: serving.Served) -> dict[str, str]:
    info = _cli(served, "info", "persistence")
    return dict(line.split(":", 1) for line in info.splitlines() if ":" in line)


def test_redis_bgsave_forks_a_saver_and_the_data_survives_a_restart(tmp_path):
    _need_programs()
    transcripts = {}
    for where in ("native", "sandboxed"):
        served = _start(tmp_path, where)
        lines = [_cli(served, "rpush", "saved", *map(str, range(2000)))]
        lines.append(_cli(served, "set", "note", "kept across a restart"))
        lines.append(_cli(served, "bgsave"))
        # the save runs in a forked child; wait (boundedly) for the parent to reap it
        serving.wait_until(lambda: _persistence(served).get("rdb_bgsave_in_progress") == "0", served)
        lines.append("last save: " + _persistence(served)["rdb_last_bgsave_status"] + "\n")
        status, out, err = served.stop()
        assert (status, out) == (0, "redis exit 0\n"), err
        assert (tmp_path / where / "dump.rdb").exists()
        (tmp_path / where / "stop").unlink()
        # a new server in the same directory loads dump.rdb
        again = serving.start(where, tmp_path / where, "serve.sh")
        serving.wait_until(lambda: _cli(again, "ping") == "PONG\n", again)
        lines += [_cli(again, "get", "note"), _cli(again, "llen", "saved"), _cli(again, "lindex", "saved", "1999")]
        status, out, err = again.stop()
        assert (status, out) == (0, "redis exit 0\n"), err
        transcripts[where] = "".join(lines)
    assert transcripts["sandboxed"] == transcripts["native"]
    assert "last save: ok\nkept across a restart\n2000\n1999\n" in transcripts["sandboxed"]
    assert "Background saving terminated with success" in (tmp_path / "sandboxed" / "redis.log").read_text()
