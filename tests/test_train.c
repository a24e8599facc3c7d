/*
 * test_train.c — the trainer end to end against an in-process server: a short fixed-seed
 * training run must beat the untrained policy's test accuracy by a clear margin; checkpoints
 * round-trip into `eval --agent policy`; bad input (config values out of range, unknown keys,
 * an unreachable server, malformed responses, a truncated checkpoint) fails with a clear
 * message and never hangs.
 */
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/ckpt.h"
#include "policy/rollout.h"
#include "policy/policy_agent.h"
#include "policy/train.h"
#include "client/eval.h"
#include "server/server.h"
#include "tg_test.h"

/* a tiny, fast configuration for tests: a narrow one-block network, a short warm-up on a
 * few demonstrations, a few small RL updates */
static struct train_config test_config(const char *tasks_file) {
    struct train_config c = train_config_default();

    c.d_model = 16;
    c.heads = 2;
    c.layers = 1;
    c.ffn = 32;
    c.buckets = 2048;
    c.warmup_epochs = 2;
    c.warmup_batch = 16;
    c.updates = 3;
    c.tasks_per_update = 4;
    c.group = 4;
    c.inflight = 32;
    c.anchor_warmup = 1;
    c.eval_every = 1000;
    c.eval_tasks = 8;
    c.heldout_tasks = 8;
    c.seed = 7;
    if (tasks_file)
        snprintf(c.tasks_file, sizeof(c.tasks_file), "%s", tasks_file);
    return c;
}

static int run(const struct train_config *c, const char *url, const char *save, FILE *log,
               struct train_result *res, struct tg_error *e) {
    struct train_io io;

    memset(&io, 0, sizeof(io));
    io.servers = url;
    io.save = save;
    io.log = log;
    return train_run(c, &io, res, e);
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    *n = (size_t)len;
    return buf;
}

/* supervised warm-up on expert trajectories: the cross-entropy falls, greedy decoding writes
 * more of the experts' decisions, and the trained checkpoint plays better than the untrained
 * network (and through `eval --agent policy`) */
TG_TEST(train, warmup_lowers_the_loss_and_beats_untrained) {
    struct server *srv = test_server_start(NULL);
    char tasks[64], ckpt[] = "/tmp/tg_train_test_XXXXXX";
    struct train_config c;
    struct train_eval_result before, after;
    struct train_result res;
    struct tg_error e;
    int fd = mkstemp(ckpt), W;
    double first = 0, last = 0, hit0 = 0, hit1 = 0;
    const char *url;

    CU_ASSERT_FATAL(srv != NULL && fd >= 0);
    close(fd);
    test_task_file_head(tasks, sizeof(tasks), 48);
    c = test_config(tasks);
    c.warmup_epochs = 16; /* 12 before the decisions followed every order the plan allows
                             (more decisions per task for the same tasks) */
    c.warmup_lr = 3e-3;
    c.sched.kind = SCHED_CONSTANT; /* the loss falls on its own, not by a schedule's luck */
    c.updates = 0;
    url = test_server_url(srv);
    CU_ASSERT_EQUAL_FATAL(train_eval(&c, url, NULL, "train", 48, "untrained", &before, NULL, &e),
                          0);
    if (run(&c, url, ckpt, NULL, &res, &e) != 0)
        fprintf(stderr, "\n  train: %s\n", e.message);
    CU_ASSERT_FATAL(res.curve != NULL);
    W = res.warmup_steps;
    CU_ASSERT(res.demos > 0);
    CU_ASSERT_EQUAL(W, res.updates_done);
    CU_ASSERT_FATAL(W >= 20);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(res.curve[i].phase, 0);
        first += res.curve[i].loss / 5;
        last += res.curve[W - 1 - i].loss / 5;
        hit0 += res.curve[i].hit / 5;
        hit1 += res.curve[W - 1 - i].hit / 5;
    }
    fprintf(stderr, "  warm-up loss %.3f -> %.3f, hit %.2f -> %.2f (%d steps, %d decisions)\n",
            first, last, hit0, hit1, W, res.demos);
    CU_ASSERT(last < 0.5 * first);
    CU_ASSERT(hit1 > hit0 + 0.15);
    /* greedy play of the tasks it was shown: better than the untrained network */
    CU_ASSERT_EQUAL_FATAL(train_eval(&c, url, ckpt, "train", 48, "trained", &after, NULL, &e), 0);
    fprintf(stderr, "  train-task accuracy: untrained %.3f, warmed up %.3f\n", before.accuracy,
            after.accuracy);
    CU_ASSERT(after.accuracy >= before.accuracy + 0.2);

    /* the checkpoint plays through `toolgym eval --agent policy` too */
    {
        struct eval_options o;
        struct eval_agent a;
        json_t *report = NULL;

        memset(&o, 0, sizeof(o));
        o.server = url;
        o.split = "test";
        o.agent = "policy";
        o.checkpoint = ckpt;
        o.episodes = 10;
        o.quiet = 1;
        CU_ASSERT_EQUAL_FATAL(policy_agent_new(&o, &a, &e), 0);
        CU_ASSERT_EQUAL(eval_run(&o, &a, &report, NULL, &e), 0);
        CU_ASSERT(json_integer_value(json_object_get(report, "episodes")) == 10);
        if (a.destroy)
            a.destroy(&a);
        json_decref(report);
    }
    train_result_free(&res);
    unlink(ckpt);
    unlink(tasks);
    test_server_stop(srv);
}

