#!/usr/bin/env python3
"""Run busybox's own testsuite natively and inside slimbox, and compare.

The testsuite comes from Debian's busybox source package (see fetch.sh); it is run
against the installed busybox-static binary (/bin/busybox), as Debian's build runs it:
``testsuite/runtest`` with a ``busybox`` next to the testsuite directory and the
``.config`` busybox-static was built with (debian/config/pkg/static).

Each run gets its own copy of the source tree under the output directory, so the two
runs share no state. runtest's copy is given one extra line that prints the applet it
is about to test, so each result is named ``APPLET/TEST`` and a hung applet can be
skipped: when no line comes for --idle-timeout seconds the run is killed, the rest of
that applet's tests count as TIMEOUT and runtest starts again with the next applet.
--timeout bounds each whole run.

Outputs (in --out, default build/busybox-run/): native.log, sandbox.log, results.tsv,
summary.json. Exit status 0 when at least --threshold percent of the tests that pass
natively (less those in the skip list) also pass in the sandbox, and every such test
that fails in the sandbox is in the skip list; 1 otherwise; 2 for a usage or setup error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the drivers' shared modules
from options import add_run_options, slimbox_revision  # noqa: E402
from reasons import read_reasons, reason_for  # noqa: E402

REPO = HERE.parents[2]
DEFAULT_SRC = REPO / "build" / "busybox-src"
DEFAULT_OUT = REPO / "build" / "busybox-run"
DEFAULT_SKIPLIST = HERE / "skiplist.txt"
GUEST_DIR = "/busybox"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The environment Debian's build gives the testsuite (debian/rules, TESTSUITE_ENV).
TESTSUITE_ENV = {
    "SKIP_KNOWN_BUGS": "y",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "SKIP_INTERNET_TESTS": "y",
    "SHELL": "/bin/sh",
    "ECHO": "/bin/echo",
}

APPLET_MARK = "### applet: "
RESULT_RE = re.compile(r"^(PASS|FAIL|SKIPPED|UNTESTED): (.*)$")
# Skip-list reasons with these prefixes name tests not even started in the sandbox.
NORUN_PREFIXES = ("slow:", "hangs:")

# Lines added to the run's copy of the testsuite, each after an anchor line of the original:
# runtest prints (and exports) the applet it starts, and both runtest's old-style tests and
# testing.sh's testing() report a test named in $NORUN_TESTS ("|applet/test|...|") SKIPPED
# without running it.
PATCHES = {
    "runtest": [
        ("for applet in $applets; do\n",
         '\tRUNTEST_APPLET="$applet"; export RUNTEST_APPLET; echo "%s$applet"\n' % APPLET_MARK),
        ('\ttestname="${testname##*/}" # take basename\n',
         '\tcase "$NORUN_TESTS" in *"|$applet/$testname|"*) echo "SKIPPED: $testname"; return 0;; esac\n'),
    ],
    "testing.sh": [
        ('  [ -n "$1" ] || NAME="$2"\n',
         '  case "$NORUN_TESTS" in *"|$RUNTEST_APPLET/$NAME|"*) echo "SKIPPED: $NAME"; return 0;; esac\n'),
    ],
}


# ---------------------------------------------------------------- preparing a run


def applet_list(busybox: str) -> list[str]:
    """The applets runtest will test, in its order: 'busybox' then the binary's list."""
    out = subprocess.run([busybox], capture_output=True, check=False).stdout.decode(errors="replace")
    _, _, rest = out.partition("Currently defined functions:")
    names = [n.strip() for n in rest.replace(",", " ").split()]
    return ["busybox"] + [n for n in names if n]


def reconstructed_config(busybox: str) -> str:
    """A .config naming only the applets (no features): used when the source has no
    Debian config. Feature-dependent tests are then reported SKIPPED by the testsuite."""
    lines = ["CONFIG_HAVE_DOT_CONFIG=y"]
    for name in applet_list(busybox)[1:]:
        lines.append("CONFIG_%s=y" % re.sub(r"[^A-Z0-9]", "_", name.upper()))
    return "\n".join(lines) + "\n"


