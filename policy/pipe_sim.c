/*
 * pipe_sim.c — the pipeline event simulator and its critical path. See pipe_sim.h.
 */
#include "policy/pipe_sim.h"

#include <stdlib.h>
#include <string.h>

enum ev_kind { EV_FINISH = 0, EV_ARRIVE = 1 };

struct event {
    double time;
    long seq; /* raise order: ties in time run in this order */
    int action;
    enum ev_kind kind;
};

/* a binary min-heap of events by (time, seq) */
struct heap {
    struct event *e;
    int n;
};

static int ev_less(const struct event *a, const struct event *b) {
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void heap_push(struct heap *h, struct event ev) {
    int i = h->n++;

    while (i > 0 && ev_less(&ev, &h->e[(i - 1) / 2])) {
        h->e[i] = h->e[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->e[i] = ev;
}

static struct event heap_pop(struct heap *h) {
    struct event top = h->e[0], last = h->e[--h->n];
    int i = 0;

    for (;;) {
        int c = 2 * i + 1;

        if (c >= h->n)
            break;
        if (c + 1 < h->n && ev_less(&h->e[c + 1], &h->e[c]))
            c++;
        if (!ev_less(&h->e[c], &last))
            break;
        h->e[i] = h->e[c];
        i = c;
    }
    if (h->n > 0)
        h->e[i] = last;
    return top;
}

void pipesim_result_free(struct pipesim_result *r) {
    if (!r)
        return;
    free(r->start);
    free(r->finish);
    free(r->critical);
    free(r->busy);
    memset(r, 0, sizeof(*r));
}

struct sim {
    const struct pipeline *p;
    const struct pipeline_times *t;
    const double *ratio;
    struct pipesim_result *r;
    struct heap h;
    long seq;
    int *next;            /* (S) index of the stage's next action (absolute) */
    unsigned char *idle;  /* (S) */
    unsigned char *waits; /* (n) cross-stage inputs not yet arrived (0 or 1) */
};

/* start stage s's next action at `now` if the stage is idle and the action's input is here */
static void try_start(struct sim *m, int s, double now) {
    int per = 2 * m->p->microbatches, i = m->next[s];
    double d;

    if (!m->idle[s] || i >= (s + 1) * per || m->waits[i])
        return;
    d = pipeline_duration(m->p, m->t, m->ratio, i);
    m->idle[s] = 0;
    m->r->start[i] = now;
    m->r->finish[i] = now + d;
    m->r->busy[s] += d;
    heap_push(&m->h, (struct event){now + d, m->seq++, i, EV_FINISH});
}

/* latest finish times backwards over the topological order; marks zero-slack actions */
static int mark_critical(const struct pipeline *p, const struct pipeline_times *t,
                         const double *ratio, struct pipesim_result *r) {
    int per = 2 * p->microbatches;
    double *lf = malloc((size_t)p->n * sizeof(double));
    double eps = 1e-9 * (r->makespan > 1 ? r->makespan : 1);

    if (!lf)
        return TG_ENOMEM;
    for (int k = p->n - 1; k >= 0; k--) {
        int i = p->topo[k], j;
        double v = r->makespan;

        j = (i + 1) % per != 0 ? i + 1 : -1;
        if (j >= 0 && lf[j] - pipeline_duration(p, t, ratio, j) < v)
            v = lf[j] - pipeline_duration(p, t, ratio, j);
        j = p->link_next[i];
        if (j >= 0 && lf[j] - pipeline_duration(p, t, ratio, j) - t->comm < v)
            v = lf[j] - pipeline_duration(p, t, ratio, j) - t->comm;
        lf[i] = v;
        r->critical[i] = (unsigned char)(v - r->finish[i] <= eps);
    }
    free(lf);
    return 0;
}

int pipesim_run(const struct pipeline *p, const struct pipeline_times *t, const double *ratio,
                struct pipesim_result *out, struct tg_error *err) {
    struct sim m = {.p = p, .t = t, .ratio = ratio, .r = out};
    int S = p->stages, per = 2 * p->microbatches, done = 0, rc = TG_ENOMEM;
    double total = 0;

    memset(out, 0, sizeof(*out));
    TG_ASSERT(t->stages == p->stages);
    out->n = p->n;
    out->stages = S;
    out->start = calloc((size_t)p->n, sizeof(double));
    out->finish = calloc((size_t)p->n, sizeof(double));
    out->critical = calloc((size_t)p->n, 1);
    out->busy = calloc((size_t)S, sizeof(double));
    m.h.e = malloc((size_t)(2 * p->n) * sizeof(struct event));
    m.next = malloc((size_t)S * sizeof(int));
    m.idle = malloc((size_t)S);
    m.waits = malloc((size_t)p->n);
    if (!out->start || !out->finish || !out->critical || !out->busy || !m.h.e || !m.next ||
        !m.idle || !m.waits)
        goto fail;
    for (int i = 0; i < p->n; i++)
        m.waits[i] = (unsigned char)(p->link_prev[i] >= 0);
    for (int s = 0; s < S; s++) {
        m.next[s] = s * per;
        m.idle[s] = 1;
    }
    for (int s = 0; s < S; s++)
        try_start(&m, s, 0.0);
    while (m.h.n > 0) {
        struct event ev = heap_pop(&m.h);
        int i = ev.action, s = p->act[i].stage;

        if (ev.kind == EV_FINISH) {
            int j = p->link_next[i];

            done++;
            if (ev.time > out->makespan)
                out->makespan = ev.time;
            m.idle[s] = 1;
            m.next[s]++;
            if (j >= 0)
                heap_push(&m.h, (struct event){ev.time + t->comm, m.seq++, j, EV_ARRIVE});
            try_start(&m, s, ev.time);
        } else {
            m.waits[i] = 0;
            try_start(&m, s, ev.time);
        }
    }
    if (done != p->n) {
        tg_error_set(err, "schedule", "the schedule stalled after %d of %d actions", done, p->n);
        rc = TG_EINTERNAL;
        goto fail;
    }
    for (int s = 0; s < S; s++)
        total += out->busy[s];
    out->bubble = out->makespan > 0 ? 1.0 - total / (S * out->makespan) : 0.0;
    rc = mark_critical(p, t, ratio, out);
    if (rc)
        goto fail;
    free(m.h.e);
    free(m.next);
    free(m.idle);
    free(m.waits);
    return 0;
fail:
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory simulating %d actions", p->n);
    free(m.h.e);
    free(m.next);
    free(m.idle);
    free(m.waits);
    pipesim_result_free(out);
    return rc;
}
