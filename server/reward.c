/*
 * reward.c — reward modes (judge, torl, otc), their config, and the OTC formula.
 * See reward.h and docs/rewards.md. Pure except reward_config_load's file read.
 */
#include "server/reward.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/json_util.h"

#define REWARD_WEIGHT_MAX 10.0 /* |any weight or clip bound| */
#define REWARD_OTC_C_MAX  1000.0

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
    c->label[JUDGE_REDUNDANT] = -0.2;
    c->label[JUDGE_PREMATURE] = -0.2;
    c->label[JUDGE_UNNECESSARY] = -0.1;
    c->label[JUDGE_WRONG_ARGS] = -0.1;
    c->label[JUDGE_MALFORMED] = -0.3;
    c->label[JUDGE_CORRECT] = 1;
    c->label[JUDGE_INCORRECT] = 0;
    c->label[JUDGE_PREMATURE_ANSWER] = 0;
    c->label[JUDGE_STEP_LIMIT] = 0;
    c->correct_lo = 0.1;
    c->correct_hi = 1;
    c->incorrect_lo = -1;
    c->incorrect_hi = 0;
    c->torl_correct = 1;
    c->torl_incorrect = -1;
    c->torl_malformed = -0.5;
    c->otc_c = 1;
    c->otc_correct = 1;
    c->otc_incorrect = 0;
}

/* ---- config parsing --------------------------------------------------------------------- */

/* obj must be an object with only the fields of the table (types checked); where names it. */
static int check_fields(const json_t *obj, const struct jsonu_field *fields, size_t n,
                        const char *where, struct tg_error *err) {
    return jsonu_check_fields_at(obj, fields, n, 0, "invalid_config", where, err);
}

/* Optional number obj[key] in [lo, hi] into *out. */
static int get_num(const json_t *obj, const char *key, double lo, double hi, double *out,
                   const char *where, struct tg_error *err) {
    const json_t *v = json_object_get(obj, key);
    double x;

    if (!v)
        return 0;
    if (!json_is_number(v)) {
        tg_error_set(err, "invalid_config", "%s.%s: must be a number", where, key);
        return TG_EINVAL;
    }
    x = json_number_value(v);
    if (!(x >= lo && x <= hi)) {
        tg_error_set(err, "invalid_config", "%s.%s: %g is out of range [%g, %g]", where, key, x, lo,
                     hi);
        return TG_EINVAL;
    }
    *out = x;
    return 0;
}

/* Optional [lo, hi] pair obj[key]. */
static int get_pair(const json_t *obj, const char *key, double *lo, double *hi,
                    struct tg_error *err) {
    const json_t *v = json_object_get(obj, key);
    double a, b;

    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(json_array_get(v, 0)) ||
        !json_is_number(json_array_get(v, 1))) {
        tg_error_set(err, "invalid_config", "clip.%s: must be [lo, hi]", key);
        return TG_EINVAL;
    }
    a = json_number_value(json_array_get(v, 0));
    b = json_number_value(json_array_get(v, 1));
    if (!(a >= -REWARD_WEIGHT_MAX && b <= REWARD_WEIGHT_MAX && a <= b)) {
        tg_error_set(err, "invalid_config", "clip.%s: need -%g <= lo <= hi <= %g", key,
                     REWARD_WEIGHT_MAX, REWARD_WEIGHT_MAX);
        return TG_EINVAL;
    }
    *lo = a;
    *hi = b;
    return 0;
}

