"""The kernel's default log: `logging.getLogger("slimbox")`, looked up on first use.

Most runs log nothing, and importing `logging` (with `re`, `traceback`, `threading`...)
is a sizeable share of start-up; so the kernel holds this stand-in, which imports the
package only when a message is logged.
"""

from __future__ import annotations

import sys

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40


class DeferredLogger:
    """The debug/info/warning/error methods of the logging.Logger named `name`, which
    is looked up (importing logging) when the first message comes."""

    __slots__ = ("name", "_logger")

    def __init__(self, name: str = "slimbox") -> None:
        self.name = name
        self._logger = None

    def logger(self):
        """The logging.Logger itself (importing logging now)."""
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self.name)
        return self._logger

    def debug(self, msg: str, *args, **kwargs) -> None:
        self.logger().log(DEBUG, msg, *args, **kwargs)

    def info(self, msg: str, *args, **kwargs) -> None:
        self.logger().log(INFO, msg, *args, **kwargs)

    def warning(self, msg: str, *args, **kwargs) -> None:
        self.logger().log(WARNING, msg, *args, **kwargs)

    def error(self, msg: str, *args, **kwargs) -> None:
        self.logger().log(ERROR, msg, *args, **kwargs)


class StderrLog:
    """The log as the commands print it: "slimbox: MESSAGE" lines on standard error from
    `level` up (the levels of `logging`), without importing logging."""

    def __init__(self, level: int) -> None:
        self.level = level

    def debug(self, msg: str, *args, exc_info: bool = False) -> None:
        self._log(DEBUG, msg, args, exc_info)

    def info(self, msg: str, *args, exc_info: bool = False) -> None:
        self._log(INFO, msg, args, exc_info)

    def warning(self, msg: str, *args, exc_info: bool = False) -> None:
        self._log(WARNING, msg, args, exc_info)

    def error(self, msg: str, *args, exc_info: bool = False) -> None:
        self._log(ERROR, msg, args, exc_info)

    def _log(self, level: int, msg: str, args: tuple, exc_info: bool) -> None:
        if level < self.level:
            return
        text = f"slimbox: {msg % args if args else msg}\n"
        if exc_info:
            import traceback

            text += traceback.format_exc()
        sys.stderr.write(text)
