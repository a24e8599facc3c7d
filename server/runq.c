/*
 * runq.c — the bounded worker pool of runq.h, fair between clients: each client's waiting jobs
 * form a FIFO, and the clients with jobs waiting form a ring that the workers go round, one
 * job per client per turn. All under one mutex and a condition variable. Jobs are never
 * dropped once accepted (runq_free drains the queue), except by runq_cancel, which hands a
 * waiting job back to its submitter.
 *
 * Job and client records come from two arrays of `cap` entries (workers + queue) with free
 * lists: a job record is held while the job waits, a client record while the client has a job
 * waiting or running, so neither can run out before the queue is full. Clients are found by
 * key in a chained hash table.
 */
#include "server/runq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cancel.h"
#include "base/hash.h"
#include "base/limits.h"
#include "base/tg.h"

struct rclient;

struct job {
    runq_job_fn work, done;
    void *arg;
    struct rclient *client;
    struct job *next; /* in the client's FIFO, or in the free list */
};

struct rclient {
    char key[TG_CLIENT_KEY_MAX + 1];
    size_t waiting, running;
    struct job *head, *tail;               /* waiting jobs, oldest first */
    struct rclient *ring_prev, *ring_next; /* in the ring of clients with jobs waiting */
    int in_ring;
    struct rclient *hnext; /* hash chain, or the free list */
};

struct runq {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    struct job *jobs; /* (cap) */
    struct job *free_jobs;
    struct rclient *clients; /* (cap) */
    struct rclient *free_clients;
    struct rclient **buckets; /* (nbuckets) */
    size_t nbuckets;
    struct rclient *turn; /* the client whose job goes next; NULL: none waiting */
    size_t cap, count, running, per_client;
    int stopping;
    int nthreads;
    pthread_t *threads; /* (nthreads) */
};

/* ---- clients ------------------------------------------------------------------------------- */

static size_t bucket_of(const struct runq *q, const char *key) {
    return (size_t)(hash_tg_str(key) % q->nbuckets);
}

/* The record of client key, made if it has none (never fails: see the head of the file). */
static struct rclient *client_get(struct runq *q, const char *key) {
    size_t b = bucket_of(q, key);
    struct rclient *c;

    for (c = q->buckets[b]; c; c = c->hnext)
        if (strcmp(c->key, key) == 0)
            return c;
    c = q->free_clients;
    TG_ASSERT(c != NULL);
    q->free_clients = c->hnext;
    memset(c, 0, sizeof(*c));
    snprintf(c->key, sizeof(c->key), "%s", key);
    c->hnext = q->buckets[b];
    q->buckets[b] = c;
    return c;
}

/* Give back the record of a client that has no job waiting or running. */
static void client_put(struct runq *q, struct rclient *c) {
    struct rclient **p = &q->buckets[bucket_of(q, c->key)];

    if (c->waiting || c->running)
        return;
    TG_ASSERT(!c->in_ring);
    while (*p != c)
        p = &(*p)->hnext;
    *p = c->hnext;
    c->hnext = q->free_clients;
    q->free_clients = c;
}

/* Join the ring as the last to be served in this round. */
static void ring_add(struct runq *q, struct rclient *c) {
    if (!q->turn) {
        c->ring_prev = c->ring_next = c;
        q->turn = c;
    } else {
        c->ring_next = q->turn;
        c->ring_prev = q->turn->ring_prev;
        c->ring_prev->ring_next = c;
        q->turn->ring_prev = c;
    }
    c->in_ring = 1;
}

static void ring_remove(struct runq *q, struct rclient *c) {
    if (c->ring_next == c) {
        q->turn = NULL;
    } else {
        c->ring_prev->ring_next = c->ring_next;
        c->ring_next->ring_prev = c->ring_prev;
        if (q->turn == c)
            q->turn = c->ring_next;
    }
    c->in_ring = 0;
}

/* ---- the pool ------------------------------------------------------------------------------ */

