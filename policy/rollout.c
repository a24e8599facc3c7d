/*
 * rollout.c — many episodes in flight over libcurl multi. See rollout.h.
 */
#include "policy/rollout.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/dbuf.h"

static const char *const label_names[RL_LABELS] = {"necessary",   "redundant",  "premature",
                                                   "unnecessary", "wrong_args", "malformed"};

const char *rollout_label_name(int l) {
    return l >= 0 && l < RL_LABELS ? label_names[l] : "?";
}

struct rollout {
    struct rollout_config cfg;
    char *servers; /* owned copy; urls point into it */
    int nurls;
    char *urls[TG_ROLLOUT_URLS_MAX];
    int next_url;
    CURLM *multi;
};

enum slot_phase { PH_IDLE = 0, PH_CREATE, PH_STEP, PH_TOOL };

struct slot {
    CURL *easy;
    struct curl_slist *hdr;
    struct dbuf body; /* the response, at most TG_ROLLOUT_RESP_MAX bytes */
    char *req;        /* request body (new) */
    char url[TG_MAX_URL_LEN];
    int ep; /* index in eps, -1 idle */
    int phase;
    int attempts;
    double retry_at;      /* ms; 0: not waiting */
    int prefix_pos;       /* next prefix call to replay */
    json_t *pending_call; /* the tool call in flight ({"name","arguments"}), NULL: an answer */
    int in_multi;
};

struct rollout_config rollout_config_default(void) {
    struct rollout_config c;

    memset(&c, 0, sizeof(c));
    c.inflight = 64;
    c.timeout_ms = 60000;
    c.connect_timeout_ms = 2000;
    c.retries = 6;
    c.backoff_ms = 50;
    return c;
}

struct rollout *rollout_new(const struct rollout_config *cfg, struct tg_error *err) {
    struct rollout *r = calloc(1, sizeof(*r));
    char *p;

    if (!r) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    if (!cfg->servers || !cfg->servers[0]) {
        tg_error_set(err, "bad_servers", "no server URL given (--server URL[,URL...])");
        goto fail;
    }
    if (cfg->inflight < 1 || cfg->inflight > TG_ROLLOUT_INFLIGHT || cfg->timeout_ms < 100 ||
        cfg->connect_timeout_ms < 10 || cfg->retries < 0 || cfg->retries > 30 ||
        cfg->backoff_ms < 1) {
        tg_error_set(err, TG_CODE_CONFIG, "rollout settings out of range (inflight 1..%d)",
                     TG_ROLLOUT_INFLIGHT);
        goto fail;
    }
    r->servers = strdup(cfg->servers);
    if (!r->servers) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        goto fail;
    }
    p = r->servers;
    while (p && *p) {
        char *comma = strchr(p, ',');
        size_t l;

        if (comma)
            *comma = '\0';
        l = strlen(p);
        while (l > 0 && p[l - 1] == '/')
            p[--l] = '\0';
        if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) {
            tg_error_set(err, "bad_servers", "server URL '%.100s' does not start with http://", p);
            goto fail;
        }
        if (l > 512) {
            tg_error_set(err, "bad_servers", "a server URL is longer than 512 bytes");
            goto fail;
        }
        if (r->nurls >= TG_ROLLOUT_URLS_MAX) {
            tg_error_set(err, "bad_servers", "more than %d server URLs", TG_ROLLOUT_URLS_MAX);
            goto fail;
        }
        r->urls[r->nurls++] = p;
        p = comma ? comma + 1 : NULL;
    }
    if (r->nurls == 0) {
        tg_error_set(err, "bad_servers", "no server URL given");
        goto fail;
    }
    r->multi = curl_multi_init();
    if (!r->multi) {
        tg_error_set(err, "curl", "curl_multi_init failed");
        goto fail;
    }
    curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->inflight);
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, (long)cfg->inflight + 8);
    return r;
fail:
    rollout_free(r);
    return NULL;
}

void rollout_free(struct rollout *r) {
    if (!r)
        return;
    if (r->multi)
        curl_multi_cleanup(r->multi);
    free(r->servers);
    free(r);
}

int rollout_servers(const struct rollout *r) {
    return r->nurls;
}

const char *rollout_url(const struct rollout *r, int i) {
    return i >= 0 && i < r->nurls ? r->urls[i] : "";
}

