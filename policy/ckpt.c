/*
 * ckpt.c — checkpoint serialisation (see ckpt.h for the format and the contracts).
 */
#include "policy/ckpt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/limits.h"
#include "policy/lexicon.h"

#define HEADER_BYTES 16 /* magic, version, payload_bytes */

/* ---- CRC-32 ----------------------------------------------------------------------------- */

unsigned long ckpt_crc32(const void *data, size_t n) {
    const unsigned char *p = data;
    uint32_t table[256], crc = 0xFFFFFFFFu;

    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* ---- little-endian writer and reader over a byte buffer --------------------------------- */

struct wbuf {
    unsigned char *p;
    size_t len, cap; /* cap is exact: the payload size is computed first */
};

static void put_u64(struct wbuf *w, uint64_t v) {
    TG_ASSERT(w->len + 8 <= w->cap);
    for (int i = 0; i < 8; i++)
        w->p[w->len++] = (unsigned char)(v >> (8 * i));
}

static void put_u32(struct wbuf *w, uint32_t v) {
    TG_ASSERT(w->len + 4 <= w->cap);
    for (int i = 0; i < 4; i++)
        w->p[w->len++] = (unsigned char)(v >> (8 * i));
}

static void put_i32(struct wbuf *w, int v) {
    put_u32(w, (uint32_t)v);
}

static void put_f32(struct wbuf *w, float f) {
    uint32_t v;

    memcpy(&v, &f, 4);
    put_u32(w, v);
}

static void put_f64(struct wbuf *w, double d) {
    uint64_t v;

    memcpy(&v, &d, 8);
    put_u64(w, v);
}

static void put_f32s(struct wbuf *w, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++)
        put_f32(w, f[i]);
}

struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    int short_read; /* set once a read ran past the end; later reads return 0 */
};

static uint64_t get_u64(struct rbuf *r) {
    uint64_t v = 0;

    if (r->short_read || r->len - r->pos < 8) {
        r->short_read = 1;
        return 0;
    }
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r->p[r->pos++] << (8 * i);
    return v;
}

static uint32_t get_u32(struct rbuf *r) {
    uint32_t v = 0;

    if (r->short_read || r->len - r->pos < 4) {
        r->short_read = 1;
        return 0;
    }
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)r->p[r->pos++] << (8 * i);
    return v;
}

static int get_i32(struct rbuf *r) {
    return (int)(int32_t)get_u32(r);
}

static float get_f32(struct rbuf *r) {
    uint32_t v = get_u32(r);
    float f;

    memcpy(&f, &v, 4);
    return f;
}

static double get_f64(struct rbuf *r) {
    uint64_t v = get_u64(r);
    double d;

    memcpy(&d, &v, 8);
    return d;
}

static void get_f32s(struct rbuf *r, float *f, size_t n) {
    for (size_t i = 0; i < n; i++)
        f[i] = get_f32(r);
}

/* prefix the message a config check left in *err with the checkpoint's path */
static void config_error(struct tg_error *err, const char *path) {
    char why[TG_ERR_MSG_MAX];

    if (!err)
        return;
    snprintf(why, sizeof(why), "%s", err->message);
    tg_error_set(err, TG_CODE_CONFIG, "checkpoint %s: %s", path, why);
}

static void skip(struct rbuf *r, size_t n) {
    if (r->short_read || r->len - r->pos < n) {
        r->short_read = 1;
        return;
    }
    r->pos += n;
}

/* ---- schedule state --------------------------------------------------------------------- */

/* bytes of the schedule section: fixed part plus `window` f64 values */
static size_t sched_bytes(int window) {
    size_t cfg = 4 + 4 + 8 + (8 + 8 + 8 + 8) + /* kind signal lr cosine */
                 (8 + 4 + 8 + 4 + 8 + 4 + 4 + 4 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 4); /* greedy */
    size_t state = 8 + 8 +                                                        /* t, lr */
                   8 + 8 + 8 + 4 * 6 + 8 * 3 + 8 + 8 + 4 + 4;                     /* greedy state */

    return cfg + state + 8 * (size_t)(window > 0 ? window : 0);
}

