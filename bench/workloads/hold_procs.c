// hold_procs: keeps N processes alive until told to stop, for the memory benchmark.
// Usage: hold_procs N [BATCH [PAUSE_MS]]
// Forks N children in batches of BATCH (default 250) with PAUSE_MS (default 20) between batches;
// each child execs this program again (`hold_procs --hold I`, a distinct argument per child) and
// sleeps in pause(). Prints "ready N" on stdout once all N run. On SIGTERM, SIGINT or end of stdin
// it SIGKILLs every child, reaps them all, prints "done N" and exits.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--hold") == 0) {
        for (;;) pause();
    }
    long n = argc > 1 ? atol(argv[1]) : 10000;
    long batch = argc > 2 ? atol(argv[2]) : 250;
    long pause_ms = argc > 3 ? atol(argv[3]) : 20;
    if (n <= 0 || batch <= 0) { fprintf(stderr, "usage: hold_procs N [BATCH [PAUSE_MS]]\n"); return 2; }
    pid_t *pids = calloc((size_t)n, sizeof(pid_t));
    if (!pids) { perror("calloc"); return 1; }
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len < 0) { perror("readlink"); return 1; }
    self[len] = 0;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    long started = 0;
    for (long i = 0; i < n && !stop; i++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); break; }
        if (pid == 0) {
            char index[32];
            snprintf(index, sizeof(index), "%ld", i);
            char *const child_argv[] = {"hold_procs", "--hold", index, NULL};
            execv(self, child_argv);
            _exit(127);
        }
        pids[started++] = pid;
        if (started % batch == 0 && pause_ms > 0) {
            struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    printf("ready %ld\n", started);
    fflush(stdout);

    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    while (!stop) {
        int r = poll(&pfd, 1, 1000);
        if (r > 0) {
            char buf[256];
            if (read(0, buf, sizeof(buf)) <= 0) break;  // end of stdin
        } else if (r < 0 && errno != EINTR) {
            break;
        }
    }
    for (long i = 0; i < started; i++) kill(pids[i], SIGKILL);
    long reaped = 0;
    while (reaped < started) {
        pid_t r = wait(NULL);
        if (r < 0) { if (errno == EINTR) continue; break; }
        reaped++;
    }
    printf("done %ld\n", reaped);
    fflush(stdout);
    return 0;
}
