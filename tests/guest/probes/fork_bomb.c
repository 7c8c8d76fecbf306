/* fork_bomb: forks until fork fails, every child waiting in pause(); prints
 * the errno of the failure, then kills its own process group with SIGTERM
 * (which it blocks itself, and then discards), reaps every child, and exits 0.
 * Meant for the sandbox only: natively it would exhaust the user's processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    case EINTR: return "EINTR";
    default: return "E?";
    }
}

int main(void)
{
    sigset_t term, none;
    long forked = 0, reaped = 0, by_term = 0;
    int fork_errno = 0, st;
    pid_t c;

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* a group of our own, so that kill(0, ...) reaches only us and our children */
    setpgid(0, 0);
    if (getpgrp() != getpid()) {
        printf("not a group leader\n");
        return 1;
    }
    /* children inherit the blocked SIGTERM and unblock it: one sent before
     * they get there stays pending, so none can miss it */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &term, NULL);

    for (;;) {
        c = fork();
        if (c < 0) {
            fork_errno = errno;
            break;
        }
        if (c == 0) {
            sigprocmask(SIG_SETMASK, &none, NULL);
            for (;;)
                pause();
        }
        forked++;
    }
    printf("forked children: %s\n", forked > 0 ? "some" : "none");
    printf("fork failed: %s\n", ename(fork_errno));

    printf("kill process group: %s\n", kill(0, SIGTERM) == 0 ? "ok" : ename(errno));
    /* our own copy of SIGTERM is pending: ignoring it discards it */
    signal(SIGTERM, SIG_IGN);
    sigprocmask(SIG_UNBLOCK, &term, NULL);

    for (;;) {
        c = waitpid(-1, &st, 0);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        reaped++;
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
            by_term++;
    }
    printf("wait ended with: %s\n", errno == ECHILD ? "ECHILD" : ename(errno));
    printf("reaped all: %s\n", reaped == forked && by_term == forked ? "yes" : "no");
    /* and the process table has room again */
    c = fork();
    if (c == 0)
        _exit(5);
    if (c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 5)
        printf("fork works again: yes\n");
    else
        printf("fork works again: no\n");
    return 0;
}
