/*
 * mcp_session.c — the session table of mcp_session.h: fixed slots under one mutex, ids that
 * name their slot, least-recently-used eviction when full.
 */
#include "server/mcp_session.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SLOT_DIGITS 4 /* the id's first hex digits: its slot, so a lookup is one compare */

struct session {
    char id[MCP_SESSION_ID_LEN + 1]; /* "" when the slot is free */
    int level;
    int key_index;
    long long last_us;
};

struct mcp_sessions {
    pthread_mutex_t mu;
    size_t cap;
    long long idle_us;
    struct session *s; /* cap slots */
};

struct mcp_sessions *mcp_sessions_new(size_t cap, int idle_sec) {
    struct mcp_sessions *t;

    if (cap < 1 || cap > 65536)
        return NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->s = calloc(cap, sizeof(*t->s));
    if (!t->s) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->cap = cap;
    t->idle_us = (long long)idle_sec * 1000000LL;
    return t;
}

void mcp_sessions_free(struct mcp_sessions *t) {
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t->s);
    free(t);
}

/* Fill buf with n random bytes from the kernel. 0, or -1. */
static int random_bytes(unsigned char *buf, size_t n) {
    size_t got = 0;

    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int mcp_session_create(struct mcp_sessions *t, int key_index, char *id) {
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[(MCP_SESSION_ID_LEN - SLOT_DIGITS) / 2];
    long long now = tg_now_us();
    size_t slot = 0, oldest = 0;
    int found = 0;

    if (random_bytes(rnd, sizeof(rnd)) != 0)
        return TG_EIO;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->cap && !found; i++) {
        struct session *s = &t->s[i];

        if (!s->id[0] || now - s->last_us > t->idle_us) {
            slot = i;
            found = 1;
        } else if (s->last_us < t->s[oldest].last_us) {
            oldest = i;
        }
    }
    if (!found) /* every slot live: the least recently used session makes room */
        slot = oldest;
    snprintf(id, MCP_SESSION_ID_LEN + 1, "%04zx", slot);
    for (size_t i = 0; i < sizeof(rnd); i++) {
        id[SLOT_DIGITS + 2 * i] = hex[rnd[i] >> 4];
        id[SLOT_DIGITS + 2 * i + 1] = hex[rnd[i] & 15];
    }
    id[MCP_SESSION_ID_LEN] = '\0';
    memcpy(t->s[slot].id, id, MCP_SESSION_ID_LEN + 1);
    t->s[slot].level = MCP_LEVEL_UNSET;
    t->s[slot].key_index = key_index;
    t->s[slot].last_us = now;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

/* The live session named id for key_index, with t->mu held; NULL if none. An expired one is
 * freed on the way. */
static struct session *find(struct mcp_sessions *t, const char *id, int key_index) {
    unsigned diff = 0;
    size_t slot = 0;
    struct session *s;

    if (strlen(id) != MCP_SESSION_ID_LEN)
        return NULL;
    for (int i = 0; i < SLOT_DIGITS; i++) {
        char c = id[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return NULL;
        slot = slot * 16 + (size_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (slot >= t->cap)
        return NULL;
    s = &t->s[slot];
    if (!s->id[0])
        return NULL;
    for (int i = 0; i < MCP_SESSION_ID_LEN; i++) /* no early exit: the time says nothing */
        diff |= (unsigned)(unsigned char)(id[i] ^ s->id[i]);
    if (diff != 0 || s->key_index != key_index)
        return NULL;
    if (tg_now_us() - s->last_us > t->idle_us) {
        s->id[0] = '\0';
        return NULL;
    }
    s->last_us = tg_now_us();
    return s;
}

int mcp_session_get(struct mcp_sessions *t, const char *id, int key_index, int *level) {
    struct session *s;

    pthread_mutex_lock(&t->mu);
    s = find(t, id, key_index);
    if (s && level)
        *level = s->level;
    pthread_mutex_unlock(&t->mu);
    return s ? 0 : TG_ENOTFOUND;
}

int mcp_session_set_level(struct mcp_sessions *t, const char *id, int key_index, int level) {
    struct session *s;

    pthread_mutex_lock(&t->mu);
    s = find(t, id, key_index);
    if (s)
        s->level = level;
    pthread_mutex_unlock(&t->mu);
    return s ? 0 : TG_ENOTFOUND;
}

int mcp_session_end(struct mcp_sessions *t, const char *id, int key_index) {
    struct session *s;

    pthread_mutex_lock(&t->mu);
    s = find(t, id, key_index);
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&t->mu);
    return s ? 0 : TG_ENOTFOUND;
}

size_t mcp_session_count(struct mcp_sessions *t) {
    size_t n = 0;

    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->cap; i++)
        n += t->s[i].id[0] != '\0';
    pthread_mutex_unlock(&t->mu);
    return n;
}
