/*
 * net.h — the policy network: a small transformer encoder over the token sequence of seq.h
 * and a pointer-generator decoder that writes an action one output at a time (act.h).
 *
 * Encoder (T tokens, width d, H heads of d/H, L blocks, MLP width F):
 *   x0[t] = sum over t's n pieces of Wpiece[piece] / sqrt(n) + Wseg[seg] + Wpos[position in
 * segment]
 *           + Wago[ago] + Wrank[rank] + sum_f feat[t][f] Wfeat[f]
 *   block l (pre-LayerNorm, as GPT-2):
 *     a = LN1(x); q,k,v = a Wqkv^T + bqkv
 *     att[h][i][j] = softmax_j( q_hi . k_hj / sqrt(d/H) + relb[h][bucket(j - i)]
 *                               + sameb[h] [i != j and tokens i, j share a match class] )
 *     x = x + (att v) Wo^T + bo                      bidirectional; relative position biases;
 *       sameb lets a word or number find its other occurrences (the prompt's entity in a query
 *       and in a hit's title) at any distance
 *     x = x + GELU(LN2(x) Wfc^T + bfc) Wproj^T + bproj
 *   H = LNf(x)                                                            (T, d)
 * Decoder (a tanh RNN that reads H by attention and points into it):
 *   g0 = tanh(W0 H[state] + b0)
 *   step s: c = sum_i softmax_i(Wq g . H_i / sqrt(d)) H_i
 *           z = tanh(Wz [g; c] + bz)
 *           logit(symbol v) = Eout[v] . z + bout[v] + e[v]
 *             where e[v] = log mean_i exp(Wev[v] . H_i / sqrt(d)) is the symbol's own evidence
 *             in the input (each symbol attends to the input for what calls for it; computed
 *             once per encoding, the same at every step)
 *           b_i = (Wp z) . H_i / sqrt(d) + covb[min(times a token of i's match
 *                              class was already pointed at, 2)] + Wcmp[cmp_i] . z
 *                              + Wadj[adj_i] . z
 *             where cmp_i compares number i with the last number this action pointed at: 0 no
 *             such number (or i is not a number), 1 smaller, 2 equal, 3 larger (the decoder
 *             cannot read magnitudes from H precisely enough to order operands), and adj_i
 *             places token i against the last token this action pointed at: 0 none, 1 the
 *             token right after it (a span goes on: "Edvin" then "Lirfensur"), 2 another
 *           logit(pointer i) = b_i, and for the allowed pointers at numbers N (when |N| >= 2)
 *             b_i + (Wsr . z) r_i, r_i = sum_{j in N} softmax_N(b)_j sgn(v_i - v_j): where i
 *             stands among the numbers the decoder is considering (larger than them: towards
 *             +1), so it can choose the larger or the smaller candidate before any operand
 *             was pointed at (the first operand of a difference)
 *           outputs the grammar does not allow get no probability (a masked softmax)
 *           g' = tanh(Wg g + Wu u + bg), u = Ein[v] for a symbol, H_i for a pointer
 * Parameters live in ONE contiguous block, laid out layer by layer: layer 0 the input
 * embeddings, layers 1..L the encoder blocks, layer L+1 the final LayerNorm and the decoder.
 * Each layer's tensors are one span of the block (net_layer_span), so a layer can be frozen:
 * its parameter gradients are skipped, and backpropagation stops below the lowest unfrozen
 * layer. Gradients go to a block of the same layout (one per workspace, so threads can run
 * backward at once and the caller sums the blocks in a fixed order).
 * Does: sizing, seeded init, forward (encode, then decoder steps), backward, with shapes in
 * comments as in llm.c. Does not: know the grammar or the loss (policy.c gives the masks and
 * dL/dlogits), or update parameters (optim.h).
 * Thread-safety: forward and backward only read the parameters; each thread needs its own
 * workspace.
 */
#ifndef TG_NET_H
#define TG_NET_H

#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "base/rng.h"
#include "base/tg.h"
#include "policy/seq.h"

#define NET_LAYERS_MAX 4  /* encoder blocks */
#define NET_REL        17 /* relative-position buckets */
#define NET_COV        3  /* coverage buckets: pointed at 0, 1, 2+ times */
#define NET_CMP        4  /* value comparison with the last pointed number: none, <, =, > */
#define NET_ADJ        3  /* place against the last pointed token: none, the next, another */

struct net_config {
    int d;       /* model width */
    int heads;   /* attention heads, dividing d */
    int layers;  /* encoder blocks, 1..NET_LAYERS_MAX */
    int ffn;     /* MLP width */
    int buckets; /* rows of the piece embedding table */
    int nsym;    /* output symbols (act_nsym) */
};

struct net_block {
    float *ln1w, *ln1b;   /* (d) */
    float *wqkv, *bqkv;   /* (3d, d), (3d) */
    float *wo, *bo;       /* (d, d), (d) */
    float *relb;          /* (H, NET_REL) */
    float *sameb;         /* (H) the bias between tokens of one match class */
    float *ln2w, *ln2b;   /* (d) */
    float *wfc, *bfc;     /* (F, d), (F) */
    float *wproj, *bproj; /* (d, F), (d) */
};

