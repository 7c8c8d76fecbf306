/* mm: memory management.  Anonymous mmap read/write, mprotect to read-only
 * and back, munmap (range gone, a fresh mapping is zero-filled), MAP_FIXED
 * over part of a mapping, mremap grow (MREMAP_MAYMOVE, contents kept) and
 * shrink, a private file mapping (contents visible, writes stay private),
 * madvise(MADV_DONTNEED) zeroing private anonymous memory, raw brk grow and
 * shrink, EINVAL for a zero-length mmap and an unaligned munmap, and a
 * 64 MiB anonymous mapping touched on every page. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    case EEXIST: return "EEXIST";
    default: return "E?";
    }
}

static const char *yesno(int c)
{
    return c ? "yes" : "no";
}

static int is_zero(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 31u + seed) & 0xff);
}

static int check(const unsigned char *p, size_t n, unsigned seed)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != (unsigned char)((i * 31u + seed) & 0xff))
            return 0;
    return 1;
}

static void *anon(size_t len)
{
    return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int main(void)
{
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p, *q;
    int r;

    /* brk first, before stdio may use the heap; results printed afterwards */
    {
        unsigned long cur = (unsigned long)syscall(SYS_brk, 0);
        unsigned long want = cur + (1ul << 20);
        unsigned long grown = (unsigned long)syscall(SYS_brk, want);
        int grow_ok = grown == want;
        int write_ok = 0;
        if (grow_ok) {
            memset((void *)cur, 0x5a, 1ul << 20);
            write_ok = ((volatile unsigned char *)cur)[(1ul << 20) - 1] == 0x5a;
        }
        unsigned long back = (unsigned long)syscall(SYS_brk, cur);
        int shrink_ok = back == cur;
        printf("brk query non-zero: %s\n", yesno(cur != 0));
        printf("brk grow 1MiB: %s\n", grow_ok ? "ok" : "failed");
        printf("brk range writable: %s\n", yesno(write_ok));
        printf("brk shrink back: %s\n", shrink_ok ? "ok" : "failed");
    }

    /* anonymous rw */
    p = anon(4 * pg);
    printf("mmap anon 4 pages: %s\n", p != MAP_FAILED ? "ok" : ename(errno));
    if (p == MAP_FAILED)
        return 1;
    printf("mmap page aligned: %s\n", yesno(((unsigned long)p & (pg - 1)) == 0));
    printf("fresh anon zero-filled: %s\n", yesno(is_zero(p, 4 * pg)));
    fill(p, 4 * pg, 1);
    printf("mmap rw pattern: %s\n", check(p, 4 * pg, 1) ? "ok" : "mismatch");

    /* mprotect */
    r = mprotect(p, 4 * pg, PROT_READ);
    printf("mprotect read-only: %s\n", r == 0 ? "ok" : ename(errno));
    printf("read-only contents kept: %s\n", yesno(check(p, 4 * pg, 1)));
    r = mprotect(p, 4 * pg, PROT_READ | PROT_WRITE);
    printf("mprotect back to rw: %s\n", r == 0 ? "ok" : ename(errno));
    p[0] = 0xee;
    printf("write after mprotect rw: %s\n", yesno(p[0] == 0xee));
    p[0] = 1; /* restore the fill(.., 1) pattern byte */
    errno = 0;
    r = (int)syscall(SYS_mprotect, p + 1, pg, PROT_READ); /* musl's wrapper rounds */
    printf("mprotect unaligned: %s\n", r == 0 ? "succeeded" : ename(errno));

    /* MAP_FIXED over the middle two pages */
    q = mmap(p + pg, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
             -1, 0);
    printf("MAP_FIXED over middle: %s\n", q == MAP_FAILED ? ename(errno) : "ok");
    printf("MAP_FIXED at requested address: %s\n", yesno(q == p + pg));
    printf("MAP_FIXED range zeroed: %s\n", yesno(is_zero(p + pg, 2 * pg)));
    printf("MAP_FIXED neighbours kept: %s\n",
           yesno(check(p, pg, 1) && p[3 * pg] == (unsigned char)((3 * pg * 31u + 1) & 0xff)));

    /* munmap */
    r = munmap(p, 4 * pg);
    printf("munmap: %s\n", r == 0 ? "ok" : ename(errno));
    errno = 0;
    r = msync(p, pg, MS_ASYNC);
    printf("msync on unmapped range: %s\n", r == 0 ? "succeeded" : ename(errno));
    q = anon(pg);
    printf("fresh mmap after munmap zero-filled: %s\n", yesno(q != MAP_FAILED && is_zero(q, pg)));
    if (q != MAP_FAILED)
        munmap(q, pg);

    /* mremap */
    p = anon(2 * pg);
    fill(p, 2 * pg, 7);
    q = mremap(p, 2 * pg, 64 * pg, MREMAP_MAYMOVE);
    printf("mremap grow MAYMOVE: %s\n", q == MAP_FAILED ? ename(errno) : "ok");
    if (q != MAP_FAILED) {
        printf("mremap grow kept contents: %s\n", yesno(check(q, 2 * pg, 7)));
        printf("mremap grown tail zero: %s\n", yesno(is_zero(q + 2 * pg, 62 * pg)));
        q[64 * pg - 1] = 1;
        p = mremap(q, 64 * pg, pg, 0);
        printf("mremap shrink: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
        printf("mremap shrink in place: %s\n", yesno(p == q));
        printf("mremap shrink kept contents: %s\n", yesno(p != MAP_FAILED && check(p, pg, 7)));
        errno = 0;
        r = msync(q + pg, pg, MS_ASYNC);
        printf("msync on released tail: %s\n", r == 0 ? "succeeded" : ename(errno));
        if (p != MAP_FAILED)
            munmap(p, pg);
    }

    /* private file mapping */
    {
        const char name[] = "mm_file.dat";
        unsigned char buf[8192], chk[16];
        int fd = open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
        fill(buf, sizeof buf, 3);
        int wok = fd >= 0 && write(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
        printf("create file for mmap: %s\n", wok ? "ok" : ename(errno));
        p = mmap(NULL, sizeof buf, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        printf("mmap file private: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
        if (p != MAP_FAILED) {
            printf("file contents visible: %s\n", yesno(check(p, sizeof buf, 3)));
            memset(p, 0xab, 16);
            printf("private write visible in mapping: %s\n", yesno(p[15] == 0xab));
            int n = (int)pread(fd, chk, sizeof chk, 0);
            printf("private write not in file: %s\n", yesno(n == 16 && check(chk, 16, 3)));
            munmap(p, sizeof buf);
        }
        /* offset mapping */
        p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, (off_t)pg);
        printf("mmap file at page offset: %s\n",
               p != MAP_FAILED && p[0] == buf[pg] && p[pg - 1] == buf[2 * pg - 1] ? "ok" : "bad");
        if (p != MAP_FAILED)
            munmap(p, pg);
        errno = 0;
        p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 1);
        printf("mmap file unaligned offset: %s\n", p == MAP_FAILED ? ename(errno) : "succeeded");
        if (p != MAP_FAILED)
            munmap(p, pg);
        if (fd >= 0)
            close(fd);
        unlink(name);
        errno = 0;
        p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 12345, 0);
        printf("mmap bad fd: %s\n", p == MAP_FAILED ? ename(errno) : "succeeded");
    }

    /* madvise DONTNEED */
    p = anon(4 * pg);
    fill(p, 4 * pg, 9);
    r = madvise(p + pg, 2 * pg, MADV_DONTNEED);
    printf("madvise DONTNEED: %s\n", r == 0 ? "ok" : ename(errno));
    printf("DONTNEED range zeroed: %s\n", yesno(is_zero(p + pg, 2 * pg)));
    printf("DONTNEED neighbours kept: %s\n", yesno(check(p, pg, 9)));
    munmap(p, 4 * pg);

    /* bad arguments */
    errno = 0;
    p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap length 0: %s\n", p == MAP_FAILED ? ename(errno) : "succeeded");
    p = anon(pg);
    errno = 0;
    r = munmap(p + 1, pg);
    printf("munmap unaligned: %s\n", r == 0 ? "succeeded" : ename(errno));
    munmap(p, pg);

    /* 64 MiB, every page touched */
    {
        const size_t big = 64ul << 20;
        size_t off;
        unsigned long sum = 0;
        p = anon(big);
        printf("mmap 64MiB: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
        if (p != MAP_FAILED) {
            for (off = 0; off < big; off += pg)
                p[off] = (unsigned char)(off / pg);
            for (off = 0; off < big; off += pg)
                sum += p[off] == (unsigned char)(off / pg);
            printf("64MiB pages touched: %lu\n", sum);
            printf("munmap 64MiB: %s\n", munmap(p, big) == 0 ? "ok" : ename(errno));
        }
    }
    return 0;
}
