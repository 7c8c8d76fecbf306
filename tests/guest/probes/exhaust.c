/* exhaust: uses up one resource until the sandbox's limit stops it, and reports how.
 *
 *   exhaust memory   mmaps and touches 1 MiB at a time: the errno and MiB reached
 *   exhaust files    opens "/" until it fails: the errno and how many opened
 *   exhaust disk     writes 64 KiB chunks to ./fill: the errno and KiB written; then
 *                    removes the file and checks a write fits again
 *   exhaust fsize    with SIGXFSZ ignored, writes ./big past RLIMIT_FSIZE: the size
 *                    reached and the errno; then with SIGXFSZ at its default, dies of it
 *   exhaust cpu      spins; counts SIGXCPU in a handler (printed as it comes) until
 *                    SIGKILL ends it
 *   exhaust output   with SIGXFSZ ignored, writes lines to stdout until a write fails;
 *                    exits 42 if that was EFBIG, 1 otherwise
 *
 * Sandbox only: natively these would exhaust the machine (or never end). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOSPC: return "ENOSPC";
    case EFBIG: return "EFBIG";
    case EAGAIN: return "EAGAIN";
    default: return "E?";
    }
}

static int memory(void)
{
    const size_t mib = 1 << 20;
    long got = 0;
    for (;;) {
        char *p = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("memory: %s after %ld MiB\n", ename(errno), got);
            return 0;
        }
        memset(p, 1, mib);
        got++;
    }
}

static int files(void)
{
    long opened = 0;
    while (open("/", O_RDONLY) >= 0)
        opened++;
    printf("files: %s after %ld\n", ename(errno), opened);
    return 0;
}

static int disk(void)
{
    static char chunk[64 << 10];
    long kib = 0;
    int fd = open("fill", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t n;
    memset(chunk, 'd', sizeof chunk);
    while ((n = write(fd, chunk, sizeof chunk)) > 0)
        kib += n >> 10;
    printf("disk: %s after %ld KiB\n", ename(errno), kib);
    close(fd);
    unlink("fill");
    fd = open("fill", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    printf("after unlink: %s\n", write(fd, chunk, sizeof chunk) == sizeof chunk ? "room again" : ename(errno));
    close(fd);
    unlink("fill");
    return 0;
}

static int fsize(void)
{
    static char chunk[4096];
    long size = 0;
    ssize_t n;
    int fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    signal(SIGXFSZ, SIG_IGN);
    while ((n = write(fd, chunk, sizeof chunk)) > 0)
        size += n;
    printf("fsize: %s at %ld bytes\n", ename(errno), size);
    fflush(stdout);
    unlink("big");
    signal(SIGXFSZ, SIG_DFL);
    write(fd, chunk, 1);
    printf("fsize: survived SIGXFSZ\n");
    return 1;
}

static volatile sig_atomic_t xcpu;

static void on_xcpu(int sig)
{
    (void)sig;
    xcpu++;
    write(1, "SIGXCPU\n", 8);
}

static int cpu(void)
{
    signal(SIGXCPU, on_xcpu);
    for (;;)
        ;
}

static int output(void)
{
    static const char line[] = "a line of output that goes on and on\n";
    signal(SIGXFSZ, SIG_IGN);
    while (write(1, line, sizeof line - 1) > 0)
        ;
    return errno == EFBIG ? 42 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && !strcmp(argv[1], "memory")) return memory();
    if (argc == 2 && !strcmp(argv[1], "files")) return files();
    if (argc == 2 && !strcmp(argv[1], "disk")) return disk();
    if (argc == 2 && !strcmp(argv[1], "fsize")) return fsize();
    if (argc == 2 && !strcmp(argv[1], "cpu")) return cpu();
    if (argc == 2 && !strcmp(argv[1], "output")) return output();
    fprintf(stderr, "usage: exhaust memory|files|disk|fsize|cpu|output\n");
    return 2;
}