void rollout_ep_clear(struct rollout_ep *ep) {
    free(ep->st);
    ep->st = NULL;
    json_decref(ep->tool_obs);
    ep->tool_obs = NULL;
    ep->episode_id[0] = '\0';
    ep->done = ep->answered = ep->correct = ep->calls = ep->premature_answer = 0;
    ep->ret = 0;
    memset(ep->labels, 0, sizeof(ep->labels));
}

/* ---- one request on a slot ---------------------------------------------------------------- */

static void slot_reset_easy(struct rollout *r, struct slot *s) {
    if (s->in_multi) {
        curl_multi_remove_handle(r->multi, s->easy);
        s->in_multi = 0;
    }
}

static int slot_send(struct rollout *r, struct slot *s, const char *method, struct tg_error *err) {
    CURLMcode mc;

    dbuf_reset(&s->body);
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, method);
    if (s->req) {
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->req);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(s->req));
    } else {
        curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, method);
    }
    mc = curl_multi_add_handle(r->multi, s->easy);
    if (mc != CURLM_OK) {
        tg_error_set(err, "curl", "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        return TG_EIO;
    }
    s->in_multi = 1;
    return 0;
}

static int easy_setup(const struct rollout *r, CURL *e, struct dbuf *b, struct curl_slist *hdr) {
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, dbuf_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->cfg.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    return 0;
}

/* retry-worthy: no answer came (refused, reset, empty) or the server said 503 (overloaded) or
 * 429 (this client's share of the episode store is in use: retry once episodes finish) */
static int retriable(CURLcode cc, long status) {
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR ||
           cc == CURLE_SEND_ERROR || (cc == CURLE_OK && (status == 503 || status == 429));
}

/* A 429 or a 503 is flow control, not a failure: the server refuses this client's runs or
 * episodes past its share (429), or any past its queue (503), until some finish; the trainer
 * keeps many in flight (a warm-up asks for every expert call's observation at once), and
 * other clients may fill the queue for a while. So these wait the server's Retry-After
 * (TG_RUN_RETRY_AFTER_SEC) and are retried for about ten minutes (the warm-up's thousands of
 * expert programs take minutes on a loaded 2-core server: a minute was too short); a
 * connection that fails backs off exponentially for `retries` attempts. */
#define BUSY_RETRY_MS (TG_RUN_RETRY_AFTER_SEC * 1000L)
#define BUSY_RETRIES  600

static int busy(CURLcode cc, long status) {
    return cc == CURLE_OK && (status == 429 || status == 503);
}

static int retry_limit(const struct rollout *r, CURLcode cc, long status) {
    return busy(cc, status) ? BUSY_RETRIES : r->cfg.retries;
}

static long retry_delay_ms(const struct rollout *r, CURLcode cc, long status, int attempt) {
    if (busy(cc, status))
        return BUSY_RETRY_MS;
    return r->cfg.backoff_ms << attempt;
}

/* the server's error message from an error body, or a short excerpt */
static void error_text(const struct dbuf *b, char *out, size_t n) {
    json_t *j = b->p ? json_loads(b->p, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));

    if (m)
        snprintf(out, n, "%s", m);
    else
        snprintf(out, n, "%.120s", b->p ? b->p : "");
    json_decref(j);
}

/* ---- the episode state machine ------------------------------------------------------------ */

struct run {
    struct rollout *r;
    struct rollout_ep *eps;
    int n, next;
    rollout_policy_fn fn;
    void *ctx;
    struct slot *slots;
    int nslots;
};

static int json_req(struct slot *s, json_t *body, struct tg_error *err) {
    free(s->req);
    s->req = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (body && !s->req) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    return 0;
}

