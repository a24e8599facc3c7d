/*
 * status.c — the status page and its JSON (see status.h). The page is one static string; the
 * JSON is built from the episode store, the report, the last finished episodes and the
 * sandbox's capabilities.
 */
#include "server/status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_util.h"
#include "base/limits.h"
#include "server/episode.h"
#include "server/report.h"
#include "server/task.h"
#include "tools/sandbox.h"

#define STATUS_TEXT_KEEP 400 /* bytes of an observation's text the page shows */

struct status_recent {
    pthread_mutex_t mu;
    struct episode *ring[STATUS_RECENT_MAX]; /* references; next is the oldest slot */
    size_t next, n;
    long long start_us;
};

struct status_recent *status_recent_new(void) {
    struct status_recent *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->start_us = tg_now_us();
    return r;
}

void status_recent_free(struct status_recent *r) {
    if (!r)
        return;
    for (size_t i = 0; i < STATUS_RECENT_MAX; i++)
        episode_put(r->ring[i]);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void status_recent_push(struct status_recent *r, struct episode *ep) {
    struct episode *old;

    episode_ref(ep);
    pthread_mutex_lock(&r->mu);
    old = r->ring[r->next];
    r->ring[r->next] = ep;
    r->next = (r->next + 1) % STATUS_RECENT_MAX;
    if (r->n < STATUS_RECENT_MAX)
        r->n++;
    pthread_mutex_unlock(&r->mu);
    episode_put(old);
}

/* The text of s, cut to STATUS_TEXT_KEEP bytes on a character boundary. New or NULL. */
static json_t *kept_text(const char *s) {
    size_t len = s ? strlen(s) : 0, keep = jsonu_utf8_prefix(s ? s : "", len, STATUS_TEXT_KEEP);

    if (keep < len) {
        json_t *j;
        char *t = malloc(keep + 4);

        if (!t)
            return NULL;
        memcpy(t, s, keep);
        memcpy(t + keep, "…", 4); /* U+2026 and the NUL */
        j = json_string(t);
        free(t);
        return j;
    }
    return json_string(s ? s : "");
}

/* One finished episode as the page shows it, from its trajectory line: each step's action,
 * the observation's text, and — for a trainer's episode (feedback "judge") only — its label,
 * reward and the return: anyone who reaches the server reads this page, and an agent must not
 * learn the judge's verdicts on its own episodes here either (docs/episodes.md). New or NULL. */
static json_t *episode_view(struct episode *ep) {
    json_t *t = episode_trajectory_json(ep), *steps = json_array(), *v = NULL;
    int judged = ep->feedback; /* set before the episode was stored; never changes */
    const char *outcome = json_string_value(json_object_get(t, "outcome"));
    const json_t *msgs = json_object_get(t, "messages"), *lsteps = json_object_get(t, "steps");
    size_t k = 0;

    if (!t || !steps)
        goto out;
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        const json_t *m = json_array_get(msgs, i), *ls = json_array_get(lsteps, k);
        const char *role = json_string_value(json_object_get(m, "role"));
        const json_t *tc = json_array_get(json_object_get(m, "tool_calls"), 0);
        json_t *s;

        if (!role || strcmp(role, "assistant") != 0)
            continue;
        if (tc) {
            const json_t *fn = json_object_get(tc, "function");
            const json_t *reply = json_array_get(msgs, i + 1);

            s = json_pack("{s:O, s:o*, s:o*}", "tool", json_object_get(fn, "name"), "arguments",
                          kept_text(json_string_value(json_object_get(fn, "arguments"))),
                          "observation",
                          kept_text(json_string_value(json_object_get(reply, "content"))));
        } else {
            s = json_pack("{s:o*}", "answer",
                          kept_text(json_string_value(json_object_get(m, "content"))));
        }
        if (!s ||
            (judged && (json_object_set(s, "label", json_object_get(ls, "label")) ||
                        json_object_set(s, "reward", json_object_get(ls, "reward")))) ||
            json_array_append_new(steps, s))
            goto out;
        k++;
    }
    if (!judged && outcome && strcmp(outcome, "step_limit") != 0)
        outcome = "answered";
    v = json_pack("{s:O, s:O, s:O, s:O, s:s?, s:O, s:O, s:O}", "episode_id",
                  json_object_get(t, "episode_id"), "task_id", json_object_get(t, "task_id"),
                  "split", json_object_get(t, "split"), "tag", json_object_get(t, "tag"), "outcome",
                  outcome, "return", judged ? json_object_get(t, "return") : json_null(),
                  "reward_mode", json_object_get(t, "reward_mode"), "steps", steps);
out:
    json_decref(steps);
    json_decref(t);
    return v;
}

