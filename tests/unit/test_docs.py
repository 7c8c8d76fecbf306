"""Generated documents stay in step with their source."""

import pathlib

from slimbox.platforms.linux import lockdown
from slimbox.shims.linux.table import markdown
from slimbox.shims.optee import table as optee_table

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def test_syscall_page_is_current():
    page = DOCS / "syscalls.md"
    assert page.read_text() == markdown(), "docs/syscalls.md is stale: run `make docs`"


def test_host_syscall_page_is_current():
    page = DOCS / "host-syscalls.md"
    assert page.read_text() == lockdown.markdown(), "docs/host-syscalls.md is stale: run `make docs`"


def test_optee_page_is_current():
    page = DOCS / "optee.md"
    assert page.read_text() == optee_table.markdown(), "docs/optee.md is stale: run `make docs`"
