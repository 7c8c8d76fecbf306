"""Running OP-TEE Trusted Applications: the OP-TEE personality on the Linux platform.

    with TeeContext(["hello.ta"]) as tee:
        session = tee.open_session("8aaaf200-2450-11e4-abe2-0002a5d5c51b")
        result = session.invoke(0, [Param.value_inout(41)])
        session.close()

Each TA file's directory is mounted read-only in a sandbox and the TA is loaded by the
kernel's ELF loader. Every syscall of a TA process stops under ptrace (the platform's
notification fast path is off), since `return` and `panic` change the thread's
registers or stop it and OP-TEE's numbers would otherwise be routed as Linux ones.
"""

from __future__ import annotations

import logging
import os
import pathlib
from typing import Iterable, TextIO

from slimbox.kernel.cred import Credentials
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.fs.vfs import FsContext
from slimbox.shims.optee.abi import (
    TEE_ERROR_BAD_STATE, TEE_ORIGIN_API, TEE_ORIGIN_TEE, TEE_ORIGIN_TRUSTED_APP, TEE_SUCCESS, format_uuid, parse_uuid,
)
from slimbox.shims.optee.client import (
    InvokeResult, OpenSessionError, Session, TeeClientError, TeeCore,
)
from slimbox.shims.optee.params import Param

__all__ = ["InvokeResult", "OpenSessionError", "Param", "Session", "TeeClientError", "TeeContext",
           "default_state_dir", "format_uuid", "parse_uuid"]

_TA_ROOT = "/optee/ta"
_STORAGE_ROOT = "/optee/storage"
SECRET_BYTES = 32


def default_state_dir() -> pathlib.Path:
    """$XDG_STATE_HOME/slimbox/optee, or ~/.local/state/slimbox/optee."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return pathlib.Path(base) / "slimbox" / "optee"


def load_or_create_secret(path: pathlib.Path) -> bytes:
    """The host-held secret the per-TA storage keys derive from: created (0600, random)
    when absent; a file that is too short is refused rather than used."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < SECRET_BYTES:
            raise ValueError(f"the secret file {path} holds fewer than {SECRET_BYTES} bytes") from None
        return secret
    with os.fdopen(fd, "wb") as out:
        secret = os.urandom(SECRET_BYTES)
        out.write(secret)
    return secret