static void put_sched(struct wbuf *w, const struct sched *s) {
    const struct sched_config *c = &s->cfg;
    const struct sched_greedy_config *g = &c->greedy;
    const struct sched_greedy *gs = &s->greedy;

    put_u32(w, (uint32_t)c->kind);
    put_u32(w, (uint32_t)c->signal);
    put_f64(w, c->lr);
    put_f64(w, c->cosine.lr_max);
    put_f64(w, c->cosine.lr_min);
    put_u64(w, (uint64_t)c->cosine.warmup);
    put_u64(w, (uint64_t)c->cosine.total);
    put_f64(w, g->lr);
    put_u32(w, (uint32_t)g->mode);
    put_f64(w, g->factor);
    put_i32(w, g->patience);
    put_f64(w, g->threshold);
    put_u32(w, (uint32_t)g->threshold_mode);
    put_i32(w, g->cooldown);
    put_i32(w, g->warmup);
    put_f64(w, g->min_lr);
    put_f64(w, g->max_lr);
    put_f64(w, g->eps);
    put_i32(w, g->smooth);
    put_i32(w, g->window_size);
    put_i32(w, g->reset_start);
    put_i32(w, g->initial_hold);
    put_i32(w, g->threshold_signed);

    put_u64(w, (uint64_t)s->t);
    put_f64(w, s->lr);
    put_f64(w, gs->lr);
    put_u64(w, (uint64_t)gs->t);
    put_f64(w, gs->best);
    put_i32(w, gs->num_good);
    put_i32(w, gs->num_bad);
    put_i32(w, gs->cooldown_left);
    put_i32(w, gs->warmup_left);
    put_i32(w, gs->hold_left);
    put_i32(w, gs->at_min);
    put_u64(w, (uint64_t)gs->ups);
    put_u64(w, (uint64_t)gs->downs);
    put_u64(w, (uint64_t)gs->resets);
    put_f64(w, gs->last_value);
    put_f64(w, gs->win_sum);
    put_i32(w, gs->win_len);
    put_i32(w, gs->win_pos);
    for (int i = 0; i < g->window_size; i++)
        put_f64(w, gs->win[i]);
}

/* read the schedule section into *s; 0, or TG_EINVAL with a message */
static int get_sched(struct rbuf *r, struct sched *s, const char *path, struct tg_error *err) {
    struct sched_config *c = &s->cfg;
    struct sched_greedy_config *g = &c->greedy;
    struct sched_greedy *gs = &s->greedy;
    int rc, w;

    memset(s, 0, sizeof(*s));
    c->kind = (enum sched_kind)get_u32(r);
    c->signal = (enum sched_signal)get_u32(r);
    c->lr = get_f64(r);
    c->cosine.lr_max = get_f64(r);
    c->cosine.lr_min = get_f64(r);
    c->cosine.warmup = (long)get_u64(r);
    c->cosine.total = (long)get_u64(r);
    g->lr = get_f64(r);
    g->mode = (enum sched_mode)get_u32(r);
    g->factor = get_f64(r);
    g->patience = get_i32(r);
    g->threshold = get_f64(r);
    g->threshold_mode = (enum sched_threshold_mode)get_u32(r);
    g->cooldown = get_i32(r);
    g->warmup = get_i32(r);
    g->min_lr = get_f64(r);
    g->max_lr = get_f64(r);
    g->eps = get_f64(r);
    g->smooth = get_i32(r);
    g->window_size = get_i32(r);
    g->reset_start = get_i32(r);
    g->initial_hold = get_i32(r);
    g->threshold_signed = get_i32(r);
    /* the greedy settings are stored whatever the kind, so they are checked whatever the kind
     * (the window size sizes the section) */
    rc = sched_config_check(c, err);
    if (rc == 0)
        rc = sched_greedy_check(g, err);
    if (rc) {
        config_error(err, path);
        return TG_EINVAL;
    }
    w = g->window_size;

    s->t = (long)get_u64(r);
    s->lr = get_f64(r);
    gs->cfg = *g;
    gs->lr = get_f64(r);
    gs->t = (long)get_u64(r);
    gs->best = get_f64(r);
    gs->num_good = get_i32(r);
    gs->num_bad = get_i32(r);
    gs->cooldown_left = get_i32(r);
    gs->warmup_left = get_i32(r);
    gs->hold_left = get_i32(r);
    gs->at_min = get_i32(r);
    gs->ups = (long)get_u64(r);
    gs->downs = (long)get_u64(r);
    gs->resets = (long)get_u64(r);
    gs->last_value = get_f64(r);
    gs->win_sum = get_f64(r);
    gs->win_len = get_i32(r);
    gs->win_pos = get_i32(r);
    for (int i = 0; i < w; i++)
        gs->win[i] = get_f64(r);
    if (gs->win_len < 0 || gs->win_len > w || gs->win_pos < 0 || gs->win_pos >= w ||
        gs->num_good < 0 || gs->num_bad < 0 || gs->cooldown_left < 0 || gs->warmup_left < 0 ||
        gs->hold_left < 0 || gs->at_min < 0 || isnan(gs->best)) {
        tg_error_set(err, TG_CODE_CONFIG, "checkpoint %s: schedule state is inconsistent", path);
        return TG_EINVAL;
    }
    return 0;
}