/* start the create (or fork) request of episode e on slot s */
static int start_episode(struct run *ru, struct slot *s, int e, struct tg_error *err) {
    struct rollout_ep *ep = &ru->eps[e];
    json_t *b;
    int rc;

    rollout_ep_clear(ep);
    if (ep->server < 0 || ep->server >= ru->r->nurls) {
        ep->server = ru->r->next_url;
        ru->r->next_url = (ru->r->next_url + 1) % ru->r->nurls;
    }
    if (ep->tool_only) {
        const char *name = json_string_value(json_object_get(ep->tool_only, "name"));

        s->ep = e;
        s->phase = PH_TOOL;
        s->attempts = 0;
        s->retry_at = 0;
        snprintf(s->url, sizeof(s->url), "%s/v1/tools/%s", ru->r->urls[ep->server],
                 name ? name : "");
        rc = json_req(
            s, json_pack("{s:O}", "arguments", json_object_get(ep->tool_only, "arguments")), err);
        return rc ? rc : slot_send(ru->r, s, "POST", err);
    }
    ep->st = malloc(sizeof(*ep->st));
    if (!ep->st) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    s->ep = e;
    s->phase = PH_CREATE;
    s->attempts = 0;
    s->retry_at = 0;
    s->prefix_pos = 0;
    json_decref(s->pending_call);
    s->pending_call = NULL;
    if (ep->fork_from[0]) {
        snprintf(s->url, sizeof(s->url), "%s/v1/episodes/%s/fork", ru->r->urls[ep->server],
                 ep->fork_from);
        b = json_pack("{s:i}", "at", ep->fork_at);
    } else {
        snprintf(s->url, sizeof(s->url), "%s/v1/episodes", ru->r->urls[ep->server]);
        /* a trainer's episode: replies carry the judge's labels, rewards and correctness */
        b = json_pack("{s:s}", "feedback", "judge");
        if (b && ep->task_id[0])
            json_object_set_new(b, "task_id", json_string(ep->task_id));
        else if (b) {
            json_object_set_new(b, "split", json_string(ep->split ? ep->split : "train"));
            json_object_set_new(b, "seed", json_integer(ep->seed));
        }
        if (b && ep->max_steps > 0)
            json_object_set_new(b, "max_steps", json_integer(ep->max_steps));
        if (b && ep->reward_mode)
            json_object_set_new(b, "reward_mode", json_string(ep->reward_mode));
        if (b && ep->tag)
            json_object_set_new(b, "tag", json_string(ep->tag));
    }
    rc = json_req(s, b, err);
    if (rc)
        return rc;
    return slot_send(ru->r, s, "POST", err);
}

static int count_label(struct rollout_ep *ep, const char *label) {
    for (int l = 0; l < RL_LABELS; l++)
        if (strcmp(label, label_names[l]) == 0) {
            ep->labels[l]++;
            return 0;
        }
    return 0;
}

/* choose and send the next step of the slot's episode, or finish it */
static int next_step(struct run *ru, struct slot *s, struct tg_error *err) {
    struct rollout_ep *ep = &ru->eps[s->ep];
    json_t *b = NULL, *ignored = NULL;
    int rc;

    json_decref(s->pending_call);
    s->pending_call = NULL;
    if (ep->prefix && s->prefix_pos < (int)json_array_size(ep->prefix)) {
        json_t *call = json_array_get(ep->prefix, (size_t)s->prefix_pos);

        rc = ru->fn(ru->ctx, ep, ep->st, 1, &ignored, err);
        json_decref(ignored);
        if (rc)
            return rc;
        b = json_pack("{s:O}", "tool_call", call);
        s->pending_call = json_incref(call);
        s->prefix_pos++;
    } else if (ep->prefix && ep->stop_after_prefix) {
        rc = ru->fn(ru->ctx, ep, ep->st, 1, &ignored, err); /* look at the answer point */
        json_decref(ignored);
        if (rc)
            return rc;
        s->ep = -1;
        s->phase = PH_IDLE;
        return 0;
    } else {
        rc = ru->fn(ru->ctx, ep, ep->st, 0, &b, err);
        if (rc) {
            json_decref(b);
            return rc;
        }
        s->pending_call = json_incref(json_object_get(b, "tool_call"));
    }
    if (!b) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    rc = json_req(s, b, err);
    if (rc)
        return rc;
    snprintf(s->url, sizeof(s->url), "%s/v1/episodes/%s/step", ru->r->urls[ep->server],
             ep->episode_id);
    s->phase = PH_STEP;
    s->attempts = 0;
    return slot_send(ru->r, s, "POST", err);
}

