/*
 * rescore.c — judge stored trajectories again through the server's episode code (see
 * rescore.h). It does not run tools: each call's response comes from the line itself.
 */
#include "server/rescore.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/dbuf.h"
#include "base/limits.h"
#include "base/schema.h"
#include "server/episode.h"
#include "tools/tools.h"

/* ---- the tools' schemas, parsed once (the registry's are parsed only by tools_init, which
 * also loads the corpus and probes the sandbox: rescoring needs neither) ---- */

#define RESCORE_TOOLS_MAX 16

static pthread_once_t schemas_once = PTHREAD_ONCE_INIT;
static json_t *schemas[RESCORE_TOOLS_MAX];

static void schemas_load(void) {
    for (size_t i = 0; i < tools_count() && i < RESCORE_TOOLS_MAX; i++)
        schemas[i] = json_loads(tools_at(i)->schema_json, 0, NULL);
}

/* 1 if args (borrowed) satisfy tool t's schema. */
static int args_fit(const struct tool *t, const json_t *args) {
    struct tg_error err;

    pthread_once(&schemas_once, schemas_load);
    for (size_t i = 0; i < tools_count() && i < RESCORE_TOOLS_MAX; i++)
        if (tools_at(i) == t)
            return schemas[i] && schema_validate(schemas[i], args, &err) == 0;
    return 0;
}

/* ---- reading a line -------------------------------------------------------------------- */

/* One step of a line, as found in its messages. Pointers borrowed from the line. */
struct found_step {
    int is_answer;
    const char *name;     /* tool calls */
    const json_t *args_v; /* the arguments: a JSON string of text, or an object some logs keep */
    const json_t *tool;   /* the tool message answering it */
    const char *answer;   /* answers */
};

/* The text of a message's content: a string, or the text parts of an array of parts. New
 * string ("" for none) or NULL on ENOMEM. */
static char *content_text(const json_t *content) {
    size_t i, len = 0;
    const json_t *part;
    char *s;

    if (json_is_string(content))
        return strdup(json_string_value(content));
    json_array_foreach(content, i, part) {
        len += json_string_length(json_object_get(part, "text"));
    }
    s = malloc(len + 1);
    if (!s)
        return NULL;
    len = 0;
    json_array_foreach(content, i, part) {
        const json_t *t = json_object_get(part, "text");

        memcpy(s + len, json_string_value(t) ? json_string_value(t) : "", json_string_length(t));
        len += json_string_length(t);
    }
    s[len] = '\0';
    return s;
}

/* The tool message answering call id (or, without an id, the next unused one) after message
 * `from`. used[] marks taken messages. */
static const json_t *answering(const json_t *msgs, size_t from, const char *id, char *used) {
    for (size_t j = from; j < json_array_size(msgs); j++) {
        const json_t *m = json_array_get(msgs, j);
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *tid = json_string_value(json_object_get(m, "tool_call_id"));

        if (used[j] || !role || strcmp(role, "tool") != 0)
            continue;
        if (!id || !tid || strcmp(tid, id) == 0) {
            used[j] = 1;
            return m;
        }
    }
    return NULL;
}

/* The steps of a line's messages into st[0..*n). 0, or TG_EINVAL with *err. */
static int find_steps(const json_t *msgs, struct found_step *st, size_t *n, char **answer,
                      struct tg_error *err) {
    char *used = calloc(json_array_size(msgs) + 1, 1);
    size_t i;
    const json_t *m;
    int rc = 0;

    *n = 0;
    *answer = NULL;
    if (!used)
        return TG_ENOMEM;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        const json_t *calls = json_object_get(m, "tool_calls");

        if (!role) {
            tg_error_set(err, "invalid", "messages[%zu] has no role.", i);
            rc = TG_EINVAL;
            break;
        }
        if (strcmp(role, "assistant") != 0)
            continue;
        if (json_array_size(calls) == 0) {
            *answer = content_text(json_object_get(m, "content"));
            if (!*answer)
                rc = TG_ENOMEM;
            else if (*n >= TG_MAX_STEPS_LIMIT) {
                tg_error_set(err, "invalid", "More than %d steps.", TG_MAX_STEPS_LIMIT);
                rc = TG_EINVAL;
            } else
                st[(*n)++] = (struct found_step){.is_answer = 1, .answer = *answer};
            break; /* the answer ends the episode: what follows is not played */
        }
        for (size_t k = 0; k < json_array_size(calls) && rc == 0; k++) {
            const json_t *c = json_array_get(calls, k), *fn = json_object_get(c, "function");
            const char *id = json_string_value(json_object_get(c, "id"));

            if (*n >= TG_MAX_STEPS_LIMIT) {
                tg_error_set(err, "invalid", "More than %d steps.", TG_MAX_STEPS_LIMIT);
                rc = TG_EINVAL;
                break;
            }
            st[*n].is_answer = 0;
            st[*n].name = json_string_value(json_object_get(fn, "name"));
            st[*n].args_v = json_object_get(fn, "arguments");
            st[*n].tool = answering(msgs, i + 1, id, used);
            if (!st[*n].tool) {
                /* an episode cut at max_steps keeps no reply for the calls it did not play */
                if (k > 0 || *n > 0)
                    goto done;
                tg_error_set(err, "invalid", "messages[%zu]: tool call %s has no tool message.", i,
                             id ? id : "(without an id)");
                rc = TG_EINVAL;
                break;
            }
            (*n)++;
        }
        if (rc)
            break;
    }
