/*
 * sandbox.c — the Python sandbox: template root, seccomp filter, cgroups, slots, and runs.
 *
 * How a run works in root mode (all processes are started with CLONE_VM|CLONE_VFORK, never
 * fork()):
 *
 *   caller thread ──clone(VM|VFORK|NEWPID|NEWIPC|NEWUTS|NEWCGROUP)──> init (pid 1 in the new
 *   namespaces). init shares the caller's memory while the caller sleeps in clone(), like
 *   posix_spawn's child does. It leaves the server's session (setsid), joins the slot's
 *   network namespace (made once per slot: see slot_net), enters the template mount namespace
 *   built at start-up (a read-only tmpfs root with a copy of python
 *   and read-only overlay views of its libraries), unshares a private copy of it, mounts a
 *   private /tmp and a fresh /proc, then
 *   ──clone(VM|VFORK)──> child, which starts its own session, drops to the slot uid, sets
 *   NO_NEW_PRIVS, rlimits and the seccomp filter and execs /usr/bin/python3 -I -S -c CODE
 *   with an empty environment. (Both inherit the slot cgroups from the caller.)
 *   init supervises: it polls the output pipes (capped, draining beyond the cap), feeds
 *   stdin, watches a pidfd for the child's exit and enforces the wall clock. It writes the
 *   result straight into the caller's memory, kills everything left in the namespace and
 *   exits; the kernel tears the namespace down, and the caller reaps init.
 *
 * In rootless mode the server has no privilege of its own. At start-up it makes a template
 * user namespace (mapping only its own uid) holding the template mount namespace. A run adds
 * one process in front of init:
 *
 *   caller thread ──clone(VM|VFORK|FILES)──> entry, which joins the template user namespace
 *   (where it holds every capability), the slot's network namespace and the template mount
 *   namespace, unshares a private copy of it and mounts the private /tmp there,
 *   ──clone(VM|VFORK|NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS|NEWCGROUP)──> init, in a new
 *   user namespace of its own (no uid mapped: the program runs as the overflow uid, nobody)
 *   with a locked copy of that mount tree. init mounts its /proc and goes on as in root mode;
 *   the child drops every capability instead of changing uid.
 *
 * Building the root once per process (a template mount namespace held by an fd) keeps the
 * per-run cost to one unshare of a ~6-mount namespace plus two small mounts (rootless: one
 * more copy and a user namespace).
 *
 * Code that runs in entry, init and the child shares the server's memory: it uses only system
 * calls and the preallocated per-slot buffers — no malloc, no stdio, no locks.
 *
 * This module does not queue requests, speak HTTP or build JSON (run_code.c does).
 */
#include "tools/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cancel.h"
#include "base/limits.h"
#include "tools/userns.h"

#define SB_STACK_BYTES (256 * 1024) /* stack of init and of the pre-exec child */
#define SB_PYTHON      "/usr/bin/python3"
#define SB_STAGE       "/tmp" /* where the template root is assembled (private namespace) */
#define SB_NS_FLAGS    (CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
#define SB_TICK_MS     5              /* exit polling period when pidfds are unavailable */
#define SB_UID_LOCKS   "/run/toolgym" /* host-wide claims of slot uids (flock per uid) */

#if defined(__x86_64__)
#define SB_MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define SB_MULTIARCH "aarch64-linux-gnu"
#else
#define SB_MULTIARCH "unknown-linux-gnu"
#endif

/* Code on the init/child stacks ends in _exit; ASan cannot follow those stacks. */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define SB_NO_ASAN __attribute__((no_sanitize("address")))
#endif
#endif
#ifndef SB_NO_ASAN
#define SB_NO_ASAN
#endif

/* Layers a trial can use. */
enum { L_NS = 1, L_SECCOMP = 2, L_CGROUPS = 4 };

/* Where a setup step failed (init or child), for the error message. */
enum sb_step {
    ST_NONE,
    ST_SETNS_USER,
    ST_INIT,
    ST_CAPS,
    ST_SETNS,
    ST_UNSHARE,
    ST_TMP,
    ST_PROC,
    ST_PIPE,
    ST_CLONE,
    ST_CGROUP,
    ST_FDS,
    ST_CHDIR,
    ST_IDS,
    ST_SESSION,
    ST_NNP,
    ST_RLIMIT,
    ST_SECCOMP,
    ST_EXEC,
    ST_ZYGOTE,
};

static const char *const step_names[] = {
    "none",         "setns (user)", "clone (init)", "capabilities", "setns",
    "unshare",      "mount /tmp",   "mount /proc",  "pipe",         "clone",
    "cgroup",       "fd setup",     "chdir",        "uid/gid",      "setsid",
    "no_new_privs", "rlimit",       "seccomp",      "exec",         "zygote",
};

struct sb_slot {
    int index;
    int busy;
    unsigned uid;
    int mem_fd;         /* `tasks` of the slot's memory cgroup, or -1 */
    int cancel_fd;      /* eventfd: written to cancel the slot's run (init polls it), or -1 */
    int pids_fd;        /* `tasks` of the slot's pids cgroup, or -1 */
    pthread_t launcher; /* the slot's thread: lives in the slot cgroups, starts the runs */
    int launcher_up;    /* the launcher is running (set by it) */
    int thread_ok;      /* pthread_create succeeded: join it at shutdown */
    int cg_joined;
    int quit;
    struct sb_job *job; /* handed to the launcher under g.mu */
    pthread_cond_t job_cv;
    char *stack_entry; /* rootless: the process that joins the template user namespace */
    char *stack_init;
    char *stack_child;
    char *out, *err, *scratch; /* TG_OUTPUT_MAX_BYTES each */
    char workdir[128];         /* unsafe mode without namespaces: the slot's cwd */
    int net_fd;   /* the slot's network namespace (see slot_net), or -1: each run makes its own */
    int net_made; /* slot_net was tried (launcher only) */
    /* warm mode (see "zygotes" below); touched only by the slot's launcher and its init */
    pid_t zpid; /* the zygote (a child of the server), or 0 */
    int zsock;  /* our end of its control socket (SOCK_SEQPACKET), or -1 */
    int zlog;   /* read end of its stderr (non-blocking), or -1 */
    int zbad;   /* it died, hung or broke the protocol: replace it before the next run */
    /* warm mode: the run prepared ahead (see "prepared runs" below) */
    int go_fd;      /* eventfd: written when a job (or quit) is posted; the waiting init polls it */
    int prep_state; /* SB_PREP_* (atomic: written by the launcher and its init, read anywhere) */
    int prep_fails; /* preparations that failed in a row (launcher only) */
    int prep_held;  /* do not prepare again until a job comes (launcher, under g.mu) */
    struct sb_run *prep; /* the launcher's run record for prepared runs */
};

/* Where a slot's prepared run stands (sb_slot.prep_state). */
enum { SB_PREP_NONE, SB_PREP_BUSY, SB_PREP_READY, SB_PREP_RUNNING };

struct sb_job;

/* One run, shared by the caller, init and the child (same memory). */
struct sb_run {
    struct sb_slot *slot;
    char *const *argv;
    const char *stdin_data;
    size_t stdin_len;
    int timeout_ms;
    int layers;
    int probe;        /* 1: the RLIMIT_NPROC probe (see nproc_probe): the child exits at once */
    int memwatch;     /* 1: init sums the run's memory every TG_CODE_MEM_TICK_MS (no cgroup) */
    int warm;         /* 1: the program is forked from the slot's zygote instead of exec'd */
    const char *code; /* warm: the source, code_len bytes */
    size_t code_len;
    int zygote_lost; /* warm: the zygote died (its socket closed) before the run ended */
    int zygote_hung; /* warm: it did not answer within TG_CODE_ZYGOTE_MS */
    int zygote_late; /* warm: it died or stalled after the program existed (no harm to the run) */
    int zseen;       /* warm: the messages seen on the control socket (ZS_* bits) */
    int prepared;    /* warm: init readies the program, then waits for the slot's job */
    struct sb_job *job; /* warm, prepared: the job init took (NULL: none; the run is unused) */
    int prep_failed;    /* warm, prepared: the program could not be readied (no job was taken) */
    /* written by entry / init / child */
    int fail_step;
    int fail_errno;
    int status;
    int reaped;
    int timed_out;
    int cancelled;   /* the run's cancellation token fired: killed early */
    int over_memory; /* the memory watch found more than TG_CODE_MEM_BYTES: killed */
    int truncated;
    size_t out_len, err_len;
    long long wall_us, cpu_us;
    int in_r, out_w, err_w; /* the child's ends of the pipes */
};

/* A run handed to a slot's launcher. Moving a process into a v1 cgroup costs milliseconds
 * (a global rwsem write), so the launcher joins its slot's cgroups once and every init and
 * child it starts inherits them for free. */
struct sb_job {
    char *const *argv;
    const char *in;
    size_t in_len;
    int timeout_ms;
    int layers;
    int probe;      /* nproc_probe */
    int warm;       /* fork the program from the slot's zygote (started or replaced first) */
    int start_only; /* only make sure the slot's zygote runs (warm) */
    const char *code;
    size_t code_len;
    struct sb_run *r;
    struct tg_error *err;
    int rc;
    int done;
};

static struct {
    int inited;
    struct sandbox_caps caps;
    int layers; /* active layers (L_*) */
    int unsafe;
    int quiet;
    int is_root;  /* euid 0 (perhaps only inside a user namespace) */
    int rootless; /* the launch path: 0 root mode, 1 rootless (entry, own user namespace) */
    int have_pidfd;
    int memwatch;         /* runs are watched for memory (namespaces on, no memory cgroup) */
    int tmpl_fd;          /* the template mount namespace, or -1 */
    int userns_fd;        /* rootless: the template user namespace, or -1 */
    int bind_fallback;    /* the template shows host directories by binds (no overlayfs) */
    int uid_base_unused;  /* rootless with --uid-base given: the start-up line says it is unused */
    char nproc_note[200]; /* rootless: RLIMIT_NPROC leaves the server little room ("" if not) */
    int nslots;           /* every slot: in warm mode two per concurrent run (see slot_acquire) */
    int max_running;      /* runs in flight at once (sandbox_config.slots) */
    int running;          /* slots taken now (under mu) */
    struct sb_slot *slots;
    unsigned uid_base; /* slot i runs as uid/gid uid_base + i */
    int *uid_locks;    /* (nslots) flocked claim files of our slot uids, when root */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sock_filter *filter;
    struct sock_fprog prog;
    char memcg[PATH_MAX]; /* base dirs created by us, "" when none */
    char pidscg[PATH_MAX];
    char unavailable[TG_ERR_MSG_MAX]; /* why runs fail closed, "" when they don't */
    int warm;                         /* runs are forked from per-slot zygotes */
    int want_warm;                    /* warm mode was asked for (auto or warm) */
    enum sandbox_run_mode forced;     /* sandbox_force_run_mode (tests), or AUTO */
} g = {.tmpl_fd = -1,
       .userns_fd = -1,
       .mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER};

static long long now_us(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Write val to dir/name (a /proc or cgroup file). 0 or -1 with errno. Allocates nothing. */
static int write_file(const char *dir, const char *name, const char *val) {
    char path[PATH_MAX];
    int fd, ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
    close(fd);
    return ok ? 0 : -1;
}

/* ---- code that runs in init and the child (shared memory: syscalls only) ------------- */

/* Close every descriptor except those in keep[] (ascending order not required). */
static void close_except(const int *keep, int n) {
    int sorted[8], m = 0;
    unsigned lo = 0;

    for (int i = 0; i < n && m < (int)TG_ARRAY_LEN(sorted); i++)
        if (keep[i] >= 0)
            sorted[m++] = keep[i];
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (int i = 0; i < m; i++) {
        if ((unsigned)sorted[i] > lo)
            close_range(lo, (unsigned)sorted[i] - 1, 0);
        lo = (unsigned)sorted[i] + 1;
    }
    close_range(lo, ~0U, 0);
}

static void reset_signals(int keep_ignored) {
    struct sigaction sa;
    sigset_t none;

    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, NULL, &sa) != 0)
            continue;
        if (keep_ignored && sa.sa_handler == SIG_IGN)
            continue;
        if (sa.sa_handler == SIG_DFL)
            continue;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

SB_NO_ASAN static int child_fail(struct sb_run *r, int step) {
    r->fail_step = step;
    r->fail_errno = errno;
    _exit(127);
}

/* The pre-exec child: in init's namespaces, as root (root mode) or holding every capability
 * of the run's user namespace (rootless); ends in execve of python. */
SB_NO_ASAN static int child_main(void *arg) {
    static char *const envp[] = {NULL};
    struct sb_run *r = arg;
    struct sb_slot *s = r->slot;
    struct rlimit rl;
    int in, out, err;
    int userns = g.rootless && (r->layers & L_NS);
    /* In rootless mode RLIMIT_NPROC counts the processes of the run's user namespace, init
     * included; in root mode those of the slot uid, init (root) not included. */
    const struct {
        int res;
        unsigned long val;
    } limits[] = {
        {RLIMIT_CPU, TG_CODE_CPU_SEC},
        {RLIMIT_AS, TG_CODE_AS_BYTES},
        {RLIMIT_FSIZE, TG_CODE_FSIZE_BYTES},
        {RLIMIT_NOFILE, TG_CODE_NOFILE},
        {RLIMIT_NPROC, userns ? TG_CODE_NPROC + 1 : TG_CODE_NPROC},
        {RLIMIT_CORE, 0},
    };

    if (r->probe) /* nproc_probe: being created was the test */
        _exit(0);
    reset_signals(0);
    /* Move the pipe ends clear of 0..2 before placing them there. */
    in = fcntl(r->in_r, F_DUPFD, 10);
    out = fcntl(r->out_w, F_DUPFD, 10);
    err = fcntl(r->err_w, F_DUPFD, 10);
    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        return child_fail(r, ST_FDS);
    close_range(3, ~0U, 0);
    if (chdir((r->layers & L_NS) ? "/tmp" : s->workdir) != 0)
        return child_fail(r, ST_CHDIR);
    if (userns) {
        /* The child inherited init's capabilities in the run's user namespace; the program
         * gets none (execve would clear them too, as no uid is mapped: this says so). */
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];

        memset(d, 0, sizeof(d));
        if (syscall(SYS_capset, &h, d) != 0)
            return child_fail(r, ST_CAPS);
    } else if (g.is_root && !g.rootless) {
        /* Raw system calls: glibc's wrappers would try to change every server thread. */
        if (syscall(SYS_setgroups, 0, NULL) != 0 ||
            syscall(SYS_setresgid, s->uid, s->uid, s->uid) != 0 ||
            syscall(SYS_setresuid, s->uid, s->uid, s->uid) != 0)
            return child_fail(r, ST_IDS);
    }
    /* Its own session and process group: kill(0, ...) and SIGCONT's same-session rule reach
     * nothing of the server's. Without namespaces init kills this group at the end. */
    if (setsid() < 0)
        return child_fail(r, ST_SESSION);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return child_fail(r, ST_NNP);
    for (size_t i = 0; i < TG_ARRAY_LEN(limits); i++) {
        rl.rlim_cur = rl.rlim_max = limits[i].val;
        if (setrlimit(limits[i].res, &rl) != 0)
            return child_fail(r, ST_RLIMIT);
    }
    if ((r->layers & L_SECCOMP) && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &g.prog) != 0)
        return child_fail(r, ST_SECCOMP);
    execve(SB_PYTHON, r->argv, envp);
    return child_fail(r, ST_EXEC);
}

