/*
 * test_e3tir.c — E3-TIR's protocol, checkable: the GRPO group advantages (hand-computed small
 * groups, the 0.5/0.5 mixed advantage of branch rollouts), the fork step (highest entropy,
 * ties to the earliest), dynamic filtering's partition of flat groups, the expert-data
 * budget (deterministic from the seed; 0 or too many is an error naming the value), the
 * protocol presets and their contradictions, and one tiny run of each protocol.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/act.h"
#include "policy/batch.h"
#include "policy/demo.h"
#include "policy/rollout.h"
#include "policy/seq.h"
#include "policy/train.h"
#include "policy/traj.h"
#include "server/server.h"
#include "tg_test.h"

#define NEAR(a, b) CU_ASSERT(fabs((a) - (b)) < 1e-6)

/* a group of g trajectories with rewards r and branch flags br (NULL: none) */
static void group(struct traj *t, int g, const double *r, const int *br) {
    memset(t, 0, sizeof(*t) * (size_t)g);
    for (int i = 0; i < g; i++) {
        t[i].reward = r[i];
        t[i].is_branch = br ? br[i] : 0;
    }
}

/* A = (R - mean) / max(std, floor), std the population std of the group */
TG_TEST(e3tir, group_advantages_by_hand) {
    struct traj t[4];
    const double r1[4] = {1, 0, 0, 1};

    /* mean 0.5, std 0.5 */
    group(t, 4, r1, NULL);
    traj_group_advantages(t, 4, 0.5, 0.0);
    NEAR(t[0].adv, 1.0);
    NEAR(t[1].adv, -1.0);
    NEAR(t[2].adv, -1.0);
    NEAR(t[3].adv, 1.0);
    /* the floor 1.0 divides by max(0.5, 1) = 1 */
    traj_group_advantages(t, 4, 0.5, 1.0);
    NEAR(t[0].adv, 0.5);
    NEAR(t[1].adv, -0.5);
    /* rewards 3, 1: mean 2, std 1 */
    {
        const double r2[2] = {3, 1};

        group(t, 2, r2, NULL);
        traj_group_advantages(t, 2, 0.5, 0.0);
        NEAR(t[0].adv, 1.0);
        NEAR(t[1].adv, -1.0);
        CU_ASSERT_FALSE(traj_group_flat(t, 2));
    }
    /* a flat group: every advantage 0, and it is flat */
    {
        const double r3[4] = {0.7, 0.7, 0.7, 0.7};

        group(t, 4, r3, NULL);
        traj_group_advantages(t, 4, 0.5, 0.0);
        for (int i = 0; i < 4; i++)
            NEAR(t[i].adv, 0.0);
        CU_ASSERT_TRUE(traj_group_flat(t, 4));
    }
}

/* branch rollouts: 0.5 x the group's advantage + 0.5 x the advantage among the branches */
TG_TEST(e3tir, mixed_advantage_of_branches_by_hand) {
    struct traj t[4];
    const double r[4] = {0, 0, 1, 0};
    const int br[4] = {0, 0, 1, 1};
    const double s3 = sqrt(3.0);

    /* group: mean 0.25, std sqrt(0.1875) = sqrt(3)/4, so A = (R - 0.25) * 4 / sqrt(3):
     * -1/sqrt(3) for a 0, sqrt(3) for the 1. Branches {1, 0}: mean 0.5, std 0.5: +1, -1. */
    group(t, 4, r, br);
    traj_group_advantages(t, 4, 0.5, 0.0);
    NEAR(t[0].adv, -1 / s3);
    NEAR(t[1].adv, -1 / s3);
    NEAR(t[2].adv, 0.5 * s3 + 0.5 * 1);
    NEAR(t[3].adv, 0.5 * (-1 / s3) + 0.5 * (-1));
    /* mix 1: the group's advantage only; mix 0: the branches' only */
    traj_group_advantages(t, 4, 1.0, 0.0);
    NEAR(t[2].adv, s3);
    NEAR(t[3].adv, -1 / s3);
    traj_group_advantages(t, 4, 0.0, 0.0);
    NEAR(t[2].adv, 1.0);
    NEAR(t[3].adv, -1.0);
    NEAR(t[0].adv, -1 / s3); /* fresh rollouts never mix */

    /* flat branches {1, 1} in a group {0, 1, 1, 1}: mean 0.75, std sqrt(3)/4; the branches'
     * own advantage is 0, so theirs is half the group's: 0.5 x 1/sqrt(3) */
    {
        const double r2[4] = {0, 1, 1, 1};

        group(t, 4, r2, br);
        traj_group_advantages(t, 4, 0.5, 0.0);
        NEAR(t[0].adv, -s3);
        NEAR(t[1].adv, 1 / s3);
        NEAR(t[2].adv, 0.5 / s3);
        NEAR(t[3].adv, 0.5 / s3);
    }
    /* a single branch has no branch group: 0.5 x its group advantage */
    {
        const double r3[4] = {0, 1, 1, 0};
        const int one[4] = {0, 0, 1, 0};

        group(t, 4, r3, one);
        traj_group_advantages(t, 4, 0.5, 0.0);
        NEAR(t[2].adv, 0.5);
        NEAR(t[1].adv, 1.0);
    }
}

