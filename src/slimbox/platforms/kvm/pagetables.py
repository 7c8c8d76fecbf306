"""x86-64 4-level page tables (PML4, PDPT, PD, PT) kept in guest-physical frames.

These tables are what the guest CPU walks, so they are the truth about what the guest
can reach. Only 4 KiB leaves are used. Directory entries always allow everything
(present, writable, user, executable): the leaf decides. A leaf is built from Linux
PROT_* bits: PROT_NONE is not present, no PROT_WRITE clears the writable bit, no
PROT_EXEC sets NX.

Bits the MMU ignores carry bookkeeping: a leaf that is not present may still own a
frame (a PROT_NONE page that was written before); `SOFT_SHARED` marks a frame shared
with other mappings (reference-counted), `SOFT_PLATFORM` a page the platform owns,
`SOFT_MMIO` one whose address is outside guest memory (no frame: an access exits to
the host), `SOFT_COPY_ON_WRITE` a private frame that fork left shared between address
spaces (never writable until it is copied or has one user left).

The CPU sets the accessed bit of every entry it uses and the dirty bit of a leaf it
writes through; nothing here clears the accessed bit, so an entry without it was never
cached (`may_be_cached`), and fork uses the dirty bit to tell pages worth copying.
"""

from __future__ import annotations

from slimbox.platforms.base import PAGE_SIZE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from slimbox.platforms.kvm.memory import GuestMemory

PRESENT = 1 << 0
WRITABLE = 1 << 1
USER = 1 << 2
ACCESSED = 1 << 5
DIRTY = 1 << 6
SOFT_SHARED = 1 << 9
SOFT_PLATFORM = 1 << 10
SOFT_MMIO = 1 << 11
SOFT_COPY_ON_WRITE = 1 << 52
NO_EXECUTE = 1 << 63
ADDRESS_MASK = 0x000F_FFFF_FFFF_F000
#: what a directory entry carries besides the address of the next table
DIRECTORY_FLAGS = PRESENT | WRITABLE | USER
#: the bits of a leaf that say what the guest may do
RIGHTS = PRESENT | WRITABLE | USER | NO_EXECUTE

ENTRIES = 512
LEVELS = 4
#: first address past the lower canonical half (user space)
USER_TOP = 1 << 47
#: first address of the upper canonical half
UPPER_START = 0xFFFF_8000_0000_0000

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4


def is_canonical(addr: int) -> bool:
    """A 64-bit address whose bits 63..47 are all equal."""
    return 0 <= addr < USER_TOP or UPPER_START <= addr < 1 << 64


def leaf_rights(prot: int, *, user: bool = True) -> int:
    """The rights bits of a leaf for Linux `prot` (0: not present)."""
    if not prot & (PROT_READ | PROT_WRITE | PROT_EXEC):
        return 0
    bits = PRESENT | (USER if user else 0)
    if prot & PROT_WRITE:
        bits |= WRITABLE
    if not prot & PROT_EXEC:
        bits |= NO_EXECUTE
    return bits


def may_be_cached(entry: int) -> bool:
    """Whether the CPU may hold `entry` in a TLB or paging-structure cache: it caches an
    entry only after setting its accessed bit (Intel SDM 3A 4.10.2.3 and 4.10.3.1; KVM's
    shadow paging too, and it prefetches only accessed entries), and nothing here ever
    clears that bit."""
    return entry & (PRESENT | ACCESSED) == PRESENT | ACCESSED


def is_downgrade(old: int, new: int) -> bool:
    """Whether replacing leaf `old` by `new` takes away something the CPU may have cached:
    presence, a frame, write or execute permission, user access."""
    if not may_be_cached(old):
        return False
    if not new & PRESENT or (old ^ new) & ADDRESS_MASK:
        return True
    lost = (old & (WRITABLE | USER)) & ~new
    return bool(lost) or bool(new & NO_EXECUTE and not old & NO_EXECUTE)


