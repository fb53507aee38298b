/*
 * test_http_api_body.c - the fixed-schema body reader of the login/attempts endpoints:
 * the fast parser takes the flat shape and gives the same fields jansson would, and
 * leaves everything else (escapes, UTF-8, nesting, reals, duplicates, long integers,
 * bad syntax) to jansson with the buffer untouched. A reported "ts" is the API's clock
 * when absent and is accepted only within [now - report_lag_max_ms, now + clock_skew_max_ms].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "roles/api_body.h"

/* Runs the fast parser on a copy of text; returns whether it accepted. */
static bool fast(const char *text, lg_api_body *out, char *buf, size_t cap)
{
    size_t len = strlen(text);

    assert_true(len < cap);
    memcpy(buf, text, len + 1);
    return lg_api_body_fast(buf, len, out);
}

/* The fast parser refuses text and leaves its copy byte for byte as it was. */
static void assert_falls_back(const char *text)
{
    char buf[512];
    lg_api_body b;

    if (fast(text, &b, buf, sizeof buf))
        fail_msg("fast parser accepted %s", text);
    assert_string_equal(buf, text);
}

/* Whatever the fast parser accepts, jansson parses into the same fields. */
static void assert_same_as_jansson(const char *text)
{
    char buf[512];
    lg_api_body f, j;
    json_error_t err;
    json_t *root;

    assert_true(fast(text, &f, buf, sizeof buf));
    root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(root);
    lg_api_body_from_json(root, &j);
    for (int k = 0; k < LG_API_F_COUNT; k++) {
        assert_int_equal(f.v[k].kind, j.v[k].kind);
        if (f.v[k].kind == LG_API_V_STRING) {
            assert_int_equal(f.v[k].len, j.v[k].len);
            assert_memory_equal(f.v[k].s, j.v[k].s, f.v[k].len);
            assert_int_equal(f.v[k].s[f.v[k].len], '\0');
        }
        if (f.v[k].kind == LG_API_V_INTEGER)
            assert_int_equal(f.v[k].i, j.v[k].i);
    }
    assert_null(f.root);
    json_decref(root);
}

static void test_flat_attempt_body_is_read_like_jansson(void **state)
{
    (void)state;
    assert_same_as_jansson("{\"user\":\"alice\",\"ip\":\"10.0.0.1\",\"ok\":true}");
    assert_same_as_jansson("{\"user\":\"bob\",\"ip\":\"::1\",\"ok\":false,\"ts\":1700000000000}");
    assert_same_as_jansson(" \r\n\t{ \"user\" : \"a b\" , \"password\" : \"p:{,}\" } \n");
    assert_same_as_jansson("{}");
    assert_same_as_jansson("{\"ts\":-0,\"ok\":null,\"other\":\"x\",\"user\":\"\"}");
    assert_same_as_jansson("{\"ts\":-42}");
}

static void test_string_fields_are_terminated_in_place(void **state)
{
    char buf[128];
    lg_api_body b;

    (void)state;
    assert_true(fast("{\"user\":\"alice\",\"ip\":\"1.2.3.4\"}", &b, buf, sizeof buf));
    assert_string_equal(b.v[LG_API_F_USER].s, "alice");
    assert_string_equal(b.v[LG_API_F_IP].s, "1.2.3.4");
    assert_int_equal(b.v[LG_API_F_OK].kind, LG_API_V_ABSENT);
    assert_ptr_equal(b.v[LG_API_F_USER].s, buf + 9);
}

static void test_non_ascii_escapes_and_controls_fall_back(void **state)
{
    (void)state;
    assert_falls_back("{\"user\":\"al\\\"ice\"}");
    assert_falls_back("{\"user\":\"\\u0041\"}");
    assert_falls_back("{\"user\":\"caf\xc3\xa9\"}");
    assert_falls_back("{\"user\":\"bad\xff\"}");
    assert_falls_back("{\"user\":\"tab\there\"}");
    assert_falls_back("{\"us\\u0065r\":\"x\"}");
}

static void test_duplicate_keys_fall_back_for_jansson_to_refuse(void **state)
{
    (void)state;
    assert_falls_back("{\"user\":\"a\",\"user\":\"b\"}");
    assert_falls_back("{\"x\":1,\"y\":2,\"x\":3}");
}