TG_TEST(e3tir, fork_at_the_highest_entropy_step) {
    const float a[3] = {0.1f, 0.7f, 0.3f};
    const float ties[4] = {0.5f, 0.9f, 0.9f, 0.2f};
    const float flat[3] = {0.4f, 0.4f, 0.4f};
    const float last[5] = {0.0f, 0.1f, 0.2f, 0.3f, 2.5f};

    CU_ASSERT_EQUAL(traj_fork_step(a, 3), 1);
    CU_ASSERT_EQUAL(traj_fork_step(ties, 4), 1); /* a tie goes to the earliest step */
    CU_ASSERT_EQUAL(traj_fork_step(flat, 3), 0);
    CU_ASSERT_EQUAL(traj_fork_step(last, 5), 4);
    CU_ASSERT_EQUAL(traj_fork_step(a, 1), 0);
    CU_ASSERT_EQUAL(traj_fork_step(a, 0), 0);
}

/* batch_fork forks the second half of an anchored group at the parent's highest-entropy
 * step and marks them branches; the first half and unanchored groups stay fresh */
TG_TEST(e3tir, batch_fork_uses_the_highest_entropy_step) {
    struct batch b;
    struct batch_tally tally;
    struct tg_error e;
    const float ent[4] = {0.2f, 0.6f, 1.3f, 1.3f};

    CU_ASSERT_FATAL(batch_init(&b, 2, 4, &e) == 0);
    memset(&tally, 0, sizeof(tally));
    b.np = 1;
    b.anchored[0] = -1;
    b.anchored[1] = 0;
    snprintf(b.parents[0].episode_id, sizeof(b.parents[0].episode_id), "ep-parent");
    b.parents[0].server = 1;
    memcpy(b.ptrajs[0].ent, ent, sizeof(ent));
    b.ptrajs[0].nent = 4;
    batch_fork(&b, &tally);
    NEAR(tally.fork_at, 2.0);
    for (int g = 0; g < 4; g++) {
        CU_ASSERT_EQUAL(b.trajs[g].is_branch, 0);
        CU_ASSERT_EQUAL(b.eps[g].fork_from[0], '\0');
        CU_ASSERT_EQUAL(b.trajs[4 + g].is_branch, g >= 2);
        if (g >= 2) {
            CU_ASSERT_STRING_EQUAL(b.eps[4 + g].fork_from, "ep-parent");
            CU_ASSERT_EQUAL(b.eps[4 + g].fork_at, 2);
            CU_ASSERT_EQUAL(b.eps[4 + g].server, 1);
        } else {
            CU_ASSERT_EQUAL(b.eps[4 + g].fork_from[0], '\0');
        }
    }
    batch_free(&b);
}

/* dynamic filtering's partition: informative groups first, in order; flat ones after; every
 * episode still points at its own trajectory */
TG_TEST(e3tir, filtering_keeps_groups_whose_rewards_differ) {
    struct batch b;
    struct tg_error e;
    const double r[4][2] = {{1, 1}, {0, 1}, {0, 0}, {1, 0}};

    CU_ASSERT_FATAL(batch_init(&b, 4, 2, &e) == 0);
    for (int t = 0; t < 4; t++)
        for (int g = 0; g < 2; g++) {
            snprintf(b.eps[t * 2 + g].task_id, sizeof(b.eps[0].task_id), "task-%d", t);
            b.eps[t * 2 + g].user = &b.trajs[t * 2 + g];
            b.trajs[t * 2 + g].reward = r[t][g];
        }
    CU_ASSERT_EQUAL(batch_keep_informative(&b, 0), 2);
    CU_ASSERT_STRING_EQUAL(b.eps[0].task_id, "task-1");
    CU_ASSERT_STRING_EQUAL(b.eps[2].task_id, "task-3");
    NEAR(b.trajs[0].reward, 0);
    NEAR(b.trajs[1].reward, 1);
    NEAR(b.trajs[2].reward, 1);
    NEAR(b.trajs[3].reward, 0);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_PTR_EQUAL(b.eps[i].user, &b.trajs[i]);
    /* groups before `first` are kept as they are, even when flat */
    CU_ASSERT_EQUAL(batch_keep_informative(&b, 3), 3);
    batch_free(&b);
}

