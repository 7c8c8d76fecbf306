"""The South interface: everything the kernel may ask of a host.

Every method here is host attack surface, so the interface is small and each piece is
named for what the kernel needs, not for what a host happens to offer. A platform
(`platforms/linux`, `platforms/fake`, later `kvm` and `emu`) implements these
protocols; the kernel imports only this module from `slimbox.platforms`.

Conventions:
- Addresses and lengths are guest-virtual and page-aligned where the method says so.
- Host failures are raised as `OSError` carrying a Linux errno value; guest memory
  that is not mapped raises `GuestMemoryError`. The kernel turns both into errnos.
- Names and paths are `bytes`, as on Linux.
"""

from __future__ import annotations

from slimbox.abi.regs import Regs
from slimbox.abi.tuples import named_tuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, Optional, Protocol, Sequence

    #: what Platform.wait_serving hands each syscall to: (context, nr, args) -> the
    #: result to answer at once, or None once the kernel has seen to the call itself
    Serve = Callable[["Context", int, Sequence[int]], Optional[int]]
else:
    Protocol = object  # the protocols below document the interface; nothing checks them at run time

PAGE_SIZE = 4096


class GuestMemoryError(Exception):
    """A guest address that is not mapped (the kernel answers EFAULT)."""

    def __init__(self, address: int) -> None:
        super().__init__(f"guest address {address:#x} is not mapped")
        self.address = address


class PlatformUnavailable(Exception):
    """The host lacks something the platform needs; the message names what."""


# --- guest memory and threads -------------------------------------------------


class AddressSpace(Protocol):
    """One guest address space. The kernel's mm decides every address; the platform
    only carries out fixed-address operations and copies bytes. A platform may also
    offer `batched()`, a context manager inside which it may hold back map, unmap,
    protect and discard (and writes after them) and carry them out together, with the
    same outcome as one by one (MemoryManager.batched)."""

    def reserved(self) -> Sequence[tuple[int, int]]:
        """[start, end) ranges the platform itself occupies; never give them to the guest."""

    def vdso(self) -> Sequence[tuple[int, int, int, bytes]]:
        """The host's vDSO pieces this platform leaves mapped in a fresh address space,
        as (start, end, prot, name) with names b"[vvar]", b"[vvar_vclock]", b"[vdso]";
        empty when there is none. Unlike reserved() they belong to the guest: it sees
        them in /proc/PID/maps and may unmap, protect or map over them."""

    def map(self, addr: int, length: int, prot: int, *, shared: bool = False) -> None:
        """Map zero-filled anonymous memory at exactly `addr`, replacing what was there."""

    def map_file(self, addr: int, length: int, prot: int, host_file: HostFile, offset: int) -> bool:
        """Map a host file privately at exactly `addr` without copying, if this platform
        can; False means the kernel must copy the bytes in itself."""

    def unmap(self, addr: int, length: int) -> None: ...

    def protect(self, addr: int, length: int, prot: int) -> None: ...

    def move(self, old_addr: int, old_length: int, new_addr: int, new_length: int) -> None:
        """Move (and resize) a mapping to exactly `new_addr`, keeping its contents."""

    def discard(self, addr: int, length: int) -> None:
        """Drop the contents of private anonymous pages: they read as zero afterwards."""

    def read(self, addr: int, length: int) -> bytes:
        """Copy guest memory out, ignoring page protections (the kernel checks them)."""

    def write(self, addr: int, data: bytes) -> None:
        """Copy into guest memory, ignoring page protections (the kernel checks them)."""

    def close(self) -> None: ...


class Context(Protocol):
    """One guest thread. While it is stopped at an event, `regs` holds its registers;
    the kernel edits them and then resumes the thread."""

    regs: Regs
    #: the kernel's own handle for this thread (its Task); the platform never looks inside
    owner: object
    address_space: AddressSpace

    def resume(self) -> None:
        """Continue with `regs` as they are now."""

    def finish_syscall(self, result: int) -> None:
        """Complete the syscall the thread stopped in with `result` (a value or -errno)."""

    def kill(self) -> None:
        """End the whole process this thread belongs to; ExitEvents follow."""

    def interrupt(self) -> None:
        """Ask a running thread to stop; an InterruptEvent follows."""

    def cpu_time_ns(self) -> int:
        """CPU time this thread has used."""

    def process_cpu_time_ns(self) -> int:
        """CPU time all threads of this thread's process have used together."""

    def fpu_state(self) -> bytes:
        """The thread's FP/SSE/AVX state as an XSAVE (or 512-byte FXSAVE) image."""

    def set_fpu_state(self, data: bytes) -> None: ...

    def reset_fpu_state(self) -> None:
        """Put the FP state back to what a fresh process starts with."""

    def fork(self) -> Context:
        """A new process with a copy of this one's memory and one stopped thread whose
        registers are a copy of this thread's (this thread must be stopped)."""

    def spawn_thread(self) -> Context:
        """A new stopped thread in this address space, registers copied from this one."""

    def exit_thread(self) -> None:
        """End this thread only; the rest of its process goes on."""


