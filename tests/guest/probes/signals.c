/* signals: delivery and handler frames.  SA_SIGINFO contents for kill, raise,
 * tgkill, sigqueue and raw rt_sigqueueinfo; queued realtime signals versus
 * coalesced standard ones; nested handlers, SA_NODEFER and sa_mask; blocking,
 * sigpending and SIG_IGN discarding a pending signal; sigaltstack with
 * SA_ONSTACK (and recovering from a stack overflow on it); SIGSEGV recovered
 * with siglongjmp (SEGV_MAPERR, SEGV_ACCERR); SA_RESETHAND; SA_RESTART versus
 * EINTR for a pipe read interrupted by ITIMER_REAL; sigsuspend woken by a
 * child; sigtimedwait; FP/SSE/AVX, MXCSR and x87 state surviving a handler
 * that clobbers them.  Ends by printing "last line" and killing itself with
 * SIGTERM (default action). */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *yesno(int c)
{
    return c ? "yes" : "no";
}

static const char *ename(int e)
{
    switch (e) {
    case 0: return "ok";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case EFAULT: return "EFAULT";
    case ENOMEM: return "ENOMEM";
    default: return "E?";
    }
}

static const char *res(long r)
{
    return r < 0 ? ename(errno) : "ok";
}

static const char *code_name(int code)
{
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_KERNEL: return "SI_KERNEL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TIMER: return "SI_TIMER";
    case SI_TKILL: return "SI_TKILL";
    case -42: return "custom(-42)";
    default: return "other";
    }
}

static const char *segv_code_name(int code)
{
    switch (code) {
    case SEGV_MAPERR: return "SEGV_MAPERR";
    case SEGV_ACCERR: return "SEGV_ACCERR";
    default: return code_name(code);
    }
}

static long my_tid(void)
{
    return syscall(SYS_gettid);
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void set_action(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int is_blocked(int sig)
{
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig);
}

/* ---- a log of handler events ------------------------------------------------- */

static char event_log[512];

static void log_event(const char *what)
{
    size_t n = strlen(event_log);
    if (n)
        strncat(event_log, " ", sizeof event_log - n - 1);
    strncat(event_log, what, sizeof event_log - strlen(event_log) - 1);
}

static void print_log(const char *title)
{
    printf("%s: %s\n", title, event_log);
    event_log[0] = '\0';
}

/* ---- siginfo ----------------------------------------------------------------- */

static volatile sig_atomic_t info_count;
static int info_signo, info_code, info_value;
static pid_t info_pid;
static uid_t info_uid;

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    info_count++;
    info_signo = sig == si->si_signo ? si->si_signo : -1;
    info_code = si->si_code;
    info_pid = si->si_pid;
    info_uid = si->si_uid;
    info_value = si->si_value.sival_int;
}

static void report_info(const char *how)
{
    printf("%s: delivered %d si_signo ok %s si_code %s si_pid is self %s si_uid is self %s", how,
           (int)info_count, yesno(info_signo == SIGUSR1), code_name(info_code),
           yesno(info_pid == getpid()), yesno(info_uid == getuid()));
    if (info_code == SI_QUEUE || info_code == -42)
        printf(" si_value %d", info_value);
    printf("\n");
    info_count = 0;
}

static int rt_values[8];
static int rt_count;

static void rt_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (rt_count < 8)
        rt_values[rt_count] = si->si_value.sival_int;
    rt_count++;
}

static volatile sig_atomic_t usr2_count;

static void count_usr2(int sig)
{
    (void)sig;
    usr2_count++;
}

