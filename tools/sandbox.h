/*
 * sandbox.h — run untrusted Python 3 code in a sandbox built from Linux primitives.
 *
 * Each run gets new PID, network, mount, IPC, UTS and cgroup namespaces, its own session, a
 * small init as pid 1 (which also enforces the wall clock: when it exits the kernel kills the
 * whole namespace), a read-only tmpfs root holding only what `/usr/bin/python3 -I -S` needs
 * (no bind of a host file system), a private size-limited /tmp as working directory,
 * rlimits, a per-slot unprivileged uid, NO_NEW_PRIVS, a seccomp filter, v1 memory+pids
 * cgroups where writable, an empty environment, and capped output.
 * See docs/sandbox.md for the threat model.
 *
 * This module does not queue: sandbox_run blocks its caller until the run ends, and waits for
 * a free slot when all are busy. The HTTP layer bounds concurrency and answers 503 itself.
 */
#ifndef TG_SANDBOX_H
#define TG_SANDBOX_H

#include <stddef.h>

#include "base/cancel.h"
#include "base/tg.h"

struct sandbox_config {
    int slots;  /* concurrent runs (one uid each); 0: number of online cores */
    int unsafe; /* 1: run even when namespaces or seccomp are unavailable (operator opt-in) */
    int quiet;  /* 1: no start-up report on stderr */
    unsigned uid_base; /* slot i runs as uid_base + i; 0: the first free range at or above
                        * TG_UID_BASE_DEFAULT (see sandbox_init) */
};

/* Which layers are active (1) or not (0); reported by /healthz. */
struct sandbox_caps {
    int namespaces; /* pid/net/mount/ipc/uts namespaces, pivot_root into the sandbox root */
    int seccomp;    /* the syscall filter */
    int cgroups;    /* v1 memory + pids cgroups per slot */
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
    int truncated;  /* 1: a stream produced more than TG_OUTPUT_MAX_BYTES (rest discarded) */
    int exit_code;  /* exit status, or -1 when a signal ended the process */
    int signal;     /* terminating signal number, or 0 */
    int timed_out;  /* 1: the wall clock ran out and the run was killed */
    double wall_ms; /* wall time of the Python process */
    double cpu_ms;  /* user + system CPU time of the Python process */
};

/*
 * sandbox_init — claim the slot uids, probe which layers work (by trial runs), build the
 * read-only template root, compile the seccomp filter, create per-slot cgroups. Start-up only,
 * not thread-safe. Slot uids are claimed host-wide (flock'd files in /run/toolgym, held until
 * shutdown or exit) when running as root: with cfg->uid_base 0 the first range of `slots`
 * uids at or above TG_UID_BASE_DEFAULT that no other server claimed and no live process runs
 * as; with cfg->uid_base set, exactly that range or an error.
 * Returns 0 (even when layers are missing: sandbox_run then fails closed unless cfg->unsafe),
 * or a tg_err with *err filled: TG_EBUSY {"invalid_config"} when the uids are taken (or no free
 * range is left), TG_EINVAL {"invalid_config"} when the range runs past TG_UID_MAX, TG_ENOMEM.
 * Calling it twice without sandbox_shutdown is a no-op.
 */
int sandbox_init(const struct sandbox_config *cfg, struct tg_error *err);

/* sandbox_shutdown — release slots, cgroups and the template. No run may be in flight.
 * Safe to call without or after a failed init. */
void sandbox_shutdown(void);

/* sandbox_caps — which layers are active. Zeroes when not initialised. Thread-safe. */
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

/* sandbox_slot_uid — the uid of slot i (tests look for leftover processes). Valid after init. */
unsigned sandbox_slot_uid(int i);

/* sandbox_slots — number of slots (0 when not initialised). */
int sandbox_slots(void);

#endif