def prepare(src: Path, rundir: Path, busybox: str) -> None:
    if rundir.exists():
        shutil.rmtree(rundir)
    shutil.copytree(src, rundir, symlinks=True, ignore=shutil.ignore_patterns(".pc", ".git"))
    (rundir / "busybox").symlink_to(busybox)
    debian_config = src / "debian" / "config" / "pkg" / "static"
    if debian_config.is_file():
        shutil.copyfile(debian_config, rundir / ".config")
    else:
        (rundir / ".config").write_text(reconstructed_config(busybox))
    for name, patches in PATCHES.items():
        path = rundir / "testsuite" / name
        text = path.read_text()
        for anchor, added in patches:
            if anchor not in text:
                raise SystemExit(f"run.py: {path} has no line {anchor.strip()!r} to instrument")
            text = text.replace(anchor, anchor + added, 1)
        path.write_text(text)


# ---------------------------------------------------------------- running


class Run:
    """One execution of the testsuite (native or sandbox), possibly in several pieces."""

    def __init__(self, name: str, log: Path):
        self.name = name
        self.log = log
        self.results: dict[str, dict] = {}  # key -> {"status", "seconds", "applet"}
        self.order: list[str] = []
        self.hangs: list[dict] = []
        self.wall = 0.0
        self.timed_out = False
        self.applets_done: list[str] = []

    def add(self, applet: str, name: str, status: str, seconds: float) -> None:
        key = f"{applet}/{name}"
        n = 2
        while key in self.results:
            key = f"{applet}/{name} #{n}"
            n += 1
        self.results[key] = {"status": status, "seconds": round(seconds, 3), "applet": applet}
        self.order.append(key)

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for r in self.results.values():
            c[r["status"]] = c.get(r["status"], 0) + 1
        return c


def _reader(stream, q: queue.Queue) -> None:
    for raw in iter(stream.readline, b""):
        q.put(raw)
    q.put(None)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def execute(run: Run, make_cmd, env: dict, cwd: Path, applets: list[str], idle_timeout: float,
            total_timeout: float, echo: bool) -> None:
    """Run runtest over `applets`; after a hang, start again after the hung applet."""
    start = time.monotonic()
    remaining = list(applets)
    with open(run.log, "wb") as log:
        while remaining:
            cmd = make_cmd(remaining)
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            q: queue.Queue = queue.Queue()
            threading.Thread(target=_reader, args=(proc.stdout, q), daemon=True).start()
            applet, last_name = None, None
            last = time.monotonic()
            hung = False
            while True:
                now = time.monotonic()
                wait = min(idle_timeout - (now - last), total_timeout - (now - start))
                if wait <= 0:
                    hung = True
                    break
                try:
                    raw = q.get(timeout=wait)
                except queue.Empty:
                    continue
                if raw is None:
                    break
                log.write(raw)
                line = raw.decode(errors="replace").rstrip("\r\n")
                now = time.monotonic()
                if line.startswith(APPLET_MARK):
                    applet = line[len(APPLET_MARK):].strip()
                    if applet in remaining:
                        # everything before it in the list is done (runtest tests in order)
                        i = remaining.index(applet)
                        run.applets_done += remaining[:i]
                        remaining = remaining[i:]
                    last = now
                    if echo:
                        print(f"  [{run.name} {now - start:7.1f}s] {applet}", flush=True)
                    continue
                m = RESULT_RE.match(line)
                if m and applet is not None:
                    run.add(applet, m.group(2).strip(), m.group(1), now - last)
                    last_name = m.group(2).strip()
                    last = now
            if hung:
                _kill(proc)
                elapsed = time.monotonic() - start
                what = "overall timeout" if elapsed >= total_timeout else f"no output for {idle_timeout:.0f}s"
                log.write(f"\n*** killed: {what} (applet {applet}, after test {last_name!r})\n".encode())
                run.hangs.append({"applet": applet, "after_test": last_name, "reason": what,
                                  "at_seconds": round(elapsed, 1)})
                if echo:
                    print(f"  [{run.name}] killed in applet {applet} after {last_name!r}: {what}", flush=True)
                if elapsed >= total_timeout:
                    run.timed_out = True
                    break
                if applet in remaining:
                    i = remaining.index(applet)
                    run.applets_done += remaining[:i + 1]
                    remaining = remaining[i + 1:]
                elif applet is None:
                    run.timed_out = True
                    break
                continue
            proc.wait()
            run.applets_done += remaining
            remaining = []
    run.wall = time.monotonic() - start


# ---------------------------------------------------------------- comparing


