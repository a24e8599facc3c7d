/*
 * runq.h — a bounded worker pool for slow jobs (sandboxed code runs), so that no HTTP
 * worker thread ever blocks on one. `workers` threads take jobs from at most `queue` waiting
 * jobs; a submit past that is refused (the caller answers 503 overloaded). Jobs belong to
 * clients (a key the caller names), and the pool is fair between them: each client's jobs run
 * in the order they came, but the workers serve the clients with jobs waiting in turn, one job
 * each, so a client that sends a hundred jobs at once delays another client's next job by one
 * job, not a hundred; and a client may hold at most `per_client` jobs waiting or running, so
 * it cannot fill the queue (the caller answers 429).
 * It knows nothing of HTTP: a job is a work function and a done function, both run on a
 * pool thread.
 */
#ifndef TG_RUNQ_H
#define TG_RUNQ_H

#include <stddef.h>

struct runq;

/* runq_job_fn — the job's work, then its completion; both run on a pool thread. */
typedef void (*runq_job_fn)(void *arg);

/* runq_new — start `workers` threads (≥1) with room for `queue` waiting jobs (≥0), of which
 * one client may hold `per_client` waiting or running (0: no cap). Returns a new pool or NULL
 * on failure. */
struct runq *runq_new(int workers, int queue, int per_client);

struct tg_cancel;

/*
 * runq_submit — queue work(arg) followed by done(arg) for `client` (borrowed, copied, at most
 * TG_CLIENT_KEY_MAX bytes kept; NULL: one anonymous client). Returns 0, or TG_EBUSY when
 * `queue` jobs already wait with every worker busy, TG_ERANGE when the client already holds
 * per_client jobs, TG_ESTATE when the pool is stopping, or TG_ECANCELED when cancel
 * (borrowed, may be NULL) has fired. The check and the queuing are one step with respect to
 * runq_cancel: whoever fires cancel and then calls runq_cancel(arg) either finds the job or
 * made this submit refuse it. Thread-safe.
 */
int runq_submit(struct runq *q, runq_job_fn work, runq_job_fn done, void *arg,
                struct tg_cancel *cancel, const char *client);

/*
 * runq_cancel — take the waiting job whose arg is `arg` out of the queue: neither its work nor
 * its done will run, and arg belongs to the caller again. Returns 0, or TG_ENOTFOUND when no
 * waiting job has that arg (a worker already took it, or it was never queued). Thread-safe.
 */
int runq_cancel(struct runq *q, void *arg);

/* runq_pending — jobs waiting or running (for metrics and tests). Thread-safe. */
size_t runq_pending(struct runq *q);

/* runq_running — jobs a worker has taken and not finished (tests wait on it). Thread-safe. */
size_t runq_running(struct runq *q);

/* runq_free — finish every queued job, join the threads, free. Accepts NULL. */
void runq_free(struct runq *q);

#endif
