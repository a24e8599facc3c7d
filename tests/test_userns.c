/*
 * test_userns.c — suite `userns`: the sentence userns_explain gives a refused user namespace
 * for each way a host refuses one, and what userns_host_read sees on this host. The refusals
 * that can be made for real without touching the host (a limit of zero, a seccomp filter, a
 * masked /proc) are tested end to end in suite `sandbox_modes`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/tg.h"
#include "tools/userns.h"
#include "tg_test.h"

/* A host that allows everything: the base each case changes. */
static struct userns_host open_host(void) {
    struct userns_host h = {.kernel_has_userns = 1,
                            .max_user_namespaces = 15000,
                            .unprivileged_clone = -1,
                            .apparmor_restrict = -1,
                            .seccomp_filtered = 0,
                            .ids_unmapped = 0};
    return h;
}

TG_TEST(userns, each_refusal_is_named) {
    static const struct {
        const char *host; /* what differs from open_host */
        enum userns_step step;
        int err;
        const char *names; /* the sentence must contain this */
    } cases[] = {
        {"no CONFIG_USER_NS", USERNS_CLONE, EINVAL, "built without CONFIG_USER_NS"},
        {"max 0", USERNS_CLONE, ENOSPC, "limited to zero (user.max_user_namespaces = 0)"},
        {"max 15000", USERNS_CLONE, ENOSPC, "user.max_user_namespaces = 15000, all in use"},
        {"debian 0", USERNS_CLONE, EPERM, "disabled (kernel.unprivileged_userns_clone = 0)"},
        {"debian 1", USERNS_CLONE, EPERM, "a security module refuses user namespaces"},
        {"apparmor", USERNS_MAP, EPERM, "AppArmor restricts unprivileged user namespaces"},
        {"apparmor", USERNS_MOUNT, EPERM, "kernel.apparmor_restrict_unprivileged_userns = 1"},
        {"apparmor", USERNS_CLONE, EACCES, "AppArmor restricts"},
        {"seccomp", USERNS_CLONE, EPERM, "a seccomp filter on the server refuses"},
        {"seccomp", USERNS_MOUNT, EPERM, "the server's seccomp filter or a security module"},
        {"open", USERNS_CLONE, EPERM, "a security module refuses user namespaces"},
        {"open", USERNS_MAP, EPERM, "its uid map was refused"},
        {"open", USERNS_MOUNT, EACCES, "refused (Permission denied) by a security module"},
        {"unmapped", USERNS_CLONE, EPERM, "maps no uid or gid for it"},
        {"open", USERNS_PROC, EPERM, "/proc cannot be mounted in a user namespace"},
        {"open", USERNS_PROC, EPERM, "partly masked"},
        {"open", USERNS_NPROC, EAGAIN, "RLIMIT_NPROC per user across user namespaces"},
        {"open", USERNS_MOUNT, ENOMEM, "mounting in a user namespace failed: Cannot allocate"},
        {"open", USERNS_CLONE, EINVAL, "making a user namespace failed: Invalid argument"},
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        struct userns_host h = open_host();
        char buf[256];

        if (strcmp(cases[i].host, "no CONFIG_USER_NS") == 0)
            h.kernel_has_userns = 0;
        else if (strcmp(cases[i].host, "max 0") == 0)
            h.max_user_namespaces = 0;
        else if (strcmp(cases[i].host, "debian 0") == 0)
            h.unprivileged_clone = 0;
        else if (strcmp(cases[i].host, "debian 1") == 0)
            h.unprivileged_clone = 1;
        else if (strcmp(cases[i].host, "apparmor") == 0)
            h.apparmor_restrict = 1;
        else if (strcmp(cases[i].host, "seccomp") == 0)
            h.seccomp_filtered = 1;
        else if (strcmp(cases[i].host, "unmapped") == 0)
            h.ids_unmapped = 1;
        userns_explain(&h, cases[i].step, cases[i].err, buf, sizeof(buf));
        CU_ASSERT(strstr(buf, cases[i].names) != NULL);
        if (!strstr(buf, cases[i].names))
            fprintf(stderr, "\ncase %zu (%s): %s\n", i, cases[i].host, buf);
        /* every sentence fits a tg_error message with room for a prefix */
        CU_ASSERT(strlen(buf) < 200);
    }
}

TG_TEST(userns, a_restricted_host_is_not_blamed_on_seccomp) {
    struct userns_host h = open_host();
    char buf[256];

    /* Ubuntu 24.04 in a container: AppArmor explains a failed mount better than the filter */
    h.apparmor_restrict = 1;
    h.seccomp_filtered = 1;
    userns_explain(&h, USERNS_MOUNT, EPERM, buf, sizeof(buf));
    CU_ASSERT(strstr(buf, "AppArmor") != NULL);
    /* the sysctl that disables user namespaces outright comes first */
    h.unprivileged_clone = 0;
    userns_explain(&h, USERNS_CLONE, EPERM, buf, sizeof(buf));
    CU_ASSERT(strstr(buf, "kernel.unprivileged_userns_clone = 0") != NULL);
    /* a tiny buffer is cut, never overrun */
    userns_explain(&h, USERNS_CLONE, EPERM, buf, 8);
    CU_ASSERT_EQUAL(strlen(buf), 7);
}

TG_TEST(userns, reads_this_host) {
    struct userns_host h;

    userns_host_read(&h);
    /* This project's hosts have user namespaces; the settings are numbers or absent (-1). */
    CU_ASSERT_EQUAL(h.kernel_has_userns, 1);
    CU_ASSERT(h.max_user_namespaces >= -1);
    CU_ASSERT(h.unprivileged_clone >= -1 && h.unprivileged_clone <= 1);
    CU_ASSERT(h.apparmor_restrict >= -1 && h.apparmor_restrict <= 1);
    CU_ASSERT(h.seccomp_filtered == 0 || h.seccomp_filtered == 1);
    CU_ASSERT_EQUAL(h.ids_unmapped, 0); /* the tests run with their ids mapped */
}
