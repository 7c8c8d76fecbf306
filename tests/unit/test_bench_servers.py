"""bench/servers.py's parsing of wrk and redis-benchmark reports and its table. Nothing
here starts a server."""

import argparse
import importlib.util
import pathlib
import sys

import pytest

_SERVERS = pathlib.Path(__file__).resolve().parents[2] / "bench" / "servers.py"


def _load_servers():
    # bench/ is a directory of scripts, not a package: load the module from its file
    spec = importlib.util.spec_from_file_location("slimbox_bench_servers", _SERVERS)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


servers = _load_servers()

WRK_REPORT = """Running 2s test @ http://127.0.0.1:8080/index.html
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.73ms    3.39ms  21.06ms   67.89%
    Req/Sec   277.35     18.53   301.00     85.00%
  573 requests in 2.09s, 134.30KB read
Requests/sec:    273.58
Transfer/sec:     64.12KB
"""


def test_wrk_rate_is_read_from_the_report():
    assert servers.wrk_rate(WRK_REPORT) == 273.58


@pytest.mark.parametrize("failure", ["  Socket errors: connect 0, read 2, write 0, timeout 0\n",
                                     "  Non-2xx or 3xx responses: 12\n"])
def test_wrk_errors_fail_the_measure(failure):
    with pytest.raises(RuntimeError, match="errors"):
        servers.wrk_rate(WRK_REPORT.replace("Requests/sec", failure + "Requests/sec"))


def test_redis_rates_skip_progress_lines():
    report = "".join(f"{name}: rps=10.0 (overall: 9.0) avg_msec=1.0\r{name}: {rate} requests per second, "
                     f"p50=0.5 msec\n" for name, rate in
                     [("SET", "100.5"), ("GET", "200"), ("INCR", "300"), ("LPUSH", "400"), ("LPOP", "500")])
    assert servers.redis_rates(report) == {"set": 100.5, "get": 200.0, "incr": 300.0, "lpush": 400.0,
                                           "lpop": 500.0}


def test_an_unfinished_redis_test_fails_the_measure():
    with pytest.raises(RuntimeError, match="lpop"):
        servers.redis_rates("SET: 1 requests per second\nGET: 1 requests per second\n"
                            "INCR: 1 requests per second\nLPUSH: 1 requests per second\n")


def test_table_gives_medians_ranges_and_ratios():
    args = argparse.Namespace(rounds=3, cpu=1, seconds=5, requests=50000, sandbox_requests=3000)
    rates = {("nginx", "native"): [9000.0, 10000.0, 11000.0], ("nginx", "host"): [90.0, 100.0, 130.0],
             ("nginx", "inside"): [40.0, 50.0, 60.0]}
    table = servers.render(rates, args, ["host", "inside"])
    assert "| nginx | 10,000 (9,000-11,000) | 100 (90-130) (0.010×) | 50 (40-60) (0.005×) |" in table
    assert "clients on the host, requests/s" in table and "clients in the sandbox, requests/s" in table
