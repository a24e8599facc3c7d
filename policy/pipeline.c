/*
 * pipeline.c — schedules as action DAGs and the times file. See pipeline.h.
 */
#include "policy/pipeline.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_util.h"

#define TIMES_JSON_DEPTH 4 /* {"stages": [{...}]} nests three deep */

int pipeline_kind_parse(const char *name, enum pipeline_kind *out, struct tg_error *err) {
    if (name && strcmp(name, "gpipe") == 0) {
        *out = PIPELINE_GPIPE;
        return 0;
    }
    if (name && strcmp(name, "1f1b") == 0) {
        *out = PIPELINE_1F1B;
        return 0;
    }
    tg_error_set(err, "schedule", "schedule must be gpipe or 1f1b, not \"%.32s\"",
                 name ? name : "");
    return TG_EINVAL;
}

const char *pipeline_kind_name(enum pipeline_kind kind) {
    return kind == PIPELINE_1F1B ? "1f1b" : "gpipe";
}

/* ---- times ---------------------------------------------------------------------------------- */

static int check_time(double v, const char *what, int stage, struct tg_error *err) {
    char name[48];

    if (stage >= 0)
        snprintf(name, sizeof(name), "stages[%d].%s", stage, what);
    else
        snprintf(name, sizeof(name), "%s", what);
    if (!isfinite(v)) {
        tg_error_set(err, "times", "%s is not a finite number", name);
        return TG_EINVAL;
    }
    if (v < 0) {
        tg_error_set(err, "times", "%s is negative (%g); times are durations, >= 0", name, v);
        return TG_EINVAL;
    }
    if (v > TG_PIPE_TIME_MAX) {
        tg_error_set(err, "times", "%s (%g) is larger than %g", name, v, TG_PIPE_TIME_MAX);
        return TG_EINVAL;
    }
    return 0;
}

int pipeline_times_check(const struct pipeline_times *t, struct tg_error *err) {
    int rc;

    if (t->stages < 1 || t->stages > TG_PIPE_STAGES_MAX) {
        tg_error_set(err, "times", "stages must list 1 to %d stages, not %d", TG_PIPE_STAGES_MAX,
                     t->stages);
        return TG_EINVAL;
    }
    rc = check_time(t->comm, "comm", -1, err);
    if (rc)
        return rc;
    for (int s = 0; s < t->stages; s++) {
        const struct pipeline_stage_times *st = &t->st[s];

        rc = check_time(st->forward, "forward", s, err);
        if (!rc)
            rc = check_time(st->w_max, "w_max", s, err);
        if (!rc)
            rc = check_time(st->w_min, "w_min", s, err);
        if (rc)
            return rc;
        if (st->w_min > st->w_max) {
            tg_error_set(err, "times",
                         "stages[%d].w_min (%g) is greater than stages[%d].w_max (%g): a frozen "
                         "backward cannot take longer than an unfrozen one",
                         s, st->w_min, s, st->w_max);
            return TG_EINVAL;
        }
    }
    return 0;
}

static int unit_ok(const char *u) {
    size_t n = strlen(u);

    if (n >= sizeof(((struct pipeline_times *)0)->unit))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = u[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '/'))
            return 0;
    }
    return 1;
}

static const struct jsonu_field top_fields[] = {
    {"stages", JSON_ARRAY, 1},
    {"comm", JSON_REAL, 0},
    {"unit", JSON_STRING, 0},
};

static const struct jsonu_field stage_fields[] = {
    {"forward", JSON_REAL, 1},
    {"w_max", JSON_REAL, 1},
    {"w_min", JSON_REAL, 1},
};

