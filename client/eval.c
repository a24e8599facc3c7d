/*
 * eval.c — `toolgym eval`: the episode-playing loop over HTTP (one libcurl easy handle,
 * keep-alive), the reference agents (oracle, random, overcaller, eager) and the report table.
 * See eval.h. It does not judge or score; the server does.
 */
#include "client/eval.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/datadir.h"
#include "base/dbuf.h"
#include "base/limits.h"
#include "base/rng.h"
#include "client/task_ids.h"
#include "server/report.h"

/* ---- HTTP client ---------------------------------------------------------------------- */

#define EVAL_RESP_MAX (16UL << 20) /* bytes of one response we accept */

struct client {
    CURL *curl;
    struct curl_slist *hdrs;
    const char *base;
    struct dbuf resp; /* the body of the last response */
};

static int client_init(struct client *c, const char *base, const char *api_key) {
    char auth[TG_API_KEY_MAX + 32];

    memset(c, 0, sizeof(*c));
    c->base = base;
    dbuf_init(&c->resp, EVAL_RESP_MAX);
    c->curl = curl_easy_init();
    if (!c->curl)
        return TG_ENOMEM;
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    if (api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        c->hdrs = curl_slist_append(c->hdrs, auth);
    }
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, dbuf_write_cb);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->resp);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdrs);
    return 0;
}

static void client_free(struct client *c) {
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->hdrs);
    dbuf_free(&c->resp);
}

/*
 * One request: method, path (appended to the base URL), body (borrowed, may be NULL).
 * Returns 0 with *status and *out (new parsed JSON, or NULL for an empty body), or TG_EIO.
 */
static int client_call(struct client *c, const char *method, const char *path, const json_t *body,
                       long *status, json_t **out, struct tg_error *err) {
    char url[TG_MAX_URL_LEN];
    char *text = NULL;
    CURLcode cc;

    *out = NULL;
    snprintf(url, sizeof(url), "%s%s", c->base, path);
    dbuf_reset(&c->resp);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            return TG_ENOMEM;
        }
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
    } else {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    }
    cc = curl_easy_perform(c->curl);
    free(text);
    if (cc != CURLE_OK) {
        tg_error_set(err, TG_CODE_IO, "%s %s: %s.", method, url, curl_easy_strerror(cc));
        return TG_EIO;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
    if (c->resp.len > 0) {
        *out = json_loadb(c->resp.p, c->resp.len, 0, NULL);
        if (!*out) {
            tg_error_set(err, TG_CODE_IO, "%s %s: the response is not JSON.", method, url);
            return TG_EIO;
        }
    }
    return 0;
}

/* A call that must answer `want`; anything else is an error naming the server's message. */
static int client_expect(struct client *c, const char *method, const char *path, const json_t *body,
                         long want, json_t **out, struct tg_error *err) {
    long status = 0;
    int rc = client_call(c, method, path, body, &status, out, err);

    if (rc)
        return rc;
    if (status != want) {
        const char *msg =
            json_string_value(json_object_get(json_object_get(*out, "error"), "message"));

        tg_error_set(err, TG_CODE_IO, "%s %s: HTTP %ld: %s", method, path, status,
                     msg ? msg : "(no message)");
        json_decref(*out);
        *out = NULL;
        return TG_EIO;
    }
    return 0;
}

/* ---- agents --------------------------------------------------------------------------- */

static const char *turn_prompt(const struct eval_turn *t) {
    const char *p =
        json_string_value(json_object_get(json_object_get(t->episode, "task"), "prompt"));

    return p ? p : "";
}

/* Numbers written in text (up to max), in order. */
static size_t numbers_in(const char *s, double *out, size_t max) {
    size_t n = 0;

    while (*s && n < max) {
        if (*s >= '0' && *s <= '9') {
            char *end;
            double v;

            errno = 0;
            v = strtod(s, &end);
            if (end > s && errno == 0)
                out[n++] = v;
            s = end > s ? end : s + 1;
            continue;
        }
        s++;
    }
    return n;
}

