/* symlink_race: reads /vol/flip/secret.txt over and over while the host swaps
 * /vol/flip between a directory (holding a decoy secret.txt) and a symlink to the
 * host directory that holds the real secret. Whatever the timing, a walk resolves
 * the symlink inside the sandbox, so only the decoy or a miss can come back.
 * argv[1]: how long to keep trying, in milliseconds. Prints `label: COUNT` lines. */
#include "probe.h"

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* 'd' decoy, 's' the host secret, 'o' other content, 'e' an error */
static char read_once(const char *path)
{
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 'e';
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got > 0 && !strncmp(buf, "decoy", 5))
        return 'd';
    if (got > 0 && !strncmp(buf, "host secret", 11))
        return 's';
    return 'o';
}

int main(int argc, char **argv)
{
    long until = now_ms() + (argc > 1 ? atol(argv[1]) : 1000);
    int decoy = 0, secret = 0, other = 0, missed = 0;
    const char *paths[] = {"/vol/flip/secret.txt", "/vol/flip/../flip/secret.txt", "/vol/flip/./secret.txt"};
    for (int i = 0; now_ms() < until; i++) {
        switch (read_once(paths[i % 3])) {
        case 'd': decoy++; break;
        case 's': secret++; break;
        case 'o': other++; break;
        default: missed++; break;
        }
    }
    printf("decoy read: %d\n", decoy > 0 ? 1 : 0);
    printf("missed: %d\n", missed > 0 ? 1 : 0);
    printf("host secret read: %d\n", secret);
    printf("other content read: %d\n", other);
    return 0;
}
