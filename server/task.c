/*
 * task.c — the task schema: strict parsing/validation of task objects, the task set (JSONL
 * loading, lookup by id and split) and whole-file checking. See task.h and docs/tasks.md.
 * It does not judge, generate tasks or call tools.
 */
#include "server/task.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/dbuf.h"
#include "base/hash.h"
#include "base/json_util.h"
#include "tools/search.h"

/* ---- names ------------------------------------------------------------------------------ */

static const char *const family_names[TASK_FAMILY_COUNT] = {
    [TASK_ARITH] = "arith",
    [TASK_MENTAL] = "mental",
    [TASK_LOOKUP] = "lookup",
    [TASK_LOOKUP_ARITH] = "lookup_arith",
    [TASK_ALGO] = "algo",
    [TASK_MULTI_LOOKUP] = "multi_lookup",
    [TASK_IN_PROMPT] = "in_prompt",
    [TASK_ABSTAIN] = "abstain",
    [TASK_MENTAL_DISTRACTOR] = "mental_distractor",
};

const char *task_family_name(enum task_family f) {
    return tg_name_of(family_names, TASK_FAMILY_COUNT, (int)f);
}

int task_family_parse(const char *name, enum task_family *out) {
    int f = tg_name_index(family_names, TASK_FAMILY_COUNT, name);

    if (f < 0)
        return TG_EINVAL;
    *out = (enum task_family)f;
    return 0;
}

int task_family_uses_tools(enum task_family f) {
    return !(f == TASK_MENTAL || f == TASK_IN_PROMPT || f == TASK_MENTAL_DISTRACTOR);
}

/* ---- tags ------------------------------------------------------------------------------- */

int task_tag_valid(const char *s) {
    const char *colon = strchr(s, ':');
    size_t n = strlen(s);

    if (!colon || n < 3 || n > TG_TASK_TAG_MAX || colon == s || !islower((unsigned char)s[0]))
        return 0;
    for (const char *p = s; p < colon; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return 0;
    if (!(islower((unsigned char)colon[1]) || isdigit((unsigned char)colon[1])))
        return 0;
    for (const char *p = colon + 1; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || strchr("_.+-", *p)))
            return 0;
    return 1;
}

int task_has_tag(const struct task *t, const char *tag) {
    for (size_t i = 0; i < t->ntags; i++)
        if (strcmp(t->tags[i], tag) == 0)
            return 1;
    return 0;
}

/* ---- parsing one task ------------------------------------------------------------------- */

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);

    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* Copy of s without leading/trailing whitespace (new), NULL on ENOMEM. */
