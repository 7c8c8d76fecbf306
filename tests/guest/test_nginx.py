"""Debian's nginx (master and two forked workers, epoll, sendfile) serving a static
directory from the sandbox, published on a host port with `slimbox run -p`, and the
same nginx natively: the same curl requests from the host must get the same answers
(over HTTP/1.1, and over TLS and HTTP/2 with files read by a thread pool), the served
bytes must equal the originals, a short wrk run from the host must see no error, and
the master must stop cleanly on SIGQUIT and on SIGTERM. One test runs wrk inside the
sandbox too, so the client's syscalls are the sandbox's as well."""

from __future__ import annotations

import datetime
import os
import pathlib
import re
import shutil

import pytest

from . import serving
from .conftest import run_sandboxed

pytestmark = pytest.mark.guest

NGINX = "/usr/sbin/nginx"
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
    {extra}
    server {{
        listen 127.0.0.1:{port}{listen_options};
        {server_extra}
        root www;
        location /gone {{ return 410; }}
    }}
}}
"""

# $1 the prefix, $2 the port (written into the config here), $3 the stop signal
SERVE = r"""
dir=$1 port=$2 stop=$3
sed "s/@PORT@/$port/" "$dir/nginx.conf.in" > "$dir/nginx.conf"
nginx -p "$dir/" -c nginx.conf -e logs/error.log &
master=$!
""" + serving.WAIT_AND_STOP + r"""
kill -$stop $master
wait $master
echo "nginx exit $?"
"""

# nginx and wrk together in one sandbox, over the sandbox's own loopback
SERVE_AND_LOAD = r"""
dir=$1 port=$2
sed "s/@PORT@/$port/" "$dir/nginx.conf.in" > "$dir/nginx.conf"
nginx -p "$dir/" -c nginx.conf -e logs/error.log &
master=$!
tries=0
until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; do
    tries=$((tries + 1))
    if [ $tries -ge 300 ]; then echo "nginx did not answer"; kill -KILL $master; exit 1; fi
    sleep 0.1
done
wrk -t1 -c4 -d2s --timeout 10s "http://127.0.0.1:$port/index.html" > "$dir/wrk.txt" 2>&1
echo "wrk exit $?"
kill -QUIT $master
wait $master
echo "nginx exit $?"
"""

PATHS = ("index.html", "blob.bin", "sub/page.txt", "missing.html", "gone", "sub")


def _need_programs() -> None:
    for program in (NGINX, *CLIENTS):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is missing: `make deps` installs nginx-light, curl and wrk")


def _self_signed(root: pathlib.Path) -> None:
    """cert.pem and key.pem for localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (root / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))


def _site(root: pathlib.Path, *, tls: bool = False) -> dict[str, bytes]:
    """Lay out the prefix: config, scripts, logs/, temp/, out/ and the files to serve;
    with `tls`, HTTPS and HTTP/2 on the port and files read by a thread pool."""
    root.mkdir()
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
    options = {"extra": "", "listen_options": "", "server_extra": ""}
    if tls:
        _self_signed(root)
        options = {"extra": "aio threads;", "listen_options": " ssl http2",
                   "server_extra": "ssl_certificate cert.pem; ssl_certificate_key key.pem;"}
    (root / "nginx.conf.in").write_text(CONFIG.format(user=user, port="@PORT@", **options))
    (root / "serve.sh").write_text(SERVE)
    (root / "serve_and_load.sh").write_text(SERVE_AND_LOAD)
    return files


def _answers(served: serving.Served) -> bool:
    probe = serving.run_client(["curl", "-s", "-o", "/dev/null", "--max-time", "2",
                                f"http://127.0.0.1:{served.port}/"])
    return probe.returncode == 0


def _fetch(served: serving.Served) -> str:
    """The same requests from the host to either server: one line per answer."""
    url = f"http://127.0.0.1:{served.port}"
    out = served.root / "out"
    lines = []
    for path in PATHS:
        answer = serving.run_client(["curl", "-s", "--max-time", "20", "-o", str(out / path.replace("/", "_")),
                                     "-w", f"{path} %{{http_code}} %{{size_download}} %{{content_type}}",
                                     f"{url}/{path}"])
        lines.append(answer.stdout.decode())
    ranged = serving.run_client(["curl", "-s", "--max-time", "20", "-r", "1000-1999", "-o", str(out / "range"),
                                 "-w", "range %{http_code} %{size_download}", f"{url}/blob.bin"])
    lines.append(ranged.stdout.decode())
    # two requests on one connection: the second needs no new connect
    reused = serving.run_client(["curl", "-s", "--max-time", "20", "-o", "/dev/null", "-o", "/dev/null",
                                 "-w", "keep-alive %{http_code} %{num_connects}\n",
                                 f"{url}/index.html", f"{url}/blob.bin"])
    lines.append(reused.stdout.decode().splitlines()[-1])
    return "\n".join(lines) + "\n"