/* pointers into one block (parameters, gradients or optimizer moments); shapes in comments */
struct net_params {
    /* layer 0 */
    float *wpiece; /* (buckets, d) */
    float *wseg;   /* (SEG_COUNT, d) */
    float *wpos;   /* (SEQ_POS, d) */
    float *wago;   /* (SEQ_AGO, d) */
    float *wrank;  /* (SEQ_RANK, d) */
    float *wfeat;  /* (SEQ_FEAT, d) */
    /* layers 1..L */
    struct net_block blk[NET_LAYERS_MAX];
    /* layer L+1 */
    float *lnfw, *lnfb;  /* (d) */
    float *w0, *b0;      /* (d, d), (d) */
    float *wq;           /* (d, d) */
    float *wz, *bz;      /* (d, 2d), (d) */
    float *wp;           /* (d, d) */
    float *eout, *bout;  /* (nsym, d), (nsym) */
    float *wev;          /* (nsym, d) */
    float *ein;          /* (nsym, d) */
    float *wg, *wu, *bg; /* (d, d), (d, d), (d) */
    float *covb;         /* (NET_COV) */
    float *wcmp;         /* (NET_CMP, d) */
    float *wadj;         /* (NET_ADJ, d) */
    float *wsr;          /* (d) the soft rank's gate */
};

struct net {
    struct net_config cfg;
    size_t num_params;
    float *params;                        /* (num_params) owned */
    struct net_params p;                  /* into params */
    int nlayers;                          /* L + 2 */
    size_t layer_off[NET_LAYERS_MAX + 3]; /* layer l is [layer_off[l], layer_off[l + 1]) */
    int frozen[NET_LAYERS_MAX + 2];       /* 1: no gradient for that layer */
};

/* activations of one forward pass (one sequence and its decoder steps), kept for backward,
 * and backward scratch; sized for at most TG_SEQ_MAX tokens and TG_ACT_OUT_MAX steps */
struct net_ws {
    int T;                 /* tokens of the last encode */
    int S;                 /* decoder steps taken */
    const struct seq *seq; /* borrowed from the last encode */
    float *grads;          /* (num_params) this workspace's gradient block, owned */
    struct net_params gp;  /* into grads */
    /* encoder */
    float *x0;                                                                /* (T, d) */
    float *ln1[NET_LAYERS_MAX], *ln1m[NET_LAYERS_MAX], *ln1r[NET_LAYERS_MAX]; /* (T,d) (T) (T) */
    float *qkv[NET_LAYERS_MAX];                                               /* (T, 3d) */
    float *att[NET_LAYERS_MAX];                                               /* (H, T, T) */
    float *atty[NET_LAYERS_MAX];                                              /* (T, d) */
    float *res1[NET_LAYERS_MAX];                                              /* (T, d) */
    float *ln2[NET_LAYERS_MAX], *ln2m[NET_LAYERS_MAX], *ln2r[NET_LAYERS_MAX];
    float *fch[NET_LAYERS_MAX];  /* (T, F) */
    float *fcg[NET_LAYERS_MAX];  /* (T, F) */
    float *res2[NET_LAYERS_MAX]; /* (T, d) */
    float *H, *lnfm, *lnfr;      /* (T, d), (T), (T) */
    float *evid;                 /* (nsym) symbol evidence e[v] */
    float *evatt;                /* (nsym, T) its softmax over the tokens */
    float *devid;                /* (nsym) backward scratch */
    /* decoder, per step s */
    float *g;                /* (S + 1, d) */
    float *q;                /* (S, d) */
    float *alpha;            /* (S, T) */
    float *c;                /* (S, d) */
    float *z;                /* (S, d) */
    float *pz;               /* (S, d) */
    float *probs;            /* (S, nsym + T) masked softmax (0 where not allowed) */
    int out[TG_ACT_OUT_MAX]; /* the output taken at each step */
    unsigned char *cov;      /* (S, T) coverage bucket of each token at each step */
    unsigned char *cmp;      /* (S, T) value-comparison bucket of each token at each step */
    unsigned char *adj;      /* (S, T) place bucket against the last pointed token */
    unsigned char *srm;      /* (S, T) 1: a number pointer of the soft rank (allowed, >= 2) */
    float *srp, *srr, *srg;  /* (S, T) its pi, (S, T) r, (S) gamma */
    float *dptr;             /* (T) backward scratch: dL/d(pointer base logits) */
    /* backward scratch */
    float *dx, *dy, *dln, *dqkv, *datty, *dfc, *drow, *dH; /* sized for the largest use */
    float *off; /* (H, 2 * TG_SEQ_MAX) relative biases by offset (forward and backward) */
    float *dg, *dz, *dc, *dq, *dpz, *dzin, *du;
};

