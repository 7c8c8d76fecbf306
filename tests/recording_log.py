"""A stand-in for the sandbox's logger that keeps the lines, for tests of what is logged."""


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _keep(self, msg, *args, **kwargs) -> None:
        self.lines.append(msg % args if args else msg)

    debug = info = warning = error = _keep