class TeeContext:
    """TEEC_InitializeContext: a TEE with the given TAs, until close()."""

    def __init__(self, tas: Iterable[str | os.PathLike], *, storage_dir: str | os.PathLike | None = None,
                 secret_file: str | os.PathLike | None = None, log: logging.Logger | None = None,
                 request_timeout: float | None = 60.0, ldelf: str | os.PathLike | None = None,
                 strace: TextIO | None = None) -> None:
        from slimbox.platforms.linux.platform import LinuxPlatform
        from slimbox.sandbox import Sandbox
        from slimbox.shims.optee.storage import SecureStorage

        paths = [pathlib.Path(ta).resolve() for ta in tas]
        loader = pathlib.Path(ldelf).resolve() if ldelf is not None else None
        state = default_state_dir()
        storage = pathlib.Path(storage_dir) if storage_dir is not None else state / "storage"
        storage.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret = load_or_create_secret(pathlib.Path(secret_file) if secret_file is not None else state / "secret")
        directories = sorted({str(p.parent) for p in paths + ([loader] if loader is not None else [])})
        mounts = [f"{d}:{_TA_ROOT}/{i}:ro" for i, d in enumerate(directories)]
        mounts.append(f"{storage.resolve()}:{_STORAGE_ROOT}:rw")
        self.core: TeeCore | None = None
        self._closed = False
        self._sandbox = Sandbox(mounts=mounts, log=log)
        kernel = self._sandbox.kernel
        try:
            self._platform = LinuxPlatform(self._sandbox.host, notify=False)
        except BaseException:
            self._sandbox.close()
            raise
        kernel.platform = self._platform
        secure = SecureStorage(self._sandbox.os, _STORAGE_ROOT, secret)
        root = kernel.vfs.root

        def node_of(path: pathlib.Path):
            guest = f"{_TA_ROOT}/{directories.index(str(path.parent))}/{path.name}"
            try:
                return kernel.vfs.resolve(FsContext(root, root), Credentials.of(0, 0), root, guest.encode())
            except LinuxError as exc:
                raise OSError(exc.errno, os.strerror(exc.errno), str(path)) from None

        try:
            self.core = TeeCore(kernel, secure.for_ta, request_timeout,
                                node_of(loader) if loader is not None else None, strace)
            for path in paths:
                self.core.install(node_of(path))
        except BaseException:
            self.close()
            raise

    @property
    def uuids(self) -> list[str]:
        """The UUIDs of the TAs this context was given, in order."""
        assert self.core is not None
        return [format_uuid(raw) for raw in self.core.images]

    def open_session(self, uuid: str | bytes, params: list[Param] | None = None) -> Session:
        """TEEC_OpenSession (TEEC_LOGIN_PUBLIC) on the TA with this UUID."""
        if self._closed or self.core is None:
            raise TeeClientError(TEE_ERROR_BAD_STATE, TEE_ORIGIN_API, "the TEE context is closed")
        return self.core.open_session(uuid, params)

    def close(self) -> None:
        """TEEC_FinalizeContext: close every session, end every instance."""
        if self._closed:
            return
        self._closed = True
        kernel = self._sandbox.kernel
        try:
            if self.core is not None:
                self.core.close()
        finally:
            kernel.kill_everything("TEE context closed")
            self._platform.close()
            kernel.platform = None
            self._sandbox.close()

    def __enter__(self) -> TeeContext:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# --- command files (`slimbox optee run`) -------------------------------------------------------

class StepError(ValueError):
    """A command file step that is malformed (the message names the step); `records`
    are the results of the steps before it."""

    def __init__(self, message: str, records: list[dict] | None = None) -> None:
        super().__init__(message)
        self.records = records or []


def run_steps(tee: TeeContext, uuid: str, steps: list) -> list[dict]:
    """Run a command file's steps: open_session, invoke_command, close_session, each
    with up to four typed parameters; one JSON-ready record per step."""
    records: list[dict] = []
    try:
        return _run_steps(tee, uuid, steps, records)
    except StepError as exc:
        raise StepError(str(exc), records) from None


def _run_steps(tee: TeeContext, uuid: str, steps: list, records: list[dict]) -> list[dict]:
    from slimbox.shims.optee.abi import result_name
    from slimbox.shims.optee.params import ParamError

    if not isinstance(steps, list):
        raise StepError("the command file must hold a JSON list of steps")
    session: Session | None = None
    for number, step in enumerate(steps, 1):
        if not isinstance(step, dict) or step.get("step") not in ("open_session", "invoke_command", "close_session"):
            raise StepError(f"step {number}: expected {{\"step\": open_session|invoke_command|close_session, ...}}")
        kind = step["step"]
        try:
            params = [Param.from_json(p) for p in step.get("params", [])]
        except ParamError as exc:
            raise StepError(f"step {number}: {exc}") from None
        record: dict = {"step": kind}
        if kind == "open_session":
            if session is not None and not session.closed:
                raise StepError(f"step {number}: a session is already open")
            try:
                session = tee.open_session(uuid, params)
                code, origin, out = TEE_SUCCESS, TEE_ORIGIN_TRUSTED_APP, session.opened_with
            except OpenSessionError as exc:
                code, origin, out = exc.code, exc.origin, exc.params
                session = None
        elif kind == "invoke_command":
            command = step.get("command")
            if session is None or session.closed:
                raise StepError(f"step {number}: no open session")
            if not isinstance(command, int) or isinstance(command, bool):
                raise StepError(f"step {number}: invoke_command needs an integer \"command\"")
            record["command"] = command
            cancel_ms = step.get("cancel_after_ms")
            if cancel_ms is not None and (not isinstance(cancel_ms, int) or isinstance(cancel_ms, bool)
                                          or cancel_ms < 0):
                raise StepError(f"step {number}: cancel_after_ms must be a number of milliseconds")
            result = session.invoke(command, params, None if cancel_ms is None else cancel_ms / 1000)
            code, origin, out = result.code, result.origin, result.params
        else:
            if session is None:
                raise StepError(f"step {number}: no open session")
            session.close()
            session = None
            code, origin, out = TEE_SUCCESS, TEE_ORIGIN_TEE, []
        record.update({"result": result_name(code), "code": code, "origin": origin,
                       "params": [p.to_json() for p in out if p.is_output()]})
        records.append(record)
    if session is not None:
        session.close()
    return records



