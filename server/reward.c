/*
 * reward.c — reward modes (judge, torl, otc), their config, and the OTC formula.
 * See reward.h and docs/rewards.md. Pure except reward_config_load's file read.
 */
#include "server/reward.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/json_util.h"

#define REWARD_WEIGHT_MAX 10.0 /* |any weight or floor| */
#define REWARD_OTC_C_MAX  1000.0
#define REWARD_SCALE_MAX  100.0

static int reward_config_check(const struct reward_config *c, struct tg_error *err);

static const char *const mode_names[REWARD_MODE_COUNT] = {"judge", "torl", "otc"};

const char *reward_mode_name(enum reward_mode m) {
    return tg_name_of(mode_names, REWARD_MODE_COUNT, (int)m);
}

int reward_mode_parse(const char *name, enum reward_mode *out) {
    int m = tg_name_index(mode_names, REWARD_MODE_COUNT, name);

    if (m < 0)
        return TG_EINVAL;
    *out = (enum reward_mode)m;
    return 0;
}

void reward_config_defaults(struct reward_config *c) {
    memset(c, 0, sizeof(*c));
    c->mode = REWARD_JUDGE;
    c->label[JUDGE_NECESSARY] = 0;
    c->label[JUDGE_PARTIAL] = -0.05;
    c->label[JUDGE_REDUNDANT] = -0.1;
    c->label[JUDGE_PREMATURE] = -0.2;
    c->label[JUDGE_UNNECESSARY] = -0.1;
    c->label[JUDGE_WRONG_ARGS] = -0.1;
    c->label[JUDGE_MALFORMED] = -0.3;
    c->label[JUDGE_CORRECT] = 1;
    c->label[JUDGE_INCORRECT] = 0;
    c->label[JUDGE_PREMATURE_ANSWER] = 0;
    c->label[JUDGE_UNGROUNDED] = -0.5;
    c->label[JUDGE_STEP_LIMIT] = 0;
    c->floor_correct = 0.1;
    c->floor_incorrect = -1;
    c->scale = 1;
    c->torl_correct = 1;
    c->torl_incorrect = -1;
    c->torl_malformed = -0.5;
    c->torl_ungrounded = -0.5;
    c->otc_c = 1;
    c->otc_correct = 1;
    c->otc_ungrounded = 0.5;
    c->otc_incorrect = 0;
}

/* ---- config parsing --------------------------------------------------------------------- */

/* obj must be an object with only the fields of the table (types checked); where names it. */
static int check_fields(const json_t *obj, const struct jsonu_field *fields, size_t n,
                        const char *where, struct tg_error *err) {
    return jsonu_check_fields_at(obj, fields, n, 0, TG_CODE_CONFIG, where, err);
}

/* Optional number obj[key] in [lo, hi] into *out. */
static int get_num(const json_t *obj, const char *key, double lo, double hi, double *out,
                   const char *where, struct tg_error *err) {
    const json_t *v = json_object_get(obj, key);
    double x;

    if (!v)
        return 0;
    if (!json_is_number(v)) {
        tg_error_set(err, TG_CODE_CONFIG, "%s.%s: must be a number", where, key);
        return TG_EINVAL;
    }
    x = json_number_value(v);
    if (!(x >= lo && x <= hi)) {
        tg_error_set(err, TG_CODE_CONFIG, "%s.%s: %g is out of range [%g, %g]", where, key, x, lo,
                     hi);
        return TG_EINVAL;
    }
    *out = x;
    return 0;
}

