"""The kernel's default log: `logging.getLogger("slimbox")`, looked up on first use.

Most runs log nothing, and importing `logging` (with `re`, `traceback`, `threading`...)
is a sizeable share of start-up; so the kernel holds this stand-in, which imports the
package only when a message is logged.
"""

from __future__ import annotations

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
