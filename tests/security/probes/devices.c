/* devices: device nodes made by the guest for the host's real devices (memory, ports,
 * disks, KVM, FUSE, TUN, consoles, the kernel log), in the sandbox's /tmp and /dev,
 * then opened for reading and writing. Never run natively. Prints `label: RESULT`. */
#include "probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

struct device {
    const char *name;
    mode_t kind;
    unsigned major, minor;
};

static const struct device devices[] = {
    {"mem", S_IFCHR, 1, 1},    {"kmem", S_IFCHR, 1, 2},   {"port", S_IFCHR, 1, 4},
    {"kmsg", S_IFCHR, 1, 11},  {"tty1", S_IFCHR, 4, 1},   {"console", S_IFCHR, 5, 1},
    {"ptmx", S_IFCHR, 5, 2},   {"sda", S_IFBLK, 8, 0},    {"loop0", S_IFBLK, 7, 0},
    {"tun", S_IFCHR, 10, 200}, {"fuse", S_IFCHR, 10, 229}, {"kvm", S_IFCHR, 10, 232},
    {"nvme0n1", S_IFBLK, 259, 0},
};

static void try_device(const char *dir, const struct device *d)
{
    char path[64];
    snprintf(path, sizeof path, "%s/%s", dir, d->name);
    unlink(path);
    int made = mknod(path, d->kind | 0600, makedev(d->major, d->minor));
    report(made, "mknod %s", path);
    if (made < 0)
        return;
    int fd = open(path, O_RDWR);
    report(fd, "open %s", path);
    if (fd >= 0) {
        char byte;
        report(read(fd, &byte, 1), "read %s", path);
        close(fd);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++)
        try_device("/tmp", &devices[i]);
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++)
        try_device("/dev", &devices[i]);
    return 0;
}
