/*
 * userns.h — may an ordinary user make user namespaces here, and if not, why not.
 *
 * The rootless sandbox (docs/sandbox.md) runs every program inside a new user namespace.
 * Hosts refuse that in ways that look alike from inside: clone() fails with EPERM or ENOSPC,
 * or the namespace is made but holds no capabilities, so the first mount fails. This module
 * reads the settings that tell those cases apart and turns a failed step into one sentence
 * that names the cause and what to do. It creates no namespaces (sandbox.c does).
 */
#ifndef TG_USERNS_H
#define TG_USERNS_H

#include <stddef.h>

/* What the host says about user namespaces; -1 where a setting is absent or unreadable. */
struct userns_host {
    int kernel_has_userns;    /* /proc/self/ns/user exists (the kernel has CONFIG_USER_NS) */
    long max_user_namespaces; /* user.max_user_namespaces, as this process's namespace sees it */
    int unprivileged_clone;   /* kernel.unprivileged_userns_clone (a Debian/Ubuntu patch) */
    int apparmor_restrict;    /* kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+) */
    int seccomp_filtered;     /* this process runs under a seccomp filter (Seccomp: 2) */
    int ids_unmapped;         /* this process is in a user namespace that maps no uid or no gid
                               * (its uid_map or gid_map is empty) */
};

/* Where setting up a user namespace failed. */
enum userns_step {
    USERNS_CLONE, /* clone(CLONE_NEWUSER) itself */
    USERNS_MAP,   /* writing uid_map, gid_map or setgroups */
    USERNS_MOUNT, /* a mount inside the namespace (tmpfs, overlay, bind) */
    USERNS_PROC,  /* mounting /proc inside the namespace */
    USERNS_NPROC, /* RLIMIT_NPROC is not counted per user namespace (see userns_explain) */
};

/* userns_host_read — fill *h from /proc. Never fails; unknown settings are -1. */
void userns_host_read(struct userns_host *h);

/*
 * userns_explain — one sentence into buf (n bytes, always NUL-terminated): why `step` failed
 * with errno `err` on host h, naming the setting or mechanism that blocks it (disabled by a
 * sysctl, limited to zero, refused by seccomp or a security module, /proc masked by a
 * container runtime) and what to do about it. Pure: the same inputs give the same sentence.
 */
void userns_explain(const struct userns_host *h, enum userns_step step, int err, char *buf,
                    size_t n);

#endif
