"""KvmAddressSpace: the South AddressSpace over page tables this platform builds.

The mappings the kernel asked for are kept as sorted ranges (start, end, prot, region,
first page index in the region); a frame is given to a page only when the guest
touches it (`populate`, from a page fault) or the kernel writes to it. The page tables
hold every frame that exists and are what the CPU obeys; the ranges say what a page
that has no frame yet would get. Mapping a terabyte costs one list entry.

Shared mappings (`map(..., shared=True)`) have a `SharedRegion`: the frames of its
pages by page index, so every address space and every page that maps the same index
(after fork or a move) uses one frame. A private frame belongs to one page, except
after fork: pages the guest dirtied since the last fork are copied then, the others
are shared copy-on-write (read-only, reference-counted) until one side writes.

Every change that takes something away from the guest (a present page, a right, a
frame, a page table) ends with `on_downgrade()`, so that the machine side makes the
guest forget what it cached before the guest runs again.

Interface changes agreed with the machine side (recorded here as the contract asks):
- `fork(on_downgrade=None)` takes the child's callback (default: the parent's), and
  calls the parent's own when fork made its pages read-only.
- `install_platform_page` takes any canonical address and replaces a page already
  installed there; fork gives the child its own copy of each platform page.
- `install_mmio_page(addr, gpa, user=, writable=)`: a platform page whose
  guest-physical address lies beyond guest memory (an access exits to the host).
- `populate` returns True for a page that already allows the access (a stale TLB
  entry) after calling `on_downgrade` so the guest re-reads its tables.
- `access_allowed` says None (not mapped) for platform pages, as a native process sees.
- guest memory running out raises OSError(ENOMEM) from populate, write and fork.
"""

from __future__ import annotations

import bisect
import errno
from array import array

