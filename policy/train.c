/*
 * train.c — `toolgym train`: GRPO with anchored branching over HTTP episodes. See train.h.
 */
#include "policy/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/reward.h"
#include "policy/candidates.h"
#include "policy/ckpt.h"
#include "policy/features.h"
#include "policy/mlp.h"
#include "policy/optim.h"
#include "base/datadir.h"
#include "base/rng.h"
#include "policy/rollout.h"
#include "policy/svg.h"

/* ---- config ------------------------------------------------------------------------------- */

struct train_config train_config_default(void) {
    struct train_config c;

    memset(&c, 0, sizeof(c));
    c.hidden1 = 32;
    c.hidden2 = 32;
    c.updates = 300;
    c.tasks_per_update = 16;
    c.group = 8;
    c.inflight = 64;
    c.max_steps = 6;
    c.seed = 1;
    c.lr = 3e-3;
    c.lr_min = 1e-4;
    c.weight_decay = 0.0;
    c.grad_clip = 1.0;
    c.entropy_coef = 0.05;
    c.ppo_epochs = 1;
    c.clip_eps = 0.2;
    c.sched.kind = SCHED_CONSTANT; /* bench/train.sh: the best and steadiest of the three */
    c.sched.signal = SCHED_SIGNAL_NEG_REWARD;
    c.sched.greedy = sched_greedy_config_default();
    c.sched.greedy.factor = 0.7;
    c.sched.greedy.patience = 1;
    c.sched.greedy.threshold = 0.01;
    c.sched.greedy.threshold_mode = SCHED_THRESHOLD_ABS;
    c.sched.greedy.window = 3;
    c.sched.greedy.cooldown = 1;
    c.sched.greedy.lr_max = 1e-2;
    c.sched.greedy.reset_start = 3;
    c.anchors = ANCHORS_BRANCH;
    c.anchor_fraction = 0.5;
    c.anchor_warmup = 10;
    c.branch_mix = 0.5;
    c.adv_std_floor = 1.0;
    snprintf(c.reward_mode, sizeof(c.reward_mode), "judge");
    /* the data directory's train split (base/datadir.h); data/... if there is none */
    if (datadir_file("tasks/train.jsonl", c.tasks_file, sizeof(c.tasks_file), NULL) != 0)
        snprintf(c.tasks_file, sizeof(c.tasks_file), "data/tasks/train.jsonl");
    c.eval_episodes = 0;
    c.target_accuracy = 0.9;
    return c;
}

/* fill the schedule's lrs from lr / lr_min / updates */
static void sched_from(const struct train_config *c, struct sched_config *s) {
    *s = c->sched;
    s->lr = c->lr;
    s->cosine.lr_max = c->lr;
    s->cosine.lr_min = c->lr_min;
    s->cosine.warmup = 0;
    s->cosine.total = c->updates;
    s->greedy.lr = c->lr;
    s->greedy.lr_min = c->lr_min;
    if (s->greedy.lr_max < c->lr)
        s->greedy.lr_max = c->lr;
}

int train_config_check(const struct train_config *c, struct tg_error *err) {
    struct sched_config s;

#define RANGE(field, lo, hi)                                                                       \
    if (!((c->field) >= (lo) && (c->field) <= (hi))) {                                             \
        tg_error_set(err, "config", "%s = %g is out of range [%g, %g]", #field,                    \
                     (double)(c->field), (double)(lo), (double)(hi));                              \
        return TG_EINVAL;                                                                          \
    }
    RANGE(hidden1, 1, 1024);
    RANGE(hidden2, 1, 1024);
    RANGE(updates, 1, TG_TRAIN_UPDATES_MAX);
    RANGE(tasks_per_update, 1, 1024);
    RANGE(group, 2, TG_TRAIN_GROUP_MAX);
    RANGE(inflight, 32, TG_ROLLOUT_INFLIGHT);
    RANGE(max_steps, 1, TG_CAND_STEPS_MAX);
    RANGE(lr, 1e-7, 1.0);
    RANGE(lr_min, 0.0, c->lr);
    RANGE(weight_decay, 0.0, 1.0);
    RANGE(grad_clip, 1e-6, 1e6);
    RANGE(entropy_coef, 0.0, 10.0);
    RANGE(ppo_epochs, 1, 4);
    RANGE(clip_eps, 0.01, 1.0);
    RANGE(anchor_fraction, 0.0, 1.0);
    RANGE(anchor_warmup, 0, TG_TRAIN_UPDATES_MAX);
    RANGE(branch_mix, 0.0, 1.0);
    RANGE(adv_std_floor, 0.0, 10.0);
    RANGE(eval_episodes, 0, 1000000);
    RANGE(target_accuracy, 0.0, 1.0);
#undef RANGE
    if (strcmp(c->reward_mode, "judge") && strcmp(c->reward_mode, "torl") &&
        strcmp(c->reward_mode, "otc")) {
        tg_error_set(err, "config", "reward_mode '%s' is not judge, torl or otc", c->reward_mode);
        return TG_EINVAL;
    }
    sched_from(c, &s);
    /* every schedule's settings, not only the chosen one's: a typo never waits for a switch */
    if (sched_greedy_check(&s.greedy, err) || sched_cosine_check(&s.cosine, err))
        return TG_EINVAL;
    return sched_config_check(&s, err);
}

/* JSON number or integer of key k into *v when present; error on a wrong type */
static int jnum(const json_t *o, const char *k, double *v, int *found, struct tg_error *err) {
    const json_t *j = json_object_get(o, k);

    *found = j != NULL;
    if (!j)
        return 0;
    if (!json_is_number(j)) {
        tg_error_set(err, "config", "config key '%s' must be a number", k);
        return TG_EINVAL;
    }
    *v = json_number_value(j);
    return 0;
}

static int jint(const json_t *o, const char *k, int *out, struct tg_error *err) {
    double v;
    int found, rc = jnum(o, k, &v, &found, err);

    if (rc || !found)
        return rc;
    if (v != floor(v) || fabs(v) > 2e9) {
        tg_error_set(err, "config", "config key '%s' must be an integer", k);
        return TG_EINVAL;
    }
    *out = (int)v;
    return 0;
}

static int jdbl(const json_t *o, const char *k, double *out, struct tg_error *err) {
    int found;

    return jnum(o, k, out, &found, err);
}

static int jstr(const json_t *o, const char *k, char *buf, size_t n, struct tg_error *err) {
    const json_t *j = json_object_get(o, k);

    if (!j)
        return 0;
    if (!json_is_string(j) || strlen(json_string_value(j)) >= n) {
        tg_error_set(err, "config", "config key '%s' must be a string of < %zu bytes", k, n);
        return TG_EINVAL;
    }
    snprintf(buf, n, "%s", json_string_value(j));
    return 0;
}

