"""The benchmark's results as text: the markdown table of medians and ratios, the derived
per-operation rows and the performance targets, plus the check that a sandboxed run
printed what the native run printed.

Everything here is a pure function of measured numbers and captured output, so the unit
tests can exercise it without timing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM_TITLES = {"native": "native", "slimbox": "slimbox", "slimbox-kvm": "slimbox-kvm", "slimbox-emu": "slimbox-emu",
                 "runsc": "runsc-ptrace", "proot": "proot", "qiling": "qiling"}

#: the peer a system's second ratio is taken to (when that peer is measured in the run):
#: gVisor for the systems that run guest code on the CPU, Qiling for the emulator
PEERS = {"slimbox-emu": "qiling"}
DEFAULT_PEER = "runsc"


def peer_of(system: str, systems: list[str]) -> str | None:
    """The system `system`'s second ratio is to, if it was measured (never itself or native)."""
    if system in ("native", "qiling"):
        return None
    peer = PEERS.get(system, DEFAULT_PEER)
    return peer if peer in systems and peer != system else None

#: (workload, system) -> median seconds, present only for cells that passed their check
Medians = dict[tuple[str, str], float]


@dataclass
class Cell:
    """One workload on one system: how it was run, whether its output matched native's,
    and hyperfine's figures."""

    workload: str
    system: str
    command: list[str]
    status: str = "SKIP"  # OK, FAIL, SKIP
    reason: str = ""
    output: str = ""
    stderr: str = ""
    check_seconds: float | None = None
    runs: int = 0
    warmup: int = 0
    median: float | None = None
    mean: float | None = None
    stddev: float | None = None
    min: float | None = None
    max: float | None = None
    times: list[float] = field(default_factory=list)
    hyperfine_json: str = ""
    #: the share of the measured CPU that other processes used while hyperfine ran
    foreign_load: float = 0.0
    attempts: int = 0
    #: the workload's size argument as run here, and as run natively (they differ on a slow
    #: system, which runs a smaller size; its whole-process time is then not comparable)
    count: int | None = None
    full_count: int | None = None

    @property
    def scaled_down(self) -> bool:
        return self.count is not None and self.full_count is not None and self.count != self.full_count


@dataclass(frozen=True)
class PerOperation:
    """A derived row: (median of `workload` - median of `baseline`) / `count` × `per`, so
    process start-up (and whatever else the baseline does) cancels out and what is left is
    the cost of `per` operations. A cell run at another size uses its own count."""

    label: str
    workload: str
    count: int
    baseline: str = "hello"
    per: int = 1


@dataclass(frozen=True)
class Target:
    goal: str
    measured: str
    hit: bool | None  # None when a figure it needs is missing


# --- formatting ----------------------------------------------------------------------------