/* the ids of the tasks in d's budget, comma-separated, into buf */
static void chosen(const struct demo_set *d, char *buf, size_t n) {
    size_t k = 0;

    buf[0] = '\0';
    for (int i = 0; i < d->ntasks && k < n; i++)
        if (demo_in_budget(d, i))
            k += (size_t)snprintf(buf + k, n - k, "%s,", d->tasks[i].task->id);
}

TG_TEST(e3tir, expert_budget_is_drawn_from_the_seed) {
    struct demo_set d;
    struct tg_error e;
    char path[64], a[2048], b2[2048];
    int used = 0;

    test_task_file_head(path, sizeof(path), 20);
    CU_ASSERT_FATAL(demo_load(&d, path, 6, &e) == 0);
    CU_ASSERT_EQUAL(d.nexperts, 20);
    /* a count */
    CU_ASSERT_EQUAL(demo_budget(&d, 1.0, 5, 11, &e), 0);
    CU_ASSERT_EQUAL(d.nuse, 5);
    for (int i = 0; i < d.ntasks; i++)
        used += demo_in_budget(&d, i);
    CU_ASSERT_EQUAL(used, 5);
    for (int i = 0; i < d.ntasks; i++) /* no anchor outside the budget */
        CU_ASSERT_EQUAL(demo_expert(&d, d.tasks[i].task->id) != NULL, demo_in_budget(&d, i));
    chosen(&d, a, sizeof(a));
    /* the same seed chooses the same tasks; another seed other tasks */
    CU_ASSERT_EQUAL(demo_budget(&d, 1.0, 5, 11, &e), 0);
    chosen(&d, b2, sizeof(b2));
    CU_ASSERT_STRING_EQUAL(a, b2);
    CU_ASSERT_EQUAL(demo_budget(&d, 1.0, 5, 12, &e), 0);
    chosen(&d, b2, sizeof(b2));
    CU_ASSERT_STRING_NOT_EQUAL(a, b2);
    /* a fraction: ceil(0.1 x 20) = 2, ceil(0.12 x 20) = 3, 1.0 = all */
    CU_ASSERT_EQUAL(demo_budget(&d, 0.1, 0, 11, &e), 0);
    CU_ASSERT_EQUAL(d.nuse, 2);
    CU_ASSERT_EQUAL(demo_budget(&d, 0.12, 0, 11, &e), 0);
    CU_ASSERT_EQUAL(d.nuse, 3);
    CU_ASSERT_EQUAL(demo_budget(&d, 1.0, 0, 11, &e), 0);
    CU_ASSERT_EQUAL(d.nuse, 20);
    CU_ASSERT_EQUAL(demo_budget(&d, 0.01, 0, 11, &e), 0); /* at least one task */
    CU_ASSERT_EQUAL(d.nuse, 1);
    /* more tasks than there are, or nothing: errors naming the value */
    CU_ASSERT_EQUAL(demo_budget(&d, 1.0, 21, 11, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "expert budget 21 is above") != NULL);
    CU_ASSERT(strstr(e.message, "(20 in ") != NULL);
    CU_ASSERT_EQUAL(demo_budget(&d, 0.0, 0, 11, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "expert budget 0 is out of range") != NULL);
    demo_free(&d);
    unlink(path);
}

/* the warm-up's decisions follow every order of the expert calls that the plan allows: a
 * multi_lookup task (two searches either way, then the calculator) has 7 decisions, the
 * first with both searches as alternatives; a lookup_arith task (search, then a calculator
 * that needs it) keeps its one order */