/* the same seed, tasks and server: byte-identical checkpoints and logs, whatever the
 * network's timing (warm-up and RL with anchored branching, two gradient threads); another
 * seed gives another checkpoint */
TG_TEST(train, same_seed_gives_identical_checkpoint_and_log) {
    struct server *srv = test_server_start(NULL);
    char tasks[64], ck[3][32], lg[3][32];
    struct train_config c;
    struct tg_error e;
    char *cb[3], *lb[3];
    size_t cn[3], ln[3];

    CU_ASSERT_FATAL(srv != NULL);
    test_task_file_head(tasks, sizeof(tasks), 32);
    for (int k = 0; k < 3; k++) {
        FILE *log;
        int fd;

        snprintf(ck[k], sizeof(ck[k]), "/tmp/tg_det_ck_XXXXXX");
        snprintf(lg[k], sizeof(lg[k]), "/tmp/tg_det_lg_XXXXXX");
        fd = mkstemp(ck[k]);
        CU_ASSERT_FATAL(fd >= 0);
        close(fd);
        fd = mkstemp(lg[k]);
        CU_ASSERT_FATAL(fd >= 0);
        log = fdopen(fd, "w");
        c = test_config(tasks);
        c.eval_every = 2; /* greedy evaluations are in the log too */
        c.threads = 2;
        if (k == 2)
            c.seed = 8;
        if (run(&c, test_server_url(srv), ck[k], log, NULL, &e) != 0)
            fprintf(stderr, "\n  train: %s\n", e.message);
        fclose(log);
        cb[k] = read_all(ck[k], &cn[k]);
        lb[k] = read_all(lg[k], &ln[k]);
        CU_ASSERT_FATAL(cb[k] != NULL && lb[k] != NULL);
    }
    CU_ASSERT(cn[0] > 1000);
    CU_ASSERT_PTR_NOT_NULL(strstr(lb[0], "warmup"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lb[0], "update"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lb[0], "eval acc"));
    CU_ASSERT_EQUAL(cn[0], cn[1]);
    CU_ASSERT(cn[0] == cn[1] && memcmp(cb[0], cb[1], cn[0]) == 0);
    CU_ASSERT_EQUAL(ln[0], ln[1]);
    CU_ASSERT(ln[0] == ln[1] && memcmp(lb[0], lb[1], ln[0]) == 0);
    if (ln[0] != ln[1] || memcmp(lb[0], lb[1], ln[0]) != 0)
        fprintf(stderr, "\n--- run 1\n%s--- run 2\n%s", lb[0], lb[1]);
    CU_ASSERT(cn[0] != cn[2] || memcmp(cb[0], cb[2], cn[0]) != 0);
    for (int k = 0; k < 3; k++) {
        free(cb[k]);
        free(lb[k]);
        unlink(ck[k]);
        unlink(lg[k]);
    }
    unlink(tasks);
    test_server_stop(srv);
}

/* a warm-up-only run, then --resume for the RL updates: the same checkpoint as one whole run,
 * and the resumed run's RL settings are its own (the warm-up's run never stepped them) */
