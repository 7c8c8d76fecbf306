/* syscall_loop: getpid N times (or without end with "forever"), then say how many
 * calls gave the first answer. The cheapest syscall, back to back: what the
 * supervisor's serving loop is made for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int forever = argc > 1 && strcmp(argv[1], "forever") == 0;
    long n = argc > 1 && !forever ? atol(argv[1]) : 1000;
    long first = syscall(SYS_getpid), same = 0;
    for (long i = 0; forever || i < n; i++)
        same += syscall(SYS_getpid) == first;
    printf("%ld of %ld calls gave the same pid\n", same, n);
    return same == n ? 0 : 1;
}