static char *dup_trimmed(const char *s) {
    size_t n;
    char *d;

    while (*s && isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* obj must be an object carrying only the fields of the table; where names it in messages
 * ("plan[2]", "" for the task itself). Values are checked by the getters below. */
static int check_fields(const json_t *obj, const struct jsonu_field *fields, size_t n,
                        const char *where, struct tg_error *err) {
    return jsonu_check_fields_at(obj, fields, n, 0, "invalid_task", where, err);
}

/* A required string field: non-empty, at most max bytes. */
static int get_str(const json_t *obj, const char *key, size_t max, const char **out,
                   const char *where, struct tg_error *err) {
    const json_t *v = json_object_get(obj, key);

    if (!v) {
        tg_error_set(err, "invalid_task", "%s%s: missing", where, key);
        return TG_EINVAL;
    }
    if (!json_is_string(v)) {
        tg_error_set(err, "invalid_task", "%s%s: must be a string", where, key);
        return TG_EINVAL;
    }
    if (json_string_length(v) == 0 || json_string_length(v) > max) {
        tg_error_set(err, "invalid_task", "%s%s: length must be 1..%zu bytes", where, key, max);
        return TG_EINVAL;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        tg_error_set(err, "invalid_task", "%s%s: contains a NUL character", where, key);
        return TG_EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

/* An optional finite non-negative number field; *out unchanged when absent. */
static int get_nonneg(const json_t *obj, const char *key, double *out, const char *where,
                      struct tg_error *err) {
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0) {
        tg_error_set(err, "invalid_task", "%s%s: must be a finite number >= 0", where, key);
        return TG_EINVAL;
    }
    *out = json_number_value(v);
    return 0;
}

static int parse_answer(const json_t *a, struct task_answer *out, struct tg_error *err) {
    static const struct jsonu_field fields[] = {{"type", JSONU_ANY, 0},
                                                {"value", JSONU_ANY, 0},
                                                {"tolerance", JSONU_ANY, 0},
                                                {"rel_tolerance", JSONU_ANY, 0}};
    const char *type;
    const json_t *v;
    int rc;

    rc = check_fields(a, fields, TG_ARRAY_LEN(fields), "answer", err);
    if (rc)
        return rc;
    rc = get_str(a, "type", TG_TASK_ID_MAX, &type, "answer.", err);
    if (rc)
        return rc;
    if (strcmp(type, "unknown") == 0) {
        if (json_object_size(a) != 1) {
            tg_error_set(err, "invalid_task",
                         "answer.type: \"unknown\" takes no value or tolerance");
            return TG_EINVAL;
        }
        out->type = TASK_ANSWER_UNKNOWN;
        return 0;
    }
    v = json_object_get(a, "value");
    if (!v) {
        tg_error_set(err, "invalid_task", "answer.value: missing");
        return TG_EINVAL;
    }
    if (strcmp(type, "number") == 0 || strcmp(type, "int") == 0) {
        int is_int = type[0] == 'i';

        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            tg_error_set(err, "invalid_task", "answer.value: must be a finite number");
            return TG_EINVAL;
        }
        out->type = is_int ? TASK_ANSWER_INT : TASK_ANSWER_NUMBER;
        out->value = json_number_value(v);
        if (is_int && (out->value != floor(out->value) || fabs(out->value) > 9007199254740992.0)) {
            tg_error_set(err, "invalid_task", "answer.value: must be an integer for type int");
            return TG_EINVAL;
        }
        if (is_int && (json_object_get(a, "tolerance") || json_object_get(a, "rel_tolerance"))) {
            tg_error_set(err, "invalid_task", "answer.tolerance: not allowed for type int");
            return TG_EINVAL;
        }
        out->tolerance = 1e-9;
        out->rel_tolerance = 0;
        rc = get_nonneg(a, "tolerance", &out->tolerance, "answer.", err);
        if (!rc)
            rc = get_nonneg(a, "rel_tolerance", &out->rel_tolerance, "answer.", err);
        return rc;
    }
    if (strcmp(type, "string") == 0) {
        const char *s;

        if (json_object_get(a, "tolerance") || json_object_get(a, "rel_tolerance")) {
            tg_error_set(err, "invalid_task", "answer.tolerance: not allowed for type string");
            return TG_EINVAL;
        }
        rc = get_str(a, "value", TG_TASK_TEXT_MAX, &s, "answer.", err);
        if (rc)
            return rc;
        out->type = TASK_ANSWER_STRING;
        out->text = dup_str(s);
        return out->text ? 0 : TG_ENOMEM;
    }
    tg_error_set(err, "invalid_task",
                 "answer.type: must be \"number\", \"int\", \"string\" or \"unknown\"");
    return TG_EINVAL;
}

/* Lowercase ASCII alnum token? (what search's tokeniser produces) */
static int is_token(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
            return 0;
    return 1;
}

static int parse_match(const json_t *m, struct task_step *st, const char *where,
                       struct tg_error *err) {
    static const struct jsonu_field fields[] = {
        {"query_terms", JSONU_ANY, 0}, {"hit", JSONU_ANY, 0},       {"shows", JSONU_ANY, 0},
        {"value", JSONU_ANY, 0},       {"tolerance", JSONU_ANY, 0}, {"stdout", JSONU_ANY, 0}};
    char name[64];
    const json_t *v;
    const char *s;
    int rc, any = 0;

    snprintf(name, sizeof(name), "%smatch", where);
    rc = check_fields(m, fields, TG_ARRAY_LEN(fields), name, err);
    if (rc)
        return rc;
    v = json_object_get(m, "query_terms");
    if (v) {
        size_t i;
        const json_t *t;

        if (!json_is_array(v) || json_array_size(v) == 0 ||
            json_array_size(v) > TG_TASK_TERMS_MAX) {
            tg_error_set(err, "invalid_task",
                         "%smatch.query_terms: must be an array of 1..%d "
                         "terms",
                         where, TG_TASK_TERMS_MAX);
            return TG_EINVAL;
        }
        st->query_terms = calloc(json_array_size(v), sizeof(char *));
        if (!st->query_terms)
            return TG_ENOMEM;
        json_array_foreach(v, i, t) {
            if (!json_is_string(t) || !is_token(json_string_value(t)) ||
                json_string_length(t) > SEARCH_TERM_MAX - 1) {
                /* a longer term could never be seen: the index keeps a token's first bytes */
                tg_error_set(err, "invalid_task",
                             "%smatch.query_terms[%zu]: must be a lowercase alphanumeric token "
                             "of at most %d bytes",
                             where, i, SEARCH_TERM_MAX - 1);
                return TG_EINVAL;
            }
            st->query_terms[i] = dup_str(json_string_value(t));
            if (!st->query_terms[i])
                return TG_ENOMEM;
            st->nterms = i + 1;
        }
        any = 1;
    }
    if (json_object_get(m, "hit")) {
        rc = get_str(m, "hit", TG_TASK_ID_MAX, &s, "match.", err);
        if (rc)
            return rc;
        st->hit = dup_str(s);
        if (!st->hit)
            return TG_ENOMEM;
        any = 1;
    }
    if (json_object_get(m, "shows")) {
        rc = get_str(m, "shows", TG_TASK_TEXT_MAX, &s, "match.", err);
        if (rc)
            return rc;
        st->shows = dup_str(s);
        if (!st->shows)
            return TG_ENOMEM;
        any = 1;
    }
    v = json_object_get(m, "value");
    if (v) {
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            tg_error_set(err, "invalid_task", "%smatch.value: must be a finite number", where);
            return TG_EINVAL;
        }
        st->has_value = 1;
        st->value = json_number_value(v);
        st->tolerance = 1e-9 * fmax(1.0, fabs(st->value));
        rc = get_nonneg(m, "tolerance", &st->tolerance, "match.", err);
        if (rc)
            return rc;
        any = 1;
    } else if (json_object_get(m, "tolerance")) {
        tg_error_set(err, "invalid_task", "%smatch.tolerance: only with match.value", where);
        return TG_EINVAL;
    }
    v = json_object_get(m, "stdout");
    if (v) {
        if (!json_is_string(v) || json_string_length(v) > TG_TASK_TEXT_MAX) {
            tg_error_set(err, "invalid_task",
                         "%smatch.stdout: must be a string of at most "
                         "%d bytes",
                         where, TG_TASK_TEXT_MAX);
            return TG_EINVAL;
        }
        st->stdout_equals = dup_trimmed(json_string_value(v));
        if (!st->stdout_equals)
            return TG_ENOMEM;
        any = 1;
    }
    if (!any) {
        tg_error_set(err, "invalid_task",
                     "%smatch: needs at least one of query_terms, hit, "
                     "shows, value, stdout",
                     where);
        return TG_EINVAL;
    }
    return 0;
}

static int parse_step(const json_t *j, size_t idx, size_t nplan, struct task_step *st,
                      struct tg_error *err) {
    static const struct jsonu_field fields[] = {{"tool", JSONU_ANY, 0},
                                                {"match", JSONU_ANY, 0},
                                                {"yields", JSONU_ANY, 0},
                                                {"needs", JSONU_ANY, 0}};
    char name[32], where[48];
    const char *s;
    const json_t *needs, *n;
    size_t i;
    int rc;

    snprintf(name, sizeof(name), "plan[%zu]", idx);
    snprintf(where, sizeof(where), "%s.", name);
    rc = check_fields(j, fields, TG_ARRAY_LEN(fields), name, err);
    if (rc)
        return rc;
    rc = get_str(j, "tool", TG_TASK_ID_MAX, &s, where, err);
    if (rc)
        return rc;
    st->tool = dup_str(s);
    if (!st->tool)
        return TG_ENOMEM;
    if (!json_object_get(j, "match")) {
        tg_error_set(err, "invalid_task", "%smatch: missing", where);
        return TG_EINVAL;
    }
    rc = parse_match(json_object_get(j, "match"), st, where, err);
    if (rc)
        return rc;
    if (json_object_get(j, "yields")) {
        rc = get_str(j, "yields", TG_TASK_ID_MAX, &s, where, err);
        if (rc)
            return rc;
        st->yields = dup_str(s);
        if (!st->yields)
            return TG_ENOMEM;
    }
    needs = json_object_get(j, "needs");
    if (!needs)
        return 0;
    if (!json_is_array(needs)) {
        tg_error_set(err, "invalid_task", "%sneeds: must be an array of step indices", where);
        return TG_EINVAL;
    }
    json_array_foreach(needs, i, n) {
        json_int_t k;

        if (!json_is_integer(n)) {
            tg_error_set(err, "invalid_task", "%sneeds[%zu]: must be an integer", where, i);
            return TG_EINVAL;
        }
        k = json_integer_value(n);
        if (k < 0 || (size_t)k >= nplan) {
            tg_error_set(err, "invalid_task", "%sneeds[%zu]: step %lld out of range 0..%zu", where,
                         i, (long long)k, nplan - 1);
            return TG_EINVAL;
        }
        if ((size_t)k == idx) {
            tg_error_set(err, "invalid_task", "%sneeds[%zu]: a step cannot need itself", where, i);
            return TG_EINVAL;
        }
        st->needs |= 1u << k;
    }
    return 0;
}

/* 1 if the needs graph has a cycle (Kahn's algorithm over at most TG_TASK_PLAN_MAX steps). */
static int plan_has_cycle(const struct task_step *plan, size_t n) {
    unsigned done = 0;
    int progress = 1;

    while (progress) {
        progress = 0;
        for (size_t i = 0; i < n; i++) {
            if (!(done & (1u << i)) && (plan[i].needs & ~done) == 0) {
                done |= 1u << i;
                progress = 1;
            }
        }
    }
    return done != (n >= 32 ? ~0u : (1u << n) - 1);
}

static int parse_expert(const json_t *e, struct tg_error *err) {
    const json_t *c;
    size_t i;

    if (!json_is_array(e) || json_array_size(e) > TG_TASK_PLAN_MAX) {
        tg_error_set(err, "invalid_task", "expert: must be an array of at most %d calls",
                     TG_TASK_PLAN_MAX);
        return TG_EINVAL;
    }
    json_array_foreach(e, i, c) {
        static const struct jsonu_field fields[] = {{"name", JSONU_ANY, 0},
                                                    {"arguments", JSONU_ANY, 0}};
        const char *s;
        char name[32], where[40];
        int rc;

        snprintf(name, sizeof(name), "expert[%zu]", i);
        snprintf(where, sizeof(where), "%s.", name);
        rc = check_fields(c, fields, TG_ARRAY_LEN(fields), name, err);
        if (rc)
            return rc;
        rc = get_str(c, "name", TG_TASK_ID_MAX, &s, where, err);
        if (rc)
            return rc;
        if (!json_is_object(json_object_get(c, "arguments"))) {
            tg_error_set(err, "invalid_task", "%sarguments: must be an object", where);
            return TG_EINVAL;
        }
    }
    return 0;
}

/* The optional tags: at most TG_TASK_TAGS_MAX well-formed, distinct tags; a "family:" tag
 * names the task's own family. */
static int parse_tags(const json_t *tags, struct task *t, struct tg_error *err) {
    const json_t *v;
    size_t i;

    if (!json_is_array(tags) || json_array_size(tags) > TG_TASK_TAGS_MAX) {
        tg_error_set(err, "invalid_task", "tags: must be an array of at most %d strings",
                     TG_TASK_TAGS_MAX);
        return TG_EINVAL;
    }
    if (json_array_size(tags) == 0)
        return 0;
    t->tags = calloc(json_array_size(tags), sizeof(char *));
    if (!t->tags)
        return TG_ENOMEM;
    json_array_foreach(tags, i, v) {
        const char *s = json_string_value(v);

        if (!s || strlen(s) != json_string_length(v) || !task_tag_valid(s)) {
            tg_error_set(err, "invalid_task",
                         "tags[%zu]: must be \"kind:value\" (lowercase letters, digits, '_' in "
                         "the kind; also \".+-\" in the value; at most %d bytes)",
                         i, TG_TASK_TAG_MAX);
            return TG_EINVAL;
        }
        if (task_has_tag(t, s)) {
            tg_error_set(err, "invalid_task", "tags[%zu]: duplicate tag \"%s\"", i, s);
            return TG_EINVAL;
        }
        if (strncmp(s, "family:", 7) == 0 && strcmp(s + 7, task_family_name(t->family)) != 0) {
            tg_error_set(err, "invalid_task", "tags[%zu]: \"%s\" contradicts family \"%s\"", i, s,
                         task_family_name(t->family));
            return TG_EINVAL;
        }
        t->tags[t->ntags] = dup_str(s);
        if (!t->tags[t->ntags])
            return TG_ENOMEM;
        t->ntags++;
    }
    return 0;
}

static int parse_task(const json_t *obj, struct task *t, struct tg_error *err) {
    static const struct jsonu_field fields[] = {{"id", JSONU_ANY, 0},     {"split", JSONU_ANY, 0},
                                                {"family", JSONU_ANY, 0}, {"prompt", JSONU_ANY, 0},
                                                {"tags", JSONU_ANY, 0},   {"answer", JSONU_ANY, 0},
                                                {"plan", JSONU_ANY, 0},   {"expert", JSONU_ANY, 0}};
    const char *s;
    const json_t *plan, *st;
    size_t i;
    int rc;

    if (!json_is_object(obj)) {
        tg_error_set(err, "invalid_task", "task: must be a JSON object");
        return TG_EINVAL;
    }
    rc = check_fields(obj, fields, TG_ARRAY_LEN(fields), "", err);
    if (rc)
        return rc;
    rc = get_str(obj, "id", TG_TASK_ID_MAX, &s, "", err);
    if (rc)
        return rc;
    t->id = dup_str(s);
    if (!t->id)
        return TG_ENOMEM;
    rc = get_str(obj, "split", TG_TASK_ID_MAX, &s, "", err);
    if (rc)
        return rc;
    t->split = dup_str(s);
    if (!t->split)
        return TG_ENOMEM;
    rc = get_str(obj, "family", TG_TASK_ID_MAX, &s, "", err);
    if (rc)
        return rc;
    if (task_family_parse(s, &t->family)) {
        tg_error_set(err, "invalid_task", "family: unknown family \"%s\"", s);
        return TG_EINVAL;
    }
    rc = get_str(obj, "prompt", TG_TASK_PROMPT_MAX, &s, "", err);
    if (rc)
        return rc;
    t->prompt = dup_str(s);
    if (!t->prompt)
        return TG_ENOMEM;
    if (json_object_get(obj, "tags")) {
        rc = parse_tags(json_object_get(obj, "tags"), t, err);
        if (rc)
            return rc;
    }
    if (!json_object_get(obj, "answer")) {
        tg_error_set(err, "invalid_task", "answer: missing");
        return TG_EINVAL;
    }
    rc = parse_answer(json_object_get(obj, "answer"), &t->answer, err);
    if (rc)
        return rc;
    if ((t->family == TASK_ABSTAIN) != (t->answer.type == TASK_ANSWER_UNKNOWN)) {
        tg_error_set(err, "invalid_task",
                     t->family == TASK_ABSTAIN
                         ? "answer.type: an abstain task's answer is \"unknown\""
                         : "answer.type: \"unknown\" is the answer of abstain tasks only");
        return TG_EINVAL;
    }

    plan = json_object_get(obj, "plan");
    if (!json_is_array(plan) || json_array_size(plan) > TG_TASK_PLAN_MAX) {
        tg_error_set(err, "invalid_task", "plan: must be an array of at most %d steps",
                     TG_TASK_PLAN_MAX);
        return TG_EINVAL;
    }
    t->nplan = json_array_size(plan);
    if (!task_family_uses_tools(t->family) && t->nplan != 0) {
        tg_error_set(err, "invalid_task", "plan: a%s %s task has no tool steps",
                     t->family == TASK_IN_PROMPT ? "n" : "", task_family_name(t->family));
        return TG_EINVAL;
    }
    if (task_family_uses_tools(t->family) && t->nplan == 0) {
        tg_error_set(err, "invalid_task", "plan: a %s task needs at least one step",
                     task_family_name(t->family));
        return TG_EINVAL;
    }
    if (t->nplan) {
        t->plan = calloc(t->nplan, sizeof(*t->plan));
        if (!t->plan)
            return TG_ENOMEM;
    }
    json_array_foreach(plan, i, st) {
        rc = parse_step(st, i, t->nplan, &t->plan[i], err);
        if (rc)
            return rc;
    }
    if (plan_has_cycle(t->plan, t->nplan)) {
        tg_error_set(err, "invalid_task", "plan: the needs of its steps form a cycle");
        return TG_EINVAL;
    }
    if (json_object_get(obj, "expert")) {
        rc = parse_expert(json_object_get(obj, "expert"), err);
        if (rc)
            return rc;
        t->expert = json_incref(json_object_get(obj, "expert"));
    }
    return 0;
}

int task_from_json(const json_t *obj, struct task *out, struct tg_error *err) {
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_task(obj, out, err);
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory while parsing a task");
    if (rc)
        task_clear(out);
    return rc;
}

void task_clear(struct task *t) {
    if (!t)
        return;
    free(t->id);
    free(t->split);
    free(t->prompt);
    free(t->answer.text);
    for (size_t i = 0; i < t->nplan && t->plan; i++) {
        struct task_step *st = &t->plan[i];

        free(st->tool);
        for (size_t k = 0; k < st->nterms; k++)
            free(st->query_terms[k]);
        free(st->query_terms);
        free(st->hit);
        free(st->shows);
        free(st->stdout_equals);
        free(st->yields);
    }
    free(t->plan);
    json_decref(t->expert);
    for (size_t i = 0; i < t->ntags && t->tags; i++)
        free(t->tags[i]);
    free(t->tags);
    memset(t, 0, sizeof(*t));
}

json_t *task_public_json(const struct task *t) {
    return json_pack("{s:s, s:s, s:s}", "id", t->id, "split", t->split, "prompt", t->prompt);
}

/* ---- task sets -------------------------------------------------------------------------- */

struct task_split {
    char *name;  /* new */
    size_t *idx; /* indices into tasks */
    size_t n, cap;
};

struct task_set {
    struct task *tasks;
    size_t n, cap;
    size_t *hash; /* open addressing: index+1 of a task, 0 empty; hcap a power of two */
    size_t hcap;
    struct task_split *splits;
    size_t nsplits;
};

struct task_set *task_set_new(void) {
    return calloc(1, sizeof(struct task_set));
}

void task_set_free(struct task_set *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        task_clear(&s->tasks[i]);
    free(s->tasks);
    free(s->hash);
    for (size_t i = 0; i < s->nsplits; i++) {
        free(s->splits[i].name);
        free(s->splits[i].idx);
    }
    free(s->splits);
    free(s);
}

size_t task_set_count(const struct task_set *s) {
    return s->n;
}

const struct task *task_set_at(const struct task_set *s, size_t i) {
    return i < s->n ? &s->tasks[i] : NULL;
}

const struct task *task_set_find(const struct task_set *s, const char *id) {
    if (!s->hcap || !id)
        return NULL;
    for (size_t h = (size_t)hash_tg_str(id) & (s->hcap - 1);; h = (h + 1) & (s->hcap - 1)) {
        size_t v = s->hash[h];

        if (v == 0)
            return NULL;
        if (strcmp(s->tasks[v - 1].id, id) == 0)
            return &s->tasks[v - 1];
    }
}

static const struct task_split *find_split(const struct task_set *s, const char *name) {
    for (size_t i = 0; i < s->nsplits; i++)
        if (strcmp(s->splits[i].name, name) == 0)
            return &s->splits[i];
    return NULL;
}

size_t task_set_split_count(const struct task_set *s, const char *split) {
    const struct task_split *sp = find_split(s, split);

    return sp ? sp->n : 0;
}

const struct task *task_set_split_at(const struct task_set *s, const char *split, size_t i) {
    const struct task_split *sp = find_split(s, split);

    if (!sp || i >= sp->n)
        return NULL;
    return &s->tasks[sp->idx[i]];
}

/* Put tasks[i] into the id hash (which has a free slot: hcap > 2n). */
static void hash_put(struct task_set *s, size_t i) {
    size_t h = (size_t)hash_tg_str(s->tasks[i].id) & (s->hcap - 1);

    while (s->hash[h])
        h = (h + 1) & (s->hcap - 1);
    s->hash[h] = i + 1;
}

/* Empty the id hash and put tasks[0..n) back in it (no allocation). */
static void refill_hash(struct task_set *s) {
    memset(s->hash, 0, s->hcap * sizeof(*s->hash));
    for (size_t i = 0; i < s->n; i++)
        hash_put(s, i);
}

/* Rebuild the id hash over tasks[0..n) with room for want tasks; the old hash is kept
 * until the new one is allocated, so a failure leaves the set as it was. */
static int rehash(struct task_set *s, size_t want) {
    size_t hcap = 16;
    size_t *hash;

    while (hcap < 2 * want + 1)
        hcap *= 2;
    hash = calloc(hcap, sizeof(*hash));
    if (!hash)
        return TG_ENOMEM;
    free(s->hash);
    s->hash = hash;
    s->hcap = hcap;
    refill_hash(s);
    return 0;
}

/* Rebuild the id hash and the split indices from tasks[0..n). */
static int reindex(struct task_set *s) {
    int rc = rehash(s, s->n);

    if (rc)
        return rc;
    for (size_t i = 0; i < s->nsplits; i++)
        s->splits[i].n = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct task_split *sp = (struct task_split *)find_split(s, s->tasks[i].split);

        if (!sp) {
            struct task_split *ns = realloc(s->splits, (s->nsplits + 1) * sizeof(*ns));

            if (!ns)
                return TG_ENOMEM;
            s->splits = ns;
            sp = &ns[s->nsplits];
            memset(sp, 0, sizeof(*sp));
            sp->name = dup_str(s->tasks[i].split);
            if (!sp->name)
                return TG_ENOMEM;
            s->nsplits++;
        }
        if (sp->n == sp->cap) {
            size_t nc = sp->cap ? 2 * sp->cap : 64;
            size_t *ni = realloc(sp->idx, nc * sizeof(*ni));

            if (!ni)
                return TG_ENOMEM;
            sp->idx = ni;
            sp->cap = nc;
        }
        sp->idx[sp->n++] = i;
    }
    return 0;
}

