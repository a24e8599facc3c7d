/*
 * cmd_plan_freeze.h — `toolgym plan-freeze`: the command-line face of policy/freeze_plan.h.
 */
#ifndef TG_CMD_PLAN_FREEZE_H
#define TG_CMD_PLAN_FREEZE_H

/*
 * cmd_plan_freeze — argv[0] is "plan-freeze". Prints the plan as JSON on stdout and the
 * comparison table on stderr. Returns the exit status: 0, 1 (bad times file, schedule that
 * cannot be built, infeasible LP, I/O), 2 (bad options).
 */
int cmd_plan_freeze(int argc, char **argv);

#endif