/* Words of the prompt (alphabetic runs of ≥ 3 letters), up to max, copied into buf. */
static size_t words_in(const char *s, char words[][32], size_t max) {
    size_t n = 0;

    while (*s && n < max) {
        size_t len = 0;

        while (*s && !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            s++;
        while (((s[len] >= 'a' && s[len] <= 'z') || (s[len] >= 'A' && s[len] <= 'Z')))
            len++;
        if (len >= 3 && len < 32) {
            memcpy(words[n], s, len);
            words[n][len] = '\0';
            n++;
        }
        s += len;
    }
    return n;
}

static json_t *tool_call(const char *name, json_t *args) {
    return json_pack("{s:{s:s, s:o}}", "tool_call", "name", name, "arguments", args);
}

static json_t *answer_text(const char *text) {
    return json_pack("{s:s}", "answer", text);
}

static json_t *answer_number(double v) {
    char buf[64];

    snprintf(buf, sizeof(buf), "%.15g", v);
    return answer_text(buf);
}

/* oracle: the expert calls, then the gold answer. */
static json_t *oracle_act(struct eval_agent *a, const struct eval_turn *t) {
    size_t nexp;

    (void)a;
    if (!t->task)
        return NULL;
    nexp = t->task->expert ? json_array_size(t->task->expert) : 0;
    if (t->step < nexp) {
        const json_t *c = json_array_get(t->task->expert, t->step);

        return json_pack("{s:{s:O, s:O}}", "tool_call", "name", json_object_get(c, "name"),
                         "arguments", json_object_get(c, "arguments"));
    }
    if (t->task->answer.type == TASK_ANSWER_STRING)
        return answer_text(t->task->answer.text);
    if (t->task->answer.type == TASK_ANSWER_UNKNOWN)
        return answer_text("unknown");
    if (t->task->answer.type == TASK_ANSWER_INT) {
        char buf[64];

        snprintf(buf, sizeof(buf), "%.0f", t->task->answer.value);
        return answer_text(buf);
    }
    return answer_number(t->task->answer.value);
}

/* eager: answer at once with the prompt's last number. */
static json_t *eager_act(struct eval_agent *a, const struct eval_turn *t) {
    double nums[64];
    size_t n = numbers_in(turn_prompt(t), nums, 64);

    (void)a;
    return n ? answer_number(nums[n - 1]) : answer_text("unknown");
}

/* A tool call with arguments made from the prompt; which tool is k mod 3. */
static json_t *prompt_call(const struct eval_turn *t, uint64_t k, uint64_t *rng) {
    const char *p = turn_prompt(t);
    char words[32][32];
    double nums[64];
    size_t nw = words_in(p, words, 32), nn = numbers_in(p, nums, 64);
    char buf[256];

    switch (k % 3) {
    case 0: {
        size_t used = 0;

        buf[0] = '\0';
        for (int i = 0; i < 3 && nw > 0; i++) {
            const char *w = words[rng_splitmix64(rng) % nw];

            used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", used ? " " : "", w);
            if (used >= sizeof(buf))
                break;
        }
        return tool_call("search", json_pack("{s:s}", "query", nw ? buf : "what"));
    }
    case 1: {
        double x = nn ? nums[rng_splitmix64(rng) % nn] : (double)(rng_splitmix64(rng) % 100);
        double y = nn ? nums[rng_splitmix64(rng) % nn] : (double)(rng_splitmix64(rng) % 100);
        static const char ops[] = "+-*/";

        snprintf(buf, sizeof(buf), "%.15g %c %.15g", x, ops[rng_splitmix64(rng) % 4], y);
        return tool_call("calculator", json_pack("{s:s}", "expression", buf));
    }
    default:
        snprintf(buf, sizeof(buf), "print(%llu)", (unsigned long long)(rng_splitmix64(rng) % 1000));
        return tool_call("run_code", json_pack("{s:s}", "code", buf));
    }
}

/* random: answer with p = 0.3 (a number from the prompt or observations), else a random
 * tool with prompt-made arguments. */
static json_t *random_act(struct eval_agent *a, const struct eval_turn *t) {
    uint64_t rng = t->seed * 1000003ULL + t->step;
    double nums[64];
    size_t n;

    (void)a;
    if (rng_splitmix64(&rng) % 10 < 3) {
        n = numbers_in(turn_prompt(t), nums, 64);
        if (json_array_size(t->history) > 0) {
            const json_t *last = json_array_get(t->history, json_array_size(t->history) - 1);
            const char *c = json_string_value(json_object_get(
                json_object_get(json_object_get(last, "reply"), "observation"), "content"));

            if (c && n < 64)
                n += numbers_in(c, nums + n, 64 - n);
        }
        return n ? answer_number(nums[rng_splitmix64(&rng) % n]) : answer_text("unknown");
    }
    return prompt_call(t, rng_splitmix64(&rng), &rng);
}

/* overcaller: tools in turn (search, calculator, run_code) until the step limit. */
static json_t *overcaller_act(struct eval_agent *a, const struct eval_turn *t) {
    uint64_t rng = t->seed * 1000003ULL + t->step;

    (void)a;
    return prompt_call(t, t->step, &rng);
}

struct agent_kind {
    const char *name;
    json_t *(*act)(struct eval_agent *a, const struct eval_turn *t);
    const char *uses; /* the agent-specific options it reads (struct eval_kind) */
};

/* The reference agents. A new kind (e.g. the trainer's policy) is a row here or an
 * eval_agent filled by the caller and passed to eval_run. */
static const struct agent_kind kinds[] = {
    {"oracle", oracle_act, "--tasks"},
    {"random", random_act, "--seed"},
    {"overcaller", overcaller_act, "--seed"},
    {"eager", eager_act, ""},
};

const char *eval_agent_name(const struct eval_kind *extra, size_t n_extra, size_t i) {
    if (i < TG_ARRAY_LEN(kinds))
        return kinds[i].name;
    i -= TG_ARRAY_LEN(kinds);
    return i < n_extra ? extra[i].name : NULL;
}

const char *eval_agent_uses(const char *name, const struct eval_kind *extra, size_t n_extra) {
    for (size_t i = 0; i < n_extra; i++)
        if (strcmp(name, extra[i].name) == 0)
            return extra[i].uses ? extra[i].uses : "";
    for (size_t i = 0; i < TG_ARRAY_LEN(kinds); i++)
        if (strcmp(name, kinds[i].name) == 0)
            return kinds[i].uses;
    return NULL;
}

int eval_agent_new(const struct eval_options *o, struct eval_agent *out, struct tg_error *err) {
    return eval_agent_make(o, NULL, 0, out, err);
}

int eval_agent_make(const struct eval_options *o, const struct eval_kind *extra, size_t n_extra,
                    struct eval_agent *out, struct tg_error *err) {
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n_extra; i++)
        if (o->agent && strcmp(o->agent, extra[i].name) == 0)
            return extra[i].make(o, out, err);
    for (size_t i = 0; i < TG_ARRAY_LEN(kinds); i++) {
        if (o->agent && strcmp(o->agent, kinds[i].name) == 0) {
            out->name = kinds[i].name;
            out->act = kinds[i].act;
            return 0;
        }
    }
    tg_error_set(err, TG_CODE_CONFIG, "Unknown agent \"%s\" (oracle, random, overcaller, eager).",
                 o->agent ? o->agent : "");
    return TG_EINVAL;
}

