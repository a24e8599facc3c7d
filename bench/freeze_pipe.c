/*
 * freeze_pipe.c — wall-clock of the pipelined update's gradient (policy/pipetrain.h) under
 * each freezing rule, measured interleaved so that a change in machine load hits every rule
 * alike. A companion to bench/freeze_train.sh, whose training runs give the accuracy but whose
 * per-run timings each see a different load.
 *
 * usage: build/bench/freeze_pipe [--tasks data/tasks/train.jsonl] [--decisions 200]
 *                                [--reps 15] [--microbatches 4] [--schedule 1f1b]
 *                                [--r-max 0.9] [--progressive-k 3] [--seed 1]
 * The network is the trainer's default size (d 48, 2 heads, 2 blocks, ffn 96, 16384 buckets)
 * with seeded weights. The update: `decisions` decisions, each the view of a train task's
 * prompt with 0, 1 or 2 tool calls already made (in turn), the action sampled from the
 * network, advantages of both signs. Rules, each its own pipeline (its own calibration: the
 * first 2 passes, unfrozen and not counted):
 *   none; plan (the LP at r_max); uniform @ plan (up) and (down): uniform at the plan's
 *   applied mean ratio rounded up and down to uniform's step 1/(M n_s), which brackets "equal
 *   mean ratio"; uniform @ r_max; progressive (the lowest k layers frozen, the state
 *   progressive freezing reaches; k = floor(r_max (L + 2)) by default).
 * Then `reps` rounds; each round runs every rule once, the order rotating from round to
 * round. Per rule: the median measured makespan, the median over rounds of its makespan over
 * none's in the same round (paired), the simulator's prediction from its calibrated times (and
 * over its own unfrozen prediction) and its applied mean freeze ratio.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/stats.h"
#include "base/num.h"
#include "base/rng.h"
#include "base/tg.h"
#include "policy/act.h"
#include "policy/net.h"
#include "policy/pipeline.h"
#include "policy/pipetrain.h"
#include "policy/policy.h"
#include "policy/seq.h"
#include "policy/view.h"

#define MAX_DEC  2000
#define MAX_REPS 101
#define NRULES   6
#define PROG     5 /* the progressive rule */

static const char *const rule_names[NRULES] = {
    "none",       "plan", "uniform @ plan (up)", "uniform @ plan (down)", "uniform @ r_max",
    "progressive"};

static int usage(void) {
    fprintf(stderr, "usage: freeze_pipe [--tasks FILE] [--decisions N] [--reps N] "
                    "[--microbatches M] [--schedule gpipe|1f1b] [--r-max R] "
                    "[--progressive-k K] [--seed S]\n");
    return 2;
}

/* a view of `prompt` with `steps` (0..2) tool calls made */
static int view_of(struct view *v, const char *prompt, int steps, struct tg_error *e) {
    json_t *call, *obs;
    int rc = view_init(v, prompt, 6, e);

    if (rc || steps < 1)
        return rc;
    call = json_pack("{s:s,s:{s:s}}", "name", "search", "arguments", "query", "Mivor population");
    obs = json_pack("{s:b,s:{s:[{s:s,s:s},{s:s,s:s}]}}", "ok", 1, "result", "hits", "title",
                    "Mivor", "snippet", "Mivor is a town of 48,211 people founded in 1505.",
                    "title", "Varn", "snippet", "Varn lies north of Mivor on the old road.");
    rc = view_push(v, call, obs, e);
    json_decref(call);
    json_decref(obs);
    if (rc || steps < 2)
        return rc;
    call =
        json_pack("{s:s,s:{s:s}}", "name", "calculator", "arguments", "expression", "48211 * 12");
    obs = json_pack("{s:b,s:{s:f}}", "ok", 1, "result", "value", 578532.0);
    rc = view_push(v, call, obs, e);
    json_decref(call);
    json_decref(obs);
    return rc;
}

struct work {
    int n;
    struct seq seq[MAX_DEC];
    struct policy_action act[MAX_DEC];
    struct policy_pg pg[MAX_DEC];
    const struct seq *sp[MAX_DEC];
    const struct policy_action *ap[MAX_DEC];
};