static void *worker(void *p) {
    struct runq *q = p;

    for (;;) {
        struct rclient *c;
        struct job *n, j;

        pthread_mutex_lock(&q->mu);
        while (q->count == 0 && !q->stopping)
            pthread_cond_wait(&q->nonempty, &q->mu);
        if (q->count == 0 && q->stopping) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        /* the client whose turn it is gives its oldest job; the next client goes next */
        c = q->turn;
        n = c->head;
        c->head = n->next;
        if (!c->head)
            c->tail = NULL;
        c->waiting--;
        c->running++;
        q->count--;
        q->running++;
        if (c->waiting == 0)
            ring_remove(q, c);
        else
            q->turn = c->ring_next;
        j = *n;
        n->next = q->free_jobs;
        q->free_jobs = n;
        pthread_mutex_unlock(&q->mu);

        j.work(j.arg);
        if (j.done)
            j.done(j.arg);

        pthread_mutex_lock(&q->mu);
        q->running--;
        c->running--;
        client_put(q, c);
        pthread_mutex_unlock(&q->mu);
    }
}

struct runq *runq_new(int workers, int queue, int per_client) {
    struct runq *q;

    if (workers < 1 || queue < 0 || per_client < 0)
        return NULL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->cap = (size_t)queue + (size_t)workers; /* jobs waiting or running */
    q->per_client = (size_t)per_client;
    q->nbuckets = q->cap * 2 + 1;
    q->jobs = calloc(q->cap, sizeof(*q->jobs));
    q->clients = calloc(q->cap, sizeof(*q->clients));
    q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
    q->threads = calloc((size_t)workers, sizeof(*q->threads));
    if (!q->jobs || !q->clients || !q->buckets || !q->threads)
        goto fail;
    for (size_t i = 0; i < q->cap; i++) {
        q->jobs[i].next = i + 1 < q->cap ? &q->jobs[i + 1] : NULL;
        q->clients[i].hnext = i + 1 < q->cap ? &q->clients[i + 1] : NULL;
    }
    q->free_jobs = &q->jobs[0];
    q->free_clients = &q->clients[0];
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
    free(q->jobs);
    free(q->clients);
    free(q->buckets);
    free(q->threads);
    free(q);
    return NULL;
}

int runq_submit(struct runq *q, runq_job_fn work, runq_job_fn done, void *arg,
                struct tg_cancel *cancel, const char *client) {
    struct rclient *c;
    struct job *n;
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
        c = client_get(q, client ? client : "");
        if (q->per_client && c->waiting + c->running >= q->per_client) {
            rc = TG_ERANGE; /* this client holds its share */
        } else {
            n = q->free_jobs;
            q->free_jobs = n->next;
            n->work = work;
            n->done = done;
            n->arg = arg;
            n->client = c;
            n->next = NULL;
            if (c->tail)
                c->tail->next = n;
            else
                c->head = n;
            c->tail = n;
            c->waiting++;
            q->count++;
            if (!c->in_ring)
                ring_add(q, c);
            pthread_cond_signal(&q->nonempty);
        }
        client_put(q, c); /* a new record that got no job goes back */
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int runq_cancel(struct runq *q, void *arg) {
    int rc = TG_ENOTFOUND;

    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; rc != 0 && i < q->cap; i++) {
        struct rclient *c = &q->clients[i];
        struct job *prev = NULL;

        if (!c->in_ring) /* no job waiting (or a free record) */
            continue;
        for (struct job *n = c->head; n; prev = n, n = n->next) {
            if (n->arg != arg)
                continue;
            if (prev)
                prev->next = n->next;
            else
                c->head = n->next;
            if (c->tail == n)
                c->tail = prev;
            n->next = q->free_jobs;
            q->free_jobs = n;
            c->waiting--;
            q->count--;
            if (c->waiting == 0)
                ring_remove(q, c);
            client_put(q, c);
            rc = 0;
            break;
        }
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

size_t runq_running(struct runq *q) {
    size_t n;

    pthread_mutex_lock(&q->mu);
    n = q->running;
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
    free(q->jobs);
    free(q->clients);
    free(q->buckets);
    free(q->threads);
    free(q);
}
