/*
 * act.h — the policy's actions as token sequences: what can be written (the grammar), the
 * output symbols learned from the train split's expert calls, turning a sequence into a step
 * request, and turning an expert call or a gold answer into the sequences that write it (the
 * warm-up's targets).
 *
 * An action is a sequence of outputs; an output is a symbol or a pointer at a token of the
 * policy's input (seq.h). Output ids: [0, nsym) symbols, nsym + t a pointer at token t.
 *   search     SEARCH  w1 .. wk  EOS       k in 1..TG_ACT_QUERY_MAX; each w a prompt word
 *                                          pointed at or a learned query word
 *   calculator CALC  expr  EOS             expr: operands (numbers pointed at, learned
 *                                          constants), + - * /, ( ), sqrt( ), nested at most
 *                                          TG_ACT_DEPTH_MAX deep
 *   run_code   CODE  TEMPLATE_j  a1 .. an  a learned template and one pointed number per slot
 *   answer     ANSWER  UNKNOWN             "Answer: unknown"
 *              ANSWER  expr  EOS           the expression's value, worked out by the agent
 *                                          ("Answer: 295894"); a pointed number is the
 *                                          simplest expression
 * The grammar is syntax only: which tool, which words, which operands, which operator and in
 * which order are the network's choices. Learned symbols (act_vocab) come from the expert
 * calls of the task file: query words the prompt does not contain ("population" for "how
 * many people live in"), numbers an expression uses that neither the prompt nor an
 * observation shows (the 2 of "double"), and program templates (an expert program with the
 * numbers that vary between tasks turned into slots).
 * Does not: score or choose outputs (policy.h), talk HTTP.
 * Thread-safety: pure functions over caller-owned structs.
 */
#ifndef TG_ACT_H
#define TG_ACT_H

#include <jansson.h>

#include "base/limits.h"
#include "base/tg.h"
#include "policy/seq.h"
#include "policy/view.h"
#include "server/task.h"

enum act_sym {
    SYM_EOS = 0,
    SYM_SEARCH,
    SYM_CALC,
    SYM_CODE,
    SYM_ANSWER,
    SYM_ADD,
    SYM_SUB,
    SYM_MUL,
    SYM_DIV,
    SYM_LPAR,
    SYM_RPAR,
    SYM_SQRT, /* "sqrt(" */
    SYM_UNKNOWN,
    SYM_FIXED /* learned symbols follow: constants, query words, templates */
};

#define ACT_CONST_MAX (TG_ACT_SYMBOLS_MAX / 4)
#define ACT_WORDS_MAX (TG_ACT_SYMBOLS_MAX / 2)

struct act_vocab {
    int nconst;
    double cval[ACT_CONST_MAX];
    int nword;
    char word[ACT_WORDS_MAX][TG_ACT_WORD_MAX];
    int ntmpl;
    char tmpl[TG_ACT_TEMPLATES_MAX][TG_ACT_TEMPLATE_BYTES]; /* slot k written as \x01 'a'+k */
    int nslots[TG_ACT_TEMPLATES_MAX];
};

/* symbols of vocab v: fixed, then constants, words and templates */
int act_nsym(const struct act_vocab *v);
int act_sym_const(const struct act_vocab *v, int i);
int act_sym_word(const struct act_vocab *v, int i);
int act_sym_tmpl(const struct act_vocab *v, int i);

/* ---- learning the symbols from expert calls ------------------------------------------------ */

struct act_learner; /* counts while the expert calls are read */

/* act_learner_new — NULL on ENOMEM. act_learner_free accepts NULL. */
struct act_learner *act_learner_new(void);
void act_learner_free(struct act_learner *l);

/*
 * act_learner_add — count expert call `call` ({"name","arguments"}, borrowed) made in view v
 * (the prompt and the observations before it). 0 or TG_ENOMEM.
 */
int act_learner_add(struct act_learner *l, const struct view *v, const json_t *call);

