/* long_paths: very long paths, names, symlink targets and symlink chains, directory
 * chains deeper than PATH_MAX, and argument lists and environments past the kernel's
 * limits. Works relative to the current directory, so it runs natively in an empty
 * directory too. Prints `label: RESULT`. */
#include "probe.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define DEPTH 60
#define NAME_LEN 200   /* DEPTH * (NAME_LEN + 1) is about three times PATH_MAX */

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

/* "x/x/x/..." with `count` components of `len` characters each */
static char *chain(size_t count, size_t len)
{
    char *s = malloc(count * (len + 1) + 1), *p = s;
    for (size_t i = 0; i < count; i++) {
        memset(p, 'd', len);
        p += len;
        *p++ = '/';
    }
    p[-1] = 0;
    return s;
}

static void names(void)
{
    report(open(repeat('a', 255), O_WRONLY | O_CREAT, 0644), "create a 255-byte name");
    report(open(repeat('a', 256), O_WRONLY | O_CREAT, 0644), "create a 256-byte name");
    report(mkdir(repeat('b', 256), 0755), "mkdir a 256-byte name");
    report(open(repeat('/', PATH_MAX - 1), O_RDONLY), "open PATH_MAX-1 slashes");
    report(open(repeat('/', PATH_MAX), O_RDONLY), "open PATH_MAX slashes");
    report(open(repeat('/', 1 << 20), O_RDONLY), "open a 1 MiB path");
    report(symlink(repeat('t', PATH_MAX - 1), "long-link"), "symlink with a PATH_MAX-1 target");
    report(symlink(repeat('t', PATH_MAX), "longer-link"), "symlink with a PATH_MAX target");
    char target[PATH_MAX + 1];
    ssize_t n = readlink("long-link", target, sizeof target);
    printf("readlink the long symlink: %zd\n", n < 0 ? -1 : n);
}

static void deep_directories(void)
{
    int made = 0;
    int top = open(".", O_RDONLY | O_DIRECTORY);
    char *name = repeat('d', NAME_LEN);
    for (int i = 0; i < DEPTH; i++) {
        if (mkdir(name, 0755) < 0 || chdir(name) < 0)
            break;
        made++;
    }
    printf("directories made: %d\n", made);
    char buf[PATH_MAX];
    report(getcwd(buf, sizeof buf) ? 0 : -1, "getcwd deeper than PATH_MAX");
    report(open("f", O_WRONLY | O_CREAT, 0644), "create a file down there");
    report(fchdir(top), "back to the top");
    char *whole = chain(DEPTH, NAME_LEN);
    report(access(whole, F_OK), "access the whole chain at once");
    /* in quarters, each shorter than PATH_MAX, from one directory descriptor to the next */
    size_t quarter = (DEPTH / 4) * (NAME_LEN + 1);
    int dir = top;
    for (int i = 0; i < 4 && dir >= 0; i++) {
        whole[(i + 1) * quarter - 1] = 0;
        dir = openat(dir, whole + i * quarter, O_RDONLY | O_DIRECTORY);
    }
    report(dir, "walk the chain a quarter at a time");
    report(faccessat(dir, "f", F_OK, 0), "the file at the bottom");
}

/* chain-N -> chain-(N-1) -> ... -> chain-0 -> target: N + 1 links to follow */
static void symlink_chains(void)
{
    char name[32], next[32];
    int fd = open("target", O_WRONLY | O_CREAT, 0644);
    close(fd);
    for (int i = 0; i <= 41; i++) {
        snprintf(name, sizeof name, "chain-%d", i);
        if (i == 0)
            snprintf(next, sizeof next, "target");
        else
            snprintf(next, sizeof next, "chain-%d", i - 1);
        symlink(next, name);
    }
    report(open("chain-39", O_RDONLY), "open through 40 symlinks");
    report(open("chain-40", O_RDONLY), "open through 41 symlinks");
    report(symlink("self-loop", "self-loop"), "symlink to itself");
    report(open("self-loop", O_RDONLY), "open a symlink to itself");
    report(mkdir("self-loop/x", 0755), "mkdir under a symlink loop");
}

static void exec_with(const char *label, char **argv, char **envp)
{
    pid_t pid = fork();
    if (pid == 0) {
        execve("/bin/true", argv, envp);
        _exit(errno == E2BIG ? 7 : 8);
    }
    int status;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("%s: %s\n", label, code == 0 ? "ran" : code == 7 ? "E2BIG" : "failed otherwise");
}

static void argument_lists(void)
{
    char *empty[] = {NULL};
    char *one_big[] = {"true", repeat('A', 128 * 1024), NULL};         /* > MAX_ARG_STRLEN */
    char *just_fits[] = {"true", repeat('A', 128 * 1024 - 1), NULL};   /* = MAX_ARG_STRLEN with the NUL */
    exec_with("one argument of 128 KiB", one_big, empty);
    exec_with("one argument of 128 KiB less one", just_fits, empty);
    char *big_env[] = {repeat('E', 128 * 1024), NULL};
    char *args[] = {"true", NULL};
    exec_with("one environment string of 128 KiB", args, big_env);

    /* 64 MiB of arguments in all: past any stack-derived limit */
    size_t count = 512;
    char **many = calloc(count + 2, sizeof *many);
    many[0] = "true";
    char *piece = repeat('m', 128 * 1024 - 1);
    for (size_t i = 1; i <= count; i++)
        many[i] = piece;
    exec_with("64 MiB of arguments", many, empty);

    /* a million empty arguments: past the pointer count limit */
    size_t n = 1 << 20;
    char **empties = calloc(n + 2, sizeof *empties);
    empties[0] = "true";
    for (size_t i = 1; i <= n; i++)
        empties[i] = "";
    exec_with("a million empty arguments", empties, empty);
    exec_with("a thousand empty arguments", (empties[1001] = NULL, empties), empty);
}

int main(void)
{
    names();
    symlink_chains();
    deep_directories();
    argument_lists();
    return 0;
}
