/* epoll: eventfd, timerfd, signalfd and epoll (level- and edge-triggered, one-shot,
 * nesting, loops, interests that follow the open file description, the errors of each
 * call), and poll/select on the new descriptors. Every check prints what it found;
 * nothing depends on timing beyond "a wait of N ms has ended". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

static int ctl(int ep, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(ep, op, fd, &ev);
}

/* one epoll_wait, printed as "name: n events/data ..." */
static void wait_show(const char *name, int ep, int most, int timeout) {
    struct epoll_event evs[8];
    int n = epoll_wait(ep, evs, most, timeout);
    if (n < 0) { printf("%s: -1 %s\n", name, en(errno)); return; }
    printf("%s: %d", name, n);
    for (int i = 0; i < n; i++) printf(" %#x/%#llx", evs[i].events, (unsigned long long)evs[i].data.u64);
    printf("\n");
}

static void link_show(const char *name, int fd) {
    char path[64], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    printf("%s: %s\n", name, target);
}

static uint64_t u64_read(int fd, long *result) {
    uint64_t value = 0;
    *result = read(fd, &value, sizeof value);
    return value;
}

static void eventfd_checks(void) {
    int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t v = 4;
    long r;
    show("eventfd write", write(fd, &v, 8));
    v = u64_read(fd, &r);
    printf("eventfd read: %ld %llu\n", r, (unsigned long long)v);
    u64_read(fd, &r);
    show("eventfd read empty", r);
    printf("eventfd flags: %#x cloexec %d\n", fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK),
           fcntl(fd, F_GETFD));
    show("eventfd short read", read(fd, &v, 4));
    show("eventfd short write", write(fd, &v, 7));
    show("eventfd read 0", read(fd, &v, 0));
    show("eventfd write 0", write(fd, &v, 0));
    v = UINT64_MAX;
    show("eventfd write max", write(fd, &v, 8));
    v = UINT64_MAX - 1;
    show("eventfd write fill", write(fd, &v, 8));
    v = 1;
    show("eventfd write overflow", write(fd, &v, 8));
    v = 0;
    show("eventfd write zero when full", write(fd, &v, 8));
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    show("eventfd poll full", poll(&p, 1, 0));
    printf("eventfd revents full: %#x\n", p.revents);
    link_show("eventfd link", fd);
    close(fd);

    fd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    uint64_t a = u64_read(fd, &r), b = u64_read(fd, &r);
    u64_read(fd, &r);
    printf("eventfd semaphore: %llu %llu then %s\n", (unsigned long long)a, (unsigned long long)b,
           r < 0 ? en(errno) : "data");
    close(fd);
    show("eventfd bad flags", eventfd(0, 0x4));

    /* a blocking read waits for a write from another process */
    fd = eventfd(0, 0);
    pid_t child = fork();
    if (child == 0) {
        usleep(20000);
        uint64_t one = 5;
        _exit(write(fd, &one, 8) == 8 ? 0 : 1);
    }
    v = u64_read(fd, &r);
    printf("eventfd blocking read: %ld %llu\n", r, (unsigned long long)v);
    waitpid(child, 0, 0);
    close(fd);
}

static void set_timer(int fd, int flags, long value_ns, long interval_ns, struct itimerspec *old) {
    struct itimerspec its;
    its.it_value.tv_sec = value_ns / 1000000000L;
    its.it_value.tv_nsec = value_ns % 1000000000L;
    its.it_interval.tv_sec = interval_ns / 1000000000L;
    its.it_interval.tv_nsec = interval_ns % 1000000000L;
    if (timerfd_settime(fd, flags, &its, old) != 0) printf("settime failed: %s\n", en(errno));
}

