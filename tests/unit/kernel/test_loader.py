"""kernel/loader.py and kernel/exec.py: ELF validation of crafted headers, #! lines,
mapping segments, the initial stack, and execve's checks before the point of no return."""

from __future__ import annotations

import struct

import pytest

from guest import (
    ET_DYN, ET_EXEC, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, FakeGuest, elf_executable, elf_image,
)
from slimbox.abi.errno import Errno
from slimbox.kernel import exec as kexec
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.file import O_RDONLY
from slimbox.kernel.loader import (
    AT_EXECFN, AT_NULL, AT_PAGESZ, AT_PLATFORM, AT_RANDOM, StackSpec, build_stack, map_elf, parse_elf,
    parse_shebang, phdr_address,
)
from slimbox.kernel.mm import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, MemoryManager
from slimbox.platforms.fake import FakeAddressSpace

BASE = 0x400000


def parse(image: bytes):
    return parse_elf(image[:256], lambda offset, n: image[offset:offset + n])


def enoexec(image: bytes) -> bool:
    with pytest.raises(LinuxError) as info:
        parse(image)
    return info.value.errno == Errno.ENOEXEC


def text(filesz: int = 0x1001, memsz: int | None = None, offset: int = 0, vaddr: int = BASE):
    return (PT_LOAD, PF_R | PF_X, offset, vaddr, filesz, filesz if memsz is None else memsz)


# --- parse_elf --------------------------------------------------------------------------------


def test_a_valid_static_executable():
    image = parse(elf_executable(b"\x90\xcc", bss=100, data=b"d"))
    assert image.type == ET_EXEC and image.entry == BASE + 0x1000 and image.interp is None
    assert [(h.vaddr, h.filesz, h.memsz) for h in image.loads()] == [(BASE, 0x1002, 0x1002),
                                                                      (BASE + 0x2000, 1, 101)]


def test_interpreter_is_read_from_pt_interp():
    image = parse(elf_executable(e_type=ET_DYN, base=0, interp=b"/lib/ld-musl-x86_64.so.1"))
    assert image.type == ET_DYN and image.interp == b"/lib/ld-musl-x86_64.so.1"


@pytest.mark.parametrize("image", [
    pytest.param(b"", id="empty"),
    pytest.param(b"#!/bin/sh\n" + bytes(100), id="script"),
    pytest.param(b"\x7fELF", id="truncated-header"),
    pytest.param(b"MZ" + bytes(200), id="not-elf"),
    pytest.param(elf_image([text()], ei_class=1), id="32-bit"),
    pytest.param(elf_image([text()], ei_data=2), id="big-endian"),
    pytest.param(elf_image([text()], machine=3), id="i386"),
    pytest.param(elf_image([text()], machine=183), id="aarch64"),
    pytest.param(elf_image([text()], e_type=1), id="relocatable"),
    pytest.param(elf_image([text()], e_type=4), id="core"),
    pytest.param(elf_image([text()], phentsize=32), id="wrong-phentsize"),
    pytest.param(elf_image([], phnum=0), id="no-program-headers"),
    pytest.param(elf_image([text()], phnum=0xFFFF), id="phnum-beyond-file"),
    pytest.param(elf_image([text()], phoff=1 << 40), id="phoff-beyond-file"),
    pytest.param(elf_image([(PT_INTERP, PF_R, 0x100, 0x100, 8, 8)], {0x100: b"/lib/ld\0"}), id="no-pt-load"),
    pytest.param(elf_image([text(filesz=0x2000, memsz=0x1000)]), id="filesz>memsz"),
    pytest.param(elf_image([text(offset=0x10, vaddr=BASE)]), id="offset-vaddr-misaligned"),
    pytest.param(elf_image([(PT_INTERP, PF_R, 0x100, 0x100, 8, 8), text()], {0x100: b"/lib/ld-"}),
                 id="interp-without-nul"),
    pytest.param(elf_image([(PT_INTERP, PF_R, 0x100, 0x100, 8, 8), text()], {0x100: b"/li\0/ld\0"}),
                 id="interp-with-inner-nul"),
    pytest.param(elf_image([(PT_INTERP, PF_R, 0x100, 0x100, 1, 1), text()], {0x100: b"\0"}), id="empty-interp"),
    pytest.param(elf_image([(PT_INTERP, PF_R, 0x100, 0x100, 1 << 20, 1 << 20), text()], {0x100: b"/x\0"}),
                 id="huge-interp"),
    pytest.param(elf_image([(PT_INTERP, PF_R, 1 << 40, 0, 8, 8), text()]), id="interp-beyond-file"),
    pytest.param(elf_image([(PT_INTERP, PF_R, 0x100, 0x100, 4, 4), (PT_INTERP, PF_R, 0x100, 0x100, 4, 4), text()],
                           {0x100: b"/ld\0"}), id="two-interps"),
])
def test_crafted_headers_are_enoexec(image):
    assert enoexec(image)


