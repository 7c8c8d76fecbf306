/* pthreads: POSIX threads on futexes.  A mutex-protected counter bumped by 8
 * threads, a condition-variable producer/consumer queue, exit values through
 * pthread_join and pthread_exit, thread-local storage, a barrier over 100
 * rounds, detached threads, pthread_once, cancellation of a thread blocked in
 * pthread_cond_wait (its cleanup handler runs), getpid() == gettid() only in
 * the main thread, signals aimed at one thread (pthread_kill) or at the
 * process (taken by the one thread that does not block it), /proc/self/task,
 * and fork, exit and execve called from a thread other than the main one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 8

static const char *yesno(int c)
{
    return c ? "yes" : "no";
}

static const char *ename(int e)
{
    switch (e) {
    case 0: return "ok";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EDEADLK: return "EDEADLK";
    case ESRCH: return "ESRCH";
    case EBUSY: return "EBUSY";
    case EPERM: return "EPERM";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "E?";
    }
}

static long my_tid(void)
{
    return syscall(SYS_gettid);
}

/* --- mutex counter ------------------------------------------------------- */

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *count_worker(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 20000; i++) {
        pthread_mutex_lock(&count_lock);
        counter++;
        pthread_mutex_unlock(&count_lock);
    }
    return NULL;
}

/* --- producer/consumer ---------------------------------------------------- */

#define QSIZE 8
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER;
static int queue[QSIZE];
static int q_head, q_len;

static void *producer(void *arg)
{
    int i;
    (void)arg;
    for (i = 1; i <= 1000; i++) {
        pthread_mutex_lock(&q_lock);
        while (q_len == QSIZE)
            pthread_cond_wait(&q_not_full, &q_lock);
        queue[(q_head + q_len) % QSIZE] = i;
        q_len++;
        pthread_cond_signal(&q_not_empty);
        pthread_mutex_unlock(&q_lock);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    long sum = 0;
    int n;
    (void)arg;
    for (n = 0; n < 1000; n++) {
        int v;
        pthread_mutex_lock(&q_lock);
        while (q_len == 0)
            pthread_cond_wait(&q_not_empty, &q_lock);
        v = queue[q_head];
        q_head = (q_head + 1) % QSIZE;
        q_len--;
        pthread_cond_signal(&q_not_full);
        pthread_mutex_unlock(&q_lock);
        sum += v;
    }
    return (void *)(intptr_t)sum;
}

/* --- exit values, TLS, pid/tid ---------------------------------------------- */

static __thread int tls_value = -1;
static pthread_barrier_t tls_barrier;
static int tls_seen[NTHREADS];
static int tid_is_pid[NTHREADS];
static int tid_unique = 1;
static long tids[NTHREADS];

static void *tls_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    tls_value = 100 + i * 11;
    tids[i] = my_tid();
    tid_is_pid[i] = getpid() == tids[i];
    /* everyone has written its own copy before anyone reads it back */
    pthread_barrier_wait(&tls_barrier);
    tls_seen[i] = tls_value;
    if (i % 2)
        pthread_exit((void *)(intptr_t)(i * i));
    return (void *)(intptr_t)(i * i);
}

/* --- barrier rounds ------------------------------------------------------------ */

static pthread_barrier_t round_barrier;
static int round_arrivals[100];
static int serial_count;
static int rounds_consistent = 1;
static pthread_mutex_t round_lock = PTHREAD_MUTEX_INITIALIZER;

static void *round_worker(void *arg)
{
    int r;
    (void)arg;
    for (r = 0; r < 100; r++) {
        int ret;
        __atomic_add_fetch(&round_arrivals[r], 1, __ATOMIC_SEQ_CST);
        ret = pthread_barrier_wait(&round_barrier);
        if (__atomic_load_n(&round_arrivals[r], __ATOMIC_SEQ_CST) != NTHREADS) {
            pthread_mutex_lock(&round_lock);
            rounds_consistent = 0;
            pthread_mutex_unlock(&round_lock);
        }
        if (ret == PTHREAD_BARRIER_SERIAL_THREAD) {
            pthread_mutex_lock(&round_lock);
            serial_count++;
            pthread_mutex_unlock(&round_lock);
        } else if (ret != 0) {
            pthread_mutex_lock(&round_lock);
            rounds_consistent = 0;
            pthread_mutex_unlock(&round_lock);
        }
        /* a second barrier keeps a fast thread from running into round r+1
         * while a slow one still checks round r */
        ret = pthread_barrier_wait(&round_barrier);
        if (ret == PTHREAD_BARRIER_SERIAL_THREAD) {
            pthread_mutex_lock(&round_lock);
            serial_count++;
            pthread_mutex_unlock(&round_lock);
        }
    }
    return NULL;
}

/* --- detached thread ------------------------------------------------------------- */

