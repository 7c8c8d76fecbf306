/* wild_memory [START-END ...]: reads, writes and jumps to addresses no program owns
 * (NULL, low pages, the top of user space, non-canonical and kernel-half addresses,
 * just past the stack) and to the [START, END) ranges given in hex (the sandbox
 * platform's own pages; natively nothing is there), each with its fault caught; then
 * syscalls handed those addresses as buffers (EFAULT), and hostile acts in forked
 * children without a handler (killed by SIGSEGV). Ends with `still working: yes` when
 * memory, fork and files still behave afterwards. */
#include "fault.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

struct wild {
    const char *name;
    uintptr_t addr;
};

static const struct wild FIXED[] = {
    {"NULL", 0},
    {"NULL+8", 8},
    {"low page 0x1000", 0x1000},
    {"last byte below 64 KiB", 0xffff},
    {"top user page 0x7ffffffff000", 0x7ffffffff000},
    {"first non-canonical 0x800000000000", 0x800000000000},
    {"non-canonical 0xdead000000000000", 0xdead000000000000},
    {"kernel half 0xffff800000000000", 0xffff800000000000},
    {"kernel text 0xffffffff81000000", 0xffffffff81000000},
    {"last page 0xfffffffffffff000", 0xfffffffffffff000},
};

#define VSYSCALL_PAGE 0xffffffffff600000UL

/* the first page above the initial stack, from /proc/self/maps (0 if not listed) */
static uintptr_t past_the_stack(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) return 0;
    char line[512];
    uintptr_t found = 0;
    while (fgets(line, sizeof line, maps)) {
        if (strstr(line, "[stack]")) {
            unsigned long start, end;
            if (sscanf(line, "%lx-%lx", &start, &end) == 2) found = end;
        }
    }
    fclose(maps);
    return found;
}

/* whether anything is mapped at `addr` (msync answers ENOMEM for unmapped pages) */
static int mapped(uintptr_t addr) {
    return msync((void *)(addr & ~(PAGE - 1)), PAGE, MS_ASYNC) == 0;
}

static void touch(const char *name, uintptr_t addr) {
    char label[160];
    snprintf(label, sizeof label, "read %s", name);
    attempt(label, read_byte, addr);
    snprintf(label, sizeof label, "write %s", name);
    attempt(label, write_byte, addr);
    if (addr >= VSYSCALL_PAGE && addr < VSYSCALL_PAGE + PAGE) {
        /* Linux runs its legacy vsyscall entry points when called there */
        printf("jump %s: not tried (the vsyscall page)\n", name);
        return;
    }
    snprintf(label, sizeof label, "jump %s", name);
    attempt(label, jump_to, addr);
}

/* ---- syscalls given a wild buffer: the kernel must answer, not fault ------------------- */

static int pipe_r = -1, pipe_w = -1;

static void sys(const char *name, const char *call, long r) {
    printf("  %s %s: ", name, call);
    if (r < 0) printf("-1 %s\n", errno_name(errno));
    else printf("%ld\n", r);
}

static void syscalls_with(const char *name, uintptr_t p) {
    void *ptr = (void *)p;
    fflush(stdout);
    sys(name, "write(1)", syscall(SYS_write, 1, ptr, 8));
    fflush(stdout);
    struct iovec iov = {ptr, 8};
    sys(name, "writev(1) iov_base", syscall(SYS_writev, 1, &iov, 1));
    fflush(stdout);
    sys(name, "writev(1) iov array", syscall(SYS_writev, 1, ptr, 1));
    if (write(pipe_w, "12345678", 8) != 8) printf("  pipe write failed\n");
    sys(name, "read(pipe)", syscall(SYS_read, pipe_r, ptr, 8));
    char drain[64];
    sys(name, "bytes left in the pipe", read(pipe_r, drain, sizeof drain));
    sys(name, "readv iov array", syscall(SYS_readv, pipe_r, ptr, 1));
    sys(name, "open", syscall(SYS_open, ptr, O_RDONLY));
    sys(name, "stat path", syscall(SYS_stat, ptr, drain));
    sys(name, "fstat buffer", syscall(SYS_fstat, 0, ptr));
    sys(name, "clock_gettime", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, ptr));
    sys(name, "gettimeofday", syscall(SYS_gettimeofday, ptr, NULL));
    sys(name, "uname", syscall(SYS_uname, ptr));
    sys(name, "getcwd", syscall(SYS_getcwd, ptr, 64));
    sys(name, "pipe2", syscall(SYS_pipe2, ptr, 0));
    sys(name, "socketpair", syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, ptr));
    sys(name, "nanosleep", syscall(SYS_nanosleep, ptr, NULL));
    sys(name, "rt_sigaction", syscall(SYS_rt_sigaction, SIGUSR1, ptr, NULL, 8));
    sys(name, "rt_sigprocmask", syscall(SYS_rt_sigprocmask, SIG_BLOCK, ptr, NULL, 8));
    sys(name, "getrandom", syscall(SYS_getrandom, ptr, 16, 0));
    sys(name, "poll", syscall(SYS_poll, ptr, 1, 0));
    sys(name, "futex wait", syscall(SYS_futex, ptr, 0 /* FUTEX_WAIT */, 0, NULL, NULL, 0));
    sys(name, "prlimit64 old", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, ptr));
    sys(name, "sched_getaffinity", syscall(SYS_sched_getaffinity, 0, 128, ptr));
    sys(name, "execve", syscall(SYS_execve, ptr, NULL, NULL));
}

