/* host_leaks: looks for the host in what a process can read about itself: its
 * environment, descriptors it did not open, /proc files, the auxiliary vector. The
 * host's secrets to look for come on stdin, one per line (so they are in no argument
 * or environment of the guest). Prints `label: RESULT`. */
#include "probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/utsname.h>

extern char **environ;

static char secrets[8][512];
static int secret_count;

static void read_secrets(void)
{
    static char input[4096];
    ssize_t got = read(0, input, sizeof input - 1);
    input[got < 0 ? 0 : got] = 0;
    for (char *line = strtok(input, "\n"); line && secret_count < 8; line = strtok(NULL, "\n"))
        snprintf(secrets[secret_count++], sizeof secrets[0], "%s", line);
}

static int mentions_secret(const char *data, size_t length)
{
    for (int i = 0; i < secret_count; i++)
        if (memmem(data, length, secrets[i], strlen(secrets[i])))
            return 1;
    return 0;
}

static void check_file(const char *path)
{
    static char data[1 << 16];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        report(-1, "%s", path);
        return;
    }
    size_t total = 0;
    ssize_t got;
    while (total < sizeof data && (got = read(fd, data + total, sizeof data - total)) > 0)
        total += got;
    close(fd);
    printf("%s: %s\n", path, mentions_secret(data, total) ? "shows the host" : "nothing of the host");
}

static void open_descriptors(void)
{
    printf("open descriptors:");
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            printf(" %d", fd);
    printf("\n");
    DIR *d = opendir("/proc/self/fd");
    int count = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        count += e->d_name[0] != '.';
    if (d)
        closedir(d);
    printf("/proc/self/fd entries: %d\n", count - 1);   /* less the one opendir holds */
    struct stat st;
    report(fstat(3, &st), "fstat 3");
    char byte;
    report(read(3, &byte, 1), "read 3");
    report(open("/proc/self/fd/3", O_RDONLY), "open /proc/self/fd/3");
    report(dup2(3, 10), "dup2 3");
}

static void environment(void)
{
    int leaked = 0, count = 0;
    for (char **e = environ; *e; e++, count++)
        leaked |= mentions_secret(*e, strlen(*e));
    printf("environment variables: %d\n", count);
    printf("environment: %s\n", leaked ? "shows the host" : "nothing of the host");
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    printf("AT_EXECFN: %s\n", execfn ? execfn : "none");
}

int main(void)
{
    read_secrets();
    printf("secrets to look for: %d\n", secret_count);
    environment();
    open_descriptors();

    char target[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    printf("/proc/self/exe: %s\n", n < 0 ? errno_name(errno) : target);

    struct utsname u;
    uname(&u);
    printf("uname shows the host: %s\n", mentions_secret(u.nodename, strlen(u.nodename)) ? "yes" : "no");
    const char *files[] = {
        "/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline", "/proc/self/maps",
        "/proc/self/mountinfo", "/proc/mounts", "/proc/self/status", "/proc/self/stat",
        "/proc/cpuinfo", "/proc/sys/kernel/hostname", "/etc/hostname", "/etc/hosts",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        check_file(files[i]);
    return 0;
}
