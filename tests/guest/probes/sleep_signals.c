/* sleep_signals: a signal cuts nanosleep short (EINTR, the time left reported) and ends a
 * ppoll whose temporary mask lets it in while the program blocks it otherwise. */
#define _GNU_SOURCE
#include <stdio.h>
#include <signal.h>
#include <time.h>
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <poll.h>
static void on_alarm(int s) { (void)s; }
int main(void) {
    struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = on_alarm; sigaction(SIGALRM, &sa, 0);
    struct itimerval it = {{0,0},{0,100000}}; setitimer(ITIMER_REAL, &it, 0);
    struct timespec req = {2, 0}, rem = {0, 0};
    int r = nanosleep(&req, &rem);
    printf("nanosleep %d %s rem>1s %d rem<2s %d\n", r, r ? strerror(errno) : "", rem.tv_sec >= 1, rem.tv_sec < 2);
    sigset_t all, none; sigfillset(&all); sigemptyset(&none); sigprocmask(SIG_BLOCK, &all, 0);
    setitimer(ITIMER_REAL, &it, 0);
    struct timespec t = {1, 0};
    r = ppoll(0, 0, &t, &none);
    printf("ppoll %d %s\n", r, r < 0 ? strerror(errno) : "");
    return 0;
}
