/*
 * docrun.c — tested documentation (see docrun.h): extract the commands of markdown files,
 * match their output against what the doc shows, and run whole files as sessions against real
 * servers started from the binary under test. Test-only code: it starts processes freely.
 */
#include "docrun.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/dbuf.h"

extern char **environ;

#define ELLIPSIS        "\xE2\x80\xA6" /* U+2026 in UTF-8 */
#define CMD_TIMEOUT_S   300            /* one command (a short training run under ASan) */
#define SERVE_TIMEOUT_S 60             /* a server's start (sandbox probes) or stop */
#define MAX_SERVERS     8
#define MSG_MAX         4096
#define SHOW_MAX        1500         /* output bytes quoted in a message */
#define TEXT_MAX        (256u << 20) /* a doc, a command, an output */

/* ---- small text helpers ------------------------------------------------------------------- */

static int starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    struct dbuf b;
    char buf[8192];
    size_t n;

    if (!f)
        return NULL;
    dbuf_init(&b, TEXT_MAX);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        dbuf_add(&b, buf, n);
    fclose(f);
    return dbuf_take(&b, NULL);
}

static void report_f(doc_report_fn report, void *ud, const char *file, int line, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static void report_f(doc_report_fn report, void *ud, const char *file, int line, const char *fmt,
                     ...) {
    char msg[MSG_MAX];
    va_list ap;

    if (!report)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    report(ud, file, line, msg);
}

/* ---- extraction ----------------------------------------------------------------------------- */

static int is_command(const char *s) {
    static const char *progs[] = {"curl", "toolgym", "build/toolgym", "./build/toolgym"};

    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        size_t n = strlen(progs[i]);

        if (strncmp(s, progs[i], n) == 0 && (s[n] == ' ' || s[n] == '\0' || s[n] == '\n'))
            return 1;
    }
    return 0;
}

/* The end of the code part of one shell line (before an unquoted "# comment"), trailing
 * blanks excluded. */
static size_t code_len(const char *s, size_t n) {
    char q = 0;
    size_t i, end;

    for (i = 0; i < n; i++) {
        if (q) {
            if (s[i] == q)
                q = 0;
        } else if (s[i] == '\'' || s[i] == '"') {
            q = s[i];
        } else if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
            break;
        }
    }
    end = i;
    while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    return end;
}

struct lines {
    const char **p; /* line starts */
    size_t *len;    /* without the newline */
    size_t n;
};

static int split_lines(const char *s, struct lines *l) {
    size_t cap = 64;

    l->n = 0;
    l->p = malloc(cap * sizeof(*l->p));
    l->len = malloc(cap * sizeof(*l->len));
    if (!l->p || !l->len)
        return -1;
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);

        if (l->n == cap) {
            const char **np = realloc(l->p, 2 * cap * sizeof(*l->p));
            size_t *nl;

            if (!np)
                return -1;
            l->p = np;
            nl = realloc(l->len, 2 * cap * sizeof(*l->len));
            if (!nl)
                return -1;
            l->len = nl;
            cap *= 2;
        }
        l->p[l->n] = s;
        l->len[l->n] = len && s[len - 1] == '\r' ? len - 1 : len;
        l->n++;
        s += len + (e ? 1 : 0);
    }
    return 0;
}

static void lines_free(struct lines *l) {
    free(l->p);
    free(l->len);
}

static size_t indent_of(const char *s, size_t n) {
    size_t i = 0;

    while (i < n && s[i] == ' ')
        i++;
    return i;
}

/* The tag of a fence line ("```sh" → "sh"), or NULL when the line is no fence. */
static int fence(const char *s, size_t n, char *tag, size_t tagn) {
    size_t i = indent_of(s, n), k = 0;

    if (n - i < 3 || strncmp(s + i, "```", 3) != 0)
        return 0;
    for (i += 3; i < n && s[i] != ' ' && k + 1 < tagn; i++)
        tag[k++] = s[i];
    tag[k] = '\0';
    return 1;
}

static int copyable_outside_sh(const char *s, size_t n) {
    char line[64];
    size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

    memcpy(line, s, k);
    line[k] = '\0';
    if (starts(line, "$ "))
        return is_command(line + 2);
    return starts(line, "curl ");
}

