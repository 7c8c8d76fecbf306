/* The real-platform syscall fuzzer's guest: seeded random syscalls, issued from the
 * processes and threads of a program running in the sandbox.
 *
 *     fuzz run SEED COUNT
 *
 * The first process (the controller) is never fuzzed. It forks workers one after the
 * other until COUNT syscalls have been issued in all. A worker sets up memory with
 * guard pages, a hole and a read-only page (the layout of the fake-platform fuzzer),
 * opens descriptors of several kinds, maybe starts a few threads, and issues random
 * syscalls whose arguments follow the shared strategy (fuzz_tables.h, generated from
 * tests/fuzz/strategy.py). Forks are bounded; a child that shares the worker's memory
 * exits at once, since it would run on a stack it shares. Every issued syscall is
 * counted in a page all workers share, which is also how the controller sees progress:
 * a worker that stops making any is nudged with SIGALRM (its handler does nothing, so a
 * blocked syscall ends with EINTR), then killed. After each worker, every process but
 * the controller is killed and reaped. Calls that would only end the worker or hit the
 * controller are not issued: exit and exit_group, rt_sigreturn, signals to the
 * controller or to everyone, memory calls on the program, its stacks or the shared
 * page; and most of the time x32 syscall numbers (the sandbox kills the caller), execve
 * and fatal signals to the worker itself.
 *
 * At the end the controller prints one line:
 *     FUZZ-SUMMARY syscalls=N workers=W signalled=S watchdog=K skipped=X signals=SIGNO:COUNT,...
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_tables.h"

#define PAGE 4096UL
#define ARENA 0x30000000UL
#define STRINGS (ARENA)
#define STRUCTS (ARENA + 1 * PAGE)
#define RANDOM (ARENA + 2 * PAGE)
#define DATA (ARENA + 4 * PAGE)
#define GUARD (ARENA + 8 * PAGE)
#define READONLY (ARENA + 9 * PAGE)
#define HOLE (ARENA + 10 * PAGE)
#define LONE (ARENA + 11 * PAGE)
#define ARENA_END (ARENA + 12 * PAGE)
#define SLOT 128UL
#define SLOTS_USED 24  /* of the 32 slots of page 1 */
#define SLOT_AT(i) (STRUCTS + SLOT * (i))
#define TASK_SIZE 0x7ffffffff000UL
#define UNMAPPED 0x10000000UL
#define AT_FDCWD_VALUE ((uint64_t)-100)

#define MAX_THREADS 3
#define THREAD_STACK (64 * 1024)
#define MAX_PROCESSES 8      /* live fuzzing processes per worker, the worker included */
#define WORKER_BUDGET 3000   /* syscalls per fuzzing process or thread */
#define STALL_NUDGE_MS 4     /* no progress for this long: SIGALRM */
#define STALL_KILL_MS 60     /* ... for this long: SIGKILL */

extern char __executable_start[], _end[];

/* What every process of a run shares (MAP_SHARED, made before the first fork). */
struct shared {
    uint64_t syscalls;
    uint64_t skipped;
    int live_processes;
};

static struct shared *shared;  /* set once by the controller, before any fork */

struct rng { uint64_t state; };

struct fuzzer {
    struct rng rng;
    uint64_t stack_lo, stack_hi;   /* this thread's stack: never unmapped or remapped */
    int controller;                /* pid of the controller */
    int depth;                     /* 0 for the worker, 1 for its forked children... */
};

/* --- raw syscalls: no errno, no TLS (a fuzzed arch_prctl may move %fs) --------------- */

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* A fork-like call whose child must not touch memory (it may share the parent's, or
 * run on a stack pointer it was handed): the child exits before using the stack. */