/* ---- the run -------------------------------------------------------------------------- */

/* GET for task_ids_fetch over the eval client. */
static int client_get(void *ud, const char *path, long *status, json_t **body,
                      struct tg_error *err) {
    return client_call(ud, "GET", path, NULL, status, body, err);
}

/* Play one episode of task_id. */
static int play(struct client *c, const struct eval_options *o, struct eval_agent *a,
                const char *task_id, const char *tag, const struct task_set *local, uint64_t seed,
                struct tg_error *err) {
    json_t *req, *created = NULL, *history = json_array(), *final = NULL;
    struct eval_turn turn;
    char path[128];
    const char *id;
    int rc, done = 0;

    if (!history)
        return TG_ENOMEM;
    req = json_pack("{s:s, s:s}", "task_id", task_id, "tag", tag);
    if (req && o->max_steps > 0)
        json_object_set_new(req, "max_steps", json_integer(o->max_steps));
    if (req && o->feedback)
        json_object_set_new(req, "feedback", json_string("judge"));
    rc = req ? client_expect(c, "POST", "/v1/episodes", req, 201, &created, err) : TG_ENOMEM;
    json_decref(req);
    if (rc)
        goto out;
    id = json_string_value(json_object_get(created, "episode_id"));
    memset(&turn, 0, sizeof(turn));
    turn.episode = created;
    turn.history = history;
    turn.task = local ? task_set_find(local, task_id) : NULL;
    turn.seed = seed;
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id ? id : "?");
    while (!done) {
        json_t *action = a->act(a, &turn), *reply = NULL;

        if (!action) {
            tg_error_set(err, "agent", "Agent %s produced no action on task %s.", a->name, task_id);
            rc = TG_EINVAL;
            goto out;
        }
        rc = client_expect(c, "POST", path, action, 200, &reply, err);
        if (rc) {
            json_decref(action);
            goto out;
        }
        done = json_is_true(json_object_get(reply, "done"));
        json_array_append_new(history, json_pack("{s:o, s:o}", "action", action, "reply", reply));
        turn.step++;
    }
    if (a->episode_end) {
        snprintf(path, sizeof(path), "/v1/episodes/%s", id);
        rc = client_expect(c, "GET", path, NULL, 200, &final, err);
        if (rc)
            goto out;
        a->episode_end(a, &turn, final);
    }
