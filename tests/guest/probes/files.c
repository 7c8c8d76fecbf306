/* files: file-system calls inside the (empty) current directory.
 * O_CREAT|O_EXCL under umask 022, write/fstat, lseek SET/CUR/END and holes,
 * pread/pwrite, readv/writev, ftruncate, O_APPEND, O_TRUNC, rename over an
 * existing file, link counts, mkdir/rmdir and the usual errors (ENOTEMPTY,
 * EEXIST, ENOENT, EISDIR, ENOTDIR), symlink/readlink/lstat, directory
 * listing (sorted), directory link counts, chmod/fchmod, utimensat,
 * access/faccessat, *at calls on a directory fd, dup/dup2/dup3 and fcntl
 * descriptor/status flags.  Everything it creates is removed again. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ELOOP: return "ELOOP";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EXDEV: return "EXDEV";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    default: return "E?";
    }
}

static const char *yesno(int c)
{
    return c ? "yes" : "no";
}

/* "ok" for success, otherwise the errno name */
static const char *res(long r)
{
    return r < 0 ? ename(errno) : "ok";
}

/* errno name of an expected failure, or "succeeded" */
static const char *fails(long r)
{
    return r < 0 ? ename(errno) : "succeeded";
}

static long long size_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return (long long)st.st_size;
}

static int is_zero(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static int write_file(const char *path, const char *data)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, data, strlen(data));
    close(fd);
    return n == (ssize_t)strlen(data) ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static char buf[10000];
static char rb[20010];

