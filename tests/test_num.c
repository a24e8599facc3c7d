/*
 * test_num.c — suite `num`: strict whole-string number parsing for options and text.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/num.h"
#include "base/tg.h"
#include "tg_test.h"

TG_TEST(num, long_accepts_whole_numbers_in_range) {
    long v = 7;

    CU_ASSERT_EQUAL(num_long("0", 0, 10, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(num_long("10", 0, 10, &v), 0);
    CU_ASSERT_EQUAL(v, 10);
    CU_ASSERT_EQUAL(num_long("-3", -5, 5, &v), 0);
    CU_ASSERT_EQUAL(v, -3);
    CU_ASSERT_EQUAL(num_long("+4", -5, 5, &v), 0);
    CU_ASSERT_EQUAL(v, 4);
    CU_ASSERT_EQUAL(num_long("0008", 0, 10, &v), 0); /* decimal, not octal */
    CU_ASSERT_EQUAL(v, 8);
    CU_ASSERT_EQUAL(num_long("9223372036854775807", 0, LONG_MAX, &v), 0);
    CU_ASSERT_EQUAL(v, LONG_MAX);
}

TG_TEST(num, long_rejects_malformed_and_leaves_out_alone) {
    static const char *bad[] = {NULL, "",    " 5",   "5 ",  "5x",  "x5", "+",
                                "-",  "--5", "0x10", "1e3", "1.0", "٣"};
    long v = 99;

    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++)
        CU_ASSERT_EQUAL(num_long(bad[i], LONG_MIN, LONG_MAX, &v), TG_EINVAL);
    CU_ASSERT_EQUAL(v, 99);
}

TG_TEST(num, long_out_of_range_is_erange) {
    long v = 99;

    CU_ASSERT_EQUAL(num_long("11", 0, 10, &v), TG_ERANGE);
    CU_ASSERT_EQUAL(num_long("-1", 0, 10, &v), TG_ERANGE);
    CU_ASSERT_EQUAL(num_long("9223372036854775808", LONG_MIN, LONG_MAX, &v), TG_ERANGE);
    CU_ASSERT_EQUAL(num_long("-99999999999999999999", LONG_MIN, LONG_MAX, &v), TG_ERANGE);
    CU_ASSERT_EQUAL(v, 99);
}