/* ---- the policy's symbols ---------------------------------------------------------- */

static size_t vocab_bytes(const struct act_vocab *v) {
    size_t n = 4 + 8 * (size_t)v->nconst + 4 + 4;

    for (int i = 0; i < v->nword; i++)
        n += 4 + strlen(v->word[i]);
    for (int i = 0; i < v->ntmpl; i++)
        n += 8 + strlen(v->tmpl[i]);
    return n;
}

static void put_bytes(struct wbuf *w, const char *s) {
    size_t l = strlen(s);

    put_u32(w, (uint32_t)l);
    TG_ASSERT(w->len + l <= w->cap);
    memcpy(w->p + w->len, s, l);
    w->len += l;
}

static void put_vocab(struct wbuf *w, const struct act_vocab *v) {
    put_u32(w, (uint32_t)v->nconst);
    for (int i = 0; i < v->nconst; i++)
        put_f64(w, v->cval[i]);
    put_u32(w, (uint32_t)v->nword);
    for (int i = 0; i < v->nword; i++)
        put_bytes(w, v->word[i]);
    put_u32(w, (uint32_t)v->ntmpl);
    for (int i = 0; i < v->ntmpl; i++) {
        put_u32(w, (uint32_t)v->nslots[i]);
        put_bytes(w, v->tmpl[i]);
    }
}

/* a string of at most max - 1 bytes, no NUL, into out; 0 or -1 */
static int get_bytes(struct rbuf *r, char *out, size_t max) {
    uint32_t l = get_u32(r);

    if (r->short_read || l >= max || r->len - r->pos < l)
        return -1;
    memcpy(out, r->p + r->pos, l);
    out[l] = '\0';
    r->pos += l;
    return strlen(out) == l ? 0 : -1;
}

/* a template's slot marks name slots below nslots, each at least once */
static int template_ok(const char *t, int nslots) {
    int seen = 0;

    for (const char *p = t; *p; p++)
        if (*p == '\x01') {
            int k = p[1] - 'a';

            if (k < 0 || k >= nslots)
                return 0;
            seen |= 1 << k;
            p++;
        }
    return seen == (1 << nslots) - 1;
}

static int get_vocab(struct rbuf *r, struct act_vocab *v, const char *path, struct tg_error *err) {
    uint32_t n;

    memset(v, 0, sizeof(*v));
    n = get_u32(r);
    if (n > ACT_CONST_MAX)
        goto bad;
    v->nconst = (int)n;
    for (int i = 0; i < v->nconst; i++) {
        v->cval[i] = get_f64(r);
        if (!isfinite(v->cval[i]))
            goto bad;
    }
    n = get_u32(r);
    if (n > ACT_WORDS_MAX)
        goto bad;
    v->nword = (int)n;
    for (int i = 0; i < v->nword; i++)
        if (get_bytes(r, v->word[i], TG_ACT_WORD_MAX) || !v->word[i][0])
            goto bad;
    n = get_u32(r);
    if (n > TG_ACT_TEMPLATES_MAX)
        goto bad;
    v->ntmpl = (int)n;
    for (int i = 0; i < v->ntmpl; i++) {
        uint32_t k = get_u32(r);

        if (k > TG_ACT_SLOTS_MAX)
            goto bad;
        v->nslots[i] = (int)k;
        if (get_bytes(r, v->tmpl[i], TG_ACT_TEMPLATE_BYTES) ||
            !template_ok(v->tmpl[i], v->nslots[i]))
            goto bad;
    }
    if (!r->short_read)
        return 0;
bad:
    tg_error_set(err, TG_CODE_CONFIG, "checkpoint %s: the policy's output symbols are malformed",
                 path);
    return TG_EINVAL;
}

/* ---- save ------------------------------------------------------------------------------- */