static void drain(int *fd, char *buf, size_t *len, char *scratch, int *truncated) {
    for (;;) {
        ssize_t n;

        if (*fd < 0)
            return;
        if (*len < TG_OUTPUT_MAX_BYTES)
            n = read(*fd, buf + *len, TG_OUTPUT_MAX_BYTES - *len);
        else
            n = read(*fd, scratch, TG_OUTPUT_MAX_BYTES);
        if (n > 0) {
            if (*len < TG_OUTPUT_MAX_BYTES)
                *len += (size_t)n;
            else
                *truncated = 1;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            close(*fd);
            *fd = -1;
        }
        return; /* EAGAIN or error: come back on the next poll */
    }
}

/* The number after "key" (a "Name:" line of a /proc status file) in kB, or 0. */
static long long status_kb(const char *text, const char *key) {
    const char *p = strstr(text, key);

    return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

/*
 * The memory watch (runs without a memory cgroup): the anonymous and shared memory (RssAnon +
 * RssShmem) of every process in the run's PID namespace except init, in bytes, read from the
 * run's own /proc (proc_fd). Pages that forked processes still share are counted once per
 * process, so the sum can only overstate. Runs in init: system calls and stack buffers only.
 */
static long long run_memory(int proc_fd) {
    char dents[2048], status[4096], path[40];
    long long kb = 0;
    ssize_t n;

    if (lseek(proc_fd, 0, SEEK_SET) != 0)
        return 0;
    while ((n = getdents64(proc_fd, dents, sizeof(dents))) > 0) {
        for (ssize_t off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(dents + off);
            const char *name = d->d_name;
            ssize_t k;
            int fd;

            off += d->d_reclen;
            if (name[0] < '1' || name[0] > '9' || strcmp(name, "1") == 0 ||
                strspn(name, "0123456789") != strlen(name))
                continue;
            snprintf(path, sizeof(path), "%s/status", name);
            fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue; /* gone since getdents */
            k = read(fd, status, sizeof(status) - 1);
            close(fd);
            if (k <= 0)
                continue;
            status[k] = '\0';
            kb += status_kb(status, "\nRssAnon:") + status_kb(status, "\nRssShmem:");
        }
    }
    return kb * 1024;
}

/* What init has seen on a warm run's control socket (sb_run.zseen). */
enum { ZS_F = 1, ZS_X = 2, ZS_K = 4 };

/*
 * Warm mode: read what came on the control socket: "F" (the zygote forked the run's first
 * child), "X" (it reaped that child, which had forked the program first), "K" (the program is
 * ready: every setup step done, it waits for its source), "E<step> <errno>" (a setup step of
 * the child or the program failed; it exits 127). Sets ZS_* bits in r->zseen, or
 * r->fail_step. 0 when nothing (more) is waiting; -1 when the zygote's end is gone or the
 * message is not ours (r->zygote_lost set). Runs in init: no allocation.
 */
static int zyg_read(struct sb_run *r, int zsock) {
    for (;;) {
        char msg[96];
        ssize_t n = recv(zsock, msg, sizeof(msg) - 1, MSG_DONTWAIT);
        char *end;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            r->zygote_lost = 1;
            return -1;
        }
        msg[n] = '\0';
        if (msg[0] == 'F' || msg[0] == 'X' || msg[0] == 'K') {
            r->zseen |= msg[0] == 'F' ? ZS_F : msg[0] == 'X' ? ZS_X : ZS_K;
        } else if (msg[0] == 'E') {
            r->fail_step = (int)strtol(msg + 1, &end, 10);
            r->fail_errno = (int)strtol(end, NULL, 10);
            if (r->fail_step <= ST_NONE || r->fail_step > ST_ZYGOTE)
                r->fail_step = ST_ZYGOTE;
        } else {
            r->zygote_lost = 1; /* not our protocol: treat it as gone */
            return -1;
        }
    }
}

/* Warm mode: wait up to TG_CODE_ZYGOTE_MS until every ZS_* bit of want was seen. 0 when they
 * came; -1 with r->fail_step (a setup step failed), r->zygote_lost or r->zygote_hung set. */
static int zyg_wait(struct sb_run *r, int zsock, int want) {
    long long deadline = now_us() + TG_CODE_ZYGOTE_MS * 1000LL;

    for (;;) {
        struct pollfd p = {.fd = zsock, .events = POLLIN};
        long long left = deadline - now_us();

        if (zyg_read(r, zsock) < 0 || r->fail_step)
            return -1;
        if ((r->zseen & want) == want)
            return 0;
        if (left <= 0) {
            r->zygote_hung = 1;
            return -1;
        }
        if (poll(&p, 1, (int)((left + 999) / 1000)) < 0 && errno != EINTR) {
            r->zygote_lost = 1;
            return -1;
        }
    }
}

/* Bytes init writes into a pipe of the child while it supervises: its stdin, and in warm mode
 * first its source. fd -1 once all is written or the child closed its end. */
struct sb_feed {
    int fd;
    const char *data;
    size_t len, off;
};

/* Write what the pipe takes of feed f now; close it when done or broken. */
static void feed_some(struct sb_feed *f, short revents) {
    ssize_t n = 0;

    if (revents & POLLOUT)
        n = write(f->fd, f->data + f->off, f->len - f->off);
    if (n > 0)
        f->off += (size_t)n;
    if ((n < 0 && errno != EAGAIN && errno != EINTR) || f->off >= f->len ||
        (revents & (POLLERR | POLLHUP))) {
        close(f->fd);
        f->fd = -1;
    }
}

/* Supervise the child until it exits, the wall clock runs out, the run is cancelled or (with
 * proc_fd >= 0) its processes hold more than TG_CODE_MEM_BYTES. feed[0] is written before
 * feed[1] is (the source before stdin). */
static void supervise(struct sb_run *r, pid_t child, int pidfd, int out_r, int err_r,
                      struct sb_feed *feed, int proc_fd, long long t0) {
    struct sb_slot *s = r->slot;
    long long deadline = t0 + (long long)r->timeout_ms * 1000;
    long long next_look = t0 + TG_CODE_MEM_TICK_MS * 1000LL;
    struct rusage ru;
    int st = 0;

    for (;;) {
        struct sb_feed *f = feed[0].fd >= 0 ? &feed[0] : &feed[1];
        struct pollfd p[5] = {
            {.fd = out_r, .events = POLLIN},        {.fd = err_r, .events = POLLIN},
            {.fd = f->fd, .events = POLLOUT},       {.fd = pidfd, .events = POLLIN},
            {.fd = s->cancel_fd, .events = POLLIN},
        };
        long long now = now_us(), left = deadline - now;
        int wait_ms;

        if (left <= 0) {
            r->timed_out = 1;
            break;
        }
        if (proc_fd >= 0 && now >= next_look) {
            if (run_memory(proc_fd) > (long long)TG_CODE_MEM_BYTES) {
                r->over_memory = 1;
                break;
            }
            next_look = now + TG_CODE_MEM_TICK_MS * 1000LL;
        }
        wait_ms = (int)((left + 999) / 1000);
        if (pidfd < 0 && wait_ms > SB_TICK_MS)
            wait_ms = SB_TICK_MS;
        if (proc_fd >= 0 && wait_ms > (int)((next_look - now + 999) / 1000))
            wait_ms = (int)((next_look - now + 999) / 1000);
        if (poll(p, 5, wait_ms) < 0 && errno != EINTR)
            break;
        if (p[4].revents & POLLIN) { /* sandbox_cancel_hook: the client went away */
            r->cancelled = 1;
            break;
        }
        if (p[0].revents)
            drain(&out_r, s->out, &r->out_len, s->scratch, &r->truncated);
        if (p[1].revents)
            drain(&err_r, s->err, &r->err_len, s->scratch, &r->truncated);
        if (p[2].revents)
            feed_some(f, p[2].revents);
        if (pidfd >= 0 && !(p[3].revents & POLLIN))
            continue;
        if (wait4(child, &st, WNOHANG | __WALL, &ru) == child) {
            r->reaped = 1;
            break;
        }
    }
    if (!r->reaped) {
        kill(child, SIGKILL);
        if (wait4(child, &st, __WALL, &ru) == child)
            r->reaped = 1;
    }
    r->wall_us = now_us() - t0;
    if (r->reaped) {
        r->status = st;
        r->cpu_us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
                    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    }
    /* Stop every straggler, then collect what is already in the pipes. */
    if (getpid() == 1)
        kill(-1, SIGKILL);
    else
        kill(-child, SIGKILL);
    if (out_r >= 0)
        fcntl(out_r, F_SETFL, O_NONBLOCK);
    if (err_r >= 0)
        fcntl(err_r, F_SETFL, O_NONBLOCK);
    drain(&out_r, s->out, &r->out_len, s->scratch, &r->truncated);
    drain(&err_r, s->err, &r->err_len, s->scratch, &r->truncated);
}

SB_NO_ASAN static int init_fail(struct sb_run *r, int step) {
    r->fail_step = step;
    r->fail_errno = errno;
    if (getpid() == 1)
        kill(-1, SIGKILL);
    _exit(0);
}

/* The private /tmp: a size- and inode-limited tmpfs at /tmp of the current mount namespace,
 * owned by uid (-1: by whoever mounts it). */
static int mount_tmp(long uid) {
    char opts[128];

    if (uid >= 0)
        snprintf(opts, sizeof(opts), "size=%lu,nr_inodes=%d,mode=0700,uid=%ld,gid=%ld",
                 (unsigned long)TG_CODE_TMP_BYTES, TG_CODE_TMP_INODES, uid, uid);
    else
        snprintf(opts, sizeof(opts), "size=%lu,nr_inodes=%d,mode=0700",
                 (unsigned long)TG_CODE_TMP_BYTES, TG_CODE_TMP_INODES);
    return mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts);
}

/* The jobs a prepared run can take: a warm run of a program, with the run's layers. */
static int job_fits(const struct sb_job *j, const struct sb_run *r) {
    return j->warm && !j->probe && !j->start_only && j->layers == r->layers;
}

/*
 * A prepared run, in init once its program is ready: wait for the slot's job, or quit. init
 * takes no lock: the poster (dispatch) stores the job, then writes go_fd. 1 with r->job set
 * and the job's source, stdin and timeout in r; 0 when there is nothing to run: quit, a job
 * this run cannot take (the launcher runs it otherwise), or the program died while it waited
 * (r->prep_failed). The zygote is not needed any more: if it goes now, it is only replaced
 * after the run (r->zygote_late).
 */
