/* exit_status: writes one line to stdout and one to stderr, then exits with
 * the status given in argv[1] (default 0).  If argv[1] is "kill", it raises
 * SIGTERM on itself after flushing, so the parent sees death by signal. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    fputs("to-stdout\n", stdout);
    fputs("to-stderr\n", stderr);
    fflush(stdout);
    fflush(stderr);
    if (argc > 1 && strcmp(argv[1], "kill") == 0) {
        raise(SIGTERM);
        return 99; /* not reached unless SIGTERM is ignored */
    }
    return argc > 1 ? atoi(argv[1]) : 0;
}