/* n decisions from the prompts of the tasks file (cycled) */
static int make_work(struct work *w, struct policy *p, const char *tasks, int n,
                     unsigned long long seed, struct tg_error *e) {
    FILE *f = fopen(tasks, "r");
    char line[8192];
    char(*prompts)[1024] = malloc(sizeof(*prompts) * (size_t)n);
    struct view *v = malloc(sizeof(*v));
    struct policy_scratch sc;
    struct rng r;
    int np = 0, rc = 0;

    if (!f || !prompts || !v) {
        fprintf(stderr, "freeze_pipe: cannot read %s (or out of memory)\n", tasks);
        rc = TG_EINVAL;
        goto out;
    }
    while (np < n && fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *s = j ? json_string_value(json_object_get(j, "prompt")) : NULL;

        if (s)
            snprintf(prompts[np++], sizeof(prompts[0]), "%s", s);
        json_decref(j);
    }
    if (np == 0) {
        fprintf(stderr, "freeze_pipe: no prompts in %s\n", tasks);
        rc = TG_EINVAL;
        goto out;
    }
    rc = policy_scratch_init(&sc, p, e);
    if (rc)
        goto out;
    rng_seed(&r, seed);
    for (int i = 0; i < n && rc == 0; i++) {
        rc = seq_alloc(&w->seq[i], 0, 0, 0, e);
        if (rc == 0)
            rc = view_of(v, prompts[i % np], i % 3, e);
        if (rc)
            break;
        seq_build(&w->seq[i], v, &p->voc, (uint32_t)p->net.cfg.buckets, p->lex);
        policy_decide(p, &sc, &w->seq[i], POLICY_SAMPLE, &r, &w->act[i]);
        memset(&w->pg[i], 0, sizeof(w->pg[i]));
        w->pg[i].advantage = (float)(i % 2 ? 0.8 : -0.5);
        w->pg[i].entropy_coef = 0.01f;
        w->pg[i].scale = 1.0f / (float)n;
        w->sp[i] = &w->seq[i];
        w->ap[i] = &w->act[i];
        w->n = i + 1;
    }
    policy_scratch_free(&sc);
out:
    if (f)
        fclose(f);
    free(prompts);
    free(v);
    return rc;
}

/* one pass of rule k: its makespan in ms (P->rep has the rest) */
static int pass(struct pipetrain *P, struct policy *p, struct work *w, int k_prog, float *grads,
                struct tg_error *e) {
    int frozen_all[NET_LAYERS_MAX + 2], rc;
    double loss, ent;

    for (int l = 0; l < k_prog; l++)
        p->net.frozen[l] = 1;
    rc = pipetrain_grads(P, p, w->sp, w->ap, w->pg, w->n, NULL, grads, &loss, &ent, frozen_all, e);
    for (int l = 0; l < k_prog; l++)
        p->net.frozen[l] = 0;
    return rc;
}

