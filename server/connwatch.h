/*
 * connwatch.h — notice clients that go away while their request is suspended.
 *
 * libmicrohttpd stops polling a connection while it is suspended (a run_code call waiting in
 * the run queue or running), so it learns that the client closed the socket only after the
 * run, when it resumes the connection: abandoned runs would keep the queue and the sandbox
 * busy for nobody. A connwatch is one thread with an epoll set over the sockets of suspended
 * connections; when one reports EPOLLRDHUP, EPOLLHUP or EPOLLERR (the client closed, shut
 * down its sending side, or reset), it calls that entry's `gone` callback once.
 *
 * Does not: read or write the sockets, close them, or know what a request is.
 */
#ifndef TG_CONNWATCH_H
#define TG_CONNWATCH_H

struct connwatch;
struct connwatch_entry;

/* connwatch_gone_fn — the client of a watched socket went away. Runs on the watch thread. */
typedef void (*connwatch_gone_fn)(void *arg);

/* connwatch_new — start the watch thread. Returns a new watcher or NULL (ENOMEM, no epoll). */
struct connwatch *connwatch_new(void);

/* connwatch_free — stop the thread and free the watcher and any entries left. Accepts NULL.
 * No other connwatch call may be in flight. */
void connwatch_free(struct connwatch *w);

/*
 * connwatch_add — watch socket fd (borrowed: it must stay open until connwatch_remove) and
 * call gone(arg) once, on the watch thread, if its client goes away. Returns 0 with *out set
 * (the entry, owned by the watcher until connwatch_remove), or TG_ENOMEM/TG_EIO. A socket
 * whose client is already gone is reported at once. Thread-safe.
 */
int connwatch_add(struct connwatch *w, int fd, connwatch_gone_fn gone, void *arg,
                  struct connwatch_entry **out);

/*
 * connwatch_all_gone — report every watched client as gone (shutdown: abandon the work of
 * requests that did not finish in time): gone() runs on the watch thread for each entry not
 * yet reported, and for entries added afterwards. Returns at once. Thread-safe.
 */
void connwatch_all_gone(struct connwatch *w);

/*
 * connwatch_remove — stop watching e. When it returns, gone() is neither running nor will
 * run, so the caller may free what gone() touches; it waits if gone() is running on the watch
 * thread, except when called from gone() itself. Thread-safe.
 */
void connwatch_remove(struct connwatch *w, struct connwatch_entry *e);

#endif