static pthread_mutex_t det_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t det_cond = PTHREAD_COND_INITIALIZER;
static int det_done;

static void *detached_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&det_lock);
    det_done++;
    pthread_cond_broadcast(&det_cond);
    pthread_mutex_unlock(&det_lock);
    return NULL;
}

static void *joinable_worker(void *arg)
{
    return arg;
}

/* --- pthread_once ---------------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_calls;

static void once_init(void)
{
    once_calls++;
}

static void *once_worker(void *arg)
{
    (void)arg;
    pthread_once(&once, once_init);
    return NULL;
}

/* --- cancellation ------------------------------------------------------------------ */

static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t waiting_cond = PTHREAD_COND_INITIALIZER;
static int cancel_waiting;
static int cleanup_ran;

static void cancel_cleanup(void *arg)
{
    (void)arg;
    cleanup_ran = 1;
    pthread_mutex_unlock(&cancel_lock);
}

static void *cancel_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cancel_lock);
    pthread_cleanup_push(cancel_cleanup, NULL);
    cancel_waiting = 1;
    pthread_cond_signal(&waiting_cond);
    for (;;)
        pthread_cond_wait(&cancel_cond, &cancel_lock);
    pthread_cleanup_pop(1);
    return NULL;
}

/* --- signals and threads --------------------------------------------------------- */

static volatile long sig_tid;
static volatile int sig_count;

static void tid_handler(int sig)
{
    (void)sig;
    sig_tid = my_tid();
    sig_count++;
}

static pthread_barrier_t sig_barrier;
static volatile long worker_tid;

static void *sig_target(void *arg)
{
    sigset_t none;
    (void)arg;
    worker_tid = my_tid();
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    pthread_barrier_wait(&sig_barrier);
    /* wait for the signal sent to the whole process */
    while (sig_count < 2)
        sched_yield();
    return NULL;
}

static void *sleeper(void *arg)
{
    pthread_barrier_t *b = arg;
    pthread_barrier_wait(b);
    for (;;)
        pause();
    return NULL;
}

static int count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void *exit_from_thread(void *arg)
{
    (void)arg;
    exit(3);
    return NULL;
}

static void *exec_from_thread(void *arg)
{
    char *argv[] = { "/bin/sh", "-c", "exit 4", NULL };
    (void)arg;
    execv(argv[0], argv);
    _exit(127);
    return NULL;
}

static void *fork_from_thread(void *arg)
{
    pid_t c;
    int st = 0;
    (void)arg;
    pthread_mutex_lock(&count_lock);
    c = fork();
    if (c == 0) {
        /* only this thread exists in the child; the lock it held is still held */
        int ok = pthread_mutex_unlock(&count_lock) == 0 && pthread_mutex_lock(&count_lock) == 0;
        _exit(ok ? 6 : 1);
    }
    pthread_mutex_unlock(&count_lock);
    waitpid(c, &st, 0);
    return (void *)(intptr_t)(WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void test_signals_and_tasks(void)
{
    pthread_t t, sleepers[4];
    pthread_barrier_t b;
    sigset_t usr1, old;
    struct sigaction sa;
    int i, st;
    void *ret;
    pid_t c;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tid_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    /* every thread but one blocks SIGUSR1: a process-directed one goes there */
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);
    pthread_barrier_init(&sig_barrier, NULL, 2);
    pthread_create(&t, NULL, sig_target, NULL);
    pthread_barrier_wait(&sig_barrier);
    pthread_kill(t, SIGUSR1);
    while (sig_count < 1)
        sched_yield();
    printf("pthread_kill runs the handler in the target thread: %s\n", yesno(sig_tid == worker_tid));
    kill(getpid(), SIGUSR1);
    pthread_join(t, NULL);
    printf("process signal taken by the unblocked thread: %s\n", yesno(sig_count == 2 && sig_tid == worker_tid));
    pthread_barrier_destroy(&sig_barrier);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sig_count = 0;
    pthread_kill(pthread_self(), SIGUSR1);
    printf("pthread_kill to self: %s\n", yesno(sig_count == 1 && sig_tid == my_tid()));

    /* /proc/self/task lists every thread */
    pthread_barrier_init(&b, NULL, 5);
    for (i = 0; i < 4; i++)
        pthread_create(&sleepers[i], NULL, sleeper, &b);
    pthread_barrier_wait(&b);
    printf("tasks in /proc/self/task with 4 threads running: %d\n", count_tasks());
    for (i = 0; i < 4; i++) {
        pthread_cancel(sleepers[i]);
        pthread_join(sleepers[i], &ret);
    }
    pthread_barrier_destroy(&b);
    printf("tasks after they are joined: %d\n", count_tasks());

    /* fork, exit and execve from a thread that is not the main one */
    pthread_create(&t, NULL, fork_from_thread, NULL);
    pthread_join(t, &ret);
    printf("fork from a thread, child status: %ld\n", (long)(intptr_t)ret);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        pthread_create(&t, NULL, exit_from_thread, NULL);
        for (;;)
            pause();
    }
    waitpid(c, &st, 0);
    printf("exit(3) from a thread ends the process: %s\n", yesno(WIFEXITED(st) && WEXITSTATUS(st) == 3));
    c = fork();
    if (c == 0) {
        pthread_create(&t, NULL, exec_from_thread, NULL);
        for (;;)
            pause();
    }
    waitpid(c, &st, 0);
    printf("execve from a thread replaces the process: %s\n", yesno(WIFEXITED(st) && WEXITSTATUS(st) == 4));
}