def test_phdr_address_is_found_through_the_load_covering_the_table():
    image = parse(elf_executable())
    assert phdr_address(image, 0) == BASE + 64
    assert phdr_address(image, 0x1000_0000) == 0x1000_0000 + BASE + 64


# --- #! lines ------------------------------------------------------------------------------------


@pytest.mark.parametrize("line, expected", [
    (b"#!/bin/sh", (b"/bin/sh", None)),
    (b"#!/bin/sh\n", (b"/bin/sh", None)),
    (b"#! /bin/sh\necho hi\n", (b"/bin/sh", None)),
    (b"#!/usr/bin/env python3 -u\n", (b"/usr/bin/env", b"python3 -u")),  # one argument, spaces kept
    (b"#!  \t/bin/echo   x y  \n", (b"/bin/echo", b"x y")),
    (b"#!/bin/sh \t \n", (b"/bin/sh", None)),
])
def test_shebang_lines_split_like_linux(line, expected):
    assert parse_shebang(line) == expected


@pytest.mark.parametrize("line", [b"#!", b"#!\n/bin/sh\n", b"#!   \t  \n"])
def test_shebang_without_an_interpreter_is_enoexec(line):
    with pytest.raises(LinuxError) as info:
        parse_shebang(line)
    assert info.value.errno == Errno.ENOEXEC


def test_shebang_keeps_tabs_inside_the_argument():
    assert parse_shebang(b"#!/bin/echo a\tb  \n") == (b"/bin/echo", b"a\tb")


def test_shebang_with_a_truncated_interpreter_is_enoexec():
    with pytest.raises(LinuxError) as info:
        parse_shebang(b"#!/" + b"a" * 300 + b"\n")
    assert info.value.errno == Errno.ENOEXEC


def test_shebang_argument_is_cut_at_the_linux_limit():
    interp, argument = parse_shebang(b"#!/bin/echo " + b"x" * 400 + b"\n")
    assert interp == b"/bin/echo" and argument == b"x" * 243  # 12 + 243 = 255 bytes, as Linux passes it


# --- mapping and the stack --------------------------------------------------------------------------


def guest_file(g: FakeGuest, data: bytes):
    g.write_file(b"/bin/prog", data, 0o755)
    node = g.node(b"/bin/prog")
    file = node.inode.open(O_RDONLY)
    file.path = node
    return file


def test_segments_are_mapped_with_their_protections_and_bss_is_zeroed():
    g = FakeGuest()
    # the data segment's file bytes run on past filesz: the loader must not show them
    image = elf_image([text(filesz=0x1004), (PT_LOAD, PF_R | PF_W, 0x2000, BASE + 0x2000, 4, 0x3000)],
                      {0x1000: b"\x0f\x05\xeb\xfe", 0x2000: b"DATAjunk-after-filesz"})
    mm = g.task.mm
    bias = map_elf(mm, guest_file(g, image), parse(image), None)
    assert bias == 0
    assert mm.read(BASE + 0x1000, 4) == b"\x0f\x05\xeb\xfe"
    assert mm.read(BASE, 4) == b"\x7fELF"
    assert mm.read(BASE + 0x2000, 4) == b"DATA"
    assert mm.read(BASE + 0x2004, 0x3000 - 4) == bytes(0x3000 - 4)  # bss, in the file's page and beyond
    assert mm.find(BASE).prot == PROT_READ | PROT_EXEC
    assert mm.find(BASE + 0x2000).prot == PROT_READ | PROT_WRITE
    assert mm.find(BASE + 0x4000).prot == PROT_READ | PROT_WRITE
    assert mm.find(BASE + 0x5000) is None


def test_position_independent_images_get_a_bias():
    g = FakeGuest()
    mm = g.task.mm
    image = elf_executable(b"\xcc", base=0, e_type=ET_DYN)
    file = guest_file(g, image)
    bias = map_elf(mm, file, parse(image), 0x5555_5555_4000)
    assert bias == 0x5555_5555_4000
    assert mm.read(bias + 0x1000, 1) == b"\xcc"
    assert mm.find(bias).name == b"/bin/prog"
    other = map_elf(mm, file, parse(image), 0x5555_5555_4000)  # the hint is taken now
    assert other != bias and mm.read(other + 0x1000, 1) == b"\xcc"


