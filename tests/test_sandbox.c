/*
 * test_sandbox.c — suite `sandbox`: sandbox_run and run_code_tool_invoke, called directly.
 *
 * Every attack of issue 3 is run for real; each test checks that the attack was contained
 * (the host is unchanged, the run ended) and that the outcome was reported (the Python error
 * printed, a signal, timed_out, truncated), and that no process of a slot uid is left.
 * Ordinary programs must keep working. Timeouts are short to keep the suite fast.
 *
 * Suite `sandbox_limits` (in this file too) holds the tests of what bounds a run's processes
 * and memory, which scripts/test_rootless.sh also runs in delegated cgroups.
 *
 * The suites run in whichever mode the sandbox picks: root mode when the tests run as root,
 * rootless otherwise (.ci/run and scripts/test_rootless.sh run it both ways, the latter also in
 * cgroups delegated to the rootless user, with TOOLGYM_TEST_CGROUPS=1 set to insist that they
 * are used). Where the modes differ in what a program sees, a test says what each must show.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json_util.h"
#include "base/limits.h"
#include "base/schema.h"
#include "tools/run_code.h"
#include "tools/sandbox.h"
#include "tg_test.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int sandbox_ready(void) {
    struct sandbox_config c = {.slots = 2, .unsafe = 0, .quiet = 1};
    struct sandbox_caps caps;
    struct tg_error e;

    if (sandbox_slots() == 0 && sandbox_init(&c, &e) != 0)
        return 0;
    sandbox_caps(&caps);
    return caps.namespaces && caps.seccomp;
}

/* 1 when the sandbox runs in rootless mode (each run in a user namespace of its own). */
static int rootless(void) {
    struct sandbox_caps c;

    sandbox_caps(&c);
    return c.userns;
}

/* 1 if process `pid` belongs to this test process's sandbox: its pids cgroup is ours
 * (toolgym-<our pid>), which sandboxed processes cannot leave. Processes of another toolgym on
 * the same host share the slot uids but not the cgroup. Without cgroups, every slot-uid
 * process counts. */
static int sandbox_caps_cgroups(void) {
    struct sandbox_caps c;

    sandbox_caps(&c);
    return c.cgroups;
}

static int ours(const char *pid) {
    char path[300], line[512], mine[64];
    FILE *f;
    int found = 0;

    if (!sandbox_caps_cgroups())
        return 1;
    snprintf(path, sizeof(path), "/proc/%s/cgroup", pid);
    snprintf(mine, sizeof(mine), "/toolgym-%d/", (int)getpid());
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, ":pids:") && strstr(line, mine))
            found = 1;
    fclose(f);
    return found;
}

/* The parent of process pid (as this process's PID namespace numbers it), or -1. */
static long parent_of(long pid) {
    char path[64], line[256];
    long ppid = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "PPid: %ld", &ppid) == 1)
            break;
    fclose(f);
    return ppid;
}

/* Rootless: 1 if process pid descends from this process and lives in another user namespace.
 * Every process of a run does (entry in the template's, init and the program in the run's);
 * runs share this process's uid, so the uid says nothing. */
static int ours_rootless(const char *pid) {
    char path[300], mine[64] = "", theirs[64] = "";
    long p = strtol(pid, NULL, 10);

    snprintf(path, sizeof(path), "/proc/%s/ns/user", pid);
    if (readlink(path, theirs, sizeof(theirs) - 1) <= 0 ||
        readlink("/proc/self/ns/user", mine, sizeof(mine) - 1) <= 0 || strcmp(mine, theirs) == 0)
        return 0;
    for (int depth = 0; depth < 64 && p > 1; depth++) {
        if (p == (long)getpid())
            return 1;
        p = parent_of(p);
    }
    return 0;
}

/* The command name of process pid ("" when it is gone). */
static void comm_of(const char *pid, char *comm, size_t n) {
    char path[300];
    FILE *f;

    comm[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%s/comm", pid);
    f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(comm, (int)n, f))
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
}

/* 1 when process pid runs python (its command name starts so). */
static int is_python(const char *pid) {
    char comm[32];

    comm_of(pid, comm, sizeof(comm));
    return strncmp(comm, "python", 6) == 0;
}

/* 1 when process pid is a prepared program (warm mode): readied for a slot's next run, named
 * so until its source comes. */
static int is_prepared(const char *pid) {
    char comm[32];

    comm_of(pid, comm, sizeof(comm));
    return strcmp(comm, "tg-prepared") == 0;
}

/* Wait (up to 10 s, a liveness bound) until no slot is readying its next run (warm mode): the
 * processes of a run being prepared are neither left over nor in flight. */
static void wait_prepared(void) {
    for (int i = 0; i < 1000 && sandbox_preparing() > 0; i++)
        usleep(10 * 1000);
}

/* Rootless: 1 when pid is an ancestor (entry or init) of a prepared program of ours. */
static int holds_prepared(long pid) {
    DIR *d = opendir("/proc");
    struct dirent *de;
    int found = 0;

    if (!d)
        return 0;
    while (!found && (de = readdir(d))) {
        long p = strtol(de->d_name, NULL, 10);

        if (p <= 0 || !is_prepared(de->d_name))
            continue;
        for (int depth = 0; depth < 4 && p > 1 && !found; depth++) {
            p = parent_of(p);
            found = p == pid;
        }
    }
    closedir(d);
    return found;
}

/* 1 when pid is a slot's zygote (warm mode): it stays between runs and belongs to no run. */
static int is_zygote(const char *pid) {
    long p = strtol(pid, NULL, 10);

    for (int i = 0; i < sandbox_slots(); i++)
        if (sandbox_zygote_pid(i) == p)
            return 1;
    return 0;
}

/* Processes of this process's sandbox alive now: in root mode those whose real uid is a slot
 * uid (and, with cgroups, in our cgroup); rootless, our descendants in other user namespaces,
 * except the slots' zygotes and the runs prepared for the slots' next requests (warm mode: at
 * most one per slot, waited for until readied; a program there runs nothing before its
 * request). python_only: count only the programs' processes (not entry and init). report:
 * name each on stderr as a leftover. */
