"""shims/linux/table.py: the syscall table agrees with the ABI prototypes, and the
personality dispatches through it."""

from __future__ import annotations

import inspect
import logging
import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[2] / "kernel")  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.abi.syscalls import BY_NAME as SPECS  # noqa: E402
from slimbox.abi.syscalls import SYSCALLS  # noqa: E402
from slimbox.shims.linux import table  # noqa: E402
from slimbox.shims.linux.personality import LinuxPersonality  # noqa: E402
from slimbox.shims.linux.table import BY_NAME, BY_NUMBER, FULL, NONE, NOT_IMPLEMENTED, PARTIAL  # noqa: E402


def handled():
    return [entry for entry in BY_NUMBER.values() if entry.handler is not None]


def test_every_name_in_the_table_is_a_syscall_of_the_abi():
    names = [row[0] for row in table._ROWS]
    unknown = [name for name in names if name not in SPECS]
    assert unknown == []
    assert len(names) == len(set(names))


def test_every_syscall_of_the_abi_has_exactly_one_entry():
    assert sorted(BY_NUMBER) == sorted(spec.nr for spec in SYSCALLS)
    for spec in SYSCALLS:
        entry = BY_NUMBER[spec.nr]
        assert entry.spec is spec and BY_NAME[spec.name] is entry
        assert entry.nr == spec.nr and entry.name == spec.name


def test_every_handler_takes_the_task_and_one_parameter_per_prototype_parameter():
    wrong = []
    for entry in handled():
        parameters = list(inspect.signature(entry.handler).parameters.values())
        kinds_ok = all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in parameters)
        if not kinds_ok or len(parameters) != 1 + len(entry.spec.params) or parameters[0].name != "task":
            wrong.append((entry.name, [p.name for p in parameters], [p.name for p in entry.spec.params]))
    assert wrong == []


def test_support_levels_are_consistent_with_handlers_and_notes():
    for entry in BY_NUMBER.values():
        assert entry.support in (FULL, PARTIAL, NONE), entry.name
        if entry.handler is None:
            assert entry.support == NONE, entry.name
            assert entry.note, entry.name  # a refusal says why (or that it is not implemented)
        else:
            assert entry.support in (FULL, PARTIAL), entry.name
            assert entry.note != NOT_IMPLEMENTED, entry.name
        if entry.support == PARTIAL:
            assert entry.note, f"{entry.name} is partial without saying how"


def test_handlers_are_plain_functions_of_the_sys_modules():
    for entry in handled():
        assert inspect.isfunction(entry.handler), entry.name
        assert entry.handler.__module__.startswith("slimbox.shims.linux.sys_"), entry.name


def test_counts_and_markdown_cover_every_syscall():
    counts = table.counts()
    assert sum(counts.values()) == len(BY_NUMBER)
    page = table.markdown()
    rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| nr")]
    assert len(rows) == len(BY_NUMBER)
    assert f"{len(BY_NUMBER)} x86-64 syscalls: {counts[FULL]} full, {counts[PARTIAL]} partial" in page


def test_the_personality_dispatches_every_handled_syscall():
    personality = LinuxPersonality()
    assert not personality._dispatch  # decoded on first use
    personality._dispatch.decode_all()
    assert set(personality._dispatch) == {entry.nr for entry in handled()}
    assert personality.syscall_name(0) == "read" and personality.syscall_name(1000) == "syscall_1000"


def test_lazy_decoding_gives_what_decoding_every_prototype_at_once_gives():
    from slimbox.shims.linux.args import decoding
    lazy = LinuxPersonality()._dispatch
    known: dict = {}
    for entry in handled():
        assert lazy[entry.nr] == (entry.handler, *decoding(entry.spec, known), entry)
    unhandled = next(e for e in BY_NUMBER.values() if e.handler is None)
    for nr in (unhandled.nr, 4000):
        with pytest.raises(KeyError):
            lazy[nr]
        assert nr not in lazy


def test_unhandled_syscalls_are_enosys_and_reported_once(caplog):
    g = FakeGuest()
    unimplemented = next(e for e in BY_NUMBER.values() if e.handler is None and e.note == NOT_IMPLEMENTED)
    with caplog.at_level(logging.INFO, logger="slimbox"):
        assert g.syscall(unimplemented.nr, 1, 2, 3) == -Errno.ENOSYS
        assert g.syscall(unimplemented.nr, 1, 2, 3) == -Errno.ENOSYS
        assert g.syscall(4000) == -Errno.ENOSYS
    assert g.kernel.reported_unsupported == {unimplemented.name, "syscall_4000"}
    messages = [r.getMessage() for r in caplog.records]
    assert sum(unimplemented.name + "(" in m for m in messages) == 1
