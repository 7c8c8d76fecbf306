/* pagefault: touch N fresh pages (default 100000) of anonymous memory, one write each, in
 * mappings of 16 MiB made and unmapped in turn, so the time per page is the cost of one
 * first-touch page fault (plus a share of one mmap and one munmap per 4096 pages). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define PAGE 4096L
#define CHUNK_PAGES 4096L

int main(int argc, char **argv)
{
    long pages = argc > 1 ? atol(argv[1]) : 100000;
    long touched = 0, sum = 0;
    while (touched < pages) {
        long n = pages - touched < CHUNK_PAGES ? pages - touched : CHUNK_PAGES;
        volatile char *mem = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        for (long i = 0; i < n; i++) {
            mem[i * PAGE] = (char)i;
            sum += mem[i * PAGE + 1] == 0;  /* the rest of a fresh page reads as zero */
        }
        munmap((void *)mem, n * PAGE);
        touched += n;
    }
    printf("pagefault: %ld pages touched, %s\n", pages, sum == pages ? "all zero-filled" : "NOT ZERO-FILLED");
    return sum == pages ? 0 : 1;
}
