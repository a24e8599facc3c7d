/*
 * train.c — the training loop (one update after another), its log line, progress bar and
 * learning curve, and the greedy evaluation of a checkpoint. See train.h.
 */
#include "policy/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch.h"
#include "policy/ckpt.h"
#include "policy/learner.h"
#include "policy/policy.h"
#include "policy/svg.h"
#include "policy/task_list.h"

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

/* the update's log line (erasing the progress bar first when there is one) */
static void log_update(FILE *log, int progress, const struct train_stats *st, int anchored) {
    if (progress)
        fprintf(stderr, "\r\033[K");
    fprintf(log,
            "update %3d  ret %+.3f  acc %.3f  calls %.2f  redundant %.3f  premature "
            "%.3f  unnecessary %.3f  loss %+.4f  H %.3f  lr %.2e  %.0f ms  %.0f steps/s "
            "(anchored %d: fork at %.1f, branch acc %.2f)\n",
            st->update + 1, st->ret, st->accuracy, st->calls, st->redundant, st->premature,
            st->unnecessary, st->loss, st->entropy, st->lr, st->ms, st->steps_per_s, anchored,
            st->fork_at, st->branch_acc);
    fflush(log);
}

static int write_curve(const char *path, const struct train_stats *curve, int n,
                       struct tg_error *err) {
    double *v = malloc(sizeof(double) * (size_t)n * 4);
    struct svg_series s[4];
    int rc;

    if (!v) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
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

/* everything a run holds between updates */
struct run {
    const struct train_config *cfg;
    struct learner L;
    struct task_ref *tasks; /* (ntasks) the train split */
    int ntasks;
    json_t *experts; /* task id -> expert calls, when anchors are on */
    struct batch b;
    struct train_stats *curve; /* (cfg->updates) */
};

static void run_free(struct run *r) {
    batch_free(&r->b);
    free(r->curve);
    free(r->tasks);
    json_decref(r->experts);
    learner_free(&r->L);
}

/* the learner, the server's train tasks, the expert calls and the buffers of a run */
static int run_setup(struct run *r, const struct train_config *cfg, const char *servers,
                     const char *resume, struct tg_error *err) {
    int rc;

    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    rc = learner_init(&r->L, cfg, resume, err);
    if (rc == 0)
        rc = learner_connect(&r->L, servers, err);
    if (rc == 0)
        rc = task_list_fetch(r->L.ro, "train", &r->tasks, &r->ntasks, err);
    if (rc)
        return rc;
    if (cfg->anchors != ANCHORS_OFF && cfg->anchor_fraction > 0) {
        rc = task_list_experts(cfg->tasks_file, &r->experts, err);
        if (rc)
            return rc;
        for (int i = 0; i < r->ntasks; i++)
            r->tasks[i].expert = json_object_get(r->experts, r->tasks[i].id);
    }
    rc = batch_init(&r->b, cfg->tasks_per_update, cfg->group, err);
    if (rc)
        return rc;
    r->curve = calloc((size_t)cfg->updates, sizeof(*r->curve));
    if (!r->curve) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    return 0;
}

/* the statistics of an update from its tallies */
static void stats_fill(struct train_stats *st, int u, int episodes, int anchored,
                       const struct batch_tally *t) {
    st->update = u;
    st->episodes = episodes;
    st->fork_at = anchored > 0 ? t->fork_at / anchored : t->fork_at;
    st->branch_eps = t->branch_eps;
    st->branch_acc = t->branch_eps > 0 ? t->branch_acc / t->branch_eps : t->branch_acc;
    st->ret = t->ret / episodes;
    st->accuracy = (double)t->correct / episodes;
    st->redundant = t->calls ? (double)t->labels[RL_REDUNDANT] / t->calls : 0;
    st->premature = t->calls ? (double)t->labels[RL_PREMATURE] / t->calls : 0;
    st->unnecessary = t->calls ? (double)t->labels[RL_UNNECESSARY] / t->calls : 0;
    st->wasted = st->redundant + st->premature + st->unnecessary;
    st->calls = (double)t->calls / episodes;
}

/* update u: draw, play the anchor parents, fork, play, reward, learn, schedule step */
static int run_update(struct run *r, int u, struct train_stats *st, struct tg_error *err) {
    const struct train_config *cfg = r->cfg;
    struct learner *L = &r->L;
    struct batch *b = &r->b;
    struct policy_actor act = {&L->pol, &L->rng, POLICY_SAMPLE, 1, 0};
    struct batch_tally tally;
    double t0 = tg_now_ms(), loss, ent;
    int n = b->T * b->G, rc;
    int use_anchors = cfg->anchors == ANCHORS_BRANCH ||
                      (cfg->anchors == ANCHORS_WARMUP && u < cfg->anchor_warmup);

    memset(&tally, 0, sizeof(tally));
    batch_draw(b, cfg, r->tasks, r->ntasks, &L->rng, use_anchors);
    if (b->np > 0) {
        rc = rollout_run(L->ro, b->parents, b->np, policy_act, &act, err);
        if (rc)
            return rc;
    }
    batch_fork(b, &tally);
    rc = rollout_run(L->ro, b->eps, n, policy_act, &act, err);
    if (rc)
        return rc;
    batch_rewards(b, L->rm, cfg->branch_mix, cfg->adv_std_floor, &tally);
    rc = learner_update(L, b->trajs, n, &loss, &ent, err);
    if (rc)
        return rc;
    stats_fill(st, u, n, b->np, &tally);
    st->lr = L->sch.lr;
    st->loss = loss;
    st->entropy = ent;
    st->ms = tg_now_ms() - t0;
    st->steps_per_s = st->ms > 0 ? act.steps * 1000.0 / st->ms : 0;
    sched_step(&L->sch, sched_signal_value(L->sch.cfg.signal, loss, st->ret));
    return 0;
}

/* after the last update: the checkpoint and the learning curve */
static int run_finish(struct run *r, const char *save, const char *svg, struct tg_error *err) {
    int rc;

    if (save) {
        rc = ckpt_save(save, &r->L.pol.m, &r->L.opt, &r->L.sch, &r->L.rng, err);
        if (rc)
            return rc;
    }
    return svg ? write_curve(svg, r->curve, r->cfg->updates, err) : 0;
}

int train_run(const struct train_config *cfg, const char *servers, const char *resume,
              const char *save, const char *svg, FILE *log, int progress, struct train_result *res,
              struct tg_error *err) {
    struct run r;
    long total_eps = 0;
    double acc_smooth = -1;
    int rc;

    if (res)
        memset(res, 0, sizeof(*res));
    rc = train_config_check(cfg, err);
    if (rc)
        return rc;
    rc = run_setup(&r, cfg, servers, resume, err);
    if (rc)
        goto done;
    if (res)
        res->updates_to_target = -1;
    for (int u = 0; u < cfg->updates; u++) {
        struct train_stats *st = &r.curve[u];

        rc = run_update(&r, u, st, err);
        if (rc)
            goto done;
        total_eps += st->episodes;
        acc_smooth = acc_smooth < 0 ? st->accuracy : 0.7 * acc_smooth + 0.3 * st->accuracy;
        if (res && res->updates_to_target < 0 && acc_smooth >= cfg->target_accuracy)
            res->updates_to_target = u + 1;
        if (log)
            log_update(log, progress, st, r.b.np);
        if (progress)
            progress_bar(cfg, st, total_eps);
        if (res) {
            res->updates_done = u + 1;
            res->final_train_accuracy = acc_smooth;
        }
    }
    if (progress)
        fprintf(stderr, "\n");
    rc = run_finish(&r, save, svg, err);
    if (rc == 0 && res) {
        res->curve = r.curve;
        r.curve = NULL;
    }
done:
    run_free(&r);
    return rc;
}

/* ---- evaluation --------------------------------------------------------------------------- */

/* the outcome of eps[0..n) into *out */
static void eval_tally(const struct rollout_ep *eps, int n, struct train_eval_result *out) {
    int calls = 0, correct = 0, lab[RL_LABELS] = {0};

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
}

/* GET /v1/report for the tag into *report (NULL when the server has none) */
static void eval_report(struct rollout *ro, const char *split, const char *tag, json_t **report) {
    struct tg_error ignored; /* no report is no error: the caller shows what it has */
    char path[256];
    long status;

    snprintf(path, sizeof(path), "/v1/report?split=%s&tag=%s", split, tag);
    if (rollout_request(ro, 0, "GET", path, NULL, &status, report, &ignored) == 0 &&
        status != 200) {
        json_decref(*report);
        *report = NULL;
    }
}

int train_eval(const struct train_config *cfg, const char *servers, const char *ckpt,
               const char *split, int episodes, const char *tag, struct train_eval_result *out,
               json_t **report, struct tg_error *err) {
    struct learner L;
    struct task_ref *tasks = NULL;
    struct rollout_ep *eps = NULL;
    struct policy_actor act;
    int ntasks = 0, n = 0, rc;
    double t0;

    memset(out, 0, sizeof(*out));
    if (report)
        *report = NULL;
    rc = learner_init(&L, cfg, ckpt, err);
    if (rc == 0)
        rc = learner_connect(&L, servers, err);
    if (rc == 0)
        rc = task_list_fetch(L.ro, split, &tasks, &ntasks, err);
    if (rc)
        goto done;
    n = episodes > 0 ? episodes : ntasks;
    eps = calloc((size_t)n, sizeof(*eps));
    if (!eps) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        rc = TG_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        snprintf(eps[i].task_id, sizeof(eps[i].task_id), "%s", tasks[i % ntasks].id);
        eps[i].tag = tag;
        eps[i].server = -1;
    }
    act = (struct policy_actor){&L.pol, &L.rng, POLICY_GREEDY, 0, 0};
    t0 = tg_now_ms();
    rc = rollout_run(L.ro, eps, n, policy_act, &act, err);
    if (rc)
        goto done;
    out->steps_per_s = act.steps * 1000.0 / fmax(tg_now_ms() - t0, 1e-3);
    eval_tally(eps, n, out);
    snprintf(out->tag, sizeof(out->tag), "%s", tag ? tag : "");
    if (report && tag)
        eval_report(L.ro, split, tag, report);
done:
    if (eps)
        for (int i = 0; i < n; i++)
            rollout_ep_clear(&eps[i]);
    free(eps);
    free(tasks);
    learner_free(&L);
    return rc;
}
