/*
 * pipeline.h — pipeline-parallel schedules as action DAGs, and the per-stage times that give
 * each action its duration.
 *
 * A pipeline of S stages runs M micro-batches. Each stage executes 2M actions, one after the
 * other, in the order its schedule fixes: a forward F(s,m) and a backward B(s,m) for every
 * micro-batch m. Besides that stage order, an action waits for one action of a neighbouring
 * stage: F(s,m) for F(s-1,m) (activations flow forward), B(s,m) for B(s+1,m) (gradients flow
 * back). Every transfer between stages takes `comm` time units. On every stage F(s,m) comes
 * before B(s,m) in the stage order, so the stash a backward needs is always there.
 *
 * Schedules:
 *   gpipe  every stage runs F0 .. F(M-1), then B0 .. B(M-1).
 *   1f1b   (PipeDream-flush) stage s runs min(S-1-s, M) warm-up forwards, then alternates
 *          one forward and one backward, then drains the remaining backwards. At most S-s
 *          micro-batches are in flight on stage s. Like torch.distributed.pipelining's
 *          Schedule1F1B it requires M >= S.
 *
 * Durations: a forward takes the stage's `forward` time; a backward with freeze ratio r in
 * [0, 1] takes w(r) = w_max - r (w_max - w_min): w_max unfrozen, w_min fully frozen.
 *
 * Does: parse and check a times file, build the action order and the DAG edges, give a
 * topological order. Does not: schedule in time (pipe_sim.h), plan freezing (freeze_plan.h).
 * Thread-safety: a built struct pipeline is read-only; share it freely.
 */
#ifndef TG_PIPELINE_H
#define TG_PIPELINE_H

#include <stddef.h>

#include "base/limits.h"
#include "base/tg.h"

enum pipeline_kind { PIPELINE_GPIPE = 0, PIPELINE_1F1B = 1 };
enum pipeline_op { PIPELINE_FWD = 0, PIPELINE_BWD = 1 };

/* One stage's measured times, in the times file's unit (all >= 0, w_min <= w_max). */
struct pipeline_stage_times {
    double forward; /* one micro-batch's forward */
    double w_max;   /* one micro-batch's backward, nothing frozen */
    double w_min;   /* one micro-batch's backward, the whole stage frozen */
};

struct pipeline_times {
    int stages;                                         /* entries in st, 1 .. TG_PIPE_STAGES_MAX */
    double comm;                                        /* each stage-to-stage transfer, >= 0 */
    char unit[16];                                      /* label for tables, e.g. "ms"; may be "" */
    struct pipeline_stage_times st[TG_PIPE_STAGES_MAX]; /* (stages) */
};

struct pipeline_action {
    int stage;
    int mb; /* micro-batch */
    enum pipeline_op op;
};

/*
 * The action DAG. Actions are numbered stage-major: stage s's actions, in its execution
 * order, are [s*2M, (s+1)*2M). The same-stage predecessor of action i is i-1 unless i is the
 * first of its stage (i % (2M) == 0).
 */
struct pipeline {
    enum pipeline_kind kind;
    int stages;                  /* S */
    int microbatches;            /* M */
    int n;                       /* actions, 2 S M */
    struct pipeline_action *act; /* (n) */
    int *link_prev; /* (n) cross-stage predecessor: F(s-1,m) for F(s,m), B(s+1,m) for B(s,m); -1 */
    int *link_next; /* (n) cross-stage successor; -1 */
    int *fwd;       /* (S, M) index of F(s,m) */
    int *bwd;       /* (S, M) index of B(s,m) */
    int *topo;      /* (n) a topological order of the DAG */
};

/* pipeline_kind_parse — "gpipe" or "1f1b" into *out; 0, or TG_EINVAL (message in *err). */
int pipeline_kind_parse(const char *name, enum pipeline_kind *out, struct tg_error *err);

/* pipeline_kind_name — "gpipe" or "1f1b" (static). */
const char *pipeline_kind_name(enum pipeline_kind kind);

/*
 * pipeline_times_parse — parse a times document from text[0..len) (not NUL-terminated):
 *   {"unit": "ms", "comm": 0.05,
 *    "stages": [{"forward": 1.0, "w_max": 2.0, "w_min": 0.6}, ...]}
 * "unit" and "comm" are optional; unknown fields are rejected. Returns 0, or TG_EINVAL with
 * *err {"times", a sentence naming the field, e.g. "stages[2].w_min (3) is greater than
 * stages[2].w_max (2)"}. Pure.
 */
int pipeline_times_parse(const char *text, size_t len, struct pipeline_times *out,
                         struct tg_error *err);

/*
 * pipeline_times_load — read path (at most TG_PIPE_TIMES_BYTES) and parse it. Errors are
 * pipeline_times_parse's, prefixed with the path, or TG_EIO when the file cannot be read.
 */
int pipeline_times_load(const char *path, struct pipeline_times *out, struct tg_error *err);

/* pipeline_times_check — the value checks of pipeline_times_parse on a filled struct (for
 * callers that measure times themselves). 0 or TG_EINVAL naming the field. Pure. */
int pipeline_times_check(const struct pipeline_times *t, struct tg_error *err);

/*
 * pipeline_build — the DAG of `kind` with `stages` and `microbatches`. *out is new (free
 * with pipeline_free). Returns 0; TG_EINVAL with *err {"stages" | "microbatches", why} for
 * counts out of range or a 1F1B schedule with M < S; TG_ENOMEM.
 */
int pipeline_build(enum pipeline_kind kind, int stages, int microbatches, struct pipeline **out,
                   struct tg_error *err);

/* pipeline_free — accepts NULL. */
void pipeline_free(struct pipeline *p);

/* pipeline_freezable — 1 if action i is a backward whose stage has w_max > w_min. */
int pipeline_freezable(const struct pipeline *p, const struct pipeline_times *t, int i);

/*
 * pipeline_duration — action i's duration: the stage's forward time, or w(ratio[i]) for a
 * backward. ratio is (n), borrowed, or NULL for no freezing; forward entries are ignored.
 */
double pipeline_duration(const struct pipeline *p, const struct pipeline_times *t,
                         const double *ratio, int i);

/* pipeline_action_name — "F3" / "B3" (micro-batch 3) into buf. */
void pipeline_action_name(const struct pipeline *p, int i, char *buf, size_t n);

#endif
