"""Checks of the x86-64 syscall table against the kernel headers and itself."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

from slimbox.abi import flags, syscalls
from slimbox.abi.syscalls import BY_NAME, BY_NUMBER, SYSCALLS, Param, SyscallSpec, name_of

UNISTD_64 = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")


def _header_numbers() -> dict[str, int]:
    if not UNISTD_64.exists():
        pytest.skip(f"{UNISTD_64} is not installed")
    text = UNISTD_64.read_text()
    return {m[1]: int(m[2]) for m in re.finditer(r"#define\s+__NR_(\w+)\s+(\d+)", text)}


def test_numbers_match_installed_header() -> None:
    numbers = _header_numbers()
    assert len(numbers) > 300
    wrong = {
        name: (nr, BY_NAME[name].nr if name in BY_NAME else None)
        for name, nr in numbers.items()
        if name not in BY_NAME or BY_NAME[name].nr != nr
    }
    assert wrong == {}


def test_ordered_by_number_without_duplicates() -> None:
    nrs = [s.nr for s in SYSCALLS]
    assert nrs == sorted(nrs)
    assert len(set(nrs)) == len(nrs)
    assert len({s.name for s in SYSCALLS}) == len(SYSCALLS)


def test_number_ranges() -> None:
    nrs = {s.nr for s in SYSCALLS}
    assert set(range(0, 337)) <= nrs
    assert set(range(424, 470)) <= nrs
    # Unassigned on x86-64 between uprobe (336) and pidfd_send_signal (424).
    assert not nrs & set(range(337, 424))
    # x32-only numbers never belong to the 64-bit table.
    assert not nrs & set(range(512, 548))
    assert len(SYSCALLS) == 337 + 46


@pytest.mark.parametrize(
    ("nr", "name"),
    [
        (0, "read"), (9, "mmap"), (56, "clone"), (59, "execve"), (158, "arch_prctl"),
        (202, "futex"), (231, "exit_group"), (257, "openat"), (262, "newfstatat"),
        (318, "getrandom"), (334, "rseq"), (335, "uretprobe"), (336, "uprobe"),
        (424, "pidfd_send_signal"), (435, "clone3"), (451, "cachestat"),
        (452, "fchmodat2"), (453, "map_shadow_stack"), (454, "futex_wake"),
        (455, "futex_wait"), (456, "futex_requeue"), (457, "statmount"),
        (458, "listmount"), (459, "lsm_get_self_attr"), (460, "lsm_set_self_attr"),
        (461, "lsm_list_modules"), (462, "mseal"), (463, "setxattrat"),
        (464, "getxattrat"), (465, "listxattrat"), (466, "removexattrat"),
        (467, "open_tree_attr"), (468, "file_getattr"), (469, "file_setattr"),
    ],
)
def test_known_numbers(nr: int, name: str) -> None:
    assert BY_NUMBER[nr].name == name
    assert BY_NAME[name].nr == nr


def test_param_types_are_in_vocabulary() -> None:
    bad = []
    for spec in SYSCALLS:
        for p in spec.params:
            kind, sep, set_name = p.type.partition(":")
            if sep:
                ok = kind in syscalls.SET_KINDS and set_name != ""
            else:
                ok = p.type in syscalls.BASE_TYPES
            if not ok:
                bad.append((spec.name, p))
    assert bad == []


def test_every_referenced_set_exists() -> None:
    missing = []
    for spec in SYSCALLS:
        for p in spec.params:
            kind, _, set_name = p.type.partition(":")
            registry = {"flags": flags.FLAG_SETS, "enum": flags.ENUM_SETS}.get(kind)
            if registry is not None and set_name not in registry:
                missing.append((spec.name, p.type))
    assert missing == []


def test_params_are_well_formed() -> None:
    for spec in SYSCALLS:
        assert isinstance(spec, SyscallSpec)
        assert len(spec.params) <= 6, spec.name
        assert spec.ret in syscalls.RETURN_KINDS, spec.name
        names = [p.name for p in spec.params]
        assert len(set(names)) == len(names), spec.name
        assert all(isinstance(p, Param) and p.name.isidentifier() for p in spec.params)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("read", 3), ("write", 3), ("openat", 4), ("execve", 3), ("mmap", 6),
        ("futex", 6), ("clone", 5), ("rt_sigaction", 4), ("rt_sigprocmask", 4),
        ("pselect6", 6), ("ppoll", 5), ("epoll_pwait", 6), ("epoll_pwait2", 6),
        ("rt_sigtimedwait", 4), ("rt_sigsuspend", 2), ("rt_sigpending", 2),
        ("wait4", 4), ("waitid", 5), ("mremap", 5), ("prctl", 5), ("arch_prctl", 2),
        ("statx", 5), ("clone3", 2), ("getpid", 0), ("rt_sigreturn", 0),
        ("fchmodat", 3), ("faccessat", 3), ("faccessat2", 4), ("preadv2", 6),
        ("sendto", 6), ("recvfrom", 6), ("splice", 6), ("setxattrat", 6),
        ("file_getattr", 5), ("futex_wait", 6), ("mseal", 3), ("uretprobe", 0),
    ],
)
def test_argument_counts(name: str, count: int) -> None:
    assert len(BY_NAME[name].params) == count


def test_argument_order_spot_checks() -> None:
    clone = BY_NAME["clone"].params
    assert [p.name for p in clone] == ["flags", "newsp", "parent_tid", "child_tid", "tls"]
    assert clone[0].type == "flags:clone"
    assert [p.type for p in BY_NAME["openat"].params] == [
        "dirfd", "path", "flags:open", "mode",
    ]
    assert [p.type for p in BY_NAME["mmap"].params] == [
        "addr", "size", "flags:prot", "flags:mmap", "fd", "off",
    ]
    assert BY_NAME["rt_sigaction"].params[-1] == Param("sigsetsize", "size")
    assert [p.type for p in BY_NAME["execve"].params] == ["path", "strv", "strv"]
    assert BY_NAME["futex"].params[1].type == "enum:futex"
    assert BY_NAME["write"].params[1:] == (Param("buf", "inbuf"), Param("count", "size"))


def test_inbuf_is_followed_by_a_length() -> None:
    for spec in SYSCALLS:
        for i, p in enumerate(spec.params):
            if p.type == "inbuf":
                assert i + 1 < len(spec.params), spec.name
                assert spec.params[i + 1].type in {"size", "uint"}, spec.name


def test_return_kinds() -> None:
    for name in ("open", "openat", "openat2", "socket", "accept4", "dup", "dup3",
                 "epoll_create1", "eventfd2", "memfd_create", "pidfd_open", "creat"):
        assert BY_NAME[name].ret == "fd", name
    for name in ("mmap", "brk", "mremap", "shmat"):
        assert BY_NAME[name].ret == "addr", name
    for name in ("fork", "vfork", "clone", "clone3", "getpid", "gettid", "getppid"):
        assert BY_NAME[name].ret == "pid", name
    assert BY_NAME["read"].ret == "long"


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        BY_NUMBER[9999] = SYSCALLS[0]  # type: ignore[index]
    with pytest.raises(TypeError):
        BY_NAME["x"] = SYSCALLS[0]  # type: ignore[index]
    assert isinstance(SYSCALLS, tuple)
    assert len(BY_NUMBER) == len(BY_NAME) == len(SYSCALLS)


def test_name_of() -> None:
    assert name_of(0) == "read"
    assert name_of(469) == "file_setattr"
    assert name_of(400) == "syscall_400"
    assert name_of(100000) == "syscall_100000"
    assert name_of(-1) == "syscall_-1"


@pytest.mark.parametrize("module_name", ["syscalls", "errno", "flags"])
def test_module_is_pure_data(module_name: str) -> None:
    module = importlib.import_module(f"slimbox.abi.{module_name}")
    tree = ast.parse(Path(module.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").startswith("slimbox.abi"):
                continue
            roots = [(node.module or "").split(".")[0]]
        else:
            continue
        assert all(r in sys.stdlib_module_names or r == "__future__" for r in roots), roots
    mutable = [k for k, v in vars(module).items()
               if not k.startswith("__") and isinstance(v, (dict, list, set, bytearray))]
    assert mutable == []