int doc_extract(const char *file, const char *md, struct doc_cmd **out, size_t *n,
                doc_report_fn report, void *ud) {
    struct lines l;
    struct doc_cmd *cmds = NULL;
    size_t ncmds = 0, cap = 0, fence_ind = 0;
    int in_fence = 0, sh = 0, rc = -1;
    char tag[32];

    *out = NULL;
    *n = 0;
    if (split_lines(md, &l) != 0)
        goto done;
    for (size_t i = 0; i < l.n; i++) {
        const char *s = l.p[i];
        size_t len = l.len[i], ind = indent_of(s, len), cut;
        struct dbuf text, expect;
        struct doc_cmd *c;

        dbuf_init(&text, TEXT_MAX);
        dbuf_init(&expect, TEXT_MAX);
        if (!in_fence) {
            if (fence(s, len, tag, sizeof(tag))) {
                in_fence = 1;
                fence_ind = ind;
                sh =
                    strcmp(tag, "sh") == 0 || strcmp(tag, "bash") == 0 || strcmp(tag, "shell") == 0;
            }
            continue;
        }
        if (fence(s, len, tag, sizeof(tag)) && tag[0] == '\0') {
            in_fence = 0;
            continue;
        }
        cut = ind < fence_ind ? ind : fence_ind;
        s += cut;
        len -= cut;
        if (!sh) {
            if (copyable_outside_sh(s, len))
                report_f(report, ud, file, (int)i + 1,
                         "a command a user could copy sits in a ``` block not tagged sh, so it "
                         "is not tested: make it an ```sh block with its output as # lines");
            continue;
        }
        {
            char head[32];
            size_t k = len < sizeof(head) - 1 ? len : sizeof(head) - 1;

            memcpy(head, s, k);
            head[k] = '\0';
            if (!is_command(head))
                continue;
        }
        if (ncmds == cap) {
            struct doc_cmd *nc = realloc(cmds, (cap ? 2 * cap : 16) * sizeof(*cmds));

            if (!nc)
                goto done;
            cmds = nc;
            cap = cap ? 2 * cap : 16;
        }
        c = &cmds[ncmds];
        memset(c, 0, sizeof(*c));
        c->line = (int)i + 1;
        /* the command and its continuation lines */
        for (;;) {
            dbuf_add(&text, s, len);
            if (!len || s[len - 1] != '\\' || i + 1 >= l.n)
                break;
            dbuf_add(&text, "\n", 1);
            i++;
            s = l.p[i] +
                (indent_of(l.p[i], l.len[i]) < fence_ind ? indent_of(l.p[i], l.len[i]) : fence_ind);
            len = l.len[i] - (size_t)(s - l.p[i]);
        }
        {
            size_t code = code_len(s, len);

            c->background = code > 0 && s[code - 1] == '&' && (code < 2 || s[code - 2] != '&');
        }
        /* its output: the # lines right after it */
        while (i + 1 < l.n) {
            const char *o = l.p[i + 1];
            size_t olen = l.len[i + 1], oind = indent_of(o, olen);

            if (oind != fence_ind && !(oind < fence_ind && oind == olen))
                break;
            o += oind;
            olen -= oind;
            if (!olen || o[0] != '#')
                break;
            o++;
            olen--;
            if (olen && o[0] == ' ') {
                o++;
                olen--;
            }
            if (expect.len)
                dbuf_add(&expect, "\n", 1);
            dbuf_add(&expect, o, olen);
            i++;
        }
        c->text = dbuf_take(&text, NULL);
        c->expect = dbuf_take(&expect, NULL);
        ncmds++;
        if (!c->text || !c->expect)
            goto done;
        /* a final "[exit N]" line is the exit status, not output */
        {
            char *last = strrchr(c->expect, '\n');
            int code, used = 0;

            last = last ? last + 1 : c->expect;
            if (sscanf(last, "[exit %d]%n", &code, &used) == 1 && last[used] == '\0') {
                c->expect_exit = code;
                last[last == c->expect ? 0 : -1] = '\0';
            }
        }
    }
    rc = 0;
done:
    lines_free(&l);
    if (rc) {
        doc_cmds_free(cmds, ncmds);
        return -1;
    }
    *out = cmds;
    *n = ncmds;
    return 0;
}

void doc_cmds_free(struct doc_cmd *c, size_t n) {
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].text);
        free(c[i].expect);
    }
    free(c);
}

/* ---- matching ------------------------------------------------------------------------------- */