static void test_siginfo(void)
{
    union sigval v;
    siginfo_t si;
    sigset_t set;
    int i;
    long r;

    set_action(SIGUSR1, info_handler, 0);

    kill(getpid(), SIGUSR1);
    report_info("kill");
    raise(SIGUSR1);
    report_info("raise");
    syscall(SYS_tgkill, getpid(), my_tid(), SIGUSR1);
    report_info("tgkill");
    syscall(SYS_tkill, my_tid(), SIGUSR1);
    report_info("tkill");
    v.sival_int = 1234;
    sigqueue(getpid(), SIGUSR1, v);
    report_info("sigqueue");

    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = -42;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = 5678;
    r = syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si);
    printf("rt_sigqueueinfo: %s\n", res(r));
    report_info("rt_sigqueueinfo");

    errno = 0;
    printf("kill signal 0: %s\n", res(kill(getpid(), 0)));
    errno = 0;
    printf("kill signal 65: %s\n", res(kill(getpid(), 65)));
    {
        struct sigaction sa;
        errno = 0;
        printf("query SIGKILL disposition: %s\n", res(sigaction(SIGKILL, NULL, &sa)));
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        errno = 0;
        printf("set SIGKILL handler: %s\n", res(sigaction(SIGKILL, &sa, NULL)));
        errno = 0;
        printf("set SIGSTOP handler: %s\n", res(sigaction(SIGSTOP, &sa, NULL)));
    }

    /* realtime signals queue, in order; standard ones coalesce */
    set_action(SIGRTMIN + 3, rt_handler, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 3);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (i = 1; i <= 3; i++) {
        v.sival_int = i * 10;
        sigqueue(getpid(), SIGRTMIN + 3, v);
    }
    printf("queued realtime signals before unblock: %d\n", rt_count);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("queued realtime signals delivered: %d values %d %d %d\n", rt_count, rt_values[0],
           rt_values[1], rt_values[2]);

    set_handler(SIGUSR2, count_usr2, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (i = 0; i < 3; i++)
        kill(getpid(), SIGUSR2);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("standard signal sent 3 times while blocked, delivered: %d\n", (int)usr2_count);
}

/* ---- nesting, SA_NODEFER, sa_mask ----------------------------------------------- */

static volatile int depth;

static void nest_usr2(int sig)
{
    (void)sig;
    log_event(depth ? "usr2-inside-usr1" : "usr2");
}

static void nest_usr1(int sig)
{
    (void)sig;
    depth++;
    log_event("usr1-start");
    raise(SIGUSR2);
    log_event("usr1-end");
    depth--;
}

static volatile int reentries;

static void defer_handler(int sig)
{
    char name[32];
    depth++;
    snprintf(name, sizeof name, "enter%d", depth);
    log_event(name);
    if (reentries++ == 0)
        raise(sig);
    snprintf(name, sizeof name, "exit%d", depth);
    log_event(name);
    depth--;
}

static int mask_usr2_blocked, mask_usr1_blocked, mask_hup_blocked;

static void mask_handler(int sig)
{
    (void)sig;
    mask_usr1_blocked = is_blocked(SIGUSR1);
    mask_usr2_blocked = is_blocked(SIGUSR2);
    mask_hup_blocked = is_blocked(SIGHUP);
}

static void test_nesting(void)
{
    struct sigaction sa;

    set_handler(SIGUSR1, nest_usr1, 0);
    set_handler(SIGUSR2, nest_usr2, 0);
    raise(SIGUSR1);
    print_log("nested handlers");

    set_handler(SIGUSR1, defer_handler, 0);
    reentries = 0;
    raise(SIGUSR1);
    print_log("same signal, default deferral");

    set_handler(SIGUSR1, defer_handler, SA_NODEFER);
    reentries = 0;
    raise(SIGUSR1);
    print_log("same signal, SA_NODEFER");

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mask_handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("in handler: own signal blocked %s, sa_mask signal blocked %s, other blocked %s\n",
           yesno(mask_usr1_blocked), yesno(mask_usr2_blocked), yesno(mask_hup_blocked));
    printf("after handler: own signal blocked %s, sa_mask signal blocked %s\n", yesno(is_blocked(SIGUSR1)),
           yesno(is_blocked(SIGUSR2)));
}

/* ---- blocking and pending -------------------------------------------------------- */

static volatile sig_atomic_t usr1_count;

