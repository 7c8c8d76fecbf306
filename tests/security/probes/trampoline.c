/* trampoline: a guest that knows where the stub's `syscall; int3` trampoline is (the
 * page address comes on stdin, in hex; it also finds it on its own) and jumps there
 * with registers of its own, or to the syscall of the stub's batch loop (with one call
 * left to run, so the loop ends at its int3 after it). A SIGTRAP handler turns that
 * int3 into a return, so each attempt reports its result. Prints `label: RESULT`. */
#include "probe.h"

#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <ucontext.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#define CLONE_UNTRACED 0x00800000

uintptr_t trampoline;   /* global: the assembly below uses it */
uintptr_t site;         /* where via() jumps: the trampoline or the batch loop's syscall */
uintptr_t site_trap;    /* the address after the int3 that ends a call made there */

/* tramp(target, nr, a1..a6): the arguments moved to the syscall registers, then a call
 * into the trampoline (r12 = 1: the batch loop's count of calls left); the SIGTRAP
 * handler returns from it. */
long tramp(uintptr_t target, long nr, long a1, long a2, long a3, long a4, long a5, long a6);
__asm__(".globl tramp\n"
        "tramp:\n"
        "  mov %rdi, %r11\n"
        "  mov %rsi, %rax\n"
        "  mov %rdx, %rdi\n"
        "  mov %rcx, %rsi\n"
        "  mov %r8, %rdx\n"
        "  mov %r9, %r10\n"
        "  mov 8(%rsp), %r8\n"
        "  mov 16(%rsp), %r9\n"
        "  push %r12\n"
        "  mov $1, %r12\n"
        "  call *%r11\n"
        "  pop %r12\n"
        "  ret\n");

static void on_trap(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)info;
    greg_t *regs = ((ucontext_t *)context)->uc_mcontext.gregs;
    if ((uintptr_t)regs[REG_RIP] != site_trap)
        _exit(99);
    regs[REG_RIP] = *(greg_t *)regs[REG_RSP];   /* return to the caller of the trampoline */
    regs[REG_RSP] += 8;
}

static long via(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    return tramp(site, nr, a1, a2, a3, a4, a5, a6);
}

static void result(const char *label, long ret)
{
    if (ret < 0 && ret > -4096)
        printf("%s: %s\n", label, errno_name(-ret));
    else
        printf("%s: %ld\n", label, ret);
}

static void in_child(const char *label, void (*body)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        body();
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", label, WTERMSIG(status));
    else
        printf("%s: exit %d\n", label, WEXITSTATUS(status));
}

/* A clone made at the trampoline must be the sandbox's own emulated clone: the child
 * is a sandbox process its parent can wait for, and never an untraced host task. */
static void clone_with(long flags)
{
    long ret = via(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0, 0);
    if (ret == 0)
        _exit(50);
    if (ret < 0)
        _exit(52);
    int status;
    _exit(waitpid(ret, &status, 0) == ret && WIFEXITED(status) && WEXITSTATUS(status) == 50 ? 51 : 53);
}

static void clone_plain(void)
{
    clone_with(0);
}

static void clone_untraced(void)
{
    clone_with(CLONE_UNTRACED);
}

/* The new thread starts at the trampoline's int3 on its own stack: the SIGTRAP handler
 * "returns" to the address at the top of that stack, which ends the thread. */
static void thread_body(void)
{
    __asm__ volatile("syscall" ::"a"((long)SYS_exit), "D"(0L) : "memory");
}

static void clone_thread(void)
{
    static char stack[65536] __attribute__((aligned(16)));
    uintptr_t *top = (uintptr_t *)(stack + sizeof stack) - 2;
    top[0] = (uintptr_t)thread_body;
    long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    long ret = via(SYS_clone, flags, (long)top, 0, 0, 0, 0);
    _exit(ret > 0 ? 51 : 52);
}

static void exec_through(void)
{
    char *argv[] = {"busybox", "echo", "exec through the trampoline ran in the sandbox", NULL};
    char *envp[] = {NULL};
    via(SYS_execve, (long)"/bin/busybox", (long)argv, (long)envp, 0, 0, 0);
    _exit(53);
}

static void exit_group_through(void)
{
    via(SYS_exit_group, 54, 0, 0, 0, 0, 0);
    _exit(55);
}

static void exit_through(void)
{
    via(SYS_exit, 56, 0, 0, 0, 0, 0);
    _exit(57);
}

static void unmap_the_stub(void)
{
    long ret = via(SYS_munmap, (long)(trampoline & ~4095UL), 4096, 0, 0, 0, 0);
    (void)ret;                   /* returns to an unmapped trampoline: SIGSEGV */
    _exit(58);
}

static sigjmp_buf recover;