/* handle a complete HTTP answer on slot s */
static int on_answer(struct run *ru, struct slot *s, long status, struct tg_error *err) {
    struct rollout_ep *ep = &ru->eps[s->ep];
    const char *base = ru->r->urls[ep->server];
    json_t *j = NULL;
    json_error_t je;
    int rc = 0;

    if (s->body.err == TG_ERANGE) {
        tg_error_set(err, "bad_response", "%s answered with more than %lu bytes", base,
                     (unsigned long)TG_ROLLOUT_RESP_MAX);
        return TG_ERANGE;
    }
    if (s->phase == PH_TOOL) {
        if (status != 200) {
            char m[200];

            error_text(&s->body, m, sizeof(m));
            tg_error_set(err, "server_error", "%s: %s returned HTTP %ld: %s", base, s->url, status,
                         m);
            return TG_EIO;
        }
        j = json_loads(s->body.p ? s->body.p : "", 0, &je);
        if (!json_is_object(j)) {
            tg_error_set(err, "bad_response", "%s: %s: the reply is not a JSON object (%s)", base,
                         s->url, j ? "wrong type" : je.text);
            rc = TG_EINVAL;
            goto done;
        }
        ep->tool_obs = j;
        ep->done = 1;
        s->ep = -1;
        s->phase = PH_IDLE;
        return 0;
    }
    if (s->phase == PH_CREATE) {
        const char *id;
        const char *prompt;
        json_t *jt;

        if (status != 201) {
            char m[200];

            error_text(&s->body, m, sizeof(m));
            tg_error_set(err, status == 404 ? "not_found" : "server_error",
                         "%s: %s returned HTTP %ld: %s", base,
                         ep->fork_from[0] ? "fork" : "create episode", status, m);
            return status == 404 ? TG_ENOTFOUND : TG_EIO;
        }
        j = json_loads(s->body.p ? s->body.p : "", 0, &je);
        id = json_string_value(json_object_get(j, "episode_id"));
        if (!j || !id || strlen(id) >= sizeof(ep->episode_id)) {
            tg_error_set(err, "bad_response", "%s: the episode response has no episode_id (%s)",
                         base, j ? "missing field" : je.text);
            rc = TG_EINVAL;
            goto done;
        }
        snprintf(ep->episode_id, sizeof(ep->episode_id), "%s", id);
        if (ep->fork_from[0] && ep->fork_state) {
            memcpy(ep->st, ep->fork_state, sizeof(*ep->st));
            ep->st->nstep =
                ep->fork_at < ep->fork_state->nstep ? ep->fork_at : ep->fork_state->nstep;
            /* every step of the prefix is a tool call the fork holds as its own: OTC and the
             * call tallies count them as they would in a fresh episode making the same calls
             * (their labels are the parent's, which the tallies do not see again) */
            ep->calls = ep->st->nstep;
        } else {
            long ms;

            jt = json_object_get(j, "task");
            prompt = json_string_value(json_object_get(jt, "prompt"));
            ms = (long)json_integer_value(json_object_get(j, "max_steps"));
            if (!prompt || ms < 1) {
                tg_error_set(err, "bad_response",
                             "%s: the episode reply has no %s (the policy reads the task's "
                             "prompt and the step limit)",
                             base, !prompt ? "task.prompt string" : "positive max_steps");
                rc = TG_EINVAL;
                goto done;
            }
            if (!ep->task_id[0]) {
                const char *tid = json_string_value(json_object_get(jt, "id"));

                if (tid)
                    snprintf(ep->task_id, sizeof(ep->task_id), "%s", tid);
            }
            rc = view_init(ep->st, prompt, (int)ms, err);
            if (rc)
                goto done;
        }
        json_decref(j);
        return next_step(ru, s, err);
    }
    /* PH_STEP */
    if (status == 404) {
        tg_error_set(err, "episode_lost",
                     "%s: episode %s is gone (HTTP 404): did the server restart mid-run?", base,
                     ep->episode_id);
        return TG_ENOTFOUND;
    }
    if (status != 200) {
        char m[200];

        error_text(&s->body, m, sizeof(m));
        tg_error_set(err, "server_error", "%s: step of episode %s returned HTTP %ld: %s", base,
                     ep->episode_id, status, m);
        return TG_EIO;
    }
    j = json_loads(s->body.p ? s->body.p : "", 0, &je);
    if (!j || !json_is_boolean(json_object_get(j, "done")) ||
        !json_is_number(json_object_get(j, "return"))) {
        tg_error_set(err, "bad_response", "%s: malformed step response (%s)", base,
                     j ? "no done/return" : je.text);
        rc = TG_EINVAL;
        goto done;
    }
    {
        const char *label =
            json_string_value(json_object_get(json_object_get(j, "judgement"), "label"));

        if (s->pending_call) {
            rc = view_push(ep->st, s->pending_call, json_object_get(j, "observation"), err);
            if (rc) {
                char m[TG_ERR_MSG_MAX];

                snprintf(m, sizeof(m), "%s", err->message);
                tg_error_set(err, "bad_response", "%s: step of episode %s: %s", base,
                             ep->episode_id, m);
                goto done;
            }
            ep->calls++;
            if (label)
                count_label(ep, label);
        } else {
            ep->answered = 1;
            ep->correct =
                json_is_true(json_object_get(json_object_get(j, "observation"), "correct"));
            ep->premature_answer = label && strcmp(label, "premature_answer") == 0;
            if (!ep->premature_answer) {
                const json_t *pa =
                    json_object_get(json_object_get(j, "judgement"), "premature_answer");
                ep->premature_answer = json_is_true(pa);
            }
        }
    }
    ep->ret = json_number_value(json_object_get(j, "return"));
    if (json_is_true(json_object_get(j, "done"))) {
        ep->done = 1;
        s->ep = -1;
        s->phase = PH_IDLE;
        json_decref(j);
        return 0;
    }
    json_decref(j);
    return next_step(ru, s, err);
done:
    json_decref(j);
    return rc;
}