static void count_usr1(int sig)
{
    (void)sig;
    usr1_count++;
}

static void test_blocking(void)
{
    sigset_t set, pending, all, old;

    set_handler(SIGUSR1, count_usr1, 0);
    usr1_count = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    sigpending(&pending);
    printf("blocked: delivered %d, pending %s\n", (int)usr1_count, yesno(sigismember(&pending, SIGUSR1)));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    sigpending(&pending);
    printf("unblocked: delivered %d, pending %s\n", (int)usr1_count, yesno(sigismember(&pending, SIGUSR1)));

    /* setting SIG_IGN discards a pending signal */
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    set_handler(SIGUSR1, SIG_IGN, 0);
    sigpending(&pending);
    printf("SIG_IGN discards pending: %s\n", yesno(!sigismember(&pending, SIGUSR1)));
    set_handler(SIGUSR1, count_usr1, 0);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("delivered after unblock: %d\n", (int)usr1_count);

    /* an ignored signal is not even made pending */
    set_handler(SIGUSR1, SIG_IGN, 0);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    sigpending(&pending);
    printf("ignored but blocked signal still pending: %s\n", yesno(sigismember(&pending, SIGUSR1)));
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    /* SIGKILL and SIGSTOP cannot be blocked */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    sigprocmask(SIG_SETMASK, &old, &all);
    printf("block all: SIGKILL blocked %s, SIGSTOP blocked %s, SIGTERM blocked %s\n",
           yesno(sigismember(&all, SIGKILL)), yesno(sigismember(&all, SIGSTOP)), yesno(sigismember(&all, SIGTERM)));
    errno = 0;
    printf("sigprocmask bad how: %s\n", res(sigprocmask(12345, &set, NULL)));
}

/* ---- sigaltstack -------------------------------------------------------------------- */

#define ALT_SIZE (256 * 1024)
static char alt_stack[ALT_SIZE] __attribute__((aligned(64)));
static int alt_local_inside, alt_ss_onstack, alt_disable_errno;

static void alt_handler(int sig)
{
    volatile char local = 0;
    stack_t cur;
    (void)sig;
    alt_local_inside = (char *)&local >= alt_stack && (char *)&local < alt_stack + ALT_SIZE;
    sigaltstack(NULL, &cur);
    alt_ss_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
    /* changing the alternate stack while running on it is refused */
    cur.ss_flags = SS_DISABLE;
    errno = 0;
    alt_disable_errno = sigaltstack(&cur, NULL) < 0 ? errno : 0;
}

static sigjmp_buf overflow_env;
static int overflow_on_alt;

static void overflow_handler(int sig, siginfo_t *si, void *uc)
{
    volatile char local = 0;
    (void)sig;
    (void)si;
    (void)uc;
    overflow_on_alt = (char *)&local >= alt_stack && (char *)&local < alt_stack + ALT_SIZE;
    siglongjmp(overflow_env, 1);
}

static volatile long recurse_limit = -1;

static long recurse(long n)
{
    volatile char pad[1024];
    if (n == recurse_limit)
        return 0;
    pad[0] = (char)n;
    pad[sizeof pad - 1] = (char)n;
    return recurse(n + 1) + pad[0] + pad[sizeof pad - 1];
}

