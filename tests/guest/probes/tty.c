/* tty: reports whether fds 0 and 1 are terminals and whether
 * ioctl(TIOCGWINSZ) on fd 1 succeeds. */
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
    struct winsize ws;
    int in = isatty(0);
    int out = isatty(1);
    int wsz = ioctl(1, TIOCGWINSZ, &ws) == 0;

    printf("isatty0: %s\n", in ? "yes" : "no");
    printf("isatty1: %s\n", out ? "yes" : "no");
    printf("TIOCGWINSZ on 1: %s\n", wsz ? "yes" : "no");
    return 0;
}
