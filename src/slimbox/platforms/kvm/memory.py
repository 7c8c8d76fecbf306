"""Guest-physical memory: one anonymous host mapping cut into 4 KiB frames.

The mapping is reserved with MAP_NORESERVE and can be far larger than what a sandbox
ever uses: the host backs only the pages that are touched. Frames are handed out from
a free list first (zeroed again on the way out) and otherwise from a high-water mark
of never-used, still-zero frames. A frame may be referenced more than once (a shared
mapping seen by two address spaces, a page shared copy-on-write after fork); `share`
adds a reference and `release` drops one, so the frame goes back to the free list only
when its last user lets go. When a large batch is freed at once (a process ends), the
host gets that memory back.

Frame 0 is never handed out: guest-physical address 0 means "no frame" everywhere.
"""

from __future__ import annotations

import ctypes
import errno
import mmap

from slimbox.platforms.base import PAGE_SIZE

#: Linux MAP_NORESERVE (the mmap module of Python 3.11 does not name it)
_MAP_NORESERVE = 0x4000
_ZERO_FRAME = bytes(PAGE_SIZE)
#: frames freed at once from which on the host gets their memory back (16 MiB)
TRIM_FRAMES = 4096
#: frame states in GuestMemory._state
_FREE, _USED = 0, 1


