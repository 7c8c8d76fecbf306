/* pipe: N round trips (default 50000) of one byte between two threads over two pipes.
 * Each round trip is two writes and two reads and two wake-ups of a blocked reader. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ping[2], pong[2];
static long rounds;

/* one byte through fd (written if write_it, else read); says on stderr what went wrong */
static int transfer(const char *who, long i, int fd, int write_it, char *c)
{
    ssize_t n = write_it ? write(fd, c, 1) : read(fd, c, 1);
    if (n == 1)
        return 0;
    fprintf(stderr, "pipe: %s, round trip %ld: %s returned %zd (%s)\n", who, i, write_it ? "write" : "read", n,
            n < 0 ? strerror(errno) : "end of file");
    return -1;
}

static void *echo(void *arg)
{
    (void)arg;
    char c;
    for (long i = 0; i < rounds; i++) {
        if (transfer("echo thread", i, ping[0], 0, &c) || transfer("echo thread", i, pong[1], 1, &c))
            return (void *)1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 50000;
    if (pipe(ping) != 0 || pipe(pong) != 0) {
        perror("pipe");
        return 1;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, echo, NULL) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    long done = 0;
    for (long i = 0; i < rounds; i++) {
        char c = (char)i, back = 0;
        if (transfer("main thread", i, ping[1], 1, &c) || transfer("main thread", i, pong[0], 0, &back))
            break;
        if (back != c) {
            fprintf(stderr, "pipe: round trip %ld: sent %d, got %d back\n", i, c, back);
            break;
        }
        done++;
    }
    if (done < rounds)
        close(ping[1]); /* lets the echo thread see end of file instead of waiting forever */
    void *result;
    pthread_join(thread, &result);
    printf("pipe: %ld of %ld round trips\n", done, rounds);
    return done == rounds && result == NULL ? 0 : 1;
}