static int parse_anchors(const char *s, enum train_anchors *a, struct tg_error *err) {
    if (strcmp(s, "off") == 0)
        *a = ANCHORS_OFF;
    else if (strcmp(s, "warmup") == 0)
        *a = ANCHORS_WARMUP;
    else if (strcmp(s, "branch") == 0)
        *a = ANCHORS_BRANCH;
    else {
        tg_error_set(err, "config", "anchors '%s' is not off, warmup or branch", s);
        return TG_EINVAL;
    }
    return 0;
}

int train_config_load_json(struct train_config *c, const char *path, struct tg_error *err) {
    static const char *const keys[] = {"hidden1",          "hidden2",        "updates",
                                       "tasks_per_update", "group",          "inflight",
                                       "max_steps",        "seed",           "lr",
                                       "lr_min",           "weight_decay",   "grad_clip",
                                       "entropy_coef",     "ppo_epochs",     "clip_eps",
                                       "lr_schedule",      "greedy",         "anchors",
                                       "anchor_fraction",  "anchor_warmup",  "branch_mix",
                                       "adv_std_floor",    "reward_mode",    "tasks_file",
                                       "eval_episodes",    "target_accuracy"};
    static const char *const gkeys[] = {"factor",      "patience", "threshold", "threshold_mode",
                                        "window",      "warmup",   "cooldown",  "lr_max",
                                        "reset_start", "signal"};
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *g;
    const char *k;
    json_t *v;
    char buf[32];
    double d;
    int rc = 0;

    if (!j) {
        tg_error_set(err, "config", "%s:%d: %s", path, je.line, je.text);
        return errno == ENOENT ? TG_EIO : TG_EINVAL;
    }
    if (!json_is_object(j)) {
        tg_error_set(err, "config", "%s: the config must be a JSON object", path);
        rc = TG_EINVAL;
        goto done;
    }
    json_object_foreach(j, k, v) {
        int ok = 0;

        for (size_t i = 0; i < TG_ARRAY_LEN(keys); i++)
            ok |= strcmp(k, keys[i]) == 0;
        if (!ok) {
            tg_error_set(err, "config", "%s: unknown config key '%s'", path, k);
            rc = TG_EINVAL;
            goto done;
        }
    }
    d = (double)c->seed;
    if ((rc = jint(j, "hidden1", &c->hidden1, err)) ||
        (rc = jint(j, "hidden2", &c->hidden2, err)) ||
        (rc = jint(j, "updates", &c->updates, err)) ||
        (rc = jint(j, "tasks_per_update", &c->tasks_per_update, err)) ||
        (rc = jint(j, "group", &c->group, err)) || (rc = jint(j, "inflight", &c->inflight, err)) ||
        (rc = jint(j, "max_steps", &c->max_steps, err)) || (rc = jdbl(j, "seed", &d, err)) ||
        (rc = jdbl(j, "lr", &c->lr, err)) || (rc = jdbl(j, "lr_min", &c->lr_min, err)) ||
        (rc = jdbl(j, "weight_decay", &c->weight_decay, err)) ||
        (rc = jdbl(j, "grad_clip", &c->grad_clip, err)) ||
        (rc = jdbl(j, "entropy_coef", &c->entropy_coef, err)) ||
        (rc = jint(j, "ppo_epochs", &c->ppo_epochs, err)) ||
        (rc = jdbl(j, "clip_eps", &c->clip_eps, err)) ||
        (rc = jdbl(j, "anchor_fraction", &c->anchor_fraction, err)) ||
        (rc = jint(j, "anchor_warmup", &c->anchor_warmup, err)) ||
        (rc = jdbl(j, "branch_mix", &c->branch_mix, err)) ||
        (rc = jdbl(j, "adv_std_floor", &c->adv_std_floor, err)) ||
        (rc = jstr(j, "reward_mode", c->reward_mode, sizeof(c->reward_mode), err)) ||
        (rc = jstr(j, "tasks_file", c->tasks_file, sizeof(c->tasks_file), err)) ||
        (rc = jint(j, "eval_episodes", &c->eval_episodes, err)) ||
        (rc = jdbl(j, "target_accuracy", &c->target_accuracy, err)))
        goto done;
    if (d < 0 || d != floor(d) || d > 9e15) {
        tg_error_set(err, "config", "config key 'seed' must be a non-negative integer");
        rc = TG_EINVAL;
        goto done;
    }
    c->seed = (unsigned long long)d;
    buf[0] = '\0';
    if ((rc = jstr(j, "lr_schedule", buf, sizeof(buf), err)))
        goto done;
    if (buf[0] && (rc = sched_kind_parse(buf, &c->sched.kind, err)))
        goto done;
    buf[0] = '\0';
    if ((rc = jstr(j, "anchors", buf, sizeof(buf), err)))
        goto done;
    if (buf[0] && (rc = parse_anchors(buf, &c->anchors, err)))
        goto done;
    g = json_object_get(j, "greedy");
    if (g) {
        struct sched_greedy_config *gc = &c->sched.greedy;

        if (!json_is_object(g)) {
            tg_error_set(err, "config", "config key 'greedy' must be an object");
            rc = TG_EINVAL;
            goto done;
        }
        json_object_foreach(g, k, v) {
            int ok = 0;

            for (size_t i = 0; i < TG_ARRAY_LEN(gkeys); i++)
                ok |= strcmp(k, gkeys[i]) == 0;
            if (!ok) {
                tg_error_set(err, "config", "%s: unknown key 'greedy.%s'", path, k);
                rc = TG_EINVAL;
                goto done;
            }
        }
        if ((rc = jdbl(g, "factor", &gc->factor, err)) ||
            (rc = jint(g, "patience", &gc->patience, err)) ||
            (rc = jdbl(g, "threshold", &gc->threshold, err)) ||
            (rc = jint(g, "window", &gc->window, err)) ||
            (rc = jint(g, "warmup", &gc->warmup, err)) ||
            (rc = jint(g, "cooldown", &gc->cooldown, err)) ||
            (rc = jdbl(g, "lr_max", &gc->lr_max, err)) ||
            (rc = jint(g, "reset_start", &gc->reset_start, err)))
            goto done;
        buf[0] = '\0';
        if ((rc = jstr(g, "threshold_mode", buf, sizeof(buf), err)))
            goto done;
        if (buf[0] && (rc = sched_threshold_mode_parse(buf, &gc->threshold_mode, err)))
            goto done;
        buf[0] = '\0';
        if ((rc = jstr(g, "signal", buf, sizeof(buf), err)))
            goto done;
        if (buf[0] && (rc = sched_signal_parse(buf, &c->sched.signal, err)))
            goto done;
    }
    rc = train_config_check(c, err);
done:
    json_decref(j);
    return rc;
}

/* ---- the policy: features -> MLP -> softmax over candidates ------------------------------- */

struct policy {
    struct mlp m;
    struct mlp_workspace ws;
    struct cand_list *cl;      /* scratch */
    float *X;                  /* (TG_CAND_MAX, FEAT_DIM) scratch */
    float scores[TG_CAND_MAX]; /* MLP score + base-measure offset */
    float off[TG_CAND_MAX];    /* -log(candidates of the same kind) */
    float probs[TG_CAND_MAX];
};

