"""platforms/linux/vdso.py: which host mappings a stub keeps, and the ranges around them."""

from slimbox.platforms.linux.vdso import USER_SPACE_END, ranges_to_empty, vdso_pieces

MAPS = b"""\
555555554000-555555556000 r-xp 00000000 00:1f 123                        /stub
7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0                          [vvar]
7ffff7fc5000-7ffff7fc7000 r--p 00000000 00:00 0                          [vvar_vclock]
7ffff7fc7000-7ffff7fc9000 r-xp 00000000 00:00 0                          [vdso]
7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
"""


def test_vdso_pieces_are_read_from_maps():
    assert vdso_pieces(MAPS) == [(0x7FFFF7FC1000, 0x7FFFF7FC5000, 1, b"[vvar]"),
                                 (0x7FFFF7FC5000, 0x7FFFF7FC7000, 1, b"[vvar_vclock]"),
                                 (0x7FFFF7FC7000, 0x7FFFF7FC9000, 5, b"[vdso]")]
    assert vdso_pieces(MAPS.replace(b"[vdso]", b"[other]").replace(b"[vvar", b"[xvar")) == []


def test_ranges_to_empty_go_around_the_stub_page_and_the_kept_pieces():
    stub = (0x555555554000, 0x555555555000)
    ranges = ranges_to_empty(stub, vdso_pieces(MAPS))
    assert ranges == [(0, 0x555555554000), (0x555555555000, 0x7FFFF7FC1000), (0x7FFFF7FC9000, USER_SPACE_END)]


def test_ranges_to_empty_with_nothing_kept_are_below_and_above_the_stub():
    assert ranges_to_empty((0x1000, 0x2000), []) == [(0, 0x1000), (0x2000, USER_SPACE_END)]