/* Length of the number at s that is exactly k bytes long, or 0 when s[0..k) is no number. */
static int is_number(const char *s, size_t k) {
    size_t i = 0, d = 0;

    if (i < k && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < k && s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (!d)
        return 0;
    if (i < k && s[i] == '.') {
        size_t f = 0;

        i++;
        while (i < k && s[i] >= '0' && s[i] <= '9')
            i++, f++;
        if (!f)
            return 0;
    }
    if (i < k && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;

        i++;
        if (i < k && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < k && s[i] >= '0' && s[i] <= '9')
            i++, e++;
        if (!e)
            return 0;
    }
    return i == k;
}

static int is_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Does the whole line s match pattern p (both NUL-terminated)? */
static int match_line(const char *p, const char *s) {
    while (*p) {
        if (starts(p, ELLIPSIS)) {
            p += strlen(ELLIPSIS);
            for (const char *t = s + strlen(s);; t--) {
                if (match_line(p, t))
                    return 1;
                if (t == s)
                    return 0;
            }
        }
        if (starts(p, "<id>")) {
            size_t n = 0;

            while (is_id_char(s[n]))
                n++;
            for (; n > 0; n--)
                if (match_line(p + 4, s + n))
                    return 1;
            return 0;
        }
        if (starts(p, "<num>")) {
            size_t n = strspn(s, "+-0123456789.eE");

            for (; n > 0; n--)
                if (is_number(s, n) && match_line(p + 5, s + n))
                    return 1;
            return 0;
        }
        if (starts(p, "<bool>")) {
            if (starts(s, "true"))
                return match_line(p + 6, s + 4);
            if (starts(s, "false"))
                return match_line(p + 6, s + 5);
            return 0;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *s == '\0';
}

/* NUL-terminated copies of the lines of s (trailing newlines dropped). */
static char **line_copies(const char *s, size_t *n) {
    struct lines l;
    char **v = NULL;
    size_t end;

    *n = 0;
    if (split_lines(s, &l) != 0)
        goto done;
    end = l.n;
    while (end > 0 && l.len[end - 1] == 0)
        end--;
    v = calloc(end + 1, sizeof(*v));
    if (!v)
        goto done;
    for (size_t i = 0; i < end; i++) {
        v[i] = strndup(l.p[i], l.len[i]);
        if (!v[i]) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            v = NULL;
            goto done;
        }
    }
    *n = end;
done:
    lines_free(&l);
    return v;
}

static void copies_free(char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

struct align {
    char **p, **a;
    size_t np, na;
    unsigned char *failed; /* (np+1) x (na+1): this state is known not to match */
};

static int match_from(struct align *m, size_t i, size_t j) {
    unsigned char *f = &m->failed[i * (m->na + 1) + j];
    int ok = 0;

    if (*f)
        return 0;
    if (i == m->np) {
        ok = j == m->na;
    } else if (strcmp(m->p[i], ELLIPSIS) == 0) {
        for (size_t k = j; k <= m->na && !ok; k++)
            ok = match_from(m, i + 1, k);
    } else {
        ok = j < m->na && match_line(m->p[i], m->a[j]) && match_from(m, i + 1, j + 1);
    }
    if (!ok)
        *f = 1;
    return ok;
}

/* Say where a greedy reading of the pattern first fails. */
static void explain(const struct align *m, char *why, size_t n) {
    size_t j = 0;
    int gap = 0;

    for (size_t i = 0; i < m->np; i++) {
        if (strcmp(m->p[i], ELLIPSIS) == 0) {
            gap = 1;
            continue;
        }
        if (gap) {
            size_t k = j;

            while (k < m->na && !match_line(m->p[i], m->a[k]))
                k++;
            if (k == m->na) {
                snprintf(why, n, "shown line %zu `%s` is not in the output (from line %zu on)",
                         i + 1, m->p[i], j + 1);
                return;
            }
            j = k + 1;
            gap = 0;
            continue;
        }
        if (j >= m->na) {
            snprintf(why, n, "shown line %zu `%s`: the output has only %zu lines", i + 1, m->p[i],
                     m->na);
            return;
        }
        if (!match_line(m->p[i], m->a[j])) {
            snprintf(why, n, "line %zu: shown `%s`, got `%s`", j + 1, m->p[i], m->a[j]);
            return;
        }
        j++;
    }
    if (!gap && j < m->na)
        snprintf(why, n, "the output goes on past what is shown: line %zu `%s`", j + 1, m->a[j]);
    else
        snprintf(why, n, "the shown lines cannot be aligned with the output");
}

int doc_match(const char *expect, const char *actual, char *why, size_t whylen) {
    struct align m = {0};
    int ok = 0;

    if (whylen)
        why[0] = '\0';
    m.p = line_copies(expect, &m.np);
    m.a = line_copies(actual, &m.na);
    if (m.p && m.a)
        m.failed = calloc((m.np + 1) * (m.na + 1), 1);
    if (!m.failed) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    ok = match_from(&m, 0, 0);
    if (!ok)
        explain(&m, why, whylen);
done:
    free(m.failed);
    copies_free(m.p, m.np);
    copies_free(m.a, m.na);
    return ok;
}

/* ---- running -------------------------------------------------------------------------------- */

struct doc_server {
    int doc_port;  /* the port the doc writes */
    int real_port; /* the port it listens on */
    pid_t pid;
    char log[600];
    int line; /* the doc line that started it; 0 for the session's default server */
};

struct session {
    const char *file, *bin, *dir;
    doc_report_fn report;
    void *ud;
    struct doc_server srv[MAX_SERVERS];
    int nsrv;
};

static double now_s(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Start `sh -c script` in dir, in its own process group, stdout to out_path and stderr to
 * err_path (the same path: both to one file). Returns the pid or -1. */
static pid_t spawn_sh(const char *script, const char *dir, const char *out_path,
                      const char *err_path) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    pid_t pid = -1;
    int same = strcmp(out_path, err_path) == 0;

    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (same)
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    if (posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ) != 0)
        pid = -1;
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Wait up to timeout_s for pid; its wait status, or -1 after killing its group on timeout. */
static int wait_for(pid_t pid, double timeout_s) {
    double t0 = now_s();
    int st;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_s() - t0 > timeout_s) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nap_ms(20);
    }
}

/* The last bytes of a file, for messages (new). */
static char *tail_of(const char *path) {
    char *s = slurp(path);
    size_t n;

    if (!s)
        return strdup("(no output file)");
    n = strlen(s);
    if (n > SHOW_MAX)
        memmove(s, s + n - SHOW_MAX, SHOW_MAX + 1);
    return s;
}

/* The command with the doc's program name replaced by the binary under test. */
static void put_program(struct dbuf *b, const char **text, const char *bin) {
    static const char *progs[] = {"./build/toolgym", "build/toolgym", "toolgym"};

    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        size_t n = strlen(progs[i]);

        if (strncmp(*text, progs[i], n) == 0 && ((*text)[n] == ' ' || (*text)[n] == '\0')) {
            dbuf_add_str(b, bin);
            *text += n;
            return;
        }
    }
}

