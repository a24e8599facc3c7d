/*
 * docrun.h — tested documentation: the commands of the markdown docs, run against a real
 * server, their output compared with what the doc shows.
 *
 * What is run. In a fenced block tagged `sh`, a line that starts (at the block's indentation)
 * with `curl`, `toolgym`, `build/toolgym` or `./build/toolgym` is a command; lines ending in a
 * backslash continue it. Other lines of the block (`make ...`, `apt-get ...`, prose comments)
 * are not run. The lines starting with `#` right after a command (no blank line between) are
 * its output, with the `#` and one space removed; `#` alone is an empty line. A command
 * without such lines must print nothing. What is compared is the command's standard output
 * (a doc that wants to show an error message writes `2>&1`), after CR LF → LF and without
 * trailing newlines. The command must exit 0, unless its last output line is `[exit N]`.
 *
 * Placeholders in output lines (and nowhere else):
 *   …        (U+2026) any text within the line, possibly empty; a line that is only `…`
 *            stands for any number of lines, zero included
 *   <id>     one or more of [A-Za-z0-9_-] (episode ids, run tags)
 *   <num>    a number: optional sign, digits, optional fraction and exponent (scores, timings)
 *   <bool>   true or false (host-dependent flags such as the sandbox's cgroups)
 * Any other text, `...` and `<other>` included, must match exactly.
 *
 * How it is run. Each markdown file is one session, in a new temporary directory (holding a
 * `data` link to the repository's data/), so commands that write files write them there. The
 * program names above become the binary under test. `toolgym serve … &` starts that server
 * for the rest of the file (its --port becomes 0, the real port is read from its
 * "listening on" line); `localhost:PORT` and `127.0.0.1:PORT` in commands become that
 * server's address, or, for a port no doc server uses, the address of a server the session
 * starts with `toolgym serve --port 0 --quiet`. At the end every server is stopped with
 * SIGTERM and must exit 0. Commands run with `sh -c`, each with a time limit.
 *
 * A command a user could copy that sits in a block not tagged `sh` (`$ curl …`,
 * `$ toolgym …`, or a line starting with `curl `) is reported, so no example escapes the test.
 */
#ifndef TG_DOCRUN_H
#define TG_DOCRUN_H

#include <stddef.h>

/* One command of a doc. */
struct doc_cmd {
    int line;        /* 1-based line of its first line in the file */
    char *text;      /* new: the command as written, continuation lines included */
    char *expect;    /* new: the output lines shown, joined with '\n'; "" when none */
    int expect_exit; /* N of a final "[exit N]" output line; else 0 */
    int background;  /* the command ends with '&' */
};

/* Called once per problem found: file, 1-based line, a sentence (borrowed). */
typedef void (*doc_report_fn)(void *ud, const char *file, int line, const char *msg);

/*
 * doc_extract — the commands of markdown text md (file name `file`, for messages). Returns 0
 * with *out (new array; free with doc_cmds_free) and *n set, or -1 on ENOMEM. Copyable commands
 * outside `sh` blocks are reported through report (may be NULL).
 */
int doc_extract(const char *file, const char *md, struct doc_cmd **out, size_t *n,
                doc_report_fn report, void *ud);
void doc_cmds_free(struct doc_cmd *c, size_t n);

/*
 * doc_match — does output `actual` match the shown lines `expect` (placeholders as above)?
 * 1 if so; else 0, with a sentence naming the first line that does not match in why.
 */
int doc_match(const char *expect, const char *actual, char *why, size_t whylen);

/*
 * doc_run_file — run the commands of markdown file `path` (as above) with binary `bin` and
 * the repository's data directory `data_dir` (absolute paths), reporting every mismatch,
 * failed command and unclean server stop through report. Returns the number of commands run,
 * or -1 when the file cannot be read or the session cannot be set up (reported too).
 */
int doc_run_file(const char *path, const char *bin, const char *data_dir, doc_report_fn report,
                 void *ud);

#endif
