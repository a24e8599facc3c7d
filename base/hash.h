/*
 * hash.h — FNV-1a, the one string and byte hash of toolgym.
 *
 * Fowler–Noll–Vo 1a in 64 and 32 bits: hash tables (tasks, episodes, search terms, metrics),
 * the code cache's keys, the trainer's hashed features and task generation all use it. Every
 * function takes the running hash h and returns the next one, so a key made of several parts
 * is hashed by chaining calls from a basis.
 *
 * Two 64-bit bases exist. HASH_FNV64_BASIS is the standard offset basis. HASH_FNV64_BASIS_TG is
 * the basis toolgym was written with: the standard one with its last digit missing
 * (1469598103934665603 instead of 14695981039346656037). It hashes as well, and the split of
 * generated tasks into train and test (server/taskgen.c), hence the shipped data/tasks files,
 * depends on its exact values, so the modules that have always used it keep it; new code uses
 * the standard basis.
 *
 * Does not: resist collisions chosen by an attacker (FNV is not keyed; bound chains or probe
 * counts where keys are untrusted), or allocate. Pure and thread-safe.
 */
#ifndef TG_HASH_H
#define TG_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV64_BASIS    14695981039346656037ULL /* the standard FNV-1a 64 offset basis */
#define HASH_FNV64_BASIS_TG 1469598103934665603ULL  /* toolgym's: one digit short; see above */
#define HASH_FNV64_PRIME    1099511628211ULL
#define HASH_FNV32_BASIS    2166136261u
#define HASH_FNV32_PRIME    16777619u

/* hash_fnv64 — continue the 64-bit hash h over n bytes at data (may be NULL when n is 0). */
uint64_t hash_fnv64(uint64_t h, const void *data, size_t n);

/* hash_fnv64_str — continue the 64-bit hash h over the bytes of s, without its NUL. */
uint64_t hash_fnv64_str(uint64_t h, const char *s);

/* hash_tg_str — toolgym's string hash: hash_fnv64_str from HASH_FNV64_BASIS_TG. */
uint64_t hash_tg_str(const char *s);

/* hash_fnv32 — continue the 32-bit hash h over n bytes at data (may be NULL when n is 0). */
uint32_t hash_fnv32(uint32_t h, const void *data, size_t n);

/* hash_fnv32_str — continue the 32-bit hash h over the bytes of s, without its NUL. */
uint32_t hash_fnv32_str(uint32_t h, const char *s);

/* hash_fnv32_u32 — continue the 32-bit hash h over the four bytes of v, least significant
 * first (the same on every byte order). */
uint32_t hash_fnv32_u32(uint32_t h, uint32_t v);

#endif
