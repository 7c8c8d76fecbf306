"""The dependency rules of the architecture, checked on the source itself.

abi imports nothing of ours; kernel imports abi and platforms.base only; shims import
abi and kernel; platforms import abi, platforms.base and their own package (kvm also the
Linux platform's lock-down builder and stream watches); only the
runner (sandbox, cli and their private helpers) puts a shim and a platform together.
ctypes is used only under platforms/.
"""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "slimbox"


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "slimbox" or len(parts) == 1:
        return "other" if parts[0] != "slimbox" else "runner"
    if parts[1] == "platforms":
        if len(parts) > 2 and parts[2] == "base":
            return "platforms.base"
        return "platforms." + (parts[2] if len(parts) > 2 else "")
    return parts[1] if parts[1] in ("abi", "kernel", "shims") else "runner"


ALLOWED = {
    "abi": {"abi"},
    "kernel": {"abi", "kernel", "platforms.base"},
    "shims": {"abi", "kernel", "shims", "platforms.base"},
    "platforms.base": {"abi", "platforms.base"},
}


#: the crossings between platforms: the KVM platform supervises from a Linux host too, so
#: its supervisor's seccomp filter and its watches of host streams are the Linux platform's
SHARED_PLATFORM_MODULES = {"platforms.kvm": ("slimbox.platforms.linux.lockdown", "slimbox.platforms.linux.watches")}


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, path


@pytest.mark.parametrize("name,path", list(_modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_follow_the_layers(name, path):
    layer = _layer(name)
    for imported in _imports(path):
        if not imported.startswith("slimbox"):
            if imported.split(".")[0] == "ctypes":
                assert layer.startswith("platforms."), f"{name} uses ctypes outside platforms/"
            continue
        target = _layer(imported)
        if layer in ALLOWED:
            assert target in ALLOWED[layer], f"{name} ({layer}) must not import {imported} ({target})"
        elif layer.startswith("platforms."):
            assert target in ("abi", "platforms.base", layer) \
                or imported in SHARED_PLATFORM_MODULES.get(layer, ()), f"{name} must not import {imported}"


def test_the_kernel_does_no_host_io():
    forbidden = {"os", "ctypes", "socket", "subprocess", "select", "fcntl", "termios", "mmap", "signal"}
    for path in sorted((SRC / "kernel").rglob("*.py")):
        bad = {m.split(".")[0] for m in _imports(path)} & forbidden
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"