/* The distinct splits of the loaded tasks (at most 32), in order of first appearance. */
static json_t *splits_json(const struct task_set *ts) {
    json_t *a = json_array();
    size_t n = ts ? task_set_count(ts) : 0;

    for (size_t i = 0; a && i < n && json_array_size(a) < 32; i++) {
        const char *sp = task_set_at(ts, i)->split;
        size_t j;
        const json_t *x;
        int seen = 0;

        json_array_foreach(a, j, x) {
            seen |= strcmp(json_string_value(x), sp) == 0;
        }
        if (!seen && json_array_append_new(a, json_string(sp))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int api_status(struct http_req *rq, struct http_reply *rp) {
    struct server *s = rq->srv;
    struct status_recent *r = s->recent;
    struct episode *eps[STATUS_RECENT_MAX];
    struct sandbox_caps caps;
    json_t *recent = json_array(), *reports = json_object(), *splits = splits_json(s->tasks), *sp;
    size_t n = 0, i;

    if (s->cfg.no_status) {
        json_decref(recent);
        json_decref(reports);
        json_decref(splits);
        return http_error(rp, 404, "not_found", "The status page is off (--no-status).");
    }
    sandbox_caps(&caps);
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        /* newest first */
        eps[n] = r->ring[(r->next + STATUS_RECENT_MAX - 1 - i) % STATUS_RECENT_MAX];
        episode_ref(eps[n]);
        n++;
    }
    pthread_mutex_unlock(&r->mu);
    for (i = 0; i < n; i++) {
        if (recent && json_array_append_new(recent, episode_view(eps[i]))) {
            json_decref(recent);
            recent = NULL;
        }
        episode_put(eps[i]);
    }
    json_array_foreach(splits, i, sp) {
        const char *name = json_string_value(sp);

        if (reports && json_object_set_new(reports, name, report_json(s->report, name, NULL, 1))) {
            json_decref(reports);
            reports = NULL;
        }
    }
    if (!recent || !reports || !splits) {
        json_decref(recent);
        json_decref(reports);
        json_decref(splits);
        return http_error(rp, 500, "internal", "Out of memory building the status.");
    }
    return http_json(rp, 200,
                     json_pack("{s:s, s:s, s:I, s:I, s:{s:s, s:b, s:b, s:b, s:b}, s:o, s:o, s:o}",
                               "version", TG_VERSION, "node", s->cfg.node ? s->cfg.node : "",
                               "uptime_sec", (json_int_t)((tg_now_us() - r->start_us) / 1000000),
                               "episodes_in_memory", (json_int_t)episode_store_count(s->episodes),
                               "sandbox", "mode", caps.mode, "namespaces", caps.namespaces,
                               "user_namespace", caps.userns, "seccomp", caps.seccomp, "cgroups",
                               caps.cgroups, "splits", splits, "reports", reports, "recent",
                               recent));
}

/* ---- the page ------------------------------------------------------------------------- */

/* Everything inline: no external asset, so the page works offline and under a strict
 * Content-Security-Policy of its own origin. Data is put in the page with textContent only
 * (prompts, tags and arguments come from agents). */
static const char page[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>toolgym status</title>\n"
    "<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}\n"
    "header{background:#1d2330;color:#fff;padding:10px 18px;display:flex;gap:18px;"
    "align-items:baseline}\n"
    "header h1{font-size:18px;margin:0}header span{opacity:.8}\n"
    "main{padding:12px 18px;display:grid;gap:14px}\n"
    "section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:10px 14px}\n"
    "h2{font-size:15px;margin:0 0 8px}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}\n"
    ".card{border:1px solid #dde1e8;border-radius:6px;padding:6px 12px;min-width:120px}\n"
    ".card b{display:block;font-size:20px}.card small{color:#5b6475}\n"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;"
    "border-bottom:1px solid #eef0f3;vertical-align:top}\n"
    "th{font-weight:600;color:#5b6475}td.num{text-align:right;font-variant-numeric:"
    "tabular-nums}\n"
    "code{font:12px ui-monospace,monospace;word-break:break-all}\n"
    ".ep{border-top:1px solid #dde1e8;padding:8px 0}.ep:first-child{border-top:0}\n"
    ".lbl{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;color:#fff;"
    "background:#6b7280}\n"
    ".necessary,.correct{background:#15803d}.redundant,.unnecessary,.partial{background:#b45309}\n"
    ".premature,.wrong_args{background:#c2410c}.malformed,.incorrect,.step_limit{background:"
    "#b91c1c}\n"
    ".on{color:#15803d;font-weight:600}.off{color:#b91c1c;font-weight:600}\n"
    "#err{color:#b91c1c}\n"
    "</style></head><body>\n"
    "<header><h1>toolgym</h1><span id=\"ver\"></span><span id=\"node\"></span>"
    "<span id=\"up\"></span><span id=\"err\"></span></header>\n"
    "<main>\n"
    "<section><h2>Counters</h2><div class=\"cards\" id=\"counters\"></div></section>\n"
    "<section><h2>Sandbox layers</h2><div class=\"cards\" id=\"sandbox\"></div></section>\n"
    "<section><h2>Latest episodes</h2><div id=\"recent\"></div></section>\n"
    "<section><h2>Report</h2><div id=\"reports\"></div></section>\n"
    "</main>\n"
    "<script>\n"
    "'use strict';\n"
    "let key = sessionStorage.getItem('toolgym-key') || '';\n"
    "function el(tag, text, cls) { const e = document.createElement(tag);\n"
    "  if (text !== undefined && text !== null) e.textContent = String(text);\n"
    "  if (cls) e.className = cls; return e; }\n"
    "function num(v, d) { return typeof v === 'number' ? (Number.isInteger(v) ? String(v) :"
    " v.toFixed(d === undefined ? 3 : d)) : '-'; }\n"
    "async function get(path) {\n"
    "  const h = key ? {Authorization: 'Bearer ' + key} : {};\n"
    "  const r = await fetch(path, {headers: h, cache: 'no-store'});\n"
    "  if (r.status === 401) {\n"
    "    const k = prompt('This server needs an API key');\n"
    "    if (k) { key = k; sessionStorage.setItem('toolgym-key', k); }\n"
    "    throw new Error('unauthorized');\n"
    "  }\n"
    "  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);\n"
    "  return r;\n"
    "}\n"
    "/* sums of Prometheus families, and by one label */\n"
    "function metrics(text) {\n"
    "  const m = {};\n"
    "  for (const line of text.split('\\n')) {\n"
    "    if (!line || line[0] === '#') continue;\n"
    "    const sp = line.lastIndexOf(' '); const v = parseFloat(line.slice(sp + 1));\n"
    "    const head = line.slice(0, sp); const b = head.indexOf('{');\n"
    "    const fam = b < 0 ? head : head.slice(0, b);\n"
    "    const labels = {}; if (b >= 0) head.slice(b + 1, -1).replace(/(\\w+)=\"([^\"]*)\"/g,"
    " (_, k, x) => { labels[k] = x; });\n"
    "    (m[fam] = m[fam] || []).push({labels, v});\n"
    "  }\n"
    "  return m;\n"
    "}\n"
    "function sum(m, fam, key, val) { let s = 0; for (const x of m[fam] || [])\n"
    "  if (!key || x.labels[key] === val) s += x.v; return s; }\n"
    "function by(m, fam, key) { const o = {}; for (const x of m[fam] || []) {\n"
    "  const k = x.labels[key]; if (k !== undefined) o[k] = (o[k] || 0) + x.v; } return o; }\n"
    "function card(parent, label, value, cls) { const c = el('div', null, 'card');\n"
    "  c.appendChild(el('b', value, cls)); c.appendChild(el('small', label));"
    " parent.appendChild(c); }\n"
    "function renderCounters(st, m) {\n"
    "  const c = document.getElementById('counters'); c.replaceChildren();\n"
    "  card(c, 'HTTP requests', sum(m, 'toolgym_http_requests_total'));\n"
    "  card(c, 'episodes started', sum(m, 'toolgym_episodes_started_total'));\n"
    "  card(c, 'episodes finished', sum(m, 'toolgym_episodes_finished_total'));\n"
    "  card(c, 'episodes in memory', st.episodes_in_memory);\n"
    "  const tools = by(m, 'toolgym_tool_calls_total', 'tool');\n"
    "  for (const t of Object.keys(tools).sort()) card(c, t + ' calls', tools[t]);\n"
    "  const labels = by(m, 'toolgym_judge_labels_total', 'label');\n"
    "  for (const l of Object.keys(labels).sort()) card(c, l, labels[l]);\n"
    "  card(c, 'sandbox runs', sum(m, 'toolgym_sandbox_runs_total'));\n"
    "}\n"
    "function renderSandbox(st) {\n"
    "  const c = document.getElementById('sandbox'); c.replaceChildren();\n"
    "  card(c, 'mode', st.sandbox.mode, st.sandbox.mode === 'unavailable' ? 'off' : 'on');\n"
    "  for (const k of ['namespaces', 'user_namespace', 'seccomp', 'cgroups'])\n"
    "    card(c, k, st.sandbox[k] ? 'active' : 'off', st.sandbox[k] ? 'on' : 'off');\n"
    "}\n"
    "function renderRecent(st) {\n"
    "  const c = document.getElementById('recent'); c.replaceChildren();\n"
    "  if (!st.recent.length) c.appendChild(el('p', 'No episode has finished yet.'));\n"
    "  for (const e of st.recent) {\n"
    "    const d = el('div', null, 'ep');\n"
    "    const h = el('div'); h.appendChild(el('code', e.episode_id, 'eid'));\n"
    "    h.appendChild(document.createTextNode(' task ' + e.task_id + ' (' + e.split + '), tag '"
    " + (e.tag || '-') + ', reward mode ' + e.reward_mode + ': '));\n"
    "    h.appendChild(el('span', e.outcome, 'lbl ' + e.outcome));\n"
    "    h.appendChild(document.createTextNode(' return ' + num(e.return)));\n"
    "    d.appendChild(h);\n"
    "    const t = el('table'); const hr = el('tr');\n"
    "    for (const x of ['#', 'action', 'observation', 'label', 'reward']) hr.appendChild(el('th',"
    " x));\n"
    "    t.appendChild(hr);\n"
    "    e.steps.forEach((s, i) => { const r = el('tr'); r.appendChild(el('td', i + 1, 'num'));\n"
    "      const a = el('td'); a.appendChild(el('code', s.tool ? s.tool + ' ' + s.arguments :"
    " 'answer: ' + s.answer)); r.appendChild(a);\n"
    "      const o = el('td'); if (s.observation !== undefined) o.appendChild(el('code',"
    " s.observation)); r.appendChild(o);\n"
    "      const l = el('td'); l.appendChild(el('span', s.label, 'lbl ' + s.label));"
    " r.appendChild(l);\n"
    "      r.appendChild(el('td', num(s.reward), 'num')); t.appendChild(r); });\n"
    "    d.appendChild(t); c.appendChild(d);\n"
    "  }\n"
    "}\n"
    "const COLS = ['episodes', 'unfinished', 'answer_accuracy', 'grounded_accuracy',"
    " 'tool_selection_accuracy', 'argument_accuracy', 'exact_plan_match', 'calls_per_episode',"
    " 'wasted_calls_per_episode', 'tool_productivity'];\n"
    "function reportRow(t, name, r) { const tr = el('tr'); tr.appendChild(el('td', name));\n"
    "  for (const k of COLS) tr.appendChild(el('td', num(r[k]), 'num')); t.appendChild(tr); }\n"
    "function renderReports(st) {\n"
    "  const c = document.getElementById('reports'); c.replaceChildren();\n"
    "  for (const split of st.splits) {\n"
    "    const r = st.reports[split]; c.appendChild(el('h2', 'split ' + split));\n"
    "    const t = el('table'); const hr = el('tr'); hr.appendChild(el('th', 'task tag'));\n"
    "    for (const k of COLS) hr.appendChild(el('th', k.replace(/_/g, ' ')));\n"
    "    t.appendChild(hr); reportRow(t, 'all', r);\n"
    "    for (const tag of Object.keys(r.by_tag || {}).sort()) reportRow(t, tag,"
    " r.by_tag[tag]);\n"
    "    c.appendChild(t);\n"
    "    const lt = el('p'); lt.textContent = 'label rates: ' + Object.keys(r.labels || {})"
    ".map(k => k + ' ' + num(r.labels[k])).join(', '); c.appendChild(lt);\n"
    "  }\n"
    "}\n"
    "async function refresh() {\n"
    "  try {\n"
    "    const st = await (await get('/v1/status')).json();\n"
    "    const m = metrics(await (await get('/metrics')).text());\n"
    "    document.getElementById('ver').textContent = 'version ' + st.version;\n"
    "    document.getElementById('node').textContent = st.node ? 'node ' + st.node : '';\n"
    "    document.getElementById('up').textContent = 'up ' + st.uptime_sec + ' s';\n"
    "    document.getElementById('err').textContent = '';\n"
    "    renderCounters(st, m); renderSandbox(st); renderRecent(st); renderReports(st);\n"
    "    document.body.dataset.ready = '1';\n"
    "  } catch (e) { document.getElementById('err').textContent = String(e.message || e); }\n"
    "}\n"
    "refresh(); setInterval(refresh, 2000);\n"
    "</script></body></html>\n";

int api_status_page(struct http_req *rq, struct http_reply *rp) {
    if (rq->srv->cfg.no_status)
        return http_error(rp, 404, "not_found", "The status page is off (--no-status).");
    rp->text = strdup(page);
    if (!rp->text)
        return http_error(rp, 500, "internal", "Out of memory.");
    rp->status = 200;
    rp->content_type = "text/html; charset=utf-8";
    return 0;
}
