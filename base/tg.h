/*
 * tg.h — toolgym's shared error vocabulary: status codes, the caller-owned error struct,
 * and the internal-invariant assertion.
 *
 * Functions return 0 or a negative enum tg_err. Details for a human (or an API client) go in
 * a caller-owned struct tg_error, like jansson's json_error_t: a short machine code that the
 * HTTP layer or a tool response carries verbatim ("syntax_error", "invalid_request", ...) and
 * a one-sentence message.
 */
#ifndef TG_H
#define TG_H

#include <stddef.h>

enum tg_err {
    TG_OK = 0,
    TG_ENOMEM = -1,    /* out of memory: fail the request */
    TG_EINVAL = -2,    /* bad input from a client: the error struct says why */
    TG_ENOTFOUND = -3, /* unknown tool, task, episode */
    TG_ERANGE = -4,    /* a value or size past a limit */
    TG_EIO = -5,       /* file or network I/O failed */
    TG_EBUSY = -6,     /* a bounded queue is full */
    TG_ESTATE = -7,    /* operation not allowed in the current state (episode done) */
    TG_EINTERNAL = -8, /* a bug */
    TG_ECANCELED = -9, /* the work was abandoned (its client went away) */
};

/*
 * The one spelling of the three codes every layer uses in struct tg_error.code, so an
 * out-of-memory, I/O or configuration failure reads the same whichever module reports it
 * (scripts/lint.sh rejects the literal spellings in product code). Messages of the first kind
 * start with "out of memory"; the others name the file or the setting.
 */
#define TG_CODE_NOMEM  "out_of_memory"  /* with TG_ENOMEM */
#define TG_CODE_IO     "io_error"       /* a file or stream could not be read or written */
#define TG_CODE_CONFIG "invalid_config" /* a setting or config file value is not accepted */

#define TG_ERR_CODE_MAX 32
#define TG_ERR_MSG_MAX  256

struct tg_error {
    char code[TG_ERR_CODE_MAX];   /* machine-readable, e.g. "syntax_error" */
    char message[TG_ERR_MSG_MAX]; /* one sentence for a human or a model */
};

/*
 * tg_error_set — fill *e (may be NULL: then nothing happens) with a code and a printf-style
 * message, truncating both to fit. Thread-safe.
 */
void tg_error_set(struct tg_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tg_error_clear — empty code and message. */
void tg_error_clear(struct tg_error *e);

/* tg_strerror — a static name for a tg_err value ("ENOMEM", ...). */
const char *tg_strerror(int rc);

/* tg_name_of — names[i] when 0 <= i < n, else "?": an enum value by its name. Pure. */
const char *tg_name_of(const char *const *names, size_t n, int i);

/* tg_name_index — the index of name (may be NULL) among names[0..n), or -1. Pure. */
int tg_name_index(const char *const *names, size_t n, const char *name);

/* tg_copy_cut — src (NULL: "") into dst of n > 0 bytes, cut to n - 1 bytes and terminated:
 * snprintf(dst, n, "%s", src) without printf's cost (it is on every request's path). */
void tg_copy_cut(char *dst, size_t n, const char *src);

/* tg_now_us / tg_now_ms — CLOCK_MONOTONIC time. */
long long tg_now_us(void);
double tg_now_ms(void);

/*
 * TG_ASSERT — a broken internal invariant. On in debug and sanitizer builds (TG_DEBUG), where
 * it prints the location and aborts; compiled out otherwise. Never use it on agent input.
 */
#ifdef TG_DEBUG
void tg_assert_fail(const char *expr, const char *file, int line);
#define TG_ASSERT(x) ((x) ? (void)0 : tg_assert_fail(#x, __FILE__, __LINE__))
#else
#define TG_ASSERT(x) ((void)0)
#endif

#define TG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define TG_VERSION "0.1.0"

#endif