done:
    free(used);
    return rc;
}

/* ---- one call: its outcome, result and observation ------------------------------------- */

/* The arguments of a call as the server saw them: JSON text parsed, else the text itself. */
static json_t *call_args(const json_t *v) {
    json_t *a;

    if (!json_is_string(v))
        return v ? json_incref((json_t *)v) : json_null();
    a = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
    return a ? a : json_string(json_string_value(v));
}

/* Fill the outcome, result (new or NULL) and observation (new) of call s, k-th step of the
 * line whose "steps" (may be NULL) may say how it went. */
static int call_response(const struct found_step *s, const json_t *args, const json_t *logged,
                         enum judge_outcome *oc, json_t **result, json_t **obs,
                         struct tg_error *err) {
    const char *text = json_string_value(json_object_get(s->tool, "content"));
    const char *call = json_string_value(json_object_get(logged, "call"));
    const json_t *lobs = json_object_get(logged, "observation");
    const struct tool *t = tools_find(s->name);
    const char *k;
    json_t *v;

    *result = NULL;
    *obs = NULL;
    if (!text)
        text = "";
    if (call) {
        if (episode_call_outcome_parse(call, oc) != 0) {
            tg_error_set(err, "invalid", "Unknown call outcome \"%.40s\".", call);
            return TG_EINVAL;
        }
    } else if (!t) {
        *oc = JUDGE_UNKNOWN_TOOL;
    } else if (!json_is_object(args) || !args_fit(t, args)) {
        *oc = JUDGE_BAD_ARGS;
    } else if (json_is_boolean(json_object_get(lobs, "ok"))) {
        *oc = json_is_true(json_object_get(lobs, "ok")) ? JUDGE_TOOL_OK : JUDGE_TOOL_FAILED;
    } else {
        *oc = strncmp(text, "error:", 6) == 0 ? JUDGE_TOOL_FAILED : JUDGE_TOOL_OK;
    }
    if (json_is_object(lobs)) {
        /* the logged response: everything but its text, which the tool message holds */
        *obs = json_pack("{s:s}", "content", text);
        json_object_foreach((json_t *)lobs, k, v) {
            if (*obs && strcmp(k, "content") != 0)
                json_object_set(*obs, k, v);
        }
        if (*obs && *oc == JUDGE_TOOL_OK && json_object_get(*obs, "result"))
            *result = json_incref(json_object_get(*obs, "result"));
    } else {
        /* a log of text only: the response read back from the text */
        if (*oc == JUDGE_TOOL_OK && t)
            tools_result_from_content(t, text, result);
        *obs = json_pack("{s:b, s:s}", "ok", *oc == JUDGE_TOOL_OK, "content", text);
        if (*obs && *result)
            json_object_set(*obs, "result", *result);
    }
    if (!*obs) {
        json_decref(*result);
        *result = NULL;
        return TG_ENOMEM;
    }
    return 0;
}

/* ---- a line ------------------------------------------------------------------------------ */

static const char *line_task_id(const json_t *line) {
    const char *id = json_string_value(json_object_get(line, "task_id"));

    return id ? id
              : json_string_value(json_object_get(json_object_get(line, "metadata"), "task_id"));
}