static int apply_json(const json_t *j, struct reward_config *c, struct tg_error *err) {
    static const struct jsonu_field top[] = {{"mode", JSON_STRING, 0},  {"labels", JSON_OBJECT, 0},
                                             {"floor", JSON_OBJECT, 0}, {"scale", JSON_REAL, 0},
                                             {"torl", JSON_OBJECT, 0},  {"otc", JSON_OBJECT, 0}};
    static const struct jsonu_field floor_fields[] = {{"correct", JSON_REAL, 0},
                                                      {"incorrect", JSON_REAL, 0}};
    static const struct jsonu_field torl_fields[] = {{"correct", JSON_REAL, 0},
                                                     {"incorrect", JSON_REAL, 0},
                                                     {"malformed", JSON_REAL, 0},
                                                     {"ungrounded", JSON_REAL, 0}};
    static const struct jsonu_field otc_fields[] = {{"c", JSON_REAL, 0},
                                                    {"correct", JSON_REAL, 0},
                                                    {"ungrounded", JSON_REAL, 0},
                                                    {"incorrect", JSON_REAL, 0}};
    const double W = REWARD_WEIGHT_MAX;
    const json_t *v;
    int rc;

    if (json_is_object(j) && json_object_get(j, "clip")) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "config.clip: replaced by \"floor\" and \"scale\" (a smooth squash instead "
                     "of a hard clip; docs/rewards.md)");
        return TG_EINVAL;
    }
    rc = check_fields(j, top, TG_ARRAY_LEN(top), "config", err);
    if (rc)
        return rc;
    v = json_object_get(j, "mode");
    if (v && (!json_is_string(v) || reward_mode_parse(json_string_value(v), &c->mode))) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "config.mode: must be \"judge\", \"torl\" or "
                     "\"otc\"");
        return TG_EINVAL;
    }
    v = json_object_get(j, "labels");
    if (v) {
        const char *k;
        json_t *w;

        json_object_foreach((json_t *)v, k, w) {
            enum judge_label l;

            (void)w;
            if (judge_label_parse(k, &l)) {
                tg_error_set(err, TG_CODE_CONFIG, "labels.%s: unknown label", k);
                return TG_EINVAL;
            }
            rc = get_num(v, k, -W, W, &c->label[l], "labels", err);
            if (rc)
                return rc;
        }
    }
    v = json_object_get(j, "floor");
    if (v) {
        rc = check_fields(v, floor_fields, TG_ARRAY_LEN(floor_fields), "config.floor", err);
        if (!rc)
            rc = get_num(v, "correct", -W, W, &c->floor_correct, "floor", err);
        if (!rc)
            rc = get_num(v, "incorrect", -W, W, &c->floor_incorrect, "floor", err);
        if (rc)
            return rc;
    }
    rc = get_num(j, "scale", 1e-3, REWARD_SCALE_MAX, &c->scale, "config", err);
    if (rc)
        return rc;
    v = json_object_get(j, "torl");
    if (v) {
        rc = check_fields(v, torl_fields, TG_ARRAY_LEN(torl_fields), "config.torl", err);
        if (!rc)
            rc = get_num(v, "correct", -W, W, &c->torl_correct, "torl", err);
        if (!rc)
            rc = get_num(v, "incorrect", -W, W, &c->torl_incorrect, "torl", err);
        if (!rc)
            rc = get_num(v, "malformed", -W, W, &c->torl_malformed, "torl", err);
        if (!rc)
            rc = get_num(v, "ungrounded", -W, W, &c->torl_ungrounded, "torl", err);
        if (rc)
            return rc;
    }
    v = json_object_get(j, "otc");
    if (v) {
        rc = check_fields(v, otc_fields, TG_ARRAY_LEN(otc_fields), "config.otc", err);
        if (!rc)
            rc = get_num(v, "c", 1e-9, REWARD_OTC_C_MAX, &c->otc_c, "otc", err);
        if (!rc)
            rc = get_num(v, "correct", -W, W, &c->otc_correct, "otc", err);
        if (!rc)
            rc = get_num(v, "ungrounded", -W, W, &c->otc_ungrounded, "otc", err);
        if (!rc)
            rc = get_num(v, "incorrect", -W, W, &c->otc_incorrect, "otc", err);
        if (rc)
            return rc;
    }
    return reward_config_check(c, err);
}

