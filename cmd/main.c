/*
 * main.c — the toolgym binary: a table of subcommands and `toolgym serve`.
 *
 * Start-up failures (bad options, bind, corpus) print one clear line and exit non-zero;
 * that is the only place the program exits on an error.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/eval.h"
#include "cmd/cmd.h"
#include "policy/policy_agent.h"
#include "tools/corpus.h"
#include "server/server.h"
#include "server/taskgen.h"
#include "base/limits.h"
#include "base/num.h"
#include "base/tg.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static int cmd_serve(int argc, char **argv);
static int cmd_eval(int argc, char **argv);

/* Agent kinds of layers above the eval client: the trainer's policy (--checkpoint F). */
static const struct eval_kind agent_kinds[] = {
    {"policy", policy_agent_new},
};

static int cmd_eval(int argc, char **argv) {
    return eval_main(argc, argv, agent_kinds, TG_ARRAY_LEN(agent_kinds));
}
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
    {"serve", cmd_serve, "run the HTTP server (tools, episodes, MCP)"},
    {"tasks", taskgen_cmd, "tasks gen --seed S --out DIR | tasks check FILE"},
    {"corpus", corpus_cmd, "corpus gen --seed S --docs N --out FILE"},
    {"eval", cmd_eval, "play episodes with an agent over HTTP and print the report"},
    {"train", cmd_train, "train a tool-use policy against servers (GRPO, GreedyLR, anchors)"},
    {"plan-freeze", cmd_plan_freeze, "plan per-action freeze ratios for a pipeline (LP, GLPK)"},
    {"help", cmd_help, "this list"},
};

static int cmd_help(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("usage: toolgym COMMAND [options]   (toolgym COMMAND --help for options)\n\n");
    for (size_t i = 0; i < TG_ARRAY_LEN(commands); i++)
        printf("  %-12s %s\n", commands[i].name, commands[i].summary);
    return 0;
}

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: toolgym serve [--host ADDR] [--port N] [--threads N] [--corpus FILE]\n"
            "                     [--max-body BYTES] [--api-key-file FILE] [--api-key KEY]\n"
            "                     [--max-conns-per-ip N] [--header-timeout SEC]\n"
            "                     [--tasks FILE[,FILE]] [--trajectories FILE] [--sync-ms N]\n"
            "                     [--reward-config FILE] [--reward-mode judge|torl|otc]\n"
            "                     [--max-episodes N] [--max-episode-bytes BYTES] [--idle-sec N]\n"
            "                     [--client-episodes N] [--client-bytes BYTES]\n"
            "                     [--evict-idle-sec N] [--run-workers N] [--run-queue N]\n"
            "                     [--code-cache N] [--uid-base UID] [--unsafe-sandbox] [--quiet]\n"
            "  --api-key-file FILE  accepted bearer keys, one a line ('#' comments); each key is\n"
            "                  a client for the episode quotas. --api-key KEY adds one key but\n"
            "                  shows it to every user of the machine (ps): prefer the file\n"
            "  --max-conns-per-ip N  concurrent connections from one address (default %d; 0: no\n"
            "                  cap). Behind a proxy every client has the proxy's address\n"
            "  --header-timeout SEC  time for a request line and headers to arrive (default %d)\n"
            "  --max-episode-bytes BYTES  memory the episode store may hold (default %lu)\n"
            "  --client-episodes N, --client-bytes BYTES  one client's share of the store\n"
            "                  (default: 1/%d of it, or 1/keys with fewer API keys than that;\n"
            "                  at least %d episodes and %lu bytes)\n"
            "  --evict-idle-sec N  under pressure, unfinished episodes idle this long are\n"
            "                  evicted (default %d)\n"
            "  --code-cache N  cache up to N run_code results of identical programs (opt-in:\n"
            "                  sound only for deterministic programs; see docs/sandbox.md)\n"
            "  --uid-base UID  sandbox slot i runs as UID+i (default: the first range from\n"
            "                  60000 that no other server on this host claimed)\n",
            TG_CONNS_PER_IP, TG_HEADER_TIMEOUT_SEC, (unsigned long)TG_EPISODE_BYTES_DEFAULT,
            TG_CLIENT_SHARE_DIV, TG_CLIENT_EPISODES_FLOOR, (unsigned long)TG_CLIENT_BYTES_FLOOR,
            TG_EVICT_IDLE_SEC);
}