int main(void)
{
    pthread_t th[NTHREADS];
    int i, r;

    printf("main getpid == gettid: %s\n", yesno(getpid() == my_tid()));

    /* mutex counter */
    for (i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, count_worker, NULL);
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    printf("mutex counter: %ld\n", counter);

    /* producer/consumer */
    {
        pthread_t p, c;
        void *sum;
        pthread_create(&c, NULL, consumer, NULL);
        pthread_create(&p, NULL, producer, NULL);
        pthread_join(p, NULL);
        pthread_join(c, &sum);
        printf("consumer sum of 1000 items: %ld\n", (long)(intptr_t)sum);
    }

    /* exit values, TLS, tid */
    tls_value = 7;
    pthread_barrier_init(&tls_barrier, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, tls_worker, (void *)(intptr_t)i);
    for (i = NTHREADS - 1; i >= 0; i--) {
        void *ret;
        r = pthread_join(th[i], &ret);
        printf("join thread %d: %s exit value %ld tls %d getpid == gettid: %s\n", i, ename(r),
               (long)(intptr_t)ret, tls_seen[i], yesno(tid_is_pid[i]));
    }
    pthread_barrier_destroy(&tls_barrier);
    for (i = 0; i < NTHREADS; i++) {
        int j;
        if (tids[i] == getpid())
            tid_unique = 0;
        for (j = 0; j < i; j++)
            if (tids[i] == tids[j])
                tid_unique = 0;
    }
    printf("thread ids distinct: %s\n", yesno(tid_unique));
    printf("main tls unchanged: %d\n", tls_value);

    /* barrier */
    pthread_barrier_init(&round_barrier, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, round_worker, NULL);
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&round_barrier);
    printf("barrier waits: 200 serial returns: %d rounds consistent: %s\n", serial_count,
           yesno(rounds_consistent));

    /* detached and joinable */
    {
        pthread_attr_t attr;
        pthread_t d1, d2, j;
        void *ret;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&d1, &attr, detached_worker, NULL);
        printf("create detached: %s\n", ename(r));
        pthread_attr_destroy(&attr);
        r = pthread_create(&d2, NULL, detached_worker, NULL);
        printf("pthread_detach: %s\n", ename(r ? r : pthread_detach(d2)));
        r = pthread_create(&j, NULL, joinable_worker, (void *)(intptr_t)42);
        pthread_mutex_lock(&det_lock);
        while (det_done < 2)
            pthread_cond_wait(&det_cond, &det_lock);
        pthread_mutex_unlock(&det_lock);
        printf("detached threads ran: %d\n", det_done);
        r = pthread_join(j, &ret);
        printf("joinable joined: %s value %ld\n", ename(r), (long)(intptr_t)ret);
    }

    /* pthread_once */
    for (i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, once_worker, NULL);
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_once(&once, once_init);
    printf("pthread_once calls: %d\n", once_calls);

    /* cancellation of a thread blocked in pthread_cond_wait */
    {
        pthread_t c;
        void *ret;
        pthread_create(&c, NULL, cancel_worker, NULL);
        pthread_mutex_lock(&cancel_lock);
        while (!cancel_waiting)
            pthread_cond_wait(&waiting_cond, &cancel_lock);
        pthread_mutex_unlock(&cancel_lock);
        /* the worker released the mutex inside pthread_cond_wait */
        r = pthread_cancel(c);
        printf("pthread_cancel: %s\n", ename(r));
        r = pthread_join(c, &ret);
        printf("cancelled join: %s PTHREAD_CANCELED: %s cleanup ran: %s\n", ename(r),
               yesno(ret == PTHREAD_CANCELED), yesno(cleanup_ran));
        r = pthread_mutex_trylock(&cancel_lock);
        printf("mutex free after cancel: %s\n", yesno(r == 0));
        if (r == 0)
            pthread_mutex_unlock(&cancel_lock);
    }

    test_signals_and_tasks();

    printf("main getpid == gettid at end: %s\n", yesno(getpid() == my_tid()));
    return 0;
}