def _problems(error_log: str) -> list[str]:
    # [error] lines are expected (the missing file); these mean nginx itself failed
    return [line for line in error_log.splitlines() if re.search(r"\[(alert|crit|emerg)\]", line)]


def _serve_and_fetch(tmp_path: pathlib.Path, where: str, stop: str) -> tuple[str, str, pathlib.Path, dict]:
    root = tmp_path / where
    files = _site(root)
    served = serving.start(where, root, "serve.sh", stop)
    serving.wait_until(lambda: _answers(served), served)
    answers = _fetch(served)
    status, out, err = served.stop()
    assert status == 0, out + err
    return answers, out, root, files


def test_nginx_serves_the_same_files_as_native_to_a_host_client(tmp_path):
    _need_programs()
    native, native_out, _, _ = _serve_and_fetch(tmp_path, "native", "QUIT")
    sandboxed, sandboxed_out, root, files = _serve_and_fetch(tmp_path, "sandboxed", "QUIT")
    assert sandboxed == native
    assert "blob.bin 200 300000 application/octet-stream" in sandboxed
    assert sandboxed_out == native_out == "nginx exit 0\n"
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
    native, native_out, _, _ = _serve_and_fetch(tmp_path, "native", "TERM")
    sandboxed, sandboxed_out, root, _ = _serve_and_fetch(tmp_path, "sandboxed", "TERM")
    assert sandboxed == native
    assert sandboxed_out == native_out == "nginx exit 0\n"
    error_log = (root / "logs" / "error.log").read_text()
    assert _problems(error_log) == []
    assert "signal 15 (SIGTERM) received" in error_log
    assert not (root / "logs" / "nginx.pid").exists()  # the master removes it on exit


def _wrk_requests(report: str) -> int:
    completed = re.search(r"(\d+) requests in", report)
    assert completed is not None, report
    assert "Socket errors" not in report, report
    assert "Non-2xx or 3xx responses" not in report, report
    return int(completed.group(1))


def test_wrk_from_the_host_sees_no_errors(tmp_path):
    _need_programs()
    root = tmp_path / "sandboxed"
    _site(root)
    served = serving.start("sandboxed", root, "serve.sh", "QUIT")
    serving.wait_until(lambda: _answers(served), served)
    load = serving.run_client(["wrk", "-t1", "-c4", "-d2s", "--timeout", "10s",
                               f"http://127.0.0.1:{served.port}/index.html"])
    status, out, err = served.stop()
    report = load.stdout.decode()
    assert load.returncode == 0, report + load.stderr.decode()
    assert _wrk_requests(report) > 0
    assert (status, out) == (0, "nginx exit 0\n"), err
    assert _problems((root / "logs" / "error.log").read_text()) == []


def test_wrk_inside_the_sandbox_sees_no_errors(tmp_path):
    _need_programs()
    root = tmp_path / "site"
    _site(root)
    outcome = run_sandboxed(["sh", f"{serving.GUEST_ROOT}/serve_and_load.sh", serving.GUEST_ROOT, "8080"],
                            env=serving.ENV, mounts=(f"{root}:{serving.GUEST_ROOT}",), timeout=120)
    assert outcome.stdout.decode() == "wrk exit 0\nnginx exit 0\n", outcome.stderr.decode(errors="replace")
    assert _wrk_requests((root / "wrk.txt").read_text()) > 0
    assert _problems((root / "logs" / "error.log").read_text()) == []


def test_nginx_over_tls_and_http2_with_a_thread_pool_matches_native(tmp_path):
    _need_programs()
    answers = {}
    for where in ("native", "sandboxed"):
        root = tmp_path / where
        files = _site(root, tls=True)
        served = serving.start(where, root, "serve.sh", "QUIT")
        url = f"https://127.0.0.1:{served.port}"
        serving.wait_until(lambda: serving.run_client(["curl", "-sk", "-o", "/dev/null", "--max-time", "2",
                                                       f"{url}/"]).returncode == 0, served)
        lines = []
        for path in ("index.html", "blob.bin", "missing.html"):
            fetched = serving.run_client(["curl", "-sk", "--max-time", "20", "-o", str(root / "out" / path),
                                          "-w", f"{path} %{{http_version}} %{{http_code}} %{{size_download}}",
                                          f"{url}/{path}"])
            lines.append(fetched.stdout.decode())
        status, out, err = served.stop()
        assert (status, out) == (0, "nginx exit 0\n"), err
        for name in ("index.html", "blob.bin"):
            assert (root / "out" / name).read_bytes() == files[name]
        assert _problems((root / "logs" / "error.log").read_text()) == []
        answers[where] = "\n".join(lines)
    assert answers["sandboxed"] == answers["native"]
    assert "blob.bin 2 200 300000" in answers["sandboxed"]
