/*
 * view.c — an agent's view of an episode. See view.h.
 */
#include "policy/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"

static const char *const tool_names[VT_TOOLS] = {"search", "calculator", "run_code"};

const char *view_tool_name(int tool) {
    return tool >= 0 && tool < VT_TOOLS ? tool_names[tool] : "?";
}

int view_tool_parse(const char *name) {
    for (int i = 0; name && i < VT_TOOLS; i++)
        if (strcmp(name, tool_names[i]) == 0)
            return i;
    return -1;
}

int view_init(struct view *v, const char *prompt, int max_steps, struct tg_error *err) {
    size_t len = strlen(prompt);

    memset(v, 0, sizeof(*v));
    if (len >= sizeof(v->prompt)) {
        tg_error_set(err, "prompt_too_long", "the task prompt is longer than %d bytes",
                     TG_TASK_PROMPT_MAX - 1);
        return TG_ERANGE;
    }
    memcpy(v->prompt, prompt, len + 1);
    v->max_steps = max_steps;
    return 0;
}

/* copy a string, cut to fit at a UTF-8 boundary */
static void copy_cut(char *dst, size_t n, const char *src) {
    size_t len = strlen(src);

    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* the main argument of a call as text: query, expression or code ("" when missing) */
static const char *main_argument(int tool, const json_t *args) {
    static const char *const keys[VT_TOOLS] = {"query", "expression", "code"};
    const char *s = tool >= 0 ? json_string_value(json_object_get(args, keys[tool])) : NULL;

    return s ? s : "";
}

static int bad_field(struct tg_error *err, const char *field, const char *why) {
    tg_error_set(err, "bad_observation", "observation%s %s", field, why);
    return TG_EINVAL;
}

/* the hits of a search result into st */
static int read_hits(struct view_step *st, const json_t *res, struct tg_error *err) {
    const json_t *hits = json_object_get(res, "hits"), *h;
    char field[64];
    size_t i;

    if (!json_is_array(hits))
        return bad_field(err, ".result.hits", "is not an array");
    json_array_foreach(hits, i, h) {
        const json_t *t = json_object_get(h, "title"), *sn = json_object_get(h, "snippet");

        if (i >= TG_VIEW_HITS)
            break;
        if (!json_is_string(t)) {
            snprintf(field, sizeof(field), ".result.hits[%zu].title", i);
            return bad_field(err, field, "is not a string");
        }
        if (!json_is_string(sn)) {
            snprintf(field, sizeof(field), ".result.hits[%zu].snippet", i);
            return bad_field(err, field, "is not a string");
        }
        copy_cut(st->hits[i].title, sizeof(st->hits[i].title), json_string_value(t));
        copy_cut(st->hits[i].snippet, sizeof(st->hits[i].snippet), json_string_value(sn));
        st->nhits++;
    }
    return 0;
}

/* a program's stdout: its first line, and the number it starts with */
static int read_stdout(struct view_step *st, const json_t *res, struct tg_error *err) {
    const json_t *o = json_object_get(res, "stdout");
    const char *s, *end;
    size_t len = 0;
    double v;

    if (!json_is_string(o))
        return bad_field(err, ".result.stdout", "is not a string");
    s = json_string_value(o);
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    while (s[len] && s[len] != '\n' && len + 1 < sizeof(st->out))
        len++;
    memcpy(st->out, s, len);
    st->out[len] = '\0';
    while (len > 0 && (st->out[len - 1] == ' ' || st->out[len - 1] == '\r'))
        st->out[--len] = '\0';
    if (num_double_prefix(st->out, &end, &v) == 0) {
        st->value = v;
        st->has_value = 1;
    }
    return 0;
}

int view_push(struct view *v, const json_t *call, const json_t *obs, struct tg_error *err) {
    const char *name = json_string_value(json_object_get(call, "name"));
    const json_t *args = json_object_get(call, "arguments"), *ok, *res;
    struct view_step *st;

    if (v->nstep >= TG_VIEW_STEPS_MAX) {
        tg_error_set(err, "too_many_steps", "an episode ran past %d steps", TG_VIEW_STEPS_MAX);
        return TG_ERANGE;
    }
    if (!json_is_object(obs))
        return bad_field(err, "", "is not an object");
    ok = json_object_get(obs, "ok");
    if (!json_is_boolean(ok))
        return bad_field(err, ".ok", "is not true or false");
    st = &v->steps[v->nstep];
    memset(st, 0, sizeof(*st));
    st->tool = view_tool_parse(name);
    copy_cut(st->text, sizeof(st->text), main_argument(st->tool, args));
    st->ok = json_is_true(ok);
    if (!st->ok) {
        const char *code =
            json_string_value(json_object_get(json_object_get(obs, "error"), "code"));

        copy_cut(st->error, sizeof(st->error), code ? code : "error");
        v->nstep++;
        return 0;
    }
    res = json_object_get(obs, "result");
    if (!json_is_object(res))
        return bad_field(err, ".result", "is not an object");
    if (st->tool == VT_SEARCH) {
        int rc = read_hits(st, res, err);

        if (rc)
            return rc;
    } else if (st->tool == VT_CALC) {
        const json_t *val = json_object_get(res, "value");

        if (!json_is_number(val))
            return bad_field(err, ".result.value", "is not a number");
        st->value = json_number_value(val);
        st->has_value = 1;
    } else if (st->tool == VT_CODE) {
        int rc = read_stdout(st, res, err);

        if (rc)
            return rc;
    }
    v->nstep++;
    return 0;
}