/* ---- forked children with no handler ------------------------------------------------- */

static void in_child(const char *label, long (*act)(uintptr_t), uintptr_t target) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        act(target);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        printf("%s: waitpid failed\n", label);
    } else if (WIFSIGNALED(status)) {
        printf("%s: child killed by %s\n", label, signal_name(WTERMSIG(status)));
    } else {
        printf("%s: child exited %d\n", label, WEXITSTATUS(status));
    }
}

/* ---- afterwards ---------------------------------------------------------------------- */

static int still_working(void) {
    char *page = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 0;
    memset(page, 7, 4 * PAGE);
    int ok = page[3 * PAGE] == 7 && munmap(page, 4 * PAGE) == 0;
    pid_t pid = fork();
    if (pid == 0) _exit(3);
    int status;
    ok = ok && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 3;
    int fd = open("wild-memory-file", O_CREAT | O_RDWR | O_TRUNC, 0600);
    char back[4] = {0};
    ok = ok && fd >= 0 && write(fd, "ok", 2) == 2 && pread(fd, back, 2, 0) == 2 && strcmp(back, "ok") == 0;
    if (fd >= 0) close(fd);
    unlink("wild-memory-file");
    return ok;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    catch_faults();
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pipe_r = fds[0];
    pipe_w = fds[1];
    fcntl(pipe_r, F_SETFL, O_NONBLOCK);

    struct wild given[32];
    int n_given = 0;
    for (int i = 1; i < argc && n_given < 16; i++) {
        unsigned long start, end;
        if (sscanf(argv[i], "%lx-%lx", &start, &end) != 2 || end <= start) {
            fprintf(stderr, "wild_memory: bad range %s\n", argv[i]);
            return 2;
        }
        static char names[32][48];
        snprintf(names[2 * n_given], sizeof names[0], "platform range %d start", i);
        snprintf(names[2 * n_given + 1], sizeof names[0], "platform range %d last byte", i);
        given[n_given].name = names[2 * n_given];
        given[n_given++].addr = start;
        given[n_given].name = names[2 * n_given - 1];
        given[n_given++].addr = end - 1;
    }

    uintptr_t stack_end = past_the_stack();
    printf("stack listed in /proc/self/maps: %s\n", stack_end ? "yes" : "no");
    if (stack_end) printf("page past the stack mapped: %s\n", mapped(stack_end) ? "yes" : "no");

    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++) touch(FIXED[i].name, FIXED[i].addr);
    if (stack_end && !mapped(stack_end)) touch("just past the stack", stack_end);
    for (int i = 0; i < n_given; i++) {
        printf("%s mapped: %s\n", given[i].name, mapped(given[i].addr) ? "yes" : "no");
        touch(given[i].name, given[i].addr);
    }

    printf("syscalls with wild buffers:\n");
    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++) {
        if (FIXED[i].addr == 0 || FIXED[i].addr == 8 || FIXED[i].addr == 0x1000 ||
            FIXED[i].addr == 0xdead000000000000 || FIXED[i].addr == 0xffff800000000000)
            syscalls_with(FIXED[i].name, FIXED[i].addr);
    }
    syscalls_with("vsyscall page", VSYSCALL_PAGE);
    for (int i = 0; i < n_given; i += 2) syscalls_with(given[i].name, given[i].addr);

    in_child("child reads NULL", read_byte, 0);
    in_child("child writes the kernel half", write_byte, 0xffff800000000000);
    in_child("child jumps to a non-canonical address", jump_to, 0xdead000000000000);
    for (int i = 0; i < n_given; i += 2) {
        char label[96];
        snprintf(label, sizeof label, "child writes %s", given[i].name);
        in_child(label, write_byte, given[i].addr);
    }

    printf("still working: %s\n", still_working() ? "yes" : "no");
    return 0;
}
