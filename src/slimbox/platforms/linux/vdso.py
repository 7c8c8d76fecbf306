"""The host's vDSO in a stub: which of its mappings stay, and what goes around them.

The host kernel maps its vDSO ([vdso], the code) and the read-only data that code
reads ([vvar], [vvar_vclock]) into every process it execs, stubs included. The
platform leaves those in place so guest clock reads need no syscall; everything else
of the freshly exec'd stub but its own page is unmapped.
"""

from __future__ import annotations

#: the names of the host mappings a guest keeps, as /proc/PID/maps shows them
VDSO_NAMES = frozenset((b"[vvar]", b"[vvar_vclock]", b"[vdso]"))
#: the end of the address space a process gets by default (47 bits; with 5-level paging
#: a process maps above it only when it asks to)
USER_SPACE_END = 0x7FFFFFFFF000

_PROT_BITS = ((0, "r", 1), (1, "w", 2), (2, "x", 4))


def vdso_pieces(maps: bytes) -> list[tuple[int, int, int, bytes]]:
    """(start, end, prot, name) of the vDSO mappings listed in a /proc/PID/maps text."""
    pieces = []
    for line in maps.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[5] not in VDSO_NAMES:
            continue
        start, end = (int(x, 16) for x in fields[0].split(b"-"))
        perms = fields[1].decode()
        prot = sum(bit for index, letter, bit in _PROT_BITS if perms[index] == letter)
        pieces.append((start, end, prot, fields[5]))
    return sorted(pieces)


def ranges_to_empty(stub_page: tuple[int, int], kept: list[tuple[int, int, int, bytes]],
                    top: int = USER_SPACE_END) -> list[tuple[int, int]]:
    """[start, end) ranges that cover the user address space below `top` except the
    stub's page and the `kept` mappings: unmapping them empties a fresh stub whatever
    else the host put there (holes included: unmapping nothing is no error)."""
    ranges = []
    at = 0
    for lo, hi in sorted([stub_page] + [(piece[0], piece[1]) for piece in kept]):
        if lo > at:
            ranges.append((at, lo))
        at = max(at, hi)
    if at < top:
        ranges.append((at, top))
    return ranges
