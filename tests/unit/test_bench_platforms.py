"""The benchmark's platform dimension: one column per slimbox platform, Qiling as the
emulator's peer, workloads scaled down on the emulators and compared per operation, and
cells that say why they were not run. Nothing here runs or times a program."""

import importlib.util
import pathlib
import sys

import pytest

_BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    # bench/ is a directory of scripts, not a package: load the modules from their files
    sys.path.insert(0, str(_BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"slimbox_bench_{name}", _BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(_BENCH))


report = _load("report")
suite = _load("run")


def ok(workload, system, median, count=None, full_count=None):
    return report.Cell(workload, system, [workload], status="OK", median=median, count=count,
                       full_count=full_count)


def test_second_ratio_is_to_runsc_and_for_the_emulator_to_qiling():
    systems = ["native", "slimbox", "slimbox-kvm", "slimbox-emu", "runsc", "qiling"]
    assert report.header(systems) == [
        "workload", "native", "slimbox (× native, × runsc)", "slimbox-kvm (× native, × runsc)",
        "slimbox-emu (× native, × qiling)", "runsc-ptrace (× native)", "qiling (× native)"]
    assert report.peer_of("slimbox-emu", ["native", "slimbox-emu"]) is None


def test_a_scaled_down_cell_is_compared_only_per_operation():
    row = report.PerOperation("per call", "getpid", 1000)
    cells = [ok("hello", "native", 0.001), ok("getpid", "native", 0.011, 1000, 1000),
             ok("hello", "slimbox-emu", 0.1), ok("getpid", "slimbox-emu", 0.2, 50, 1000),
             ok("hello", "qiling", 0.4), ok("getpid", "qiling", 0.9, 50, 1000)]
    lines = report.render_table(cells, ["native", "slimbox-emu", "qiling"], {"hello": "hello", "getpid": "getpid"},
                                noisy=0.2, derived=[row]).splitlines()
    assert lines[3] == "| getpid | 11 ms | 200 ms at size 50 (native: 1000) | 900 ms at size 50 (native: 1000) |"
    # (0.2 - 0.1) / 50 = 2 ms against native's (0.011 - 0.001) / 1000 = 10 µs and qiling's 10 ms
    assert lines[4] == "| *per call* | 10 µs | 2 ms (200×, 0.2×) | 10 ms (1000×) |"


def test_per_operation_takes_its_baseline_and_unit():
    row = report.PerOperation("per pass", "memory", 20, baseline="memory-0", per=2)
    medians = {("memory", "native"): 0.5, ("memory-0", "native"): 0.1, ("hello", "native"): 0.001}
    assert report.per_operation(medians, row, "native") == pytest.approx(0.4 / 20 * 2)
    assert report.per_operation(medians, row, "native", {("memory", "native"): 4}) == pytest.approx(0.4 / 4 * 2)


def test_a_column_that_cannot_run_says_why_once_per_reason():
    reason = "PlatformUnavailable: no /dev/kvm"
    cells = [ok("hello", "native", 0.001), report.Cell("hello", "slimbox-kvm", [], reason=reason),
             ok("cpu", "native", 0.2), report.Cell("cpu", "slimbox-kvm", [], reason=reason)]
    lines = report.render_table(cells, ["native", "slimbox-kvm"], {"hello": "hello", "cpu": "cpu"}, noisy=0.2,
                                derived=[]).splitlines()
    assert lines[2] == f"| hello | 1 ms | not run: {reason} |"
    assert lines[3] == "| cpu | 200 ms | not run (as above) |"


def test_workloads_shrink_on_the_emulators_and_qiling_runs_only_self_contained_ones():
    by_name = {w.name: w for w in suite.workloads()}
    getpid = by_name["getpid"]
    argv, count = getpid.command("slimbox")
    assert count == suite.GETPID_CALLS and argv[-1] == str(suite.GETPID_CALLS)
    argv, count = getpid.command("slimbox-emu")
    assert count == suite.GETPID_CALLS // getpid.slow_divisor and argv[-1] == str(count)
    assert by_name["hello"].command("qiling") == ([str(suite.BIN / "hello")], None)
    assert by_name["read"].command("slimbox-emu") == (list(by_name["read"].argv), None)  # no size: run whole
    assert by_name["read"].not_run_on("slimbox-emu") == "" and by_name["read"].not_run_on("qiling")
    assert by_name["files"].not_run_on("qiling") and not by_name["files"].not_run_on("slimbox-emu")


def test_every_derived_row_has_its_baseline_measured():
    chosen = [w.name for w in suite.chosen_workloads(["memory", "pagefault"])]
    assert chosen == ["hello", "memory-0", "memory", "pagefault"]


def test_each_platform_runs_through_its_own_switch():
    for system, name in suite.PLATFORMS.items():
        prefix = suite.system_prefix(system, ["slimbox"])
        assert prefix[:5] == ["slimbox", "run", "-q", "--platform", name] and prefix[-1] == "--"
    assert suite.system_prefix("qiling", [])[-1] == "--"