static size_t payload_bytes(const struct policy *pol, int window) {
    size_t n = pol->net.num_params;

    return 7 * 4 + 8 + 4 * n + vocab_bytes(&pol->voc) + /* policy */
           4 * 4 + 8 + 2 * 4 * n +                      /* adam */
           sched_bytes(window) + 4 * 8 +                /* sched, rng */
           4 + 8 + 8;                                   /* progress */
}

int ckpt_save(const char *path, const struct policy *pol, const struct adam *a,
              const struct sched *s, const struct rng *r, const struct ckpt_progress *pg,
              struct tg_error *err) {
    const struct net *m = &pol->net;
    char tmp[PATH_MAX];
    struct wbuf w = {0};
    unsigned char head[HEADER_BYTES], tail[4];
    struct wbuf hw = {head, 0, sizeof(head)}, tw = {tail, 0, sizeof(tail)};
    FILE *f = NULL;
    int rc = TG_EIO, n;

    if (a->n != m->num_params) {
        tg_error_set(err, "size_mismatch", "adam holds %zu parameters, the network %zu", a->n,
                     m->num_params);
        return TG_EINVAL;
    }
    if (s->cfg.greedy.window_size < 1 || s->cfg.greedy.window_size > TG_SCHED_WINDOW_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "schedule window_size %d is out of range",
                     s->cfg.greedy.window_size);
        return TG_EINVAL;
    }
    n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        tg_error_set(err, TG_CODE_CONFIG, "checkpoint path is too long");
        return TG_EINVAL;
    }
    w.cap = payload_bytes(pol, s->cfg.greedy.window_size);
    w.p = malloc(w.cap);
    if (!w.p) {
        tg_error_set(err, TG_CODE_NOMEM,
                     "out of memory: cannot allocate %zu bytes for a checkpoint", w.cap);
        return TG_ENOMEM;
    }

    put_u32(&w, (uint32_t)m->cfg.d);
    put_u32(&w, (uint32_t)m->cfg.heads);
    put_u32(&w, (uint32_t)m->cfg.layers);
    put_u32(&w, (uint32_t)m->cfg.ffn);
    put_u32(&w, (uint32_t)m->cfg.buckets);
    put_u32(&w, (uint32_t)m->cfg.nsym);
    put_u32(&w, pol->lex ? lexicon_fingerprint(pol->lex) : 0u);
    put_u64(&w, m->num_params);
    put_f32s(&w, m->params, m->num_params);
    put_vocab(&w, &pol->voc);
    put_f32(&w, a->cfg.beta1);
    put_f32(&w, a->cfg.beta2);
    put_f32(&w, a->cfg.eps);
    put_f32(&w, a->cfg.weight_decay);
    put_u64(&w, (uint64_t)a->step);
    put_f32s(&w, a->m, a->n);
    put_f32s(&w, a->v, a->n);
    put_sched(&w, s);
    for (int i = 0; i < 4; i++)
        put_u64(&w, r->s[i]);
    put_u32(&w, (uint32_t)pg->phase);
    put_u64(&w, (uint64_t)pg->warmup_done);
    put_u64(&w, (uint64_t)pg->rl_done);
    TG_ASSERT(w.len == w.cap);

    memcpy(head, CKPT_MAGIC, 4);
    hw.len = 4;
    put_u32(&hw, CKPT_VERSION);
    put_u64(&hw, w.len);
    put_u32(&tw, (uint32_t)ckpt_crc32(w.p, w.len));

    f = fopen(tmp, "wb");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fwrite(head, 1, sizeof(head), f) != sizeof(head) || fwrite(w.p, 1, w.len, f) != w.len ||
        fwrite(tail, 1, sizeof(tail), f) != sizeof(tail) || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fclose(f) != 0) {
        f = NULL;
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        tg_error_set(err, TG_CODE_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    free(w.p);
    return 0;

fail:
    if (f)
        fclose(f);
    unlink(tmp);
    free(w.p);
    return rc;
}

/* ---- load ------------------------------------------------------------------------------- */

/* read the file: header checks, the payload (new in *payload, *plen bytes), CRC */
static int read_file(const char *path, unsigned char **payload, uint64_t *plen,
                     struct tg_error *err) {
    unsigned char head[HEADER_BYTES], tail[4], extra;
    struct rbuf hr = {head, sizeof(head), 4, 0}, tr = {tail, sizeof(tail), 0, 0};
    uint32_t version, crc;
    size_t got;
    FILE *f = fopen(path, "rb");
    int rc = TG_EINVAL;

    *payload = NULL;
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "cannot open checkpoint %s: %s", path, strerror(errno));
        return TG_EIO;
    }
    got = fread(head, 1, sizeof(head), f);
    if (got >= 4 && memcmp(head, CKPT_MAGIC, 4) != 0) {
        tg_error_set(err, "bad_magic", "%s is not a toolgym checkpoint (no TGCK magic)", path);
        goto fail;
    }
    if (got >= 8) {
        version = get_u32(&hr);
        if (version != CKPT_VERSION) {
            tg_error_set(err, "bad_version",
                         "checkpoint %s has format version %u; this build reads version %u%s", path,
                         (unsigned)version, (unsigned)CKPT_VERSION,
                         version < 3    ? " (a checkpoint of the earlier candidate-scoring policy: "
                                          "train a new one)"
                         : version == 3 ? " (a checkpoint of the text-reading policy before its "
                                          "match-class attention: train a new one)"
                         : version == 4 ? " (a checkpoint of the text-reading policy before its "
                                          "pointer place bias and soft rank: train a new one)"
                         : version == 5 ? " (a checkpoint of the text-reading policy before it "
                                          "read words with WordNet: train a new one)"
                                        : "");
            goto fail;
        }
    }
    if (got < sizeof(head)) {
        tg_error_set(err, "truncated", "checkpoint %s is truncated: %zu of %d header bytes", path,
                     got, HEADER_BYTES);
        goto fail;
    }
    *plen = get_u64(&hr);
    if (*plen > TG_CKPT_MAX_BYTES) {
        tg_error_set(err, "size_mismatch",
                     "checkpoint %s claims a %llu-byte payload; the limit is %lu bytes", path,
                     (unsigned long long)*plen, (unsigned long)TG_CKPT_MAX_BYTES);
        goto fail;
    }
    *payload = malloc(*plen ? *plen : 1);
    if (!*payload) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory: cannot allocate %llu bytes to read %s",
                     (unsigned long long)*plen, path);
        rc = TG_ENOMEM;
        goto fail;
    }
    got = fread(*payload, 1, *plen, f);
    if (got == *plen)
        got += fread(tail, 1, sizeof(tail), f);
    if (ferror(f)) {
        tg_error_set(err, TG_CODE_IO, "cannot read checkpoint %s: %s", path, strerror(errno));
        rc = TG_EIO;
        goto fail;
    }
    if (got < *plen + sizeof(tail)) {
        tg_error_set(err, "truncated", "checkpoint %s is truncated: %zu of %llu payload bytes",
                     path, got < *plen ? got : (size_t)*plen, (unsigned long long)*plen);
        goto fail;
    }
    if (fread(&extra, 1, 1, f) == 1) {
        tg_error_set(err, "size_mismatch", "checkpoint %s has bytes past its end", path);
        goto fail;
    }
    crc = get_u32(&tr);
    if (crc != (uint32_t)ckpt_crc32(*payload, *plen)) {
        tg_error_set(err, "bad_checksum", "checkpoint %s is corrupt: its CRC32 does not match",
                     path);
        goto fail;
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    free(*payload);
    *payload = NULL;
    return rc;
}