static void policy_free(struct policy *p) {
    if (!p)
        return;
    mlp_free(&p->m);
    mlp_workspace_free(&p->ws);
    free(p->cl);
    free(p->X);
    memset(p, 0, sizeof(*p));
}

/* scratch for a policy whose network p->m is already set up */
static int policy_scratch(struct policy *p, struct tg_error *err) {
    int rc = mlp_workspace_init(&p->ws, &p->m.cfg, TG_CAND_MAX, err);

    if (rc)
        return rc;
    p->cl = malloc(sizeof(*p->cl));
    p->X = malloc(sizeof(float) * TG_CAND_MAX * FEAT_DIM);
    if (!p->cl || !p->X) {
        tg_error_set(err, "nomem", "out of memory");
        return TG_ENOMEM;
    }
    return 0;
}

static struct mlp_config net_config(const struct train_config *c) {
    struct mlp_config m;

    m.in_dim = FEAT_DIM;
    m.hidden1 = c->hidden1;
    m.hidden2 = c->hidden2;
    return m;
}

/* a recorded decision of a rollout (for the update) */
struct decision {
    float *X; /* (n, FEAT_DIM) new, followed by the n base-measure offsets */
    int n;
    int action;
    float logp;
};

struct traj {
    int ndec, cap;
    struct decision *dec;
    int nent;
    float ent[TG_CAND_STEPS_MAX + 1]; /* policy entropy at prefix decision points */
    int is_branch;
    double reward, adv;
};

static void traj_clear(struct traj *t) {
    for (int i = 0; i < t->ndec; i++)
        free(t->dec[i].X);
    free(t->dec);
    memset(t, 0, sizeof(*t));
}

enum act_mode { ACT_SAMPLE = 0, ACT_GREEDY = 1 };

struct actor {
    struct policy *pol;
    struct rng *rng;
    int mode;
    int record; /* store decisions for the update */
    long steps; /* decisions made (throughput) */
};

/*
 * The softmax has a fixed base measure: p_i ~ exp(score_i) / (candidates of i's kind), so that
 * each kind (search, calculator, run_code, answer) starts with equal mass however many argument
 * variants it has. A constant offset leaves d(log p)/d(score) unchanged.
 */
static void base_measure(const struct cand_list *l, float *off) {
    int nk[CAND_KINDS] = {0};

    for (int i = 0; i < l->n; i++)
        nk[l->c[i].kind]++;
    for (int i = 0; i < l->n; i++)
        off[i] = -logf((float)nk[l->c[i].kind]);
}

/* score the candidates of state s into p->scores / p->probs; returns n */
static int policy_score(struct policy *p, const struct cand_state *s, struct tg_error *err) {
    int rc;

    cand_generate(s, p->cl);
    if (p->cl->n == 0) {
        tg_error_set(err, "no_candidates", "no candidate action for a state");
        return TG_EINTERNAL;
    }
    feat_compute_all(s, p->cl, p->X);
    rc = mlp_forward(&p->m, &p->ws, p->X, p->cl->n, p->scores, err);
    if (rc)
        return rc;
    base_measure(p->cl, p->off);
    for (int i = 0; i < p->cl->n; i++)
        p->scores[i] += p->off[i];
    mlp_softmax(p->scores, p->cl->n, p->probs);
    return p->cl->n;
}

static int act_cb(void *ctx, struct rollout_ep *ep, const struct cand_state *s, int observe,
                  struct cand *out, struct tg_error *err) {
    struct actor *a = ctx;
    struct policy *p = a->pol;
    struct traj *t = ep->user;
    int n = policy_score(p, s, err), k;

    if (n < 0)
        return n;
    if (observe) {
        if (t && t->nent < TG_CAND_STEPS_MAX + 1)
            t->ent[t->nent++] = mlp_entropy(p->scores, n);
        *out = p->cl->c[0];
        return 0;
    }
    a->steps++;
    if (a->mode == ACT_GREEDY) {
        k = 0;
        for (int i = 1; i < n; i++)
            if (p->scores[i] > p->scores[k])
                k = i;
    } else {
        k = rng_categorical(a->rng, p->probs, n);
        if (k < 0)
            k = 0;
    }
    *out = p->cl->c[k];
    if (a->record && t) {
        struct decision *d;

        if (t->ndec == t->cap) {
            int cap = t->cap ? t->cap * 2 : 4;
            struct decision *nd = realloc(t->dec, sizeof(*nd) * (size_t)cap);

            if (!nd) {
                tg_error_set(err, "nomem", "out of memory");
                return TG_ENOMEM;
            }
            t->dec = nd;
            t->cap = cap;
        }
        d = &t->dec[t->ndec];
        d->X = malloc(sizeof(float) * (size_t)n * (FEAT_DIM + 1));
        if (!d->X) {
            tg_error_set(err, "nomem", "out of memory");
            return TG_ENOMEM;
        }
        memcpy(d->X, p->X, sizeof(float) * (size_t)n * FEAT_DIM);
        memcpy(d->X + (size_t)n * FEAT_DIM, p->off, sizeof(float) * (size_t)n);
        d->n = n;
        d->action = k;
        d->logp = mlp_log_prob(p->scores, n, k);
        t->ndec++;
    }
    return 0;
}

/* ---- tasks -------------------------------------------------------------------------------- */

struct task_ref {
    char id[TG_TASK_ID_MAX];
    json_t *expert; /* borrowed from the local task file, or NULL */
};

/* the ids of a split from the server (GET /v1/tasks, paged) */
static int list_tasks(struct rollout *r, const char *split, struct task_ref **out, int *n,
                      struct tg_error *err) {
    int cap = 0, total = 1;

    *out = NULL;
    *n = 0;
    while (*n < total) {
        char path[128];
        json_t *j = NULL, *arr;
        long status;
        size_t i;
        int rc;

        snprintf(path, sizeof(path), "/v1/tasks?split=%s&offset=%d&limit=1000", split, *n);
        rc = rollout_request(r, 0, "GET", path, NULL, &status, &j, err);
        if (rc)
            return rc;
        arr = json_object_get(j, "tasks");
        if (status != 200 || !json_is_array(arr) || !json_is_integer(json_object_get(j, "total"))) {
            tg_error_set(err, "bad_response", "%s%s: HTTP %ld, expected {tasks, total}",
                         rollout_url(r, 0), path, status);
            json_decref(j);
            return TG_EIO;
        }
        total = (int)json_integer_value(json_object_get(j, "total"));
        if (json_array_size(arr) == 0)
            total = *n;
        for (i = 0; i < json_array_size(arr); i++) {
            const char *id = json_string_value(json_object_get(json_array_get(arr, i), "id"));

            if (!id || strlen(id) >= TG_TASK_ID_MAX) {
                tg_error_set(err, "bad_response", "a task in %s has no usable id", path);
                json_decref(j);
                return TG_EINVAL;
            }
            if (*n == cap) {
                int nc = cap ? cap * 2 : 1024;
                struct task_ref *nt = realloc(*out, sizeof(*nt) * (size_t)nc);

                if (!nt) {
                    json_decref(j);
                    tg_error_set(err, "nomem", "out of memory");
                    return TG_ENOMEM;
                }
                *out = nt;
                cap = nc;
            }
            snprintf((*out)[*n].id, TG_TASK_ID_MAX, "%s", id);
            (*out)[*n].expert = NULL;
            (*n)++;
        }
        json_decref(j);
    }
    if (*n == 0) {
        tg_error_set(err, "no_tasks", "the server has no %s tasks", split);
        return TG_EINVAL;
    }
    return 0;
}

