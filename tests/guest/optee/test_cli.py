"""`slimbox optee run TA.elf COMMANDS.json`: steps in, results out as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.guest.optee.conftest import HERE

ROOT = HERE.parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slimbox", "optee", *args], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_hello_through_the_cli(tas, state, tmp_path):
    commands = tmp_path / "hello.json"
    commands.write_text(json.dumps([
        {"step": "open_session"},
        {"step": "invoke_command", "command": 0, "params": [{"type": "value_inout", "value_a": 9, "value_b": 3}]},
        {"step": "invoke_command", "command": 0, "params": [{"type": "value_input", "value_a": 9}]},
        {"step": "close_session"},
    ]))
    done = run_cli("run", str(tas["hello"]), str(commands), "--storage", str(state["storage_dir"]),
                   "--secret", str(state["secret_file"]))
    records = json.loads(done.stdout)
    assert [r["result"] for r in records] == ["TEE_SUCCESS", "TEE_SUCCESS", "TEE_ERROR_BAD_PARAMETERS",
                                              "TEE_SUCCESS"]
    assert records[1]["params"] == [{"type": "value_inout", "value_a": 10, "value_b": 3}]
    assert done.returncode == 1  # one step failed


def test_a_malformed_command_file_is_refused(tas, state, tmp_path):
    commands = tmp_path / "bad.json"
    commands.write_text(json.dumps([{"step": "open_session"}, {"step": "invoke_command", "command": 0,
                                                                "params": [{"type": "value_sideways"}]}]))
    done = run_cli("run", str(tas["hello"]), str(commands), "--storage", str(state["storage_dir"]),
                   "--secret", str(state["secret_file"]))
    assert done.returncode == 2 and "step 2" in done.stderr


def test_syscall_table_prints():
    done = run_cli("syscalls")
    assert done.returncode == 0 and "`_utee_return`" in done.stdout and "`_ldelf_map_zi`" in done.stdout
