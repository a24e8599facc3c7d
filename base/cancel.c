/*
 * cancel.c — the cancellation token of cancel.h: a flag and one hook under a mutex; the hook
 * runs outside the mutex so that it may take other locks.
 */
#include "base/cancel.h"

#include "base/tg.h"

void tg_cancel_init(struct tg_cancel *c) {
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->fired = 0;
    c->hook_busy = 0;
    c->hook = NULL;
    c->hook_arg = NULL;
}

void tg_cancel_destroy(struct tg_cancel *c) {
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

void tg_cancel_fire(struct tg_cancel *c) {
    tg_cancel_hook_fn fn;
    void *arg;

    pthread_mutex_lock(&c->mu);
    if (c->fired) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    __atomic_store_n(&c->fired, 1, __ATOMIC_RELEASE);
    fn = c->hook;
    arg = c->hook_arg;
    c->hook_busy = fn != NULL;
    pthread_mutex_unlock(&c->mu);
    if (!fn)
        return;
    fn(arg);
    pthread_mutex_lock(&c->mu);
    c->hook_busy = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int tg_cancel_fired(struct tg_cancel *c) {
    return c ? __atomic_load_n(&c->fired, __ATOMIC_ACQUIRE) : 0;
}

int tg_cancel_hook(struct tg_cancel *c, tg_cancel_hook_fn fn, void *arg) {
    int fired;

    pthread_mutex_lock(&c->mu);
    fired = c->fired;
    if (!fired) {
        TG_ASSERT(c->hook == NULL);
        c->hook = fn;
        c->hook_arg = arg;
    }
    pthread_mutex_unlock(&c->mu);
    return fired;
}

void tg_cancel_unhook(struct tg_cancel *c) {
    pthread_mutex_lock(&c->mu);
    while (c->hook_busy)
        pthread_cond_wait(&c->cv, &c->mu);
    c->hook = NULL;
    c->hook_arg = NULL;
    pthread_mutex_unlock(&c->mu);
}
