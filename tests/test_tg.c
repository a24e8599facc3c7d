/*
 * test_tg.c — suite `tg`: the enum-name helpers of base/tg.h that every name table uses.
 */
#include <string.h>

#include "base/tg.h"
#include "tg_test.h"

static const char *const names[] = {"judge", "torl", NULL, "otc"};

TG_TEST(tg, name_of_is_bounded) {
    CU_ASSERT_STRING_EQUAL(tg_name_of(names, TG_ARRAY_LEN(names), 0), "judge");
    CU_ASSERT_STRING_EQUAL(tg_name_of(names, TG_ARRAY_LEN(names), 3), "otc");
    CU_ASSERT_STRING_EQUAL(tg_name_of(names, TG_ARRAY_LEN(names), 4), "?");
    CU_ASSERT_STRING_EQUAL(tg_name_of(names, TG_ARRAY_LEN(names), -1), "?");
}

TG_TEST(tg, name_index_finds_exact_names_only) {
    CU_ASSERT_EQUAL(tg_name_index(names, TG_ARRAY_LEN(names), "torl"), 1);
    CU_ASSERT_EQUAL(tg_name_index(names, TG_ARRAY_LEN(names), "otc"), 3); /* past a gap */
    CU_ASSERT_EQUAL(tg_name_index(names, TG_ARRAY_LEN(names), "Torl"), -1);
    CU_ASSERT_EQUAL(tg_name_index(names, TG_ARRAY_LEN(names), "tor"), -1);
    CU_ASSERT_EQUAL(tg_name_index(names, TG_ARRAY_LEN(names), ""), -1);
    CU_ASSERT_EQUAL(tg_name_index(names, TG_ARRAY_LEN(names), NULL), -1);
    CU_ASSERT_EQUAL(tg_name_index(names, 1, "otc"), -1); /* only the first n are searched */
}
