/*
 * runq.c — the bounded worker pool of runq.h: a ring of jobs under one mutex and a condition
 * variable. Jobs are never dropped once accepted (runq_free drains the ring), except by
 * runq_cancel, which hands a waiting job back to its submitter.
 */
#include "server/runq.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/cancel.h"
#include "base/tg.h"

struct job {
    runq_job_fn work, done;
    void *arg;
};

struct runq {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    struct job *ring; /* (cap) */
    size_t cap, head, count, running;
    int stopping;
    int nthreads;
    pthread_t *threads; /* (nthreads) */
};

static void *worker(void *p) {
    struct runq *q = p;

    for (;;) {
        struct job j;

        pthread_mutex_lock(&q->mu);
        while (q->count == 0 && !q->stopping)
            pthread_cond_wait(&q->nonempty, &q->mu);
        if (q->count == 0 && q->stopping) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        j = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->running++;
        pthread_mutex_unlock(&q->mu);

        j.work(j.arg);
        if (j.done)
            j.done(j.arg);

        pthread_mutex_lock(&q->mu);
        q->running--;
        pthread_mutex_unlock(&q->mu);
    }
}

struct runq *runq_new(int workers, int queue) {
    struct runq *q;

    if (workers < 1 || queue < 0)
        return NULL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    /* the ring holds waiting jobs: room for `queue` beyond those being picked up */
    q->cap = (size_t)queue + (size_t)workers;
    q->ring = calloc(q->cap, sizeof(*q->ring));
    q->threads = calloc((size_t)workers, sizeof(*q->threads));
    if (!q->ring || !q->threads)
        goto fail;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
            break;
        q->nthreads++;
    }
    if (q->nthreads == 0) {
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->nonempty);
        goto fail;
    }
    return q;
fail:
    free(q->ring);
    free(q->threads);
    free(q);
    return NULL;
}

int runq_submit(struct runq *q, runq_job_fn work, runq_job_fn done, void *arg,
                struct tg_cancel *cancel) {
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        rc = TG_ESTATE;
    } else if (tg_cancel_fired(cancel)) {
        rc = TG_ECANCELED;
    } else if (q->count + q->running >= q->cap) {
        /* all workers busy and `queue` jobs waiting */
        rc = TG_EBUSY;
    } else {
        size_t tail = (q->head + q->count) % q->cap;

        q->ring[tail].work = work;
        q->ring[tail].done = done;
        q->ring[tail].arg = arg;
        q->count++;
        pthread_cond_signal(&q->nonempty);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int runq_cancel(struct runq *q, void *arg) {
    int rc = TG_ENOTFOUND;

    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->count; i++) {
        if (q->ring[(q->head + i) % q->cap].arg != arg)
            continue;
        /* close the gap: later jobs move one place towards the head, keeping their order */
        for (size_t k = i; k + 1 < q->count; k++)
            q->ring[(q->head + k) % q->cap] = q->ring[(q->head + k + 1) % q->cap];
        q->count--;
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

size_t runq_pending(struct runq *q) {
    size_t n;

    pthread_mutex_lock(&q->mu);
    n = q->count + q->running;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void runq_free(struct runq *q) {
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->nonempty);
    free(q->ring);
    free(q->threads);
    free(q);
}
