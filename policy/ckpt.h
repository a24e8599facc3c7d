/*
 * ckpt.h — save and load a trainer checkpoint: the policy MLP, the Adam state, the learning
 * rate schedule state and one RNG state, in one file with a magic number, a version and a
 * CRC32.
 *
 * File layout (all integers and floats little-endian, floats IEEE-754):
 *   "TGCK"  u32 version (CKPT_VERSION)  u64 payload_bytes  payload  u32 crc32(payload)
 *   payload:
 *     u32 in_dim, hidden1, hidden2; u64 num_params; f32 params[num_params]
 *     f32 beta1, beta2, eps, weight_decay; i64 adam_step; f32 m[num_params]; f32 v[num_params]
 *     schedule: config (kind, signal, constant lr, cosine, greedy settings), i64 t, f64 lr,
 *       GreedyLR state (counters, best, holds, at-min count, window of `window_size` f64)
 *     u64 rng[4]
 * Saving writes PATH.tmp.PID, fsyncs it and renames it over PATH, so a crash never leaves a
 * half-written checkpoint under PATH.
 *
 * Does: serialise, validate (magic, version, sizes, CRC, every config value) and restore.
 * Does not: decide when to save, or keep the file open.
 * Thread-safety: none needed beyond the caller's: it only reads the structs it is given.
 */
#ifndef TG_CKPT_H
#define TG_CKPT_H

#include "base/tg.h"
#include "policy/mlp.h"
#include "policy/optim.h"
#include "base/rng.h"
#include "policy/sched.h"

#define CKPT_MAGIC   "TGCK"
#define CKPT_VERSION 2u /* 2: GreedyLR as the reference defines it (hold, at-min count) */

/*
 * ckpt_save — write m's parameters (not its gradients or frozen flags), a, s and r to path
 * atomically. All four are borrowed; a->n must equal m->num_params.
 * Returns 0, TG_EINVAL (mismatched sizes, path too long) or TG_EIO (with the OS reason) /
 * TG_ENOMEM, message in *err.
 */
int ckpt_save(const char *path, const struct mlp *m, const struct adam *a, const struct sched *s,
              const struct rng *r, struct tg_error *err);

/*
 * ckpt_load — read path and restore it.
 * expect: NULL, or the network config this run needs (a checkpoint for another shape is
 * rejected with "size_mismatch").
 * m: out, initialised here (new: free with mlp_free); a: out or NULL (new: adam_free);
 * s, r: out or NULL (plain structs, nothing to free).
 * Returns 0; TG_EIO when the file cannot be opened or read; TG_EINVAL when it is not a valid
 * checkpoint, with *err code and message saying which: "bad_magic", "bad_version",
 * "truncated", "size_mismatch", "bad_checksum", "invalid_config". On failure nothing is
 * allocated and the outputs are zeroed (m, a) or untouched (s, r).
 */
int ckpt_load(const char *path, const struct mlp_config *expect, struct mlp *m, struct adam *a,
              struct sched *s, struct rng *r, struct tg_error *err);

/* ckpt_crc32 — CRC-32 (IEEE 802.3, reflected 0xEDB88320) of n bytes. */
unsigned long ckpt_crc32(const void *data, size_t n);

#endif
