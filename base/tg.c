/*
 * tg.c — error struct helpers, clocks and the assertion handler declared in tg.h.
 */
#include "base/tg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tg_error_set(struct tg_error *e, const char *code, const char *fmt, ...) {
    va_list ap;

    if (!e)
        return;
    snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

void tg_error_clear(struct tg_error *e) {
    if (!e)
        return;
    e->code[0] = '\0';
    e->message[0] = '\0';
}

const char *tg_strerror(int rc) {
    switch (rc) {
    case TG_OK:
        return "OK";
    case TG_ENOMEM:
        return "ENOMEM";
    case TG_EINVAL:
        return "EINVAL";
    case TG_ENOTFOUND:
        return "ENOTFOUND";
    case TG_ERANGE:
        return "ERANGE";
    case TG_EIO:
        return "EIO";
    case TG_EBUSY:
        return "EBUSY";
    case TG_ESTATE:
        return "ESTATE";
    case TG_ECANCELED:
        return "ECANCELED";
    default:
        return "EINTERNAL";
    }
}

long long tg_now_us(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

double tg_now_ms(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#ifdef TG_DEBUG
void tg_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "toolgym: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
#endif

const char *tg_name_of(const char *const *names, size_t n, int i) {
    return i >= 0 && (size_t)i < n ? names[i] : "?";
}

void tg_copy_cut(char *dst, size_t n, const char *src) {
    size_t len = src ? strnlen(src, n - 1) : 0;

    memmove(dst, src ? src : "", len);
    dst[len] = '\0';
}

int tg_name_index(const char *const *names, size_t n, const char *name) {
    for (size_t i = 0; name && i < n; i++)
        if (names[i] && strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}