static int sandbox_processes(int python_only, int report) {
    DIR *d;
    struct dirent *de;
    unsigned lo = sandbox_slot_uid(0), hi = sandbox_slot_uid(sandbox_slots());
    int n = 0, prepared = 0, userns = rootless();

    if (report)
        wait_prepared();
    d = opendir("/proc");
    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char path[300], line[256];
        FILE *f;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        if (is_prepared(de->d_name) && (userns ? ours_rootless(de->d_name) : ours(de->d_name))) {
            if (++prepared <= sandbox_slots())
                continue;
        }
        if (userns) {
            if (ours_rootless(de->d_name) && !is_zygote(de->d_name) &&
                (!python_only || is_python(de->d_name)) &&
                (python_only || !holds_prepared(strtol(de->d_name, NULL, 10)))) {
                n++;
                if (report)
                    fprintf(stderr, "\nleftover process %s of a rootless run\n", de->d_name);
            }
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f)) {
            unsigned uid;

            if (sscanf(line, "Uid: %u", &uid) == 1) {
                if (uid >= lo && uid < hi && ours(de->d_name) &&
                    (!python_only || is_python(de->d_name))) {
                    n++;
                    if (report)
                        fprintf(stderr, "\nleftover process %s uid %u\n", de->d_name, uid);
                }
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Processes left behind by runs that have ended (must be none). */
static int slot_processes(void) {
    return sandbox_processes(0, 1);
}

/* Wait (up to 20 s: a liveness bound, far past what the runs need) until the programs in
 * flight have at least n processes; the count seen. */
static int wait_python_processes(int n) {
    int seen = 0;

    for (int i = 0; i < 2000 && seen < n; i++) {
        seen = sandbox_processes(1, 0);
        if (seen < n)
            usleep(10 * 1000);
    }
    return seen;
}

/* Run code (stdin may be NULL) while another run may be in flight. */
static int run_beside(const char *code, const char *in, int timeout_ms, struct sandbox_result *r) {
    struct sandbox_request rq = {code, strlen(code), in, in ? strlen(in) : 0, timeout_ms, NULL};
    struct tg_error e;
    int rc;

    tg_error_clear(&e);
    rc = sandbox_run(&rq, r, &e);
    if (rc)
        fprintf(stderr, "\nsandbox_run: %s: %s\n", e.code, e.message);
    return rc;
}

/* Run code (stdin may be NULL) and check nothing is left behind. */
static int run(const char *code, const char *in, int timeout_ms, struct sandbox_result *r) {
    int rc = run_beside(code, in, timeout_ms, r);

    CU_ASSERT_EQUAL(slot_processes(), 0);
    return rc;
}

static int has(const struct sandbox_result *r, const char *needle) {
    return (r->out && strstr(r->out, needle)) || (r->err && strstr(r->err, needle));
}

#define NEED_SANDBOX()                                                                             \
    do {                                                                                           \
        if (!sandbox_ready()) {                                                                    \
            CU_FAIL("sandbox layers unavailable on this host (need root, namespaces, seccomp)");   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* ---- ordinary programs ---------------------------------------------------------------------- */

TG_TEST(sandbox, caps_active) {
    struct sandbox_caps c;

    NEED_SANDBOX();
    sandbox_caps(&c);
    CU_ASSERT(c.namespaces && c.seccomp);
    /* auto: root mode as root, rootless as anyone else */
    CU_ASSERT_STRING_EQUAL(c.mode, geteuid() == 0 ? "root" : "rootless");
    CU_ASSERT_EQUAL(c.userns, geteuid() != 0);
    CU_ASSERT_STRING_EQUAL(c.reason, "");
}

/* ---- what bounds a run: suite sandbox_limits ------------------------------------------------ */

TG_TEST(sandbox_limits, bounds_reported) {
    struct sandbox_caps c;

    NEED_SANDBOX();
    sandbox_caps(&c);
    /* cgroups are optional, but on a host where v1 memory+pids are writable they are on, and
     * scripts/test_rootless.sh says when it delegated some to the rootless user. */
    if (access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0 &&
        access("/sys/fs/cgroup/pids/cgroup.procs", W_OK) == 0)
        CU_ASSERT(c.cgroups);
    if (getenv("TOOLGYM_TEST_CGROUPS"))
        CU_ASSERT(c.cgroups);
    /* what bounds a run's processes and memory follows from the layers */
    CU_ASSERT_STRING_EQUAL(c.pids, c.cgroups  ? "cgroup"
                                   : c.userns ? "rlimit_userns"
                                              : "rlimit_slot_uid");
    CU_ASSERT_STRING_EQUAL(c.memory, c.cgroups ? "cgroup" : "watch");
}

TG_TEST(sandbox, print) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("print(1 + 1)", NULL, 2000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "2\n");
    CU_ASSERT_EQUAL(r.out_len, 2);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_EQUAL(r.exit_code, 0);
    CU_ASSERT_EQUAL(r.signal, 0);
    CU_ASSERT(!r.timed_out && !r.truncated);
    CU_ASSERT(r.wall_ms > 0 && r.wall_ms < 2000);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, echo_stdin) {
    struct sandbox_result r;
    char *big;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(
        run("import sys\nsys.stdout.write(sys.stdin.read().upper())", "hello\nworld", 2000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "HELLO\nWORLD");
    sandbox_result_free(&r);

    /* A full 64 KiB of stdin echoed back while it is still being written: no deadlock. */
    big = malloc(TG_STDIN_MAX_BYTES + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    for (int i = 0; i < TG_STDIN_MAX_BYTES; i++)
        big[i] = (char)('a' + i % 26);
    big[TG_STDIN_MAX_BYTES] = '\0';
    CU_ASSERT_EQUAL_FATAL(
        run("import sys\nfor line in sys.stdin: sys.stdout.write(line)", big, 5000, &r), 0);
    CU_ASSERT_EQUAL(r.out_len, (size_t)TG_STDIN_MAX_BYTES);
    CU_ASSERT(r.out && memcmp(r.out, big, TG_STDIN_MAX_BYTES) == 0);
    CU_ASSERT(!r.truncated);
    sandbox_result_free(&r);
    free(big);
}

/* The largest program with the largest stdin: all of both reach it (warm mode writes the source
 * through a pipe of its own before stdin, and a pipe holds 64 KiB). */
TG_TEST(sandbox, largest_program_with_largest_stdin) {
    static const char head[] = "import sys\nd = sys.stdin.read()\nprint(len(d), d[:3])\n#";
    struct sandbox_request rq;
    struct sandbox_result r;
    struct tg_error e;
    char *code = malloc(TG_CODE_MAX_BYTES), *in = malloc(TG_STDIN_MAX_BYTES);

    NEED_SANDBOX();
    CU_ASSERT_FATAL(code && in);
    memset(code, 'x', TG_CODE_MAX_BYTES);
    memcpy(code, head, sizeof(head) - 1);
    code[TG_CODE_MAX_BYTES - 1] = '\n';
    memset(in, 'y', TG_STDIN_MAX_BYTES);
    memset(&rq, 0, sizeof(rq));
    rq.code = code;
    rq.code_len = TG_CODE_MAX_BYTES;
    rq.stdin_data = in;
    rq.stdin_len = TG_STDIN_MAX_BYTES;
    rq.timeout_ms = 5000;
    tg_error_clear(&e);
    CU_ASSERT_EQUAL_FATAL(sandbox_run(&rq, &r, &e), 0);
    CU_ASSERT_EQUAL(r.exit_code, 0);
    CU_ASSERT(r.out && strcmp(r.out, "65536 yyy\n") == 0);
    if (!r.out || strcmp(r.out, "65536 yyy\n") != 0)
        fprintf(stderr, "\nlargest program: %s%s\n", r.out ? r.out : "", r.err ? r.err : "");
    sandbox_result_free(&r);
    CU_ASSERT_EQUAL(slot_processes(), 0);
    free(code);
    free(in);
}

TG_TEST(sandbox, stdlib_modules) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("import math, json, itertools, re, fractions, decimal\n"
                              "decimal.getcontext().prec = 30\n"
                              "print(math.comb(10, 3), json.dumps({'a': [1, 2]}),\n"
                              "      len(list(itertools.permutations(range(4)))),\n"
                              "      re.findall(r'\\d+', 'a1b22c333'), fractions.Fraction(1, 3) + "
                              "fractions.Fraction(1, 6),\n"
                              "      decimal.Decimal(1) / decimal.Decimal(7))",
                              NULL, 3000, &r),
                          0);
    CU_ASSERT_STRING_EQUAL(
        r.out, "120 {\"a\": [1, 2]} 24 ['1', '22', '333'] 1/2 0.142857142857142857142857142857\n");
    CU_ASSERT_EQUAL(r.exit_code, 0);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, threads) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("import threading\n"
                              "out = [0] * 8\n"
                              "def work(i): out[i] = sum(range(i * 1000))\n"
                              "ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n"
                              "[t.start() for t in ts]; [t.join() for t in ts]\n"
                              "print(sum(out))",
                              NULL, 3000, &r),
                          0);
    {
        long long want = 0;

        for (long long i = 0; i < 8; i++)
            want += (i * 1000) * (i * 1000 - 1) / 2;
        char buf[64];
        snprintf(buf, sizeof(buf), "%lld\n", want);
        CU_ASSERT_STRING_EQUAL(r.out, buf);
    }
    sandbox_result_free(&r);
}

TG_TEST(sandbox, one_second_computation) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("import time\n"
                              "t = time.process_time(); n = 0\n"
                              "while time.process_time() - t < 1.0: n += 1\n"
                              "print('done', n > 0)",
                              NULL, 8000, &r),
                          0);
    CU_ASSERT_STRING_EQUAL(r.out, "done True\n");
    CU_ASSERT(!r.timed_out);
    CU_ASSERT(r.cpu_ms >= 900 && r.cpu_ms < 4000);
    CU_ASSERT(r.wall_ms >= r.cpu_ms * 0.9);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, exception_is_readable) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("def f():\n    raise ValueError('boom')\nf()", NULL, 2000, &r), 0);
    CU_ASSERT_EQUAL(r.exit_code, 1);
    CU_ASSERT_EQUAL(r.signal, 0);
    CU_ASSERT(strstr(r.err, "Traceback") != NULL);
    CU_ASSERT(strstr(r.err, "ValueError: boom") != NULL);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, invalid_requests) {
    struct sandbox_request rq = {"print(1)\0", 9, NULL, 0, 1000, NULL};
    struct sandbox_result r;
    struct tg_error e;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL(sandbox_run(&rq, &r, &e), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.code, "invalid_arguments");
    rq.code_len = 8;
    rq.timeout_ms = TG_CODE_TIMEOUT_MAX_MS + 1;
    CU_ASSERT_EQUAL(sandbox_run(&rq, &r, &e), TG_EINVAL);
    rq.timeout_ms = 1000;
    rq.code_len = TG_CODE_MAX_BYTES + 1;
    CU_ASSERT_EQUAL(sandbox_run(&rq, &r, &e), TG_EINVAL);
    rq.code_len = 0;
    CU_ASSERT_EQUAL(sandbox_run(&rq, &r, &e), TG_EINVAL);
    CU_ASSERT_PTR_NULL(r.out);
}

/* ---- network -------------------------------------------------------------------------------- */

TG_TEST(sandbox, tcp_connect_to_host_listener) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    struct sandbox_result r;
    char code[512];
    int fd;

    NEED_SANDBOX();
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 4) == 0);
    CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    snprintf(code, sizeof(code),
             "import socket\n"
             "try:\n"
             "    s = socket.create_connection(('127.0.0.1', %d), timeout=1)\n"
             "    print('CONNECTED')\n"
             "except OSError as e:\n"
             "    print(type(e).__name__, e.errno)\n",
             ntohs(a.sin_port));
    CU_ASSERT_EQUAL_FATAL(run(code, NULL, 3000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "PermissionError 1\n");
    {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        CU_ASSERT_EQUAL(poll(&p, 1, 0), 0); /* nobody knocked */
    }
    close(fd);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, dns_lookup) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("import socket\n"
                              "try:\n"
                              "    print(socket.getaddrinfo('example.com', 80))\n"
                              "except OSError as e:\n"
                              "    print('FAILED', type(e).__name__)\n",
                              NULL, 3000, &r),
                          0);
    CU_ASSERT(strncmp(r.out, "FAILED ", 7) == 0);
    CU_ASSERT(!r.timed_out);
    sandbox_result_free(&r);
}

/* ---- the file system ------------------------------------------------------------------------ */

TG_TEST(sandbox, write_outside_tmp) {
    struct sandbox_result r;
    char code[1024];
    int n;

    NEED_SANDBOX();
    n = snprintf(
        code, sizeof(code),
        "import os\n"
        "for p in ['/toolgym_probe_%d', '/usr/lib/toolgym_probe_%d', '/dev/toolgym_probe',\n"
        "          '/proc/toolgym_probe', '/usr/bin/python3']:\n"
        "    try:\n"
        "        open(p, 'a').write('x'); print('WROTE', p)\n"
        "    except OSError as e:\n"
        "        print('denied', type(e).__name__)\n"
        "open('/tmp/ok', 'w').write('fine'); print(open('/tmp/ok').read())\n",
        (int)getpid(), (int)getpid());
    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(code));
    CU_ASSERT_EQUAL_FATAL(run(code, NULL, 3000, &r), 0);
    CU_ASSERT(strstr(r.out, "WROTE") == NULL);
    CU_ASSERT(strstr(r.out, "fine\n") != NULL);
    {
        int denied = 0;

        for (const char *p = r.out; (p = strstr(p, "denied")); p++)
            denied++;
        CU_ASSERT_EQUAL(denied, 5);
    }
    snprintf(code, sizeof(code), "/toolgym_probe_%d", (int)getpid());
    CU_ASSERT(access(code, F_OK) != 0);
    snprintf(code, sizeof(code), "/usr/lib/toolgym_probe_%d", (int)getpid());
    CU_ASSERT(access(code, F_OK) != 0);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, read_secrets) {
    struct sandbox_result r;
    char cwd[512], code[2048];

    NEED_SANDBOX();
    CU_ASSERT_FATAL(getcwd(cwd, sizeof(cwd)) != NULL);
    setenv("TOOLGYM_TEST_SECRET", "hunter2-sandbox-secret", 1);
    snprintf(code, sizeof(code),
             "import os\n"
             "for p in ['/etc/shadow', '/etc/passwd', '%s/Makefile', '/proc/1/environ',\n"
             "          '/proc/1/mem', '/proc/1/root/etc/shadow', '/root/.bash_history']:\n"
             "    try:\n"
             "        print('READ', p, open(p, 'rb').read(64))\n"
             "    except OSError as e:\n"
             "        print('denied', type(e).__name__)\n"
             "print('env', dict(os.environ))\n"
             "for pid in os.listdir('/proc'):\n"
             "    if pid.isdigit():\n"
             "        try: print(open('/proc/%%s/environ' %% pid, 'rb').read())\n"
             "        except OSError: pass\n",
             cwd);
    CU_ASSERT_EQUAL_FATAL(run(code, NULL, 3000, &r), 0);
    CU_ASSERT(strstr(r.out, "READ") == NULL);
    CU_ASSERT(strstr(r.out, "env {}\n") != NULL);
    CU_ASSERT(!has(&r, "hunter2"));
    CU_ASSERT_EQUAL(r.exit_code, 0);
    unsetenv("TOOLGYM_TEST_SECRET");
    sandbox_result_free(&r);
}

TG_TEST(sandbox, root_holds_only_python) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("import os\nprint(sorted(os.listdir('/')))", NULL, 2000, &r), 0);
    CU_ASSERT(strstr(r.out, "'usr'") && strstr(r.out, "'tmp'") && strstr(r.out, "'dev'"));
    CU_ASSERT(!strstr(r.out, "'etc'") && !strstr(r.out, "'home'") && !strstr(r.out, "'root'") &&
              !strstr(r.out, "'work'") && !strstr(r.out, "'sys'"));
    sandbox_result_free(&r);
}