static int start_server(struct session *ss, const char *cmd, int line);

/* The real port for a doc port, starting the session's default server if none serves it. */
static int real_port(struct session *ss, int doc_port, int line) {
    for (int i = 0; i < ss->nsrv; i++)
        if (ss->srv[i].doc_port == doc_port)
            return ss->srv[i].real_port;
    if (start_server(ss, "toolgym serve --quiet", line) != 0)
        return -1;
    ss->srv[ss->nsrv - 1].doc_port = doc_port;
    return ss->srv[ss->nsrv - 1].real_port;
}

/* The command as it is run: the binary under test, the session's server addresses. */
static char *rewrite(struct session *ss, const char *text, int line) {
    struct dbuf b;
    const char *p = text;

    dbuf_init(&b, TEXT_MAX);
    put_program(&b, &p, ss->bin);
    while (*p) {
        const char *host = NULL;

        if (starts(p, "localhost:"))
            host = "localhost:";
        else if (starts(p, "127.0.0.1:"))
            host = "127.0.0.1:";
        if (host && p[strlen(host)] >= '0' && p[strlen(host)] <= '9') {
            char *end;
            long port = strtol(p + strlen(host), &end, 10);
            int real = port > 0 && port < 65536 ? real_port(ss, (int)port, line) : -1;
            char addr[32];

            if (real < 0) {
                dbuf_free(&b);
                return NULL;
            }
            snprintf(addr, sizeof(addr), "127.0.0.1:%d", real);
            dbuf_add_str(&b, addr);
            p = end;
            continue;
        }
        dbuf_add(&b, p, 1);
        p++;
    }
    return dbuf_take(&b, NULL);
}

/* A doc's `toolgym serve …` as run: the binary under test, --port 0 (new). *doc_port is the
 * port the doc gave (8080, serve's default, when it gave none). */
