/*
 * pages.c — what a fresh page of memory costs on this machine, beside a page already in use.
 *
 * A server that keeps what it is sent (the episode store: every step, every episode) grows its
 * heap, and each new 4 kB page is a page fault: the kernel finds a free page, zeroes it and
 * maps it. On a virtual machine whose host backs guest memory lazily (or takes free guest
 * pages back, as a balloon or free-page reporting does), that fault can cost tens of
 * microseconds instead of one — and then the memory a request keeps, not its instructions,
 * sets its cost. bench/episodes.sh prints this table first so that its ratios can be read.
 *
 * What it does: in ROUNDS rounds, map N fresh anonymous pages and write one byte to each (the
 * first touch: a page fault each), then write one byte to each again (resident: the baseline),
 * then unmap; and map N pages with MAP_POPULATE (faulted in bulk by the kernel). Prints the
 * medians in microseconds per page and the ratio of each to the resident write.
 * What it does not do: huge pages (the heap of a server grows by 4 kB pages), or file-backed
 * pages (the trajectory log's page cache pays a similar cost in the kernel, not measured here).
 *
 * usage: pages [--pages N] [--rounds R]      (defaults: 20000 pages = 78 MiB, 5 rounds)
 * Exit status: 0 ok, 1 a mapping failed, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGES_ROUNDS_MAX 99

static double now_us(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Write one byte to each page of p; microseconds per page. */
static double touch(volatile char *p, size_t n, size_t page) {
    double t0 = now_us();

    for (size_t i = 0; i < n; i++)
        p[i * page] = (char)i;
    return (now_us() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long arg_long(const char *s, long lo, long hi) {
    char *end;
    long v = strtol(s, &end, 10);

    return *s && !*end && v >= lo && v <= hi ? v : -1;
}

int main(int argc, char **argv) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    long n = 20000, rounds = 5;
    double fresh[PAGES_ROUNDS_MAX] = {0}, resident[PAGES_ROUNDS_MAX] = {0};
    double populate[PAGES_ROUNDS_MAX] = {0};
    double f, r, p;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pages") == 0 && i + 1 < argc) {
            n = arg_long(argv[++i], 100, 10000000);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = arg_long(argv[++i], 1, PAGES_ROUNDS_MAX);
        } else {
            n = -1;
        }
        if (n < 0 || rounds < 0) {
            fprintf(stderr, "usage: pages [--pages 100..10000000] [--rounds 1..%d]\n",
                    PAGES_ROUNDS_MAX);
            return 2;
        }
    }
    for (long k = 0; k < rounds; k++) {
        size_t len = (size_t)n * page;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        double t0;

        if (m == MAP_FAILED) {
            perror("pages: mmap");
            return 1;
        }
        fresh[k] = touch(m, (size_t)n, page);
        resident[k] = touch(m, (size_t)n, page);
        munmap(m, len);
        t0 = now_us();
        m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
                 0);
        if (m == MAP_FAILED) {
            perror("pages: mmap");
            return 1;
        }
        populate[k] = (now_us() - t0) / (double)n;
        munmap(m, len);
    }
    f = median(fresh, (int)rounds);
    r = median(resident, (int)rounds);
    p = median(populate, (int)rounds);
    if (r <= 0)
        r = 1e-3; /* below the clock's resolution */
    printf("| memory (%ld pages of %zu bytes, median of %ld rounds) | us per page | ratio to a "
           "resident page |\n",
           n, page, rounds);
    printf("|---|---:|---:|\n");
    printf("| write to a resident page (baseline) | %.3f | 1 |\n", r);
    printf("| first write to a fresh page (a page fault) | %.2f | %.0f |\n", f, f / r);
    printf("| fresh pages mapped with MAP_POPULATE | %.2f | %.0f |\n", p, p / r);
    return 0;
}
