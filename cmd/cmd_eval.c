/*
 * cmd_eval.c — `toolgym eval`: play episodes with an agent against a server and print the
 * report (client/eval.h). The command layer registers the agents of higher layers here (the
 * trainer's policy), and refuses an option that the chosen agent does not use (for example
 * --checkpoint with --agent oracle) rather than ignore it.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/tg.h"
#include "client/eval.h"
#include "client/openai.h"
#include "cmd/cmd.h"
#include "cmd/opt.h"
#include "policy/policy_agent.h"

/* Agent kinds of layers above the eval client: the trainer's policy. */
static const struct eval_kind agent_kinds[] = {
    {"policy", policy_agent_new, "--checkpoint"},
    /* not an eval_agent: the OpenAI-compatible driver runs its own loop (client/openai.h) */
    {"openai", NULL,
     "--base-url --model --api-key-env --concurrency --temperature --retries --timeout "
     "--trajectories"},
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
    "answers at once; policy plays a trained checkpoint greedily (--checkpoint); openai plays\n"
    "any OpenAI-compatible chat completions endpoint (--base-url, --model; see docs/eval.md).\n"
    "--server takes one URL or several, comma-separated: episode i is played on server i mod n.\n"
    "An option meant for another agent is an error.\n";

/* `toolgym eval --agent openai`: the key from the environment, the run, the table. */
static int run_openai(struct opt_cmd *cmd, const struct eval_options *o, struct openai_options *oo,
                      const char *key_env) {
    struct openai_run run;
    struct tg_error err;
    int rc;

    if (!oo->base_url || !oo->model)
        return opt_error(cmd, "--agent openai needs --base-url URL and --model NAME");
    if (key_env) {
        oo->api_key = getenv(key_env);
        if (!oo->api_key || !*oo->api_key)
            return opt_error(cmd, "--api-key-env %s: the variable is not set", key_env);
        if (strlen(oo->api_key) > TG_API_KEY_MAX)
            return opt_error(cmd, "--api-key-env %s: the key is longer than %d bytes", key_env,
                             TG_API_KEY_MAX);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = openai_eval_run(o, oo, &run, &err);
    if (rc == 0)
        openai_print_run(stdout, o, oo, &run);
    else
        fprintf(stderr, "toolgym eval: %s\n", err.message);
    openai_run_clear(&run);
    curl_global_cleanup();
    return rc == TG_EINVAL ? 2 : rc ? 1 : 0;
}

int cmd_eval(int argc, char **argv) {
    struct eval_options o;
    struct openai_options oo;
    const char *key_env = NULL;
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
        {.name = "--base-url", .kind = OPT_STR, .dst = &oo.base_url, .meta = "URL",
         .def = "none, required by openai",
         .help = "openai: the endpoint, e.g. http://127.0.0.1:8000/v1"},
        {.name = "--model", .kind = OPT_STR, .dst = &oo.model, .meta = "NAME",
         .def = "none, required by openai", .help = "openai: the model name the endpoint serves"},
        {.name = "--api-key-env", .kind = OPT_STR, .dst = &key_env, .meta = "VAR", .def = "none",
         .help = "openai: the environment variable holding the endpoint's key"},
        {.name = "--concurrency", .kind = OPT_INT, .dst = &oo.concurrency, .meta = "N", .lo = 1,
         .hi = OPENAI_CONCURRENCY_MAX, .help = "openai: episodes in flight at once"},
        {.name = "--temperature", .kind = OPT_DOUBLE, .dst = &oo.temperature, .meta = "T",
         .lo = 0, .hi = 2, .def = "the endpoint's", .help = "openai: sampling temperature"},
        {.name = "--retries", .kind = OPT_INT, .dst = &oo.retries, .meta = "N", .lo = 0, .hi = 100,
         .help = "openai: retries of a request on 429, 5xx or no answer"},
        {.name = "--timeout", .kind = OPT_INT, .dst = &oo.timeout_sec, .meta = "SEC", .lo = 1,
         .hi = 86400, .help = "openai: time for one chat completion"},
        {.name = "--trajectories", .kind = OPT_STR, .dst = &oo.trajectories, .meta = "FILE",
         .def = "none", .help = "openai: append each episode's conversation as a JSON line"},
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
    openai_options_defaults(&oo);
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
    if (strcmp(o.agent, "openai") == 0)
        return run_openai(&cmd, &o, &oo, key_env);
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
