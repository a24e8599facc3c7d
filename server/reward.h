/*
 * reward.h — reward modes and their weights: judge (per-step rewards from the judge's labels,
 * squashed into a return that keeps its guarantees), torl (outcome only) and otc (outcome
 * times OTC's tool-efficiency term). The spec with worked examples is docs/rewards.md.
 *
 * What it does: load and validate a reward config (JSON) — ranges and the guaranteed
 * properties —, give the reward of a judged step and the return of an episode in each mode,
 * and the OTC formula for the trainer.
 * What it does not do: judge (server/judge.c), keep episodes, or any I/O besides reading the
 * config file. Everything but reward_config_load is pure and thread-safe.
 *
 * judge mode: with P the sum of the tool calls' label weights plus premature_answer's and
 * ungrounded's weights when the answer is flagged (P <= 0), and h(P) = s / (s - P) (s the
 * config's scale; h(0) = 1, strictly increasing, > 0), the return of a finished episode is
 *   correct    → floor.correct   + (w_correct    - floor.correct)   · h(P)
 *   incorrect  → floor.incorrect + (w_incorrect  - floor.incorrect) · h(P)
 *   step_limit → floor.incorrect + (w_step_limit - floor.incorrect) · h(P)
 * A tool call's step reward is its label's weight; the final step's reward is the return minus
 * the calls' rewards, so the step rewards sum to the return.
 * torl mode: +1 correct, −1 otherwise, plus torl.malformed if any call was malformed and
 * torl.ungrounded if the answer was; tool steps 0, the final step the return.
 * otc mode: r = r_correct · r_tool(m, n) with m the episode's tool calls and n its necessary
 * ones (the fewest calls that reached its answer: malformed and wasted calls count against the
 * agent); r_correct = otc.correct, otc.ungrounded for an ungrounded correct answer, or
 * otc.incorrect. Tool steps 0, the final step the return. The trainer, which sees a group,
 * calls reward_otc with the group's n.
 * Unfinished episodes: judge mode returns the plain sum of the step rewards so far; torl and
 * otc return 0.
 * The guaranteed properties (docs/rewards.md) are checked by reward_config_from_json.
 */
#ifndef TG_REWARD_H
#define TG_REWARD_H

#include <stddef.h>

#include "server/judge.h"
#include "base/tg.h"

enum reward_mode { REWARD_JUDGE, REWARD_TORL, REWARD_OTC, REWARD_MODE_COUNT };

struct reward_config {
    enum reward_mode mode;           /* the server's default mode */
    double label[JUDGE_LABEL_COUNT]; /* judge mode: reward per label, in [-10, 10] */
    double floor_correct;   /* judge mode: what a correct return approaches, never reaches */
    double floor_incorrect; /* judge mode: likewise for any other finished episode */
    double scale;           /* judge mode: s of h(P) = s / (s - P), in (0, 100] */
    double torl_correct, torl_incorrect, torl_malformed, torl_ungrounded;
    double otc_c; /* smoothing constant c > 0 of r_tool when n = 0 */
    double otc_correct, otc_ungrounded, otc_incorrect; /* r_correct by outcome */
};

/* How an episode ended (or that it has not). */
enum reward_outcome {
    REWARD_RUNNING,    /* not finished */
    REWARD_CORRECT,    /* answered correctly */
    REWARD_INCORRECT,  /* answered incorrectly */
    REWARD_STEP_LIMIT, /* reached max_steps without an answer */
};

/* An episode as the reward functions see it. Pointers borrowed. */
struct reward_episode {
    const enum judge_label *calls; /* labels of the tool calls, in order */
    size_t ncalls;
    enum reward_outcome outcome;
    int premature_answer; /* the answer was flagged premature_answer */
    int ungrounded;       /* the answer was flagged ungrounded */
};

/* reward_mode_name — "judge", "torl", "otc"; "?" if out of range. Pure. */
const char *reward_mode_name(enum reward_mode m);

/* reward_mode_parse — 0 with *out set, or TG_EINVAL for an unknown name. Pure. */
int reward_mode_parse(const char *name, enum reward_mode *out);

/* reward_config_defaults — the defaults of DESIGN.md (also shipped as data/rewards.json). */
void reward_config_defaults(struct reward_config *c);

/*
 * reward_config_from_json — start from the defaults and apply j (borrowed):
 *   {"mode":"judge|torl|otc", "labels":{"<label>":w,...},
 *    "floor":{"correct","incorrect"}, "scale":s,
 *    "torl":{"correct","incorrect","malformed","ungrounded"},
 *    "otc":{"c","correct","ungrounded","incorrect"}}
 * Every key is optional; unknown keys, wrong types and out-of-range values are rejected, and so
 * is a config that breaks a guaranteed property (ordering, monotonicity, disguise, grounding:
 * docs/rewards.md), with a message naming the keys and the property. Returns 0 with *c filled,
 * or TG_EINVAL with *err {"invalid_config", "<keys>: <why>"} and *c unchanged. Pure.
 */
int reward_config_from_json(const json_t *j, struct reward_config *c, struct tg_error *err);

/* reward_config_load — read the JSON file at path and apply reward_config_from_json.
 * Returns 0, TG_EIO (unreadable, *err names the file), or TG_EINVAL. */
int reward_config_load(const char *path, struct reward_config *c, struct tg_error *err);

/*
 * reward_step — the reward of one judged step in mode m: for a tool call the label's weight
 * (judge mode) or 0 (torl, otc). For the final step use reward_final. Pure.
 */
double reward_step(const struct reward_config *c, enum reward_mode m, enum judge_label l);

/*
 * reward_final — the reward of the step that ends an episode (an answer or step_limit): the
 * episode's return minus the rewards of its tool calls, so that the step rewards sum to the
 * return in every mode. Pure.
 */
double reward_final(const struct reward_config *c, enum reward_mode m,
                    const struct reward_episode *e);

/* reward_return — the episode's return in mode m (see the header comment). Pure. */
double reward_return(const struct reward_config *c, enum reward_mode m,
                     const struct reward_episode *e);

/* reward_necessary_calls — the calls of e labelled necessary (otc's n on the server). Pure. */
size_t reward_necessary_calls(const struct reward_episode *e);

/*
 * reward_otc_tool — OTC's tool-efficiency term for m calls against the reference n, with
 * f(m,n) = 0 if m = n = 0; m if n = 0; 2nm/(m+n) otherwise:
 *   r_tool = 1 if f = n = 0; cos(mπ/(2m+c)) if n = 0; sin(f·π/(2n)) otherwise.
 * reward_otc — r_correct · r_tool with r_correct = 1 (correct) or 0; for other r_correct
 * weights use reward_otc_tool directly. Pure.
 */
double reward_otc_tool(double m, double n, double c);
double reward_otc(double m, double n, int correct, double c);

#endif
