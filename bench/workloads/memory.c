/* memory: N passes (default 20) over a 32 MiB buffer, each reading and rewriting one word
 * per 64-byte cache line in a stride that defeats the prefetcher a little, so the time
 * is memory traffic and address translation, not arithmetic. The buffer is touched once
 * before the passes; that first touch (8192 page faults) is part of the time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (32L << 20)
#define LINE 64L
#define LINES (SIZE / LINE)
#define STRIDE 4099L /* lines; odd, so the walk visits every line once per pass */

static uint64_t buffer[SIZE / sizeof(uint64_t)];

int main(int argc, char **argv)
{
    long passes = argc > 1 ? atol(argv[1]) : 20;
    for (long i = 0; i < LINES; i++)
        buffer[i * (LINE / 8)] = (uint64_t)i;
    uint64_t sum = 0;
    for (long p = 0; p < passes; p++) {
        long line = p % LINES;
        for (long i = 0; i < LINES; i++) {
            uint64_t *word = &buffer[line * (LINE / 8)];
            sum += *word;
            *word = *word * 3 + 1;
            line += STRIDE;
            if (line >= LINES)
                line -= LINES;
        }
    }
    printf("memory: %ld passes over %ld MiB, checksum %016llx\n", passes, SIZE >> 20, (unsigned long long)sum);
    return 0;
}