SB_NO_ASAN static int init_wait_job(struct sb_run *r, int pidfd, int zsock) {
    struct sb_slot *s = r->slot;

    for (;;) {
        struct sb_job *j = __atomic_load_n(&s->job, __ATOMIC_ACQUIRE);
        struct pollfd p[3] = {{.fd = s->go_fd, .events = POLLIN},
                              {.fd = pidfd, .events = POLLIN},
                              {.fd = zsock, .events = POLLIN}};
        uint64_t n;

        if (__atomic_load_n(&s->quit, __ATOMIC_ACQUIRE))
            return 0;
        if (j) {
            if (!job_fits(j, r))
                return 0;
            r->job = j;
            r->code = j->code;
            r->code_len = j->code_len;
            r->stdin_data = j->in;
            r->stdin_len = j->in_len;
            r->timeout_ms = j->timeout_ms;
            return 1;
        }
        if (poll(p, 3, -1) < 0 && errno != EINTR) {
            r->prep_failed = 1;
            return 0;
        }
        if ((p[0].revents & POLLIN) && read(s->go_fd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
            r->prep_failed = 1;
            return 0;
        }
        if (p[1].revents) { /* the program died before it had anything to run */
            r->prep_failed = 1;
            return 0;
        }
        if (p[2].revents) { /* the zygote went (nothing else may come now): replace it later */
            r->zygote_late = 1;
            zsock = -1;
        }
    }
}

/*
 * Warm mode, in init once the run's namespaces, /tmp, /proc and pipes exist: ready the program,
 * then (a prepared run) wait for the job, then run it. init hands the zygote a pidfd of itself
 * (the zygote joins init's PID namespace before it forks, and the program joins the others)
 * and the program's pipe ends, including the one it reads its source from. The zygote's child
 * is the first process forked into the namespace (pid 2); it forks the program (pid 3) and
 * exits. init waits for F (forked), X (the zygote reaped pid 2, so the program's parent is
 * init and no process but the program is left in the namespace) and K (the program finished
 * every setup step and waits for its source). Only then does it take a job and write the
 * source, so no program's bytes reach the zygote (its later children could find them in its
 * memory) and nothing of a run exists before the run's namespaces do. Then supervise as in a
 * cold run.
 */
SB_NO_ASAN static void init_warm(struct sb_run *r, const int *in, const int *out, const int *err,
                                 const int *src, int proc_fd) {
    int zsock = r->slot->zsock, self, fds[5], pidfd;
    char cbuf[CMSG_SPACE(sizeof(fds))];
    struct iovec iov = {.iov_base = "R", .iov_len = 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm;
    struct sb_feed feed[2];
    long long t0;

    self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (self < 0) {
        init_fail(r, ST_ZYGOTE);
        return;
    }
    fds[0] = self;
    fds[1] = in[0];
    fds[2] = out[1];
    fds[3] = err[1];
    fds[4] = src[0];
    memset(cbuf, 0, sizeof(cbuf));
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(cm), fds, sizeof(fds));
    if (sendmsg(zsock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
        if (errno == EAGAIN)
            r->zygote_hung = 1;
        else
            r->zygote_lost = 1;
        kill(-1, SIGKILL);
        _exit(0);
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(fds); i++)
        close(fds[i]);
    /* No F, X and K: the program is not ready (a setup step failed, or the zygote died or did
     * not answer); nothing ran. */
    if (zyg_wait(r, zsock, ZS_F) != 0 || zyg_wait(r, zsock, ZS_X | ZS_K) != 0) {
        kill(-1, SIGKILL);
        _exit(0);
    }
    pidfd = (int)syscall(SYS_pidfd_open, 3, 0);
    __atomic_store_n(&r->slot->prep_state, SB_PREP_READY, __ATOMIC_RELEASE);
    if (!init_wait_job(r, pidfd, zsock)) {
        kill(-1, SIGKILL);
        _exit(0);
    }
    __atomic_store_n(&r->slot->prep_state, SB_PREP_RUNNING, __ATOMIC_RELEASE);
    t0 = now_us();
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(src[1], F_SETFL, O_NONBLOCK);
    feed[0] = (struct sb_feed){src[1], r->code, r->code_len, 0};
    feed[1] = (struct sb_feed){in[1], r->stdin_data, r->stdin_len, 0};
    if (r->stdin_len == 0) {
        close(in[1]);
        feed[1].fd = -1;
    }
    supervise(r, 3, pidfd, out[0], err[0], feed, proc_fd, t0);
    if (zsock >= 0 && zyg_read(r, zsock) < 0)
        r->zygote_late = 1; /* gone by now: the run did not need it; replace it */
    r->zygote_lost = 0;
    _exit(0);
}

/* init: pid 1 of the run's namespaces (or a plain supervisor without them). In rootless mode
 * entry has already made the mount namespace and its /tmp; init is cloned into a new user
 * namespace with a copy of it. */
SB_NO_ASAN static int init_main(void *arg) {
    struct sb_run *r = arg;
    struct sb_slot *s = r->slot;
    int keep[5] = {g.rootless ? -1 : g.tmpl_fd, s->cancel_fd, r->warm ? s->zsock : -1,
                   r->warm ? s->go_fd : -1, g.rootless ? -1 : s->net_fd};
    int in[2], out[2], err[2], src[2], pidfd = -1, proc_fd = -1, flags;
    struct sb_feed feed[2] = {{-1, NULL, 0, 0}, {-1, NULL, 0, 0}};
    struct sigaction sa;
    pid_t child;
    long long t0;

    reset_signals(1);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Leave the server's session and process group before anything of the run exists. */
    if (setsid() < 0)
        return init_fail(r, ST_SESSION);
    close_except(keep, 5);
    if (r->layers & L_NS) {
        if (!g.rootless) {
            if (s->net_fd >= 0 && (setns(s->net_fd, CLONE_NEWNET) != 0 || close(s->net_fd) != 0))
                return init_fail(r, ST_SETNS);
            if (setns(g.tmpl_fd, CLONE_NEWNS) != 0)
                return init_fail(r, ST_SETNS);
            if (unshare(CLONE_NEWNS) != 0)
                return init_fail(r, ST_UNSHARE);
            if (mount_tmp(s->uid) != 0)
                return init_fail(r, ST_TMP);
        }
        /* In a user namespace this works only because the template holds a /proc (see
         * tmpl_main): the kernel refuses a new proc where none is fully visible. */
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "hidepid=invisible,subset=pid") != 0 &&
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            return init_fail(r, ST_PROC);
        sethostname("sandbox", 7);
        if (r->memwatch)
            proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (!g.rootless && g.tmpl_fd >= 0)
        close(g.tmpl_fd);
    /* The cancel eventfd stays open for supervise(); the child closes it (close_range). */
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        return init_fail(r, ST_PIPE);
    r->in_r = in[0];
    r->out_w = out[1];
    r->err_w = err[1];
    if (r->probe) { /* nproc_probe: may a run's user namespace hold two processes? */
        struct rlimit rl = {2, 2};

        setrlimit(RLIMIT_NPROC, &rl);
    }
    if (r->warm) {
        if (pipe2(src, O_CLOEXEC) != 0)
            return init_fail(r, ST_PIPE);
        init_warm(r, in, out, err, src, proc_fd); /* does not return */
    }
    flags = CLONE_VM | CLONE_VFORK | (g.have_pidfd ? CLONE_PIDFD : 0);
    t0 = now_us();
    child = clone(child_main, s->stack_child + SB_STACK_BYTES, flags, r, &pidfd);
    if (child < 0)
        return init_fail(r, ST_CLONE);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (r->fail_step) { /* the child failed before exec and already exited */
        wait4(child, NULL, __WALL, NULL);
        _exit(0);
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    feed[0] = (struct sb_feed){in[1], r->stdin_data, r->stdin_len, 0};
    if (r->stdin_len == 0) {
        close(in[1]);
        feed[0].fd = -1;
    }
    supervise(r, child, pidfd, out[0], err[0], feed, proc_fd, t0);
    _exit(0);
}

/* The namespaces init is cloned into: SB_NS_FLAGS, less the network namespace when the slot
 * has one for its runs to join (slot_net). */
static int run_ns_flags(const struct sb_slot *s) {
    return s->net_fd >= 0 ? SB_NS_FLAGS & ~CLONE_NEWNET : SB_NS_FLAGS;
}

SB_NO_ASAN static int entry_fail(struct sb_run *r, int step) {
    r->fail_step = step;
    r->fail_errno = errno;
    _exit(0);
}

/*
 * entry (rootless mode): joins the template user namespace, where the server's uid holds
 * every capability, and a private copy of the template mount namespace with the run's /tmp,
 * then starts init in a new user namespace with the other namespaces of the run. The /tmp is
 * mounted here, not by init, so that it belongs to the template user namespace, where the
 * server's uid is mapped: the program (whose uid the run's namespace does not map) can then
 * create files in it. entry shares the server's file table (CLONE_FILES), so it closes
 * nothing; init gets a copy and keeps only the cancel eventfd.
 */
SB_NO_ASAN static int entry_main(void *arg) {
    struct sb_run *r = arg;
    struct sb_slot *s = r->slot;
    pid_t pid;
    int st;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setns(g.userns_fd, CLONE_NEWUSER) != 0)
        return entry_fail(r, ST_SETNS_USER);
    if (s->net_fd >= 0 && setns(s->net_fd, CLONE_NEWNET) != 0)
        return entry_fail(r, ST_SETNS);
    if (setns(g.tmpl_fd, CLONE_NEWNS) != 0)
        return entry_fail(r, ST_SETNS);
    if (unshare(CLONE_NEWNS) != 0)
        return entry_fail(r, ST_UNSHARE);
    if (mount_tmp(-1) != 0)
        return entry_fail(r, ST_TMP);
    pid = clone(init_main, s->stack_init + SB_STACK_BYTES,
                CLONE_VM | CLONE_VFORK | CLONE_NEWUSER | CLONE_NEWNS | run_ns_flags(s), r);
    if (pid < 0)
        return entry_fail(r, ST_INIT);
    /* init has exited (vfork); reaping it waits for its PID namespace to empty. */
    while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
        ;
    _exit(0);
}

/* ---- the template root (built once, in its own mount namespace) ---------------------- */

/*
 * Nothing of the host's disk may show in the run's /proc/self/mountinfo (device numbers, file
 * system type and options, the device file system's size, which is half the host's RAM). So
 * the root holds no bind mount of a host file system: host directories are read-only
 * overlays (type "overlay", an anonymous device), the interpreter is copied into the root
 * tmpfs, and /dev is a small tmpfs of its own with three device nodes. Where overlayfs is
 * missing, directories fall back to read-only binds and the start-up line says so.
 *
 * Rootless, the builder runs in a new user namespace (the template one, mapping only the
 * server's uid and gid) and a new PID namespace. Two things differ: an unprivileged user
 * cannot make device nodes, so /dev/null, /dev/zero and /dev/urandom are read-only binds of
 * the host's; and the root holds a /proc (of the builder's PID namespace, empty once the
 * builder exits), because the kernel lets a user namespace mount a new proc only where a proc
 * is already fully visible. Each run mounts its own /proc over it.
 */
struct tmpl_ctx {
    int rootless;
    int ns_fd;
    int user_fd;       /* rootless: the template user namespace */
    unsigned uid, gid; /* rootless: the server's ids, mapped to themselves */
    int fail_errno;
    enum userns_step fail_step; /* rootless: what kind of step failed (userns_explain) */
    int bind_fallback;          /* 1: overlayfs failed; directories are plain binds */
    char fail_what[160];
    char python_real[PATH_MAX]; /* realpath of SB_PYTHON */
    char pylib[PATH_MAX];       /* /usr/lib/python3.X */
};

SB_NO_ASAN static int tmpl_fail_at(struct tmpl_ctx *t, enum userns_step step, const char *what) {
    t->fail_errno = errno;
    t->fail_step = step;
    snprintf(t->fail_what, sizeof(t->fail_what), "%s", what);
    _exit(1);
}

SB_NO_ASAN static int tmpl_fail(struct tmpl_ctx *t, const char *what) {
    return tmpl_fail_at(t, USERNS_MOUNT, what);
}

/* mkdir -p of path (absolute) under SB_STAGE. */
static int stage_mkdirs(const char *path) {
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof(buf), "%s%s", SB_STAGE, path);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    for (char *p = buf + strlen(SB_STAGE) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* The parent directories of host path `path`, created in the stage. */
static int stage_parent(const char *path) {
    char parent[PATH_MAX];
    char *slash;

    snprintf(parent, sizeof(parent), "%s", path);
    slash = strrchr(parent, '/');
    if (!slash || slash == parent)
        return 0;
    *slash = '\0';
    return stage_mkdirs(parent);
}

/* Make the mount at dst read-only (and nosuid, plus extra flags). */
static int remount_ro(const char *dst, unsigned long extra) {
    return mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | extra, NULL);
}

/* Show host directory src read-only at the same path in the stage: an overlay whose layers
 * are src and an empty directory of the stage (overlayfs wants two layers when it has no
 * upper one), or a bind when overlayfs is unavailable. */
static int stage_dir(struct tmpl_ctx *t, const char *src) {
    char dst[PATH_MAX], opts[PATH_MAX + 64];
    int n;

    if (stage_mkdirs(src) != 0)
        return -1;
    snprintf(dst, sizeof(dst), "%s%s", SB_STAGE, src);
    if (!t->bind_fallback && !strpbrk(src, ":,\\")) {
        n = snprintf(opts, sizeof(opts), "lowerdir=%s:%s/proc", src, SB_STAGE);
        if (n > 0 && (size_t)n < sizeof(opts) &&
            mount("overlay", dst, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) == 0)
            return 0;
        t->bind_fallback = 1;
    }
    if (mount(src, dst, NULL, MS_BIND, NULL) != 0)
        return -1;
    return remount_ro(dst, MS_NODEV);
}

/* Copy host file src (the interpreter) into the stage's root tmpfs at the same path. */
static int stage_copy(const char *src) {
    char dst[PATH_MAX];
    struct stat st;
    int in, out, rc = -1;

    if (stage_parent(src) != 0)
        return -1;
    snprintf(dst, sizeof(dst), "%s%s", SB_STAGE, src);
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    out = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0755);
    if (out >= 0 && fstat(in, &st) == 0) {
        off_t left = st.st_size;

        while (left > 0) {
            ssize_t k = sendfile(out, in, NULL, (size_t)left);

            if (k <= 0)
                break;
            left -= k;
        }
        if (left == 0 && fchmod(out, 0755) == 0)
            rc = 0;
    }
    if (out >= 0)
        close(out);
    close(in);
    return rc;
}

/* Replicate a host symlink at the same path in the stage. */
static int stage_symlink(const char *path) {
    char target[PATH_MAX], dst[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof(target) - 1);

    if (n < 0)
        return -1;
    target[n] = '\0';
    snprintf(dst, sizeof(dst), "%s%s", SB_STAGE, path);
    if (symlink(target, dst) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* A library directory: a symlink is copied, a real directory (no symlinked parents) shown. */
static int stage_libdir(struct tmpl_ctx *t, const char *path) {
    char real[PATH_MAX];
    struct stat st;

    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISLNK(st.st_mode)) {
        char parent[PATH_MAX], rparent[PATH_MAX];
        char *slash;

        snprintf(parent, sizeof(parent), "%s", path);
        slash = strrchr(parent, '/');
        if (slash == parent)
            parent[1] = '\0';
        else if (slash)
            *slash = '\0';
        if (!realpath(parent, rparent) || strcmp(rparent, parent) != 0)
            return 0; /* reached through another symlink: covered elsewhere */
        return stage_symlink(path);
    }
    if (!S_ISDIR(st.st_mode) || !realpath(path, real) || strcmp(real, path) != 0)
        return 0;
    return stage_dir(t, path);
}

/* /dev: a read-only tmpfs holding null, zero and urandom (not binds of the host's devtmpfs,
 * whose mount options give away the host's RAM). Rootless: device nodes cannot be made, so
 * each is an empty file with the host's node bound read-only over it. */
static int stage_dev(int rootless) {
    static const struct {
        const char *name;
        unsigned minor;
    } nodes[] = {{"null", 3}, {"zero", 5}, {"urandom", 9}};
    char path[PATH_MAX], host[32];

    snprintf(path, sizeof(path), "%s/dev", SB_STAGE);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=4k,nr_inodes=16,mode=0755") != 0)
        return -1;
    for (size_t i = 0; i < TG_ARRAY_LEN(nodes); i++) {
        snprintf(path, sizeof(path), "%s/dev/%s", SB_STAGE, nodes[i].name);
        if (!rootless) {
            if (mknod(path, S_IFCHR | 0666, makedev(1, nodes[i].minor)) != 0 ||
                chmod(path, 0666) != 0)
                return -1;
            continue;
        }
        {
            int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);

            if (fd < 0)
                return -1;
            close(fd);
        }
        snprintf(host, sizeof(host), "/dev/%s", nodes[i].name);
        if (mount(host, path, NULL, MS_BIND, NULL) != 0 || remount_ro(path, MS_NOEXEC) != 0)
            return -1;
    }
    snprintf(path, sizeof(path), "%s/dev", SB_STAGE);
    return remount_ro(path, MS_NOEXEC);
}

/* Rootless: map the server's uid and gid to themselves in the new user namespace (the only
 * mapping an unprivileged process may write; setgroups must be denied first). */
static int write_id_maps(const struct tmpl_ctx *t) {
    char map[64];

    if (write_file("/proc/self", "setgroups", "deny") != 0)
        return -1;
    snprintf(map, sizeof(map), "%u %u 1", t->uid, t->uid);
    if (write_file("/proc/self", "uid_map", map) != 0)
        return -1;
    snprintf(map, sizeof(map), "%u %u 1", t->gid, t->gid);
    return write_file("/proc/self", "gid_map", map);
}

SB_NO_ASAN static int tmpl_main(void *arg) {
    static const char *const libdirs[] = {
        "/lib", "/lib64", "/usr/lib64", "/usr/lib/" SB_MULTIARCH, "/lib/" SB_MULTIARCH,
    };
    struct tmpl_ctx *t = arg;
    struct stat st;
    char opts[64];

    if (t->rootless) {
        if (write_id_maps(t) != 0)
            return tmpl_fail_at(t, USERNS_MAP, "write the uid and gid maps");
        t->user_fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        if (t->user_fd < 0)
            return tmpl_fail(t, "open /proc/self/ns/user");
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return tmpl_fail(t, "make / private");
    t->ns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (t->ns_fd < 0)
        return tmpl_fail(t, "open /proc/self/ns/mnt");
    if (stat(t->python_real, &st) != 0)
        return tmpl_fail(t, "stat the python binary");
    /* room for the interpreter and a few directories; read-only once built */
    snprintf(opts, sizeof(opts), "size=%lluk,mode=0755",
             (unsigned long long)st.st_size / 1024 + 1024);
    if (mount("tmpfs", SB_STAGE, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
        return tmpl_fail(t, "mount the root tmpfs");
    if (stage_mkdirs("/usr/bin") || stage_mkdirs("/dev") || stage_mkdirs("/proc") ||
        stage_mkdirs("/tmp"))
        return tmpl_fail(t, "create root directories");
    if (stage_copy(t->python_real) != 0)
        return tmpl_fail(t, "copy the python binary");
    if (lstat(SB_PYTHON, &st) == 0 && S_ISLNK(st.st_mode) && stage_symlink(SB_PYTHON) != 0)
        return tmpl_fail(t, "link " SB_PYTHON);
    if (stage_dir(t, t->pylib) != 0)
        return tmpl_fail(t, "show the python library");
    for (size_t i = 0; i < TG_ARRAY_LEN(libdirs); i++)
        if (stage_libdir(t, libdirs[i]) != 0)
            return tmpl_fail(t, libdirs[i]);
    if (stage_dev(t->rootless) != 0)
        return tmpl_fail(t, "make /dev");
    /* last: the overlays above use the empty directory under it as their second layer */
    if (t->rootless &&
        mount("proc", SB_STAGE "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return tmpl_fail_at(t, USERNS_PROC, "mount /proc");
    if (chdir(SB_STAGE) != 0 || syscall(SYS_pivot_root, ".", ".") != 0)
        return tmpl_fail(t, "pivot_root");
    if (umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        return tmpl_fail(t, "detach the old root");
    if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        return tmpl_fail(t, "remount the root read-only");
    _exit(0);
}

/*
 * Clone fn(arg) on stack (CLONE_VM | CLONE_VFORK and flags) with every signal blocked around
 * the clone, so that no handler of ours runs on the child's stack while it shares our memory.
 * Returns when the child has exited or exec'd: its pid, or -1 with errno.
 */
static pid_t clone_blocked(int (*fn)(void *), char *stack, int flags, void *arg) {
    sigset_t all, old;
    pid_t pid;
    int e;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = clone(fn, stack + SB_STACK_BYTES, CLONE_VM | CLONE_VFORK | flags, arg);
    e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return pid;
}

/* clone_blocked, then reap the child (its wait status to *st unless st is NULL). 0, or -1 with
 * errno when clone failed. */
static int clone_wait(int (*fn)(void *), char *stack, int flags, void *arg, int *st) {
    pid_t pid = clone_blocked(fn, stack, flags, arg);

    if (pid < 0)
        return -1;
    while (waitpid(pid, st, __WALL) < 0 && errno == EINTR)
        ;
    return 0;
}

/*
 * Build the template root: in a new mount namespace (root mode), or in new user, mount and
 * PID namespaces (rootless). Sets g.tmpl_fd (and g.userns_fd) on success. Returns 0,
 * TG_ENOMEM, or TG_EIO with *err saying why; rootless, the reason comes from userns_explain.
 */
static int build_template(int rootless, struct tg_error *err) {
    struct tmpl_ctx *t;
    char *stack = NULL;
    const char *base;
    struct userns_host host;
    char why[TG_ERR_MSG_MAX];
    pid_t pid;
    int st = 0, rc = TG_EIO, flags = CLONE_FILES | CLONE_NEWNS;

    t = calloc(1, sizeof(*t));
    if (!t)
        return TG_ENOMEM;
    t->ns_fd = t->user_fd = -1;
    t->rootless = rootless;
    t->uid = (unsigned)geteuid();
    t->gid = (unsigned)getegid();
    if (rootless)
        flags |= CLONE_NEWUSER | CLONE_NEWPID;
    if (!realpath(SB_PYTHON, t->python_real)) {
        tg_error_set(err, "sandbox_unavailable", "%s not found", SB_PYTHON);
        goto done;
    }
    base = strrchr(t->python_real, '/');
    snprintf(t->pylib, sizeof(t->pylib), "/usr/lib/%s", base ? base + 1 : "python3");
    stack = mmap(NULL, SB_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
        stack = NULL;
        rc = TG_ENOMEM;
        goto done;
    }
    pid = clone_blocked(tmpl_main, stack, flags, t);
    if (pid < 0) {
        t->fail_errno = errno;
        t->fail_step = USERNS_CLONE;
    }
    if (pid < 0 && !rootless) {
        tg_error_set(err, "sandbox_unavailable", "clone(CLONE_NEWNS): %s", strerror(t->fail_errno));
        goto done;
    }
    if (pid >= 0 && waitpid(pid, &st, __WALL) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        g.tmpl_fd = t->ns_fd;
        g.userns_fd = t->user_fd;
        g.bind_fallback = t->bind_fallback;
        rc = 0;
        goto done;
    }
    if (t->ns_fd >= 0)
        close(t->ns_fd);
    if (t->user_fd >= 0)
        close(t->user_fd);
    if (rootless &&
        (t->fail_step == USERNS_CLONE || t->fail_errno == EPERM || t->fail_errno == EACCES)) {
        userns_host_read(&host);
        userns_explain(&host, t->fail_step, t->fail_errno, why, sizeof(why));
        tg_error_set(err, "sandbox_unavailable", "%s", why);
    } else {
        tg_error_set(err, "sandbox_unavailable", "building the sandbox root: %s: %s",
                     t->fail_what[0] ? t->fail_what : "init died", strerror(t->fail_errno));
    }
done:
    if (stack)
        munmap(stack, SB_STACK_BYTES);
    free(t);
    return rc;
}

/* ---- the seccomp filter ----------------------------------------------------------------- */

static int build_filter(struct tg_error *err) {
    /* EPERM, so that Python raises a readable PermissionError:
     * - the socket family, io_uring, perf events, userfaultfd, process_vm_*;
     * - inotify and fanotify: the binds are shared by concurrent runs, so a watch would show
     *   what another run opens (its imports);
     * - host statistics: sysinfo (RAM, uptime, load, task count), statfs/fstatfs/ustat (the
     *   size and free space of the host's disk behind the read-only binds);
     * - memory no process's RSS shows: memfd_create and System V shared memory, message
     *   queues and semaphores (their pages and kernel objects outlive any mapping, so the
     *   memory watch of runs without a memory cgroup could not see them). */
    static const char *const eperm[] = {
        "socket",
        "socketpair",
        "connect",
        "bind",
        "listen",
        "accept",
        "accept4",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "perf_event_open",
        "userfaultfd",
        "process_vm_readv",
        "process_vm_writev",
        "inotify_init",
        "inotify_init1",
        "inotify_add_watch",
        "inotify_rm_watch",
        "fanotify_init",
        "fanotify_mark",
        "sysinfo",
        "statfs",
        "fstatfs",
        "ustat",
        "memfd_create",
        "shmget",
        "msgget",
        "semget",
    };
    /* Kernel attack surface and escapes: kill the process. */
    static const char *const kill_list[] = {
        "ptrace",
        "mount",
        "umount2",
        "unshare",
        "setns",
        "bpf",
        "keyctl",
        "add_key",
        "request_key",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "reboot",
        "pivot_root",
        "chroot",
        "open_by_handle_at",
        "name_to_handle_at",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "open_tree",
        "move_mount",
        "mount_setattr",
        "swapon",
        "swapoff",
        "acct",
    };
    static const unsigned long ns_flags[] = {
        CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
        CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
    };
    scmp_filter_ctx ctx;
    uint32_t kill_act = seccomp_api_get() >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL;
    int rc = TG_EIO, fd = -1;
    off_t size;

    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        tg_error_set(err, "sandbox_unavailable", "seccomp_init failed");
        return TG_EIO;
    }
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill_act) != 0)
        goto fail;
    for (size_t i = 0; i < TG_ARRAY_LEN(eperm); i++) {
        int nr = seccomp_syscall_resolve_name(eperm[i]);

        if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0)
            goto fail;
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(kill_list); i++) {
        int nr = seccomp_syscall_resolve_name(kill_list[i]);

        if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, kill_act, nr, 0) != 0)
            goto fail;
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(ns_flags); i++)
        if (seccomp_rule_add(ctx, kill_act, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i])) != 0)
            goto fail;
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0)
        goto fail;
    fd = memfd_create("toolgym-seccomp", MFD_CLOEXEC);
    if (fd < 0 || seccomp_export_bpf(ctx, fd) != 0)
        goto fail;
    size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) > USHRT_MAX)
        goto fail;
    g.filter = malloc((size_t)size);
    if (!g.filter) {
        rc = TG_ENOMEM;
        goto fail;
    }
    if (pread(fd, g.filter, (size_t)size, 0) != size) {
        free(g.filter);
        g.filter = NULL;
        goto fail;
    }
    g.prog.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    g.prog.filter = g.filter;
    rc = 0;
