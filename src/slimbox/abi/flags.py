"""Linux x86-64 constants: flag sets (IntFlag), value sets (IntEnum) and limits.

Values are the kernel's (uapi) ones, which sometimes differ from libc's:
O_LARGEFILE is 0o100000 here although glibc defines it as 0 on x86-64.
`FLAG_SETS` and `ENUM_SETS` name the sets that syscall prototypes refer to
("flags:<set>", "enum:<set>"); `describe_*` render values strace-style.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, IntFlag
from types import MappingProxyType

# --------------------------------------------------------------------------
# Limits and sizes
# --------------------------------------------------------------------------

PAGE_SIZE = 4096
PATH_MAX = 4096
NAME_MAX = 255
PIPE_BUF = 4096
UTSNAME_LENGTH = 65  # each field of struct new_utsname, NUL included
SIGSET_SIZE = 8  # the only sigsetsize the rt_sig* calls accept on x86-64

# --------------------------------------------------------------------------
# open(2) and *at(2)
# --------------------------------------------------------------------------

O_ACCMODE = 0o3
O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2

ACCESS_MODE_NAMES: Mapping[int, str] = MappingProxyType(
    {O_RDONLY: "O_RDONLY", O_WRONLY: "O_WRONLY", O_RDWR: "O_RDWR", O_ACCMODE: "O_ACCMODE"}
)


class OpenFlag(IntFlag):
    """open(2) flags other than the access mode (see `O_ACCMODE`)."""

    O_CREAT = 0o100
    O_EXCL = 0o200
    O_NOCTTY = 0o400
    O_TRUNC = 0o1000
    O_APPEND = 0o2000
    O_NONBLOCK = 0o4000
    O_NDELAY = 0o4000
    O_DSYNC = 0o10000
    O_ASYNC = 0o20000
    FASYNC = 0o20000
    O_DIRECT = 0o40000
    O_LARGEFILE = 0o100000
    O_DIRECTORY = 0o200000
    O_NOFOLLOW = 0o400000
    O_NOATIME = 0o1000000
    O_CLOEXEC = 0o2000000
    O_SYNC = 0o4010000  # __O_SYNC | O_DSYNC
    O_PATH = 0o10000000
    O_TMPFILE = 0o20200000  # __O_TMPFILE | O_DIRECTORY


AT_FDCWD = -100
AT_STATX_SYNC_AS_STAT = 0x0000
AT_STATX_SYNC_TYPE = 0x6000


class AtFlag(IntFlag):
    """AT_* flags of the *at(2) calls (AT_EACCESS shares AT_REMOVEDIR's bit)."""

    AT_SYMLINK_NOFOLLOW = 0x100
    AT_REMOVEDIR = 0x200
    AT_EACCESS = 0x200
    AT_SYMLINK_FOLLOW = 0x400
    AT_NO_AUTOMOUNT = 0x800
    AT_EMPTY_PATH = 0x1000
    AT_STATX_FORCE_SYNC = 0x2000
    AT_STATX_DONT_SYNC = 0x4000
    AT_RECURSIVE = 0x8000
    AT_EXECVE_CHECK = 0x10000


class FaccessatFlag(IntFlag):
    """faccessat2(2) flags, where bit 0x200 means AT_EACCESS."""

    AT_SYMLINK_NOFOLLOW = 0x100
    AT_EACCESS = 0x200
    AT_EMPTY_PATH = 0x1000


F_OK = 0


class AccessMode(IntFlag):
    """access(2) mode bits; F_OK (0) only tests existence."""

    X_OK = 1
    W_OK = 2
    R_OK = 4


class RenameFlag(IntFlag):
    RENAME_NOREPLACE = 1 << 0
    RENAME_EXCHANGE = 1 << 1
    RENAME_WHITEOUT = 1 << 2


# --------------------------------------------------------------------------
# File modes and stat/statx
# --------------------------------------------------------------------------

S_IFMT = 0o170000
S_ISUID = 0o4000
S_ISGID = 0o2000
S_ISVTX = 0o1000
S_IRWXU = 0o700
S_IRUSR = 0o400
S_IWUSR = 0o200
S_IXUSR = 0o100
S_IRWXG = 0o70
S_IRGRP = 0o40
S_IWGRP = 0o20
S_IXGRP = 0o10
S_IRWXO = 0o7
S_IROTH = 0o4
S_IWOTH = 0o2
S_IXOTH = 0o1
S_IALLUGO = 0o7777  # every permission bit, including setuid/setgid/sticky


class FileType(IntEnum):
    """The `mode & S_IFMT` part of st_mode (also DT_* << 12)."""

    S_IFIFO = 0o010000
    S_IFCHR = 0o020000
    S_IFDIR = 0o040000
    S_IFBLK = 0o060000
    S_IFREG = 0o100000
    S_IFLNK = 0o120000
    S_IFSOCK = 0o140000


class StatxMask(IntFlag):
    STATX_TYPE = 0x1
    STATX_MODE = 0x2
    STATX_NLINK = 0x4
    STATX_UID = 0x8
    STATX_GID = 0x10
    STATX_ATIME = 0x20
    STATX_MTIME = 0x40
    STATX_CTIME = 0x80
    STATX_INO = 0x100
    STATX_SIZE = 0x200
    STATX_BLOCKS = 0x400
    STATX_BASIC_STATS = 0x7FF
    STATX_BTIME = 0x800
    STATX_MNT_ID = 0x1000
    STATX_DIOALIGN = 0x2000
    STATX_MNT_ID_UNIQUE = 0x4000
    STATX_SUBVOL = 0x8000
    STATX_WRITE_ATOMIC = 0x10000
    STATX_DIO_READ_ALIGN = 0x20000


STATX_ALL = 0xFFF  # deprecated by the kernel; kept for old callers
STATX__RESERVED = 0x80000000


class StatxAttr(IntFlag):
    """stx_attributes bits."""

    STATX_ATTR_COMPRESSED = 0x4
    STATX_ATTR_IMMUTABLE = 0x10
    STATX_ATTR_APPEND = 0x20
    STATX_ATTR_NODUMP = 0x40
    STATX_ATTR_ENCRYPTED = 0x800
    STATX_ATTR_AUTOMOUNT = 0x1000
    STATX_ATTR_MOUNT_ROOT = 0x2000
    STATX_ATTR_VERITY = 0x100000
    STATX_ATTR_DAX = 0x200000
    STATX_ATTR_WRITE_ATOMIC = 0x400000


# --------------------------------------------------------------------------
# Memory management
# --------------------------------------------------------------------------

PROT_NONE = 0x0


class Prot(IntFlag):
    PROT_READ = 0x1
    PROT_WRITE = 0x2
    PROT_EXEC = 0x4
    PROT_SEM = 0x8
    PROT_GROWSDOWN = 0x01000000
    PROT_GROWSUP = 0x02000000


MAP_FILE = 0
MAP_TYPE = 0x0F
MAP_HUGE_SHIFT = 26
MAP_HUGE_MASK = 0x3F
MAP_HUGE_2MB = 21 << MAP_HUGE_SHIFT
MAP_HUGE_1GB = 30 << MAP_HUGE_SHIFT


class MapFlag(IntFlag):
    """mmap(2) flags; the low nibble (`MAP_TYPE`) holds one mapping type."""

    MAP_SHARED = 0x01
    MAP_PRIVATE = 0x02
    MAP_SHARED_VALIDATE = 0x03
    MAP_DROPPABLE = 0x08
    MAP_FIXED = 0x10
    MAP_ANONYMOUS = 0x20
    MAP_ANON = 0x20
    MAP_32BIT = 0x40
    MAP_ABOVE4G = 0x80
    MAP_GROWSDOWN = 0x0100
    MAP_DENYWRITE = 0x0800
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


class MremapFlag(IntFlag):
    MREMAP_MAYMOVE = 1
    MREMAP_FIXED = 2
    MREMAP_DONTUNMAP = 4


class MsyncFlag(IntFlag):
    MS_ASYNC = 1
    MS_INVALIDATE = 2
    MS_SYNC = 4


class MlockFlag(IntFlag):
    MLOCK_ONFAULT = 0x01


class MlockallFlag(IntFlag):
    MCL_CURRENT = 1
    MCL_FUTURE = 2
    MCL_ONFAULT = 4


class Madvise(IntEnum):
    MADV_NORMAL = 0
    MADV_RANDOM = 1
    MADV_SEQUENTIAL = 2
    MADV_WILLNEED = 3
    MADV_DONTNEED = 4
    MADV_FREE = 8
    MADV_REMOVE = 9
    MADV_DONTFORK = 10
    MADV_DOFORK = 11
    MADV_MERGEABLE = 12
    MADV_UNMERGEABLE = 13
    MADV_HUGEPAGE = 14
    MADV_NOHUGEPAGE = 15
    MADV_DONTDUMP = 16
    MADV_DODUMP = 17
    MADV_WIPEONFORK = 18
    MADV_KEEPONFORK = 19
    MADV_COLD = 20
    MADV_PAGEOUT = 21
    MADV_POPULATE_READ = 22
    MADV_POPULATE_WRITE = 23
    MADV_DONTNEED_LOCKED = 24
    MADV_COLLAPSE = 25
    MADV_HWPOISON = 100
    MADV_SOFT_OFFLINE = 101
    MADV_GUARD_INSTALL = 102
    MADV_GUARD_REMOVE = 103


class Fadvise(IntEnum):
    POSIX_FADV_NORMAL = 0
    POSIX_FADV_RANDOM = 1
    POSIX_FADV_SEQUENTIAL = 2
    POSIX_FADV_WILLNEED = 3
    POSIX_FADV_DONTNEED = 4
    POSIX_FADV_NOREUSE = 5


class MemfdFlag(IntFlag):
    MFD_CLOEXEC = 0x1
    MFD_ALLOW_SEALING = 0x2
    MFD_HUGETLB = 0x4
    MFD_NOEXEC_SEAL = 0x8
    MFD_EXEC = 0x10


MFD_HUGE_SHIFT = 26
MFD_HUGE_MASK = 0x3F

# --------------------------------------------------------------------------
# Processes, clone, wait
# --------------------------------------------------------------------------

CSIGNAL = 0xFF


class CloneFlag(IntFlag):
    """clone flags; for clone(2) the low byte (CSIGNAL) is the exit signal."""

    CSIGNAL = 0x000000FF
    CLONE_NEWTIME = 0x00000080  # only valid for clone3/unshare, inside CSIGNAL
    CLONE_VM = 0x00000100
    CLONE_FS = 0x00000200
    CLONE_FILES = 0x00000400
    CLONE_SIGHAND = 0x00000800
    CLONE_PIDFD = 0x00001000
    CLONE_PTRACE = 0x00002000
    CLONE_VFORK = 0x00004000
    CLONE_PARENT = 0x00008000
    CLONE_THREAD = 0x00010000
    CLONE_NEWNS = 0x00020000
    CLONE_SYSVSEM = 0x00040000
    CLONE_SETTLS = 0x00080000
    CLONE_PARENT_SETTID = 0x00100000
    CLONE_CHILD_CLEARTID = 0x00200000
    CLONE_DETACHED = 0x00400000
    CLONE_UNTRACED = 0x00800000
    CLONE_CHILD_SETTID = 0x01000000
    CLONE_NEWCGROUP = 0x02000000
    CLONE_NEWUTS = 0x04000000
    CLONE_NEWIPC = 0x08000000
    CLONE_NEWUSER = 0x10000000
    CLONE_NEWPID = 0x20000000
    CLONE_NEWNET = 0x40000000
    CLONE_IO = 0x80000000
    CLONE_CLEAR_SIGHAND = 0x100000000
    CLONE_INTO_CGROUP = 0x200000000


class WaitOption(IntFlag):
    WNOHANG = 0x00000001
    WUNTRACED = 0x00000002
    WSTOPPED = 0x00000002
    WEXITED = 0x00000004
    WCONTINUED = 0x00000008
    WNOWAIT = 0x01000000
    WNOTHREAD = 0x20000000  # __WNOTHREAD
    WALL = 0x40000000  # __WALL
    WCLONE = 0x80000000  # __WCLONE


class IdType(IntEnum):
    P_ALL = 0
    P_PID = 1
    P_PGID = 2
    P_PIDFD = 3


class PidfdFlag(IntFlag):
    PIDFD_THREAD = 0o200  # O_EXCL
    PIDFD_NONBLOCK = 0o4000  # O_NONBLOCK


class Rlimit(IntEnum):
    RLIMIT_CPU = 0
    RLIMIT_FSIZE = 1
    RLIMIT_DATA = 2
    RLIMIT_STACK = 3
    RLIMIT_CORE = 4
    RLIMIT_RSS = 5
    RLIMIT_NPROC = 6
    RLIMIT_NOFILE = 7
    RLIMIT_MEMLOCK = 8
    RLIMIT_AS = 9
    RLIMIT_LOCKS = 10
    RLIMIT_SIGPENDING = 11
    RLIMIT_MSGQUEUE = 12
    RLIMIT_NICE = 13
    RLIMIT_RTPRIO = 14
    RLIMIT_RTTIME = 15


RLIM_NLIMITS = 16
RLIM_INFINITY = (1 << 64) - 1


class RusageWho(IntEnum):
    RUSAGE_SELF = 0
    RUSAGE_CHILDREN = -1
    RUSAGE_BOTH = -2
    RUSAGE_THREAD = 1


class PriorityWhich(IntEnum):
    PRIO_PROCESS = 0
    PRIO_PGRP = 1
    PRIO_USER = 2


class SchedPolicy(IntEnum):
    SCHED_NORMAL = 0
    SCHED_OTHER = 0
    SCHED_FIFO = 1
    SCHED_RR = 2
    SCHED_BATCH = 3
    SCHED_IDLE = 5
    SCHED_DEADLINE = 6
    SCHED_EXT = 7


SCHED_RESET_ON_FORK = 0x40000000


class PrctlOption(IntEnum):
    PR_SET_PDEATHSIG = 1
    PR_GET_PDEATHSIG = 2
    PR_GET_DUMPABLE = 3
    PR_SET_DUMPABLE = 4
    PR_GET_UNALIGN = 5
    PR_SET_UNALIGN = 6
    PR_GET_KEEPCAPS = 7
    PR_SET_KEEPCAPS = 8
    PR_GET_FPEMU = 9
    PR_SET_FPEMU = 10
    PR_GET_FPEXC = 11
    PR_SET_FPEXC = 12
    PR_GET_TIMING = 13
    PR_SET_TIMING = 14
    PR_SET_NAME = 15
    PR_GET_NAME = 16
    PR_GET_ENDIAN = 19
    PR_SET_ENDIAN = 20
    PR_GET_SECCOMP = 21
    PR_SET_SECCOMP = 22
    PR_CAPBSET_READ = 23
    PR_CAPBSET_DROP = 24
    PR_GET_TSC = 25
    PR_SET_TSC = 26
    PR_GET_SECUREBITS = 27
    PR_SET_SECUREBITS = 28
    PR_SET_TIMERSLACK = 29
    PR_GET_TIMERSLACK = 30
    PR_TASK_PERF_EVENTS_DISABLE = 31
    PR_TASK_PERF_EVENTS_ENABLE = 32
    PR_MCE_KILL = 33
    PR_MCE_KILL_GET = 34
    PR_SET_MM = 35
    PR_SET_CHILD_SUBREAPER = 36
    PR_GET_CHILD_SUBREAPER = 37
    PR_SET_NO_NEW_PRIVS = 38
    PR_GET_NO_NEW_PRIVS = 39
    PR_GET_TID_ADDRESS = 40
    PR_SET_THP_DISABLE = 41
    PR_GET_THP_DISABLE = 42
    PR_MPX_ENABLE_MANAGEMENT = 43
    PR_MPX_DISABLE_MANAGEMENT = 44
    PR_SET_FP_MODE = 45
    PR_GET_FP_MODE = 46
    PR_CAP_AMBIENT = 47
    PR_SVE_SET_VL = 50
    PR_SVE_GET_VL = 51
    PR_GET_SPECULATION_CTRL = 52
    PR_SET_SPECULATION_CTRL = 53
    PR_PAC_RESET_KEYS = 54
    PR_SET_TAGGED_ADDR_CTRL = 55
    PR_GET_TAGGED_ADDR_CTRL = 56
    PR_SET_IO_FLUSHER = 57
    PR_GET_IO_FLUSHER = 58
    PR_SET_SYSCALL_USER_DISPATCH = 59
    PR_PAC_SET_ENABLED_KEYS = 60
    PR_PAC_GET_ENABLED_KEYS = 61
    PR_SCHED_CORE = 62
    PR_SME_SET_VL = 63
    PR_SME_GET_VL = 64
    PR_SET_MDWE = 65
    PR_GET_MDWE = 66
    PR_SET_MEMORY_MERGE = 67
    PR_GET_MEMORY_MERGE = 68
    PR_GET_SHADOW_STACK_STATUS = 74
    PR_SET_SHADOW_STACK_STATUS = 75
    PR_LOCK_SHADOW_STACK_STATUS = 76
    PR_TIMER_CREATE_RESTORE_IDS = 77
    PR_FUTEX_HASH = 78
    PR_GET_AUXV = 0x41555856
    PR_SET_VMA = 0x53564D41
    PR_SET_PTRACER = 0x59616D61


PR_SET_PTRACER_ANY = (1 << 64) - 1


class ArchPrctl(IntEnum):
    ARCH_SET_GS = 0x1001
    ARCH_SET_FS = 0x1002
    ARCH_GET_FS = 0x1003
    ARCH_GET_GS = 0x1004
    ARCH_GET_CPUID = 0x1011
    ARCH_SET_CPUID = 0x1012
    ARCH_GET_XCOMP_SUPP = 0x1021
    ARCH_GET_XCOMP_PERM = 0x1022
    ARCH_REQ_XCOMP_PERM = 0x1023
    ARCH_GET_XCOMP_GUEST_PERM = 0x1024
    ARCH_REQ_XCOMP_GUEST_PERM = 0x1025
    ARCH_MAP_VDSO_X32 = 0x2001
    ARCH_MAP_VDSO_32 = 0x2002
    ARCH_MAP_VDSO_64 = 0x2003
    ARCH_GET_UNTAG_MASK = 0x4001
    ARCH_ENABLE_TAGGED_ADDR = 0x4002
    ARCH_GET_MAX_TAG_BITS = 0x4003
    ARCH_FORCE_TAGGED_SVA = 0x4004
    ARCH_SHSTK_ENABLE = 0x5001
    ARCH_SHSTK_DISABLE = 0x5002
    ARCH_SHSTK_LOCK = 0x5003
    ARCH_SHSTK_UNLOCK = 0x5004
    ARCH_SHSTK_STATUS = 0x5005


# --------------------------------------------------------------------------
# Futexes
# --------------------------------------------------------------------------

FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF
FUTEX_WAITV_MAX = 128


class FutexOp(IntEnum):
    """futex(2) operations; `op & FUTEX_CMD_MASK` is the command proper."""

    FUTEX_WAIT = 0
    FUTEX_WAKE = 1
    FUTEX_FD = 2
    FUTEX_REQUEUE = 3
    FUTEX_CMP_REQUEUE = 4
    FUTEX_WAKE_OP = 5
    FUTEX_LOCK_PI = 6
    FUTEX_UNLOCK_PI = 7
    FUTEX_TRYLOCK_PI = 8
    FUTEX_WAIT_BITSET = 9
    FUTEX_WAKE_BITSET = 10
    FUTEX_WAIT_REQUEUE_PI = 11
    FUTEX_CMP_REQUEUE_PI = 12
    FUTEX_LOCK_PI2 = 13
    FUTEX_WAIT_PRIVATE = 0 | 128
    FUTEX_WAKE_PRIVATE = 1 | 128
    FUTEX_REQUEUE_PRIVATE = 3 | 128
    FUTEX_CMP_REQUEUE_PRIVATE = 4 | 128
    FUTEX_WAKE_OP_PRIVATE = 5 | 128
    FUTEX_LOCK_PI_PRIVATE = 6 | 128
    FUTEX_UNLOCK_PI_PRIVATE = 7 | 128
    FUTEX_TRYLOCK_PI_PRIVATE = 8 | 128
    FUTEX_WAIT_BITSET_PRIVATE = 9 | 128
    FUTEX_WAKE_BITSET_PRIVATE = 10 | 128
    FUTEX_WAIT_REQUEUE_PI_PRIVATE = 11 | 128
    FUTEX_CMP_REQUEUE_PI_PRIVATE = 12 | 128
    FUTEX_LOCK_PI2_PRIVATE = 13 | 128


FUTEX2_SIZE_U8 = 0x00
FUTEX2_SIZE_U16 = 0x01
FUTEX2_SIZE_U32 = 0x02
FUTEX2_SIZE_U64 = 0x03
FUTEX2_SIZE_MASK = 0x03


class Futex2Flag(IntFlag):
    """Flags of futex_waitv/futex_wake/futex_wait/futex_requeue (size in the low 2 bits)."""

    FUTEX2_SIZE_U16 = 0x01
    FUTEX2_SIZE_U32 = 0x02
    FUTEX2_SIZE_U64 = 0x03
    FUTEX2_NUMA = 0x04
    FUTEX2_MPOL = 0x08
    FUTEX2_PRIVATE = 0x80


# --------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------


class Signal(IntEnum):
    """Standard signals 1..31; real-time ones are SIGRTMIN..SIGRTMAX."""

    SIGHUP = 1
    SIGINT = 2
    SIGQUIT = 3
    SIGILL = 4
    SIGTRAP = 5
    SIGABRT = 6
    SIGIOT = 6
    SIGBUS = 7
    SIGFPE = 8
    SIGKILL = 9
    SIGUSR1 = 10
    SIGSEGV = 11
    SIGUSR2 = 12
    SIGPIPE = 13
    SIGALRM = 14
    SIGTERM = 15
    SIGSTKFLT = 16
    SIGCHLD = 17
    SIGCONT = 18
    SIGSTOP = 19
    SIGTSTP = 20
    SIGTTIN = 21
    SIGTTOU = 22
    SIGURG = 23
    SIGXCPU = 24
    SIGXFSZ = 25
    SIGVTALRM = 26
    SIGPROF = 27
    SIGWINCH = 28
    SIGIO = 29
    SIGPOLL = 29
    SIGPWR = 30
    SIGSYS = 31


SIGRTMIN = 32
SIGRTMAX = 64

SIG_DFL = 0
SIG_IGN = 1
SIG_ERR = -1

MINSIGSTKSZ = 2048
SIGSTKSZ = 8192
SS_ONSTACK = 1
SS_DISABLE = 2
SS_AUTODISARM = 1 << 31


class SigprocmaskHow(IntEnum):
    SIG_BLOCK = 0
    SIG_UNBLOCK = 1
    SIG_SETMASK = 2


class SigactionFlag(IntFlag):
    SA_NOCLDSTOP = 0x00000001
    SA_NOCLDWAIT = 0x00000002
    SA_SIGINFO = 0x00000004
    SA_UNSUPPORTED = 0x00000400
    SA_EXPOSE_TAGBITS = 0x00000800
    SA_RESTORER = 0x04000000
    SA_ONSTACK = 0x08000000
    SA_RESTART = 0x10000000
    SA_NODEFER = 0x40000000
    SA_NOMASK = 0x40000000
    SA_RESETHAND = 0x80000000
    SA_ONESHOT = 0x80000000


class SignalfdFlag(IntFlag):
    SFD_NONBLOCK = 0o4000
    SFD_CLOEXEC = 0o2000000


# --------------------------------------------------------------------------
# Clocks and timers
# --------------------------------------------------------------------------


class ClockId(IntEnum):
    CLOCK_REALTIME = 0
    CLOCK_MONOTONIC = 1
    CLOCK_PROCESS_CPUTIME_ID = 2
    CLOCK_THREAD_CPUTIME_ID = 3
    CLOCK_MONOTONIC_RAW = 4
    CLOCK_REALTIME_COARSE = 5
    CLOCK_MONOTONIC_COARSE = 6
    CLOCK_BOOTTIME = 7
    CLOCK_REALTIME_ALARM = 8
    CLOCK_BOOTTIME_ALARM = 9
    CLOCK_SGI_CYCLE = 10
    CLOCK_TAI = 11


MAX_CLOCKS = 16


class TimerFlag(IntFlag):
    TIMER_ABSTIME = 0x01


class ItimerWhich(IntEnum):
    ITIMER_REAL = 0
    ITIMER_VIRTUAL = 1
    ITIMER_PROF = 2


class TimerfdFlag(IntFlag):
    TFD_NONBLOCK = 0o4000
    TFD_CLOEXEC = 0o2000000


class TimerfdSettimeFlag(IntFlag):
    TFD_TIMER_ABSTIME = 1 << 0
    TFD_TIMER_CANCEL_ON_SET = 1 << 1


# --------------------------------------------------------------------------
# File descriptors: lseek, fcntl, flock, pipes, event objects
# --------------------------------------------------------------------------


class Whence(IntEnum):
    SEEK_SET = 0
    SEEK_CUR = 1
    SEEK_END = 2
    SEEK_DATA = 3
    SEEK_HOLE = 4


F_LINUX_SPECIFIC_BASE = 1024


class FcntlCmd(IntEnum):
    F_DUPFD = 0
    F_GETFD = 1
    F_SETFD = 2
    F_GETFL = 3
    F_SETFL = 4
    F_GETLK = 5
    F_SETLK = 6
    F_SETLKW = 7
    F_SETOWN = 8
    F_GETOWN = 9
    F_SETSIG = 10
    F_GETSIG = 11
    F_SETOWN_EX = 15
    F_GETOWN_EX = 16
    F_GETOWNER_UIDS = 17
    F_OFD_GETLK = 36
    F_OFD_SETLK = 37
    F_OFD_SETLKW = 38
    F_SETLEASE = 1024
    F_GETLEASE = 1025
    F_NOTIFY = 1026
    F_DUPFD_QUERY = 1027
    F_CREATED_QUERY = 1028
    F_CANCELLK = 1029
    F_DUPFD_CLOEXEC = 1030
    F_SETPIPE_SZ = 1031
    F_GETPIPE_SZ = 1032
    F_ADD_SEALS = 1033
    F_GET_SEALS = 1034
    F_GET_RW_HINT = 1035
    F_SET_RW_HINT = 1036
    F_GET_FILE_RW_HINT = 1037
    F_SET_FILE_RW_HINT = 1038


FD_CLOEXEC = 1


class FdFlag(IntFlag):
    """F_GETFD/F_SETFD bits."""

    FD_CLOEXEC = 1


class LockType(IntEnum):
    """l_type of struct flock; also F_SETLEASE arguments."""

    F_RDLCK = 0
    F_WRLCK = 1
    F_UNLCK = 2
    F_EXLCK = 4
    F_SHLCK = 8


class OwnerType(IntEnum):
    """type of struct f_owner_ex (F_SETOWN_EX)."""

    F_OWNER_TID = 0
    F_OWNER_PID = 1
    F_OWNER_PGRP = 2


class SealFlag(IntFlag):
    F_SEAL_SEAL = 0x0001
    F_SEAL_SHRINK = 0x0002
    F_SEAL_GROW = 0x0004
    F_SEAL_WRITE = 0x0008
    F_SEAL_FUTURE_WRITE = 0x0010
    F_SEAL_EXEC = 0x0020


class DnotifyFlag(IntFlag):
    """F_NOTIFY argument bits."""

    DN_ACCESS = 0x00000001
    DN_MODIFY = 0x00000002
    DN_CREATE = 0x00000004
    DN_DELETE = 0x00000008
    DN_RENAME = 0x00000010
    DN_ATTRIB = 0x00000020
    DN_MULTISHOT = 0x80000000


class FlockOp(IntFlag):
    LOCK_SH = 1
    LOCK_EX = 2
    LOCK_NB = 4
    LOCK_UN = 8


class PipeFlag(IntFlag):
    """pipe2(2) flags (O_NOTIFICATION_PIPE reuses O_EXCL's bit)."""

    O_NOTIFICATION_PIPE = 0o200
    O_NONBLOCK = 0o4000
    O_DIRECT = 0o40000
    O_CLOEXEC = 0o2000000


class Dup3Flag(IntFlag):
    O_CLOEXEC = 0o2000000


class EventfdFlag(IntFlag):
    EFD_SEMAPHORE = 1
    EFD_NONBLOCK = 0o4000
    EFD_CLOEXEC = 0o2000000


class CloseRangeFlag(IntFlag):
    CLOSE_RANGE_UNSHARE = 1 << 1
    CLOSE_RANGE_CLOEXEC = 1 << 2


class SpliceFlag(IntFlag):
    SPLICE_F_MOVE = 1
    SPLICE_F_NONBLOCK = 2
    SPLICE_F_MORE = 4
    SPLICE_F_GIFT = 8


class SyncFileRangeFlag(IntFlag):
    SYNC_FILE_RANGE_WAIT_BEFORE = 1
    SYNC_FILE_RANGE_WRITE = 2
    SYNC_FILE_RANGE_WAIT_AFTER = 4


FALLOC_FL_ALLOCATE_RANGE = 0x00


class FallocFlag(IntFlag):
    FALLOC_FL_KEEP_SIZE = 0x01
    FALLOC_FL_PUNCH_HOLE = 0x02
    FALLOC_FL_NO_HIDE_STALE = 0x04
    FALLOC_FL_COLLAPSE_RANGE = 0x08
    FALLOC_FL_ZERO_RANGE = 0x10
    FALLOC_FL_INSERT_RANGE = 0x20
    FALLOC_FL_UNSHARE_RANGE = 0x40
    FALLOC_FL_WRITE_ZEROES = 0x80


class RwfFlag(IntFlag):
    """preadv2/pwritev2 flags."""

    RWF_HIPRI = 0x01
    RWF_DSYNC = 0x02
    RWF_SYNC = 0x04
    RWF_NOWAIT = 0x08
    RWF_APPEND = 0x10
    RWF_NOAPPEND = 0x20
    RWF_ATOMIC = 0x40
    RWF_DONTCACHE = 0x80


class XattrFlag(IntFlag):
    XATTR_CREATE = 0x1
    XATTR_REPLACE = 0x2


XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536
XATTR_LIST_MAX = 65536


class InotifyInitFlag(IntFlag):
    IN_NONBLOCK = 0o4000
    IN_CLOEXEC = 0o2000000


class InotifyMask(IntFlag):
    IN_ACCESS = 0x00000001
    IN_MODIFY = 0x00000002
    IN_ATTRIB = 0x00000004
    IN_CLOSE_WRITE = 0x00000008
    IN_CLOSE_NOWRITE = 0x00000010
    IN_OPEN = 0x00000020
    IN_MOVED_FROM = 0x00000040
    IN_MOVED_TO = 0x00000080
    IN_CREATE = 0x00000100
    IN_DELETE = 0x00000200
    IN_DELETE_SELF = 0x00000400
    IN_MOVE_SELF = 0x00000800
    IN_UNMOUNT = 0x00002000
    IN_Q_OVERFLOW = 0x00004000
    IN_IGNORED = 0x00008000
    IN_ONLYDIR = 0x01000000
    IN_DONT_FOLLOW = 0x02000000
    IN_EXCL_UNLINK = 0x04000000
    IN_MASK_CREATE = 0x10000000
    IN_MASK_ADD = 0x20000000
    IN_ISDIR = 0x40000000
    IN_ONESHOT = 0x80000000


IN_CLOSE = 0x18
IN_MOVE = 0xC0
IN_ALL_EVENTS = 0xFFF

# --------------------------------------------------------------------------
# Terminals and other ioctls
# --------------------------------------------------------------------------


class Ioctl(IntEnum):
    """ioctl(2) requests for terminals, ptys and generic file descriptors."""

    TCGETS = 0x5401
    TCSETS = 0x5402
    TCSETSW = 0x5403
    TCSETSF = 0x5404
    TCGETA = 0x5405
    TCSETA = 0x5406
    TCSETAW = 0x5407
    TCSETAF = 0x5408
    TCSBRK = 0x5409
    TCXONC = 0x540A
    TCFLSH = 0x540B
    TIOCEXCL = 0x540C
    TIOCNXCL = 0x540D
    TIOCSCTTY = 0x540E
    TIOCGPGRP = 0x540F
    TIOCSPGRP = 0x5410
    TIOCOUTQ = 0x5411
    TIOCSTI = 0x5412
    TIOCGWINSZ = 0x5413
    TIOCSWINSZ = 0x5414
    TIOCMGET = 0x5415
    TIOCMBIS = 0x5416
    TIOCMBIC = 0x5417
    TIOCMSET = 0x5418
    TIOCGSOFTCAR = 0x5419
    TIOCSSOFTCAR = 0x541A
    FIONREAD = 0x541B
    TIOCINQ = 0x541B
    TIOCLINUX = 0x541C
    TIOCCONS = 0x541D
    TIOCPKT = 0x5420
    FIONBIO = 0x5421
    TIOCNOTTY = 0x5422
    TIOCSETD = 0x5423
    TIOCGETD = 0x5424
    TCSBRKP = 0x5425
    TIOCSBRK = 0x5427
    TIOCCBRK = 0x5428
    TIOCGSID = 0x5429
    TCGETS2 = 0x802C542A
    TCSETS2 = 0x402C542B
    TCSETSW2 = 0x402C542C
    TCSETSF2 = 0x402C542D
    TIOCGPTN = 0x80045430
    TIOCSPTLCK = 0x40045431
    TIOCGDEV = 0x80045432
    TIOCSIG = 0x40045436
    TIOCVHANGUP = 0x5437
    TIOCGPKT = 0x80045438
    TIOCGPTLCK = 0x80045439
    TIOCGEXCL = 0x80045440
    TIOCGPTPEER = 0x5441
    FIONCLEX = 0x5450
    FIOCLEX = 0x5451
    FIOASYNC = 0x5452
    TIOCSERCONFIG = 0x5453
    TIOCSERGETLSR = 0x5459
    TIOCGLCKTRMIOS = 0x5456
    TIOCSLCKTRMIOS = 0x5457
    FIOQSIZE = 0x5460
    FIOSETOWN = 0x8901
    SIOCSPGRP = 0x8902
    FIOGETOWN = 0x8903
    SIOCGPGRP = 0x8904
    SIOCATMARK = 0x8905


class TcflshArg(IntEnum):
    TCIFLUSH = 0
    TCOFLUSH = 1
    TCIOFLUSH = 2


class TcxoncArg(IntEnum):
    TCOOFF = 0
    TCOON = 1
    TCIOFF = 2
    TCION = 3


# --------------------------------------------------------------------------
# Sockets
# --------------------------------------------------------------------------


class AddressFamily(IntEnum):
    AF_UNSPEC = 0
    AF_UNIX = 1
    AF_LOCAL = 1
    AF_INET = 2
    AF_AX25 = 3
    AF_IPX = 4
    AF_APPLETALK = 5
    AF_NETROM = 6
    AF_BRIDGE = 7
    AF_ATMPVC = 8
    AF_X25 = 9
    AF_INET6 = 10
    AF_ROSE = 11
    AF_DECnet = 12
    AF_NETBEUI = 13
    AF_SECURITY = 14
    AF_KEY = 15
    AF_NETLINK = 16
    AF_ROUTE = 16
    AF_PACKET = 17
    AF_ASH = 18
    AF_ECONET = 19
    AF_ATMSVC = 20
    AF_RDS = 21
    AF_SNA = 22
    AF_IRDA = 23
    AF_PPPOX = 24
    AF_WANPIPE = 25
    AF_LLC = 26
    AF_IB = 27
    AF_MPLS = 28
    AF_CAN = 29
    AF_TIPC = 30
    AF_BLUETOOTH = 31
    AF_IUCV = 32
    AF_RXRPC = 33
    AF_ISDN = 34
    AF_PHONET = 35
    AF_IEEE802154 = 36
    AF_CAIF = 37
    AF_ALG = 38
    AF_NFC = 39
    AF_VSOCK = 40
    AF_KCM = 41
    AF_QIPCRTR = 42
    AF_SMC = 43
    AF_XDP = 44
    AF_MCTP = 45


AF_MAX = 46
SOCK_TYPE_MASK = 0xF


class SocketType(IntFlag):
    """socket(2) type: one SOCK_* kind in the low nibble plus SOCK_NONBLOCK/SOCK_CLOEXEC."""

    SOCK_STREAM = 1
    SOCK_DGRAM = 2
    SOCK_RAW = 3
    SOCK_RDM = 4
    SOCK_SEQPACKET = 5
    SOCK_DCCP = 6
    SOCK_PACKET = 10
    SOCK_NONBLOCK = 0o4000
    SOCK_CLOEXEC = 0o2000000


class ShutdownHow(IntEnum):
    SHUT_RD = 0
    SHUT_WR = 1
    SHUT_RDWR = 2


class MsgFlag(IntFlag):
    MSG_OOB = 0x1
    MSG_PEEK = 0x2
    MSG_DONTROUTE = 0x4
    MSG_TRYHARD = 0x4
    MSG_CTRUNC = 0x8
    MSG_PROBE = 0x10
    MSG_TRUNC = 0x20
    MSG_DONTWAIT = 0x40
    MSG_EOR = 0x80
    MSG_WAITALL = 0x100
    MSG_FIN = 0x200
    MSG_SYN = 0x400
    MSG_CONFIRM = 0x800
    MSG_RST = 0x1000
    MSG_ERRQUEUE = 0x2000
    MSG_NOSIGNAL = 0x4000
    MSG_MORE = 0x8000
    MSG_WAITFORONE = 0x10000
    MSG_BATCH = 0x40000
    MSG_SOCK_DEVMEM = 0x2000000
    MSG_ZEROCOPY = 0x4000000
    MSG_FASTOPEN = 0x20000000
    MSG_CMSG_CLOEXEC = 0x40000000


SOL_SOCKET = 1

# --------------------------------------------------------------------------
# poll / epoll
# --------------------------------------------------------------------------


class PollEvent(IntFlag):
    POLLIN = 0x0001
    POLLPRI = 0x0002
    POLLOUT = 0x0004
    POLLERR = 0x0008
    POLLHUP = 0x0010
    POLLNVAL = 0x0020
    POLLRDNORM = 0x0040
    POLLRDBAND = 0x0080
    POLLWRNORM = 0x0100
    POLLWRBAND = 0x0200
    POLLMSG = 0x0400
    POLLREMOVE = 0x1000
    POLLRDHUP = 0x2000


class EpollCtl(IntEnum):
    EPOLL_CTL_ADD = 1
    EPOLL_CTL_DEL = 2
    EPOLL_CTL_MOD = 3


class EpollCreateFlag(IntFlag):
    EPOLL_CLOEXEC = 0o2000000


class EpollEvent(IntFlag):
    EPOLLIN = 0x00000001
    EPOLLPRI = 0x00000002
    EPOLLOUT = 0x00000004
    EPOLLERR = 0x00000008
    EPOLLHUP = 0x00000010
    EPOLLNVAL = 0x00000020
    EPOLLRDNORM = 0x00000040
    EPOLLRDBAND = 0x00000080
    EPOLLWRNORM = 0x00000100
    EPOLLWRBAND = 0x00000200
    EPOLLMSG = 0x00000400
    EPOLLRDHUP = 0x00002000
    EPOLL_URING_WAKE = 1 << 27
    EPOLLEXCLUSIVE = 1 << 28
    EPOLLWAKEUP = 1 << 29
    EPOLLONESHOT = 1 << 30
    EPOLLET = 1 << 31


# --------------------------------------------------------------------------
# getrandom, mount
# --------------------------------------------------------------------------


class GetrandomFlag(IntFlag):
    GRND_NONBLOCK = 0x0001
    GRND_RANDOM = 0x0002
    GRND_INSECURE = 0x0004


class MountFlag(IntFlag):
    MS_RDONLY = 1
    MS_NOSUID = 2
    MS_NODEV = 4
    MS_NOEXEC = 8
    MS_SYNCHRONOUS = 16
    MS_REMOUNT = 32
    MS_MANDLOCK = 64
    MS_DIRSYNC = 128
    MS_NOSYMFOLLOW = 256
    MS_NOATIME = 1024
    MS_NODIRATIME = 2048
    MS_BIND = 4096
    MS_MOVE = 8192
    MS_REC = 16384
    MS_SILENT = 32768
    MS_VERBOSE = 32768
    MS_POSIXACL = 1 << 16
    MS_UNBINDABLE = 1 << 17
    MS_PRIVATE = 1 << 18
    MS_SLAVE = 1 << 19
    MS_SHARED = 1 << 20
    MS_RELATIME = 1 << 21
    MS_KERNMOUNT = 1 << 22
    MS_I_VERSION = 1 << 23
    MS_STRICTATIME = 1 << 24
    MS_LAZYTIME = 1 << 25
    MS_SUBMOUNT = 1 << 26
    MS_NOREMOTELOCK = 1 << 27
    MS_NOSEC = 1 << 28
    MS_BORN = 1 << 29
    MS_ACTIVE = 1 << 30
    MS_NOUSER = 1 << 31


MS_MGC_VAL = 0xC0ED0000
MS_MGC_MSK = 0xFFFF0000


class UmountFlag(IntFlag):
    MNT_FORCE = 1
    MNT_DETACH = 2
    MNT_EXPIRE = 4
    UMOUNT_NOFOLLOW = 8


# --------------------------------------------------------------------------
# Set registries used by syscall prototypes
# --------------------------------------------------------------------------

FLAG_SETS: Mapping[str, type[IntFlag]] = MappingProxyType(
    {
        "open": OpenFlag,
        "at": AtFlag,
        "faccessat": FaccessatFlag,
        "access": AccessMode,
        "rename": RenameFlag,
        "statx_mask": StatxMask,
        "prot": Prot,
        "mmap": MapFlag,
        "mremap": MremapFlag,
        "msync": MsyncFlag,
        "mlock": MlockFlag,
        "mlockall": MlockallFlag,
        "memfd": MemfdFlag,
        "clone": CloneFlag,
        "unshare": CloneFlag,
        "wait": WaitOption,
        "pidfd": PidfdFlag,
        "futex2": Futex2Flag,
        "sigaction": SigactionFlag,
        "signalfd": SignalfdFlag,
        "timer": TimerFlag,
        "timerfd": TimerfdFlag,
        "timerfd_settime": TimerfdSettimeFlag,
        "fd": FdFlag,
        "seal": SealFlag,
        "dnotify": DnotifyFlag,
        "flock": FlockOp,
        "pipe": PipeFlag,
        "dup3": Dup3Flag,
        "eventfd": EventfdFlag,
        "close_range": CloseRangeFlag,
        "splice": SpliceFlag,
        "sync_file_range": SyncFileRangeFlag,
        "fallocate": FallocFlag,
        "rwf": RwfFlag,
        "xattr": XattrFlag,
        "inotify_init": InotifyInitFlag,
        "inotify": InotifyMask,
        "socket_type": SocketType,
        "msg": MsgFlag,
        "poll": PollEvent,
        "epoll_create": EpollCreateFlag,
        "epoll": EpollEvent,
        "getrandom": GetrandomFlag,
        "mount": MountFlag,
        "umount": UmountFlag,
    }
)

ENUM_SETS: Mapping[str, type[IntEnum]] = MappingProxyType(
    {
        "file_type": FileType,
        "madvise": Madvise,
        "fadvise": Fadvise,
        "idtype": IdType,
        "rlimit": Rlimit,
        "rusage": RusageWho,
        "priority_which": PriorityWhich,
        "sched_policy": SchedPolicy,
        "prctl": PrctlOption,
        "arch_prctl": ArchPrctl,
        "futex": FutexOp,
        "signal": Signal,
        "sigprocmask_how": SigprocmaskHow,
        "clockid": ClockId,
        "itimer": ItimerWhich,
        "whence": Whence,
        "fcntl": FcntlCmd,
        "lock_type": LockType,
        "ioctl": Ioctl,
        "family": AddressFamily,
        "shutdown": ShutdownHow,
        "epoll_ctl": EpollCtl,
    }
)

# Flag sets whose low bits hold one enumerated value rather than independent
# bits: describe_flags names that value exactly instead of splitting it.
_VALUE_FIELDS: Mapping[type[IntFlag], int] = MappingProxyType(
    {
        SocketType: SOCK_TYPE_MASK,
        MapFlag: MAP_TYPE,
        Futex2Flag: FUTEX2_SIZE_MASK,
    }
)

_MASK64 = (1 << 64) - 1

# --------------------------------------------------------------------------
# Rendering helpers
# --------------------------------------------------------------------------


def _canonical_members(flag_cls: type[IntFlag]) -> list[IntFlag]:
    """Distinct non-zero members, widest first so composites (O_SYNC) win."""
    unique = {int(m): m for m in flag_cls.__members__.values()}
    members = [m for v, m in unique.items() if v]
    members.sort(key=lambda m: (-int(m).bit_count(), int(m)))
    return members


def describe_flags(value: int, flag_cls: type[IntFlag]) -> str:
    """Render a bit set strace-style, e.g. "O_CREAT|O_TRUNC|0x40000000"."""
    rest = value & _MASK64
    if rest == 0:
        return "0"
    picked: list[tuple[int, str]] = []
    field_mask = _VALUE_FIELDS.get(flag_cls, 0)
    if field_mask and rest & field_mask:
        field = rest & field_mask
        for member in flag_cls.__members__.values():
            if int(member) == field:
                picked.append((field, member.name or ""))
                rest &= ~field_mask
                break
    for member in _canonical_members(flag_cls):
        bits = int(member)
        if bits & field_mask:
            continue
        if bits & rest == bits:
            picked.append((bits, member.name or ""))
            rest &= ~bits
    parts = [name for _, name in sorted(picked)]
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


def describe_open_flags(value: int) -> str:
    """Render open(2) flags with the access mode first: "O_WRONLY|O_CREAT|O_TRUNC"."""
    value &= _MASK64
    head = ACCESS_MODE_NAMES[value & O_ACCMODE]
    rest = value & ~O_ACCMODE
    return head if rest == 0 else f"{head}|{describe_flags(rest, OpenFlag)}"


def signal_name(signo: int) -> str:
    """Name a signal number: SIGCHLD, SIGRTMIN, SIGRT_3, or the decimal number if out of range."""
    if 1 <= signo < SIGRTMIN:
        return Signal(signo).name
    if signo == SIGRTMIN:
        return "SIGRTMIN"
    if SIGRTMIN < signo <= SIGRTMAX:
        return f"SIGRT_{signo - SIGRTMIN}"
    return str(signo)


def describe_clone_flags(value: int) -> str:
    """Render clone(2) flags with the exit signal last: "CLONE_VM|CLONE_FS|SIGCHLD"."""
    value &= _MASK64
    signo = value & CSIGNAL
    parts = []
    if value & ~CSIGNAL:
        parts.append(describe_flags(value & ~CSIGNAL, CloneFlag))
    if signo or not parts:
        parts.append(signal_name(signo) if signo else "0")
    return "|".join(parts)


def describe_enum(value: int, enum_cls: type[IntEnum]) -> str:
    """The member name for `value`, or the decimal number if there is none."""
    try:
        return enum_cls(value).name or str(value)
    except ValueError:
        return str(value)


def describe_value(type_name: str, value: int) -> str | None:
    """Render a value of a "flags:<set>" or "enum:<set>" parameter; None for other types."""
    kind, _, set_name = type_name.partition(":")
    if kind == "flags":
        if set_name == "open":
            return describe_open_flags(value)
        if set_name == "clone":
            return describe_clone_flags(value)
        return describe_flags(value, FLAG_SETS[set_name])
    if kind == "enum":
        if set_name == "signal":
            return signal_name(value)
        enum_cls = ENUM_SETS[set_name]
        if any(int(m) < 0 for m in enum_cls):
            # A set with negative members (RUSAGE_CHILDREN) is a C int argument:
            # read the register's low 32 bits as signed.
            value &= 0xFFFFFFFF
            if value >= 1 << 31:
                value -= 1 << 32
        return describe_enum(value, enum_cls)
    return None