static void test_nesting_reals_and_bad_syntax_fall_back(void **state)
{
    (void)state;
    assert_falls_back("{\"user\":{\"a\":1}}");
    assert_falls_back("{\"user\":[1]}");
    assert_falls_back("{\"ts\":1.5}");
    assert_falls_back("{\"ts\":1e3}");
    assert_falls_back("{\"ts\":01}");
    assert_falls_back("{\"ts\":-}");
    assert_falls_back("{\"ts\":+1}");
    assert_falls_back("{\"ok\":tru}");
    assert_falls_back("{\"ok\":truex}");
    assert_falls_back("{\"user\":\"a\",}");
    assert_falls_back("{\"user\":\"a\"");
    assert_falls_back("{\"user\" \"a\"}");
    assert_falls_back("{\"user\":\"a\"} x");
    assert_falls_back("{\"user\":\"a\"}{}");
    assert_falls_back("[\"user\"]");
    assert_falls_back("\"user\"");
    assert_falls_back("");
    assert_falls_back("{\"user\":\"unterminated");
}

static void test_integers_up_to_18_digits_are_read_longer_fall_back(void **state)
{
    (void)state;
    assert_same_as_jansson("{\"ts\":12345678901234567}");    /* 17 */
    assert_same_as_jansson("{\"ts\":123456789012345678}");   /* 18 */
    assert_same_as_jansson("{\"ts\":-999999999999999999}");  /* -18 */
    assert_falls_back("{\"ts\":1234567890123456789}");       /* 19 */
    assert_falls_back("{\"ts\":99999999999999999999999}");
}

static void test_members_up_to_the_bound_are_read_more_fall_back(void **state)
{
    char text[256];
    size_t o = 0;

    (void)state;
    for (int n = 1; n <= LG_API_BODY_MEMBERS_MAX + 1; n++) {
        o = 0;
        o += (size_t)snprintf(text + o, sizeof text - o, "{\"user\":\"u\"");
        for (int k = 1; k < n; k++)
            o += (size_t)snprintf(text + o, sizeof text - o, ",\"k%d\":%d", k, k);
        snprintf(text + o, sizeof text - o, "}");
        if (n <= LG_API_BODY_MEMBERS_MAX)
            assert_same_as_jansson(text);
        else
            assert_falls_back(text);
    }
}

static void test_jansson_fields_map_types(void **state)
{
    json_t *root = json_loads("{\"user\":\"u\",\"ip\":5,\"ok\":false,\"ts\":1.5,"
                              "\"password\":null}", 0, NULL);
    lg_api_body b;

    (void)state;
    assert_non_null(root);
    lg_api_body_from_json(root, &b);
    assert_ptr_equal(b.root, root);
    assert_int_equal(b.v[LG_API_F_USER].kind, LG_API_V_STRING);
    assert_int_equal(b.v[LG_API_F_IP].kind, LG_API_V_INTEGER);
    assert_int_equal(b.v[LG_API_F_IP].i, 5);
    assert_int_equal(b.v[LG_API_F_OK].kind, LG_API_V_FALSE);
    assert_int_equal(b.v[LG_API_F_TS].kind, LG_API_V_OTHER);
    assert_int_equal(b.v[LG_API_F_PASSWORD].kind, LG_API_V_OTHER);
    json_decref(root);
}

/* --- lg_api_body_ts: the bound on a reporter's ts ---------------------------------- */

#define NOW 1700000000000LL
#define LAG 300000LL
#define SKEW 5000LL

/* lg_api_body_ts on an integer ts; returns its status, *out and the detail. */
static int ts_of(int64_t ts, int64_t *out, char *detail, size_t len)
{
    lg_api_value v = {.kind = LG_API_V_INTEGER, .i = ts};

    *out = -1;
    detail[0] = '\0';
    return lg_api_body_ts(&v, NOW, LAG, SKEW, out, detail, len);
}

static void test_absent_ts_is_the_api_s_clock(void **state)
{
    lg_api_value v = {.kind = LG_API_V_ABSENT};
    int64_t ts = -1;
    char detail[160];

    (void)state;
    assert_int_equal(lg_api_body_ts(&v, NOW, LAG, SKEW, &ts, detail, sizeof detail), 0);
    assert_true(ts == NOW);
}

static void test_ts_at_either_bound_is_accepted(void **state)
{
    int64_t ts;
    char detail[160];

    (void)state;
    assert_int_equal(ts_of(NOW - LAG, &ts, detail, sizeof detail), 0);
    assert_true(ts == NOW - LAG);
    assert_int_equal(ts_of(NOW + SKEW, &ts, detail, sizeof detail), 0);
    assert_true(ts == NOW + SKEW);
    assert_int_equal(ts_of(NOW, &ts, detail, sizeof detail), 0);
    assert_true(ts == NOW);
}