TG_TEST(sandbox_limits, fill_tmp) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(
        run("import os\n"
            "chunk = b'x' * (1 << 20); total = 0; err = None\n"
            "for i in range(64):\n"
            "    try:\n"
            "        with open('/tmp/f%d' % i, 'wb') as f:\n"
            "            for j in range(16): f.write(chunk); total += len(chunk)\n"
            "    except OSError as e:\n"
            "        err = e; break\n"
            "print(type(err).__name__, err.errno if err else 0, total >> 20)",
            NULL, 5000, &r),
        0);
    /* ENOSPC (28) on the 16 MiB tmpfs, or EFBIG (27) from RLIMIT_FSIZE: either way bounded. */
    CU_ASSERT(strncmp(r.out, "OSError 28 ", 11) == 0 || strncmp(r.out, "OSError 27 ", 11) == 0);
    CU_ASSERT((int)strtol(r.out + 11, NULL, 10) <= (int)(TG_CODE_TMP_BYTES >> 20));
    CU_ASSERT_EQUAL(r.exit_code, 0);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, symlink_tricks) {
    struct sandbox_result r;
    char code[1024], host[128];

    NEED_SANDBOX();
    snprintf(host, sizeof(host), "/tmp/toolgym_link_%d", (int)getpid());
    snprintf(code, sizeof(code),
             "import os\n"
             "links = {'/tmp/shadow': '/etc/shadow', '/tmp/proc': '/proc/1/root/etc/shadow',\n"
             "         '/tmp/up': '../../../../etc/passwd', '%s': '/etc/passwd'}\n"
             "for l, t in links.items():\n"
             "    os.symlink(t, l)\n"
             "    try: print('READ', open(l).read(32))\n"
             "    except OSError as e: print('denied', type(e).__name__)\n"
             "os.symlink('/', '/tmp/root')\n"
             "print(sorted(os.listdir('/tmp/root')))\n",
             host);
    CU_ASSERT_EQUAL_FATAL(run(code, NULL, 3000, &r), 0);
    CU_ASSERT(strstr(r.out, "READ") == NULL);
    CU_ASSERT(!strstr(r.out, "'etc'") && !strstr(r.out, "'work'"));
    CU_ASSERT_EQUAL(r.exit_code, 0);
    {
        struct stat st;

        CU_ASSERT(lstat(host, &st) != 0); /* the sandbox's /tmp is not the host's */
    }
    sandbox_result_free(&r);
}

/* ---- resources --------------------------------------------------------------------------------
 */

TG_TEST(sandbox_limits, fork_bomb) {
    struct sandbox_result r;

    NEED_SANDBOX();
    /* Bounded: how many forks succeed before the process limit says no. */
    CU_ASSERT_EQUAL_FATAL(run("import os, time\n"
                              "n = 0; err = None\n"
                              "for i in range(1000):\n"
                              "    try:\n"
                              "        if os.fork() == 0:\n"
                              "            time.sleep(30); os._exit(0)\n"
                              "        n += 1\n"
                              "    except OSError as e:\n"
                              "        err = e; break\n"
                              "print(n, type(err).__name__)",
                              NULL, 5000, &r),
                          0);
    CU_ASSERT((int)strtol(r.out, NULL, 10) > 0 && (int)strtol(r.out, NULL, 10) < TG_CODE_NPROC);
    CU_ASSERT(strstr(r.out, "BlockingIOError") != NULL);
    CU_ASSERT(!r.timed_out && r.wall_ms < 4000); /* the sleepers did not hold the run */
    sandbox_result_free(&r);

    /* The classic: every process forks forever. The run ends at the wall clock. */
    CU_ASSERT_EQUAL_FATAL(run("import os\n"
                              "while True:\n"
                              "    try: os.fork()\n"
                              "    except OSError: pass\n",
                              NULL, 400, &r),
                          0);
    CU_ASSERT(r.timed_out);
    CU_ASSERT(r.wall_ms < 2000);
    sandbox_result_free(&r);
}

TG_TEST(sandbox_limits, thread_bomb) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(
        run("import threading, time\n"
            "n = 0\n"
            "try:\n"
            "    while True:\n"
            "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
            "        n += 1\n"
            "except RuntimeError as e:\n"
            "    print(n, e)\n",
            NULL, 5000, &r),
        0);
    CU_ASSERT(strstr(r.out, "can't start new thread") != NULL);
    CU_ASSERT((int)strtol(r.out, NULL, 10) > 0 && (int)strtol(r.out, NULL, 10) < TG_CODE_NPROC);
    CU_ASSERT(!r.timed_out);
    sandbox_result_free(&r);
}

TG_TEST(sandbox_limits, big_allocation) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("try:\n"
                              "    b = bytearray(1 << 30); print('ALLOCATED', len(b))\n"
                              "except MemoryError:\n"
                              "    print('MemoryError')\n",
                              NULL, 3000, &r),
                          0);
    CU_ASSERT_STRING_EQUAL(r.out, "MemoryError\n");
    sandbox_result_free(&r);
}

TG_TEST(sandbox, cpu_loop_times_out) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("print('start', flush=True)\nwhile True: pass", NULL, 300, &r), 0);
    CU_ASSERT(r.timed_out);
    CU_ASSERT_EQUAL(r.signal, SIGKILL);
    CU_ASSERT_EQUAL(r.exit_code, -1);
    CU_ASSERT_STRING_EQUAL(r.out, "start\n");        /* output before the kill is kept */
    CU_ASSERT(r.wall_ms >= 300 && r.wall_ms < 5000); /* generous: a loaded CI host */
    sandbox_result_free(&r);
}

TG_TEST(sandbox, sleep_times_out) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("import time\ntime.sleep(30)", NULL, 300, &r), 0);
    CU_ASSERT(r.timed_out);
    CU_ASSERT(r.wall_ms >= 300 && r.wall_ms < 5000); /* generous: a loaded CI host */
    CU_ASSERT(r.cpu_ms < 300);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, huge_output_truncated) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(
        run("import sys\n"
            "chunk = 'y' * (1 << 20)\n"
            "for i in range(100): sys.stdout.write(chunk); sys.stderr.write(chunk[:1000])\n"
            "print('END')",
            NULL, 8000, &r),
        0);
    CU_ASSERT(r.truncated);
    CU_ASSERT_EQUAL(r.out_len, (size_t)TG_OUTPUT_MAX_BYTES);
    CU_ASSERT_EQUAL(r.err_len, (size_t)TG_OUTPUT_MAX_BYTES);
    CU_ASSERT_EQUAL(strspn(r.out, "y"), (size_t)TG_OUTPUT_MAX_BYTES);
    CU_ASSERT_EQUAL(r.exit_code, 0); /* it ran to the end: output was drained, not blocked */
    CU_ASSERT(!r.timed_out);
    sandbox_result_free(&r);
}

TG_TEST(sandbox_limits, memory_bounded_per_run) {
    struct sandbox_caps c;
    struct sandbox_result r;

    NEED_SANDBOX();
    sandbox_caps(&c);
    /* Two processes of 200 MB each: under RLIMIT_AS one by one, over the run's 256 MiB
     * together, which the memory cgroup or init's memory watch enforces. A cgroup stalls the
     * run until the clock (short, to keep the suite fast); the watch kills it as soon as it
     * sees the sum (a long clock, so that a loaded host still gets there first). */
    CU_ASSERT_EQUAL_FATAL(run("import os\n"
                              "pid = os.fork()\n"
                              "b = bytearray(200 << 20)\n"
                              "if pid: os.waitpid(pid, 0); print('BOTH ALLOCATED')\n",
                              NULL, c.cgroups ? 1500 : 10000, &r),
                          0);
    CU_ASSERT(strstr(r.out, "BOTH ALLOCATED") == NULL);
    if (c.cgroups) { /* the OOM killer is off: the run stalls until the wall clock */
        CU_ASSERT(r.timed_out || r.signal == SIGKILL || has(&r, "MemoryError"));
    } else { /* the watch kills the run and says so */
        CU_ASSERT(r.over_memory);
        CU_ASSERT_EQUAL(r.signal, SIGKILL);
        CU_ASSERT(!r.timed_out);
    }
    sandbox_result_free(&r);
}

/* ---- signals, privileges, escapes ------------------------------------------------------------ */

TG_TEST(sandbox, kill_everything) {
    struct sandbox_result r;

    NEED_SANDBOX();
    /* kill(-1) reaches every process the caller may signal, except itself and init: here
     * only its own child. On the host it would reach every process of the slot uid. */
    CU_ASSERT_EQUAL_FATAL(run("import os, time\n"
                              "pid = os.fork()\n"
                              "if pid == 0:\n"
                              "    time.sleep(30); os._exit(0)\n"
                              "os.kill(-1, 9)\n"
                              "print('child', os.waitpid(pid, 0)[1] & 0x7f, 'survived')",
                              NULL, 3000, &r),
                          0);
    CU_ASSERT_STRING_EQUAL(r.out, "child 9 survived\n");
    CU_ASSERT(!r.timed_out);
    sandbox_result_free(&r);
    /* and then it kills itself; the sandbox works afterwards */
    CU_ASSERT_EQUAL_FATAL(run("import os\nos.kill(os.getpid(), 9)", NULL, 3000, &r), 0);
    CU_ASSERT_EQUAL(r.signal, SIGKILL);
    sandbox_result_free(&r);
    CU_ASSERT_EQUAL_FATAL(run("print('next')", NULL, 2000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "next\n");
    sandbox_result_free(&r);
}

TG_TEST(sandbox, kill_parent) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("import os, signal, time\n"
                              "print('ppid', os.getppid())\n"
                              "for pid in (os.getppid(), 1):\n"
                              "    try: os.kill(pid, signal.SIGKILL); print('sent', pid)\n"
                              "    except OSError as e: print('denied', type(e).__name__)\n"
                              "time.sleep(0.2)\n"
                              "print('init alive')\n",
                              NULL, 3000, &r),
                          0);
    /* Root mode: init is root, the program is not: refused. Rootless: init has the program's
     * uid outside, so the kernel accepts the signal, and drops it: the init of a PID namespace
     * ignores SIGKILL sent from inside it. */
    CU_ASSERT_STRING_EQUAL(r.out, rootless() ? "ppid 1\nsent 1\nsent 1\ninit alive\n"
                                             : "ppid 1\ndenied PermissionError\ndenied "
                                               "PermissionError\ninit alive\n");
    /* either way init lived on: it reported the run, which ended normally */
    CU_ASSERT_EQUAL(r.exit_code, 0);
    CU_ASSERT(!r.timed_out);
    sandbox_result_free(&r);
}