/* start the next queued episode on idle slot s, if any */
static int fill_slot(struct run *ru, struct slot *s, struct tg_error *err) {
    if (ru->next >= ru->n)
        return 0;
    return start_episode(ru, s, ru->next++, err);
}

int rollout_run(struct rollout *r, struct rollout_ep *eps, int n, rollout_policy_fn fn, void *ctx,
                struct tg_error *err) {
    struct run ru;
    int rc = 0, active;

    memset(&ru, 0, sizeof(ru));
    ru.r = r;
    ru.eps = eps;
    ru.n = n;
    ru.fn = fn;
    ru.ctx = ctx;
    ru.nslots = n < r->cfg.inflight ? n : r->cfg.inflight;
    if (ru.nslots < 1)
        return 0;
    ru.slots = calloc((size_t)ru.nslots, sizeof(*ru.slots));
    if (!ru.slots) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    for (int i = 0; i < ru.nslots; i++) {
        struct slot *s = &ru.slots[i];

        s->ep = -1;
        dbuf_init(&s->body, TG_ROLLOUT_RESP_MAX);
        s->easy = curl_easy_init();
        s->hdr = curl_slist_append(NULL, "Content-Type: application/json");
        if (!s->easy || !s->hdr) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory (curl handles)");
            rc = TG_ENOMEM;
            goto done;
        }
        easy_setup(r, s->easy, &s->body, s->hdr);
    }
    for (int i = 0; i < ru.nslots; i++) {
        rc = fill_slot(&ru, &ru.slots[i], err);
        if (rc)
            goto done;
    }
    for (;;) {
        CURLMsg *msg;
        int left, running;
        double now = tg_now_ms(), wait = 100;

        /* retries whose time has come */
        active = 0;
        for (int i = 0; i < ru.nslots; i++) {
            struct slot *s = &ru.slots[i];

            if (s->ep < 0)
                continue;
            active++;
            if (s->retry_at > 0) {
                if (s->retry_at <= now) {
                    s->retry_at = 0;
                    rc = slot_send(r, s, "POST", err);
                    if (rc)
                        goto done;
                } else if (s->retry_at - now < wait) {
                    wait = s->retry_at - now;
                }
            }
        }
        if (!active)
            break;
        curl_multi_perform(r->multi, &running);
        while ((msg = curl_multi_info_read(r->multi, &left))) {
            struct slot *s = NULL;
            long status = 0;
            CURLcode cc;

            if (msg->msg != CURLMSG_DONE)
                continue;
            for (int i = 0; i < ru.nslots && !s; i++)
                if (ru.slots[i].easy == msg->easy_handle)
                    s = &ru.slots[i];
            if (!s)
                continue;
            cc = msg->data.result;
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
            slot_reset_easy(r, s);
            if (retriable(cc, status)) {
                const char *base = r->urls[eps[s->ep].server];

                if (s->attempts >= retry_limit(r, cc, status)) {
                    tg_error_set(err, "unreachable", "server %s unreachable after %d attempts: %s",
                                 base, s->attempts + 1,
                                 cc == CURLE_OK ? (status == 429 ? "HTTP 429 quota_exceeded"
                                                                 : "HTTP 503 overloaded")
                                                : curl_easy_strerror(cc));
                    rc = TG_EIO;
                    goto done;
                }
                s->retry_at = tg_now_ms() + (double)retry_delay_ms(r, cc, status, s->attempts);
                s->attempts++;
                continue;
            }
            if (cc != CURLE_OK) {
                tg_error_set(err, "transport", "server %s: %s (%s)", r->urls[eps[s->ep].server],
                             curl_easy_strerror(cc), s->url);
                rc = cc == CURLE_OPERATION_TIMEDOUT ? TG_EIO : TG_EIO;
                goto done;
            }
            rc = on_answer(&ru, s, status, err);
            if (rc)
                goto done;
            if (s->ep < 0) {
                rc = fill_slot(&ru, s, err);
                if (rc)
                    goto done;
            }
        }
        active = 0;
        for (int i = 0; i < ru.nslots; i++)
            active += ru.slots[i].ep >= 0;
        if (!active)
            break;
        curl_multi_poll(r->multi, NULL, 0, (int)(wait < 1 ? 1 : wait), NULL);
    }
