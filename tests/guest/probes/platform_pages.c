/* platform_pages START-END ...: the memory calls a guest could aim at the sandbox
 * platform's own pages (the ranges given in hex), which must act as if nothing were
 * there, as natively, where nothing is: mprotect, madvise, mremap, msync and munmap of
 * the range, then mmap over it (MAP_FIXED_NOREPLACE, MAP_FIXED, a plain hint), a
 * mremap moved onto it, and reads and writes of whatever was mapped there. Afterwards
 * memory, fork, threads of control through signals and files must still work
 * (`still working: yes`), so nothing the platform needs was taken away. */
#include "fault.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#define MREMAP_MAYMOVE_ 1
#define MREMAP_FIXED_ 2

static void result(const char *label, long r, uintptr_t aimed) {
    if (r < 0 && r > -4096) printf("  %s: -1 %s\n", label, errno_name((int)-r));
    else if ((uintptr_t)r == aimed) printf("  %s: at the address\n", label);
    else printf("  %s: elsewhere\n", label);
}

static void status(const char *label, long r) {
    if (r < 0) printf("  %s: -1 %s\n", label, errno_name((int)-r));
    else printf("  %s: %ld\n", label, r);
}

/* raw syscalls, so libc's own checks (musl's mmap refuses some lengths) do not answer */
static long raw(long nr, long a, long b, long c, long d, long e, long f) {
    long r = syscall(nr, a, b, c, d, e, f);
    return r < 0 ? -errno : r;
}

static long map_at(uintptr_t addr, size_t len, int flags) {
    return raw(SYS_mmap, (long)addr, (long)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

/* what the call just made mapped: zero-filled and writable, then unmapped again */
static void use_and_drop(long r, size_t len) {
    if (r < 0 && r > -4096) return;
    attempt("  read what was mapped", read_byte, (uintptr_t)r);
    attempt("  write what was mapped", write_byte, (uintptr_t)r);
    status("munmap it", raw(SYS_munmap, r, (long)len, 0, 0, 0, 0));
}

static void hostile(int index, uintptr_t start, uintptr_t end) {
    size_t len = end - start;
    printf("platform range %d (%zu pages):\n", index, len / PAGE);
    status("mprotect rwx", raw(SYS_mprotect, start, len, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0));
    status("mprotect none", raw(SYS_mprotect, start, len, PROT_NONE, 0, 0, 0));
    status("madvise dontneed", raw(SYS_madvise, start, len, MADV_DONTNEED, 0, 0, 0));
    status("msync", raw(SYS_msync, start, len, MS_ASYNC, 0, 0, 0));
    result("mremap in place", raw(SYS_mremap, start, len, len, 0, 0, 0), start);
    result("mremap grow, may move", raw(SYS_mremap, start, len, len + PAGE, MREMAP_MAYMOVE_, 0, 0), start);
    status("munmap", raw(SYS_munmap, start, len, 0, 0, 0, 0));
    fflush(stdout);

    long r = map_at(start, len, MAP_FIXED_NOREPLACE);
    result("mmap MAP_FIXED_NOREPLACE", r, start);
    use_and_drop(r, len);
    r = map_at(start, len, MAP_FIXED);
    result("mmap MAP_FIXED", r, start);
    use_and_drop(r, len);
    r = map_at(start, len, 0);
    result("mmap with it as the hint", r, start);
    use_and_drop(r, len);

    long source = map_at(0, len, 0);
    if (source < 0) {
        printf("  a mapping to move: failed\n");
        return;
    }
    memset((void *)source, 0x5a, len);
    r = raw(SYS_mremap, source, len, len, MREMAP_MAYMOVE_ | MREMAP_FIXED_, start, 0);
    result("mremap a mapping onto it", r, start);
    if (r >= 0 || r <= -4096) {
        printf("  its contents moved along: %s\n", *(volatile unsigned char *)r == 0x5a ? "yes" : "no");
        status("munmap it", raw(SYS_munmap, r, (long)len, 0, 0, 0, 0));
    } else {
        status("munmap the mapping that stayed", raw(SYS_munmap, source, (long)len, 0, 0, 0, 0));
    }
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { got_usr1 = sig; }

static int still_working(void) {
    char *page = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 0;
    memset(page, 7, 8 * PAGE);
    int ok = page[7 * PAGE] == 7 && mprotect(page, PAGE, PROT_READ) == 0 && munmap(page, 8 * PAGE) == 0;
    pid_t pid = fork();
    if (pid == 0) {
        char *child = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        _exit(child != MAP_FAILED && munmap(child, PAGE) == 0 ? 3 : 4);
    }
    int st;
    ok = ok && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3;
    signal(SIGUSR1, on_usr1);
    ok = ok && raise(SIGUSR1) == 0 && got_usr1 == SIGUSR1;
    int fd = open("platform-pages-file", O_CREAT | O_RDWR | O_TRUNC, 0600);
    char back[4] = {0};
    ok = ok && fd >= 0 && write(fd, "ok", 2) == 2 && pread(fd, back, 2, 0) == 2 && strcmp(back, "ok") == 0;
    if (fd >= 0) close(fd);
    unlink("platform-pages-file");
    return ok;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    catch_faults();
    for (int i = 1; i < argc; i++) {
        unsigned long start, end;
        if (sscanf(argv[i], "%lx-%lx", &start, &end) != 2 || end <= start || (start | end) % PAGE) {
            fprintf(stderr, "platform_pages: bad range %s\n", argv[i]);
            return 2;
        }
        hostile(i, start, end);
    }
    printf("still working: %s\n", still_working() ? "yes" : "no");
    return 0;
}
