/* tty_ioctls: terminal requests that would act on the host's terminal beyond this
 * program's own input and output: pushing input (TIOCSTI), console and line
 * discipline changes, taking the terminal, flushing it. Meant to run with a
 * terminal as stdin/stdout. Prints `label: RESULT`. */
#include "probe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>

int main(void)
{
    const char *inject = "echo INJECTED\n";
    int disc = 2 /* N_SLIP */;
    char linux_arg[2] = {6 /* TIOCL_GETSHIFTSTATE */, 0};
    struct winsize ws = {1, 1, 0, 0};
    int on = 1, pgrp = 1;

    printf("stdin is a terminal: %s\n", isatty(0) ? "yes" : "no");
    int fd = open("/dev/tty", O_RDWR);
    report(fd, "open /dev/tty");
    int refused = 0, tried = 0;
    for (const char *c = inject; *c; c++, tried++)
        if (ioctl(0, TIOCSTI, c) < 0)
            refused++;
    printf("TIOCSTI refused: %d of %d (%s)\n", refused, tried, errno_name(errno));
    report(fd >= 0 ? ioctl(fd, TIOCSTI, "x") : -1, "TIOCSTI on /dev/tty");
    report(ioctl(1, TIOCSTI, "x"), "TIOCSTI on stdout");
    report(ioctl(0, TIOCLINUX, linux_arg), "TIOCLINUX");
    report(ioctl(0, TIOCCONS), "TIOCCONS");
    report(ioctl(0, TIOCSETD, &disc), "TIOCSETD");
    report(ioctl(0, TIOCEXCL), "TIOCEXCL");
    report(ioctl(0, TIOCSWINSZ, &ws), "TIOCSWINSZ");
    report(ioctl(0, TIOCSIG, SIGINT), "TIOCSIG");
    report(ioctl(0, TIOCVHANGUP), "TIOCVHANGUP");
    report(ioctl(0, TIOCMBIS, &on), "TIOCMBIS");
    report(ioctl(0, TIOCSSERIAL, &on), "TIOCSSERIAL");
    report(ioctl(0, 0x4B3A /* KDSETMODE */, 1), "KDSETMODE");
    report(ioctl(0, 0x5606 /* VT_ACTIVATE */, 1), "VT_ACTIVATE");
    /* these act only on the sandbox's own view of its session */
    report(ioctl(0, TIOCSCTTY, 1), "TIOCSCTTY");
    report(ioctl(0, TIOCSPGRP, &pgrp), "TIOCSPGRP");
    report(tcflush(0, TCIFLUSH), "TCFLSH input");
    report(ioctl(0, TIOCNOTTY), "TIOCNOTTY");
    return 0;
}