TG_TEST(e3tir, demonstrations_follow_every_order_the_plan_allows) {
    struct server_config sc;
    struct server *srv;
    struct rollout_config rc = rollout_config_default();
    struct rollout *ro;
    struct demo_set d;
    struct act_vocab voc;
    struct tg_error e;
    struct view *v = malloc(sizeof(*v));
    struct act_targets *t = malloc(sizeof(*t));
    struct seq s;
    char path[64];
    int multi = -1, arith = -1, per[6] = {0, 0, 0, 0, 0, 0};

    CU_ASSERT_FATAL(v && t);
    test_task_file_head(path, sizeof(path), 6); /* train-00005 is a multi_lookup */
    server_config_defaults(&sc);
    sc.tasks = path;
    srv = test_server_start(&sc);
    CU_ASSERT_FATAL(srv != NULL);
    rc.servers = test_server_url(srv);
    ro = rollout_new(&rc, &e);
    CU_ASSERT_FATAL(ro != NULL);
    CU_ASSERT_FATAL(demo_load(&d, path, 6, &e) == 0);
    CU_ASSERT_EQUAL_FATAL(demo_observe(&d, ro, &e), 0);
    memset(&voc, 0, sizeof(voc));
    CU_ASSERT_EQUAL_FATAL(demo_learn(&d, 1, &voc, &e), 0);
    CU_ASSERT_EQUAL_FATAL(demo_index(&d, &voc, 4096, &e), 0);
    for (int i = 0; i < d.ntasks; i++) {
        if (d.tasks[i].task->family == TASK_MULTI_LOOKUP && multi < 0)
            multi = i;
        if (d.tasks[i].task->family == TASK_LOOKUP_ARITH && arith < 0)
            arith = i;
    }
    CU_ASSERT_FATAL(multi >= 0 && arith >= 0);
    for (int i = 0; i < d.ndec; i++)
        per[d.dec[i].task]++;
    CU_ASSERT_EQUAL(per[multi], 7);
    CU_ASSERT_EQUAL(per[arith], 3);
    CU_ASSERT_EQUAL_FATAL(seq_alloc(&s, 0, 0, 0, &e), 0);
    for (int i = 0; i < d.ndec; i++) {
        if (d.dec[i].task != multi)
            continue;
        demo_view(&d, i, v);
        CU_ASSERT_EQUAL(v->nstep, d.dec[i].step);
        seq_build(&s, v, &voc, 4096, NULL);
        CU_ASSERT_EQUAL_FATAL(demo_target(&d, i, &voc, &s, t, &e), 0);
        if (d.dec[i].step == 0) /* either search first */
            CU_ASSERT(t->nalt >= 2);
        if (d.dec[i].step == 1) { /* the other search: the query of the call not made */
            const char *made = v->steps[0].text;
            const char *other = json_string_value(
                json_object_get(json_object_get(json_array_get(d.tasks[multi].task->expert,
                                                               d.dec[i].order[0] == 0 ? 1 : 0),
                                                "arguments"),
                                "query"));

            CU_ASSERT_EQUAL(t->nalt, 1);
            CU_ASSERT_PTR_NOT_NULL_FATAL(other);
            CU_ASSERT(strcmp(made, other) != 0);
        }
    }
    seq_free(&s);
    demo_free(&d);
    rollout_free(ro);
    test_server_stop(srv);
    unlink(path);
    free(v);
    free(t);
}