static int apply_json(const json_t *j, struct reward_config *c, struct tg_error *err) {
    static const struct jsonu_field top[] = {{"mode", JSON_STRING, 0},
                                             {"labels", JSON_OBJECT, 0},
                                             {"clip", JSON_OBJECT, 0},
                                             {"torl", JSON_OBJECT, 0},
                                             {"otc", JSON_OBJECT, 0}};
    static const struct jsonu_field clip_fields[] = {{"correct", JSON_ARRAY, 0},
                                                     {"incorrect", JSON_ARRAY, 0}};
    static const struct jsonu_field torl_fields[] = {
        {"correct", JSON_REAL, 0}, {"incorrect", JSON_REAL, 0}, {"malformed", JSON_REAL, 0}};
    static const struct jsonu_field otc_fields[] = {
        {"c", JSON_REAL, 0}, {"correct", JSON_REAL, 0}, {"incorrect", JSON_REAL, 0}};
    const json_t *v;
    int rc;

    rc = check_fields(j, top, TG_ARRAY_LEN(top), "config", err);
    if (rc)
        return rc;
    v = json_object_get(j, "mode");
    if (v && (!json_is_string(v) || reward_mode_parse(json_string_value(v), &c->mode))) {
        tg_error_set(err, "invalid_config",
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
                tg_error_set(err, "invalid_config", "labels.%s: unknown label", k);
                return TG_EINVAL;
            }
            rc = get_num(v, k, -REWARD_WEIGHT_MAX, REWARD_WEIGHT_MAX, &c->label[l], "labels", err);
            if (rc)
                return rc;
        }
    }
    v = json_object_get(j, "clip");
    if (v) {
        rc = check_fields(v, clip_fields, TG_ARRAY_LEN(clip_fields), "config.clip", err);
        if (!rc)
            rc = get_pair(v, "correct", &c->correct_lo, &c->correct_hi, err);
        if (!rc)
            rc = get_pair(v, "incorrect", &c->incorrect_lo, &c->incorrect_hi, err);
        if (rc)
            return rc;
    }
    v = json_object_get(j, "torl");
    if (v) {
        rc = check_fields(v, torl_fields, TG_ARRAY_LEN(torl_fields), "config.torl", err);
        if (!rc)
            rc = get_num(v, "correct", -REWARD_WEIGHT_MAX, REWARD_WEIGHT_MAX, &c->torl_correct,
                         "torl", err);
        if (!rc)
            rc = get_num(v, "incorrect", -REWARD_WEIGHT_MAX, REWARD_WEIGHT_MAX, &c->torl_incorrect,
                         "torl", err);
        if (!rc)
            rc = get_num(v, "malformed", -REWARD_WEIGHT_MAX, 0, &c->torl_malformed, "torl", err);
        if (rc)
            return rc;
    }
    v = json_object_get(j, "otc");
    if (v) {
        rc = check_fields(v, otc_fields, TG_ARRAY_LEN(otc_fields), "config.otc", err);
        if (!rc)
            rc = get_num(v, "c", 1e-9, REWARD_OTC_C_MAX, &c->otc_c, "otc", err);
        if (!rc)
            rc = get_num(v, "correct", -REWARD_WEIGHT_MAX, REWARD_WEIGHT_MAX, &c->otc_correct,
                         "otc", err);
        if (!rc)
            rc = get_num(v, "incorrect", -REWARD_WEIGHT_MAX, REWARD_WEIGHT_MAX, &c->otc_incorrect,
                         "otc", err);
        if (rc)
            return rc;
    }
    /* The ordering guarantee: every correct return > every incorrect or step_limit return. */
    if (!(c->correct_lo > c->incorrect_hi)) {
        tg_error_set(err, "invalid_config",
                     "clip: correct's lower bound %g must exceed incorrect's upper bound %g",
                     c->correct_lo, c->incorrect_hi);
        return TG_EINVAL;
    }
    if (!(c->torl_correct > c->torl_incorrect)) {
        tg_error_set(err, "invalid_config", "torl: correct must exceed incorrect");
        return TG_EINVAL;
    }
    return 0;
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
            tg_error_set(err, "io_error", "%s: cannot read: %s", path, je.text);
            return TG_EIO;
        }
        tg_error_set(err, "invalid_config", "%s:%d: %s", path, je.line, je.text);
        return TG_EINVAL;
    }
    rc = reward_config_from_json(j, c, err);
    json_decref(j);
    return rc;
}

/* ---- rewards ---------------------------------------------------------------------------- */

static double clip(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

double reward_step(const struct reward_config *c, enum reward_mode m, enum judge_label l) {
    if (m != REWARD_JUDGE || (unsigned)l >= JUDGE_LABEL_COUNT)
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
        if (e->outcome == REWARD_CORRECT)
            return clip(c->label[JUDGE_CORRECT] + p, c->correct_lo, c->correct_hi);
        if (e->outcome == REWARD_STEP_LIMIT)
            return clip(c->label[JUDGE_STEP_LIMIT] + p, c->incorrect_lo, c->incorrect_hi);
        return clip(c->label[JUDGE_INCORRECT] + p, c->incorrect_lo, c->incorrect_hi);
    }
    if (e->outcome == REWARD_RUNNING)
        return 0;
    if (m == REWARD_TORL) {
        for (size_t i = 0; i < e->ncalls; i++)
            malformed |= e->calls[i] == JUDGE_MALFORMED;
        return (e->outcome == REWARD_CORRECT ? c->torl_correct : c->torl_incorrect) +
               (malformed ? c->torl_malformed : 0);
    }
    if (m == REWARD_OTC)
        return (e->outcome == REWARD_CORRECT ? c->otc_correct : c->otc_incorrect) *
               reward_otc_tool((double)e->ncalls, (double)e->ref_calls, c->otc_c);
    return 0;
}

double reward_final(const struct reward_config *c, enum reward_mode m,
                    const struct reward_episode *e) {
    double r;

    if (m != REWARD_JUDGE)
        return reward_return(c, m, e);
    switch (e->outcome) {
    case REWARD_CORRECT:
        r = c->label[JUDGE_CORRECT];
        break;
    case REWARD_INCORRECT:
        r = c->label[JUDGE_INCORRECT];
        break;
    case REWARD_STEP_LIMIT:
        r = c->label[JUDGE_STEP_LIMIT];
        break;
    default:
        return 0;
    }
    if (e->premature_answer)
        r += c->label[JUDGE_PREMATURE_ANSWER];
    return r;
}
