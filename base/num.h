/*
 * num.h — bounded number parsing for command-line options, query parameters and text.
 *
 * One place that turns a string into a number the strict way: the whole string must be the
 * number (no leading spaces, nothing after it), overflow is an error rather than a clamp, and
 * the value must lie in the range the caller names. Built on strtol/strtoull/strtod with the
 * end-pointer and errno checks they need.
 *
 * Does not: print anything, know option names, or parse JSON documents (jansson does that);
 * num_double_prefix is for scanning numbers inside text the caller has already delimited.
 * Every function is pure and thread-safe; *out is written only on success.
 */
#ifndef TG_NUM_H
#define TG_NUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * num_long — s is a whole decimal integer: an optional '+' or '-', then one or more digits,
 * then the end of the string. Returns 0 with *out set when it lies in [lo, hi]; TG_EINVAL
 * when s is NULL, empty or not such a number; TG_ERANGE when it is a number outside [lo, hi]
 * (including one too large for a long).
 */
int num_long(const char *s, long lo, long hi, long *out);

/*
 * num_long_list — s is a list of whole decimal integers, each in [lo, hi], separated by a
 * comma or by spaces ("1,8,64", "4 8 12 16", "1, 2"; empty items are not allowed). Returns 0 with
 * out[0..*n) set (1 <= *n <= max); TG_EINVAL when s is NULL, empty or an item is not a number;
 * TG_ERANGE when an item is outside [lo, hi] or there are more than max items. On failure
 * *n and out are unspecified.
 */
int num_long_list(const char *s, long lo, long hi, long *out, size_t max, size_t *n);

/*
 * num_u64 — s is a whole unsigned decimal integer: an optional '+', then digits, then the end
 * of the string (a '-' is rejected, never wrapped around as strtoull would). Returns 0 with
 * *out set when it is at most max; TG_EINVAL for NULL, empty or malformed; TG_ERANGE past max
 * or past UINT64_MAX.
 */
int num_u64(const char *s, uint64_t max, uint64_t *out);

/*
 * num_double — s is a whole decimal floating-point number as strtod reads it ("0.5", "-3",
 * "1e-4"), with no leading spaces and nothing after it; "nan", "inf" and hexadecimal forms are
 * rejected. Returns 0 with *out set when the value lies in [lo, hi]; TG_EINVAL for NULL,
 * empty or malformed; TG_ERANGE for a value outside [lo, hi] or one that overflows a double.
 * A value that underflows to (nearly) zero is accepted as the nearest double.
 */
int num_double(const char *s, double lo, double hi, double *out);

/*
 * num_double_prefix — read the decimal number that starts at s (digits, optional fraction and
 * exponent, optional leading sign; no spaces, "nan", "inf" or hex) and set *end just past it.
 * Returns 0 with *out set; TG_EINVAL (with *end = s) when s does not start with such a
 * number; TG_ERANGE (with *end past the number) when it overflows a double.
 */
int num_double_prefix(const char *s, const char **end, double *out);

#endif
