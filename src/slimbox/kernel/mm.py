"""Memory management: the guest's mappings, brk, and checked access to guest memory.

The kernel owns the list of VMAs and decides every address; the platform's
AddressSpace only performs fixed-address operations. File mappings are copies: the
bytes are read through the VFS and written into anonymous memory, so no host file is
ever mapped into the guest. A MAP_SHARED file mapping is shared memory (processes
forked afterwards share it, as they would the file's pages) whose contents are
written back to the file on munmap, msync, exec and exit; reads and writes of the
file through descriptors do not see it in between. Guest memory is accessed only after the
range has been checked against the VMAs, so a bad pointer is EFAULT, never a
supervisor error.
"""

from __future__ import annotations

import bisect

from slimbox.abi.errno import Errno
from slimbox.kernel.errors import LinuxError
from slimbox.kernel.limits import Budget
from slimbox.kernel.record import Record
from slimbox.platforms.base import GuestMemoryError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.kernel.file import File
    from slimbox.kernel.fs.inode import Inode
    from slimbox.platforms.base import AddressSpace

PAGE = 4096
#: how much of a string read_cstring reads first (a path usually fits)
_FIRST_STRING_READ = 256
PAGE_MASK = ~(PAGE - 1)

PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4
PROT_SEM, PROT_GROWSDOWN, PROT_GROWSUP = 0x8, 0x01000000, 0x02000000
_PROT_VALID = PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP

MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE = 0x1, 0x2, 0x3
MAP_TYPE = 0xF
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_GROWSDOWN = 0x100
MAP_DENYWRITE = 0x800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_NONBLOCK = 0x10000
MAP_STACK = 0x20000
MAP_HUGETLB = 0x40000
MAP_SYNC = 0x80000
MAP_FIXED_NOREPLACE = 0x100000
MAP_UNINITIALIZED = 0x4000000
_MAP_KNOWN = (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_DENYWRITE | MAP_EXECUTABLE
              | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB
              | MAP_SYNC | MAP_FIXED_NOREPLACE | MAP_UNINITIALIZED | (0x3F << 26))

MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4

MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED = 0, 1, 2, 3, 4
MADV_FREE, MADV_REMOVE = 8, 9
#: advice that only tunes the host's paging: accepted, with nothing to do here
_ADVICE_HINTS = frozenset({MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_FREE,
                           10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 100, 101})

#: highest user address + 1 on x86-64 with 4-level paging
TASK_SIZE = 0x7FFFFFFFF000
MMAP_MIN_ADDR = 0x10000
#: from this size on, private mappings of host files are mapped by the platform itself
#: (shared page cache, no copy) rather than copied in
HOST_MAP_MINIMUM = 64 * 1024


class _Unbatched:
    """The batch scope of an address space that has none: everything happens at once."""

    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind, value, traceback) -> None:
        pass


_UNBATCHED = _Unbatched()


def _is_vdso(vma: Vma) -> bool:
    """A piece of the platform's vDSO: mapped by the platform itself, with no file."""
    return vma.host_backed and vma.inode is None


def page_up(value: int) -> int:
    return (value + PAGE - 1) & PAGE_MASK


def page_down(value: int) -> int:
    return value & PAGE_MASK


