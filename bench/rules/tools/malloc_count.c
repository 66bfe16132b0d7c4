// Counts heap allocations of a process: LD_PRELOAD=./malloc_count.so ./RulesBench ...
// Prints "mallocs: N" at exit. Build: cc -shared -fPIC -O2 -o malloc_count.so malloc_count.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>

static atomic_long count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
// dlsym may call calloc before real_calloc is known: serve it from a static buffer.
static char bootstrap[4096];
static size_t bootstrap_used;

void *malloc(size_t n) {
    if (!real_malloc) real_malloc = dlsym(RTLD_NEXT, "malloc");
    atomic_fetch_add(&count, 1);
    return real_malloc(n);
}
void *calloc(size_t a, size_t b) {
    if (!real_calloc) {
        static int busy;
        if (busy) { void *p = bootstrap + bootstrap_used; bootstrap_used += (a * b + 15) & ~15UL; return p; }
        busy = 1;
        real_calloc = dlsym(RTLD_NEXT, "calloc");
        busy = 0;
    }
    atomic_fetch_add(&count, 1);
    return real_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    if (!real_realloc) real_realloc = dlsym(RTLD_NEXT, "realloc");
    atomic_fetch_add(&count, 1);
    return real_realloc(p, n);
}
int posix_memalign(void **p, size_t a, size_t n) {
    if (!real_posix_memalign) real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    atomic_fetch_add(&count, 1);
    return real_posix_memalign(p, a, n);
}
void *aligned_alloc(size_t a, size_t n) {
    if (!real_aligned_alloc) real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    atomic_fetch_add(&count, 1);
    return real_aligned_alloc(a, n);
}
void free(void *p) {
    static void (*real_free)(void *);
    if ((char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}
__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "mallocs: %ld\n", atomic_load(&count));
}
