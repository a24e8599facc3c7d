/*
 * train.c — a training run: the expert trajectories, the warm-up, the RL updates, the greedy
 * evaluations, the log, the progress bar and the learning curve; and the greedy evaluation of
 * a checkpoint. See train.h.
 */
#include "policy/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/batch.h"
#include "policy/ckpt.h"
#include "policy/demo.h"
#include "policy/learner.h"
#include "policy/policy.h"
#include "policy/svg.h"
#include "policy/task_list.h"

/* ---- the run's state ---------------------------------------------------------------------- */

struct run {
    const struct train_config *cfg;
    const struct train_io *io;
    struct learner L;
    struct rollout *ro; /* until the learner holds it */
    struct demo_set demos;
    struct task_ref *tasks; /* (ntasks) the server's train split */
    int ntasks;
    struct task_ref *ho; /* (nho) the held-out split */
    int nho;
    struct batch b;
    struct rollout_ep *ev; /* (nev_max) evaluation episodes */
    int nev_max;
    struct train_stats *curve; /* (W + U) */
    int W, U;                  /* warm-up steps and RL updates this run makes */
    int *perm, perm_epoch;     /* (ndec) the shuffle of warm-up epoch perm_epoch */
    /* timing, for the progress bar's ETA */
    double t0, warm_ms, rl_ms, eval_ms;
    int warm_n, rl_n, eval_n;
};

static void run_free(struct run *r) {
    batch_free(&r->b);
    if (r->ev)
        for (int i = 0; i < r->nev_max; i++)
            rollout_ep_clear(&r->ev[i]);
    free(r->ev);
    free(r->curve);
    free(r->tasks);
    free(r->ho);
    free(r->perm);
    demo_free(&r->demos);
    learner_free(&r->L);
    rollout_free(r->ro);
}

static double nan_value(void) {
    return NAN;
}

static void stats_blank(struct train_stats *st, int u, int phase) {
    memset(st, 0, sizeof(*st));
    st->update = u;
    st->phase = phase;
    st->ret = st->accuracy = st->redundant = st->premature = st->unnecessary = nan_value();
    st->wasted = st->calls = st->entropy = st->hit = st->branch_acc = st->fork_at = nan_value();
    st->eval_acc = st->eval_wasted = st->eval_ret = nan_value();
    st->heldout_acc = st->heldout_wasted = nan_value();
}

/* ---- setup -------------------------------------------------------------------------------- */

/* the expert trajectories with what the tools showed, and the decisions the policy can write */
static int demos_prepare(struct run *r, int observe, struct tg_error *err) {
    const struct train_config *c = r->cfg;
    int rc = demo_load(&r->demos, c->tasks_file, c->max_steps, err);

    if (rc == 0)
        rc = demo_budget(&r->demos, c->expert_budget, c->expert_budget_count, c->seed, err);
    if (rc == 0 && observe)
        rc = demo_observe(&r->demos, r->ro, err);
    return rc;
}

