/*
 * dbuf.c — the bounded growable buffer (see dbuf.h).
 */
#include "base/dbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tg.h"

#define DBUF_FIRST_CAP 256 /* bytes of the first allocation, unless max is smaller */

void dbuf_init(struct dbuf *b, size_t max) {
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->err = 0;
}

static int fail(struct dbuf *b, int rc) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->err = rc;
    return rc;
}

/* Make room for `more` content bytes past len, plus the NUL. */
static int reserve(struct dbuf *b, size_t more) {
    size_t need, cap;
    char *p;

    if (b->err)
        return b->err;
    TG_ASSERT(b->len <= b->max);
    if (more > b->max - b->len)
        return fail(b, TG_ERANGE);
    need = b->len + more + 1; /* no overflow: len + more <= max, and max < SIZE_MAX below */
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : DBUF_FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->p, cap);
    if (!p)
        return fail(b, TG_ENOMEM);
    b->p = p;
    b->cap = cap;
    return 0;
}

int dbuf_add(struct dbuf *b, const void *data, size_t n) {
    int rc;

    /* the common case: no failure, room already there, max not reached (cap <= max + 1) */
    if (b->cap - b->len > n && n && !b->err) {
        memcpy(b->p + b->len, data, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
    }
    rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

char *dbuf_room(struct dbuf *b, size_t n) {
    if (reserve(b, n))
        return NULL;
    return b->p + b->len;
}

void dbuf_grew(struct dbuf *b, size_t k) {
    TG_ASSERT(b->p && k < b->cap - b->len);
    b->len += k;
    b->p[b->len] = '\0';
}

int dbuf_add_str(struct dbuf *b, const char *s) {
    return dbuf_add(b, s, strlen(s));
}

int dbuf_add_fmt(struct dbuf *b, const char *fmt, ...) {
    va_list ap;
    int n, rc;

    if (b->err)
        return b->err;
    va_start(ap, fmt);
    n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, TG_EINVAL);
    if (b->p && (size_t)n < b->cap - b->len) { /* it fitted in the space already there */
        rc = reserve(b, (size_t)n);            /* still enforce max */
        if (rc)
            return rc;
        b->len += (size_t)n;
        return 0;
    }
    rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

size_t dbuf_write_cb(char *ptr, size_t size, size_t nmemb, void *b) {
    struct dbuf *d = b;

    if (nmemb && size > SIZE_MAX / nmemb) {
        fail(d, TG_ERANGE);
        return 0;
    }
    return dbuf_add(d, ptr, size * nmemb) ? 0 : size * nmemb;
}

int dbuf_getline(struct dbuf *b, FILE *f) {
    char chunk[512];
    size_t n = 0;
    int c, any = 0;

    dbuf_reset(b); /* empty, and no longer failed after an over-long line */
    flockfile(f);  /* one lock for the line, not one per byte */
    while ((c = getc_unlocked(f)) != EOF && c != '\n') {
        any = 1;
        if (b->err)
            continue; /* past max or out of memory: drop the rest of the line */
        chunk[n++] = (char)c;
        if (n == sizeof(chunk)) {
            dbuf_add(b, chunk, n);
            n = 0;
        }
    }
    funlockfile(f);
    if (ferror(f))
        return TG_EIO;
    if (!b->err)
        dbuf_add(b, chunk, n); /* also makes b.p a string for an empty line */
    if (b->err)
        return b->err;
    if (c == '\n')
        return 1;
    return any ? 2 : 0;
}

const char *dbuf_str(const struct dbuf *b) {
    return b->p ? b->p : "";
}

char *dbuf_take(struct dbuf *b, size_t *len) {
    char *s;

    if (b->err)
        return NULL;
    if (!b->p && dbuf_add(b, "", 0))
        return NULL;
    s = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return s;
}

void dbuf_reset(struct dbuf *b) {
    b->len = 0;
    b->err = 0;
    if (b->p)
        b->p[0] = '\0';
}

void dbuf_free(struct dbuf *b) {
    free(b->p);
    dbuf_init(b, b->max);
}