def test_initial_stack_layout():
    mm = MemoryManager(FakeAddressSpace())
    top = 0x7FFF_0000_0000
    mm.map_fixed_anonymous(top - 16 * PAGE, 16 * PAGE, PROT_READ | PROT_WRITE)
    spec = StackSpec([b"prog", b"-x"], [b"A=1"], b"/bin/prog", [(AT_PAGESZ, PAGE)], b"R" * 16)
    sp, auxv = build_stack(mm, top, spec)
    assert sp % 16 == 0 and top - 16 * PAGE < sp < top

    def word(index: int) -> int:
        return struct.unpack("<Q", mm.read(sp + 8 * index, 8))[0]

    assert word(0) == 2
    assert mm.read_cstring(word(1), 100) == b"prog" and mm.read_cstring(word(2), 100) == b"-x"
    assert word(3) == 0
    assert mm.read_cstring(word(4), 100) == b"A=1" and word(5) == 0
    pairs = {}
    index = 6
    while True:
        key, value = word(index), word(index + 1)
        index += 2
        if key == AT_NULL:
            break
        pairs[key] = value
    assert pairs[AT_PAGESZ] == PAGE
    assert mm.read(pairs[AT_RANDOM], 16) == b"R" * 16
    assert mm.read_cstring(pairs[AT_EXECFN], 100) == b"/bin/prog"
    assert mm.read_cstring(pairs[AT_PLATFORM], 100) == b"x86_64"
    assert dict(auxv[:-1]) == pairs
    assert mm.read(mm.arg_start, mm.arg_end - mm.arg_start) == b"prog\0-x\0"
    assert mm.read(mm.env_start, mm.env_end - mm.env_start) == b"A=1\0"


# --- execve (kernel/exec.py) --------------------------------------------------------------------------


def errno_of_exec(g: FakeGuest, path: bytes, argv=(b"prog",), envp=()) -> int | None:
    try:
        kexec.execve(g.task, g.process.fs.cwd, path, list(argv), list(envp))
    except LinuxError as exc:
        return exc.errno
    return None


def test_execve_loads_the_program_and_points_the_registers_at_it():
    g = FakeGuest()
    g.write_file(b"/bin/prog", elf_executable(b"\x0f\x05"), 0o755)
    result = kexec.execve(g.task, g.process.fs.cwd, b"/bin/prog", [b"prog", b"arg"], [b"K=V"])
    regs = g.context.regs
    assert regs.rip == result.entry == BASE + 0x1000
    assert regs.rsp == result.stack_pointer and regs.rsp % 16 == 0
    assert g.task.mm.read(BASE + 0x1000, 2) == b"\x0f\x05"
    assert g.u64(regs.rsp) == 2
    assert g.process.comm == b"prog" and g.process.exe.full_path() == b"/bin/prog"
    assert g.task.mm.find(0x2000_0000) is None  # the old address space is gone


def test_scripts_run_their_interpreter_with_the_script_path():
    g = FakeGuest()
    g.write_file(b"/bin/interp", elf_executable(), 0o755)
    g.write_file(b"/bin/script", b"#!/bin/interp -opt\nbody\n", 0o755)
    result = kexec.execve(g.task, g.process.fs.cwd, b"/bin/script", [b"script", b"one"], [])
    assert result.argv == [b"/bin/interp", b"-opt", b"/bin/script", b"one"]
    assert g.process.exe.full_path() == b"/bin/interp"


def script_chain(g: FakeGuest, depth: int) -> bytes:
    g.write_file(b"/bin/real", elf_executable(), 0o755)
    previous = b"/bin/real"
    for level in range(1, depth + 1):
        path = b"/bin/s%d" % level
        g.write_file(path, b"#!" + previous + b"\n", 0o755)
        previous = path
    return previous


def test_nested_scripts_are_followed():
    g = FakeGuest()
    top = script_chain(g, 4)
    result = kexec.execve(g.task, g.process.fs.cwd, top, [b"s4"], [])
    assert result.argv == [b"/bin/real", b"/bin/s1", b"/bin/s2", b"/bin/s3", b"/bin/s4"]


def test_five_nested_scripts_are_allowed_like_linux():
    g = FakeGuest()
    assert errno_of_exec(g, script_chain(g, 5)) is None


def test_a_script_that_runs_itself_is_eloop():
    g = FakeGuest()
    g.write_file(b"/bin/loop", b"#!/bin/loop\n", 0o755)
    assert errno_of_exec(g, b"/bin/loop") == Errno.ELOOP
    assert g.task.mm.find(0x2000_0000) is not None  # failed before the point of no return