/* A ctypes call that must be killed by the seccomp filter (SIGSYS). */
static void expect_sigsys(const char *call) {
    struct sandbox_result r;
    char code[512];

    snprintf(code, sizeof(code),
             "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
             "print('before', flush=True)\nrc = %s\nprint('ALLOWED', rc, ctypes.get_errno())\n",
             call);
    CU_ASSERT_EQUAL_FATAL(run(code, NULL, 3000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "before\n");
    CU_ASSERT_EQUAL(r.signal, SIGSYS);
    if (r.signal != SIGSYS)
        fprintf(stderr, "\n%s: out=%s err=%s\n", call, r.out, r.err);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, forbidden_syscalls_are_killed) {
    NEED_SANDBOX();
    expect_sigsys("libc.ptrace(0, 0, 0, 0)");                         /* PTRACE_TRACEME */
    expect_sigsys("libc.unshare(0x10000000)");                        /* CLONE_NEWUSER */
    expect_sigsys("libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)"); /* mount */
    expect_sigsys("libc.umount2(b'/tmp', 2)");
    expect_sigsys("libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)"); /* clone(NEWUSER) */
    expect_sigsys("libc.syscall(56, 0x20000000 | 17, 0, 0, 0, 0)"); /* clone(NEWPID) */
    expect_sigsys("libc.syscall(0x40000000 | 39)");                 /* x32 ABI getpid */
    expect_sigsys("libc.syscall(308, 3, 0)");                       /* setns */
    expect_sigsys("libc.syscall(321, 0, 0, 0)");                    /* bpf */
    expect_sigsys("libc.syscall(250, 0, 0, 0, 0, 0)");              /* keyctl */
}

TG_TEST(sandbox, privileges) {
    struct sandbox_result r;
    char want[256];

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(
        run("import os, ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "for f in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.chroot('/tmp')):\n"
            "    try: f(); print('ESCALATED')\n"
            "    except OSError as e: print(type(e).__name__, e.errno)\n",
            NULL, 3000, &r),
        0);
    /* chroot is killed by seccomp: the third line never prints. Root mode: the slot uid may
     * not become root (EPERM). Rootless: uid 0 does not exist in the run's user namespace,
     * which maps no uid at all (EINVAL). */
    CU_ASSERT_EQUAL(r.signal, SIGSYS);
    CU_ASSERT_STRING_EQUAL(r.out, rootless() ? "OSError 22\nOSError 22\n"
                                             : "PermissionError 1\nPermissionError 1\n");
    sandbox_result_free(&r);

    CU_ASSERT_EQUAL_FATAL(
        run("import os, ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "st = open('/proc/self/status').read()\n"
            "print(os.getuid(), os.geteuid() == os.getuid(), set(os.getgroups()) <= {65534})\n"
            "print(repr(open('/proc/self/uid_map').read().split()))\n"
            "print([l.split()[1] for l in st.splitlines()\n"
            "       if l.startswith(('CapInh', 'CapPrm', 'CapEff', 'CapAmb'))])\n"
            "print('clone3', libc.syscall(435, 0, 0), ctypes.get_errno())\n"
            "print(st.split('NoNewPrivs:')[1].split()[0])\n",
            NULL, 3000, &r),
        0);
    /* Root mode: the slot uid, no groups, the host's identity map. Rootless: the overflow uid
     * (nobody) in a namespace that maps nothing; the server's supplementary groups (if any)
     * show as the overflow gid. No capabilities either way. */
    if (rootless()) {
        snprintf(want, sizeof(want), "65534 True True\n[]\n");
    } else { /* whichever slot ran it */
        unsigned uid = r.out ? (unsigned)strtoul(r.out, NULL, 10) : 0;

        CU_ASSERT(uid >= sandbox_slot_uid(0) && uid <= sandbox_slot_uid(sandbox_slots() - 1));
        snprintf(want, sizeof(want), "%u True True\n['0', '0', '4294967295']\n", uid);
    }
    CU_ASSERT(r.out && strncmp(r.out, want, strlen(want)) == 0);
    CU_ASSERT(r.out && strstr(r.out, "['0000000000000000', '0000000000000000', "
                                     "'0000000000000000', '0000000000000000']\n"
                                     "clone3 -1 38\n1\n") != NULL); /* ENOSYS; NoNewPrivs 1 */
    if (r.out && strncmp(r.out, want, strlen(want)) != 0)
        fprintf(stderr, "\nprivileges: %s\n", r.out);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, background_processes_do_not_survive) {
    struct sandbox_result r;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run("import os, time\n"
                              "if os.fork() == 0:\n"
                              "    os.setsid()\n"
                              "    if os.fork() == 0:\n"
                              "        os.close(1); os.close(2)\n"
                              "        time.sleep(60)\n"
                              "    os._exit(0)\n"
                              "print('parent done')\n",
                              NULL, 5000, &r),
                          0);
    CU_ASSERT_STRING_EQUAL(r.out, "parent done\n");
    CU_ASSERT(!r.timed_out);
    CU_ASSERT(r.wall_ms < 2000);
    sandbox_result_free(&r);
    /* run() already checked that no slot-uid process remains; check once more later on. */
    usleep(100 * 1000);
    CU_ASSERT_EQUAL(slot_processes(), 0);
}

/* ---- the boundary: signals, side channels, host identity and statistics (issue 9) ------ */

TG_TEST(sandbox, signals_stay_inside) {
    struct sandbox_result r;
    pid_t helper;
    int st = 0;

    NEED_SANDBOX();
    /* A stopped process in this (the server's) process group and session. SIGCONT may be sent
     * to any process of the same session whatever the uid, so a run that shared the server's
     * session could resume it. */
    helper = fork();
    CU_ASSERT_FATAL(helper >= 0);
    if (helper == 0) {
        for (;;)
            pause();
    }
    CU_ASSERT_FATAL(kill(helper, SIGSTOP) == 0);
    CU_ASSERT_FATAL(waitpid(helper, &st, WUNTRACED) == helper && WIFSTOPPED(st));
    CU_ASSERT_EQUAL(run("import os, signal\n"
                        "for f in (lambda: os.kill(0, signal.SIGCONT),\n"
                        "          lambda: os.kill(-1, signal.SIGCONT),\n"
                        "          lambda: os.killpg(os.getpgrp(), signal.SIGCONT)):\n"
                        "    try: f(); print('sent')\n"
                        "    except OSError as e: print(type(e).__name__)\n"
                        "print(os.getsid(0) == os.getpgrp() == os.getpid())\n",
                        NULL, 3000, &r),
                    0);
    /* kill(-1) finds nobody it may signal in the namespace (init is exempt): ESRCH */
    CU_ASSERT_STRING_EQUAL(r.out ? r.out : "", "sent\nProcessLookupError\nsent\nTrue\n");
    /* The helper is still stopped: no SIGCONT reached it. */
    CU_ASSERT_EQUAL(waitpid(helper, &st, WCONTINUED | WNOHANG), 0);
    kill(helper, SIGKILL);
    waitpid(helper, &st, 0);
    sandbox_result_free(&r);
}

TG_TEST(sandbox, inotify_and_fanotify_denied) {
    struct sandbox_result r;

    NEED_SANDBOX();
    /* Watching the shared read-only binds would show which modules a concurrent run imports. */
    CU_ASSERT_EQUAL_FATAL(
        run("import ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "for name, call in (('init', lambda: libc.inotify_init()),\n"
            "                   ('init1', lambda: libc.inotify_init1(0)),\n"
            "                   ('add_watch', lambda: libc.inotify_add_watch(\n"
            "                       0, b'/usr/lib', 0xfff)),\n"
            "                   ('rm_watch', lambda: libc.inotify_rm_watch(0, 1)),\n"
            "                   ('fanotify', lambda: libc.fanotify_init(0, 0)),\n"
            "                   ('mark', lambda: libc.fanotify_mark(0, 1, 1, -100,\n"
            "                       b'/usr'))):\n"
            "    print(name, call(), ctypes.get_errno())\n",
            NULL, 3000, &r),
        0);
    CU_ASSERT_STRING_EQUAL(r.out ? r.out : "", "init -1 1\ninit1 -1 1\nadd_watch -1 1\n"
                                               "rm_watch -1 1\nfanotify -1 1\nmark -1 1\n");
    sandbox_result_free(&r);
}

/* The host's mount that holds path: "maj:min", file system type and source. 0 if found. */
static int host_mount_of(const char *path, char *devno, size_t dn, char *fstype, size_t fn,
                         char *source, size_t sn) {
    struct stat st;
    char line[4096];
    FILE *f;
    int found = -1;

    if (stat(path, &st) != 0)
        return -1;
    snprintf(devno, dn, "%u:%u", major(st.st_dev), minor(st.st_dev));
    f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return -1;
    while (found && fgets(line, sizeof(line), f)) {
        char dev[64], type[64], src[512];
        const char *sep = strstr(line, " - ");

        if (sscanf(line, "%*s %*s %63s", dev) != 1 || strcmp(dev, devno) != 0 || !sep ||
            sscanf(sep + 3, "%63s %511s", type, src) != 2)
            continue;
        snprintf(fstype, fn, " %s ", type);
        snprintf(source, sn, " %s ", src);
        found = 0;
    }
    fclose(f);
    return found;
}

TG_TEST(sandbox, host_identity_hidden) {
    struct sandbox_result r;
    char devno[64], dev_field[80], fstype[80], source[600], mine[32];

    NEED_SANDBOX();
    CU_ASSERT_FATAL(host_mount_of("/usr/lib/python3", devno, sizeof(devno), fstype, sizeof(fstype),
                                  source, sizeof(source)) == 0 ||
                    host_mount_of("/usr/lib", devno, sizeof(devno), fstype, sizeof(fstype), source,
                                  sizeof(source)) == 0);
    snprintf(dev_field, sizeof(dev_field), " %s ", devno);
    CU_ASSERT_EQUAL_FATAL(run("import os\n"
                              "print(open('/proc/self/cgroup').read())\n"
                              "print('=====')\n"
                              "print(open('/proc/self/mountinfo').read())\n"
                              "print(open('/proc/self/mounts').read())\n",
                              NULL, 3000, &r),
                          0);
    CU_ASSERT_FATAL(r.out && strstr(r.out, "=====") != NULL);
    /* cgroup: every hierarchy is the namespace's root; neither our pid nor the host tree. */
    snprintf(mine, sizeof(mine), "%d", (int)getpid());
    for (const char *p = r.out; *p && strncmp(p, "=====", 5) != 0;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);

        if (n > 0 && !(n >= 2 && p[n - 2] == ':' && p[n - 1] == '/')) {
            fprintf(stderr, "\ncgroup line: %.*s\n", (int)n, p);
            CU_FAIL("a cgroup path other than / is visible");
        }
        p += n + (nl ? 1 : 0);
    }
    CU_ASSERT(strstr(r.out, "toolgym-") == NULL);
    /* mountinfo: nothing of the host's disk, file system or device file system. */
    CU_ASSERT(strstr(r.out, dev_field) == NULL);
    CU_ASSERT(strstr(r.out, fstype) == NULL);
    CU_ASSERT(strstr(r.out, source) == NULL);
    /* Root mode makes its own device nodes. Rootless cannot (mknod needs privilege), so
     * /dev/null, /dev/zero and /dev/urandom are binds of the host's nodes, and only those
     * three lines name the device file system (docs/sandbox.md). */
    for (const char *p = r.out; (p = strstr(p, "devtmpfs")) != NULL; p++) {
        const char *bol = p, *eol = strchr(p, '\n');
        char line[1024];

        while (bol > r.out && bol[-1] != '\n')
            bol--;
        snprintf(line, sizeof(line), "%.*s", (int)((eol ? eol : p + strlen(p)) - bol), bol);
        CU_ASSERT(rootless() && (strstr(line, " /dev/null ") || strstr(line, " /dev/zero ") ||
                                 strstr(line, " /dev/urandom ")));
        if (!rootless())
            fprintf(stderr, "\ndevice file system visible: %s\n", line);
    }
    if (strstr(r.out, dev_field) || strstr(r.out, fstype) || strstr(r.out, source))
        fprintf(stderr, "\nhost mount%s%s%s visible:\n%s\n", dev_field, fstype, source, r.out);
    sandbox_result_free(&r);
    /* and the binds still work: the standard library and /dev/urandom */
    CU_ASSERT_EQUAL_FATAL(run("import json, os, random\n"
                              "print(len(os.urandom(16)), json.dumps([1]), open('/dev/null').read()"
                              " == '', len(open('/dev/zero', 'rb').read(3)))\n",
                              NULL, 3000, &r),
                          0);
    CU_ASSERT_STRING_EQUAL(r.out ? r.out : "", "16 [1] True 3\n");
    sandbox_result_free(&r);
}