static void timerfd_checks(void) {
    show("timerfd bad clock", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
    show("timerfd bad flags", timerfd_create(CLOCK_MONOTONIC, 1));
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    int boot = timerfd_create(CLOCK_BOOTTIME, 0);
    printf("timerfd created: %d %d cloexec %d\n", fd >= 0, boot >= 0, fcntl(fd, F_GETFD));
    link_show("timerfd link", fd);
    long r;
    u64_read(fd, &r);
    show("timerfd read disarmed", r);
    struct itimerspec cur;
    timerfd_gettime(fd, &cur);
    printf("timerfd disarmed: %ld %ld %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
           (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

    /* set far away, then replaced: the old setting comes back */
    set_timer(fd, 0, 100000000000L, 3000000000L, 0);
    struct itimerspec old;
    set_timer(fd, 0, 0, 0, &old);
    printf("timerfd old: value>99s %d interval %ld.%09ld\n", old.it_value.tv_sec >= 99,
           (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
    timerfd_gettime(fd, &cur);
    printf("timerfd disarmed again: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

    /* an absolute time 25 ms in the past with a 10 ms period: at least three expirations,
     * and no more than the time measured after the read allows (a slow machine may let
     * further periods pass between the setting and the read) */
    struct timespec now, after;
    clock_gettime(CLOCK_REALTIME, &now);
    int rt = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    long long past = (long long)now.tv_sec * 1000000000LL + now.tv_nsec - 25000000LL;
    set_timer(rt, TFD_TIMER_ABSTIME, past, 10000000L, 0);
    uint64_t ticks = u64_read(rt, &r);
    clock_gettime(CLOCK_REALTIME, &after);
    long long most = 1 + ((long long)after.tv_sec * 1000000000LL + after.tv_nsec - past) / 10000000LL;
    printf("timerfd abstime past: %ld, at least 3: %d, no more than elapsed allows: %d\n", r,
           ticks >= 3, (long long)ticks <= most);
    timerfd_gettime(rt, &cur);
    printf("timerfd interval kept: %ld\n", cur.it_interval.tv_nsec);
    close(rt);

    /* a one-shot timer read while blocking */
    set_timer(boot, 0, 20000000L, 0, 0);
    ticks = u64_read(boot, &r);
    printf("timerfd blocking read: %ld %llu\n", r, (unsigned long long)ticks);
    timerfd_gettime(boot, &cur);
    printf("timerfd expired: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

    /* expirations not read are dropped by a new setting */
    set_timer(fd, 0, 1000000L, 0, 0);
    usleep(5000);
    set_timer(fd, 0, 100000000000L, 0, 0);
    u64_read(fd, &r);
    show("timerfd read after reset", r);

    struct itimerspec bad;
    memset(&bad, 0, sizeof bad);
    bad.it_value.tv_nsec = 1000000000L;
    show("timerfd bad nsec", timerfd_settime(fd, 0, &bad, 0));
    bad.it_value.tv_nsec = 0;
    bad.it_value.tv_sec = -1;
    show("timerfd negative", timerfd_settime(fd, 0, &bad, 0));
    bad.it_value.tv_sec = 1;
    show("timerfd bad settime flags", timerfd_settime(fd, 4, &bad, 0));
    int efd = eventfd(0, 0);
    show("timerfd gettime on eventfd", timerfd_gettime(efd, &cur));
    show("timerfd gettime bad fd", timerfd_gettime(999, &cur));
    uint64_t v = 0;
    show("timerfd short read", read(fd, &v, 4));
    show("timerfd write", write(fd, &v, 8));
    show("timerfd read 0", read(fd, &v, 0));
    close(efd);
    close(fd);
    close(boot);
}

static void signalfd_checks(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &mask, 0);
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("signalfd created: %d cloexec %d\n", fd >= 0, fcntl(fd, F_GETFD));
    link_show("signalfd link", fd);
    struct signalfd_siginfo info[3];
    show("signalfd read empty", read(fd, info, sizeof info));
    struct pollfd p = {fd, POLLIN, 0};
    show("signalfd poll empty", poll(&p, 1, 0));

    kill(getpid(), SIGUSR2);
    kill(getpid(), SIGUSR1);
    show("signalfd poll pending", poll(&p, 1, 0));
    long n = read(fd, info, sizeof info);
    printf("signalfd read: %ld\n", n);
    for (long i = 0; i < n / (long)sizeof info[0]; i++)
        printf("signalfd record: signo %u code %d pid-ok %d uid-ok %d\n", info[i].ssi_signo, info[i].ssi_code,
               info[i].ssi_pid == (uint32_t)getpid(), info[i].ssi_uid == (uint32_t)getuid());

    union sigval value;
    value.sival_int = 42;
    sigqueue(getpid(), SIGRTMIN, value);
    n = read(fd, info, sizeof info[0]);
    printf("signalfd sigqueue: %ld signo-ok %d code %d int %d pid-ok %d\n", n, info[0].ssi_signo == (uint32_t)SIGRTMIN,
           info[0].ssi_code, info[0].ssi_int, info[0].ssi_pid == (uint32_t)getpid());

    show("signalfd short read", read(fd, info, sizeof info[0] - 1));
    show("signalfd bad size", syscall(SYS_signalfd4, -1, &mask, 4, 0));
    show("signalfd bad flags", syscall(SYS_signalfd4, -1, &mask, 8, 1));
    int efd = eventfd(0, 0);
    show("signalfd on eventfd", signalfd(efd, &mask, 0));
    show("signalfd bad fd", signalfd(999, &mask, 0));
    close(efd);

    /* a new mask on the same descriptor */
    sigset_t only2;
    sigemptyset(&only2);
    sigaddset(&only2, SIGUSR2);
    printf("signalfd update same fd: %d\n", signalfd(fd, &only2, 0) == fd);
    kill(getpid(), SIGUSR1);
    show("signalfd read masked out", read(fd, info, sizeof info));
    sigset_t pending;
    sigpending(&pending);
    printf("signalfd usr1 still pending: %d\n", sigismember(&pending, SIGUSR1));
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    int sig = 0;
    sigwait(&usr1, &sig);
    printf("signalfd sigwait took: %d\n", sig == SIGUSR1);
    close(fd);
}

static volatile sig_atomic_t handled;
static void on_usr1(int s) { (void)s; handled++; }

static void epoll_checks(void) {
    int fds[2], fds2[2];
    struct stat anon, other;
    int probe_efd = eventfd(0, 0), probe_ep = epoll_create1(0);
    fstat(probe_efd, &anon);
    fstat(probe_ep, &other);
    printf("anon fstat: mode %o size %ld nlink %ld uid %u same inode %d\n", (unsigned)anon.st_mode,
           (long)anon.st_size, (long)anon.st_nlink, (unsigned)anon.st_uid,
           anon.st_ino == other.st_ino && anon.st_dev == other.st_dev);
    close(probe_efd);
    close(probe_ep);
    show("epoll_create 0", syscall(SYS_epoll_create, 0));  /* raw: some libc wrappers never pass the size on */
    show("epoll_create1 bad", epoll_create1(1));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    printf("epoll cloexec: %d\n", fcntl(ep, F_GETFD));
    link_show("epoll link", ep);
    int plain = epoll_create(10);

    /* errors of epoll_ctl */
    pipe2(fds, O_NONBLOCK);
    int file = open("epoll-probe-file", O_CREAT | O_RDWR, 0600);
    int devnull = open("/dev/null", O_RDWR);
    show("ctl regular file", ctl(ep, EPOLL_CTL_ADD, file, EPOLLIN, 0));
    show("ctl dev null", ctl(ep, EPOLL_CTL_ADD, devnull, EPOLLIN, 0));
    show("ctl not epoll", ctl(fds[0], EPOLL_CTL_ADD, fds[1], EPOLLIN, 0));
    show("ctl itself", ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0));
    show("ctl bad fd", ctl(ep, EPOLL_CTL_ADD, 999, EPOLLIN, 0));
    show("ctl mod missing", ctl(ep, EPOLL_CTL_MOD, fds[0], EPOLLIN, 0));
    show("ctl del missing", ctl(ep, EPOLL_CTL_DEL, fds[0], 0, 0));
    show("ctl bad op", ctl(ep, 9, fds[0], EPOLLIN, 0));
    show("ctl add", ctl(ep, EPOLL_CTL_ADD, fds[0], EPOLLIN, 0x1122334455667788ULL));
    show("ctl add again", ctl(ep, EPOLL_CTL_ADD, fds[0], EPOLLIN, 0));
    show("ctl exclusive rdhup", ctl(ep, EPOLL_CTL_ADD, fds[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLRDHUP, 0));
    show("ctl exclusive", ctl(ep, EPOLL_CTL_ADD, fds[1], EPOLLOUT | EPOLLEXCLUSIVE, 0));
    show("ctl mod exclusive", ctl(ep, EPOLL_CTL_MOD, fds[1], EPOLLOUT, 0));
    show("ctl exclusive epoll", ctl(ep, EPOLL_CTL_ADD, plain, EPOLLIN | EPOLLEXCLUSIVE, 0));
    show("ctl del", ctl(ep, EPOLL_CTL_DEL, fds[1], 0, 0));
    show("ctl del null event", epoll_ctl(ep, EPOLL_CTL_DEL, fds[0], 0));
    close(file);
    close(devnull);
    unlink("epoll-probe-file");

    /* errors of epoll_wait */
    struct epoll_event evs[4];
    show("wait maxevents 0", epoll_wait(ep, evs, 0, 0));
    show("epoll read 0", read(ep, evs, 0));
    show("epoll write", write(ep, "x", 1));
    show("wait not epoll", epoll_wait(fds[0], evs, 1, 0));
    show("wait bad fd", epoll_wait(999, evs, 1, 0));
    ctl(ep, EPOLL_CTL_ADD, fds[1], EPOLLOUT, 5);
    struct epoll_event *volatile unmapped = (struct epoll_event *)8;
    show("wait bad buffer", epoll_wait(ep, unmapped, 1, 0));
    wait_show("wait after bad buffer", ep, 4, 0);
    ctl(ep, EPOLL_CTL_DEL, fds[1], 0, 0);

    /* level-triggered */
    ctl(ep, EPOLL_CTL_ADD, fds[0], EPOLLIN | EPOLLRDHUP, 0x1122334455667788ULL);
    wait_show("lt empty", ep, 4, 0);
    write(fds[1], "x", 1);
    wait_show("lt data", ep, 4, 0);
    wait_show("lt data again", ep, 4, 0);
    char buf[64];
    read(fds[0], buf, sizeof buf);
    wait_show("lt drained", ep, 4, 10);

    /* edge-triggered */
    ctl(ep, EPOLL_CTL_MOD, fds[0], EPOLLIN | EPOLLET, 7);
    write(fds[1], "x", 1);
    wait_show("et data", ep, 4, 0);
    wait_show("et again", ep, 4, 0);
    write(fds[1], "y", 1);
    wait_show("et more data", ep, 4, 0);
    ctl(ep, EPOLL_CTL_MOD, fds[0], EPOLLIN | EPOLLET, 8);
    wait_show("et after mod", ep, 4, 0);

    /* one-shot */
    ctl(ep, EPOLL_CTL_MOD, fds[0], EPOLLIN | EPOLLONESHOT, 9);
    wait_show("oneshot", ep, 4, 0);
    write(fds[1], "z", 1);
    wait_show("oneshot disabled", ep, 4, 0);
    ctl(ep, EPOLL_CTL_MOD, fds[0], EPOLLIN | EPOLLONESHOT, 10);
    wait_show("oneshot rearmed", ep, 4, 0);
    read(fds[0], buf, sizeof buf);

    /* hang-up and error on pipes */
    pipe2(fds2, O_NONBLOCK);
    ctl(ep, EPOLL_CTL_MOD, fds[0], EPOLLIN | EPOLLRDHUP, 11);
    ctl(ep, EPOLL_CTL_ADD, fds2[1], EPOLLOUT, 12);
    wait_show("before hangup", ep, 4, 0);
    close(fds[1]);
    close(fds2[0]);
    wait_show("hangup and error", ep, 4, 0);
    ctl(ep, EPOLL_CTL_DEL, fds[0], 0, 0);
    ctl(ep, EPOLL_CTL_DEL, fds2[1], 0, 0);
    close(fds[0]);
    close(fds2[1]);

    /* the interest belongs to the open file description */
    pipe2(fds, O_NONBLOCK);
    int copy = dup(fds[0]);
    ctl(ep, EPOLL_CTL_ADD, fds[0], EPOLLIN, 13);
    close(fds[0]);
    write(fds[1], "x", 1);
    wait_show("closed number, open dup", ep, 4, 0);
    show("del through the dup", ctl(ep, EPOLL_CTL_DEL, copy, 0, 0));
    close(copy);
    wait_show("last reference closed", ep, 4, 0);
    close(fds[1]);

    /* a FIFO opened O_RDWR: a read that leaves data is no new edge */
    mkfifo("epoll-probe-fifo", 0600);
    int fifo = open("epoll-probe-fifo", O_RDWR | O_NONBLOCK);
    unlink("epoll-probe-fifo");
    ctl(ep, EPOLL_CTL_ADD, fifo, EPOLLIN | EPOLLET, 14);
    write(fifo, "ab", 2);
    wait_show("fifo data", ep, 4, 0);
    read(fifo, buf, 1);
    wait_show("fifo read leaving data", ep, 4, 0);
    write(fifo, "c", 1);
    wait_show("fifo more data", ep, 4, 0);
    close(fifo);

    /* O_PATH descriptors: poll finds them invalid, select ready, epoll refuses them */
    int opath = open(".", O_PATH);
    struct pollfd pp = {opath, POLLIN | POLLOUT, 0};
    show("poll O_PATH", poll(&pp, 1, 0));
    printf("poll O_PATH revents: %#x\n", pp.revents);
    fd_set prd, pwr;
    FD_ZERO(&prd);
    FD_ZERO(&pwr);
    FD_SET(opath, &prd);
    FD_SET(opath, &pwr);
    struct timeval ptv = {0, 0};
    show("select O_PATH", select(opath + 1, &prd, &pwr, 0, &ptv));
    show("ctl O_PATH", ctl(ep, EPOLL_CTL_ADD, opath, EPOLLIN, 0));
    close(opath);

    /* maxevents and turns */
    int ends[3][2];
    for (int i = 0; i < 3; i++) {
        pipe2(ends[i], O_NONBLOCK);
        write(ends[i][1], "x", 1);
        ctl(ep, EPOLL_CTL_ADD, ends[i][0], EPOLLIN, 100 + i);
    }
    wait_show("turns 1", ep, 2, 0);
    wait_show("turns 2", ep, 2, 0);
    wait_show("turns 3", ep, 2, 0);
    for (int i = 0; i < 3; i++) {
        close(ends[i][0]);
        close(ends[i][1]);
    }
    wait_show("all closed", ep, 4, 0);

    /* nesting and loops */
    int inner = epoll_create1(0);
    pipe2(fds, O_NONBLOCK);
    ctl(inner, EPOLL_CTL_ADD, fds[0], EPOLLIN, 1);
    show("nest add", ctl(ep, EPOLL_CTL_ADD, inner, EPOLLIN, 20));
    show("nest loop", ctl(inner, EPOLL_CTL_ADD, ep, EPOLLIN, 0));
    wait_show("nest idle", ep, 4, 0);
    write(fds[1], "x", 1);
    wait_show("nest ready", ep, 4, 0);
    struct pollfd p = {ep, POLLIN, 0};
    show("poll on epoll", poll(&p, 1, 0));
    printf("poll on epoll revents: %#x\n", p.revents);
    read(fds[0], buf, sizeof buf);
    show("poll on idle epoll", poll(&p, 1, 0));
    ctl(ep, EPOLL_CTL_DEL, inner, 0, 0);
    close(inner);
    int chain[10], first_loop = -1;
    for (int i = 0; i < 10; i++) chain[i] = epoll_create1(0);
    for (int i = 8; i >= 0; i--)
        if (ctl(chain[i], EPOLL_CTL_ADD, chain[i + 1], EPOLLIN, 0) != 0 && first_loop < 0)
            first_loop = i, printf("nest depth error: %s\n", en(errno));
    printf("nest depth first refused at: %d\n", first_loop);
    for (int i = 0; i < 10; i++) close(chain[i]);

    /* a wait woken by another process */
    ctl(ep, EPOLL_CTL_ADD, fds[0], EPOLLIN | EPOLLET, 30);
    pid_t child = fork();
    if (child == 0) {
        usleep(20000);
        _exit(write(fds[1], "w", 1) == 1 ? 0 : 1);
    }
    wait_show("woken by child", ep, 4, -1);
    waitpid(child, 0, 0);
    read(fds[0], buf, sizeof buf);
    ctl(ep, EPOLL_CTL_DEL, fds[0], 0, 0);

    /* the new descriptors in epoll */
    int efd = eventfd(0, EFD_NONBLOCK);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, 0);
    int sfd = signalfd(-1, &usr2, SFD_NONBLOCK);
    ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 40);
    ctl(ep, EPOLL_CTL_ADD, tfd, EPOLLIN, 41);
    ctl(ep, EPOLL_CTL_ADD, sfd, EPOLLIN, 42);
    wait_show("fds idle", ep, 4, 0);
    uint64_t one = 1;
    long r;
    write(efd, &one, 8);
    wait_show("eventfd ready", ep, 4, 0);
    wait_show("eventfd edge gone", ep, 4, 0);
    one = 0;
    write(efd, &one, 8);
    wait_show("eventfd write of zero", ep, 4, 0);
    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    ctl(ep, EPOLL_CTL_ADD, sem, EPOLLIN | EPOLLET, 43);
    wait_show("semaphore ready", ep, 4, 0);
    u64_read(sem, &r);
    wait_show("semaphore read is no new edge", ep, 4, 0);
    close(sem);
    set_timer(tfd, 0, 20000000L, 0, 0);
    wait_show("timerfd expiry", ep, 4, -1);
    u64_read(tfd, &r);
    kill(getpid(), SIGUSR2);
    wait_show("signalfd pending", ep, 4, 0);
    struct signalfd_siginfo si;
    read(sfd, &si, sizeof si);
    wait_show("signalfd read", ep, 4, 0);

    /* poll and select on the new descriptors */
    struct pollfd pf[3] = {{efd, POLLIN | POLLOUT, 0}, {tfd, POLLIN, 0}, {sfd, POLLIN, 0}};
    show("poll new fds", poll(pf, 3, 0));
    printf("poll new fds revents: %#x %#x %#x\n", pf[0].revents, pf[1].revents, pf[2].revents);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(efd, &rd);
    FD_SET(tfd, &rd);
    struct timeval tv = {0, 0};
    show("select new fds", select((efd > tfd ? efd : tfd) + 1, &rd, 0, 0, &tv));
    printf("select eventfd set: %d timerfd set: %d\n", FD_ISSET(efd, &rd) != 0, FD_ISSET(tfd, &rd) != 0);
    close(efd);
    close(tfd);
    close(sfd);

    /* timeouts and signal masks */
    int empty = epoll_create1(0);
    wait_show("timeout 10ms", empty, 4, 10);
    struct timespec ts = {0, 5000000};
    show("pwait2 timeout", syscall(SYS_epoll_pwait2, empty, evs, 4, &ts, 0, 8));
    ts.tv_nsec = 1000000000L;
    show("pwait2 bad timeout", syscall(SYS_epoll_pwait2, empty, evs, 4, &ts, 0, 8));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    sigset_t block1, none;
    sigemptyset(&block1);
    sigaddset(&block1, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block1, 0);
    kill(getpid(), SIGUSR1);
    show("pwait with mask", epoll_pwait(empty, evs, 4, -1, &none));
    printf("handler ran: %d\n", (int)handled);
    kill(getpid(), SIGUSR1);
    show("pwait2 with mask", syscall(SYS_epoll_pwait2, empty, evs, 4, 0, &none, 8));
    printf("handler ran: %d\n", (int)handled);
    sigset_t now_mask;
    sigprocmask(SIG_BLOCK, 0, &now_mask);
    printf("mask restored: %d\n", sigismember(&now_mask, SIGUSR1));
    show("pwait bad sigsetsize", syscall(SYS_epoll_pwait, empty, evs, 4, 0, &none, 4));
    close(empty);
    close(plain);
    close(ep);
}

int main(void) {
    setvbuf(stdout, 0, _IOLBF, 0);
    eventfd_checks();
    timerfd_checks();
    signalfd_checks();
    epoll_checks();
    return 0;
}