/*
 * act_learner_finish — the learned symbols into *v: words and constants seen at least
 * min_count times (at most what fits), templates with at least min_count programs, each
 * list sorted so the result does not depend on the order calls were read.
 */
void act_learner_finish(const struct act_learner *l, int min_count, struct act_vocab *v);

/*
 * act_vocab_match_code — which template program `code` is: its index with the slot values
 * in args[0..*nargs), or -1 (*nargs = 0) when it fits none.
 */
int act_vocab_match_code(const struct act_vocab *v, const char *code, double *args, int *nargs);

/* ---- the grammar --------------------------------------------------------------------------- */

struct act_gram {
    int n;       /* outputs so far */
    int tool;    /* SYM_SEARCH .. SYM_ANSWER once chosen, else -1 */
    int done;    /* the action is complete */
    int operand; /* expression: an operand comes next */
    int depth;   /* expression: open parentheses */
    int qlen;    /* search: words so far */
    int tmpl;    /* run_code: the template, -1 before it */
    int slot;    /* run_code: slots filled */
};

void act_gram_init(struct act_gram *g);

/*
 * act_gram_allowed — what may come next: sym[i] = 1 for allowed symbols (nsym of them),
 * ptr[t] = 1 for tokens of s that may be pointed at. Returns how many outputs are allowed
 * (0 only when g is done).
 */
int act_gram_allowed(const struct act_gram *g, const struct act_vocab *v, const struct seq *s,
                     unsigned char *sym, unsigned char *ptr);

/* act_gram_push — advance g past output `out` (an id as above; the caller checked it was
 * allowed). */
void act_gram_push(struct act_gram *g, const struct act_vocab *v, int out);

/* ---- sequences to requests ----------------------------------------------------------------- */

/*
 * act_request — the step request body for outputs out[0..n) (a complete action) over s:
 * {"tool_call":{"name","arguments"}} or {"answer":"Answer: ..."}. *call (may be NULL) gets
 * the tool call alone ({"name","arguments"}, new) for the view, NULL for an answer.
 * Returns new JSON, or NULL on ENOMEM.
 */
json_t *act_request(const struct act_vocab *v, const struct seq *s, const int *out, int n,
                    json_t **call);

/* act_text — the action written out for logs ("search: Lunselcai population"). */
void act_text(const struct act_vocab *v, const struct seq *s, const int *out, int n, char *buf,
              size_t size);

/* ---- expert calls and answers to targets --------------------------------------------------- */

#define ACT_SET_MAX 16 /* outputs that write the same thing at one step */
#define ACT_ALT_MAX 8  /* different sequences that write a correct answer */

/* one target sequence: at step i, any output of set[i][0..nset[i]) is right */
struct act_target {
    int n;
    int nset[TG_ACT_OUT_MAX];
    int set[TG_ACT_OUT_MAX][ACT_SET_MAX];
};

/* a target with alternatives (several derivations of a computed answer) */
struct act_targets {
    int nalt;
    struct act_target alt[ACT_ALT_MAX];
};

/*
 * act_target_call — the target writing expert call `call` (borrowed) over s. Returns 0, or
 * TG_ENOTFOUND when the call cannot be written with these outputs (a word or a number it
 * uses is neither in the input nor learned; a program that fits no template; a form the
 * grammar lacks), with the reason in *err.
 */
int act_target_call(const struct act_vocab *v, const struct seq *s, const json_t *call,
                    struct act_targets *out, struct tg_error *err);

/*
 * act_target_answer — the targets writing a correct final answer for gold answer a over s:
 * "unknown" for an unknown answer; a pointer at every number equal to the answer (within
 * its tolerance); else every expression a op b (two pointable numbers, or one and a learned
 * constant; + - * /) whose value is the answer. 0, or TG_ENOTFOUND with *err.
 */
int act_target_answer(const struct act_vocab *v, const struct seq *s, const struct task_answer *a,
                      struct act_targets *out, struct tg_error *err);

#endif
