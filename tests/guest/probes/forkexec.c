/* forkexec: process creation and reaping.  fork+exec of /bin/true 20 times;
 * exec errors reported to the parent through a close-on-exec pipe; waitpid
 * status decoding (exit codes, death by signal); waitid with WNOHANG, WNOWAIT
 * and WEXITED; WUNTRACED/WCONTINUED around SIGSTOP/SIGCONT; vfork; posix_spawn
 * (success and a missing program); process groups and kill(-pgid); SIGCHLD
 * with CLD_EXITED/CLD_KILLED; pipe EOF when the writer exits; SIGPIPE killing
 * a writer and EPIPE when it is ignored; and an orphan's reparenting. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *yesno(int c)
{
    return c ? "yes" : "no";
}

static const char *ename(int e)
{
    switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ENOEXEC: return "ENOEXEC";
    case ECHILD: return "ECHILD";
    case ESRCH: return "ESRCH";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EPIPE: return "EPIPE";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    default: return "E?";
    }
}

static const char *res(long r)
{
    return r < 0 ? ename(errno) : "ok";
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGCHLD: return "SIGCHLD";
    case SIGCONT: return "SIGCONT";
    case SIGSTOP: return "SIGSTOP";
    case SIGTSTP: return "SIGTSTP";
    default: return "SIG?";
    }
}

static const char *cld_name(int code)
{
    switch (code) {
    case CLD_EXITED: return "CLD_EXITED";
    case CLD_KILLED: return "CLD_KILLED";
    case CLD_DUMPED: return "CLD_DUMPED";
    case CLD_STOPPED: return "CLD_STOPPED";
    case CLD_CONTINUED: return "CLD_CONTINUED";
    case CLD_TRAPPED: return "CLD_TRAPPED";
    default: return "other";
    }
}

/* a wait status in words, without the core-dump bit */
static const char *describe(int st)
{
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by %s", signame(WTERMSIG(st)));
    else if (WIFSTOPPED(st))
        snprintf(buf, sizeof buf, "stopped by %s", signame(WSTOPSIG(st)));
    else if (WIFCONTINUED(st))
        snprintf(buf, sizeof buf, "continued");
    else
        snprintf(buf, sizeof buf, "unknown %#x", st);
    return buf;
}

static void msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* fork and exec argv; the child reports an exec failure through a
 * close-on-exec pipe, as posix_spawn does.  Returns the exec errno (0 if the
 * exec succeeded) and stores the wait status. */
static int spawn_wait(char *const argv[], int *status)
{
    int p[2], err = 0;
    pid_t c;
    ssize_t n;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    c = fork();
    if (c == 0) {
        close(p[0]);
        execve(argv[0], argv, environ);
        err = errno;
        if (write(p[1], &err, sizeof err) != sizeof err)
            _exit(126);
        _exit(127);
    }
    close(p[1]);
    n = read(p[0], &err, sizeof err);
    close(p[0]);
    if (n != sizeof err)
        err = 0;
    waitpid(c, status, 0);
    return err;
}

