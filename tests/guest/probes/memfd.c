/* memfd_create: flags, names, the file it makes, and file seals. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#define P_MFD_CLOEXEC 0x1U
#define P_MFD_ALLOW_SEALING 0x2U
#define P_MFD_NOEXEC_SEAL 0x8U
#define P_MFD_EXEC 0x10U

static const char *err(int e) {
    switch (e) {
    case 0: return "ok";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    default: return strerror(e);
    }
}

static int mfd(const char *name, unsigned flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}

static void show(const char *what, long ret) {
    printf("%s: %s\n", what, ret < 0 ? err(errno) : "ok");
}

static void link_of(const char *what, int fd) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0) {
        printf("%s: readlink %s\n", what, err(errno));
        return;
    }
    buf[n] = 0;
    printf("%s: %s\n", what, buf);
}

int main(void) {
    char name[300];

    /* flags and names */
    int fd = mfd("probe", 0);
    printf("create: %s\n", fd >= 0 ? "ok" : err(errno));
    printf("cloexec without MFD_CLOEXEC: %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC);
    link_of("link", fd);
    struct stat st;
    fstat(fd, &st);
    printf("fstat: regular=%d mode=%o nlink=%ld size=%ld\n", S_ISREG(st.st_mode), st.st_mode & 07777,
           (long)st.st_nlink, (long)st.st_size);
    printf("flags: accmode=%d\n", fcntl(fd, F_GETFL) & O_ACCMODE);
    printf("seals without MFD_ALLOW_SEALING: %d\n", fcntl(fd, F_GET_SEALS));
    show("add seal without MFD_ALLOW_SEALING", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    close(fd);

    fd = mfd("", P_MFD_CLOEXEC);
    printf("cloexec with MFD_CLOEXEC: %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC);
    link_of("empty name link", fd);
    close(fd);

    memset(name, 'n', sizeof name);
    name[249] = 0;
    fd = mfd(name, 0);
    show("249-byte name", fd);
    close(fd);
    name[249] = 'n';
    name[250] = 0;
    show("250-byte name", mfd(name, 0));
    show("bad name pointer", mfd((const char *)16, 0));
    show("unknown flag 0x100", mfd("x", 0x100));
    show("unknown flag 0x80000000", mfd("x", 0x80000000U));
    show("MFD_EXEC|MFD_NOEXEC_SEAL", mfd("x", P_MFD_EXEC | P_MFD_NOEXEC_SEAL));
    show("fcntl F_GET_SEALS on a pipe", ({ int p[2]; pipe(p); long r = fcntl(p[0], F_GET_SEALS);
                                           int e = errno; close(p[0]); close(p[1]); errno = e; r; }));

    /* the file: read, write, seek, ftruncate, mmap */
    fd = mfd("data", P_MFD_ALLOW_SEALING);
    printf("seals with MFD_ALLOW_SEALING: %d\n", fcntl(fd, F_GET_SEALS));
    printf("write: %zd\n", write(fd, "hello memfd", 11));
    char buf[64] = {0};
    printf("pread: %zd %.11s\n", pread(fd, buf, sizeof buf, 0), buf);
    printf("lseek end: %ld\n", (long)lseek(fd, 0, SEEK_END));
    show("ftruncate 8192", ftruncate(fd, 8192));
    fstat(fd, &st);
    printf("size: %ld\n", (long)st.st_size);
    char *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("shared mmap: %s\n", map == MAP_FAILED ? err(errno) : "ok");
    printf("mapped bytes: %.5s\n", map);
    memcpy(map + 4096, "through the mapping", 19);
    msync(map, 8192, MS_SYNC);
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 19, 4096);
    printf("read after msync: %s\n", buf);
    show("F_SEAL_WRITE with a writable shared mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    munmap(map, 8192);

    /* seals */
    show("unknown seal", fcntl(fd, F_ADD_SEALS, 0x100));
    show("F_SEAL_SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    show("shrink", ftruncate(fd, 100));
    show("grow while shrink-sealed", ftruncate(fd, 12288));
    show("F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    show("grow", ftruncate(fd, 16384));
    show("same size", ftruncate(fd, 12288));
    show("write past the end", pwrite(fd, "x", 1, 12288));
    show("write inside", pwrite(fd, "y", 1, 0));
    printf("seals: %d\n", fcntl(fd, F_GET_SEALS));
    show("F_SEAL_WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    show("write after F_SEAL_WRITE", pwrite(fd, "y", 1, 0));
    memset(buf, 0, sizeof buf);
    ssize_t got = pread(fd, buf, 1, 0);
    printf("read after F_SEAL_WRITE: %zd %c\n", got, buf[0]);
    map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("shared writable mmap after F_SEAL_WRITE: %s\n", map == MAP_FAILED ? err(errno) : "ok");
    map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    printf("shared read-only mmap after F_SEAL_WRITE: %s\n", map == MAP_FAILED ? err(errno) : "ok");
    if (map != MAP_FAILED) {
        printf("mapped byte: %c\n", map[0]);
        munmap(map, 4096);
    }
    map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    printf("private writable mmap after F_SEAL_WRITE: %s\n", map == MAP_FAILED ? err(errno) : "ok");
    if (map != MAP_FAILED)
        munmap(map, 4096);
    show("F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
    show("add after F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    printf("seals: %d\n", fcntl(fd, F_GET_SEALS));

    /* a read-only descriptor for the same file may not add seals */
    char path[64];
    int fd2 = mfd("ro", P_MFD_ALLOW_SEALING);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd2);
    int ro = open(path, O_RDONLY);
    printf("reopen read-only: %s\n", ro >= 0 ? "ok" : err(errno));
    show("add seal through a read-only descriptor", fcntl(ro, F_ADD_SEALS, F_SEAL_GROW));
    printf("seals through a read-only descriptor: %d\n", fcntl(ro, F_GET_SEALS));
    close(ro);
    close(fd2);
    close(fd);

    /* F_SEAL_FUTURE_WRITE */
    fd = mfd("future", P_MFD_ALLOW_SEALING);
    ftruncate(fd, 4096);
    show("F_SEAL_FUTURE_WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
    show("write after F_SEAL_FUTURE_WRITE", write(fd, "z", 1));
    map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("shared writable mmap after F_SEAL_FUTURE_WRITE: %s\n", map == MAP_FAILED ? err(errno) : "ok");
    show("shrink after F_SEAL_FUTURE_WRITE", ftruncate(fd, 0));
    printf("seals: %d\n", fcntl(fd, F_GET_SEALS));
    close(fd);

    /* MFD_NOEXEC_SEAL (Linux 6.3): mode 0666, F_SEAL_EXEC, sealing allowed */
    fd = mfd("noexec", P_MFD_NOEXEC_SEAL);
    if (fd < 0) {
        printf("MFD_NOEXEC_SEAL: unsupported\n");
    } else {
        fstat(fd, &st);
        printf("MFD_NOEXEC_SEAL: mode=%o seals=%d\n", st.st_mode & 07777, fcntl(fd, F_GET_SEALS));
        close(fd);
    }
    return 0;
}