@pytest.mark.parametrize("setup, path, expected", [
    (lambda g: None, b"/bin/missing", Errno.ENOENT),
    (lambda g: g.write_file(b"/bin/prog", elf_executable(), 0o644), b"/bin/prog", Errno.EACCES),
    (lambda g: None, b"/bin", Errno.EACCES),
    (lambda g: g.write_file(b"/bin/prog", b"\x7fELF garbage", 0o755), b"/bin/prog", Errno.ENOEXEC),
    (lambda g: g.write_file(b"/bin/prog", b"", 0o755), b"/bin/prog", Errno.ENOEXEC),
    (lambda g: g.write_file(b"/bin/prog", b"#!/bin/nowhere\n", 0o755), b"/bin/prog", Errno.ENOENT),
    (lambda g: g.write_file(b"/bin/prog", elf_executable(interp=b"/lib/ld.so"), 0o755), b"/bin/prog",
     Errno.ENOENT),
    (lambda g: (g.write_file(b"/lib/ld.so", elf_executable(interp=b"/lib/ld.so"), 0o755),
                g.write_file(b"/bin/prog", elf_executable(interp=b"/lib/ld.so"), 0o755)), b"/bin/prog",
     Errno.ELIBBAD),
    (lambda g: (g.mkdir(b"/lib"), g.write_file(b"/bin/prog", elf_executable(interp=b"/lib"), 0o755)),
     b"/bin/prog", Errno.ELIBBAD),
    (lambda g: g.write_file(b"/bin/prog", elf_executable(), 0o755), b"/bin/prog/", Errno.ENOTDIR),
])
def test_execve_failures_leave_the_process_as_it_was(setup, path, expected):
    g = FakeGuest()
    g.mkdir(b"/lib")
    setup(g)
    g.put(b"canary")
    assert errno_of_exec(g, path) == expected
    assert g.get(0x2000_0000, 6) == b"canary"


def test_execve_argument_limits():
    g = FakeGuest()
    g.write_file(b"/bin/prog", elf_executable(), 0o755)
    assert errno_of_exec(g, b"/bin/prog", [b"x" * (32 * PAGE)]) == Errno.E2BIG  # one string too long
    assert errno_of_exec(g, b"/bin/prog", [b"prog"], [b"y" * (100 * 1024)] * 30) == Errno.E2BIG  # all together
    assert errno_of_exec(g, b"/bin/prog", [b"x" * (32 * PAGE - 1)]) is None


def test_execve_as_a_user_needs_the_execute_bit_for_them():
    g = FakeGuest(uid=1000, gid=1000)
    g.write_file(b"/bin/mine", elf_executable(), 0o700, uid=1000, gid=1000)
    g.write_file(b"/bin/theirs", elf_executable(), 0o700)
    g.write_file(b"/bin/shared", elf_executable(), 0o711)
    assert errno_of_exec(g, b"/bin/theirs") == Errno.EACCES
    assert errno_of_exec(g, b"/bin/shared") is None
    assert errno_of_exec(g, b"/bin/mine") is None


@pytest.mark.parametrize("scenario", ["missing-script-interpreter", "bad-elf-interpreter", "good"])
def test_exec_releases_every_file_it_opens_exactly_once(monkeypatch, scenario):
    from slimbox.kernel.fs.memfs import MemFile

    opened: dict[int, int] = {}
    closed: dict[int, int] = {}
    real_open = MemFile.open

    def counting_open(self, flags):
        opened[self.ino] = opened.get(self.ino, 0) + 1
        return real_open(self, flags)

    def counting_close(self):
        closed[self.ino] = closed.get(self.ino, 0) + 1

    monkeypatch.setattr(MemFile, "open", counting_open)
    monkeypatch.setattr(MemFile, "close", counting_close)
    g = FakeGuest()
    g.write_file(b"/bin/real", elf_executable(), 0o755)
    if scenario == "missing-script-interpreter":
        g.write_file(b"/bin/prog", b"#!/bin/nowhere\n", 0o755)
    elif scenario == "bad-elf-interpreter":
        g.mkdir(b"/lib")
        g.write_file(b"/lib/ld.so", b"#!/not/elf\n" + bytes(300), 0o755)
        g.write_file(b"/bin/prog", elf_executable(interp=b"/lib/ld.so"), 0o755)
    else:
        g.write_file(b"/bin/prog", b"#!/bin/real\n", 0o755)
    errno_of_exec(g, b"/bin/prog")
    assert opened and opened == closed