def _parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="slimbox optee", usage="slimbox optee run TA.elf [--ldelf LDELF] COMMANDS.json | slimbox optee syscalls",
        description="Run an OP-TEE Trusted Application with the steps of a command file (a JSON list of "
                    "open_session, invoke_command and close_session steps, each with a command id and up to four "
                    "typed parameters); output parameters are printed as JSON. 'syscalls' prints the OP-TEE "
                    "syscall table.")
    parser.add_argument("action", choices=("run", "syscalls"))
    parser.add_argument("ta", nargs="?", metavar="TA.elf")
    parser.add_argument("commands", nargs="?", metavar="COMMANDS.json")
    parser.add_argument("--ldelf", metavar="LDELF", help="load the TA with this ldelf binary")
    parser.add_argument("--with", dest="others", action="append", default=[], metavar="OTHER.elf",
                        help="another TA the first may open sessions on (repeatable)")
    parser.add_argument("--storage", metavar="DIR", help="where persistent objects are kept (default: in the "
                                                         "user's state directory)")
    parser.add_argument("--secret", metavar="FILE", help="the host-held secret storage keys derive from "
                                                         "(default: in the user's state directory, made if absent)")
    parser.add_argument("--strace", nargs="?", const="-", metavar="FILE",
                        help="print every utee/ldelf call with its arguments and result (to stderr, or FILE)")
    parser.add_argument("--debug", action="store_true", help="log what the TEE does")
    return parser


def main(argv: list[str]) -> int:
    """`slimbox optee run|syscalls`."""
    import json
    import sys

    args = _parser().parse_intermixed_args(argv)
    if args.action == "syscalls":
        from slimbox.shims.optee.table import markdown

        sys.stdout.write(markdown())
        return 0
    from slimbox.kernel.log import DEBUG, INFO, StderrLog
    from slimbox.platforms.base import PlatformUnavailable

    if not args.ta or not args.commands:
        print("slimbox: usage: slimbox optee run TA.elf [--ldelf LDELF] COMMANDS.json", file=sys.stderr)
        return 2
    log = StderrLog(DEBUG if args.debug else INFO)
    try:
        with open(args.commands) as f:
            steps = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"slimbox: cannot read {args.commands}: {exc}", file=sys.stderr)
        return 2
    strace = None
    try:
        if args.strace:
            strace = sys.stderr if args.strace == "-" else open(args.strace, "w")  # noqa: SIM115
        with TeeContext([args.ta, *args.others], storage_dir=args.storage, secret_file=args.secret, log=log,
                        ldelf=args.ldelf, strace=strace) as tee:
            records = run_steps(tee, tee.uuids[0], steps)
    except (StepError, TeeClientError, ValueError, OSError, PlatformUnavailable) as exc:
        if isinstance(exc, StepError) and exc.records:
            print(json.dumps(exc.records, indent=2))  # what the steps before it gave
        print(f"slimbox: {exc}", file=sys.stderr)
        return 2
    finally:
        if strace is not None and strace is not sys.stderr:
            strace.close()
    print(json.dumps(records, indent=2))
    return 0 if all(r["code"] == 0 for r in records) else 1
