"""The argument strategy both syscall fuzzers share: how a syscall number is picked and
what goes in each argument register, by the parameter's type in the ABI table.

The fake-platform fuzzer (fake.py) draws from these tables in Python; the real-platform
guest (real/fuzz.c) gets them as a generated C header (`c_header`), so both fuzz the
same shapes: interesting integers, flag bits of the right set, descriptors that are
open, closed or invalid, process ids, and pointers into mapped memory, at the edge of a
mapping, into a guard page, a read-only page, a hole, kernel space and NULL.
"""

from __future__ import annotations

from slimbox.abi.flags import ENUM_SETS, FLAG_SETS
from slimbox.abi.syscalls import SYSCALLS

MASK64 = (1 << 64) - 1
PAGE = 4096
#: highest user address + 1 (x86-64, 4-level paging)
TASK_SIZE = 0x7FFFFFFFF000

# Parameter kinds (the ABI's types folded into what the strategy tells apart); the C
# header uses the same numbers.
K_INT, K_SIZE, K_FD, K_DIRFD, K_PID, K_ID, K_MODE, K_DEV = 0, 1, 2, 3, 4, 5, 6, 7
K_PATH, K_STRV, K_INBUF, K_OUTBUF, K_PTR, K_ADDR, K_FLAGS, K_ENUM = 8, 9, 10, 11, 12, 13, 14, 15
KIND_NAMES = ("int", "size", "fd", "dirfd", "pid", "id", "mode", "dev",
              "path", "strv", "inbuf", "outbuf", "ptr", "addr", "flags", "enum")

_KIND_OF_TYPE = {
    "int": K_INT, "uint": K_INT, "long": K_INT, "ulong": K_INT, "ssize": K_INT, "off": K_INT,
    "size": K_SIZE, "fd": K_FD, "dirfd": K_DIRFD, "pid": K_PID, "uid": K_ID, "gid": K_ID,
    "mode": K_MODE, "dev": K_DEV, "path": K_PATH, "str": K_PATH, "strv": K_STRV,
    "inbuf": K_INBUF, "outbuf": K_OUTBUF, "ptr": K_PTR, "addr": K_ADDR,
}


def _u64(value: int) -> int:
    return value & MASK64