static void test_exec(void)
{
    char *true_argv[] = { "/bin/true", NULL };
    char *missing_argv[] = { "/nonexistent/program", NULL };
    char *dir_argv[] = { "/usr", NULL };
    char *noexec_argv[] = { "./not-elf", NULL };
    char *shell_argv[] = { "/bin/sh", "-c", "exit 42", NULL };
    int i, ok = 0, st, err, fd;

    for (i = 0; i < 20; i++) {
        err = spawn_wait(true_argv, &st);
        if (err == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ok++;
    }
    printf("fork+exec /bin/true 20 times, succeeded: %d\n", ok);
    err = spawn_wait(missing_argv, &st);
    printf("exec missing program: %s, child %s\n", ename(err), describe(st));
    err = spawn_wait(dir_argv, &st);
    printf("exec a directory: %s, child %s\n", ename(err), describe(st));
    fd = open("not-elf", O_CREAT | O_WRONLY | O_TRUNC, 0755);
    if (fd >= 0) {
        if (write(fd, "just text\n", 10) != 10)
            printf("write failed\n");
        close(fd);
    }
    err = spawn_wait(noexec_argv, &st);
    printf("exec a text file without #!: %s, child %s\n", ename(err), describe(st));
    chmod("not-elf", 0644);
    err = spawn_wait(noexec_argv, &st);
    printf("exec a file without x permission: %s, child %s\n", ename(err), describe(st));
    unlink("not-elf");
    err = spawn_wait(shell_argv, &st);
    printf("exec /bin/sh -c 'exit 42': %s, child %s\n", ename(err), describe(st));
}

static void test_statuses(void)
{
    static const int codes[] = { 0, 1, 3, 255, 256, 300 };
    static const int sigs[] = { SIGKILL, SIGTERM, SIGUSR1, SIGHUP };
    unsigned i;
    int st;
    pid_t c, r;

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        c = fork();
        if (c == 0)
            _exit(codes[i]);
        r = waitpid(c, &st, 0);
        printf("_exit(%d): waitpid returned child %s, %s\n", codes[i], yesno(r == c), describe(st));
    }
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        c = fork();
        if (c == 0) {
            raise(sigs[i]);
            _exit(99);
        }
        waitpid(c, &st, 0);
        printf("raise(%s): WIFSIGNALED %s WTERMSIG %s\n", signame(sigs[i]), yesno(WIFSIGNALED(st)),
               signame(WTERMSIG(st)));
    }
    /* killed by the parent while blocked */
    c = fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    kill(c, SIGTERM);
    waitpid(c, &st, 0);
    printf("killed by parent while in pause(): %s\n", describe(st));

    /* a child writing to the shared stdout before the parent goes on */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        printf("child buffered line\n");
        exit(0);
    }
    waitpid(c, &st, 0);
    errno = 0;
    printf("waitpid on a non-child: %s\n", res(waitpid(getpid() + 100000, &st, 0)));
    errno = 0;
    printf("waitpid with no children: %s\n", res(waitpid(-1, &st, WNOHANG)));
    errno = 0;
    printf("waitpid bad options: %s\n", res(waitpid(-1, &st, 0x1000)));
}

static void test_waitid(void)
{
    siginfo_t si;
    int go[2], st, r;
    pid_t c;
    char b = 'g';

    if (pipe(go) < 0)
        return;
    c = fork();
    if (c == 0) {
        char x;
        close(go[1]);
        if (read(go[0], &x, 1) != 1)
            _exit(1);
        _exit(7);
    }
    close(go[0]);
    memset(&si, 0xff, sizeof si);
    r = waitid(P_PID, (id_t)c, &si, WEXITED | WNOHANG);
    printf("waitid WNOHANG on a running child: %s, si_pid 0 %s\n", res(r), yesno(si.si_pid == 0));
    if (write(go[1], &b, 1) != 1)
        printf("go write failed\n");
    close(go[1]);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT);
    printf("waitid WNOWAIT: %s, si_pid is child %s, si_signo %s, si_code %s, si_status %d\n", res(r),
           yesno(si.si_pid == c), signame(si.si_signo), cld_name(si.si_code), si.si_status);
    memset(&si, 0, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT);
    printf("waitid P_ALL WNOWAIT again: %s, same child %s, si_status %d\n", res(r), yesno(si.si_pid == c),
           si.si_status);
    r = waitpid(c, &st, 0);
    printf("waitpid after WNOWAIT: child %s, %s\n", yesno(r == c), describe(st));
    errno = 0;
    r = waitid(P_PID, (id_t)c, &si, WEXITED | WNOHANG);
    printf("waitid after reaping: %s\n", res(r));
    errno = 0;
    r = waitid(P_ALL, 0, &si, 0);
    printf("waitid without event flags: %s\n", res(r));

    c = fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    kill(c, SIGKILL);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, (id_t)c, &si, WEXITED);
    printf("waitid killed child: %s, si_code %s, si_status %s\n", res(r), cld_name(si.si_code),
           signame(si.si_status));
}

