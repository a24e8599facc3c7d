/*
 * sandbox.h — run untrusted Python 3 code in a sandbox built from Linux primitives.
 *
 * Each run gets new PID, network, mount, IPC, UTS and cgroup namespaces, its own session, a
 * small init as pid 1 (which also enforces the wall clock: when it exits the kernel kills the
 * whole namespace), a read-only tmpfs root holding only what `/usr/bin/python3 -I -S` needs,
 * a private size-limited /tmp as working directory, rlimits, NO_NEW_PRIVS, a seccomp filter,
 * a memory bound (v1 memory cgroups where writable, else init watches the run's memory), an
 * empty environment, and capped output. Two modes build this:
 * - root: the server runs as root; each slot runs as its own unprivileged uid (claimed
 *   host-wide) and v1 memory+pids cgroups are used where writable;
 * - rootless: the server is an ordinary user; each run first gets a new user namespace, in
 *   which the other namespaces are made, and RLIMIT_NPROC is counted per run (per user
 *   namespace) instead of per slot uid.
 * See docs/sandbox.md for the threat model of each.
 *
 * Two run modes: cold (the child execs /usr/bin/python3 per run) and warm (each slot keeps a
 * started python3, a zygote that never runs a program, and every run is forked from it into
 * the namespaces its init made, with the same isolation; docs/sandbox.md, "Warm mode").
 *
 * This module does not queue: sandbox_run blocks its caller until the run ends, and waits for
 * a free slot when all are busy. The HTTP layer bounds concurrency and answers 503 itself.
 */
#ifndef TG_SANDBOX_H
#define TG_SANDBOX_H

#include <stddef.h>

#include "base/cancel.h"
#include "base/tg.h"

/* Which sandbox to build (--sandbox-mode). */
enum sandbox_mode {
    SANDBOX_AUTO = 0, /* root when the server is root, else rootless; the first that works */
    SANDBOX_ROOT,     /* root or a start-up error naming what is missing */
    SANDBOX_ROOTLESS, /* user namespaces or a start-up error naming what is missing */
};

/* How a run gets its interpreter (--run-mode). */
enum sandbox_run_mode {
    SANDBOX_RUN_AUTO = 0, /* warm where the host supports it, else cold (the start-up line and
                           * sandbox_caps say why) */
    SANDBOX_RUN_COLD,     /* every run execs a fresh python3 */
    SANDBOX_RUN_WARM,     /* every run is forked from the slot's zygote, or a start-up error */
};

struct sandbox_config {
    enum sandbox_mode mode;
    enum sandbox_run_mode run_mode;
    int slots;  /* concurrent runs (one uid each in root mode); 0: number of online cores */
    int unsafe; /* 1: run even when namespaces or seccomp are unavailable (operator opt-in) */
    int quiet;  /* 1: no start-up report on stderr */
    unsigned uid_base; /* root mode: slot i runs as uid_base + i; 0: the first free range at
                        * or above TG_UID_BASE_DEFAULT (see sandbox_init). Rootless: unused */
};

/* Which sandbox is active and which layers are on (1) or off (0); reported by /healthz and
 * the start-up line. */
struct sandbox_caps {
    const char *mode;   /* static: "root", "rootless", "unsafe" (runs without a missing layer,
                         * --unsafe-sandbox) or "unavailable" (run_code fails closed) */
    int namespaces;     /* pid/net/mount/ipc/uts/cgroup namespaces, pivot_root into the root */
    int userns;         /* each run in a new user namespace (rootless mode) */
    int seccomp;        /* the syscall filter */
    int cgroups;        /* v1 memory + pids cgroups per slot */
    const char *pids;   /* static: what bounds a run's processes: "cgroup" (pids cgroup),
                         * "rlimit_slot_uid" (RLIMIT_NPROC of the slot's own uid),
                         * "rlimit_userns" (RLIMIT_NPROC counted in the run's user namespace)
                         * or "rlimit_server_uid" (unsafe rootless: shared with the server) */
    const char *memory; /* static: what bounds a run's memory together: "cgroup", "watch" (init
                         * sums its processes' memory and kills the run past the limit) or
                         * "rlimit" (only RLIMIT_AS per process: runs without namespaces) */
    char reason[TG_ERR_MSG_MAX];     /* why the mode is "unavailable" or "unsafe"; "" otherwise */
    const char *run_mode;            /* static: "warm" (runs forked from a per-slot zygote) or
                                      * "cold" (a fresh python3 per run) */
    char run_reason[TG_ERR_MSG_MAX]; /* why runs are cold though warm was asked; "" otherwise */
};

struct sandbox_request {
    const char *code;       /* borrowed: Python source, code_len bytes (no NUL bytes) */
    size_t code_len;        /* <= TG_CODE_MAX_BYTES */
    const char *stdin_data; /* borrowed, may be NULL */
    size_t stdin_len;       /* <= TG_STDIN_MAX_BYTES */
    int timeout_ms; /* wall clock; 0: TG_CODE_TIMEOUT_DEFAULT_MS; max TG_CODE_TIMEOUT_MAX_MS */
    struct tg_cancel *cancel; /* borrowed, may be NULL: when it fires the run is abandoned */
};

