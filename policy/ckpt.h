/*
 * ckpt.h — save and load a trainer checkpoint: the policy (network shape, learned output
 * symbols, parameters), the Adam state, the learning-rate schedule's state, the RNG state and
 * the run's progress, in one file with a magic number, a version and a CRC32.
 *
 * File layout (all integers and floats little-endian, floats IEEE-754):
 *   "TGCK"  u32 version (CKPT_VERSION)  u64 payload_bytes  payload  u32 crc32(payload)
 *   payload:
 *     u32 d, heads, layers, ffn, buckets, nsym, lexicon (lexicon_fingerprint, 0: none);
 *     u64 num_params; f32 params[num_params]
 *     symbols: u32 nconst, f64 value x nconst; u32 nword, (u32 len, bytes) x nword;
 *       u32 ntmpl, (u32 nslots, u32 len, bytes) x ntmpl
 *     f32 beta1, beta2, eps, weight_decay; i64 adam_step; f32 m[num_params]; f32 v[num_params]
 *     schedule: config (kind, signal, constant lr, cosine, greedy settings), i64 t, f64 lr,
 *       GreedyLR state (counters, best, holds, at-min count, window of `window_size` f64)
 *     u64 rng[4]
 *     u32 phase, u64 warm-up steps done, u64 RL updates done
 * Saving writes PATH.tmp.PID, fsyncs it and renames it over PATH, so a crash never leaves a
 * half-written checkpoint under PATH. The same state gives the same bytes.
 *
 * Does: serialise, validate (magic, version, sizes, CRC, every config value, the symbols)
 * and restore.
 * Does not: decide when to save, or keep the file open.
 * Thread-safety: none needed beyond the caller's: it only reads the structs it is given.
 */
#ifndef TG_CKPT_H
#define TG_CKPT_H

#include "base/rng.h"
#include "base/tg.h"
#include "policy/optim.h"
#include "policy/policy.h"
#include "policy/sched.h"

#define CKPT_MAGIC "TGCK"
#define CKPT_VERSION                                                                               \
    6u /* 3: the policy that reads text (encoder, pointer decoder, symbols);                       \
          4: with match-class attention and pointer value comparison;                              \
          5: with the pointer place bias and the soft rank of number pointers;                     \
          6: with the WordNet lexicon's fingerprint (0: none) */

/* how far a run got */
struct ckpt_progress {
    int phase;        /* 0 warm-up, 1 RL */
    long warmup_done; /* warm-up steps */
    long rl_done;     /* RL updates */
};

/*
 * ckpt_save — write pol (its parameters and symbols; not gradients or frozen flags), a, s, r
 * and pg to path atomically. All borrowed; a->n must equal the network's parameter count.
 * Returns 0, TG_EINVAL (mismatched sizes, path too long) or TG_EIO (with the OS reason) /
 * TG_ENOMEM, message in *err.
 */
int ckpt_save(const char *path, const struct policy *pol, const struct adam *a,
              const struct sched *s, const struct rng *r, const struct ckpt_progress *pg,
              struct tg_error *err);

/*
 * ckpt_load — read path and restore it.
 * pol: out, its network initialised here (free with policy_free); a: out or NULL (new:
 * adam_free); s, r, pg: out or NULL (plain structs).
 * Returns 0; TG_EIO when the file cannot be opened or read; TG_EINVAL when it is not a valid
 * checkpoint, with *err code and message saying which: "bad_magic", "bad_version" (another
 * format, e.g. a checkpoint of the earlier candidate-scoring policy), "lexicon_missing" /
 * "lexicon_mismatch" (it reads words with a WordNet that is not here), "truncated",
 * "size_mismatch", "bad_checksum", "invalid_config". On failure nothing is allocated and
 * the outputs are zeroed (pol, a) or untouched (s, r, pg).
 */
int ckpt_load(const char *path, struct policy *pol, struct adam *a, struct sched *s, struct rng *r,
              struct ckpt_progress *pg, struct tg_error *err);

/* ckpt_crc32 — CRC-32 (IEEE 802.3, reflected 0xEDB88320) of n bytes. */
unsigned long ckpt_crc32(const void *data, size_t n);

#endif