static void test_altstack(void)
{
    stack_t ss, old;

    ss.ss_sp = alt_stack;
    ss.ss_size = ALT_SIZE;
    ss.ss_flags = 0;
    printf("sigaltstack set: %s\n", res(sigaltstack(&ss, &old)));
    printf("previous altstack disabled: %s\n", yesno(old.ss_flags & SS_DISABLE));
    sigaltstack(NULL, &old);
    printf("query outside handler: size matches %s, SS_ONSTACK %s\n", yesno(old.ss_size == ALT_SIZE),
           yesno(old.ss_flags & SS_ONSTACK));

    set_handler(SIGUSR1, alt_handler, SA_ONSTACK);
    raise(SIGUSR1);
    printf("SA_ONSTACK handler: local on altstack %s, SS_ONSTACK reported %s, disable while on it %s\n",
           yesno(alt_local_inside), yesno(alt_ss_onstack), ename(alt_disable_errno));

    set_handler(SIGUSR1, alt_handler, 0);
    raise(SIGUSR1);
    printf("handler without SA_ONSTACK: local on altstack %s, SS_ONSTACK reported %s\n", yesno(alt_local_inside),
           yesno(alt_ss_onstack));

    ss.ss_size = 1024;
    errno = 0;
    printf("sigaltstack too small: %s\n", res(sigaltstack(&ss, NULL)));

    /* the classic use: survive a stack overflow */
    set_action(SIGSEGV, overflow_handler, SA_ONSTACK);
    if (sigsetjmp(overflow_env, 1) == 0) {
        recurse(0);
        printf("stack overflow: not reached\n");
    } else {
        printf("stack overflow recovered on altstack: %s\n", yesno(overflow_on_alt));
    }
    set_handler(SIGSEGV, SIG_DFL, 0);

    ss.ss_flags = SS_DISABLE;
    printf("sigaltstack disable: %s\n", res(sigaltstack(&ss, NULL)));
    sigaltstack(NULL, &old);
    printf("disabled reported: %s\n", yesno(old.ss_flags & SS_DISABLE));
}

/* ---- SIGSEGV recovery ------------------------------------------------------------------ */

static sigjmp_buf segv_env;
static void *segv_addr;
static int segv_code, segv_signo;

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    segv_signo = sig;
    segv_addr = si->si_addr;
    segv_code = si->si_code;
    siglongjmp(segv_env, 1);
}

static void test_segv(void)
{
    volatile uintptr_t bad = 0x10;
    char *page;
    long pagesize = sysconf(_SC_PAGESIZE);

    set_action(SIGSEGV, segv_handler, 0);
    if (sigsetjmp(segv_env, 1) == 0) {
        int v = *(volatile int *)bad;
        printf("read of 0x10 returned %d\n", v);
    } else {
        printf("read 0x10: SIGSEGV %s si_addr == 0x10 %s si_code %s\n", yesno(segv_signo == SIGSEGV),
               yesno(segv_addr == (void *)0x10), segv_code_name(segv_code));
    }
    printf("SIGSEGV unblocked after siglongjmp: %s\n", yesno(!is_blocked(SIGSEGV)));

    page = mmap(NULL, (size_t)pagesize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(segv_env, 1) == 0) {
        *(volatile char *)(page + 100) = 1;
        printf("write to read-only page: not faulted\n");
    } else {
        printf("write read-only page: SIGSEGV %s si_addr matches %s si_code %s\n", yesno(segv_signo == SIGSEGV),
               yesno(segv_addr == page + 100), segv_code_name(segv_code));
    }
    printf("page still readable: %s\n", yesno(((volatile char *)page)[100] == 0));
    munmap(page, (size_t)pagesize);
    set_handler(SIGSEGV, SIG_DFL, 0);
}

/* ---- SA_RESETHAND ------------------------------------------------------------------------- */

static int reset_blocked_inside;
static volatile sig_atomic_t reset_count;

static void reset_handler(int sig)
{
    reset_count++;
    reset_blocked_inside = is_blocked(sig);
}

static void test_resethand(void)
{
    struct sigaction cur;

    set_handler(SIGUSR2, reset_handler, SA_RESETHAND);
    raise(SIGUSR2);
    sigaction(SIGUSR2, NULL, &cur);
    printf("SA_RESETHAND: delivered %d, own signal blocked inside %s, disposition after is SIG_DFL %s\n",
           (int)reset_count, yesno(reset_blocked_inside), yesno(cur.sa_handler == SIG_DFL));

    /* the default action of SIGUSR2 now terminates: show it in a child */
    {
        pid_t c = fork();
        int st = 0;
        if (c == 0) {
            raise(SIGUSR2);
            _exit(0);
        }
        waitpid(c, &st, 0);
        printf("second delivery (in a child): killed by SIGUSR2 %s\n",
               yesno(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR2));
    }
}