done:
    for (int i = 0; i < ru.nslots; i++) {
        struct slot *s = &ru.slots[i];

        if (s->easy) {
            slot_reset_easy(r, s);
            curl_easy_cleanup(s->easy);
        }
        curl_slist_free_all(s->hdr);
        dbuf_free(&s->body);
        free(s->req);
        json_decref(s->pending_call);
    }
    free(ru.slots);
    return rc;
}

int rollout_request(struct rollout *r, int i, const char *method, const char *path,
                    const json_t *body, long *status, json_t **out, struct tg_error *err) {
    CURL *e = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    struct dbuf b;
    char url[TG_MAX_URL_LEN], *req = NULL;
    int rc = 0;

    dbuf_init(&b, TG_ROLLOUT_RESP_MAX);
    *out = NULL;
    *status = 0;
    if (!e || !hdr || i < 0 || i >= r->nurls) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory setting up a request");
        rc = TG_ENOMEM;
        goto done;
    }
    if (body) {
        req = json_dumps(body, JSON_COMPACT);
        if (!req) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            rc = TG_ENOMEM;
            goto done;
        }
    }
    snprintf(url, sizeof(url), "%s%s", r->urls[i], path);
    easy_setup(r, e, &b, hdr);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (req) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(req));
    }
    for (int attempt = 0;; attempt++) {
        CURLcode cc;

        dbuf_reset(&b);
        cc = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
        if (retriable(cc, *status) && attempt < retry_limit(r, cc, *status)) {
            struct timespec ts;
            long ms = retry_delay_ms(r, cc, *status, attempt);

            ts.tv_sec = ms / 1000;
            ts.tv_nsec = (ms % 1000) * 1000000L;
            nanosleep(&ts, NULL);
            continue;
        }
        if (cc != CURLE_OK || retriable(cc, *status)) {
            tg_error_set(err, "unreachable", "server %s unreachable after %d attempts: %s",
                         r->urls[i], attempt + 1,
                         cc == CURLE_OK
                             ? (*status == 429 ? "HTTP 429 quota_exceeded" : "HTTP 503 overloaded")
                             : curl_easy_strerror(cc));
            rc = TG_EIO;
            goto done;
        }
        break;
    }
    if (b.err == TG_ERANGE) {
        tg_error_set(err, "bad_response", "%s%s: response too large", r->urls[i], path);
        rc = TG_ERANGE;
        goto done;
    }
    if (b.p)
        *out = json_loads(b.p, 0, NULL);
done:
    curl_slist_free_all(hdr);
    if (e)
        curl_easy_cleanup(e);
    dbuf_free(&b);
    free(req);
    return rc;
}