int pipeline_times_parse(const char *text, size_t len, struct pipeline_times *out,
                         struct tg_error *err) {
    json_error_t jerr;
    json_t *doc = NULL;
    const json_t *stages, *v;
    int rc = TG_EINVAL;

    memset(out, 0, sizeof(*out));
    if (!jsonu_utf8_valid(text, len)) {
        tg_error_set(err, "times", "not valid UTF-8");
        return TG_EINVAL;
    }
    if (!jsonu_depth_ok(text, len, TIMES_JSON_DEPTH)) {
        tg_error_set(err, "times", "nests arrays or objects deeper than %d", TIMES_JSON_DEPTH);
        return TG_EINVAL;
    }
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        tg_error_set(err, "times", "not a JSON object: %s at line %d, column %d", jerr.text,
                     jerr.line, jerr.column);
        return TG_EINVAL;
    }
    if (jsonu_check_fields_at(doc, top_fields, TG_ARRAY_LEN(top_fields), 0, "times", "", err))
        goto done;
    stages = json_object_get(doc, "stages");
    if (json_array_size(stages) < 1 || json_array_size(stages) > TG_PIPE_STAGES_MAX) {
        tg_error_set(err, "times", "stages must list 1 to %d stages, not %zu", TG_PIPE_STAGES_MAX,
                     json_array_size(stages));
        goto done;
    }
    out->stages = (int)json_array_size(stages);
    v = json_object_get(doc, "comm");
    out->comm = v ? json_number_value(v) : 0.0;
    v = json_object_get(doc, "unit");
    if (v) {
        if (!unit_ok(json_string_value(v))) {
            tg_error_set(err, "times",
                         "unit must be up to %zu letters, digits, '_' or '/' (e.g. \"ms\")",
                         sizeof(out->unit) - 1);
            goto done;
        }
        snprintf(out->unit, sizeof(out->unit), "%s", json_string_value(v));
    }
    for (int s = 0; s < out->stages; s++) {
        const json_t *e = json_array_get(stages, (size_t)s);
        char where[32];

        snprintf(where, sizeof(where), "stages[%d]", s);
        if (jsonu_check_fields_at(e, stage_fields, TG_ARRAY_LEN(stage_fields), 0, "times", where,
                                  err))
            goto done;
        out->st[s].forward = json_number_value(json_object_get(e, "forward"));
        out->st[s].w_max = json_number_value(json_object_get(e, "w_max"));
        out->st[s].w_min = json_number_value(json_object_get(e, "w_min"));
    }
    rc = pipeline_times_check(out, err);
done:
    json_decref(doc);
    return rc;
}

int pipeline_times_load(const char *path, struct pipeline_times *out, struct tg_error *err) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len;
    int rc;

    if (!f) {
        tg_error_set(err, TG_CODE_IO, "cannot read %s: %s", path, strerror(errno));
        return TG_EIO;
    }
    buf = malloc(TG_PIPE_TIMES_BYTES + 1);
    if (!buf) {
        fclose(f);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory reading %s", path);
        return TG_ENOMEM;
    }
    len = fread(buf, 1, TG_PIPE_TIMES_BYTES + 1, f);
    if (ferror(f)) {
        tg_error_set(err, TG_CODE_IO, "cannot read %s: %s", path, strerror(errno));
        rc = TG_EIO;
    } else if (len > TG_PIPE_TIMES_BYTES) {
        tg_error_set(err, "times", "%s is larger than %lu bytes", path,
                     (unsigned long)TG_PIPE_TIMES_BYTES);
        rc = TG_EINVAL;
    } else {
        rc = pipeline_times_parse(buf, len, out, err);
        if (rc && err) {
            struct tg_error inner = *err;

            tg_error_set(err, inner.code, "%s: %s", path, inner.message);
        }
    }
    free(buf);
    fclose(f);
    return rc;
}

/* ---- the DAG ----------------------------------------------------------------------------------
 */

void pipeline_free(struct pipeline *p) {
    if (!p)
        return;
    free(p->act);
    free(p->link_prev);
    free(p->link_next);
    free(p->fwd);
    free(p->bwd);
    free(p->topo);
    free(p);
}

/* the execution order of stage s: 2M actions into a[0..2M) */
static void stage_order(enum pipeline_kind kind, int S, int M, int s, struct pipeline_action *a) {
    int k = 0;

    if (kind == PIPELINE_GPIPE) {
        for (int m = 0; m < M; m++)
            a[k++] = (struct pipeline_action){s, m, PIPELINE_FWD};
        for (int m = 0; m < M; m++)
            a[k++] = (struct pipeline_action){s, m, PIPELINE_BWD};
        return;
    }
    int warm = S - 1 - s < M ? S - 1 - s : M;

    for (int m = 0; m < warm; m++)
        a[k++] = (struct pipeline_action){s, m, PIPELINE_FWD};
    for (int i = 0; i < M - warm; i++) {
        a[k++] = (struct pipeline_action){s, warm + i, PIPELINE_FWD};
        a[k++] = (struct pipeline_action){s, i, PIPELINE_BWD};
    }
    for (int m = M - warm; m < M; m++)
        a[k++] = (struct pipeline_action){s, m, PIPELINE_BWD};
}

/* Kahn's algorithm over both kinds of edges; 0, or TG_EINTERNAL if the schedule deadlocks */
static int topo_sort(struct pipeline *p, struct tg_error *err) {
    int per = 2 * p->microbatches, head = 0, tail = 0;
    unsigned char *indeg = calloc((size_t)p->n, 1);

    if (!indeg)
        return TG_ENOMEM;
    for (int i = 0; i < p->n; i++) {
        indeg[i] = (unsigned char)((i % per != 0) + (p->link_prev[i] >= 0));
        if (indeg[i] == 0)
            p->topo[tail++] = i;
    }
    while (head < tail) {
        int i = p->topo[head++];
        int next[2] = {(i + 1) % per != 0 ? i + 1 : -1, p->link_next[i]};

        for (int k = 0; k < 2; k++)
            if (next[k] >= 0 && --indeg[next[k]] == 0)
                p->topo[tail++] = next[k];
    }
    free(indeg);
    if (tail != p->n) {
        tg_error_set(err, "schedule", "the %s schedule deadlocks (%d of %d actions can run)",
                     pipeline_kind_name(p->kind), tail, p->n);
        return TG_EINTERNAL;
    }
    return 0;
}

