/*
 * calc.c — the calculator tool: a recursive-descent parser that evaluates as it parses
 * (no tree is built), the result formatter, and the tool_invoke_fn of "calculator".
 *
 * Every value stays finite: each operation is checked at once, so an infinite result is
 * reported as "overflow" and a NaN as "domain_error" at the operator that produced it.
 * Recursion happens only through parentheses, unary operators, function calls and the
 * exponent of '^' when it starts with a sign — each of those counts one level of nesting,
 * and nesting past TG_CALC_MAX_DEPTH fails before recursing further. Chains of binary
 * operators, including right-associative '^' chains, are evaluated with loops and a
 * bounded operand stack.
 *
 * It does not build an AST, cache anything, or know about HTTP or episodes.
 */
#include "tools/calc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_util.h"
#include "base/limits.h"
#include "base/num.h"

/* Each '^' operand is at least one byte and is followed by a '^', so this many can be
 * pending at once, across all nesting levels. */
#define POW_STACK_MAX (TG_CALC_MAX_LEN / 2 + 2)

/* Longest name quoted back in a message. */
#define NAME_QUOTE_MAX 32

struct parser {
    const char *s; /* the expression, NUL-terminated, at most TG_CALC_MAX_LEN bytes */
    size_t pos;    /* byte offset of the next unread character */
    int depth;     /* current nesting: parentheses, unary operators, calls */
    struct tg_error *err;
    struct calc_trace *tr; /* where literals and operation values are recorded, or NULL */
    size_t npow;           /* pending operands of '^' chains */
    double pow_val[POW_STACK_MAX];
    size_t pow_pos[POW_STACK_MAX]; /* offset of the '^' before each operand */
};

/* ---- functions and constants ------------------------------------------------------------ */

enum fn_kind { FN_UNARY, FN_MIN, FN_MAX, FN_ROUND };
enum fn_domain { DOM_ANY, DOM_NONNEG, DOM_POS };

struct calc_fn {
    const char *name;
    enum fn_kind kind;
    enum fn_domain domain;
    double (*f)(double);
};

static const struct calc_fn calc_fns[] = {
    {"sqrt", FN_UNARY, DOM_NONNEG, sqrt}, {"abs", FN_UNARY, DOM_ANY, fabs},
    {"log", FN_UNARY, DOM_POS, log10},    {"ln", FN_UNARY, DOM_POS, log},
    {"exp", FN_UNARY, DOM_ANY, exp},      {"sin", FN_UNARY, DOM_ANY, sin},
    {"cos", FN_UNARY, DOM_ANY, cos},      {"tan", FN_UNARY, DOM_ANY, tan},
    {"floor", FN_UNARY, DOM_ANY, floor},  {"ceil", FN_UNARY, DOM_ANY, ceil},
    {"round", FN_ROUND, DOM_ANY, round},  {"min", FN_MIN, DOM_ANY, NULL},
    {"max", FN_MAX, DOM_ANY, NULL},
};

struct calc_const {
    const char *name;
    double value;
};

static const struct calc_const calc_consts[] = {
    {"pi", 3.14159265358979323846264338327950288},
    {"e", 2.71828182845904523536028747135266250},
};

/* ---- lexing helpers ----------------------------------------------------------------------- */

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c) {
    return is_name_start(c) || is_digit(c);
}

/* Skip whitespace; return the next character without consuming it ('\0' at the end). */
static char peek(struct parser *p) {
    while (is_space(p->s[p->pos]))
        p->pos++;
    return p->s[p->pos];
}

/* Length of the name starting at s + pos (0 if none). */
static size_t name_len(const char *s, size_t pos) {
    size_t n = 0;

    if (!is_name_start(s[pos]))
        return 0;
    while (is_name_char(s[pos + n]))
        n++;
    return n;
}

/* Case-insensitive comparison of the name s[0..n) with the lowercase word w. */
static int name_is(const char *s, size_t n, const char *w) {
    size_t i;

    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (w[i] == '\0' || c != w[i])
            return 0;
    }
    return w[n] == '\0';
}

/* A printable description of what is at s + pos, for "unexpected ..." messages. The text
 * is always ASCII, so the message stays valid UTF-8 whatever the input holds. */