static void test_ts_one_ms_past_the_lag_bound_names_report_lag_max_ms(void **state)
{
    int64_t ts;
    char detail[160];

    (void)state;
    assert_int_equal(ts_of(NOW - LAG - 1, &ts, detail, sizeof detail), -1);
    assert_string_equal(detail, "field 'ts': 300001 ms in the past, more than "
                                "report_lag_max_ms (300000)");
    assert_true(ts == -1); /* untouched on failure */
    assert_int_equal(ts_of(NOW - 400000, &ts, detail, sizeof detail), -1);
    assert_string_equal(detail, "field 'ts': 400000 ms in the past, more than "
                                "report_lag_max_ms (300000)");
}

static void test_ts_one_ms_past_the_skew_bound_names_clock_skew_max_ms(void **state)
{
    int64_t ts;
    char detail[160];

    (void)state;
    assert_int_equal(ts_of(NOW + SKEW + 1, &ts, detail, sizeof detail), -1);
    assert_string_equal(detail, "field 'ts': 5001 ms in the future, more than "
                                "clock_skew_max_ms (5000)");
    /* the attack of issue 7: the year 9999 */
    assert_int_equal(ts_of(253402300799999LL, &ts, detail, sizeof detail), -1);
    assert_string_equal(detail, "field 'ts': 251702300799999 ms in the future, more than "
                                "clock_skew_max_ms (5000)");
    assert_true(ts == -1);
}

static void test_ts_not_an_epoch_integer_is_refused(void **state)
{
    lg_api_value real = {.kind = LG_API_V_OTHER};
    lg_api_value str = {.kind = LG_API_V_STRING, .s = "1700000000000", .len = 13};
    int64_t ts = -1;
    char detail[160];

    (void)state;
    assert_int_equal(ts_of(0, &ts, detail, sizeof detail), -1);
    assert_string_equal(detail, "field 'ts': must be milliseconds since the epoch");
    assert_int_equal(ts_of(253402300800000LL, &ts, detail, sizeof detail), -1);
    assert_string_equal(detail, "field 'ts': must be milliseconds since the epoch");
    assert_int_equal(lg_api_body_ts(&real, NOW, LAG, SKEW, &ts, detail, sizeof detail), -1);
    assert_int_equal(lg_api_body_ts(&str, NOW, LAG, SKEW, &ts, detail, sizeof detail), -1);
    assert_true(ts == -1);
}

static void test_zero_bounds_accept_only_now(void **state)
{
    lg_api_value v = {.kind = LG_API_V_INTEGER, .i = NOW};
    int64_t ts = -1;
    char detail[160];

    (void)state;
    assert_int_equal(lg_api_body_ts(&v, NOW, 0, 0, &ts, detail, sizeof detail), 0);
    v.i = NOW - 1;
    assert_int_equal(lg_api_body_ts(&v, NOW, 0, 0, &ts, detail, sizeof detail), -1);
    v.i = NOW + 1;
    assert_int_equal(lg_api_body_ts(&v, NOW, 0, 0, &ts, detail, sizeof detail), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_attempt_body_is_read_like_jansson),
        cmocka_unit_test(test_string_fields_are_terminated_in_place),
        cmocka_unit_test(test_non_ascii_escapes_and_controls_fall_back),
        cmocka_unit_test(test_duplicate_keys_fall_back_for_jansson_to_refuse),
        cmocka_unit_test(test_nesting_reals_and_bad_syntax_fall_back),
        cmocka_unit_test(test_integers_up_to_18_digits_are_read_longer_fall_back),
        cmocka_unit_test(test_members_up_to_the_bound_are_read_more_fall_back),
        cmocka_unit_test(test_jansson_fields_map_types),
        cmocka_unit_test(test_absent_ts_is_the_api_s_clock),
        cmocka_unit_test(test_ts_at_either_bound_is_accepted),
        cmocka_unit_test(test_ts_one_ms_past_the_lag_bound_names_report_lag_max_ms),
        cmocka_unit_test(test_ts_one_ms_past_the_skew_bound_names_clock_skew_max_ms),
        cmocka_unit_test(test_ts_not_an_epoch_integer_is_refused),
        cmocka_unit_test(test_zero_bounds_accept_only_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
