/* proc_escape: /proc/self/root, /proc/1/root, chroot escapes, /proc/PID/mem and
 * what /proc shows of processes. Run as the sandbox's first process (pid 1).
 * Prints `label: RESULT`. */
#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

static void show_link(const char *label, const char *path)
{
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) {
        report(-1, "%s", label);
        return;
    }
    target[n] = 0;
    printf("%s: %s\n", label, target);
}

static void try_read(const char *label, const char *path)
{
    char buf[128] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        report(-1, "%s", label);
        return;
    }
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[got < 0 ? 0 : strcspn(buf, "\n")] = 0;
    printf("%s: read '%s'\n", label, buf);
}

static const char *same_file(const char *a, const char *b)
{
    struct stat x, y;
    if (stat(a, &x) < 0 || stat(b, &y) < 0)
        return errno_name(errno);
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino ? "same" : "different";
}

static void list_pids(const char *label)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int pids[64], count = 0;
    if (!d) {
        report(-1, "%s", label);
        return;
    }
    while ((e = readdir(d)) && count < 64)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            pids[count++] = atoi(e->d_name);
    closedir(d);
    for (int i = 1; i < count; i++)         /* sort: readdir order is not fixed */
        for (int j = i; j > 0 && pids[j - 1] > pids[j]; j--) {
            int t = pids[j]; pids[j] = pids[j - 1]; pids[j - 1] = t;
        }
    printf("%s:", label);
    for (int i = 0; i < count; i++)
        printf(" %d", pids[i]);
    printf("\n");
}

static void environ_of(const char *label, const char *path)
{
    char buf[4096];
    int fd = open(path, O_RDONLY);
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
    for (ssize_t i = 0; i < got; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    buf[got] = 0;
    printf("%s: %s\n", label, buf);
}

int main(void)
{
    printf("pid: %d\n", getpid());
    printf("ppid: %d\n", getppid());
    list_pids("pids in /proc");
    environ_of("/proc/self/environ", "/proc/self/environ");
    environ_of("/proc/1/environ", "/proc/1/environ");

    show_link("/proc/self/root", "/proc/self/root");
    show_link("/proc/1/root", "/proc/1/root");
    printf("/proc/1/root is /: %s\n", same_file("/proc/1/root/", "/"));
    printf("/proc/self/root/.. is /: %s\n", same_file("/proc/self/root/..", "/"));
    try_read("/proc/1/root/../../etc/shadow", "/proc/1/root/../../etc/shadow");
    try_read("/proc/1/root/etc/shadow", "/proc/1/root/etc/shadow");

    /* memory of processes: not offered at all */
    try_read("/proc/self/mem", "/proc/self/mem");
    try_read("/proc/1/mem", "/proc/1/mem");
    char byte = 0;
    struct iovec local = {&byte, 1}, remote = {&byte, 1};
    report(syscall(SYS_process_vm_readv, 1, &local, 1, &remote, 1, 0), "process_vm_readv pid 1");
    report(syscall(SYS_process_vm_writev, 1, &local, 1, &remote, 1, 0), "process_vm_writev pid 1");

    /* a marker in the sandbox's root, then the classic chroot escape from a jail */
    int marker = open("/tmp/marker", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    report(marker, "create /tmp/marker");
    if (write(marker, "sandbox root\n", 13) != 13)
        return 1;
    close(marker);
    report(mkdir("/tmp/jail", 0755), "mkdir /tmp/jail");
    report(mkdir("/tmp/jail/inner", 0755), "mkdir /tmp/jail/inner");

    pid_t child = fork();
    if (child == 0) {
        int out = open("/", O_RDONLY | O_DIRECTORY);
        report(chroot("/tmp/jail"), "chroot into the jail");
        report(chdir("/"), "chdir / in the jail");
        printf("jail: marker visible: %s\n", access("/tmp/marker", F_OK) == 0 ? "yes" : "no");
        report(access("/proc", F_OK), "jail: /proc");
        /* escape 1: a directory descriptor kept from outside */
        report(fchdir(out), "jail: fchdir to the old root");
        for (int i = 0; i < 8; i++)
            chdir("..");
        report(chroot("."), "jail: chroot . after climbing");
        try_read("escape: /tmp/marker", "/tmp/marker");
        try_read("escape: /etc/shadow", "/etc/shadow");
        printf("escape: / is /proc/1/root: %s\n", same_file("/", "/proc/1/root/"));
        list_pids("escape: pids in /proc");
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("jail child: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "exited 0" : "failed");

    /* escape 2: a nested chroot leaves the cwd outside the new root; climb from there */
    child = fork();
    if (child == 0) {
        report(chroot("/tmp/jail"), "jail2: chroot");
        report(chdir("/"), "jail2: chdir /");
        report(chroot("/inner"), "jail2: chroot /inner");
        for (int i = 0; i < 8; i++)
            chdir("..");
        report(chroot("."), "jail2: chroot . after climbing");
        try_read("escape2: /tmp/marker", "/tmp/marker");
        try_read("escape2: /etc/shadow", "/etc/shadow");
        printf("escape2: jail visible: %s\n", access("/tmp/jail/inner", F_OK) == 0 ? "yes" : "no");
        _exit(0);
    }
    waitpid(child, &status, 0);
    printf("jail2 child: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "exited 0" : "failed");
    return 0;
}