static int run_setup(struct run *r, const struct train_config *cfg, const struct train_io *io,
                     struct tg_error *err) {
    struct rollout_config rcfg = rollout_config_default();
    int anchors = cfg->anchors != ANCHORS_OFF && cfg->anchor_fraction > 0, rc, warm;

    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    r->io = io;
    r->perm_epoch = -1;
    r->t0 = tg_now_ms();
    rcfg.servers = io->servers;
    rcfg.inflight = cfg->inflight;
    r->ro = rollout_new(&rcfg, err);
    if (!r->ro)
        return TG_EINVAL;
    if (io->resume) {
        rc = learner_init(&r->L, cfg, io->resume, NULL, err);
        if (rc)
            return rc;
        warm = r->L.phase == PHASE_WARMUP && cfg->warmup_epochs > 0;
        if (warm || anchors) {
            rc = demos_prepare(r, warm, err);
            if (rc)
                return rc;
        }
    } else {
        struct act_vocab *voc = malloc(sizeof(*voc));
        const struct lexicon *lex;

        warm = cfg->warmup_epochs > 0;
        rc = learner_lexicon(cfg, &lex, err); /* before the expert calls, not after them */
        if (rc) {
            free(voc);
            return rc;
        }
        rc = voc ? demos_prepare(r, 1, err) : TG_ENOMEM;
        if (rc == 0)
            rc = demo_learn(&r->demos, cfg->vocab_min_count, voc, err);
        if (rc == 0)
            rc = learner_init(&r->L, cfg, NULL, voc, err);
        free(voc);
        if (rc) {
            if (rc == TG_ENOMEM)
                tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            return rc;
        }
    }
    r->L.ro = r->ro;
    r->ro = NULL;
    if (warm) {
        long total;

        rc = demo_index(&r->demos, &r->L.pol.voc, (uint32_t)r->L.pol.net.cfg.buckets, err);
        if (rc)
            return rc;
        total = (long)ceil(cfg->warmup_epochs * r->demos.ndec / cfg->warmup_batch);
        r->W = total > r->L.warmup_done ? (int)(total - r->L.warmup_done) : 0;
        r->L.warmup_total = total;
        r->perm = malloc(sizeof(int) * (size_t)r->demos.ndec);
        if (!r->perm) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            return TG_ENOMEM;
        }
        if (r->L.warmup_done == 0) {
            rc = learner_phase_start(&r->L, PHASE_WARMUP, total, err);
            if (rc)
                return rc;
        }
    }
    r->U = cfg->updates;
    if (io->resume && r->L.phase == PHASE_RL && r->L.rl_done == 0) {
        /* a warm-up-only checkpoint ends ready for RL, its schedule not yet stepped: this
         * run's settings (lr, lr_schedule, greedy, updates) set it, as in one whole run */
        rc = learner_phase_start(&r->L, PHASE_RL, r->U, err);
        if (rc)
            return rc;
    }
    rc = task_list_fetch(r->L.ro, "train", &r->tasks, &r->ntasks, err);
    if (rc == 0 && cfg->heldout_tasks > 0)
        rc = task_list_fetch(r->L.ro, "test", &r->ho, &r->nho, err);
    if (rc)
        return rc;
    if (anchors)
        for (int i = 0; i < r->ntasks; i++)
            r->tasks[i].expert = (json_t *)demo_expert(&r->demos, r->tasks[i].id);
    rc = batch_init(&r->b, cfg->tasks_per_update, cfg->group, err);
    if (rc)
        return rc;
    r->nev_max = cfg->eval_tasks > cfg->heldout_tasks ? cfg->eval_tasks : cfg->heldout_tasks;
    r->ev = calloc((size_t)(r->nev_max > 0 ? r->nev_max : 1), sizeof(*r->ev));
    r->curve = calloc((size_t)(r->W + r->U > 0 ? r->W + r->U : 1), sizeof(*r->curve));
    if (!r->ev || !r->curve) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    return 0;
}

/* ---- greedy evaluation -------------------------------------------------------------------- */

/* play n tasks spread evenly over tasks[0..ntasks) greedily with tag; accuracy, wasted, ret */
static int play_greedy(struct run *r, const struct task_ref *tasks, int ntasks, int n,
                       const char *tag, double *acc, double *wasted, double *ret,
                       struct tg_error *err) {
    struct policy_actor act = {&r->L.pol, &r->L.sc[0], POLICY_GREEDY, 0, 0};
    int calls = 0, correct = 0, waste = 0, rc;
    double sum = 0;

    if (n > ntasks)
        n = ntasks;
    if (n <= 0) {
        *acc = *wasted = *ret = nan_value();
        return 0;
    }
    for (int i = 0; i < n; i++) {
        struct rollout_ep *e = &r->ev[i];

        rollout_ep_clear(e);
        memset(e, 0, sizeof(*e));
        snprintf(e->task_id, sizeof(e->task_id), "%s", tasks[(long)i * ntasks / n].id);
        e->max_steps = r->cfg->max_steps;
        e->reward_mode = r->cfg->reward_mode;
        e->tag = tag;
        e->server = -1;
    }
    rc = rollout_run(r->L.ro, r->ev, n, policy_act, &act, err);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        const struct rollout_ep *e = &r->ev[i];

        calls += e->calls;
        correct += e->correct;
        waste += e->labels[RL_REDUNDANT] + e->labels[RL_PREMATURE] + e->labels[RL_UNNECESSARY];
        sum += e->ret;
    }
    *acc = (double)correct / n;
    *wasted = calls ? (double)waste / calls : 0;
    *ret = sum / n;
    return 0;
}

static int run_eval(struct run *r, struct train_stats *st, struct tg_error *err) {
    double t0 = tg_now_ms(), ret;
    int rc = play_greedy(r, r->tasks, r->ntasks, r->cfg->eval_tasks, "train-eval", &st->eval_acc,
                         &st->eval_wasted, &st->eval_ret, err);

    if (rc == 0)
        rc = play_greedy(r, r->ho, r->nho, r->cfg->heldout_tasks, "heldout-eval", &st->heldout_acc,
                         &st->heldout_wasted, &ret, err);
    r->eval_ms += tg_now_ms() - t0;
    r->eval_n++;
    return rc;
}

