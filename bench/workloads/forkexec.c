/* forkexec: N times (default 200) fork, exec a static program (normally `true`) and wait. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: forkexec PROGRAM [N]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 200;
    long ok = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            char *child_argv[] = {argv[1], NULL};
            execv(argv[1], child_argv);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
    }
    printf("forkexec: %ld of %ld children exited 0\n", ok, n);
    return ok == n ? 0 : 1;
}
