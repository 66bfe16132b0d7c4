// paced_open: open+close one existing file at a fixed rate R per second for S seconds.
// Usage: paced_open R S [path]   (path defaults to /etc/hostname)
// Work is done in batches of one millisecond's worth of opens; after each batch the
// program sleeps with clock_nanosleep(TIMER_ABSTIME) until the next batch's deadline,
// so the rate does not drift when a batch runs late.
// Prints "opens=N elapsed_ns=T rate=X" on stdout (X = achieved opens per second).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define BATCH_NS 1000000LL  /* 1 ms */

static long long ts_ns(const struct timespec *ts) {
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_ns(&ts);
}

int main(int argc, char **argv) {
    long rate = argc > 1 ? atol(argv[1]) : 50000;
    long seconds = argc > 2 ? atol(argv[2]) : 5;
    const char *path = argc > 3 ? argv[3] : "/etc/hostname";
    if (rate <= 0 || seconds <= 0) { fprintf(stderr, "usage: paced_open RATE SECONDS [path]\n"); return 2; }

    long long total = (long long)rate * seconds;
    long long batches = seconds * (1000000000LL / BATCH_NS);
    long long done = 0;

    long long start = now_ns();
    for (long long b = 1; b <= batches; b++) {
        // Cumulative target, so rounding never accumulates: after batch b, total*b/batches opens.
        long long target = total * b / batches;
        for (; done < target; done++) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) { perror(path); return 1; }
            close(fd);
        }
        long long deadline = start + b * BATCH_NS;
        struct timespec ts = { .tv_sec = deadline / 1000000000LL, .tv_nsec = deadline % 1000000000LL };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
    }
    long long elapsed = now_ns() - start;
    printf("opens=%lld elapsed_ns=%lld rate=%.0f\n", done, elapsed, done * 1e9 / (double)elapsed);
    return 0;
}