out:
    json_decref(final);
    json_decref(created);
    json_decref(history);
    return rc;
}

int eval_servers_parse(const char *list, char **urls, int max, int *n, struct tg_error *err) {
    const char *p = list;

    *n = 0;
    while (p && *p) {
        size_t len = strcspn(p, ",");

        if (len == 0 || len >= TG_MAX_URL_LEN / 2 || *n >= max) {
            tg_error_set(err, TG_CODE_CONFIG, "--server takes up to %d URLs, comma-separated.",
                         max);
            goto fail;
        }
        while (len > 0 && p[len - 1] == '/')
            len--;
        urls[*n] = strndup(p, len);
        if (!urls[*n]) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            goto fail;
        }
        (*n)++;
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    if (*n > 0)
        return 0;
    tg_error_set(err, TG_CODE_CONFIG, "--server URL is required.");
fail:
    eval_servers_free(urls, *n);
    *n = 0;
    return TG_EINVAL;
}

void eval_servers_free(char **urls, int n) {
    for (int i = 0; i < n; i++) {
        free(urls[i]);
        urls[i] = NULL;
    }
}

int eval_run(const struct eval_options *o, struct eval_agent *a, json_t **report, char *tag_out,
             struct tg_error *err) {
    struct client *cs = NULL;
    char *urls[TG_EVAL_SERVERS_MAX];
    int nservers = 0, ninit = 0;
    struct task_set *local = NULL;
    json_t *ids = NULL, *all = NULL;
    char tag[TG_TAG_MAX + 1], path[TG_TAG_MAX * 3 + 128], name[600], file[PATH_MAX];
    const char *split = o->split ? o->split : "test";
    long n;
    int rc;

    *report = NULL;
    if (o->tag) {
        if (strlen(o->tag) > TG_TAG_MAX) {
            tg_error_set(err, TG_CODE_CONFIG, "--tag is longer than %d bytes.", TG_TAG_MAX);
            return TG_EINVAL;
        }
        snprintf(tag, sizeof(tag), "%s", o->tag);
    } else {
        uint64_t r = (uint64_t)tg_now_us() ^ ((uint64_t)getpid() << 32);

        snprintf(tag, sizeof(tag), "%s-%08llx", a->name ? a->name : "agent",
                 (unsigned long long)(rng_splitmix64(&r) & 0xffffffffULL));
    }
    for (const char *p = split; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
            tg_error_set(err, TG_CODE_CONFIG, "--split must be a plain name.");
            return TG_EINVAL;
        }
    rc = eval_servers_parse(o->server, urls, TG_EVAL_SERVERS_MAX, &nservers, err);
    if (rc)
        return rc;
    cs = calloc((size_t)nservers, sizeof(*cs));
    if (!cs) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        rc = TG_ENOMEM;
        goto out;
    }
    for (; ninit < nservers; ninit++) {
        rc = client_init(&cs[ninit], urls[ninit], o->api_key);
        if (rc) {
            tg_error_set(err, "internal", "Cannot start libcurl.");
            ninit++;
            goto out;
        }
    }
    /* the split's file in the data directory (base/datadir.h), when there is one */
    snprintf(name, sizeof(name), "tasks/%.512s.jsonl", split);
    if (o->tasks || datadir_file(name, file, sizeof(file), NULL) != 0)
        file[0] = '\0';
    if (o->tasks || (file[0] && access(file, R_OK) == 0)) {
        local = task_set_new();
        rc = local ? task_set_load(local, o->tasks ? o->tasks : file, err) : TG_ENOMEM;
        if (rc)
            goto out;
    }
    rc = task_ids_fetch(client_get, &cs[0], split, &ids, err);
    if (rc)
        goto out;
    n = o->episodes > 0 ? o->episodes : (long)json_array_size(ids);
    /* episode i on server i mod n: each episode lives on one server from start to end */
    for (long i = 0; i < n; i++) {
        const char *tid = json_string_value(json_array_get(ids, (size_t)i % json_array_size(ids)));

        rc = play(&cs[i % nservers], o, a, tid, tag, local,
                  o->seed * 0x100000001b3ULL + (uint64_t)i, err);
        if (rc)
            goto out;
        if (!o->quiet && ((i + 1) % 50 == 0 || i + 1 == n))
            fprintf(stderr, "\reval: %ld/%ld episodes", i + 1, n);
    }
    if (!o->quiet)
        fputc('\n', stderr);
    {
        char *esc = curl_easy_escape(cs[0].curl, tag, 0);

        snprintf(path, sizeof(path), "/v1/report?split=%s&tag=%s&by=tag", split, esc ? esc : "");
        curl_free(esc);
    }
    /* one server: its report; several: the merged report, each server's under "servers" */
    all = nservers > 1 ? json_object() : NULL;
    for (int i = 0; i < nservers && rc == 0; i++) {
        json_t *rep = NULL;

        rc = client_expect(&cs[i], "GET", path, NULL, 200, &rep, err);
        if (rc == 0 && !all)
            *report = rep;
        else if (rc == 0 && json_object_set_new(all, urls[i], rep))
            rc = TG_ENOMEM;
    }
    if (rc == 0 && all) {
        rc = eval_reports_combine(all, report, err);
        all = NULL;
    }
    if (rc == 0 && tag_out)
        snprintf(tag_out, TG_TAG_MAX + 1, "%s", tag);
