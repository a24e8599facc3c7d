/*
 * reward.h — reward modes and their weights: judge (per-step rewards from the judge's labels,
 * with a clipped episode return), torl (outcome only) and otc (outcome times a tool-count
 * efficiency term). The spec with worked examples is docs/rewards.md.
 *
 * What it does: load and validate a reward config (JSON), give the reward of a judged step and
 * the return of an episode in each mode, and the OTC formula for the trainer.
 * What it does not do: judge (server/judge.c), keep episodes, or any I/O besides reading the
 * config file. Everything but reward_config_load is pure and thread-safe.
 *
 * judge mode: a tool call's reward is its label's weight; the answer step's reward is the
 * weight of correct/incorrect (plus premature_answer's weight when flagged); step_limit has its
 * own weight. The episode return is clipped so that every correct episode scores above every
 * incorrect one: with P = the sum of the tool-call weights (+ premature_answer's weight),
 *   correct   → clip(w_correct + P, clip.correct[0], clip.correct[1])   default [0.1, 1]
 *   otherwise → clip(w_incorrect + P, clip.incorrect[0], clip.incorrect[1])   default [-1, 0]
 *   (step_limit uses w_step_limit in place of w_incorrect)
 * reward_config_load enforces clip.correct[0] > clip.incorrect[1], which is what makes the
 * ordering hold for any label sequence.
 * torl mode: +1 correct, −1 otherwise, plus −0.5 more if any call was malformed; tool steps 0.
 * otc mode: r = r_correct · r_tool(m, n) (see reward_otc); tool steps 0. A server scores a
 * single episode with n = the task's number of plan steps (the fewest calls a careful agent
 * needs); the trainer, which sees the group, calls reward_otc with the group's n.
 * Unfinished episodes: judge mode returns the plain sum of the step rewards so far; torl and
 * otc return 0.
 */
#ifndef TG_REWARD_H
#define TG_REWARD_H

#include <stddef.h>

#include "server/judge.h"
#include "base/tg.h"

enum reward_mode { REWARD_JUDGE, REWARD_TORL, REWARD_OTC, REWARD_MODE_COUNT };

struct reward_config {
    enum reward_mode mode;             /* the server's default mode */
    double label[JUDGE_LABEL_COUNT];   /* judge mode: reward per label, in [-10, 10] */
    double correct_lo, correct_hi;     /* judge mode: clip of a correct episode's return */
    double incorrect_lo, incorrect_hi; /* judge mode: clip of any other finished episode */
    double torl_correct, torl_incorrect, torl_malformed;
    double otc_c;                      /* smoothing constant c > 0 of r_tool when n = 0 */
    double otc_correct, otc_incorrect; /* r_correct for a correct / incorrect episode */
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
    size_t ref_calls;     /* otc: n, the reference call count (server: the plan's steps) */
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
 *    "clip":{"correct":[lo,hi],"incorrect":[lo,hi]},
 *    "torl":{"correct","incorrect","malformed"}, "otc":{"c","correct","incorrect"}}
 * Every key is optional; unknown keys, wrong types and out-of-range values are rejected.
 * Returns 0 with *c filled, or TG_EINVAL with *err {"invalid_config", "<key>: <why>"} and
 * *c unchanged. Pure.
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
 * reward_final — the reward of the step that ends an episode (an answer or step_limit):
 * judge mode: the weight of correct / incorrect / step_limit (+ premature_answer's weight if
 * flagged); torl and otc: the episode's return (reward_return), so that their step rewards
 * sum to the return. Pure.
 */
double reward_final(const struct reward_config *c, enum reward_mode m,
                    const struct reward_episode *e);

/* reward_return — the episode's return in mode m (see the header comment). Pure. */
double reward_return(const struct reward_config *c, enum reward_mode m,
                     const struct reward_episode *e);

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
