/*
 * test_ckpt.c — suite `ckpt`: a checkpoint round trip is bit-exact (network, learned symbols,
 * optimizer, schedule, RNG, progress) and resumes the same trajectory; wrong magic, another
 * version (the earlier candidate-scoring policy's included), truncation, flipped bytes, size
 * mismatches, malformed symbols and bad settings are each rejected with their own code and
 * message; saving is atomic.
 */
#include "tg_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/ckpt.h"
#include "policy/lexicon.h"

struct world {
    struct policy pol;
    struct adam adam;
    struct sched sched;
    struct rng rng;
    struct ckpt_progress pg;
};

/* a trained-looking state: random weights, learned symbols, a few Adam steps, a GreedyLR
 * mid-run */
static void make_world(struct world *w) {
    struct net_config nc = {.d = 8, .heads = 2, .layers = 1, .ffn = 12, .buckets = 64};
    struct adam_config ac = adam_config_default();
    struct sched_config sc;
    float *g;

    memset(w, 0, sizeof(*w));
    w->pol.voc.nconst = 2;
    w->pol.voc.cval[0] = 2;
    w->pol.voc.cval[1] = 100;
    w->pol.voc.nword = 2;
    snprintf(w->pol.voc.word[0], TG_ACT_WORD_MAX, "population");
    snprintf(w->pol.voc.word[1], TG_ACT_WORD_MAX, "founded");
    w->pol.voc.ntmpl = 1;
    snprintf(w->pol.voc.tmpl[0], TG_ACT_TEMPLATE_BYTES,
             "print(\x01"
             "a + \x01"
             "b)\n");
    w->pol.voc.nslots[0] = 2;
    nc.nsym = act_nsym(&w->pol.voc);
    ac.weight_decay = 0.01f;
    memset(&sc, 0, sizeof(sc));
    sc.kind = SCHED_GREEDY;
    sc.signal = SCHED_SIGNAL_LOSS;
    sc.greedy = sched_greedy_reference();
    sc.greedy.smooth = 1;
    sc.greedy.window_size = 4;
    sc.greedy.cooldown = 3;
    sc.greedy.warmup = 2;
    sc.greedy.patience = 1;
    sc.greedy.reset_start = 2;
    CU_ASSERT_FATAL(net_init(&w->pol.net, &nc, NULL) == 0);
    CU_ASSERT_FATAL(adam_init(&w->adam, &ac, w->pol.net.num_params, NULL) == 0);
    CU_ASSERT_FATAL(sched_init(&w->sched, &sc, NULL) == 0);
    rng_seed(&w->rng, 99);
    net_init_weights(&w->pol.net, &w->rng);
    g = malloc(sizeof(float) * w->pol.net.num_params);
    CU_ASSERT_FATAL(g != NULL);
    for (int step = 0; step < 5; step++) {
        for (size_t i = 0; i < w->pol.net.num_params; i++)
            g[i] = (float)rng_normal(&w->rng);
        adam_update(&w->adam, w->pol.net.params, g, (float)w->sched.lr);
        sched_step(&w->sched, 1.0 / (step + 1) + (step == 3 ? 2.0 : 0.0));
    }
    free(g);
    w->pg.phase = 1;
    w->pg.warmup_done = 123;
    w->pg.rl_done = 7;
}

static void free_world(struct world *w) {
    policy_free(&w->pol);
    adam_free(&w->adam);
}

static int save(const char *path, const struct world *w, struct tg_error *err) {
    return ckpt_save(path, &w->pol, &w->adam, &w->sched, &w->rng, &w->pg, err);
}

static int load(const char *path, struct world *w, struct tg_error *err) {
    memset(w, 0, sizeof(*w));
    return ckpt_load(path, &w->pol, &w->adam, &w->sched, &w->rng, &w->pg, err);
}

static char dir[64]; /* scratch directory of the running test, or "" */

