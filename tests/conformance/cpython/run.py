#!/usr/bin/env python3
"""Run a subset of CPython's regression tests natively and inside slimbox, and compare.

The tests come from Debian's libpython3.11-testsuite and run under Debian's
/usr/bin/python3.11 with its own driver (`python3.11 -m test`, regrtest): the same command,
modules and options natively and in the sandbox, worker processes (-j) included.
regrtest's --timeout bounds each module (a module past it counts as failed, its worker
is killed); --timeout of this script bounds each whole run.

Per module, regrtest's closing summary says passed, failed, env changed, skipped or not
run; the progress lines add why (N failures, timed out, crashed). Per test, the JUnit XML
file regrtest writes (--junit-xml) names every failure and error.

Known differences: tests/conformance/cpython/expected.txt names tests (or whole
modules) that fail in the sandbox for a stated reason.

Outputs (in --out, default build/cpython-run/): native.log, sandbox.log, native.xml,
sandbox.xml, summary.json, results.md. Exit status 0 when every module that passes
natively passes in the sandbox, or fails only in tests the expected list names; 1
otherwise; 2 for a setup error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the drivers' shared modules
from options import add_run_options, slimbox_revision  # noqa: E402
from reasons import read_reasons, reason_for  # noqa: E402

REPO = HERE.parents[2]
DEFAULT_OUT = REPO / "build" / "cpython-run"
DEFAULT_EXPECTED = HERE / "expected.txt"
PYTHON = "/usr/bin/python3.11"
GUEST_OUT = "/results"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: the modules of the subset (../shared notes: they pass natively here); test_socket
#: waits on the network when there is none, so the per-module timeout matters for it
MODULES = [
    "test_os", "test_posix", "test_signal", "test_subprocess", "test_select", "test_fcntl",
    "test_mmap", "test_threading", "test_time", "test_shutil", "test_tempfile", "test_pty",
    "test_resource", "test_selectors", "test_epoll", "test_socket",
]

SECTION_RE = re.compile(r"^(?:All )?(\d+) (?:re-run )?tests?(?: (OK\.|failed:|altered the execution environment:|"
                        r"skipped:|omitted:|run no tests:)|:)$")
SECTION_STATUS = {
    "OK.": "passed",
    "failed:": "failed",
    "altered the execution environment:": "env changed",
    "skipped:": "skipped",
    "omitted:": "not run",
    "run no tests:": "no tests",
}
#: a progress line of regrtest -j: "0:00:05 load avg: 0.50 [ 3/16/1] test_fcntl failed (1 error)"
PROGRESS_RE = re.compile(r"\[\s*\d+/\d+(?:/\d+)?\] (test_\w+) (.+)$")


# ---------------------------------------------------------------- running


def regrtest_args(modules: list[str], jobs: int, module_timeout: float, xml_path: str) -> list[str]:
    args = [PYTHON, "-m", "test", "--timeout", str(int(module_timeout)), "--junit-xml", xml_path]
    if jobs > 1:
        args += ["-j", str(jobs)]
    return args + modules


def _default_signals() -> None:
    """In the child before exec: a shell starts background jobs with SIGINT and SIGQUIT
    ignored, which the tests of KeyboardInterrupt would inherit natively (the sandbox
    starts its programs with every signal at its default)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def execute(cmd: list[str], env: dict, cwd: Path, log: Path, total_timeout: float, echo: bool) -> dict:
    """Run `cmd` to the end (or `total_timeout`), its output to `log` (and the terminal)."""
    start = time.monotonic()
    timed_out = False
    with open(log, "wb") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_default_signals)
        deadline = start + total_timeout
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            out.write(raw)
            if echo and PROGRESS_RE.search(raw.decode(errors="replace")):
                print("  " + raw.decode(errors="replace").rstrip(), flush=True)
            if time.monotonic() > deadline:
                timed_out = True
                break
        if timed_out:
            os.killpg(proc.pid, signal.SIGKILL)
            out.write(f"\n*** killed after {total_timeout:.0f} s\n".encode())
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {"exit_status": proc.returncode, "wall_seconds": round(time.monotonic() - start, 1),
            "timed_out": timed_out}


# ---------------------------------------------------------------- reading results