int rescore_line(const struct rescore_config *c, const json_t *line, json_t **out,
                 struct episode_summary *sum, struct tg_error *err) {
    struct found_step *st = NULL;
    const json_t *msgs = json_object_get(line, "messages");
    const json_t *logged = json_object_get(line, "steps");
    const char *tid = line_task_id(line);
    const char *tag = json_string_value(json_object_get(line, "tag"));
    const char *mode_s = json_string_value(json_object_get(line, "reward_mode"));
    json_int_t max_steps = json_integer_value(json_object_get(line, "max_steps"));
    const struct task *task;
    enum reward_mode mode = c->rc->mode;
    struct episode *ep = NULL;
    json_t *traj = NULL, *res = NULL;
    char *answer = NULL;
    size_t n = 0, ncalls;
    int rc, finished = 0;

    *out = NULL;
    if (!json_is_object(line) || !json_is_array(msgs)) {
        tg_error_set(err, "invalid", "Not a trajectory: no \"messages\" array.");
        return TG_EINVAL;
    }
    if (!tid) {
        tg_error_set(err, "invalid", "No \"task_id\" (nor \"metadata\":{\"task_id\"}).");
        return TG_EINVAL;
    }
    task = task_set_find(c->tasks, tid);
    if (!task) {
        tg_error_set(err, "invalid", "Task \"%.64s\" is in none of the task files.", tid);
        return TG_EINVAL;
    }
    if (c->mode >= 0)
        mode = (enum reward_mode)c->mode;
    else if (mode_s && reward_mode_parse(mode_s, &mode) != 0) {
        tg_error_set(err, "invalid", "Unknown reward_mode \"%.40s\".", mode_s);
        return TG_EINVAL;
    }
    if (tag && strlen(tag) > TG_TAG_MAX)
        tag = NULL;
    st = calloc(TG_MAX_STEPS_LIMIT, sizeof(*st));
    if (!st)
        return TG_ENOMEM;
    rc = find_steps(msgs, st, &n, &answer, err);
    if (rc)
        goto out;
    ncalls = n > 0 && st[n - 1].is_answer ? n - 1 : n;
    if (n == 0) {
        tg_error_set(err, "invalid", "The conversation has neither a tool call nor an answer.");
        rc = TG_EINVAL;
        goto out;
    }
    if (max_steps < 1 || max_steps > TG_MAX_STEPS_LIMIT) /* a log that does not say */
        max_steps =
            answer ? (json_int_t)(ncalls + 1 > TG_MAX_STEPS_LIMIT ? TG_MAX_STEPS_LIMIT : ncalls + 1)
                   : (json_int_t)ncalls;
    rc = episode_new(task, c->rc, mode, (int)max_steps, tag, &ep);
    if (rc) {
        tg_error_set(err, "invalid", "Cannot start an episode for the line.");
        goto out;
    }
    for (size_t k = 0; k < n && rc == 0; k++) {
        json_t *args, *obs, *reply = NULL;
        enum judge_outcome oc;

        if (episode_step_begin(ep) != 0) {
            tg_error_set(err, "invalid", "Step %zu comes after the episode ended (max_steps %lld).",
                         k + 1, (long long)max_steps);
            rc = TG_EINVAL;
            break;
        }
        if (st[k].is_answer) {
            rc = episode_step_answer(ep, st[k].answer, &reply, &finished);
            json_decref(reply);
            break;
        }
        args = call_args(st[k].args_v);
        rc = args ? call_response(&st[k], args, json_array_get(logged, k), &oc, &res, &obs, err)
                  : TG_ENOMEM;
        if (rc == 0)
            rc = episode_step_call(ep, st[k].name, args, oc, res, obs, &reply, &finished);
        else
            episode_step_abort(ep);
        json_decref(reply);
        json_decref(args);
        json_decref(res);
        res = NULL;
    }
    if (rc)
        goto out;
    if (!episode_done(ep)) {
        tg_error_set(err, "invalid",
                     "The conversation ends after %zu steps without an answer, before max_steps "
                     "(%lld): the episode is unfinished.",
                     n, (long long)max_steps);
        rc = TG_EINVAL;
        goto out;
    }
    traj = episode_trajectory_json(ep);
    *out = json_deep_copy(line);
    if (!traj || !*out) {
        rc = TG_ENOMEM;
        goto out;
    }
    {
        static const char *const replaced[] = {"steps",   "return",      "correct",
                                               "outcome", "reward_mode", "max_steps"};

        for (size_t i = 0; i < TG_ARRAY_LEN(replaced); i++)
            if (json_object_set(*out, replaced[i], json_object_get(traj, replaced[i])))
                rc = TG_ENOMEM;
        if (!json_object_get(*out, "tag") &&
            json_object_set_new(*out, "tag", json_string(tag ? tag : "")))
            rc = TG_ENOMEM;
    }
    if (rc == 0 && sum) {
        episode_summarize(ep, sum);
        /* a fork's line (toolgym's log names its source) counts as a fork, as the server's
         * report counted it: its steps hold the prefix, so its calls are all its own */
        if (json_is_object(json_object_get(line, "fork")))
            sum->attempt = REPORT_FORK;
        sum->tag = json_string_value(json_object_get(*out, "tag")); /* outlives ep */
        if (!sum->tag || strlen(sum->tag) > TG_TAG_MAX)
            sum->tag = "";
    }
out:
    if (rc && rc != TG_EINVAL && rc != TG_ENOMEM)
        rc = TG_ENOMEM;
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(traj);
    episode_put(ep);
    free(answer);
    free(st);
    return rc;
}

