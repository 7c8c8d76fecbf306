"""The `slimbox` command's launcher, as `make venv` writes it over pip's.

pip's console script imports `re` (for its own argv[0] clean-up) and runs on an
interpreter that starts the `site` module, which reads the environment's .pth files
(setuptools adds a hook that imports `_distutils_hack`) and looks for sitecustomize and
usercustomize: together 5-7 ms of every `slimbox run`, about a tenth of a hello-world
run. This launcher starts the interpreter with -S (no site) and puts on the module path
what site would have put there: the environment's site-packages and the directory the
package is imported from (an editable install's source tree, which site finds through
a .pth file).

    python -m slimbox._launcher PATH    writes the launcher to PATH (mode 0755)
"""

from __future__ import annotations

import os
import sys
import sysconfig


def module_paths() -> list[str]:
    """The directories the command needs on the module path besides the standard library's:
    site-packages (the dependencies) and the directory holding this package, in the
    order site would add them."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = []
    for path in (sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), package_parent):
        if path not in paths:
            paths.append(path)
    return paths


def script(python: str, paths: list[str]) -> str:
    """The launcher's text: `python` run with -S, `paths` appended to the module path."""
    return (f"#!{python} -S\n"
            "# slimbox's command, written by `make venv` (python -m slimbox._launcher): the interpreter\n"
            "# starts without the site module; the directories it would add are given here.\n"
            "import sys\n"
            f"sys.path.extend(p for p in {paths!r} if p not in sys.path)\n"
            "from slimbox.cli import main\n"
            "sys.exit(main())\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m slimbox._launcher PATH", file=sys.stderr)
        return 2
    target = argv[0]
    temporary = target + ".new"
    with open(temporary, "w") as f:
        f.write(script(sys.executable, module_paths()))
    os.chmod(temporary, 0o755)
    os.replace(temporary, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
