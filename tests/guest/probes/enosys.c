/* enosys: an unknown system call number must fail with ENOSYS; then
 * io_uring_setup, a real system call the sandbox refuses on purpose, is
 * reported as "refused" (-1 with ENOSYS or EPERM) or "available".  The
 * io_uring line is printed last because it may differ natively. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif

static const char *ename(int e)
{
    switch (e) {
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOMEM: return "ENOMEM";
    default: return "E?";
    }
}

int main(void)
{
    /* struct io_uring_params is 120 bytes; a larger zeroed buffer is fine */
    unsigned long params[32];
    long r;

    errno = 0;
    r = syscall(1000, 0, 0, 0, 0, 0, 0);
    printf("syscall 1000: %s\n", r == -1 ? ename(errno) : "succeeded");

    memset(params, 0, sizeof params);
    errno = 0;
    r = syscall(SYS_io_uring_setup, 1, params);
    if (r == -1 && (errno == ENOSYS || errno == EPERM)) {
        printf("io_uring_setup: refused\n");
    } else {
        if (r >= 0)
            close((int)r);
        printf("io_uring_setup: available\n");
    }
    return 0;
}
