/*
 * datadir.c — the search for toolgym's data directory (see datadir.h for the order).
 * Pure path arithmetic plus access(2) calls; it keeps no state, so every call searches anew.
 */
#include "base/datadir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* dir + "/" + name into out (no doubled slash); 0, or TG_ERANGE when it does not fit. */
static int join(const char *dir, const char *name, char *out, size_t size) {
    size_t n = strlen(dir);
    const char *sep = (n > 0 && dir[n - 1] == '/') ? "" : "/";
    int w = snprintf(out, size, "%s%s%s", dir, sep, name);

    return (w < 0 || (size_t)w >= size) ? TG_ERANGE : 0;
}

static int holds_marker(const char *dir) {
    char p[PATH_MAX];

    return join(dir, DATADIR_MARKER, p, sizeof(p)) == 0 && access(p, R_OK) == 0;
}

/* The directory part of path into out: "/a/b" → "/a", "/b" → "/", "b" → ".". */
static int dir_of(const char *path, char *out, size_t size) {
    const char *slash = strrchr(path, '/');
    size_t n;

    if (!slash) {
        if (size < 2)
            return TG_ERANGE;
        memcpy(out, ".", 2);
        return 0;
    }
    n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= size)
        return TG_ERANGE;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

/* Copy a found directory into out. */
static int found(const char *dir, char *out, size_t size, struct tg_error *err) {
    int w = snprintf(out, size, "%s", dir);

    if (w < 0 || (size_t)w >= size) {
        tg_error_set(err, TG_CODE_CONFIG, "The data directory path is too long: %s", dir);
        return TG_ERANGE;
    }
    return 0;
}

int datadir_search(const char *env, const char *exe, char *out, size_t size, struct tg_error *err) {
    char bindir[PATH_MAX], parent[PATH_MAX], cand[3][PATH_MAX];
    int ncand = 0;

    if (env) {
        if (*env && holds_marker(env))
            return found(env, out, size, err);
        tg_error_set(err, TG_CODE_CONFIG, "%s=%s is not a toolgym data directory (no %s there).",
                     DATADIR_ENV, env, DATADIR_MARKER);
        return TG_ENOTFOUND;
    }
    if (exe && *exe && dir_of(exe, bindir, sizeof(bindir)) == 0 &&
        dir_of(bindir, parent, sizeof(parent)) == 0 &&
        join(bindir, "data", cand[0], sizeof(cand[0])) == 0 &&
        join(parent, "data", cand[1], sizeof(cand[1])) == 0 &&
        join(parent, "share/toolgym", cand[2], sizeof(cand[2])) == 0)
        ncand = 3;
    for (int i = 0; i < ncand; i++)
        if (holds_marker(cand[i]))
            return found(cand[i], out, size, err);
    if (holds_marker("data"))
        return found("data", out, size, err);
    if (ncand)
        tg_error_set(err, TG_CODE_CONFIG,
                     "No toolgym data (%s) in %s, %s, %s or ./data; set %s=DIR or name the "
                     "files (--corpus, --tasks).",
                     DATADIR_MARKER, cand[0], cand[1], cand[2], DATADIR_ENV);
    else
        tg_error_set(err, TG_CODE_CONFIG,
                     "No toolgym data (%s) in ./data; set %s=DIR or name the files (--corpus, "
                     "--tasks).",
                     DATADIR_MARKER, DATADIR_ENV);
    return TG_ENOTFOUND;
}

int datadir_find(char *out, size_t size, struct tg_error *err) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0)
        exe[n] = '\0';
    return datadir_search(getenv(DATADIR_ENV), n > 0 ? exe : NULL, out, size, err);
}

int datadir_file(const char *name, char *out, size_t size, struct tg_error *err) {
    char dir[PATH_MAX];
    int rc = datadir_find(dir, sizeof(dir), err);

    if (rc)
        return rc;
    if (join(dir, name, out, size) != 0) {
        tg_error_set(err, TG_CODE_CONFIG, "The data file path is too long: %s/%s", dir, name);
        return TG_ERANGE;
    }
    return 0;
}
