/*
 * policy_agent.c — the policy of a checkpoint as an eval agent. See policy_agent.h.
 */
#include "policy/policy_agent.h"

#include <stdlib.h>
#include <string.h>

#include "policy/ckpt.h"
#include "policy/policy.h"
#include "policy/seq.h"
#include "policy/view.h"

struct agent_state {
    struct policy pol;
    struct policy_scratch sc;
    struct view view;
};

/* the agent's view (prompt and history) rebuilt from the turn, then the greedy action */
static json_t *agent_act(struct eval_agent *a, const struct eval_turn *t) {
    struct agent_state *as = a->state;
    const char *prompt =
        json_string_value(json_object_get(json_object_get(t->episode, "task"), "prompt"));
    long ms = (long)json_integer_value(json_object_get(t->episode, "max_steps"));
    struct policy_action act;
    struct tg_error e;
    const json_t *h;
    size_t i;

    if (!prompt || view_init(&as->view, prompt, ms > 0 ? (int)ms : 8, &e))
        return NULL;
    json_array_foreach(t->history, i, h) {
        const json_t *call = json_object_get(json_object_get(h, "action"), "tool_call");
        const json_t *obs = json_object_get(json_object_get(h, "reply"), "observation");

        if (!call || view_push(&as->view, call, obs, &e))
            return NULL;
    }
    seq_build(&as->sc.seq, &as->view, &as->pol.voc, (uint32_t)as->pol.net.cfg.buckets, as->pol.lex);
    policy_decide(&as->pol, &as->sc, &as->sc.seq, POLICY_GREEDY, NULL, &act);
    return act_request(&as->pol.voc, &as->sc.seq, act.out, act.n, NULL);
}

static void agent_destroy(struct eval_agent *a) {
    struct agent_state *as = a->state;

    if (as) {
        policy_scratch_free(&as->sc);
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
    rc = ckpt_load(o->checkpoint, &as->pol, NULL, NULL, NULL, NULL, err);
    if (rc == 0)
        rc = policy_scratch_init(&as->sc, &as->pol, err);
    if (rc) {
        policy_scratch_free(&as->sc);
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
