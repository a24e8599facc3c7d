/*
 * opt.h — the command-line option table every toolgym command parses with.
 *
 * A command describes its options once, as rows of struct opt (name, value kind, where the
 * value goes, allowed range or choices, help text); opt_parse reads argv with that table and
 * opt_usage prints the usage from it, with each option's default taken from its destination
 * before parsing, so the help and the defaults never drift apart.
 *
 * Every command gets --help (usage on stdout, exit 0) and --version. Errors are one line on
 * stderr naming the option: "unknown option --bogus", "--port needs a value",
 * "--port 70000 is out of range: 0..65535", "--reward-mode 'x' is not one of judge|torl|otc".
 * Values come as "--name VALUE" or "--name=VALUE"; "--" ends the options.
 * Does not: know what an option means, or check options against each other (the command does).
 * Thread-safety: none needed (start-up only); no globals.
 */
#ifndef TG_OPT_H
#define TG_OPT_H

#include <stddef.h>
#include <stdio.h>

enum opt_kind {
    OPT_FLAG,   /* no value: *(int *)dst = 1 */
    OPT_STR,    /* *(const char **)dst = the value (borrowed from argv); hi > 0: max bytes */
    OPT_CHOICE, /* like OPT_STR, and the value must be one of choices ("a|b|c") */
    OPT_INT,    /* *(int *)dst: a whole number in [lo, hi] */
    OPT_UINT,   /* *(unsigned *)dst: a whole number in [lo, hi] (lo >= 0) */
    OPT_LONG,   /* *(long *)dst: a whole number in [lo, hi] */
    OPT_SIZE,   /* *(size_t *)dst: a whole number in [lo, hi] */
    OPT_U64,    /* *(unsigned long long *)dst: a whole number in [0, hi] (lo must be 0; hi of
                   OPT_U64_ANY or more: any unsigned 64-bit value) */
    OPT_DOUBLE, /* *(double *)dst: a number in [lo, hi] */
};

struct opt {
    const char *name;    /* "--port" */
    enum opt_kind kind;  /* what the value is */
    void *dst;           /* where it goes (see enum opt_kind) */
    const char *meta;    /* the value's name in the usage: "N", "FILE"; NULL for flags */
    double lo, hi;       /* the allowed range (numbers); hi: max length (OPT_STR, 0: any) */
    const char *choices; /* OPT_CHOICE: "judge|torl|otc" */
    const char *def;     /* the default as the usage shows it; NULL: *dst before parsing */
    const char *help;    /* one line */
    int given;           /* out: the option appeared on the command line */
};

/* One command: `toolgym NAME [options] ARGS`. */
struct opt_cmd {
    const char *name;    /* "toolgym serve" */
    const char *args;    /* positional arguments in the usage ("FILE..."), or NULL: none */
    const char *summary; /* what the command does, one line */
    struct opt *opts;    /* the table (its given flags are written) */
    size_t nopts;
    const char *notes; /* more text after the options, or NULL */
};

#define OPT_U64_ANY 18446744073709551615.0 /* 2^64 as a double */

/* opt_parse returns this when the command should run; otherwise it returns the exit status. */
#define OPT_RUN (-1)

/*
 * opt_parse — parse argv[1..argc) (argv[0] is the command's name) with cmd's table. Options
 * may come in any order; the last of a repeated option wins. Positional arguments go to
 * pos[0..*npos) (borrowed from argv), at most maxpos (pos may be NULL when cmd->args is).
 * Returns OPT_RUN; or 0 after printing the usage (--help, -h) or the version (--version) on
 * stdout; or 2 after a one-line error on stderr (unknown option, missing or bad value,
 * unexpected argument). On an error, destinations of earlier options may have been written.
 */
int opt_parse(struct opt_cmd *cmd, int argc, char **argv, const char **pos, int maxpos, int *npos);

/* opt_usage — the usage of cmd on f: synopsis, summary, every option with its value, range or
 * choices, default and help, then the notes. Call it before parsing (defaults from dst). */
void opt_usage(FILE *f, const struct opt_cmd *cmd);

/* opt_given — 1 if option `name` of cmd appeared on the command line (after opt_parse). */
int opt_given(const struct opt_cmd *cmd, const char *name);

/* opt_error — print "NAME: <message>" (NAME is cmd->name) as one line on stderr; returns 2. */
int opt_error(const struct opt_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- commands with subcommands ------------------------------------------------------------ */

/* A subcommand: run gets the subcommand's own argv (argv[0] is its name), returns the exit
 * status. */
struct opt_sub {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

/*
 * opt_dispatch — `NAME SUB [options]`: argv[0] is the command's name, argv[1] the subcommand,
 * run with argv + 1. --help (or -h) lists the subcommands on stdout and returns 0; --version
 * prints the version; no subcommand prints the list on stderr and returns 2; an unknown one
 * is a one-line error naming it (2). name: "toolgym tasks"; summary: one line.
 */
int opt_dispatch(const char *name, const char *summary, const struct opt_sub *subs, size_t n,
                 int argc, char **argv);

#endif