TG_TEST(e3tir, budget_and_protocol_settings) {
    struct train_config c = train_config_default();
    struct tg_error e;
    char buf[32], path[] = "/tmp/tg_e3tir_cfg_XXXXXX";
    int fd = mkstemp(path);
    FILE *f;
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"expert_budget\": 0}", "expert budget 0 is out of range"},
        {"{\"expert_budget\": 0.0}", "'expert_budget' = 0 is out of range"},
        {"{\"expert_budget\": 1.5}", "'expert_budget' = 1.5 is out of range"},
        {"{\"expert_budget\": \"lots\"}", "expert budget 'lots' is not a number"},
        {"{\"expert_budget\": true}", "'expert_budget' must be"},
        {"{\"protocol\": \"dagger\"}", "protocol 'dagger' is not"},
        {"{\"protocol\": \"zero-rl\", \"warmup_epochs\": 2}", "protocol zero-rl has no warm-up"},
        {"{\"protocol\": \"sft-then-rl\", \"anchors\": \"branch\"}",
         "protocol sft-then-rl has no anchors"},
        {"{\"protocol\": \"e3tir\", \"anchors\": \"off\"}", "protocol e3tir branches"},
        {"{\"protocol\": \"e3tir\", \"warmup_epochs\": 0}", "protocol e3tir starts with a warm-up"},
        {"{\"filter_rounds\": 9}", "filter_rounds = 9 is out of range"},
        {"{\"filter\": 1}", "'filter' must be true or false"},
    };

    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    /* the command line's spelling: a '.' or an exponent makes a fraction */
    CU_ASSERT_EQUAL(train_budget_parse("0.1", &c, &e), 0);
    NEAR(c.expert_budget, 0.1);
    CU_ASSERT_EQUAL(c.expert_budget_count, 0);
    train_budget_describe(&c, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "10%");
    CU_ASSERT_EQUAL(train_budget_parse("50", &c, &e), 0);
    CU_ASSERT_EQUAL(c.expert_budget_count, 50);
    train_budget_describe(&c, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "50 tasks");
    CU_ASSERT_EQUAL(train_budget_parse("1.0", &c, &e), 0);
    CU_ASSERT_EQUAL(c.expert_budget_count, 0);
    train_budget_describe(&c, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "all");
    CU_ASSERT_EQUAL(train_budget_parse("1e-1", &c, &e), 0);
    NEAR(c.expert_budget, 0.1);
    CU_ASSERT_EQUAL(train_budget_parse("0", &c, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "expert budget 0 is out of range") != NULL);
    CU_ASSERT_EQUAL(train_budget_parse("0.0", &c, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "expert budget 0.0 is out of range") != NULL);
    CU_ASSERT_EQUAL(train_budget_parse("1.5", &c, &e), TG_EINVAL);
    CU_ASSERT_EQUAL(train_budget_parse("-3", &c, &e), TG_EINVAL);
    CU_ASSERT_EQUAL(train_budget_parse("7x", &c, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "'7x' is not a number") != NULL);
    CU_ASSERT_EQUAL(train_budget_parse("", &c, &e), TG_EINVAL);

    /* the presets */
    c = train_config_default();
    train_protocol_apply(&c, PROTOCOL_ZERO_RL);
    CU_ASSERT_EQUAL(c.warmup_epochs, 0);
    CU_ASSERT_EQUAL(c.anchors, ANCHORS_OFF);
    CU_ASSERT_EQUAL(c.filter, 0);
    CU_ASSERT_EQUAL(train_config_check(&c, &e), 0);
    train_protocol_apply(&c, PROTOCOL_SFT_RL);
    CU_ASSERT(c.warmup_epochs > 0);
    CU_ASSERT_EQUAL(c.anchors, ANCHORS_OFF);
    CU_ASSERT_EQUAL(train_config_check(&c, &e), 0);
    train_protocol_apply(&c, PROTOCOL_E3TIR);
    CU_ASSERT(c.warmup_epochs > 0);
    CU_ASSERT_EQUAL(c.anchors, ANCHORS_BRANCH);
    CU_ASSERT(c.anchor_fraction > 0);
    CU_ASSERT_EQUAL(c.filter, 1);
    NEAR(c.branch_mix, 0.5);
    CU_ASSERT_EQUAL(train_config_check(&c, &e), 0);

    /* the JSON file: the protocol first, keys beside it on top; an integer is a count */
    f = fopen(path, "w");
    fputs("{\"protocol\": \"sft-then-rl\", \"warmup_epochs\": 3, \"expert_budget\": 40}", f);
    fclose(f);
    c = train_config_default();
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), 0);
    CU_ASSERT_EQUAL(c.protocol, PROTOCOL_SFT_RL);
    NEAR(c.warmup_epochs, 3);
    CU_ASSERT_EQUAL(c.anchors, ANCHORS_OFF);
    CU_ASSERT_EQUAL(c.expert_budget_count, 40);
    f = fopen(path, "w");
    fputs("{\"protocol\": \"e3tir\", \"expert_budget\": 0.1, \"filter\": false, "
          "\"filter_rounds\": 3}",
          f);
    fclose(f);
    c = train_config_default();
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), 0);
    NEAR(c.expert_budget, 0.1);
    CU_ASSERT_EQUAL(c.expert_budget_count, 0);
    CU_ASSERT_EQUAL(c.filter, 0); /* a key beside the protocol wins */
    CU_ASSERT_EQUAL(c.filter_rounds, 3);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = fopen(path, "w");
        fputs(bad[i].json, f);
        fclose(f);
        c = train_config_default();
        CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), TG_EINVAL);
        if (!strstr(e.message, bad[i].want))
            fprintf(stderr, "\n  %s: got '%s', want '%s'\n", bad[i].json, e.message, bad[i].want);
        CU_ASSERT(strstr(e.message, bad[i].want) != NULL);
    }
    unlink(path);
}

