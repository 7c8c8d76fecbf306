"""OP-TEE tests: the test TAs in tas/ are built at test time with gcc against the
project's TA library, and run in a TEE context whose storage and secret live in a
fresh temporary directory."""

from __future__ import annotations

import hashlib
import logging
import pathlib
import shutil
import subprocess

import pytest

from slimbox.optee import TeeContext

HERE = pathlib.Path(__file__).resolve().parent
TAS = HERE / "tas"
BUILD = HERE / ".build"
TALIB = HERE.parents[2] / "src" / "slimbox" / "shims" / "optee" / "talib"
FLAGS = ["-O2", "-Wall", "-Werror", "-static", "-nostdlib", "-ffreestanding", "-fno-stack-protector", "-fno-pic",
         "-no-pie", "-fcf-protection=none", "-e", "__ta_entry"]

HELLO = "8aaaf200-2450-11e4-abe2-0002a5d5c51b"
DIGEST = "2d1e0a11-6b3c-4e59-8a01-5a113c0d0001"
HMAC = "2d1e0a12-6b3c-4e59-8a01-5a113c0d0002"
AES = "2d1e0a13-6b3c-4e59-8a01-5a113c0d0003"
RANDOM = "2d1e0a14-6b3c-4e59-8a01-5a113c0d0004"
SIGN = "2d1e0a15-6b3c-4e59-8a01-5a113c0d0005"
STORAGE = "2d1e0a16-6b3c-4e59-8a01-5a113c0d0006"
COUNTER = "2d1e0a17-6b3c-4e59-8a01-5a113c0d0007"
SOLO = "2d1e0a17-6b3c-4e59-8a01-5a113c0d0008"
CALLER = "2d1e0a18-6b3c-4e59-8a01-5a113c0d0009"


def _build(out: pathlib.Path, sources: list[pathlib.Path], flags: list[str]) -> pathlib.Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is missing: run `make deps`")
    BUILD.mkdir(exist_ok=True)
    inputs = sources + [TALIB / "tee_ta.h"] + sorted(TAS.glob("*.c"))  # a TA may include another
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)
                            + " ".join(flags).encode()).hexdigest()[:16]
    stamp = BUILD / f"{out.name}.stamp"
    if not (out.exists() and stamp.exists() and stamp.read_text() == digest):
        subprocess.run([gcc, *flags, "-o", str(out), *map(str, sources)], check=True)
        stamp.write_text(digest)
    return out


def build_ta(name: str) -> pathlib.Path:
    return _build(BUILD / f"{name}.ta", [TAS / f"{name}.c", TALIB / "tee_ta.c"], [*FLAGS, f"-I{TALIB}"])


@pytest.fixture(scope="session")
def ldelf() -> pathlib.Path:
    """The tests' small ldelf, linked away from where the TAs load."""
    return _build_loader("ldelf")


@pytest.fixture(scope="session")
def hostile_ldelf() -> pathlib.Path:
    """An ldelf that calls every ldelf number with awkward arguments, then fails."""
    return _build_loader("hostile")


def _build_loader(name: str) -> pathlib.Path:
    flags = [*FLAGS[:-2], "-e", "__ldelf_entry", "-Wl,-Ttext-segment=0x10000000"]
    return _build(BUILD / name, [HERE / "ldelf" / f"{name}.c"], flags)


@pytest.fixture(scope="session")
def tas() -> dict[str, pathlib.Path]:
    return {source.stem: build_ta(source.stem) for source in sorted(TAS.glob("*.c"))}


@pytest.fixture
def state(tmp_path) -> dict[str, pathlib.Path]:
    return {"storage_dir": tmp_path / "storage", "secret_file": tmp_path / "secret"}


@pytest.fixture
def tee(tas, state):
    with TeeContext(tas.values(), log=logging.getLogger("slimbox.optee"), **state) as context:
        yield context
