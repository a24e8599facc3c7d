/*
 * run_code.c — the run_code tool: arguments to a sandbox run, the run to a tool result.
 *
 * Output bytes from the program are not trusted to be UTF-8: invalid sequences become
 * U+FFFD before they enter JSON. The text for the model (content, and the error message that
 * quotes stderr) is read as a C string downstream, so a NUL byte there becomes U+FFFD too and
 * never cuts it short; the result's stdout and stderr keep NUL bytes (JSON "\u0000").
 * This module does not start processes (sandbox.c does).
 */
#include "tools/run_code.h"

#include "tools/code_cache.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dbuf.h"
#include "base/json_util.h"
#include "base/limits.h"
#include "base/metrics.h"
#include "tools/sandbox.h"

const char run_code_description[] =
    "Run a Python 3 program (standard library only, no network, no files outside /tmp) and "
    "return its stdout and stderr. Print the values you need. Code and the optional stdin are "
    "at most 65536 bytes of UTF-8 each; timeout_ms defaults to 2000 (max 10000). Output beyond "
    "64 KiB per stream is cut.";

/* Sizes are bytes of UTF-8 (maxBytes, see base/schema.h), as the sandbox counts them:
 * TG_CODE_MAX_BYTES and TG_STDIN_MAX_BYTES (the sandbox suite checks they agree). */
const char run_code_schema_json[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"code\":{\"type\":\"string\",\"minLength\":1,\"maxBytes\":65536,"
    "\"description\":\"Python 3 source, at most 65536 bytes of UTF-8.\"},"
    "\"stdin\":{\"type\":\"string\",\"maxBytes\":65536,"
    "\"description\":\"Standard input, at most 65536 bytes of UTF-8.\"},"
    "\"timeout_ms\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10000}},"
    "\"required\":[\"code\"],\"additionalProperties\":false}";

/* Bytes of any text built here: both streams with every byte replaced by U+FFFD (3 bytes),
 * plus the notes after them. Reaching it means a bug, and fails the call as out of memory. */
#define RC_TEXT_MAX  (8 * TG_OUTPUT_MAX_BYTES + 4096)
#define RC_QUOTE_MAX 160 /* bytes of stderr's last line quoted in a runtime_error message */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    size_t len;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Append s (n bytes) with invalid UTF-8 replaced by U+FFFD. */
static void buf_add_utf8(struct dbuf *b, const char *s, size_t n) {
    size_t i = 0, start = 0;

    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);

        if (k) {
            i += k;
            continue;
        }
        dbuf_add(b, s + start, i - start);
        dbuf_add(b, "\xEF\xBF\xBD", 3);
        i++;
        start = i;
    }
    dbuf_add(b, s + start, i - start);
}

/* Append well-formed UTF-8 text s (n bytes) for the model, a NUL byte becoming U+FFFD. */
static void add_text(struct dbuf *b, const char *s, size_t n) {
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\0')
            continue;
        dbuf_add(b, s + start, i - start);
        dbuf_add(b, "\xEF\xBF\xBD", 3);
        start = i + 1;
    }
    dbuf_add(b, s + start, n - start);
}

/* The last non-empty line of s (n bytes) as [*line, *line + *len). */
static void last_line(const char *s, size_t n, const char **line, size_t *len) {
    size_t end = n, begin;

    while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r' || s[end - 1] == ' '))
        end--;
    begin = end;
    while (begin > 0 && s[begin - 1] != '\n')
        begin--;
    *line = s + begin;
    *len = end - begin;
}

static const char *signal_label(int sig) {
    switch (sig) {
    case SIGKILL:
        return "SIGKILL: killed, e.g. out of memory or a process limit";
    case SIGSYS:
        return "SIGSYS: a forbidden system call";
    case SIGSEGV:
        return "SIGSEGV: segmentation fault";
    case SIGXCPU:
        return "SIGXCPU: CPU time limit";
    case SIGABRT:
        return "SIGABRT: aborted";
    default:
        return "signal";
    }
}

/* Count one finished sandbox run in toolgym_sandbox_runs_total{result}, and, when the wall
 * clock or a signal ended it, in toolgym_sandbox_kills_total{reason}. Runs the sandbox could
 * not start and answers from the code cache are not runs. */