static void test_stop_continue(void)
{
    pid_t c, r;
    int st;
    siginfo_t si;

    /* The child leads a group of its own, whose parent (this process) is in another
     * group of the same session: Linux discards SIGTSTP sent to an orphaned process
     * group, which this process's own group may be when it was started from a
     * detached job. Both sides call setpgid, so it holds before either goes on. */
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        for (;;)
            pause();
    }
    setpgid(c, c);
    kill(c, SIGSTOP);
    r = waitpid(c, &st, WUNTRACED);
    printf("WUNTRACED after SIGSTOP: child %s, WIFSTOPPED %s, WSTOPSIG %s\n", yesno(r == c), yesno(WIFSTOPPED(st)),
           signame(WSTOPSIG(st)));
    r = waitpid(c, &st, WUNTRACED | WNOHANG);
    printf("stop reported once: %s\n", yesno(r == 0));
    kill(c, SIGCONT);
    r = waitpid(c, &st, WCONTINUED);
    printf("WCONTINUED after SIGCONT: child %s, WIFCONTINUED %s\n", yesno(r == c), yesno(WIFCONTINUED(st)));

    kill(c, SIGTSTP);
    memset(&si, 0, sizeof si);
    waitid(P_PID, (id_t)c, &si, WSTOPPED);
    printf("waitid WSTOPPED after SIGTSTP: si_code %s, si_status %s\n", cld_name(si.si_code), signame(si.si_status));
    kill(c, SIGCONT);
    memset(&si, 0, sizeof si);
    waitid(P_PID, (id_t)c, &si, WCONTINUED);
    printf("waitid WCONTINUED: si_code %s, si_status %s\n", cld_name(si.si_code), signame(si.si_status));

    /* a stopped child can still be killed */
    kill(c, SIGSTOP);
    waitpid(c, &st, WUNTRACED);
    kill(c, SIGKILL);
    r = waitpid(c, &st, 0);
    printf("SIGKILL while stopped: %s\n", describe(st));
}

static void test_vfork_spawn(void)
{
    pid_t c;
    int st, r;
    char *echo_argv[] = { "/bin/echo", "spawned", "echo", NULL };
    char *missing_argv[] = { "/nonexistent/program", NULL };
    char *true_argv[] = { "/bin/true", NULL };

    c = vfork();
    if (c == 0)
        _exit(9);
    waitpid(c, &st, 0);
    printf("vfork + _exit(9): %s\n", describe(st));

    c = vfork();
    if (c == 0) {
        execve(true_argv[0], true_argv, environ);
        _exit(127);
    }
    waitpid(c, &st, 0);
    printf("vfork + exec /bin/true: %s\n", describe(st));

    fflush(stdout);
    r = posix_spawn(&c, echo_argv[0], NULL, NULL, echo_argv, environ);
    if (r == 0)
        waitpid(c, &st, 0);
    printf("posix_spawn /bin/echo: %s, %s\n", ename(r), r == 0 ? describe(st) : "-");

    r = posix_spawn(&c, missing_argv[0], NULL, NULL, missing_argv, environ);
    if (r == 0)
        waitpid(c, &st, 0);
    printf("posix_spawn missing program: %s\n", ename(r));

    {
        posix_spawn_file_actions_t fa;
        char *sh_argv[] = { "/bin/sh", "-c", "echo to-stdout-redirected; exit 3", NULL };
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "spawn.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        r = posix_spawn(&c, sh_argv[0], &fa, NULL, sh_argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r == 0)
            waitpid(c, &st, 0);
        printf("posix_spawn with file actions: %s, %s\n", ename(r), r == 0 ? describe(st) : "-");
        {
            char buf[64] = { 0 };
            int fd = open("spawn.out", O_RDONLY);
            if (fd >= 0) {
                if (read(fd, buf, sizeof buf - 1) < 0)
                    buf[0] = 0;
                close(fd);
            }
            printf("redirected output: %s", buf);
            unlink("spawn.out");
        }
    }
}

static void test_process_groups(void)
{
    pid_t kids[3], pgid = 0, r;
    int i, st, ready[2];
    char b;

    if (pipe(ready) < 0)
        return;
    for (i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(ready[0]);
            setpgid(0, i == 0 ? 0 : pgid);
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            for (;;)
                pause();
        }
        if (i == 0)
            pgid = kids[0];
        setpgid(kids[i], pgid);
    }
    close(ready[1]);
    for (i = 0; i < 3; i++)
        if (read(ready[0], &b, 1) != 1)
            printf("ready read failed\n");
    close(ready[0]);
    printf("first child leads its group: %s\n", yesno(getpgid(kids[0]) == kids[0]));
    printf("others joined it: %s\n", yesno(getpgid(kids[1]) == pgid && getpgid(kids[2]) == pgid));
    printf("parent not in it: %s\n", yesno(getpgid(0) != pgid));
    errno = 0;
    printf("setpgid of a missing process: %s\n", res(setpgid(kids[2] + 100000, 0)));
    errno = 0;
    printf("getpgid of a missing process: %s\n", res(getpgid(kids[2] + 100000)));
    errno = 0;
    printf("setpgid negative: %s\n", res(setpgid(0, -1)));
    printf("kill(-pgid, SIGTERM): %s\n", res(kill(-pgid, SIGTERM)));
    for (i = 0; i < 3; i++) {
        r = waitpid(kids[i], &st, 0);
        printf("group member %d: %s%s\n", i, describe(st), r == kids[i] ? "" : " (wrong pid)");
    }
    errno = 0;
    printf("kill of an empty group: %s\n", res(kill(-pgid, SIGTERM)));
}

