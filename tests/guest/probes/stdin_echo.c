/* stdin_echo: copies stdin to stdout with read/write in 4 KiB chunks
 * (handling short writes and EINTR), then prints "bytes: N" to stderr. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char buf[4096];
    long long total = 0;

    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "read failed\n");
            return 1;
        }
        if (n == 0)
            break;
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                fprintf(stderr, "write failed\n");
                return 1;
            }
            off += w;
        }
        total += n;
    }
    fprintf(stderr, "bytes: %lld\n", total);
    return 0;
}