#: integers a kernel trips over: edges of every width, signs, page sizes, the limits the
#: sandbox enforces (16 MiB transfers, 1 TiB files), and -errno-looking values
INTERESTING_INTS: tuple[int, ...] = tuple(_u64(v) for v in (
    0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 255, 256, 511, 512, 1000,
    1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 65535, 65536, 1 << 20, (16 << 20) - 1, 16 << 20,
    (16 << 20) + 1, (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, 1 << 40, (1 << 40) + 1,
    (1 << 47) - 1, 1 << 47, TASK_SIZE, (1 << 62), (1 << 63) - 1, 1 << 63, (1 << 63) + 1, MASK64,
    -1, -2, -4095, -4096, -100, -(1 << 31), -(1 << 31) - 1, -(1 << 63), 0x8000_0000_0000_0001,
    0xFFFF_8000_0000_0000, 0xFFFF_FFFF_FF60_0000, 0xDEAD_BEEF, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA,
))

#: lengths, biased towards small ones and page edges, plus the absurd
INTERESTING_SIZES: tuple[int, ...] = tuple(_u64(v) for v in (
    0, 0, 1, 1, 2, 3, 4, 7, 8, 12, 16, 24, 28, 32, 40, 48, 64, 80, 100, 128, 144, 256, 511, 512, 1000,
    1024, 4095, 4096, 4096, 4097, 8191, 8192, 12288, 32768, 65536, 1 << 20, 16 << 20, (16 << 20) + 1,
    (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32, 1 << 40, (1 << 63) - 1, 1 << 63, MASK64, -4095, -4096,
))

#: descriptor numbers besides the ones a process has open
INTERESTING_FDS: tuple[int, ...] = tuple(_u64(v) for v in (
    -1, -1, 0, 1, 2, 3, 4, 9, 63, 64, 255, 1023, 1024, 4095, 65535, 1 << 20, (1 << 31) - 1, -(1 << 31),
    -2, -100, (1 << 32) - 1, (1 << 32) + 3, 1 << 63,
))

INTERESTING_PIDS: tuple[int, ...] = tuple(_u64(v) for v in (
    0, 0, -1, -1, 1, 2, 3, 4, 100, 4194304, (1 << 31) - 1, -(1 << 31), -2, -3, (1 << 32) - 1, (1 << 32) + 1,
))

INTERESTING_IDS: tuple[int, ...] = tuple(_u64(v) for v in (
    0, 0, 1, 2, 100, 1000, 65534, 65535, 65536, -1, -1, -2, (1 << 31) - 1, 1 << 31, (1 << 32) - 2,
    (1 << 32) - 1, 1 << 32,
))

INTERESTING_MODES: tuple[int, ...] = tuple(_u64(v) for v in (
    0, 0o644, 0o755, 0o777, 0o7777, 0o4755, 0o2755, 0o1777, 0o600, 0o000, 0o100644, 0o040755, 0o010644,
    0o020666, 0o060660, 0o140777, 0o120777, 0o170000, 0xFFFF, 0xFFFF_FFFF, -1,
))

INTERESTING_DEVS: tuple[int, ...] = tuple(_u64(v) for v in (
    0, (1 << 8) | 3, (1 << 8) | 5, (1 << 8) | 7, (1 << 8) | 8, (1 << 8) | 9, (5 << 8) | 0, (5 << 8) | 1,
    (4 << 8) | 1, (136 << 8), 0xFFFF_FFFF, MASK64,
))

#: syscall numbers outside the table: unused, x32, far out of range
OUT_OF_RANGE_NRS: tuple[int, ...] = tuple(_u64(v) for v in (
    337, 380, 423, 470, 471, 500, 511, 512, 547, 548, 1000, 4096, 0xFFFF, 1 << 31, (1 << 32) - 1,
    (1 << 32) + 39, 1 << 63, MASK64, -2,
))

#: strings the path arguments point to
PATHS: tuple[bytes, ...] = (
    b"/tmp/f", b"/tmp/d", b"/tmp/new", b"/tmp/d/x", b".", b"..", b"", b"/", b"/proc/self/maps",
    b"/proc/self/fd/3", b"/proc/self/status", b"/proc/1/stat", b"/dev/null", b"/dev/zero", b"/dev/full",
    b"/dev/urandom", b"/dev/tty", b"/tmp/link", b"/tmp/loop", b"/tmp/fifo", b"/tmp/prog", b"/etc/passwd",
    b"/tmp/../tmp//f/", b"/proc/self/exe", b"/proc/self/cwd/f", b"tmp", b"f", b"/proc", b"/proc/self/task",
    b"\xff\xfe", b"/tmp/" + b"a" * 255, b"/tmp/" + b"b" * 256, b"/" + b"x/" * 600,
)

#: syscalls that end or replace the calling process (or thread): picked rarely, since
#: each one costs a fresh process
TERMINAL = frozenset({"exit", "exit_group", "execve", "execveat", "rt_sigreturn"})


def kind_of(type_name: str) -> int:
    if type_name.startswith("flags:"):
        return K_FLAGS
    if type_name.startswith("enum:"):
        return K_ENUM
    return _KIND_OF_TYPE[type_name]


def set_of(type_name: str) -> str:
    return type_name.split(":", 1)[1] if ":" in type_name else ""


def flag_bits(set_name: str) -> tuple[int, ...]:
    """The distinct single bits (and multi-bit members) of a flag set."""
    return tuple(sorted({int(m) & 0xFFFF_FFFF for m in FLAG_SETS[set_name].__members__.values() if int(m)}))


def enum_values(set_name: str) -> tuple[int, ...]:
    if set_name == "signal":
        return tuple(range(0, 66))
    return tuple(sorted({int(m) for m in ENUM_SETS[set_name].__members__.values()}))


def syscall_params() -> dict[int, tuple[tuple[int, str], ...]]:
    """nr -> ((kind, set name), ...) for every syscall in the ABI table."""
    return {spec.nr: tuple((kind_of(p.type), set_of(p.type)) for p in spec.params) for spec in SYSCALLS}


def c_header(implemented: tuple[int, ...] = ()) -> str:
    """The strategy's tables as C, for the real-platform guest; `implemented` lists the
    syscall numbers the sandbox has a handler for (picked most of the time)."""
    flag_sets = sorted(FLAG_SETS)
    enum_sets = sorted(set(ENUM_SETS) | {"signal"})
    lines = ["/* generated by tests/fuzz/strategy.py: do not edit */", "#include <stdint.h>", ""]

    def array(name: str, values, ctype: str = "uint64_t") -> None:
        body = ", ".join(f"{v:#x}u" if ctype.startswith("uint") else str(v) for v in values) or "0"
        lines.append(f"static const {ctype} {name}[] = {{{body}}};")

    for name, values in (("INTERESTING_INTS", INTERESTING_INTS), ("INTERESTING_SIZES", INTERESTING_SIZES),
                         ("INTERESTING_FDS", INTERESTING_FDS), ("INTERESTING_PIDS", INTERESTING_PIDS),
                         ("INTERESTING_IDS", INTERESTING_IDS), ("INTERESTING_MODES", INTERESTING_MODES),
                         ("INTERESTING_DEVS", INTERESTING_DEVS), ("OUT_OF_RANGE_NRS", OUT_OF_RANGE_NRS)):
        array(name, values)
    lines.append("struct value_set { const uint64_t *values; int count; };")
    for index, name in enumerate(flag_sets):
        array(f"FLAGSET_{index}", flag_bits(name))
    for index, name in enumerate(enum_sets):
        array(f"ENUMSET_{index}", (_u64(v) for v in enum_values(name)))
    lines.append("static const struct value_set FLAG_SETS[] = {"
                 + ", ".join(f"{{FLAGSET_{i}, sizeof FLAGSET_{i} / 8}}" for i in range(len(flag_sets))) + "};")
    lines.append("static const struct value_set ENUM_SETS[] = {"
                 + ", ".join(f"{{ENUMSET_{i}, sizeof ENUMSET_{i} / 8}}" for i in range(len(enum_sets))) + "};")
    lines.append("")
    lines.append("/* per syscall: how many parameters, then (kind, set index) for each */")
    lines.append("struct syscall_shape { const char *name; int nparams; unsigned char kind[6]; "
                 "unsigned char set[6]; };")
    params = syscall_params()
    names = {spec.nr: spec.name for spec in SYSCALLS}
    top = max(params) + 1
    lines.append(f"#define NR_TOP {top}")
    lines.append("static const struct syscall_shape SHAPES[NR_TOP] = {")
    for nr in range(top):
        if nr not in params:
            lines.append("    {0, -1, {0}, {0}},")
            continue
        kinds = [k for k, _ in params[nr]]
        sets = [flag_sets.index(s) if k == K_FLAGS else enum_sets.index(s) if k == K_ENUM else 0
                for k, s in params[nr]]
        lines.append(f'    {{"{names[nr]}", {len(kinds)}, {{{", ".join(map(str, kinds)) or "0"}}}, '
                     f'{{{", ".join(map(str, sets)) or "0"}}}}},')
    lines.append("};")
    lines.append("static const char *const PATHS[] = {"
                 + ", ".join('"' + "".join(f"\\x{b:02x}" for b in p) + '"' for p in PATHS) + "};")
    lines.append(f"#define PATH_COUNT {len(PATHS)}")
    lines.append("static const int IMPLEMENTED[] = {" + ", ".join(map(str, implemented or sorted(params))) + "};")
    lines.append("#define IMPLEMENTED_COUNT ((int)(sizeof IMPLEMENTED / sizeof IMPLEMENTED[0]))")
    for index, name in enumerate(KIND_NAMES):
        lines.append(f"#define K_{name.upper()} {index}")
    return "\n".join(lines) + "\n"