fail:
    if (rc)
        tg_error_set(err, "sandbox_unavailable", "building the seccomp filter failed");
    if (fd >= 0)
        close(fd);
    seccomp_release(ctx);
    return rc;
}

/* ---- cgroups (v1 memory + pids) ------------------------------------------------------- */

/* The path of our own cgroup in hierarchy `controller` from /proc/self/cgroup. */
static int own_cgroup(const char *controller, char *out, size_t n) {
    char line[1024];
    FILE *f = fopen("/proc/self/cgroup", "re");
    int rc = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        size_t clen = strlen(controller);

        if (!c2)
            continue;
        if ((size_t)(c2 - c1 - 1) != clen || strncmp(c1 + 1, controller, clen) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(out, n, "%s", strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

static void cgroups_remove(void) {
    char path[PATH_MAX + 32];

    for (int i = 0; i < g.nslots; i++) {
        struct sb_slot *s = &g.slots[i];

        if (s->mem_fd >= 0)
            close(s->mem_fd);
        if (s->pids_fd >= 0)
            close(s->pids_fd);
        s->mem_fd = s->pids_fd = -1;
        if (g.memcg[0]) {
            snprintf(path, sizeof(path), "%s/slot%d", g.memcg, i);
            rmdir(path);
        }
        if (g.pidscg[0]) {
            snprintf(path, sizeof(path), "%s/slot%d", g.pidscg, i);
            rmdir(path);
        }
    }
    if (g.memcg[0])
        rmdir(g.memcg);
    if (g.pidscg[0])
        rmdir(g.pidscg);
    g.memcg[0] = g.pidscg[0] = '\0';
}

/* Remove toolgym-<pid> cgroups left by processes that are gone (crashed, killed). */
static void cgroups_reap_stale(const char *parent) {
    char path[PATH_MAX + 64];
    struct dirent *de;
    DIR *d = opendir(parent);

    if (!d)
        return;
    while ((de = readdir(d))) {
        char *end;
        long pid;

        if (strncmp(de->d_name, "toolgym-", 8) != 0)
            continue;
        pid = strtol(de->d_name + 8, &end, 10);
        if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        for (int i = 0; i < 1024; i++) {
            snprintf(path, sizeof(path), "%s/%s/slot%d", parent, de->d_name, i);
            if (rmdir(path) != 0 && errno == ENOENT)
                break;
        }
        snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
        rmdir(path);
    }
    closedir(d);
}

/* Make <mount>/<own>/toolgym-<pid>/slot<i> for both controllers. 0 when all worked. */
static int cgroups_create(void) {
    static const struct {
        const char *ctl;
        size_t off; /* into g: memcg or pidscg */
    } h[] = {{"memory", 0}, {"pids", 1}};
    char own[512], dir[PATH_MAX + 32], val[32];

    for (size_t k = 0; k < TG_ARRAY_LEN(h); k++) {
        char *base = h[k].off ? g.pidscg : g.memcg;

        if (own_cgroup(h[k].ctl, own, sizeof(own)) != 0)
            goto fail;
        snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s%s", h[k].ctl, own);
        cgroups_reap_stale(dir);
        snprintf(base, PATH_MAX, "/sys/fs/cgroup/%s%s/toolgym-%d", h[k].ctl, own, (int)getpid());
        if (mkdir(base, 0755) != 0 && errno != EEXIST) {
            base[0] = '\0';
            goto fail;
        }
        for (int i = 0; i < g.nslots; i++) {
            struct sb_slot *s = &g.slots[i];
            int *fdp = h[k].off ? &s->pids_fd : &s->mem_fd;

            snprintf(dir, sizeof(dir), "%s/slot%d", base, i);
            if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                goto fail;
            if (h[k].off) {
                /* + the launcher, init, (rootless) entry and (warm) the zygote */
                snprintf(val, sizeof(val), "%d",
                         TG_CODE_PIDS + (g.rootless ? 3 : 2) + (g.want_warm ? 1 : 0));
                if (write_file(dir, "pids.max", val) != 0)
                    goto fail;
            } else {
                snprintf(val, sizeof(val), "%lu", (unsigned long)TG_CODE_MEM_BYTES);
                if (write_file(dir, "memory.limit_in_bytes", val) != 0)
                    goto fail;
                write_file(dir, "memory.memsw.limit_in_bytes", val); /* absent without swap */
                /* init lives in this cgroup (inherited from the launcher) and shares the
                 * server's address space: an OOM kill choosing it would kill the server. So
                 * no OOM killer here: a run over the limit stalls until the wall clock. */
                if (write_file(dir, "memory.oom_control", "1") != 0)
                    goto fail;
            }
            snprintf(dir, sizeof(dir), "%s/slot%d/tasks", base, i);
            *fdp = open(dir, O_WRONLY | O_CLOEXEC);
            if (*fdp < 0)
                goto fail;
        }
    }
    return 0;
fail:
    cgroups_remove();
    return -1;
}

/* ---- slot uids: claimed host-wide, so that two servers never share one --------------------- */

/*
 * Slot uids are per host, not per server: two servers whose runs used the same uid would
 * share its RLIMIT_NPROC count (one could starve the other's runs of processes). So each
 * server claims its uids in SB_UID_LOCKS, one file per uid holding an flock for as long as
 * the server lives (the kernel drops it when the process dies, crash included). A uid that
 * a live process already runs as (another sandbox without the claim files, a real user) is
 * never claimed either.
 */

/* Mark in used[] (one byte per uid of [lo, lo + n)) the real uids of live processes. */
static void uids_running(unsigned lo, unsigned n, unsigned char *used) {
    DIR *d = opendir("/proc");
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        char path[300], line[256];
        FILE *f;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
        f = fopen(path, "re");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f)) {
            unsigned uid;

            if (sscanf(line, "Uid: %u", &uid) == 1) {
                if (uid >= lo && uid - lo < n)
                    used[uid - lo] = 1;
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
}

/* The directory of claim files, created root-only; an fd, or -1 with *err. */
static int uid_lock_dir(struct tg_error *err) {
    struct stat st;
    int fd;

    if (mkdir(SB_UID_LOCKS, 0700) != 0 && errno != EEXIST) {
        tg_error_set(err, TG_CODE_CONFIG, "cannot create %s to claim slot uids: %s", SB_UID_LOCKS,
                     strerror(errno));
        return -1;
    }
    fd = open(SB_UID_LOCKS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022)) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "%s must be a directory owned by root and writable only by it", SB_UID_LOCKS);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Claim uid: an fd holding its flock, or -1 (*holder: the claimer's pid when known, else 0). */
static int uid_claim_one(int dir, unsigned uid, long *holder) {
    char name[32], pid[24];
    int fd, n;

    *holder = 0;
    snprintf(name, sizeof(name), "uid-%u", uid);
    fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
        if (n > 0) {
            pid[n] = '\0';
            *holder = strtol(pid, NULL, 10);
        }
        close(fd);
        return -1;
    }
    n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* the claim holds without the pid; the file is only a hint for error messages */
    }
    return fd;
}

static void uids_release(void) {
    if (g.uid_locks) {
        for (int i = 0; i < g.nslots; i++)
            if (g.uid_locks[i] >= 0)
                close(g.uid_locks[i]);
        free(g.uid_locks);
        g.uid_locks = NULL;
    }
}

/*
 * Claim n slot uids from `want` (0: the first free block at or above TG_UID_BASE_DEFAULT that
 * ends below TG_UID_AUTO_END). Sets g.uid_base and g.uid_locks. Returns 0, TG_ENOMEM, or
 * TG_EBUSY with *err saying which uid is taken and by whom.
 */
static int uids_claim(unsigned want, int n, struct tg_error *err) {
    unsigned lo = want ? want : TG_UID_BASE_DEFAULT;
    unsigned span = want ? (unsigned)n : TG_UID_AUTO_END - TG_UID_BASE_DEFAULT;
    unsigned char *used = calloc(span, 1);
    int dir = -1, rc = TG_EBUSY;

    g.uid_locks = calloc((size_t)n, sizeof(int));
    if (!used || !g.uid_locks) {
        rc = TG_ENOMEM;
        goto done;
    }
    dir = uid_lock_dir(err);
    if (dir < 0)
        goto done;
    uids_running(lo, span, used);
    for (unsigned base = lo; base - lo + (unsigned)n <= span;) {
        int got = 0;
        long holder = 0;
        unsigned bad = 0;

        for (; got < n; got++) {
            unsigned uid = base + (unsigned)got;

            /* the claim first: a warm server's idle slots hold prepared programs, so its uids
             * run processes; the claim names that server */
            g.uid_locks[got] = uid_claim_one(dir, uid, &holder);
            if (g.uid_locks[got] < 0) {
                bad = uid;
                break;
            }
            if (used[uid - lo]) {
                close(g.uid_locks[got]);
                bad = uid;
                break;
            }
        }
        if (got == n) {
            g.uid_base = base;
            rc = 0;
            goto done;
        }
        while (got > 0)
            close(g.uid_locks[--got]);
        if (want) {
            if (holder > 0)
                tg_error_set(err, TG_CODE_CONFIG,
                             "--uid-base %u: uid %u is claimed by another toolgym server (pid "
                             "%ld); give each server its own range",
                             want, bad, holder);
            else
                tg_error_set(err, TG_CODE_CONFIG,
                             "--uid-base %u: uid %u is %s; give each server its own range", want,
                             bad, used[bad - lo] ? "already running processes" : "not claimable");
            goto done;
        }
        base = bad + 1;
    }
    tg_error_set(err, TG_CODE_CONFIG,
                 "no %d free slot uids in %u..%u (claimed by other toolgym servers or running "
                 "processes); choose a range with --uid-base",
                 n, (unsigned)TG_UID_BASE_DEFAULT, (unsigned)TG_UID_AUTO_END - 1);
done:
    if (rc) {
        free(g.uid_locks);
        g.uid_locks = NULL;
    }
    if (dir >= 0)
        close(dir);
    free(used);
    return rc;
}

/* ---- slots --------------------------------------------------------------------------------- */

static void zyg_stop(struct sb_slot *s);

static void *map_or_null(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void slots_free(void) {
    for (int i = 0; i < g.nslots; i++) {
        struct sb_slot *s = &g.slots[i];

        zyg_stop(s);
        if (s->stack_entry)
            munmap(s->stack_entry, SB_STACK_BYTES);
        if (s->stack_init)
            munmap(s->stack_init, SB_STACK_BYTES);
        if (s->stack_child)
            munmap(s->stack_child, SB_STACK_BYTES);
        if (s->out)
            munmap(s->out, 3 * (size_t)TG_OUTPUT_MAX_BYTES);
        if (s->workdir[0])
            nftw(s->workdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        if (s->cancel_fd >= 0)
            close(s->cancel_fd);
        if (s->go_fd >= 0)
            close(s->go_fd);
        if (s->net_fd >= 0)
            close(s->net_fd);
        free(s->prep);
        pthread_cond_destroy(&s->job_cv);
    }
    free(g.slots);
    g.slots = NULL;
    g.nslots = 0;
}

static int slots_alloc(int n) {
    g.slots = calloc((size_t)n, sizeof(*g.slots));
    if (!g.slots)
        return TG_ENOMEM;
    g.nslots = n;
    for (int i = 0; i < n; i++) {
        struct sb_slot *s = &g.slots[i];

        s->index = i;
        s->uid = g.uid_base + (unsigned)i;
        s->mem_fd = s->pids_fd = -1;
        s->zsock = s->zlog = -1;
        s->cancel_fd = s->go_fd = s->net_fd = -1;
        pthread_cond_init(&s->job_cv, NULL);
        s->cancel_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        s->go_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        s->prep = calloc(1, sizeof(*s->prep));
        if (s->cancel_fd < 0 || s->go_fd < 0 || !s->prep)
            return TG_ENOMEM;
        s->stack_entry = map_or_null(SB_STACK_BYTES);
        s->stack_init = map_or_null(SB_STACK_BYTES);
        s->stack_child = map_or_null(SB_STACK_BYTES);
        s->out = map_or_null(3 * (size_t)TG_OUTPUT_MAX_BYTES);
        if (!s->stack_entry || !s->stack_init || !s->stack_child || !s->out)
            return TG_ENOMEM;
        s->err = s->out + TG_OUTPUT_MAX_BYTES;
        s->scratch = s->err + TG_OUTPUT_MAX_BYTES;
    }
    return 0;
}

/* Per-slot working directories for runs without a mount namespace (unsafe mode). */
static int workdirs_create(void) {
    for (int i = 0; i < g.nslots; i++) {
        struct sb_slot *s = &g.slots[i];

        if (s->workdir[0])
            continue;
        snprintf(s->workdir, sizeof(s->workdir), "/tmp/toolgym-sandbox-XXXXXX");
        if (!mkdtemp(s->workdir)) {
            s->workdir[0] = '\0';
            return -1;
        }
        if (g.is_root && chown(s->workdir, s->uid, s->uid) != 0)
            return -1;
    }
    return 0;
}

/* A waiter's cancel hook: wake the slot waiters so that the cancelled one gives up. */
static void wake_waiters(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g.mu);
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

/* Wait until fewer than max_running runs are in flight and take a free slot, one with a
 * prepared run first (warm mode keeps two slots per concurrent run, so that one readies its
 * next run while the other runs); NULL when cancel fires first. */
static struct sb_slot *slot_acquire(struct tg_cancel *cancel) {
    struct sb_slot *s = NULL;

    if (cancel && tg_cancel_hook(cancel, wake_waiters, NULL))
        return NULL;
    pthread_mutex_lock(&g.mu);
    while (!s && !tg_cancel_fired(cancel)) {
        for (int i = 0; i < g.nslots && g.running < g.max_running; i++) {
            struct sb_slot *c = &g.slots[i];

            if (c->busy)
                continue;
            if (!s || (__atomic_load_n(&c->prep_state, __ATOMIC_ACQUIRE) == SB_PREP_READY &&
                       __atomic_load_n(&s->prep_state, __ATOMIC_ACQUIRE) != SB_PREP_READY))
                s = c;
        }
        if (!s)
            pthread_cond_wait(&g.cv, &g.mu);
    }
    if (s) {
        s->busy = 1;
        g.running++;
    }
    pthread_mutex_unlock(&g.mu);
    if (cancel)
        tg_cancel_unhook(cancel);
    return s;
}

static void slot_release(struct sb_slot *s) {
    pthread_mutex_lock(&g.mu);
    s->busy = 0;
    g.running--;
    pthread_cond_broadcast(&g.cv); /* waiters include cancelled ones that must wake too */
    pthread_mutex_unlock(&g.mu);
}

/* The running run's cancel hook: init polls the slot's eventfd and kills the program. */
static void slot_cancel_hook(void *arg) {
    struct sb_slot *s = arg;
    uint64_t one = 1;

    if (write(s->cancel_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        /* the counter is already non-zero: a cancel is pending anyway */
    }
}

/* Empty the slot's cancel eventfd (a cancel that came after its run ended). */
static void slot_cancel_reset(struct sb_slot *s) {
    uint64_t n;

    while (read(s->cancel_fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        ;
}

/* ---- zygotes (warm mode) -----------------------------------------------------------------------
 */

/*
 * Warm mode keeps, per slot, a zygote: a python3 -I -S -u that has started (run the program's
 * interpreter start-up, imported what that imports) and then only forks. It never runs a
 * program: its loop reads a request, joins the run's PID namespace (made by that run's init, as
 * in a cold run), forks, and reaps the child. The child names itself tg-prepared, forks the
 * program and exits. The program does what child_main does before exec (joins init's other
 * namespaces, takes the pipes, chdir /tmp, the slot uid or no capabilities, its own session,
 * NO_NEW_PRIVS, rlimits, the seccomp filter), says K, forgets the zygote's modules and
 * globals, and blocks reading its source from fd 4 (init writes it once a job came: see
 * "prepared runs"); then it takes the name python3 again and runs the source as `python3 -c`
 * would. The zygote first compiles once, so that a run's compile() finds the parser set up
 * (about 1.5 ms of a first compile otherwise). docs/sandbox.md, "Warm mode".
 *
 * The zygote lives in the slot's cgroups (started by the launcher), in a private copy of the
 * template mount namespace and new net, IPC, UTS and cgroup namespaces of its own, in the
 * server's PID namespace (so that each run's PID namespace, made by init, is a descendant it
 * may join). Root mode: it is root. Rootless: it is in the template user namespace holding
 * CAP_SYS_ADMIN and CAP_SYS_CHROOT as ambient capabilities (enough to join a run's namespaces,
 * which that user namespace owns).
 *
 * The Python side below is run with -c; a prologue sets H (the seccomp filter in hex), NEWPID,
 * NSF (the namespaces the child joins), CMAX, ROOTLESS, U (the slot uid), LIM (rlimits),
 * NR_SECCOMP, NR_CAPSET and the ST_* step numbers of enum sb_step, and first saves G0 (the
 * globals a `-c` program starts with).
 */
static const char zyg_body[] =
    "import sys\n"
    "M0=frozenset(sys.modules)\n"
    "import posix,_socket,resource,ctypes\n"
    "L=ctypes.CDLL(None,use_errno=True)\n"
    "FB=ctypes.create_string_buffer(bytes.fromhex(H),len(H)//2)\n"
    "class P(ctypes.Structure):\n"
    "    _fields_=[('n',ctypes.c_ushort),('f',ctypes.c_void_p)]\n"
    "PR=P(len(H)//16,ctypes.cast(FB,ctypes.c_void_p))\n"
    "S=_socket.socket(fileno=3)\n"
    "def E(st,en):\n"
    "    try:\n"
    "        S.send(('E'+str(st)+' '+str(en or 0)).encode())\n"
    "    finally:\n"
    "        posix._exit(127)\n"
    "import _signal\n"
    "def serve():\n"
    "    import gc\n"
    "    compile('pass','<string>','exec',dont_inherit=True)\n"
    "    gc.freeze()\n"
    "    del sys.modules['gc']\n"
    "    S.send(b'Z')\n"
    "    while True:\n"
    "        m,a,fl,ad=S.recvmsg(16,_socket.CMSG_SPACE(20))\n"
    "        if not m:\n"
    "            posix._exit(0)\n"
    "        fds=[]\n"
    "        for lv,ty,d in a:\n"
    "            if lv==_socket.SOL_SOCKET and ty==_socket.SCM_RIGHTS:\n"
    "                fds+=memoryview(d[:len(d)//4*4]).cast('i').tolist()\n"
    "        if m!=b'R' or len(fds)!=5:\n"
    "            posix._exit(3)\n"
    "        if L.setns(fds[0],NEWPID)!=0:\n"
    "            E(ST_SETNS,ctypes.get_errno())\n"
    "        try:\n"
    "            pid=posix.fork()\n"
    "        except OSError as x:\n"
    "            E(ST_CLONE,x.errno)\n"
    "        if pid==0:\n"
    "            return fds\n"
    "        for f in fds:\n"
    "            posix.close(f)\n"
    "        S.send(b'F')\n"
    "        try:\n"
    "            posix.wait4(pid,0)\n"
    "        except ChildProcessError:\n"
    "            pass\n"
    "        S.send(b'X')\n"
    "fds=serve()\n"
    "L.prctl(15,b'tg-prepared',ctypes.c_ulong(0),ctypes.c_ulong(0),ctypes.c_ulong(0))\n"
    "try:\n"
    "    if posix.fork():\n"
    "        posix._exit(0)\n"
    "except OSError as x:\n"
    "    E(ST_CLONE,x.errno)\n"
    "if L.setns(fds[0],NSF)!=0:\n"
    "    E(ST_SETNS,ctypes.get_errno())\n"
    "try:\n"
    "    posix.dup2(fds[1],0)\n"
    "    posix.dup2(fds[2],1)\n"
    "    posix.dup2(fds[3],2)\n"
    "    posix.dup2(fds[4],4)\n"
    "    posix.closerange(5,2147483647)\n"
    "except OSError as x:\n"
    "    E(ST_FDS,x.errno)\n"
    "try:\n"
    "    posix.chdir('/tmp')\n"
    "except OSError as x:\n"
    "    E(ST_CHDIR,x.errno)\n"
    "if ROOTLESS:\n"
    "    hd=(ctypes.c_uint32*2)(0x20080522,0)\n"
    "    cd=(ctypes.c_uint32*6)()\n"
    "    if L.syscall(ctypes.c_long(NR_CAPSET),ctypes.byref(hd),ctypes.byref(cd))!=0:\n"
    "        E(ST_CAPS,ctypes.get_errno())\n"
    "else:\n"
    "    try:\n"
    "        posix.setgroups([])\n"
    "        posix.setresgid(U,U,U)\n"
    "        posix.setresuid(U,U,U)\n"
    "    except OSError as x:\n"
    "        E(ST_IDS,x.errno)\n"
    "L.prctl(4,ctypes.c_ulong(1),ctypes.c_ulong(0),ctypes.c_ulong(0),ctypes.c_ulong(0))\n"
    "try:\n"
    "    posix.setsid()\n"
    "except OSError as x:\n"
    "    E(ST_SESSION,x.errno)\n"
    "if L.prctl(38,ctypes.c_ulong(1),ctypes.c_ulong(0),ctypes.c_ulong(0),ctypes.c_ulong(0))!=0:\n"
    "    E(ST_NNP,ctypes.get_errno())\n"
    "try:\n"
    "    for r,v in LIM:\n"
    "        resource.setrlimit(r,(v,v))\n"
    "except (OSError,ValueError) as x:\n"
    "    E(ST_RLIMIT,getattr(x,'errno',0) or 22)\n"
    "if "
    "L.syscall(ctypes.c_long(NR_SECCOMP),ctypes.c_long(1),ctypes.c_long(0),ctypes.byref(PR))!=0:\n"
    "    E(ST_SECCOMP,ctypes.get_errno())\n"
    "SN=L.prctl\n"
    "S.send(b'K')\n"
    "S.detach()\n"
    "posix.close(3)\n"
    "del fds,S,L,FB,PR,P,E,serve\n"
    "for k in list(sys.modules):\n"
    "    if k not in M0:\n"
    "        del sys.modules[k]\n"
    "code=b''\n"
    "while len(code)<CMAX:\n"
    "    b=posix.read(4,CMAX)\n"
    "    if not b:\n"
    "        break\n"
    "    code+=b\n"
    "posix.close(4)\n"
    "SN(15,b'python3',ctypes.c_ulong(0),ctypes.c_ulong(0),ctypes.c_ulong(0))\n"
    "src=code.decode('utf-8','surrogateescape')\n"
    "del code,b,SN\n"
    "m=type(sys)('__main__')\n"
    "m.__dict__.update(G0)\n"
    "if '__annotations__' in G0:\n"
    "    m.__annotations__={}\n"
    "sys.modules['__main__']=m\n"
    "sys.orig_argv=sys.orig_argv[:-1]+[src]\n"
    "rc=0\n"
    "sig=0\n"
    "try:\n"
    "    exec(compile(src,'<string>','exec',dont_inherit=True),m.__dict__)\n"
    "except SystemExit as x:\n"
    "    c=x.code\n"
    "    if c is None:\n"
    "        rc=0\n"
    "    elif isinstance(c,int):\n"
    "        rc=c\n"
    "    else:\n"
    "        try:\n"
    "            sys.stderr.write(str(c)+'\\n')\n"
    "        except BaseException:\n"
    "            pass\n"
    "        rc=1\n"
    "    del x\n"
    "except BaseException as x:\n"
    "    x.__traceback__=x.__traceback__.tb_next\n"
    "    try:\n"
    "        sys.excepthook(type(x),x,x.__traceback__)\n"
    "    except BaseException:\n"
    "        pass\n"
    "    sig=2 if isinstance(x,KeyboardInterrupt) else 0\n"
    "    rc=1\n"
    "    del x\n"
    "def fin():\n"
    "    t=sys.modules.get('threading')\n"
    "    if t is not None:\n"
    "        t._shutdown()\n"
    "    import atexit\n"
    "    atexit._run_exitfuncs()\n"
    "    m.__dict__.clear()\n"
    "    import gc\n"
    "    gc.collect()\n"
    "    for f in (sys.stdout,sys.stderr):\n"
    "        try:\n"
    "            f.flush()\n"
    "        except BaseException:\n"
    "            pass\n"
    "try:\n"
    "    fin()\n"
    "except BaseException:\n"
    "    pass\n"
    "if sig:\n"
    "    _signal.signal(2,_signal.SIG_DFL)\n"
    "    posix.kill(posix.getpid(),2)\n"
    "posix._exit(rc&255)\n";

/* The -c script of slot s's zygote: a prologue of constants, then zyg_body. New (malloc). */
static char *zyg_script(const struct sb_slot *s) {
    size_t hexlen = (size_t)g.prog.len * sizeof(struct sock_filter) * 2;
    size_t cap = hexlen + sizeof(zyg_body) + 2048;
    char *out = malloc(cap), *p;
    const unsigned char *f = (const unsigned char *)g.filter;
    int userns = g.rootless;
    int nsf = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP |
              (userns ? CLONE_NEWUSER : 0);
    int n;

    if (!out)
        return NULL;
    p = out + snprintf(out, cap, "G0=dict(globals())\nH='");
    for (size_t i = 0; i < hexlen / 2; i++) {
        static const char hex[] = "0123456789abcdef";

        *p++ = hex[f[i] >> 4];
        *p++ = hex[f[i] & 15];
    }
    n = snprintf(p, cap - (size_t)(p - out),
                 "'\nNEWPID=%d\nNSF=%d\nCMAX=%d\nROOTLESS=%d\nU=%u\n"
                 "LIM=((%d,%lu),(%d,%lu),(%d,%lu),(%d,%lu),(%d,%lu),(%d,0))\n"
                 "NR_SECCOMP=%d\nNR_CAPSET=%d\nST_SETNS=%d\nST_CLONE=%d\nST_FDS=%d\n"
                 "ST_CHDIR=%d\nST_CAPS=%d\nST_IDS=%d\nST_SESSION=%d\nST_NNP=%d\nST_RLIMIT=%d\n"
                 "ST_SECCOMP=%d\n%s",
                 CLONE_NEWPID, nsf, TG_CODE_MAX_BYTES + 1, userns, s->uid, RLIMIT_CPU,
                 (unsigned long)TG_CODE_CPU_SEC, RLIMIT_AS, (unsigned long)TG_CODE_AS_BYTES,
                 RLIMIT_FSIZE, (unsigned long)TG_CODE_FSIZE_BYTES, RLIMIT_NOFILE,
                 (unsigned long)TG_CODE_NOFILE, RLIMIT_NPROC,
                 (unsigned long)(userns ? TG_CODE_NPROC + 1 : TG_CODE_NPROC), RLIMIT_CORE,
                 (int)SYS_seccomp, (int)SYS_capset, ST_SETNS, ST_CLONE, ST_FDS, ST_CHDIR, ST_CAPS,
                 ST_IDS, ST_SESSION, ST_NNP, ST_RLIMIT, ST_SECCOMP, zyg_body);
    if (n < 0 || (size_t)n >= cap - (size_t)(p - out)) {
        free(out);
        return NULL;
    }
    return out;
}

struct zyg_start_ctx {
    char *argv[7];
    int sock, in_r, log_w;
    int fail_step, fail_errno;
};

SB_NO_ASAN static int zyg_fail(struct zyg_start_ctx *z, int step) {
    z->fail_step = step;
    z->fail_errno = errno;
    _exit(127);
}

/* The zygote before it execs python (CLONE_VM|CLONE_VFORK from the launcher: system calls
 * only). */
SB_NO_ASAN static int zyg_main(void *arg) {
    static char *const envp[] = {NULL};
    struct zyg_start_ctx *z = arg;
    int fds[3];

    reset_signals(0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setsid() < 0)
        return zyg_fail(z, ST_SESSION);
    if (g.rootless && setns(g.userns_fd, CLONE_NEWUSER) != 0)
        return zyg_fail(z, ST_SETNS_USER);
    if (setns(g.tmpl_fd, CLONE_NEWNS) != 0)
        return zyg_fail(z, ST_SETNS);
    if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) != 0)
        return zyg_fail(z, ST_UNSHARE);
    if (g.rootless) {
        /* keep CAP_SYS_ADMIN and CAP_SYS_CHROOT of the template user namespace across exec */
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];
        unsigned bits = (1U << CAP_SYS_ADMIN) | (1U << CAP_SYS_CHROOT);

        if (syscall(SYS_capget, &h, d) != 0)
            return zyg_fail(z, ST_CAPS);
        d[0].inheritable |= bits;
        if (syscall(SYS_capset, &h, d) != 0 ||
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) != 0 ||
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_CHROOT, 0, 0) != 0)
            return zyg_fail(z, ST_CAPS);
    }
    /* 0: an empty pipe, 1 and 2: the log pipe, 3: the control socket */
    fds[0] = fcntl(z->in_r, F_DUPFD, 10);
    fds[1] = fcntl(z->log_w, F_DUPFD, 10);
    fds[2] = fcntl(z->sock, F_DUPFD, 10);
    if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 ||
        dup2(fds[1], 2) < 0 || dup2(fds[2], 3) < 0)
        return zyg_fail(z, ST_FDS);
    close_range(4, ~0U, 0);
    /* as a cold run's: an empty directory, where python3 finds no lib/ to take as its prefix */
    if (chdir("/tmp") != 0)
        return zyg_fail(z, ST_CHDIR);
    execve(SB_PYTHON, z->argv, envp);
    return zyg_fail(z, ST_EXEC);
}

