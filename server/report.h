/*
 * report.h — tool-call accuracy reports (GET /v1/report, `toolgym eval`): running totals
 * over the episodes started, grouped by (split, tag), each split into first attempts, retries
 * and forks.
 *
 * What it does: count an episode when it starts (report_start: the first episode of a task in
 * its group is its first attempt, later ones are retries, forks are forks), each tool call when
 * it is judged (report_step; a fork's prefix calls when the fork starts, report_start_fork),
 * and the episode's outcome when it finishes (report_add); render
 * the report of a split (all splits when NULL), of one tag or of all tags. Every metric is
 * defined so that failure never raises it: an episode that never finishes (running, abandoned,
 * deleted or expired) counts in every per-episode denominator and in nothing else, and its calls
 * count as they were judged. Totals survive the eviction or deletion of the episodes
 * themselves. At most TG_REPORT_GROUPS_MAX (split, tag) groups are tracked; episodes of further
 * new tags still count in their split's totals (in an overflow group) but not under their own
 * tag. Each group also keeps first-attempt totals per task tag (at most
 * TG_REPORT_TASK_TAGS_MAX).
 * What it does not do: judge, or keep episodes. The metrics are defined in docs/episodes.md.
 */
#ifndef TG_REPORT_H
#define TG_REPORT_H

#include <jansson.h>

#include "base/tg.h"
#include "server/episode.h"

struct report;

/* report_new — an empty report (new; free with report_free) or NULL on ENOMEM. */
struct report *report_new(void);

/* report_free — accepts NULL. */
void report_free(struct report *r);

/* How an episode counts. */
enum report_attempt {
    REPORT_FIRST, /* the first episode of its task in its (split, tag) group */
    REPORT_RETRY, /* a later episode of a task already attempted in the group */
    REPORT_FORK,  /* made by POST /v1/episodes/{id}/fork */
};

/*
 * report_start — count an episode of task t (borrowed) started in group (split, tag) (tag NULL:
 * ""); forked: made by a fork. Returns its enum report_attempt (REPORT_FIRST on ENOMEM, when
 * the task cannot be remembered). Thread-safe.
 */
int report_start(struct report *r, const struct task *t, const char *tag, int forked);

/*
 * report_start_fork — count a fork (made by episode_fork, not yet stepped) as started in its
 * group (its task's split, its tag), together with the tool calls of the prefix it holds: in
 * the forks bucket they are the fork's own calls, exactly as a fresh episode making the same
 * calls would count them (the source counted them in its own bucket as well). The episode is
 * read under its mutex first, the report locked after, so a report never shows the fork
 * without its prefix. Returns REPORT_FORK. Thread-safe.
 */
int report_start_fork(struct report *r, struct episode *fork);

/*
 * report_step — count one judged tool call with label l of an episode (task t, run tag tag,
 * attempt kind) ; on_args: judged on its arguments (episode_step_judged_on_args). Answers are
 * not steps here. 0 or TG_ENOMEM. Thread-safe.
 */
int report_step(struct report *r, const struct task *t, const char *tag, int attempt,
                enum judge_label l, int on_args);

/* report_add — count a finished episode's summary (borrowed): its outcome, answer flags,
 * selection and plan match (its calls were counted by report_step). 0 or TG_ENOMEM.
 * Thread-safe. */
int report_add(struct report *r, const struct episode_summary *s);

/*
 * report_add_whole — count a whole episode at once from its summary (borrowed), as if it had
 * been started (a fork when s->attempt is REPORT_FORK, else first attempt or retry by its
 * task), its calls judged (a fork's prefix included) and, if finished, ended: for episodes
 * judged offline (toolgym rescore). 0 or TG_ENOMEM. Thread-safe.
 */
int report_add_whole(struct report *r, const struct episode_summary *s);

/*
 * report_json — new {"episodes","finished","unfinished","answer_accuracy","grounded_accuracy",
 * "tool_selection_accuracy","argument_accuracy","exact_plan_match","calls_per_episode",
 * "wasted_call_rate","wasted_calls_per_episode","tool_productivity","labels":{label: rate},
 * "retries":{the same without retries/forks},"forks":{likewise}} over the first attempts of
 * split (NULL: every split) and run tag (NULL: every tag). Ratios whose denominator is 0 are
 * JSON null (label rates are 0). With by_tag, also "by_tag":{task tag: the same object over
 * the first attempts whose task carries that tag}, keys sorted; an episode counts under every
 * tag of its task, and under "family:<family>" when its task has no family tag. NULL on ENOMEM.
 * Thread-safe.
 */
json_t *report_json(struct report *r, const char *split, const char *tag, int by_tag);

/*
 * report_merge — one report over the episodes of n reports (borrowed; report_json objects,
 * e.g. from several servers): their "counts" added, each ratio computed again from the sums,
 * for the first attempts, "retries", "forks" and, when every report has one, "by_tag" (the
 * union of tags). The same object report_json would give had all the episodes been played on
 * one server, as long as no task was attempted on two of them. New, or NULL with err set
 * ("invalid_report" naming a missing or bad count, or out of memory).
 */
json_t *report_merge(json_t *const *reports, size_t n, struct tg_error *err);

#endif
