/*
 * cancel.h — a cancellation token: one side asks for work to stop, the other side notices.
 *
 * The HTTP layer fires a request's token when its client goes away; the run queue and the
 * sandbox, which do the work, either poll it (tg_cancel_fired) or install a hook that fires
 * with it (to wake a wait or kill a process). The hook runs on the firing thread, outside the
 * token's lock, and tg_cancel_unhook waits for a running hook to return, so an owner can free
 * what the hook touches as soon as unhook returns.
 *
 * Does not: know what is cancelled, or undo work already done.
 */
#ifndef TG_CANCEL_H
#define TG_CANCEL_H

#include <pthread.h>

typedef void (*tg_cancel_hook_fn)(void *arg);

struct tg_cancel {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fired;              /* set once by tg_cancel_fire, never cleared */
    int hook_busy;          /* the hook is running on the firing thread */
    tg_cancel_hook_fn hook; /* NULL when none is installed */
    void *hook_arg;
};

/* tg_cancel_init / tg_cancel_destroy — an unfired token without a hook; destroy it only when
 * no thread uses it any more. */
void tg_cancel_init(struct tg_cancel *c);
void tg_cancel_destroy(struct tg_cancel *c);

/* tg_cancel_fire — mark c cancelled and run the installed hook, if any, on this thread (once:
 * firing again does nothing). Thread-safe. */
void tg_cancel_fire(struct tg_cancel *c);

/* tg_cancel_fired — 1 once c was fired. c may be NULL (never fired). Thread-safe. */
int tg_cancel_fired(struct tg_cancel *c);

/*
 * tg_cancel_hook — install fn(arg) to run when c fires, replacing no other hook (one at a
 * time: TG_ASSERT). Returns 0 when installed; 1 when c has already fired (nothing installed:
 * the caller acts on the cancellation itself). fn must not call tg_cancel_* on c.
 * Thread-safe.
 */
int tg_cancel_hook(struct tg_cancel *c, tg_cancel_hook_fn fn, void *arg);

/* tg_cancel_unhook — remove the hook; when it is running on another thread, wait for it to
 * return. After this, the hook neither runs nor will run. Thread-safe. */
void tg_cancel_unhook(struct tg_cancel *c);

#endif
