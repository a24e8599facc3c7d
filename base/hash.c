/*
 * hash.c — FNV-1a in 64 and 32 bits (see hash.h).
 */
#include "base/hash.h"

uint64_t hash_fnv64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * HASH_FNV64_PRIME;
    return h;
}

uint64_t hash_fnv64_str(uint64_t h, const char *s) {
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * HASH_FNV64_PRIME;
    return h;
}

uint64_t hash_tg_str(const char *s) {
    return hash_fnv64_str(HASH_FNV64_BASIS_TG, s);
}

uint32_t hash_fnv32(uint32_t h, const void *data, size_t n) {
    const unsigned char *p = data;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * HASH_FNV32_PRIME;
    return h;
}

uint32_t hash_fnv32_str(uint32_t h, const char *s) {
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * HASH_FNV32_PRIME;
    return h;
}

uint32_t hash_fnv32_u32(uint32_t h, uint32_t v) {
    for (int i = 0; i < 4; i++)
        h = (h ^ ((v >> (8 * i)) & 0xffu)) * HASH_FNV32_PRIME;
    return h;
}