/* expert calls by task id from the local task file: returns a new object id -> expert */
static int load_experts(const char *path, json_t **out, struct tg_error *err) {
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    json_t *m = json_object();
    int lineno = 0;

    *out = NULL;
    if (!f || !m) {
        tg_error_set(err, "tasks_file", "cannot read the anchor task file %s: %s", path,
                     f ? "out of memory" : strerror(errno));
        if (f)
            fclose(f);
        json_decref(m);
        return TG_EIO;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *t;
        const char *id;
        const json_t *ex;

        lineno++;
        if (len > (ssize_t)TG_TASK_LINE_MAX) {
            tg_error_set(err, "tasks_file", "%s:%d: line longer than %d bytes", path, lineno,
                         TG_TASK_LINE_MAX);
            goto bad;
        }
        t = json_loads(line, 0, NULL);
        id = json_string_value(json_object_get(t, "id"));
        ex = json_object_get(t, "expert");
        if (!id || !json_is_array(ex)) {
            json_decref(t);
            tg_error_set(err, "tasks_file", "%s:%d: not a task with id and expert", path, lineno);
            goto bad;
        }
        json_object_set(m, id, (json_t *)ex);
        json_decref(t);
    }
    free(line);
    fclose(f);
    *out = m;
    return 0;
bad:
    free(line);
    fclose(f);
    json_decref(m);
    return TG_EINVAL;
}

/* ---- one update --------------------------------------------------------------------------- */

struct learner {
    const struct train_config *cfg;
    struct rollout *ro;
    struct policy pol;
    struct adam opt;
    struct sched sch;
    struct rng rng;
    enum reward_mode_kind { RM_JUDGE, RM_TORL, RM_OTC } rm;
    float *dscores; /* (TG_CAND_MAX) */
};

static double mean_of(const double *v, int n) {
    double s = 0;

    for (int i = 0; i < n; i++)
        s += v[i];
    return n ? s / n : 0;
}

static double std_of(const double *v, int n, double mean) {
    double s = 0;

    for (int i = 0; i < n; i++)
        s += (v[i] - mean) * (v[i] - mean);
    return n ? sqrt(s / n) : 0;
}

/* GRPO advantages of one task's group: eps[0..g) with branch rollouts flagged */
static void group_advantages(struct traj *t, int g, double mix, double floor_sd) {
    double r[TG_TRAIN_GROUP_MAX], rb[TG_TRAIN_GROUP_MAX];
    double mean, sd, mb = 0, sb = 0;
    int nb = 0;

    for (int i = 0; i < g; i++) {
        r[i] = t[i].reward;
        if (t[i].is_branch)
            rb[nb++] = t[i].reward;
    }
    mean = mean_of(r, g);
    sd = std_of(r, g, mean);
    if (nb > 1) {
        mb = mean_of(rb, nb);
        sb = std_of(rb, nb, mb);
    }
    for (int i = 0; i < g; i++) {
        double a = sd > 1e-9 ? (t[i].reward - mean) / fmax(sd, floor_sd) : 0;

        if (t[i].is_branch) {
            double ab = sb > 1e-9 ? (t[i].reward - mb) / fmax(sb, floor_sd) : 0;

            a = mix * a + (1 - mix) * ab;
        }
        t[i].adv = a;
    }
}

/* backward over every decision; returns mean loss; *ent gets mean entropy */
static int learn(struct learner *L, struct traj *t, int nt, double *loss_out, double *ent_out,
                 struct tg_error *err) {
    const struct train_config *c = L->cfg;
    long ndec = 0;
    double loss = 0, ent = 0;
    int rc;

    for (int i = 0; i < nt; i++)
        ndec += t[i].ndec;
    *loss_out = 0;
    *ent_out = 0;
    if (ndec == 0)
        return 0;
    for (int epoch = 0; epoch < c->ppo_epochs; epoch++) {
        mlp_zero_grad(&L->pol.m);
        loss = ent = 0;
        for (int i = 0; i < nt; i++) {
            for (int k = 0; k < t[i].ndec; k++) {
                struct decision *d = &t[i].dec[k];
                struct mlp_pg_args a;
                struct mlp_pg_out o;

                rc = mlp_forward(&L->pol.m, &L->pol.ws, d->X, d->n, L->pol.scores, err);
                if (rc)
                    return rc;
                for (int j = 0; j < d->n; j++)
                    L->pol.scores[j] += d->X[(size_t)d->n * FEAT_DIM + j];
                memset(&a, 0, sizeof(a));
                a.action = d->action;
                a.advantage = (float)t[i].adv;
                a.entropy_coef = (float)c->entropy_coef;
                a.clip = c->ppo_epochs > 1;
                a.old_logp = d->logp;
                a.clip_eps = (float)c->clip_eps;
                rc = mlp_pg_loss(L->pol.scores, d->n, &a, L->dscores, &o, err);
                if (rc)
                    return rc;
                for (int j = 0; j < d->n; j++)
                    L->dscores[j] /= (float)ndec;
                mlp_backward(&L->pol.m, &L->pol.ws, L->dscores);
                loss += o.loss;
                ent += o.entropy;
            }
        }
        adam_clip_grad_norm(L->pol.m.grads_memory, L->pol.m.num_params, (float)c->grad_clip);
        adam_begin_step(&L->opt);
        for (int l = 0; l < MLP_NUM_LAYERS; l++) {
            size_t off, len;

            if (L->pol.m.frozen[l])
                continue;
            mlp_layer_span(&L->pol.m.cfg, l, &off, &len);
            adam_update_span(&L->opt, L->pol.m.params_memory, L->pol.m.grads_memory,
                             (float)L->sch.lr, off, len);
        }
    }
    *loss_out = loss / (double)ndec;
    *ent_out = ent / (double)ndec;
    return 0;
}

/* ---- progress and logs -------------------------------------------------------------------- */

static void progress_bar(const struct train_config *c, const struct train_stats *s, long eps) {
    int width = 24, done = (s->update + 1) * width / c->updates;

    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < done ? '#' : '.', stderr);
    fprintf(stderr,
            "] %d/%d  eps %ld  ret %+.3f  acc %5.1f%%  redundant %4.1f%%  premature %4.1f%%  "
            "lr %.2e  %4.0f st/s ",
            s->update + 1, c->updates, eps, s->ret, 100 * s->accuracy, 100 * s->redundant,
            100 * s->premature, s->lr, s->steps_per_s);
    fflush(stderr);
}

