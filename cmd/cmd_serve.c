/*
 * cmd_serve.c — `toolgym serve`: options into a server_config, start the server, wait for
 * SIGINT or SIGTERM, stop it. A start-up failure (bind, corpus, tasks, config) is one line on
 * stderr and exit status 1.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "base/limits.h"
#include "base/tg.h"
#include "cmd/cmd.h"
#include "cmd/opt.h"
#include "server/server.h"

static const char serve_notes_fmt[] =
    "DATA is the data directory: $TOOLGYM_DATA, data/ beside the binary or its parent,\n"
    "PREFIX/share/toolgym, or ./data (the first that holds corpus.jsonl).\n"
    "A client (an API key from --api-key-file, else an address; behind a proxy, the proxy's)\n"
    "holds by default 1/%d of the episode store, or 1/keys with fewer keys than that, and at\n"
    "least %d episodes and %lu MiB.\n"
    "The code cache is opt-in: it is sound only for deterministic programs (docs/sandbox.md).\n"
    "Every request must name this server in Host (DNS rebinding protection): a loopback name or\n"
    "the address it connected to, else a name of --allowed-hosts; behind a proxy that sends\n"
    "its own Host, name it there (docs/api.md, \"Host and Origin\").\n"
    "SIGINT or SIGTERM stops the server after in-flight requests finish.\n";

/* Over 80 lines only because of its option table (one row per option, 32 options); the code
 * after it is start, wait for a signal, stop. */
