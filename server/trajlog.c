/*
 * trajlog.c — the trajectory log (see trajlog.h): single-writev appends on an O_APPEND fd,
 * a background flusher that fdatasyncs every sync_ms, torn-line detection at open, and the
 * reader used by tests and tools.
 *
 * It does not build lines or know what an episode is.
 */
#include "server/trajlog.h"

#include "base/dbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonw.h"
#include "base/limits.h"
#include "base/metrics.h"

struct trajlog {
    int fd;
    int sync_ms;
    pthread_mutex_t mu; /* serialises writes; guards lines, dirty, stop */
    pthread_cond_t cv;  /* wakes the flusher at close */
    pthread_t flusher;
    int has_flusher;
    int stop;
    int dirty; /* written since the last fdatasync */
    size_t lines;
    size_t torn_bytes;
    char *path;
};

/* Write all n bytes of buf to fd (retrying EINTR). 0, or -1 with errno. Used only at open
 * and for isolation after a failed append; appends themselves are one write(). */
static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *flusher_main(void *p) {
    struct trajlog *l = p;
    struct timespec ts;

    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->sync_ms / 1000;
        ts.tv_nsec += (long)(l->sync_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->dirty) {
            l->dirty = 0;
            pthread_mutex_unlock(&l->mu);
            fdatasync(l->fd); /* concurrent appends are fine; they set dirty again */
            pthread_mutex_lock(&l->mu);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Look at the end of the file: if the last byte is not '\n', a previous writer died mid-line.
 * Report it and append a newline so the fragment stays isolated. */
static int isolate_torn(struct trajlog *l, int quiet, struct tg_error *err) {
    struct stat st;
    off_t pos;
    char c;
    size_t torn = 0;

    if (fstat(l->fd, &st) != 0) {
        tg_error_set(err, TG_CODE_IO, "Cannot stat trajectory log %s: %s.", l->path,
                     strerror(errno));
        return TG_EIO;
    }
    if (st.st_size == 0)
        return 0;
    if (pread(l->fd, &c, 1, st.st_size - 1) != 1) {
        tg_error_set(err, TG_CODE_IO, "Cannot read trajectory log %s: %s.", l->path,
                     strerror(errno));
        return TG_EIO;
    }
    if (c == '\n')
        return 0;
    /* measure the fragment: scan back to the previous newline, in chunks */
    pos = st.st_size;
    while (pos > 0) {
        char buf[4096];
        size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
        ssize_t r = pread(l->fd, buf, n, pos - (off_t)n);
        size_t i;

        if (r != (ssize_t)n) {
            tg_error_set(err, TG_CODE_IO, "Cannot read trajectory log %s.", l->path);
            return TG_EIO;
        }
        for (i = n; i > 0 && buf[i - 1] != '\n'; i--)
            ;
        torn += n - i;
        if (i > 0)
            break;
        pos -= (off_t)n;
    }
    l->torn_bytes = torn;
    if (!quiet)
        fprintf(stderr,
                "toolgym: trajectory log %s: torn last line (%zu bytes without a newline, "
                "left by an interrupted write); isolating it, readers skip it\n",
                l->path, torn);
    metrics_inc("toolgym_trajectory_torn_lines_total", "", 1);
    if (write_all(l->fd, "\n", 1) != 0) {
        tg_error_set(err, TG_CODE_IO, "Cannot write trajectory log %s: %s.", l->path,
                     strerror(errno));
        return TG_EIO;
    }
    fdatasync(l->fd);
    return 0;
}

int trajlog_open(const char *path, int sync_ms, int quiet, struct trajlog **out,
                 struct tg_error *err) {
    struct trajlog *l;
    int rc;

    *out = NULL;
    if (!path || sync_ms < 0) {
        tg_error_set(err, TG_CODE_CONFIG, "Bad trajectory log path or sync interval.");
        return TG_EINVAL;
    }
    l = calloc(1, sizeof(*l));
    if (!l) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    l->fd = -1;
    l->sync_ms = sync_ms;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->path = strdup(path);
    if (!l->path) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        rc = TG_ENOMEM;
        goto fail;
    }
    /* read-write so that pread can inspect the tail; O_APPEND makes every write an append */
    l->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        tg_error_set(err, TG_CODE_IO, "Cannot open trajectory log %s: %s.", path, strerror(errno));
        rc = TG_EIO;
        goto fail;
    }
    rc = isolate_torn(l, quiet, err);
    if (rc)
        goto fail;
    if (sync_ms > 0) {
        if (pthread_create(&l->flusher, NULL, flusher_main, l) != 0) {
            tg_error_set(err, "internal", "Cannot start the trajectory log flusher.");
            rc = TG_ENOMEM;
            goto fail;
        }
        l->has_flusher = 1;
    }
    *out = l;
    return 0;
fail:
    trajlog_close(l);
    return rc;
}

