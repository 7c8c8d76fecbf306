/* pthreads: POSIX threads on futexes.  A mutex-protected counter bumped by 8
 * threads, a condition-variable producer/consumer queue, exit values through
 * pthread_join and pthread_exit, thread-local storage, a barrier over 100
 * rounds, detached threads, pthread_once, cancellation of a thread blocked in
 * pthread_cond_wait (its cleanup handler runs), and getpid() == gettid() only
 * in the main thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
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

    printf("main getpid == gettid at end: %s\n", yesno(getpid() == my_tid()));
    return 0;
}
