/* getpid: N raw getpid system calls (default 200000), the cheapest syscall there is,
 * so the time per call is the cost of a round trip to whoever answers syscalls. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    long first = syscall(SYS_getpid);
    long same = 0;
    for (long i = 0; i < n; i++)
        same += syscall(SYS_getpid) == first;
    printf("getpid: %ld calls, %s\n", n, same == n ? "all equal" : "MISMATCH");
    return same == n ? 0 : 1;
}