TG_TEST(train, resuming_a_warmup_is_the_whole_run_and_takes_its_rl_settings) {
    struct server *srv = test_server_start(NULL);
    char tasks[64], whole[] = "/tmp/tg_res_a_XXXXXX", warm[] = "/tmp/tg_res_w_XXXXXX",
                    rl[] = "/tmp/tg_res_b_XXXXXX", lg[] = "/tmp/tg_res_l_XXXXXX";
    struct train_config c;
    struct train_io io;
    struct tg_error e;
    char *ca, *cb, *lb;
    size_t na, nb, nl;
    FILE *log;

    CU_ASSERT_FATAL(srv != NULL);
    close(mkstemp(whole));
    close(mkstemp(warm));
    close(mkstemp(rl));
    log = fdopen(mkstemp(lg), "w");
    CU_ASSERT_FATAL(log != NULL);
    test_task_file_head(tasks, sizeof(tasks), 32);
    c = test_config(tasks);
    CU_ASSERT_FATAL(run(&c, test_server_url(srv), whole, NULL, NULL, &e) == 0);
    c.updates = 0;
    CU_ASSERT_FATAL(run(&c, test_server_url(srv), warm, NULL, NULL, &e) == 0);
    c = test_config(tasks);
    memset(&io, 0, sizeof(io));
    io.servers = test_server_url(srv);
    io.resume = warm;
    io.save = rl;
    if (train_run(&c, &io, NULL, &e) != 0)
        fprintf(stderr, "\n  resume: %s\n", e.message);
    ca = read_all(whole, &na);
    cb = read_all(rl, &nb);
    CU_ASSERT_FATAL(ca && cb);
    CU_ASSERT(na == nb && memcmp(ca, cb, na) == 0);
    /* another lr for the RL phase: the resumed run uses it from its first update */
    c = test_config(tasks);
    c.lr = 1.25e-4;
    c.sched.kind = SCHED_CONSTANT;
    io.log = log;
    CU_ASSERT(train_run(&c, &io, NULL, &e) == 0);
    fclose(log);
    lb = read_all(lg, &nl);
    CU_ASSERT_FATAL(lb != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(lb, "update   1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lb, "lr 1.25e-04"));
    CU_ASSERT_PTR_NULL(strstr(lb, "lr 1.00e-04")); /* the default */
    free(ca);
    free(cb);
    free(lb);
    unlink(whole);
    unlink(warm);
    unlink(rl);
    unlink(lg);
    unlink(tasks);
    test_server_stop(srv);
}

/* the parameters of checkpoint path (np out), or NULL */
static float *ckpt_params(const char *path, size_t *np) {
    struct policy pol;
    struct tg_error e;
    float *p = NULL;

    if (ckpt_load(path, &pol, NULL, NULL, NULL, NULL, &e) != 0) {
        fprintf(stderr, "\n  %s: %s\n", path, e.message);
        return NULL;
    }
    *np = pol.net.num_params;
    p = malloc(sizeof(float) * *np);
    if (p)
        memcpy(p, pol.net.params, sizeof(float) * *np);
    policy_free(&pol);
    return p;
}

/* warmup_average: a warm-up of W steps whose last two are averaged ends with the mean of the
 * weights after steps W - 1 and W (each a warm-up of its own length, without averaging); a
 * fraction of 1/W averages only the last step and changes nothing, byte for byte */
TG_TEST(train, warmup_average_is_the_mean_of_the_last_steps_weights) {
    struct server *srv = test_server_start(NULL);
    char tasks[64], a[] = "/tmp/tg_avg_a_XXXXXX", b[] = "/tmp/tg_avg_b_XXXXXX",
                    m[] = "/tmp/tg_avg_m_XXXXXX", one[] = "/tmp/tg_avg_1_XXXXXX";
    struct train_config c;
    struct train_result res;
    struct tg_error e;
    float *pa, *pb, *pm;
    size_t na = 0, nb = 0, nm = 0, n1 = 0;
    char *cb, *c1;
    int W, differ_a = 0, differ_b = 0, off = 0;

    CU_ASSERT_FATAL(srv != NULL);
    close(mkstemp(a));
    close(mkstemp(b));
    close(mkstemp(m));
    close(mkstemp(one));
    test_task_file_head(tasks, sizeof(tasks), 32);
    c = test_config(tasks);
    c.updates = 0;
    c.sched.kind = SCHED_CONSTANT; /* a run of W - 1 steps takes the first W - 1 of W */
    c.warmup_average = 0;
    CU_ASSERT_FATAL(run(&c, test_server_url(srv), b, NULL, &res, &e) == 0);
    W = res.warmup_steps;
    CU_ASSERT_FATAL(W >= 4 && res.demos > 0);
    c.warmup_epochs = ((double)(W - 1) * c.warmup_batch - 0.5) / res.demos;
    train_result_free(&res);
    CU_ASSERT_FATAL(run(&c, test_server_url(srv), a, NULL, NULL, &e) == 0);
    c = test_config(tasks);
    c.updates = 0;
    c.sched.kind = SCHED_CONSTANT;
    c.warmup_average = 1.5 / W; /* the last 2 steps */
    CU_ASSERT_FATAL(run(&c, test_server_url(srv), m, NULL, NULL, &e) == 0);
    c.warmup_average = 0.5 / W; /* the last step */
    CU_ASSERT_FATAL(run(&c, test_server_url(srv), one, NULL, NULL, &e) == 0);
    pa = ckpt_params(a, &na);
    pb = ckpt_params(b, &nb);
    pm = ckpt_params(m, &nm);
    CU_ASSERT_FATAL(pa && pb && pm && na == nb && nb == nm);
    for (size_t i = 0; i < na; i++) {
        float want = pa[i] + 0.5f * (pb[i] - pa[i]);

        differ_a += pm[i] != pa[i];
        differ_b += pm[i] != pb[i];
        off += fabsf(pm[i] - want) > 1e-6f * fmaxf(1.0f, fabsf(want));
    }
    CU_ASSERT(differ_a > 0 && differ_b > 0); /* the two steps moved the weights */
    CU_ASSERT_EQUAL(off, 0);
    cb = read_all(b, &nb);
    c1 = read_all(one, &n1);
    CU_ASSERT_FATAL(cb && c1);
    CU_ASSERT(nb == n1 && memcmp(cb, c1, nb) == 0);
    free(pa);
    free(pb);
    free(pm);
    free(cb);
    free(c1);
    unlink(a);
    unlink(b);
    unlink(m);
    unlink(one);
    unlink(tasks);
    test_server_stop(srv);
}

/* a server that lets one client run one program at a time answers the rest 429, and one
 * with a queue of two and no per-client cap answers 503 past it: the trainer waits both out
 * (the warm-up asks for every expert program's output at once) */
TG_TEST(train, busy_refusals_are_waited_out) {
    char path[] = "/tmp/tg_train_algo_XXXXXX";
    int fd = mkstemp(path), n = 0;
    FILE *in = fopen("data/tasks/train.jsonl", "r"), *out;
    char line[8192];

    CU_ASSERT_FATAL(fd >= 0 && in != NULL);
    out = fdopen(fd, "w");
    while (n < 32 && fgets(line, sizeof(line), in))
        if (strstr(line, "\"family\":\"algo\"") && strstr(line, "run_code")) {
            fputs(line, out);
            n++;
        }
    fclose(in);
    fclose(out);
    CU_ASSERT_FATAL(n == 32);
    for (int cap = 0; cap < 2; cap++) {
        struct server_config sc;
        struct server *srv;
        struct train_config c;
        struct train_result res;
        struct tg_error e;

        server_config_defaults(&sc);
        sc.run_workers = 1;
        sc.run_queue = 2;
        sc.client_runs = cap == 0 ? 1 : 3; /* 1: 429 past one run; 3: no cap, 503 past 3 */
        sc.code_cache = 0;
        sc.log_level = "error"; /* the refusals are the point, not news */
        srv = test_server_start(&sc);
        CU_ASSERT_FATAL(srv != NULL);
        c = test_config(path);
        c.warmup_epochs = 1;
        c.updates = 1;
        c.anchors = ANCHORS_OFF;
        c.eval_tasks = 4;
        c.heldout_tasks = 0;
        if (run(&c, test_server_url(srv), NULL, NULL, &res, &e) != 0)
            fprintf(stderr, "\n  train (client_runs %d): %s\n", sc.client_runs, e.message);
        CU_ASSERT_EQUAL(res.updates_done, res.warmup_steps + 1);
        CU_ASSERT(res.demos >= 32);
        train_result_free(&res);
        test_server_stop(srv);
    }
    unlink(path);
}

/* the warm-up needs expert trajectories: a task file without them is an error naming it */
TG_TEST(train, task_file_without_expert_calls_is_refused) {
    char path[] = "/tmp/tg_train_noexp_XXXXXX";
    int fd = mkstemp(path);
    FILE *in = fopen("data/tasks/train.jsonl", "r"), *out;
    struct train_config c;
    struct tg_error e;
    char line[8192];
    int rc;

    CU_ASSERT_FATAL(fd >= 0 && in != NULL);
    out = fdopen(fd, "w");
    for (int i = 0; i < 5 && fgets(line, sizeof(line), in); i++) {
        json_t *t = json_loads(line, 0, NULL);

        CU_ASSERT_FATAL(t != NULL);
        json_object_del(t, "expert");
        json_dumpf(t, out, JSON_COMPACT);
        fputc('\n', out);
        json_decref(t);
    }
    fclose(in);
    fclose(out);
    c = test_config(path);
    /* the file is read before any request, so no server is needed */
    rc = run(&c, "http://127.0.0.1:9", NULL, NULL, NULL, &e);
    CU_ASSERT(rc < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "expert"));
    c.warmup_epochs = 0;
    c.anchors = ANCHORS_OFF;
    CU_ASSERT(run(&c, "http://127.0.0.1:9", NULL, NULL, NULL, &e) < 0);
    unlink(path);
    snprintf(c.tasks_file, sizeof(c.tasks_file), "/nonexistent/train.jsonl");
    c.warmup_epochs = 1;
    CU_ASSERT(run(&c, "http://127.0.0.1:9", NULL, NULL, NULL, &e) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "/nonexistent/train.jsonl"));
}

