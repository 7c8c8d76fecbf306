"""slimbox: a library OS in Python that runs unmodified Linux x86-64 programs while the
host kernel serves none of their system calls.

    import slimbox
    result = slimbox.run(["/bin/busybox", "echo", "hello"], capture_output=True)

    with slimbox.Sandbox() as box:
        box.os.write_file("/tmp/in.txt", b"data")
        box.run(["/bin/sh", "-c", "wc -c < /tmp/in.txt"])
"""

__all__ = ["ExecError", "InternalError", "Limits", "Sandbox", "SandboxResult", "run"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The API is imported on first use, not with the package: `slimbox run` (slimbox.cli)
    # pauses the cyclic collector before importing the sandbox, and SandboxResult (a
    # subprocess.CompletedProcess) brings subprocess, which the command never needs.
    if name == "SandboxResult":
        from slimbox._result import SandboxResult

        return SandboxResult
    if name in __all__:
        from slimbox import sandbox

        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
