"""Debian's nginx (master and two forked workers, epoll, sendfile) serving a static
directory over loopback TCP: the same script runs natively and in the sandbox and must
print the same; the served bytes must equal the originals, a short wrk run must see no
error, and the master must stop cleanly on SIGQUIT and on SIGTERM.

The clients (curl, wrk) run next to nginx, in the same sandbox."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import socket

import pytest

from .conftest import run_native, run_sandboxed

pytestmark = pytest.mark.guest

NGINX = "/usr/sbin/nginx"
GUEST_ROOT = "/srv/site"
CLIENTS = ("curl", "wrk")

CONFIG = """\
{user}
worker_processes 2;
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log info;
events {{ worker_connections 64; use epoll; }}
http {{
    access_log logs/access.log;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 30;
    server {{
        listen 127.0.0.1:{port};
        root www;
        location /gone {{ return 410; }}
    }}
}}
"""

# Starts nginx from the prefix ($1) on the port ($2), waits until it answers (a bounded
# number of tries), fetches files into out/, optionally runs wrk, then stops the master
# with the signal named in $3 and prints its exit status.
SCRIPT = r"""
prefix=$1 port=$2 stop=$3 load=$4
url=http://127.0.0.1:$port
nginx -p "$prefix/" -c nginx.conf -e logs/error.log &
master=$!
tries=0
until curl -s -o /dev/null --max-time 2 "$url/"; do
    tries=$((tries + 1))
    if [ $tries -ge 100 ]; then echo "nginx did not answer"; kill -KILL $master; exit 1; fi
    sleep 0.1
done
for path in index.html blob.bin sub/page.txt missing.html gone sub; do
    curl -s --max-time 10 -o "$prefix/out/$(echo $path | tr / _)" \
        -w "$path %{http_code} %{size_download} %{content_type}\n" "$url/$path"
done
curl -s --max-time 10 -r 1000-1999 -o "$prefix/out/range" -w "range %{http_code} %{size_download}\n" "$url/blob.bin"
curl -s --max-time 10 -o /dev/null -o /dev/null -w "keep-alive %{http_code} %{num_connects}\n" "$url/index.html" "$url/blob.bin" | tail -n 1
if [ "$load" = wrk ]; then
    wrk -t1 -c4 -d2s --timeout 10s "$url/index.html" > "$prefix/out/wrk.txt" 2>&1
    echo "wrk exit $?"
fi
kill -$stop $master
wait $master
echo "nginx exit $?"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _site(root: pathlib.Path, port: int) -> dict[str, bytes]:
    """Lay out the prefix: config, logs/, temp/, out/ and the files to serve."""
    files = {
        "index.html": b"<html><body>hello from nginx</body></html>\n",
        "blob.bin": os.urandom(300_000),
        "sub/page.txt": b"a page in a sub-directory\n" * 100,
    }
    for name, data in files.items():
        (root / "www" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "www" / name).write_bytes(data)
    for directory in ("logs", "temp", "out"):
        (root / directory).mkdir()
    # as root, workers would switch to nobody, who cannot enter the test's private directory
    user = "user root root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(CONFIG.format(user=user, port=port))
    (root / "serve.sh").write_text(SCRIPT)
    return files


def _need_programs() -> None:
    for program in (NGINX, *CLIENTS):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is missing: `make deps` installs nginx-light, curl and wrk")


def _serve(tmp_path: pathlib.Path, where: str, *, stop: str, load: str = "") -> tuple[str, pathlib.Path, dict]:
    """Run the script natively or in the sandbox; its stdout, the prefix and the files."""
    root = tmp_path / where
    root.mkdir()
    port = _free_port()
    files = _site(root, port)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C", "TZ": "UTC"}
    if where == "native":
        outcome = run_native(["sh", str(root / "serve.sh"), str(root), str(port), stop, load], env=env, timeout=120)
    else:
        outcome = run_sandboxed(["sh", f"{GUEST_ROOT}/serve.sh", GUEST_ROOT, str(port), stop, load], env=env,
                                mounts=(f"{root}:{GUEST_ROOT}",), timeout=120)
    assert outcome.returncode == 0, outcome.stderr.decode(errors="replace")
    return outcome.stdout.decode(errors="replace"), root, files


def _problems(error_log: str) -> list[str]:
    return [line for line in error_log.splitlines() if re.search(r"\[(alert|crit|emerg)\]", line)]


def test_nginx_serves_the_same_files_as_native(tmp_path):
    _need_programs()
    native, _, _ = _serve(tmp_path, "native", stop="QUIT")
    sandboxed, root, files = _serve(tmp_path, "sandboxed", stop="QUIT")
    assert sandboxed == native
    assert "blob.bin 200 300000 application/octet-stream" in sandboxed
    assert "nginx exit 0" in sandboxed
    out = root / "out"
    for name, data in files.items():
        assert (out / name.replace("/", "_")).read_bytes() == data
    assert (out / "range").read_bytes() == files["blob.bin"][1000:2000]
    error_log = (root / "logs" / "error.log").read_text()
    assert _problems(error_log) == []
    assert "gracefully shutting down" in error_log
    assert len(re.findall(r"worker process \d+ exited with code 0", error_log)) == 2
    # one line per request in the access log, as natively
    assert len((root / "logs" / "access.log").read_text().splitlines()) == len(
        (tmp_path / "native" / "logs" / "access.log").read_text().splitlines())


def test_nginx_stops_on_sigterm(tmp_path):
    _need_programs()
    native, _, _ = _serve(tmp_path, "native", stop="TERM")
    sandboxed, root, _ = _serve(tmp_path, "sandboxed", stop="TERM")
    assert sandboxed == native
    assert "nginx exit 0" in sandboxed
    error_log = (root / "logs" / "error.log").read_text()
    assert _problems(error_log) == []
    assert "signal 15 (SIGTERM) received" in error_log
    assert not (root / "logs" / "nginx.pid").exists()  # the master removes it on exit


def test_wrk_against_nginx_sees_no_errors(tmp_path):
    _need_programs()
    sandboxed, root, _ = _serve(tmp_path, "sandboxed", stop="QUIT", load="wrk")
    assert "wrk exit 0" in sandboxed and "nginx exit 0" in sandboxed
    report = (root / "out" / "wrk.txt").read_text()
    completed = re.search(r"(\d+) requests in", report)
    assert completed is not None, report
    assert int(completed.group(1)) > 0
    assert "Socket errors" not in report, report
    assert "Non-2xx or 3xx responses" not in report, report
    assert _problems((root / "logs" / "error.log").read_text()) == []
