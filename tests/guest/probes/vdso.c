/* The vDSO: clocks read many times move forward and agree with the clock syscalls,
 * AT_SYSINFO_EHDR points at the [vdso] mapping, the vDSO's pages cannot be written,
 * and an exec'd image gets the vDSO again. Modes (argv[1]):
 *   (none)     the full report, ending with a fork+exec of itself in mode `exec`
 *   clocks     the clock lines of the report only (the same with or without a vDSO)
 *   exec       what an exec'd image sees: AT_SYSINFO_EHDR and the mappings
 *   loop N     N clock_gettime calls back to back (the sandbox counts its syscalls)
 *   unmapped   unmaps [vdso], then execs itself in mode `exec` (Linux gives the new
 *              image a fresh vDSO; the sandbox has none to give) */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"

#define MAX_PIECES 8

struct piece {
    uintptr_t start, end;
    char name[32];
};

/* the [vvar], [vvar_vclock] and [vdso] lines of /proc/self/maps, in address order */
static int vdso_pieces(struct piece *out) {
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int count = 0;
    if (!maps) return 0;
    while (fgets(line, sizeof line, maps) && count < MAX_PIECES) {
        unsigned long start, end;
        char name[32] = "";
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %31s", &start, &end, name) < 2) continue;
        if (strcmp(name, "[vvar]") && strcmp(name, "[vvar_vclock]") && strcmp(name, "[vdso]")) continue;
        out[count].start = start;
        out[count].end = end;
        snprintf(out[count].name, sizeof out[count].name, "%s", name);
        count++;
    }
    fclose(maps);
    return count;
}

static const struct piece *find(const struct piece *pieces, int count, const char *name) {
    for (int i = 0; i < count; i++)
        if (!strcmp(pieces[i].name, name)) return &pieces[i];
    return NULL;
}

static long long ns(const struct timespec *ts) { return ts->tv_sec * 1000000000LL + ts->tv_nsec; }

static void report_auxv(const char *prefix) {
    struct piece pieces[MAX_PIECES];
    int count = vdso_pieces(pieces);
    uintptr_t ehdr = getauxval(AT_SYSINFO_EHDR);
    const struct piece *vdso = find(pieces, count, "[vdso]");
    printf("%sAT_SYSINFO_EHDR: %s\n", prefix, ehdr ? "set" : "unset");
    printf("%sAT_SYSINFO_EHDR is the [vdso] start: %s\n", prefix, vdso && ehdr == vdso->start ? "yes" : "no");
    printf("%sELF magic there: %s\n", prefix, ehdr && vdso && !memcmp((void *)ehdr, "\177ELF", 4) ? "yes" : "no");
    printf("%svdso mappings:", prefix);
    for (int i = 0; i < count; i++) printf(" %s", pieces[i].name);
    printf("%s\n", count ? "" : " none");
}

/* each clock read `rounds` times through libc never goes back, and moves on (a coarse
 * clock within its tick: the loop goes on until it does, up to a second) */
static void check_clock(const char *label, clockid_t clock, int rounds) {
    struct timespec first, previous, now;
    int back = 0, moved = 0;
    clock_gettime(clock, &first);
    previous = first;
    for (long i = 0; i < rounds || (!moved && i < 100000000L); i++) {
        clock_gettime(clock, &now);
        if (ns(&now) < ns(&previous)) back = 1;
        if (ns(&now) > ns(&first)) moved = 1;
        previous = now;
    }
    /* the clock syscall answers between two libc reads of the same clock */
    struct timespec before, by_syscall, after;
    clock_gettime(clock, &before);
    long status = syscall(SYS_clock_gettime, clock, &by_syscall);
    clock_gettime(clock, &after);
    int agree = status == 0 && ns(&before) <= ns(&by_syscall) && ns(&by_syscall) <= ns(&after);
    printf("%s: never back: %s, moves forward: %s, syscall agrees: %s\n", label, back ? "no" : "yes",
           moved ? "yes" : "no", agree ? "yes" : "no");
}

