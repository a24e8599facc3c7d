/*
 * test_runq.c — suite `runq`: what lets the server drop the work of a client that went away:
 * the cancellation token (base/cancel.h), taking a waiting job out of the run queue
 * (runq_cancel, a fired token refused by runq_submit) and the socket watcher
 * (server/connwatch.h) that notices the client leaving.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cancel.h"
#include "base/tg.h"
#include "server/connwatch.h"
#include "server/runq.h"
#include "tg_test.h"

/* ---- the token ------------------------------------------------------------------------------ */

static void count_hook(void *arg) {
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

TG_TEST(runq, token_runs_its_hook_once) {
    struct tg_cancel c;
    int calls = 0;

    tg_cancel_init(&c);
    CU_ASSERT_EQUAL(tg_cancel_fired(&c), 0);
    CU_ASSERT_EQUAL(tg_cancel_fired(NULL), 0);
    CU_ASSERT_EQUAL(tg_cancel_hook(&c, count_hook, &calls), 0);
    tg_cancel_fire(&c);
    tg_cancel_fire(&c);
    CU_ASSERT_EQUAL(calls, 1);
    CU_ASSERT_EQUAL(tg_cancel_fired(&c), 1);
    tg_cancel_unhook(&c);
    /* fired already: a new hook is refused, and the caller acts on the cancellation */
    CU_ASSERT_EQUAL(tg_cancel_hook(&c, count_hook, &calls), 1);
    CU_ASSERT_EQUAL(calls, 1);
    tg_cancel_destroy(&c);

    /* an unhooked token fires without calling anything */
    tg_cancel_init(&c);
    CU_ASSERT_EQUAL(tg_cancel_hook(&c, count_hook, &calls), 0);
    tg_cancel_unhook(&c);
    tg_cancel_fire(&c);
    CU_ASSERT_EQUAL(calls, 1);
    tg_cancel_destroy(&c);
}

struct slow_hook {
    volatile int entered, finished;
};

static void slow_hook_fn(void *arg) {
    struct slow_hook *h = arg;

    h->entered = 1;
    usleep(100 * 1000);
    h->finished = 1;
}

static void *fire_thread(void *arg) {
    tg_cancel_fire(arg);
    return NULL;
}

TG_TEST(runq, unhook_waits_for_a_running_hook) {
    struct slow_hook h = {0, 0};
    struct tg_cancel c;
    pthread_t t;

    tg_cancel_init(&c);
    CU_ASSERT_EQUAL(tg_cancel_hook(&c, slow_hook_fn, &h), 0);
    CU_ASSERT_FATAL(pthread_create(&t, NULL, fire_thread, &c) == 0);
    while (!h.entered)
        usleep(1000);
    tg_cancel_unhook(&c); /* the owner may free what the hook touches once this returns */
    CU_ASSERT_EQUAL(h.finished, 1);
    pthread_join(t, NULL);
    tg_cancel_destroy(&c);
}

/* ---- the queue --------------------------------------------------------------------------------
 */

static volatile int gate_open;

struct job {
    int id;
    volatile int started;
    int ran, done;
    int *order; /* where the work writes its id, in run order */
    int *norder;
};

static void gated_work(void *arg) {
    struct job *j = arg;

    j->started = 1;
    while (!gate_open)
        usleep(1000);
    j->ran = 1;
    j->order[__atomic_fetch_add(j->norder, 1, __ATOMIC_SEQ_CST)] = j->id;
}

static void mark_done(void *arg) {
    ((struct job *)arg)->done = 1;
}

TG_TEST(runq, cancel_takes_a_waiting_job_out) {
    struct runq *q = runq_new(1, 8, 0);
    struct job jobs[5];
    int order[5], norder = 0;
    struct tg_cancel fired;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    gate_open = 0;
    for (int i = 0; i < 5; i++) {
        jobs[i] = (struct job){.id = i, .order = order, .norder = &norder};
        CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[i], NULL, "c"), 0);
        if (i == 0)
            while (!jobs[0].started)
                usleep(1000); /* the worker holds job 0 at the gate */
    }
    /* job 0 runs (held at the gate): a running job cannot be taken out */
    CU_ASSERT_EQUAL(runq_cancel(q, &jobs[0]), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(runq_cancel(q, &jobs[2]), 0);
    CU_ASSERT_EQUAL(runq_cancel(q, &jobs[2]), TG_ENOTFOUND); /* once */
    CU_ASSERT_EQUAL(runq_cancel(q, &order), TG_ENOTFOUND);   /* never queued */
    CU_ASSERT_EQUAL(runq_pending(q), 4);
    /* a token that has fired is refused at the door */
    tg_cancel_init(&fired);
    tg_cancel_fire(&fired);
    CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[2], &fired, "c"), TG_ECANCELED);
    tg_cancel_destroy(&fired);
    gate_open = 1;
    runq_free(q);
    CU_ASSERT(!jobs[2].ran && !jobs[2].done);
    CU_ASSERT_EQUAL(norder, 4);
    /* the others ran in their order */
    CU_ASSERT(order[0] == 0 && order[1] == 1 && order[2] == 3 && order[3] == 4);
    for (int i = 0; i < 5; i++)
        if (i != 2)
            CU_ASSERT(jobs[i].ran && jobs[i].done);
}

/* The queue is fair between clients: a worker serves the clients with jobs waiting in turn,
 * one job each, each client's own jobs in order. A sends six jobs, then B two and C one: B's
 * and C's first jobs run right after A's next one, not after all of A's. */