TG_TEST(train, config_errors_name_the_setting) {
    struct train_config c = train_config_default();
    struct tg_error e;
    char path[] = "/tmp/tg_train_cfg_XXXXXX";
    int fd = mkstemp(path);
    FILE *f;

    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_EQUAL(train_config_check(&c, &e), 0);
    c.group = 1;
    CU_ASSERT_EQUAL(train_config_check(&c, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "group") != NULL);

    c = train_config_default();
    f = fopen(path, "w");
    fputs("{\"lr\": 5.0}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "lr") != NULL);

    c = train_config_default();
    f = fopen(path, "w");
    fputs("{\"learning_rate\": 0.1}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "learning_rate") != NULL);

    c = train_config_default();
    f = fopen(path, "w");
    fputs("{\"greedy\": {\"factor\": 1.5}}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "factor") != NULL || strstr(e.message, "F") != NULL);

    c = train_config_default();
    f = fopen(path, "w");
    fputs("{\"updates\": 12, \"anchors\": \"warmup\", \"reward_mode\": \"otc\", "
          "\"lr_schedule\": \"cosine\", \"greedy\": {\"patience\": 3}}",
          f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), 0);
    CU_ASSERT_EQUAL(c.updates, 12);
    CU_ASSERT_EQUAL(c.anchors, ANCHORS_WARMUP);
    CU_ASSERT_STRING_EQUAL(c.reward_mode, "otc");
    CU_ASSERT_EQUAL(c.sched.kind, SCHED_COSINE);
    CU_ASSERT_EQUAL(c.sched.greedy.patience, 3);

    f = fopen(path, "w");
    fputs("{\"reward_mode\": \"bonus\"}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "reward_mode") != NULL);
    c = train_config_default();
    CU_ASSERT_STRING_EQUAL(c.lexicon, "wordnet");
    f = fopen(path, "w");
    fputs("{\"lexicon\": \"thesaurus\"}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "lexicon 'thesaurus' is not wordnet or none") != NULL);
    f = fopen(path, "w");
    fputs("{\"lexicon\": \"none\"}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), 0);
    CU_ASSERT_STRING_EQUAL(c.lexicon, "none");
    f = fopen(path, "w");
    fputs("{\"piece_dropout\": 0.95}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "piece_dropout") != NULL);
    f = fopen(path, "w");
    fputs("{\"piece_dropout\": 0}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), 0);
    CU_ASSERT_EQUAL(c.piece_dropout, 0.0);
    f = fopen(path, "w");
    fputs("{\"updates\": ", f);
    fclose(f);
    CU_ASSERT_NOT_EQUAL(train_config_load_json(&c, path, &e), 0);
    unlink(path);
}

/* every kind of config field is read by the table and a wrong value names its key */
TG_TEST(train, config_fields_of_every_kind) {
    static const struct {
        const char *json;
        const char *want; /* in the message; NULL: accepted */
    } cases[] = {
        {"{\"greedy\": {\"factr\": 0.5}}", "greedy.factr"},
        {"{\"d_model\": 1.5}", "'d_model' must be an integer"},
        {"{\"hidden1\": 32}", "hidden1"},
        {"{\"d_model\": 30, \"heads\": 4}", "multiple of heads"},
        {"{\"layers\": 9}", "layers"},
        {"{\"warmup_epochs\": -1}", "warmup_epochs"},
        {"{\"warmup_epochs\": 0, \"updates\": 0}", "would not train"},
        {"{\"lr\": \"fast\"}", "'lr' must be a number"},
        {"{\"reward_mode\": 5}", "'reward_mode' must be a string"},
        {"{\"seed\": -1}", "'seed' must be a non-negative integer"},
        {"{\"greedy\": 3}", "'greedy' must be an object"},
        {"{\"greedy\": {\"threshold_mode\": \"big\"}}", "big"},
        {"{\"anchors\": \"sometimes\"}", "sometimes"},
        {"[1, 2]", "JSON object"},
        {"{\"greedy\": {\"window\": 5}}", "'greedy.window' (now 'smooth' (true) and 'window_size'"},
        {"{\"greedy\": {\"lr_max\": 0.1}}", "now 'max_lr'"},
        {"{\"greedy\": {\"smooth\": 1}}", "'smooth' must be true or false"},
        {"{\"greedy\": {\"preset\": \"paper\"}}", "unknown GreedyLR preset 'paper'"},
        {"{\"greedy\": {\"mode\": \"min\", \"signal\": \"reward\"}}", "greedy: GreedyLR mode min"},
        {"{\"greedy\": {\"mode\": \"sideways\"}}", "unknown mode 'sideways'"},
        {"{\"lr\": 0.01, \"lr_min\": 0.02}", "lr_min = 0.02 is out of range"},
        {"{\"greedy\": {\"window_size\": 0}}", "greedy: window_size is 0"},
        {"{\"seed\": 42, \"d_model\": 32, \"lr\": 0.01, \"weight_decay\": 0.01, \"tasks_file\": "
         "\"x.jsonl\", "
         "\"greedy\": {\"preset\": \"reference\", \"smooth\": true, \"window_size\": 5, "
         "\"max_lr\": 0.05, \"signal\": \"reward\", \"threshold_signed\": true}}",
         NULL},
    };
    char path[] = "/tmp/tg_train_cfg_XXXXXX";
    int fd = mkstemp(path);

    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        struct train_config c = train_config_default();
        struct tg_error e = {{0}, {0}};
        FILE *f = fopen(path, "w");
        int rc;

        CU_ASSERT_FATAL(f != NULL);
        fputs(cases[i].json, f);
        fclose(f);
        rc = train_config_load_json(&c, path, &e);
        if (!cases[i].want) {
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_EQUAL(c.seed, 42);
            CU_ASSERT_EQUAL(c.d_model, 32);
            CU_ASSERT_DOUBLE_EQUAL(c.weight_decay, 0.01, 1e-12);
            CU_ASSERT_STRING_EQUAL(c.tasks_file, "x.jsonl");
            /* the preset's settings, with the file's on top; the mode follows the signal */
            CU_ASSERT_EQUAL(c.sched.greedy.smooth, 1);
            CU_ASSERT_EQUAL(c.sched.greedy.window_size, 5);
            CU_ASSERT_DOUBLE_EQUAL(c.sched.greedy.max_lr, 0.05, 1e-12);
            CU_ASSERT_EQUAL(c.sched.greedy.threshold_signed, 1);
            CU_ASSERT_EQUAL(c.sched.greedy.patience, 10);
            CU_ASSERT_EQUAL(c.sched.greedy.reset_start, 500);
            CU_ASSERT_EQUAL(c.sched.signal, SCHED_SIGNAL_REWARD);
            CU_ASSERT_EQUAL(c.sched.greedy.mode, SCHED_MODE_MAX);
            /* the preset's min_lr (1e-3), not the trainer's lr_min (1e-4) */
            CU_ASSERT_DOUBLE_EQUAL(train_config_sched(&c).greedy.min_lr, 1e-3, 1e-15);
            continue;
        }
        CU_ASSERT_EQUAL(rc, TG_EINVAL);
        if (!strstr(e.message, cases[i].want))
            fprintf(stderr, "config %s: got '%s', want '%s'\n", cases[i].json, e.message,
                    cases[i].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.message, cases[i].want));
    }
    unlink(path);
}

TG_TEST(train, unreachable_server_fails_clearly) {
    char tasks[64];
    struct train_config c;
    struct tg_error e;
    double t0 = tg_now_ms();
    int rc;

    test_task_file_head(tasks, sizeof(tasks), 8);
    c = test_config(tasks);
    c.updates = 1;
    /* port 9 (discard) on loopback: nothing listens there */
    rc = run(&c, "http://127.0.0.1:9", NULL, NULL, NULL, &e);
    CU_ASSERT(rc < 0);
    CU_ASSERT(strstr(e.message, "unreachable") != NULL);
    CU_ASSERT(strstr(e.message, "127.0.0.1:9") != NULL);
    CU_ASSERT(tg_now_ms() - t0 < 20000);
    rc = run(&c, "ftp://x", NULL, NULL, NULL, &e);
    CU_ASSERT_EQUAL(rc, TG_EINVAL);
    unlink(tasks);
}

/* a server that answers every request with the same canned body */
static const char *canned_body;
static unsigned canned_status;

static enum MHD_Result canned(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
    struct MHD_Response *r;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (*state == NULL) {
        *state = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    r = MHD_create_response_from_buffer(strlen(canned_body), (void *)canned_body,
                                        MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(conn, canned_status, r);
    MHD_destroy_response(r);
    return ret;
}

static void run_canned(const char *body, unsigned status, const char *want) {
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    char tasks[64];
    struct train_config c;
    struct tg_error e;
    char url[64];
    int rc;

    canned_body = body;
    canned_status = status;
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, canned, NULL,
                         MHD_OPTION_END);
    CU_ASSERT_FATAL(d != NULL);
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)info->port);
    test_task_file_head(tasks, sizeof(tasks), 8);
    c = test_config(tasks);
    c.updates = 1;
    c.anchors = ANCHORS_OFF;
    rc = run(&c, url, NULL, NULL, NULL, &e);
    CU_ASSERT(rc < 0);
    if (!strstr(e.message, want))
        fprintf(stderr, "unexpected message: %s\n", e.message);
    CU_ASSERT(strstr(e.message, want) != NULL);
    MHD_stop_daemon(d);
    unlink(tasks);
}

TG_TEST(train, malformed_responses_fail_clearly) {
    run_canned("this is not json", 200, "not a JSON object");
    run_canned("{\"tasks\":[{\"id\":\"t1\"}],\"total\":1}", 200,
               "create episode returned HTTP 200");
    run_canned("{\"error\":{\"code\":\"internal\",\"message\":\"boom\"}}", 500, "HTTP 500");
}

TG_TEST(train, bad_checkpoints_fail_clearly) {
    struct train_config c = test_config(NULL);
    struct train_eval_result r;
    struct tg_error e;
    char path[] = "/tmp/tg_train_ck_XXXXXX";
    int fd = mkstemp(path);
    FILE *f;

    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    /* a checkpoint of the old candidate-scoring policy (version 2): refused as such */
    {
        static const unsigned char old[] = {'T', 'G', 'C', 'K', 2, 0, 0, 0, 4, 0, 0, 0,
                                            0,   0,   0,   0,   1, 2, 3, 4, 0, 0, 0, 0};

        f = fopen(path, "wb");
        CU_ASSERT_FATAL(f != NULL);
        fwrite(old, 1, sizeof(old), f);
        fclose(f);
    }
    /* the checkpoint is read before any request, so no server is needed */
    CU_ASSERT(train_eval(&c, "http://127.0.0.1:9", path, "test", 1, "x", &r, NULL, &e) < 0);
    CU_ASSERT_STRING_EQUAL(e.code, "bad_version");
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "version"));
    f = fopen(path, "w");
    fputs("TGCK\x03\x00\x00\x00trunc", f);
    fclose(f);
    CU_ASSERT(train_eval(&c, "http://127.0.0.1:9", path, "test", 1, "x", &r, NULL, &e) < 0);
    CU_ASSERT_STRING_EQUAL(e.code, "truncated");
    f = fopen(path, "w");
    fputs("NOPE", f);
    fclose(f);
    CU_ASSERT(train_eval(&c, "http://127.0.0.1:9", path, "test", 1, "x", &r, NULL, &e) < 0);
    CU_ASSERT(strstr(e.code, "bad_magic") != NULL || strstr(e.code, "truncated") != NULL);
    unlink(path);
}

/* A policy that answers at once (after any prefix): "Answer: 0". */
static int answer_zero(void *ctx, struct rollout_ep *ep, const struct view *v, int observe,
                       json_t **body, struct tg_error *err) {
    (void)ctx;
    (void)ep;
    (void)v;
    (void)err;
    if (!observe)
        *body = json_pack("{s:s}", "answer", "Answer: 0");
    return 0;
}

/* Issue 15: a fork holds its prefix's calls, so OTC (computed by the trainer from `calls`)
 * scores a fork as it scores a fresh rollout making the same calls. */
TG_TEST(train, a_fork_counts_its_prefix_calls) {
    struct server *srv = test_server_start(NULL);
    struct rollout_config rc = rollout_config_default();
    struct rollout *r;
    struct rollout_ep parent, fork, fresh;
    struct tg_error err;
    json_t *prefix =
        json_pack("[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]", "name", "calculator",
                  "arguments", "expression", "1+1", "name", "calculator", "arguments", "expression",
                  "2*3", "name", "calculator", "arguments", "expression", "7-4");

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    rc.servers = test_server_url(srv);
    r = rollout_new(&rc, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    memset(&parent, 0, sizeof(parent));
    snprintf(parent.task_id, sizeof(parent.task_id), "train-00003");
    parent.server = 0;
    parent.prefix = prefix;
    parent.stop_after_prefix = 1;
    fresh = parent;
    fresh.stop_after_prefix = 0;
    CU_ASSERT_EQUAL_FATAL(rollout_run(r, &parent, 1, answer_zero, NULL, &err), 0);
    CU_ASSERT_EQUAL(parent.calls, 3);

    memset(&fork, 0, sizeof(fork));
    snprintf(fork.task_id, sizeof(fork.task_id), "train-00003");
    fork.server = 0;
    snprintf(fork.fork_from, sizeof(fork.fork_from), "%s", parent.episode_id);
    fork.fork_at = 3;
    fork.fork_state = parent.st;
    CU_ASSERT_EQUAL(rollout_run(r, &fork, 1, answer_zero, NULL, &err), 0);
    CU_ASSERT_EQUAL(rollout_run(r, &fresh, 1, answer_zero, NULL, &err), 0);
    CU_ASSERT(fork.done && fresh.done);
    CU_ASSERT_EQUAL(fresh.calls, 3);
    CU_ASSERT_EQUAL(fork.calls, fresh.calls);
    CU_ASSERT_DOUBLE_EQUAL(fork.ret, fresh.ret, 1e-12); /* the server agrees */

    rollout_ep_clear(&fork);
    rollout_ep_clear(&fresh);
    rollout_ep_clear(&parent);
    rollout_free(r);
    json_decref(prefix);
    test_server_stop(srv);
}

TG_TEST(train, several_servers_round_robin) {
    struct server *a = test_server_start(NULL), *b = test_server_start(NULL);
    struct train_config c;
    struct tg_error e;
    char urls[160], tasks[64];
    struct http_resp ra, rb;
    int rc;

    CU_ASSERT_FATAL(a && b);
    snprintf(urls, sizeof(urls), "%s,%s", test_server_url(a), test_server_url(b));
    test_task_file_head(tasks, sizeof(tasks), 8);
    c = test_config(tasks);
    c.warmup_epochs = 0.5;
    c.updates = 1;
    rc = run(&c, urls, NULL, NULL, NULL, &e);
    if (rc)
        fprintf(stderr, "\n  train: %s\n", e.message);
    CU_ASSERT_EQUAL(rc, 0);
    unlink(tasks);
    /* both servers played episodes of the run */
    {
        char u[128];

        snprintf(u, sizeof(u), "%s/v1/report?split=train&tag=train", test_server_url(a));
        CU_ASSERT_EQUAL_FATAL(test_http("GET", u, NULL, 0, NULL, NULL, &ra), 0);
        snprintf(u, sizeof(u), "%s/v1/report?split=train&tag=train", test_server_url(b));
        CU_ASSERT_EQUAL_FATAL(test_http("GET", u, NULL, 0, NULL, NULL, &rb), 0);
        {
            /* first attempts at the top (forks and retries are reported apart) */
            json_t *ja = json_loads(ra.body, 0, NULL), *jb = json_loads(rb.body, 0, NULL);

            CU_ASSERT(json_integer_value(json_object_get(ja, "episodes")) > 0);
            CU_ASSERT(json_integer_value(json_object_get(jb, "episodes")) > 0);
            json_decref(ja);
            json_decref(jb);
        }
        http_resp_free(&ra);
        http_resp_free(&rb);
    }
    test_server_stop(a);
    test_server_stop(b);
}

/* the one spelling of I/O and config errors (base/tg.h), from the trainer's files */
TG_TEST(train, io_and_config_errors_have_one_spelling) {
    struct train_config c = train_config_default();
    struct train_eval_result r;
    struct tg_error e;
    char path[] = "/tmp/tg_train_code_XXXXXX";
    int fd = mkstemp(path);
    FILE *f;

    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_EQUAL(train_config_load_json(&c, "/nonexistent.json", &e), TG_EIO);
    CU_ASSERT_STRING_EQUAL(e.code, TG_CODE_IO);
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("{\"group\": 1}", f);
    fclose(f);
    CU_ASSERT_EQUAL(train_config_load_json(&c, path, &e), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.code, TG_CODE_CONFIG);
    c = train_config_default();
    CU_ASSERT(train_eval(&c, "http://127.0.0.1:9", "/nonexistent.ckpt", "test", 1, "x", &r, NULL,
                         &e) < 0);
    CU_ASSERT_STRING_EQUAL(e.code, TG_CODE_IO);
    unlink(path);
}