static void check_time_of_day(int rounds) {
    struct timeval previous, now;
    int back = 0, time_agrees = 1;
    gettimeofday(&previous, NULL);
    for (int i = 0; i < rounds; i++) {
        gettimeofday(&now, NULL);
        if (now.tv_sec * 1000000LL + now.tv_usec < previous.tv_sec * 1000000LL + previous.tv_usec) back = 1;
        previous = now;
        time_t seconds = time(NULL);
        struct timeval later;
        gettimeofday(&later, NULL);
        if (seconds < now.tv_sec - 1 || seconds > later.tv_sec) time_agrees = 0;
    }
    printf("gettimeofday: never back: %s\n", back ? "no" : "yes");
    printf("time: agrees with gettimeofday: %s\n", time_agrees ? "yes" : "no");
}

static void exec_self(const char *self, const char *mode) {
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        execl(self, self, mode, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    printf("exec'd image exited: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "exec")) {
        report_auxv("after exec: ");
        struct timespec ts;
        printf("after exec: clock_gettime: %d\n", clock_gettime(CLOCK_MONOTONIC, &ts));
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "loop")) {
        long rounds = atol(argv[2]), back = 0;
        struct timespec previous, now;
        clock_gettime(CLOCK_MONOTONIC, &previous);
        for (long i = 0; i < rounds; i++) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (ns(&now) < ns(&previous)) back = 1;
            previous = now;
        }
        printf("loop: %ld calls, never back: %s\n", rounds, back ? "no" : "yes");
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "unmapped")) {
        struct piece pieces[MAX_PIECES];
        int count = vdso_pieces(pieces);
        const struct piece *vdso = find(pieces, count, "[vdso]");
        printf("munmap [vdso]: %s\n", vdso ? errno_name(munmap((void *)vdso->start, vdso->end - vdso->start)
                                                        ? errno : 0) : "no vdso");
        fflush(stdout);
        execl(argv[0], argv[0], "exec", (char *)NULL);
        return 127;
    }

    int clocks_only = argc > 1 && !strcmp(argv[1], "clocks");
    if (!clocks_only) report_auxv("");
    check_clock("CLOCK_REALTIME", CLOCK_REALTIME, 10000);
    check_clock("CLOCK_MONOTONIC", CLOCK_MONOTONIC, 10000);
    check_clock("CLOCK_MONOTONIC_RAW", CLOCK_MONOTONIC_RAW, 10000);
    check_clock("CLOCK_REALTIME_COARSE", CLOCK_REALTIME_COARSE, 10000);
    check_clock("CLOCK_MONOTONIC_COARSE", CLOCK_MONOTONIC_COARSE, 10000);
    check_clock("CLOCK_BOOTTIME", CLOCK_BOOTTIME, 10000);
    check_clock("CLOCK_TAI", CLOCK_TAI, 10000);
    check_time_of_day(10000);
    if (clocks_only) return 0;

    struct piece pieces[MAX_PIECES];
    int count = vdso_pieces(pieces);
    catch_faults();
    for (int i = 0; i < count; i++) {
        char label[64];
        snprintf(label, sizeof label, "write %s", pieces[i].name);
        attempt(label, write_byte, pieces[i].start);
    }
    for (int i = 0; i < count; i++) {
        if (strncmp(pieces[i].name, "[vvar", 5)) continue;
        int result = mprotect((void *)pieces[i].start, pieces[i].end - pieces[i].start, PROT_READ | PROT_WRITE);
        printf("mprotect %s writable: %s\n", pieces[i].name, errno_name(result ? errno : 0));
    }
    const struct piece *vdso = find(pieces, count, "[vdso]");
    if (vdso) {
        int result = mprotect((void *)vdso->start, vdso->end - vdso->start, PROT_READ);
        printf("mprotect [vdso] read-only: %s\n", errno_name(result ? errno : 0));
        attempt("call into a read-only [vdso]", jump_to, vdso->start + 64);
        result = mprotect((void *)vdso->start, vdso->end - vdso->start, PROT_READ | PROT_EXEC);
        printf("mprotect [vdso] back: %s\n", errno_name(result ? errno : 0));
    }
    struct timespec ts;
    printf("clock_gettime afterwards: %d\n", clock_gettime(CLOCK_MONOTONIC, &ts));
    exec_self(argv[0], "exec");
    return 0;
}
