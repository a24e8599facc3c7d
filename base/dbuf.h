/*
 * dbuf.h — a growable byte buffer with a maximum, that fails cleanly past it.
 *
 * Modelled on the habit of curl's dynbuf: the caller names the most bytes the content may
 * hold; an append that would pass it, or that cannot get memory, frees the content and leaves
 * the buffer failed, so a half-built response is never used by mistake. The content is always
 * NUL-terminated, so text can be read in place; binary bytes are fine too (len counts them).
 *
 * Does: append bytes, strings and printf-formatted text; read one bounded line of a file;
 * hand the content over.
 * Does not: lock (one owner at a time), shrink, or open files.
 *
 * Use:
 *     struct dbuf b;
 *     dbuf_init(&b, TG_SOMETHING_MAX);
 *     dbuf_add(&b, data, n);      // 0, TG_ERANGE past the maximum, TG_ENOMEM
 *     ... b.p / b.len, or dbuf_take(&b) ...
 *     dbuf_free(&b);
 */
#ifndef TG_DBUF_H
#define TG_DBUF_H

#include <stddef.h>
#include <stdio.h>

struct dbuf {
    char *p;    /* the content followed by a NUL; NULL until the first append (and after a
                   failure or dbuf_free) */
    size_t len; /* content bytes, not counting the NUL; never more than max */
    size_t cap; /* bytes allocated at p */
    size_t max; /* the most content bytes the buffer will hold */
    int err;    /* 0, or the failure that emptied it: TG_ERANGE (past max) or TG_ENOMEM */
};

/* dbuf_init — an empty buffer whose content may grow to max bytes. Allocates nothing. */
void dbuf_init(struct dbuf *b, size_t max);

/*
 * dbuf_add — append n bytes of data (borrowed; may be NULL when n is 0). Returns 0; or, when
 * len + n would pass max, TG_ERANGE; or TG_ENOMEM. On either failure the content is freed,
 * len is 0 and b->err keeps the code: every later append returns it at once, until
 * dbuf_free or dbuf_reset. Appending 0 bytes to a good buffer makes sure p is a string.
 */
int dbuf_add(struct dbuf *b, const void *data, size_t n);

/*
 * dbuf_room — make room for n more content bytes and return where they go (b->p + b->len), for
 * a writer that fills them in place; then dbuf_grew(b, k) counts the k <= n bytes it wrote.
 * Returns NULL on the failures of dbuf_add (past max: n is checked against it exactly as an
 * append of n bytes would be; out of memory), with the buffer failed the same way.
 */
char *dbuf_room(struct dbuf *b, size_t n);

/* dbuf_grew — count k bytes written at dbuf_room's pointer (k at most the n asked for) and
 * end the content with a NUL. */
void dbuf_grew(struct dbuf *b, size_t k);

/* dbuf_add_str — dbuf_add of a NUL-terminated string (without its NUL). */
int dbuf_add_str(struct dbuf *b, const char *s);

/* dbuf_add_fmt — append printf-formatted text; the same returns as dbuf_add (and TG_EINVAL,
 * failing the buffer, if the format itself fails). */
int dbuf_add_fmt(struct dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * dbuf_write_cb — an fwrite-shaped callback (libcurl's CURLOPT_WRITEFUNCTION, with the
 * struct dbuf as its user data) that appends size * nmemb bytes. Returns that count, or 0
 * when the buffer fails (past its max, or out of memory), which makes libcurl abort the
 * transfer; b->err then says which.
 */
size_t dbuf_write_cb(char *ptr, size_t size, size_t nmemb, void *b);

/*
 * dbuf_getline — empty b, then read the next line of f (borrowed) into it without its '\n'
 * (a line may hold any bytes, NUL included). Returns 1 for a line ended by '\n', 2 for a last
 * line that ends at EOF without one, 0 at EOF with nothing read; TG_ERANGE when the line is
 * longer than b->max (the rest of it is read and dropped, and b stays failed until the next
 * call), TG_EIO on a read error, TG_ENOMEM. The reader every line-oriented file format of
 * toolgym shares.
 */
int dbuf_getline(struct dbuf *b, FILE *f);

/* dbuf_str — the content as a string (borrowed; "" when empty or failed). */
const char *dbuf_str(const struct dbuf *b);

/*
 * dbuf_take — hand over the content: a new NUL-terminated string the caller frees (an empty
 * one when nothing was added), with *len (may be NULL) its length. The buffer is left empty
 * and usable. Returns NULL when the buffer has failed (it stays failed) or on out of memory.
 */
char *dbuf_take(struct dbuf *b, size_t *len);

/* dbuf_reset — empty the content but keep its memory for reuse; clears a failure. */
void dbuf_reset(struct dbuf *b);

/* dbuf_free — free the content; the buffer is empty (same max) and usable again. Accepts a
 * buffer that was never added to. */
void dbuf_free(struct dbuf *b);

#endif
