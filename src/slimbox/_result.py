"""What `Sandbox.run` returns: a subprocess.CompletedProcess with what the sandbox knows
about the ending. A module of its own so that subprocess (with locale, re, selectors and
threading) is imported only by callers of `Sandbox.run`, not by `slimbox run`."""

from __future__ import annotations

import subprocess

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Sequence


class SandboxResult(subprocess.CompletedProcess):
    """subprocess.CompletedProcess plus what the sandbox knows about the ending."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: bytes | None = None,
                 stderr: bytes | None = None, signal: int = 0, description: str = "",
                 unsupported: frozenset[str] = frozenset(), syscalls: int = 0) -> None:
        super().__init__(args, returncode, stdout, stderr)
        #: the signal that ended the program, or 0
        self.signal = signal
        #: why the program ended, when the sandbox ended it (e.g. a refused int 0x80)
        self.description = description
        #: syscalls the program made that the sandbox does not support (each logged once)
        self.unsupported = unsupported
        self.syscalls = syscalls

    def _fields(self) -> tuple:
        return (self.args, self.returncode, self.stdout, self.stderr, self.signal, self.description,
                self.unsupported, self.syscalls)

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # mutable, like the CompletedProcess it extends

    def __repr__(self) -> str:
        return (f"SandboxResult(args={self.args!r}, returncode={self.returncode!r}, stdout={self.stdout!r}, "
                f"stderr={self.stderr!r}, signal={self.signal!r}, description={self.description!r}, "
                f"unsupported={self.unsupported!r}, syscalls={self.syscalls!r})")