static char *serve_command(struct session *ss, const char *cmd, int *doc_port) {
    struct dbuf b;
    const char *p = cmd, *port;

    *doc_port = 8080;
    dbuf_init(&b, TEXT_MAX);
    put_program(&b, &p, ss->bin);
    port = strstr(p, " --port ");
    if (port) {
        char *end;

        *doc_port = (int)strtol(port + 8, &end, 10);
        dbuf_add(&b, p, (size_t)(port - p));
        dbuf_add_str(&b, " --port 0");
        dbuf_add_str(&b, end);
    } else {
        dbuf_add_str(&b, p);
        dbuf_add_str(&b, " --port 0");
    }
    return dbuf_take(&b, NULL);
}

/* Start a server from a doc's `toolgym serve …` (without its '&'), on a free port. */
static int start_server(struct session *ss, const char *cmd, int line) {
    struct doc_server *sv;
    char *serve, *script;
    double t0;

    if (ss->nsrv == MAX_SERVERS) {
        report_f(ss->report, ss->ud, ss->file, line, "more than %d servers in one doc",
                 MAX_SERVERS);
        return -1;
    }
    sv = &ss->srv[ss->nsrv];
    memset(sv, 0, sizeof(*sv));
    sv->line = line;
    serve = serve_command(ss, cmd, &sv->doc_port);
    script = serve ? malloc(strlen(serve) + 6) : NULL;
    if (script)
        snprintf(script, strlen(serve) + 6, "exec %s", serve);
    free(serve);
    if (!script)
        return -1;
    snprintf(sv->log, sizeof(sv->log), "%s/server-%d.log", ss->dir, ss->nsrv);
    sv->pid = spawn_sh(script, ss->dir, sv->log, sv->log);
    free(script);
    if (sv->pid < 0) {
        report_f(ss->report, ss->ud, ss->file, line, "cannot start `%s`", cmd);
        return -1;
    }
    ss->nsrv++;
    for (t0 = now_s(); now_s() - t0 < SERVE_TIMEOUT_S; nap_ms(20)) {
        char *log = slurp(sv->log);
        const char *url = log ? strstr(log, "listening on http://") : NULL;
        int st;

        if (url) {
            const char *colon = strchr(url + strlen("listening on http://"), ':');

            sv->real_port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
            free(log);
            if (sv->real_port > 0)
                return 0;
            break;
        }
        free(log);
        if (waitpid(sv->pid, &st, WNOHANG) == sv->pid) {
            char *t = tail_of(sv->log);

            report_f(ss->report, ss->ud, ss->file, line, "`%s` exited before listening:\n%s", cmd,
                     t ? t : "");
            free(t);
            sv->pid = -1;
            return -1;
        }
    }
    report_f(ss->report, ss->ud, ss->file, line,
             "`%s` did not say \"listening on http://HOST:PORT\" within %d s", cmd,
             SERVE_TIMEOUT_S);
    return -1;
}

/* Stop every server of the session; each must exit 0 on SIGTERM. */
static void stop_servers(struct session *ss) {
    for (int i = 0; i < ss->nsrv; i++) {
        struct doc_server *sv = &ss->srv[i];
        int st;

        if (sv->pid <= 0)
            continue;
        kill(-sv->pid, SIGTERM);
        st = wait_for(sv->pid, SERVE_TIMEOUT_S);
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            char *t = tail_of(sv->log);

            report_f(ss->report, ss->ud, ss->file, sv->line,
                     "the server did not stop cleanly on SIGTERM (%s %d):\n%s",
                     st == -1        ? "timeout"
                     : WIFEXITED(st) ? "exit"
                                     : "signal",
                     st == -1        ? SERVE_TIMEOUT_S
                     : WIFEXITED(st) ? WEXITSTATUS(st)
                                     : WTERMSIG(st),
                     t ? t : "");
            free(t);
        }
    }
    ss->nsrv = 0;
}

/* The first line of a command, for messages. */
static void first_line(const char *text, char *out, size_t n) {
    size_t k = strcspn(text, "\n");

    if (k >= n)
        k = n - 1;
    memcpy(out, text, k);
    out[k] = '\0';
}