int main(void)
{
    const char *F = "file.dat";
    struct stat st;
    long r;
    int fd, i;

    umask(022);
    for (i = 0; i < (int)sizeof buf; i++)
        buf[i] = (char)('a' + i % 26);

    /* create, write, fstat */
    fd = open(F, O_CREAT | O_EXCL | O_RDWR, 0644);
    printf("open O_CREAT|O_EXCL: %s\n", res(fd));
    if (fd < 0)
        return 1;
    r = open(F, O_CREAT | O_EXCL | O_RDWR, 0644);
    printf("open O_CREAT|O_EXCL again: %s\n", fails(r));
    r = write(fd, buf, sizeof buf);
    printf("write: %ld\n", r);
    r = fstat(fd, &st);
    printf("fstat: %s\n", res(r));
    printf("fstat size: %lld\n", (long long)st.st_size);
    printf("fstat mode: %o\n", (unsigned)(st.st_mode & 07777));
    printf("S_ISREG: %s\n", yesno(S_ISREG(st.st_mode)));
    printf("st_nlink: %lu\n", (unsigned long)st.st_nlink);

    /* lseek */
    printf("lseek CUR after write: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("lseek SET 100: %lld\n", (long long)lseek(fd, 100, SEEK_SET));
    r = read(fd, rb, 10);
    printf("read 10 at 100 matches: %s\n", yesno(r == 10 && memcmp(rb, buf + 100, 10) == 0));
    printf("lseek CUR +5: %lld\n", (long long)lseek(fd, 5, SEEK_CUR));
    printf("lseek END -10: %lld\n", (long long)lseek(fd, -10, SEEK_END));
    r = read(fd, rb, 100);
    printf("read at END-10 returns: %ld\n", r);
    r = read(fd, rb, 100);
    printf("read at EOF returns: %ld\n", r);
    errno = 0;
    r = lseek(fd, -1, SEEK_SET);
    printf("lseek SET -1: %s\n", fails(r));
    errno = 0;
    r = lseek(fd, 0, 12345);
    printf("lseek bad whence: %s\n", fails(r));

    /* hole */
    printf("lseek SET 20000 (beyond end): %lld\n", (long long)lseek(fd, 20000, SEEK_SET));
    r = write(fd, "HOLE!", 5);
    printf("write after hole: %ld\n", r);
    fstat(fd, &st);
    printf("size with hole: %lld\n", (long long)st.st_size);
    r = pread(fd, rb, 10000, 10000);
    printf("hole reads zeros: %s\n", yesno(r == 10000 && is_zero(rb, 10000)));
    r = pread(fd, rb, 10, 20000);
    printf("data after hole: %s\n", yesno(r == 5 && memcmp(rb, "HOLE!", 5) == 0));

    /* pread/pwrite */
    r = pwrite(fd, "XYZ", 3, 50);
    printf("pwrite: %ld\n", r);
    printf("offset unchanged by pwrite: %s\n", yesno(lseek(fd, 0, SEEK_CUR) == 20005));
    r = pread(fd, rb, 3, 50);
    printf("pread sees pwrite: %s\n", yesno(r == 3 && memcmp(rb, "XYZ", 3) == 0));
    printf("offset unchanged by pread: %s\n", yesno(lseek(fd, 0, SEEK_CUR) == 20005));
    errno = 0;
    r = pread(fd, rb, 3, -1);
    printf("pread negative offset: %s\n", fails(r));

    /* writev/readv */
    {
        char a[3] = "abc", b[5] = "defgh";
        char x[2], y[2], z[4];
        struct iovec wv[2] = { { a, 3 }, { b, 5 } };
        struct iovec rv[3] = { { x, 2 }, { y, 2 }, { z, 4 } };
        r = writev(fd, wv, 2);
        printf("writev: %ld\n", r);
        lseek(fd, 20005, SEEK_SET);
        r = readv(fd, rv, 3);
        printf("readv: %ld\n", r);
        printf("readv data: %s\n",
               yesno(memcmp(x, "ab", 2) == 0 && memcmp(y, "cd", 2) == 0 &&
                  memcmp(z, "efgh", 4) == 0));
        printf("size after writev: %lld\n", size_of(F));
    }

    /* ftruncate */
    r = ftruncate(fd, 100);
    printf("ftruncate shrink 100: %s\n", res(r));
    printf("size after shrink: %lld\n", size_of(F));
    r = ftruncate(fd, 5000);
    printf("ftruncate grow 5000: %s\n", res(r));
    printf("size after grow: %lld\n", size_of(F));
    r = pread(fd, rb, 5000, 0);
    printf("grow tail zeros: %s\n", yesno(r == 5000 && is_zero(rb + 100, 4900)));
    printf("head kept: %s\n",
           yesno(memcmp(rb, buf, 50) == 0 && memcmp(rb + 50, "XYZ", 3) == 0 &&
              memcmp(rb + 53, buf + 53, 47) == 0));
    errno = 0;
    r = ftruncate(fd, -1);
    printf("ftruncate -1: %s\n", fails(r));
    close(fd);

    /* O_APPEND */
    fd = open(F, O_WRONLY | O_APPEND);
    printf("open O_APPEND: %s\n", res(fd));
    lseek(fd, 0, SEEK_SET);
    r = write(fd, "tail", 4);
    printf("append write: %ld\n", r);
    printf("offset after append: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("size after append: %lld\n", size_of(F));
    r = pwrite(fd, "PW", 2, 0);
    printf("pwrite on O_APPEND fd: %ld\n", r);
    printf("size after pwrite on O_APPEND: %lld\n", size_of(F));
    close(fd);
    fd = open(F, O_RDONLY);
    r = pread(fd, rb, 6, 5000);
    printf("appended data at end: %s\n", yesno(r == 6 && memcmp(rb, "tailPW", 6) == 0));
    errno = 0;
    r = write(fd, "x", 1);
    printf("write to O_RDONLY fd: %s\n", fails(r));
    close(fd);

    /* O_TRUNC */
    fd = open(F, O_WRONLY | O_TRUNC);
    printf("open O_TRUNC: %s\n", res(fd));
    printf("size after O_TRUNC: %lld\n", size_of(F));
    r = write(fd, buf, 1000);
    close(fd);

    /* rename over an existing file */
    write_file("a.txt", "AAA");
    write_file("b.txt", "BBBB");
    r = rename("a.txt", "b.txt");
    printf("rename over existing: %s\n", res(r));
    errno = 0;
    printf("old name after rename: %s\n", fails(stat("a.txt", &st)));
    printf("new name size: %lld\n", size_of("b.txt"));
    fd = open("b.txt", O_RDONLY);
    r = read(fd, rb, 10);
    close(fd);
    printf("new name has old contents: %s\n", yesno(r == 3 && memcmp(rb, "AAA", 3) == 0));
    errno = 0;
    printf("rename missing: %s\n", fails(rename("nope.txt", "b.txt")));

    /* link counts */
    r = link("b.txt", "c.txt");
    printf("link: %s\n", res(r));
    stat("b.txt", &st);
    printf("nlink after link: %lu\n", (unsigned long)st.st_nlink);
    errno = 0;
    printf("link onto existing: %s\n", fails(link("b.txt", "c.txt")));
    r = unlink("c.txt");
    printf("unlink: %s\n", res(r));
    stat("b.txt", &st);
    printf("nlink after unlink: %lu\n", (unsigned long)st.st_nlink);
    unlink("b.txt");
    errno = 0;
    printf("stat after unlink: %s\n", fails(stat("b.txt", &st)));
    errno = 0;
    printf("unlink missing: %s\n", fails(unlink("b.txt")));

    /* directories and errors */
    r = mkdir("dir", 0755);
    printf("mkdir: %s\n", res(r));
    stat("dir", &st);
    printf("dir mode: %o\n", (unsigned)(st.st_mode & 07777));
    printf("S_ISDIR: %s\n", yesno(S_ISDIR(st.st_mode)));
    errno = 0;
    printf("mkdir existing: %s\n", fails(mkdir("dir", 0755)));
    write_file("dir/x", "x");
    errno = 0;
    printf("rmdir non-empty: %s\n", fails(rmdir("dir")));
    errno = 0;
    printf("unlink a dir: %s\n", fails(unlink("dir")));
    errno = 0;
    printf("open missing: %s\n", fails(open("missing", O_RDONLY)));
    errno = 0;
    printf("open file O_DIRECTORY: %s\n", fails(open(F, O_RDONLY | O_DIRECTORY)));
    errno = 0;
    printf("open dir for writing: %s\n", fails(open("dir", O_WRONLY)));
    errno = 0;
    printf("rmdir a file: %s\n", fails(rmdir(F)));
    errno = 0;
    printf("path through a file: %s\n", fails(open("file.dat/x", O_RDONLY)));
    errno = 0;
    printf("mkdir missing parent: %s\n", fails(mkdir("nope/sub", 0755)));
    unlink("dir/x");
    printf("rmdir empty: %s\n", res(rmdir("dir")));
    errno = 0;
    printf("stat removed dir: %s\n", fails(stat("dir", &st)));

    /* symlinks */
    {
        char lb[64];
        r = symlink(F, "link");
        printf("symlink: %s\n", res(r));
        r = readlink("link", lb, sizeof lb);
        printf("readlink length: %ld\n", r);
        if (r >= 0 && r < (long)sizeof lb) {
            lb[r] = '\0';
            printf("readlink target: %s\n", lb);
        }
        lstat("link", &st);
        printf("lstat S_ISLNK: %s\n", yesno(S_ISLNK(st.st_mode)));
        printf("lstat size: %lld\n", (long long)st.st_size);
        stat("link", &st);
        printf("stat follows to S_ISREG: %s\n", yesno(S_ISREG(st.st_mode)));
        printf("stat size via link: %lld\n", (long long)st.st_size);
        errno = 0;
        printf("readlink regular file: %s\n", fails(readlink(F, lb, sizeof lb)));
        errno = 0;
        printf("open link O_NOFOLLOW: %s\n", fails(open("link", O_RDONLY | O_NOFOLLOW)));
        printf("symlink dangling: %s\n", res(symlink("dangling-target", "dangling")));
        errno = 0;
        printf("stat dangling link: %s\n", fails(stat("dangling", &st)));
        printf("lstat dangling link: %s\n", res(lstat("dangling", &st)));
        unlink("dangling");
        unlink("link");
        printf("file survives link removal: %s\n", yesno(size_of(F) == 1000));
    }

    /* directory listing */
    {
        static const char *names[] = { "echo", "charlie", "alpha", "delta", "bravo" };
        char *got[16];
        int n = 0, dots = 0;
        DIR *d;
        struct dirent *de;

        mkdir("ls", 0755);
        for (i = 0; i < 5; i++) {
            char p[64];
            snprintf(p, sizeof p, "ls/%s", names[i]);
            write_file(p, names[i]);
        }
        d = opendir("ls");
        printf("opendir: %s\n", d ? "ok" : ename(errno));
        while (d && (de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                dots++;
                continue;
            }
            if (n < 16)
                got[n++] = strdup(de->d_name);
        }
        if (d)
            closedir(d);
        qsort(got, (size_t)n, sizeof got[0], cmp_str);
        printf("readdir dot entries: %d\n", dots);
        printf("readdir entries:");
        for (i = 0; i < n; i++)
            printf(" %s", got[i]);
        printf("\n");
        for (i = 0; i < n; i++) {
            char p[300];
            snprintf(p, sizeof p, "ls/%s", got[i]);
            unlink(p);
            free(got[i]);
        }
        rmdir("ls");
    }

    /* link count of "." grows with subdirectories */
    {
        struct stat before, after;
        stat(".", &before);
        mkdir("s1", 0755);
        mkdir("s2", 0755);
        mkdir("s3", 0755);
        stat(".", &after);
        printf("nlink(.) +3 after 3 mkdir: %s\n",
               yesno(after.st_nlink == before.st_nlink + 3));
        rmdir("s1");
        rmdir("s2");
        rmdir("s3");
        stat(".", &after);
        printf("nlink(.) back after rmdir: %s\n", yesno(after.st_nlink == before.st_nlink));
    }

    /* chmod / fchmod */
    r = chmod(F, 0600);
    printf("chmod 0600: %s\n", res(r));
    stat(F, &st);
    printf("mode after chmod: %o\n", (unsigned)(st.st_mode & 07777));
    fd = open(F, O_RDONLY);
    r = fchmod(fd, 0640);
    printf("fchmod 0640: %s\n", res(r));
    fstat(fd, &st);
    printf("mode after fchmod: %o\n", (unsigned)(st.st_mode & 07777));
    close(fd);
    errno = 0;
    printf("chmod missing: %s\n", fails(chmod("missing", 0600)));

    /* utimensat */
    {
        struct timespec ts[2];
        ts[0].tv_sec = 1000000000;
        ts[0].tv_nsec = 0;
        ts[1].tv_sec = 1234567890;
        ts[1].tv_nsec = 0;
        r = utimensat(AT_FDCWD, F, ts, 0);
        printf("utimensat: %s\n", res(r));
        stat(F, &st);
        printf("atime sec: %lld\n", (long long)st.st_atime);
        printf("mtime sec: %lld\n", (long long)st.st_mtime);
        ts[0].tv_nsec = UTIME_OMIT;
        ts[1].tv_sec = 1300000000;
        r = utimensat(AT_FDCWD, F, ts, 0);
        stat(F, &st);
        printf("utimensat UTIME_OMIT atime kept: %s\n", yesno(r == 0 && st.st_atime == 1000000000));
        printf("mtime sec after second utimensat: %lld\n", (long long)st.st_mtime);
        ts[0].tv_nsec = 1000000000L;
        errno = 0;
        printf("utimensat bad nsec: %s\n", fails(utimensat(AT_FDCWD, F, ts, 0)));
    }

    /* access / faccessat (mode 0640: no execute bit for anyone) */
    printf("access F_OK: %s\n", res(access(F, F_OK)));
    printf("access R_OK: %s\n", res(access(F, R_OK)));
    errno = 0;
    printf("access X_OK on 0640 file: %s\n", fails(access(F, X_OK)));
    errno = 0;
    printf("access missing: %s\n", fails(access("missing", F_OK)));
    {
        int dfd = open(".", O_RDONLY | O_DIRECTORY);
        printf("open . O_DIRECTORY: %s\n", res(dfd));
        printf("faccessat R_OK: %s\n", res(faccessat(dfd, F, R_OK, 0)));
        errno = 0;
        printf("faccessat missing: %s\n", fails(faccessat(dfd, "missing", F_OK, 0)));
        close(dfd);
    }

    /* *at calls relative to a directory fd */
    {
        int dfd, ifd;
        mkdir("od", 0755);
        dfd = open("od", O_RDONLY | O_DIRECTORY);
        printf("open dir fd: %s\n", res(dfd));
        ifd = openat(dfd, "inner", O_CREAT | O_WRONLY | O_EXCL, 0644);
        printf("openat create: %s\n", res(ifd));
        r = write(ifd, "inner!", 6);
        close(ifd);
        printf("file visible by path: %lld\n", size_of("od/inner"));
        r = fstatat(dfd, "inner", &st, 0);
        printf("fstatat: %s\n", res(r));
        printf("fstatat size: %lld\n", (long long)st.st_size);
        r = mkdirat(dfd, "sub", 0700);
        printf("mkdirat: %s\n", res(r));
        r = renameat(dfd, "inner", dfd, "sub/moved");
        printf("renameat: %s\n", res(r));
        printf("moved file size: %lld\n", size_of("od/sub/moved"));
        ifd = open(F, O_RDONLY);
        errno = 0;
        printf("openat with a file as dirfd: %s\n", fails(openat(ifd, "x", O_RDONLY)));
        close(ifd);
        errno = 0;
        printf("openat with a bad dirfd: %s\n", fails(openat(9999, "x", O_RDONLY)));
        errno = 0;
        printf("unlinkat dir without AT_REMOVEDIR: %s\n", fails(unlinkat(dfd, "sub", 0)));
        printf("unlinkat file: %s\n", res(unlinkat(dfd, "sub/moved", 0)));
        printf("unlinkat AT_REMOVEDIR: %s\n", res(unlinkat(dfd, "sub", AT_REMOVEDIR)));
        close(dfd);
        printf("remove dir: %s\n", res(unlinkat(AT_FDCWD, "od", AT_REMOVEDIR)));
    }

    /* dup family and fcntl */
    {
        int d, fl;
        fd = open(F, O_RDWR);
        d = dup(fd);
        printf("dup: %s\n", yesno(d >= 0 && d != fd));
        lseek(fd, 7, SEEK_SET);
        printf("dup shares offset: %s\n", yesno(lseek(d, 0, SEEK_CUR) == 7));
        printf("dup clears FD_CLOEXEC: %s\n", yesno(fcntl(d, F_GETFD) == 0));
        close(d);
        r = dup2(fd, 50);
        printf("dup2 to 50: %ld\n", r);
        printf("F_GETFD after dup2: %d\n", fcntl(50, F_GETFD));
        printf("F_SETFD FD_CLOEXEC: %s\n", res(fcntl(50, F_SETFD, FD_CLOEXEC)));
        printf("F_GETFD after F_SETFD: %d\n", fcntl(50, F_GETFD));
        r = dup2(fd, 50);
        printf("dup2 onto open fd: %ld\n", r);
        printf("F_GETFD after dup2 onto open fd: %d\n", fcntl(50, F_GETFD));
        printf("dup2 same fd: %s\n", yesno(dup2(fd, fd) == fd));
        r = dup3(fd, 51, O_CLOEXEC);
        printf("dup3 O_CLOEXEC to 51: %ld\n", r);
        printf("F_GETFD after dup3: %d\n", fcntl(51, F_GETFD));
        errno = 0;
        printf("dup3 same fd: %s\n", fails(dup3(fd, fd, 0)));
        errno = 0;
        printf("dup3 bad flags: %s\n", fails(dup3(fd, 52, 0x7fff0000)));
        close(50);
        close(51);
        r = fcntl(fd, F_DUPFD_CLOEXEC, 60);
        printf("F_DUPFD_CLOEXEC >= 60: %s\n", yesno(r >= 60));
        printf("F_DUPFD_CLOEXEC sets FD_CLOEXEC: %s\n", yesno(r >= 0 && fcntl((int)r, F_GETFD) == FD_CLOEXEC));
        if (r >= 0)
            close((int)r);
        r = fcntl(fd, F_DUPFD, 70);
        printf("F_DUPFD >= 70: %s\n", yesno(r >= 70));
        printf("F_DUPFD clears FD_CLOEXEC: %s\n", yesno(r >= 0 && fcntl((int)r, F_GETFD) == 0));
        if (r >= 0)
            close((int)r);
        fl = fcntl(fd, F_GETFL);
        printf("F_GETFL accmode O_RDWR: %s\n", yesno(fl >= 0 && (fl & O_ACCMODE) == O_RDWR));
        printf("F_GETFL O_APPEND: %s\n", yesno(fl >= 0 && (fl & O_APPEND) != 0));
        printf("F_SETFL O_APPEND|O_NONBLOCK: %s\n",
               res(fcntl(fd, F_SETFL, fl | O_APPEND | O_NONBLOCK)));
        fl = fcntl(fd, F_GETFL);
        printf("F_GETFL O_APPEND after set: %s\n", yesno(fl >= 0 && (fl & O_APPEND) != 0));
        printf("F_GETFL O_NONBLOCK after set: %s\n", yesno(fl >= 0 && (fl & O_NONBLOCK) != 0));
        printf("F_GETFL accmode unchanged: %s\n", yesno(fl >= 0 && (fl & O_ACCMODE) == O_RDWR));
        close(fd);
        errno = 0;
        printf("close closed fd: %s\n", fails(close(fd)));
        errno = 0;
        printf("fcntl bad fd: %s\n", fails(fcntl(fd, F_GETFD)));
        errno = 0;
        printf("dup bad fd: %s\n", fails(dup(fd)));
    }

    /* cleanup */
    printf("unlink file: %s\n", res(unlink(F)));
    printf("cwd empty at end: %s\n", yesno(count_entries(".") == 2));
    return 0;
}