# --- events ---------------------------------------------------------------------


class SyscallEvent:
    """`context` executed `syscall` number `nr` with six raw argument values."""

    __slots__ = ("context", "nr", "args")

    def __init__(self, context: Context, nr: int, args: list[int]) -> None:
        self.context = context
        self.nr = nr
        self.args = args


class FaultEvent:
    """`context` took a synchronous fault (or an unsupported instruction such as int 0x80)."""

    __slots__ = ("context", "signal", "code", "address", "description")

    def __init__(self, context: Context, signal: int, code: int, address: int, description: str) -> None:
        self.context = context
        self.signal = signal
        self.code = code
        self.address = address
        self.description = description


class ExitEvent:
    """`context`'s host thread is gone. `killed_by` is the host signal, or 0."""

    __slots__ = ("context", "killed_by", "description")

    def __init__(self, context: Context, killed_by: int, description: str) -> None:
        self.context = context
        self.killed_by = killed_by
        self.description = description


class InterruptEvent:
    """`context` stopped because the kernel asked it to (Context.interrupt)."""

    __slots__ = ("context",)

    def __init__(self, context: Context) -> None:
        self.context = context


class HostReadyEvent:
    """A host object the kernel asked to watch is ready; `key` is the kernel's key."""

    __slots__ = ("key",)

    def __init__(self, key: object) -> None:
        self.key = key


Event = SyscallEvent | FaultEvent | ExitEvent | InterruptEvent | HostReadyEvent


# --- host services ----------------------------------------------------------------


#: a host file's attributes
HostStat = named_tuple("HostStat", "mode ino dev nlink uid gid rdev size blksize blocks atime_ns mtime_ns ctime_ns")


class HostFile(Protocol):
    """An open regular file in a host directory the policy exposes."""

    def pread(self, length: int, offset: int) -> bytes: ...

    def pwrite(self, data: bytes, offset: int) -> int: ...

    def stat(self) -> HostStat: ...

    def truncate(self, size: int) -> None: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class HostDirectory(Protocol):
    """A host directory. Every name is one path component (no '/', not '.' or '..')
    and is never followed if it is a symlink, so nothing can leave the directory."""

    def stat(self) -> HostStat: ...

    def lookup(self, name: bytes) -> HostStat: ...

    def subdir(self, name: bytes) -> HostDirectory: ...

    def list(self) -> list[tuple[bytes, int, int]]:
        """(name, host inode number, file type S_IF*) of each entry, as the directory
        listing gives them; the type is 0 when the listing does not tell (or the entry
        is neither a regular file, a directory nor a symlink)."""

    def open_file(self, name: bytes, flags: int, mode: int) -> HostFile:
        """Open (or create, with O_CREAT) a regular file; flags use Linux O_* values."""

    def readlink(self, name: bytes) -> bytes: ...

    def mkdir(self, name: bytes, mode: int) -> None: ...

    def rmdir(self, name: bytes) -> None: ...

    def unlink(self, name: bytes) -> None: ...

    def rename(self, name: bytes, new_dir: HostDirectory, new_name: bytes) -> None: ...

    def link(self, name: bytes, new_dir: HostDirectory, new_name: bytes) -> None: ...

    def symlink(self, target: bytes, name: bytes) -> None: ...

    def mkfifo(self, name: bytes, mode: int) -> None: ...

    def chmod(self, name: bytes, mode: int) -> None: ...

    def chown(self, name: bytes, uid: int, gid: int) -> None: ...

    def set_times(self, name: bytes, atime_ns: int | None, mtime_ns: int | None) -> None: ...

    def close(self) -> None: ...


class HostStream(Protocol):
    """One of the sandbox's standard streams as the host provides it."""

    def ready(self) -> bool:
        """Whether a read would return at once (data or end of file)."""

    def read(self, length: int) -> bytes | None:
        """Read what is there; None if nothing is ready yet, b'' at end of file."""

    def write(self, data: bytes) -> int: ...

    def is_terminal(self) -> bool: ...

    def stat(self) -> HostStat:
        """What the stream is on the host (the kernel keeps only its type and size)."""

    def terminal_attributes(self) -> bytes:
        """The 36-byte kernel `struct termios` (raises OSError ENOTTY if not a terminal)."""

    def set_terminal_attributes(self, when: int, termios: bytes) -> None: ...

    def window_size(self) -> bytes:
        """The 8-byte `struct winsize`."""

    def pending(self) -> int:
        """Bytes ready to read without blocking."""

    def close(self) -> None: ...