static int grow_tasks(struct task_set *s) {
    size_t nc;
    struct task *nt;

    if (s->n < s->cap)
        return 0;
    nc = s->cap ? 2 * s->cap : 256;
    nt = realloc(s->tasks, nc * sizeof(*nt));
    if (!nt)
        return TG_ENOMEM;
    s->tasks = nt;
    s->cap = nc;
    return 0;
}

/* Append obj, keeping the id hash current (so a load of n tasks costs O(n), not O(n^2)).
 * The split indices are rebuilt by reindex() once the caller is done appending. */
static int append_task(struct task_set *s, const json_t *obj, struct tg_error *err) {
    struct task t;
    int rc;

    if (s->n >= TG_TASKS_MAX) {
        tg_error_set(err, "invalid_task", "more than %d tasks", TG_TASKS_MAX);
        return TG_ERANGE;
    }
    rc = task_from_json(obj, &t, err);
    if (rc)
        return rc;
    if (task_set_find(s, t.id)) {
        tg_error_set(err, "invalid_task", "id: duplicate task id \"%s\"", t.id);
        task_clear(&t);
        return TG_EINVAL;
    }
    rc = grow_tasks(s);
    if (!rc && 2 * (s->n + 1) + 1 > s->hcap)
        rc = rehash(s, 2 * (s->n + 1));
    if (rc) {
        task_clear(&t);
        return rc;
    }
    s->tasks[s->n++] = t;
    hash_put(s, s->n - 1);
    return 0;
}

