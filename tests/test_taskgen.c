/*
 * test_taskgen.c — suite `taskgen`: the task generator over the shipped grammar and corpus
 * (determinism, agreement with the shipped files, the splits' entities, frames, held-out
 * productions and tags, sizes and families), grammar errors reported through the generator
 * (naming the file and production), frames and task-file statistics.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/task.h"
#include "server/taskgen.h"
#include "tools/corpus.h"
#include "tools/tools.h"
#include "tg_test.h"

static const char *const split_files[TASKGEN_SPLITS] = {
    "data/tasks/train.jsonl", "data/tasks/test.jsonl", "data/tasks/ood.jsonl"};

static int tools_ready(void) {
    struct tools_config tc;
    struct tg_error err;

    memset(&tc, 0, sizeof(tc));
    tc.quiet = 1;
    return tools_init(&tc, &err) == 0;
}

static char *dump_all(const json_t *arr) {
    return json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
}

static void free_splits(json_t *out[TASKGEN_SPLITS]) {
    for (int s = 0; s < TASKGEN_SPLITS; s++)
        json_decref(out[s]);
}

TG_TEST(taskgen, generator_is_deterministic) {
    struct taskgen_config cfg = {7, NULL, NULL, {60, 20, 20}};
    json_t *a[TASKGEN_SPLITS], *b[TASKGEN_SPLITS], *c[TASKGEN_SPLITS];
    struct taskgen_stats st;
    struct tg_error err;

    CU_ASSERT_FATAL(tools_ready());
    CU_ASSERT_EQUAL_FATAL(taskgen_generate(&cfg, a, &st, &err), 0);
    CU_ASSERT_EQUAL_FATAL(taskgen_generate(&cfg, b, NULL, &err), 0);
    cfg.seed = 8;
    CU_ASSERT_EQUAL_FATAL(taskgen_generate(&cfg, c, NULL, &err), 0);
    CU_ASSERT(st.checks > 1000); /* every operation under every binding it can draw */
    /* Since issue 16 the judge credits a search by what it showed: when a multi_lookup's first
     * search already shows the second fact (the corpus's documents mention one another), the
     * expert's second search brings nothing and is redundant, so verification rejects that
     * candidate and the next attempt replaces it. That is rare; anything more is a bug. */
    fprintf(stderr, "  verification rejected %zu of %zu checks\n",
            (size_t)st.reasons[TASKGEN_REJ_VERIFY], (size_t)st.checks);
    CU_ASSERT(st.reasons[TASKGEN_REJ_VERIFY] * 50 <= (size_t)cfg.n[0] + cfg.n[1] + cfg.n[2]);
    for (int s = 0; s < TASKGEN_SPLITS; s++) {
        char *x = dump_all(a[s]), *y = dump_all(b[s]), *z = dump_all(c[s]);

        CU_ASSERT_EQUAL(json_array_size(a[s]), cfg.n[s]);
        CU_ASSERT_STRING_EQUAL(x, y);
        CU_ASSERT(strcmp(x, z) != 0);
        free(x);
        free(y);
        free(z);
    }
    free_splits(a);
    free_splits(b);
    free_splits(c);
}