static const char *tmp_path(const char *name) {
    static char path[128];

    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/tg_ckpt_XXXXXX");
        CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

/* remove the scratch directory; every test that used tmp_path calls this at its end */
static void cleanup_dir(void) {
    DIR *d;
    struct dirent *e;
    char path[512];

    if (!dir[0])
        return;
    d = opendir(dir);
    CU_ASSERT_FATAL(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    CU_ASSERT_EQUAL(rmdir(dir), 0);
    dir[0] = '\0';
}

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

static void write_all(const char *path, const unsigned char *buf, size_t n) {
    FILE *f = fopen(path, "wb");

    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(buf, 1, n, f) == n);
    fclose(f);
}

/* load `path` expecting failure with `code`; returns 1 when it failed that way */
static int rejects(const char *path, const char *code, struct tg_error *err) {
    struct world w;
    int rc;

    tg_error_clear(err);
    rc = load(path, &w, err);
    if (rc == 0) {
        free_world(&w);
        return 0;
    }
    /* nothing allocated on failure */
    if (w.pol.net.params || w.adam.m)
        return 0;
    if (strcmp(err->code, code) != 0) {
        fprintf(stderr, "\n  wanted %s, got %s: %s\n", code, err->code, err->message);
        return 0;
    }
    return rc == TG_EINVAL;
}

/* rewrite the payload's CRC of a checkpoint image of n bytes after an edit */
static void fix_crc(unsigned char *img, size_t n) {
    size_t plen = n - 20;
    unsigned long crc = ckpt_crc32(img + 16, plen);

    for (int i = 0; i < 4; i++)
        img[16 + plen + i] = (unsigned char)(crc >> (8 * i));
}

TG_TEST(ckpt, crc32_check_value) {
    CU_ASSERT_EQUAL(ckpt_crc32("123456789", 9), 0xCBF43926UL);
    CU_ASSERT_EQUAL(ckpt_crc32("", 0), 0UL);
}

TG_TEST(ckpt, round_trip_bit_exact) {
    struct world w, back;
    struct tg_error err;
    const char *p1 = tmp_path("a.ckpt");
    char p2[128];
    unsigned char *b1, *b2;
    size_t n1 = 0, n2 = 0;

    make_world(&w);
    CU_ASSERT_FATAL(save(p1, &w, &err) == 0);
    CU_ASSERT_FATAL(load(p1, &back, &err) == 0);
    CU_ASSERT_EQUAL(back.pol.net.num_params, w.pol.net.num_params);
    CU_ASSERT(memcmp(&back.pol.net.cfg, &w.pol.net.cfg, sizeof(w.pol.net.cfg)) == 0);
    CU_ASSERT(memcmp(back.pol.net.params, w.pol.net.params, w.pol.net.num_params * sizeof(float)) ==
              0);
    CU_ASSERT(memcmp(&back.pol.voc, &w.pol.voc, sizeof(w.pol.voc)) == 0);
    CU_ASSERT(memcmp(back.adam.m, w.adam.m, w.adam.n * sizeof(float)) == 0);
    CU_ASSERT(memcmp(back.adam.v, w.adam.v, w.adam.n * sizeof(float)) == 0);
    CU_ASSERT_EQUAL(back.adam.step, 5);
    CU_ASSERT(memcmp(&back.adam.cfg, &w.adam.cfg, sizeof(w.adam.cfg)) == 0);
    CU_ASSERT(memcmp(back.rng.s, w.rng.s, sizeof(w.rng.s)) == 0);
    CU_ASSERT_EQUAL(back.sched.t, w.sched.t);
    CU_ASSERT_EQUAL(back.sched.lr, w.sched.lr);
    CU_ASSERT_EQUAL(back.sched.cfg.signal, SCHED_SIGNAL_LOSS);
    CU_ASSERT_EQUAL(back.sched.greedy.best, w.sched.greedy.best);
    CU_ASSERT_EQUAL(back.sched.greedy.cooldown_left, w.sched.greedy.cooldown_left);
    CU_ASSERT_EQUAL(back.sched.greedy.win_len, w.sched.greedy.win_len);
    CU_ASSERT_EQUAL(back.pg.phase, 1);
    CU_ASSERT_EQUAL(back.pg.warmup_done, 123);
    CU_ASSERT_EQUAL(back.pg.rl_done, 7);

    /* saving what was loaded gives the same bytes */
    snprintf(p2, sizeof(p2), "%s", tmp_path("b.ckpt"));
    CU_ASSERT_FATAL(save(p2, &back, &err) == 0);
    b1 = read_all(p1, &n1);
    b2 = read_all(p2, &n2);
    CU_ASSERT_FATAL(b1 && b2);
    CU_ASSERT_EQUAL(n1, n2);
    CU_ASSERT(n1 == n2 && memcmp(b1, b2, n1) == 0);
    CU_ASSERT(memcmp(b1, "TGCK", 4) == 0);
    CU_ASSERT(b1[4] == CKPT_VERSION && b1[5] == 0 && b1[6] == 0 && b1[7] == 0);

    /* and the run resumes on the same trajectory: same draws, same schedule */
    for (int i = 0; i < 20; i++) {
        double sig = rng_uniform(&w.rng);

        CU_ASSERT_EQUAL(sig, rng_uniform(&back.rng));
        CU_ASSERT_EQUAL(sched_step(&w.sched, sig), sched_step(&back.sched, sig));
    }
    free(b1);
    free(b2);
    free_world(&w);
    free_world(&back);
    cleanup_dir();
}

/* the WordNet a policy reads words with is part of it: kept, and refused when it differs */
TG_TEST(ckpt, keeps_the_lexicon_and_refuses_another) {
    struct world w, back;
    struct tg_error err;
    const char *p = tmp_path("lex.ckpt");
    unsigned char *img;
    size_t n = 0;
    uint32_t fp;

    make_world(&w);
    w.pol.lex = lexicon_default(&err);
    CU_ASSERT_FATAL(w.pol.lex != NULL); /* scripts/deps.sh installs wordnet-base */
    fp = lexicon_fingerprint(w.pol.lex);
    CU_ASSERT_FATAL(save(p, &w, &err) == 0);
    CU_ASSERT_FATAL(load(p, &back, &err) == 0);
    CU_ASSERT(back.pol.lex == w.pol.lex);
    free_world(&back);
    /* the fingerprint is the u32 after the six shape fields of the payload */
    img = read_all(p, &n);
    CU_ASSERT_FATAL(img && n > 64);
    CU_ASSERT_EQUAL(img[40] | img[41] << 8 | img[42] << 16 | (uint32_t)img[43] << 24, fp);
    img[40] ^= 0x10;
    fix_crc(img, n);
    write_all(p, img, n);
    CU_ASSERT(rejects(p, "lexicon_mismatch", &err));
    CU_ASSERT(strstr(err.message, "another WordNet") != NULL);
    /* none: a policy that reads words without it loads without it */
    memset(img + 40, 0, 4);
    fix_crc(img, n);
    write_all(p, img, n);
    CU_ASSERT_FATAL(load(p, &back, &err) == 0);
    CU_ASSERT(back.pol.lex == NULL);
    free_world(&back);
    free(img);
    free_world(&w);
    cleanup_dir();
}

TG_TEST(ckpt, load_parts_only) {
    struct world w;
    struct policy pol;
    struct tg_error err;
    const char *p = tmp_path("parts.ckpt");

    make_world(&w);
    CU_ASSERT_FATAL(save(p, &w, &err) == 0);
    /* evaluation needs the policy only */
    CU_ASSERT_FATAL(ckpt_load(p, &pol, NULL, NULL, NULL, NULL, &err) == 0);
    CU_ASSERT(memcmp(pol.net.params, w.pol.net.params, pol.net.num_params * sizeof(float)) == 0);
    CU_ASSERT_STRING_EQUAL(pol.voc.word[0], "population");
    policy_free(&pol);
    free_world(&w);
    cleanup_dir();
}

TG_TEST(ckpt, atomic_save_leaves_no_temp) {
    struct world w;
    struct tg_error err;
    const char *p;
    DIR *d;
    struct dirent *e;
    int temps = 0;

    make_world(&w);
    p = tmp_path("atomic.ckpt");
    CU_ASSERT_FATAL(save(p, &w, &err) == 0);
    w.pol.net.params[0] += 1.0f;
    CU_ASSERT_FATAL(save(p, &w, &err) == 0); /* replace */
    d = opendir(dir);
    CU_ASSERT_FATAL(d != NULL);
    while ((e = readdir(d)) != NULL)
        temps += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    CU_ASSERT_EQUAL(temps, 0);
    {
        struct policy pol;

        CU_ASSERT_FATAL(ckpt_load(p, &pol, NULL, NULL, NULL, NULL, &err) == 0);
        CU_ASSERT_EQUAL(pol.net.params[0], w.pol.net.params[0]); /* the second save */
        policy_free(&pol);
    }
    /* an unwritable place: TG_EIO with the OS reason */
    CU_ASSERT_EQUAL(save("/nonexistent-dir/x.ckpt", &w, &err), TG_EIO);
    CU_ASSERT_STRING_EQUAL(err.code, "io_error");
    CU_ASSERT(strstr(err.message, "No such file") != NULL);
    free_world(&w);
    cleanup_dir();
}

TG_TEST(ckpt, rejects_bad_files) {
    struct world w;
    struct tg_error err;
    char good[128], bad[128];
    unsigned char *buf, *copy;
    size_t n = 0;

    make_world(&w);
    snprintf(good, sizeof(good), "%s", tmp_path("good.ckpt"));
    snprintf(bad, sizeof(bad), "%s", tmp_path("bad.ckpt"));
    CU_ASSERT_FATAL(save(good, &w, &err) == 0);
    buf = read_all(good, &n);
    CU_ASSERT_FATAL(buf && n > 100);
    copy = malloc(n + 1);

    /* wrong magic */
    memcpy(copy, buf, n);
    copy[0] = 'X';
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_magic", &err));
    CU_ASSERT(strstr(err.message, "not a toolgym checkpoint") != NULL);

    /* another version: a later one, version 5 (the text-reading policy before WordNet),
     * version 4 (before its place bias and soft rank), version 3 (before its match-class
     * attention) and version 2 (the earlier candidate-scoring policy) */
    memcpy(copy, buf, n);
    copy[4] = 7;
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_version", &err));
    CU_ASSERT(strstr(err.message, "version 7") != NULL);
    copy[4] = 5;
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_version", &err));
    CU_ASSERT(strstr(err.message, "WordNet") != NULL);
    copy[4] = 4;
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_version", &err));
    CU_ASSERT(strstr(err.message, "version 4") != NULL);
    CU_ASSERT(strstr(err.message, "soft rank") != NULL);
    copy[4] = 3;
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_version", &err));
    CU_ASSERT(strstr(err.message, "version 3") != NULL);
    CU_ASSERT(strstr(err.message, "match-class attention") != NULL);
    copy[4] = 2;
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_version", &err));
    CU_ASSERT(strstr(err.message, "version 2") != NULL);
    CU_ASSERT(strstr(err.message, "candidate-scoring policy") != NULL);

    /* truncated anywhere: header, payload, checksum */
    {
        size_t cuts[] = {0, 3, 10, 15, 16, 17, n / 2, n - 5, n - 1};

        for (size_t i = 0; i < TG_ARRAY_LEN(cuts); i++) {
            write_all(bad, buf, cuts[i]);
            CU_ASSERT(rejects(bad, "truncated", &err));
            CU_ASSERT(strstr(err.message, "truncated") != NULL);
        }
    }

    /* one flipped byte in the payload, or in the checksum itself */
    {
        size_t where[] = {16, 16 + 20, n / 2, n - 5, n - 1};

        for (size_t i = 0; i < TG_ARRAY_LEN(where); i++) {
            memcpy(copy, buf, n);
            copy[where[i]] ^= 0x01;
            write_all(bad, copy, n);
            CU_ASSERT(rejects(bad, "bad_checksum", &err));
            CU_ASSERT(strstr(err.message, "CRC32") != NULL);
        }
    }

    /* a byte past the end */
    memcpy(copy, buf, n);
    copy[n] = 0;
    write_all(bad, copy, n + 1);
    CU_ASSERT(rejects(bad, "size_mismatch", &err));

    /* a payload length too large for the limit */
    memcpy(copy, buf, n);
    copy[15] = 0x7f;
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "size_mismatch", &err));

    /* a parameter count that does not match the network, with a valid CRC */
    memcpy(copy, buf, n);
    copy[16 + 28] += 1; /* num_params, low byte (after six shape fields and the lexicon) */
    fix_crc(copy, n);
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "size_mismatch", &err));
    CU_ASSERT(strstr(err.message, "parameters") != NULL);

    /* an out-of-range width, with a valid CRC */
    memcpy(copy, buf, n);
    copy[16] = 0; /* d = 0 */
    fix_crc(copy, n);
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "invalid_config", &err));
    CU_ASSERT(strstr(err.message, "d_model") != NULL);

    /* a template that names a slot it does not have, with a valid CRC: the first slot 'b'
     * of the symbols, which follow the parameters (bytes of the floats after them may read
     * 0x01 'b' too) */
    {
        size_t at = 0, np = 0, sym;

        for (int k = 7; k >= 0; k--)
            np = (np << 8) | buf[16 + 28 + k];
        sym = 16 + 28 + 8 + 4 * np;
        for (size_t i = sym; i + 1 < n && at == 0; i++)
            if (buf[i] == 0x01 && buf[i + 1] == 'b')
                at = i + 1;
        CU_ASSERT_FATAL(at > 0);
        memcpy(copy, buf, n);
        copy[at] = 'c';
        fix_crc(copy, n);
        write_all(bad, copy, n);
        CU_ASSERT(rejects(bad, "invalid_config", &err));
        CU_ASSERT(strstr(err.message, "symbols") != NULL);
    }

    /* a missing file is an I/O error */
    {
        struct world m;

        CU_ASSERT_EQUAL(load(tmp_path("missing.ckpt"), &m, &err), TG_EIO);
        CU_ASSERT_STRING_EQUAL(err.code, "io_error");
    }
    free(copy);
    free(buf);
    free_world(&w);
    cleanup_dir();
}

TG_TEST(ckpt, rejects_bad_schedule_settings) {
    /* a schedule whose settings fail validation is refused on load, CRC notwithstanding */
    struct world w;
    struct tg_error err;
    const char *p = tmp_path("sched.ckpt");

    make_world(&w);
    w.sched.cfg.greedy.factor = 1.5;
    CU_ASSERT_FATAL(save(p, &w, &err) == 0);
    CU_ASSERT(rejects(p, "invalid_config", &err));
    CU_ASSERT(strstr(err.message, "factor") != NULL);
    /* and a mismatched optimizer is refused on save */
    w.adam.n -= 1;
    CU_ASSERT_EQUAL(save(p, &w, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "size_mismatch");
    w.adam.n += 1;
    free_world(&w);
    cleanup_dir();
}