/* The last line the zygote wrote to its stderr (a Python traceback's), or "" */
static void zyg_log_tail(struct sb_slot *s, char *out, size_t n) {
    char buf[2048];
    ssize_t k = s->zlog >= 0 ? read(s->zlog, buf, sizeof(buf) - 1) : -1;
    char *line;

    out[0] = '\0';
    if (k <= 0)
        return;
    while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == '\r'))
        k--;
    buf[k] = '\0';
    line = strrchr(buf, '\n');
    snprintf(out, n, ": %s", line ? line + 1 : buf);
}

/* Kill and reap slot s's zygote, close its channels. */
static void zyg_stop(struct sb_slot *s) {
    if (s->zpid > 0) {
        kill(s->zpid, SIGKILL);
        while (waitpid(s->zpid, NULL, __WALL) < 0 && errno == EINTR)
            ;
    }
    if (s->zsock >= 0)
        close(s->zsock);
    if (s->zlog >= 0)
        close(s->zlog);
    s->zpid = 0;
    s->zsock = s->zlog = -1;
    s->zbad = 0;
}

/* Start slot s's zygote and wait until it is ready (it sends "Z"). Called by the slot's
 * launcher, so the zygote and every child it forks live in the slot's cgroups. 0, or TG_EIO /
 * TG_ENOMEM with *err. */