static int write_curve(const char *path, const struct train_stats *curve, int n,
                       struct tg_error *err) {
    double *v = malloc(sizeof(double) * (size_t)n * 4);
    struct svg_series s[4];
    int rc;

    if (!v) {
        tg_error_set(err, "nomem", "out of memory");
        return TG_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        v[i] = curve[i].ret;
        v[n + i] = curve[i].accuracy;
        v[2 * n + i] = curve[i].lr;
        v[3 * n + i] = curve[i].wasted;
    }
    s[0] = (struct svg_series){"mean return", v, "#1f77b4", 0};
    s[1] = (struct svg_series){"train answer accuracy", v + n, "#2ca02c", 0};
    s[2] = (struct svg_series){"learning rate (log)", v + 2 * n, "#d62728", 1};
    s[3] = (struct svg_series){"wasted-call rate (redundant+premature+unnecessary)", v + 3 * n,
                               "#9467bd", 0};
    rc = svg_write(path, "toolgym train: learning curve", s, 4, n, err);
    free(v);
    return rc;
}

/* ---- training ----------------------------------------------------------------------------- */

void train_result_free(struct train_result *r) {
    if (!r)
        return;
    free(r->curve);
    memset(r, 0, sizeof(*r));
}

static int learner_init(struct learner *L, const struct train_config *c, const char *resume,
                        struct tg_error *err) {
    struct mlp_config mc = net_config(c);
    struct adam_config ac = adam_config_default();
    struct sched_config sc;
    int rc;

    memset(L, 0, sizeof(*L));
    L->cfg = c;
    L->rm = strcmp(c->reward_mode, "otc") == 0    ? RM_OTC
            : strcmp(c->reward_mode, "torl") == 0 ? RM_TORL
                                                  : RM_JUDGE;
    ac.weight_decay = (float)c->weight_decay;
    sched_from(c, &sc);
    rng_seed(&L->rng, c->seed);
    if (resume) {
        rc = ckpt_load(resume, &mc, &L->pol.m, &L->opt, &L->sch, &L->rng, err);
        if (rc)
            return rc;
    } else {
        rc = mlp_init(&L->pol.m, &mc, err);
        if (rc)
            return rc;
        mlp_init_weights(&L->pol.m, &L->rng);
        rc = adam_init(&L->opt, &ac, L->pol.m.num_params, err);
        if (rc)
            return rc;
        rc = sched_init(&L->sch, &sc, err);
        if (rc)
            return rc;
    }
    L->dscores = malloc(sizeof(float) * TG_CAND_MAX);
    if (!L->dscores) {
        tg_error_set(err, "nomem", "out of memory");
        return TG_ENOMEM;
    }
    return policy_scratch(&L->pol, err);
}

static void learner_free(struct learner *L) {
    policy_free(&L->pol);
    adam_free(&L->opt);
    free(L->dscores);
    rollout_free(L->ro);
    memset(L, 0, sizeof(*L));
}

static int make_rollout(const struct train_config *c, const char *servers, struct rollout **out,
                        struct tg_error *err) {
    struct rollout_config rc = rollout_config_default();

    rc.servers = servers;
    rc.inflight = c->inflight;
    *out = rollout_new(&rc, err);
    return *out ? 0 : TG_EINVAL;
}

