"""Guest memory of the emu platform: host buffers mapped into a unicorn instance.

Every guest mapping is backed by an anonymous host `mmap` buffer (zero-filled and
committed page by page by the host as it is touched) that unicorn uses in place
(`uc_mem_map_ptr`), so the kernel reads and writes guest memory by slicing the
buffer, without a call into the emulator. Each `Region` is one unicorn mapping: a
range, its protection, its buffer and the offset into it. Unmapping or protecting
part of a region replaces it by the pieces left, still over the same buffer.

Fork gives the child a new unicorn instance: private buffers are copied (all-zero
chunks skipped, so untouched memory stays uncommitted), shared ones (MAP_SHARED) are
mapped by both, so writes on either side are seen by the other.
"""

from __future__ import annotations

import bisect
import ctypes
import errno
import mmap

from slimbox.platforms.base import PAGE_SIZE, GuestMemoryError
from slimbox.platforms.emu import fpu
from slimbox.platforms.emu.engine import Engine

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from slimbox.platforms.emu.cpu import EmuThread

_PROT_READ, _PROT_WRITE, _PROT_EXEC = 1, 2, 4
#: protection bits the host's mprotect takes on any mapping: read, write, exec, PROT_SEM
_HOST_PROT = 0x1 | 0x2 | 0x4 | 0x8
_COPY_CHUNK = 1 << 20
_ZERO_CHUNK = bytes(_COPY_CHUNK)


class Backing:
    """A zero-filled host buffer guest memory lives in, and its address for unicorn."""

    __slots__ = ("buffer", "address", "size", "shared", "_anchor")

    def __init__(self, size: int, shared: bool) -> None:
        self.buffer = mmap.mmap(-1, size)
        self._anchor = ctypes.c_char.from_buffer(self.buffer)  # keeps the buffer's memory in place
        self.address = ctypes.addressof(self._anchor)
        self.size = size
        self.shared = shared

    def copy(self) -> Backing:
        """A private copy (what a fork gives the child)."""
        twin = Backing(self.size, False)
        source, target = self.buffer, twin.buffer
        for at in range(0, self.size, _COPY_CHUNK):
            chunk = source[at:at + _COPY_CHUNK]
            if chunk != _ZERO_CHUNK[:len(chunk)]:
                target[at:at + len(chunk)] = chunk
        return twin


class Region:
    """[start, end) mapped with `prot` over `backing` from byte `offset`."""

    __slots__ = ("start", "end", "prot", "backing", "offset")

    def __init__(self, start: int, end: int, prot: int, backing: Backing, offset: int) -> None:
        self.start = start
        self.end = end
        self.prot = prot
        self.backing = backing
        self.offset = offset

    def piece(self, start: int, end: int, prot: int | None = None) -> Region:
        return Region(start, end, self.prot if prot is None else prot, self.backing,
                      self.offset + start - self.start)


def unicorn_perms(prot: int) -> int:
    """What the emulated CPU may do: on x86, writable or executable pages are readable."""
    perms = prot & (_PROT_READ | _PROT_WRITE | _PROT_EXEC)
    if perms & (_PROT_WRITE | _PROT_EXEC):
        perms |= _PROT_READ
    return perms


