/*
 * runq.h — a bounded worker pool for slow jobs (sandboxed code runs), so that no HTTP
 * worker thread ever blocks on one. `workers` threads take jobs from a FIFO of at most
 * `queue` waiting jobs; a submit past that is refused (the caller answers 503 overloaded).
 * It knows nothing of HTTP: a job is a work function and a done function, both run on a
 * pool thread.
 */
#ifndef TG_RUNQ_H
#define TG_RUNQ_H

#include <stddef.h>

struct runq;

/* runq_job_fn — the job's work, then its completion; both run on a pool thread. */
typedef void (*runq_job_fn)(void *arg);

/* runq_new — start `workers` threads (≥1) with room for `queue` waiting jobs (≥0). Returns
 * a new pool or NULL on failure. */
struct runq *runq_new(int workers, int queue);

struct tg_cancel;

/*
 * runq_submit — queue work(arg) followed by done(arg). Returns 0, or TG_EBUSY when
 * `queue` jobs already wait, or TG_ESTATE when the pool is stopping, or TG_ECANCELED when
 * cancel (borrowed, may be NULL) has fired. The check and the queuing are one step with
 * respect to runq_cancel: whoever fires cancel and then calls runq_cancel(arg) either finds
 * the job or made this submit refuse it. Thread-safe.
 */
int runq_submit(struct runq *q, runq_job_fn work, runq_job_fn done, void *arg,
                struct tg_cancel *cancel);

/*
 * runq_cancel — take the waiting job whose arg is `arg` out of the queue: neither its work nor
 * its done will run, and arg belongs to the caller again. Returns 0, or TG_ENOTFOUND when no
 * waiting job has that arg (a worker already took it, or it was never queued). Thread-safe.
 */
int runq_cancel(struct runq *q, void *arg);

/* runq_pending — jobs waiting or running (for metrics and tests). Thread-safe. */
size_t runq_pending(struct runq *q);

/* runq_free — finish every queued job, join the threads, free. Accepts NULL. */
void runq_free(struct runq *q);

#endif