static int zyg_start(struct sb_slot *s, struct tg_error *err) {
    struct zyg_start_ctx z = {.argv = {"python3", "-I", "-S", "-u", "-c", NULL, NULL}};
    int sv[2] = {-1, -1}, inp[2] = {-1, -1}, logp[2] = {-1, -1}, buf = 4 * TG_CODE_MAX_BYTES;
    char tail[300], msg[8];
    struct pollfd p;
    pid_t pid;
    ssize_t n;
    int rc = TG_EIO;

    z.argv[5] = zyg_script(s);
    if (!z.argv[5]) {
        tg_error_set(err, "sandbox_error", "out of memory starting the zygote");
        return TG_ENOMEM;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
        pipe2(inp, O_CLOEXEC) != 0 || pipe2(logp, O_CLOEXEC) != 0) {
        tg_error_set(err, "sandbox_error", "starting the zygote: %s", strerror(errno));
        goto done;
    }
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)); /* a whole program fits */
    z.sock = sv[1];
    z.in_r = inp[0];
    z.log_w = logp[1];
    pid = clone_blocked(zyg_main, s->stack_init, 0, &z);
    if (pid < 0) {
        tg_error_set(err, "sandbox_error", "starting the zygote: clone: %s", strerror(errno));
        goto done;
    }
    fcntl(logp[0], F_SETFL, O_NONBLOCK);
    s->zpid = pid;
    s->zsock = sv[0];
    s->zlog = logp[0];
    sv[0] = logp[0] = -1;
    if (z.fail_step) {
        tg_error_set(err, "sandbox_error", "starting the zygote failed at %s: %s",
                     step_names[z.fail_step], strerror(z.fail_errno));
        zyg_stop(s);
        goto done;
    }
    p.fd = s->zsock;
    p.events = POLLIN;
    do
        n = poll(&p, 1, TG_CODE_ZYGOTE_START_MS);
    while (n < 0 && errno == EINTR);
    n = n > 0 ? recv(s->zsock, msg, sizeof(msg), MSG_DONTWAIT) : -1;
    if (n != 1 || msg[0] != 'Z') {
        zyg_log_tail(s, tail, sizeof(tail));
        tg_error_set(err, "sandbox_error", "the zygote did not start%s",
                     tail[0] ? tail : (n < 0 ? " in time" : ": it exited"));
        zyg_stop(s);
        goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (inp[i] >= 0)
            close(inp[i]);
        if (logp[i] >= 0)
            close(logp[i]);
    }
    free(z.argv[5]);
    return rc;
}

/* Before a warm run: replace slot s's zygote if it was marked bad, died, or never started. */
static int zyg_ensure(struct sb_slot *s, struct tg_error *err) {
    if (s->zpid > 0 && !s->zbad) {
        if (waitpid(s->zpid, NULL, WNOHANG | __WALL) == 0)
            return 0;
        s->zpid = 0; /* died between runs (reaped just now): no run is lost */
    }
    zyg_stop(s);
    return zyg_start(s, err);
}

/* ---- one run -------------------------------------------------------------------------------- */

/*
 * The slot's network namespace. Making a network namespace is the dearest step of a run's set-up
 * (the kernel registers its sysctl tables and loopback device, and a kworker takes them down
 * again after the run: about 0.75 ms of CPU on a 2-core VM, against a warm run's 5-6 ms). So
 * a slot makes one, the first time it runs with namespaces, and each of its runs joins it instead
 * of unsharing its own. It holds nothing but a loopback that is down, and no run can change that or
 * leave anything in it: the seccomp filter refuses every socket call; the program holds no
 * capability over it (root mode: the slot uid; rootless: the namespace belongs to the template
 * user namespace, above the run's own); /proc/sys is hidden from the run (subset=pid) or, where
 * the kernel cannot hide it, writable only by root of the namespace's owner; and a socket does
 * not outlive the run's processes, all killed when it ends. Runs of one slot never overlap (a
 * prepared run is made only once the slot's previous run has ended), so concurrent runs are in
 * different network namespaces, as before. Rootless, the namespace is made inside the template
 * user namespace, which owns it, so that entry (there) can join it. When it cannot be made,
 * net_fd stays -1 and every run of the slot unshares its own, as before.
 */
SB_NO_ASAN static int net_main(void *arg) {
    int *fd = arg;

    if (g.rootless && setns(g.userns_fd, CLONE_NEWUSER) != 0)
        _exit(0);
    if (unshare(CLONE_NEWNET) != 0)
        _exit(0);
    *fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    _exit(0);
}

static void slot_net(struct sb_slot *s) {
    int fd = -1;

    s->net_made = 1;
    /* shares the file table (the fd it opens is ours), not the file system context: a process
     * that shares it may not join a user namespace */
    if (clone_wait(net_main, s->stack_init, CLONE_FILES, &fd, NULL) == 0)
        s->net_fd = fd;
}

/*
 * The launch path: start the run that *r describes (filled by the caller: slot, argv, stdin,
 * timeout, layers, flags) and wait until everything of it has ended. Root mode clones init
 * straight into the run's namespaces; rootless clones entry, which joins the template user
 * namespace and clones init into a user namespace of its own. The caller's thread must live
 * in the slot's cgroups (its processes inherit them). This is all a pre-forked launcher (a
 * zygote) needs to reuse. Returns 0 when *r holds the outcome, or TG_EIO with *err.
 */
static int sb_launch(struct sb_run *r, struct tg_error *err) {
    struct sb_slot *s = r->slot;
    int (*fn)(void *) = init_main;
    char *stack = s->stack_init;
    int flags = 0;
    int st = 0;

    if ((r->layers & L_NS) && !s->net_made)
        slot_net(s);
    if ((r->layers & L_NS) && g.rootless) {
        fn = entry_main;
        stack = s->stack_entry;
        flags |= CLONE_FILES;
    } else if (r->layers & L_NS) {
        flags |= run_ns_flags(s);
    }
    /* reaping init waits for the namespace to empty; entry reaps init before it exits */
    if (clone_wait(fn, stack, flags, r, &st) != 0) {
        tg_error_set(err, "sandbox_error", "starting the sandbox init failed: %s", strerror(errno));
        return TG_EIO;
    }
    if (r->warm &&
        (r->fail_step || r->zygote_lost || r->zygote_hung || r->zygote_late || r->prep_failed))
        s->zbad = 1; /* replaced before the next run */
    if (r->fail_step) {
        tg_error_set(err, "sandbox_error", "sandbox setup failed at %s: %s",
                     step_names[r->fail_step], strerror(r->fail_errno));
        return TG_EIO;
    }
    if (r->zygote_lost || r->zygote_hung) {
        tg_error_set(err, "sandbox_error",
                     "the warm interpreter (zygote) of this slot %s during the run; it is being "
                     "replaced",
                     r->zygote_lost ? "died" : "did not answer within 2 s");
        return TG_EIO;
    }
    if (r->prep_failed) {
        tg_error_set(err, "sandbox_error",
                     "the warm interpreter readied for this slot's next run died before it was "
                     "used; it is being replaced");
        return TG_EIO;
    }
    if (r->prepared && !r->job)
        return 0; /* stopped before it took a job: nothing ran, nothing failed */
    if (!WIFEXITED(st) || !r->reaped) {
        tg_error_set(err, "sandbox_error", "the sandbox init died unexpectedly");
        return TG_EIO;
    }
    return 0;
}

/* ---- launchers: one thread per slot, living in the slot's cgroups ----------------------- */

/* Run job j in slot s; j->r holds the outcome. 0, or TG_EIO with *j->err. */
static int run_in_slot(struct sb_slot *s, const struct sb_job *j) {
    struct sb_run *r = j->r;
    int warm = j->warm;

    memset(r, 0, sizeof(*r));
    if (warm && zyg_ensure(s, j->err) != 0) {
        if (j->start_only)
            return TG_EIO;
        /* no zygote can be started now: this run goes cold (the same sandbox, slower) */
        warm = 0;
    }
    if (j->start_only)
        return 0;
    r->slot = s;
    r->warm = warm;
    r->code = j->code;
    r->code_len = j->code_len;
    r->argv = j->argv;
    r->stdin_data = j->in;
    r->stdin_len = j->in_len;
    r->timeout_ms = j->timeout_ms;
    r->layers = j->layers;
    r->probe = j->probe;
    /* without a memory cgroup, init watches the run's memory (it needs the run's own /proc) */
    r->memwatch = (j->layers & L_NS) && !(j->layers & L_CGROUPS);
    return sb_launch(r, j->err);
}

