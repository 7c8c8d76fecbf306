"""`slimbox optee run TA.elf COMMANDS.json`: steps in, results out as JSON."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from slimbox.shims.optee import abi
from tests.guest.optee.conftest import HELLO, HERE

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
    assert [r["step"] for r in json.loads(done.stdout)] == ["open_session"]  # the steps before it


def test_syscall_table_prints():
    done = run_cli("syscalls")
    assert done.returncode == 0 and "`_utee_return`" in done.stdout and "`_ldelf_map_zi`" in done.stdout


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _run_file(tas, state, tmp_path, ta: str, steps: list) -> list[dict]:
    commands = tmp_path / f"{ta}.json"
    commands.write_text(json.dumps(steps))
    done = run_cli("run", str(tas[ta]), str(commands), "--storage", str(state["storage_dir"]),
                   "--secret", str(state["secret_file"]))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _invoke(command: int, *params: dict) -> dict:
    return {"step": "invoke_command", "command": command, "params": list(params)}


OPEN, CLOSE = {"step": "open_session"}, {"step": "close_session"}


def test_every_test_ta_through_the_cli(tas, state, tmp_path):
    data, key, iv = b"through the command line" * 3, bytes(range(16)), bytes(range(16, 32))
    digest = _run_file(tas, state, tmp_path, "digest", [OPEN, _invoke(
        0, {"type": "memref_input", "data_base64": _b64(data)}, {"type": "value_input", "value_a": abi.ALG_SHA384},
        {"type": "memref_output", "buffer_size": 64}), CLOSE])
    assert base64.b64decode(digest[1]["params"][0]["data_base64"]) == hashlib.sha384(data).digest()

    mac = _run_file(tas, state, tmp_path, "hmac", [OPEN, _invoke(
        0, {"type": "memref_input", "data_base64": _b64(key)}, {"type": "memref_input", "data_base64": _b64(data)},
        {"type": "value_input", "value_a": abi.ALG_HMAC_SHA256}, {"type": "memref_output", "buffer_size": 32}), CLOSE])
    assert base64.b64decode(mac[1]["params"][0]["data_base64"]) == hmac.new(key, data, "sha256").digest()

    plain = data[:64]
    aes = _run_file(tas, state, tmp_path, "aes", [OPEN, _invoke(
        0, {"type": "memref_input", "data_base64": _b64(key)}, {"type": "memref_input", "data_base64": _b64(iv)},
        {"type": "value_input", "value_a": abi.ALG_AES_CBC_NOPAD, "value_b": abi.MODE_ENCRYPT},
        {"type": "memref_inout", "data_base64": _b64(plain)}), CLOSE])
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    assert base64.b64decode(aes[1]["params"][0]["data_base64"]) == encryptor.update(plain) + encryptor.finalize()

    random = _run_file(tas, state, tmp_path, "random", [OPEN, _invoke(0, {"type": "memref_output",
                                                                           "buffer_size": 48}), CLOSE])
    assert len(base64.b64decode(random[1]["params"][0]["data_base64"])) == 48

    hashed = hashlib.sha256(data).digest()
    signed = _run_file(tas, state, tmp_path, "sign", [OPEN, _invoke(
        0, {"type": "value_input", "value_a": 0x70004830, "value_b": 1024},
        {"type": "memref_input", "data_base64": _b64(hashed)}, {"type": "memref_output", "buffer_size": 128},
        {"type": "memref_output", "buffer_size": 128}), CLOSE])
    signature, modulus = (base64.b64decode(p["data_base64"]) for p in signed[1]["params"])
    public = rsa.RSAPublicNumbers(65537, int.from_bytes(modulus, "big")).public_key()
    public.verify(signature, hashed, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))

    object_id = {"type": "memref_input", "data_base64": _b64(b"note")}
    _run_file(tas, state, tmp_path, "storage", [OPEN, _invoke(0, object_id, {"type": "memref_input",
                                                                             "data_base64": _b64(data)}), CLOSE])
    stored = _run_file(tas, state, tmp_path, "storage", [OPEN, _invoke(1, object_id, {"type": "memref_output",
                                                                                      "buffer_size": 256}), CLOSE])
    assert base64.b64decode(stored[1]["params"][0]["data_base64"]) == data


def test_counter_tas_and_a_panic_through_the_cli(tas, state, tmp_path):
    count = _invoke(0, {"type": "value_output"})
    counted = _run_file(tas, state, tmp_path, "counter", [OPEN, count, count, CLOSE])
    assert [r["params"] for r in counted[1:3]] == [[{"type": "value_output", "value_a": 1, "value_b": 1}],
                                                   [{"type": "value_output", "value_a": 2, "value_b": 2}]]
    solo = _run_file(tas, state, tmp_path, "solo", [OPEN, count, CLOSE])
    assert solo[1]["params"] == [{"type": "value_output", "value_a": 1, "value_b": 1}]

    commands = tmp_path / "panic.json"
    commands.write_text(json.dumps([OPEN, _invoke(1), _invoke(0, {"type": "value_inout", "value_a": 1}), CLOSE]))
    done = run_cli("run", str(tas["hello"]), str(commands), "--storage", str(state["storage_dir"]),
                   "--secret", str(state["secret_file"]))
    records = json.loads(done.stdout)
    assert [r["result"] for r in records] == ["TEE_SUCCESS", "TEE_ERROR_TARGET_DEAD", "TEE_ERROR_TARGET_DEAD",
                                              "TEE_SUCCESS"]
    assert records[1]["origin"] == abi.TEE_ORIGIN_TEE
    assert "died: panicked with code 0xdead" in done.stderr
    assert done.returncode == 1


def test_a_ta_calling_another_through_the_cli(tas, state, tmp_path):
    commands = tmp_path / "caller.json"
    commands.write_text(json.dumps([OPEN, _invoke(
        0, {"type": "memref_input", "data_base64": _b64(abi.parse_uuid(HELLO))},
        {"type": "value_inout", "value_a": 0}, {"type": "value_inout", "value_a": 6, "value_b": 1}), CLOSE]))
    done = run_cli("run", str(tas["caller"]), "--with", str(tas["hello"]), str(commands), "--storage",
                   str(state["storage_dir"]), "--secret", str(state["secret_file"]))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[1]["params"][1] == {"type": "value_inout", "value_a": 7, "value_b": 1}


def test_cancellation_from_a_command_file(tas, state, tmp_path):
    step = _invoke(8, {"type": "value_output"})
    step["cancel_after_ms"] = 50
    records = _run_file(tas, state, tmp_path, "hello", [OPEN, step, CLOSE])
    assert records[1]["params"] == [{"type": "value_output", "value_a": abi.TEE_ERROR_CANCEL, "value_b": 1}]


def test_strace_prints_every_call(tas, state, tmp_path):
    commands = tmp_path / "traced.json"
    commands.write_text(json.dumps([OPEN, _invoke(0, {"type": "value_inout", "value_a": 1}), CLOSE]))
    done = run_cli("run", str(tas["hello"]), str(commands), "--strace", "--storage", str(state["storage_dir"]),
                   "--secret", str(state["secret_file"]))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("[8aaaf200]")]
    assert lines[0].startswith("[8aaaf200] utee_log(") and lines[0].endswith(") = TEE_SUCCESS")
    assert "[8aaaf200] utee_return(0x0) = ?" in lines
    assert len([line for line in lines if "utee_return" in line]) == 3  # open, invoke, close


def test_help():
    for args in (["--help"], ["run", "--help"]):
        done = run_cli(*args)
        assert done.returncode == 0 and "COMMANDS.json" in done.stdout