/*
 * net_config_check — 0 if the widths are in range (d in [heads, TG_NET_MAX_DIM] and a
 * multiple of heads, layers in [1, NET_LAYERS_MAX], ffn in [1, TG_NET_MAX_DIM], buckets in
 * [1, 1 << 20], nsym in [SYM_FIXED, TG_ACT_SYMBOLS_MAX]) and the parameters at most
 * TG_NET_MAX_PARAMS; TG_EINVAL with a message naming the setting otherwise.
 */
int net_config_check(const struct net_config *c, struct tg_error *err);

/* net_num_params — parameters of a network with this (checked) config. */
size_t net_num_params(const struct net_config *c);

/* net_point — point *p into block (at least net_num_params floats) with the layout above;
 * and the layer offsets into off[0..L+3) when off is not NULL. */
void net_point(struct net_params *p, const struct net_config *c, float *block, size_t *off);

/* net_init — allocate a zeroed parameter block for c. 0, TG_EINVAL (bad config) or TG_ENOMEM,
 * message in *err; on failure *n owns nothing. net_free accepts NULL and a zeroed net. */
int net_init(struct net *n, const struct net_config *c, struct tg_error *err);
void net_free(struct net *n);

/* net_init_weights — seeded initial weights drawn from r in block order. */
void net_init_weights(struct net *n, struct rng *r);

/* net_layer_span — layer l's span of the block; TG_EINVAL for another l. */
int net_layer_span(const struct net *n, int l, size_t *off, size_t *len);

/* net_ws_init — a workspace (activations, scratch, gradient block) for n. 0 or TG_ENOMEM.
 * net_ws_free accepts a zeroed workspace. net_ws_zero_grad zeroes its gradient block. */
int net_ws_init(struct net_ws *w, const struct net *n, struct tg_error *err);
void net_ws_free(struct net_ws *w);
void net_ws_zero_grad(struct net_ws *w, const struct net *n);

/* net_encode — the encoder over s (borrowed until the matching backward): fills w->H and
 * starts the decoder (g0); w->S = 0. */
void net_encode(const struct net *n, struct net_ws *w, const struct seq *s);

/*
 * net_dec_step — the output distribution of decoder step w->S (< TG_ACT_OUT_MAX): allowed
 * symbols sym[0..nsym) and pointers ptr[0..T) (0/1), at least one allowed. The masked
 * softmax goes to w->probs row w->S (dist, if not NULL, points at it: (nsym + T)).
 */
void net_dec_step(const struct net *n, struct net_ws *w, const unsigned char *sym,
                  const unsigned char *ptr, const float **dist);

/* net_dec_take — take output `out` (an allowed id of the current step) and advance the
 * decoder's state; w->S grows by one. */
void net_dec_take(const struct net *n, struct net_ws *w, int out);

/*
 * Backward, after the forward it differentiates (net_encode and the decoder steps):
 *   net_backward_begin zeroes dL/dH;
 *   net_dec_backward, given dL/dlogits (w->S rows of nsym + T, for the steps taken;
 *     borrowed), ADDS the decoder's parameter gradients to w->grads and its part of dL/dH
 *     (call it once per decoder run: a target with several alternatives re-runs the decoder
 *     from g0 for each and calls it each time);
 *   net_enc_backward ADDS the encoder's parameter gradients from dL/dH.
 * Frozen layers get no gradient; backpropagation stops below the lowest unfrozen layer.
 * net_backward is the three in a row. Each returns the multiply-adds done (what freezing
 * saves).
 */
void net_backward_begin(const struct net *n, struct net_ws *w);
long long net_dec_backward(const struct net *n, struct net_ws *w, const float *dlogits);
long long net_enc_backward(const struct net *n, struct net_ws *w);
long long net_backward(const struct net *n, struct net_ws *w, const float *dlogits);

/*
 * Layer ranges, for running the network as pipeline stages (pipetrain.h). Layer l reads the
 * output of layer l - 1, net_layer_out(l - 1): x0 for the embeddings (l = 0), res2[l - 1]
 * for block l - 1 (1 <= l <= L), H for the head (L + 1); layer 0 reads the sequence.
 *   net_forward_layers runs layers [l0, l1) over s (borrowed), the output of layer l0 - 1
 *     already in place when l0 > 0; it sets w->T, w->seq and w->S = 0 (net_encode is the
 *     whole range [0, L + 2)).
 *   net_backward_layers runs the backward of layers [l0, l1), last first, after the forward
 *     of the same range: when l1 = L + 2 from dL/dH (after net_dec_backward), otherwise from
 *     w->dx = dL/d(output of layer l1 - 1); it leaves w->dx = dL/d(output of layer l0 - 1)
 *     when a layer below l0 learns. It stops at the lowest unfrozen layer, as
 *     net_enc_backward (the range [0, L + 2)); returns the multiply-adds done.
 */
float *net_layer_out(const struct net *n, struct net_ws *w, int l);
void net_forward_layers(const struct net *n, struct net_ws *w, const struct seq *s, int l0, int l1);
long long net_backward_layers(const struct net *n, struct net_ws *w, int l0, int l1);

/* net_dec_restart — start the decoder again from g0 (the encoding is kept): w->S = 0. */
void net_dec_restart(struct net_ws *w);

#endif