TG_TEST(sandbox, host_statistics_denied) {
    struct sandbox_result r;

    NEED_SANDBOX();
    /* sysinfo (RAM, uptime, load, tasks), statfs/fstatfs/ustat (disk size and free space) */
    CU_ASSERT_EQUAL_FATAL(
        run("import ctypes, os, shutil\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "buf = ctypes.create_string_buffer(256)\n"
            "print('sysinfo', libc.sysinfo(buf), ctypes.get_errno(),\n"
            "      buf.raw == bytes(256))\n"
            "print('ustat', libc.syscall(136, 0x10300, buf), ctypes.get_errno())\n"
            "for p in ('/usr/lib', '/usr/lib/python3', '/tmp', '/'):\n"
            "    try: print('statvfs', os.statvfs(p).f_blocks)\n"
            "    except OSError as e: print(type(e).__name__)\n"
            "fd = os.open('/usr/lib', os.O_RDONLY)\n"
            "try: print('fstatvfs', os.fstatvfs(fd).f_blocks)\n"
            "except OSError as e: print(type(e).__name__)\n"
            "try: print('disk_usage', shutil.disk_usage('/tmp'))\n"
            "except OSError as e: print(type(e).__name__)\n"
            "for p in ('/proc/meminfo', '/proc/loadavg', '/proc/uptime'):\n"
            "    print(os.path.exists(p))\n",
            NULL, 3000, &r),
        0);
    CU_ASSERT_STRING_EQUAL(r.out ? r.out : "",
                           "sysinfo -1 1 True\nustat -1 1\nPermissionError\nPermissionError\n"
                           "PermissionError\nPermissionError\nPermissionError\nPermissionError\n"
                           "False\nFalse\nFalse\n");
    if (r.out && strncmp(r.out, "sysinfo -1 1 True\n", 18) != 0)
        fprintf(stderr, "\n%s%s\n", r.out, r.err);
    sandbox_result_free(&r);
}

/* ---- slot uids of two servers on one host ------------------------------------------------ */

extern char **environ;

/* Start `toolgym serve ARGS...` (the binary make test built) with stderr on a pipe. Returns
 * its pid (and the pipe's read end in *fd), or -1. */