/*
 * Prepared runs (warm mode). An idle slot does not wait for its next job: its launcher readies
 * the run first. init makes the run's namespaces, /tmp and /proc, the zygote forks the program
 * into them, and the program takes every setup step (uid, rlimits, seccomp, ...) and then
 * blocks reading its source from a pipe of init's. Only then does init look for the slot's job
 * (dispatch stores it and writes go_fd); it takes it, writes the source and supervises as
 * usual. So a run's cost after its request is the program itself, and everything else is done
 * while the slot is idle. A prepared run is made only after the slot's previous run has
 * ended completely (its namespace is empty), so no run coexists with the next one of its slot.
 *
 * Ready slot s's next warm run, and run the job that comes (one may be waiting already).
 * Returns that job, done (its rc, *j->r and on failure *j->err set), or NULL when none ran:
 * then *failed is 1 when the preparation failed (*err says why; the zygote is replaced before
 * the next one), and *nozygote is 1 when no zygote could be started (*err says why); both 0
 * when the run was stopped before it took a job (quit, or a job it cannot take).
 */
static struct sb_job *run_prepared(struct sb_slot *s, struct tg_error *err, int *failed,
                                   int *nozygote) {
    struct sb_run *r = s->prep;
    struct sb_job *j;
    int rc;

    *failed = *nozygote = 0;
    if (zyg_ensure(s, err) != 0) {
        __atomic_store_n(&s->prep_state, SB_PREP_NONE, __ATOMIC_RELEASE);
        *nozygote = 1;
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    r->slot = s;
    r->warm = 1;
    r->prepared = 1;
    r->layers = g.layers;
    r->memwatch = (g.layers & L_NS) && !(g.layers & L_CGROUPS);
    rc = sb_launch(r, err);
    __atomic_store_n(&s->prep_state, SB_PREP_NONE, __ATOMIC_RELEASE);
    j = r->job;
    if (!j) {
        *failed = rc != 0;
        return NULL;
    }
    *j->r = *r;
    if (rc)
        *j->err = *err;
    j->rc = rc;
    return j;
}

/* Whether job j runs through a prepared run (a warm run of a program). */
static int job_prepared(const struct sb_job *j) {
    return j->warm && !j->probe && !j->start_only && j->layers == g.layers;
}

/*
 * A slot's launcher: runs the jobs posted to the slot, and in warm mode readies the next run
 * while none is waiting (see run_prepared). A preparation that fails is tried once more with a
 * new zygote; after two failures in a row the slot waits for a job before it tries again, and
 * a job that saw both fails with their sandbox_error (it is the run in flight). When no zygote
 * can be started, the job runs cold.
 */
static void *launcher_main(void *arg) {
    struct sb_slot *s = arg;
    int joined = 0, fails = 0, held = 0;

    if (s->mem_fd >= 0 && s->pids_fd >= 0)
        joined = write(s->mem_fd, "0", 1) == 1 && write(s->pids_fd, "0", 1) == 1;
    pthread_mutex_lock(&g.mu);
    s->cg_joined = joined;
    s->launcher_up = 1;
    pthread_cond_broadcast(&g.cv);
    for (;;) {
        struct sb_job *j = s->job, *done = NULL;
        struct tg_error e;
        int failed = 0, nozygote = 0;

        if (!j && s->quit)
            break;
        if (j)
            held = 0;
        if (!j && (!g.warm || held)) {
            pthread_cond_wait(&s->job_cv, &g.mu);
            continue;
        }
        if (!j || job_prepared(j))
            __atomic_store_n(&s->prep_state, SB_PREP_BUSY, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&g.mu);
        tg_error_clear(&e);
        if (j && !job_prepared(j)) {
            j->rc = run_in_slot(s, j);
            done = j;
        } else {
            done = run_prepared(s, &e, &failed, &nozygote);
        }
        pthread_mutex_lock(&g.mu);
        j = s->job;
        if (done) {
            fails = 0;
        } else if (nozygote) {
            held = 1;
            if (j) { /* no zygote can be started now: this run goes cold (the same sandbox) */
                pthread_mutex_unlock(&g.mu);
                j->warm = 0;
                j->rc = run_in_slot(s, j);
                pthread_mutex_lock(&g.mu);
                done = j;
            }
        } else if (failed && ++fails >= 2) {
            fails = 0;
            held = 1;
            if (j) {
                j->rc = TG_EIO;
                *j->err = e;
                done = j;
            }
        }
        if (done) {
            done->done = 1;
            __atomic_store_n(&s->job, NULL, __ATOMIC_RELEASE);
            pthread_cond_broadcast(&g.cv);
        }
    }
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

/* Wake slot s's launcher, and its init when it waits with a prepared run. Under g.mu. */
static void slot_post(struct sb_slot *s) {
    uint64_t one = 1;

    pthread_cond_signal(&s->job_cv);
    if (write(s->go_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        /* the counter is already non-zero: the waiting init wakes anyway */
    }
}

/* Start every slot's launcher with all signals blocked; 0 when all started. */
static int launchers_start(void) {
    sigset_t all, old;
    int rc = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < g.nslots && !rc; i++) {
        struct sb_slot *s = &g.slots[i];

        if (pthread_create(&s->launcher, NULL, launcher_main, s) != 0)
            rc = TG_ENOMEM;
        else
            s->thread_ok = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < g.nslots; i++)
        while (g.slots[i].thread_ok && !g.slots[i].launcher_up)
            pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    return rc;
}

/* Run a job on slot s's launcher and wait for it. The caller holds the slot. */
static int dispatch(struct sb_slot *s, struct sb_job *j) {
    pthread_mutex_lock(&g.mu);
    while (!s->launcher_up)
        pthread_cond_wait(&g.cv, &g.mu);
    __atomic_store_n(&s->job, j, __ATOMIC_RELEASE);
    slot_post(s);
    while (!j->done)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    return j->rc;
}

static void launchers_stop(void) {
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < g.nslots; i++) {
        __atomic_store_n(&g.slots[i].quit, 1, __ATOMIC_RELEASE);
        slot_post(&g.slots[i]);
    }
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < g.nslots; i++) {
        if (g.slots[i].thread_ok)
            pthread_join(g.slots[i].launcher, NULL);
        g.slots[i].thread_ok = 0;
        g.slots[i].launcher_up = 0;
    }
}

/* A trial run of print(1) with the given layers. 1 when it worked. */
static int trial(int layers) {
    static char *const argv[] = {"python3", "-I", "-S", "-c", "print(1)", NULL};
    struct tg_error e;
    struct sb_run r;
    struct sb_job j = {
        .argv = argv, .timeout_ms = TG_CODE_TIMEOUT_MAX_MS, .layers = layers, .r = &r, .err = &e};
    int ok;

    memset(&r, 0, sizeof(r)); /* run_in_slot fills it; this tells cppcheck so */
    tg_error_clear(&e);
    if (dispatch(&g.slots[0], &j) != 0) {
        if (!g.quiet)
            fprintf(stderr, "sandbox: trial run with layers%s%s%s failed: %s\n",
                    (layers & L_NS) ? " namespaces" : "", (layers & L_SECCOMP) ? " seccomp" : "",
                    (layers & L_CGROUPS) ? " cgroups" : "", e.message);
        return 0;
    }
    ok = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && r.out_len == 2 &&
         memcmp(g.slots[0].out, "1\n", 2) == 0;
    return ok;
}

/* Warm mode's trial: start slot 0's zygote and fork print(1) from it. 1 when that worked;
 * else 0 with *e saying why. */
static int trial_warm(struct tg_error *e) {
    struct sb_run r;
    struct sb_job j = {.warm = 1, .start_only = 1, .layers = g.layers, .r = &r, .err = e};

    memset(&r, 0, sizeof(r));
    if (dispatch(&g.slots[0], &j) != 0)
        return 0;
    memset(&j, 0, sizeof(j));
    j.warm = 1;
    j.code = "print(1)";
    j.code_len = 8;
    j.timeout_ms = TG_CODE_TIMEOUT_MAX_MS;
    j.layers = g.layers;
    j.r = &r;
    j.err = e;
    if (dispatch(&g.slots[0], &j) != 0)
        return 0;
    if (!r.warm || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || r.out_len != 2 ||
        memcmp(g.slots[0].out, "1\n", 2) != 0) {
        tg_error_set(e, "sandbox_unavailable",
                     "a trial print(1) forked from the zygote exited with status %d and printed "
                     "%zu bytes",
                     r.status, r.out_len);
        return 0;
    }
    return 1;
}

/* Decide the run mode (after the layers): warm when asked (auto or warm) and the trial
 * works; the other slots' zygotes are started too. 0, or TG_EINVAL when warm was forced and
 * cannot be had (*err says why). */
static int choose_run_mode(enum sandbox_run_mode want, struct tg_error *err) {
    struct tg_error e;

    g.warm = 0;
    g.caps.run_mode = "cold";
    g.caps.run_reason[0] = '\0';
    if (want == SANDBOX_RUN_COLD)
        return 0;
    tg_error_clear(&e);
    if (g.unavailable[0] || !(g.layers & L_NS) || !(g.layers & L_SECCOMP)) {
        snprintf(g.caps.run_reason, sizeof(g.caps.run_reason),
                 "warm mode needs the whole sandbox (namespaces and seccomp)");
    } else if (!trial_warm(&e)) {
        snprintf(g.caps.run_reason, sizeof(g.caps.run_reason), "the zygote failed: %s", e.message);
        zyg_stop(&g.slots[0]);
    } else {
        pthread_mutex_lock(&g.mu);
        g.warm = 1;
        pthread_mutex_unlock(&g.mu);
        g.caps.run_mode = "warm";
        for (int i = 1; i < g.nslots; i++) { /* a failure here is retried at the slot's run */
            struct sb_run r;
            struct sb_job j = {.warm = 1, .start_only = 1, .layers = g.layers, .r = &r, .err = &e};

            memset(&r, 0, sizeof(r));
            dispatch(&g.slots[i], &j);
        }
        /* every idle slot readies its first run now (slot 0 was idle since its trial) */
        pthread_mutex_lock(&g.mu);
        for (int i = 0; i < g.nslots; i++)
            pthread_cond_signal(&g.slots[i].job_cv);
        pthread_mutex_unlock(&g.mu);
    }
    if (want == SANDBOX_RUN_WARM && !g.warm) {
        tg_error_set(err, TG_CODE_CONFIG, "--run-mode warm: %s", g.caps.run_reason);
        return TG_EINVAL;
    }
    return 0;
}

/*
 * Rootless: the runs' processes (their user namespaces nest in the server's) also count
 * against the server's own RLIMIT_NPROC, which limits the tasks of its real uid host-wide:
 * at most TG_CODE_NPROC + 3 per slot (the program's, init, entry). When what the limit leaves
 * beyond the user's current tasks is less than that plus room for the server's own
 * (SB_SERVER_TASKS), runs at their limit could stop the server from starting threads: say so.
 */
#define SB_SERVER_TASKS 64
static void nproc_headroom(void) {
    DIR *d = opendir("/proc");
    struct dirent *de;
    struct rlimit rl;
    /* the running slots' programs, init and entry; a spare slot holds a prepared run's three */
    long tasks = 0, need = (long)g.max_running * (TG_CODE_NPROC + 3) +
                           (long)(g.nslots - g.max_running) * 3 + SB_SERVER_TASKS;
    unsigned me = (unsigned)getuid();

    g.nproc_note[0] = '\0';
    if (!d || getrlimit(RLIMIT_NPROC, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        if (d)
            closedir(d);
        return;
    }
    while ((de = readdir(d))) {
        char path[300], line[256];
        unsigned uid = ~0U;
        long threads = 0;
        FILE *f;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
        f = fopen(path, "re");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "Uid: %u", &uid) != 1)
                sscanf(line, "Threads: %ld", &threads);
        fclose(f);
        if (uid == me)
            tasks += threads;
    }
    closedir(d);
    if ((long)rl.rlim_cur - tasks < need)
        snprintf(g.nproc_note, sizeof(g.nproc_note),
                 "; warning: RLIMIT_NPROC is %ld and this user runs %ld tasks already: %d runs "
                 "at their limit could leave the server no room to start threads; raise ulimit "
                 "-u to %ld or more",
                 (long)rl.rlim_cur, tasks, g.nslots, tasks + need);
}

/*
 * Rootless mode needs RLIMIT_NPROC counted per user namespace (Linux 5.14 and later): then a
 * run's limit counts only its own processes. Before that the kernel counted every process of
 * the real uid, so a run at its limit would also stop the server and the other runs (which
 * share that uid) from forking. The probe: init, in a fresh run namespace, lowers its own
 * RLIMIT_NPROC to 2 and clones one child. Counted per namespace that makes 2 (allowed);
 * counted per uid it is the server's threads plus entry, init and the child (refused). 1 when
 * the count is per namespace.
 */
