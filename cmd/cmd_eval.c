/*
 * cmd_eval.c — `toolgym eval`: play episodes with an agent against a server and print the
 * report (client/eval.h). The command layer registers the agents of higher layers here (the
 * trainer's policy), and refuses an option that the chosen agent does not use (for example
 * --checkpoint with --agent oracle) rather than ignore it.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "base/tg.h"
#include "client/eval.h"
#include "cmd/cmd.h"
#include "cmd/opt.h"
#include "policy/policy_agent.h"

/* Agent kinds of layers above the eval client: the trainer's policy. */
static const struct eval_kind agent_kinds[] = {
    {"policy", policy_agent_new, "--checkpoint"},
};

/* 1 if the space-separated option list `uses` holds `name` */
static int uses_option(const char *uses, const char *name) {
    size_t len = strlen(name);

    for (const char *p = uses; p && *p; p += strcspn(p, " "), p += *p == ' ') {
        if (strncmp(p, name, len) == 0 && (p[len] == ' ' || p[len] == '\0'))
            return 1;
    }
    return 0;
}

/* the agents that use option `name`, "a, b" into buf */
static void users_of(const char *name, char *buf, size_t n) {
    const char *agent;
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; (agent = eval_agent_name(agent_kinds, TG_ARRAY_LEN(agent_kinds), i)); i++)
        if (uses_option(eval_agent_uses(agent, agent_kinds, TG_ARRAY_LEN(agent_kinds)), name) &&
            used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", agent);
}

/* an agent-specific option given for an agent that does not use it is an error */
static int check_agent_options(const struct opt_cmd *cmd, const char *agent) {
    const char *uses = eval_agent_uses(agent, agent_kinds, TG_ARRAY_LEN(agent_kinds));

    for (size_t i = 0; i < cmd->nopts; i++) {
        const struct opt *o = &cmd->opts[i];
        char users[128];

        if (!o->given || uses_option(uses, o->name))
            continue;
        users_of(o->name, users, sizeof(users));
        if (users[0])
            return opt_error(cmd, "%s is not used by --agent %s (it is for: %s)", o->name, agent,
                             users);
    }
    return 0;
}

/* "oracle|random|..." of every agent into buf */
static void agent_choices(char *buf, size_t n) {
    const char *agent;
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; (agent = eval_agent_name(agent_kinds, TG_ARRAY_LEN(agent_kinds), i)); i++)
        if (used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "|" : "", agent);
}

static const char eval_notes[] =
    "Agents: oracle plays the task's expert calls and the gold answer (from --tasks); random\n"
    "and overcaller act at random or call tools until the step limit (seeded by --seed); eager\n"
    "answers at once; policy plays a trained checkpoint greedily (--checkpoint).\n"
    "An option meant for another agent is an error.\n";

int cmd_eval(int argc, char **argv) {
    struct eval_options o;
    char choices[128];
    unsigned long long seed = 0;
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--server", .kind = OPT_STR, .dst = &o.server, .meta = "URL",
         .def = "none, required", .help = "the server's base URL, e.g. http://127.0.0.1:8080"},
        {.name = "--agent", .kind = OPT_CHOICE, .dst = &o.agent, .meta = "NAME", .choices = choices,
         .help = "who plays"},
        {.name = "--split", .kind = OPT_STR, .dst = &o.split, .meta = "NAME",
         .help = "task split to play"},
        {.name = "--episodes", .kind = OPT_LONG, .dst = &o.episodes, .meta = "N", .lo = 0,
         .hi = 100000000, .help = "episodes to play (task i mod total); 0: one per task"},
        {.name = "--max-steps", .kind = OPT_INT, .dst = &o.max_steps, .meta = "N", .lo = 0,
         .hi = TG_MAX_STEPS_LIMIT, .help = "step limit per episode; 0: the server's"},
        {.name = "--tag", .kind = OPT_STR, .dst = &o.tag, .meta = "TAG", .hi = TG_TAG_MAX,
         .def = "AGENT-<random hex>", .help = "tag of the run's episodes (its report)"},
        {.name = "--api-key", .kind = OPT_STR, .dst = &o.api_key, .meta = "KEY",
         .help = "the server's API key"},
        {.name = "--tasks", .kind = OPT_STR, .dst = &o.tasks, .meta = "FILE",
         .def = "DATA/tasks/SPLIT.jsonl", .help = "oracle: the local task file with expert calls"},
        {.name = "--seed", .kind = OPT_U64, .dst = &seed, .meta = "S", .lo = 0, .hi = OPT_U64_ANY,
         .help = "random, overcaller: the run's seed"},
        {.name = "--checkpoint", .kind = OPT_STR, .dst = &o.checkpoint, .meta = "FILE",
         .def = "none, required by policy", .help = "policy: the trained checkpoint"},
        {.name = "--quiet", .kind = OPT_FLAG, .dst = &o.quiet, .help = "no progress on stderr"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {
        .name = "toolgym eval",
        .summary = "Play episodes with an agent over HTTP and print the server's report.",
        .opts = opts,
        .nopts = TG_ARRAY_LEN(opts),
        .notes = eval_notes};
    struct eval_agent a;
    struct tg_error err;
    json_t *report = NULL;
    char tag[TG_TAG_MAX + 1];
    int rc;

    memset(&o, 0, sizeof(o));
    o.split = "test";
    o.agent = "oracle";
    agent_choices(choices, sizeof(choices));
    rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);
    if (rc != OPT_RUN)
        return rc;
    o.seed = seed;
    if (!o.server)
        return opt_error(&cmd, "--server URL is required (see toolgym eval --help)");
    rc = check_agent_options(&cmd, o.agent);
    if (rc)
        return rc;
    if (eval_agent_make(&o, agent_kinds, TG_ARRAY_LEN(agent_kinds), &a, &err) != 0) {
        fprintf(stderr, "toolgym eval: %s\n", err.message);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = eval_run(&o, &a, &report, tag, &err);
    if (a.destroy)
        a.destroy(&a);
    if (rc == 0)
        eval_print_report(stdout, &o, tag, report);
    else
        fprintf(stderr, "toolgym eval: %s\n", err.message);
    json_decref(report);
    curl_global_cleanup();
    return rc ? 1 : 0;
}
