/* random_uname: getrandom (size, distinct results, GRND_NONBLOCK, bad
 * flags), uname fields (as invariants, never the raw strings except
 * sysname/machine), process ids, getcwd, umask, RLIMIT_NOFILE via
 * getrlimit and prlimit64, sched_getaffinity and sysinfo. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef GRND_NONBLOCK
#define GRND_NONBLOCK 0x0001
#endif

static const char *ename(int e)
{
    switch (e) {
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ERANGE: return "ERANGE";
    default: return "E?";
    }
}

static const char *yesno(int c)
{
    return c ? "yes" : "no";
}

static long getrandom_raw(void *buf, size_t len, unsigned flags)
{
    return syscall(SYS_getrandom, buf, len, flags);
}

int main(void)
{
    unsigned char a[32], b[32];
    long r;

    /* getrandom */
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    r = getrandom_raw(a, sizeof a, 0);
    printf("getrandom 32 bytes: %ld\n", r);
    r = getrandom_raw(b, sizeof b, 0);
    printf("second getrandom 32 bytes: %ld\n", r);
    printf("two getrandom results differ: %s\n", yesno(memcmp(a, b, sizeof a) != 0));
    r = getrandom_raw(a, 16, GRND_NONBLOCK);
    printf("getrandom GRND_NONBLOCK 16 bytes: %ld\n", r);
    errno = 0;
    r = getrandom_raw(a, 16, 0xff00);
    printf("getrandom flags 0xff00: %s\n", r == -1 ? ename(errno) : "succeeded");
    r = getrandom_raw(a, 0, 0);
    printf("getrandom 0 bytes: %ld\n", r);

    /* uname */
    {
        struct utsname u;
        int ok = uname(&u) == 0;
        printf("uname: %s\n", ok ? "ok" : ename(errno));
        if (ok) {
            int maj = 0, min = 0, ge = 0;
            printf("sysname: %s\n", u.sysname);
            printf("machine: %s\n", u.machine);
            printf("release starts with digit: %s\n",
                   yesno(u.release[0] >= '0' && u.release[0] <= '9'));
            if (sscanf(u.release, "%d.%d", &maj, &min) == 2)
                ge = maj > 3 || (maj == 3 && min >= 2);
            printf("release >= 3.2: %s\n", yesno(ge));
            printf("nodename non-empty: %s\n", yesno(u.nodename[0] != '\0'));
        }
    }

    /* ids */
    {
        long pid = (long)getpid();
        long tid = syscall(SYS_gettid);
        printf("getpid > 0: %s\n", yesno(pid > 0));
        printf("getppid >= 0: %s\n", yesno((long)getppid() >= 0));
        printf("gettid == getpid: %s\n", yesno(tid == pid));
        printf("getuid == geteuid: %s\n", yesno(getuid() == geteuid()));
        printf("getgid == getegid: %s\n", yesno(getgid() == getegid()));
    }

    /* getcwd */
    {
        char cwd[4096];
        char *p = getcwd(cwd, sizeof cwd);
        printf("getcwd: %s\n", p ? "ok" : ename(errno));
        printf("getcwd absolute: %s\n", yesno(p && cwd[0] == '/'));
        errno = 0;
        p = getcwd(cwd, 1);
        printf("getcwd size 1: %s\n", p ? "succeeded" : ename(errno));
    }

    /* umask */
    {
        mode_t old = umask(077);
        mode_t back = umask(old);
        printf("umask returns previous: %s\n", yesno(back == 077));
        mode_t again = umask(old);
        printf("umask restored: %s\n", yesno(again == old));
    }

    /* rlimits */
    {
        struct rlimit rl;
        struct rlimit pl;
        int ok = getrlimit(RLIMIT_NOFILE, &rl) == 0;
        printf("getrlimit NOFILE: %s\n", ok ? "ok" : ename(errno));
        printf("NOFILE soft <= hard: %s\n", yesno(ok && rl.rlim_cur <= rl.rlim_max));
        r = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &pl);
        printf("prlimit64 NOFILE: %s\n", r == 0 ? "ok" : ename(errno));
        printf("prlimit64 agrees with getrlimit: %s\n",
               yesno(r == 0 && ok && pl.rlim_cur == rl.rlim_cur && pl.rlim_max == rl.rlim_max));
    }

    /* sched_getaffinity */
    {
        cpu_set_t set;
        CPU_ZERO(&set);
        int ok = sched_getaffinity(0, sizeof set, &set) == 0;
        printf("sched_getaffinity: %s\n", ok ? "ok" : ename(errno));
        printf("affinity has a cpu: %s\n", yesno(ok && CPU_COUNT(&set) > 0));
    }

    /* sysinfo */
    {
        struct sysinfo si;
        int ok = sysinfo(&si) == 0;
        printf("sysinfo: %s\n", ok ? "ok" : ename(errno));
        printf("sysinfo totalram > 0: %s\n", yesno(ok && si.totalram > 0));
    }
    return 0;
}