static void count_run(const struct sandbox_result *r) {
    const char *result = "ok", *reason = NULL;
    char labels[64];

    if (r->timed_out) {
        result = "timeout";
        reason = "timeout";
    } else if (r->over_memory) {
        result = "killed";
        reason = "memory";
    } else if (r->signal) {
        result = "killed";
        reason = r->signal == SIGSYS ? "seccomp" : r->signal == SIGXCPU ? "cpu_limit" : "signal";
    } else if (r->exit_code != 0) {
        result = "runtime_error";
    }
    snprintf(labels, sizeof(labels), "result=\"%s\"", result);
    metrics_inc("toolgym_sandbox_runs_total", labels, 1);
    if (reason) {
        snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
        metrics_inc("toolgym_sandbox_kills_total", labels, 1);
    }
}

static json_t *result_json(const struct sandbox_result *r, struct dbuf *so, struct dbuf *se) {
    dbuf_add(so, "", 0);
    dbuf_add(se, "", 0);
    if (so->err || se->err)
        return NULL;
    return json_pack("{s:s%, s:s%, s:i, s:i, s:b, s:b, s:f, s:f}", "stdout", so->p, so->len,
                     "stderr", se->p, se->len, "exit_code", r->exit_code, "signal", r->signal,
                     "timed_out", r->timed_out, "truncated", r->truncated, "wall_ms", r->wall_ms,
                     "cpu_ms", r->cpu_ms);
}

static int fail_simple(struct tool_result *out, const char *code, const char *msg) {
    struct dbuf c;

    dbuf_init(&c, RC_TEXT_MAX);
    dbuf_add_fmt(&c, "error: %s", msg);
    out->content = dbuf_take(&c, NULL);
    if (!out->content)
        return TG_ENOMEM;
    out->ok = 0;
    tg_error_set(&out->err, code, "%s", msg);
    return 0;
}