class Host(Protocol):
    """Services of the machine the sandbox runs on; cheap to create, no guest involved."""

    def clock_ns(self, clock: int) -> int:
        """The host's clock `clock`, in nanoseconds: CLOCK_REALTIME (0), CLOCK_MONOTONIC
        (1), and the variants a vDSO answers (MONOTONIC_RAW 4, REALTIME_COARSE 5,
        MONOTONIC_COARSE 6, BOOTTIME 7, TAI 11); a host without them answers the variants
        from realtime (5, 11) or monotonic (4, 6, 7)."""

    def entropy(self, length: int) -> bytes: ...

    def stdio(self) -> tuple[HostStream, HostStream, HostStream]: ...

    def open_host_directory(self, path: str, writable: bool) -> HostDirectory:
        """The single way into the host's filesystem, used for mounts the policy names."""

    def open_archive(self, path: str) -> BinaryIO:
        """A host file opened for reading, for a tar archive the policy names as root."""

    def cpu_count(self) -> int: ...

    def memory_bytes(self) -> int: ...

    def hardware_capabilities(self) -> dict[int, int]:
        """Auxiliary-vector entries describing the CPU (AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ)."""


class HostConnection(Protocol):
    """A host TCP connection the supervisor holds for the sandbox; non-blocking."""

    def connect_result(self) -> int:
        """The errno a finished connect ended with (0: connected)."""

    def send(self, data: bytes) -> int:
        """Bytes the host took; 0 when its buffer is full. OSError for a broken connection."""

    def receive(self, length: int) -> bytes | None:
        """Up to `length` bytes; None if nothing has come yet, b'' at end of stream."""

    def shutdown_send(self) -> None: ...

    def close(self) -> None: ...


class HostDatagramSocket(Protocol):
    """A host UDP socket the supervisor holds for the sandbox; non-blocking, unconnected."""

    def send_to(self, data: bytes, ip: bytes, port: int) -> int:
        """Bytes sent; 0 when the host's buffer is full (the datagram is lost)."""

    def receive_from(self, length: int) -> tuple[bytes, tuple[bytes, int]] | None:
        """The next datagram and its source (16-byte ip, port), or None."""

    def close(self) -> None: ...


class HostListener(Protocol):
    """A listening host socket that publishes a sandbox port."""

    #: (16-byte ip, port) it is bound to
    address: tuple[bytes, int]

    def accept(self) -> tuple[HostConnection, tuple[bytes, int]] | None:
        """The next connection and its client's (16-byte ip, port), or None."""

    def close(self) -> None: ...


class HostNetwork(Protocol):
    """The host side of a sandbox's network: connections the policy allows and
    listeners that publish sandbox ports. Addresses are 16 bytes (IPv4 v4-mapped).
    The platform watches it like a host stream (`Platform.watch_readable`): it is
    ready when one of its sockets is, and `ready_keys()` then names their keys."""

    def ready(self) -> bool: ...

    def ready_keys(self) -> list[object]:
        """Keys of sockets ready now for what they are watched for (never waits)."""

    def watch(self, handle: HostConnection | HostListener | HostDatagramSocket, key: object, readable: bool,
              writable: bool) -> None:
        """Report `key` from ready_keys() while `handle` is readable and/or writable."""

    def connect(self, ip: bytes, port: int) -> HostConnection:
        """Start a TCP connection; it completes when the connection turns writable."""

    def open_datagram(self, ip: bytes) -> HostDatagramSocket:
        """A UDP socket of the family that reaches `ip`."""

    def listen(self, ip: str, port: int) -> HostListener: ...

    def resolve(self, name: str) -> list[bytes]:
        """The addresses of a host name as the host resolves it."""

    def close(self) -> None: ...


class Platform(Protocol):
    """A way of hosting guest code."""

    name: str
    host: Host

    def new_process(self) -> Context:
        """A fresh, empty address space with one stopped thread in it."""

    def wait(self, timeout_ns: int | None) -> list[Event]:
        """Block until something happens or `timeout_ns` passes (None: no limit)."""

    # A platform may also offer
    #     def wait_serving(self, timeout_ns: int | None, serve: Serve) -> list[Event]
    # : wait() that hands syscalls to `serve` as they arrive and answers them with the int
    # it returns, going on waiting; None from `serve` ends the wait. The kernel uses it
    # when present: a syscall then costs no event object and no turn of the kernel loop.

    def watch_readable(self, stream: HostStream, key: object) -> None:
        """Report HostReadyEvent(key) once when `stream` has data or reaches end of file."""

    def poke(self) -> None:
        """Make a blocked wait() return soon; safe to call from a signal handler."""

    def lock_down(self, *, network: bool = False) -> None:
        """Restrict the supervisor to the host syscalls a running sandbox needs, with
        those of host sockets when `network` (irreversible; for a process dedicated
        to one sandbox)."""

    def close(self) -> None:
        """Kill every guest thread and release what the platform holds."""
