"""TAs loaded by an ldelf binary in their own process, through OP-TEE's ldelf syscalls,
instead of by the kernel's ELF loader."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from slimbox.optee import OpenSessionError, Param, TeeContext
from slimbox.shims.optee import abi
from tests.guest.optee.conftest import DIGEST, HELLO, STORAGE
from tests.guest.optee.test_cli import run_cli


def test_tas_run_after_ldelf_loads_them(tas, ldelf, state, caplog):
    log = logging.getLogger("slimbox.optee")
    with caplog.at_level(logging.INFO, logger="slimbox.optee"):
        with TeeContext(tas.values(), ldelf=ldelf, log=log, **state) as tee:
            with tee.open_session(HELLO) as session:
                assert session.instance.phase == "ta"
                maps = session.instance.task.process.mm.maps_text()
                assert b"/ldelf" in maps and b"/hello.ta" in maps
                for value in (1, 2):
                    assert session.invoke(0, [Param.value_inout(value)]).params[0].a == value + 1
            with tee.open_session(DIGEST) as session:
                result = session.invoke(0, [Param.memref_input(b"loaded by ldelf"), Param.value_input(abi.ALG_SHA256),
                                            Param.memref_output(32)])
                assert result.params[2].data == hashlib.sha256(b"loaded by ldelf").digest()
            with tee.open_session(STORAGE) as session:
                assert session.invoke(0, [Param.memref_input(b"id"), Param.memref_input(b"bss and data work")]).code \
                    == abi.TEE_SUCCESS
                assert session.invoke(1, [Param.memref_input(b"id"), Param.memref_output(64)]).params[1].data == \
                    b"bss and data work"
    assert f"ldelf for TA {HELLO}: ldelf: TA loaded" in caplog.text


def test_a_panicking_ta_loaded_by_ldelf_is_target_dead(tas, ldelf, state):
    with TeeContext([tas["hello"]], ldelf=ldelf, **state) as tee:
        with tee.open_session(HELLO) as session:
            assert session.invoke(1).code == abi.TEE_ERROR_TARGET_DEAD


def test_ldelf_through_the_cli(tas, ldelf, state, tmp_path):
    commands = tmp_path / "steps.json"
    commands.write_text(json.dumps([{"step": "open_session"}, {"step": "invoke_command", "command": 0, "params": [
        {"type": "value_inout", "value_a": 99}]}, {"step": "close_session"}]))
    done = run_cli("run", str(tas["hello"]), "--ldelf", str(ldelf), str(commands), "--storage",
                   str(state["storage_dir"]), "--secret", str(state["secret_file"]))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[1]["params"] == [{"type": "value_inout", "value_a": 100, "value_b": 0}]


def test_a_hostile_ldelf_gets_answers_and_its_failure_ends_the_session(tas, hostile_ldelf, state, caplog):
    log = logging.getLogger("slimbox.optee")
    with caplog.at_level(logging.INFO, logger="slimbox.optee"):
        with TeeContext([tas["hello"]], ldelf=hostile_ldelf, log=log, **state) as tee:
            with pytest.raises(OpenSessionError) as failed:
                tee.open_session(HELLO)
            assert failed.value.code == abi.TEE_ERROR_GENERIC and failed.value.origin == abi.TEE_ORIGIN_TEE
            assert len(tee.core.kernel.processes) == 0
    # 11 numbers (return and panic aside, plus one unknown) times 11 argument sets, each a TEE_Result
    assert "hostile ldelf: answers 121" in caplog.text
    assert "ldelf) returned 0xffff0000" in caplog.text