/* Line by line from f (new, without the newline); NULL at the end. */
static char *file_line(FILE *f) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);

    if (n <= 0) {
        free(line);
        return NULL;
    }
    if (line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

/* Slot i of a split depends only on (seed, split, i): a short run reproduces the beginning of
 * the shipped seed-1 files byte for byte. */
TG_TEST(taskgen, shipped_files_match_the_generator) {
    struct taskgen_config cfg = {1, NULL, NULL, {120, 40, 40}};
    json_t *arr[TASKGEN_SPLITS];
    struct tg_error err;

    CU_ASSERT_FATAL(tools_ready());
    CU_ASSERT_EQUAL_FATAL(taskgen_generate(&cfg, arr, NULL, &err), 0);
    for (int s = 0; s < TASKGEN_SPLITS; s++) {
        FILE *f = fopen(split_files[s], "r");
        size_t i;
        json_t *t;

        CU_ASSERT_FATAL(f != NULL);
        json_array_foreach(arr[s], i, t) {
            char *want =
                json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
            char *got = file_line(f);

            CU_ASSERT_FATAL(got != NULL);
            CU_ASSERT_STRING_EQUAL(got, want);
            free(want);
            free(got);
        }
        fclose(f);
    }
    free_splits(arr);
}

/* A frame made coarser still: every capitalised word becomes {W}, so names of people, places
 * and weekdays do not count as new frames. */
static void strict_frame(const char *frame, char *out, size_t n) {
    size_t o = 0;

    for (const char *p = frame; *p && o + 4 < n;) {
        if (isupper((unsigned char)*p) && (p == frame || !isalnum((unsigned char)p[-1])) &&
            !(p > frame && p[-1] == '{')) {
            memcpy(out + o, "{W}", 3);
            o += 3;
            while (isalnum((unsigned char)*p))
                p++;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}

static int in_list(const json_t *arr, const char *s) {
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v) if (strcmp(json_string_value(v), s) == 0) return 1;
    return 0;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

TG_TEST(taskgen, shipped_splits_entities_frames_and_heldout_productions) {
    struct task_set *ts = task_set_new();
    struct corpus *c = NULL;
    struct tg_error err;
    json_t *held = taskgen_heldout_tags(NULL, &err), *frames[TASKGEN_SPLITS], *strict, *prompts;
    const char **titles;
    size_t fam[TASKGEN_SPLITS][TASK_FAMILY_COUNT];
    char *docs = read_all("docs/tasks.md");
    char *frame = malloc(2 * TG_TASK_PROMPT_MAX), *sf = malloc(2 * TG_TASK_PROMPT_MAX);
    size_t bad_entity = 0, bad_frame = 0, bad_held = 0, bad_tags = 0, repeats = 0;

    CU_ASSERT_FATAL(ts && held && docs && frame && sf);
    memset(fam, 0, sizeof(fam));
    for (int s = 0; s < TASKGEN_SPLITS; s++) {
        CU_ASSERT_EQUAL_FATAL(task_set_load(ts, split_files[s], &err), 0);
        frames[s] = json_object();
    }
    strict = json_object();
    prompts = json_object();
    CU_ASSERT(task_set_split_count(ts, "train") >= 3000);
    CU_ASSERT(task_set_split_count(ts, "test") >= 500);
    CU_ASSERT(task_set_split_count(ts, "ood") >= 500);
    CU_ASSERT_EQUAL_FATAL(corpus_load(CORPUS_DEFAULT_PATH, &c, &err), 0);
    titles = malloc(corpus_count(c) * sizeof(*titles));
    CU_ASSERT_FATAL(titles != NULL);
    for (size_t i = 0; i < corpus_count(c); i++)
        titles[i] = corpus_doc_title(c, i);

    /* every held-out production is listed in docs/tasks.md */
    CU_ASSERT(json_array_size(held) >= 10);
    {
        size_t i;
        const json_t *v;

        json_array_foreach(held, i, v) {
            if (!strstr(docs, json_string_value(v))) {
                fprintf(stderr, "  held-out tag %s is not in docs/tasks.md\n",
                        json_string_value(v));
                CU_FAIL("held-out tag undocumented");
            }
        }
    }
    for (size_t i = 0; i < task_set_count(ts); i++) {
        const struct task *t = task_set_at(ts, i);
        int s = strcmp(t->split, "train") == 0  ? TASKGEN_TRAIN
                : strcmp(t->split, "test") == 0 ? TASKGEN_TEST
                                                : TASKGEN_OOD;
        int heldout = 0;
        char famtag[64];
        char *const *terms = NULL;
        size_t nterms = 0;

        fam[s][t->family]++;
        /* the family tag, and held-out productions in ood tasks only (at least one each) */
        snprintf(famtag, sizeof(famtag), "family:%s", task_family_name(t->family));
        bad_tags += !task_has_tag(t, famtag);
        for (size_t k = 0; k < t->ntags; k++)
            heldout |= in_list(held, t->tags[k]);
        bad_held += heldout != (s == TASKGEN_OOD);
        /* train names train entities; test and ood held-out ones */
        for (size_t k = 0; k < t->nplan; k++)
            if (t->plan[k].hit && taskgen_is_test_entity(1, t->plan[k].hit) != (s != TASKGEN_TRAIN))
                bad_entity++;
        /* prompts are unique across all splits */
        repeats += json_object_get(prompts, t->prompt) != NULL;
        json_object_set_new(prompts, t->prompt, json_true());
        if (t->family == TASK_ABSTAIN && t->nplan && !t->plan[0].hit) {
            terms = t->plan[0].query_terms;
            nterms = t->plan[0].nterms;
        }
        taskgen_frame(t->prompt, titles, corpus_count(c), terms, nterms, frame,
                      2 * TG_TASK_PROMPT_MAX);
        /* keyed by the operation: the generator splits its own frames, where "three times
         * {A}" (op:triple) and "{A} times {B}" (op:mul) differ, though both read "{N} times
         * {N}" here */
        {
            char key[2 * TG_TASK_PROMPT_MAX + 64];
            const char *op = "";

            for (size_t k = 0; k < t->ntags; k++)
                if (strncmp(t->tags[k], "op:", 3) == 0)
                    op = t->tags[k];
            snprintf(key, sizeof(key), "%s\x1f%s", op, frame);
            json_object_set_new(frames[s], key, json_true());
        }
        if (s == TASKGEN_TRAIN) {
            char key[2 * TG_TASK_PROMPT_MAX + 32];

            strict_frame(frame, sf, 2 * TG_TASK_PROMPT_MAX);
            snprintf(key, sizeof(key), "%s\x1f%s", task_family_name(t->family), sf);
            json_object_set_new(strict, key, json_true());
        }
    }
    /* test shows combinations (frames) that train never does */
    {
        const char *k;
        json_t *v;

        json_object_foreach(frames[TASKGEN_TEST], k, v) {
            (void)v;
            bad_frame += json_object_get(frames[TASKGEN_TRAIN], k) != NULL;
        }
    }
    CU_ASSERT_EQUAL(bad_tags, 0);
    CU_ASSERT_EQUAL(bad_held, 0);
    CU_ASSERT_EQUAL(bad_entity, 0);
    CU_ASSERT_EQUAL(bad_frame, 0);
    CU_ASSERT_EQUAL(repeats, 0);
    for (int f = 0; f < TASK_FAMILY_COUNT; f++) {
        size_t nstrict = 0;
        const char *k;
        json_t *v;

        for (int s = 0; s < TASKGEN_SPLITS; s++)
            CU_ASSERT(fam[s][f] > 0);
        /* at least 40 distinct frames per family in train, even with every capitalised word
         * masked */
        json_object_foreach(strict, k, v) {
            (void)v;
            nstrict += strncmp(k, task_family_name((enum task_family)f),
                               strlen(task_family_name((enum task_family)f))) == 0 &&
                       k[strlen(task_family_name((enum task_family)f))] == '\x1f';
        }
        if (nstrict < 40)
            fprintf(stderr, "  %s: %zu strict frames\n", task_family_name((enum task_family)f),
                    nstrict);
        CU_ASSERT(nstrict >= 40);
    }
    for (int s = 0; s < TASKGEN_SPLITS; s++)
        json_decref(frames[s]);
    json_decref(strict);
    json_decref(prompts);
    json_decref(held);
    free(titles);
    free(frame);
    free(sf);
    free(docs);
    corpus_free(c);
    task_set_free(ts);
}

TG_TEST(taskgen, frames_mask_entities_and_numbers) {
    const char *titles[] = {"Varnholt", "Ilsa Marvel", "Mivor"};
    char *terms[] = {"brelvaston"};
    char out[512];

    taskgen_frame("Hi! What is 2 times the population of Varnholt? Page 12, order #48,211.5.",
                  titles, 3, NULL, 0, out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out,
                           "Hi! What is {N} times the population of {E}? Page {N}, order #{N}.");
    taskgen_frame("How tall was Ilsa Marvel? Take forty-two from seven and -3.", titles, 3, NULL, 0,
                  out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "How tall was {E}? Take {N} from {N} and {N}.");
    /* a made-up person (given name + made-up surname) is one entity; Mivorland is no title */
    taskgen_frame("How tall was Ilsa Brelvaston, not Mivorland?", titles, 3, terms, 1, out,
                  sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "How tall was Ilsa {E}, not Mivorland?");
    taskgen_frame("Was Brelvaston founded in 1505 or x-25?", titles, 3, terms, 1, out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "Was {E} founded in {N} or x-{N}?");
}

TG_TEST(taskgen, stats_of_a_task_file) {
    json_t *sum = NULL;
    struct tg_error err;

    CU_ASSERT_EQUAL_FATAL(taskgen_stats_file("data/tasks/test.jsonl", NULL, NULL, &sum, &err), 0);
    CU_ASSERT(json_integer_value(json_object_get(sum, "tasks")) >= 500);
    CU_ASSERT_EQUAL(json_object_size(json_object_get(sum, "families")), TASK_FAMILY_COUNT);
    CU_ASSERT(json_integer_value(json_object_get(json_object_get(sum, "frames"), "lookup")) > 40);
    CU_ASSERT(json_integer_value(json_object_get(json_object_get(sum, "tags"), "family:lookup")) ==
              json_integer_value(json_object_get(json_object_get(sum, "families"), "lookup")));
    json_decref(sum);
    CU_ASSERT_EQUAL(taskgen_stats_file("/nonexistent.jsonl", NULL, NULL, &sum, &err), TG_EIO);
    CU_ASSERT_PTR_NULL(sum);
    CU_ASSERT_EQUAL(taskgen_check_grammar("/nonexistent", NULL, NULL, &err), TG_EIO);
    CU_ASSERT(strstr(err.message, "/nonexistent") != NULL);
}

/* ---- bad grammars through the generator ------------------------------------------------ */

/* Copy data/grammar/NAME.json into dir, after edit (may be NULL) changes it. */
static void copy_grammar(const char *dir, const char *name, void (*edit)(json_t *)) {
    char src[256], dst[512];
    json_error_t je;
    json_t *j;

    snprintf(src, sizeof(src), "data/grammar/%s.json", name);
    snprintf(dst, sizeof(dst), "%s/%s.json", dir, name);
    j = json_load_file(src, 0, &je);
    CU_ASSERT_FATAL(j != NULL);
    if (edit)
        edit(j);
    CU_ASSERT_EQUAL(json_dump_file(j, dst, JSON_INDENT(1) | JSON_PRESERVE_ORDER), 0);
    json_decref(j);
}

static const char *const grammar_files[] = {"arith", "attributes", "common", "lookup"};

/* A grammar directory where file `which` is edited; the check's error must hold want1 and
 * want2. */
static void bad_grammar(const char *which, void (*edit)(json_t *), const char *want1,
                        const char *want2) {
    char dir[128];
    struct tg_error err;
    int rc;

    snprintf(dir, sizeof(dir), "/tmp/tg_badgrammar_%d", (int)getpid());
    mkdir(dir, 0700);
    for (size_t i = 0; i < TG_ARRAY_LEN(grammar_files); i++)
        copy_grammar(dir, grammar_files[i], strcmp(grammar_files[i], which) == 0 ? edit : NULL);
    rc = taskgen_check_grammar(dir, NULL, NULL, &err);
    CU_ASSERT_EQUAL(rc, TG_EINVAL);
    if (rc == 0 || !strstr(err.message, want1) || !strstr(err.message, want2)) {
        fprintf(stderr, "  want \"%s\" and \"%s\" in: %s\n", want1, want2, err.message);
        CU_FAIL("grammar error message");
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(grammar_files); i++) {
        char p[256];

        snprintf(p, sizeof(p), "%s/%s.json", dir, grammar_files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void drop_mul(json_t *j) {
    json_object_del(
        json_object_get(json_object_get(json_object_get(j, "families"), "lookup_arith"), "ops"),
        "mul");
}

static void mul_without_k(json_t *j) {
    json_array_append_new(json_object_get(json_object_get(j, "rules"), "la.mul.q"),
                          json_string("what is <@np>?"));
}

static void drop_population(json_t *j) {
    json_object_del(json_object_get(j, "attributes"), "city.population");
}

static void drop_since_q(json_t *j) {
    json_t *founded = json_object_get(json_object_get(j, "attributes"), "city.founded");

    json_object_del(json_object_get(founded, "rules"), "since_q");
}

static void unknown_placeholder(json_t *j) {
    json_array_append_new(json_object_get(json_object_get(j, "rules"), "who"),
                          json_string("I'm {AGE} years old."));
}

static void thanks_cycle(json_t *j) {
    json_array_append_new(json_object_get(json_object_get(j, "rules"), "thanks"),
                          json_string("<close>"));
}

static void empty_rule(json_t *j) {
    json_object_set_new(json_object_get(j, "rules"), "weekday", json_array());
}

static void bad_bind(json_t *j) {
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(j, "families"), "mental"), "bind"), "K",
        json_string("thing"));
}

static void unknown_op(json_t *j) {
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(j, "families"), "algo"), "ops"), "sort",
        json_string("al.primes"));
}

TG_TEST(taskgen, bad_grammars_name_the_file_and_production) {
    bad_grammar("lookup", drop_mul, "lookup.json: family lookup_arith",
                "no production for operation mul");
    bad_grammar("lookup", mul_without_k, "lookup.json: production la.mul.q[",
                "without {K}, so the expert plan of family lookup_arith, operation mul");
    bad_grammar("attributes", drop_population, "attribute city.population", "no entry");
    bad_grammar("attributes", drop_since_q, "production la.years_since.q[",
                "since_q, kind.city.since_q or since_q");
    bad_grammar("common", unknown_placeholder, "common.json: production who[",
                "unknown placeholder {AGE}");
    bad_grammar("common", thanks_cycle, "common.json", "cycle");
    bad_grammar("common", empty_rule, "common.json: rule weekday", "empty production list");
    bad_grammar("arith", bad_bind, "arith.json: family mental", "bind \"K\"");
    bad_grammar("arith", unknown_op, "arith.json: family algo", "unknown operation \"sort\"");
}