/* a tiny run of each protocol at the same budget: zero-RL plays no warm-up step and uses the
 * budget's experts for nothing but its output symbols; SFT-then-RL warms up on the budget's
 * experts only and forks nothing; E3-TIR warms up, forks from anchors and filters */
TG_TEST(e3tir, each_protocol_runs_at_the_same_budget) {
    static const enum train_protocol ps[] = {PROTOCOL_ZERO_RL, PROTOCOL_SFT_RL, PROTOCOL_E3TIR};
    struct server_config sc;
    struct server *srv;
    char tasks[64], logp[] = "/tmp/tg_e3tir_log_XXXXXX";
    int demos_sft = -1;

    /* the server's train split is the 40 tasks of the file: a quarter of them anchorable */
    test_task_file_head(tasks, sizeof(tasks), 40);
    server_config_defaults(&sc);
    sc.tasks = tasks;
    srv = test_server_start(&sc);
    CU_ASSERT_FATAL(srv != NULL);
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        struct train_config c = train_config_default();
        struct train_result res;
        struct train_io io;
        struct tg_error e;
        int fd = mkstemp(logp), branches = 0;
        FILE *log = fd >= 0 ? fdopen(fd, "w+") : NULL;
        char line[1024];

        CU_ASSERT_FATAL(log != NULL);
        c.d_model = 16;
        c.heads = 2;
        c.layers = 1;
        c.ffn = 32;
        c.buckets = 2048;
        c.warmup_batch = 16;
        c.updates = 2;
        c.tasks_per_update = 6;
        c.group = 4;
        c.inflight = 32;
        c.eval_every = 1000;
        c.eval_tasks = 4;
        c.heldout_tasks = 0;
        c.seed = 5;
        snprintf(c.tasks_file, sizeof(c.tasks_file), "%s", tasks);
        train_protocol_apply(&c, ps[i]);
        c.warmup_epochs = ps[i] == PROTOCOL_ZERO_RL ? 0 : 1;
        c.anchor_fraction = 1.0;
        c.expert_budget_count = 10;
        memset(&io, 0, sizeof(io));
        io.servers = test_server_url(srv);
        io.log = log;
        CU_ASSERT_EQUAL_FATAL(train_run(&c, &io, &res, &e), 0);
        CU_ASSERT_EQUAL(res.expert_tasks, 10);
        CU_ASSERT_EQUAL(res.expert_tasks_all, 40);
        CU_ASSERT_EQUAL(res.updates_done - res.warmup_steps, 2);
        if (ps[i] == PROTOCOL_ZERO_RL) {
            CU_ASSERT_EQUAL(res.warmup_steps, 0);
        } else {
            CU_ASSERT(res.warmup_steps > 0);
        }
        if (ps[i] == PROTOCOL_SFT_RL)
            demos_sft = res.demos;
        if (ps[i] == PROTOCOL_E3TIR)
            CU_ASSERT_EQUAL(res.demos, demos_sft); /* the same experts' decisions */
        /* 10 tasks of at most TG_TASK_PLAN_MAX calls: at most 10 x (calls + 1) decisions */
        if (ps[i] != PROTOCOL_ZERO_RL)
            CU_ASSERT(res.demos > 0 && res.demos + res.demos_skipped <= 10 * 17);
        for (int u = 0; u < res.updates_done; u++)
            if (res.curve[u].phase == 1) {
                branches += res.curve[u].branch_eps;
                CU_ASSERT(res.curve[u].groups_kept <= c.tasks_per_update);
                CU_ASSERT(res.curve[u].groups_drawn >= c.tasks_per_update);
            }
        if (ps[i] == PROTOCOL_E3TIR) {
            CU_ASSERT(branches > 0);
        } else {
            CU_ASSERT_EQUAL(branches, 0);
        }
        rewind(log);
        while (fgets(line, sizeof(line), log))
            if (strncmp(line, "update", 6) == 0)
                CU_ASSERT_EQUAL(strstr(line, "(filter: kept ") != NULL, ps[i] == PROTOCOL_E3TIR);
        fclose(log);
        unlink(logp);
        snprintf(logp, sizeof(logp), "/tmp/tg_e3tir_log_XXXXXX");
        train_result_free(&res);
    }
    unlink(tasks);
    test_server_stop(srv);
}