struct sandbox_result {
    char *out; /* new (malloc), NUL-terminated, out_len <= TG_OUTPUT_MAX_BYTES */
    size_t out_len;
    char *err; /* new (malloc), NUL-terminated, err_len <= TG_OUTPUT_MAX_BYTES */
    size_t err_len;
    int truncated;   /* 1: a stream produced more than TG_OUTPUT_MAX_BYTES (rest discarded) */
    int exit_code;   /* exit status, or -1 when a signal ended the process */
    int signal;      /* terminating signal number, or 0 */
    int timed_out;   /* 1: the wall clock ran out and the run was killed */
    int over_memory; /* 1: init's memory watch killed the run (its processes held more than
                      * TG_CODE_MEM_BYTES together); signal is then SIGKILL */
    double wall_ms;  /* wall time of the Python process */
    double cpu_ms;   /* user + system CPU time of the Python process */
};

/*
 * sandbox_init — choose the mode, probe which layers work (by trial runs), build the read-only
 * template root, compile the seccomp filter, create per-slot cgroups. Start-up only, not
 * thread-safe. cfg->mode AUTO picks root mode when the server is root, else rootless (also
 * rootless when root mode cannot build its namespaces and the server is root only inside a
 * user namespace). In root mode slot uids are claimed host-wide (flock'd files in
 * /run/toolgym, held until shutdown or exit): with cfg->uid_base 0 the first range of `slots`
 * uids at or above TG_UID_BASE_DEFAULT that no other server claimed and no live process runs
 * as; with cfg->uid_base set, exactly that range or an error.
 * Returns 0 (even when layers are missing in AUTO mode: sandbox_run then fails closed unless
 * cfg->unsafe, and sandbox_caps says why), or a tg_err with *err filled: TG_EINVAL
 * {"invalid_config"} when a forced mode (ROOT, ROOTLESS) cannot be built here, naming what is
 * missing, or the uid range runs past TG_UID_MAX; TG_EBUSY {"invalid_config"} when the uids are
 * taken (or no free range is left); TG_ENOMEM. Calling it twice without sandbox_shutdown is a
 * no-op.
 */
int sandbox_init(const struct sandbox_config *cfg, struct tg_error *err);

/* sandbox_shutdown — release slots, cgroups and the template. No run may be in flight.
 * Safe to call without or after a failed init. */
void sandbox_shutdown(void);

/* sandbox_caps — the active mode and layers. When not initialised: mode "unavailable", every
 * layer off. Thread-safe. */
void sandbox_caps(struct sandbox_caps *c);

/*
 * sandbox_run — run rq->code under python3 -I -S with rq's stdin, wait for it to end (exit,
 * signal, or wall clock) and fill *res (free with sandbox_result_free). BLOCKING and
 * thread-safe: waits for a free slot when `slots` runs are in flight. When rq->cancel fires
 * (before the run, while it waits for a slot, or while the program runs) it returns at once,
 * the program and everything it started killed.
 * Returns 0 when *res describes the run (whatever the program did), or:
 *   TG_ESTATE   {"sandbox_unavailable", why} — not initialised, or a required layer is
 *               missing and unsafe mode is off (fails closed);
 *   TG_EINVAL   {"invalid_arguments", why}   — code empty, too long or holding NUL bytes,
 *               stdin too long, timeout out of range;
 *   TG_EIO      {"sandbox_error", why}       — setting up the sandbox failed;
 *   TG_ECANCELED {"cancelled", why}          — rq->cancel fired;
 *   TG_ENOMEM.
 * On error *res is zeroed.
 */
int sandbox_run(const struct sandbox_request *rq, struct sandbox_result *res, struct tg_error *err);

/* sandbox_result_free — free out/err and zero *r. Accepts NULL. */
void sandbox_result_free(struct sandbox_result *r);

/* sandbox_mode_name — "auto", "root" or "rootless"; sandbox_mode_parse — the reverse, 0 or
 * TG_EINVAL for any other name. */
const char *sandbox_mode_name(enum sandbox_mode m);
int sandbox_mode_parse(const char *name, enum sandbox_mode *m);

/* sandbox_run_mode_name — "auto", "cold" or "warm"; sandbox_run_mode_parse — the reverse, 0
 * or TG_EINVAL for any other name. */
const char *sandbox_run_mode_name(enum sandbox_run_mode m);
int sandbox_run_mode_parse(const char *name, enum sandbox_run_mode *m);

/* sandbox_force_run_mode — for test runners: every later sandbox_init uses run mode m whatever
 * its config says (SANDBOX_RUN_AUTO: the config's again). Not thread-safe; call before init. */
void sandbox_force_run_mode(enum sandbox_run_mode m);

/* sandbox_zygote_pid — the host pid of slot i's zygote (warm mode), or 0 when it has none
 * (cold mode, not started yet, or being replaced). For tests that kill or stop it. */
int sandbox_zygote_pid(int i);

/* sandbox_preparing — the number of slots readying their next run now (warm mode: see
 * "Prepared runs" in docs/sandbox.md); sandbox_prepared — the number holding a run ready for
 * the next request: a program, named `tg-prepared` until its source comes, blocked reading it
 * in namespaces of its own. Tests wait for sandbox_preparing() to be 0 before they look for
 * processes left behind. */
int sandbox_preparing(void);
int sandbox_prepared(void);

/* sandbox_slot_uid — the host uid slot i's programs run as (tests look for leftover
 * processes): uid_base + i in root mode, the server's own uid in rootless mode. Valid after
 * init. */
unsigned sandbox_slot_uid(int i);

/* sandbox_slots — number of slots (0 when not initialised). */
int sandbox_slots(void);

#endif
