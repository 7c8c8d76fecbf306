/* time: clock_gettime on the common clocks, MONOTONIC never going back,
 * clock_getres, nanosleep and clock_nanosleep (relative and TIMER_ABSTIME)
 * sleeping at least as long as asked, gettimeofday/time agreeing with
 * CLOCK_REALTIME, and EINVAL for a bad clock id and a bad tv_nsec. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#ifndef CLOCK_BOOTTIME
#define CLOCK_BOOTTIME 7
#endif

static const char *ename(int e)
{
    switch (e) {
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    default: return "E?";
    }
}

static const char *yesno(int c)
{
    return c ? "yes" : "no";
}

static long long ns_of(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return ns_of(&t);
}

int main(void)
{
    static const struct {
        const char *name;
        clockid_t id;
    } clocks[] = {
        { "CLOCK_REALTIME", CLOCK_REALTIME },
        { "CLOCK_MONOTONIC", CLOCK_MONOTONIC },
        { "CLOCK_BOOTTIME", CLOCK_BOOTTIME },
        { "CLOCK_PROCESS_CPUTIME_ID", CLOCK_PROCESS_CPUTIME_ID },
        { "CLOCK_THREAD_CPUTIME_ID", CLOCK_THREAD_CPUTIME_ID },
    };
    struct timespec t, res;
    unsigned i;
    int r;

    for (i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        r = clock_gettime(clocks[i].id, &t);
        printf("clock_gettime %s: %s\n", clocks[i].name, r == 0 ? "ok" : ename(errno));
        printf("%s nsec in range: %s\n", clocks[i].name,
               yesno(r == 0 && t.tv_nsec >= 0 && t.tv_nsec < 1000000000L));
    }

    {
        long long prev = mono_ns(), now;
        int nondec = 1;
        for (i = 0; i < 1000; i++) {
            now = mono_ns();
            if (now < prev)
                nondec = 0;
            prev = now;
        }
        printf("monotonic non-decreasing: %s\n", yesno(nondec));
    }

    r = clock_getres(CLOCK_MONOTONIC, &res);
    printf("clock_getres MONOTONIC: %s\n", r == 0 ? "ok" : ename(errno));
    printf("MONOTONIC resolution <= 1ms: %s\n",
           yesno(r == 0 && ns_of(&res) > 0 && ns_of(&res) <= 1000000LL));

    {
        struct timespec req = { 0, 30000000L };
        long long t0 = mono_ns();
        r = nanosleep(&req, NULL);
        long long dt = mono_ns() - t0;
        printf("nanosleep 30ms: %s\n", r == 0 ? "ok" : ename(errno));
        printf("nanosleep slept >= 30ms: %s\n", yesno(dt >= 30000000LL));
        printf("nanosleep slept < 2s: %s\n", yesno(dt < 2000000000LL));
    }

    {
        struct timespec req = { 0, 10000000L };
        long long t0 = mono_ns();
        r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
        long long dt = mono_ns() - t0;
        printf("clock_nanosleep relative 10ms: %s\n", r == 0 ? "ok" : ename(r));
        printf("clock_nanosleep relative slept >= 10ms: %s\n", yesno(dt >= 10000000LL));
        printf("clock_nanosleep relative slept < 2s: %s\n", yesno(dt < 2000000000LL));
    }

    {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        long long target = ns_of(&dl) + 15000000LL;
        dl.tv_sec = (time_t)(target / 1000000000LL);
        dl.tv_nsec = (long)(target % 1000000000LL);
        r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL);
        long long after = mono_ns();
        printf("clock_nanosleep TIMER_ABSTIME: %s\n", r == 0 ? "ok" : ename(r));
        printf("clock_nanosleep TIMER_ABSTIME reached deadline: %s\n", yesno(after >= target));
        printf("clock_nanosleep TIMER_ABSTIME woke within 2s: %s\n",
               yesno(after - target < 2000000000LL));
    }

    {
        struct timespec past = { 0, 0 };
        r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
        printf("clock_nanosleep TIMER_ABSTIME in the past: %s\n", r == 0 ? "ok" : ename(r));
    }

    {
        struct timeval tv;
        struct timespec rt;
        time_t tt;
        int ok = gettimeofday(&tv, NULL) == 0;
        clock_gettime(CLOCK_REALTIME, &rt);
        tt = time(NULL);
        long long d1 = (long long)tv.tv_sec - (long long)rt.tv_sec;
        long long d2 = (long long)tt - (long long)rt.tv_sec;
        printf("gettimeofday: %s\n", ok ? "ok" : ename(errno));
        printf("gettimeofday usec in range: %s\n",
               yesno(ok && tv.tv_usec >= 0 && tv.tv_usec < 1000000));
        printf("gettimeofday agrees with REALTIME within 2s: %s\n", yesno(d1 >= -2 && d1 <= 2));
        printf("time agrees with REALTIME within 2s: %s\n", yesno(d2 >= -2 && d2 <= 2));
        printf("REALTIME after 2020: %s\n", yesno(rt.tv_sec > 1577836800));
    }

    errno = 0;
    r = clock_gettime((clockid_t)12345, &t);
    printf("clock_gettime invalid clock: %s\n", r == 0 ? "succeeded" : ename(errno));
    errno = 0;
    r = clock_getres((clockid_t)12345, &res);
    printf("clock_getres invalid clock: %s\n", r == 0 ? "succeeded" : ename(errno));

    {
        struct timespec bad = { 0, 1000000000L };
        errno = 0;
        r = nanosleep(&bad, NULL);
        printf("nanosleep tv_nsec=1e9: %s\n", r == 0 ? "succeeded" : ename(errno));
        bad.tv_nsec = -1;
        errno = 0;
        r = nanosleep(&bad, NULL);
        printf("nanosleep tv_nsec=-1: %s\n", r == 0 ? "succeeded" : ename(errno));
    }
    return 0;
}