int reward_config_from_json(const json_t *j, struct reward_config *c, struct tg_error *err) {
    struct reward_config tmp;
    int rc;

    reward_config_defaults(&tmp);
    rc = apply_json(j, &tmp, err);
    if (rc)
        return rc;
    *c = tmp;
    return 0;
}

int reward_config_load(const char *path, struct reward_config *c, struct tg_error *err) {
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    int rc;

    if (!j) {
        if (je.line <= 0 && je.position == 0) {
            /* je.text is "unable to open PATH: why": the path once, not twice */
            tg_error_set(err, TG_CODE_IO, "cannot read the reward config: %s", je.text);
            return TG_EIO;
        }
        tg_error_set(err, TG_CODE_CONFIG, "%s:%d: %s", path, je.line, je.text);
        return TG_EINVAL;
    }
    rc = reward_config_from_json(j, c, err);
    json_decref(j);
    return rc;
}

/* ---- rewards ---------------------------------------------------------------------------- */

double reward_step(const struct reward_config *c, enum reward_mode m, enum judge_label l) {
    if (m != REWARD_JUDGE || (unsigned)l >= JUDGE_LABEL_COUNT || !judge_label_is_call(l))
        return 0;
    return c->label[l];
}

double reward_otc_tool(double m, double n, double c) {
    double f;

    if (m == 0 && n == 0)
        return 1;
    if (n == 0)
        return cos(m * M_PI / (2 * m + c));
    f = 2 * n * m / (m + n);
    return sin(f * M_PI / (2 * n));
}

double reward_otc(double m, double n, int correct, double c) {
    return (correct ? 1.0 : 0.0) * reward_otc_tool(m, n, c);
}

size_t reward_necessary_calls(const struct reward_episode *e) {
    size_t n = 0;

    for (size_t i = 0; i < e->ncalls; i++)
        n += e->calls[i] == JUDGE_NECESSARY;
    return n;
}

/* judge mode: the return of a finished episode with outcome o and penalty sum p (<= 0). */
static double judge_return(const struct reward_config *c, enum reward_outcome o, double p) {
    double h = c->scale / (c->scale - p), top, floor;

    if (o == REWARD_CORRECT) {
        top = c->label[JUDGE_CORRECT];
        floor = c->floor_correct;
    } else {
        top = c->label[o == REWARD_STEP_LIMIT ? JUDGE_STEP_LIMIT : JUDGE_INCORRECT];
        floor = c->floor_incorrect;
    }
    return floor + (top - floor) * h;
}

/* otc mode: the return for outcome o (ungrounded flag u) after m calls, n of them necessary. */
static double otc_return(const struct reward_config *c, enum reward_outcome o, int u, double m,
                         double n) {
    double rc = o == REWARD_CORRECT ? (u ? c->otc_ungrounded : c->otc_correct) : c->otc_incorrect;

    return rc * reward_otc_tool(m, n, c->otc_c);
}

/* torl mode: the return for outcome o, with or without a malformed call and the flag. */
static double torl_return(const struct reward_config *c, enum reward_outcome o, int malformed,
                          int u) {
    return (o == REWARD_CORRECT ? c->torl_correct : c->torl_incorrect) +
           (malformed ? c->torl_malformed : 0) + (u ? c->torl_ungrounded : 0);
}

static double sum_calls(const struct reward_config *c, const struct reward_episode *e) {
    double s = 0;

    for (size_t i = 0; i < e->ncalls; i++)
        s += reward_step(c, REWARD_JUDGE, e->calls[i]);
    return s;
}

double reward_return(const struct reward_config *c, enum reward_mode m,
                     const struct reward_episode *e) {
    double p;
    int malformed = 0;

    if (m == REWARD_JUDGE) {
        p = sum_calls(c, e);
        if (e->outcome == REWARD_RUNNING)
            return p;
        if (e->premature_answer)
            p += c->label[JUDGE_PREMATURE_ANSWER];
        if (e->ungrounded)
            p += c->label[JUDGE_UNGROUNDED];
        return judge_return(c, e->outcome, p);
    }
    if (e->outcome == REWARD_RUNNING)
        return 0;
    if (m == REWARD_TORL) {
        for (size_t i = 0; i < e->ncalls; i++)
            malformed |= e->calls[i] == JUDGE_MALFORMED;
        return torl_return(c, e->outcome, malformed, e->ungrounded);
    }
    if (m == REWARD_OTC)
        return otc_return(c, e->outcome, e->ungrounded, (double)e->ncalls,
                          (double)reward_necessary_calls(e));
    return 0;
}

