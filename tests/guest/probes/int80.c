/* int80: security probe.  Prints "before", then issues the legacy 32-bit
 * system call gate (int $0x80) with eax=20 (getpid in the i386 table).
 * Natively this usually returns the pid and prints "after int80: <pid>";
 * a sandbox that interposes on system calls must kill the process before
 * the "after" line is printed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    static const char msg[] = "before\n";
    long ret;

    fflush(stdout);
    if (write(1, msg, strlen(msg)) < 0)
        return 1;

    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(20L)
                     : "rcx", "r11", "r8", "r9", "r10", "memory");

    printf("after int80: %ld\n", ret);
    return 0;
}
