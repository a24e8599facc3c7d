/*
 * policy_agent.c — the policy of a checkpoint as an eval agent. See policy_agent.h.
 */
#include "policy/policy_agent.h"

#include <stdlib.h>
#include <string.h>

#include "policy/candidates.h"
#include "policy/ckpt.h"
#include "policy/features.h"
#include "policy/policy.h"

struct agent_state {
    struct policy pol;
    struct cand_state st;
};

/* the agent's view (prompt and history) rebuilt from the turn, then the best candidate */
static json_t *agent_act(struct eval_agent *a, const struct eval_turn *t) {
    struct agent_state *as = a->state;
    const char *prompt =
        json_string_value(json_object_get(json_object_get(t->episode, "task"), "prompt"));
    long ms = (long)json_integer_value(json_object_get(t->episode, "max_steps"));
    struct tg_error e;
    const json_t *h;
    size_t i;
    int n;

    if (!prompt || cand_state_init(&as->st, prompt, ms > 0 ? (int)ms : 8, &e))
        return NULL;
    json_array_foreach(t->history, i, h) {
        const json_t *call = json_object_get(json_object_get(h, "action"), "tool_call");

        if (!call || cand_state_push_call(&as->st, call, json_object_get(h, "reply"), &e))
            return NULL;
    }
    n = policy_score(&as->pol, &as->st, &e);
    if (n <= 0)
        return NULL;
    return cand_action_json(&as->pol.cl->c[policy_best(&as->pol, n)]);
}

static void agent_destroy(struct eval_agent *a) {
    struct agent_state *as = a->state;

    if (as) {
        policy_free(&as->pol);
        free(as);
    }
    a->state = NULL;
}

int policy_agent_new(const struct eval_options *o, struct eval_agent *out, struct tg_error *err) {
    struct agent_state *as;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!o->checkpoint) {
        tg_error_set(err, TG_CODE_CONFIG, "--agent policy needs --checkpoint FILE");
        return TG_EINVAL;
    }
    as = calloc(1, sizeof(*as));
    if (!as) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    rc = ckpt_load(o->checkpoint, NULL, &as->pol.m, NULL, NULL, NULL, err);
    if (rc == 0 && as->pol.m.cfg.in_dim != FEAT_DIM) {
        tg_error_set(err, "size_mismatch",
                     "checkpoint %s has %d input features; this build uses %d", o->checkpoint,
                     as->pol.m.cfg.in_dim, FEAT_DIM);
        rc = TG_EINVAL;
    }
    if (rc == 0)
        rc = policy_scratch(&as->pol, err);
    if (rc) {
        policy_free(&as->pol);
        free(as);
        return rc;
    }
    out->name = "policy";
    out->state = as;
    out->act = agent_act;
    out->destroy = agent_destroy;
    return 0;
}
