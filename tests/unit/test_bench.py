"""The benchmark harness's pure logic: formatting, ratios, derived rows, targets and the
output check. Nothing here runs or times a program."""

import importlib.util
import pathlib
import sys

import pytest

_REPORT = pathlib.Path(__file__).resolve().parents[2] / "bench" / "report.py"


def _load_report():
    # bench/ is a directory of scripts, not a package: load the module from its file
    spec = importlib.util.spec_from_file_location("slimbox_bench_report", _REPORT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


report = _load_report()
PER_GETPID = report.PerOperation("per getpid", "getpid", 1000)


def ok(workload, system, median, load=0.0):
    return report.Cell(workload, system, [workload], status="OK", median=median, foreign_load=load)


def failed(workload, system, reason="exit status 1"):
    return report.Cell(workload, system, [workload], status="FAIL", reason=reason)


@pytest.mark.parametrize("seconds, text", [
    (None, "–"), (2.5, "2.5 s"), (0.1234, "123 ms"), (0.000258, "258 µs"), (1.13e-7, "113 ns"),
    (1234.0, "1234 s"), (-0.002, "-2 ms"), (0.0, "0 ns"),
])
def test_fmt_time_picks_a_readable_unit(seconds, text):
    assert report.fmt_time(seconds) == text


def test_ratio_needs_two_positive_figures():
    assert report.ratio(3.0, 2.0) == 1.5
    assert report.ratio(None, 2.0) is None
    assert report.ratio(1.0, 0.0) is None
    assert report.ratio(-1.0, 2.0) is None
    assert report.fmt_ratio(0.75, 0.5) == "1.5×"
    assert report.fmt_ratio(2500.0, 1.0) == "2500×"
    assert report.fmt_ratio(1.0, None) == "–"


def test_check_passes_only_on_native_output_and_exit_zero():
    judge = report.judge_check
    assert judge("native", 0, "a\n", "", None, 10) == ""
    assert judge("slimbox", 0, "a\n", "", "a\n", 10) == ""
    assert judge("slimbox", 0, "b\n", "", "a\n", 10).startswith("stdout differs from native")
    assert judge("slimbox", 0, "a\n", "", None, 10) == "no native output to compare with (native failed)"
    assert judge("runsc", 3, "", "warning\nboom\n", "a\n", 10) == "exit status 3: boom"
    assert judge("proot", 1, "", "", "a\n", 10) == "exit status 1"
    assert judge("native", None, "", "", None, 2.5) == "did not finish within 2.5 s"


def test_per_operation_subtracts_start_up():
    medians = {("hello", "slimbox"): 0.1, ("getpid", "slimbox"): 0.3}
    assert report.per_operation(medians, PER_GETPID, "slimbox") == pytest.approx(0.2 / 1000)
    assert report.per_operation(medians, PER_GETPID, "runsc") is None


def test_failed_cells_have_no_median():
    cells = [ok("hello", "native", 0.001), failed("hello", "slimbox")]
    assert report.medians_of(cells) == {("hello", "native"): 0.001}


def test_table_shows_ratios_to_native_and_runsc_and_marks_failures_and_noise():
    cells = [ok("hello", "native", 0.001), ok("hello", "slimbox", 0.05, load=0.9), ok("hello", "runsc", 0.1),
             ok("getpid", "native", 0.002), failed("getpid", "slimbox"), ok("getpid", "runsc", 2.1)]
    table = report.render_table(cells, ["native", "slimbox", "runsc"], {"hello": "hello", "getpid": "getpid"},
                                noisy=0.2, derived=[PER_GETPID])
    lines = table.splitlines()
    assert lines[0] == "| workload | native | slimbox (× native, × runsc) | runsc-ptrace (× native) |"
    assert lines[1] == "|---|---|---|---|"
    assert lines[2] == "| hello | 1 ms | 50 ms (50×, 0.5×) † | 100 ms (100×) |"
    assert lines[3] == "| getpid | 2 ms | **FAIL** | 2.1 s (1050×) |"
    assert lines[4] == "| *per getpid* | 1 µs | – | 2 ms (2000×) |"
    assert lines[5] == "| *start-up overhead = hello − native hello* | 0 ns | 49 ms (0.495× runsc) | 99 ms |"


def test_table_without_runsc_gives_ratios_to_native_only():
    cells = [ok("cpu", "native", 0.15), ok("cpu", "slimbox", 0.3)]
    table = report.render_table(cells, ["native", "slimbox"], {"cpu": "CPU loop"}, noisy=0.2, derived=[])
    assert table.splitlines()[2] == "| CPU loop | 150 ms | 300 ms (2×) |"


def test_targets_hit_and_miss():
    medians = {
        ("hello", "native"): 0.001, ("hello", "slimbox"): 0.04, ("hello", "runsc"): 0.1,
        ("getpid", "slimbox"): 0.04 + 1000 * 20e-6, ("getpid", "runsc"): 0.1 + 1000 * 12e-6,
        ("cpu", "native"): 0.15, ("cpu", "slimbox"): 0.19,
        ("pipe", "slimbox"): 1.0, ("pipe", "runsc"): 2.0,
    }
    titles = {"hello": "hello", "getpid": "getpid", "cpu": "CPU loop", "pipe": "pipe", "files": "files"}
    found = {t.goal: t for t in report.targets(medians, titles, PER_GETPID)}
    assert found["per-syscall cost ≤ 0.6× runsc-ptrace"].hit is False
    assert found["hello start-up ≤ 0.5× runsc-ptrace"].hit is True
    cpu = found["CPU loop within 5% of native (≤ 1.05×)"]
    assert cpu.hit is False and "start-up subtracted: 1.01×" in cpu.measured
    assert found["pipe: faster than runsc-ptrace (< 1×)"].hit is True
    assert found["files: faster than runsc-ptrace (< 1×)"].hit is None
    rendered = report.render_targets(list(found.values()))
    assert "| **miss** |" in rendered and "| hit |" in rendered and "| not measured |" in rendered