class Vma(Record):
    __slots__ = ("start", "end", "prot", "shared", "name", "inode", "offset", "file_size", "write_back",
                 "host_backed", "region", "region_offset")

    def __init__(self, start: int, end: int, prot: int, shared: bool, name: bytes = b"", inode: Inode | None = None,
                 offset: int = 0, file_size: int = 0, write_back: bool = False, host_backed: bool = False,
                 region: object = None, region_offset: int = 0) -> None:
        self.start = start
        self.end = end
        self.prot = prot
        self.shared = shared
        self.name = name                # path of the file, or [heap] / [stack]
        self.inode = inode              # backing file, for refills and /proc/PID/maps
        self.offset = offset            # file offset of `start`
        self.file_size = file_size      # bytes of the file that back this mapping (from `offset` at map time)
        self.write_back = write_back    # a shared mapping of a file opened for writing
        self.host_backed = host_backed  # the platform mapped the host file (or, without inode, its vDSO) itself
        #: for MAP_SHARED memory: an object standing for the shared pages (kept by forks,
        #: so shared futexes can be keyed by it) and this VMA's offset into them
        self.region = region
        self.region_offset = region_offset

    def copy(self) -> Vma:
        return Vma(self.start, self.end, self.prot, self.shared, self.name, self.inode, self.offset,
                   self.file_size, self.write_back, self.host_backed, self.region, self.region_offset)

    def spanning(self, start: int, end: int) -> Vma:
        """A copy over start..end, all else (file offset too) unchanged."""
        vma = self.copy()
        vma.start, vma.end = start, end
        return vma

    def split(self, at: int) -> tuple[Vma, Vma]:
        delta = at - self.start
        low = self.copy()
        low.end = at
        high = self.copy()
        high.start = at
        high.offset = self.offset + delta if self.inode is not None else 0
        high.region_offset = self.region_offset + delta
        return low, high

    def shared_key(self, addr: int) -> tuple[object, int] | None:
        """What identifies the byte at `addr` across processes sharing this memory."""
        if self.region is None:
            return None
        return (self.region, self.region_offset + addr - self.start)

    def charge(self, prot: int | None = None) -> int:
        """Bytes this mapping counts against the sandbox's memory limit (with `prot`
        instead of its own, for a change about to be made)."""
        prot = self.prot if prot is None else prot
        if self.host_backed and not prot & PROT_WRITE:
            return 0  # the host's page cache, shared with everyone
        if prot == PROT_NONE and self.inode is None and not self.shared:
            return 0  # an address-space reservation: nothing behind it yet
        return self.end - self.start


class Layout(Record):
    """Where things go in a fresh address space (randomised by the loader)."""

    __slots__ = ("mmap_base", "stack_top", "pie_base")

    def __init__(self, mmap_base: int = 0x7FFFF7FFF000, stack_top: int = 0x7FFFFFFDE000,
                 pie_base: int = 0x555555554000) -> None:
        self.mmap_base = mmap_base
        self.stack_top = stack_top
        self.pie_base = pie_base

    def copy(self) -> Layout:
        return Layout(self.mmap_base, self.stack_top, self.pie_base)


