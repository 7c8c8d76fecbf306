/* read: read a whole file (the harness makes a 256 MiB one) in 64 KiB chunks and fold a
 * light checksum over it, so the time is the cost of the read(2) path, not of hashing. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static unsigned char buf[CHUNK];

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: read FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    uint64_t total = 0, sum = 0, calls = 0;
    for (;;) {
        ssize_t got = read(fd, buf, CHUNK);
        if (got < 0) {
            perror("read");
            return 1;
        }
        if (got == 0)
            break;
        calls++;
        /* one word from each 4 KiB page touches every page without hashing every byte */
        for (ssize_t off = 0; off + 8 <= got; off += 4096) {
            uint64_t word;
            memcpy(&word, buf + off, sizeof word);
            sum = sum * 31 + word;
        }
        total += (uint64_t)got;
    }
    close(fd);
    printf("read: %llu bytes in %llu reads, checksum %016llx\n", (unsigned long long)total,
           (unsigned long long)calls, (unsigned long long)sum);
    return 0;
}
