/* abi_escape: system calls through the other doors of an x86-64 Linux kernel, each in
 * a child whose end the parent reports: the i386 gates (int $0x80, sysenter, and a
 * syscall from 32-bit code), x32 numbers, numbers with high bits set, and the
 * vsyscall page. Every legacy call asks for exit(N) with a telling N, so a host that
 * served one would show that exit status.
 * argv[1]: "legacy" or "vsyscall" (the group of attempts to make). */
#include "probe.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#define VSYSCALL 0xffffffffff600000UL
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static void int80_exit(void)
{
    __asm__ volatile("int $0x80" ::"a"(1L), "b"(42L) : "memory");
}

static void int80_getpid(void)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    exit(ret > 0 ? 0 : 1);
}

static void sysenter_exit(void)
{
    __asm__ volatile("sysenter" ::"a"(1L), "b"(43L) : "rcx", "rdx", "memory");
}

static void x32_exit(void)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(0x40000000L | 60), "D"(44L) : "rcx", "r11", "memory");
    exit(ret == -ENOSYS ? 3 : 4);
}

static void x32_getpid(void)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(0x40000000L | 39) : "rcx", "r11", "memory");
    exit(ret == -ENOSYS ? 3 : 4);
}

/* A far return into 32-bit code (user code segment 0x23) that asks for exit(N) through
 * `gate` (int $0x80, or syscall from compatibility mode). */
static void compat_exit(const unsigned char gate[2], int status)
{
    unsigned char code[] = {
        0xb8, 0x01, 0x00, 0x00, 0x00,   /* mov $1, %eax  (exit) */
        0xbb, 0x00, 0x00, 0x00, 0x00,   /* mov $status, %ebx */
        gate[0], gate[1],
        0xf4,                           /* hlt: SIGSEGV if the gate returned */
    };
    code[6] = (unsigned char)status;
    /* 32-bit code needs an address below 4 GiB (chosen here: MAP_32BIT is a hint the
     * sandbox does not follow) */
    unsigned char *page = mmap((void *)0x3f000000, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (page == MAP_FAILED)
        exit(5);
    memcpy(page, code, sizeof code);
    __asm__ volatile("pushq $0x23\n\tpushq %0\n\tlretq" ::"r"((uint64_t)(uintptr_t)page) : "memory");
}

static void compat_int80_exit(void)
{
    compat_exit((const unsigned char[]){0xcd, 0x80}, 46);
}

static void compat_syscall_exit(void)
{
    compat_exit((const unsigned char[]){0x0f, 0x05}, 47);
}

static void high_bits_getpid(void)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"((1L << 32) | 39) : "rcx", "r11", "memory");
    exit(ret == getpid() ? 0 : ret == -ENOSYS ? 3 : 4);
}

static void high_bits_exit(void)
{
    __asm__ volatile("syscall" ::"a"((1L << 32) | 60), "D"(45L) : "rcx", "r11", "memory");
    exit(3);
}

typedef long (*vgettimeofday)(struct timeval *, void *);
typedef long (*vtime)(long *);
typedef long (*vgetcpu)(unsigned *, unsigned *, void *);

static void vsyscall_gettimeofday(void)
{
    struct timeval tv = {0, 0};
    long ret = ((vgettimeofday)VSYSCALL)(&tv, NULL);
    long now = time(NULL);
    exit(ret == 0 && tv.tv_sec >= now - 5 && tv.tv_sec <= now + 5 ? 0 : 1);
}

static void vsyscall_time(void)
{
    long out = 0;
    long ret = ((vtime)(VSYSCALL + 0x400))(&out);
    long now = time(NULL);
    exit(ret == out && ret >= now - 5 && ret <= now + 5 ? 0 : 1);
}

static void vsyscall_getcpu(void)
{
    unsigned cpu = 99999, node = 99999;
    long ret = ((vgetcpu)(VSYSCALL + 0x800))(&cpu, &node, NULL);
    exit(ret == 0 && cpu < 4096 && node < 4096 ? 0 : 1);
}

static void vsyscall_kernel_pointer(void)
{
    ((vgettimeofday)VSYSCALL)((struct timeval *)0xffff888000000000UL, NULL);
    exit(1);
}

static void vsyscall_misaligned(void)
{
    ((vtime)(VSYSCALL + 1))(NULL);
    exit(1);
}

static void vsyscall_read(void)
{
    volatile unsigned char *page = (volatile unsigned char *)VSYSCALL;
    exit(page[0] == 0x42 ? 1 : 2);
}

static void vsyscall_write(void)
{
    *(volatile unsigned char *)VSYSCALL = 0xcc;
    exit(1);
}

static void attempt(const char *label, void (*body)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        body();
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", label, WTERMSIG(status));
    else
        printf("%s: exit %d\n", label, WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "legacy")) {
        attempt("int80 exit(42)", int80_exit);
        attempt("int80 getpid", int80_getpid);
        attempt("sysenter exit(43)", sysenter_exit);
        attempt("32-bit code int80 exit(46)", compat_int80_exit);
        attempt("32-bit code syscall exit(47)", compat_syscall_exit);
        attempt("x32 exit(44)", x32_exit);
        attempt("x32 getpid", x32_getpid);
    } else if (argc > 1 && !strcmp(argv[1], "high-bits")) {
        attempt("high bits getpid", high_bits_getpid);
        attempt("high bits exit(45)", high_bits_exit);
    } else if (argc > 1 && !strcmp(argv[1], "vsyscall")) {
        attempt("vsyscall gettimeofday", vsyscall_gettimeofday);
        attempt("vsyscall time", vsyscall_time);
        attempt("vsyscall getcpu", vsyscall_getcpu);
        attempt("vsyscall kernel pointer", vsyscall_kernel_pointer);
        attempt("vsyscall misaligned", vsyscall_misaligned);
        attempt("vsyscall read", vsyscall_read);
        attempt("vsyscall write", vsyscall_write);
    } else {
        return 2;
    }
    printf("parent: still here\n");
    return 0;
}