def _checked_length(addr: int, length: int) -> int:
    if addr % PAGE_SIZE or addr < 0 or length <= 0:
        raise OSError(errno.EINVAL, "misaligned address or empty range")
    return -(-length // PAGE_SIZE) * PAGE_SIZE


class EmuAddressSpace:
    """One guest address space: a unicorn instance, its regions and its threads."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine if engine is not None else Engine()
        self._starts: list[int] = []
        self._regions: list[Region] = []
        #: the threads of this process; `loaded` is the one whose CPU state is in the engine
        self.threads: list[EmuThread] = []
        self.loaded: EmuThread | None = None
        #: CPU time of threads that have ended
        self.exited_cpu_ns = 0
        self.dead = False
        #: where FP state images are made (fpu.py)
        self.fpu = fpu.StubPages()
        self.fpu.enter_user_mode(self.engine)
        #: the CPU as it is in user mode before anything ran: a fault's exception is
        #: forgotten by going back to it (see forget_exception)
        self.clean_cpu = self.engine.new_cpu_state()
        self.engine.save_cpu(self.clean_cpu)

    # --- AddressSpace ---------------------------------------------------------------

    def reserved(self) -> list[tuple[int, int]]:
        return [(fpu.CODE_PAGE, fpu.DATA_PAGE + PAGE_SIZE)]

    def vdso(self) -> list[tuple[int, int, int, bytes]]:
        return []  # no host vDSO here: guest clocks are syscalls

    def map(self, addr: int, length: int, prot: int, *, shared: bool = False) -> None:
        length = _checked_length(addr, length)
        self._live()
        self._carve(addr, addr + length)
        self._add(Region(addr, addr + length, prot, Backing(length, shared), 0))

    def map_file(self, addr: int, length: int, prot: int, host_file, offset: int) -> bool:
        return False  # the kernel copies file contents in (there is no host mapping to share)

    def unmap(self, addr: int, length: int) -> None:
        length = _checked_length(addr, length)
        self._live()
        self._carve(addr, addr + length)

    def protect(self, addr: int, length: int, prot: int) -> None:
        length = _checked_length(addr, length)
        if prot & ~_HOST_PROT:
            raise OSError(errno.EINVAL, "protection bits the host would refuse")
        self._live()
        end = addr + length
        self._require(addr, end, errno.ENOMEM)
        for region in self._carve(addr, end):
            self._add(region.piece(region.start, region.end, prot))

    def move(self, old_addr: int, old_length: int, new_addr: int, new_length: int) -> None:
        old_length = _checked_length(old_addr, old_length)
        new_length = _checked_length(new_addr, new_length)
        self._live()
        self._require(old_addr, old_addr + old_length, errno.EFAULT)
        pieces = self._carve(old_addr, old_addr + old_length)
        self._carve(new_addr, new_addr + new_length)
        kept = min(old_length, new_length)
        for region in pieces:
            start = region.start - old_addr
            if start >= kept:
                break
            end = min(region.end - old_addr, kept)
            moved = region.piece(region.start, old_addr + end)
            moved.start, moved.end = new_addr + start, new_addr + end
            self._add(moved)
        if new_length > old_length:
            last = pieces[-1]
            self._add(Region(new_addr + old_length, new_addr + new_length, last.prot,
                             Backing(new_length - old_length, last.backing.shared), 0))

    def discard(self, addr: int, length: int) -> None:
        length = _checked_length(addr, length)
        self._live()
        end = addr + length
        self._require(addr, end, errno.ENOMEM)
        for region in self._overlapping(addr, end):
            lo, hi = max(region.start, addr), min(region.end, end)
            if region.backing.shared:
                continue  # shared pages keep their contents, as on Linux
            at = region.offset + lo - region.start
            buffer = region.backing.buffer
            for chunk in range(at, at + hi - lo, _COPY_CHUNK):
                size = min(_COPY_CHUNK, at + hi - lo - chunk)
                buffer[chunk:chunk + size] = _ZERO_CHUNK[:size]

    def read(self, addr: int, length: int) -> bytes:
        if length <= 0:
            return b""
        region = self._region_at(addr)
        if region is not None and addr + length <= region.end:  # the common case: one region
            at = region.offset + addr - region.start
            return region.backing.buffer[at:at + length]
        out = bytearray()
        while len(out) < length:
            at = addr + len(out)
            region = self._region_at(at)
            if region is None:
                raise GuestMemoryError(at)
            take = min(region.end - at, length - len(out))
            offset = region.offset + at - region.start
            out += region.backing.buffer[offset:offset + take]
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        length = len(data)
        done = 0
        while done < length:
            at = addr + done
            region = self._region_at(at)
            if region is None:
                raise GuestMemoryError(at)
            take = min(region.end - at, length - done)
            offset = region.offset + at - region.start
            region.backing.buffer[offset:offset + take] = data[done:done + take] if done or take < length else data
            if region.prot & _PROT_EXEC:
                self.engine.forget_code(at, at + take)
            done += take

    def forget_exception(self) -> None:
        """Make the loaded thread's CPU forget the exception it just took. unicorn hands
        exceptions to the hook without delivering them, so the CPU still holds one "in
        flight": the next would become a double fault, the one after a CPU reset. Going
        back to the clean CPU state and putting the thread's registers and FP state in
        again clears it."""
        engine = self.engine
        values = engine.read(engine.full)
        image = self.fpu.save(engine)
        engine.restore_cpu(self.clean_cpu)
        engine.write(engine.full, values)
        self.fpu.restore(engine, image)

    def close(self) -> None:
        """Release the memory and the emulator (the process is gone)."""
        self.dead = True
        self._regions.clear()
        self._starts.clear()
        self.engine.free_cpu_state(self.clean_cpu)
        self.engine.close()

    # --- fork -------------------------------------------------------------------------

    def copy(self) -> EmuAddressSpace:
        """A new address space with this one's mappings: private memory copied, shared
        memory shared."""
        self._live()
        child = EmuAddressSpace()
        copies: dict[int, Backing] = {}
        for region in self._regions:
            backing = region.backing
            if not backing.shared:
                twin = copies.get(id(backing))
                if twin is None:
                    twin = copies[id(backing)] = backing.copy()
                backing = twin
            child._add(Region(region.start, region.end, region.prot, backing, region.offset))
        return child

    # --- inspection ------------------------------------------------------------------------

    def mappings(self) -> list[tuple[int, int, int, bool]]:
        """(start, end, prot, shared) of every region, in address order."""
        return [(r.start, r.end, r.prot, r.backing.shared) for r in self._regions]

    # --- regions ------------------------------------------------------------------------

    def _live(self) -> None:
        if self.dead:
            raise OSError(errno.ESRCH, "the process's address space is gone")

    def _region_at(self, addr: int) -> Region | None:
        index = bisect.bisect_right(self._starts, addr) - 1
        if index >= 0:
            region = self._regions[index]
            if region.end > addr:
                return region
        return None

    def _overlapping(self, start: int, end: int) -> list[Region]:
        index = max(bisect.bisect_right(self._starts, start) - 1, 0)
        out = []
        while index < len(self._regions) and self._regions[index].start < end:
            if self._regions[index].end > start:
                out.append(self._regions[index])
            index += 1
        return out

    def _require(self, start: int, end: int, error: int) -> None:
        addr = start
        while addr < end:
            region = self._region_at(addr)
            if region is None:
                raise OSError(error, f"{addr:#x} is not mapped")
            addr = region.end

    def _add(self, region: Region) -> None:
        self.engine.map_host_memory(region.start, region.end - region.start, unicorn_perms(region.prot),
                                    region.backing.address + region.offset)
        if region.prot & _PROT_EXEC:
            self.engine.forget_code(region.start, region.end)
        index = bisect.bisect_left(self._starts, region.start)
        self._starts.insert(index, region.start)
        self._regions.insert(index, region)

    def _carve(self, start: int, end: int) -> list[Region]:
        """Take [start, end) out of the map; returns the pieces taken, in order."""
        taken = []
        for region in self._overlapping(start, end):
            index = bisect.bisect_left(self._starts, region.start)
            del self._starts[index]
            del self._regions[index]
            self.engine.unmap(region.start, region.end - region.start)
            if region.prot & _PROT_EXEC:
                self.engine.forget_code(region.start, region.end)
            lo, hi = max(region.start, start), min(region.end, end)
            taken.append(region.piece(lo, hi))
            if region.start < lo:
                self._add(region.piece(region.start, lo))
            if hi < region.end:
                self._add(region.piece(hi, region.end))
        return taken
