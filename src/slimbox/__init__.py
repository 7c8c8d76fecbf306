"""slimbox: a library OS in Python that runs unmodified Linux x86-64 programs while the
host kernel serves none of their system calls.

    import slimbox
    result = slimbox.run(["/bin/busybox", "echo", "hello"], capture_output=True)

    with slimbox.Sandbox() as box:
        box.os.write_file("/tmp/in.txt", b"data")
        box.run(["/bin/sh", "-c", "wc -c < /tmp/in.txt"])
"""

from slimbox.sandbox import ExecError, InternalError, Limits, Sandbox, run


def __getattr__(name: str):
    # SandboxResult (a subprocess.CompletedProcess) and subprocess are imported on first use
    if name == "SandboxResult":
        from slimbox._result import SandboxResult

        return SandboxResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ExecError", "InternalError", "Limits", "Sandbox", "SandboxResult", "run"]
__version__ = "0.1.0"
