/*
 * cmd.h — the command layer: one function per `toolgym COMMAND`, each taking the command's
 * own argv (argv[0] is the command name) and returning the process exit status: 0 success,
 * 1 a failure while running, 2 a usage error. Errors are one line on stderr. Every command
 * answers --help (exit 0) with a usage generated from its option table (opt.h).
 */
#ifndef TG_CMD_H
#define TG_CMD_H

/* cmd_serve — `toolgym serve` (cmd_serve.c): run the HTTP server until SIGINT / SIGTERM. */
int cmd_serve(int argc, char **argv);

/* cmd_tasks — `toolgym tasks gen|check` (cmd_tasks.c). */
int cmd_tasks(int argc, char **argv);

/* cmd_corpus — `toolgym corpus gen` (cmd_corpus.c). */
int cmd_corpus(int argc, char **argv);

/* cmd_eval — `toolgym eval` (cmd_eval.c): the reference agents and the trained policy. */
int cmd_eval(int argc, char **argv);

/* cmd_train — `toolgym train` (cmd_train.c). */
int cmd_train(int argc, char **argv);

/* cmd_rescore — `toolgym rescore` (cmd_rescore.c): judge stored trajectories again. */
int cmd_rescore(int argc, char **argv);

/* cmd_plan_freeze — `toolgym plan-freeze` (cmd_plan_freeze.c): the plan as JSON on stdout,
 * the comparison table on stderr. */
int cmd_plan_freeze(int argc, char **argv);

/* cmd_lr_trace — `toolgym lr-trace` (cmd_lr_trace.c): a metric file through GreedyLR, the lr
 * after each step on stdout. */
int cmd_lr_trace(int argc, char **argv);

#endif
