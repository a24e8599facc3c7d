/*
 * candidates.h — what an agent knows in an episode (the prompt and the observations so far) and
 * the candidate actions offered to the policy at each step.
 *
 * Does: parse a task prompt (tokens, numbers, capitalised entity spans, content words, and a
 * small lexicon of arithmetic words), record each step's action and observation (search hits,
 * calculator values, run_code stdout), and list EVERY tool with several argument variants plus
 * every answer candidate:
 *   search     — each entity alone, with each content word, with all content words; the
 *                content words alone; the whole prompt (distractors included on purpose);
 *   calculator — the prompt's own expression if it holds one; every pair of known numbers
 *                (prompt numbers, numbers found in search snippets, earlier results) with
 *                + - * / (both orders where it matters) and their mean;
 *   run_code   — a small library of program templates (primes below N, Fibonacci mod M, digit
 *                sum of 2^N, Collatz steps, triangular number, factorial digit count)
 *                instantiated with the prompt's numbers;
 *   answers    — numbers in the search snippets, earlier calculator values, run_code output,
 *                prompt numbers, and "mental" arithmetic on two prompt numbers (integers
 *                below 100 with an integer result only: easy sums an agent does in its head).
 * Repeats of earlier calls are offered too (flagged), so the policy can learn not to repeat.
 * Does not: score, choose, or talk HTTP; know the task's plan or answer (an agent never sees
 * them). Which candidate is right is for the policy to learn.
 * Thread-safety: plain caller-owned structs; no globals besides constant tables.
 */
#ifndef TG_CANDIDATES_H
#define TG_CANDIDATES_H

#include <jansson.h>

#include "base/limits.h"
#include "base/tg.h"

enum cand_kind { CAND_SEARCH = 0, CAND_CALC = 1, CAND_CODE = 2, CAND_ANSWER = 3, CAND_KINDS };

/* search variants */
enum { CV_S_ENTITY = 0, CV_S_ENTITY_WORD, CV_S_ENTITY_ALL, CV_S_WORDS, CV_S_PROMPT };
/* calculator variants */
enum { CV_C_PROMPT_EXPR = 0, CV_C_BINARY, CV_C_MEAN, CV_C_UNARY };
/* answer sources */
enum { CV_A_SNIPPET = 0, CV_A_CALC, CV_A_CODE, CV_A_PROMPT, CV_A_MENTAL, CV_A_EXPR };

/* operators (calculator and mental answers) and lexicon classes of prompt words */
enum cand_op { OP_NONE = 0, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MEAN, OP_COUNT };

/* sources of a number */
enum num_src { NSRC_PROMPT = 0, NSRC_SNIPPET, NSRC_CALC, NSRC_CODE };

struct cand_num {
    double v;
    char text[32];  /* as written */
    int src;        /* enum num_src */
    int step;       /* step that produced it (-1: prompt) */
    int pos;        /* prompt: index among prompt numbers; snippet: hit rank */
    int ppos;       /* where the number stands in the prompt: its offset, or the offset of the
                       entity it was found for; -1 unknown */
    float overlap;  /* snippet: fraction of prompt content words in the number's sentence */
    int title_hit;  /* snippet: the hit's title is one of the prompt's entities */
    int is_year;    /* looks like a year (integer 1000..2100) */
    unsigned emask; /* bit e: derived from a fact found under prompt entity e */
};

struct cand_hit {
    char title[TG_CAND_TITLE_MAX];
    char snippet[TG_SNIPPET_CHARS + 64];
};

/* one past step as the agent saw it */
struct cand_step {
    int kind;                    /* enum cand_kind */
    char text[TG_CAND_TEXT_MAX]; /* query, expression, code or answer */
    int ok;                      /* the tool returned ok:true */
    double value;                /* calculator value / parsed stdout */
    int has_value;
    int nhits;
    struct cand_hit hits[TG_CAND_HITS_MAX];
    char label[24]; /* the judge's label (for statistics only; never a feature) */
    unsigned emask; /* calculator: bit e when an operand is a fact found under entity e */
};