static void on_segv(int sig)
{
    (void)sig;
    siglongjmp(recover, 1);
}

/* Take the trampoline away, survive the fault, then make the sandbox inject a call. */
static void unmap_the_stub_then_mmap(void)
{
    signal(SIGSEGV, on_segv);
    if (!sigsetjmp(recover, 1))
        via(SYS_munmap, (long)(trampoline & ~4095UL), 4096, 0, 0, 0, 0);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    _exit(p == MAP_FAILED ? 59 : 60);
}

/* The sandbox keeps pages it reserves for itself out of reach: a fixed mapping over
 * them fails. Binary search for such pages from the results alone. */
static int reserved_pages(uintptr_t lo, uintptr_t hi, uintptr_t *found, int room)
{
    void *p = mmap((void *)lo, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p != MAP_FAILED) {
        munmap(p, hi - lo);
        return 0;
    }
    if (errno != EPERM)
        return 0;
    if (hi - lo == 4096) {
        if (room > 0)
            found[0] = lo;
        return 1;
    }
    uintptr_t mid = lo + ((hi - lo) / 2 & ~4095UL);
    int n = reserved_pages(lo, mid, found, room);
    return n + reserved_pages(mid, hi, found + n, room - n);
}

/* Make the stub's page writable through the trampoline and replace the int3 after the
 * trampoline's syscall with a jump to code of ours that asks for an untraced clone. The
 * next clone the sandbox injects (for a fork) then runs on into that code. */
static void rewritten_clone(void)
{
    __asm__ volatile("mov %0, %%edi\n\t"
                     "xor %%esi, %%esi\n\t"
                     "mov $56, %%eax\n\t"
                     "syscall\n\t"
                     "1: jmp 1b" ::"i"(CLONE_UNTRACED | SIGCHLD) : "memory");
}

/* Where a trampoline rewritten at its entry leads: put the syscall instruction back,
 * load a clone of our own choosing (CLONE_UNTRACED | SIGCHLD) and make it right there,
 * so that the stop looks like the injected clone's but for the arguments. */
void entry_hijack(void);
__asm__(".globl entry_hijack\n"
        "entry_hijack:\n"
        "  mov trampoline(%rip), %r11\n"
        "  movw $0x050f, (%r11)\n"
        "  mov $56, %eax\n"
        "  mov $0x800011, %edi\n"
        "  xor %esi, %esi\n"
        "  xor %edx, %edx\n"
        "  xor %r10d, %r10d\n"
        "  xor %r8d, %r8d\n"
        "  jmp *%r11\n");

static long make_stub_page_writable(void)
{
    long ret = via(SYS_mprotect, (long)(trampoline & ~4095UL), 4096, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0);
    result("mprotect the stub page writable", ret);
    return ret;
}

/* Replace the trampoline's syscall with a jump to entry_hijack, then fork: the clone
 * the sandbox injects for it runs into our code first. */
static void rewrite_the_entry(void)
{
    if (make_stub_page_writable() != 0)
        return;
    unsigned char far[14] = {0xff, 0x25, 0, 0, 0, 0};    /* jmp *0(%rip), then the address */
    uintptr_t target = (uintptr_t)entry_hijack;
    memcpy(far + 6, &target, sizeof target);
    memcpy((void *)(trampoline + 8), far, sizeof far);
    memcpy((void *)trampoline, "\xeb\x06", 2);           /* jmp +6, to the far jump */
    printf("trampoline entry rewritten\n");
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    printf("fork after the rewrite returned: %s\n", pid < 0 ? errno_name(errno) : "a pid");
}

static void rewrite_the_trampoline(void)
{
    if (make_stub_page_writable() != 0)
        return;
    unsigned char jump[14] = {0xff, 0x25, 0, 0, 0, 0};   /* jmp *0(%rip), then the address */
    uintptr_t target = (uintptr_t)rewritten_clone;
    memcpy(jump + 6, &target, sizeof target);
    memcpy((void *)(trampoline + 2), jump, sizeof jump);
    printf("trampoline rewritten\n");
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    printf("fork after the rewrite returned: %s\n", pid < 0 ? errno_name(errno) : "a pid");
}

