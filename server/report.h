/*
 * report.h — tool-call accuracy reports (GET /v1/report, `toolgym eval`): running totals
 * over finished episodes, grouped by (split, tag).
 *
 * What it does: accumulate one struct episode_summary per finished episode and render the
 * report of a split (all splits when NULL), of one tag or of all tags. Totals survive the
 * eviction or deletion of the episodes themselves: a report covers every episode finished
 * since the server started. At most TG_REPORT_GROUPS_MAX (split, tag) groups are tracked;
 * episodes of further new tags still count in their split's totals (in an overflow group)
 * but not under their own tag. Each group also keeps totals per task tag (the productions a
 * task was built from), at most TG_REPORT_TASK_TAGS_MAX of them; further new task tags are
 * not broken out.
 * What it does not do: judge, or keep episodes. The metrics are defined in docs/episodes.md.
 */
#ifndef TG_REPORT_H
#define TG_REPORT_H

#include <jansson.h>

#include "server/episode.h"

struct report;

/* report_new — an empty report (new; free with report_free) or NULL on ENOMEM. */
struct report *report_new(void);

/* report_free — accepts NULL. */
void report_free(struct report *r);

/* report_add — count a finished episode's summary (borrowed). 0 or TG_ENOMEM. Thread-safe. */
int report_add(struct report *r, const struct episode_summary *s);

/*
 * report_json — new {"episodes","answer_accuracy","tool_selection_accuracy",
 * "argument_accuracy","exact_plan_match","calls_per_episode","wasted_call_rate",
 * "wasted_calls_per_episode","tool_productivity","labels":{label: rate}} over the episodes of
 * split (NULL: every split) and run tag (NULL: every tag). Ratios whose denominator is 0 are
 * JSON null (label rates are 0). With by_tag, also "by_tag":{task tag: the same object over
 * the episodes whose task carries that tag}, keys sorted; an episode counts under every tag
 * of its task, and under "family:<family>" when its task has no family tag. NULL on ENOMEM.
 * Thread-safe.
 */
json_t *report_json(struct report *r, const char *split, const char *tag, int by_tag);

#endif