int task_set_add(struct task_set *s, const json_t *obj, struct tg_error *err) {
    int rc = append_task(s, obj, err);

    if (!rc)
        rc = reindex(s);
    return rc;
}

static int blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* Parse one line's JSON (depth bounded by jansson's own limit and the line limit). */
static json_t *parse_line(const char *line, size_t len, struct tg_error *err) {
    json_error_t je;
    json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);

    if (!j)
        tg_error_set(err, "invalid_task", "invalid JSON at column %d: %s", je.column, je.text);
    return j;
}

int task_set_load(struct task_set *s, const char *path, struct tg_error *err) {
    FILE *f = fopen(path, "r");
    size_t start = s->n, lineno = 0;
    struct dbuf line;
    struct tg_error e;
    int rc = 0;

    if (!f) {
        tg_error_set(err, TG_CODE_IO, "%s: cannot open: %s", path, strerror(errno));
        return TG_EIO;
    }
    tg_error_clear(&e);
    dbuf_init(&line, TG_TASK_LINE_MAX);
    for (;;) {
        json_t *j;

        rc = dbuf_getline(&line, f);
        lineno++;
        if (rc == 0)
            break;
        if (rc == TG_ERANGE) {
            tg_error_set(&e, "invalid_task", "line longer than %d bytes", TG_TASK_LINE_MAX);
            goto fail;
        }
        if (rc < 0) {
            tg_error_set(&e, TG_CODE_IO, "read failed");
            goto fail;
        }
        if (blank(line.p))
            continue;
        j = parse_line(line.p, line.len, &e);
        if (!j) {
            rc = TG_EINVAL;
            goto fail;
        }
        rc = append_task(s, j, &e);
        json_decref(j);
        if (rc)
            goto fail;
    }
    rc = reindex(s);
    if (rc) {
        tg_error_set(&e, TG_CODE_NOMEM, "out of memory");
        lineno = 0;
        goto fail;
    }
    dbuf_free(&line);
    fclose(f);
    return 0;

fail:
    while (s->n > start)
        task_clear(&s->tasks[--s->n]);
    /* Drop the removed tasks from the hash in place (no allocation can fail here); the
     * split indices still name only tasks[0..start), which are unchanged. */
    if (s->hcap)
        refill_hash(s);
    tg_error_set(err, e.code[0] ? e.code : "invalid_task", "%s:%zu: %s", path, lineno, e.message);
    dbuf_free(&line);
    fclose(f);
    return rc;
}