def module_statuses(log_text: str, modules: list[str]) -> dict[str, dict]:
    """Per module: status from regrtest's closing summary, detail from its progress line."""
    details: dict[str, str] = {}
    for line in log_text.splitlines():
        m = PROGRESS_RE.search(line)
        if m and m.group(1) in modules:
            details[m.group(1)] = m.group(2).partition(" -- running:")[0].strip()
    listed: dict[str, str] = {}
    _, marker, summary = log_text.rpartition("== Tests result:")
    section = None
    for line in summary.splitlines() if marker else []:
        m = SECTION_RE.match(line.strip())
        if m:
            section = SECTION_STATUS.get(m.group(2) or "", None)
            continue
        if section and line.startswith("    "):
            for name in line.split():
                listed.setdefault(name, section)
        elif line.strip():
            section = None
    result = {}
    for name in modules:
        if not marker:
            status = "not run"  # the run ended (or was killed) before its summary
        else:
            status = listed.get(name, "passed")
        detail = details.get(name, "")
        result[name] = {"status": status, "detail": detail}
    return result


def test_failures(xml_path: Path) -> dict[str, list[dict]]:
    """Module -> the tests that failed or had an error, from regrtest's JUnit XML."""
    failures: dict[str, list[dict]] = {}
    if not xml_path.exists():
        return failures
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError:
        return failures
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            problem = case.find(kind)
            if problem is None:
                continue
            name = case.get("name", "")
            # test.test_fcntl.TestFcntl.test_fcntl_64_bit -> test_fcntl
            parts = name.split(".")
            module = parts[1] if len(parts) > 1 and parts[0] == "test" else parts[0]
            message = (problem.get("message") or "").strip().splitlines()
            failures.setdefault(module, []).append({
                "test": name, "kind": kind,
                "message": message[-1][:200] if message else "",
            })
    return failures


def compare(modules: list[str], native: dict, sandbox: dict, expected: dict[str, str]) -> dict:
    rows, unexplained = [], []
    for name in modules:
        n, s = native["modules"][name], sandbox["modules"][name]
        failures = sandbox["failures"].get(name, [])
        row = {"module": name, "native": n["status"], "sandbox": s["status"],
               "native_detail": n["detail"], "sandbox_detail": s["detail"], "failures": []}
        for failure in failures:
            reason = reason_for(failure["test"], expected)
            row["failures"].append({**failure, "reason": reason})
        if n["status"] == "passed" and s["status"] != "passed":
            module_reason = reason_for(name, expected)
            explained = module_reason is not None or (
                failures and all(f["reason"] is not None for f in row["failures"])
                and s["status"] == "failed" and "timed out" not in s["detail"]
                and "crashed" not in s["detail"])
            row["reason"] = module_reason
            if not explained:
                unexplained.append(name)
        rows.append(row)
    native_pass = [r["module"] for r in rows if r["native"] == "passed"]
    both = [r["module"] for r in rows if r["native"] == "passed" and r["sandbox"] == "passed"]
    return {"rows": rows, "native_pass": len(native_pass), "both_pass": len(both), "unexplained": unexplained}


# ---------------------------------------------------------------- reporting


def markdown(summary: dict) -> str:
    lines = ["| module | native | slimbox | slimbox detail |", "| --- | --- | --- | --- |"]
    for row in summary["comparison"]["rows"]:
        detail = row["sandbox_detail"] if row["sandbox"] != "passed" else ""
        lines.append(f"| {row['module']} | {row['native']} | {row['sandbox']} | {detail} |")
    failures = [(row["module"], f) for row in summary["comparison"]["rows"] for f in row["failures"]]
    if failures:
        lines += ["", "| test | in slimbox | reason |", "| --- | --- | --- |"]
        for _, f in failures:
            test = f["test"].removeprefix("test.")
            lines.append(f"| {test} | {f['kind']}: {f['message']} | {f['reason'] or 'not explained'} |")
    return "\n".join(lines) + "\n"