static pid_t spawn_serve(const char *const *args, int *fd) {
    const char *bin = getenv("TOOLGYM_BIN") ? getenv("TOOLGYM_BIN") : "build/toolgym";
    char *argv[16];
    posix_spawn_file_actions_t fa;
    int p[2], n = 0;
    pid_t pid;

    argv[n++] = (char *)bin;
    argv[n++] = "serve";
    for (; *args && n < 15; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    if (pipe(p) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (pid < 0)
        close(p[0]);
    else
        *fd = p[0];
    return pid;
}

/* Read fd into buf until it holds `until` or the writer is gone (or 60 s pass). */
static void read_until(int fd, char *buf, size_t n, const char *until) {
    size_t len = 0;

    buf[0] = '\0';
    while (len + 1 < n && !strstr(buf, until)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;

        if (poll(&p, 1, 60000) <= 0)
            break;
        k = read(fd, buf + len, n - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        buf[len] = '\0';
    }
}

/* Rootless: a second server of the same user starts beside this process's sandbox (there is
 * nothing to claim: each run has a user namespace of its own) and runs code. */
static void second_rootless_server(void) {
    const char *args[] = {"--port", "0", "--run-workers", "2", "--uid-base", "60000", NULL};
    static const char body[] = "{\"arguments\":{\"code\":\"print(6 * 7)\"}}";
    struct sandbox_result r;
    struct http_resp h;
    char out[4096], url[128];
    const char *at;
    int fd = -1, st = 0;
    pid_t pid = spawn_serve(args, &fd);

    CU_ASSERT_FATAL(pid > 0);
    read_until(fd, out, sizeof(out), "listening");
    close(fd);
    CU_ASSERT(strstr(out, "sandbox: rootless mode") != NULL);
    CU_ASSERT(strstr(out, "--uid-base is not used in rootless mode") != NULL);
    at = strstr(out, "listening on ");
    CU_ASSERT_PTR_NOT_NULL(at);
    if (at) {
        snprintf(url, sizeof(url), "%.*s/v1/tools/run_code", (int)strcspn(at + 13, "\n"), at + 13);
        CU_ASSERT_EQUAL(test_http("POST", url, body, strlen(body), NULL, NULL, &h), 0);
        CU_ASSERT(h.body && strstr(h.body, "\"content\":\"42\\n\"") != NULL);
        if (h.body && !strstr(h.body, "42"))
            fprintf(stderr, "\nsecond server: %s\n", h.body);
        http_resp_free(&h);
    } else {
        fprintf(stderr, "\nserve said: %s\n", out);
    }
    /* (the second server's zygotes, warm mode, are our descendants too while it lives) */
    CU_ASSERT_EQUAL_FATAL(run_beside("print('first')", NULL, 2000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "first\n");
    sandbox_result_free(&r);
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_EQUAL(slot_processes(), 0); /* and it took them along */
}

TG_TEST(sandbox, two_servers_do_not_share_slot_uids) {
    char base[16], out[4096];
    const char *taken[] = {"--port", "0", "--run-workers", "2", "--uid-base", base, NULL};
    const char *autoargs[] = {"--port", "0", "--run-workers", "2", NULL};
    unsigned lo, hi;
    pid_t pid;
    int fd = -1, st = 0;
    const char *line;

    NEED_SANDBOX();
    if (rootless()) {
        second_rootless_server();
        return;
    }
    /* This process holds slot uids; a server asking for the same ones refuses to start. */
    snprintf(base, sizeof(base), "%u", sandbox_slot_uid(0));
    pid = spawn_serve(taken, &fd);
    CU_ASSERT_FATAL(pid > 0);
    read_until(fd, out, sizeof(out), "listening");
    close(fd);
    CU_ASSERT(strstr(out, "--uid-base") && strstr(out, "claimed by another toolgym server"));
    if (!strstr(out, "claimed"))
        fprintf(stderr, "\nserve said: %s\n", out);
    if (strstr(out, "listening"))
        kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) != 0);

    /* Without --uid-base, a second server picks uids that no other server holds. */
    pid = spawn_serve(autoargs, &fd);
    CU_ASSERT_FATAL(pid > 0);
    read_until(fd, out, sizeof(out), "listening");
    line = strstr(out, "(uids ");
    CU_ASSERT_PTR_NOT_NULL(line);
    if (line && sscanf(line, "(uids %u-%u)", &lo, &hi) == 2) {
        CU_ASSERT_EQUAL(hi - lo + 1, 4); /* 2 slots, and in warm mode a spare for each */
        CU_ASSERT(hi < sandbox_slot_uid(0) || lo > sandbox_slot_uid(sandbox_slots() - 1));
    } else {
        CU_FAIL("no slot uid range in the start-up line");
        fprintf(stderr, "\nserve said: %s\n", out);
    }
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    close(fd);
}

/* ---- concurrency ---------------------------------------------------------------------------- */

struct conc {
    int i;
    int ok;
};

static void *conc_run(void *arg) {
    struct conc *c = arg;
    struct sandbox_request rq;
    struct sandbox_result r;
    struct tg_error e;
    char code[64], want[32];

    snprintf(code, sizeof(code), "import time\ntime.sleep(0.1)\nprint(%d * 7)", c->i);
    snprintf(want, sizeof(want), "%d\n", c->i * 7);
    memset(&rq, 0, sizeof(rq));
    rq.code = code;
    rq.code_len = strlen(code);
    rq.timeout_ms = 5000;
    c->ok = sandbox_run(&rq, &r, &e) == 0 && r.out && strcmp(r.out, want) == 0;
    sandbox_result_free(&r);
    return NULL;
}

TG_TEST(sandbox, concurrent_runs_share_slots) {
    pthread_t t[6];
    struct conc c[6];

    NEED_SANDBOX();
    for (int i = 0; i < 6; i++) {
        c[i].i = i;
        c[i].ok = 0;
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, conc_run, &c[i]) == 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT(c[i].ok);
    }
    CU_ASSERT_EQUAL(slot_processes(), 0);
}

/* ---- one run against another and against the server ------------------------------------- */

struct bg_run {
    const char *code;
    int timeout_ms;
    struct sandbox_result r;
    int rc;
    struct tg_error err;
    pthread_t t;
};

static void *bg_main(void *arg) {
    struct bg_run *b = arg;
    struct sandbox_request rq = {b->code, strlen(b->code), NULL, 0, b->timeout_ms, NULL};

    b->rc = sandbox_run(&rq, &b->r, &b->err);
    return NULL;
}

/* Start code in the background (another thread takes a slot). */
static void bg_start(struct bg_run *b, const char *code, int timeout_ms) {
    memset(b, 0, sizeof(*b));
    b->code = code;
    b->timeout_ms = timeout_ms;
    CU_ASSERT_FATAL(pthread_create(&b->t, NULL, bg_main, b) == 0);
}

static void *noop_thread(void *arg) {
    return arg;
}

/*
 * A run's network namespace (tools/sandbox.c, slot_net): each slot makes one once and its runs
 * join it. It is never the server's; two runs in flight at the same time are in different ones;
 * and it holds only a loopback that is down (no address). Code prints its namespace, the
 * interfaces and the IPv6 addresses, then sleeps for `hold` seconds.
 */
#define NET_PROBE(hold)                                                                            \
    "import os, time\n"                                                                            \
    "print(os.readlink('/proc/self/ns/net'))\n"                                                    \
    "print(sorted(l.split(':')[0].strip() for l in open('/proc/self/net/dev').readlines()[2:]))\n" \
    "p = '/proc/self/net/if_inet6'\n"                                                              \
    "print(repr(open(p).read() if os.path.exists(p) else ''))\n"                                   \
    "time.sleep(" hold ")\n"

TG_TEST(sandbox, runs_join_an_empty_network_namespace_of_their_slot) {
    struct bg_run held;
    struct sandbox_result r;
    char server[64] = "", a[64] = "", b[64] = "";
    ssize_t k;

    NEED_SANDBOX();
    k = readlink("/proc/self/ns/net", server, sizeof(server) - 1);
    CU_ASSERT_FATAL(k > 0);
    /* one run holds its slot (and namespace) while the other runs */
    bg_start(&held, NET_PROBE("2"), 8000);
    CU_ASSERT_FATAL(wait_python_processes(1) >= 1);
    CU_ASSERT_EQUAL_FATAL(run_beside(NET_PROBE("0"), NULL, 5000, &r), 0);
    pthread_join(held.t, NULL);
    CU_ASSERT_EQUAL_FATAL(held.rc, 0);
    CU_ASSERT_FATAL(held.r.out && r.out);
    CU_ASSERT_FATAL(sscanf(held.r.out, "%63[^\n]", a) == 1 && sscanf(r.out, "%63[^\n]", b) == 1);
    CU_ASSERT(strncmp(a, "net:[", 5) == 0 && strncmp(b, "net:[", 5) == 0);
    CU_ASSERT(strcmp(a, server) != 0 && strcmp(b, server) != 0);
    CU_ASSERT(strcmp(a, b) != 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(held.r.out, "\n['lo']\n''\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\n['lo']\n''\n"));
    sandbox_result_free(&held.r);
    sandbox_result_free(&r);
    CU_ASSERT_EQUAL(slot_processes(), 0);
}

TG_TEST(sandbox_limits, fork_bomb_does_not_starve_others) {
    struct bg_run bomb;
    struct sandbox_result r;
    pthread_t t;
    pid_t pid;
    int st = 0;

    NEED_SANDBOX();
    /* One run forks until its process limit refuses, then holds every process. In root mode
     * the limit counts the slot's uid; rootless, every run has the server's uid outside and
     * the limit counts the processes of the run's own user namespace. */
    bg_start(&bomb,
             "import os, time\n"
             "n = 0\n"
             "try:\n"
             "    while True:\n"
             "        if os.fork() == 0:\n"
             "            time.sleep(30); os._exit(0)\n"
             "        n += 1\n"
             "except OSError as e:\n"
             "    print(n, type(e).__name__, flush=True)\n"
             "time.sleep(4)\n",
             8000);
    CU_ASSERT(wait_python_processes(TG_CODE_NPROC) >= TG_CODE_NPROC);
    /* While it holds them: the server creates processes and threads... */
    pid = fork();
    if (pid == 0)
        _exit(0);
    CU_ASSERT(pid > 0 && waitpid(pid, &st, 0) == pid);
    CU_ASSERT_EQUAL(pthread_create(&t, NULL, noop_thread, NULL), 0);
    pthread_join(t, NULL);
    /* ...and another run forks as many as it likes under its own limit. */
    CU_ASSERT_EQUAL_FATAL(run_beside("import os\n"
                                     "n = 0\n"
                                     "for i in range(20):\n"
                                     "    pid = os.fork()\n"
                                     "    if pid == 0: os._exit(0)\n"
                                     "    os.waitpid(pid, 0); n += 1\n"
                                     "print(n, 'forks')\n",
                                     NULL, 5000, &r),
                          0);
    CU_ASSERT_STRING_EQUAL(r.out, "20 forks\n");
    sandbox_result_free(&r);
    pthread_join(bomb.t, NULL);
    CU_ASSERT_EQUAL(bomb.rc, 0);
    CU_ASSERT(bomb.r.out && strstr(bomb.r.out, "BlockingIOError") != NULL);
    CU_ASSERT(bomb.r.out && strtol(bomb.r.out, NULL, 10) > 0 &&
              strtol(bomb.r.out, NULL, 10) < TG_CODE_NPROC);
    sandbox_result_free(&bomb.r);
    CU_ASSERT_EQUAL(slot_processes(), 0);
}

TG_TEST(sandbox_limits, memory_hog_does_not_starve_others) {
    struct bg_run hog;
    struct sandbox_result r;

    NEED_SANDBOX();
    /* Three processes of 120 MB: each under RLIMIT_AS, together over the run's 256 MiB. */
    bg_start(&hog,
             "import os, time\n"
             "pids = []\n"
             "for i in range(3):\n"
             "    pid = os.fork()\n"
             "    if pid == 0:\n"
             "        b = bytearray(120 << 20); time.sleep(5); os._exit(0)\n"
             "    pids.append(pid)\n"
             "for p in pids: os.waitpid(p, 0)\n"
             "print('ALL HELD')\n",
             sandbox_caps_cgroups() ? 3000 : 10000); /* as in memory_bounded_per_run */
    CU_ASSERT(wait_python_processes(4) >= 4);
    /* another run has a budget of its own */
    CU_ASSERT_EQUAL_FATAL(
        run_beside("b = bytearray(150 << 20)\nprint(len(b) >> 20)", NULL, 5000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "150\n");
    CU_ASSERT_EQUAL(r.exit_code, 0);
    sandbox_result_free(&r);
    pthread_join(hog.t, NULL);
    CU_ASSERT_EQUAL(hog.rc, 0);
    CU_ASSERT(hog.r.out && strstr(hog.r.out, "ALL HELD") == NULL);
    /* the memory watch kills it; a memory cgroup (no OOM killer) stalls it to the clock */
    CU_ASSERT(hog.r.over_memory || hog.r.timed_out);
    CU_ASSERT_EQUAL(hog.r.over_memory, !sandbox_caps_cgroups());
    sandbox_result_free(&hog.r);
    CU_ASSERT_EQUAL(slot_processes(), 0);
}

TG_TEST(sandbox, concurrent_runs_cannot_see_each_other) {
    struct bg_run victim;
    struct sandbox_result r;

    NEED_SANDBOX();
    /* The victim writes a secret to its /tmp, then forks (two processes: it has written). */
    bg_start(&victim,
             "import os, time\n"
             "open('/tmp/secret', 'w').write('S3CR3T-VICTIM')\n"
             "if os.fork() == 0:\n"
             "    time.sleep(30); os._exit(0)\n"
             "time.sleep(3)\n"
             "print('victim done', open('/tmp/secret').read())\n",
             6000);
    CU_ASSERT(wait_python_processes(2) >= 2);
    /* The spy looks for it every way it can, while it runs. */
    CU_ASSERT_EQUAL_FATAL(
        run_beside(
            "import os, glob, ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "me = os.getpid()\n"
            "print('proc', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [me])\n"
            "alive = []\n"
            "for pid in range(2, 32768):\n"
            "    if pid != me and libc.kill(pid, 0) == 0: alive.append(pid)\n"
            "print('signalable', alive)\n"
            "print('tmp', os.listdir('/tmp'))\n"
            "print('found', glob.glob('/proc/*/root/tmp/*') + glob.glob('/proc/*/cwd/*') +\n"
            "      glob.glob('/tmp/../*/secret'))\n"
            "print('shm', libc.shmget(0, 4096, 0o1600), ctypes.get_errno())\n"
            "for p in ('/proc/1/mem', '/proc/1/environ', '/proc/1/maps', '/proc/1/root/tmp'):\n"
            "    try: open(p, 'rb').read(16); print('READ', p)\n"
            "    except OSError as e: pass\n",
            NULL, 8000, &r),
        0);
    CU_ASSERT_STRING_EQUAL(r.out, "proc True\nsignalable []\ntmp []\nfound []\nshm -1 1\n");
    CU_ASSERT(!has(&r, "S3CR3T"));
    if (r.out && strcmp(r.out, "proc True\nsignalable []\ntmp []\nfound []\nshm -1 1\n") != 0)
        fprintf(stderr, "\nspy: %s%s\n", r.out, r.err ? r.err : "");
    sandbox_result_free(&r);
    pthread_join(victim.t, NULL);
    CU_ASSERT_EQUAL(victim.rc, 0);
    CU_ASSERT_STRING_EQUAL(victim.r.out ? victim.r.out : "", "victim done S3CR3T-VICTIM\n");
    sandbox_result_free(&victim.r);
}

TG_TEST(sandbox_limits, memory_outside_any_rss_denied) {
    struct sandbox_result r;

    NEED_SANDBOX();
    /* memfd and System V IPC pages outlive their mappings, so no process's RSS shows them:
     * refused, so that the memory watch sees everything a run can hold. */
    CU_ASSERT_EQUAL_FATAL(
        run("import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "print('memfd', libc.memfd_create(b'x', 0), ctypes.get_errno())\n"
            "print('shmget', libc.shmget(0, 1 << 20, 0o1600), ctypes.get_errno())\n"
            "print('msgget', libc.msgget(0, 0o1600), ctypes.get_errno())\n"
            "print('semget', libc.semget(0, 1, 0o1600), ctypes.get_errno())\n"
            "try: os.memfd_create('x'); print('MEMFD')\n"
            "except OSError as e: print(type(e).__name__)\n",
            NULL, 3000, &r),
        0);
    CU_ASSERT_STRING_EQUAL(r.out, "memfd -1 1\nshmget -1 1\nmsgget -1 1\nsemget -1 1\n"
                                  "PermissionError\n");
    sandbox_result_free(&r);
}

TG_TEST(sandbox_limits, tmp_inodes_bounded) {
    struct sandbox_result r;
    long n;

    NEED_SANDBOX();
    /* empty files cost no blocks but an inode each (kernel memory): the tmpfs has a count */
    CU_ASSERT_EQUAL_FATAL(run("n = 0\n"
                              "try:\n"
                              "    while n < 20000:\n"
                              "        open('/tmp/f%d' % n, 'w').close(); n += 1\n"
                              "except OSError as e:\n"
                              "    print(n, e.errno)\n",
                              NULL, 8000, &r),
                          0);
    n = r.out ? strtol(r.out, NULL, 10) : 0;
    CU_ASSERT(n > TG_CODE_TMP_INODES / 2 && n < TG_CODE_TMP_INODES);
    CU_ASSERT(r.out && strstr(r.out, " 28\n") != NULL); /* ENOSPC */
    sandbox_result_free(&r);
}

/* ---- the tool entry -------------------------------------------------------------------------- */

static int invoke(const char *json, struct tool_result *out) {
    json_t *args = json_loads(json, JSON_ALLOW_NUL, NULL);
    int rc;

    CU_ASSERT_PTR_NOT_NULL_FATAL(args);
    rc = run_code_tool_invoke(args, NULL, out);
    json_decref(args);
    return rc;
}

TG_TEST(sandbox, tool_ok_shape) {
    struct tool_result out;
    json_t *schema;

    NEED_SANDBOX();
    schema = json_loads(run_code_schema_json, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL(schema);
    json_decref(schema);
    CU_ASSERT_EQUAL_FATAL(invoke("{\"code\":\"import sys\\nprint(sys.stdin.read()[::-1])\","
                                 "\"stdin\":\"abc\"}",
                                 &out),
                          0);
    CU_ASSERT(out.ok);
    CU_ASSERT_STRING_EQUAL(out.content, "cba\n");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out.result, "stdout")), "cba\n");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out.result, "stderr")), "");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(out.result, "exit_code")), 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(out.result, "signal")), 0);
    CU_ASSERT(json_is_false(json_object_get(out.result, "timed_out")));
    CU_ASSERT(json_is_false(json_object_get(out.result, "truncated")));
    CU_ASSERT(json_is_real(json_object_get(out.result, "wall_ms")));
    CU_ASSERT(json_is_real(json_object_get(out.result, "cpu_ms")));
    CU_ASSERT_EQUAL(json_object_size(out.result), 8);
    tool_result_clear(&out);
}