/* ---- progress and logs -------------------------------------------------------------------- */

static void fmt_eta(double ms, char *buf, size_t n) {
    long s = (long)(ms / 1000 + 0.5);

    if (s >= 3600)
        snprintf(buf, n, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, n, "%lds", s);
}

/* the latest finite value of field `off` (a double of struct train_stats) up to update u */
static double latest(const struct train_stats *curve, int u, size_t off) {
    for (int i = u; i >= 0; i--) {
        double v;

        memcpy(&v, (const char *)&curve[i] + off, sizeof(v));
        if (isfinite(v))
            return v;
    }
    return nan_value();
}

static void progress_bar(const struct run *r, int u) {
    const struct train_stats *st = &r->curve[u];
    int total = r->W + r->U, width = 20, done = (u + 1) * width / (total > 0 ? total : 1);
    double avg_w = r->warm_n ? r->warm_ms / r->warm_n : 0;
    double avg_rl = r->rl_n ? r->rl_ms / r->rl_n : avg_w * 10; /* a guess until measured */
    double avg_ev = r->eval_n ? r->eval_ms / r->eval_n : 0, eta;
    int left_w = st->phase == 0 ? r->W - (u + 1) : 0;
    int left_rl = st->phase == 0 ? r->U : total - (u + 1);
    double ret = latest(r->curve, u, offsetof(struct train_stats, ret));
    double acc = latest(r->curve, u, offsetof(struct train_stats, accuracy));
    double wasted = latest(r->curve, u, offsetof(struct train_stats, wasted));
    double held = latest(r->curve, u, offsetof(struct train_stats, heldout_acc));
    char eta_s[24];

    if (st->phase == 0) { /* no rollouts yet: the greedy evaluation's figures */
        ret = latest(r->curve, u, offsetof(struct train_stats, eval_ret));
        acc = latest(r->curve, u, offsetof(struct train_stats, eval_acc));
        wasted = latest(r->curve, u, offsetof(struct train_stats, eval_wasted));
    }
    eta = left_w * avg_w + left_rl * avg_rl +
          (double)(left_w + left_rl) / r->cfg->eval_every * avg_ev;
    fmt_eta(eta, eta_s, sizeof(eta_s));
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < done ? '#' : '.', stderr);
    fprintf(stderr,
            "] %s %d/%d  ETA %s%s  ret %+.3f  acc %5.1f%%  held-out %5.1f%%  wasted %4.1f%%  "
            "lr %.1e ",
            st->phase == 0 ? "warm-up" : "RL", st->phase == 0 ? u + 1 : u + 1 - r->W,
            st->phase == 0 ? r->W : r->U, eta_s, r->rl_n ? "" : "~", ret, 100 * acc, 100 * held,
            100 * wasted, st->lr);
    fflush(stderr);
}

/* the update's log line: deterministic (no timing), so two runs can be compared byte by byte */
static void log_update(const struct run *r, const struct train_stats *st) {
    FILE *log = r->io->log;

    if (!log)
        return;
    if (r->io->progress)
        fprintf(stderr, "\r\033[K");
    if (st->phase == 0)
        fprintf(log, "warmup %4d/%d  loss %.4f  hit %.3f  lr %.2e", st->update + 1, r->W, st->loss,
                st->hit, st->lr);
    else
        fprintf(log,
                "update %3d  ret %+.3f  acc %.3f  calls %.2f  redundant %.3f  premature %.3f  "
                "unnecessary %.3f  loss %+.4f  H %.3f  lr %.2e  (anchored %d: fork at %.1f, "
                "branch acc %.2f)",
                st->update + 1 - r->W, st->ret, st->accuracy, st->calls, st->redundant,
                st->premature, st->unnecessary, st->loss, st->entropy, st->lr, st->branch_eps,
                isfinite(st->fork_at) ? st->fork_at : 0,
                isfinite(st->branch_acc) ? st->branch_acc : 0);
    if (st->phase == 1 && r->cfg->filter)
        fprintf(log, "  (filter: kept %d of %d groups drawn)", st->groups_kept, st->groups_drawn);
    if (isfinite(st->eval_acc) || isfinite(st->heldout_acc))
        fprintf(log, "  | eval acc %.3f wasted %.3f  held-out acc %.3f wasted %.3f", st->eval_acc,
                st->eval_wasted, st->heldout_acc, st->heldout_wasted);
    fputc('\n', log);
    fflush(log);
}

