/* host_pids: signals and process calls aimed at pids given as NAME PID pairs (host
 * pids such as the supervisor's or a canary's, or a pid no process has). With
 * --kill-all first, then kill(-1, SIGKILL) from inside, which must reach only the
 * sandbox's own processes: never run that natively. Prints `label: RESULT`. */
#include "probe.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sched.h>

static void at_pid(const char *name, pid_t pid)
{
    struct stat st;
    cpu_set_t set;
    struct rlimit old;
    siginfo_t info;
    char byte = 0, path[64];
    struct iovec local = {&byte, 1}, remote = {&byte, 1};

    report(kill(pid, 0), "%s: kill 0", name);
    report(kill(pid, SIGKILL), "%s: kill SIGKILL", name);
    report(kill(-pid, SIGKILL), "%s: kill its group", name);
    report(syscall(SYS_tgkill, pid, pid, SIGKILL), "%s: tgkill", name);
    report(syscall(SYS_tkill, pid, SIGKILL), "%s: tkill", name);
    memset(&info, 0, sizeof info);
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    report(syscall(SYS_rt_sigqueueinfo, pid, SIGKILL, &info), "%s: rt_sigqueueinfo", name);
    /* ptrace is not offered in the sandbox at all: ENOSYS whatever the pid */
    report(syscall(SYS_ptrace, PTRACE_ATTACH, pid, 0, 0), "%s: PTRACE_ATTACH", name);
    report(syscall(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, pid, 0, 0), "%s: PTRACE_SEIZE", name);
    report(syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0), "%s: process_vm_readv", name);
    report(syscall(SYS_pidfd_open, pid, 0), "%s: pidfd_open", name);
    report(getpgid(pid), "%s: getpgid", name);
    report(getsid(pid), "%s: getsid", name);
    report(setpgid(pid, 0), "%s: setpgid", name);
    errno = 0;
    report(getpriority(PRIO_PROCESS, pid) == -1 && errno ? -1 : 0, "%s: getpriority", name);
    report(setpriority(PRIO_PROCESS, pid, 19), "%s: setpriority", name);
    report(sched_getaffinity(pid, sizeof set, &set), "%s: sched_getaffinity", name);
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    report(sched_setaffinity(pid, sizeof set, &set), "%s: sched_setaffinity", name);
    report(syscall(SYS_sched_getscheduler, pid), "%s: sched_getscheduler", name);
    struct sched_param param;
    report(sched_getparam(pid, &param), "%s: sched_getparam", name);
    report(syscall(SYS_prlimit64, pid, RLIMIT_NOFILE, NULL, &old), "%s: prlimit64", name);
    report(waitid(P_PID, pid, &info, WEXITED | WNOHANG), "%s: waitid", name);
    snprintf(path, sizeof path, "/proc/%d", pid);
    report(stat(path, &st), "%s: stat /proc/PID", name);
}

/* kill(-1) from a process that is not init reaches every sandbox process but init
 * and itself; nothing on the host. Run as the sandbox's first process. */
static void kill_all(void)
{
    pid_t victims[3];
    for (int i = 0; i < 3; i++) {
        victims[i] = fork();
        if (victims[i] == 0) {
            for (;;)
                pause();
        }
    }
    pid_t killer = fork();
    if (killer == 0) {
        report(kill(-1, SIGKILL), "killer: kill(-1, SIGKILL)");
        _exit(7);
    }
    int victims_killed = 0, killer_status = -1;
    for (int i = 0; i < 4; i++) {
        int status;
        pid_t pid = wait(&status);
        if (pid == killer)
            killer_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            victims_killed++;
    }
    printf("victims killed by SIGKILL: %d\n", victims_killed);
    printf("killer exit status: %d\n", killer_status);
    /* from init, with nobody else left */
    report(kill(-1, SIGKILL), "init: kill(-1, SIGKILL) alone");
    report(kill(-1, 0), "init: kill(-1, 0) alone");
    printf("init: still here\n");
}

int main(int argc, char **argv)
{
    int first = argc > 1 && !strcmp(argv[1], "--kill-all") ? 2 : 1;
    for (int i = first; i + 1 < argc; i += 2)
        at_pid(argv[i], atoi(argv[i + 1]));
    if (first == 2)
        kill_all();
    return 0;
}
