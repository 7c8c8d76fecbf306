/* cpu: pure computation, no system calls between start-up and the final write.
 * An xorshift generator feeding an integer mix; about 150 ms natively by default. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 64000000;
    uint64_t x = 0x9e3779b97f4a7c15u, acc = 0;
    for (long i = 0; i < rounds; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc += (x >> 11) ^ (acc << 1);
    }
    printf("cpu: %ld rounds, checksum %016llx\n", rounds, (unsigned long long)acc);
    return 0;
}