static int write_curve(const struct run *r, int n, struct tg_error *err) {
    double *v = malloc(sizeof(double) * (size_t)n * 9);
    struct svg_series acc[3], loss[2], ret[2], lr[1];
    struct svg_panel p[4];
    struct svg_marker mark = {r->W > 0 && r->U > 0 ? r->W + 0.5 : 0, "warm-up", "RL"};
    char title[128];
    int rc;

    if (!v) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const struct train_stats *s = &r->curve[i];

        v[i] = s->eval_acc;
        v[n + i] = s->heldout_acc;
        v[2 * n + i] = s->accuracy;
        v[3 * n + i] = s->phase == 0 ? s->loss : nan_value();
        v[4 * n + i] = s->phase == 1 ? s->loss : nan_value();
        v[5 * n + i] = s->phase == 1 ? s->ret : s->eval_ret;
        v[6 * n + i] = s->phase == 1 ? s->wasted : s->eval_wasted;
        v[7 * n + i] = s->lr;
        v[8 * n + i] = s->heldout_wasted;
    }
    acc[0] = (struct svg_series){"train (greedy)", v, "#2ca02c", 1};
    acc[1] = (struct svg_series){"held-out test (greedy)", v + n, "#d62728", 1};
    acc[2] = (struct svg_series){"train rollouts (sampled)", v + 2 * n, "#98df8a", 0};
    loss[0] = (struct svg_series){"warm-up cross-entropy", v + 3 * n, "#1f77b4", 0};
    loss[1] = (struct svg_series){"RL loss", v + 4 * n, "#ff7f0e", 0};
    ret[0] = (struct svg_series){"mean return", v + 5 * n, "#1f77b4", 0};
    ret[1] = (struct svg_series){"wasted-call rate", v + 6 * n, "#9467bd", 0};
    lr[0] = (struct svg_series){"learning rate", v + 7 * n, "#d62728", 0};
    p[0] = (struct svg_panel){"answer accuracy", acc, 3, 0, 0, 1};
    p[1] = (struct svg_panel){"loss", loss, 2, 0, 0, 0};
    p[2] = (struct svg_panel){"return and wasted calls", ret, 2, 0, 0, 0};
    p[3] = (struct svg_panel){"learning rate", lr, 1, 1, 0, 0};
    snprintf(title, sizeof(title), "toolgym train: %d warm-up steps, then %d RL updates", r->W,
             r->U);
    rc = svg_write(r->io->svg, title, p, 4, n, "update (warm-up steps, then RL updates)", &mark,
                   err);
    free(v);
    return rc;
}

/* ---- warm-up ------------------------------------------------------------------------------ */

/* the shuffle of epoch e: seeded by (seed, e) alone, so a resumed run sees the same order */
static void epoch_perm(struct run *r, int e) {
    struct rng g;
    int n = r->demos.ndec;

    rng_seed(&g, rng_mix64(r->cfg->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(e + 1))));
    for (int i = 0; i < n; i++)
        r->perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&g, (uint64_t)i + 1), t = r->perm[i];

        r->perm[i] = r->perm[j];
        r->perm[j] = t;
    }
    r->perm_epoch = e;
}

static int warmup_step(struct run *r, int u, struct train_stats *st, struct tg_error *err) {
    struct learner *L = &r->L;
    int B = r->cfg->warmup_batch, n = r->demos.ndec, idx[4096], rc;
    long first = L->warmup_done * (long)B;
    double t0 = tg_now_ms();

    stats_blank(st, u, 0);
    for (int i = 0; i < B; i++) {
        long j = first + i;
        int e = (int)(j / n);

        if (e != r->perm_epoch)
            epoch_perm(r, e);
        idx[i] = r->perm[j % n];
    }
    st->lr = L->sch.lr;
    rc = learner_warmup_step(L, &r->demos, idx, B, &st->loss, &st->hit, err);
    if (rc)
        return rc;
    L->warmup_done++;
    sched_step(&L->sch, st->loss); /* the warm-up's signal is its loss, whatever cfg says */
    if (u + 1 == r->W)
        learner_warmup_finish(L); /* before the warm-up's last evaluation */
    r->warm_ms += tg_now_ms() - t0;
    r->warm_n++;
    st->ms = tg_now_ms() - t0;
    return 0;
}