double reward_final(const struct reward_config *c, enum reward_mode m,
                    const struct reward_episode *e) {
    if (e->outcome == REWARD_RUNNING)
        return 0;
    if (m != REWARD_JUDGE)
        return reward_return(c, m, e);
    return reward_return(c, m, e) - sum_calls(c, e);
}

/* ---- the guaranteed properties ---------------------------------------------------------- */

static const enum judge_label wasted_labels[] = {JUDGE_PARTIAL,    JUDGE_REDUNDANT,
                                                 JUDGE_PREMATURE,  JUDGE_UNNECESSARY,
                                                 JUDGE_WRONG_ARGS, JUDGE_MALFORMED};

static int broken(struct tg_error *err, const char *keys, const char *property, const char *why) {
    tg_error_set(err, TG_CODE_CONFIG, "%s: breaks the %s property: %s", keys, property, why);
    return TG_EINVAL;
}

/* judge mode's properties, in the order docs/rewards.md states them. */
static int check_judge(const struct reward_config *c, struct tg_error *err) {
    const double *w = c->label;
    double worst = 0, least = -INFINITY, pmax_calls;
    char keys[96];

    if (!(w[JUDGE_NECESSARY] <= 0))
        return broken(err, "labels.necessary", "monotonicity",
                      "a call's weight must not be positive (no call may raise the return)");
    for (size_t i = 0; i < TG_ARRAY_LEN(wasted_labels); i++) {
        enum judge_label l = wasted_labels[i];

        if (!(w[l] < 0)) {
            snprintf(keys, sizeof(keys), "labels.%s", judge_label_name(l));
            return broken(err, keys, "monotonicity",
                          "a wasted call's weight must be negative, so that one more wasted "
                          "call strictly lowers the return");
        }
        worst = fmin(worst, w[l]);
        least = fmax(least, w[l]);
    }
    if (!(w[JUDGE_PREMATURE_ANSWER] <= 0))
        return broken(err, "labels.premature_answer", "monotonicity", "must not be positive");
    if (!(w[JUDGE_CORRECT] > c->floor_correct))
        return broken(err, "labels.correct, floor.correct", "monotonicity",
                      "labels.correct must exceed floor.correct, or penalties cannot lower a "
                      "correct return");
    if (!(w[JUDGE_INCORRECT] > c->floor_incorrect) || !(w[JUDGE_STEP_LIMIT] > c->floor_incorrect))
        return broken(err, "labels.incorrect, labels.step_limit, floor.incorrect", "monotonicity",
                      "labels.incorrect and labels.step_limit must exceed floor.incorrect");
    if (!(c->floor_correct >= w[JUDGE_INCORRECT]) || !(c->floor_correct >= w[JUDGE_STEP_LIMIT]))
        return broken(err, "floor.correct, labels.incorrect, labels.step_limit", "ordering",
                      "floor.correct must be at least labels.incorrect and labels.step_limit, "
                      "or an incorrect episode could outscore a correct one");
    for (size_t i = 0; i < TG_ARRAY_LEN(wasted_labels); i++) {
        enum judge_label l = wasted_labels[i];

        if (l != JUDGE_PARTIAL && l != JUDGE_REDUNDANT && !(w[l] <= w[JUDGE_REDUNDANT])) {
            snprintf(keys, sizeof(keys), "labels.%s, labels.redundant", judge_label_name(l));
            return broken(err, keys, "disguise",
                          "a repeat in disguise can reach this label, so it must cost at least "
                          "as much as redundant");
        }
    }
    if (!(w[JUDGE_UNGROUNDED] < 0) ||
        !(w[JUDGE_UNGROUNDED] + w[JUDGE_PREMATURE_ANSWER] < TG_TASK_PLAN_MAX * w[JUDGE_NECESSARY]))
        return broken(err, "labels.ungrounded, labels.premature_answer, labels.necessary",
                      "grounding",
                      "an ungrounded correct answer must score below the grounded plan: "
                      "ungrounded + premature_answer < 16 x necessary, and ungrounded < 0");
    /* In doubles too: at the worst penalty an episode can collect, one more of the cheapest
     * wasted call still lowers every return, and a correct return stays above every other. */
    pmax_calls = TG_MAX_STEPS_LIMIT * worst + w[JUDGE_PREMATURE_ANSWER] + w[JUDGE_UNGROUNDED];
    for (int o = REWARD_CORRECT; o <= REWARD_STEP_LIMIT; o++)
        if (!(judge_return(c, (enum reward_outcome)o, pmax_calls + least) <
              judge_return(c, (enum reward_outcome)o, pmax_calls)))
            return broken(err, "scale, labels", "monotonicity",
                          "the weights are too far apart for the squash: a wasted call no longer "
                          "changes the return in double precision");
    if (!(judge_return(c, REWARD_CORRECT, pmax_calls + least) >
          fmax(judge_return(c, REWARD_INCORRECT, 0), judge_return(c, REWARD_STEP_LIMIT, 0))))
        return broken(err, "floor.correct, labels.incorrect", "ordering",
                      "a correct episode must outscore every incorrect one");
    return 0;
}

