/*
 * cmd.h — the command layer: one function per `toolgym COMMAND`, each taking the command's
 * own argv (argv[0] is the command name) and returning the process exit status: 0 success,
 * 1 a failure while running, 2 a usage error. Errors are one line on stderr.
 */
#ifndef TG_CMD_H
#define TG_CMD_H

/* cmd_train — `toolgym train` (cmd_train.c). */
int cmd_train(int argc, char **argv);

/* cmd_plan_freeze — `toolgym plan-freeze` (cmd_plan_freeze.c): the plan as JSON on stdout,
 * the comparison table on stderr. */
int cmd_plan_freeze(int argc, char **argv);

#endif