static void describe(const char *s, size_t pos, char *buf, size_t n) {
    unsigned char c = (unsigned char)s[pos];
    size_t len;

    if (c == '\0') {
        snprintf(buf, n, "end of expression");
    } else if (is_digit((char)c) || (c == '.' && is_digit(s[pos + 1]))) {
        for (len = 0; is_digit(s[pos + len]) || s[pos + len] == '.'; len++)
            ;
        snprintf(buf, n, "number '%.*s'", (int)(len > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : len),
                 s + pos);
    } else if (is_name_start((char)c)) {
        len = name_len(s, pos);
        snprintf(buf, n, "name '%.*s'", (int)(len > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : len),
                 s + pos);
    } else if (c > 0x20 && c < 0x7f) {
        snprintf(buf, n, "'%c'", c);
    } else {
        snprintf(buf, n, "byte 0x%02x", c);
    }
}

/* ---- errors --------------------------------------------------------------------------------- */

/* A syntax error: the message, then " at position N" (1-based). Returns TG_EINVAL. */
static int syntax_error(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int syntax_error(struct parser *p, size_t pos, const char *fmt, ...) {
    char what[TG_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    tg_error_set(p->err, "syntax_error", "%s at position %zu", what, pos + 1);
    return TG_EINVAL;
}

static int unexpected(struct parser *p, size_t pos) {
    char what[64];

    describe(p->s, pos, what, sizeof(what));
    return syntax_error(p, pos, "unexpected %s", what);
}

/* Check the result v of operation `op` at offset pos: NaN is a domain error, infinity an
 * overflow. Returns 0 or TG_EINVAL. */
static int check_result(struct parser *p, double v, const char *op, size_t pos) {
    if (isnan(v)) {
        tg_error_set(p->err, "domain_error", "result of %s at position %zu is not a real number",
                     op, pos + 1);
        return TG_EINVAL;
    }
    if (isinf(v)) {
        tg_error_set(p->err, "overflow", "result of %s at position %zu is too large", op, pos + 1);
        return TG_EINVAL;
    }
    return 0;
}

/* Enter one level of nesting at offset pos. Returns 0 or TG_EINVAL (too_complex). */
static int enter(struct parser *p, size_t pos) {
    if (p->depth >= TG_CALC_MAX_DEPTH) {
        tg_error_set(p->err, "too_complex",
                     "expression nests deeper than %d levels (parentheses, signs and function "
                     "calls) at position %zu",
                     TG_CALC_MAX_DEPTH, pos + 1);
        return TG_EINVAL;
    }
    p->depth++;
    return 0;
}

static void leave(struct parser *p) {
    TG_ASSERT(p->depth > 0);
    p->depth--;
}

/* Record a literal (kind 0) or the value of an operation (kind 1) in the trace, if any. */
static void trace(struct parser *p, int kind, double v) {
    struct calc_trace *t = p->tr;

    if (!t)
        return;
    if (kind == 0 && t->nlits < CALC_TRACE_MAX)
        t->lits[t->nlits++] = v;
    else if (kind == 1 && t->nops < CALC_TRACE_MAX)
        t->ops[t->nops++] = v;
    else
        t->truncated = 1;
}

/* ---- the grammar ---------------------------------------------------------------------------- */

static int parse_expr(struct parser *p, double *out);
static int parse_unary(struct parser *p, double *out);

/* A decimal number (digits, optional fraction and exponent; signs are unary operators). */
static int parse_number(struct parser *p, double *out) {
    size_t start = p->pos;
    const char *end;
    double v;
    int rc;

    rc = num_double_prefix(p->s + start, &end, &v);
    if (rc == TG_EINVAL) /* a lone '.' */
        return unexpected(p, start);
    if (rc) {
        tg_error_set(p->err, "overflow", "number at position %zu is too large", start + 1);
        return TG_EINVAL;
    }
    /* Underflow is accepted: the value is as close as a double gets. */
    p->pos = (size_t)(end - p->s);
    *out = v;
    trace(p, 0, v);
    return 0;
}

/* round(x, n): x rounded half away from zero to n decimal places (n an integer in
 * -CALC_ROUND_DIGITS_MAX..CALC_ROUND_DIGITS_MAX; negative n rounds to tens, hundreds...). */
static int apply_round(struct parser *p, double x, double n, size_t pos, double *out) {
    double scale, v;

    if (n != floor(n) || fabs(n) > CALC_ROUND_DIGITS_MAX) {
        char arg[32];

        calc_format(n, arg, sizeof(arg));
        tg_error_set(p->err, "domain_error",
                     "round() at position %zu takes a whole number of decimal places in -%d..%d, "
                     "not %s",
                     pos + 1, CALC_ROUND_DIGITS_MAX, CALC_ROUND_DIGITS_MAX, arg);
        return TG_EINVAL;
    }
    scale = pow(10, fabs(n));
    v = n >= 0 ? round(x * scale) / scale : round(x / scale) * scale;
    if (!isfinite(x * scale) && n >= 0)
        v = x; /* so large that it has no decimals to round */
    if (check_result(p, v, "round()", pos))
        return TG_EINVAL;
    *out = v;
    return 0;
}

static int apply_fn(struct parser *p, const struct calc_fn *fn, double x, size_t pos, double *out) {
    char op[NAME_QUOTE_MAX + 8];
    double v;

    snprintf(op, sizeof(op), "%s()", fn->name);
    if ((fn->domain == DOM_NONNEG && x < 0) || (fn->domain == DOM_POS && x <= 0)) {
        char arg[32];

        calc_format(x, arg, sizeof(arg));
        tg_error_set(p->err, "domain_error", "%s at position %zu is undefined for %s", op, pos + 1,
                     arg);
        return TG_EINVAL;
    }
    v = fn->f(x);
    if (check_result(p, v, op, pos))
        return TG_EINVAL;
    *out = v;
    return 0;
}

/* name '(' expr { ',' expr } ')' — p->pos is just past the name. */
static int parse_call(struct parser *p, const struct calc_fn *fn, size_t name_pos, double *out) {
    double acc = 0, v, digits = 0;
    int rc, nargs = 0;
    char c;

    rc = enter(p, name_pos);
    if (rc)
        return rc;
    if (peek(p) != '(')
        return syntax_error(p, p->pos, "expected '(' after '%s'", fn->name);
    p->pos++;
    for (;;) {
        rc = parse_expr(p, &v);
        if (rc)
            return rc;
        if (nargs == 0)
            acc = v;
        else if (fn->kind == FN_ROUND)
            digits = v;
        else if (fn->kind == FN_MIN)
            acc = v < acc ? v : acc;
        else
            acc = v > acc ? v : acc;
        nargs++;
        c = peek(p);
        if (c == ',' &&
            (fn->kind == FN_MIN || fn->kind == FN_MAX || (fn->kind == FN_ROUND && nargs == 1))) {
            p->pos++;
            continue;
        }
        if (c == ',')
            return syntax_error(p, p->pos, "%s takes %s; unexpected ','", fn->name,
                                fn->kind == FN_ROUND ? "one or two arguments" : "one argument");
        if (c != ')') {
            char what[64];

            describe(p->s, p->pos, what, sizeof(what));
            return syntax_error(p, p->pos, "expected ',' or ')' but found %s", what);
        }
        break;
    }
    if ((fn->kind == FN_MIN || fn->kind == FN_MAX) && nargs < 2)
        return syntax_error(p, p->pos, "%s needs at least two arguments", fn->name);
    p->pos++; /* ')' */
    leave(p);
    if (fn->kind == FN_MIN || fn->kind == FN_MAX) {
        *out = acc;
        rc = 0;
    } else if (fn->kind == FN_ROUND) {
        rc = apply_round(p, acc, nargs == 2 ? digits : 0, name_pos, out);
    } else {
        rc = apply_fn(p, fn, acc, name_pos, out);
    }
    if (!rc)
        trace(p, 1, *out);
    return rc;
}

static int parse_name(struct parser *p, double *out) {
    size_t start = p->pos, n = name_len(p->s, p->pos), i;
    const char *name = p->s + start;
    int is_call;

    p->pos += n;
    is_call = peek(p) == '(';
    for (i = 0; i < TG_ARRAY_LEN(calc_fns); i++)
        if (name_is(name, n, calc_fns[i].name))
            return parse_call(p, &calc_fns[i], start, out);
    if (!is_call) {
        for (i = 0; i < TG_ARRAY_LEN(calc_consts); i++) {
            if (name_is(name, n, calc_consts[i].name)) {
                *out = calc_consts[i].value;
                trace(p, 0, *out);
                return 0;
            }
        }
    }
    return syntax_error(p, start, "unknown %s '%.*s'", is_call ? "function" : "name",
                        (int)(n > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : n), name);
}

static int parse_primary(struct parser *p, double *out) {
    char c = peek(p);
    size_t open;
    int rc;

    if (is_digit(c) || c == '.')
        return parse_number(p, out);
    if (is_name_start(c))
        return parse_name(p, out);
    if (c != '(')
        return unexpected(p, p->pos);
    open = p->pos;
    rc = enter(p, open);
    if (rc)
        return rc;
    p->pos++;
    rc = parse_expr(p, out);
    if (rc)
        return rc;
    if (peek(p) != ')') {
        char what[64];

        describe(p->s, p->pos, what, sizeof(what));
        return syntax_error(p, p->pos, "expected ')' to close '(' at position %zu but found %s",
                            open + 1, what);
    }
    p->pos++;
    leave(p);
    return 0;
}

static int apply_pow(struct parser *p, double a, double b, size_t pos, double *out) {
    double v;

    if (a == 0 && b < 0) {
        tg_error_set(p->err, "division_by_zero", "zero raised to a negative power at position %zu",
                     pos + 1);
        return TG_EINVAL;
    }
    v = pow(a, b);
    if (check_result(p, v, "'^'", pos))
        return TG_EINVAL;
    *out = v;
    trace(p, 1, v);
    return 0;
}

/* primary { '^' primary } [ '^' unary ], folded from the right. */
static int parse_power(struct parser *p, double *out) {
    size_t base = p->npow, caret = 0, i;
    double v, acc;
    int rc;
    char c;

    for (;;) {
        c = peek(p);
        if (p->npow > base && (c == '-' || c == '+'))
            rc = parse_unary(p, &v); /* an exponent with a sign ends the chain */
        else
            rc = parse_primary(p, &v);
        if (rc)
            return rc;
        if (p->npow >= POW_STACK_MAX) /* unreachable within TG_CALC_MAX_LEN; kept as a guard */
            return syntax_error(p, p->pos, "too many '^' operands");
        p->pow_val[p->npow] = v;
        p->pow_pos[p->npow] = caret;
        p->npow++;
        if (c == '-' || c == '+')
            break;
        if (peek(p) != '^')
            break;
        caret = p->pos++;
    }
    acc = p->pow_val[p->npow - 1];
    for (i = p->npow - 1; i > base; i--) {
        rc = apply_pow(p, p->pow_val[i - 1], acc, p->pow_pos[i], &acc);
        if (rc)
            return rc;
    }
    p->npow = base;
    *out = acc;
    return 0;
}

static int parse_unary(struct parser *p, double *out) {
    char c = peek(p);
    size_t pos = p->pos;
    double v;
    int rc;

    if (c != '-' && c != '+')
        return parse_power(p, out);
    rc = enter(p, pos);
    if (rc)
        return rc;
    p->pos++;
    rc = parse_unary(p, &v);
    if (rc)
        return rc;
    leave(p);
    *out = c == '-' ? -v : v;
    return 0;
}

/* Binary operators by precedence level, loosest first; every level is left-associative. */
static const char *const binary_ops[] = {"+-", "*/%"};

/* *acc = *acc c v for the binary operator c at offset pos. */
static int apply_binary(struct parser *p, char c, size_t pos, double *acc, double v) {
    const char name[4] = {'\'', c, '\'', '\0'};

    if ((c == '/' || c == '%') && v == 0) {
        tg_error_set(p->err, "division_by_zero", "%s by zero at position %zu",
                     c == '/' ? "division" : "modulo", pos + 1);
        return TG_EINVAL;
    }
    switch (c) {
    case '+':
        *acc += v;
        break;
    case '-':
        *acc -= v;
        break;
    case '*':
        *acc *= v;
        break;
    case '/':
        *acc /= v;
        break;
    default:
        *acc = fmod(*acc, v);
        break;
    }
    if (check_result(p, *acc, name, pos))
        return TG_EINVAL;
    trace(p, 1, *acc);
    return 0;
}

/* level := next (op next)* with the operators of binary_ops[level], where next is the level
 * below; below the last level come unary signs. */
static int parse_binary(struct parser *p, size_t level, double *out) {
    double acc, v;
    size_t pos;
    int rc;
    char c;

    if (level == TG_ARRAY_LEN(binary_ops))
        return parse_unary(p, out);
    rc = parse_binary(p, level + 1, &acc);
    if (rc)
        return rc;
    for (;;) {
        c = peek(p);
        if (c == '\0' || !strchr(binary_ops[level], c))
            break;
        pos = p->pos++;
        rc = parse_binary(p, level + 1, &v);
        if (!rc)
            rc = apply_binary(p, c, pos, &acc, v);
        if (rc)
            return rc;
    }
    *out = acc;
    return 0;
}

static int parse_expr(struct parser *p, double *out) {
    return parse_binary(p, 0, out);
}

/* ---- exported ------------------------------------------------------------------------------- */

int calc_eval(const char *expr, double *out, struct tg_error *err) {
    return calc_eval_traced(expr, out, NULL, err);
}

/* The last expression this thread evaluated without error, its value and its trace: the
 * judge evaluates again the expression a calculator call has just evaluated on the same thread
 * (for its literals and operations), and calc_eval_traced is pure, so it answers from here. */
struct calc_memo {
    int valid;
    size_t len;
    char expr[TG_CALC_MAX_LEN + 1];
    double v;
    struct calc_trace tr;
};
static _Thread_local struct calc_memo memo;

int calc_eval_traced(const char *expr, double *out, struct calc_trace *tr, struct tg_error *err) {
    struct parser p;
    size_t len;
    double v;
    int rc;

    tg_error_clear(err);
    if (!expr) {
        tg_error_set(err, "syntax_error", "empty expression at position 1");
        return TG_EINVAL;
    }
    len = strnlen(expr, TG_CALC_MAX_LEN + 1);
    if (len > TG_CALC_MAX_LEN) {
        tg_error_set(err, "too_complex", "expression is longer than %d bytes", TG_CALC_MAX_LEN);
        return TG_EINVAL;
    }
    if (memo.valid && memo.len == len && memcmp(memo.expr, expr, len) == 0) {
        if (tr)
            *tr = memo.tr;
        *out = memo.v;
        return 0;
    }
    memo.valid = 0;
    p.s = expr;
    p.pos = 0;
    p.depth = 0;
    p.err = err;
    p.npow = 0;
    p.tr = &memo.tr; /* recorded there, and copied to *tr */
    memset(&memo.tr, 0, sizeof(memo.tr));
    if (tr)
        memset(tr, 0, sizeof(*tr));
    if (peek(&p) == '\0')
        return syntax_error(&p, p.pos, "empty expression");
    rc = parse_expr(&p, &v);
    if (tr)
        *tr = memo.tr; /* on error too: what was recorded before it */
    if (rc)
        return rc;
    if (peek(&p) != '\0')
        return unexpected(&p, p.pos);
    TG_ASSERT(p.depth == 0 && p.npow == 0 && isfinite(v));
    memcpy(memo.expr, expr, len);
    memo.len = len;
    memo.v = v;
    memo.valid = 1;
    *out = v;
    return 0;
}

int calc_format(double v, char *buf, size_t n) {
    int w;

    if (!buf || n == 0)
        return TG_ERANGE;
    if (v == 0)
        v = 0;                                            /* -0 prints as "0" */
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e15) { /* whole: its digits, no printf */
        char d[24], *p = d + sizeof(d);
        unsigned long long u = (unsigned long long)fabs(v);

        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            *--p = '-';
        w = (int)(d + sizeof(d) - p);
        if ((size_t)w < n) {
            memcpy(buf, p, (size_t)w);
            buf[w] = '\0';
        }
    } else
        w = snprintf(buf, n, "%.15g", v);
    if (w < 0 || (size_t)w >= n) {
        buf[0] = '\0';
        return TG_ERANGE;
    }
    return 0;
}

/* Fill *out as a tool-level failure from err. Returns 0 or TG_ENOMEM. */
static int fail_result(struct tool_result *out, const struct tg_error *err) {
    size_t n = strlen("error: : ") + strlen(err->code) + strlen(err->message) + 1;

    out->content = malloc(n);
    if (!out->content)
        return TG_ENOMEM;
    snprintf(out->content, n, "error: %s: %s", err->code, err->message);
    out->ok = 0;
    out->result = NULL;
    out->err = *err;
    return 0;
}

int calc_tool_invoke(const json_t *args, struct tg_cancel *cancel, struct tool_result *out) {
    /* Integral doubles in [-2^63, 2^63) convert to json_int_t exactly. */
    const double int_limit = 9223372036854775808.0;
    struct tg_error err;
    const json_t *jexpr;
    const char *expr;
    char text[64];
    json_t *jv;

    (void)cancel; /* a bounded, fast evaluation: nothing to abandon */
    double v;
    int rc;

    memset(out, 0, sizeof(*out));
    jexpr = json_object_get(args, "expression");
    expr = json_string_value(jexpr);
    if (!expr) {
        tg_error_set(&err, "syntax_error", "expression must be a string at position 1");
        return fail_result(out, &err);
    }
    if (strlen(expr) != json_string_length(jexpr)) {
        tg_error_set(&err, "syntax_error", "unexpected NUL byte at position %zu", strlen(expr) + 1);
        return fail_result(out, &err);
    }
    rc = calc_eval(expr, &v, &err);
    if (rc)
        return fail_result(out, &err);
    rc = calc_format(v, text, sizeof(text));
    if (rc)
        return TG_EINTERNAL; /* 64 bytes always hold "%.15g" of a finite double */
    if (v == floor(v) && v >= -int_limit && v < int_limit)
        jv = json_integer((json_int_t)v);
    else
        jv = json_real(v);
    out->result = jsonu_with(json_object(), "value", jv);
    out->content = strdup(text);
    if (!out->result || !out->content)
        goto fail;
    out->ok = 1;
    return 0;
fail:
    json_decref(out->result);
    free(out->content);
    memset(out, 0, sizeof(*out));
    return TG_ENOMEM;
}

const char calc_schema_json[] =
    "{\"type\":\"object\","
    "\"properties\":{\"expression\":{\"type\":\"string\","
    "\"description\":\"Arithmetic expression, e.g. (3.5 + 2) * sqrt(16) - 2^10 % 7. Operators "
    "+ - * / % ^ and parentheses; functions sqrt abs log (base 10) ln exp sin cos tan floor "
    "ceil round min max (round(x) to a whole number, round(x, n) to n decimal places); "
    "constants pi and e; at most 1024 bytes.\"}},"
    "\"required\":[\"expression\"],\"additionalProperties\":false}";

const char calc_description[] =
    "Evaluate an arithmetic expression exactly as written and return its numeric value. Use it "
    "for arithmetic you cannot do reliably in your head; it has no variables and no units. "
    "'^' is power and binds tighter than unary minus (-2^2 = -4); '%' is the floating-point "
    "remainder; angles are in radians.";

int calc_result_from_content(const char *content, json_t **result) {
    const double int_limit = 9007199254740992.0; /* 2^53, as calc_tool_invoke */
    char *end;
    double v;

    *result = NULL;
    errno = 0;
    v = strtod(content, &end);
    if (end == content || errno != 0 || *end != '\0' || !isfinite(v))
        return TG_EINVAL;
    if (v == floor(v) && v >= -int_limit && v < int_limit)
        *result = json_pack("{s:I}", "value", (json_int_t)v);
    else
        *result = json_pack("{s:f}", "value", v);
    return *result ? 0 : TG_ENOMEM;
}
