/*
 * opt.c — the option-table parser and the usage it generates. See opt.h.
 */
#include "cmd/opt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "base/num.h"
#include "base/tg.h"

#define USAGE_COL   26  /* where the help text starts */
#define USAGE_WIDTH 100 /* wrap the [range; default] part past this */

int opt_error(const struct opt_cmd *cmd, const char *fmt, ...) {
    va_list ap;

    fprintf(stderr, "%s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

static int is_int_kind(enum opt_kind k) {
    return k == OPT_INT || k == OPT_UINT || k == OPT_LONG || k == OPT_SIZE || k == OPT_U64;
}

/* "lo..hi" of a numeric option into buf */
static void range_text(const struct opt *o, char *buf, size_t n) {
    if (o->kind == OPT_U64 && o->hi >= OPT_U64_ANY)
        snprintf(buf, n, "0..%" PRIu64, UINT64_MAX);
    else if (is_int_kind(o->kind))
        snprintf(buf, n, "%.0f..%.0f", o->lo, o->hi);
    else
        snprintf(buf, n, "%g..%g", o->lo, o->hi);
}

/* the current value of o's destination, as the usage shows a default */
static void value_text(const struct opt *o, char *buf, size_t n) {
    const char *s;

    if (o->def) {
        snprintf(buf, n, "%s", o->def);
        return;
    }
    switch (o->kind) {
    case OPT_FLAG:
        snprintf(buf, n, "%s", *(const int *)o->dst ? "on" : "off");
        break;
    case OPT_STR:
    case OPT_CHOICE:
        s = *(const char *const *)o->dst;
        snprintf(buf, n, "%s", s ? s : "none");
        break;
    case OPT_INT:
        snprintf(buf, n, "%d", *(const int *)o->dst);
        break;
    case OPT_UINT:
        snprintf(buf, n, "%u", *(const unsigned *)o->dst);
        break;
    case OPT_LONG:
        snprintf(buf, n, "%ld", *(const long *)o->dst);
        break;
    case OPT_SIZE:
        snprintf(buf, n, "%zu", *(const size_t *)o->dst);
        break;
    case OPT_U64:
        snprintf(buf, n, "%llu", *(const unsigned long long *)o->dst);
        break;
    case OPT_DOUBLE:
        snprintf(buf, n, "%g", *(const double *)o->dst);
        break;
    }
}

/* "  LEFT  HELP  [TAIL]", the tail on a line of its own when the whole passes USAGE_WIDTH */
static void usage_line(FILE *f, const char *left, const char *help, const char *tail) {
    int col = fprintf(f, "  %s", left), pad = col < USAGE_COL ? USAGE_COL - col : 2;

    col += fprintf(f, "%*s%s", pad, "", help);
    if (tail[0] && col + (int)strlen(tail) + 4 > USAGE_WIDTH)
        fprintf(f, "\n%*s[%s]", USAGE_COL + 2, "", tail);
    else if (tail[0])
        fprintf(f, "  [%s]", tail);
    fputc('\n', f);
}

void opt_usage(FILE *f, const struct opt_cmd *cmd) {
    fprintf(f, "usage: %s%s%s%s\n%s\n", cmd->name, cmd->nopts ? " [options]" : "",
            cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->summary);
    fprintf(f, "\noptions:\n");
    for (size_t i = 0; i < cmd->nopts; i++) {
        const struct opt *o = &cmd->opts[i];
        char left[64], range[64], def[128], tail[256];

        snprintf(left, sizeof(left), "%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        value_text(o, def, sizeof(def));
        if (o->kind == OPT_CHOICE) {
            snprintf(tail, sizeof(tail), "%s; default: %s", o->choices, def);
        } else if (o->kind != OPT_FLAG && o->kind != OPT_STR) {
            range_text(o, range, sizeof(range));
            snprintf(tail, sizeof(tail), "%s; default: %s", range, def);
        } else {
            snprintf(tail, sizeof(tail), "default: %s", def);
        }
        usage_line(f, left, o->help, tail);
    }
    usage_line(f, "--help", "show this help and exit", "");
    usage_line(f, "--version", "print the version and exit", "");
    if (cmd->notes)
        fprintf(f, "\n%s", cmd->notes);
}

int opt_given(const struct opt_cmd *cmd, const char *name) {
    for (size_t i = 0; i < cmd->nopts; i++)
        if (strcmp(cmd->opts[i].name, name) == 0)
            return cmd->opts[i].given;
    return 0;
}

/* the option named by arg ("--name" or "--name=value"), or NULL */
static struct opt *find(struct opt_cmd *cmd, const char *arg) {
    size_t len = strcspn(arg, "=");

    for (size_t i = 0; i < cmd->nopts; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, arg, len) == 0)
            return &cmd->opts[i];
    return NULL;
}

/* --help and --version win wherever they stand (but not as another option's value) */
static int prescan(struct opt_cmd *cmd, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct opt *o;

        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            opt_usage(stdout, cmd);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("toolgym %s\n", TG_VERSION);
            return 0;
        }
        o = find(cmd, a);
        if (o && o->kind != OPT_FLAG && !strchr(a, '='))
            i++;
    }
    return OPT_RUN;
}

