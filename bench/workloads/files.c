/* files: in a scratch directory, create, write, stat and unlink N files (default 2000).
 * Metadata-heavy: openat, write, close, stat, unlink for each file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: files DIR [N]\n");
        return 2;
    }
    const char *dir = argv[1];
    long n = argc > 2 ? atol(argv[2]) : 2000;
    char path[4096], data[128];
    long long bytes = 0;

    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%05ld", dir, i);
        int len = snprintf(data, sizeof data, "file %ld of %ld\n", i, n);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, data, len) != len || close(fd) != 0) {
            perror(path);
            return 1;
        }
    }
    for (long i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/f%05ld", dir, i);
        if (stat(path, &st) != 0) {
            perror(path);
            return 1;
        }
        bytes += st.st_size;
    }
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%05ld", dir, i);
        if (unlink(path) != 0) {
            perror(path);
            return 1;
        }
    }
    printf("files: %ld created, written, stat'ed and unlinked, %lld bytes\n", n, bytes);
    return 0;
}
