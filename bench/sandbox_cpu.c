/*
 * sandbox_cpu.c — CPU time per sandboxed run against the floor, in one process.
 *
 * Wall-clock figures on a shared 2-core machine move with everyone else's load; CPU time
 * spent per run moves much less. This program times `print(1)` two ways, interleaved in
 * blocks so that both see the same machine: the floor (posix_spawn + waitpid of
 * /usr/bin/python3 -I -S -c 'print(1)') and sandbox_run (tools/sandbox.c, called directly,
 * one slot). CPU is this process's user + system time plus that of every child it reaped
 * (the run's init and the program), from getrusage. It prints a markdown table.
 *
 * The sandbox runs in the mode sandbox_init picks: root mode as root, rootless mode for any
 * other user (bench/sandbox.sh runs it both ways), in run mode RUN_MODE (cold or warm; default
 * the sandbox's own, warm where it works); the table names both. In warm mode the slot's
 * zygote, which this process does not reap while it measures, forks every run and reaps the
 * short-lived first child: the zygote's own CPU and that child's (from /proc/PID/stat, in
 * clock ticks; it includes copying page tables for each fork) are counted too. A warm run's
 * slot readies the next run after it (docs/sandbox.md, "Prepared runs"): each run's CPU
 * includes that preparation, waited for before the next run starts; its wall time does not
 * (a request finds the run ready).
 *
 * usage: build/bench/sandbox_cpu [RUNS [RUN_MODE]]   (default 200 per target)
 * Exits non-zero if the sandbox is unavailable or a run fails.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/stats.h"
#include "base/num.h"
#include "tools/sandbox.h"

#define BLOCK 20 /* runs of one target before switching to the other */

extern char **environ;

static double now_ms(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU milliseconds used so far by this process and its reaped children. */
static double cpu_ms(void) {
    struct rusage self, kids;

    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                    kids.ru_stime.tv_sec) *
               1e3 +
           (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
                    kids.ru_stime.tv_usec) /
               1e3;
}

static int floor_run(void) {
    static char *const argv[] = {"python3", "-I", "-S", "-c", "print(1)", NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st = 0, rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1 /* O_WRONLY */, 0);
    rc = posix_spawn(&pid, "/usr/bin/python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* CPU milliseconds of the slot's zygote and of the children it reaped (0 in cold mode). */
static double zygote_cpu_ms(void) {
    char path[64], buf[1024];
    const char *p;
    unsigned long long ut = 0, st = 0;
    long long cut = 0, cst = 0;
    int pid = sandbox_zygote_pid(0);
    FILE *f;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
    fclose(f);
    /* after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ut,
                     &st, &cut, &cst) != 4)
        return 0;
    return (double)(ut + st + (unsigned long long)cut + (unsigned long long)cst) * 1e3 /
           (double)sysconf(_SC_CLK_TCK);
}

static int sandbox_once(void) {
    struct sandbox_request rq = {.code = "print(1)", .code_len = 8, .timeout_ms = 5000};
    struct sandbox_result r;
    struct tg_error e;
    int rc = sandbox_run(&rq, &r, &e);

    if (rc == 0 && (r.exit_code != 0 || r.out_len != 2))
        rc = -1;
    if (rc)
        fprintf(stderr, "sandbox_cpu: run failed: %s\n", e.message);
    sandbox_result_free(&r);
    return rc;
}

struct target {
    const char *name;
    int (*run)(void);
    double cpu; /* total CPU ms */
    double *wall;
    int n;
};

int main(int argc, char **argv) {
    struct sandbox_config cfg = {.slots = 1, .quiet = 1};
    struct sandbox_caps caps;
    struct target t[2] = {{"floor (posix_spawn)", floor_run, 0, NULL, 0},
                          {"sandbox_run", sandbox_once, 0, NULL, 0}};
    char name[96];
    struct tg_error e;
    long runs = 200;

    if ((argc > 1 && num_long(argv[1], BLOCK, 100000, &runs) != 0) ||
        (argc > 2 && sandbox_run_mode_parse(argv[2], &cfg.run_mode) != 0)) {
        fprintf(stderr, "usage: sandbox_cpu [RUNS >= %d [cold|warm]]\n", BLOCK);
        return 2;
    }
    if (sandbox_init(&cfg, &e) != 0) {
        fprintf(stderr, "sandbox_cpu: %s\n", e.message);
        return 1;
    }
    sandbox_caps(&caps);
    if (!caps.namespaces || !caps.seccomp) {
        fprintf(stderr, "sandbox_cpu: the sandbox is unavailable: %s\n", caps.reason);
        return 1;
    }
    snprintf(name, sizeof(name), "sandbox_run (%s mode, %s)", caps.mode, caps.run_mode);
    t[1].name = name;
    for (int k = 0; k < 2; k++) {
        t[k].wall = calloc((size_t)runs, sizeof(double));
        if (!t[k].wall || t[k].run() != 0) /* one warm-up run each */
            return 1;
    }
    while (t[1].n < runs) {
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < BLOCK && t[k].n < runs; i++) {
                double c0 = cpu_ms() + zygote_cpu_ms(), w0 = now_ms();

                if (t[k].run() != 0)
                    return 1;
                t[k].wall[t[k].n++] = now_ms() - w0;
                /* warm: the slot readies its next run after this one; that is this run's
                 * CPU too (the wall time is the request's alone) */
                while (k == 1 && sandbox_preparing() > 0)
                    usleep(100);
                t[k].cpu += cpu_ms() + zygote_cpu_ms() - c0;
            }
        }
    }
    printf("| target | runs | CPU ms/run | CPU ratio | wall p50 ms | wall p90 ms |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < 2; k++) {
        stats_sort(t[k].wall, t[k].n);
        printf("| %s | %d | %.2f | %.2f | %.2f | %.2f |\n", t[k].name, t[k].n, t[k].cpu / t[k].n,
               (t[k].cpu / t[k].n) / (t[0].cpu / t[0].n), t[k].wall[t[k].n / 2],
               t[k].wall[t[k].n * 9 / 10]);
        free(t[k].wall);
    }
    sandbox_shutdown();
    return 0;
}
