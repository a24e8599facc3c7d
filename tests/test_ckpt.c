/*
 * test_ckpt.c — suite `ckpt`: a checkpoint round trip is bit-exact and resumes the same
 * trajectory; wrong magic, other version, truncation, flipped bytes, size mismatches and
 * bad settings are each rejected with their own code and message; saving is atomic.
 */
#include "tg_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/ckpt.h"

struct world {
    struct mlp mlp;
    struct adam adam;
    struct sched sched;
    struct rng rng;
};

/* a trained-looking state: random weights, a few Adam steps, a GreedyLR mid-run */
static void make_world(struct world *w) {
    struct mlp_config mc = {.in_dim = 6, .hidden1 = 5, .hidden2 = 4};
    struct adam_config ac = adam_config_default();
    struct sched_config sc;

    memset(w, 0, sizeof(*w));
    ac.weight_decay = 0.01f;
    memset(&sc, 0, sizeof(sc));
    sc.kind = SCHED_GREEDY;
    sc.signal = SCHED_SIGNAL_NEG_REWARD;
    sc.greedy = sched_greedy_reference();
    sc.greedy.smooth = 1;
    sc.greedy.window_size = 4;
    sc.greedy.cooldown = 3;
    sc.greedy.warmup = 2;
    sc.greedy.patience = 1;
    sc.greedy.reset_start = 2;
    CU_ASSERT_FATAL(mlp_init(&w->mlp, &mc, NULL) == 0);
    CU_ASSERT_FATAL(adam_init(&w->adam, &ac, w->mlp.num_params, NULL) == 0);
    CU_ASSERT_FATAL(sched_init(&w->sched, &sc, NULL) == 0);
    rng_seed(&w->rng, 99);
    mlp_init_weights(&w->mlp, &w->rng);
    for (int step = 0; step < 5; step++) {
        for (size_t i = 0; i < w->mlp.num_params; i++)
            w->mlp.grads_memory[i] = (float)rng_normal(&w->rng);
        adam_update(&w->adam, w->mlp.params_memory, w->mlp.grads_memory, (float)w->sched.lr);
        sched_step(&w->sched, 1.0 / (step + 1) + (step == 3 ? 2.0 : 0.0));
    }
}

