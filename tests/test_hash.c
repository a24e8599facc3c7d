/*
 * test_hash.c — suites `hash` and `rng`: FNV-1a against published vectors, toolgym's short
 * basis pinned, and the exported splitmix64 step against its reference values.
 */
#include <stdint.h>
#include <string.h>

#include "base/hash.h"
#include "base/rng.h"
#include "server/taskgen.h"
#include "tg_test.h"

/* Which of d00001..d00020 are test-split entities under seed 1, worked out independently of
 * this code from the FNV-1a and splitmix64 definitions. */
#define PINNED_TEST_ENTITIES "............TTT.T..."

TG_TEST(hash, fnv64_published_vectors) {
    CU_ASSERT_EQUAL(hash_fnv64_str(HASH_FNV64_BASIS, ""), 0xcbf29ce484222325ULL);
    CU_ASSERT_EQUAL(hash_fnv64_str(HASH_FNV64_BASIS, "a"), 0xaf63dc4c8601ec8cULL);
    CU_ASSERT_EQUAL(hash_fnv64_str(HASH_FNV64_BASIS, "foobar"), 0x85944171f73967e8ULL);
    CU_ASSERT_EQUAL(hash_fnv64(HASH_FNV64_BASIS, "foobar", 6), 0x85944171f73967e8ULL);
    CU_ASSERT_EQUAL(hash_fnv64(HASH_FNV64_BASIS, NULL, 0), HASH_FNV64_BASIS);
}

TG_TEST(hash, fnv32_published_vectors) {
    CU_ASSERT_EQUAL(hash_fnv32_str(HASH_FNV32_BASIS, ""), 0x811c9dc5u);
    CU_ASSERT_EQUAL(hash_fnv32_str(HASH_FNV32_BASIS, "a"), 0xe40c292cu);
    CU_ASSERT_EQUAL(hash_fnv32_str(HASH_FNV32_BASIS, "foobar"), 0xbf9cf968u);
    CU_ASSERT_EQUAL(hash_fnv32(HASH_FNV32_BASIS, "foobar", 6), 0xbf9cf968u);
}

TG_TEST(hash, chaining_equals_one_pass) {
    uint64_t h = hash_fnv64_str(HASH_FNV64_BASIS, "foo");

    CU_ASSERT_EQUAL(hash_fnv64_str(h, "bar"), hash_fnv64_str(HASH_FNV64_BASIS, "foobar"));
    CU_ASSERT_EQUAL(hash_fnv32_str(hash_fnv32_str(HASH_FNV32_BASIS, "fo"), "obar"),
                    hash_fnv32_str(HASH_FNV32_BASIS, "foobar"));
}

TG_TEST(hash, u32_is_its_bytes_least_significant_first) {
    const unsigned char le[4] = {0x78, 0x56, 0x34, 0x12};

    CU_ASSERT_EQUAL(hash_fnv32_u32(HASH_FNV32_BASIS, 0x12345678u),
                    hash_fnv32(HASH_FNV32_BASIS, le, 4));
    CU_ASSERT_NOT_EQUAL(hash_fnv32_u32(HASH_FNV32_BASIS, 1), hash_fnv32_u32(HASH_FNV32_BASIS, 2));
}

/* The task split and the shipped task files depend on these exact values: a changed basis
 * (say, "fixing" the missing digit) must fail here, not silently reshuffle data/tasks. */
TG_TEST(hash, toolgym_basis_is_kept) {
    CU_ASSERT_EQUAL(HASH_FNV64_BASIS_TG, 1469598103934665603ULL);
    CU_ASSERT_NOT_EQUAL(HASH_FNV64_BASIS_TG, HASH_FNV64_BASIS);
    CU_ASSERT_EQUAL(hash_tg_str(""), 1469598103934665603ULL);
    CU_ASSERT_EQUAL(hash_tg_str("d00001"), hash_fnv64_str(HASH_FNV64_BASIS_TG, "d00001"));
    CU_ASSERT_EQUAL(hash_tg_str("a"), (1469598103934665603ULL ^ 'a') * 1099511628211ULL);
}

TG_TEST(hash, test_entities_of_seed_1_are_pinned) {
    static const char *ids[] = {"d00001", "d00002", "d00003", "d00004", "d00005",
                                "d00006", "d00007", "d00008", "d00009", "d00010",
                                "d00011", "d00012", "d00013", "d00014", "d00015",
                                "d00016", "d00017", "d00018", "d00019", "d00020"};
    char got[sizeof(ids) / sizeof(ids[0]) + 1];

    for (size_t i = 0; i < TG_ARRAY_LEN(ids); i++)
        got[i] = taskgen_is_test_entity(1, ids[i]) ? 'T' : '.';
    got[TG_ARRAY_LEN(ids)] = '\0';
    CU_ASSERT_STRING_EQUAL(got, PINNED_TEST_ENTITIES);
}

TG_TEST(rng, splitmix64_reference_values) {
    /* the first outputs of splitmix64 from state 0 and from 1234567 (the reference C code) */
    uint64_t s = 0;

    CU_ASSERT_EQUAL(rng_splitmix64(&s), 0xe220a8397b1dcdafULL);
    CU_ASSERT_EQUAL(rng_splitmix64(&s), 0x6e789e6aa1b965f4ULL);
    CU_ASSERT_EQUAL(rng_splitmix64(&s), 0x06c45d188009454fULL);
    CU_ASSERT_EQUAL(s, 3 * 0x9e3779b97f4a7c15ULL);
    s = 1234567;
    CU_ASSERT_EQUAL(rng_splitmix64(&s), 6457827717110365317ULL);
    CU_ASSERT_EQUAL(rng_splitmix64(&s), 3203168211198807973ULL);
}

TG_TEST(rng, mix64_is_one_step_without_state) {
    uint64_t s = 42;
    uint64_t first = rng_splitmix64(&s);

    CU_ASSERT_EQUAL(rng_mix64(42), first);
    CU_ASSERT_EQUAL(rng_mix64(s), rng_splitmix64(&s)); /* mix of the state = the next draw */
    CU_ASSERT_NOT_EQUAL(rng_mix64(0), rng_mix64(1));
}

TG_TEST(rng, xoshiro_seeding_is_unchanged) {
    struct rng a, b;
    uint64_t s = 5;

    rng_seed(&a, 5);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(a.s[i], rng_splitmix64(&s));
    rng_seed(&b, 5);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(rng_u64(&a), rng_u64(&b));
}