int trajlog_append(struct trajlog *l, const char *line, size_t len) {
    /* the line and its newline in one writev: no copy of a line to append one byte */
    struct iovec iov[2] = {{(void *)line, len}, {(void *)"\n", 1}};
    ssize_t w;
    int rc = 0;

    if (memchr(line, '\n', len))
        return TG_EINVAL;
    pthread_mutex_lock(&l->mu);
    w = writev(l->fd, iov, 2); /* one call: never retried, a retry could duplicate */
    if (w != (ssize_t)(len + 1)) {
        /* short or failed: terminate whatever reached the file so it stays isolated */
        if (w > 0)
            write_all(l->fd, "\n", 1);
        metrics_inc("toolgym_trajectory_write_errors_total", "", 1);
        rc = TG_EIO;
    } else {
        l->lines++;
        l->dirty = 1;
    }
    pthread_mutex_unlock(&l->mu);
    if (rc == 0 && l->sync_ms == 0)
        fdatasync(l->fd);
    return rc;
}

int trajlog_append_json(struct trajlog *l, const json_t *j) {
    char *s = jsonw_dumps(j, 0, (size_t)-1 / 2, NULL); /* json_dumps' compact text, sooner */
    int rc;

    if (!s)
        return TG_ENOMEM;
    rc = trajlog_append(l, s, strlen(s));
    free(s);
    return rc;
}

size_t trajlog_lines(struct trajlog *l) {
    size_t n;

    pthread_mutex_lock(&l->mu);
    n = l->lines;
    pthread_mutex_unlock(&l->mu);
    return n;
}

size_t trajlog_torn_bytes(const struct trajlog *l) {
    return l->torn_bytes;
}

void trajlog_close(struct trajlog *l) {
    if (!l)
        return;
    if (l->has_flusher) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->flusher, NULL);
    }
    if (l->fd >= 0) {
        fdatasync(l->fd);
        close(l->fd);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->path);
    free(l);
}

/* ---- reader ---------------------------------------------------------------------------- */

int trajlog_read_file(const char *path, trajlog_line_fn fn, void *ud, struct trajlog_stats *st,
                      struct tg_error *err) {
    FILE *f;
    struct dbuf line;
    int got, rc = 0;

    memset(st, 0, sizeof(*st));
    f = fopen(path, "re");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "Cannot open %s: %s.", path, strerror(errno));
        return TG_EIO;
    }
    /* A line with its '\n' may take TG_TRAJ_LINE_MAX bytes; a longer one is read past, not
     * held, and counted invalid. */
    dbuf_init(&line, TG_TRAJ_LINE_MAX - 1);
    while ((got = dbuf_getline(&line, f)) != 0) {
        json_t *j;

        if (got == 2) {
            st->torn = 1; /* only the last line can lack its newline */
            break;
        }
        if (got == TG_ERANGE) {
            st->invalid++;
            continue;
        }
        if (got < 0) {
            tg_error_set(err, got == TG_ENOMEM ? TG_CODE_NOMEM : TG_CODE_IO, "Cannot read %s.",
                         path);
            rc = got;
            break;
        }
        j = json_loadb(line.p, line.len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            st->invalid++;
            continue;
        }
        st->lines++;
        if (fn)
            rc = fn(j, ud);
        json_decref(j);
        if (rc)
            break;
    }
    if (rc == 0 && ferror(f)) {
        tg_error_set(err, TG_CODE_IO, "Cannot read %s.", path);
        rc = TG_EIO;
    }
    dbuf_free(&line);
    fclose(f);
    return rc;
}