/* ---- SA_RESTART versus EINTR ---------------------------------------------------------------- */

static volatile sig_atomic_t alarm_count;

static void alarm_handler(int sig)
{
    (void)sig;
    alarm_count++;
}

static void test_restart(int restart)
{
    int data[2], go[2];
    char buf[16];
    pid_t c;
    ssize_t n;
    int st;
    struct itimerval it;
    const char *label = restart ? "SA_RESTART" : "no SA_RESTART";

    set_handler(SIGALRM, alarm_handler, restart ? SA_RESTART : 0);
    if (pipe(data) < 0 || pipe(go) < 0)
        return;
    c = fork();
    if (c == 0) {
        char b;
        close(data[0]);
        close(go[1]);
        if (read(go[0], &b, 1) == 1) {
            msleep(150);
            if (write(data[1], "data", 4) != 4)
                _exit(1);
        }
        _exit(0);
    }
    close(data[1]);
    close(go[0]);
    alarm_count = 0;
    if (write(go[1], "g", 1) != 1)
        printf("go write failed\n");
    /* the timer fires 50 ms into the read; the child writes 150 ms after "go" */
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = 50000;
    setitimer(ITIMER_REAL, &it, NULL);
    n = read(data[0], buf, sizeof buf);
    if (n < 0) {
        printf("%s: read %s, alarms %d\n", label, ename(errno), (int)alarm_count);
        n = read(data[0], buf, sizeof buf);
        printf("%s: read again %zd\n", label, n);
    } else {
        printf("%s: read %zd \"%.*s\", alarms %d\n", label, n, (int)n, buf, (int)alarm_count);
    }
    waitpid(c, &st, 0);
    close(data[0]);
    close(go[1]);

    /* and a sleep interrupted by the timer reports EINTR either way */
    it.it_value.tv_usec = 20000;
    setitimer(ITIMER_REAL, &it, NULL);
    {
        struct timespec ts = { 2, 0 };
        errno = 0;
        printf("%s: nanosleep interrupted: %s\n", label, res(nanosleep(&ts, &ts)));
    }
    set_handler(SIGALRM, SIG_DFL, 0);
}

/* ---- sigsuspend and sigtimedwait ------------------------------------------------------------ */

static void test_waiting(void)
{
    sigset_t set, old, waitmask;
    pid_t c;
    int st, r;
    siginfo_t si;
    struct timespec ts;
    union sigval v;

    set_action(SIGUSR1, info_handler, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    info_count = 0;
    c = fork();
    if (c == 0) {
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    waitmask = old;
    sigdelset(&waitmask, SIGUSR1);
    errno = 0;
    r = sigsuspend(&waitmask);
    printf("sigsuspend: %s, delivered %d, si_code %s, si_pid is the child %s\n", res(r), (int)info_count,
           code_name(info_code), yesno(info_pid == c));
    printf("mask restored after sigsuspend: %s\n", yesno(is_blocked(SIGUSR1)));
    waitpid(c, &st, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);

    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, &old);
    ts.tv_sec = 0;
    ts.tv_nsec = 20 * 1000000L;
    errno = 0;
    r = sigtimedwait(&set, &si, &ts);
    printf("sigtimedwait nothing pending: %s\n", res(r));
    kill(getpid(), SIGUSR2);
    r = sigtimedwait(&set, &si, &ts);
    printf("sigtimedwait pending: %s, si_code %s, si_pid is self %s\n", r == SIGUSR2 ? "SIGUSR2" : res(r),
           code_name(si.si_code), yesno(si.si_pid == getpid()));
    v.sival_int = 77;
    sigqueue(getpid(), SIGUSR2, v);
    r = sigwaitinfo(&set, &si);
    printf("sigwaitinfo queued: %s, si_code %s, si_value %d\n", r == SIGUSR2 ? "SIGUSR2" : res(r),
           code_name(si.si_code), si.si_value.sival_int);
    ts.tv_nsec = 0;
    errno = 0;
    r = sigtimedwait(&set, &si, &ts);
    printf("sigtimedwait zero timeout: %s\n", res(r));
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* ---- FP, SSE, AVX and x87 state across a handler ------------------------------------------ */

static int have_avx(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & bit_AVX) || !(c & bit_OSXSAVE))
        return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;
}

