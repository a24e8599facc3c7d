/*
 * series.c — a series of numbers, one per line. See series.h.
 */
#include "base/series.h"

#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/num.h"

void series_free(struct series *s) {
    if (!s)
        return;
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* append x, growing the array (doubling) up to TG_SERIES_MAX values */
static int push(struct series *s, size_t *cap, double x) {
    if (s->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        double *v;

        if (ncap > TG_SERIES_MAX)
            ncap = TG_SERIES_MAX;
        v = realloc(s->v, ncap * sizeof(*v));
        if (!v)
            return TG_ENOMEM;
        s->v = v;
        *cap = ncap;
    }
    s->v[s->n++] = x;
    return 0;
}

static int is_blank(int c) {
    return c == ' ' || c == '\t' || c == '\r';
}

/* one line (len bytes at line, without its LF): skip it, or parse and append its number */
static int take_line(struct series *s, size_t *cap, char *line, size_t len, const char *name,
                     long lineno, struct tg_error *err) {
    char *p = line, *end = line + len;
    double x;
    int rc;

    while (p < end && is_blank((unsigned char)*p))
        p++;
    while (end > p && is_blank((unsigned char)end[-1]))
        end--;
    *end = '\0';
    if (p == end || *p == '#')
        return 0;
    if (num_double(p, -DBL_MAX, DBL_MAX, &x) != 0) {
        tg_error_set(err, "invalid_input",
                     "%s line %ld: '%.40s%s' is not a finite number (one number per line)", name,
                     lineno, p, strlen(p) > 40 ? "..." : "");
        return TG_EINVAL;
    }
    if (s->n >= TG_SERIES_MAX) {
        tg_error_set(err, "too_large", "%s line %ld: more than %d numbers", name, lineno,
                     TG_SERIES_MAX);
        return TG_ERANGE;
    }
    rc = push(s, cap, x);
    if (rc)
        tg_error_set(err, TG_CODE_NOMEM, "%s: out of memory at line %ld", name, lineno);
    return rc;
}

int series_read(FILE *f, const char *name, struct series *out, struct tg_error *err) {
    char line[TG_SERIES_LINE_MAX + 1];
    size_t len = 0, cap = 0;
    long lineno = 1;
    int c, rc = 0;

    memset(out, 0, sizeof(*out));
    while ((c = getc(f)) != EOF) {
        if (c == '\n') {
            rc = take_line(out, &cap, line, len, name, lineno, err);
            if (rc)
                goto fail;
            len = 0;
            lineno++;
            continue;
        }
        if (c == '\0') {
            tg_error_set(err, "invalid_input", "%s line %ld: a NUL byte (not a text file?)", name,
                         lineno);
            rc = TG_EINVAL;
            goto fail;
        }
        if (len == TG_SERIES_LINE_MAX) {
            tg_error_set(err, "invalid_input", "%s line %ld: longer than %d bytes", name, lineno,
                         TG_SERIES_LINE_MAX);
            rc = TG_EINVAL;
            goto fail;
        }
        line[len++] = (char)c;
    }
    if (ferror(f)) {
        tg_error_set(err, TG_CODE_IO, "%s line %ld: %s", name, lineno, strerror(errno));
        rc = TG_EIO;
        goto fail;
    }
    if (len > 0) { /* a last line without its LF */
        rc = take_line(out, &cap, line, len, name, lineno, err);
        if (rc)
            goto fail;
    }
    if (out->n == 0) {
        tg_error_set(err, "invalid_input", "%s: no numbers in it (one number per line)", name);
        rc = TG_EINVAL;
        goto fail;
    }
    return 0;

fail:
    series_free(out);
    return rc;
}

int series_load(const char *path, struct series *out, struct tg_error *err) {
    FILE *f;
    int rc;

    memset(out, 0, sizeof(*out));
    if (strcmp(path, "-") == 0)
        return series_read(stdin, "stdin", out, err);
    f = fopen(path, "r");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "%s: %s", path, strerror(errno));
        return TG_EIO;
    }
    rc = series_read(f, path, out, err);
    fclose(f);
    return rc;
}
