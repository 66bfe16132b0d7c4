// exec_loop: N iterations of fork + execve("/bin/true") + waitpid.
// Usage: exec_loop N
// Prints the elapsed wall time in nanoseconds (CLOCK_MONOTONIC) on stdout.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 3000;
    char *const child_argv[] = {"true", NULL};
    char *const child_envp[] = {NULL};

    long long start = now_ns();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) {
            execve("/bin/true", child_argv, child_envp);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0) { perror("waitpid"); return 1; }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child failed (status %d)\n", status);
            return 1;
        }
    }
    long long elapsed = now_ns() - start;
    printf("%lld\n", elapsed);
    return 0;
}