static int cmd_serve(int argc, char **argv) {
    struct server_config cfg;
    struct tg_error err;
    struct server *srv;
    sigset_t set;
    int sig, rc;

    server_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int takes = 1;

        if (strcmp(a, "--quiet") == 0) {
            cfg.quiet = 1;
            takes = 0;
        } else if (strcmp(a, "--unsafe-sandbox") == 0) {
            cfg.unsafe_sandbox = 1;
            takes = 0;
        } else if (strcmp(a, "--help") == 0) {
            serve_usage(stdout);
            return 0;
        } else if (!v) {
            fprintf(stderr, "toolgym serve: %s needs a value\n", a);
            serve_usage(stderr);
            return 2;
        } else if (strcmp(a, "--host") == 0) {
            cfg.host = v;
        } else if (strcmp(a, "--corpus") == 0) {
            cfg.corpus = v;
        } else if (strcmp(a, "--api-key") == 0) {
            cfg.api_key = v;
        } else if (strcmp(a, "--api-key-file") == 0) {
            cfg.api_key_file = v;
        } else if (strcmp(a, "--max-conns-per-ip") == 0 &&
                   num_long(v, 0, TG_MAX_CONNECTIONS, &n) == 0) {
            cfg.conns_per_ip = (int)n;
        } else if (strcmp(a, "--header-timeout") == 0 &&
                   num_long(v, 1, TG_CONN_TIMEOUT_MAX, &n) == 0) {
            cfg.header_timeout_sec = (int)n;
        } else if (strcmp(a, "--max-episode-bytes") == 0 && num_long(v, 1, 1L << 40, &n) == 0) {
            cfg.max_episode_bytes = (size_t)n;
        } else if (strcmp(a, "--client-episodes") == 0 && num_long(v, 1, 100000000, &n) == 0) {
            cfg.client_episodes = (size_t)n;
        } else if (strcmp(a, "--client-bytes") == 0 && num_long(v, 1, 1L << 40, &n) == 0) {
            cfg.client_bytes = (size_t)n;
        } else if (strcmp(a, "--evict-idle-sec") == 0 && num_long(v, 1, 86400 * 365, &n) == 0) {
            cfg.evict_idle_sec = (int)n;
        } else if (strcmp(a, "--tasks") == 0) {
            cfg.tasks = v;
        } else if (strcmp(a, "--trajectories") == 0) {
            cfg.trajectories = v;
        } else if (strcmp(a, "--reward-config") == 0) {
            cfg.reward_config = v;
        } else if (strcmp(a, "--reward-mode") == 0) {
            cfg.reward_mode = v;
        } else if (strcmp(a, "--port") == 0 && num_long(v, 0, 65535, &n) == 0) {
            cfg.port = (int)n;
        } else if (strcmp(a, "--threads") == 0 && num_long(v, 1, 1024, &n) == 0) {
            cfg.threads = (int)n;
        } else if (strcmp(a, "--max-body") == 0 && num_long(v, 1, 1L << 30, &n) == 0) {
            cfg.max_body = (size_t)n;
        } else if (strcmp(a, "--sync-ms") == 0 && num_long(v, 0, 3600000, &n) == 0) {
            cfg.sync_ms = (int)n;
        } else if (strcmp(a, "--max-episodes") == 0 && num_long(v, 1, 100000000, &n) == 0) {
            cfg.max_episodes = (size_t)n;
        } else if (strcmp(a, "--idle-sec") == 0 && num_long(v, 1, 86400 * 365, &n) == 0) {
            cfg.idle_sec = (int)n;
        } else if (strcmp(a, "--run-workers") == 0 && num_long(v, 1, 256, &n) == 0) {
            cfg.run_workers = (int)n;
        } else if (strcmp(a, "--code-cache") == 0 && num_long(v, 0, 65536, &n) == 0) {
            cfg.code_cache = (size_t)n;
        } else if (strcmp(a, "--run-queue") == 0 && num_long(v, 0, 100000, &n) == 0) {
            cfg.run_queue = (int)n;
        } else if (strcmp(a, "--uid-base") == 0 && num_long(v, 1, TG_UID_MAX, &n) == 0) {
            cfg.uid_base = (unsigned)n;
        } else {
            fprintf(stderr, "toolgym serve: bad option or value: %s %s\n", a, v);
            serve_usage(stderr);
            return 2;
        }
        i += takes;
    }
    if (cfg.api_key && strlen(cfg.api_key) > TG_API_KEY_MAX) {
        fprintf(stderr, "toolgym serve: --api-key is longer than %d bytes\n", TG_API_KEY_MAX);
        return 2;
    }
    /* Block the stop signals in every thread; the main thread waits for them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = server_start(&cfg, &srv, &err);
    if (rc) {
        fprintf(stderr, "toolgym serve: %s\n", err.message);
        return 1;
    }
    fprintf(stderr, "toolgym %s listening on http://%s:%d\n", TG_VERSION, cfg.host,
            server_port(srv));
    fflush(stderr);
    if (sigwait(&set, &sig) != 0)
        sig = SIGTERM;
    fprintf(stderr, "toolgym: %s, finishing in-flight requests\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(srv);
    fprintf(stderr, "toolgym: stopped\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(0, NULL);
    fprintf(stderr, "toolgym: unknown command '%s' (try toolgym help)\n", argv[1]);
    return 2;
}