/* the agent's view of one episode; a plain struct, safe to copy (fork copies a prefix) */
struct cand_state {
    char prompt[TG_TASK_PROMPT_MAX];
    int ntok;
    char tok[TG_CAND_TOKENS_MAX][TG_CAND_WORD_MAX]; /* lowercased, crudely stemmed */
    int nnum;
    struct cand_num num[TG_CAND_NUMS_MAX]; /* prompt numbers, in order */
    int nent;
    char ent[TG_CAND_ENTS_MAX][TG_CAND_TITLE_MAX]; /* capitalised spans */
    int ent_first[TG_CAND_ENTS_MAX];               /* span starts the prompt */
    int nword;
    char word[TG_CAND_WORDS_MAX][TG_CAND_WORD_MAX]; /* content words (not entity, not op) */
    int opclass[OP_COUNT];                          /* lexicon hits per operator class */
    char expr[TG_CAND_TEXT_MAX];                    /* arithmetic expression in the prompt */
    int max_steps;
    int nstep;
    struct cand_step steps[TG_CAND_STEPS_MAX];
};

struct cand {
    int kind;    /* enum cand_kind */
    int variant; /* CV_* of its kind; run_code: template id */
    int op;      /* enum cand_op (calculator, mental) */
    char text[TG_CAND_TEXT_MAX];
    int nops;         /* operands used */
    int src[2];       /* enum num_src of each operand */
    int from_latest;  /* an operand / the answer comes from the latest step */
    int larger_first; /* first operand >= second */
    int result_int;   /* the (known) result is an integer */
    int result_neg;
    float overlap;     /* answer/operands from snippets: best attribute overlap */
    float min_overlap; /* two operands: the worse snippet operand's overlap (1: none) */
    int title_hit;     /* snippet numbers: from a hit titled like a prompt entity */
    int ent;           /* search: entity index, -1 none */
    int ent_searched;  /* search: that entity was already in an earlier query */
    int nwords;        /* search: content words in the query */
    int word;          /* search: the one content word added (CV_S_ENTITY_WORD), else -1 */
    int dup;           /* same tool and text as an earlier call */
    int arg_largest;   /* run_code: the main argument is the largest prompt number */
    int described;     /* run_code: the prompt names what the program computes ("prime") */
    int is_year;
    int order_known; /* both operands have a prompt position */
    int sem_order;   /* operands in the prompt's reading order ("B from A" reads A, B) */
    unsigned emask;  /* bit e: its number(s) derive from facts found under prompt entity e */
};

struct cand_list {
    int n;
    struct cand c[TG_CAND_MAX];
};

/*
 * cand_state_init — parse prompt into *s (zeroed first). max_steps: the episode's limit.
 * Returns 0, or TG_ERANGE (message in *err) when the prompt is longer than TG_TASK_PROMPT_MAX.
 */
int cand_state_init(struct cand_state *s, const char *prompt, int max_steps, struct tg_error *err);

/*
 * cand_state_push — record one step: the action (cand borrowed) and the server's step
 * response `resp` (borrowed JSON: observation, judgement). Returns 0, TG_ERANGE when the
 * state holds TG_CAND_STEPS_MAX steps already, or TG_EINVAL (message) for a malformed
 * observation.
 */
int cand_state_push(struct cand_state *s, const struct cand *c, const json_t *resp,
                    struct tg_error *err);

/*
 * cand_state_push_call — record an expert tool call given as {"name","arguments"} (borrowed),
 * as cand_state_push does for a candidate. Used to replay anchors. 0, TG_EINVAL or TG_ERANGE.
 */
int cand_state_push_call(struct cand_state *s, const json_t *call, const json_t *resp,
                         struct tg_error *err);

/* cand_generate — fill *out with every candidate for the state's next step. Never fails;
 * when more than TG_CAND_MAX would be made, the later ones of a kind are dropped. */
void cand_generate(const struct cand_state *s, struct cand_list *out);

/*
 * cand_action_json — the step request body for c: {"tool_call":{...}} or {"answer":"..."}.
 * Returns new JSON or NULL on ENOMEM.
 */
json_t *cand_action_json(const struct cand *c);

/* cand_kind_name — "search" | "calculator" | "run_code" | "answer" (static). */
const char *cand_kind_name(int kind);

/* cand_code_templates — how many run_code templates exist (feature sizing). */
int cand_code_templates(void);

#endif