/* ---- a file ------------------------------------------------------------------------------ */

/* 1 if two logged numbers print the same at the log's precision (15 significant digits). */
static int same_number(const json_t *a, const json_t *b) {
    char x[64], y[64];

    if (!json_is_number(a) || !json_is_number(b))
        return json_is_number(a) == json_is_number(b);
    snprintf(x, sizeof(x), "%.15g", json_number_value(a));
    snprintf(y, sizeof(y), "%.15g", json_number_value(b));
    return strcmp(x, y) == 0;
}

static void count_changes(struct rescore_stats *st, const json_t *in, const json_t *out) {
    const json_t *a = json_object_get(in, "steps"), *b = json_object_get(out, "steps");

    st->steps += json_array_size(b);
    for (size_t i = 0; i < json_array_size(b); i++) {
        const json_t *sa = json_array_get(a, i), *sb = json_array_get(b, i);

        /* only what the line logged can have changed */
        if (json_object_get(sa, "label") &&
            !json_equal(json_object_get(sa, "label"), json_object_get(sb, "label")))
            st->labels_changed++;
        if (json_object_get(sa, "reward") &&
            !same_number(json_object_get(sa, "reward"), json_object_get(sb, "reward")))
            st->rewards_changed++;
    }
    if (json_object_get(in, "return") &&
        !same_number(json_object_get(in, "return"), json_object_get(out, "return")))
        st->returns_changed++;
}

int rescore_file(const struct rescore_config *c, const char *path, FILE *out, struct report *rep,
                 struct rescore_stats *st, rescore_bad_fn bad, void *ud, struct tg_error *err) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    struct dbuf line;
    size_t no = 0; /* the line number, blank lines included */
    int rc = 0, got;

    memset(st, 0, sizeof(*st));
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "Cannot open %s: %s.", path, strerror(errno));
        return TG_EIO;
    }
    dbuf_init(&line, TG_TRAJ_LINE_MAX);
    while (rc == 0 && (got = dbuf_getline(&line, f)) != 0) {
        struct episode_summary sum;
        struct tg_error lerr;
        json_error_t je;
        json_t *in, *res = NULL;
        char *text;
        int lrc;

        no++;
        st->lines++;
        if (got == TG_ERANGE) {
            st->skipped++;
            if (bad)
                bad(ud, no, "longer than the trajectory line limit");
            continue;
        }
        if (got < 0) {
            tg_error_set(err, TG_CODE_IO, "Cannot read %s.", path);
            rc = got == TG_ENOMEM ? TG_ENOMEM : TG_EIO;
            break;
        }
        if (got == 2) {
            st->skipped++;
            if (bad)
                bad(ud, no, "torn last line (no newline): an interrupted write");
            break;
        }
        if (line.len == 0) {
            st->lines--; /* a blank line (an isolated torn fragment's newline): not counted */
            continue;
        }
        in = json_loadb(line.p, line.len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(in)) {
            char why[TG_ERR_MSG_MAX];

            snprintf(why, sizeof(why), "not a JSON object%s%s", in ? "" : ": ", in ? "" : je.text);
            st->skipped++;
            if (bad)
                bad(ud, no, why);
            json_decref(in);
            continue;
        }
        lrc = rescore_line(c, in, &res, rep ? &sum : NULL, &lerr);
        if (lrc == TG_EINVAL) {
            st->skipped++;
            if (bad)
                bad(ud, no, lerr.message);
            json_decref(in);
            continue;
        }
        if (lrc) {
            json_decref(in);
            tg_error_set(err, TG_CODE_NOMEM, "out of memory at line %zu", no);
            rc = TG_ENOMEM;
            break;
        }
        count_changes(st, in, res);
        text = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (!text) {
            rc = TG_ENOMEM;
            tg_error_set(err, TG_CODE_NOMEM, "out of memory at line %zu", no);
        } else if (fputs(text, out) == EOF || fputc('\n', out) == EOF) {
            rc = TG_EIO;
            tg_error_set(err, TG_CODE_IO, "Cannot write the rescored line %zu.", no);
        } else {
            st->rescored++;
            if (rep && report_add_whole(rep, &sum) != 0) {
                rc = TG_ENOMEM;
                tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            }
        }
        free(text);
        json_decref(res);
        json_decref(in);
    }
    dbuf_free(&line);
    if (f != stdin)
        fclose(f);
    return rc;
}