static void calls(void)
{
    /* calls outside the injection set are the sandbox's, wherever they come from */
    struct utsname u;
    long ret = via(SYS_uname, (long)&u, 0, 0, 0, 0, 0);
    printf("uname: %s\n", ret == 0 ? u.nodename : errno_name(-ret));
    result("getpid", via(SYS_getpid, 0, 0, 0, 0, 0, 0));

    /* the mapping channel: host descriptor 3 of the stub, no descriptor of the guest's */
    char data[8];
    char control[64];
    struct iovec iov = {data, sizeof data};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    result("recvmsg on descriptor 3", via(SYS_recvmsg, 3, (long)&msg, MSG_DONTWAIT, 0, 0, 0));
    result("close descriptor 3", via(SYS_close, 3, 0, 0, 0, 0, 0));

    long fd = via(SYS_open, (long)"/etc/slimbox-trampoline", O_WRONLY | O_CREAT, 0644, 0, 0, 0);
    struct stat st;
    printf("open: %s\n", fd < 0 ? errno_name(-fd) : fstat(fd, &st) == 0 ? "a sandbox descriptor" : "unknown");
    printf("file in the sandbox: %s\n", access("/etc/slimbox-trampoline", F_OK) == 0 ? "yes" : "no");
    long sock = via(SYS_socket, AF_UNIX, SOCK_STREAM, 0, 0, 0, 0);
    printf("socket: %s\n", sock < 0 ? errno_name(-sock)
           : fstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) ? "a sandbox socket" : "unknown");
    result("kill pid 1 with signal 0", via(SYS_kill, 1, 0, 0, 0, 0, 0));
    result("ptrace", via(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0, 0, 0));

    /* the memory set runs on the host, inside this process only */
    long anon = via(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap: %s\n", anon < 0 && anon > -4096 ? errno_name(-anon) : "mapped");
    int null = open("/dev/null", O_WRONLY);
    printf("the sandbox knows that mapping: %s\n",
           write(null, (void *)anon, 1) < 0 && errno == EFAULT ? "no" : "yes");

    in_child("clone", clone_plain);
    in_child("clone a thread", clone_thread);
    in_child("clone untraced", clone_untraced);
    in_child("execve", exec_through);
    in_child("exit_group(54)", exit_group_through);
    in_child("exit(56)", exit_through);
    in_child("unmap the stub", unmap_the_stub);
}

static void find_trampoline(uintptr_t page)
{
    uintptr_t found[8];
    int count = reserved_pages(0x10000, 0x7ffffffff000UL, found, 8);
    int oracle = 0;
    for (int i = 0; i < count && i < 8; i++)
        oracle |= found[i] == page;
    printf("mmap errors reveal the stub page: %s\n", oracle ? "yes" : "no");

    const unsigned char *code = (const unsigned char *)page;
    printf("stub page starts with: %s\n", memcmp(code, "\x7f" "ELF", 4) ? "something else" : "ELF");
    for (int i = 0; i + 2 < 4096; i++)
        if (code[i] == 0x0f && code[i + 1] == 0x05 && code[i + 2] == 0xcc) {
            trampoline = page + i;
            break;
        }
    printf("trampoline found: %s\n", trampoline ? "yes" : "no");
    site = trampoline;
    site_trap = trampoline + 3;
}

/* The batch loop's syscall: the next `syscall; cmp rax, -4095` in the page, and the
 * int3 the loop ends at after it (the one after its closing jnz). */
static void find_batch_loop(uintptr_t page)
{
    const unsigned char *code = (const unsigned char *)page;
    uintptr_t found = 0, trap = 0;
    for (int i = 0; i + 4 < 4096 && !found; i++)
        if (!memcmp(code + i, "\x0f\x05\x48\x3d", 4))
            found = page + i;
    for (int i = found ? (int)(found - page) : 4096; i + 2 < 4096 && !trap; i++)
        if (code[i] == 0x75 && code[i + 2] == 0xcc)   /* jnz (back to the loop's start); int3 */
            trap = page + i + 3;
    printf("batch loop found: %s\n", found && trap ? "yes" : "no");
    if (found && trap) {
        site = found;
        site_trap = trap;
    }
}

/* argv[1]: "calls" (each in turn), "batch-calls" (the same through the batch loop's
 * syscall), "unmap" (take the stub's page away, then make the sandbox inject), "rewrite"
 * (change the code after the trampoline's syscall) or "rewrite-entry" (change the
 * trampoline's syscall itself). */
int main(int argc, char **argv)
{
    char line[64] = {0};
    if (argc < 2 || read(0, line, sizeof line - 1) <= 0)
        return 2;
    find_trampoline(strtoul(line, NULL, 16));
    if (!trampoline)
        return 1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);

    if (!strcmp(argv[1], "calls"))
        calls();
    else if (!strcmp(argv[1], "batch-calls")) {
        find_batch_loop(strtoul(line, NULL, 16));
        calls();
    }
    else if (!strcmp(argv[1], "unmap"))
        in_child("unmap the stub, then mmap", unmap_the_stub_then_mmap);
    else if (!strcmp(argv[1], "rewrite"))
        rewrite_the_trampoline();
    else if (!strcmp(argv[1], "rewrite-entry"))
        rewrite_the_entry();
    else
        return 2;
    printf("parent: still here\n");
    return 0;
}