TG_TEST(sandbox, tool_failures) {
    struct tool_result out;
    const char *msg;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(invoke("{\"code\":\"print('x')\\nraise KeyError('nope')\"}", &out), 0);
    CU_ASSERT(!out.ok);
    CU_ASSERT_STRING_EQUAL(out.err.code, "runtime_error");
    msg = out.err.message;
    CU_ASSERT(strstr(msg, "exit code 1") && strstr(msg, "KeyError: 'nope'"));
    CU_ASSERT(strstr(out.content, "x\n[stderr]\nTraceback") == out.content);
    CU_ASSERT_PTR_NOT_NULL(out.result); /* the run's result is kept */
    tool_result_clear(&out);

    CU_ASSERT_EQUAL_FATAL(invoke("{\"code\":\"while True: pass\",\"timeout_ms\":300}", &out), 0);
    CU_ASSERT(!out.ok);
    CU_ASSERT_STRING_EQUAL(out.err.code, "timeout");
    CU_ASSERT(json_is_true(json_object_get(out.result, "timed_out")));
    CU_ASSERT(strstr(out.content, "[timed out after 300 ms]") != NULL);
    tool_result_clear(&out);

    CU_ASSERT_EQUAL_FATAL(invoke("{\"code\":\"import os\\nos.kill(os.getpid(), 9)\"}", &out), 0);
    CU_ASSERT(!out.ok);
    CU_ASSERT_STRING_EQUAL(out.err.code, "killed");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(out.result, "signal")), 9);
    tool_result_clear(&out);

    CU_ASSERT_EQUAL_FATAL(invoke("{\"code\":\"print(1)\\u0000\"}", &out), 0);
    CU_ASSERT(!out.ok);
    CU_ASSERT_STRING_EQUAL(out.err.code, "runtime_error");
    tool_result_clear(&out);
}

TG_TEST(sandbox, tool_output_not_utf8_and_truncated) {
    struct tool_result out;
    const char *s;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(
        invoke("{\"code\":\"import sys\\nsys.stdout.buffer.write(b'a\\\\xff\\\\xc3b' * 30000)\"}",
               &out),
        0);
    CU_ASSERT(out.ok);
    s = json_string_value(json_object_get(out.result, "stdout"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(strncmp(s,
                      "a\xEF\xBF\xBD\xEF\xBF\xBD"
                      "ba",
                      9) == 0);
    CU_ASSERT(json_is_true(json_object_get(out.result, "truncated")));
    CU_ASSERT(strstr(out.content, "[output truncated") != NULL);
    tool_result_clear(&out);
}

TG_TEST(sandbox, tool_text_survives_nul_bytes_and_bad_utf8) {
    struct tool_result out;
    json_t *body;
    const char *msg;

    NEED_SANDBOX();
    /* A NUL byte on stdout used to end the content there: stderr and the exit code were lost. */
    CU_ASSERT_EQUAL_FATAL(invoke("{\"code\":\"import sys\\nsys.stdout.write('a\\\\0b')\\n"
                                 "sys.stderr.write('e\\\\0rr\\\\n')\\nsys.exit(3)\"}",
                                 &out),
                          0);
    CU_ASSERT(!out.ok);
    CU_ASSERT_STRING_EQUAL(out.content, "a\xEF\xBF\xBD"
                                        "b\n[stderr]\ne\xEF\xBF\xBD"
                                        "rr\n[exit code 3]\n");
    CU_ASSERT_STRING_EQUAL(out.err.message, "exit code 3: e\xEF\xBF\xBD"
                                            "rr");
    /* the result keeps the bytes as they were */
    CU_ASSERT_EQUAL(json_string_length(json_object_get(out.result, "stdout")), 3);
    CU_ASSERT(memcmp(json_string_value(json_object_get(out.result, "stdout")), "a\0b", 3) == 0);
    tool_result_clear(&out);

    /* Invalid UTF-8 is replaced in the content, not cut, and what follows it is kept. */
    CU_ASSERT_EQUAL_FATAL(
        invoke("{\"code\":\"import sys\\nsys.stdout.buffer.write(b'x\\\\xff\\\\xfey')\\n"
               "sys.stderr.buffer.write(b'\\\\xc3')\"}",
               &out),
        0);
    CU_ASSERT_STRING_EQUAL(out.content, "x\xEF\xBF\xBD\xEF\xBF\xBDy\n[stderr]\n\xEF\xBF\xBD\n");
    tool_result_clear(&out);

    /* stderr's last line quoted in the message is cut to 160 bytes on a character boundary:
     * cutting an é in half made the reply impossible to build (500). */
    CU_ASSERT_EQUAL_FATAL(invoke("{\"code\":\"import sys\\nsys.stderr.write('x' + '\\u00e9' * 200)"
                                 "\\nsys.exit(1)\"}",
                                 &out),
                          0);
    msg = out.err.message;
    CU_ASSERT(strncmp(msg, "exit code 1: x\xC3\xA9", 16) == 0);
    CU_ASSERT(jsonu_utf8_valid(msg, strlen(msg)));
    CU_ASSERT(strlen(msg) <= strlen("exit code 1: ") + 160);
    body = tool_result_json(&out);
    CU_ASSERT_PTR_NOT_NULL(body);
    json_decref(body);
    tool_result_clear(&out);
}

TG_TEST(sandbox, size_limits_are_bytes_in_the_schema_too) {
    json_t *schema = json_loads(run_code_schema_json, 0, NULL);
    json_t *props = json_object_get(schema, "properties"), *args;
    struct tg_error e;
    char *big;

    CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
    /* the advertised limits are the sandbox's, in bytes, and nothing counts characters */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(props, "code"), "maxBytes")),
                    TG_CODE_MAX_BYTES);
    CU_ASSERT_EQUAL(
        json_integer_value(json_object_get(json_object_get(props, "stdin"), "maxBytes")),
        TG_STDIN_MAX_BYTES);
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(props, "code"), "maxLength"));
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(props, "stdin"), "maxLength"));

    /* 32,768 é are 65,536 bytes: accepted; one more is refused, in code and in stdin */
    big = malloc(2 * 32769 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    for (int i = 0; i < 32769; i++)
        memcpy(big + 2 * i, "\xC3\xA9", 2);
    big[2 * 32769] = '\0';
    args = json_pack("{s:s%}", "code", big, (size_t)2 * 32768);
    CU_ASSERT_EQUAL(schema_validate(schema, args, &e), 0);
    json_decref(args);
    args = json_pack("{s:s%}", "code", big, (size_t)2 * 32769);
    CU_ASSERT_EQUAL(schema_validate(schema, args, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "code: must be at most 65536 bytes") != NULL);
    json_decref(args);
    args = json_pack("{s:s, s:s%}", "code", "print(1)", "stdin", big, (size_t)2 * 32769);
    CU_ASSERT_EQUAL(schema_validate(schema, args, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "stdin: must be at most 65536 bytes") != NULL);
    json_decref(args);
    free(big);
    json_decref(schema);
}

/* ---- what one run leaves for the next (both run modes) ----------------------------------- */

/*
 * A run changes everything a program can change of its own process and sandbox: a file in
 * /tmp, the environment, a module every run starts with (monkeypatched), one it imports, the
 * builtins, sys, signal handlers, the umask, the working directory, the recursion limit. The
 * next run, on the same slot (sequential runs take slot 0; warm: forked from the same zygote),
 * sees none of it.
 */
