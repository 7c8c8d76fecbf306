/* mount_escape: tries to leave host volumes. /vol is a writable host directory, /ro a
 * read-only one; argv[1] is the host path of a secret file next to the /vol directory
 * on the host (as the guest might guess it). Symlinks planted by the host in /vol:
 * abs -> argv[1], rel -> ../secret.txt, deep -> ../../../..<argv[1]>, dotdot -> ..
 * Prints `label: RESULT`; a read prints the first line read instead of OK. */
#include "probe.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static void try_read(const char *label, int dirfd, const char *path, int flags)
{
    char buf[128] = {0};
    int fd = openat(dirfd, path, O_RDONLY | flags);
    if (fd < 0) {
        report(-1, "%s", label);
        return;
    }
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got < 0) {
        report(-1, "%s", label);
        return;
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("%s: read '%s'\n", label, buf);
}

static const char *same_as_root(const char *path, int dirfd)
{
    struct stat a, b;
    if (stat("/", &a) < 0 || fstatat(dirfd, path, &b, 0) < 0)
        return errno_name(errno);
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? "the sandbox root" : "elsewhere";
}

static const char *fd_is_root(int fd)
{
    struct stat a, b;
    if (stat("/", &a) < 0 || fstat(fd, &b) < 0)
        return errno_name(errno);
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? "the sandbox root" : "elsewhere";
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *host_secret = argv[1];
    char path[PATH_MAX + 64];

    /* '..' past the mount root lands in the sandbox's own root */
    try_read("dotdot past the mount", AT_FDCWD, "/vol/../secret.txt", 0);
    try_read("many dotdots", AT_FDCWD, "/vol/../../../../../../secret.txt", 0);
    printf("stat /vol/..: %s\n", same_as_root("/vol/..", AT_FDCWD));
    snprintf(path, sizeof path, "/vol/../../..%s", host_secret);
    try_read("dotdots then the host path", AT_FDCWD, path, 0);
    try_read("the host path itself", AT_FDCWD, host_secret, 0);

    /* symlinks the host left in the volume resolve inside the sandbox */
    try_read("absolute symlink", AT_FDCWD, "/vol/abs", 0);
    try_read("relative symlink", AT_FDCWD, "/vol/rel", 0);
    try_read("deep symlink", AT_FDCWD, "/vol/deep", 0);
    try_read("symlink to dotdot", AT_FDCWD, "/vol/dotdot/secret.txt", 0);
    printf("stat /vol/dotdot: %s\n", same_as_root("/vol/dotdot", AT_FDCWD));
    try_read("inside file", AT_FDCWD, "/vol/inside.txt", 0);

    /* symlinks the guest plants, then writes through */
    report(symlink("../secret.txt", "/vol/planted"), "plant relative symlink");
    try_read("read through planted symlink", AT_FDCWD, "/vol/planted", 0);
    report(symlink("../created-outside", "/vol/planted-create"), "plant dangling symlink");
    int fd = open("/vol/planted-create", O_WRONLY | O_CREAT, 0644);
    report(fd, "create through dangling symlink");
    if (fd >= 0) {
        report(write(fd, "x", 1), "write through dangling symlink");
        close(fd);
    }
    printf("created in the sandbox root: %s\n", access("/created-outside", F_OK) == 0 ? "yes" : "no");
    report(symlink(host_secret, "/vol/planted-abs"), "plant absolute symlink");
    try_read("read through planted absolute symlink", AT_FDCWD, "/vol/planted-abs", 0);

    /* directory descriptors: openat with '..' from a descriptor on the mount */
    int vol = open("/vol", O_RDONLY | O_DIRECTORY);
    report(vol, "open /vol");
    try_read("openat vol ../secret.txt", vol, "../secret.txt", 0);
    try_read("openat vol deep dotdots", vol, "../../../../../../../secret.txt", 0);
    printf("fstatat vol ..: %s\n", same_as_root("..", vol));
    int up = openat(vol, "..", O_RDONLY | O_DIRECTORY);
    report(up, "openat vol ..");
    printf("openat vol .. is: %s\n", fd_is_root(up));
    try_read("openat from the parent", up, "secret.txt", 0);

    /* O_PATH descriptors */
    int pathfd = open("/vol", O_PATH | O_DIRECTORY);
    report(pathfd, "O_PATH /vol");
    try_read("openat O_PATH ../secret.txt", pathfd, "../secret.txt", 0);
    int lnk = open("/vol/abs", O_PATH | O_NOFOLLOW);
    report(lnk, "O_PATH|O_NOFOLLOW on the absolute symlink");
    snprintf(path, sizeof path, "/proc/self/fd/%d", lnk);
    try_read("reopen the symlink through /proc/self/fd", AT_FDCWD, path, 0);
    try_read("openat the symlink with empty path", lnk, "", 0);
    report(fchdir(pathfd), "fchdir to O_PATH /vol");
    try_read("relative dotdot from the O_PATH cwd", AT_FDCWD, "../secret.txt", 0);

    /* /proc magic links */
    report(chdir("/vol"), "chdir /vol");
    try_read("/proc/self/cwd/../secret.txt", AT_FDCWD, "/proc/self/cwd/../secret.txt", 0);
    char target[PATH_MAX];
    ssize_t n = readlink("/proc/self/cwd", target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    printf("readlink /proc/self/cwd: %s\n", n < 0 ? errno_name(errno) : target);
    for (int i = 0; i < 10; i++)
        chdir("..");
    n = readlink("/proc/self/cwd", target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    printf("cwd after ten chdir(..): %s\n", n < 0 ? errno_name(errno) : target);
    snprintf(path, sizeof path, "/proc/self/fd/%d/../secret.txt", vol);
    try_read("/proc/self/fd/N/../secret.txt", AT_FDCWD, path, 0);
    snprintf(path, sizeof path, "/proc/self/fd/%d/../../../..", vol);
    printf("/proc/self/fd/N/../../../..: %s\n", same_as_root(path, AT_FDCWD));

    /* moving files out of the mount, and hard links into it */
    report(rename("/vol/inside.txt", "/tmp/moved"), "rename out to /tmp");
    report(rename("/vol/inside.txt", "/vol/../moved"), "rename out through dotdot");
    report(renameat(vol, "inside.txt", up, "moved"), "renameat across mounts");
    report(rename("/etc/hostname", "/vol/hostname"), "rename in from /etc");
    report(link("/etc/passwd", "/vol/passwd"), "hard link /etc/passwd into the volume");
    report(link("/vol/inside.txt", "/tmp/inside-link"), "hard link out of the volume");
    report(link("/ro/file.txt", "/vol/from-ro"), "hard link across volumes");
    int etc = open("/etc/hostname", O_RDONLY);
    report(linkat(etc, "", vol, "by-fd", AT_EMPTY_PATH), "linkat AT_EMPTY_PATH into the volume");
    snprintf(path, sizeof path, "/proc/self/fd/%d", etc);
    report(linkat(AT_FDCWD, path, AT_FDCWD, "/vol/by-proc", AT_SYMLINK_FOLLOW), "linkat through /proc/self/fd");
    report(mknod("/vol/mem", S_IFCHR | 0600, makedev(1, 1)), "mknod a device in the volume");
    report(mknod("/vol/sock", S_IFSOCK | 0600, 0), "mknod a socket in the volume");

    /* the read-only volume stays read-only */
    report(open("/ro/file.txt", O_WRONLY), "open ro file for writing");
    report(open("/ro/file.txt", O_RDONLY | O_TRUNC), "open ro file with O_TRUNC");
    report(open("/ro/new", O_WRONLY | O_CREAT, 0644), "create in ro");
    report(unlink("/ro/file.txt"), "unlink in ro");
    report(mkdir("/ro/dir", 0755), "mkdir in ro");
    report(symlink("x", "/ro/sym"), "symlink in ro");
    report(chmod("/ro/file.txt", 0777), "chmod in ro");
    report(truncate("/ro/file.txt", 0), "truncate in ro");
    report(utimensat(AT_FDCWD, "/ro/file.txt", NULL, 0), "utimensat in ro");
    report(rename("/ro/file.txt", "/ro/renamed"), "rename in ro");
    report(rename("/vol/inside.txt", "/ro/inside.txt"), "rename into ro");
    try_read("ro file", AT_FDCWD, "/ro/file.txt", 0);
    return 0;
}