int main(int argc, char **argv) {
    const char *tasks = "data/tasks/train.jsonl", *schedule = "1f1b";
    long ndec = 200, reps = 15, m = 4, kprog = -1, seed = 1;
    double r_max = 0.9;
    struct pipetrain_config pc = pipetrain_config_default();
    struct pipetrain P[NRULES];
    struct policy pol;
    struct net_config nc;
    struct work *w = calloc(1, sizeof(*w));
    struct tg_error e;
    struct rng r;
    float *grads = NULL;
    double t[NRULES][MAX_REPS], rel[NRULES][MAX_REPS], pred[NRULES], pred0[NRULES];
    double ratio[NRULES], r_up = 1, r_down = 0;
    int rc = 0;

    memset(P, 0, sizeof(P));
    memset(&pol, 0, sizeof(pol));
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;

        if (!v)
            return usage();
        if (strcmp(o, "--tasks") == 0)
            tasks = v;
        else if (strcmp(o, "--schedule") == 0)
            schedule = v;
        else if (strcmp(o, "--decisions") == 0)
            bad = num_long(v, 2, MAX_DEC, &ndec);
        else if (strcmp(o, "--reps") == 0)
            bad = num_long(v, 1, MAX_REPS, &reps);
        else if (strcmp(o, "--microbatches") == 0)
            bad = num_long(v, 2, 64, &m);
        else if (strcmp(o, "--progressive-k") == 0)
            bad = num_long(v, 0, NET_LAYERS_MAX + 1, &kprog);
        else if (strcmp(o, "--seed") == 0)
            bad = num_long(v, 0, 1000000000, &seed);
        else if (strcmp(o, "--r-max") == 0)
            bad = num_double(v, 0, 1, &r_max);
        else
            return usage();
        if (bad) {
            fprintf(stderr, "freeze_pipe: bad value for %s: %s\n", o, v);
            return 2;
        }
        i++;
    }
    if (!w || pipeline_kind_parse(schedule, &pc.kind, &e)) {
        fprintf(stderr, "freeze_pipe: %s\n", w ? e.message : "out of memory");
        return 2;
    }
    /* the trainer's default network; a small output vocabulary */
    pol.voc.nconst = 2;
    pol.voc.cval[0] = 2;
    pol.voc.cval[1] = 12;
    pol.voc.nword = 2;
    snprintf(pol.voc.word[0], sizeof(pol.voc.word[0]), "population");
    snprintf(pol.voc.word[1], sizeof(pol.voc.word[1]), "founded");
    nc.d = 48;
    nc.heads = 2;
    nc.layers = 2;
    nc.ffn = 96;
    nc.buckets = 16384;
    nc.nsym = act_nsym(&pol.voc);
    if (net_init(&pol.net, &nc, &e)) {
        fprintf(stderr, "freeze_pipe: %s\n", e.message);
        return 1;
    }
    rng_seed(&r, (unsigned long long)seed);
    net_init_weights(&pol.net, &r);
    if (kprog < 0)
        kprog = (long)floor(r_max * pol.net.nlayers + 1e-9);
    if (kprog >= pol.net.nlayers)
        kprog = pol.net.nlayers - 1;
    grads = malloc(sizeof(float) * pol.net.num_params);
    rc = grads ? make_work(w, &pol, tasks, (int)ndec, (unsigned long long)seed, &e) : TG_ENOMEM;
    pc.stages = 2;
    pc.microbatches = (int)m;
    pc.r_max = r_max;
    /* none and plan first: uniform @ plan needs the plan's applied ratio */
    for (int k = 0; k < 2 && rc == 0; k++) {
        struct pipetrain_config c = pc;

        c.freeze = k == 0 ? PT_FREEZE_NONE : PT_FREEZE_PLAN;
        rc = pipetrain_init(&P[k], &c, &pol.net, &e);
        for (int i = 0; i < 3 && rc == 0; i++) /* 2 calibrating, 1 with the plan */
            rc = pass(&P[k], &pol, w, 0, grads, &e);
    }
    if (rc == 0) {
        double q = (double)m * 2; /* uniform's step: 1/(M n_s), n_s = 2 */

        r_up = ceil(P[1].rep.ratio_applied * q - 1e-9) / q;
        r_down = floor(P[1].rep.ratio_applied * q + 1e-9) / q;
        if (r_up > 1)
            r_up = 1;
    }
    for (int k = 2; k < NRULES && rc == 0; k++) {
        struct pipetrain_config c = pc;

        c.freeze = k == PROG ? PT_FREEZE_NONE : PT_FREEZE_UNIFORM;
        c.r_max = k == 2 ? r_up : k == 3 ? r_down : r_max;
        rc = pipetrain_init(&P[k], &c, &pol.net, &e);
        for (int i = 0; i < 2 && rc == 0; i++)
            rc = pass(&P[k], &pol, w, 0, grads, &e);
    }
    for (int rep = 0; rep < reps && rc == 0; rep++) {
        for (int j = 0; j < NRULES && rc == 0; j++) {
            int k = (rep + j) % NRULES;

            rc = pass(&P[k], &pol, w, k == PROG ? (int)kprog : 0, grads, &e);
            t[k][rep] = P[k].rep.measured;
            pred[k] = P[k].rep.predicted;
            pred0[k] = P[k].rep.predicted0;
            ratio[k] = P[k].rep.ratio_applied;
        }
        for (int k = 0; k < NRULES && rc == 0; k++)
            rel[k][rep] = t[k][rep] / t[0][rep];
    }
    if (rc) {
        fprintf(stderr, "freeze_pipe: %s\n", e.message);
    } else {
        printf("pipeline gradient, interleaved: %s, M=%ld, %d decisions, r_max %g, progressive "
               "k=%ld of %d layers, %ld rounds\n\n",
               pipeline_kind_name(pc.kind), m, w->n, r_max, kprog, pol.net.nlayers, reps);
        printf("| rule | mean ratio applied | ms/update measured (median) | vs none (paired "
               "median) | predicted (ms) | predicted vs its unfrozen |\n"
               "|---|---|---|---|---|---|\n");
        for (int k = 0; k < NRULES; k++)
            printf("| %s | %.3f | %.1f | %.2fx | %.1f | %.2fx |\n", rule_names[k], ratio[k],
                   stats_median(t[k], (int)reps), stats_median(rel[k], (int)reps), pred[k],
                   pred0[k] > 0 ? pred[k] / pred0[k] : NAN);
    }
    for (int k = 0; k < NRULES; k++)
        pipetrain_free(&P[k]);
    for (int i = 0; i < w->n; i++)
        seq_free(&w->seq[i]);
    free(w);
    free(grads);
    policy_free(&pol);
    return rc ? 1 : 0;
}