static int nproc_probe(void) {
    struct tg_error e;
    struct sb_run r;
    struct sb_job j = {.layers = L_NS, .probe = 1, .timeout_ms = 1000, .r = &r, .err = &e};

    memset(&r, 0, sizeof(r));
    tg_error_clear(&e);
    return dispatch(&g.slots[0], &j) == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

/* 1 when this process is in the host's initial user namespace (its uid map is the identity
 * over every uid), where euid 0 is the real root. */
static int initial_userns(void) {
    char line[128];
    unsigned long a, b, n;
    FILE *f = fopen("/proc/self/uid_map", "re");
    int yes = 0;

    if (!f)
        return 1; /* no user namespaces in the kernel: everything is the initial one */
    if (fgets(line, sizeof(line), f) && sscanf(line, "%lu %lu %lu", &a, &b, &n) == 3)
        yes = a == 0 && b == 0 && n == 4294967295UL;
    fclose(f);
    return yes;
}

/* ---- the public interface -------------------------------------------------------------------- */

const char *sandbox_mode_name(enum sandbox_mode m) {
    return m == SANDBOX_ROOT ? "root" : m == SANDBOX_ROOTLESS ? "rootless" : "auto";
}

int sandbox_mode_parse(const char *name, enum sandbox_mode *m) {
    static const enum sandbox_mode all[] = {SANDBOX_AUTO, SANDBOX_ROOT, SANDBOX_ROOTLESS};

    for (size_t i = 0; name && i < TG_ARRAY_LEN(all); i++)
        if (strcmp(name, sandbox_mode_name(all[i])) == 0) {
            *m = all[i];
            return 0;
        }
    return TG_EINVAL;
}

/* The start-up line: the mode, slots and layers, and why anything is missing. */
static void report(void) {
    const struct sandbox_caps *c = &g.caps;
    const char *tried = g.rootless ? "rootless" : "root";
    char slots[64] = "", spare[32] = "";

    if (g.quiet)
        return;
    if (g.nslots > g.max_running)
        snprintf(spare, sizeof(spare), " + %d spare", g.nslots - g.max_running);
    if (!g.rootless)
        snprintf(slots, sizeof(slots), " (uids %u-%u)", g.uid_base,
                 g.uid_base + (unsigned)g.nslots - 1);
    if (strcmp(c->mode, tried) == 0)
        fprintf(stderr, "sandbox: %s mode", tried);
    else
        fprintf(stderr, "sandbox: %s (%s mode tried)", c->mode, tried);
    fprintf(stderr,
            ", %d slots%s%s; user namespace per run %s, namespaces %s, seccomp %s, cgroups %s; "
            "processes bounded by %s, memory by %s%s",
            g.max_running, spare, slots, c->userns ? "on" : "off", c->namespaces ? "on" : "OFF",
            c->seccomp ? "on" : "OFF", c->cgroups ? "on" : "off", c->pids, c->memory,
            c->namespaces && g.bind_fallback
                ? "; no overlayfs: runs see the host's devices in /proc/self/mountinfo"
                : "");
    if (g.uid_base_unused)
        fprintf(stderr, "; --uid-base is not used in rootless mode (runs keep the server's uid)");
    if (c->userns)
        fputs(g.nproc_note, stderr);
    if (g.warm)
        fprintf(stderr, "; runs warm (forked from a zygote per slot)");
    else if (c->run_reason[0] && !g.unavailable[0])
        fprintf(stderr, "; runs cold: %s", c->run_reason);
    if (g.unavailable[0])
        fprintf(stderr,
                "; run_code disabled: %s (start the server with --unsafe-sandbox to run code "
                "without it)\n",
                g.unavailable);
    else if (c->reason[0])
        fprintf(stderr, "; runs go WITHOUT part of the sandbox (--unsafe-sandbox): %s\n",
                c->reason);
    else
        fputc('\n', stderr);
}

int sandbox_init(const struct sandbox_config *cfg, struct tg_error *err) {
    struct tg_error why;
    enum sandbox_mode mode = cfg ? cfg->mode : SANDBOX_AUTO;
    enum sandbox_run_mode run_mode;
    int cand = 0, rc, nslots, pidfd, real_root;
    unsigned want;
    long ncpu;

    if (g.inited)
        return 0;
    run_mode = g.forced ? g.forced : cfg ? cfg->run_mode : SANDBOX_RUN_AUTO;
    g.want_warm = run_mode != SANDBOX_RUN_COLD;
    g.unsafe = cfg ? cfg->unsafe : 0;
    g.quiet = cfg ? cfg->quiet : 0;
    g.is_root = geteuid() == 0;
    real_root = g.is_root && initial_userns();
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    g.max_running = cfg && cfg->slots > 0 ? cfg->slots : (ncpu > 0 ? (int)ncpu : 1);
    g.running = 0;
    /* warm mode may be had: a spare slot per run readies the next run while one runs */
    nslots = g.want_warm && g.max_running <= INT_MAX / 2 ? 2 * g.max_running : g.max_running;
    want = cfg ? cfg->uid_base : 0;
    if (want && (want > TG_UID_MAX || (unsigned)nslots - 1 > TG_UID_MAX - want)) {
        tg_error_set(err, TG_CODE_CONFIG, "--uid-base %u: the %d slot uids must end by %u", want,
                     nslots, (unsigned)TG_UID_MAX);
        return TG_EINVAL;
    }
    if (mode == SANDBOX_ROOT && !g.is_root) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "--sandbox-mode root needs root: the server runs as uid %u; start it as "
                     "root, or use --sandbox-mode rootless",
                     (unsigned)geteuid());
        return TG_EINVAL;
    }
    if (mode == SANDBOX_ROOTLESS && real_root) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "--sandbox-mode rootless: the server runs as root, so its programs would run "
                     "as root outside their user namespace (and RLIMIT_NPROC spares root); start "
                     "it as an ordinary user, or use --sandbox-mode root");
        return TG_EINVAL;
    }
    g.rootless = mode == SANDBOX_ROOTLESS || (mode == SANDBOX_AUTO && !g.is_root);
    g.uid_base = want ? want : TG_UID_BASE_DEFAULT;
    if (!g.rootless) { /* rootless runs keep the server's uid: nothing to claim */
        rc = uids_claim(want, nslots, err);
        if (rc == TG_ENOMEM)
            goto fail;
        if (rc)
            return rc;
    }
    rc = slots_alloc(nslots);
    if (rc)
        goto fail;
    pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    g.have_pidfd = pidfd >= 0;
    if (pidfd >= 0)
        close(pidfd);
    tg_error_clear(&why);
    rc = build_filter(&why);
    if (rc == TG_ENOMEM)
        goto fail;
    if (rc == 0 && prctl(PR_GET_SECCOMP) >= 0)
        cand |= L_SECCOMP;
    if (!g.rootless) {
        rc = build_template(0, &why);
        if (rc == TG_ENOMEM)
            goto fail;
        if (rc == 0)
            cand |= L_NS;
        else if (mode == SANDBOX_AUTO && !real_root)
            g.rootless = 1; /* root only inside a user namespace (a container): try rootless */
    }
    if (g.rootless && real_root) {
        tg_error_set(&why, "sandbox_unavailable",
                     "root mode cannot build its namespaces (%s), and rootless mode does not run "
                     "as root",
                     why.message);
    } else if (g.rootless) {
        rc = build_template(1, &why);
        if (rc == TG_ENOMEM)
            goto fail;
        if (rc == 0)
            cand |= L_NS;
    }
    /* Root mode owns the cgroups it makes; rootless mode uses them where the operator
     * delegated the server's own v1 memory and pids cgroups to its user. */
    if (cgroups_create() == 0)
        cand |= L_CGROUPS;
    rc = launchers_start();
    if (rc)
        goto fail;
    for (int i = 0; i < g.nslots; i++)
        if (!g.slots[i].cg_joined)
            cand &= ~L_CGROUPS;
    if (g.rootless && (cand & L_NS) && !nproc_probe()) {
        struct userns_host host;
        char text[TG_ERR_MSG_MAX];

        userns_host_read(&host);
        userns_explain(&host, USERNS_NPROC, EAGAIN, text, sizeof(text));
        tg_error_set(&why, "sandbox_unavailable", "%s", text);
        cand &= ~L_NS;
    }
    /* The largest subset of the candidate layers with which a trial run works. */
    g.layers = -1;
    for (int m = 7; m >= 0; m--) {
        if ((m & cand) != m)
            continue;
        if (!(m & L_NS) && workdirs_create() != 0)
            continue;
        if (trial(m)) {
            g.layers = m;
            break;
        }
    }
    if (g.layers < 0) {
        g.layers = 0;
        snprintf(g.unavailable, sizeof(g.unavailable),
                 "the Python sandbox cannot start %s on this host", SB_PYTHON);
    } else if (!(g.layers & L_NS) || !(g.layers & L_SECCOMP)) {
        char missing[TG_ERR_MSG_MAX];

        snprintf(missing, sizeof(missing), "no %s%s%s: %s",
                 (g.layers & L_NS) ? ""
                 : g.rootless      ? "user namespaces"
                                   : "namespaces",
                 !(g.layers & L_NS) && !(g.layers & L_SECCOMP) ? " and no " : "",
                 (g.layers & L_SECCOMP) ? "" : "seccomp",
                 why.message[0] ? why.message : "trial run failed");
        if (g.unsafe)
            snprintf(g.caps.reason, sizeof(g.caps.reason), "%s", missing);
        else
            snprintf(g.unavailable, sizeof(g.unavailable), "%s", missing);
    }
    if (mode != SANDBOX_AUTO && g.unavailable[0]) {
        tg_error_set(err, TG_CODE_CONFIG, "--sandbox-mode %s: %s", sandbox_mode_name(mode),
                     g.unavailable);
        sandbox_shutdown();
        return TG_EINVAL;
    }
    if (!(g.layers & L_CGROUPS) && (cand & L_CGROUPS))
        cgroups_remove();
    g.uid_base_unused = g.rootless && want;
    if (g.rootless && (g.layers & L_NS))
        nproc_headroom();
    g.caps.namespaces = !!(g.layers & L_NS);
    g.caps.userns = g.rootless && (g.layers & L_NS);
    g.caps.seccomp = !!(g.layers & L_SECCOMP);
    g.caps.cgroups = !!(g.layers & L_CGROUPS);
    g.caps.pids = g.caps.cgroups  ? "cgroup"
                  : g.caps.userns ? "rlimit_userns"
                  : g.rootless    ? "rlimit_server_uid"
                                  : "rlimit_slot_uid";
    g.caps.memory = g.caps.cgroups ? "cgroup" : g.caps.namespaces ? "watch" : "rlimit";
    g.caps.mode = g.unavailable[0]   ? "unavailable"
                  : g.caps.reason[0] ? "unsafe"
                  : g.rootless       ? "rootless"
                                     : "root";
    if (g.unavailable[0])
        snprintf(g.caps.reason, sizeof(g.caps.reason), "%s", g.unavailable);
    rc = choose_run_mode(run_mode, err);
    if (rc) {
        sandbox_shutdown();
        return rc;
    }
    report();
    g.inited = 1;
    return 0;
fail:
    tg_error_set(err, TG_CODE_NOMEM, "out of memory starting the sandbox");
    sandbox_shutdown();
    return rc;
}

void sandbox_shutdown(void) {
    launchers_stop();
    cgroups_remove();
    uids_release();
    slots_free();
    if (g.tmpl_fd >= 0)
        close(g.tmpl_fd);
    if (g.userns_fd >= 0)
        close(g.userns_fd);
    g.tmpl_fd = g.userns_fd = -1;
    g.rootless = 0;
    free(g.filter);
    g.filter = NULL;
    memset(&g.prog, 0, sizeof(g.prog));
    memset(&g.caps, 0, sizeof(g.caps));
    g.unavailable[0] = '\0';
    g.layers = 0;
    g.bind_fallback = 0;
    g.uid_base_unused = 0;
    g.warm = 0;
    g.inited = 0;
}

void sandbox_caps(struct sandbox_caps *c) {
    if (!c)
        return;
    if (g.inited) {
        *c = g.caps;
        return;
    }
    memset(c, 0, sizeof(*c));
    c->mode = "unavailable";
    c->pids = c->memory = "none";
    c->run_mode = "cold";
    snprintf(c->reason, sizeof(c->reason), "the sandbox is not initialised");
}

const char *sandbox_run_mode_name(enum sandbox_run_mode m) {
    return m == SANDBOX_RUN_COLD ? "cold" : m == SANDBOX_RUN_WARM ? "warm" : "auto";
}

int sandbox_run_mode_parse(const char *name, enum sandbox_run_mode *m) {
    static const enum sandbox_run_mode all[] = {SANDBOX_RUN_AUTO, SANDBOX_RUN_COLD,
                                                SANDBOX_RUN_WARM};

    for (size_t i = 0; name && i < TG_ARRAY_LEN(all); i++)
        if (strcmp(name, sandbox_run_mode_name(all[i])) == 0) {
            *m = all[i];
            return 0;
        }
    return TG_EINVAL;
}

void sandbox_force_run_mode(enum sandbox_run_mode m) {
    g.forced = m;
}

int sandbox_preparing(void) {
    int n = 0;

    for (int i = 0; g.inited && i < g.nslots; i++)
        n += __atomic_load_n(&g.slots[i].prep_state, __ATOMIC_ACQUIRE) == SB_PREP_BUSY;
    return n;
}

int sandbox_prepared(void) {
    int n = 0;

    for (int i = 0; g.inited && i < g.nslots; i++)
        n += __atomic_load_n(&g.slots[i].prep_state, __ATOMIC_ACQUIRE) == SB_PREP_READY;
    return n;
}

int sandbox_zygote_pid(int i) {
    return g.inited && i >= 0 && i < g.nslots ? (int)g.slots[i].zpid : 0;
}

unsigned sandbox_slot_uid(int i) {
    return g.rootless ? (unsigned)geteuid() : g.uid_base + (unsigned)i;
}

int sandbox_slots(void) {
    return g.inited ? g.nslots : 0;
}

void sandbox_result_free(struct sandbox_result *r) {
    if (!r)
        return;
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

static char *copy_out(const char *p, size_t n) {
    char *s = malloc(n + 1);

    if (!s)
        return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int cancelled(struct tg_error *err) {
    tg_error_set(err, "cancelled", "the run was cancelled: its client went away");
    return TG_ECANCELED;
}

int sandbox_run(const struct sandbox_request *rq, struct sandbox_result *res,
                struct tg_error *err) {
    char *argv[7] = {"python3", "-I", "-S", "-u", "-c", NULL, NULL};
    struct sb_slot *s = NULL;
    struct sb_run r;
    int timeout, rc;

    memset(res, 0, sizeof(*res));
    if (!g.inited) {
        tg_error_set(err, "sandbox_unavailable", "the sandbox is not initialised");
        return TG_ESTATE;
    }
    if (g.unavailable[0]) {
        tg_error_set(err, "sandbox_unavailable", "%s", g.unavailable);
        return TG_ESTATE;
    }
    timeout = rq->timeout_ms ? rq->timeout_ms : TG_CODE_TIMEOUT_DEFAULT_MS;
    if (!rq->code || rq->code_len == 0 || rq->code_len > TG_CODE_MAX_BYTES ||
        memchr(rq->code, '\0', rq->code_len) || rq->stdin_len > TG_STDIN_MAX_BYTES ||
        (rq->stdin_len && !rq->stdin_data) || timeout < 1 || timeout > TG_CODE_TIMEOUT_MAX_MS) {
        tg_error_set(err, "invalid_arguments",
                     "code must be 1..%d bytes without NUL bytes, stdin at most %d bytes, "
                     "timeout_ms 1..%d",
                     TG_CODE_MAX_BYTES, TG_STDIN_MAX_BYTES, TG_CODE_TIMEOUT_MAX_MS);
        return TG_EINVAL;
    }
    if (tg_cancel_fired(rq->cancel))
        return cancelled(err);
    argv[5] = copy_out(rq->code, rq->code_len);
    if (!argv[5])
        return TG_ENOMEM;
    s = slot_acquire(rq->cancel);
    if (!s) {
        free(argv[5]);
        return cancelled(err);
    }
    slot_cancel_reset(s);
    if (rq->cancel && tg_cancel_hook(rq->cancel, slot_cancel_hook, s)) {
        rc = cancelled(err);
        goto done;
    }
    {
        struct sb_job j = {.argv = argv,
                           .warm = g.warm,
                           .code = rq->code,
                           .code_len = rq->code_len,
                           .in = rq->stdin_data,
                           .in_len = rq->stdin_len,
                           .timeout_ms = timeout,
                           .layers = g.layers,
                           .r = &r,
                           .err = err};

        rc = dispatch(s, &j);
    }
    if (rq->cancel)
        tg_cancel_unhook(rq->cancel);
    if (rc == 0 && r.cancelled)
        rc = cancelled(err);
    if (rc)
        goto done;
    res->out = copy_out(s->out, r.out_len);
    res->err = copy_out(s->err, r.err_len);
    if (!res->out || !res->err) {
        sandbox_result_free(res);
        rc = TG_ENOMEM;
        goto done;
    }
    res->out_len = r.out_len;
    res->err_len = r.err_len;
    res->truncated = r.truncated;
    res->timed_out = r.timed_out;
    res->over_memory = r.over_memory;
    res->exit_code = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
    res->signal = WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0;
    res->wall_ms = (double)r.wall_us / 1000.0;
    res->cpu_ms = (double)r.cpu_us / 1000.0;
done:
    slot_release(s);
    free(argv[5]);
    return rc;
}