int cmd_serve(int argc, char **argv) {
    struct server_config cfg;
    char notes[sizeof(serve_notes_fmt) + 64];
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--host", .kind = OPT_STR, .dst = &cfg.host, .meta = "ADDR",
         .help = "IPv4 address to listen on"},
        {.name = "--port", .kind = OPT_INT, .dst = &cfg.port, .meta = "N", .lo = 0, .hi = 65535,
         .help = "TCP port to listen on; 0: any free port"},
        {.name = "--threads", .kind = OPT_INT, .dst = &cfg.threads, .meta = "N", .lo = 0,
         .hi = 1024, .help = "HTTP worker threads; 0: one per core"},
        {.name = "--corpus", .kind = OPT_STR, .dst = &cfg.corpus, .meta = "FILE",
         .def = "DATA/corpus.jsonl", .help = "search corpus (JSONL)"},
        {.name = "--tasks", .kind = OPT_STR, .dst = &cfg.tasks, .meta = "FILE[,FILE]",
         .def = "DATA/tasks/train.jsonl,DATA/tasks/test.jsonl",
         .help = "task files, comma-separated"},
        {.name = "--max-body", .kind = OPT_SIZE, .dst = &cfg.max_body, .meta = "BYTES", .lo = 1,
         .hi = 1 << 30, .help = "request body limit"},
        {.name = "--api-key-file", .kind = OPT_STR, .dst = &cfg.api_key_file, .meta = "FILE",
         .help = "accepted bearer keys, one a line ('#' comments); each key is a client"},
        {.name = "--api-key", .kind = OPT_STR, .dst = &cfg.api_key, .meta = "KEY",
         .hi = TG_API_KEY_MAX, .help = "one more accepted key (visible in ps: prefer the file)"},
        {.name = "--max-conns-per-ip", .kind = OPT_INT, .dst = &cfg.conns_per_ip, .meta = "N",
         .lo = 0, .hi = TG_MAX_CONNECTIONS,
         .help = "concurrent connections from one address; 0: no cap"},
        {.name = "--header-timeout", .kind = OPT_INT, .dst = &cfg.header_timeout_sec,
         .meta = "SEC", .lo = 1, .hi = TG_CONN_TIMEOUT_MAX,
         .help = "time for a request line and headers to arrive"},
        {.name = "--body-timeout", .kind = OPT_INT, .dst = &cfg.body_timeout_sec, .meta = "SEC",
         .lo = 1, .hi = TG_CONN_TIMEOUT_MAX,
         .help = "time for a request's body to arrive, from its headers"},
        {.name = "--node", .kind = OPT_STR, .dst = &cfg.node, .meta = "NAME", .hi = TG_NODE_NAME_MAX,
         .def = "none", .help = "this server's name behind a balancer: episode ids start NAME-"},
        {.name = "--no-status", .kind = OPT_FLAG, .dst = &cfg.no_status,
         .help = "no status page at / (it shows judged episodes)"},
        {.name = "--allowed-hosts", .kind = OPT_STR, .dst = &cfg.allowed_hosts, .meta = "LIST",
         .def = "loopback names and the address connected to",
         .help = "more Host names to answer, comma-separated (name or name:port); '*': any"},
        {.name = "--allowed-origins", .kind = OPT_STR, .dst = &cfg.allowed_origins,
         .meta = "LIST", .def = "this server's own pages",
         .help = "more browser Origins to answer (scheme://host[:port]); '*': any"},
        {.name = "--trajectories", .kind = OPT_STR, .dst = &cfg.trajectories, .meta = "FILE",
         .help = "append every finished episode to this JSONL file"},
        {.name = "--sync-ms", .kind = OPT_INT, .dst = &cfg.sync_ms, .meta = "N", .lo = 0,
         .hi = 3600000, .help = "fdatasync the trajectory log every N ms; 0: every line"},
        {.name = "--reward-config", .kind = OPT_STR, .dst = &cfg.reward_config, .meta = "FILE",
         .help = "reward weights, JSON (docs/rewards.md)"},
        {.name = "--reward-mode", .kind = OPT_CHOICE, .dst = &cfg.reward_mode, .meta = "MODE",
         .choices = "judge|torl|otc", .def = "the reward config's (judge)",
         .help = "how an episode is rewarded"},
        {.name = "--max-episodes", .kind = OPT_SIZE, .dst = &cfg.max_episodes, .meta = "N", .lo = 1,
         .hi = 100000000, .help = "episodes held in memory"},
        {.name = "--max-episode-bytes", .kind = OPT_SIZE, .dst = &cfg.max_episode_bytes,
         .meta = "BYTES", .lo = 1, .hi = 1099511627776.0,
         .help = "memory the episode store may hold"},
        {.name = "--client-episodes", .kind = OPT_SIZE, .dst = &cfg.client_episodes, .meta = "N",
         .lo = 1, .hi = 100000000, .def = "the default share",
         .help = "one client's share of the store, in episodes"},
        {.name = "--client-bytes", .kind = OPT_SIZE, .dst = &cfg.client_bytes, .meta = "BYTES",
         .lo = 1, .hi = 1099511627776.0, .def = "the default share",
         .help = "one client's share of the store, in bytes"},
        {.name = "--evict-idle-sec", .kind = OPT_INT, .dst = &cfg.evict_idle_sec, .meta = "N",
         .lo = 1, .hi = 86400 * 365,
         .help = "under pressure, unfinished episodes idle this long are evicted"},
        {.name = "--idle-sec", .kind = OPT_INT, .dst = &cfg.idle_sec, .meta = "N", .lo = 1,
         .hi = 86400 * 365, .help = "unfinished episodes expire after N idle seconds"},
        {.name = "--run-workers", .kind = OPT_INT, .dst = &cfg.run_workers, .meta = "N", .lo = 0,
         .hi = 256, .help = "concurrent run_code sandboxes; 0: one per core"},
        {.name = "--run-queue", .kind = OPT_INT, .dst = &cfg.run_queue, .meta = "N", .lo = 0,
         .hi = 100000, .help = "run_code calls queued beyond the workers (then 503)"},
        {.name = "--client-runs", .kind = OPT_INT, .dst = &cfg.client_runs, .meta = "N", .lo = 1,
         .hi = 200000, .def = "half of the workers and the queue",
         .help = "run_code calls one client may have queued or running (then 429)"},
        {.name = "--code-cache", .kind = OPT_SIZE, .dst = &cfg.code_cache, .meta = "N", .lo = 0,
         .hi = 65536, .help = "cache N run_code results of identical programs; 0: off"},
        {.name = "--uid-base", .kind = OPT_UINT, .dst = &cfg.uid_base, .meta = "UID", .lo = 1,
         .hi = TG_UID_MAX, .def = "auto, the first free range from 60000",
         .help = "root mode: sandbox slot i runs as UID+i"},
        {.name = "--sandbox-mode", .kind = OPT_CHOICE, .dst = &cfg.sandbox_mode, .meta = "MODE",
         .choices = "auto|root|rootless", .def = "auto",
         .help = "root, rootless (user namespaces), or auto: root when run as root"},
        {.name = "--run-mode", .kind = OPT_CHOICE, .dst = &cfg.run_mode, .meta = "MODE",
         .choices = "cold|warm", .def = "warm where the host supports it, else cold",
         .help = "run_code: fork each run from a started python (warm) or exec one (cold)"},
        {.name = "--unsafe-sandbox", .kind = OPT_FLAG, .dst = &cfg.unsafe_sandbox,
         .help = "allow run_code without namespaces and seccomp"},
        {.name = "--log-level", .kind = OPT_CHOICE, .dst = &cfg.log_level, .meta = "LEVEL",
         .choices = "debug|info|notice|warning|error|critical|alert|emergency",
         .def = "warning", .help = "per-request lines (tool calls, refusals) logged from here up"},
        {.name = "--quiet", .kind = OPT_FLAG, .dst = &cfg.quiet,
         .help = "no per-request log lines"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {.name = "toolgym serve",
                          .summary = "Run the HTTP server (tools, episodes, MCP).",
                          .opts = opts,
                          .nopts = TG_ARRAY_LEN(opts),
                          .notes = notes};
    struct tg_error err;
    struct server *srv;
    sigset_t set;
    int sig, rc;

    server_config_defaults(&cfg);
    snprintf(notes, sizeof(notes), serve_notes_fmt, TG_CLIENT_SHARE_DIV, TG_CLIENT_EPISODES_FLOOR,
             (unsigned long)(TG_CLIENT_BYTES_FLOOR >> 20));
    rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);
    if (rc != OPT_RUN)
        return rc;
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