class GuestMemory:
    """Guest-physical memory of `size` bytes (a multiple of 4 KiB), allocated by frame."""

    def __init__(self, size: int) -> None:
        if size < 2 * PAGE_SIZE or size % PAGE_SIZE:
            raise ValueError(f"guest memory size {size:#x} is not a multiple of 4 KiB of at least two frames")
        self.size = size
        self._map = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE,
                              prot=mmap.PROT_READ | mmap.PROT_WRITE)
        anchor = ctypes.c_char.from_buffer(self._map)
        self.host_address = ctypes.addressof(anchor)
        del anchor  # the export would keep the mapping from ever being closed
        #: the whole of guest memory as bytes and as 64-bit words (page-table entries)
        self.bytes = memoryview(self._map)
        self.words = self.bytes.cast("Q")
        self._frames = size // PAGE_SIZE
        # one byte per frame; calloc'd, so the host backs only the part that is used
        self._state = bytearray(self._frames)
        self._free: list[int] = []
        self._next = 1  # frame 0 is never used
        #: frame number -> references beyond the first (shared frames only)
        self._extra: dict[int, int] = {}
        self._in_use = 0
        self.closed = False

    @property
    def frames_in_use(self) -> int:
        return self._in_use

    @property
    def frames_total(self) -> int:
        return self._frames - 1

    def allocate(self, zeroed: bool = True) -> int:
        """A zeroed frame's guest-physical address (OSError ENOMEM when memory is full);
        not necessarily zeroed when the caller fills all of it at once (`zeroed` False)."""
        if self._free:
            frame = self._free.pop()
            if zeroed:
                start = frame * PAGE_SIZE
                self.bytes[start:start + PAGE_SIZE] = _ZERO_FRAME
        elif self._next < self._frames:
            frame = self._next  # never used: still zero
            self._next += 1
        else:
            raise OSError(errno.ENOMEM, f"guest memory is full ({self.size >> 20} MiB)")
        self._state[frame] = _USED
        self._in_use += 1
        return frame * PAGE_SIZE

    def allocate_many(self, count: int, zeroed: bool = True) -> list[int]:
        """`count` frames at once (all or none; OSError ENOMEM), never-used ones in
        ascending order so that neighbours in guest-virtual memory tend to be neighbours
        in guest-physical memory too (one copy for a run of pages)."""
        reused = min(count, len(self._free))
        fresh = count - reused
        if self._next + fresh > self._frames:
            raise OSError(errno.ENOMEM, f"guest memory is full ({self.size >> 20} MiB)")
        frames = self._free[len(self._free) - reused:] if reused else []
        del self._free[len(self._free) - reused:]
        state, memory_bytes = self._state, self.bytes
        for frame in frames:
            state[frame] = _USED
            if zeroed:
                memory_bytes[frame * PAGE_SIZE:(frame + 1) * PAGE_SIZE] = _ZERO_FRAME
        if fresh:
            state[self._next:self._next + fresh] = b"\1" * fresh
            frames.extend(range(self._next, self._next + fresh))
            self._next += fresh
        self._in_use += count
        return [frame * PAGE_SIZE for frame in frames]

    def share(self, gpa: int) -> None:
        """One more reference to an allocated frame."""
        frame = self._frame(gpa)
        self._extra[frame] = self._extra.get(frame, 0) + 1

    def share_many(self, gpas: list[int]) -> None:
        """`share` for each of `gpas`."""
        extra, state = self._extra, self._state
        for gpa in gpas:
            frame = gpa // PAGE_SIZE
            if gpa % PAGE_SIZE or not 0 < frame < self._next or state[frame] != _USED:
                raise ValueError(f"{gpa:#x} is not an allocated frame")
            extra[frame] = extra.get(frame, 0) + 1

    def references(self, gpa: int) -> int:
        frame = self._frame(gpa)
        return 1 + self._extra.get(frame, 0)

    def release(self, gpa: int) -> None:
        """Drop one reference; the frame is free again when none is left."""
        frame = self._frame(gpa)
        extra = self._extra.get(frame)
        if extra is not None:
            if extra > 1:
                self._extra[frame] = extra - 1
            else:
                del self._extra[frame]
            return
        self._state[frame] = _FREE
        self._free.append(frame)
        self._in_use -= 1

    def release_many(self, gpas: list[int]) -> None:
        """`release` for each of `gpas`."""
        extra, state, free = self._extra, self._state, self._free
        freed = 0
        for gpa in gpas:
            frame = gpa // PAGE_SIZE
            if gpa % PAGE_SIZE or not 0 < frame < self._next or state[frame] != _USED:
                raise ValueError(f"{gpa:#x} is not an allocated frame")
            more = extra.get(frame)
            if more is None:
                state[frame] = _FREE
                free.append(frame)
                freed += 1
            elif more > 1:
                extra[frame] = more - 1
            else:
                del extra[frame]
        self._in_use -= freed
        if freed >= TRIM_FRAMES:
            self._give_back(gpas)

    def _give_back(self, gpas: list[int]) -> None:
        """Let the host reclaim the memory behind a large batch of freed frames (a
        process that exited): they stay on the free list and read as zero."""
        state = self._state
        frames = sorted(gpa // PAGE_SIZE for gpa in gpas if state[gpa // PAGE_SIZE] == _FREE)
        start = previous = -2
        for frame in frames + [-1]:
            if frame != previous + 1:
                if start >= 0:
                    self._map.madvise(mmap.MADV_DONTNEED, start * PAGE_SIZE, (previous + 1 - start) * PAGE_SIZE)
                start = frame
            previous = frame

    def view(self, gpa: int, length: int) -> memoryview:
        """Bytes [gpa, gpa + length) of guest-physical memory."""
        if gpa < 0 or length < 0 or gpa + length > self.size:
            raise ValueError(f"guest-physical range {gpa:#x}+{length:#x} is outside guest memory")
        return self.bytes[gpa:gpa + length]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._free.clear()
        self._extra.clear()
        self.words.release()
        self.bytes.release()
        try:
            self._map.close()
        except BufferError:
            pass  # a view is still held somewhere; the mapping goes when that view does

    def _frame(self, gpa: int) -> int:
        frame = gpa // PAGE_SIZE
        if gpa % PAGE_SIZE or not 0 < frame < self._next or self._state[frame] != _USED:
            raise ValueError(f"{gpa:#x} is not an allocated frame")
        return frame
