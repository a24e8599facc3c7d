/*
 * main.c — the toolgym binary: the table of commands, `toolgym help` and `--version`.
 *
 * Each command lives in its own file (cmd_serve.c, cmd_tasks.c, cmd_corpus.c, cmd_eval.c,
 * cmd_train.c, cmd_plan_freeze.c, cmd_lr_trace.c) and parses its options with the table parser
 * of opt.h. Start-up failures (bad options, bind, corpus) print one clear line and exit
 * non-zero; the command layer is the only place the program exits on an error.
 */
#include <stdio.h>
#include <string.h>

#include "base/tg.h"
#include "cmd/cmd.h"
#include "cmd/opt.h"

static int cmd_help(int argc, char **argv);

static const struct opt_sub commands[] = {
    {"serve", cmd_serve, "run the HTTP server (tools, episodes, MCP)"},
    {"tasks", cmd_tasks,
     "generate, check and describe task files (gen, check, check-grammar, stats)"},
    {"corpus", cmd_corpus, "generate the search corpus (gen)"},
    {"eval", cmd_eval, "play episodes with an agent over HTTP and print the report"},
    {"train", cmd_train, "train a tool-use policy against servers (GRPO, GreedyLR, anchors)"},
    {"rescore", cmd_rescore, "judge stored trajectories again under a reward config (no tools)"},
    {"plan-freeze", cmd_plan_freeze, "plan per-action freeze ratios for a pipeline (LP, GLPK)"},
    {"lr-trace", cmd_lr_trace, "replay a loss curve through GreedyLR, print the lr per step"},
    {"help", cmd_help, "this list, or `toolgym help COMMAND`: the options of COMMAND"},
};

#define SUMMARY                                                                                    \
    "toolgym " TG_VERSION ": an environment server and trainer for judgment in tool use."

/* `toolgym help [COMMAND]` */
static int cmd_help(int argc, char **argv) {
    char *help[] = {argv[0], "--help", NULL};

    if (argc > 2 || (argc == 2 && strcmp(argv[1], "help") == 0)) {
        fprintf(stderr, "toolgym help: usage: toolgym help [COMMAND]\n");
        return 2;
    }
    if (argc == 1)
        return opt_dispatch("toolgym", SUMMARY, commands, TG_ARRAY_LEN(commands), 2, help);
    help[0] = argv[1];
    for (size_t i = 0; i < TG_ARRAY_LEN(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(2, help);
    fprintf(stderr, "toolgym help: unknown command '%s' (see toolgym help)\n", argv[1]);
    return 2;
}

int main(int argc, char **argv) {
    return opt_dispatch("toolgym", SUMMARY, commands, TG_ARRAY_LEN(commands), argc, argv);
}
