/* thread_bomb: creates threads (each blocked on a barrier-like condition) until
 * pthread_create fails; prints the errno name, releases them all, joins them, and
 * checks a new thread can be made again. Meant for the sandbox only. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_THREADS 100000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int released;
static pthread_t threads[MAX_THREADS];

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!released)
        pthread_cond_wait(&go, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static const char *ename(int e)
{
    return e == EAGAIN ? "EAGAIN" : e == ENOMEM ? "ENOMEM" : e == EPERM ? "EPERM" : "E?";
}

int main(void)
{
    pthread_attr_t attr;
    int made = 0, err = 0, i;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    while (made < MAX_THREADS) {
        err = pthread_create(&threads[made], &attr, waiter, NULL);
        if (err)
            break;
        made++;
    }
    printf("pthread_create failed: %s\n", made < MAX_THREADS ? ename(err) : "never");
    printf("made some threads first: %s\n", made > 10 ? "yes" : "no");
    pthread_mutex_lock(&lock);
    released = 1;
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&lock);
    for (i = 0; i < made; i++)
        pthread_join(threads[i], NULL);
    pthread_t again;
    err = pthread_create(&again, NULL, waiter, NULL);
    printf("threads work again: %s\n", err == 0 && pthread_join(again, NULL) == 0 ? "yes" : "no");
    return 0;
}