TG_TEST(runq, clients_take_turns) {
    static const char *const who[] = {"A", "A", "A", "A", "A", "A", "B", "B", "C"};
    static const int want[] = {0, 1, 6, 8, 2, 7, 3, 4, 5};
    struct runq *q = runq_new(1, 16, 0);
    struct job jobs[9];
    int order[9], norder = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    gate_open = 0;
    for (int i = 0; i < 9; i++) {
        jobs[i] = (struct job){.id = i, .order = order, .norder = &norder};
        CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[i], NULL, who[i]), 0);
        if (i == 0)
            while (!jobs[0].started)
                usleep(1000); /* the worker holds job 0 at the gate */
    }
    gate_open = 1;
    runq_free(q);
    CU_ASSERT_EQUAL_FATAL(norder, 9);
    for (int i = 0; i < 9; i++)
        CU_ASSERT_EQUAL(order[i], want[i]);
}

/* One client holds at most its share (per_client) of jobs waiting or running; others still get
 * in, and the client gets in again once its jobs are done. The queue's own bound still holds. */
TG_TEST(runq, a_client_holds_its_share_at_most) {
    struct runq *q = runq_new(1, 4, 3);
    struct job jobs[8];
    int order[8], norder = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    gate_open = 0;
    for (int i = 0; i < 8; i++)
        jobs[i] = (struct job){.id = i, .order = order, .norder = &norder};
    for (int i = 0; i < 3; i++) /* one runs (at the gate), two wait */
        CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[i], NULL, "A"), 0);
    CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[3], NULL, "A"), TG_ERANGE);
    CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[3], NULL, "B"), 0);
    CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[4], NULL, NULL), 0);
    /* five of 1 + 4 places are taken: the queue is full for everyone */
    CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[5], NULL, "C"), TG_EBUSY);
    CU_ASSERT_EQUAL(runq_pending(q), 5);
    /* a cancelled job gives its client's place back */
    CU_ASSERT_EQUAL(runq_cancel(q, &jobs[2]), 0);
    CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[5], NULL, "A"), 0);
    gate_open = 1;
    while (runq_pending(q) > 0)
        usleep(1000);
    CU_ASSERT_EQUAL(runq_submit(q, gated_work, mark_done, &jobs[6], NULL, "A"), 0);
    runq_free(q);
    CU_ASSERT_EQUAL(norder, 6);
    CU_ASSERT(!jobs[2].ran && jobs[6].ran && jobs[5].ran);
}

/* ---- the socket watcher ------------------------------------------------------------------------
 */

struct gone {
    volatile int calls;
    struct connwatch *w;
    struct connwatch_entry *e;
    int remove_in_callback;
};

static void on_gone(void *arg) {
    struct gone *g = arg;

    g->calls++;
    if (g->remove_in_callback)
        connwatch_remove(g->w, g->e);
}

static int wait_calls(struct gone *g, int want) {
    for (int i = 0; i < 5000 && g->calls < want; i++)
        usleep(1000);
    return g->calls;
}

TG_TEST(runq, connwatch_reports_a_client_leaving) {
    struct connwatch *w = connwatch_new();
    struct gone a = {0}, b = {0}, c = {0};
    int sa[2], sb[2], sc[2];

    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sa) == 0);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sb) == 0);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sc) == 0);
    a.w = b.w = c.w = w;
    c.remove_in_callback = 1;
    CU_ASSERT_EQUAL_FATAL(connwatch_add(w, sa[0], on_gone, &a, &a.e), 0);
    CU_ASSERT_EQUAL_FATAL(connwatch_add(w, sb[0], on_gone, &b, &b.e), 0);
    CU_ASSERT_EQUAL_FATAL(connwatch_add(w, sc[0], on_gone, &c, &c.e), 0);

    /* data from the client (a pipelined request) is not a departure */
    CU_ASSERT_EQUAL(write(sa[1], "GET / HTTP/1.1\r\n\r\n", 18), 18);
    /* b's client leaves; a's and c's stay */
    close(sb[1]);
    CU_ASSERT_EQUAL(wait_calls(&b, 1), 1);
    usleep(50 * 1000);
    CU_ASSERT_EQUAL(a.calls, 0);
    CU_ASSERT_EQUAL(c.calls, 0);
    connwatch_remove(w, b.e);

    /* a is removed before its client leaves: no call */
    connwatch_remove(w, a.e);
    close(sa[1]);

    /* c removes itself from its own callback */
    shutdown(sc[1], SHUT_WR);
    CU_ASSERT_EQUAL(wait_calls(&c, 1), 1);
    usleep(50 * 1000);
    CU_ASSERT_EQUAL(a.calls, 0);
    CU_ASSERT_EQUAL(b.calls, 1); /* once only */

    /* many adds and removes without any departure (freed in batches by the thread) */
    close(sb[0]);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sb) == 0);
    for (int i = 0; i < 100; i++) {
        struct connwatch_entry *e;

        CU_ASSERT_EQUAL_FATAL(connwatch_add(w, sb[0], on_gone, &a, &e), 0);
        connwatch_remove(w, e);
    }
    CU_ASSERT_EQUAL(a.calls, 0);
    connwatch_free(w);
    close(sa[0]);
    close(sb[0]);
    close(sb[1]);
    close(sc[0]);
    close(sc[1]);
}