static void run_one(struct session *ss, const struct doc_cmd *c) {
    char out_path[600], err_path[600], head[160], why[1024];
    char *script = NULL, *out = NULL, *err = NULL;
    int st, code, serving;

    first_line(c->text, head, sizeof(head));
    if (c->background) {
        size_t k = code_len(c->text, strlen(c->text));
        char *serve = strndup(c->text, k ? k - 1 : 0);

        if (!serve)
            return;
        if (!strstr(serve, "toolgym serve"))
            report_f(ss->report, ss->ud, ss->file, c->line,
                     "`%s`: only `toolgym serve … &` may run in the background", head);
        else if (start_server(ss, serve, c->line) == 0 && c->expect[0])
            report_f(ss->report, ss->ud, ss->file, c->line,
                     "`%s`: a background server shows no output lines", head);
        free(serve);
        return;
    }
    serving = strstr(c->text, "toolgym serve") != NULL;
    if (serving) { /* in the foreground: an error example, --help, or a doc mistake */
        int doc_port;
        char *serve = serve_command(ss, c->text, &doc_port);

        script = serve ? rewrite(ss, serve, c->line) : NULL;
        free(serve);
    } else {
        script = rewrite(ss, c->text, c->line);
    }
    if (!script)
        return;
    snprintf(out_path, sizeof(out_path), "%s/stdout", ss->dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", ss->dir);
    {
        pid_t pid = spawn_sh(script, ss->dir, out_path, err_path);

        st = pid < 0 ? -1 : wait_for(pid, serving ? SERVE_TIMEOUT_S : CMD_TIMEOUT_S);
    }
    out = slurp(out_path);
    err = tail_of(err_path);
    if (st == -1) {
        report_f(ss->report, ss->ud, ss->file, c->line,
                 "`%s`: did not finish within %d s (or could not start)%s\nstderr: %s", head,
                 serving ? SERVE_TIMEOUT_S : CMD_TIMEOUT_S,
                 serving ? "; a server the session goes on talking to ends with & in the doc; "
                           "a usage synopsis belongs in a ``` block not tagged sh"
                         : "",
                 err ? err : "");
        goto done;
    }
    code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code != c->expect_exit)
        report_f(ss->report, ss->ud, ss->file, c->line,
                 "`%s`: exit status %d, the doc shows %d (a failing command ends its output "
                 "with a line `# [exit N]`)\nstderr: %s",
                 head, code, c->expect_exit, err ? err : "");
    if (!out) {
        report_f(ss->report, ss->ud, ss->file, c->line, "`%s`: cannot read its output", head);
        goto done;
    }
    {
        /* CR LF → LF (HTTP headers of curl -i) */
        char *w = out;

        for (const char *r = out; *r; r++)
            if (!(r[0] == '\r' && r[1] == '\n'))
                *w++ = *r;
        *w = '\0';
    }
    if (!doc_match(c->expect, out, why, sizeof(why))) {
        size_t n = strlen(out);

        report_f(ss->report, ss->ud, ss->file, c->line,
                 "`%s`: the output differs from the doc: %s%s\nfull output%s:\n%.*s%s", head, why,
                 c->expect[0] ? ""
                              : " (the doc shows no output: put it in # lines right after the "
                                "command; `# …` leaves text out, see tests/docrun.h)",
                 n > SHOW_MAX ? " (start)" : "", SHOW_MAX, out, n > SHOW_MAX ? "…" : "");
    }
done:
    free(script);
    free(out);
    free(err);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int doc_run_file(const char *path, const char *bin, const char *data_dir, doc_report_fn report,
                 void *ud) {
    struct session ss;
    struct doc_cmd *cmds = NULL;
    size_t n = 0;
    char dir[] = "/tmp/toolgym-docs-XXXXXX", link[600];
    char *md = slurp(path);
    int ran = 0;

    memset(&ss, 0, sizeof(ss));
    if (!md) {
        report_f(report, ud, path, 0, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (doc_extract(path, md, &cmds, &n, report, ud) != 0) {
        free(md);
        report_f(report, ud, path, 0, "out of memory reading the doc");
        return -1;
    }
    free(md);
    if (n == 0)
        return 0;
    if (!mkdtemp(dir)) {
        report_f(report, ud, path, 0, "mkdtemp: %s", strerror(errno));
        doc_cmds_free(cmds, n);
        return -1;
    }
    snprintf(link, sizeof(link), "%s/data", dir);
    if (symlink(data_dir, link) != 0)
        report_f(report, ud, path, 0, "symlink %s: %s", link, strerror(errno));
    ss.file = path;
    ss.bin = bin;
    ss.dir = dir;
    ss.report = report;
    ss.ud = ud;
    for (size_t i = 0; i < n; i++, ran++)
        run_one(&ss, &cmds[i]);
    stop_servers(&ss);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    doc_cmds_free(cmds, n);
    return ran;
}
