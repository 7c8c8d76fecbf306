#!/usr/bin/env python3
"""Request rates of two servers, natively and in slimbox, in one run:

- nginx (Debian's nginx-light: a master and two workers, epoll, sendfile) serving a small
  static file, measured by wrk (requests per second);
- redis-server, measured by redis-benchmark -q (requests per second for each command).

    python3 bench/servers.py [--cpu 1] [--seconds 5] [--rounds 3] [--clients host|inside|both]

Everything runs pinned to one CPU with taskset (pitfall 4 of the measured facts: a
wake-up across CPUs costs more than the work here). Each measure is repeated --rounds
times and the median is reported, with the lowest and highest.

Where the clients run in the slimbox column:
- `inside`: wrk and redis-benchmark run in the same sandbox as the server, over the
  sandbox's own loopback, so every client syscall is served by slimbox as well;
- `host`: the server is published with `slimbox run -p` and the clients run natively on
  the host against the published port, as the native column's clients do.
`both` gives a column for each. The default is `host` when `slimbox run` has
`--publish`, otherwise `inside`.

The loads are bounded: wrk runs --seconds per round; redis-benchmark makes --requests
requests per command natively and --sandbox-requests in slimbox (so one round stays
short at either speed); servers listen on 127.0.0.1 only and are stopped at the end of
every round. The table goes to stdout and to build/bench/servers/<timestamp>.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import wait_quiet  # noqa: E402  (bench/run.py: waits until the measured CPU is nearly idle)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "build" / "bench" / "servers"
GUEST_DIR = "/srv/bench"
REDIS_TESTS = ("set", "get", "incr", "lpush", "lpop")
INDEX = b"<html><body>" + b"x" * 600 + b"</body></html>\n"
CLIENT_PLACES = ("host", "inside")

NGINX_CONFIG = """\
{user}
worker_processes 2;
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log warn;
events {{ worker_connections 256; use epoll; }}
http {{
    access_log off;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root www;
    }}
}}
"""

# $1 prefix, $2 port, $3 what to run once the server answers: "wrk SECONDS",
# "redis REQUESTS" or "wait SECONDS" (the server only, for clients elsewhere).
NGINX_SCRIPT = r"""
prefix=$1 port=$2 load=$3 amount=$4
nginx -p "$prefix/" -c nginx.conf -e logs/error.log &
master=$!
tries=0
until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/index.html"; do
    tries=$((tries + 1))
    if [ $tries -ge 200 ]; then echo "nginx did not answer" >&2; kill -KILL $master; exit 1; fi
    sleep 0.1
done
echo ready > "$prefix/ready"
if [ "$load" = wrk ]; then
    wrk -t1 -c4 -d${amount}s --timeout 10s "http://127.0.0.1:$port/index.html"
else
    while [ ! -e "$prefix/stop" ] && [ $tries -lt $((amount * 10)) ]; do tries=$((tries + 1)); sleep 0.1; done
fi
kill -QUIT $master
wait $master
"""

REDIS_SCRIPT = r"""
prefix=$1 port=$2 load=$3 amount=$4
redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$prefix" --logfile "$prefix/redis.log" &
server=$!
tries=0
until [ "$(redis-cli -p $port ping 2>/dev/null)" = PONG ]; do
    tries=$((tries + 1))
    if [ $tries -ge 200 ]; then echo "redis did not answer" >&2; kill -KILL $server; exit 1; fi
    sleep 0.1
done
echo ready > "$prefix/ready"
if [ "$load" = redis ]; then
    redis-benchmark -p $port -c 4 -n $amount -q -t TESTS
else
    while [ ! -e "$prefix/stop" ] && [ $tries -lt $((amount * 10)) ]; do tries=$((tries + 1)); sleep 0.1; done
fi
redis-cli -p $port shutdown nosave > /dev/null
wait $server
""".replace("TESTS", ",".join(REDIS_TESTS))


# --- parsing -----------------------------------------------------------------------------

def wrk_rate(report: str) -> float:
    """Requests per second from wrk's report; an error if wrk saw any failure."""
    if "Socket errors" in report or "Non-2xx or 3xx responses" in report:
        raise RuntimeError("wrk reported errors:\n" + report)
    found = re.search(r"^Requests/sec:\s+([\d.]+)", report, re.MULTILINE)
    if found is None:
        raise RuntimeError("no rate in wrk's report:\n" + report)
    return float(found.group(1))