def sandbox_status(sandbox: Run, key: str, applet: str) -> str:
    r = sandbox.results.get(key)
    if r:
        return r["status"]
    if any(h["applet"] == applet for h in sandbox.hangs) or sandbox.timed_out:
        return "TIMEOUT"
    return "MISSING"


def compare(native: Run, sandbox: Run, skips: dict[str, str]) -> dict:
    native_pass = [k for k in native.order if native.results[k]["status"] == "PASS"]
    considered, skipped, passed, regressions, known = [], [], [], [], []
    for key in native_pass:
        reason = reason_for(key, skips)
        status = sandbox_status(sandbox, key, native.results[key]["applet"])
        if reason is not None:
            skipped.append(key)
            if status != "PASS":
                known.append({"test": key, "sandbox": status, "reason": reason})
            continue
        considered.append(key)
        if status == "PASS":
            passed.append(key)
        else:
            regressions.append({"test": key, "sandbox": status})
    stale = [k for k in skipped if sandbox_status(sandbox, k, native.results[k]["applet"]) == "PASS"]
    better = [k for k in sandbox.order
              if sandbox.results[k]["status"] == "PASS" and native.results.get(k, {}).get("status") != "PASS"]
    percent = 100.0 * len(passed) / len(considered) if considered else 0.0
    return {
        "native_pass": len(native_pass),
        "skiplisted": len(skipped),
        "considered": len(considered),
        "sandbox_pass": len(passed),
        "percent": round(percent, 2),
        "regressions": regressions,
        "skiplisted_failures": known,
        "skiplisted_but_passing": stale,
        "sandbox_only_passes": better,
    }


def run_summary(run: Run) -> dict:
    return {"wall_seconds": round(run.wall, 1), "counts": run.counts(), "hangs": run.hangs,
            "timed_out": run.timed_out, "tests": run.results}