int train_run(const struct train_config *cfg, const char *servers, const char *resume,
              const char *save, const char *svg, FILE *log, int progress, struct train_result *res,
              struct tg_error *err) {
    struct learner L;
    struct task_ref *tasks = NULL;
    json_t *experts = NULL;
    int ntasks = 0, rc, G = cfg->group, T = cfg->tasks_per_update;
    struct rollout_ep *eps = NULL, *parents = NULL;
    struct traj *trajs = NULL, *ptrajs = NULL;
    struct train_stats *curve = NULL;
    int *anchored = NULL;
    long total_eps = 0;
    double acc_smooth = -1;

    if (res)
        memset(res, 0, sizeof(*res));
    rc = train_config_check(cfg, err);
    if (rc)
        return rc;
    rc = learner_init(&L, cfg, resume, err);
    if (rc)
        goto done;
    rc = make_rollout(cfg, servers, &L.ro, err);
    if (rc)
        goto done;
    rc = list_tasks(L.ro, "train", &tasks, &ntasks, err);
    if (rc)
        goto done;
    if (cfg->anchors != ANCHORS_OFF && cfg->anchor_fraction > 0) {
        rc = load_experts(cfg->tasks_file, &experts, err);
        if (rc)
            goto done;
        for (int i = 0; i < ntasks; i++)
            tasks[i].expert = json_object_get(experts, tasks[i].id);
    }
    eps = calloc((size_t)T * G, sizeof(*eps));
    trajs = calloc((size_t)T * G, sizeof(*trajs));
    parents = calloc((size_t)T, sizeof(*parents));
    ptrajs = calloc((size_t)T, sizeof(*ptrajs));
    anchored = calloc((size_t)T, sizeof(*anchored));
    curve = calloc((size_t)cfg->updates, sizeof(*curve));
    if (!eps || !trajs || !parents || !ptrajs || !anchored || !curve) {
        tg_error_set(err, "nomem", "out of memory");
        rc = TG_ENOMEM;
        goto done;
    }
    if (res)
        res->updates_to_target = -1;
    for (int u = 0; u < cfg->updates; u++) {
        double t0 = tg_now_ms(), loss, ent;
        struct actor act = {&L.pol, &L.rng, ACT_SAMPLE, 1, 0};
        struct train_stats *st = &curve[u];
        int use_anchors = cfg->anchors == ANCHORS_BRANCH ||
                          (cfg->anchors == ANCHORS_WARMUP && u < cfg->anchor_warmup);
        int np = 0, calls = 0, lab[RL_LABELS] = {0}, correct = 0;

        /* 1. tasks, and anchor parents replaying the expert prefix */
        for (int t = 0; t < T; t++) {
            const struct task_ref *tr = &tasks[rng_below(&L.rng, (uint64_t)ntasks)];

            anchored[t] = -1;
            for (int g = 0; g < G; g++) {
                struct rollout_ep *e = &eps[t * G + g];

                rollout_ep_clear(e);
                memset(e, 0, sizeof(*e));
                snprintf(e->task_id, sizeof(e->task_id), "%s", tr->id);
                e->max_steps = cfg->max_steps;
                e->reward_mode = cfg->reward_mode;
                e->tag = "train";
                e->server = -1;
                traj_clear(&trajs[t * G + g]);
                e->user = &trajs[t * G + g];
            }
            if (use_anchors && tr->expert && json_array_size(tr->expert) > 0 &&
                rng_uniform(&L.rng) < cfg->anchor_fraction) {
                struct rollout_ep *p = &parents[np];

                rollout_ep_clear(p);
                memset(p, 0, sizeof(*p));
                snprintf(p->task_id, sizeof(p->task_id), "%s", tr->id);
                p->max_steps = cfg->max_steps;
                p->reward_mode = cfg->reward_mode;
                p->tag = "anchor";
                p->server = -1;
                p->prefix = tr->expert;
                p->stop_after_prefix = 1;
                traj_clear(&ptrajs[np]);
                p->user = &ptrajs[np];
                anchored[t] = np++;
            }
        }
        if (np > 0) {
            rc = rollout_run(L.ro, parents, np, act_cb, &act, err);
            if (rc)
                goto done;
        }
        /* 2. forks at the highest-entropy prefix step */
        for (int t = 0; t < T; t++) {
            const struct rollout_ep *p;
            const struct traj *pt;
            int best = 0;

            if (anchored[t] < 0)
                continue;
            p = &parents[anchored[t]];
            pt = &ptrajs[anchored[t]];
            for (int k = 1; k < pt->nent; k++)
                if (pt->ent[k] > pt->ent[best])
                    best = k;
            st->fork_at += best;
            for (int g = G / 2; g < G; g++) {
                struct rollout_ep *e = &eps[t * G + g];

                snprintf(e->fork_from, sizeof(e->fork_from), "%s", p->episode_id);
                e->fork_at = best;
                e->fork_state = p->st;
                e->server = p->server;
                trajs[t * G + g].is_branch = 1;
            }
        }
        /* 3. the rollouts */
        rc = rollout_run(L.ro, eps, T * G, act_cb, &act, err);
        if (rc)
            goto done;
        /* 4. rewards and advantages */
        for (int t = 0; t < T; t++) {
            int nmin = -1;

            for (int g = 0; g < G; g++) {
                const struct rollout_ep *e = &eps[t * G + g];

                if (e->correct && (nmin < 0 || e->calls < nmin))
                    nmin = e->calls;
            }
            for (int g = 0; g < G; g++) {
                const struct rollout_ep *e = &eps[t * G + g];
                struct traj *tr = &trajs[t * G + g];

                if (L.rm == RM_OTC)
                    tr->reward = reward_otc(e->calls, nmin < 0 ? e->calls : nmin, e->correct, 1.0);
                else
                    tr->reward = e->ret;
                calls += e->calls;
                correct += e->correct;
                if (tr->is_branch) {
                    st->branch_eps++;
                    st->branch_acc += e->correct;
                }
                for (int l = 0; l < RL_LABELS; l++)
                    lab[l] += e->labels[l];
                st->ret += tr->reward;
            }
            group_advantages(&trajs[t * G], G, cfg->branch_mix, cfg->adv_std_floor);
        }
        /* 5. the update */
        rc = learn(&L, trajs, T * G, &loss, &ent, err);
        if (rc)
            goto done;
        st->update = u;
        st->episodes = T * G;
        if (np > 0)
            st->fork_at /= np;
        if (st->branch_eps > 0)
            st->branch_acc /= st->branch_eps;
        st->ret /= T * G;
        st->accuracy = (double)correct / (T * G);
        st->redundant = calls ? (double)lab[RL_REDUNDANT] / calls : 0;
        st->premature = calls ? (double)lab[RL_PREMATURE] / calls : 0;
        st->unnecessary = calls ? (double)lab[RL_UNNECESSARY] / calls : 0;
        st->wasted = st->redundant + st->premature + st->unnecessary;
        st->calls = (double)calls / (T * G);
        st->lr = L.sch.lr;
        st->loss = loss;
        st->entropy = ent;
        st->ms = tg_now_ms() - t0;
        st->steps_per_s = st->ms > 0 ? act.steps * 1000.0 / st->ms : 0;
        total_eps += T * G;
        sched_step(&L.sch, L.sch.cfg.signal == SCHED_SIGNAL_LOSS ? loss : -st->ret);
        acc_smooth = acc_smooth < 0 ? st->accuracy : 0.7 * acc_smooth + 0.3 * st->accuracy;
        if (res && res->updates_to_target < 0 && acc_smooth >= cfg->target_accuracy)
            res->updates_to_target = u + 1;
        if (log) {
            if (progress)
                fprintf(stderr, "\r\033[K");
            fprintf(log,
                    "update %3d  ret %+.3f  acc %.3f  calls %.2f  redundant %.3f  premature "
                    "%.3f  unnecessary %.3f  loss %+.4f  H %.3f  lr %.2e  %.0f ms  %.0f steps/s "
                    "(anchored %d: fork at %.1f, branch acc %.2f)\n",
                    u + 1, st->ret, st->accuracy, st->calls, st->redundant, st->premature,
                    st->unnecessary, st->loss, st->entropy, st->lr, st->ms, st->steps_per_s, np,
                    st->fork_at, st->branch_acc);
            fflush(log);
        }
        if (progress)
            progress_bar(cfg, st, total_eps);
        if (res) {
            res->updates_done = u + 1;
            res->final_train_accuracy = acc_smooth;
        }
    }
    if (progress)
        fprintf(stderr, "\n");
    if (save) {
        rc = ckpt_save(save, &L.pol.m, &L.opt, &L.sch, &L.rng, err);
        if (rc)
            goto done;
    }
    if (svg) {
        rc = write_curve(svg, curve, cfg->updates, err);
        if (rc)
            goto done;
    }
    if (res) {
        res->curve = curve;
        curve = NULL;
    }
done:
    if (eps)
        for (int i = 0; i < T * G; i++) {
            rollout_ep_clear(&eps[i]);
            traj_clear(&trajs[i]);
        }
    if (parents)
        for (int i = 0; i < T; i++) {
            rollout_ep_clear(&parents[i]);
            traj_clear(&ptrajs[i]);
        }
    free(eps);
    free(trajs);
    free(parents);
    free(ptrajs);
    free(anchored);
    free(curve);
    free(tasks);
    json_decref(experts);
    learner_free(&L);
    return rc;
}

/* ---- evaluation --------------------------------------------------------------------------- */