def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    size = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if size >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}" if abs(value) < 1000 else f"{value:.0f} {unit}"
    return f"{seconds} s"


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base, or None when either is missing or not positive (a ratio to a
    negative difference of noisy medians means nothing)."""
    if value is None or base is None or base <= 0 or value <= 0:
        return None
    return value / base


def fmt_ratio(value: float | None, base: float | None) -> str:
    r = ratio(value, base)
    if r is None:
        return "–"
    return f"{r:.3g}×" if r < 1000 else f"{r:.0f}×"


# --- checking output -----------------------------------------------------------------------

def judge_check(system: str, status: int | None, stdout: str, stderr: str, reference: str | None,
                timeout: float) -> str:
    """Why an untimed check run fails ("" when it passes). A sandboxed run must exit 0 and
    print exactly what the native run printed; the native run only has to exit 0."""
    if status is None:
        return f"did not finish within {timeout:g} s"
    if status != 0:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        return f"exit status {status}" + (f": {last}" if last else "")
    if system == "native":
        return ""
    if reference is None:
        return "no native output to compare with (native failed)"
    if stdout != reference:
        return f"stdout differs from native: {stdout[:120]!r} vs {reference[:120]!r}"
    return ""


def medians_of(cells: list[Cell]) -> Medians:
    return {(c.workload, c.system): c.median for c in cells if c.status == "OK" and c.median is not None}


# --- derived figures -------------------------------------------------------------------------

def per_operation(medians: Medians, row: PerOperation, system: str,
                  counts: dict[tuple[str, str], int] | None = None) -> float | None:
    total, start = medians.get((row.workload, system)), medians.get((row.baseline, system))
    if total is None or start is None:
        return None
    count = (counts or {}).get((row.workload, system), row.count)
    return (total - start) / count * row.per if count else None


def counts_of(cells: list[Cell]) -> dict[tuple[str, str], int]:
    """(workload, system) -> the size argument each measured cell ran with."""
    return {(c.workload, c.system): c.count for c in cells if c.count is not None}


def startup_overhead(medians: Medians, system: str) -> float | None:
    """How much longer hello takes on `system` than natively: the cost of starting a sandbox."""
    hello, native = medians.get(("hello", system)), medians.get(("hello", "native"))
    if hello is None or native is None:
        return None
    return hello - native


def compute_only(medians: Medians, workload: str, system: str) -> float | None:
    """A workload's median less hello's on the same system: its time without start-up."""
    total, start = medians.get((workload, system)), medians.get(("hello", system))
    if total is None or start is None:
        return None
    return total - start


# --- the table ---------------------------------------------------------------------------------

def header(systems: list[str]) -> list[str]:
    columns = ["workload"]
    for s in systems:
        peer = peer_of(s, systems)
        if s == "native":
            columns.append("native")
        elif peer is None:
            columns.append(f"{SYSTEM_TITLES[s]} (× native)")
        else:
            columns.append(f"{SYSTEM_TITLES[s]} (× native, × {peer})")
    return columns


def with_ratios(value: float | None, system: str, native: float | None, peer: float | None,
                has_peer: bool) -> str:
    """A time followed by its ratios: to native and, when the system has a peer in the
    run (`has_peer`), to that peer."""
    if value is None:
        return "–"
    if system == "native":
        return fmt_time(value)
    ratios = [fmt_ratio(value, native)]
    if has_peer:
        ratios.append(fmt_ratio(value, peer))
    return f"{fmt_time(value)} ({', '.join(ratios)})"


def markdown_row(columns: list[str]) -> str:
    return "| " + " | ".join(columns) + " |"


def measured_row(title: str, workload: str, systems: list[str], cells: dict[tuple[str, str], Cell],
                 noisy: float, said: dict[str, str] | None = None) -> str:
    """One workload's row. A cell not run says why, once per column and reason (`said`
    keeps the reason each column gave last)."""
    said = {} if said is None else said
    medians = {(w, s): c.median for (w, s), c in cells.items() if c.status == "OK"}
    native = medians.get((workload, "native"))
    columns = [title]
    for s in systems:
        cell = cells.get((workload, s))
        if cell is not None and cell.status == "FAIL":
            columns.append("**FAIL**")
            continue
        if cell is not None and cell.status == "SKIP" and cell.reason:
            columns.append("not run (as above)" if said.get(s) == cell.reason else f"not run: {cell.reason}")
            said[s] = cell.reason
            continue
        peer = peer_of(s, systems)
        if cell is not None and cell.scaled_down and cell.median is not None:
            # another size than native's: only the per-operation rows compare it
            text = f"{fmt_time(cell.median)} at size {cell.count} (native: {cell.full_count})"
        else:
            text = with_ratios(medians.get((workload, s)), s, native, medians.get((workload, peer or "")),
                               peer is not None)
        columns.append(text + (" †" if cell is not None and cell.foreign_load > noisy else ""))
    return markdown_row(columns)


def derived_rows(medians: Medians, systems: list[str], rows: list[PerOperation],
                 counts: dict[tuple[str, str], int] | None = None) -> list[str]:
    lines = []
    for row in rows:
        values = {s: per_operation(medians, row, s, counts) for s in systems}
        if all(v is None for v in values.values()):
            continue
        columns = [f"*{row.label}*"]
        for s in systems:
            peer = peer_of(s, systems)
            columns.append(with_ratios(values[s], s, values.get("native"), values.get(peer or ""), peer is not None))
        lines.append(markdown_row(columns))
    overheads = {s: startup_overhead(medians, s) for s in systems}
    if any(v is not None for s, v in overheads.items() if s != "native"):
        columns = ["*start-up overhead = hello − native hello*"]
        for s in systems:
            v, peer = overheads[s], peer_of(s, systems)
            extra = f" ({fmt_ratio(v, overheads.get(peer))} {peer})" if peer is not None else ""
            columns.append("–" if v is None else fmt_time(v) + extra)
        lines.append(markdown_row(columns))
    return lines


def render_table(cells: list[Cell], systems: list[str], titles: dict[str, str], noisy: float,
                 derived: list[PerOperation]) -> str:
    """The markdown table: one row per workload in the order measured, then the derived rows.
    A cell shows its median and its ratios; FAIL when its output or exit status was wrong;
    † when other processes loaded the machine while it was timed."""
    by_key = {(c.workload, c.system): c for c in cells}
    workloads = list(dict.fromkeys(c.workload for c in cells))
    columns = header(systems)
    lines = [markdown_row(columns), "|" + "---|" * len(columns)]
    said: dict[str, str] = {}
    lines += [measured_row(titles[w], w, systems, by_key, noisy, said) for w in workloads]
    lines += derived_rows(medians_of(cells), systems, derived, counts_of(cells))
    return "\n".join(lines) + "\n"


# --- targets -----------------------------------------------------------------------------------

def ratio_target(goal: str, value: float | None, base: float | None, limit: float, what: str) -> Target:
    r = ratio(value, base)
    if r is None:
        return Target(goal, "not measured", None)
    return Target(goal, f"{fmt_time(value)} vs {fmt_time(base)}: {r:.3g}× {what}", r <= limit)


def targets(medians: Medians, titles: dict[str, str], per_syscall: PerOperation) -> list[Target]:
    """slimbox against the performance targets: per-syscall cost at most 0.6× runsc's,
    hello start-up at most 0.5× runsc's, the CPU loop within 5% of native, and every other
    workload in `titles` (those that were run) faster than under runsc."""
    found = [
        ratio_target("per-syscall cost ≤ 0.6× runsc-ptrace", per_operation(medians, per_syscall, "slimbox"),
                     per_operation(medians, per_syscall, "runsc"), 0.6, "runsc"),
        ratio_target("hello start-up ≤ 0.5× runsc-ptrace", medians.get(("hello", "slimbox")),
                     medians.get(("hello", "runsc")), 0.5, "runsc"),
        cpu_target(medians),
    ]
    for workload, title in titles.items():
        if workload in ("hello", "getpid", "cpu"):
            continue
        found.append(ratio_target(f"{title}: faster than runsc-ptrace (< 1×)", medians.get((workload, "slimbox")),
                                  medians.get((workload, "runsc")), 0.999_999, "runsc"))
    return found


def cpu_target(medians: Medians, system: str = "slimbox") -> Target:
    """The CPU loop judged on whole-process time, as the other rows are; the figure with
    start-up subtracted is shown beside it, since most of the gap is start-up."""
    goal = "CPU loop within 5% of native (≤ 1.05×)"
    whole = ratio_target(goal if system == "slimbox" else f"{system}: {goal}", medians.get(("cpu", system)),
                         medians.get(("cpu", "native")), 1.05, "native")
    compute = ratio(compute_only(medians, "cpu", system), compute_only(medians, "cpu", "native"))
    if whole.hit is None or compute is None:
        return whole
    return Target(whole.goal, f"{whole.measured} (start-up subtracted: {compute:.3g}×)", whole.hit)


def render_targets(found: list[Target]) -> str:
    verdicts = {True: "hit", False: "**miss**", None: "not measured"}
    lines = ["| target | slimbox measured | verdict |", "|---|---|---|"]
    lines += [markdown_row([t.goal, t.measured, verdicts[t.hit]]) for t in found]
    return "\n".join(lines) + "\n"