int run_code_tool_invoke(const json_t *args, struct tg_cancel *cancel, struct tool_result *out) {
    struct sandbox_request rq;
    struct sandbox_result r;
    struct dbuf so, se, content;
    struct tg_error err;
    const json_t *v;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&rq, 0, sizeof(rq));
    tg_error_clear(&err);
    dbuf_init(&so, RC_TEXT_MAX);
    dbuf_init(&se, RC_TEXT_MAX);
    dbuf_init(&content, RC_TEXT_MAX);
    v = json_object_get(args, "code");
    rq.code = json_string_value(v);
    rq.code_len = rq.code ? json_string_length(v) : 0;
    rq.cancel = cancel;
    v = json_object_get(args, "stdin");
    if (json_is_string(v)) {
        rq.stdin_data = json_string_value(v);
        rq.stdin_len = json_string_length(v);
    }
    v = json_object_get(args, "timeout_ms");
    if (json_is_integer(v)) {
        json_int_t t = json_integer_value(v);

        rq.timeout_ms = t < 1                        ? -1
                        : t > TG_CODE_TIMEOUT_MAX_MS ? TG_CODE_TIMEOUT_MAX_MS + 1
                                                     : (int)t;
    }
    if (rq.code && memchr(rq.code, '\0', rq.code_len))
        return fail_simple(out, "runtime_error",
                           "SyntaxError: source code cannot contain null bytes");
    rc = code_cache_get(rq.code, rq.code_len, rq.stdin_data, rq.stdin_len, rq.timeout_ms, out);
    if (rc == 1)
        return 0;
    if (rc)
        return rc;
    rc = sandbox_run(&rq, &r, &err);
    if (rc == TG_ENOMEM || rc == TG_ECANCELED)
        return rc;
    if (rc)
        return fail_simple(out, err.code, err.message);
    count_run(&r);

    buf_add_utf8(&so, r.out, r.out_len);
    buf_add_utf8(&se, r.err, r.err_len);
    out->result = result_json(&r, &so, &se);
    if (!out->result) {
        rc = TG_ENOMEM;
        goto fail;
    }
    /* Text for the model: stdout, then stderr, then what went wrong. */
    add_text(&content, so.p, so.len);
    if (se.len) {
        if (content.len && content.p[content.len - 1] != '\n')
            dbuf_add(&content, "\n", 1);
        dbuf_add(&content, "[stderr]\n", 9);
        add_text(&content, se.p, se.len);
    }
    if (content.len && content.p[content.len - 1] != '\n')
        dbuf_add(&content, "\n", 1);
    if (r.truncated)
        dbuf_add_fmt(&content, "[output truncated: more than %d bytes on a stream]\n",
                     TG_OUTPUT_MAX_BYTES);
    if (r.timed_out) {
        dbuf_add_fmt(&content, "[timed out after %d ms]\n",
                     rq.timeout_ms ? rq.timeout_ms : TG_CODE_TIMEOUT_DEFAULT_MS);
        tg_error_set(&out->err, "timeout", "the program ran past its %d ms time limit",
                     rq.timeout_ms ? rq.timeout_ms : TG_CODE_TIMEOUT_DEFAULT_MS);
    } else if (r.over_memory) {
        dbuf_add_fmt(&content, "[killed: the program's processes held more than %lu MiB]\n",
                     (unsigned long)(TG_CODE_MEM_BYTES >> 20));
        tg_error_set(&out->err, "killed",
                     "the program was killed: its processes held more than %lu MiB of memory "
                     "together",
                     (unsigned long)(TG_CODE_MEM_BYTES >> 20));
    } else if (r.signal) {
        dbuf_add_fmt(&content, "[killed by signal %d (%s)]\n", r.signal, signal_label(r.signal));
        tg_error_set(&out->err, "killed", "the program was killed by signal %d (%s)", r.signal,
                     signal_label(r.signal));
    } else if (r.exit_code != 0) {
        const char *line;
        struct dbuf quote;
        size_t len;

        last_line(se.p ? se.p : "", se.len, &line, &len);
        dbuf_add_fmt(&content, "[exit code %d]\n", r.exit_code);
        /* quoted without NUL bytes and cut on a character boundary, so the message stays
         * UTF-8 (JSON refuses half a character) */
        dbuf_init(&quote, RC_TEXT_MAX);
        add_text(&quote, line, len);
        len = quote.p ? jsonu_utf8_prefix(quote.p, quote.len, RC_QUOTE_MAX) : 0;
        tg_error_set(&out->err, "runtime_error", "exit code %d%s%.*s", r.exit_code, len ? ": " : "",
                     (int)len, quote.p ? quote.p : "");
        dbuf_free(&quote);
    }
    if (!content.len)
        dbuf_add(&content, "(no output)\n", 12);
    out->content = dbuf_take(&content, NULL);
    if (!out->content) {
        rc = TG_ENOMEM;
        goto fail;
    }
    out->ok = !r.timed_out && !r.signal && r.exit_code == 0;
    rc = 0;
    if (!r.timed_out && !r.signal) /* it finished on its own: the same program gives the same */
        code_cache_put(rq.code, rq.code_len, rq.stdin_data, rq.stdin_len, rq.timeout_ms, out);
fail:
    if (rc) {
        json_decref(out->result);
        out->result = NULL;
    }
    dbuf_free(&content);
    dbuf_free(&so);
    dbuf_free(&se);
    sandbox_result_free(&r);
    return rc;
}

int run_code_result_from_content(const char *content, json_t **result) {
    static const char trunc[] = "[output truncated:";
    const char *err = strstr(content, "[stderr]\n"), *cut = strstr(content, trunc);
    size_t out_len = strlen(content), err_len = 0;
    const char *err_p = "";

    *result = NULL;
    if (strcmp(content, "(no output)\n") == 0 || strcmp(content, "(no output)") == 0)
        out_len = 0;
    /* the markers start lines: at the text's start, or after a newline */
    while (err && err != content && err[-1] != '\n')
        err = strstr(err + 1, "[stderr]\n");
    while (cut && cut != content && cut[-1] != '\n')
        cut = strstr(cut + 1, trunc);
    if (err) {
        out_len = (size_t)(err - content);
        err_p = err + 9;
        err_len = cut && cut > err ? (size_t)(cut - err_p) : strlen(err_p);
    } else if (cut) {
        out_len = (size_t)(cut - content);
    }
    *result =
        json_pack("{s:s%, s:s%, s:i, s:i, s:b, s:b}", "stdout", content, out_len, "stderr", err_p,
                  err_len, "exit_code", 0, "signal", 0, "timed_out", 0, "truncated", cut != NULL);
    return *result ? 0 : TG_ENOMEM;
}