def redis_rates(report: str) -> dict[str, float]:
    """{test: requests per second} from redis-benchmark -q (progress lines end in \\r)."""
    rates = {name.lower(): float(rate) for name, rate in
             re.findall(r"^(\w+): ([\d.]+) requests per second", report.replace("\r", "\n"), re.MULTILINE)}
    missing = [test for test in REDIS_TESTS if test not in rates]
    if missing:
        raise RuntimeError(f"redis-benchmark did not finish {missing}:\n{report}")
    return rates


# --- running -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def slimbox_command() -> list[str]:
    venv = REPO / ".venv" / "bin" / "slimbox"
    return [str(venv)] if venv.exists() else [sys.executable, "-m", "slimbox"]


def has_publish(slimbox: list[str]) -> bool:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    help_text = subprocess.run([*slimbox, "run", "--help"], capture_output=True, text=True, env=env).stdout
    return "--publish" in help_text


def prepare(root: Path, server: str, port: int) -> None:
    """The server's prefix: its script, and for nginx its config and site."""
    root.mkdir()
    if server == "nginx":
        for directory in ("www", "logs", "temp"):
            (root / directory).mkdir()
        (root / "www" / "index.html").write_bytes(INDEX)
        user = "user root root;" if os.geteuid() == 0 else ""
        (root / "nginx.conf").write_text(NGINX_CONFIG.format(user=user, port=port))
        (root / "run.sh").write_text(NGINX_SCRIPT)
    else:
        (root / "run.sh").write_text(REDIS_SCRIPT)


class Runner:
    def __init__(self, args: argparse.Namespace, slimbox: list[str]) -> None:
        self.args = args
        self.slimbox = slimbox
        self.pin = ["taskset", "-c", str(args.cpu)]
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C", "TZ": "UTC"}
        if slimbox[0] == sys.executable:
            self.env["PYTHONPATH"] = str(REPO / "src")

    def _wrap(self, system: str, root: Path, script_args: list[str], publish: int | None) -> list[str]:
        if system == "native":
            return [*self.pin, "sh", str(root / "run.sh"), str(root), *script_args]
        published = ["-p", f"127.0.0.1:{publish}:{script_args[0]}"] if publish is not None else []
        return [*self.pin, *self.slimbox, "run", "-q", "--timeout", str(self.args.timeout), *published,
                "-v", f"{root}:{GUEST_DIR}", "--", "sh", f"{GUEST_DIR}/run.sh", GUEST_DIR, *script_args]

    def _run(self, argv: list[str]) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=self.args.timeout + 30,
                              start_new_session=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def _client_argv(self, server: str, port: int, amount: int) -> list[str]:
        if server == "nginx":
            return [*self.pin, "wrk", "-t1", "-c4", f"-d{amount}s", "--timeout", "10s",
                    f"http://127.0.0.1:{port}/index.html"]
        return [*self.pin, "redis-benchmark", "-p", str(port), "-c", "4", "-n", str(amount), "-q",
                "-t", ",".join(REDIS_TESTS)]

    def round(self, system: str, server: str, clients: str) -> str:
        """One bounded measure; the client's report."""
        amount = self.args.seconds if server == "nginx" else (
            self.args.requests if system == "native" else self.args.sandbox_requests)
        load = "wrk" if server == "nginx" else "redis"
        with tempfile.TemporaryDirectory(prefix="slimbox-bench-") as scratch:
            root = Path(scratch) / server
            port = free_port()
            prepare(root, server, port)
            if system == "native" or clients == "inside":
                return self._run(self._wrap(system, root, [str(port), load, str(amount)], None))
            # the server alone in the sandbox, published on a host port; the client on the host
            host_port = free_port()
            server_argv = self._wrap(system, root, [str(port), "wait", str(self.args.timeout)], host_port)
            proc = subprocess.Popen(server_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                                    start_new_session=True)
            try:
                deadline = time.monotonic() + 60
                while not (root / "ready").exists():
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the sandboxed server did not start:\n" + proc.stderr.read().decode())
                    time.sleep(0.1)
                return self._run(self._client_argv(server, host_port, amount))
            finally:
                (root / "stop").write_text("stop")
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


#: the slimbox columns, by where their clients run
COLUMN_TITLES = {"host": "slimbox, clients on the host", "inside": "slimbox, clients in the sandbox"}


