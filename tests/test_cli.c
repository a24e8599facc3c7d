/*
 * test_cli.c — suite `cli`: the built binary (TOOLGYM_BIN, set by make test) run as a user
 * runs it. Every command and subcommand answers --help with exit 0 and a usage listing each of
 * its options with a default; --version; unknown options, missing and bad values, options
 * meant for another agent, a missing config file, unreadable files and a port in use each get
 * one line on stderr naming the thing, and a non-zero exit.
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "tools/corpus.h"
#include "tg_test.h"

extern char **environ;

#define RUN_ARGS_MAX 32
#define RUN_WAIT_SEC 60 /* a safety net against a hang, not a timing assertion */

struct run {
    int status; /* exit status; -1: killed or not run */
    char *out;  /* stdout, new */
    char *err;  /* stderr, new */
};

static const char *bin(void) {
    const char *b = getenv("TOOLGYM_BIN");

    return b && *b ? b : "build/toolgym";
}

static char *slurp(int fd) {
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t n;

    if (!buf)
        return NULL;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);

            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    return buf;
}

/* wait for pid up to RUN_WAIT_SEC; kill it past that */
static int wait_for(pid_t pid) {
    int st = 0;

    for (int i = 0; i < RUN_WAIT_SEC * 100; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};

        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* run the binary with args (NULL-terminated, without argv[0]) */
static struct run run(const char *const *args) {
    struct run r = {-1, NULL, NULL};
    char *argv[RUN_ARGS_MAX + 2];
    char out_path[] = "/tmp/tg_cli_out_XXXXXX", err_path[] = "/tmp/tg_cli_err_XXXXXX";
    int out = mkstemp(out_path), err = mkstemp(err_path), n = 0;
    posix_spawn_file_actions_t fa;
    pid_t pid;

    CU_ASSERT_FATAL(out >= 0 && err >= 0);
    argv[n++] = (char *)bin();
    while (args[n - 1] && n <= RUN_ARGS_MAX) {
        argv[n] = (char *)args[n - 1];
        n++;
    }
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0)
        r.status = wait_for(pid);
    else
        fprintf(stderr, "cannot run %s\n", argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    r.out = slurp(out);
    r.err = slurp(err);
    close(out);
    close(err);
    unlink(out_path);
    unlink(err_path);
    return r;
}

static void run_free(struct run *r) {
    free(r->out);
    free(r->err);
}

static int lines(const char *s) {
    int n = 0;

    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* args fail with status `status` and exactly one line on stderr holding every want[] */
static void expect_error(const char *const *args, int status, const char *const *want) {
    struct run r = run(args);
    int ok = r.status == status && lines(r.err) == 1;

    for (size_t i = 0; want[i]; i++)
        ok &= r.err && strstr(r.err, want[i]) != NULL;
    if (!ok) {
        fprintf(stderr, "\n  toolgym");
        for (size_t i = 0; args[i]; i++)
            fprintf(stderr, " %s", args[i]);
        fprintf(stderr, ": status %d (want %d), stderr:\n%s", r.status, status, r.err);
    }
    CU_ASSERT(ok);
    run_free(&r);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- --help and --version ----------------------------------------------------------------- */

/* --help of a command: exit 0, the usage on stdout with every expected option, each option
 * line with a default; nothing on stderr */
static void expect_help(const char *const *args, const char *usage, const char *const *opts) {
    struct run r = run(args);
    const char *p;
    int options = 0;

    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(r.out);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    if (!r.out || strncmp(r.out, usage, strlen(usage)) != 0) {
        fprintf(stderr, "\n  want '%s' first, got:\n%s", usage, r.out ? r.out : "");
        CU_FAIL("usage line");
    }
    for (size_t i = 0; opts[i]; i++) {
        char line[128];

        snprintf(line, sizeof(line), "\n  %s", opts[i]);
        if (!strstr(r.out, line)) {
            fprintf(stderr, "\n  %s missing from:\n%s", opts[i], r.out);
            CU_FAIL("option missing from the usage");
        }
    }
    /* every option line (but --help and --version) shows its default */
    for (p = r.out ? strstr(r.out, "\n  --") : NULL; p; p = strstr(p + 1, "\n  --")) {
        const char *end = strchr(p + 1, '\n');
        const char *next = end ? end : p + strlen(p);

        options++;
        if (strncmp(p, "\n  --help", 9) == 0 || strncmp(p, "\n  --version", 12) == 0)
            continue;
        /* the [range; default] part may wrap onto the next line */
        if (end && strncmp(end, "\n    ", 5) == 0)
            next = strchr(end + 1, '\n') ? strchr(end + 1, '\n') : end + strlen(end);
        if (!memmem(p, (size_t)(next - p), "default: ", 9)) {
            fprintf(stderr, "\n  no default on: %.*s\n", (int)(next - p - 1), p + 1);
            CU_FAIL("an option without its default");
        }
    }
    CU_ASSERT(options >= 2);
    run_free(&r);
}

TG_TEST(cli, help_of_every_command_lists_every_option_with_its_default) {
    expect_help(ARGS("serve", "--help"), "usage: toolgym serve [options]",
                WANT("--host ADDR", "--port N", "--threads N", "--corpus FILE", "--tasks FILE",
                     "--max-body BYTES", "--api-key-file FILE", "--api-key KEY",
                     "--max-conns-per-ip N", "--header-timeout SEC", "--body-timeout SEC",
                     "--max-episode-bytes BYTES", "--client-episodes N", "--client-bytes BYTES",
                     "--evict-idle-sec N", "--trajectories FILE", "--sync-ms N",
                     "--reward-config FILE", "--reward-mode MODE", "--max-episodes N",
                     "--idle-sec N", "--run-workers N", "--run-queue N", "--client-runs N",
                     "--code-cache N", "--uid-base UID", "--unsafe-sandbox", "--quiet", "--help",
                     "--version"));
    expect_help(ARGS("tasks", "gen", "--help"), "usage: toolgym tasks gen [options]",
                WANT("--seed S", "--out DIR", "--corpus FILE", "--grammar DIR", "--train N",
                     "--test N", "--ood N"));
    expect_help(ARGS("tasks", "check", "--help"), "usage: toolgym tasks check FILE...",
                WANT("--help", "--version"));
    expect_help(ARGS("tasks", "check-grammar", "--help"),
                "usage: toolgym tasks check-grammar [options]",
                WANT("--grammar DIR", "--corpus FILE"));
    expect_help(ARGS("tasks", "stats", "--help"), "usage: toolgym tasks stats [options] FILE",
                WANT("--corpus FILE", "--help"));
    expect_help(ARGS("corpus", "gen", "--help"), "usage: toolgym corpus gen [options]",
                WANT("--seed S", "--docs N", "--out FILE"));
    expect_help(ARGS("eval", "--help"), "usage: toolgym eval [options]",
                WANT("--server URL", "--agent NAME", "--split NAME", "--episodes N",
                     "--max-steps N", "--tag TAG", "--api-key KEY", "--tasks FILE", "--seed S",
                     "--checkpoint FILE", "--quiet"));
    expect_help(ARGS("train", "--help"), "usage: toolgym train [options]",
                WANT("--server URL", "--config FILE", "--save FILE", "--resume FILE", "--svg FILE",
                     "--seed S", "--updates N", "--tasks-per-update T", "--group G", "--lr X",
                     "--lr-schedule KIND", "--anchors MODE", "--anchor-fraction F",
                     "--reward-mode MODE", "--eval N", "--run-demo", "--quiet"));
    expect_help(ARGS("plan-freeze", "--help"), "usage: toolgym plan-freeze [options]",
                WANT("--schedule KIND", "--stages S", "--microbatches M", "--times FILE",
                     "--r-max R", "--deadline T", "--svg FILE"));
    expect_help(ARGS("lr-trace", "--help"), "usage: toolgym lr-trace [options]",
                WANT("--signal FILE", "--lr X", "--preset NAME", "--mode M", "--factor F",
                     "--patience N", "--threshold T", "--threshold-mode M", "--cooldown N",
                     "--warmup N", "--min-lr A", "--max-lr B", "--eps E", "--smooth-window N",
                     "--reset-start N", "--initial-hold N", "--threshold-signed"));
    /* --help wins wherever it stands, even after an option that would fail */
    expect_help(ARGS("serve", "--port", "1", "--help"), "usage: toolgym serve", WANT("--port N"));
    expect_help(ARGS("help", "train"), "usage: toolgym train", WANT("--server URL"));
}

/* commands with subcommands list them, every summary starting in one column */
static void expect_list(const char *const *args, const char *usage, const char *const *subs) {
    struct run r = run(args);
    long column = -1;

    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.out);
    CU_ASSERT(strncmp(r.out, usage, strlen(usage)) == 0);
    for (size_t i = 0; subs[i]; i++) {
        char line[64];

        const char *at;

        snprintf(line, sizeof(line), "\n  %s ", subs[i]);
        at = strstr(r.out, line);
        CU_ASSERT_PTR_NOT_NULL(at);
        if (at) {
            const char *summary = at + strlen(line);

            while (*summary == ' ')
                summary++;
            if (column < 0)
                column = summary - at;
            CU_ASSERT_EQUAL(summary - at, column);
        }
    }
    run_free(&r);
}

TG_TEST(cli, help_lists_the_commands) {
    expect_list(ARGS("--help"), "usage: toolgym COMMAND",
                WANT("serve", "tasks", "corpus", "eval", "train", "rescore", "plan-freeze",
                     "lr-trace", "help"));
    expect_list(ARGS("help"), "usage: toolgym COMMAND", WANT("serve", "train"));
    expect_list(ARGS("tasks", "--help"), "usage: toolgym tasks COMMAND",
                WANT("gen", "check", "check-grammar", "stats"));
    expect_list(ARGS("corpus", "--help"), "usage: toolgym corpus COMMAND", WANT("gen"));
}

TG_TEST(cli, version) {
    const char *const *cases[] = {ARGS("--version"),
                                  ARGS("serve", "--version"),
                                  ARGS("tasks", "gen", "--version"),
                                  ARGS("tasks", "check", "--version"),
                                  ARGS("tasks", "stats", "--version"),
                                  ARGS("tasks", "check-grammar", "--version"),
                                  ARGS("corpus", "gen", "--version"),
                                  ARGS("eval", "--version"),
                                  ARGS("train", "--version"),
                                  ARGS("rescore", "--version"),
                                  ARGS("plan-freeze", "--version"),
                                  ARGS("lr-trace", "--version")};

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        struct run r = run(cases[i]);

        CU_ASSERT_EQUAL(r.status, 0);
        CU_ASSERT_STRING_EQUAL(r.out, "toolgym " TG_VERSION "\n");
        run_free(&r);
    }
}

/* ---- bad input ---------------------------------------------------------------------------- */

TG_TEST(cli, unknown_options_and_commands_are_named) {
    expect_error(ARGS("serve", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("serve", "--bogus=3"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("tasks", "gen", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("tasks", "check", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("tasks", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("corpus", "gen", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("eval", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("train", "--bogus", "1"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("tasks", "stats", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("tasks", "check-grammar", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("rescore", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("plan-freeze", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("lr-trace", "--bogus"), 2, WANT("unknown option --bogus"));
    expect_error(ARGS("frobnicate"), 2, WANT("unknown command 'frobnicate'"));
    expect_error(ARGS("tasks", "frobnicate"), 2, WANT("unknown command 'frobnicate'"));
    expect_error(ARGS("corpus", "make"), 2, WANT("unknown command 'make'"));
    expect_error(ARGS("serve", "extra"), 2, WANT("unexpected argument 'extra'"));
    expect_error(ARGS("help", "frobnicate"), 2, WANT("frobnicate"));
}

TG_TEST(cli, missing_values_are_named) {
    expect_error(ARGS("serve", "--port"), 2, WANT("--port needs a value"));
    expect_error(ARGS("serve", "--port", "--quiet"), 2, WANT("--port needs a value"));
    expect_error(ARGS("serve", "--corpus="), 2, WANT("--corpus needs a value"));
    expect_error(ARGS("train", "--server"), 2, WANT("--server needs a value"));
    expect_error(ARGS("eval", "--server", "http://127.0.0.1:9", "--episodes"), 2,
                 WANT("--episodes needs a value"));
    expect_error(ARGS("corpus", "gen", "--out"), 2, WANT("--out needs a value"));
    expect_error(ARGS("tasks", "gen", "--seed"), 2, WANT("--seed needs a value"));
    expect_error(ARGS("serve", "--quiet=yes"), 2, WANT("--quiet takes no value"));
    /* required options */
    expect_error(ARGS("train"), 2, WANT("--server URL is required"));
    expect_error(ARGS("eval"), 2, WANT("--server URL is required"));
    expect_error(ARGS("tasks", "gen", "--out", "/tmp/x"), 2, WANT("--seed S is required"));
    expect_error(ARGS("tasks", "check"), 2, WANT("no FILE given"));
}

TG_TEST(cli, bad_values_name_the_option_and_the_range) {
    expect_error(ARGS("serve", "--port", "70000"), 2,
                 WANT("--port 70000 is out of range: 0..65535"));
    expect_error(ARGS("serve", "--port", "80x"), 2,
                 WANT("--port '80x' is not a whole number", "0..65535"));
    expect_error(ARGS("serve", "--port=-1"), 2, WANT("--port -1 is out of range: 0..65535"));
    expect_error(ARGS("serve", "--threads", "1e3"), 2, WANT("--threads", "0..1024"));
    expect_error(ARGS("serve", "--reward-mode", "bonus"), 2,
                 WANT("--reward-mode 'bonus' is not one of judge|torl|otc"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--lr", "5"), 2,
                 WANT("--lr 5 is out of range: 1e-07..1"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--group", "1"), 2,
                 WANT("--group 1 is out of range: 2.."));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--anchors", "always"), 2,
                 WANT("--anchors 'always' is not one of off|warmup|branch"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--expert-budget", "0"), 2,
                 WANT("expert budget 0 is out of range"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--expert-budget", "1.5"), 2,
                 WANT("expert budget 1.5 is out of range: a fraction must be in (0, 1]"));
    expect_error(
        ARGS("train", "--server", "http://127.0.0.1:9", "--expert-budget", "999999", "--quiet"), 1,
        WANT("expert budget 999999 is above the number of train tasks", "train.jsonl)"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--protocol", "dagger"), 2,
                 WANT("--protocol 'dagger' is not one of custom|e3tir|sft-then-rl|zero-rl"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--protocol", "zero-rl",
                      "--warmup-epochs", "2"),
                 2, WANT("protocol zero-rl has no warm-up, but warmup_epochs = 2"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--protocol", "sft-then-rl",
                      "--anchors", "branch"),
                 2, WANT("protocol sft-then-rl has no anchors, but anchors = branch"));
    expect_error(ARGS("eval", "--server", "http://127.0.0.1:9", "--agent", "wizard"), 2,
                 WANT("--agent 'wizard' is not one of oracle|random|overcaller|eager|policy"));
    expect_error(ARGS("corpus", "gen", "--docs", "0"), 2, WANT("--docs 0 is out of range: 1.."));
    expect_error(ARGS("corpus", "gen", "--seed", "x1"), 2,
                 WANT("--seed 'x1' is not a whole number"));
    expect_error(ARGS("tasks", "gen", "--seed", "-1", "--out", "/tmp/x"), 2,
                 WANT("--seed '-1' is not a whole number"));
}

TG_TEST(cli, an_option_the_agent_does_not_use_is_an_error) {
    expect_error(ARGS("eval", "--server", "http://127.0.0.1:9", "--agent", "oracle", "--checkpoint",
                      "x.ckpt"),
                 2, WANT("--checkpoint is not used by --agent oracle", "policy"));
    expect_error(ARGS("eval", "--server", "http://127.0.0.1:9", "--agent", "eager", "--seed", "3"),
                 2, WANT("--seed is not used by --agent eager", "random"));
    expect_error(ARGS("eval", "--server", "http://127.0.0.1:9", "--agent", "policy", "--tasks",
                      "data/tasks/test.jsonl", "--checkpoint", "x.ckpt"),
                 2, WANT("--tasks is not used by --agent policy", "oracle"));
    expect_error(ARGS("eval", "--server", "http://127.0.0.1:9", "--agent", "policy"), 2,
                 WANT("--checkpoint"));
    /* the trainer's own combinations */
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--run-demo", "--resume", "x"), 2,
                 WANT("--resume is not used with --run-demo"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--eval", "5"), 2,
                 WANT("--eval needs --save"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--anchors", "off",
                      "--anchor-fraction", "0.3"),
                 2, WANT("--anchor-fraction is not used with anchors off"));
    /* the pipeline's */
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--freeze", "plan"), 2,
                 WANT("--freeze is not used without --pipeline S"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "1"), 2,
                 WANT("a pipeline has 2 to 4 stages"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "5"), 2,
                 WANT("a pipeline has 2 to 4 stages"));
    expect_error(
        ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "3", "--cuts", "3,1"), 2,
        WANT("cuts: 1 is out of order or range"));
    expect_error(
        ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "3", "--cuts", "fair"), 2,
        WANT("--cuts 'fair' is not even, balanced or a list of layers"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--cuts", "balanced"), 2,
                 WANT("--cuts is not used without --pipeline S"));
    expect_error(
        ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "2", "--microbatches", "1"),
        2, WANT("a 1f1b schedule needs at least as many micro-batches"));
    expect_error(
        ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "2", "--schedule", "zigzag"),
        2, WANT("--schedule 'zigzag' is not one of gpipe|1f1b"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "2", "--freeze",
                      "plan", "--settle-tol", "0.1"),
                 2, WANT("--settle-tol is not used without --freeze progressive"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "2", "--freeze",
                      "progressive", "--settle-window", "0"),
                 2, WANT("--settle-window"));
    expect_error(
        ARGS("train", "--server", "http://127.0.0.1:9", "--pipeline", "2", "--freeze", "settled"),
        2, WANT("--freeze 'settled' is not one of none|uniform|plan|progressive"));
}

TG_TEST(cli, unreadable_files_are_named) {
    struct run r;

    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--config", "/nonexistent.json"),
                 2, WANT("toolgym train: cannot read config file /nonexistent.json: No such file"));
    r = run(ARGS("train", "--server", "http://127.0.0.1:9", "--config", "/nonexistent.json"));
    CU_ASSERT_PTR_NULL(strstr(r.err, ":-1:")); /* no position for a file that was never read */
    run_free(&r);
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--config", "/tmp"), 2,
                 WANT("cannot read config file /tmp: Is a directory"));
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--updates", "1", "--resume",
                      "/nonexistent.ckpt"),
                 1, WANT("/nonexistent.ckpt"));
    expect_error(ARGS("eval", "--server", "http://127.0.0.1:9", "--agent", "policy", "--checkpoint",
                      "/nonexistent.ckpt"),
                 2, WANT("/nonexistent.ckpt"));
    expect_error(ARGS("tasks", "check", "/nonexistent.jsonl"), 1, WANT("/nonexistent.jsonl"));
    /* after "--" an argument that looks like an option is a file name */
    expect_error(ARGS("tasks", "check", "--", "--nonexistent.jsonl"), 1,
                 WANT("--nonexistent.jsonl", "cannot open"));
    expect_error(ARGS("serve", "--port", "0", "--quiet", "--corpus", "/nonexistent.jsonl"), 1,
                 WANT("/nonexistent.jsonl"));
    expect_error(ARGS("serve", "--port", "0", "--quiet", "--tasks", "/nonexistent.jsonl"), 1,
                 WANT("/nonexistent.jsonl"));
    expect_error(ARGS("serve", "--port", "0", "--quiet", "--reward-config", "/nonexistent.json"), 1,
                 WANT("cannot read the reward config: unable to open /nonexistent.json: No such"));
    expect_error(ARGS("serve", "--port", "0", "--quiet", "--trajectories", "/nonexistent/t.jsonl"),
                 1, WANT("/nonexistent/t.jsonl"));
    expect_error(ARGS("corpus", "gen", "--out", "/nonexistent/c.jsonl"), 1,
                 WANT("/nonexistent/c.jsonl"));
    /* WordNet missing: said before any expert call is made, with how to install it */
    CU_ASSERT_FATAL(setenv("TOOLGYM_WORDNET", "/nonexistent/wordnet", 1) == 0);
    expect_error(ARGS("train", "--server", "http://127.0.0.1:9", "--updates", "0", "--save",
                      "/tmp/tg_cli_never.ckpt"),
                 1,
                 WANT("lexicon wordnet", "/nonexistent/wordnet/index.noun", "wordnet-base",
                      "\"lexicon\": \"none\""));
    unsetenv("TOOLGYM_WORDNET");
}

TG_TEST(cli, a_port_in_use_is_an_error_naming_the_port) {
    struct server *srv = test_server_start(NULL);
    char port[16], want[64];

    CU_ASSERT_FATAL(srv != NULL);
    snprintf(port, sizeof(port), "%d", server_port(srv));
    snprintf(want, sizeof(want), "Port %s is already in use", port);
    expect_error(ARGS("serve", "--port", port, "--quiet"), 1, WANT(want));
    test_server_stop(srv);
}

/* ---- what the commands do ----------------------------------------------------------------- */

TG_TEST(cli, tasks_check) {
    struct run r = run(ARGS("tasks", "check", "data/tasks/test.jsonl"));

    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "data/tasks/test.jsonl: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " 0 errors"));
    run_free(&r);
    r = run(ARGS("tasks", "check", tg_test_data("tasks_bad.jsonl")));
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT_PTR_NULL(strstr(r.out, " 0 errors"));
    run_free(&r);
}

TG_TEST(cli, tasks_stats_and_check_grammar) {
    struct run r = run(ARGS("tasks", "stats", "data/tasks/test.jsonl"));

    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "data/tasks/test.jsonl: 500 tasks\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "  family:abstain "));
    run_free(&r);
    r = run(ARGS("tasks", "stats", "/nonexistent.jsonl"));
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "/nonexistent.jsonl"));
    run_free(&r);
    expect_error(ARGS("tasks", "stats"), 2, WANT("one FILE is needed"));
    r = run(ARGS("tasks", "check-grammar"));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "grammar ok: "));
    run_free(&r);
    expect_error(ARGS("tasks", "check-grammar", "--grammar", "/nonexistent"), 1,
                 WANT("/nonexistent", "cannot open the grammar directory"));
    expect_error(ARGS("tasks", "gen", "--seed", "1", "--out", "/tmp/x", "--train", "0", "--test",
                      "0", "--ood", "0"),
                 2, WANT("nothing to generate"));
}

TG_TEST(cli, corpus_gen_writes_the_generated_corpus) {
    char path[] = "/tmp/tg_cli_corpus_XXXXXX";
    int fd = mkstemp(path);
    struct run r;
    char *want = NULL;
    size_t want_len = 0;
    FILE *mem, *f;

    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    r = run(ARGS("corpus", "gen", "--seed", "5", "--docs", "40", "--out", path));
    CU_ASSERT_EQUAL(r.status, 0);
    run_free(&r);
    mem = open_memstream(&want, &want_len);
    CU_ASSERT_FATAL(mem != NULL);
    CU_ASSERT_EQUAL(corpus_generate(5, 40, mem, NULL), 0);
    fclose(mem);
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    {
        char *got = malloc(want_len + 2);
        size_t n = got ? fread(got, 1, want_len + 1, f) : 0;

        CU_ASSERT(n == want_len && memcmp(got, want, want_len) == 0);
        free(got);
    }
    fclose(f);
    free(want);
    unlink(path);
    /* --out - writes to stdout */
    r = run(ARGS("corpus", "gen", "--seed", "5", "--docs", "3", "--out", "-"));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_EQUAL(lines(r.out), 3);
    run_free(&r);
}
