// open_loop: N iterations of open(O_RDONLY) + close on one existing file.
// Usage: open_loop N [path]   (path defaults to /etc/hostname)
// Prints the elapsed wall time in nanoseconds (CLOCK_MONOTONIC) on stdout.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 300000;
    const char *path = argc > 2 ? argv[2] : "/etc/hostname";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror(path); return 1; }
    close(fd);

    long long start = now_ns();
    for (long i = 0; i < n; i++) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { perror("open"); return 1; }
        close(fd);
    }
    long long elapsed = now_ns() - start;
    printf("%lld\n", elapsed);
    return 0;
}