static int avx;
static unsigned handler_mxcsr, handler_fcw;
static volatile sig_atomic_t clobber_count;

static void clobber_handler(int sig)
{
    static const unsigned char junk[32] = { 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe,
                                            0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad,
                                            0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef };
    unsigned mx = 0x1f80 | 0x4000 | 0x8000; /* round up, flush to zero */
    unsigned short cw = 0x037f | 0x0800; /* round up */
    (void)sig;
    clobber_count++;
    __asm__ volatile("stmxcsr %0" : "=m"(handler_mxcsr));
    {
        unsigned short fcw;
        __asm__ volatile("fnstcw %0" : "=m"(fcw));
        handler_fcw = fcw;
    }
    __asm__ volatile("movdqu (%0), %%xmm0\n\tmovdqu (%0), %%xmm1\n\tmovdqu (%0), %%xmm2\n\t"
                     "movdqu (%0), %%xmm3\n\tmovdqu (%0), %%xmm4\n\tmovdqu (%0), %%xmm5\n\t"
                     "movdqu (%0), %%xmm6\n\tmovdqu (%0), %%xmm7\n\tmovdqu (%0), %%xmm8\n\t"
                     "movdqu (%0), %%xmm9\n\tmovdqu (%0), %%xmm10\n\tmovdqu (%0), %%xmm11\n\t"
                     "movdqu (%0), %%xmm12\n\tmovdqu (%0), %%xmm13\n\tmovdqu (%0), %%xmm14\n\t"
                     "movdqu (%0), %%xmm15\n\t"
                     :
                     : "r"(junk)
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                       "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (avx)
        __asm__ volatile("vmovdqu (%0), %%ymm0\n\tvmovdqu (%0), %%ymm1\n\tvmovdqu (%0), %%ymm2\n\t"
                         "vmovdqu (%0), %%ymm3\n\tvmovdqu (%0), %%ymm4\n\tvmovdqu (%0), %%ymm5\n\t"
                         "vmovdqu (%0), %%ymm6\n\tvmovdqu (%0), %%ymm7\n\tvmovdqu (%0), %%ymm8\n\t"
                         "vmovdqu (%0), %%ymm9\n\tvmovdqu (%0), %%ymm10\n\tvmovdqu (%0), %%ymm11\n\t"
                         "vmovdqu (%0), %%ymm12\n\tvmovdqu (%0), %%ymm13\n\tvmovdqu (%0), %%ymm14\n\t"
                         "vmovdqu (%0), %%ymm15\n\t"
                         :
                         : "r"(junk)
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                           "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    /* x87: a different control word and a full register stack */
    __asm__ volatile("fldcw %0\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\t" : : "m"(cw));
    __asm__ volatile("ldmxcsr %0" : : "m"(mx));
}

#define NREG 16

static int test_fp(void)
{
    static unsigned char in[NREG][32] __attribute__((aligned(32)));
    static unsigned char out[NREG][32] __attribute__((aligned(32)));
    static long double st_in = 1.25L, st_out;
    unsigned mxcsr_before = 0, mxcsr_after = 0, mxcsr_set;
    unsigned short fcw_before = 0, fcw_after = 0, fcw_set;
    int i, j, xmm_ok, ymm_ok = 1, mx_ok, cw_ok, st_ok, fresh;
    long ret;
    pid_t pid = getpid();
    long tid = my_tid();

    avx = have_avx();
    set_handler(SIGUSR1, clobber_handler, 0);
    for (i = 0; i < NREG; i++)
        for (j = 0; j < 32; j++)
            in[i][j] = (unsigned char)(i * 32 + j + 1);

    /* save the current modes, switch to round-toward-zero in both units */
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr_before));
    __asm__ volatile("fnstcw %0" : "=m"(fcw_before));
    mxcsr_set = (mxcsr_before & ~0x6000u) | 0x6000u;
    fcw_set = (unsigned short)((fcw_before & ~0x0c00u) | 0x0c00u);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_set));
    __asm__ volatile("fldcw %0" : : "m"(fcw_set));

    /* xmm0-15 hold known values across a tgkill that runs the handler */
    memset(out, 0, sizeof out);
    ret = SYS_tgkill;
    __asm__ volatile("movdqu 0(%[in]), %%xmm0\n\tmovdqu 32(%[in]), %%xmm1\n\t"
                     "movdqu 64(%[in]), %%xmm2\n\tmovdqu 96(%[in]), %%xmm3\n\t"
                     "movdqu 128(%[in]), %%xmm4\n\tmovdqu 160(%[in]), %%xmm5\n\t"
                     "movdqu 192(%[in]), %%xmm6\n\tmovdqu 224(%[in]), %%xmm7\n\t"
                     "movdqu 256(%[in]), %%xmm8\n\tmovdqu 288(%[in]), %%xmm9\n\t"
                     "movdqu 320(%[in]), %%xmm10\n\tmovdqu 352(%[in]), %%xmm11\n\t"
                     "movdqu 384(%[in]), %%xmm12\n\tmovdqu 416(%[in]), %%xmm13\n\t"
                     "movdqu 448(%[in]), %%xmm14\n\tmovdqu 480(%[in]), %%xmm15\n\t"
                     "syscall\n\t"
                     "movdqu %%xmm0, 0(%[out])\n\tmovdqu %%xmm1, 32(%[out])\n\t"
                     "movdqu %%xmm2, 64(%[out])\n\tmovdqu %%xmm3, 96(%[out])\n\t"
                     "movdqu %%xmm4, 128(%[out])\n\tmovdqu %%xmm5, 160(%[out])\n\t"
                     "movdqu %%xmm6, 192(%[out])\n\tmovdqu %%xmm7, 224(%[out])\n\t"
                     "movdqu %%xmm8, 256(%[out])\n\tmovdqu %%xmm9, 288(%[out])\n\t"
                     "movdqu %%xmm10, 320(%[out])\n\tmovdqu %%xmm11, 352(%[out])\n\t"
                     "movdqu %%xmm12, 384(%[out])\n\tmovdqu %%xmm13, 416(%[out])\n\t"
                     "movdqu %%xmm14, 448(%[out])\n\tmovdqu %%xmm15, 480(%[out])\n\t"
                     : "+a"(ret)
                     : [in] "r"(in), [out] "r"(out), "D"((long)pid), "S"(tid), "d"((long)SIGUSR1)
                     : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    xmm_ok = clobber_count == 1 && ret == 0;
    for (i = 0; i < NREG; i++)
        if (memcmp(in[i], out[i], 16) != 0)
            xmm_ok = 0;

    /* the same for the full 256-bit ymm0-15 */
    if (avx) {
        memset(out, 0, sizeof out);
        ret = SYS_tgkill;
        __asm__ volatile("vmovdqu 0(%[in]), %%ymm0\n\tvmovdqu 32(%[in]), %%ymm1\n\t"
                         "vmovdqu 64(%[in]), %%ymm2\n\tvmovdqu 96(%[in]), %%ymm3\n\t"
                         "vmovdqu 128(%[in]), %%ymm4\n\tvmovdqu 160(%[in]), %%ymm5\n\t"
                         "vmovdqu 192(%[in]), %%ymm6\n\tvmovdqu 224(%[in]), %%ymm7\n\t"
                         "vmovdqu 256(%[in]), %%ymm8\n\tvmovdqu 288(%[in]), %%ymm9\n\t"
                         "vmovdqu 320(%[in]), %%ymm10\n\tvmovdqu 352(%[in]), %%ymm11\n\t"
                         "vmovdqu 384(%[in]), %%ymm12\n\tvmovdqu 416(%[in]), %%ymm13\n\t"
                         "vmovdqu 448(%[in]), %%ymm14\n\tvmovdqu 480(%[in]), %%ymm15\n\t"
                         "syscall\n\t"
                         "vmovdqu %%ymm0, 0(%[out])\n\tvmovdqu %%ymm1, 32(%[out])\n\t"
                         "vmovdqu %%ymm2, 64(%[out])\n\tvmovdqu %%ymm3, 96(%[out])\n\t"
                         "vmovdqu %%ymm4, 128(%[out])\n\tvmovdqu %%ymm5, 160(%[out])\n\t"
                         "vmovdqu %%ymm6, 192(%[out])\n\tvmovdqu %%ymm7, 224(%[out])\n\t"
                         "vmovdqu %%ymm8, 256(%[out])\n\tvmovdqu %%ymm9, 288(%[out])\n\t"
                         "vmovdqu %%ymm10, 320(%[out])\n\tvmovdqu %%ymm11, 352(%[out])\n\t"
                         "vmovdqu %%ymm12, 384(%[out])\n\tvmovdqu %%ymm13, 416(%[out])\n\t"
                         "vmovdqu %%ymm14, 448(%[out])\n\tvmovdqu %%ymm15, 480(%[out])\n\t"
                         "vzeroupper\n\t"
                         : "+a"(ret)
                         : [in] "r"(in), [out] "r"(out), "D"((long)pid), "S"(tid), "d"((long)SIGUSR1)
                         : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                           "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
        ymm_ok = clobber_count == 2 && ret == 0 && memcmp(in, out, sizeof in) == 0;
    }

    /* an x87 register holds a value across the handler, which fills the stack */
    ret = SYS_tgkill;
    __asm__ volatile("fldt %[sin]\n\tsyscall\n\tfstpt %[sout]\n\t"
                     : "+a"(ret), [sout] "=m"(st_out)
                     : [sin] "m"(st_in), "D"((long)pid), "S"(tid), "d"((long)SIGUSR1)
                     : "rcx", "r11", "memory", "st");
    st_ok = ret == 0 && st_out == 1.25L;

    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr_after));
    __asm__ volatile("fnstcw %0" : "=m"(fcw_after));
    mx_ok = (mxcsr_after & 0xffc0u) == (mxcsr_set & 0xffc0u);
    cw_ok = fcw_after == fcw_set;
    /* the handler starts with the default state: MXCSR 0x1f80, x87 control word 0x37f */
    fresh = (handler_mxcsr & 0xffc0u) == 0x1f80u && handler_fcw == 0x37f;

    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_before));
    __asm__ volatile("fldcw %0" : : "m"(fcw_before));

    printf("xmm0-15 preserved: %s\n", yesno(xmm_ok));
    printf("mxcsr rounding mode preserved: %s\n", yesno(mx_ok));
    printf("x87 control word preserved: %s\n", yesno(cw_ok));
    printf("x87 st(0) preserved: %s\n", yesno(st_ok));
    printf("handler starts with default mxcsr and x87 control word: %s\n", yesno(fresh));
    printf("fp state preserved: %s\n", yesno(xmm_ok && ymm_ok && mx_ok && cw_ok && st_ok));
    set_handler(SIGUSR1, SIG_DFL, 0);
    return 0;
}

int main(void)
{
    sigset_t set;

    setvbuf(stdout, NULL, _IOLBF, 0);
    test_siginfo();
    test_nesting();
    test_blocking();
    test_altstack();
    test_segv();
    test_resethand();
    test_restart(1);
    test_restart(0);
    test_waiting();
    test_fp();

    printf("last line\n");
    fflush(stdout);
    set_handler(SIGTERM, SIG_DFL, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), SIGTERM);
    printf("survived SIGTERM\n");
    return 0;
}