int task_check_file(const char *path, FILE *report, size_t *ntasks, size_t *nerrors,
                    struct tg_error *err) {
    struct task_set *seen = NULL;
    FILE *f = NULL;
    struct dbuf line;
    size_t lineno = 0, nt = 0, ne = 0;
    int rc = 0;

    f = fopen(path, "r");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "%s: cannot open: %s", path, strerror(errno));
        return TG_EIO;
    }
    dbuf_init(&line, TG_TASK_LINE_MAX);
    seen = task_set_new();
    if (!seen) {
        rc = TG_ENOMEM;
        goto done;
    }
    for (;;) {
        struct tg_error e;
        json_t *j;
        int lrc = dbuf_getline(&line, f);

        lineno++;
        if (lrc == 0)
            break;
        if (lrc == TG_EIO || lrc == TG_ENOMEM) {
            rc = lrc;
            tg_error_set(err, TG_CODE_IO, "%s:%zu: read failed", path, lineno);
            goto done;
        }
        tg_error_clear(&e);
        if (lrc == TG_ERANGE) {
            tg_error_set(&e, "invalid_task", "line longer than %d bytes", TG_TASK_LINE_MAX);
        } else if (blank(line.p)) {
            continue;
        } else {
            nt++;
            j = parse_line(line.p, line.len, &e);
            if (j) {
                lrc = append_task(seen, j, &e);
                json_decref(j);
                if (lrc == TG_ENOMEM) {
                    rc = lrc;
                    tg_error_set(err, TG_CODE_NOMEM, "out of memory");
                    goto done;
                }
                if (lrc == 0)
                    continue;
            }
        }
        ne++;
        if (report)
            fprintf(report, "%s:%zu: %s\n", path, lineno, e.message);
    }
done:
    if (ntasks)
        *ntasks = nt;
    if (nerrors)
        *nerrors = ne;
    task_set_free(seen);
    dbuf_free(&line);
    fclose(f);
    return rc;
}
