"""Run one sandbox with the supervisor locked down: REQUEST.json in, RESULT.json out.

Used by the host-syscall audit (see TRACE_ENV in conftest.py), which runs this under
strace so that the whole life of a locked-down supervisor is on record.
"""

import base64
import json
import sys

import slimbox


def main(request_path: str, result_path: str) -> None:
    with open(request_path) as f:
        request = json.load(f)
    stdin = None if request["input"] is None else base64.b64decode(request["input"])
    result = slimbox.run(request["argv"], env=request["env"], input=stdin, capture_output=True,
                         mounts=request["mounts"], cwd=request["cwd"], timeout=request["timeout"], lockdown=True)
    with open(result_path, "w") as f:
        json.dump({"returncode": result.returncode, "stdout": base64.b64encode(result.stdout).decode(),
                   "stderr": base64.b64encode(result.stderr).decode()}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