def load_run(name: str, data: dict, log: Path) -> Run:
    run = Run(name, log)
    run.wall = data["wall_seconds"]
    run.hangs = data["hangs"]
    run.timed_out = data["timed_out"]
    run.results = data["tests"]
    run.order = list(data["tests"])
    return run


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--src", type=Path, default=DEFAULT_SRC, help="busybox source tree (default: %(default)s)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where runs and results go (default: %(default)s)")
    p.add_argument("--busybox", default="/bin/busybox", help="the binary under test (default: %(default)s)")
    p.add_argument("--skiplist", type=Path, default=DEFAULT_SKIPLIST)
    p.add_argument("--threshold", type=float, default=95.0, help="percent needed to pass (default: %(default)s)")
    p.add_argument("--idle-timeout", type=float, default=600.0,
                   help="seconds without output before an applet counts as hung (default: %(default)s)")
    add_run_options(p, REPO)
    p.add_argument("-q", "--quiet", action="store_true", help="do not print progress per applet")
    p.add_argument("applets", nargs="*", help="test only these applets (default: all)")
    args = p.parse_args(argv)

    src = args.src.resolve()
    out = args.out.resolve()
    if not (src / "testsuite" / "runtest").is_file():
        print(f"run.py: no busybox source in {src}: run tests/conformance/busybox/fetch.sh first", file=sys.stderr)
        return 2
    busybox = shutil.which(args.busybox) or args.busybox
    if not os.access(busybox, os.X_OK):
        print(f"run.py: {busybox} is not an executable", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    applets = args.applets or applet_list(busybox)
    version = subprocess.run([busybox], capture_output=True).stdout.decode(errors="replace").splitlines()[0:1]
    echo = not args.quiet
    summary_path = out / "summary.json"

    base_env = {"PATH": DEFAULT_PATH, "TERM": "xterm", **TESTSUITE_ENV}
    skips = read_reasons(args.skiplist)
    norun = sorted(k for k, why in skips.items() if why.startswith(NORUN_PREFIXES))

    # -- native
    if args.reuse_native and summary_path.exists():
        native = load_run("native", json.loads(summary_path.read_text())["native"], out / "native.log")
        print(f"native: reusing {summary_path}")
    else:
        native = Run("native", out / "native.log")
        rundir = out / "native"
        prepare(src, rundir, busybox)
        env = {**base_env, "HOME": os.environ.get("HOME", "/root")}
        print(f"native: running testsuite in {rundir}", flush=True)
        execute(native, lambda a: ["/bin/sh", "./runtest", "-v", *a], env, rundir / "testsuite", applets,
                args.idle_timeout, args.timeout, echo)
        if not args.applets:
            shutil.rmtree(rundir, ignore_errors=True)

    # -- sandbox
    sandbox = Run("sandbox", out / "sandbox.log")
    rundir = out / "sandbox"
    prepare(src, rundir, busybox)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.slimbox_src.resolve()), env.get("PYTHONPATH")]))
    slimbox = [sys.executable, "-m", "slimbox", "run", "-v", f"{rundir}:{GUEST_DIR}",
               "-w", f"{GUEST_DIR}/testsuite", *args.sandbox_arg]
    for k, v in base_env.items():
        slimbox += ["-e", f"{k}={v}"]
    if norun:
        slimbox += ["-e", "NORUN_TESTS=|" + "|".join(norun) + "|"]
    print(f"sandbox: running testsuite in {rundir} (mounted at {GUEST_DIR})", flush=True)
    execute(sandbox, lambda a: [*slimbox, "--", "/bin/sh", "./runtest", "-v", *a], env, REPO, applets,
            args.idle_timeout, args.timeout, echo)

    for key in norun:
        if sandbox.results.get(key, {}).get("status") == "SKIPPED":
            sandbox.results[key]["status"] = "NOTRUN"

    # -- compare and record
    cmp = compare(native, sandbox, skips)
    summary = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "busybox": version[0] if version else busybox,
        "source": src.name,
        "slimbox": slimbox_revision(args.slimbox_src.resolve(), REPO),
        "environment": base_env,
        "applets": args.applets or "all",
        "comparison": cmp,
        "native": run_summary(native),
        "sandbox": run_summary(sandbox),
    }
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    with open(out / "results.tsv", "w") as f:
        f.write("test\tnative\tsandbox\tnative_s\tsandbox_s\tskiplist\n")
        keys = native.order + [k for k in sandbox.order if k not in native.results]
        for k in keys:
            n = native.results.get(k, {})
            s = sandbox.results.get(k, {})
            sstat = s.get("status") or sandbox_status(sandbox, k, n.get("applet", k.split("/")[0]))
            f.write(f"{k}\t{n.get('status', 'MISSING')}\t{sstat}\t{n.get('seconds', '')}\t{s.get('seconds', '')}"
                    f"\t{reason_for(k, skips) or ''}\n")

    nc, sc = native.counts(), sandbox.counts()

    def fmt(c):
        return ", ".join(f"{c.get(s, 0)} {s}" for s in ("PASS", "FAIL", "SKIPPED", "UNTESTED", "NOTRUN") if s in c
                         or s in ("PASS", "FAIL", "SKIPPED"))

    print()
    print(f"busybox:  {summary['busybox']}")
    print(f"slimbox:  {summary['slimbox']}")
    print(f"native:   {fmt(nc)}  in {native.wall:.0f} s")
    print(f"sandbox:  {fmt(sc)}  in {sandbox.wall:.0f} s" + (f"  ({len(sandbox.hangs)} hang(s))" if sandbox.hangs else ""))
    raw = sum(1 for k, r in native.results.items() if r["status"] == "PASS"
              and sandbox.results.get(k, {}).get("status") == "PASS")
    print(f"natively passing: {cmp['native_pass']}, of which {cmp['skiplisted']} in the skip list;"
          f" {raw} pass in the sandbox ({100.0 * raw / max(1, cmp['native_pass']):.2f}% before the skip list)")
    print(f"sandbox passes {cmp['sandbox_pass']} of {cmp['considered']} natively-passing tests: {cmp['percent']:.2f}%"
          f" (threshold {args.threshold:g}%)")
    for run in (native, sandbox):
        for h in run.hangs:
            print(f"{run.name} hang: applet {h['applet']} after {h['after_test']!r}: {h['reason']}")
    if cmp["skiplisted_failures"]:
        print(f"skip-listed failures: {len(cmp['skiplisted_failures'])}")
    if cmp["skiplisted_but_passing"]:
        print("in the skip list but passing now: " + ", ".join(cmp["skiplisted_but_passing"]))
    if cmp["regressions"]:
        print(f"regressions not in the skip list ({len(cmp['regressions'])}):")
        for r in cmp["regressions"]:
            print(f"  {r['sandbox']:8} {r['test']}")
    else:
        print("regressions not in the skip list: none")
    print(f"results: {summary_path}, {out / 'results.tsv'}")
    ok = cmp["percent"] >= args.threshold and not cmp["regressions"]
    print("OK" if ok else "NOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
