/*
 * userns.c — read the host's user namespace settings and explain a refusal in one sentence.
 *
 * The sentences are short (they end up in a start-up line and in every sandbox_unavailable
 * reply, both bounded by TG_ERR_MSG_MAX); docs/sandbox.md has the long version per host.
 * This module does not create namespaces.
 */
#include "tools/userns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first number in file `path`, or -1. */
static long read_number(const char *path) {
    char buf[64], *end;
    FILE *f = fopen(path, "re");
    long v;

    if (!f)
        return -1;
    if (!fgets(buf, sizeof(buf), f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno || end == buf || v < 0)
        return -1;
    return v;
}

/* 1 when /proc/self/status says this process runs under a seccomp filter, 0 if not, -1. */
static int seccomp_mode_filter(void) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "re");
    int mode = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "Seccomp:", 8) == 0) {
            mode = (int)strtol(line + 8, NULL, 10) == 2;
            break;
        }
    fclose(f);
    return mode;
}

/* 1 when the id map file at path holds no mapping, 0 when it does, -1 when unreadable. */
static int map_empty(const char *path) {
    char line[128];
    FILE *f = fopen(path, "re");
    int empty;

    if (!f)
        return -1;
    empty = !fgets(line, sizeof(line), f);
    fclose(f);
    return empty;
}

void userns_host_read(struct userns_host *h) {
    h->kernel_has_userns = access("/proc/self/ns/user", F_OK) == 0;
    h->max_user_namespaces = read_number("/proc/sys/user/max_user_namespaces");
    h->unprivileged_clone = (int)read_number("/proc/sys/kernel/unprivileged_userns_clone");
    h->apparmor_restrict =
        (int)read_number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    h->seccomp_filtered = seccomp_mode_filter();
    h->ids_unmapped = map_empty("/proc/self/uid_map") == 1 || map_empty("/proc/self/gid_map") == 1;
}

/* Denials that AppArmor's restriction causes inside a namespace it left without capabilities. */
static int denied(int err) {
    return err == EPERM || err == EACCES;
}

void userns_explain(const struct userns_host *h, enum userns_step step, int err, char *buf,
                    size_t n) {
    if (!n)
        return;
    if (!h->kernel_has_userns) {
        snprintf(buf, n,
                 "the kernel has no user namespaces (built without CONFIG_USER_NS); run "
                 "the server as root");
        return;
    }
    if (step == USERNS_NPROC) {
        snprintf(buf, n,
                 "this kernel counts RLIMIT_NPROC per user across user namespaces (Linux before "
                 "5.14), so a run's fork bomb could starve the server; upgrade, or run as root");
        return;
    }
    if (step == USERNS_CLONE && err == ENOSPC) {
        if (h->max_user_namespaces == 0)
            snprintf(buf, n,
                     "user namespaces are limited to zero (user.max_user_namespaces = 0); raise "
                     "it (sysctl -w user.max_user_namespaces=15000) or run the server as root");
        else
            snprintf(buf, n,
                     "no user namespace left to make (user.max_user_namespaces = %ld, all in "
                     "use); raise it or run the server as root",
                     h->max_user_namespaces);
        return;
    }
    if (step == USERNS_CLONE && err == EPERM && h->ids_unmapped == 1) {
        snprintf(buf, n,
                 "the server runs in a user namespace that maps no uid or gid for it (as "
                 "`unshare -U` alone leaves it), where the kernel refuses new ones; map both");
        return;
    }
    if (step == USERNS_CLONE && err == EPERM && h->unprivileged_clone == 0) {
        snprintf(buf, n,
                 "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = "
                 "0); set it to 1 or run the server as root");
        return;
    }
    /* Ubuntu 23.10+: clone succeeds, then the namespace has no capabilities. */
    if (h->apparmor_restrict == 1 && denied(err)) {
        snprintf(buf, n,
                 "AppArmor restricts unprivileged user namespaces "
                 "(kernel.apparmor_restrict_unprivileged_userns = 1); give toolgym a profile "
                 "that allows userns (docs/sandbox.md)");
        return;
    }
    if (step == USERNS_CLONE && err == EPERM && h->seccomp_filtered == 1) {
        snprintf(buf, n,
                 "a seccomp filter on the server refuses user namespaces (EPERM), as Docker's "
                 "default profile does; allow them (docs/sandbox.md) or run as root");
        return;
    }
    if (step == USERNS_CLONE && denied(err)) {
        snprintf(buf, n,
                 "a security module refuses user namespaces (%s), e.g. an SELinux or AppArmor "
                 "policy; allow them for toolgym or run the server as root",
                 strerror(err));
        return;
    }
    if (step == USERNS_PROC && denied(err)) {
        snprintf(buf, n,
                 "/proc cannot be mounted in a user namespace (%s): this /proc is partly masked, "
                 "as container runtimes do; unmask it (docs/sandbox.md)",
                 strerror(err));
        return;
    }
    if (step == USERNS_MAP && denied(err)) {
        snprintf(buf, n,
                 "a user namespace was made but its uid map was refused (%s), as a security "
                 "module does; allow user namespaces for toolgym or run as root",
                 strerror(err));
        return;
    }
    if (step == USERNS_MOUNT && denied(err) && h->seccomp_filtered == 1) {
        snprintf(buf, n,
                 "mounts in a user namespace are refused (%s) by the server's seccomp filter or "
                 "a security module; allow them (docs/sandbox.md) or run as root",
                 strerror(err));
        return;
    }
    if (step == USERNS_MOUNT && denied(err)) {
        snprintf(buf, n,
                 "mounts in a user namespace are refused (%s) by a security module; allow them "
                 "for toolgym (docs/sandbox.md) or run as root",
                 strerror(err));
        return;
    }
    snprintf(buf, n, "%s failed: %s",
             step == USERNS_CLONE  ? "making a user namespace"
             : step == USERNS_MAP  ? "writing the uid map of a user namespace"
             : step == USERNS_PROC ? "mounting /proc in a user namespace"
                                   : "mounting in a user namespace",
             strerror(err));
}