int train_eval(const struct train_config *cfg, const char *servers, const char *ckpt,
               const char *split, int episodes, const char *tag, struct train_eval_result *out,
               json_t **report, struct tg_error *err) {
    struct learner L;
    struct task_ref *tasks = NULL;
    struct rollout_ep *eps = NULL;
    int ntasks = 0, n = 0, rc, calls = 0, correct = 0, lab[RL_LABELS] = {0};
    struct actor act;
    double t0;

    memset(out, 0, sizeof(*out));
    if (report)
        *report = NULL;
    rc = learner_init(&L, cfg, ckpt, err);
    if (rc)
        goto done;
    rc = make_rollout(cfg, servers, &L.ro, err);
    if (rc)
        goto done;
    rc = list_tasks(L.ro, split, &tasks, &ntasks, err);
    if (rc)
        goto done;
    n = episodes > 0 ? episodes : ntasks;
    eps = calloc((size_t)n, sizeof(*eps));
    if (!eps) {
        tg_error_set(err, "nomem", "out of memory");
        rc = TG_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        snprintf(eps[i].task_id, sizeof(eps[i].task_id), "%s", tasks[i % ntasks].id);
        eps[i].tag = tag;
        eps[i].server = -1;
    }
    act = (struct actor){&L.pol, &L.rng, ACT_GREEDY, 0, 0};
    t0 = tg_now_ms();
    rc = rollout_run(L.ro, eps, n, act_cb, &act, err);
    if (rc)
        goto done;
    out->steps_per_s = act.steps * 1000.0 / fmax(tg_now_ms() - t0, 1e-3);
    for (int i = 0; i < n; i++) {
        calls += eps[i].calls;
        correct += eps[i].correct;
        for (int l = 0; l < RL_LABELS; l++)
            lab[l] += eps[i].labels[l];
    }
    out->episodes = n;
    out->accuracy = (double)correct / n;
    out->calls = (double)calls / n;
    for (int l = 0; l < RL_LABELS; l++)
        out->rates[l] = calls ? (double)lab[l] / calls : 0;
    out->wasted = out->rates[RL_REDUNDANT] + out->rates[RL_PREMATURE] + out->rates[RL_UNNECESSARY];
    snprintf(out->tag, sizeof(out->tag), "%s", tag ? tag : "");
    if (report && tag) {
        char path[256];
        long status;

        snprintf(path, sizeof(path), "/v1/report?split=%s&tag=%s", split, tag);
        rc = rollout_request(L.ro, 0, "GET", path, NULL, &status, report, err);
        if (rc == 0 && status != 200) {
            json_decref(*report);
            *report = NULL;
        }
        rc = 0;
    }
done:
    if (eps)
        for (int i = 0; i < n; i++)
            rollout_ep_clear(&eps[i]);
    free(eps);
    free(tasks);
    learner_free(&L);
    return rc;
}

/* ---- the policy as an eval agent ---------------------------------------------------------- */

struct agent_state {
    struct policy pol;
    struct cand_state st;
};

static json_t *policy_act(struct eval_agent *a, const struct eval_turn *t) {
    struct agent_state *as = a->state;
    const char *prompt =
        json_string_value(json_object_get(json_object_get(t->episode, "task"), "prompt"));
    long ms = (long)json_integer_value(json_object_get(t->episode, "max_steps"));
    struct tg_error e;
    const json_t *h;
    size_t i;
    int n, best = 0;

    if (!prompt || cand_state_init(&as->st, prompt, ms > 0 ? (int)ms : 8, &e))
        return NULL;
    json_array_foreach(t->history, i, h) {
        const json_t *call = json_object_get(json_object_get(h, "action"), "tool_call");

        if (!call || cand_state_push_call(&as->st, call, json_object_get(h, "reply"), &e))
            return NULL;
    }
    n = policy_score(&as->pol, &as->st, &e);
    if (n <= 0)
        return NULL;
    for (int k = 1; k < n; k++)
        if (as->pol.scores[k] > as->pol.scores[best])
            best = k;
    return cand_action_json(&as->pol.cl->c[best]);
}

static void policy_destroy(struct eval_agent *a) {
    struct agent_state *as = a->state;

    if (as) {
        policy_free(&as->pol);
        free(as);
    }
    a->state = NULL;
}

int train_policy_agent(const struct eval_options *o, struct eval_agent *out, struct tg_error *err) {
    struct agent_state *as;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!o->checkpoint) {
        tg_error_set(err, "config", "--agent policy needs --checkpoint FILE");
        return TG_EINVAL;
    }
    as = calloc(1, sizeof(*as));
    if (!as) {
        tg_error_set(err, "nomem", "out of memory");
        return TG_ENOMEM;
    }
    rc = ckpt_load(o->checkpoint, NULL, &as->pol.m, NULL, NULL, NULL, err);
    if (rc == 0 && as->pol.m.cfg.in_dim != FEAT_DIM) {
        tg_error_set(err, "size_mismatch",
                     "checkpoint %s has %d input features; this build uses %d", o->checkpoint,
                     as->pol.m.cfg.in_dim, FEAT_DIM);
        rc = TG_EINVAL;
    }
    if (rc == 0)
        rc = policy_scratch(&as->pol, err);
    if (rc) {
        policy_free(&as->pol);
        free(as);
        return rc;
    }
    out->name = "policy";
    out->state = as;
    out->act = policy_act;
    out->destroy = policy_destroy;
    return 0;
}

/* ---- toolgym train ------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
            "usage: toolgym train --server URL[,URL...] [--config FILE] [--save F] [--resume F]\n"
            "         [--seed S] [--updates N] [--group G] [--tasks-per-update T]\n"
            "         [--lr X] [--lr-schedule greedy|cosine|constant]\n"
            "         [--anchors off|warmup|branch] [--anchor-fraction f]\n"
            "         [--reward-mode judge|torl|otc] [--svg FILE] [--eval N] [--quiet]\n"
            "         [--run-demo]   (train with the defaults, evaluate beside the baselines)\n");
}

static int parse_num_arg(const char *s, double lo, double hi, double *out) {
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* one row of the comparison table from a /v1/report body */
static void report_row(FILE *f, const char *agent, const json_t *r) {
    const json_t *lab = json_object_get(r, "labels");
    double red = json_number_value(json_object_get(lab, "redundant"));
    double pre = json_number_value(json_object_get(lab, "premature"));
    double unn = json_number_value(json_object_get(lab, "unnecessary"));

    fprintf(f, "  %-11s %8lld %9.1f%% %9.1f%% %9.1f%% %9.2f %9.1f%%\n", agent,
            (long long)json_integer_value(json_object_get(r, "episodes")),
            100 * json_number_value(json_object_get(r, "answer_accuracy")),
            100 * json_number_value(json_object_get(r, "exact_plan_match")),
            100 * json_number_value(json_object_get(r, "tool_selection_accuracy")),
            json_number_value(json_object_get(r, "calls_per_episode")), 100 * (red + pre + unn));
}