static inline long sys6_child_exits(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $60, %%eax\n\t"
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:"
                     : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* A thread running fn(arg) on its own stack; it exits when fn returns. */
static long spawn_thread(void *stack_top, void (*fn)(void *), void *arg)
{
    uint64_t *sp = (uint64_t *)stack_top;
    *--sp = (uint64_t)arg;
    *--sp = (uint64_t)fn;
    long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "pop %%rax\n\t"
                     "pop %%rdi\n\t"
                     "call *%%rax\n\t"
                     "mov $60, %%eax\n\t"
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:"
                     : "=a"(ret) : "a"(SYS_clone), "D"(flags), "S"(sp), "d"(0), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
}

/* The signal handler and its return path, free of libc. */
static void on_signal(int signo) { (void)signo; }

__asm__(".text\n"
        ".global fuzz_restorer\n"
        "fuzz_restorer:\n\t"
        "mov $15, %eax\n\t"
        "syscall\n\t"
        "hlt\n");
extern void fuzz_restorer(void);

struct kernel_sigaction { uint64_t handler, flags, restorer, mask; };
#define SA_RESTORER_FLAG 0x04000000UL

static void install_nudge_handler(void)
{
    struct kernel_sigaction action = {(uint64_t)on_signal, SA_RESTORER_FLAG, (uint64_t)fuzz_restorer, 0};
    sys6(SYS_rt_sigaction, SIGALRM, (long)&action, 0, 8, 0, 0);
}

/* --- random numbers ------------------------------------------------------------------- */

static uint64_t next(struct rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n) { return n ? next(r) % n : 0; }
static int chance(struct rng *r, int percent) { return (int)below(r, 100) < percent; }
#define PICK(r, array) ((array)[below((r), sizeof(array) / sizeof((array)[0]))])

/* --- the arena ------------------------------------------------------------------------ */

static uint64_t path_at[PATH_COUNT];

static void put64(uint64_t addr, const uint64_t *values, int count)
{
    memcpy((void *)addr, values, 8 * (size_t)count);
}

/* Page 1: struct-shaped contents (slot i at STRUCTS + SLOT * i), as in the fake fuzzer. */
static void fill_structs(void)
{
    uint64_t zero = 0;
    uint64_t s1[16];
    for (int i = 0; i < 16; i++)
        s1[i] = (uint64_t)i;
    uint64_t s2[] = {0, 1000, 0, 0, 1, 0, 0, 999999999};
    uint64_t s3[] = {(uint64_t)-1, (uint64_t)-1, 0, 1000000000, 0x7fffffffffffffffULL, 999999999, (uint64_t)-1, 0};
    uint64_t s4[] = {DATA, 16, DATA + 4096, 100, READONLY, 8, GUARD - 8, 16, 0, 0, DATA, 1ULL << 63, LONE + 4000, 200};
    uint64_t s5[] = {path_at[0], path_at[1], path_at[7], 0};
    uint64_t s6[] = {path_at[0], UNMAPPED, 0};
    uint64_t s7[] = {(uint64_t)-1, 0, 1 << 13, 1 << 16};
    uint64_t s8[] = {1, SA_RESTORER_FLAG, (uint64_t)fuzz_restorer, 0};                       /* SIG_IGN */
    uint64_t s9[] = {(uint64_t)on_signal, SA_RESTORER_FLAG | 0x4 | 0x08000000, (uint64_t)fuzz_restorer,
                     (uint64_t)-1};                                                          /* a handler */
    int32_t s10[] = {0, 1, 1, 4 << 16, 8, 0x3f, -1, 1};                                     /* pollfds */
    int32_t s11[16];
    for (int i = 0; i < 16; i++)
        s11[i] = 3 + i;
    uint64_t s12[] = {0, 0, 1024, 1024, (uint64_t)-1, (uint64_t)-1, 16 << 20, 1ULL << 40};
    uint64_t s13[] = {0, 1000, 0, 1000, 1, 0, 0, 1};
    uint64_t s14[] = {0, 0, DATA, DATA + 8, 17, 0, 0, 0, 0, 0, 0};
    uint32_t s15[] = {0, 1, 2, 0x80000000u, 0xffffffffu, 0, 0, 0};
    static const char s16[] = "\x01\x00/tmp/sock";                                   /* sockaddr_un */
    static const unsigned char s17[] = {2, 0, 0, 0x50, 127, 0, 0, 1};                     /* sockaddr_in :80 */
    uint64_t s18[] = {SLOT_AT(16), 110, SLOT_AT(4), 2, SLOT_AT(19), 24, 0};             /* msghdr */
    int32_t s19[] = {24, 0, 1, 1, 3, 4};                           /* cmsghdr: SCM_RIGHTS of fds 3, 4 */
    uint32_t s20[] = {0x1 | 0x4, 7, 0, 0x80000000u | 0x1, 8, 0};           /* epoll_events (packed) */
    uint64_t s21[] = {5, 10};                                      /* sigevent: SIGUSR1, SIGEV_SIGNAL */
    uint64_t s22[] = {0, 1000000, 0, 1000000};                        /* itimerspec: 1 ms, repeating */
    static const char s23[] = "\x01\x00\x00" "abstract";                     /* sockaddr_un, abstract */
    put64(STRUCTS, &zero, 1);
    put64(SLOT_AT(1), s1, 16);
    put64(SLOT_AT(2), s2, 8);
    put64(SLOT_AT(3), s3, 8);
    put64(SLOT_AT(4), s4, 14);
    put64(SLOT_AT(5), s5, 4);
    put64(SLOT_AT(6), s6, 3);
    put64(SLOT_AT(7), s7, 4);
    put64(SLOT_AT(8), s8, 4);
    put64(SLOT_AT(9), s9, 4);
    memcpy((void *)SLOT_AT(10), s10, sizeof s10);
    memcpy((void *)SLOT_AT(11), s11, sizeof s11);
    put64(SLOT_AT(12), s12, 8);
    put64(SLOT_AT(13), s13, 8);
    put64(SLOT_AT(14), s14, 11);
    memcpy((void *)SLOT_AT(15), s15, sizeof s15);
    memcpy((void *)SLOT_AT(16), s16, sizeof s16);
    memcpy((void *)SLOT_AT(17), s17, sizeof s17);
    put64(SLOT_AT(18), s18, 7);
    memcpy((void *)SLOT_AT(19), s19, sizeof s19);
    memcpy((void *)SLOT_AT(20), s20, sizeof s20);
    put64(SLOT_AT(21), s21, 2);
    put64(SLOT_AT(22), s22, 4);
    memcpy((void *)SLOT_AT(23), s23, sizeof s23);
}

static void fill_random(struct rng *r, uint64_t addr, uint64_t length)
{
    for (uint64_t off = 0; off + 8 <= length; off += 8) {
        uint64_t value = next(r);
        memcpy((void *)(addr + off), &value, 8);
    }
}

static int build_arena(struct rng *r)
{
    long got = sys6(SYS_mmap, ARENA, ARENA_END - ARENA, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (got != (long)ARENA)
        return -1;
    uint64_t at = STRINGS;
    for (int i = 0; i < PATH_COUNT; i++) {
        size_t length = strlen(PATHS[i]) + 1;
        memcpy((void *)at, PATHS[i], length);
        path_at[i] = at;
        at += length;
    }
    fill_structs();
    fill_random(r, RANDOM, 2 * PAGE);
    memcpy((void *)READONLY, (void *)STRINGS, PAGE / 2);
    fill_random(r, READONLY + PAGE / 2, PAGE / 2);
    sys6(SYS_mprotect, GUARD, PAGE, PROT_NONE, 0, 0, 0);
    sys6(SYS_mprotect, READONLY, PAGE, PROT_READ, 0, 0, 0);
    sys6(SYS_munmap, HOLE, PAGE, 0, 0, 0, 0);
    return 0;
}

static uint64_t path_pointer(const char *path)
{
    for (int i = 0; i < PATH_COUNT; i++)
        if (strcmp(PATHS[i], path) == 0)
            return path_at[i];
    return 0;
}

static void open_descriptors(void)
{
    static const struct { const char *path; long flags; } files[] = {
        {"/tmp/f", O_RDWR}, {"/tmp/d", O_RDONLY | O_DIRECTORY}, {"/dev/null", O_RDWR},
        {"/proc/self/maps", O_RDONLY}, {"/tmp/f", O_PATH}, {"/dev/zero", O_RDONLY},
        {"/tmp/new", O_WRONLY | O_CREAT | O_APPEND},
    };
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++)
        sys6(SYS_openat, (long)AT_FDCWD_VALUE, (long)path_pointer(files[i].path), files[i].flags, 0644, 0, 0);
    sys6(SYS_pipe2, DATA, 0, 0, 0, 0, 0);
    sys6(SYS_pipe2, DATA, O_NONBLOCK, 0, 0, 0, 0);
    sys6(SYS_socket, 1, 1, 0, 0, 0, 0);      /* AF_UNIX, SOCK_STREAM */
    sys6(SYS_socketpair, 1, 2, 0, DATA, 0, 0); /* AF_UNIX, SOCK_DGRAM */
    memset((void *)DATA, 0, 16);
}

/* --- ranges a syscall must not touch: the program, the stacks, the shared page --------- */

struct range { uint64_t lo, hi; };
static struct range vital[2 + MAX_THREADS + 2];
static int vital_count;

static void add_vital(uint64_t lo, uint64_t hi)
{
    vital[vital_count].lo = lo & ~(PAGE - 1);
    vital[vital_count].hi = (hi + PAGE - 1) & ~(PAGE - 1);
    vital_count++;
}

static int touches_vital(uint64_t addr, uint64_t length)
{
    uint64_t end = addr + length;
    if (end < addr || length > (1ULL << 47))
        end = ~0ULL;
    if (length == 0)
        end = addr + PAGE;
    for (int i = 0; i < vital_count; i++)
        if (addr < vital[i].hi && end > vital[i].lo)
            return 1;
    return 0;
}

/* --- choosing arguments ------------------------------------------------------------------- */

static uint64_t bad_pointer(struct rng *r)
{
    static const uint64_t values[] = {
        0, 0, 1, 8, 0xfff, 0x1000, 0xfff8, GUARD, GUARD + 100, GUARD - 1, GUARD - 8, GUARD - 100,
        GUARD - 4095, READONLY, READONLY + 100, HOLE - 8, HOLE - 1, HOLE, LONE + PAGE - 1, LONE + PAGE - 8,
        LONE + PAGE - 100, ARENA_END, UNMAPPED, TASK_SIZE - 1, TASK_SIZE - 8, TASK_SIZE - PAGE, TASK_SIZE,
        1ULL << 47, 0xffff800000000000ULL, 0xffffffffff600000ULL, (uint64_t)-1, (uint64_t)-8,
        (uint64_t)-4096, 1ULL << 63, DATA + 1, DATA + 3, DATA + 4093,
    };
    return PICK(r, values);
}

/* The edge of a region whose contents do not matter to the fuzzer: the arena, or the
 * program's (read-only) text. */
static uint64_t region_edge(struct rng *r)
{
    static const uint64_t arena_edges[] = {ARENA, GUARD, READONLY, HOLE, LONE, ARENA_END};
    uint64_t base = chance(r, 80) ? PICK(r, arena_edges) : (uint64_t)__executable_start;
    static const int64_t offsets[] = {0, 0, -8, -1, 8, 4096 - 8, -4096};
    return base + (uint64_t)PICK(r, offsets);
}

static uint64_t pointer(struct rng *r, int kind)
{
    int roll = (int)below(r, 100);
    if (kind == K_PATH && roll < 75)
        return path_at[below(r, PATH_COUNT)];
    if (kind == K_STRV && roll < 60) {
        static const uint64_t strvs[] = {SLOT_AT(5), SLOT_AT(6), STRUCTS, 0};
        return PICK(r, strvs);
    }
    if (kind == K_OUTBUF && roll < 55) {
        uint64_t offsets[] = {0, 0, 8, 100, 4096, 3 * 4096 + 4000, below(r, 4 * PAGE)};
        return DATA + PICK(r, offsets);
    }
    if (kind == K_INBUF && roll < 55) {
        uint64_t choices[] = {DATA, RANDOM + below(r, 2 * PAGE), path_at[below(r, PATH_COUNT)],
                              SLOT_AT(below(r, SLOTS_USED))};
        return PICK(r, choices);
    }
    if (kind != K_PATH && kind != K_STRV && kind != K_OUTBUF && kind != K_INBUF && roll < 55) {
        static const uint64_t shifts[] = {0, 0, 0, 8, 16};
        return SLOT_AT(below(r, SLOTS_USED)) + PICK(r, shifts);
    }
    roll = (int)below(r, 100);
    if (roll < 65)
        return bad_pointer(r);
    if (roll < 80)
        return region_edge(r);
    if (roll < 90) {
        static const uint64_t bases[] = {DATA, RANDOM, STRUCTS};
        return PICK(r, bases) + below(r, PAGE);
    }
    return next(r);
}

static uint64_t address(struct rng *r)
{
    int roll = (int)below(r, 100);
    if (roll < 35)
        return ARENA + PAGE * below(r, 16);
    if (roll < 60)
        return region_edge(r) & ~(PAGE - 1);
    if (roll < 75) {
        static const uint64_t values[] = {0, UNMAPPED, 0x10000, 0xf000, TASK_SIZE - PAGE, TASK_SIZE, 1ULL << 46};
        return PICK(r, values);
    }
    if (roll < 90)
        return bad_pointer(r);
    static const int widths[] = {32, 47, 64};
    int width = PICK(r, widths);
    return width == 64 ? next(r) : next(r) & ((1ULL << width) - 1);
}

static uint64_t value_of(struct fuzzer *f, int kind, int set);

static uint64_t an_int(struct fuzzer *f)
{
    struct rng *r = &f->rng;
    int roll = (int)below(r, 100);
    if (roll < 70)
        return PICK(r, INTERESTING_INTS);
    if (roll < 85) {
        static const int widths[] = {8, 16, 32, 64};
        int width = PICK(r, widths);
        return width == 64 ? next(r) : next(r) & ((1ULL << width) - 1);
    }
    static const int kinds[] = {K_FD, K_PID, K_SIZE};
    return value_of(f, PICK(r, kinds), 0);
}

static uint64_t a_pid(struct fuzzer *f)
{
    struct rng *r = &f->rng;
    int roll = (int)below(r, 100);
    if (roll < 40)
        return (uint64_t)sys6(chance(r, 50) ? SYS_getpid : SYS_gettid, 0, 0, 0, 0, 0, 0);
    if (roll < 55)
        return 1 + below(r, 40);   /* the sandbox's pids are small */
    return PICK(r, INTERESTING_PIDS);
}

static uint64_t some_flags(struct rng *r, int set)
{
    const struct value_set *bits = &FLAG_SETS[set];
    int roll = (int)below(r, 100);
    if (roll < 15 || bits->count == 0) {
        uint64_t values[] = {0, 0, next(r) & 0xffffffffu, 0xffffffffu};
        return PICK(r, values);
    }
    static const int counts[] = {1, 1, 1, 2, 2, 3, 4};
    uint64_t value = 0;
    for (int i = PICK(r, counts); i > 0; i--)
        value |= bits->values[below(r, (uint64_t)bits->count)];
    if (roll > 93)
        value |= 1ULL << below(r, 32);
    return value;
}

static uint64_t an_enum(struct rng *r, int set)
{
    const struct value_set *values = &ENUM_SETS[set];
    if (values->count && chance(r, 85))
        return values->values[below(r, (uint64_t)values->count)];
    uint64_t others[] = {(uint64_t)-1, 0, 1, 2, 3, 64, 65, 1ULL << 31, next(r) & 0xffffffffu, next(r) & 0xff};
    return PICK(r, others);
}

static uint64_t value_of(struct fuzzer *f, int kind, int set)
{
    struct rng *r = &f->rng;
    switch (kind) {
    case K_INT:
        return an_int(f);
    case K_SIZE:
        return chance(r, 90) ? PICK(r, INTERESTING_SIZES) : next(r) >> below(r, 52);
    case K_FD:
    case K_DIRFD:
        if (chance(r, 65))
            return below(r, 20);
        if (kind == K_DIRFD && chance(r, 40))
            return AT_FDCWD_VALUE;
        return PICK(r, INTERESTING_FDS);
    case K_PID:
        return a_pid(f);
    case K_ID:
        return PICK(r, INTERESTING_IDS);
    case K_MODE:
        return chance(r, 85) ? PICK(r, INTERESTING_MODES) : next(r) & 0xffffffffu;
    case K_DEV:
        return PICK(r, INTERESTING_DEVS);
    case K_FLAGS:
        return some_flags(r, set);
    case K_ENUM:
        return an_enum(r, set);
    case K_ADDR:
        return address(r);
    default:
        return pointer(r, kind);
    }
}

static uint64_t mapping_end(uint64_t addr)
{
    if (addr >= ARENA && addr < GUARD)
        return GUARD;
    if (addr >= READONLY && addr < HOLE)
        return HOLE;
    if (addr >= LONE && addr < ARENA_END)
        return ARENA_END;
    return 0;
}

static void pick_args(struct fuzzer *f, int nr, uint64_t args[6])
{
    struct rng *r = &f->rng;
    const struct syscall_shape *shape = nr >= 0 && nr < NR_TOP ? &SHAPES[nr] : 0;
    int count = shape && shape->nparams > 0 ? shape->nparams : 0;
    for (int i = 0; i < count; i++) {
        int kind = shape->kind[i], set = shape->set[i];
        if (chance(r, 5)) {
            kind = (int)below(r, 16);  /* now and then, a value made for another type */
            set = 0;
        }
        args[i] = value_of(f, kind, set);
    }
    for (int i = count; i < 6; i++) {  /* registers the syscall does not read still hold something */
        uint64_t values[] = {0, 0, 0, next(r), PICK(r, INTERESTING_INTS)};
        args[i] = PICK(r, values);
    }
    /* a buffer and its length: sometimes exactly up to (or just past) the end of its mapping */
    for (int i = 0; i + 1 < count; i++) {
        int kind = shape->kind[i];
        if ((kind == K_INBUF || kind == K_OUTBUF) && shape->kind[i + 1] == K_SIZE && chance(r, 30)) {
            uint64_t end = mapping_end(args[i]);
            static const uint64_t past[] = {0, 0, 1, 7, 8, 4096};
            if (end)
                args[i + 1] = end - args[i] + PICK(r, past);
        }
    }
}

static int pick_nr(struct rng *r)
{
    int roll = (int)below(r, 100);
    if (roll < 90)
        return IMPLEMENTED[below(r, IMPLEMENTED_COUNT)];
    if (roll < 97)
        return (int)below(r, NR_TOP);
    return (int)PICK(r, OUT_OF_RANGE_NRS);
}

/* --- what is not issued ---------------------------------------------------------------- */

static int harmless_signal(uint64_t signo)
{
    int s = (int)(signo & 0xffffffff);
    return s == 0 || s == SIGCHLD || s == SIGCONT || s == SIGURG || s == SIGWINCH || s == SIGALRM || s > 64 || s < 0;
}

/* Whether a signal sent to `pid` (kill's meaning) could reach the controller. */
static int reaches_controller(struct fuzzer *f, int64_t pid)
{
    int32_t p = (int32_t)pid;
    if (p == -1 || p == f->controller)
        return 1;
    long controller_group = sys6(SYS_getpgid, f->controller, 0, 0, 0, 0, 0);
    if (p == 0)
        return sys6(SYS_getpgid, 0, 0, 0, 0, 0, 0) == controller_group;
    return p < -1 && -p == controller_group;
}

static int targets_self(int64_t pid)
{
    int32_t p = (int32_t)pid;
    return p == 0 || p == sys6(SYS_getpid, 0, 0, 0, 0, 0, 0) || p == sys6(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

/* A signal sent by kill(2)-like calls: never the controller, and a fatal one to the
 * worker itself only now and then. */
static int bad_signal(struct fuzzer *f, int64_t pid, uint64_t signo)
{
    if (harmless_signal(signo))
        return 0;
    if (reaches_controller(f, pid))
        return 1;
    return targets_self(pid) && !chance(&f->rng, 10);
}

static int skip(struct fuzzer *f, int nr, const uint64_t a[6])
{
    if (nr & 0x40000000)
        return !chance(&f->rng, 5);  /* the x32 range: the seccomp filter kills the process, by design */
    switch (nr) {
    case SYS_exit:
    case SYS_exit_group:
    case SYS_rt_sigreturn:
        return 1;
    case SYS_execve:
    case SYS_execveat:
        return !chance(&f->rng, 5);  /* each one that works ends the worker */
    case SYS_kill:
        return bad_signal(f, (int64_t)a[0], a[1]);
    case SYS_tkill:
        return (int32_t)a[0] == f->controller || bad_signal(f, (int64_t)a[0], a[1]);
    case SYS_tgkill:
        return (int32_t)a[0] == f->controller || (int32_t)a[1] == f->controller
               || bad_signal(f, (int64_t)a[1], a[2]);
    case SYS_rt_sigqueueinfo:
    case SYS_rt_tgsigqueueinfo:
        return (int32_t)a[0] <= 0 || (int32_t)a[0] == f->controller || bad_signal(f, (int64_t)a[0], a[1]);
    case SYS_pidfd_open:
    case SYS_process_vm_writev:
    case SYS_prlimit64:
    case SYS_setpgid:
    case SYS_ptrace:
        return (int32_t)a[nr == SYS_ptrace ? 1 : 0] == f->controller;
    case SYS_munmap:
    case SYS_mprotect:
    case SYS_pkey_mprotect:
    case SYS_madvise:
    case SYS_remap_file_pages:
        return touches_vital(a[0], a[1]);
    case SYS_mremap:
        return touches_vital(a[0], a[1]) || ((a[3] & MREMAP_FIXED) && touches_vital(a[4], a[2]));
    case SYS_mmap:
        return (a[3] & MAP_FIXED) && touches_vital(a[0], a[1]);
    case SYS_shmat:
        return touches_vital(a[1], PAGE);
    case SYS_brk:
        return a[0] != 0 && a[0] < (uint64_t)_end;
    case SYS_arch_prctl:
        return 0;
    default:
        return 0;
    }
}

/* --- issuing ------------------------------------------------------------------------------ */

static void fuzz_loop(struct fuzzer *f);

static int shares_memory_or_stack(int nr, const uint64_t a[6])
{
    if (nr == SYS_fork)
        return 0;
    if (nr == SYS_clone)
        return (a[0] & CLONE_VM) || a[1] != 0;
    return 1;  /* vfork, clone3 (its arguments are in memory the fuzz may have changed) */
}

static void issue_fork(struct fuzzer *f, int nr, const uint64_t a[6])
{
    int room = __atomic_add_fetch(&shared->live_processes, 1, __ATOMIC_SEQ_CST) <= MAX_PROCESSES;
    if (!room || shares_memory_or_stack(nr, a)) {
        __atomic_sub_fetch(&shared->live_processes, 1, __ATOMIC_SEQ_CST);
        if (!room)
            return;
        __atomic_add_fetch(&shared->syscalls, 1, __ATOMIC_RELAXED);
        sys6_child_exits(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
        return;
    }
    __atomic_add_fetch(&shared->syscalls, 1, __ATOMIC_RELAXED);
    long pid = sys6(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
    if (pid < 0)
        __atomic_sub_fetch(&shared->live_processes, 1, __ATOMIC_SEQ_CST);
    if (pid != 0)
        return;
    /* the child: fuzzes on with its own numbers, then ends itself */
    f->rng.state ^= (uint64_t)sys6(SYS_getpid, 0, 0, 0, 0, 0, 0) * 0x9e3779b97f4a7c15ULL;
    f->depth++;
    fuzz_loop(f);
    __atomic_sub_fetch(&shared->live_processes, 1, __ATOMIC_SEQ_CST);
    sys6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

static void fuzz_one(struct fuzzer *f)
{
    uint64_t a[6];
    int nr = pick_nr(&f->rng);
    pick_args(f, nr, a);
    if (skip(f, nr, a)) {
        __atomic_add_fetch(&shared->skipped, 1, __ATOMIC_RELAXED);
        return;
    }
    if (nr == SYS_fork || nr == SYS_vfork || nr == SYS_clone || nr == SYS_clone3) {
        issue_fork(f, nr, a);
        return;
    }
    __atomic_add_fetch(&shared->syscalls, 1, __ATOMIC_RELAXED);
    sys6(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
}

static void fuzz_loop(struct fuzzer *f)
{
    for (int i = 0; i < WORKER_BUDGET; i++) {
        if (chance(&f->rng, 1))
            fill_random(&f->rng, RANDOM + 8 * below(&f->rng, (2 * PAGE - 256) / 8), 256);
        fuzz_one(f);
    }
}

static void thread_main(void *arg)
{
    fuzz_loop((struct fuzzer *)arg);
}

static void start_threads(struct fuzzer *f, struct fuzzer *threads, int count)
{
    for (int i = 0; i < count; i++) {
        long stack = sys6(SYS_mmap, 0, THREAD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (stack < 0)
            return;
        add_vital((uint64_t)stack, (uint64_t)stack + THREAD_STACK);
        threads[i] = *f;
        threads[i].rng.state = next(&f->rng);
        spawn_thread((void *)(stack + THREAD_STACK), thread_main, &threads[i]);
    }
}

static void worker(uint64_t seed, int controller)
{
    struct fuzzer f = {{seed}, 0, 0, controller, 0};
    struct fuzzer threads[MAX_THREADS];
    uint64_t here = (uint64_t)&f;
    add_vital((uint64_t)__executable_start, (uint64_t)_end);
    add_vital((uint64_t)shared, (uint64_t)shared + PAGE);
    add_vital(here - (1 << 20), here + (64 << 10));  /* the main stack, with room on both sides */
    sys6(SYS_setsid, 0, 0, 0, 0, 0, 0);
    install_nudge_handler();
    if (build_arena(&f.rng) < 0)
        sys6(SYS_exit_group, 2, 0, 0, 0, 0, 0);
    if (chance(&f.rng, 75)) {  /* mostly, output goes nowhere; now and then to the real streams */
        long null = sys6(SYS_openat, (long)AT_FDCWD_VALUE, (long)path_pointer("/dev/null"), O_RDWR, 0, 0, 0);
        for (int fd = 0; fd < 3; fd++)
            sys6(SYS_dup2, null, fd, 0, 0, 0, 0);
        sys6(SYS_close, null, 0, 0, 0, 0, 0);
    }
    open_descriptors();
    start_threads(&f, threads, (int)below(&f.rng, MAX_THREADS + 1));
    fuzz_loop(&f);
    sys6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

/* --- the controller ------------------------------------------------------------------------ */

static void make_files(void)
{
    FILE *file = fopen("/tmp/f", "w");
    if (file) {
        for (int i = 0; i < 300; i++)
            fputs("0123456789abcdef", file);
        fclose(file);
    }
    mkdir("/tmp/d", 0777);
    file = fopen("/tmp/d/x", "w");
    if (file)
        fclose(file);
    symlink("/tmp/f", "/tmp/link");
    symlink("/tmp/loop", "/tmp/loop");
    mkfifo("/tmp/fifo", 0666);
}

static void sleep_ms(long ms)
{
    struct timespec pause = {0, ms * 1000000};
    nanosleep(&pause, 0);
}

struct tally { long workers, signalled, watchdog; long by_signal[65]; };

/* Wait for the worker, nudging or killing it when it stops making syscalls. */
static void watch(pid_t pid, struct tally *tally)
{
    uint64_t last = shared->syscalls;
    long stalled_ms = 0;
    int status;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid || (got < 0))
            break;
        sleep_ms(1);
        uint64_t now = __atomic_load_n(&shared->syscalls, __ATOMIC_RELAXED);
        if (now != last) {
            last = now;
            stalled_ms = 0;
            continue;
        }
        stalled_ms++;
        if (stalled_ms % STALL_NUDGE_MS == 0)
            kill(pid, SIGALRM);
        if (stalled_ms >= STALL_KILL_MS) {
            kill(pid, SIGKILL);
            tally->watchdog++;
            waitpid(pid, &status, 0);
            return;
        }
    }
    if (WIFSIGNALED(status)) {
        tally->signalled++;
        tally->by_signal[WTERMSIG(status) & 63]++;
    }
}

/* Kill and reap every process but this one: the worker's children, and theirs. */
static void clear_out(void)
{
    kill(-1, SIGKILL);
    while (waitpid(-1, 0, __WALL) > 0)
        ;
}

int main(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[1], "run") != 0)
        return 0;  /* run again by a fuzzed execve: nothing to do */
    uint64_t seed = strtoull(argv[2], 0, 0);
    uint64_t target = strtoull(argv[3], 0, 0);
    shared = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    make_files();
    signal(SIGALRM, SIG_IGN);  /* workers may send the nudge signal anywhere; they set their own handler */
    struct tally tally = {0};
    struct rng seeds = {seed};
    int controller = getpid();
    while (shared->syscalls < target) {
        uint64_t worker_seed = next(&seeds);
        shared->live_processes = 1;
        pid_t pid = fork();
        if (pid == 0)
            worker(worker_seed, controller);
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        tally.workers++;
        watch(pid, &tally);
        clear_out();
    }
    printf("\nFUZZ-SUMMARY syscalls=%llu workers=%ld signalled=%ld watchdog=%ld skipped=%llu signals=",
           (unsigned long long)shared->syscalls, tally.workers, tally.signalled, tally.watchdog,
           (unsigned long long)shared->skipped);
    for (int signo = 1; signo < 65; signo++)
        if (tally.by_signal[signo])
            printf("%d:%ld,", signo, tally.by_signal[signo]);
    printf("\n");
    return 0;
}