/* torl: ordering, a malformed call and an ungrounded answer never raise the return. */
static int check_torl(const struct reward_config *c, struct tg_error *err) {
    if (!(c->torl_malformed <= 0))
        return broken(err, "torl.malformed", "monotonicity",
                      "a malformed call must not raise the return");
    if (!(c->torl_ungrounded < 0))
        return broken(err, "torl.ungrounded", "grounding",
                      "an ungrounded correct answer must score below the grounded one");
    if (!(c->torl_correct + c->torl_malformed + c->torl_ungrounded > c->torl_incorrect))
        return broken(err, "torl.correct, torl.malformed, torl.ungrounded, torl.incorrect",
                      "ordering",
                      "a correct episode, even with a malformed call and ungrounded, must "
                      "outscore every incorrect one");
    return 0;
}

/* otc: r_tool is in (0, 1] and falls with every wasted call, so r_correct must be >= 0 for an
 * incorrect episode (or a wasted call raises its return) and every correct return must stay
 * above it. */
static int check_otc(const struct reward_config *c, struct tg_error *err) {
    double low = INFINITY;

    if (!(c->otc_incorrect >= 0))
        return broken(err, "otc.incorrect", "monotonicity",
                      "with a negative r_correct, r_tool's fall with each wasted call would raise "
                      "an incorrect episode's return");
    for (int m = 0; m <= TG_MAX_STEPS_LIMIT; m++)
        for (int n = 0; n <= m; n++)
            low = fmin(low, reward_otc_tool(m, n, c->otc_c));
    if (!(fmin(c->otc_ungrounded, c->otc_correct) * low > c->otc_incorrect))
        return broken(err, "otc.correct, otc.ungrounded, otc.incorrect", "ordering",
                      "every correct episode (r_correct times r_tool, which falls to the lowest "
                      "r_tool of 64 calls) must outscore every incorrect one (otc.incorrect)");
    if (!(c->otc_ungrounded < c->otc_correct))
        return broken(err, "otc.ungrounded, otc.correct", "grounding",
                      "an ungrounded correct answer must score below the grounded one");
    return 0;
}

static int reward_config_check(const struct reward_config *c, struct tg_error *err) {
    int rc = check_judge(c, err);

    if (!rc)
        rc = check_torl(c, err);
    if (!rc)
        rc = check_otc(c, err);
    return rc;
}