TG_TEST(sandbox, state_of_one_run_is_not_seen_by_the_next) {
    static const char *const dirty = "import os, sys, io, codecs, builtins, signal, json\n"
                                     "open('/tmp/mark', 'w').write('x')\n"
                                     "os.environ['TG_MARK'] = '1'\n"
                                     "io.open = None\n"
                                     "codecs.lookup = None\n"
                                     "json.dumps = lambda *a, **k: 'patched'\n"
                                     "sys.modules['tg_fake'] = io\n"
                                     "builtins.print = None\n"
                                     "builtins.TG_MARK = 1\n"
                                     "sys.TG_MARK = 1\n"
                                     "sys.setrecursionlimit(77)\n"
                                     "signal.signal(signal.SIGTERM, lambda *a: None)\n"
                                     "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                     "os.umask(0)\n"
                                     "os.chdir('/')\n"
                                     "sys.stdout.write('dirty\\n')\n";
    static const char *const check =
        "import os, sys, io, codecs, builtins, signal, json\n"
        "seen = [n for n, v in [\n"
        "    ('file', os.path.exists('/tmp/mark')),\n"
        "    ('env', 'TG_MARK' in os.environ),\n"
        "    ('io', io.open is None),\n"
        "    ('codecs', codecs.lookup is None),\n"
        "    ('json', json.dumps([1]) != '[1]'),\n"
        "    ('modules', 'tg_fake' in sys.modules),\n"
        "    ('builtins', hasattr(builtins, 'TG_MARK')),\n"
        "    ('sys', hasattr(sys, 'TG_MARK')),\n"
        "    ('recursion', sys.getrecursionlimit() != 1000),\n"
        "    ('sigterm', signal.getsignal(signal.SIGTERM) != signal.SIG_DFL),\n"
        "    ('sigint', signal.getsignal(signal.SIGINT) is not signal.default_int_handler),\n"
        "    ('umask', os.umask(0o22) != 0o22),\n"
        "    ('cwd', os.getcwd() != '/tmp'),\n"
        "] if v]\n"
        "print('seen', seen)\n";
    struct sandbox_result r;
    int zygote;

    NEED_SANDBOX();
    CU_ASSERT_EQUAL_FATAL(run(check, NULL, 3000, &r), 0); /* the check itself finds nothing */
    CU_ASSERT_STRING_EQUAL(r.out, "seen []\n");
    sandbox_result_free(&r);
    zygote = sandbox_zygote_pid(0);
    CU_ASSERT_EQUAL_FATAL(run(dirty, NULL, 3000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "dirty\n");
    CU_ASSERT_EQUAL(r.exit_code, 0);
    sandbox_result_free(&r);
    CU_ASSERT_EQUAL_FATAL(run(check, NULL, 3000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "seen []\n");
    if (strcmp(r.out, "seen []\n") != 0)
        fprintf(stderr, "\nafter a dirty run: %s%s\n", r.out, r.err);
    sandbox_result_free(&r);
    CU_ASSERT_EQUAL(sandbox_zygote_pid(0), zygote); /* warm: the same zygote served all three */
}

/* ---- warm mode: the zygotes ---------------------------------------------------------------- */

static int warm_ready(void) {
    struct sandbox_caps c;

    if (!sandbox_ready())
        return 0;
    sandbox_caps(&c);
    return strcmp(c.run_mode, "warm") == 0;
}

/* Warm mode, and slot 0's zygote started and healthy (a run just went through it). */
#define NEED_WARM()                                                                                \
    do {                                                                                           \
        struct sandbox_result r0_;                                                                 \
        if (!warm_ready()) {                                                                       \
            CU_FAIL("warm mode unavailable (or TOOLGYM_TEST_RUN_MODE=cold): suite sandbox_warm "   \
                    "needs it");                                                                   \
            return;                                                                                \
        }                                                                                          \
        CU_ASSERT_EQUAL_FATAL(run("pass", NULL, 3000, &r0_), 0);                                   \
        sandbox_result_free(&r0_);                                                                 \
    } while (0)

/* Wait (up to 10 s, a liveness bound) until process pid, our child, has exited (a zombie). */
static int wait_exited(int pid) {
    for (int i = 0; i < 1000; i++) {
        char path[64], st[256] = "";
        FILE *f;
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        f = fopen(path, "r");
        if (!f)
            return 1;
        if (!fgets(st, sizeof(st), f))
            st[0] = '\0';
        fclose(f);
        p = strrchr(st, ')');
        if (p && p[1] == ' ' && p[2] == 'Z')
            return 1;
        usleep(10 * 1000);
    }
    return 0;
}

/* The value after "key" in /proc/pid/status, or -1. */
static long status_field(long pid, const char *key) {
    char path[64], line[256];
    size_t n = strlen(key);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, n) == 0) {
            v = strtol(line + n, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* The program runs in a process of its own, never in the zygote: while it runs, the process
 * that runs it is not the zygote nor its child (its parent is the run's init), and the zygote
 * is still waiting for work, with no thread or child of the run. */
TG_TEST(sandbox_warm, program_never_runs_in_the_zygote) {
    struct bg_run b;
    int zygote, found = 0;
    DIR *d;
    struct dirent *de;

    NEED_WARM();
    zygote = sandbox_zygote_pid(0);
    CU_ASSERT_FATAL(zygote > 0);
    bg_start(&b, "import time\ntime.sleep(1.5)\nprint('done')", 5000);
    CU_ASSERT_EQUAL(wait_python_processes(1), 1);
    d = opendir("/proc");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((de = readdir(d))) {
        long pid = strtol(de->d_name, NULL, 10);

        if (pid <= 0 || !is_python(de->d_name) || is_zygote(de->d_name))
            continue;
        if (rootless() ? !ours_rootless(de->d_name) : !ours(de->d_name))
            continue;
        if (status_field(pid, "Uid:") == 0 && !rootless())
            continue; /* root mode: the program has a slot uid */
        found++;
        CU_ASSERT_NOT_EQUAL(pid, zygote);
        CU_ASSERT_NOT_EQUAL(parent_of(pid), zygote);
        CU_ASSERT_NOT_EQUAL(parent_of(parent_of(pid)), zygote);
    }
    closedir(d);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(status_field(zygote, "Threads:"), 1);
    CU_ASSERT_EQUAL(pthread_join(b.t, NULL), 0);
    CU_ASSERT_EQUAL(b.rc, 0);
    CU_ASSERT(b.r.out && strcmp(b.r.out, "done\n") == 0);
    sandbox_result_free(&b.r);
    CU_ASSERT_EQUAL(sandbox_zygote_pid(0), zygote);
}

/* The namespace (ns/<kind>) of process pid as a string, "" when unreadable. */
static void ns_of(long pid, const char *kind, char *out, size_t n) {
    char path[64];
    ssize_t k;

    snprintf(path, sizeof(path), "/proc/%ld/ns/%s", pid, kind);
    k = readlink(path, out, n - 1);
    out[k > 0 ? k : 0] = '\0';
}

/*
 * Every idle slot holds its next run ready (warm mode), and that run has run nothing: its
 * program (named tg-prepared) is blocked reading its source from fd 4, has the slot's uid
 * (rootless: the run's own user namespace), and is pid 3 of a PID namespace of its own, apart
 * from this process's and from every other slot's. A run then sees no process but its own.
 */
TG_TEST(sandbox_warm, prepared_runs_wait_for_their_request_in_namespaces_of_their_own) {
    char seen[8][64], mine[64];
    struct sandbox_result r;
    struct dirent *de;
    int found = 0;
    DIR *d;

    NEED_WARM();
    wait_prepared();
    CU_ASSERT_EQUAL(sandbox_prepared(), sandbox_slots());
    ns_of((long)getpid(), "pid", mine, sizeof(mine));
    d = opendir("/proc");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((de = readdir(d))) {
        long pid = strtol(de->d_name, NULL, 10);
        char path[64], line[256], nspid[128] = "";
        FILE *f;

        if (pid <= 0 || !is_prepared(de->d_name) ||
            !(rootless() ? ours_rootless(de->d_name) : ours(de->d_name)))
            continue;
        CU_ASSERT_FATAL(found < 8);
        ns_of(pid, "pid", seen[found], sizeof(seen[found]));
        CU_ASSERT(seen[found][0] != '\0' && strcmp(seen[found], mine) != 0);
        for (int k = 0; k < found; k++)
            CU_ASSERT(strcmp(seen[k], seen[found]) != 0);
        found++;
        if (!rootless()) {
            long uid = status_field(pid, "Uid:");

            CU_ASSERT(uid >= (long)sandbox_slot_uid(0) &&
                      uid <= (long)sandbox_slot_uid(sandbox_slots() - 1));
        }
        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
        f = fopen(path, "r");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "NSpid:", 6) == 0)
                snprintf(nspid, sizeof(nspid), "%s", line);
        fclose(f);
        CU_ASSERT(strlen(nspid) > 3 && strcmp(nspid + strlen(nspid) - 3, "\t3\n") == 0);
        snprintf(path, sizeof(path), "/proc/%ld/syscall", pid);
        f = fopen(path, "r");
        if (f) { /* (readable where this process may ptrace it) */
            long nr = -1;
            char arg0[32] = "";

            if (fscanf(f, "%ld %31s", &nr, arg0) != 2)
                nr = -1;
            fclose(f);
            CU_ASSERT_EQUAL(nr, (long)SYS_read);
            CU_ASSERT_STRING_EQUAL(arg0, "0x4");
        }
    }
    closedir(d);
    CU_ASSERT_EQUAL(found, sandbox_slots());
    CU_ASSERT_EQUAL_FATAL(run("import os\n"
                              "print([p for p in os.listdir('/proc') if p.isdigit()] == "
                              "[str(os.getpid())])",
                              NULL, 3000, &r),
                          0);
    CU_ASSERT_STRING_EQUAL(r.out, "True\n");
    sandbox_result_free(&r);
}

/* A zygote that died between runs is replaced before the next one, which works. */
TG_TEST(sandbox_warm, dead_zygote_is_replaced) {
    struct sandbox_result r;
    int zygote;

    NEED_WARM();
    zygote = sandbox_zygote_pid(0);
    CU_ASSERT_FATAL(zygote > 0);
    CU_ASSERT_EQUAL_FATAL(kill(zygote, SIGKILL), 0);
    CU_ASSERT_FATAL(wait_exited(zygote)); /* died between runs */
    CU_ASSERT_EQUAL_FATAL(run("print(1)", NULL, 3000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "1\n");
    sandbox_result_free(&r);
    CU_ASSERT(sandbox_zygote_pid(0) > 0);
    CU_ASSERT_NOT_EQUAL(sandbox_zygote_pid(0), zygote);
}

/* A zygote that hangs (stopped) costs no run: the slot's next run was readied before it
 * stopped (or, if it stopped while readying one, that preparation times out and is made again
 * by a new zygote), and the preparation after it times out (TG_CODE_ZYGOTE_MS) and is made
 * again by a new zygote. The stopped one is gone. */
TG_TEST(sandbox_warm, hung_zygote_costs_no_run_and_is_replaced) {
    struct sandbox_result r;
    int zygote;

    NEED_WARM();
    zygote = sandbox_zygote_pid(0);
    CU_ASSERT_FATAL(zygote > 0);
    CU_ASSERT_EQUAL_FATAL(kill(zygote, SIGSTOP), 0);
    CU_ASSERT_EQUAL_FATAL(run("print(1)", NULL, 3000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "1\n");
    sandbox_result_free(&r);
    CU_ASSERT_EQUAL_FATAL(run("print(2)", NULL, 3000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "2\n");
    sandbox_result_free(&r);
    CU_ASSERT(sandbox_zygote_pid(0) > 0);
    CU_ASSERT_NOT_EQUAL(sandbox_zygote_pid(0), zygote);
    CU_ASSERT(kill(zygote, 0) != 0 && errno == ESRCH);
}

/* A zygote that dies while a run waits for the preparation it was making costs no run either:
 * the preparation fails, a new zygote makes it again, and the run that waited runs there.
 * Every zygote is stopped first, and as many runs as there are slots take the prepared runs,
 * so that the next one has to wait for slot 0's next preparation. */
TG_TEST(sandbox_warm, zygote_dying_under_a_waiting_run_costs_no_run) {
    struct sandbox_result r;
    struct bg_run b;
    int z[8], n = sandbox_slots();

    NEED_WARM();
    CU_ASSERT_FATAL(n >= 1 && n <= 8);
    for (int i = 0; i < n; i++) {
        z[i] = sandbox_zygote_pid(i);
        CU_ASSERT_FATAL(z[i] > 0);
        CU_ASSERT_EQUAL_FATAL(kill(z[i], SIGSTOP), 0);
    }
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(run_beside("print(1)", NULL, 3000, &r), 0);
        sandbox_result_free(&r);
    }
    CU_ASSERT_EQUAL(sandbox_prepared(), 0); /* every slot waits for a stopped zygote now */
    bg_start(&b, "print(3)", 3000);
    usleep(300 * 1000);
    CU_ASSERT_EQUAL(kill(z[0], SIGKILL), 0);
    CU_ASSERT_EQUAL(pthread_join(b.t, NULL), 0);
    CU_ASSERT_EQUAL(b.rc, 0);
    CU_ASSERT(b.r.out && strcmp(b.r.out, "3\n") == 0);
    sandbox_result_free(&b.r);
    CU_ASSERT_EQUAL(slot_processes(), 0); /* waits until every slot is readied again */
    for (int i = 0; i < n; i++) {
        CU_ASSERT_NOT_EQUAL(sandbox_zygote_pid(i), z[i]);
        CU_ASSERT(kill(z[i], 0) != 0 && errno == ESRCH);
    }
}

/* Once the program runs the zygote has no part in it: killing the zygote then changes
 * nothing for the run, and the next run gets a new one. */
TG_TEST(sandbox_warm, zygote_dying_after_the_start_costs_no_run) {
    struct sandbox_result r;
    struct bg_run b;
    int zygote;

    NEED_WARM();
    zygote = sandbox_zygote_pid(0);
    CU_ASSERT_FATAL(zygote > 0);
    bg_start(&b, "import time\ntime.sleep(1)\nprint('survived')", 5000);
    CU_ASSERT_EQUAL(wait_python_processes(1), 1);
    CU_ASSERT_EQUAL(kill(zygote, SIGKILL), 0);
    CU_ASSERT_EQUAL(pthread_join(b.t, NULL), 0);
    CU_ASSERT_EQUAL(b.rc, 0);
    CU_ASSERT(b.r.out && strcmp(b.r.out, "survived\n") == 0);
    sandbox_result_free(&b.r);
    CU_ASSERT_EQUAL_FATAL(run("print(4)", NULL, 3000, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.out, "4\n");
    sandbox_result_free(&r);
    CU_ASSERT_NOT_EQUAL(sandbox_zygote_pid(0), zygote);
}