class PageTables:
    """One tree of tables rooted at `root` (the value for CR3), in `memory`."""

    def __init__(self, memory: GuestMemory) -> None:
        self.memory = memory
        self.words = memory.words
        self.root = memory.allocate()
        #: how many frames the tables themselves use (the root included)
        self.table_frames = 1
        # 2 MiB-aligned address >> 21 -> word index of the page table (PT) covering it: a
        # shortcut past the upper levels, forgotten whenever a table is freed
        self._pt_index: dict[int, int] = {}

    # --- single entries --------------------------------------------------------------------

    def leaf_index(self, va: int, create: bool) -> int:
        """The word index (into memory.words) of the leaf entry for `va`; -1 when a table
        on the way is missing and `create` is false."""
        known = self._pt_index.get(va >> 21)
        if known is not None:
            return known + ((va >> 12) & 511)
        words = self.words
        table = self.root >> 3
        for shift in (39, 30, 21):
            index = table + ((va >> shift) & 511)
            entry = words[index]
            if not entry & PRESENT:
                if not create:
                    return -1
                new_table = self.memory.allocate()
                self.table_frames += 1
                entry = new_table | DIRECTORY_FLAGS
                words[index] = entry
            table = (entry & ADDRESS_MASK) >> 3
        self._pt_index[va >> 21] = table
        return table + ((va >> 12) & 511)

    def get(self, va: int) -> int:
        index = self.leaf_index(va, False)
        return 0 if index < 0 else self.words[index]

    def set(self, va: int, entry: int) -> None:
        self.words[self.leaf_index(va, True)] = entry

    # --- ranges ----------------------------------------------------------------------------

    def leaves(self, start: int, end: int) -> list[tuple[int, int]]:
        """(va, word index) of every non-zero leaf in [start, end) of the lower half,
        visiting only tables that exist."""
        out: list[tuple[int, int]] = []
        end = min(end, USER_TOP)
        if end - start > _SMALL_RANGE:
            self._collect(self.root, LEVELS - 1, start, end, 0, out)
            return out
        words = self.words
        va = start & ~(PAGE_SIZE - 1)
        while va < end:  # one page table per 2 MiB, found through the shortcut
            count = (min((va | _PT_SPAN_MASK) + 1, end) - va + PAGE_SIZE - 1) >> 12
            index = self.leaf_index(va, False)
            if index >= 0:
                for k, entry in enumerate(words[index:index + count].tolist()):
                    if entry:
                        out.append((va + (k << 12), index + k))
            va += count << 12
        return out

    def _collect(self, table: int, level: int, start: int, end: int, base: int, out: list) -> None:
        words = self.words
        shift = 12 + 9 * level
        first = max(start - base, 0) >> shift
        last = min((end - 1 - base) >> shift, ENTRIES - 1)
        table >>= 3
        if level == 0:
            for i in range(table + first, table + last + 1):
                if words[i]:
                    out.append((base + ((i - table) << 12), i))
            return
        for i in range(first, last + 1):
            entry = words[table + i]
            if entry & PRESENT:
                self._collect(entry & ADDRESS_MASK, level - 1, start, end, base + (i << shift), out)

    def prune(self, start: int, end: int) -> int:
        """Free the tables below the root that overlap [start, end) of the lower half and
        hold no entry any more; how many of them the guest's paging-structure caches may
        still point at (the caller must then have the guest flush before it runs)."""
        if start >= end:
            return 0
        return self._prune(self.root, LEVELS - 1, start, min(end, USER_TOP), 0)

    def _prune(self, table: int, level: int, start: int, end: int, base: int) -> int:
        words = self.words
        shift = 12 + 9 * level
        first = max(start - base, 0) >> shift
        last = min((end - 1 - base) >> shift, ENTRIES - 1)
        index = table >> 3
        memory_bytes = self.memory.bytes
        cached = 0
        for i in range(first, last + 1):
            entry = words[index + i]
            if not entry & PRESENT:
                continue
            child = entry & ADDRESS_MASK
            if level > 1:
                cached += self._prune(child, level - 1, start, end, base + (i << shift))
            if memory_bytes[child:child + PAGE_SIZE] == _ZERO_TABLE:
                self._pt_index.clear()
                words[index + i] = 0
                self.memory.release(child)
                self.table_frames -= 1
                cached += may_be_cached(entry)
        return cached

    # --- whole trees -----------------------------------------------------------------------

    def copy_into(self, other: PageTables, copy_leaves) -> None:
        """Give `other` (an empty tree) the same table structure as this one, with
        `copy_leaves(index, other_index)` filling each page table of `other` from the one
        of this tree (word indices of their first entries; the caller may change this
        tree's leaves too)."""
        self._copy(self.root, other, other.root, LEVELS - 1, copy_leaves)

    def _copy(self, table: int, other: PageTables, other_table: int, level: int, copy_leaves) -> None:
        words = self.words
        index, other_index = table >> 3, other_table >> 3
        for i in range(ENTRIES):
            entry = words[index + i]
            if not entry:
                continue
            child = other.memory.allocate()
            other.table_frames += 1
            words[other_index + i] = child | (entry & ~ADDRESS_MASK & ~(ACCESSED | DIRTY))
            if level == 1:
                copy_leaves((entry & ADDRESS_MASK) >> 3, child >> 3)
            else:
                self._copy(entry & ADDRESS_MASK, other, child, level - 1, copy_leaves)

    def release(self, release_leaf) -> None:
        """Free every table, calling `release_leaf(entry)` for each non-zero leaf first."""
        self._pt_index.clear()
        self._release(self.root, LEVELS - 1, release_leaf)
        self.root = 0
        self.table_frames = 0

    def _release(self, table: int, level: int, release_leaf) -> None:
        words = self.words
        index = table >> 3
        for i in range(index, index + ENTRIES):
            entry = words[i]
            if not entry:
                continue
            if level == 0:
                release_leaf(entry)
            else:
                self._release(entry & ADDRESS_MASK, level - 1, release_leaf)
            words[i] = 0
        self.memory.release(table)


_ZERO_TABLE = bytes(PAGE_SIZE)
_PT_SPAN_MASK = (1 << 21) - 1
#: ranges up to this size are walked 2 MiB at a time; larger ones table by table
_SMALL_RANGE = 1 << 26
