/*
 * num.c — strict whole-string number parsing (see num.h).
 */
#include "base/num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/tg.h"

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* 1 if s is an optional sign (any of signs) followed by one or more digits and nothing else. */
static int whole_integer(const char *s, const char *signs) {
    if (!s)
        return 0;
    for (const char *p = signs; *p; p++)
        if (*s == *p) {
            s++;
            break;
        }
    if (!is_digit(*s))
        return 0;
    while (is_digit(*s))
        s++;
    return *s == '\0';
}

int num_long(const char *s, long lo, long hi, long *out) {
    long v;

    if (!whole_integer(s, "+-"))
        return TG_EINVAL;
    errno = 0;
    v = strtol(s, NULL, 10);
    if (errno || v < lo || v > hi)
        return TG_ERANGE;
    *out = v;
    return 0;
}

int num_long_list(const char *s, long lo, long hi, long *out, size_t max, size_t *n) {
    *n = 0;
    if (!s)
        return TG_EINVAL;
    for (;;) {
        char item[32];
        size_t len;
        int rc;

        while (*s == ' ')
            s++;
        len = strcspn(s, ", ");
        if (len == 0) /* empty list, empty item, or a comma with nothing after it */
            return TG_EINVAL;
        if (len >= sizeof(item)) /* longer than any long */
            return TG_ERANGE;
        if (*n == max)
            return TG_ERANGE;
        memcpy(item, s, len);
        item[len] = '\0';
        rc = num_long(item, lo, hi, &out[*n]);
        if (rc)
            return rc;
        (*n)++;
        s += len;
        while (*s == ' ')
            s++;
        if (*s == '\0')
            return 0;
        if (*s == ',')
            s++; /* else the spaces were the separator */
    }
}

int num_u64(const char *s, uint64_t max, uint64_t *out) {
    unsigned long long v;

    if (!whole_integer(s, "+"))
        return TG_EINVAL;
    errno = 0;
    v = strtoull(s, NULL, 10);
    if (errno || v > max)
        return TG_ERANGE;
    *out = (uint64_t)v;
    return 0;
}

/* Length of the decimal number at s (sign, digits, fraction, exponent), 0 if there is none.
 * Written out by hand so strtod never sees "nan", "inf", hex or leading spaces. */
static size_t decimal_len(const char *s) {
    size_t i = 0, digits = 0;

    if (s[i] == '+' || s[i] == '-')
        i++;
    while (is_digit(s[i])) {
        i++;
        digits++;
    }
    if (s[i] == '.') {
        size_t j = i + 1;

        while (is_digit(s[j])) {
            j++;
            digits++;
        }
        if (digits)
            i = j;
    }
    if (!digits)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1;

        if (s[j] == '+' || s[j] == '-')
            j++;
        if (is_digit(s[j])) {
            while (is_digit(s[j]))
                j++;
            i = j;
        }
    }
    return i;
}

int num_double_prefix(const char *s, const char **end, double *out) {
    size_t len;
    char *e;
    double v;

    *end = s;
    if (!s)
        return TG_EINVAL;
    len = decimal_len(s);
    if (!len)
        return TG_EINVAL;
    errno = 0;
    v = strtod(s, &e);
    if (e != s + len) {
        /* strtod read further only for a hexadecimal "0x…": the decimal prefix is a zero. */
        if (len > 2 || s[len - 1] != '0')
            return TG_EINVAL;
        v = s[0] == '-' ? -0.0 : 0.0;
    }
    *end = s + len;
    if (isinf(v))
        return TG_ERANGE;
    /* ERANGE with a finite result is underflow: the value is as close as a double gets. */
    *out = v;
    return 0;
}

int num_double(const char *s, double lo, double hi, double *out) {
    const char *end;
    double v;
    int rc;

    rc = num_double_prefix(s, &end, &v);
    if (rc == TG_EINVAL || *end != '\0')
        return TG_EINVAL;
    if (rc)
        return rc;
    if (!(v >= lo && v <= hi))
        return TG_ERANGE;
    *out = v;
    return 0;
}