/* ---- RL ----------------------------------------------------------------------------------- */

static void stats_fill(struct train_stats *st, int episodes, int anchored,
                       const struct batch_tally *t) {
    st->episodes = episodes;
    st->fork_at = anchored > 0 ? t->fork_at / anchored : 0;
    st->branch_eps = t->branch_eps;
    st->branch_acc = t->branch_eps > 0 ? t->branch_acc / t->branch_eps : 0;
    st->ret = t->ret / episodes;
    st->accuracy = (double)t->correct / episodes;
    st->redundant = t->calls ? (double)t->labels[RL_REDUNDANT] / t->calls : 0;
    st->premature = t->calls ? (double)t->labels[RL_PREMATURE] / t->calls : 0;
    st->unnecessary = t->calls ? (double)t->labels[RL_UNNECESSARY] / t->calls : 0;
    st->wasted = st->redundant + st->premature + st->unnecessary;
    st->calls = (double)t->calls / episodes;
}

/* RL update u: draw, play the anchor parents, fork, play, reward; with dynamic filtering,
 * set aside the groups whose rewards are all equal and redraw them (up to filter_rounds
 * times); learn from the groups kept; schedule step */
static int rl_update(struct run *r, int u, struct train_stats *st, struct tg_error *err) {
    const struct train_config *cfg = r->cfg;
    struct learner *L = &r->L;
    struct batch *b = &r->b;
    struct policy_actor act = {&L->pol, &L->sc[0], POLICY_SAMPLE, 1, 0};
    struct batch_tally tally;
    double t0 = tg_now_ms();
    int G = b->G, first = 0, keep = b->T, played = 0, anchored = 0, drawn = 0, rc;
    int use_anchors = cfg->anchors == ANCHORS_BRANCH ||
                      (cfg->anchors == ANCHORS_WARMUP && L->rl_done < cfg->anchor_warmup);

    stats_blank(st, u, 1);
    memset(&tally, 0, sizeof(tally));
    for (int round = 0;; round++) {
        int n = (b->T - first) * G;

        batch_draw_from(b, first, cfg, r->tasks, r->ntasks, &L->rng, use_anchors);
        drawn += b->T - first;
        anchored += b->np;
        if (b->np > 0) {
            rc = rollout_run(L->ro, b->parents, b->np, policy_act, &act, err);
            if (rc)
                return rc;
        }
        batch_fork_from(b, first, &tally);
        rc = rollout_run(L->ro, b->eps + (size_t)first * G, n, policy_act, &act, err);
        if (rc)
            return rc;
        played += n;
        batch_rewards_from(b, first, L->rm, cfg->branch_mix, cfg->adv_std_floor, &tally);
        if (!cfg->filter)
            break;
        keep = batch_keep_informative(b, first);
        if (keep == b->T || round == cfg->filter_rounds)
            break;
        first = keep;
    }
    st->lr = L->sch.lr;
    st->groups_kept = keep;
    st->groups_drawn = drawn;
    if (keep > 0) {
        rc = learner_update(L, b->trajs, keep * G, &st->loss, &st->entropy, err);
        if (rc)
            return rc;
        if (L->pipe && r->io->log) { /* timings: on stderr, the log stays deterministic */
            if (r->io->progress)
                fprintf(stderr, "\r\033[K");
            pipetrain_report_print(stderr, L->pipe);
        }
    } else { /* every group flat: no gradient, and no signal for the schedule */
        st->loss = st->entropy = 0;
    }
    L->rl_done++;
    stats_fill(st, played, anchored, &tally);
    if (keep > 0)
        sched_step(&L->sch, sched_signal_value(L->sch.cfg.signal, st->loss, st->ret));
    st->ms = tg_now_ms() - t0;
    st->steps_per_s = st->ms > 0 ? act.steps * 1000.0 / st->ms : 0;
    r->rl_ms += st->ms;
    r->rl_n++;
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

static int save_ckpt(const struct run *r, const char *path, struct tg_error *err) {
    struct ckpt_progress pg = {r->L.phase, r->L.warmup_done, r->L.rl_done};

    return ckpt_save(path, &r->L.pol, &r->L.opt, &r->L.sch, &r->L.rng, &pg, err);
}

/* from the warm-up to RL: the RL schedule, and fresh Adam moments (the loss changes) */
static int start_rl(struct run *r, struct tg_error *err) {
    struct adam *a = &r->L.opt;

    memset(a->m, 0, sizeof(float) * a->n);
    memset(a->v, 0, sizeof(float) * a->n);
    a->step = 0;
    return learner_phase_start(&r->L, PHASE_RL, r->U, err);
}

void train_result_free(struct train_result *r) {
    if (!r)
        return;
    free(r->curve);
    memset(r, 0, sizeof(*r));
}

int train_run(const struct train_config *cfg, const struct train_io *io, struct train_result *res,
              struct tg_error *err) {
    struct run r;
    int rc, total;

    if (res) {
        memset(res, 0, sizeof(*res));
        res->updates_to_target = -1;
    }
    rc = train_config_check(cfg, err);
    if (rc)
        return rc;
    rc = run_setup(&r, cfg, io, err);
    if (rc == 0 && io->save_init)
        rc = save_ckpt(&r, io->save_init, err);
    if (rc)
        goto done;
    total = r.W + r.U;
    for (int u = 0; u < total; u++) {
        struct train_stats *st = &r.curve[u];
        int warm = u < r.W;

        if (!warm && r.L.phase == PHASE_WARMUP) {
            rc = start_rl(&r, err);
            if (rc)
                goto done;
        }
        rc = warm ? warmup_step(&r, u, st, err) : rl_update(&r, u, st, err);
        if (rc == 0 && ((u + 1) % cfg->eval_every == 0 || u + 1 == r.W || u + 1 == total))
            rc = run_eval(&r, st, err);
        if (rc)
            goto done;
        if (res && res->updates_to_target < 0 && isfinite(st->eval_acc) &&
            st->eval_acc >= cfg->target_accuracy)
            res->updates_to_target = u + 1;
        log_update(&r, st);
        if (io->progress)
            progress_bar(&r, u);
        if (res) {
            res->updates_done = u + 1;
            res->warmup_steps = u + 1 < r.W ? u + 1 : r.W;
            if (isfinite(st->eval_acc))
                res->final_train_accuracy = st->eval_acc;
            if (isfinite(st->heldout_acc))
                res->final_heldout_accuracy = st->heldout_acc;
        }
    }
    if (r.W > 0 && r.U == 0 && r.L.phase == PHASE_WARMUP && r.L.warmup_done > 0) {
        /* a warm-up-only run ends ready for RL, so --resume continues with it */
        rc = start_rl(&r, err);
        if (rc)
            goto done;
    }
    if (io->progress)
        fprintf(stderr, "\n");
    if (io->save)
        rc = save_ckpt(&r, io->save, err);
    if (rc == 0 && io->svg && total > 0)
        rc = write_curve(&r, total, err);
    if (rc == 0 && res) {
        res->demos = r.demos.ndec;
        res->expert_tasks = r.demos.nuse;
        res->expert_tasks_all = r.demos.nexperts;
        res->demos_skipped = r.demos.skipped;
        res->seconds = (tg_now_ms() - r.t0) / 1000;
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

/* the policy a run with cfg starts from: symbols from the task file, weights from the seed */
static int untrained(struct learner *L, const struct train_config *cfg, struct tg_error *err) {
    struct demo_set d;
    struct act_vocab *voc = malloc(sizeof(*voc));
    int rc = voc ? demo_load(&d, cfg->tasks_file, cfg->max_steps, err) : TG_ENOMEM;

    if (rc == 0) /* the same budget as the run's: the same output symbols */
        rc = demo_budget(&d, cfg->expert_budget, cfg->expert_budget_count, cfg->seed, err);
    if (rc == 0) {
        rc = demo_observe(&d, L->ro, err);
        if (rc == 0)
            rc = demo_learn(&d, cfg->vocab_min_count, voc, err);
        demo_free(&d);
    }
    if (rc == 0) {
        struct rollout *ro = L->ro;

        L->ro = NULL;
        rc = learner_init(L, cfg, NULL, voc, err);
        L->ro = ro;
    }
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
    free(voc);
    return rc;
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
    memset(&L, 0, sizeof(L));
    if (report)
        *report = NULL;
    if (ckpt) {
        rc = learner_init(&L, cfg, ckpt, NULL, err);
        if (rc == 0)
            rc = learner_connect(&L, servers, err);
    } else {
        L.cfg = cfg;
        rc = learner_connect(&L, servers, err);
        if (rc == 0)
            rc = untrained(&L, cfg, err);
    }
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
        eps[i].max_steps = cfg->max_steps;
    }
    act = (struct policy_actor){&L.pol, &L.sc[0], POLICY_GREEDY, 0, 0};
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
