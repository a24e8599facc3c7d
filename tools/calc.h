/*
 * calc.h — the calculator tool: a recursive-descent parser and evaluator of arithmetic
 * expressions over doubles, the formatter of its results, and its row data for the tool
 * registry (schema, description, invoke callback).
 *
 * Grammar (lowest precedence first; whitespace allowed between tokens):
 *   expr    := term { ('+' | '-') term }
 *   term    := unary { ('*' | '/' | '%') unary }          % is fmod
 *   unary   := ('-' | '+') unary | power
 *   power   := primary [ '^' unary ]                       right-associative; -2^2 = -4
 *   primary := number | constant | name '(' expr { ',' expr } ')' | '(' expr ')'
 *   number  := digits [ '.' [digits] ] [ ('e'|'E') ['+'|'-'] digits ] | '.' digits [...]
 * Functions: sqrt abs log (base 10) ln exp sin cos tan floor ceil (one argument), round (x, or
 * x and a whole number n of decimal places in -15..15: half away from zero), min max (two or
 * more). Constants: pi, e. Names are matched case-insensitively.
 *
 * It does not do variables, assignment, implicit multiplication, integers beyond doubles or
 * anything locale-dependent. Input is bounded by TG_CALC_MAX_LEN bytes and TG_CALC_MAX_DEPTH
 * levels of nesting (server/limits.h); recursion depth is bounded by the nesting limit.
 */
#ifndef TG_CALC_H
#define TG_CALC_H

#include <stddef.h>

#include "base/tg.h"
#include "tools/tools.h"

/*
 * calc_eval — parse and evaluate expr (borrowed, NUL-terminated). On success returns 0 and
 * stores the finite value in *out. On bad input returns TG_EINVAL and fills *err (may be
 * NULL) with code "syntax_error" (the message ends "at position N", N the 1-based byte
 * offset), "division_by_zero", "domain_error", "overflow" or "too_complex"; *out is untouched.
 * Pure; thread-safe (no global state). Stack use is bounded: under 64 KB at the nesting limit.
 */
int calc_eval(const char *expr, double *out, struct tg_error *err);

#define CALC_TRACE_MAX        64 /* literals and operation values a trace keeps */
#define CALC_ROUND_DIGITS_MAX 15 /* |n| of round(x, n) */

/* What an evaluation computed, for the judge: the expression's number literals and constants
 * (unsigned, in order) and the value of every operation (binary operators, '^', functions; not
 * unary signs) in evaluation order, the last being the outermost. At most CALC_TRACE_MAX of
 * each; truncated is set when more were dropped. */
struct calc_trace {
    double lits[CALC_TRACE_MAX];
    size_t nlits;
    double ops[CALC_TRACE_MAX];
    size_t nops;
    int truncated;
};

/* calc_eval_traced — calc_eval that also fills *tr (may be NULL; zeroed first). Same returns;
 * on error *tr holds what was recorded before it. Pure; thread-safe. */
int calc_eval_traced(const char *expr, double *out, struct calc_trace *tr, struct tg_error *err);

/*
 * calc_format — write v into buf (n bytes, NUL-terminated): integer values with |v| < 1e15
 * without a fractional part ("42", "-7", and "0" for -0), others with up to 15 significant
 * digits and no trailing zeros ("2.5", "0.333333333333333", "1e+20", "nan", "inf").
 * Returns 0, or TG_ERANGE if buf is too small (buf then holds "" when n > 0). Thread-safe.
 */
int calc_format(double v, char *buf, size_t n);

/*
 * calc_tool_invoke — the tool_invoke_fn of "calculator" (see tools.h). args (borrowed) is a
 * schema-valid {"expression": string}. Fills *out: on success ok=1, content = the formatted
 * value (new), result = new {"value": number} (an integer when the value is integral and
 * fits in json_int_t, else a real). On a tool-level error ok=0, err filled, content =
 * "error: <code>: <message>" (new), result NULL. Returns 0, or TG_ENOMEM with *out cleared.
 * Thread-safe.
 */
int calc_tool_invoke(const json_t *args, struct tg_cancel *cancel, struct tool_result *out);

/* calc_result_from_content — {"value"} from a successful call's text (the value as
 * calc_format writes it). 0 with *result new, or TG_EINVAL. Pure. */
int calc_result_from_content(const char *content, json_t **result);

/* The registry row's JSON Schema of the arguments and its description (static strings). */
extern const char calc_schema_json[];
extern const char calc_description[];

#endif