int pipeline_build(enum pipeline_kind kind, int stages, int microbatches, struct pipeline **out,
                   struct tg_error *err) {
    struct pipeline *p;
    int S = stages, M = microbatches, rc;

    *out = NULL;
    if (S < 1 || S > TG_PIPE_STAGES_MAX) {
        tg_error_set(err, "stages", "stages must be 1 to %d, not %d", TG_PIPE_STAGES_MAX, S);
        return TG_EINVAL;
    }
    if (M < 1 || M > TG_PIPE_MICROBATCHES_MAX) {
        tg_error_set(err, "microbatches", "microbatches must be 1 to %d, not %d",
                     TG_PIPE_MICROBATCHES_MAX, M);
        return TG_EINVAL;
    }
    if ((long)2 * S * M > TG_PIPE_ACTIONS_MAX) {
        tg_error_set(err, "microbatches",
                     "stages x microbatches = %d x %d gives %ld actions, more than %d", S, M,
                     (long)2 * S * M, TG_PIPE_ACTIONS_MAX);
        return TG_EINVAL;
    }
    if (kind == PIPELINE_1F1B && M < S) {
        tg_error_set(err, "microbatches",
                     "1f1b needs at least one micro-batch per stage: microbatches %d is less "
                     "than stages %d",
                     M, S);
        return TG_EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return TG_ENOMEM;
    p->kind = kind;
    p->stages = S;
    p->microbatches = M;
    p->n = 2 * S * M;
    p->act = calloc((size_t)p->n, sizeof(*p->act));
    p->link_prev = malloc((size_t)p->n * sizeof(int));
    p->link_next = malloc((size_t)p->n * sizeof(int));
    p->fwd = malloc((size_t)(S * M) * sizeof(int));
    p->bwd = malloc((size_t)(S * M) * sizeof(int));
    p->topo = malloc((size_t)p->n * sizeof(int));
    if (!p->act || !p->link_prev || !p->link_next || !p->fwd || !p->bwd || !p->topo) {
        rc = TG_ENOMEM;
        goto fail;
    }
    for (int s = 0; s < S; s++) {
        struct pipeline_action *a = &p->act[s * 2 * M];

        stage_order(kind, S, M, s, a);
        for (int k = 0; k < 2 * M; k++) {
            int *slot = a[k].op == PIPELINE_FWD ? p->fwd : p->bwd;

            slot[s * M + a[k].mb] = s * 2 * M + k;
        }
    }
    for (int i = 0; i < p->n; i++)
        p->link_prev[i] = p->link_next[i] = -1;
    for (int s = 0; s < S; s++)
        for (int m = 0; m < M; m++) {
            TG_ASSERT(p->fwd[s * M + m] < p->bwd[s * M + m]); /* F(s,m) before B(s,m) */
            if (s > 0) {
                p->link_prev[p->fwd[s * M + m]] = p->fwd[(s - 1) * M + m];
                p->link_next[p->fwd[(s - 1) * M + m]] = p->fwd[s * M + m];
            }
            if (s < S - 1) {
                p->link_prev[p->bwd[s * M + m]] = p->bwd[(s + 1) * M + m];
                p->link_next[p->bwd[(s + 1) * M + m]] = p->bwd[s * M + m];
            }
        }
    rc = topo_sort(p, err);
    if (rc)
        goto fail;
    *out = p;
    return 0;
fail:
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory building a %d x %d pipeline", S, M);
    pipeline_free(p);
    return rc;
}

int pipeline_freezable(const struct pipeline *p, const struct pipeline_times *t, int i) {
    const struct pipeline_stage_times *st = &t->st[p->act[i].stage];

    return p->act[i].op == PIPELINE_BWD && st->w_max > st->w_min;
}

double pipeline_duration(const struct pipeline *p, const struct pipeline_times *t,
                         const double *ratio, int i) {
    const struct pipeline_stage_times *st = &t->st[p->act[i].stage];

    if (p->act[i].op == PIPELINE_FWD)
        return st->forward;
    if (!ratio)
        return st->w_max;
    return st->w_max - ratio[i] * (st->w_max - st->w_min);
}

void pipeline_action_name(const struct pipeline *p, int i, char *buf, size_t n) {
    snprintf(buf, n, "%c%d", p->act[i].op == PIPELINE_FWD ? 'F' : 'B', p->act[i].mb);
}
