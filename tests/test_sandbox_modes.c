/*
 * test_sandbox_modes.c — suite `sandbox_modes`: which sandbox `toolgym serve` picks, what it
 * says about it (start-up line, /healthz), and what it does on hosts that refuse user
 * namespaces. Each test starts the real binary (TOOLGYM_BIN) in a child process prepared to
 * look like such a host, without changing anything outside the child:
 * - user namespaces limited to zero: the child makes a user namespace of its own and sets
 *   user.max_user_namespaces to 0 in it (the limit is per namespace and applies below it);
 * - blocked by seccomp: the child loads a filter that answers EPERM to clone and unshare with
 *   CLONE_NEWUSER, as Docker's default profile does;
 * - /proc masked as container runtimes mask it: the child covers /proc/sys in a mount
 *   namespace of its own, so no proc below it is fully visible;
 * - a low RLIMIT_NPROC, which leaves the server little room beside its runs.
 * Servers run as an ordinary user: as uid 65534 when the tests run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/tg.h"
#include "tg_test.h"

#define NOBODY 65534u

enum host_kind {
    HOST_AS_IS,          /* this host, as this user */
    HOST_ORDINARY,       /* this host, as an ordinary user (65534 when we are root) */
    HOST_USERNS_ZERO,    /* ordinary user, user.max_user_namespaces = 0 */
    HOST_USERNS_SECCOMP, /* ordinary user under a filter refusing CLONE_NEWUSER (EPERM) */
    HOST_PROC_MASKED,    /* ordinary user, /proc/sys covered as a container runtime does */
    HOST_LOW_NPROC,      /* ordinary user whose RLIMIT_NPROC is low_nproc */
};

static long low_nproc; /* HOST_LOW_NPROC: the limit to set */

struct served {
    pid_t pid;
    int fd;         /* the server's stderr */
    char out[8192]; /* what it said until "listening" (or until it exited) */
    char url[64];   /* "http://127.0.0.1:PORT", "" when it did not start */
    int status;     /* exit status once reaped */
};

/* ---- preparing the child ------------------------------------------------------------------ */

static int write_str(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

    if (fd < 0)
        return -1;
    ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
    close(fd);
    return ok ? 0 : -1;
}

/* A user namespace of the child's own mapping its uid and gid to themselves (and, with
 * NEWNS, a mount namespace it owns). */
static int own_userns(int extra_flags) {
    char map[64];
    unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();

    if (unshare(CLONE_NEWUSER | extra_flags) != 0 || write_str("/proc/self/setgroups", "deny"))
        return -1;
    snprintf(map, sizeof(map), "%u %u 1", uid, uid);
    if (write_str("/proc/self/uid_map", map) != 0)
        return -1;
    snprintf(map, sizeof(map), "%u %u 1", gid, gid);
    return write_str("/proc/self/gid_map", map);
}

/* Docker's default profile refuses new user namespaces to unprivileged containers with EPERM
 * (and clone3 with ENOSYS, so that glibc falls back to clone). */
static int refuse_userns_by_seccomp(void) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = -1;

    if (!ctx)
        return -1;
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) == 0 &&
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) == 0 &&
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) == 0 &&
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && seccomp_load(ctx) == 0)
        rc = 0;
    seccomp_release(ctx);
    return rc;
}