def measure(runner: Runner, places: list[str], rounds: int) -> dict[tuple[str, str], list[float]]:
    """{(row, column): rates over the rounds}; rows are 'nginx' and 'redis TEST', columns
    'native' and one per client place. Columns alternate within a round, so a noisy
    moment hits them alike."""
    rates: dict[tuple[str, str], list[float]] = {}
    for number in range(1, rounds + 1):
        for server in ("nginx", "redis"):
            for system, place in [("native", "host"), *(("slimbox", place) for place in places)]:
                column = "native" if system == "native" else place
                wait_quiet(runner.args.cpu, runner.args.quiet, runner.args.patience)
                report = runner.round(system, server, place)
                if server == "nginx":
                    found = {"nginx": wrk_rate(report)}
                else:
                    found = {f"redis {test.upper()}": rate for test, rate in redis_rates(report).items()}
                for row, rate in found.items():
                    rates.setdefault((row, column), []).append(rate)
                print(f"  round {number}, {server}, {system if system == 'native' else COLUMN_TITLES[place]}: "
                      + ", ".join(f"{row} {rate:,.0f}/s" for row, rate in found.items()), flush=True)
    return rates


def render(rates: dict[tuple[str, str], list[float]], args: argparse.Namespace, places: list[str]) -> str:
    rows = list(dict.fromkeys(row for row, _ in rates))
    titles = [f"{COLUMN_TITLES[place]}, requests/s (× native)" for place in places]
    lines = ["| measure | native, requests/s | " + " | ".join(titles) + " |", "|---|---:|" + "---:|" * len(places)]
    for row in rows:
        native = rates[(row, "native")]
        cells = []
        for place in places:
            sandboxed = rates[(row, place)]
            ratio = statistics.median(sandboxed) / statistics.median(native)
            cells.append(f"{summary(sandboxed)} ({ratio:.3f}×)")
        lines.append(f"| {row} | {summary(native)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Medians of {args.rounds} rounds (lowest-highest in parentheses), everything pinned to CPU {args.cpu}. "
        f"nginx: `wrk -t1 -c4 -d{args.seconds}s` for a {len(INDEX)}-byte file, 2 workers. redis: "
        f"`redis-benchmark -c 4 -q`, {args.requests:,} requests per command natively and "
        f"{args.sandbox_requests:,} in slimbox. Clients on the host reach the sandbox through a port "
        "published with `slimbox run -p`; clients in the sandbox share its loopback with the server.",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)),
                   help="the CPU everything is pinned to (default: the highest-numbered one available)")
    p.add_argument("--seconds", type=int, default=5, help="length of each wrk run (default 5)")
    p.add_argument("--requests", type=int, default=50_000,
                   help="redis-benchmark requests per command natively (default 50000)")
    p.add_argument("--sandbox-requests", type=int, default=3_000,
                   help="redis-benchmark requests per command in slimbox (default 3000)")
    p.add_argument("--rounds", type=int, default=3, help="measures per cell (default 3)")
    p.add_argument("--clients", choices=(*CLIENT_PLACES, "both"),
                   help="where the slimbox column's clients run: host, inside or both (default: host when "
                        "`slimbox run` can publish, otherwise inside)")
    p.add_argument("--timeout", type=int, default=300, help="seconds one round may take (default 300)")
    p.add_argument("--quiet", type=float, default=0.2,
                   help="before each measure, wait until the CPU is busy less than this fraction of the time "
                        "(default 0.2)")
    p.add_argument("--patience", type=float, default=30.0, help="longest wait for a quiet CPU, s (default 30)")
    args = p.parse_args(argv)
    if args.cpu not in os.sched_getaffinity(0):
        p.error(f"CPU {args.cpu} is not available to this process")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for program in ("nginx", "wrk", "curl", "redis-server", "redis-cli", "redis-benchmark", "taskset"):
        if shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            print(f"servers: {program} is missing (make deps installs it)", file=sys.stderr)
            return 2
    slimbox = slimbox_command()
    clients = args.clients or ("host" if has_publish(slimbox) else "inside")
    places = list(CLIENT_PLACES) if clients == "both" else [clients]
    print(f"servers: pinned to CPU {args.cpu}, slimbox clients: {clients}", flush=True)
    table = render(measure(Runner(args, slimbox), places, args.rounds), args, places)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.md").write_text(table)
    print()
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