static volatile sig_atomic_t chld_count;
static int chld_code, chld_status;
static pid_t chld_pid;

static void chld_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static void test_sigchld(void)
{
    struct sigaction sa;
    sigset_t set, old, waitmask;
    pid_t c;
    int st;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = chld_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    waitmask = old;
    sigdelset(&waitmask, SIGCHLD);

    c = fork();
    if (c == 0)
        _exit(4);
    while (chld_count == 0)
        sigsuspend(&waitmask);
    printf("SIGCHLD for exit: count %d, si_code %s, si_status %d, si_pid is child %s\n", (int)chld_count,
           cld_name(chld_code), chld_status, yesno(chld_pid == c));
    waitpid(c, &st, 0);

    chld_count = 0;
    c = fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    kill(c, SIGKILL);
    while (chld_count == 0)
        sigsuspend(&waitmask);
    printf("SIGCHLD for kill: si_code %s, si_status %s\n", cld_name(chld_code), signame(chld_status));
    waitpid(c, &st, 0);

    sigprocmask(SIG_SETMASK, &old, NULL);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    sigaction(SIGCHLD, &sa, NULL);
}

static void test_pipes(void)
{
    int p[2], st;
    pid_t c;
    char buf[64];
    ssize_t n, total = 0;

    /* EOF once the only writer exits */
    if (pipe(p) < 0)
        return;
    c = fork();
    if (c == 0) {
        close(p[0]);
        if (write(p[1], "hello from child", 16) != 16)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    while ((n = read(p[0], buf + total, sizeof buf - 1 - (size_t)total)) > 0)
        total += n;
    buf[total] = 0;
    printf("pipe read: \"%s\", then EOF %s\n", buf, yesno(n == 0));
    close(p[0]);
    waitpid(c, &st, 0);

    /* a writer with no reader: SIGPIPE by default */
    if (pipe(p) < 0)
        return;
    close(p[0]);
    c = fork();
    if (c == 0) {
        signal(SIGPIPE, SIG_DFL);
        if (write(p[1], "x", 1) < 0)
            _exit(2);
        _exit(0);
    }
    waitpid(c, &st, 0);
    printf("write with no reader: %s (WTERMSIG %d)\n", describe(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);

    /* ... and EPIPE when SIGPIPE is ignored */
    c = fork();
    if (c == 0) {
        signal(SIGPIPE, SIG_IGN);
        errno = 0;
        if (write(p[1], "x", 1) < 0)
            _exit(errno == EPIPE ? 32 : 1);
        _exit(0);
    }
    waitpid(c, &st, 0);
    printf("write with no reader, SIGPIPE ignored: %s (32 means EPIPE)\n", describe(st));
    close(p[1]);
}

static void test_orphan(void)
{
    int p[2], st;
    pid_t a;
    char verdict[32] = "nothing";
    ssize_t n;

    if (pipe(p) < 0)
        return;
    a = fork();
    if (a == 0) {
        pid_t parent = getpid();
        pid_t b = fork();
        if (b == 0) {
            int i;
            const char *v = "reparented: no";
            close(p[0]);
            /* wait for the middle process to exit */
            for (i = 0; i < 5000; i++) {
                if (getppid() != parent) {
                    v = "reparented: yes";
                    break;
                }
                msleep(1);
            }
            if (write(p[1], v, strlen(v)) < 0)
                _exit(1);
            _exit(0);
        }
        _exit(b > 0 ? 0 : 1);
    }
    close(p[1]);
    waitpid(a, &st, 0);
    printf("middle process: %s\n", describe(st));
    n = read(p[0], verdict, sizeof verdict - 1);
    verdict[n > 0 ? n : 0] = 0;
    printf("%s\n", verdict);
    close(p[0]);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_exec();
    test_statuses();
    test_waitid();
    test_stop_continue();
    test_vfork_spawn();
    test_process_groups();
    test_sigchld();
    test_pipes();
    test_orphan();
    /* the orphan may have become our child (when we are the namespace's
     * init): reap it quietly, whatever happened */
    msleep(20);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    printf("done\n");
    return 0;
}