out:
    json_decref(all);
    json_decref(ids);
    task_set_free(local);
    for (int i = 0; i < ninit; i++)
        client_free(&cs[i]);
    free(cs);
    eval_servers_free(urls, nservers);
    return rc;
}

/* ---- the table ------------------------------------------------------------------------ */

static void print_metric(FILE *f, const char *name, const json_t *v) {
    if (json_is_number(v))
        fprintf(f, "  %-26s %10.4f\n", name, json_number_value(v));
    else
        fprintf(f, "  %-26s %10s\n", name, "-");
}

static void print_one_report(FILE *f, const struct eval_options *o, const char *tag,
                             const json_t *report);

int eval_reports_combine(json_t *servers, json_t **report, struct tg_error *err) {
    json_t *reps[TG_EVAL_SERVERS_MAX];
    size_t n = 0;
    const char *url;
    json_t *rep;

    *report = NULL;
    json_object_foreach(servers, url, rep) {
        if (n == TG_EVAL_SERVERS_MAX)
            break;
        reps[n++] = rep;
    }
    *report = report_merge(reps, n, err);
    if (*report && json_object_set_new(*report, "servers", servers) == 0)
        return 0;
    if (*report) {
        json_decref(*report); /* set_new released servers */
        *report = NULL;
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    json_decref(servers);
    return strcmp(err->code, TG_CODE_NOMEM) == 0 ? TG_ENOMEM : TG_EINVAL;
}

void eval_print_report(FILE *f, const struct eval_options *o, const char *tag,
                       const json_t *report) {
    const json_t *servers = json_object_get(report, "servers");
    const char *url;
    json_t *rep;

    json_object_foreach((json_t *)servers, url, rep) {
        const json_t *acc = json_object_get(rep, "answer_accuracy");

        fprintf(f, "server %s  episodes %lld  accuracy ", url,
                (long long)json_integer_value(json_object_get(rep, "episodes")));
        if (json_is_number(acc))
            fprintf(f, "%.4f\n", json_number_value(acc));
        else
            fprintf(f, "-\n");
    }
    if (servers)
        fprintf(f, "all %zu servers:\n", json_object_size(servers));
    print_one_report(f, o, tag, report);
}

static void print_one_report(FILE *f, const struct eval_options *o, const char *tag,
                             const json_t *report) {
    static const char *const metrics[] = {
        "answer_accuracy",   "grounded_accuracy",        "tool_selection_accuracy",
        "argument_accuracy", "exact_plan_match",         "calls_per_episode",
        "wasted_call_rate",  "wasted_calls_per_episode", "tool_productivity",
    };
    const char *key;
    json_t *v;

    fprintf(f, "agent %s  split %s  tag %s  episodes %lld  unfinished %lld\n",
            o->agent ? o->agent : "?", o->split ? o->split : "test", tag,
            (long long)json_integer_value(json_object_get(report, "episodes")),
            (long long)json_integer_value(json_object_get(report, "unfinished")));
    fprintf(f, "  %-26s %10s\n", "metric", "value");
    for (size_t i = 0; i < TG_ARRAY_LEN(metrics); i++)
        print_metric(f, metrics[i], json_object_get(report, metrics[i]));
    fprintf(f, "  %-26s %10s\n", "label", "rate");
    json_object_foreach((json_t *)json_object_get(report, "labels"), key, v) {
        print_metric(f, key, v);
    }
    if (json_object_size(json_object_get(report, "by_tag")) == 0)
        return;
    fprintf(f, "  %-34s %8s %9s %10s %9s\n", "task tag", "episodes", "accuracy", "plan match",
            "wasted/ep");
    json_object_foreach((json_t *)json_object_get(report, "by_tag"), key, v) {
        const json_t *cols[3] = {json_object_get(v, "answer_accuracy"),
                                 json_object_get(v, "exact_plan_match"),
                                 json_object_get(v, "wasted_calls_per_episode")};

        fprintf(f, "  %-34s %8lld", key,
                (long long)json_integer_value(json_object_get(v, "episodes")));
        for (int c = 0; c < 3; c++) {
            if (json_is_number(cols[c]))
                fprintf(f, " %*.3f", c == 1 ? 10 : 9, json_number_value(cols[c]));
            else
                fprintf(f, " %*s", c == 1 ? 10 : 9, "-");
        }
        fputc('\n', f);
    }
}