/* a whole number for o into its destination; 0 or 2 after an error */
static int set_int(struct opt_cmd *cmd, struct opt *o, const char *v) {
    char range[64];
    int rc;

    range_text(o, range, sizeof(range));
    if (o->kind == OPT_U64) {
        uint64_t u;

        rc = num_u64(v, o->hi >= OPT_U64_ANY ? UINT64_MAX : (uint64_t)o->hi, &u);
        if (rc == 0)
            *(unsigned long long *)o->dst = u;
    } else {
        long l;

        rc = num_long(v, (long)o->lo, (long)o->hi, &l);
        if (rc == 0 && o->kind == OPT_INT)
            *(int *)o->dst = (int)l;
        else if (rc == 0 && o->kind == OPT_UINT)
            *(unsigned *)o->dst = (unsigned)l;
        else if (rc == 0 && o->kind == OPT_LONG)
            *(long *)o->dst = l;
        else if (rc == 0)
            *(size_t *)o->dst = (size_t)l;
    }
    if (rc == TG_ERANGE)
        return opt_error(cmd, "%s %s is out of range: %s", o->name, v, range);
    if (rc)
        return opt_error(cmd, "%s '%s' is not a whole number (%s)", o->name, v, range);
    return 0;
}

/* the value v of option o into its destination; 0 or 2 after an error */
static int set_value(struct opt_cmd *cmd, struct opt *o, const char *v) {
    char range[64];
    double d;
    int rc;

    switch (o->kind) {
    case OPT_FLAG:
        return opt_error(cmd, "%s takes no value", o->name);
    case OPT_CHOICE: {
        const char *c = o->choices;
        size_t len = strlen(v);

        while (*c) {
            size_t n = strcspn(c, "|");

            if (n == len && strncmp(c, v, n) == 0) {
                *(const char **)o->dst = v;
                return 0;
            }
            c += n + (c[n] == '|');
        }
        return opt_error(cmd, "%s '%s' is not one of %s", o->name, v, o->choices);
    }
    case OPT_STR:
        if (o->hi > 0 && (double)strlen(v) > o->hi)
            return opt_error(cmd, "%s is longer than %.0f bytes", o->name, o->hi);
        *(const char **)o->dst = v;
        return 0;
    case OPT_DOUBLE:
        range_text(o, range, sizeof(range));
        rc = num_double(v, o->lo, o->hi, &d);
        if (rc == TG_ERANGE)
            return opt_error(cmd, "%s %s is out of range: %s", o->name, v, range);
        if (rc)
            return opt_error(cmd, "%s '%s' is not a number (%s)", o->name, v, range);
        *(double *)o->dst = d;
        return 0;
    default:
        return set_int(cmd, o, v);
    }
}

/* option argv[*i] (with its value in argv[*i + 1] or after '='); 0 or 2 after an error */
static int take_option(struct opt_cmd *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i], *eq = strchr(a, '='), *v;
    struct opt *o = find(cmd, a);

    if (!o)
        return opt_error(cmd, "unknown option %.*s (see %s --help)", (int)strcspn(a, "="), a,
                         cmd->name);
    o->given = 1;
    if (o->kind == OPT_FLAG) {
        if (eq)
            return opt_error(cmd, "%s takes no value", o->name);
        *(int *)o->dst = 1;
        return 0;
    }
    if (eq) {
        v = eq + 1;
    } else {
        v = *i + 1 < argc ? argv[*i + 1] : NULL;
        /* "--port --quiet": the next option is not a value (negative numbers are) */
        if (v && strncmp(v, "--", 2) == 0)
            v = NULL;
        if (v)
            (*i)++;
    }
    if (!v || !*v)
        return opt_error(cmd, "%s needs a value", o->name);
    return set_value(cmd, o, v);
}

int opt_parse(struct opt_cmd *cmd, int argc, char **argv, const char **pos, int maxpos, int *npos) {
    int rc = prescan(cmd, argc, argv), only_args = 0;

    if (npos)
        *npos = 0;
    if (rc != OPT_RUN)
        return rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!only_args && strcmp(a, "--") == 0) {
            only_args = 1;
        } else if (!only_args && a[0] == '-' && a[1] != '\0') {
            rc = take_option(cmd, argc, argv, &i);
            if (rc)
                return rc;
        } else if (!cmd->args) {
            return opt_error(cmd, "unexpected argument '%s' (see %s --help)", a, cmd->name);
        } else if (*npos >= maxpos) {
            return opt_error(cmd, "too many arguments at '%s' (see %s --help)", a, cmd->name);
        } else {
            pos[(*npos)++] = a;
        }
    }
    return OPT_RUN;
}

/* ---- commands with subcommands ------------------------------------------------------------ */

static void sub_usage(FILE *f, const char *name, const char *summary, const struct opt_sub *subs,
                      size_t n) {
    int w = 12; /* the names' column: as wide as the longest name */

    for (size_t i = 0; i < n; i++)
        if ((int)strlen(subs[i].name) > w)
            w = (int)strlen(subs[i].name);
    fprintf(f, "usage: %s COMMAND [options]\n%s\n\ncommands:\n", name, summary);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-*s %s\n", w, subs[i].name, subs[i].summary);
    fprintf(f, "\n'%s COMMAND --help' shows the options of a command.\n", name);
}

int opt_dispatch(const char *name, const char *summary, const struct opt_sub *subs, size_t n,
                 int argc, char **argv) {
    if (argc < 2) {
        sub_usage(stderr, name, summary, subs, n);
        return 2;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        sub_usage(stdout, name, summary, subs, n);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("toolgym %s\n", TG_VERSION);
        return 0;
    }
    if (argv[1][0] == '-')
        fprintf(stderr, "%s: unknown option %s (see %s --help)\n", name, argv[1], name);
    else
        fprintf(stderr, "%s: unknown command '%s' (see %s --help)\n", name, argv[1], name);
    return 2;
}