def print_report(summary: dict) -> None:
    cmp = summary["comparison"]
    width = max(len(r["module"]) for r in cmp["rows"])
    print()
    print(f"{'module':<{width}}  {'native':<12} {'slimbox':<12} detail")
    for row in cmp["rows"]:
        detail = row["sandbox_detail"] if row["sandbox"] != "passed" else ""
        print(f"{row['module']:<{width}}  {row['native']:<12} {row['sandbox']:<12} {detail}")
        for f in row["failures"]:
            why = f["reason"] or "NOT EXPLAINED"
            print(f"{'':<{width}}    {f['kind']}: {f['test']}: {f['message'][:100]}  [{why}]")
    n, s = summary["native"], summary["sandbox"]
    print()
    print(f"native: {n['wall_seconds']} s, slimbox: {s['wall_seconds']} s"
          + (" (killed: --timeout)" if s["timed_out"] else ""))
    print(f"modules passing natively: {cmp['native_pass']}; of them passing in slimbox: {cmp['both_pass']}")
    if cmp["unexplained"]:
        print("natively passing modules failing in slimbox without a reason in expected.txt: "
              + " ".join(cmp["unexplained"]))


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where logs and results go (default: %(default)s)")
    p.add_argument("--expected", type=Path, default=DEFAULT_EXPECTED)
    p.add_argument("-j", "--jobs", type=int, default=2, help="regrtest worker processes (default: %(default)s)")
    p.add_argument("--module-timeout", type=float, default=900.0,
                   help="regrtest --timeout: seconds one module may take (default: %(default)s)")
    add_run_options(p, REPO)
    p.add_argument("-q", "--quiet", action="store_true", help="do not print regrtest's progress lines")
    p.add_argument("modules", nargs="*", help="run only these modules (default: the whole subset)")
    args = p.parse_args(argv)

    if not Path("/usr/lib/python3.11/test/test_os.py").is_file() or not os.access(PYTHON, os.X_OK):
        print(f"run.py: needs {PYTHON} and Debian's libpython3.11-testsuite", file=sys.stderr)
        return 2
    modules = args.modules or MODULES
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    echo = not args.quiet
    base_env = {"PATH": DEFAULT_PATH, "TERM": "xterm", "LANG": "C.UTF-8"}

    # -- native: the working and temporary directories under --out, nothing else written
    if args.reuse_native and summary_path.exists():
        native = json.loads(summary_path.read_text())["native"]
        print(f"native: reusing {summary_path}")
    else:
        work = fresh_dir(out / "native-work")
        tmp = fresh_dir(out / "native-tmp")
        env = {**base_env, "HOME": str(work), "TMPDIR": str(tmp)}
        xml = out / "native.xml"
        xml.unlink(missing_ok=True)
        cmd = regrtest_args(modules, args.jobs, args.module_timeout, str(xml))
        print("native: " + " ".join(cmd), flush=True)
        native = execute(cmd, env, work, out / "native.log", args.timeout, echo)
        text = (out / "native.log").read_text(errors="replace")
        native["modules"] = module_statuses(text, modules)
        native["failures"] = test_failures(xml)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)

    # -- sandbox: only the results directory is a host volume; /tmp is the sandbox's own
    results = fresh_dir(out / "sandbox-results")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.slimbox_src.resolve()), env.get("PYTHONPATH")]))
    slimbox = [sys.executable, "-m", "slimbox", "run", "-v", f"{results}:{GUEST_OUT}", "-w", "/tmp",
               "--timeout", str(int(args.timeout)), *args.sandbox_arg]
    for k, v in base_env.items():
        slimbox += ["-e", f"{k}={v}"]
    cmd = [*slimbox, "--", *regrtest_args(modules, args.jobs, args.module_timeout, f"{GUEST_OUT}/sandbox.xml")]
    print("sandbox: " + " ".join(cmd), flush=True)
    sandbox = execute(cmd, env, REPO, out / "sandbox.log", args.timeout + 60, echo)
    text = (out / "sandbox.log").read_text(errors="replace")
    sandbox["modules"] = module_statuses(text, modules)
    if (results / "sandbox.xml").exists():
        shutil.copyfile(results / "sandbox.xml", out / "sandbox.xml")
    sandbox["failures"] = test_failures(results / "sandbox.xml")

    summary = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": subprocess.run([PYTHON, "-VV"], capture_output=True, text=True).stdout.strip(),
        "testsuite": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libpython3.11-testsuite"],
                                    capture_output=True, text=True).stdout.strip(),
        "slimbox": slimbox_revision(args.slimbox_src.resolve(), REPO),
        "jobs": args.jobs,
        "module_timeout": args.module_timeout,
        "native": native,
        "sandbox": sandbox,
    }
    summary["comparison"] = compare(modules, native, sandbox, read_reasons(args.expected))
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(markdown(summary))
    print_report(summary)
    print(f"\nresults: {summary_path}, {out / 'results.md'}")
    return 1 if summary["comparison"]["unexplained"] else 0


if __name__ == "__main__":
    sys.exit(main())
