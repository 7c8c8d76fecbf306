/* spawn_loop: fork, exec argv[1] (with no arguments) and wait, argv[2] times (default
 * 1); prints how many children exited 0. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: spawn_loop PROGRAM [N]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 1;
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
    printf("children exited 0: %ld of %ld\n", ok, n);
    return ok == n ? 0 : 1;
}