static int run_demo(const struct train_config *cfg, const char *servers, const char *save,
                    const char *svg, int quiet) {
    static const char *const baselines[] = {"oracle", "random", "overcaller", "eager"};
    json_t *reports[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    struct train_result tr;
    struct train_eval_result ev;
    struct tg_error err;
    char tag[TG_TAG_MAX + 1];
    double t0 = tg_now_ms();
    int rc, progress = !quiet && isatty(2);

    printf("\n== toolgym train (defaults: %d updates x %d tasks x group %d, %s rewards, "
           "%s lr, anchors %s) ==\n",
           cfg->updates, cfg->tasks_per_update, cfg->group, cfg->reward_mode,
           sched_kind_name(cfg->sched.kind),
           cfg->anchors == ANCHORS_OFF      ? "off"
           : cfg->anchors == ANCHORS_WARMUP ? "warmup"
                                            : "branch");
    fflush(stdout);
    snprintf(tag, sizeof(tag), "untrained-%llu-%lld", cfg->seed,
             (long long)(tg_now_us() % 1000000));
    rc = train_eval(cfg, servers, NULL, "test", cfg->eval_episodes, tag, &ev, &reports[5], &err);
    if (rc) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 1;
    }
    rc = train_run(cfg, servers, NULL, save, svg, progress ? NULL : stdout, progress, &tr, &err);
    if (rc) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 1;
    }
    printf("trained in %.1f s; checkpoint %s, learning curve %s\n", (tg_now_ms() - t0) / 1000, save,
           svg);
    snprintf(tag, sizeof(tag), "policy-%llu-%lld", cfg->seed, (long long)(tg_now_us() % 1000000));
    rc = train_eval(cfg, servers, save, "test", cfg->eval_episodes, tag, &ev, &reports[0], &err);
    if (rc) {
        fprintf(stderr, "toolgym train: evaluation: %s\n", err.message);
        train_result_free(&tr);
        return 1;
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(baselines); i++) {
        struct eval_options o;
        struct eval_agent a;

        memset(&o, 0, sizeof(o));
        o.server = servers;
        o.split = "test";
        o.agent = baselines[i];
        o.quiet = 1;
        o.seed = cfg->seed;
        o.episodes = cfg->eval_episodes;
        if (eval_agent_new(&o, &a, &err) == 0) {
            if (eval_run(&o, &a, &reports[i + 1], NULL, &err))
                fprintf(stderr, "toolgym train: baseline %s: %s\n", baselines[i], err.message);
            if (a.destroy)
                a.destroy(&a);
        }
    }
    printf("\n== test split (phrasings and entities never seen in training) ==\n");
    printf("  %-11s %8s %10s %10s %10s %9s %10s\n", "agent", "episodes", "answer", "exact plan",
           "tool sel.", "calls/ep", "wasted");
    if (reports[0])
        report_row(stdout, "policy", reports[0]);
    else
        printf("  %-11s %8d %9.1f%%          ?          ? %9.2f %9.1f%%\n", "policy", ev.episodes,
               100 * ev.accuracy, ev.calls, 100 * ev.wasted);
    if (reports[5])
        report_row(stdout, "untrained", reports[5]);
    for (size_t i = 0; i < TG_ARRAY_LEN(baselines); i++)
        if (reports[i + 1])
            report_row(stdout, baselines[i], reports[i + 1]);
    printf("  (policy: the trained checkpoint, greedy; untrained: the same network before "
           "training;\n   wasted = redundant + premature + unnecessary calls over all calls)\n");
    printf("total %.1f s\n", (tg_now_ms() - t0) / 1000);
    for (int i = 0; i < 6; i++)
        json_decref(reports[i]);
    train_result_free(&tr);
    return 0;
}

int train_main(int argc, char **argv) {
    struct train_config cfg = train_config_default();
    const char *servers = NULL, *save = NULL, *resume = NULL, *svg = NULL, *config = NULL;
    int quiet = 0, demo = 0, eval_n = -1;
    struct tg_error err;
    struct train_result tr;
    double v;
    int rc;

    /* the config file first, so flags override it */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
    if (config && train_config_load_json(&cfg, config, &err)) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--run-demo") == 0) {
            demo = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!val) {
            fprintf(stderr, "toolgym train: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--server") == 0)
            servers = val;
        else if (strcmp(a, "--config") == 0)
            continue;
        else if (strcmp(a, "--save") == 0)
            save = val;
        else if (strcmp(a, "--resume") == 0)
            resume = val;
        else if (strcmp(a, "--svg") == 0)
            svg = val;
        else if (strcmp(a, "--seed") == 0 && parse_num_arg(val, 0, 9e15, &v) == 0 && v == floor(v))
            cfg.seed = (unsigned long long)v;
        else if (strcmp(a, "--updates") == 0 &&
                 parse_num_arg(val, 1, TG_TRAIN_UPDATES_MAX, &v) == 0)
            cfg.updates = (int)v;
        else if (strcmp(a, "--group") == 0 && parse_num_arg(val, 2, TG_TRAIN_GROUP_MAX, &v) == 0)
            cfg.group = (int)v;
        else if (strcmp(a, "--tasks-per-update") == 0 && parse_num_arg(val, 1, 1024, &v) == 0)
            cfg.tasks_per_update = (int)v;
        else if (strcmp(a, "--lr") == 0 && parse_num_arg(val, 1e-7, 1, &v) == 0)
            cfg.lr = v;
        else if (strcmp(a, "--eval") == 0 && parse_num_arg(val, 0, 1e6, &v) == 0)
            eval_n = (int)v;
        else if (strcmp(a, "--anchor-fraction") == 0 && parse_num_arg(val, 0, 1, &v) == 0)
            cfg.anchor_fraction = v;
        else if (strcmp(a, "--lr-schedule") == 0) {
            if (sched_kind_parse(val, &cfg.sched.kind, &err)) {
                fprintf(stderr, "toolgym train: --lr-schedule: %s\n", err.message);
                return 2;
            }
        } else if (strcmp(a, "--anchors") == 0) {
            if (parse_anchors(val, &cfg.anchors, &err)) {
                fprintf(stderr, "toolgym train: --anchors: %s\n", err.message);
                return 2;
            }
        } else if (strcmp(a, "--reward-mode") == 0 && strlen(val) < sizeof(cfg.reward_mode))
            snprintf(cfg.reward_mode, sizeof(cfg.reward_mode), "%s", val);
        else {
            fprintf(stderr, "toolgym train: bad option or value: %s %s\n", a, val);
            usage(stderr);
            return 2;
        }
    }
    if (!servers) {
        fprintf(stderr, "toolgym train: --server URL is required\n");
        usage(stderr);
        return 2;
    }
    if (train_config_check(&cfg, &err)) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 2;
    }
    if (demo)
        return run_demo(&cfg, servers, save ? save : "build/run-policy.ckpt",
                        svg ? svg : "build/run-curve.svg", quiet);
    rc = train_run(&cfg, servers, resume, save, svg, quiet ? NULL : stdout, !quiet && isatty(2),
                   &tr, &err);
    if (rc) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 1;
    }
    if (!quiet)
        printf("done: %d updates, smoothed train accuracy %.3f, updates to target %.2f: %d\n",
               tr.updates_done, tr.final_train_accuracy, cfg.target_accuracy, tr.updates_to_target);
    train_result_free(&tr);
    if (eval_n >= 0) {
        struct train_eval_result ev;
        char tag[TG_TAG_MAX + 1];

        if (!save) {
            fprintf(stderr, "toolgym train: --eval needs --save FILE\n");
            return 2;
        }
        snprintf(tag, sizeof(tag), "policy-%llu-%lld", cfg.seed,
                 (long long)(tg_now_us() % 1000000));
        rc = train_eval(&cfg, servers, save, "test", eval_n, tag, &ev, NULL, &err);
        if (rc) {
            fprintf(stderr, "toolgym train: evaluation: %s\n", err.message);
            return 1;
        }
        printf("test: episodes %d accuracy %.4f calls/ep %.3f wasted %.4f redundant %.4f "
               "premature %.4f unnecessary %.4f steps/s %.0f tag %s\n",
               ev.episodes, ev.accuracy, ev.calls, ev.wasted, ev.rates[RL_REDUNDANT],
               ev.rates[RL_PREMATURE], ev.rates[RL_UNNECESSARY], ev.steps_per_s, ev.tag);
    }
    return 0;
}