/* In the forked child: become the host `kind` describes; 0, or -1 (the child then exits 97). */
static int prepare(enum host_kind kind) {
    /* (changing uid made the process non-dumpable, which would leave its /proc/self files to
     * root: the uid map could not be written) */
    if (kind != HOST_AS_IS && geteuid() == 0 &&
        (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
         setresuid(NOBODY, NOBODY, NOBODY) != 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0))
        return -1;
    switch (kind) {
    case HOST_USERNS_ZERO:
        return own_userns(0) == 0 && write_str("/proc/sys/user/max_user_namespaces", "0") == 0 ? 0
                                                                                               : -1;
    case HOST_USERNS_SECCOMP:
        return refuse_userns_by_seccomp();
    case HOST_LOW_NPROC: {
        struct rlimit rl = {(rlim_t)low_nproc, (rlim_t)low_nproc};

        return setrlimit(RLIMIT_NPROC, &rl);
    }
    case HOST_PROC_MASKED:
        if (own_userns(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
            return -1;
        return mount("tmpfs", "/proc/sys", "tmpfs", MS_RDONLY, "size=4k");
    default:
        return 0;
    }
}

/* ---- running a server --------------------------------------------------------------------- */

/* Start `toolgym serve --port 0 ARGS...` on host `kind`; read its stderr until it listens or
 * exits (60 s at most: a liveness bound). 0 when the child started (s->url says whether the
 * server did), -1 when it could not be made. */
static int serve(enum host_kind kind, const char *const *args, struct served *s) {
    const char *bin = getenv("TOOLGYM_BIN") ? getenv("TOOLGYM_BIN") : "build/toolgym";
    char *argv[16];
    size_t len = 0;
    int p[2], n = 0;
    const char *at;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    argv[n++] = (char *)bin;
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--run-workers";
    argv[n++] = "1";
    for (; *args && n < 15; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    s->pid = fork();
    if (s->pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (s->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        if (dup2(p[1], 2) < 0 || devnull < 0 || dup2(devnull, 1) < 0 || prepare(kind) != 0) {
            dprintf(2, "prepare: %s\n", strerror(errno));
            _exit(97);
        }
        execv(bin, argv);
        _exit(98);
    }
    close(p[1]);
    s->fd = p[0];
    while (len + 1 < sizeof(s->out) && !strstr(s->out, "listening")) {
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        ssize_t k;

        if (poll(&pf, 1, 60000) <= 0)
            break;
        k = read(s->fd, s->out + len, sizeof(s->out) - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        s->out[len] = '\0';
    }
    at = strstr(s->out, "listening on ");
    if (at)
        snprintf(s->url, sizeof(s->url), "%.*s", (int)strcspn(at + 13, "\n"), at + 13);
    return 0;
}

/* Stop the server (if it still runs) and reap it; its exit status in s->status. */
static void stop(struct served *s) {
    if (s->url[0])
        kill(s->pid, SIGTERM);
    while (waitpid(s->pid, &s->status, 0) < 0 && errno == EINTR)
        ;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* GET path or POST body to it; the parsed reply (new), or NULL. */
static json_t *call(const struct served *s, const char *path, const char *body) {
    struct http_resp r;
    char url[256];
    json_t *j;

    snprintf(url, sizeof(url), "%s%s", s->url, path);
    if (test_http(body ? "POST" : "GET", url, body, body ? strlen(body) : 0, NULL, NULL, &r) != 0)
        return NULL;
    j = json_loadb(r.body, r.len, 0, NULL);
    http_resp_free(&r);
    return j;
}

static const char *str_at(json_t *j, const char *a, const char *b) {
    json_t *v = json_object_get(j, a);

    return json_string_value(b ? json_object_get(v, b) : v) ?: "";
}

/* A forced mode the host cannot provide: the server refuses to start, naming `why`. */
static void refused_at_start(enum host_kind kind, const char *mode, const char *why) {
    const char *args[] = {"--sandbox-mode", mode, NULL};
    struct served s;

    CU_ASSERT_EQUAL_FATAL(serve(kind, args, &s), 0);
    stop(&s);
    CU_ASSERT_STRING_EQUAL(s.url, "");
    CU_ASSERT(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 1);
    CU_ASSERT(strstr(s.out, "toolgym serve: --sandbox-mode ") != NULL);
    CU_ASSERT(strstr(s.out, why) != NULL);
    if (!strstr(s.out, why))
        fprintf(stderr, "\nwanted '%s'; serve said: %s\n", why, s.out);
}

/* Tasks (threads included) whose real uid is uid, host-wide: what RLIMIT_NPROC counts. */
static long tasks_of(unsigned uid) {
    DIR *d = opendir("/proc");
    struct dirent *de;
    long n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char path[300], line[256];
        unsigned u = ~0U;
        long threads = 0;
        FILE *f;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "Uid: %u", &u) != 1)
                sscanf(line, "Threads: %ld", &threads);
        fclose(f);
        if (u == uid)
            n += threads;
    }
    closedir(d);
    return n;
}

/* ---- tests -------------------------------------------------------------------------------- */

TG_TEST(sandbox_modes, auto_picks_root_for_root_and_rootless_for_others) {
    static const char body[] = "{\"arguments\":{\"code\":\"print(6 * 7)\"}}";
    const char *none[] = {NULL};
    struct served s;
    json_t *j;

    CU_ASSERT_EQUAL_FATAL(serve(HOST_ORDINARY, none, &s), 0);
    CU_ASSERT(strstr(s.out, "sandbox: rootless mode, 1 slots + 1 spare; user namespace per run on, "
                            "namespaces on, seccomp on") != NULL);
    if (!strstr(s.out, "sandbox: rootless mode"))
        fprintf(stderr, "\nserve said: %s\n", s.out);
    j = call(&s, "/healthz", NULL);
    CU_ASSERT_STRING_EQUAL(str_at(j, "sandbox", "mode"), "rootless");
    CU_ASSERT(json_is_true(json_object_get(json_object_get(j, "sandbox"), "user_namespace")));
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(j, "sandbox"), "reason"));
    json_decref(j);
    j = call(&s, "/v1/tools/run_code", body);
    CU_ASSERT_STRING_EQUAL(str_at(j, "content", NULL), "42\n");
    json_decref(j);
    stop(&s);
    CU_ASSERT(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0);

    if (geteuid() != 0)
        return;
    /* as root: root mode, one uid per slot (warm mode: a spare slot per run readies the next) */
    CU_ASSERT_EQUAL_FATAL(serve(HOST_AS_IS, none, &s), 0);
    CU_ASSERT(strstr(s.out, "sandbox: root mode, 1 slots + 1 spare (uids ") != NULL);
    j = call(&s, "/healthz", NULL);
    CU_ASSERT_STRING_EQUAL(str_at(j, "sandbox", "mode"), "root");
    CU_ASSERT(json_is_false(json_object_get(json_object_get(j, "sandbox"), "user_namespace")));
    json_decref(j);
    stop(&s);
}

TG_TEST(sandbox_modes, forced_mode_the_user_cannot_have_is_refused) {
    const char *rootless[] = {"--sandbox-mode", "rootless", NULL};
    struct served s;

    refused_at_start(HOST_ORDINARY, "root",
                     "--sandbox-mode root needs root: the server runs "
                     "as uid");
    /* the mode the host can provide starts */
    CU_ASSERT_EQUAL_FATAL(serve(HOST_ORDINARY, rootless, &s), 0);
    CU_ASSERT(strstr(s.out, "sandbox: rootless mode") != NULL);
    CU_ASSERT(s.url[0] != '\0');
    stop(&s);
    if (geteuid() == 0) /* root's programs would be root outside their namespace */
        refused_at_start(HOST_AS_IS, "rootless", "the server runs as root");
}

TG_TEST(sandbox_modes, userns_limited_to_zero) {
    static const char body[] = "{\"arguments\":{\"code\":\"print(6 * 7)\"}}";
    const char *none[] = {NULL}, *unsafe[] = {"--unsafe-sandbox", NULL};
    struct served s;
    json_t *j;

    refused_at_start(HOST_USERNS_ZERO, "rootless",
                     "user namespaces are limited to zero (user.max_user_namespaces = 0)");

    /* auto: the server starts, says why run_code is off, and fails closed */
    CU_ASSERT_EQUAL_FATAL(serve(HOST_USERNS_ZERO, none, &s), 0);
    CU_ASSERT(strstr(s.out, "sandbox: unavailable (rootless mode tried)") != NULL);
    CU_ASSERT(strstr(s.out, "run_code disabled: no user namespaces: user namespaces are "
                            "limited to zero") != NULL);
    if (!strstr(s.out, "limited to zero"))
        fprintf(stderr, "\nserve said: %s\n", s.out);
    j = call(&s, "/healthz", NULL);
    CU_ASSERT_STRING_EQUAL(str_at(j, "sandbox", "mode"), "unavailable");
    CU_ASSERT(strstr(str_at(j, "sandbox", "reason"), "user.max_user_namespaces = 0") != NULL);
    CU_ASSERT(json_is_false(json_object_get(json_object_get(j, "sandbox"), "namespaces")));
    json_decref(j);
    j = call(&s, "/v1/tools/run_code", body);
    CU_ASSERT(json_is_false(json_object_get(j, "ok")));
    CU_ASSERT_STRING_EQUAL(str_at(j, "error", "code"), "sandbox_unavailable");
    CU_ASSERT(strstr(str_at(j, "error", "message"), "limited to zero") != NULL);
    CU_ASSERT_PTR_NULL(json_object_get(j, "result")); /* nothing ran */
    json_decref(j);
    stop(&s);

    /* --unsafe-sandbox: the operator's choice to run without the namespaces, said loudly */
    CU_ASSERT_EQUAL_FATAL(serve(HOST_USERNS_ZERO, unsafe, &s), 0);
    CU_ASSERT(strstr(s.out, "sandbox: unsafe (rootless mode tried)") != NULL);
    CU_ASSERT(strstr(s.out, "runs go WITHOUT part of the sandbox") != NULL);
    j = call(&s, "/healthz", NULL);
    CU_ASSERT_STRING_EQUAL(str_at(j, "sandbox", "mode"), "unsafe");
    CU_ASSERT(strstr(str_at(j, "sandbox", "reason"), "limited to zero") != NULL);
    json_decref(j);
    j = call(&s, "/v1/tools/run_code", body);
    CU_ASSERT_STRING_EQUAL(str_at(j, "content", NULL), "42\n");
    json_decref(j);
    stop(&s);
}

TG_TEST(sandbox_modes, userns_blocked_by_seccomp) {
    refused_at_start(HOST_USERNS_SECCOMP, "rootless",
                     "a seccomp filter on the server refuses user namespaces (EPERM)");
}

TG_TEST(sandbox_modes, proc_masked_like_a_container) {
    refused_at_start(HOST_PROC_MASKED, "rootless",
                     "/proc cannot be mounted in a user namespace (Operation not permitted)");
}

TG_TEST(sandbox_modes, low_nproc_draws_a_warning) {
    static const char body[] = "{\"arguments\":{\"code\":\"print(6 * 7)\"}}";
    const char *none[] = {NULL};
    struct served s;
    json_t *j;

    /* Runs' processes count against the server's own RLIMIT_NPROC too (their user namespaces
     * nest in its). Leave 80 tasks of room: less than one slot at its limit (35) plus the
     * server's reserve (64), enough for the server and a run. */
    low_nproc = tasks_of(geteuid() == 0 ? NOBODY : (unsigned)geteuid()) + 80;
    CU_ASSERT_EQUAL_FATAL(serve(HOST_LOW_NPROC, none, &s), 0);
    CU_ASSERT(strstr(s.out, "sandbox: rootless mode") != NULL);
    CU_ASSERT(strstr(s.out, "; warning: RLIMIT_NPROC is ") != NULL);
    CU_ASSERT(strstr(s.out, "raise ulimit -u to ") != NULL);
    if (!strstr(s.out, "warning: RLIMIT_NPROC"))
        fprintf(stderr, "\nserve said: %s\n", s.out);
    j = call(&s, "/v1/tools/run_code", body);
    CU_ASSERT_STRING_EQUAL(str_at(j, "content", NULL), "42\n");
    json_decref(j);
    stop(&s);

    /* the limit this host gives (tens of thousands, or none) draws none */
    CU_ASSERT_EQUAL_FATAL(serve(HOST_ORDINARY, none, &s), 0);
    CU_ASSERT(strstr(s.out, "sandbox: rootless mode") != NULL);
    CU_ASSERT(strstr(s.out, "warning: RLIMIT_NPROC") == NULL);
    stop(&s);
}

/* --run-mode: warm by default where the sandbox is whole, cold on request, and where warm mode
 * cannot work (unsafe runs without namespaces) cold with the reason, or a refusal to start
 * when warm was insisted on. */
TG_TEST(sandbox_modes, run_mode_warm_by_default_cold_on_request_or_when_it_cannot) {
    static const char body[] = "{\"arguments\":{\"code\":\"print(6 * 7)\"}}";
    const char *none[] = {NULL}, *cold[] = {"--run-mode", "cold", NULL};
    const char *unsafe[] = {"--unsafe-sandbox", NULL};
    const char *unsafe_warm[] = {"--unsafe-sandbox", "--run-mode", "warm", NULL};
    struct served s;
    json_t *j;

    CU_ASSERT_EQUAL_FATAL(serve(HOST_AS_IS, none, &s), 0);
    CU_ASSERT(strstr(s.out, "; runs warm (forked from a zygote per slot)") != NULL);
    if (!strstr(s.out, "runs warm"))
        fprintf(stderr, "\nserve said: %s\n", s.out);
    j = call(&s, "/healthz", NULL);
    CU_ASSERT_STRING_EQUAL(str_at(j, "sandbox", "run_mode"), "warm");
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(j, "sandbox"), "run_mode_reason"));
    json_decref(j);
    j = call(&s, "/v1/tools/run_code", body);
    CU_ASSERT_STRING_EQUAL(str_at(j, "content", NULL), "42\n");
    json_decref(j);
    stop(&s);
    CU_ASSERT(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0);

    CU_ASSERT_EQUAL_FATAL(serve(HOST_AS_IS, cold, &s), 0);
    CU_ASSERT(strstr(s.out, "runs warm") == NULL && strstr(s.out, "runs cold") == NULL);
    j = call(&s, "/healthz", NULL);
    CU_ASSERT_STRING_EQUAL(str_at(j, "sandbox", "run_mode"), "cold");
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(j, "sandbox"), "run_mode_reason"));
    json_decref(j);
    j = call(&s, "/v1/tools/run_code", body);
    CU_ASSERT_STRING_EQUAL(str_at(j, "content", NULL), "42\n");
    json_decref(j);
    stop(&s);

    /* no user namespaces, runs allowed without them: cold, and the reason is given */
    CU_ASSERT_EQUAL_FATAL(serve(HOST_USERNS_ZERO, unsafe, &s), 0);
    CU_ASSERT(strstr(s.out, "; runs cold: warm mode needs the whole sandbox (namespaces and "
                            "seccomp)") != NULL);
    if (!strstr(s.out, "runs cold"))
        fprintf(stderr, "\nserve said: %s\n", s.out);
    j = call(&s, "/healthz", NULL);
    CU_ASSERT_STRING_EQUAL(str_at(j, "sandbox", "run_mode"), "cold");
    CU_ASSERT(strstr(str_at(j, "sandbox", "run_mode_reason"), "needs the whole sandbox") != NULL);
    json_decref(j);
    j = call(&s, "/v1/tools/run_code", body);
    CU_ASSERT_STRING_EQUAL(str_at(j, "content", NULL), "42\n");
    json_decref(j);
    stop(&s);

    /* ... and insisting on warm there is refused at start-up, naming why */
    CU_ASSERT_EQUAL_FATAL(serve(HOST_USERNS_ZERO, unsafe_warm, &s), 0);
    stop(&s);
    CU_ASSERT_STRING_EQUAL(s.url, "");
    CU_ASSERT(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 1);
    CU_ASSERT(strstr(s.out, "toolgym serve: --run-mode warm: warm mode needs the whole sandbox") !=
              NULL);
    if (!strstr(s.out, "--run-mode warm:"))
        fprintf(stderr, "\nserve said: %s\n", s.out);
}
