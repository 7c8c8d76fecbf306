/* forbidden: system calls that would change the machine, its namespaces or its kernel,
 * each with arguments that would really do something if the host ran it. Never run
 * natively. Prints `name: RESULT`. */
#include "probe.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#define KEY_SPEC_SESSION_KEYRING -3
#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1

static char insn[] = "\x95\0\0\0\0\0\0\0";  /* BPF: exit */

int main(void)
{
    mkdir("/tmp/newroot", 0755);
    mkdir("/tmp/newroot/old", 0755);

    report(mount("none", "/tmp/newroot", "tmpfs", 0, "size=1m"), "mount");
    report(mount("/etc", "/tmp/newroot", NULL, MS_BIND, NULL), "mount bind");
    report(mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL), "mount remount");
    report(umount2("/proc", MNT_DETACH), "umount2");
    report(syscall(SYS_pivot_root, "/tmp/newroot", "/tmp/newroot/old"), "pivot_root");
    report(unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare");
    report(unshare(CLONE_NEWNET), "unshare net");
    report(setns(0, CLONE_NEWNS), "setns");
    report(syscall(SYS_open_tree, AT_FDCWD, "/etc", 1 /* OPEN_TREE_CLONE */), "open_tree");
    report(syscall(SYS_fsopen, "tmpfs", 0), "fsopen");
    report(syscall(SYS_move_mount, -1, "", AT_FDCWD, "/tmp/newroot", 4), "move_mount");
    report(syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, 0), "mount_setattr");

    /* a child asking clone for new namespaces */
    pid_t pid = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    report(pid, "clone with namespaces");

    /* union bpf_attr for BPF_PROG_LOAD (5): a socket filter (1) of one instruction */
    struct { uint32_t type, count; uint64_t insns, license; char rest[96]; } attr;
    memset(&attr, 0, sizeof attr);
    attr.type = 1;
    attr.count = 1;
    attr.insns = (uintptr_t)insn;
    attr.license = (uintptr_t)"GPL";
    report(syscall(SYS_bpf, 5, &attr, sizeof attr), "bpf");

    uint32_t params[30];
    memset(params, 0, sizeof params);
    report(syscall(SYS_io_uring_setup, 8, params), "io_uring_setup");
    report(syscall(SYS_io_uring_enter, 0, 1, 0, 0, NULL, 0), "io_uring_enter");
    report(syscall(SYS_io_uring_register, 0, 0, NULL, 0), "io_uring_register");

    /* struct perf_event_attr: a software (1) CPU clock (0) counter on this process */
    struct { uint32_t type, size; uint64_t config; char rest[112]; } pe;
    memset(&pe, 0, sizeof pe);
    pe.type = 1;
    pe.size = sizeof pe;
    report(syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0), "perf_event_open");

    report(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1), "keyctl");
    report(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "slimbox-probe"), "keyctl join");
    report(syscall(SYS_add_key, "user", "slimbox-probe", "secret", 6, KEY_SPEC_SESSION_KEYRING), "add_key");
    report(syscall(SYS_request_key, "user", "slimbox-probe", NULL, 0), "request_key");
    report(syscall(SYS_userfaultfd, O_CLOEXEC), "userfaultfd");

    /* the machine itself */
    report(syscall(SYS_init_module, "", 0, ""), "init_module");
    report(syscall(SYS_finit_module, 0, "", 0), "finit_module");
    report(syscall(SYS_delete_module, "loop", 0), "delete_module");
    report(syscall(SYS_kexec_load, 0, 0, NULL, 0), "kexec_load");
    report(syscall(SYS_reboot, 0xfee1dead, 672274793, RB_POWER_OFF, NULL), "reboot");
    report(syscall(SYS_swapon, "/tmp/newroot", 0), "swapon");
    report(syscall(SYS_swapoff, "/tmp/newroot"), "swapoff");
    report(syscall(SYS_acct, "/tmp/acct"), "acct");
    report(syscall(SYS_iopl, 3), "iopl");
    report(syscall(SYS_ioperm, 0x80, 1, 1), "ioperm");
    char ldt[16] = {0};
    report(syscall(SYS_modify_ldt, 1, ldt, sizeof ldt), "modify_ldt");
    report(syscall(SYS_syslog, 5 /* SYSLOG_ACTION_CLEAR */, NULL, 0), "syslog clear");
    report(syscall(SYS_syslog, 6 /* SYSLOG_ACTION_CONSOLE_OFF */, NULL, 0), "syslog console off");
    report(syscall(SYS_vhangup), "vhangup");
    report(syscall(SYS_quotactl, 0, "/", 0, NULL), "quotactl");
    report(syscall(SYS_fanotify_init, 0, 0), "fanotify_init");
    report(syscall(SYS_name_to_handle_at, AT_FDCWD, "/etc/passwd", NULL, NULL, 0), "name_to_handle_at");
    report(syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY), "open_by_handle_at");
    report(syscall(SYS_seccomp, 0 /* SECCOMP_SET_MODE_STRICT */, 0, NULL), "seccomp");
    report(syscall(SYS_kcmp, 1, 1, 0, 0, 0), "kcmp");
    report(syscall(SYS_pidfd_getfd, 0, 0, 0), "pidfd_getfd");
    report(syscall(SYS_adjtimex, NULL), "adjtimex");

    /* the host kernel's knobs under /proc and /sys */
    const char *knobs[] = {"/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches",
                           "/proc/sys/kernel/modprobe", "/sys/kernel/uevent_helper", "/sys/power/state"};
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
        report(open(knobs[i], O_WRONLY), "open %s for writing", knobs[i]);

    /* the clock and the names: the sandbox's own, never the host's */
    struct timeval tv = {946684800, 0};
    report(settimeofday(&tv, NULL), "settimeofday");
    struct timespec ts = {946684800, 0};
    report(clock_settime(CLOCK_REALTIME, &ts), "clock_settime");
    report(sethostname("hostile", 7), "sethostname");
    report(setdomainname("hostile", 7), "setdomainname");
    struct utsname u;
    uname(&u);
    printf("nodename now: %s\n", u.nodename);
    return 0;
}