static void free_world(struct world *w) {
    mlp_free(&w->mlp);
    adam_free(&w->adam);
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
    struct mlp m;
    struct adam a;
    struct sched s;
    struct rng r;
    int rc;

    tg_error_clear(err);
    rc = ckpt_load(path, NULL, &m, &a, &s, &r, err);
    if (rc == 0) {
        mlp_free(&m);
        adam_free(&a);
        return 0;
    }
    /* nothing allocated on failure */
    if (m.params_memory || a.m)
        return 0;
    if (strcmp(err->code, code) != 0) {
        fprintf(stderr, "\n  wanted %s, got %s: %s\n", code, err->code, err->message);
        return 0;
    }
    return rc == TG_EINVAL;
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
    CU_ASSERT_FATAL(ckpt_save(p1, &w.mlp, &w.adam, &w.sched, &w.rng, &err) == 0);
    memset(&back, 0, sizeof(back));
    CU_ASSERT_FATAL(
        ckpt_load(p1, &w.mlp.cfg, &back.mlp, &back.adam, &back.sched, &back.rng, &err) == 0);
    CU_ASSERT_EQUAL(back.mlp.num_params, w.mlp.num_params);
    CU_ASSERT(memcmp(&back.mlp.cfg, &w.mlp.cfg, sizeof(w.mlp.cfg)) == 0);
    CU_ASSERT(
        memcmp(back.mlp.params_memory, w.mlp.params_memory, w.mlp.num_params * sizeof(float)) == 0);
    CU_ASSERT(memcmp(back.adam.m, w.adam.m, w.adam.n * sizeof(float)) == 0);
    CU_ASSERT(memcmp(back.adam.v, w.adam.v, w.adam.n * sizeof(float)) == 0);
    CU_ASSERT_EQUAL(back.adam.step, 5);
    CU_ASSERT(memcmp(&back.adam.cfg, &w.adam.cfg, sizeof(w.adam.cfg)) == 0);
    CU_ASSERT(memcmp(back.rng.s, w.rng.s, sizeof(w.rng.s)) == 0);
    CU_ASSERT_EQUAL(back.sched.t, w.sched.t);
    CU_ASSERT_EQUAL(back.sched.lr, w.sched.lr);
    CU_ASSERT_EQUAL(back.sched.cfg.signal, SCHED_SIGNAL_NEG_REWARD);
    CU_ASSERT_EQUAL(back.sched.greedy.best, w.sched.greedy.best);
    CU_ASSERT_EQUAL(back.sched.greedy.cooldown_left, w.sched.greedy.cooldown_left);
    CU_ASSERT_EQUAL(back.sched.greedy.win_len, w.sched.greedy.win_len);

    /* saving what was loaded gives the same bytes */
    snprintf(p2, sizeof(p2), "%s", tmp_path("b.ckpt"));
    CU_ASSERT_FATAL(ckpt_save(p2, &back.mlp, &back.adam, &back.sched, &back.rng, &err) == 0);
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

TG_TEST(ckpt, load_parts_only) {
    struct world w;
    struct mlp m;
    struct tg_error err;
    const char *p = tmp_path("parts.ckpt");

    make_world(&w);
    CU_ASSERT_FATAL(ckpt_save(p, &w.mlp, &w.adam, &w.sched, &w.rng, &err) == 0);
    /* evaluation needs the network only */
    CU_ASSERT_FATAL(ckpt_load(p, NULL, &m, NULL, NULL, NULL, &err) == 0);
    CU_ASSERT(memcmp(m.params_memory, w.mlp.params_memory, m.num_params * sizeof(float)) == 0);
    mlp_free(&m);
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
    CU_ASSERT_FATAL(ckpt_save(p, &w.mlp, &w.adam, &w.sched, &w.rng, &err) == 0);
    w.mlp.params_memory[0] += 1.0f;
    CU_ASSERT_FATAL(ckpt_save(p, &w.mlp, &w.adam, &w.sched, &w.rng, &err) == 0); /* replace */
    d = opendir(dir);
    CU_ASSERT_FATAL(d != NULL);
    while ((e = readdir(d)) != NULL)
        temps += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    CU_ASSERT_EQUAL(temps, 0);
    {
        struct mlp m;

        CU_ASSERT_FATAL(ckpt_load(p, NULL, &m, NULL, NULL, NULL, &err) == 0);
        CU_ASSERT_EQUAL(m.params_memory[0], w.mlp.params_memory[0]); /* the second save */
        mlp_free(&m);
    }
    /* an unwritable place: TG_EIO with the OS reason */
    CU_ASSERT_EQUAL(ckpt_save("/nonexistent-dir/x.ckpt", &w.mlp, &w.adam, &w.sched, &w.rng, &err),
                    TG_EIO);
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
    CU_ASSERT_FATAL(ckpt_save(good, &w.mlp, &w.adam, &w.sched, &w.rng, &err) == 0);
    buf = read_all(good, &n);
    CU_ASSERT_FATAL(buf && n > 100);
    copy = malloc(n + 1);

    /* wrong magic */
    memcpy(copy, buf, n);
    copy[0] = 'X';
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_magic", &err));
    CU_ASSERT(strstr(err.message, "not a toolgym checkpoint") != NULL);

    /* another version: a later one, and version 1 (GreedyLR before the reference's rules) */
    memcpy(copy, buf, n);
    copy[4] = 3;
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_version", &err));
    CU_ASSERT(strstr(err.message, "version 3") != NULL);
    copy[4] = 1;
    write_all(bad, copy, n);
    CU_ASSERT(rejects(bad, "bad_version", &err));
    CU_ASSERT(strstr(err.message, "version 1") != NULL);

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
    {
        size_t plen = n - 20;
        unsigned long crc;

        memcpy(copy, buf, n);
        copy[16 + 12] += 1; /* num_params, low byte */
        crc = ckpt_crc32(copy + 16, plen);
        for (int i = 0; i < 4; i++)
            copy[16 + plen + i] = (unsigned char)(crc >> (8 * i));
        write_all(bad, copy, n);
        CU_ASSERT(rejects(bad, "size_mismatch", &err));
        CU_ASSERT(strstr(err.message, "parameters") != NULL);

        /* an out-of-range width, with a valid CRC */
        memcpy(copy, buf, n);
        copy[16] = 0; /* in_dim = 0 */
        crc = ckpt_crc32(copy + 16, plen);
        for (int i = 0; i < 4; i++)
            copy[16 + plen + i] = (unsigned char)(crc >> (8 * i));
        write_all(bad, copy, n);
        CU_ASSERT(rejects(bad, "invalid_config", &err));
        CU_ASSERT(strstr(err.message, "in_dim") != NULL);
    }

    /* a checkpoint for another network shape */
    {
        struct mlp_config other = w.mlp.cfg;
        struct mlp m;

        other.hidden2 += 1;
        CU_ASSERT_EQUAL(ckpt_load(good, &other, &m, NULL, NULL, NULL, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "size_mismatch");
        CU_ASSERT_PTR_NULL(m.params_memory);
    }

    /* a missing file is an I/O error */
    {
        struct mlp m;

        CU_ASSERT_EQUAL(ckpt_load(tmp_path("missing.ckpt"), NULL, &m, NULL, NULL, NULL, &err),
                        TG_EIO);
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
    CU_ASSERT_FATAL(ckpt_save(p, &w.mlp, &w.adam, &w.sched, &w.rng, &err) == 0);
    CU_ASSERT(rejects(p, "invalid_config", &err));
    CU_ASSERT(strstr(err.message, "factor") != NULL);
    /* and a mismatched optimizer is refused on save */
    w.adam.n -= 1;
    CU_ASSERT_EQUAL(ckpt_save(p, &w.mlp, &w.adam, &w.sched, &w.rng, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "size_mismatch");
    w.adam.n += 1;
    free_world(&w);
    cleanup_dir();
}