TG_TEST(num, u64_full_range_and_no_wraparound) {
    uint64_t v = 5;

    CU_ASSERT_EQUAL(num_u64("18446744073709551615", UINT64_MAX, &v), 0);
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_EQUAL(num_u64("+0", UINT64_MAX, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    v = 5;
    CU_ASSERT_EQUAL(num_u64("18446744073709551616", UINT64_MAX, &v), TG_ERANGE);
    CU_ASSERT_EQUAL(num_u64("-1", UINT64_MAX, &v), TG_EINVAL); /* strtoull would wrap */
    CU_ASSERT_EQUAL(num_u64("1001", 1000, &v), TG_ERANGE);
    CU_ASSERT_EQUAL(num_u64("", UINT64_MAX, &v), TG_EINVAL);
    CU_ASSERT_EQUAL(num_u64(NULL, UINT64_MAX, &v), TG_EINVAL);
    CU_ASSERT_EQUAL(num_u64("12a", UINT64_MAX, &v), TG_EINVAL);
    CU_ASSERT_EQUAL(v, 5);
}

TG_TEST(num, double_accepts_decimal_forms_in_range) {
    double v = 0;

    CU_ASSERT_EQUAL(num_double("0.5", 0, 1, &v), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 0.5, 0);
    CU_ASSERT_EQUAL(num_double("-3", -10, 10, &v), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, -3, 0);
    CU_ASSERT_EQUAL(num_double("1e-4", 0, 1, &v), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 1e-4, 0);
    CU_ASSERT_EQUAL(num_double(".25", 0, 1, &v), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 0.25, 0);
    CU_ASSERT_EQUAL(num_double("2.", 0, 10, &v), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 2, 0);
    CU_ASSERT_EQUAL(num_double("1e-400", 0, 1, &v), 0); /* underflow: nearest double */
    CU_ASSERT(v >= 0 && v < DBL_MIN);
}

TG_TEST(num, double_rejects_nan_inf_hex_and_trailing) {
    static const char *bad[] = {NULL,  "",    ".",         "e5",    " 1", "1 ",  "1x", "nan",
                                "NAN", "inf", "-infinity", "0x1p3", "1e", "1e+", "--1"};
    double v = 42;

    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++)
        CU_ASSERT_EQUAL(num_double(bad[i], -DBL_MAX, DBL_MAX, &v), TG_EINVAL);
    CU_ASSERT_EQUAL(num_double("1e999", -DBL_MAX, DBL_MAX, &v), TG_ERANGE);
    CU_ASSERT_EQUAL(num_double("1.5", 0, 1, &v), TG_ERANGE);
    CU_ASSERT_EQUAL(num_double("-0.1", 0, 1, &v), TG_ERANGE);
    CU_ASSERT_DOUBLE_EQUAL(v, 42, 0);
}

TG_TEST(num, double_prefix_scans_inside_text) {
    const char *s = "12.5 apples", *end = NULL;
    double v = 0;

    CU_ASSERT_EQUAL(num_double_prefix(s, &end, &v), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 12.5, 0);
    CU_ASSERT_PTR_EQUAL(end, s + 4);
    s = "3e";
    CU_ASSERT_EQUAL(num_double_prefix(s, &end, &v), 0);
    CU_ASSERT_PTR_EQUAL(end, s + 1);
    s = "0x1F";
    CU_ASSERT_EQUAL(num_double_prefix(s, &end, &v), 0); /* the decimal "0", not hex 31 */
    CU_ASSERT_DOUBLE_EQUAL(v, 0, 0);
    CU_ASSERT_PTR_EQUAL(end, s + 1);
    s = "apples";
    CU_ASSERT_EQUAL(num_double_prefix(s, &end, &v), TG_EINVAL);
    CU_ASSERT_PTR_EQUAL(end, s);
    s = "9e999,";
    CU_ASSERT_EQUAL(num_double_prefix(s, &end, &v), TG_ERANGE);
    CU_ASSERT_PTR_EQUAL(end, s + 5);
}

TG_TEST(num, long_list_reads_comma_separated_items) {
    long v[4];
    size_t n = 0;

    CU_ASSERT_EQUAL(num_long_list("1,8,64", 1, 1024, v, 4, &n), 0);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(v[0] == 1 && v[1] == 8 && v[2] == 64);
    CU_ASSERT_EQUAL(num_long_list(" 2 , 3", 1, 9, v, 4, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(v[0] == 2 && v[1] == 3);
    CU_ASSERT_EQUAL(num_long_list("4 8  12 ", 1, 99, v, 4, &n), 0); /* spaces separate too */
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(v[0] == 4 && v[1] == 8 && v[2] == 12);
    CU_ASSERT_EQUAL(num_long_list("7", 1, 9, v, 1, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
}

TG_TEST(num, long_list_rejects_bad_items_and_too_many) {
    static const char *bad[] = {NULL,  "",    ",",   "1,",    ",1", "1,,2",
                                "1;2", "a,1", "1 ,", "1,0x2", "  "};
    long v[4];
    size_t n;

    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++)
        CU_ASSERT_EQUAL(num_long_list(bad[i], 0, 100, v, 4, &n), TG_EINVAL);
    CU_ASSERT_EQUAL(num_long_list("1,101", 0, 100, v, 4, &n), TG_ERANGE);
    CU_ASSERT_EQUAL(num_long_list("1,2,3,4,5", 0, 100, v, 4, &n), TG_ERANGE);
    CU_ASSERT_EQUAL(num_long_list("123456789012345678901234567890123", 0, 100, v, 4, &n),
                    TG_ERANGE);
}
