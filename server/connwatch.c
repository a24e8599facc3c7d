/*
 * connwatch.c — the watcher of connwatch.h: one thread, one epoll set, one mutex.
 *
 * Entries are registered one-shot for EPOLLRDHUP (plus EPOLLHUP and EPOLLERR, always
 * reported). The thread runs the gone() callbacks holding the mutex, which is what makes
 * connwatch_remove synchronous. A removed entry may still sit in the event array of the
 * thread's current turn, so it is only marked dead and freed by the thread at the end of that
 * turn, after the events that could name it were handled; every CW_DEAD_BATCH removals wake
 * the thread, so dead entries never pile up while no client goes away.
 */
#include "server/connwatch.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/tg.h"

#define CW_EVENTS     64 /* events taken per epoll_wait */
#define CW_DEAD_BATCH 16 /* dead entries that wake the thread to free them */

struct connwatch_entry {
    int fd;
    connwatch_gone_fn gone;
    void *arg;
    int fired;                           /* gone() was called */
    int dead;                            /* removed: the thread frees it at the end of its turn */
    struct connwatch_entry *prev, *next; /* the live list, or (next only) the dead list */
};

struct connwatch {
    int ep;   /* the epoll set */
    int wake; /* eventfd in the set (data.ptr NULL): stop, or free the dead entries */
    pthread_t thread;
    int thread_ok;
    pthread_mutex_t mu; /* guards what follows; held while gone() callbacks run */
    int stopping;
    int all_gone; /* connwatch_all_gone was called: report every entry */
    struct connwatch_entry *live, *dead;
    int ndead;
};

static void wake(struct connwatch *w) {
    uint64_t one = 1;

    if (write(w->wake, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        /* the counter is already non-zero: the thread wakes anyway */
    }
}

static void *watch_main(void *p) {
    struct connwatch *w = p;
    struct epoll_event ev[CW_EVENTS];
    int stopping = 0;

    while (!stopping) {
        int n = epoll_wait(w->ep, ev, CW_EVENTS, -1);
        uint64_t cnt;

        if (n < 0 && errno != EINTR)
            break;
        pthread_mutex_lock(&w->mu);
        for (int i = 0; i < n; i++) {
            struct connwatch_entry *e = ev[i].data.ptr;

            if (!e) {
                if (read(w->wake, &cnt, sizeof(cnt)) < 0) {
                    /* EAGAIN: another turn emptied it */
                }
                stopping = w->stopping;
                continue;
            }
            if (e->dead || e->fired)
                continue;
            e->fired = 1;
            e->gone(e->arg); /* may call connwatch_remove(e) */
        }
        for (struct connwatch_entry *e = w->live, *next; w->all_gone && e; e = next) {
            next = e->next; /* gone() removes at most e itself */
            if (!e->fired) {
                e->fired = 1;
                e->gone(e->arg);
            }
        }
        while (w->dead) {
            struct connwatch_entry *e = w->dead;

            w->dead = e->next;
            free(e);
        }
        w->ndead = 0;
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

struct connwatch *connwatch_new(void) {
    struct connwatch *w = calloc(1, sizeof(*w));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    sigset_t all, old;

    if (!w)
        return NULL;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&w->mu, NULL);
    if (w->ep < 0 || w->wake < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &ev) != 0)
        goto fail;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    w->thread_ok = pthread_create(&w->thread, NULL, watch_main, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w->thread_ok)
        goto fail;
    return w;
fail:
    connwatch_free(w);
    return NULL;
}

void connwatch_free(struct connwatch *w) {
    if (!w)
        return;
    if (w->thread_ok) {
        pthread_mutex_lock(&w->mu);
        w->stopping = 1;
        pthread_mutex_unlock(&w->mu);
        wake(w);
        pthread_join(w->thread, NULL);
    }
    while (w->live) {
        struct connwatch_entry *e = w->live;

        w->live = e->next;
        free(e);
    }
    while (w->dead) {
        struct connwatch_entry *e = w->dead;

        w->dead = e->next;
        free(e);
    }
    if (w->ep >= 0)
        close(w->ep);
    if (w->wake >= 0)
        close(w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int connwatch_add(struct connwatch *w, int fd, connwatch_gone_fn gone, void *arg,
                  struct connwatch_entry **out) {
    struct connwatch_entry *e = calloc(1, sizeof(*e));
    struct epoll_event ev;
    int rc = 0;

    *out = NULL;
    if (!e)
        return TG_ENOMEM;
    e->fd = fd;
    e->gone = gone;
    e->arg = arg;
    ev.events = EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = e;
    pthread_mutex_lock(&w->mu);
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        rc = TG_EIO;
    } else {
        e->next = w->live;
        if (w->live)
            w->live->prev = e;
        w->live = e;
        if (w->all_gone)
            wake(w);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc) {
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void connwatch_all_gone(struct connwatch *w) {
    pthread_mutex_lock(&w->mu);
    w->all_gone = 1;
    wake(w);
    pthread_mutex_unlock(&w->mu);
}

void connwatch_remove(struct connwatch *w, struct connwatch_entry *e) {
    int on_thread;

    if (!e)
        return;
    on_thread = w->thread_ok && pthread_equal(pthread_self(), w->thread);
    if (!on_thread) /* on the thread, gone() runs with the mutex held already */
        pthread_mutex_lock(&w->mu);
    TG_ASSERT(!e->dead);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, e->fd, NULL);
    if (e->prev)
        e->prev->next = e->next;
    else
        w->live = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->dead = 1;
    e->prev = NULL;
    e->next = w->dead;
    w->dead = e;
    if (++w->ndead >= CW_DEAD_BATCH && !on_thread)
        wake(w);
    if (!on_thread)
        pthread_mutex_unlock(&w->mu);
}
