/*
 * datadir.h — where toolgym finds its shipped data (the search corpus, the task sets, the
 * reward config) when no file is named on the command line.
 *
 * A data directory is a directory holding corpus.jsonl (with tasks/ and rewards.json beside
 * it). The first of these places that is one wins:
 *   1. $TOOLGYM_DATA, when set. If it holds no corpus.jsonl the search stops with an error:
 *      an explicit setting that is wrong is never skipped silently.
 *   2. data/ beside the binary: BINDIR/data, then BINDIR/../data. In a build tree
 *      (build/toolgym) this is the checkout's data/.
 *   3. The installed data: BINDIR/../share/toolgym. `make install PREFIX=P` puts the binary in
 *      P/bin and the data in P/share/toolgym, so an installed tree can be moved as a whole.
 *   4. data/ in the current directory.
 * BINDIR is the directory of the running executable (/proc/self/exe, symbolic links
 * resolved). Options that name a file (--corpus, --tasks, --reward-config) bypass the search.
 *
 * This module only finds a directory; it does not read the files.
 */
#ifndef TG_DATADIR_H
#define TG_DATADIR_H

#include <stddef.h>

#include "base/tg.h"

#define DATADIR_ENV    "TOOLGYM_DATA" /* environment variable of step 1 */
#define DATADIR_MARKER "corpus.jsonl" /* the file that makes a directory a data directory */

/*
 * datadir_search — the search above with its inputs given: env is the value of
 * $TOOLGYM_DATA (NULL: unset), exe the path of the executable (NULL: skip steps 2 and 3).
 * Writes the directory found into out (size bytes), as the step built it (not made
 * absolute). Returns 0; TG_ENOTFOUND when no place holds corpus.jsonl (err names the places
 * and the way out); TG_ERANGE when a path does not fit in out. Thread-safe.
 */
int datadir_search(const char *env, const char *exe, char *out, size_t size, struct tg_error *err);

/* datadir_find — datadir_search with getenv(DATADIR_ENV) and /proc/self/exe. */
int datadir_find(char *out, size_t size, struct tg_error *err);

/*
 * datadir_file — the path of name (e.g. "tasks/train.jsonl") inside the directory
 * datadir_find finds, into out. Does not check that name exists there. Returns as
 * datadir_find does.
 */
int datadir_file(const char *name, char *out, size_t size, struct tg_error *err);

#endif