from slimbox.platforms.base import PAGE_SIZE, GuestMemoryError
from slimbox.platforms.kvm.pagetables import (
    ADDRESS_MASK, DIRTY, NO_EXECUTE, PRESENT, RIGHTS, SOFT_COPY_ON_WRITE, SOFT_MMIO, SOFT_PLATFORM, SOFT_SHARED, USER,
    USER_TOP, WRITABLE, PageTables, is_canonical, is_downgrade, leaf_rights, may_be_cached,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
_PROT_ANY = PROT_READ | PROT_WRITE | PROT_EXEC
#: protection bits the kernel may pass to protect (PROT_SEM included, as Linux accepts it)
_PROT_VALID = _PROT_ANY | 0x8
#: pages given frames together on a fault (an aligned 256 KiB window, within the mapping):
#: a fault costs a VM exit and a trip through the supervisor, far more than the frames
FAULT_AROUND_PAGES = 64
_PAGE_MASK = PAGE_SIZE - 1
_TABLE_SPAN_MASK = (1 << 21) - 1


class SharedRegion:
    """The frames of one shared mapping, by page index; released when no range uses it."""

    __slots__ = ("frames", "users")

    def __init__(self) -> None:
        self.frames: dict[int, int] = {}
        self.users = 0


def _allows(prot: int, write: bool, execute: bool) -> bool:
    if not prot & _PROT_ANY:
        return False
    return (not write or bool(prot & PROT_WRITE)) and (not execute or bool(prot & PROT_EXEC))


class KvmAddressSpace:
    """One guest address space: a page-table tree in `memory` (CR3 = `root`)."""

    def __init__(self, memory, on_downgrade: Callable[[], None]) -> None:
        self.memory = memory
        self._on_downgrade = on_downgrade
        self.tables = PageTables(memory)
        self._words = memory.words
        self._bytes = memory.bytes
        # sorted, non-overlapping mappings: (start, end, prot, region, first region index)
        self._starts: list[int] = []
        self._ranges: list[tuple] = []
        #: platform page address -> (user, writable, executable)
        self._platform: dict[int, tuple[bool, bool, bool]] = {}
        #: the platform pages in the lower half, sorted (where guest mappings could hit them)
        self._platform_low: list[int] = []
        self.closed = False

    @property
    def root(self) -> int:
        return self.tables.root

    # --- South AddressSpace --------------------------------------------------------------

    def reserved(self) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for addr in sorted(self._platform):
            if spans and spans[-1][1] == addr:
                spans[-1] = (spans[-1][0], addr + PAGE_SIZE)
            else:
                spans.append((addr, addr + PAGE_SIZE))
        return spans

    def vdso(self) -> list[tuple[int, int, int, bytes]]:
        return []  # no host vDSO here: guest clocks are syscalls

    def map(self, addr: int, length: int, prot: int, *, shared: bool = False) -> None:
        end = self._span(addr, length)
        self._refuse_platform(addr, end)
        lost = self._any_mapped(addr, end) and self._clear(addr, end)
        removed = self._carve(addr, end)
        self._insert(addr, end, prot & _PROT_VALID, SharedRegion() if shared else None, 0)
        self._settle(removed)
        if lost:
            self._on_downgrade()

    def map_file(self, addr: int, length: int, prot: int, host_file, offset: int) -> bool:
        return False  # host files never enter guest memory: the kernel copies

    def unmap(self, addr: int, length: int) -> None:
        end = self._span(addr, length)
        self._refuse_platform(addr, end)
        if not self._any_mapped(addr, end):
            return
        lost = self._clear(addr, end)
        self._settle(self._carve(addr, end))
        if lost:
            self._on_downgrade()

    def protect(self, addr: int, length: int, prot: int) -> None:
        end = self._span(addr, length)
        if prot & ~_PROT_VALID:
            raise OSError(errno.EINVAL, f"protection {prot:#x} has bits a mapping cannot take")
        self._refuse_platform(addr, end)
        self._require_mapped(addr, end, errno.ENOMEM)
        for start, stop, _, region, first in self._carve(addr, end):
            self._insert(start, stop, prot, region, first)
        rights = leaf_rights(prot)
        words = self._words
        lost = False
        for _, index in self.tables.leaves(addr, end):
            old = words[index]
            new = (old & ~RIGHTS) | (rights & ~WRITABLE if old & SOFT_COPY_ON_WRITE else rights)
            lost = lost or is_downgrade(old, new)
            words[index] = new
        if lost:
            self._on_downgrade()

    def move(self, old_addr: int, old_length: int, new_addr: int, new_length: int) -> None:
        old_end = self._span(old_addr, old_length)
        new_end = self._span(new_addr, new_length)
        self._require_mapped(old_addr, old_end, errno.EFAULT)
        self._refuse_platform(new_addr, new_end)
        old_size, new_size = old_end - old_addr, new_end - new_addr
        kept_end = old_addr + min(old_size, new_size)
        pieces = self._carve(old_addr, old_end)
        words, memory = self._words, self.memory
        lost = False
        moved: list[tuple[int, int]] = []
        for va, index in self.tables.leaves(old_addr, old_end):
            entry = words[index]
            words[index] = 0
            lost = lost or may_be_cached(entry)
            if va < kept_end:
                moved.append((va - old_addr, entry))
            else:
                memory.release(entry & ADDRESS_MASK)
        lost = self.tables.prune(old_addr, old_end) > 0 or lost
        lost = (self._any_mapped(new_addr, new_end) and self._clear(new_addr, new_end)) or lost
        removed = self._carve(new_addr, new_end) + pieces
        delta = new_addr - old_addr
        for start, stop, prot, region, first in pieces:
            if start < kept_end:
                self._insert(start + delta, min(stop, kept_end) + delta, prot, region, first)
        if new_size > old_size:
            _, stop, prot, region, first = pieces[-1]
            tail_first = first + (stop - pieces[-1][0]) // PAGE_SIZE if region is not None else 0
            self._insert(new_addr + old_size, new_end, prot, region, tail_first)
        table = self.tables
        for offset, entry in moved:
            table.set(new_addr + offset, entry)
        self._settle(removed)
        if lost:
            self._on_downgrade()

    def discard(self, addr: int, length: int) -> None:
        end = self._span(addr, length)
        self._refuse_platform(addr, end)
        self._require_mapped(addr, end, errno.ENOMEM)
        if self._clear(addr, end):
            self._on_downgrade()

    def read(self, addr: int, length: int) -> bytes:
        if length <= 0:
            return b""
        memory_bytes = self._bytes
        offset = addr & _PAGE_MASK
        if offset + length <= PAGE_SIZE and 0 <= addr < USER_TOP:  # within one page: the common case
            found = self._range_at(addr)
            if found is None:
                raise GuestMemoryError(addr)
            index = self.tables.leaf_index(addr, False)
            frame = self._words[index] & ADDRESS_MASK if index >= 0 else 0
            if not frame and found[3] is not None:
                frame = self._region_frame(addr)
            if not frame:
                return bytes(length)
            return memory_bytes[frame + offset:frame + offset + length].tobytes()
        end = addr + length
        shared = self._require_mapped(addr, end, None)
        runs = self._frame_runs(addr, end, shared)
        if len(runs) == 1 and runs[0][0] <= addr and runs[0][0] + runs[0][2] >= end:
            gpa = runs[0][1] + addr - runs[0][0]
            return memory_bytes[gpa:gpa + length].tobytes()
        pieces: list = []
        pos = addr
        for va, gpa, size in runs:
            lo, hi = max(va, addr), min(va + size, end)
            if lo > pos:
                pieces.append(bytes(lo - pos))  # pages with no frame read as zeros
            pieces.append(memory_bytes[gpa + lo - va:gpa + hi - va])
            pos = hi
        if pos < end:
            pieces.append(bytes(end - pos))
        return b"".join(pieces)

    def write(self, addr: int, data: bytes) -> None:
        source = memoryview(data)
        if source.format != "B" or source.ndim != 1:
            source = source.cast("B")
        if not source.nbytes:
            return
        memory_bytes = self._bytes
        offset = addr & _PAGE_MASK
        length = source.nbytes
        if offset + length <= PAGE_SIZE and 0 <= addr < USER_TOP:  # within one page: the common case
            found = self._range_at(addr)
            if found is None:
                raise GuestMemoryError(addr)
            index = self.tables.leaf_index(addr, True)
            entry = self._words[index]
            if not entry:
                entry = self._give_frame(addr & ~_PAGE_MASK, index, found)
            elif entry & SOFT_COPY_ON_WRITE:
                if self._unshare(index, found[2]):
                    self._on_downgrade()
                entry = self._words[index]
            frame = entry & ADDRESS_MASK
            memory_bytes[frame + offset:frame + offset + length] = source
            return
        end = addr + length
        self._require_mapped(addr, end, None)
        if self._fill(addr, end):
            self._on_downgrade()
        for va, gpa, size in self._frame_runs(addr, end, False):
            lo, hi = max(va, addr), min(va + size, end)
            memory_bytes[gpa + lo - va:gpa + hi - va] = source[lo - addr:hi - addr]

    def _frame_runs(self, addr: int, end: int, shared: bool) -> list[list[int]]:
        """[va, gpa, size] runs of the pages over [addr, end) whose frames follow each other
        (one copy each); pages without a frame are left out, or found in their shared
        region when `shared`. Walks one table per 2 MiB."""
        words, tables = self._words, self.tables
        runs: list[list[int]] = []
        run: list[int] = []
        expect = -1
        va = addr & ~_PAGE_MASK
        while va < end:
            count = (min((va | _TABLE_SPAN_MASK) + 1, end) - va + _PAGE_MASK) >> 12
            index = tables.leaf_index(va, False)
            if index >= 0:
                entries = words[index:index + count].tolist()
            elif shared:
                entries = [0] * count  # no table, but the region may have frames
            else:
                expect = -1
                va += count << 12
                continue
            for k, entry in enumerate(entries):
                frame = entry & ADDRESS_MASK
                if frame == expect:
                    run[2] += PAGE_SIZE
                    expect += PAGE_SIZE
                    continue
                if not frame:
                    if shared:
                        frame = self._region_frame(va + (k << 12))
                    if not frame:
                        expect = -1
                        continue
                    if frame == expect:
                        run[2] += PAGE_SIZE
                        expect += PAGE_SIZE
                        continue
                run = [va + (k << 12), frame, PAGE_SIZE]
                runs.append(run)
                expect = frame + PAGE_SIZE
            va += count << 12
        return runs

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        frames: list[int] = []
        keep = frames.append
        self.tables.release(lambda entry: None if entry & SOFT_MMIO else keep(entry & ADDRESS_MASK))
        self.memory.release_many(frames)
        for _, _, _, region, _ in self._ranges:
            if region is not None:
                region.users -= 1
        self._settle(self._ranges)
        self._ranges = []
        self._starts = []
        self._platform.clear()
        self._platform_low.clear()

    # --- what the machine side asks --------------------------------------------------------

    def populate(self, addr: int, write: bool, execute: bool) -> bool:
        """Give the page at `addr` a frame if its mapping allows the access (True: resume
        the guest); False is a real fault."""
        if self.closed or not 0 <= addr < USER_TOP:
            return False
        found = self._range_at(addr)
        if found is None or not _allows(found[2], write, execute):
            return False
        va = addr & ~_PAGE_MASK
        index = self.tables.leaf_index(va, True)
        entry = self._words[index]
        if entry:
            rights = leaf_rights(found[2])
            if entry & SOFT_COPY_ON_WRITE:
                if write:
                    if self._unshare_around(va, index, found):
                        self._on_downgrade()  # a present page now has another frame
                    return True
                rights &= ~WRITABLE
            if entry & RIGHTS != rights:  # cannot happen unless something else wrote the entry
                self._words[index] = (entry & ~RIGHTS) | rights
            else:
                self._on_downgrade()  # the tables already allow it: the guest saw a stale entry
            return True
        self._give_frame(va, index, found)
        # neighbours in the same mapping and page table: one fault instead of many
        start, stop, prot, region, _ = found
        window = va & ~(FAULT_AROUND_PAGES * PAGE_SIZE - 1)
        first = max(window, start)
        last = min(window + FAULT_AROUND_PAGES * PAGE_SIZE, stop)
        words = self._words
        base = index - (va - first) // PAGE_SIZE
        try:
            if region is None:
                rights = leaf_rights(prot)
                slots = [slot for slot in range(base, base + (last - first) // PAGE_SIZE) if not words[slot]]
                for slot, frame in zip(slots, self.memory.allocate_many(len(slots))):
                    words[slot] = frame | rights
            else:
                for page in range(first, last, PAGE_SIZE):
                    slot = base + (page - first) // PAGE_SIZE
                    if not words[slot]:
                        self._give_frame(page, slot, found)
        except OSError:
            pass  # memory is short: the page that faulted has its frame, the rest can wait
        return True

    def _unshare_around(self, va: int, index: int, found: tuple) -> bool:
        """Give the copy-on-write page at `va` (leaf word `index`) and the others of its
        fault-around window in the same mapping frames of their own: a process that
        writes one page after fork usually writes its neighbours too. Whether a present
        page changed frame."""
        lost = self._unshare(index, found[2])
        window = va & ~(FAULT_AROUND_PAGES * PAGE_SIZE - 1)
        first = max(window, found[0])
        last = min(window + FAULT_AROUND_PAGES * PAGE_SIZE, found[1])
        base = index - (va - first) // PAGE_SIZE
        words = self._words
        try:
            for slot in range(base, base + (last - first) // PAGE_SIZE):
                if words[slot] & SOFT_COPY_ON_WRITE:
                    lost = self._unshare(slot, found[2]) or lost
        except OSError:
            pass  # memory is short: the page that faulted has its frame, the rest can wait
        return lost

    def access_allowed(self, addr: int, write: bool, execute: bool) -> bool | None:
        """None: not mapped (platform pages included: to the guest's kernel nothing is
        mapped there, as natively); False: the mapping forbids the access; True: allowed."""
        if 0 <= addr < USER_TOP:
            found = self._range_at(addr)
            if found is not None:
                return _allows(found[2], write, execute)
        return None

    def install_platform_page(self, addr: int, data: bytes, *, user: bool, writable: bool,
                              executable: bool) -> None:
        """A page the platform needs at `addr` (any canonical address), listed by
        reserved() and never touched by map/unmap/protect/move/discard; installing
        again at the same address replaces it."""
        if len(data) > PAGE_SIZE:
            raise ValueError(f"platform page data is {len(data)} bytes, more than a page")
        index, old = self._platform_slot(addr)
        frame = old & ADDRESS_MASK if old and not old & SOFT_MMIO else self.memory.allocate()
        self._bytes[frame:frame + PAGE_SIZE] = bytes(data).ljust(PAGE_SIZE, b"\0")
        self._set_platform(addr, index, old, frame, user, writable, executable)

    def install_mmio_page(self, addr: int, gpa: int, *, user: bool, writable: bool) -> None:
        """A platform page at `addr` whose guest-physical address `gpa` lies outside
        guest memory, so that every access to it exits to the host (never executable;
        fork keeps it as it is)."""
        if gpa % PAGE_SIZE or gpa < self.memory.size or gpa & ~ADDRESS_MASK:
            raise ValueError(f"MMIO page address {gpa:#x} is not a page address beyond guest memory")
        index, old = self._platform_slot(addr)
        if old and not old & SOFT_MMIO:
            self.memory.release(old & ADDRESS_MASK)
        self._set_platform(addr, index, old, gpa | SOFT_MMIO, user, writable, False)

    def _platform_slot(self, addr: int) -> tuple[int, int]:
        if addr % PAGE_SIZE or not is_canonical(addr):
            raise ValueError(f"platform page address {addr:#x} is not a canonical page address")
        if addr < USER_TOP and self._any_mapped(addr, addr + PAGE_SIZE):
            raise ValueError(f"platform page {addr:#x} would cover guest memory")
        index = self.tables.leaf_index(addr, True)
        return index, self._words[index]

    def _set_platform(self, addr: int, index: int, old: int, target: int, user: bool, writable: bool,
                      executable: bool) -> None:
        new = (target | PRESENT | SOFT_PLATFORM | (USER if user else 0) | (WRITABLE if writable else 0)
               | (0 if executable else NO_EXECUTE))
        self._words[index] = new
        self._platform[addr] = (user, writable, executable)
        if addr < USER_TOP and addr not in self._platform_low:
            bisect.insort(self._platform_low, addr)
        if is_downgrade(old, new):
            self._on_downgrade()

    def fork(self, on_downgrade: Callable[[], None] | None = None) -> KvmAddressSpace:
        """A copy in the same guest memory. Shared frames are shared; private frames the
        guest wrote since the last fork (the CPU's dirty bit) are copied, the others
        shared copy-on-write (read-only in both spaces until one writes: `populate` or
        `write` then copies); platform pages are copied."""
        child = KvmAddressSpace(self.memory, on_downgrade if on_downgrade is not None else self._on_downgrade)
        memory, memory_bytes, words = self.memory, self._bytes, self._words
        lost = False
        special = SOFT_MMIO | SOFT_PLATFORM | SOFT_SHARED

        def copy_leaves(index: int, child_index: int) -> None:
            nonlocal lost
            entries = words[index:index + 512].tolist()
            copies = list(entries)
            shared_frames = []
            held = []  # references this table's copies took so far (given back if memory runs out)
            try:
                for k, entry in enumerate(entries):
                    if not entry:
                        continue
                    if entry & special:
                        copies[k] = copied = self._fork_special(entry)
                        if not copied & SOFT_MMIO:
                            held.append(copied & ADDRESS_MASK)
                    elif entry & DIRTY:
                        # written since the last fork: likely written again soon, and a copy
                        # now is far cheaper than a fault later. (A TLB entry that still
                        # has the bit may keep the CPU from setting it again: then the
                        # next fork shares the page instead, which is only slower.)
                        frame = entry & ADDRESS_MASK
                        copy = memory.allocate(zeroed=False)
                        held.append(copy)
                        memory_bytes[copy:copy + PAGE_SIZE] = memory_bytes[frame:frame + PAGE_SIZE]
                        entries[k] = entry & ~DIRTY
                        copies[k] = copy | (entry & ~(ADDRESS_MASK | DIRTY))
                    else:
                        shared_frames.append(entry & ADDRESS_MASK)
                        if entry & WRITABLE or not entry & SOFT_COPY_ON_WRITE:
                            entries[k] = copies[k] = (entry & ~WRITABLE) | SOFT_COPY_ON_WRITE
                            lost = lost or (bool(entry & WRITABLE) and may_be_cached(entry))
            except OSError:
                memory.release_many(held)
                raise
            memory.share_many(shared_frames)
            words[index:index + 512] = array("Q", entries)
            words[child_index:child_index + 512] = array("Q", copies)

        try:
            self.tables.copy_into(child.tables, copy_leaves)
        except BaseException:
            child.close()
            raise
        finally:
            if lost:
                self._on_downgrade()
        child._starts = list(self._starts)
        child._ranges = list(self._ranges)
        for _, _, _, region, _ in child._ranges:
            if region is not None:
                region.users += 1
        child._platform = dict(self._platform)
        child._platform_low = list(self._platform_low)
        return child

    def _fork_special(self, entry: int) -> int:
        """The child's entry for a shared, platform or MMIO leaf of a fork."""
        if entry & SOFT_MMIO:
            return entry
        frame = entry & ADDRESS_MASK
        if entry & SOFT_SHARED:
            self.memory.share(frame)
            return entry
        copy = self.memory.allocate(zeroed=False)  # a platform page: each process its own
        self._bytes[copy:copy + PAGE_SIZE] = self._bytes[frame:frame + PAGE_SIZE]
        return copy | (entry & ~ADDRESS_MASK)

    # --- inspection ------------------------------------------------------------------------

    def mappings(self) -> list[tuple[int, int, int, bool]]:
        """(start, end, prot, shared) of every mapped range, adjacent ranges with the same
        attributes merged."""
        merged: list[tuple[int, int, int, bool]] = []
        for start, end, prot, region, _ in self._ranges:
            if merged and merged[-1][1] == start and merged[-1][2:] == (prot, region is not None):
                merged[-1] = (merged[-1][0], end, prot, region is not None)
            else:
                merged.append((start, end, prot, region is not None))
        return merged

    def frame_of(self, addr: int) -> int:
        """The guest-physical frame behind `addr` (0: none yet)."""
        return self.tables.get(addr & ~_PAGE_MASK) & ADDRESS_MASK

    # --- pages -------------------------------------------------------------------------------

    def _fill(self, start: int, end: int) -> bool:
        """Make every page over [start, end) (all mapped) writable by the kernel: give
        the ones without a frame one and copy frames shared by fork. Whether a present
        page changed frame."""
        index = bisect.bisect_right(self._starts, start) - 1
        start &= ~_PAGE_MASK
        lost = False
        while start < end:
            found = self._ranges[index]
            stop = min(found[1], end)
            lost = self._fill_range(start, stop, found) or lost
            start = stop
            index += 1
        return lost

    def _fill_range(self, start: int, end: int, found: tuple) -> bool:
        words, tables = self._words, self.tables
        rights = leaf_rights(found[2])
        va = start
        lost = False
        while va < end:
            count = (min((va | _TABLE_SPAN_MASK) + 1, end) - va + _PAGE_MASK) >> 12
            index = tables.leaf_index(va, True)
            entries = words[index:index + count].tolist()
            missing = [k for k, entry in enumerate(entries) if not entry]
            for k, entry in enumerate(entries):
                if entry & SOFT_COPY_ON_WRITE:
                    lost = self._unshare(index + k, found[2]) or lost
            if missing and found[3] is not None:
                for k in missing:
                    self._give_frame(va + (k << 12), index + k, found)
            elif missing:
                for k, frame in zip(missing, self.memory.allocate_many(len(missing))):
                    words[index + k] = frame | rights
            va += count << 12
        return lost

    def _unshare(self, index: int, prot: int) -> bool:
        """Give the copy-on-write leaf at word `index` a frame of its own (copying only if
        another address space still uses the frame) with the rights of `prot`; whether
        a present page changed frame."""
        words, memory = self._words, self.memory
        entry = words[index]
        frame = entry & ADDRESS_MASK
        if memory.references(frame) > 1:
            copy = memory.allocate(zeroed=False)
            self._bytes[copy:copy + PAGE_SIZE] = self._bytes[frame:frame + PAGE_SIZE]
            memory.release(frame)
            frame = copy
        new = (entry & ~(ADDRESS_MASK | RIGHTS | SOFT_COPY_ON_WRITE)) | frame | leaf_rights(prot)
        words[index] = new
        return is_downgrade(entry, new)

    def _give_frame(self, va: int, index: int, found: tuple | None = None) -> int:
        """Put a zeroed (or the shared region's) frame at `va`, whose leaf is word
        `index`; the new entry."""
        if found is None:
            found = self._range_at(va)
            if found is None:
                raise GuestMemoryError(va)
        start, _, prot, region, first = found
        if region is None:
            entry = self.memory.allocate() | leaf_rights(prot)
        else:
            page = first + (va - start) // PAGE_SIZE
            frame = region.frames.get(page)
            if frame is None:
                frame = region.frames[page] = self.memory.allocate()
            self.memory.share(frame)
            entry = frame | leaf_rights(prot) | SOFT_SHARED
        self._words[index] = entry
        return entry

    def _clear(self, start: int, end: int) -> bool:
        """Drop every frame in [start, end); whether the guest may have cached something
        that went away (a present page, a freed table)."""
        words = self._words
        lost = False
        leaves = self.tables.leaves(start, end)
        frames = []
        for _, index in leaves:
            entry = words[index]
            words[index] = 0
            lost = lost or may_be_cached(entry)
            frames.append(entry & ADDRESS_MASK)
        if leaves:
            self.memory.release_many(frames)
            # a freed table may be reused as guest data: the guest must not keep a cached
            # pointer to it, so freeing one counts as a removal
            lost = self.tables.prune(start, end) > 0 or lost
        return lost

    # --- ranges --------------------------------------------------------------------------------

    def _span(self, addr: int, length: int) -> int:
        """The end of a fixed-address operation's page-rounded range (OSError as Linux)."""
        if self.closed:
            raise OSError(errno.EINVAL, "the address space is closed")
        if addr % PAGE_SIZE or addr < 0 or length <= 0:
            raise OSError(errno.EINVAL, f"misaligned address {addr:#x} or empty range ({length:#x} bytes)")
        end = addr + -(-length // PAGE_SIZE) * PAGE_SIZE
        if end > USER_TOP:
            raise OSError(errno.ENOMEM, f"range {addr:#x}+{length:#x} leaves the user half of the address space")
        return end

    def _refuse_platform(self, start: int, end: int) -> None:
        low = self._platform_low
        index = bisect.bisect_left(low, start)
        if index < len(low) and low[index] < end:
            raise OSError(errno.EPERM, f"{low[index]:#x} is a platform page")

    def _range_at(self, addr: int) -> tuple | None:
        index = bisect.bisect_right(self._starts, addr) - 1
        if index >= 0 and self._ranges[index][1] > addr:
            return self._ranges[index]
        return None

    def _any_mapped(self, start: int, end: int) -> bool:
        """Whether some mapping overlaps [start, end) (only then can a page there have a frame)."""
        index = bisect.bisect_right(self._starts, start) - 1
        if index >= 0 and self._ranges[index][1] > start:
            return True
        return index + 1 < len(self._ranges) and self._ranges[index + 1][0] < end

    def _require_mapped(self, start: int, end: int, error: int | None) -> bool:
        """Raise for the first address in [start, end) that is not mapped: GuestMemoryError
        (error None) or OSError(error). Whether a shared mapping is among them."""
        if self.closed:
            raise GuestMemoryError(start) if error is None else OSError(error, "the address space is closed")
        addr = start
        shared = False
        while addr < end:
            found = self._range_at(addr) if 0 <= addr < USER_TOP else None
            if found is None:
                if error is None:
                    raise GuestMemoryError(addr)
                raise OSError(error, f"{addr:#x} is not mapped")
            shared = shared or found[3] is not None
            addr = found[1]
        return shared

    def _region_frame(self, va: int) -> int:
        """The frame a shared mapping's region has for page `va` (0: none, or private)."""
        found = self._range_at(va)
        if found is None or found[3] is None:
            return 0
        return found[3].frames.get(found[4] + (va - found[0]) // PAGE_SIZE, 0)

    def _insert(self, start: int, end: int, prot: int, region: SharedRegion | None, first: int) -> None:
        index = bisect.bisect_left(self._starts, start)
        self._starts.insert(index, start)
        self._ranges.insert(index, (start, end, prot, region, first))
        if region is not None:
            region.users += 1

    def _carve(self, start: int, end: int) -> list[tuple]:
        """Remove [start, end) from the ranges; the pieces removed (their regions no
        longer counting them as users)."""
        starts, ranges = self._starts, self._ranges
        first_index = bisect.bisect_right(starts, start) - 1
        if first_index < 0 or ranges[first_index][1] <= start:
            first_index += 1
        stop_index = bisect.bisect_left(starts, end)
        taken = ranges[first_index:stop_index]
        if not taken:
            return []
        del ranges[first_index:stop_index]
        del starts[first_index:stop_index]
        removed = []
        for lo, hi, prot, region, first in taken:
            if region is not None:
                region.users -= 1
            cut = max(lo, start)
            removed.append((cut, min(hi, end), prot, region, first + (cut - lo) // PAGE_SIZE))
        lo, _, prot, region, first = taken[0]
        if lo < start:
            self._insert(lo, start, prot, region, first)
        lo, hi, prot, region, first = taken[-1]
        if hi > end:
            self._insert(end, hi, prot, region, first + (end - lo) // PAGE_SIZE)
        return removed

    def _settle(self, pieces) -> None:
        """Release the frames of regions among `pieces` that no range uses any more."""
        for piece in pieces:
            region = piece[3]
            if region is not None and region.users == 0 and region.frames:
                for frame in region.frames.values():
                    self.memory.release(frame)
                region.frames.clear()