class MemoryManager:
    def __init__(self, aspace: AddressSpace, layout: Layout | None = None, budget: Budget | None = None) -> None:
        self.aspace = aspace
        self.layout = layout or Layout()
        #: the sandbox's memory budget, shared by every process (charged as VMAs come and go)
        self.budget = budget if budget is not None else Budget(None, Errno.ENOMEM)
        self._vmas: list[Vma] = []
        self._starts: list[int] = []
        self.brk_start = 0
        self.brk_current = 0
        self.stack_start = 0
        self.stack_end = 0
        self.arg_start = self.arg_end = self.env_start = self.env_end = 0
        self._reserved = sorted(aspace.reserved())
        #: the platform's vDSO pieces (start, end, prot, name) as it gave them; emptied
        #: when an exec finds them no longer intact (the process has no vDSO from then on)
        self.vdso_pieces: list[tuple[int, int, int, bytes]] = sorted(aspace.vdso())
        #: the [vdso] code was made writable at some point (so it may differ from the host's)
        self.vdso_written = False
        for start, end, prot, name in self.vdso_pieces:
            self._insert(Vma(start, end, prot, False, name, host_backed=True))

    def batched(self):
        """A scope for many changes at once (exec): a platform that can do them in fewer
        host round trips (AddressSpace.batched) waits until the scope ends or something
        needs them done; the outcome is the same as doing each in turn."""
        batched = getattr(self.aspace, "batched", None)
        return batched() if batched is not None else _UNBATCHED

    # --- the VMA list -----------------------------------------------------------------

    def vmas(self) -> list[Vma]:
        return list(self._vmas)

    def find(self, addr: int) -> Vma | None:
        index = bisect.bisect_right(self._starts, addr) - 1
        if index >= 0 and self._vmas[index].end > addr:
            return self._vmas[index]
        return None

    def _insert(self, vma: Vma) -> None:
        index = bisect.bisect_left(self._starts, vma.start)
        self._vmas.insert(index, vma)
        self._starts.insert(index, vma.start)
        self.budget.used += vma.charge()

    def _split_at(self, addr: int) -> None:
        index = bisect.bisect_right(self._starts, addr) - 1
        if index < 0:
            return
        vma = self._vmas[index]
        if vma.start < addr < vma.end:
            low, high = vma.split(addr)
            self._vmas[index:index + 1] = [low, high]
            self._starts[index:index + 1] = [low.start, high.start]

    def _rejoin(self, addr: int) -> None:
        """Undo a split at `addr`: join the VMAs ending and starting there back into one
        if they are the two halves of one mapping."""
        index = bisect.bisect_left(self._starts, addr)
        if not 0 < index < len(self._vmas):
            return
        low, high = self._vmas[index - 1], self._vmas[index]
        if low.end != addr or high.start != addr:
            return
        joined = low.spanning(low.start, high.end)
        if high != joined.split(addr)[1]:
            return
        self._vmas[index - 1:index + 1] = [joined]
        self._starts[index - 1:index + 1] = [joined.start]

    def _take_range(self, start: int, end: int) -> list[Vma]:
        """Remove and return the VMAs inside [start, end), splitting at the edges."""
        self._split_at(start)
        self._split_at(end)
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, end)
        taken = self._vmas[lo:hi]
        del self._vmas[lo:hi]
        del self._starts[lo:hi]
        self.budget.used -= sum(vma.charge() for vma in taken)
        return taken

    def _charge_in(self, start: int, end: int, prot: int | None = None) -> int:
        """What the mappings in [start, end) count against the memory budget (with
        `prot` instead of their own)."""
        total = 0
        index = max(bisect.bisect_right(self._starts, start) - 1, 0)
        while index < len(self._vmas) and self._vmas[index].start < end:
            vma = self._vmas[index]
            lo, hi = max(vma.start, start), min(vma.end, end)
            if lo < hi and vma.charge(prot):
                total += hi - lo
            index += 1
        return total

    def charged(self) -> int:
        return sum(vma.charge() for vma in self._vmas)

    def _overlaps(self, start: int, end: int) -> bool:
        index = bisect.bisect_right(self._starts, start) - 1
        index = max(index, 0)
        while index < len(self._vmas) and self._vmas[index].start < end:
            if self._vmas[index].end > start:
                return True
            index += 1
        return False

    def _hits_reserved(self, start: int, end: int) -> bool:
        return any(lo < end and start < hi for lo, hi in self._reserved)

    def _covered(self, start: int, end: int) -> bool:
        addr = start
        while addr < end:
            vma = self.find(addr)
            if vma is None:
                return False
            addr = vma.end
        return True

    # --- choosing addresses -------------------------------------------------------------

    def _free(self, start: int, end: int) -> bool:
        return (MMAP_MIN_ADDR <= start and end <= TASK_SIZE and not self._overlaps(start, end)
                and not self._hits_reserved(start, end))

    def find_free(self, length: int, hint: int = 0) -> int:
        """A free range of `length` bytes: at `hint` if possible, else top-down below mmap_base."""
        if hint:
            hint = page_down(hint)
            if self._free(hint, hint + length):
                return hint
        top = self.layout.mmap_base
        obstacles = sorted([(v.start, v.end) for v in self._vmas] + self._reserved, reverse=True)
        for lo, hi in obstacles:
            if hi > top:
                top = min(top, lo) if lo < top else top
                continue
            if top - hi >= length:
                return top - length
            top = min(top, lo)
        if top - MMAP_MIN_ADDR >= length:
            return top - length
        raise LinuxError(Errno.ENOMEM)

    # --- mmap and friends ------------------------------------------------------------------

    def mmap(self, addr: int, length: int, prot: int, flags: int, file: File | None = None,
             offset: int = 0) -> int:
        if length == 0 or offset & (PAGE - 1) or prot & ~_PROT_VALID:
            raise LinuxError(Errno.EINVAL)
        prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP)  # mmap ignores them (the host's mprotect would not)
        kind = flags & MAP_TYPE
        if kind not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
            raise LinuxError(Errno.EINVAL)
        if kind == MAP_SHARED_VALIDATE and flags & ~_MAP_KNOWN:
            raise LinuxError(Errno.EOPNOTSUPP)
        shared = kind != MAP_PRIVATE
        length = page_up(length)
        if length == 0 or length > TASK_SIZE:
            raise LinuxError(Errno.ENOMEM)
        if flags & MAP_HUGETLB:
            raise LinuxError(Errno.EINVAL)
        anonymous = bool(flags & MAP_ANONYMOUS) or file is None
        if not anonymous:
            assert file is not None
            source = self._file_source(file, prot, shared)
            if source is None:  # /dev/zero and friends map as anonymous memory
                anonymous = True
        fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)
        if fixed:
            if addr & (PAGE - 1):
                raise LinuxError(Errno.EINVAL)
            if addr + length > TASK_SIZE or addr < MMAP_MIN_ADDR or self._hits_reserved(addr, addr + length):
                raise LinuxError(Errno.ENOMEM if addr + length > TASK_SIZE else Errno.EPERM)
            if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED and self._overlaps(addr, addr + length):
                raise LinuxError(Errno.EEXIST)
            start = addr
        else:
            start = self.find_free(length, addr)
        end = start + length
        vma = Vma(start, end, prot, shared, region=object() if shared else None)
        host_file = None if anonymous or shared else getattr(file.storage, "host_file", None)
        host_map = host_file is not None and length >= HOST_MAP_MINIMUM
        vma.host_backed = host_map  # for the charge; confirmed (or not) by the platform below
        if not anonymous:
            vma.inode = file.inode
        self.budget.check(vma.charge() - self._charge_in(start, end))
        vma.host_backed = False
        for old in self._take_range(start, end):
            self._write_back(old, old.start, old.end)
        if host_map and self.aspace.map_file(start, length, prot, host_file, offset):
            vma.host_backed = True
        else:
            # The host refuses forced writes into shared mappings it may not write, so a
            # read-only shared file mapping is filled while writable, then protected.
            fill_first = shared and not anonymous and not prot & PROT_WRITE
            self.aspace.map(start, length, prot | PROT_WRITE if fill_first else prot, shared=shared)
        if not anonymous:
            assert file is not None
            if not vma.host_backed:
                vma.file_size = self._fill_from_file(file, start, length, offset)
                if shared and not prot & PROT_WRITE:
                    self.aspace.protect(start, length, prot)
            vma.offset = offset
            vma.name = file.path.full_path() if file.path is not None else b""
            vma.write_back = shared and file.writable
        self._insert(vma)
        return start

    @staticmethod
    def _file_source(file: File, prot: int, shared: bool) -> File | None:
        from slimbox.kernel.file import RegularFile  # local: file.py imports nothing from mm

        if not file.readable:
            raise LinuxError(Errno.EACCES)
        if shared and prot & PROT_WRITE and not file.writable:
            raise LinuxError(Errno.EACCES)
        if shared and prot & PROT_WRITE and getattr(file.inode, "seals", 0) & 0x18:
            raise LinuxError(Errno.EPERM)  # a memfd sealed with F_SEAL_WRITE or F_SEAL_FUTURE_WRITE
        if getattr(file, "maps_as_anonymous", False):
            return None
        if not isinstance(file, RegularFile):
            raise LinuxError(Errno.ENODEV)
        return file

    def map_fixed_anonymous(self, start: int, length: int, prot: int, name: bytes = b"") -> None:
        """Kernel-internal anonymous mapping (stack, bss, heap)."""
        length = page_up(length)
        self.budget.check(length - self._charge_in(start, start + length))
        self._take_range(start, start + length)
        self.aspace.map(start, length, prot)
        self._insert(Vma(start, start + length, prot, False, name))

    def munmap(self, addr: int, length: int) -> None:
        if addr & (PAGE - 1) or length == 0:
            raise LinuxError(Errno.EINVAL)
        end = page_up(addr + length)
        if end > TASK_SIZE or end <= addr:
            raise LinuxError(Errno.EINVAL)
        taken = self._take_range(addr, end)
        for vma in taken:
            self._write_back(vma, vma.start, vma.end)
        self._unmap_spans(taken)

    def _write_back(self, vma: Vma, lo: int, hi: int) -> None:
        """Copy a shared file mapping's bytes in [lo, hi) back into the file (never past
        the file's current end, as the kernel writes back only pages inside i_size)."""
        if not vma.write_back or vma.inode is None:
            return
        from slimbox.kernel.file import MAX_RW, O_WRONLY

        lo, hi = max(lo, vma.start), min(hi, vma.end)
        file_offset = vma.offset + (lo - vma.start)
        size = vma.inode.stat().size
        hi = min(hi, lo + max(size - file_offset, 0))
        if hi <= lo:
            return
        try:
            handle = vma.inode.open(O_WRONLY)
        except LinuxError:
            return
        try:
            at = lo
            while at < hi:  # in pieces: one pwrite takes at most MAX_RW bytes
                data = self.aspace.read(at, min(hi - at, MAX_RW))
                if handle.pwrite(data, file_offset + (at - lo)) < len(data):
                    break
                at += len(data)
        except (GuestMemoryError, LinuxError):
            pass
        finally:
            handle.release()

    def flush_shared(self, lo: int = 0, hi: int = TASK_SIZE) -> None:
        """Write back every shared file mapping in [lo, hi) (msync, exit)."""
        for vma in self._vmas:
            if vma.write_back and vma.start < hi and lo < vma.end:
                self._write_back(vma, vma.start, vma.end)

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        if addr & (PAGE - 1) or prot & ~_PROT_VALID:
            raise LinuxError(Errno.EINVAL)
        end = page_up(addr + length)
        if end < addr:
            raise LinuxError(Errno.ENOMEM)
        if end == addr:
            return
        if not self._covered(addr, end):
            raise LinuxError(Errno.ENOMEM)
        prot &= PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM
        self.budget.check(self._charge_in(addr, end, prot) - self._charge_in(addr, end))
        taken = self._take_range(addr, end)
        try:
            self.aspace.protect(addr, end - addr, prot)
        except OSError as error:
            # the host refuses what Linux refuses (a writable [vvar]: EACCES), and Linux
            # leaves the mappings as they were, unsplit
            for vma in taken:
                self._insert(vma)
            self._rejoin(addr)
            self._rejoin(end)
            raise LinuxError(error.errno or Errno.EINVAL) from None
        for vma in taken:
            if prot & PROT_WRITE and _is_vdso(vma):
                self.vdso_written = True
            vma.prot = prot
            self._insert(vma)

    def mremap(self, old: int, old_size: int, new_size: int, flags: int, new_addr: int = 0) -> int:
        if old & (PAGE - 1) or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
            raise LinuxError(Errno.EINVAL)
        if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE or flags & MREMAP_DONTUNMAP:
            raise LinuxError(Errno.EINVAL)
        old_size, new_size = page_up(old_size), page_up(new_size)
        if new_size == 0 or old_size == 0:
            raise LinuxError(Errno.EINVAL)
        vma = self.find(old)
        if vma is None or vma.end < old + old_size:
            raise LinuxError(Errno.EFAULT)
        if _is_vdso(vma) and new_size > old_size:
            raise LinuxError(Errno.EFAULT)  # Linux never grows a special mapping
        if flags & MREMAP_FIXED:
            if new_addr & (PAGE - 1):
                raise LinuxError(Errno.EINVAL)
            if new_addr < old + old_size and old < new_addr + new_size:
                raise LinuxError(Errno.EINVAL)
            if new_addr + new_size > TASK_SIZE or self._hits_reserved(new_addr, new_addr + new_size):
                raise LinuxError(Errno.EINVAL)
            if new_addr < MMAP_MIN_ADDR:
                raise LinuxError(Errno.EPERM)  # as for mmap: the host would refuse the move half done
            if vma.charge():
                self.budget.check(new_size - old_size - self._charge_in(new_addr, new_addr + new_size))
            self.munmap(new_addr, new_size)
            return self._move(old, old_size, new_addr, new_size)
        if new_size <= old_size:
            if new_size < old_size:
                self.munmap(old + new_size, old_size - new_size)
            return old
        tail_start, tail_end = old + old_size, old + new_size
        if vma.charge():
            self.budget.check(new_size - old_size)
        if vma.end == tail_start and self._free(tail_start, tail_end):
            self.aspace.map(tail_start, tail_end - tail_start, vma.prot, shared=vma.shared)
            grown = vma.spanning(vma.start, tail_end)
            self._take_range(vma.start, vma.end)
            self._insert(grown)
            self._refill_file_tail(grown, tail_start)
            return old
        if not flags & MREMAP_MAYMOVE:
            raise LinuxError(Errno.ENOMEM)
        target = self.find_free(new_size)
        return self._move(old, old_size, target, new_size)

    def _move(self, old: int, old_size: int, new_addr: int, new_size: int) -> int:
        pieces = self._take_range(old, old + old_size)
        try:
            self.aspace.move(old, old_size, new_addr, new_size)
        except OSError as error:
            for vma in pieces:
                self._insert(vma)
            raise LinuxError(error.errno or Errno.EINVAL) from None
        first = pieces[0]
        moved = first.spanning(new_addr, new_addr + new_size)
        self._insert(moved)
        if new_size > old_size:
            self._refill_file_tail(moved, new_addr + old_size)
        return new_addr

    def _refill_file_tail(self, vma: Vma, from_addr: int) -> None:
        """After growing a file mapping, fill the new part from the file (a host-backed
        mapping is filled by the host itself)."""
        if vma.inode is None or vma.host_backed:
            return
        file_offset = vma.offset + (from_addr - vma.start)
        self._fill_from_inode(vma.inode, from_addr, vma.end - from_addr, file_offset)

    def _fill_from_inode(self, inode: Inode, addr: int, length: int, offset: int) -> None:
        from slimbox.kernel.file import O_RDONLY

        handle = inode.open(O_RDONLY)
        try:
            self._fill_from_file(handle, addr, length, offset)
        finally:
            handle.release()

    def _fill_from_file(self, file: File, addr: int, length: int, offset: int) -> int:
        """Copy up to `length` bytes of `file` from `offset` into fresh (zero) memory at
        `addr`, in reads of at most MAX_RW bytes (one pread gives no more), skipping
        all-zero pieces so a big sparse file does not touch every page; the bytes the
        file had."""
        done = 0
        while done < length:
            data = file.pread(length - done, offset + done)
            if not data:
                break
            if data.count(0) != len(data):
                self.aspace.write(addr + done, data)
            done += len(data)
        return done

    def madvise(self, addr: int, length: int, advice: int) -> None:
        if addr & (PAGE - 1):
            raise LinuxError(Errno.EINVAL)
        end = page_up(addr + length)
        if advice not in _ADVICE_HINTS and advice not in (MADV_DONTNEED, MADV_REMOVE):
            raise LinuxError(Errno.EINVAL)
        if end == addr:
            return
        if not self._covered(addr, end):
            raise LinuxError(Errno.ENOMEM)
        if advice != MADV_DONTNEED:
            return
        for vma in self.vmas():
            lo, hi = max(vma.start, addr), min(vma.end, end)
            if lo >= hi or vma.shared:
                continue
            try:
                self.aspace.discard(lo, hi - lo)
            except OSError as error:
                raise LinuxError(error.errno or Errno.EINVAL) from None  # [vvar]: EINVAL, as Linux
            if vma.inode is not None and not vma.host_backed:
                self._fill_from_inode(vma.inode, lo, hi - lo, vma.offset + (lo - vma.start))

    # --- brk --------------------------------------------------------------------------------

    def set_brk_start(self, addr: int) -> None:
        self.brk_start = self.brk_current = page_up(addr)

    def brk(self, requested: int) -> int:
        if requested < self.brk_start:
            return self.brk_current
        old_end, new_end = page_up(self.brk_current), page_up(requested)
        if new_end > old_end:
            if not self._free(old_end, new_end) or not self.budget.fits(new_end - old_end):
                return self.brk_current
            self.aspace.map(old_end, new_end - old_end, PROT_READ | PROT_WRITE)
            heap = self.find(old_end - 1) if old_end > self.brk_start else None
            if heap is not None and heap.name == b"[heap]":
                self._take_range(heap.start, heap.end)
                self._insert(heap.spanning(heap.start, new_end))
            else:
                self._insert(Vma(old_end, new_end, PROT_READ | PROT_WRITE, False, b"[heap]"))
        elif new_end < old_end:
            for vma in self._take_range(new_end, old_end):
                self.aspace.unmap(vma.start, vma.end - vma.start)
        self.brk_current = requested
        return requested

    # --- checked access to guest memory ------------------------------------------------------

    def check(self, addr: int, length: int, prot: int) -> None:
        if length == 0:
            return
        end = addr + length
        if addr < 0 or end > TASK_SIZE:
            raise LinuxError(Errno.EFAULT)
        while addr < end:
            vma = self.find(addr)
            if vma is None or vma.prot & prot != prot:
                raise LinuxError(Errno.EFAULT)
            addr = vma.end

    def read(self, addr: int, length: int) -> bytes:
        self.check(addr, length, PROT_READ)
        try:
            return self.aspace.read(addr, length)
        except GuestMemoryError:
            raise LinuxError(Errno.EFAULT) from None

    def write(self, addr: int, data: bytes) -> None:
        self.check(addr, len(data), PROT_WRITE)
        try:
            self.aspace.write(addr, data)
        except GuestMemoryError:
            raise LinuxError(Errno.EFAULT) from None

    def write_force(self, addr: int, data: bytes) -> None:
        """Write regardless of page protections (loader, signal frames on RO stacks never)."""
        if not self._covered(addr, addr + len(data)):
            raise LinuxError(Errno.EFAULT)
        self.aspace.write(addr, data)

    def read_cstring(self, addr: int, limit: int, too_long: int = Errno.ENAMETOOLONG) -> bytes:
        """A NUL-terminated string of at most `limit` bytes (excluding the NUL)."""
        # most strings (paths) are short: a first read of a few hundred bytes rather than
        # the rest of the page, then page by page
        first = min(PAGE - (addr & (PAGE - 1)), limit + 1, _FIRST_STRING_READ)
        chunk = self.read(addr, first)
        nul = chunk.find(0)
        if nul >= 0:
            return chunk[:nul]
        out = bytearray(chunk)
        if len(out) > limit:
            raise LinuxError(too_long)
        addr += first
        while True:
            chunk_len = PAGE - (addr & (PAGE - 1))
            chunk_len = min(chunk_len, limit + 1 - len(out))
            chunk = self.read(addr, chunk_len)
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            if len(out) > limit:
                raise LinuxError(too_long)
            addr += chunk_len

    def copy_from(self, other: MemoryManager) -> None:
        """Take over `other`'s bookkeeping for an address space the platform copied (fork)."""
        self.budget.used -= self.charged()
        self._vmas = [vma.copy() for vma in other._vmas]
        self._starts = list(other._starts)
        self.budget = other.budget
        self.budget.used += self.charged()
        self.layout = other.layout.copy()
        self.vdso_pieces = list(other.vdso_pieces)
        self.vdso_written = other.vdso_written
        self.brk_start, self.brk_current = other.brk_start, other.brk_current
        self.stack_start, self.stack_end = other.stack_start, other.stack_end
        self.arg_start, self.arg_end = other.arg_start, other.arg_end
        self.env_start, self.env_end = other.env_start, other.env_end

    # --- whole address space ---------------------------------------------------------------

    def clear(self) -> None:
        """Unmap everything (execve) but the vDSO, which stays (as a fresh one) if it is
        intact: where the platform put it, unmoved, never made writable. A vDSO the
        process unmapped, moved, mapped over or made writable is gone for good: the
        platform cannot make a new one, so later images run without."""
        intact = self._vdso_intact()
        changed = [vma for vma in self._vmas if _is_vdso(vma)] if intact else []
        taken = self._take_range(0, TASK_SIZE)
        for vma in taken:
            self._write_back(vma, vma.start, vma.end)
        if intact:
            keep = [(start, end) for start, end, _, _ in self.vdso_pieces]
            self._unmap_spans([vma for vma in taken if not _is_vdso(vma)], keep)
            for start, end, prot, name in self.vdso_pieces:
                if any(vma.start < end and start < vma.end and vma.prot != prot for vma in changed):
                    self.aspace.protect(start, end - start, prot)
                self._insert(Vma(start, end, prot, False, name, host_backed=True))
        else:
            self._unmap_spans(taken)
            self.vdso_pieces = []
        self.brk_start = self.brk_current = 0

    def _vdso_intact(self) -> bool:
        if not self.vdso_pieces or self.vdso_written:
            return False
        for start, end, _, name in self.vdso_pieces:
            addr = start
            while addr < end:  # every page still there, under its name (mprotect may split it)
                vma = self.find(addr)
                if vma is None or not _is_vdso(vma) or vma.name != name or vma.end > end:
                    return False
                addr = vma.end
        return True

    def vdso_base(self) -> int:
        """Where the process's [vdso] starts (AT_SYSINFO_EHDR), or 0 when it has none."""
        if not self._vdso_intact():
            return 0
        return next((start for start, _, _, name in self.vdso_pieces if name == b"[vdso]"), 0)

    def _unmap_spans(self, vmas: list[Vma], keep: list[tuple[int, int]] = ()) -> None:
        """Unmap `vmas` (sorted, just taken out of the list) on the host with as few calls
        as possible: one per run of mappings with no reserved or `keep` range among them,
        holes included (nothing of the guest's is mapped there, and unmapping a hole is a
        no-op)."""
        spans: list[list[int]] = []
        for vma in vmas:
            if spans and not self._hits_reserved(spans[-1][0], vma.end) and \
                    not any(lo < vma.end and spans[-1][0] < hi for lo, hi in keep):
                spans[-1][1] = vma.end
            else:
                spans.append([vma.start, vma.end])
        for start, end in spans:
            self.aspace.unmap(start, end - start)

    def forget(self) -> None:
        """The process is gone (its host memory with it): give its charge back to the
        sandbox. The VMA list stays, detached from the sandbox's budget."""
        self.budget.used -= self.charged()
        self.budget = Budget(None, Errno.ENOMEM)

    def total_mapped(self) -> int:
        return sum(v.end - v.start for v in self._vmas)

    def maps_text(self) -> bytes:
        lines = []
        for vma in self._vmas:
            perms = ("r" if vma.prot & PROT_READ else "-") + ("w" if vma.prot & PROT_WRITE else "-") + \
                    ("x" if vma.prot & PROT_EXEC else "-") + ("s" if vma.shared else "p")
            if vma.inode is not None:
                dev = vma.inode.fs.dev
                major, minor = dev >> 8, dev & 0xFF
                ino = vma.inode.ino
            else:
                major = minor = ino = 0
            head = f"{vma.start:08x}-{vma.end:08x} {perms} {vma.offset:08x} {major:02x}:{minor:02x} {ino}"
            lines.append(head.encode() + (b" " * max(1, 73 - len(head)) + vma.name if vma.name else b"") + b"\n")
        return b"".join(lines)