int ckpt_load(const char *path, struct policy *pol, struct adam *a, struct sched *s, struct rng *r,
              struct ckpt_progress *pg, struct tg_error *err) {
    struct rbuf pr = {0};
    unsigned char *payload = NULL;
    struct net_config cfg;
    struct adam_config acfg;
    struct sched sched_tmp;
    struct ckpt_progress prog;
    uint64_t plen = 0, nparams, rng_s[4];
    uint32_t lex_fp;
    long step;
    int rc;

    memset(pol, 0, sizeof(*pol));
    if (a)
        memset(a, 0, sizeof(*a));
    rc = read_file(path, &payload, &plen, err);
    if (rc)
        return rc;
    rc = TG_EINVAL;
    /* the bytes are what was written; now check that they make sense */
    pr.p = payload;
    pr.len = plen;
    cfg.d = (int)get_u32(&pr);
    cfg.heads = (int)get_u32(&pr);
    cfg.layers = (int)get_u32(&pr);
    cfg.ffn = (int)get_u32(&pr);
    cfg.buckets = (int)get_u32(&pr);
    cfg.nsym = (int)get_u32(&pr);
    lex_fp = get_u32(&pr);
    nparams = get_u64(&pr);
    if (net_config_check(&cfg, err) != 0) {
        config_error(err, path);
        goto fail;
    }
    if (nparams != net_num_params(&cfg)) {
        tg_error_set(err, "size_mismatch",
                     "checkpoint %s holds %llu parameters; its network needs %zu", path,
                     (unsigned long long)nparams, net_num_params(&cfg));
        goto fail;
    }
    if (lex_fp && !pr.short_read) {
        struct tg_error why;

        pol->lex = lexicon_default(&why);
        if (!pol->lex) {
            tg_error_set(err, "lexicon_missing",
                         "checkpoint %s reads words with WordNet, which is not here: %s", path,
                         why.message);
            goto fail;
        }
        if (lexicon_fingerprint(pol->lex) != lex_fp) {
            tg_error_set(err, "lexicon_mismatch",
                         "checkpoint %s was trained with another WordNet (fingerprint %08x, "
                         "here %08x): its word pieces would mean other things",
                         path, (unsigned)lex_fp, (unsigned)lexicon_fingerprint(pol->lex));
            pol->lex = NULL;
            goto fail;
        }
    }
    rc = net_init(&pol->net, &cfg, err);
    if (rc)
        goto fail;
    rc = TG_EINVAL;
    get_f32s(&pr, pol->net.params, pol->net.num_params);
    if (pr.short_read) {
        tg_error_set(err, "size_mismatch", "checkpoint %s: payload is shorter than its network",
                     path);
        goto fail;
    }
    if (get_vocab(&pr, &pol->voc, path, err))
        goto fail;
    if (act_nsym(&pol->voc) != cfg.nsym) {
        tg_error_set(err, "size_mismatch",
                     "checkpoint %s: the network has %d output symbols, its symbol list %d", path,
                     cfg.nsym, act_nsym(&pol->voc));
        goto fail;
    }
    acfg.beta1 = get_f32(&pr);
    acfg.beta2 = get_f32(&pr);
    acfg.eps = get_f32(&pr);
    acfg.weight_decay = get_f32(&pr);
    step = (long)get_u64(&pr);
    if (pr.short_read) {
        tg_error_set(err, "size_mismatch", "checkpoint %s: payload is shorter than its optimizer",
                     path);
        goto fail;
    }
    if (adam_config_check(&acfg, err) != 0) {
        config_error(err, path);
        goto fail;
    }
    if (step < 0) {
        tg_error_set(err, TG_CODE_CONFIG, "checkpoint %s: adam step %ld is negative", path, step);
        goto fail;
    }
    if (a) {
        rc = adam_init(a, &acfg, pol->net.num_params, err);
        if (rc)
            goto fail;
        rc = TG_EINVAL;
        a->step = step;
        get_f32s(&pr, a->m, a->n);
        get_f32s(&pr, a->v, a->n);
    } else {
        skip(&pr, 2 * 4 * pol->net.num_params);
    }
    if (pr.short_read) {
        tg_error_set(err, "size_mismatch", "checkpoint %s: payload is shorter than its moments",
                     path);
        goto fail;
    }
    if (get_sched(&pr, &sched_tmp, path, err) != 0)
        goto fail;
    for (int i = 0; i < 4; i++)
        rng_s[i] = get_u64(&pr);
    prog.phase = (int)get_u32(&pr);
    prog.warmup_done = (long)get_u64(&pr);
    prog.rl_done = (long)get_u64(&pr);
    if (pr.short_read || pr.pos != pr.len) {
        tg_error_set(
            err, "size_mismatch", "checkpoint %s: payload is %llu bytes; its contents need %zu",
            path, (unsigned long long)plen, payload_bytes(pol, sched_tmp.cfg.greedy.window_size));
        goto fail;
    }
    if (prog.phase < 0 || prog.phase > 1 || prog.warmup_done < 0 || prog.rl_done < 0) {
        tg_error_set(err, TG_CODE_CONFIG, "checkpoint %s: its progress is inconsistent", path);
        goto fail;
    }
    if (s)
        *s = sched_tmp;
    if (r)
        memcpy(r->s, rng_s, sizeof(rng_s));
    if (pg)
        *pg = prog;
    free(payload);
    return 0;

fail:
    free(payload);
    policy_free(pol);
    adam_free(a);
    return rc;
}
