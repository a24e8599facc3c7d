/*
 * test_lr_trace_cli.c — suite `lr_trace_cli`: runs the real binary (TOOLGYM_BIN, else
 * build/toolgym) as `toolgym lr-trace` on small signal files (tests/data/signal_*.txt) and
 * compares every printed lr with a trace worked out by hand from the reference's GreedyLR
 * rules; every kind of bad input must give one clear line on stderr, nothing on stdout and a
 * non-zero exit.
 */
#include "tg_test.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/tg.h"

extern char **environ;

struct run {
    int status;   /* exit code, or -1 */
    char *out;    /* stdout, new */
    char *errout; /* stderr, new */
};

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (!f)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc((size_t)n + 1, 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

static char dir[] = "/tmp/tg-lrt-XXXXXX";
static int have_dir; /* dir was created (its name is filled in) */

/* a scratch file of the running suite */
static const char *scratch(const char *name) {
    static char path[128];

    if (!have_dir) {
        CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
        have_dir = 1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

/* remove the scratch directory; every test calls this at its end */
static void scratch_done(void) {
    if (!have_dir)
        return;
    test_remove_dir(dir);
    memcpy(dir + sizeof(dir) - 7, "XXXXXX", 6);
    have_dir = 0;
}

/* run `toolgym lr-trace ARGS...` (NULL-terminated) with stdin from in_path (NULL: /dev/null)
 * and stdout, stderr captured */
static struct run run_lt(const char *in_path, const char *const *args) {
    const char *bin = getenv("TOOLGYM_BIN") ? getenv("TOOLGYM_BIN") : "build/toolgym";
    char out_path[128], err_path[128];
    char *argv[48];
    int argc = 0, ws;
    posix_spawn_file_actions_t fa;
    struct run r = {-1, NULL, NULL};
    pid_t pid;

    snprintf(out_path, sizeof(out_path), "%s", scratch("stdout"));
    snprintf(err_path, sizeof(err_path), "%s", scratch("stderr"));
    argv[argc++] = (char *)bin;
    argv[argc++] = (char *)"lr-trace";
    for (int i = 0; args[i] && argc < 47; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) == 0 && waitpid(pid, &ws, 0) == pid &&
        WIFEXITED(ws))
        r.status = WEXITSTATUS(ws);
    posix_spawn_file_actions_destroy(&fa);
    r.out = slurp(out_path);
    r.errout = slurp(err_path);
    return r;
}

static void run_free(struct run *r) {
    free(r->out);
    free(r->errout);
}

/* the run printed exactly `want` (the lr lines and the summary) and exited 0 */
static void expect_output(const char *what, struct run *r, const char *want) {
    CU_ASSERT_EQUAL(r->status, 0);
    CU_ASSERT_STRING_EQUAL(r->errout, "");
    if (strcmp(r->out, want) != 0)
        fprintf(stderr, "\n  %s: got\n%s  want\n%s", what, r->out, want);
    CU_ASSERT_STRING_EQUAL(r->out, want);
}

#define SIG(name) tg_test_data("signal_" name ".txt")

TG_TEST(lr_trace_cli, improving_signal) {
    /* sched.h's rules, patience 2, F 0.5: every 3rd better step doubles the lr, capped at
     * 0.1; the 5th increase (s15) is no change */
    char sig[512];
    struct run r;

    snprintf(sig, sizeof(sig), "%s", SIG("improving"));
    {
        const char *args[] = {"--signal",  sig,        "--lr", "0.01",       "--preset",
                              "reference", "--factor", "0.5",  "--patience", "2",
                              "--max-lr",  "0.1",      NULL};

        r = run_lt(NULL, args);
    }
    expect_output("improving", &r,
                  "0.01\n0.01\n0.02\n0.02\n0.02\n0.04\n0.04\n0.04\n0.08\n0.08\n0.08\n"
                  "0.1\n0.1\n0.1\n0.1\n"
                  "# steps 15, changes 4 (up 4, down 0), resets 0, final lr 0.1\n");
    run_free(&r);
    /* the flags override the preset wherever they stand */
    {
        const char *args[] = {"--factor", "0.5",      "--patience", "2",        "--max-lr",
                              "0.1",      "--signal", sig,          "--preset", "reference",
                              "--lr",     "0.01",     NULL};

        r = run_lt(NULL, args);
    }
    expect_output("improving, flags before --preset", &r,
                  "0.01\n0.01\n0.02\n0.02\n0.02\n0.04\n0.04\n0.04\n0.08\n0.08\n0.08\n"
                  "0.1\n0.1\n0.1\n0.1\n"
                  "# steps 15, changes 4 (up 4, down 0), resets 0, final lr 0.1\n");
    run_free(&r);
    scratch_done();
}

TG_TEST(lr_trace_cli, trainer_preset_is_the_default) {
    /* the trainer's settings (F 0.7, patience 1, threshold 0.01 abs, mean of 3, warmup 1,
     * max_lr 0.01) on the improving signal: means 10, 9.5 (2 good -> 0.003 / 0.7), s3 held,
     * means 8, 7 (-> / 0.7), s6 held, 5, 4 (-> / 0.7), s9 held, 2, 1 (-> 0.01, capped),
     * s12 held, -1, -2 (capped: no change), s15 held */
    const char *want = "0.003\n0.004285714286\n0.004285714286\n0.004285714286\n"
                       "0.00612244898\n0.00612244898\n0.00612244898\n0.008746355685\n"
                       "0.008746355685\n0.008746355685\n0.01\n0.01\n0.01\n0.01\n0.01\n"
                       "# steps 15, changes 4 (up 4, down 0), resets 0, final lr 0.01\n";
    char sig[512];
    struct run r;

    snprintf(sig, sizeof(sig), "%s", SIG("improving"));
    {
        const char *args[] = {"--signal", sig, "--lr", "0.003", NULL};

        r = run_lt(NULL, args);
    }
    expect_output("default preset", &r, want);
    run_free(&r);
    {
        const char *args[] = {"--signal", sig, "--lr", "0.003", "--preset", "trainer", NULL};

        r = run_lt(NULL, args);
    }
    expect_output("trainer preset", &r, want);
    run_free(&r);
    scratch_done();
}

TG_TEST(lr_trace_cli, plateau_decays_and_resets) {
    /* flat 5s, patience 2, F 0.5, min_lr 0.0125, reset_start 2: halvings at s4, s7, s10
     * (at min: 1), s13 at min again (2): reset to 0.1; s14 good, s17 -> 0.05 */
    char sig[512];
    struct run r;
    const char *args[] = {"--signal",  "",         "--lr",          "0.1",        "--preset",
                          "reference", "--factor", "0.5",           "--patience", "2",
                          "--min-lr",  "0.0125",   "--reset-start", "2",          NULL};

    snprintf(sig, sizeof(sig), "%s", SIG("plateau"));
    args[1] = sig;
    r = run_lt(NULL, args);
    expect_output("plateau", &r,
                  "0.1\n0.1\n0.1\n0.05\n0.05\n0.05\n0.025\n0.025\n0.025\n0.0125\n0.0125\n"
                  "0.0125\n0.1\n0.1\n0.1\n0.1\n0.05\n"
                  "# steps 17, changes 4 (up 0, down 4), resets 1, final lr 0.05\n");
    run_free(&r);
    scratch_done();
}

TG_TEST(lr_trace_cli, noisy_plateau) {
    /* patience 1, F 0.5, threshold 0.05 abs, min_lr 0.01, no reset (the '#' line of the file
     * is skipped): only 4.9 (s3) and 4.8 (s8) beat the best by more than 0.05 */
    char sig[512];
    struct run r;
    const char *args[] = {"--signal",         "",          "--lr",        "0.1",
                          "--preset",         "reference", "--factor",    "0.5",
                          "--patience",       "1",         "--threshold", "0.05",
                          "--threshold-mode", "abs",       "--min-lr",    "0.01",
                          "--reset-start",    "0",         NULL};

    snprintf(sig, sizeof(sig), "%s", SIG("noisy_plateau"));
    args[1] = sig;
    r = run_lt(NULL, args);
    expect_output("noisy plateau", &r,
                  "0.1\n0.1\n0.1\n0.1\n0.05\n0.05\n0.025\n0.025\n0.025\n0.0125\n0.0125\n0.01\n"
                  "# steps 12, changes 4 (up 0, down 4), resets 0, final lr 0.01\n");
    run_free(&r);
    scratch_done();
}

TG_TEST(lr_trace_cli, oscillating_signal) {
    /* patience 0: a zig-zag alternates good and bad, so the lr alternates */
    char sig[512];
    struct run r;
    const char *args[] = {"--signal", "",    "--lr",       "0.1", "--preset", "reference",
                          "--factor", "0.5", "--patience", "0",   NULL};

    snprintf(sig, sizeof(sig), "%s", SIG("oscillating"));
    args[1] = sig;
    r = run_lt(NULL, args);
    expect_output("oscillating", &r,
                  "0.2\n0.1\n0.2\n0.1\n0.2\n0.1\n0.2\n0.1\n"
                  "# steps 8, changes 8 (up 4, down 4), resets 0, final lr 0.1\n");
    run_free(&r);
    scratch_done();
}

TG_TEST(lr_trace_cli, stdin_mode_max_and_smoothing) {
    /* a rising reward on stdin, mode max, mean of 2, threshold 0 abs, patience 0:
     * means 1, 1.5, 2.5, 3 are each higher than the best: 0.2, 0.4, 0.8, then 1.6 capped
     * at max_lr 1 */
    char in[160];
    FILE *f;
    struct run r;
    const char *args[] = {"--signal",   "-",      "--lr",        "0.1",      "--preset",
                          "reference",  "--mode", "max",         "--factor", "0.5",
                          "--patience", "0",      "--threshold", "0",        "--smooth-window",
                          "2",          NULL};

    snprintf(in, sizeof(in), "%s", scratch("reward.txt"));
    f = fopen(in, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("1\n2\n3\n3\n", f);
    fclose(f);
    r = run_lt(in, args);
    expect_output("stdin", &r,
                  "0.2\n0.4\n0.8\n1\n# steps 4, changes 4 (up 4, down 0), resets 0, final lr 1\n");
    run_free(&r);
    /* without smoothing the last 3 is not higher than 3: a cut to 0.5 */
    args[15] = "0";
    r = run_lt(in, args);
    expect_output("stdin, no smoothing", &r,
                  "0.2\n0.4\n0.8\n0.4\n# steps 4, changes 4 (up 3, down 1), resets 0, final lr "
                  "0.4\n");
    run_free(&r);
    scratch_done();
}

TG_TEST(lr_trace_cli, bad_input_is_one_clear_line) {
    static const struct {
        const char *args[8]; /* after --signal FILE (FILE = $sig unless args[0] names one) */
        int status;
        const char *want;
    } cases[] = {
        {{"--lr", "0.01", "--signal", "@bad"},
         1,
         "signal_bad_line.txt line 3: 'abc' is not a "
         "finite number (one number per line)"},
        {{"--lr", "0.01", "--signal", "@empty"}, 1, "empty.txt: no numbers in it"},
        {{"--lr", "0.01", "--signal", "@comments"}, 1, "comments.txt: no numbers in it"},
        {{"--lr", "0.01", "--signal", "@nan"}, 1, "nan.txt line 2: 'nan' is not a finite number"},
        {{"--lr", "0.01", "--signal", "/nonexistent/loss.txt"},
         1,
         "/nonexistent/loss.txt: No such file or directory"},
        {{"--lr", "0.01", "--signal", "-"}, 1, "stdin: no numbers in it"},
        {{"--lr", "0.01", "--factor", "1.5"}, 2, "--factor 1.5 is out of range: 0..1"},
        {{"--lr", "0.01", "--factor", "0"}, 2, "factor is 0; it must be in (0, 1)"},
        {{"--lr", "0.01", "--factor", "1"}, 2, "factor is 1; it must be in (0, 1)"},
        {{"--lr", "0.01", "--preset", "reference", "--patience", "1e3"},
         2,
         "--patience '1e3' is not a whole number"},
        {{"--lr", "0.01", "--threshold-signed=1"}, 2, "--threshold-signed takes no value"},
        {{"--lr", "0.01", "--factor", "half"}, 2, "--factor 'half' is not a number (0..1)"},
        {{"--lr", "0.01", "--patience", "-1"}, 2, "--patience -1 is out of range: 0..1000000000"},
        {{"--lr", "0.01", "--patience", "2.5"}, 2, "--patience '2.5' is not a whole number"},
        {{"--lr", "0.01", "--threshold", "-0.1"}, 2, "--threshold -0.1 is out of range: 0..1e+12"},
        {{"--lr", "0.01", "--threshold-mode", "rel", "--threshold", "1"},
         2,
         "threshold is 1; in rel mode it must be below 1"},
        {{"--lr", "0.01", "--threshold-mode", "pct"},
         2,
         "--threshold-mode 'pct' is not one of rel|abs"},
        {{"--lr", "0.01", "--mode", "up"}, 2, "--mode 'up' is not one of min|max"},
        {{"--lr", "0.01", "--cooldown", "-3"}, 2, "--cooldown -3 is out of range"},
        {{"--lr", "0.01", "--warmup", "x"}, 2, "--warmup 'x' is not a whole number"},
        {{"--lr", "0.01", "--min-lr", "-1"}, 2, "--min-lr -1 is out of range: 0..1e+06"},
        {{"--lr", "0.01", "--min-lr", "0.5", "--max-lr", "0.1"},
         2,
         "min_lr 0.5 is above max_lr 0.1"},
        {{"--lr", "0.05"}, 2, "--lr 0.05 is outside [min_lr 0.0001, max_lr 0.01] (trainer preset"},
        {{"--lr", "0.01", "--max-lr", "0"}, 2, "max_lr is 0; it must be > 0"},
        {{"--lr", "0.01", "--eps", "-1e-8"}, 2, "--eps -1e-8 is out of range: 0..1"},
        {{"--lr", "0.01", "--smooth-window", "300"},
         2,
         "--smooth-window 300 is out of range: 0..256"},
        {{"--lr", "0.01", "--smooth-window", "-1"}, 2, "--smooth-window -1 is out of range"},
        {{"--lr", "0.01", "--reset-start", "-1"}, 2, "--reset-start -1 is out of range"},
        {{"--lr", "0.01", "--initial-hold", "-2"}, 2, "--initial-hold -2 is out of range"},
        {{"--lr", "0.01", "--preset", "paper"},
         2,
         "--preset 'paper' is not one of reference|trainer"},
        {{"--lr", "0.01", "--bogus", "1"}, 2, "unknown option --bogus"},
        {{"--lr", "nan"}, 2, "--lr 'nan' is not a number"},
        {{"--factor", "0.5"}, 2, "--lr X is required"},
        {{"--lr", "0.01", "--signal"}, 2, "--signal needs a value"},
        {{"--signal", "/dev/null", "--lr"}, 2, "--lr needs a value"},
    };
    char sig[512];

    snprintf(sig, sizeof(sig), "%s", SIG("improving"));
    {
        FILE *f = fopen(scratch("empty.txt"), "w");

        CU_ASSERT_FATAL(f != NULL);
        fclose(f);
        f = fopen(scratch("comments.txt"), "w");
        CU_ASSERT_FATAL(f != NULL);
        fputs("# loss\n\n   \n", f);
        fclose(f);
        f = fopen(scratch("nan.txt"), "w");
        CU_ASSERT_FATAL(f != NULL);
        fputs("0.5\nnan\n", f);
        fclose(f);
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        const char *args[16];
        char paths[8][160];
        int n = 0, named = 0;
        struct run r;
        const char *nl;

        for (int j = 0; j < 8 && cases[i].args[j]; j++) {
            const char *a = cases[i].args[j];

            if (a[0] == '@') { /* a scratch file, or the bad-line fixture */
                snprintf(paths[j], sizeof(paths[j]), "%s",
                         strcmp(a, "@bad") == 0 ? SIG("bad_line") : scratch(a + 1));
                if (strcmp(a, "@bad") != 0)
                    snprintf(paths[j] + strlen(paths[j]), sizeof(paths[j]) - strlen(paths[j]),
                             ".txt");
                a = paths[j];
            }
            named |= strcmp(a, "--signal") == 0;
            args[n++] = a;
        }
        if (!named) {
            args[n++] = "--signal";
            args[n++] = sig;
        }
        args[n] = NULL;
        r = run_lt(NULL, args);
        CU_ASSERT_EQUAL(r.status, cases[i].status);
        CU_ASSERT_STRING_EQUAL(r.out, "");
        /* one line, starting with the command's name */
        nl = strchr(r.errout, '\n');
        CU_ASSERT(strncmp(r.errout, "toolgym lr-trace: ", 18) == 0);
        CU_ASSERT(nl != NULL && nl[1] == '\0');
        if (!strstr(r.errout, cases[i].want))
            fprintf(stderr, "\n  case %zu: got '%s', want '%s'\n", i, r.errout, cases[i].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.errout, cases[i].want));
        run_free(&r);
    }
    scratch_done();
}

TG_TEST(lr_trace_cli, help) {
    const char *args[] = {"--help", NULL};
    struct run r = run_lt(NULL, args);

    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "usage: toolgym lr-trace [options]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--smooth-window N"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "[reference|trainer; default: trainer]"));
    run_free(&r);
    scratch_done();
}
