/*
 * test_http_route.c - route matching (exact and "{}" paths, 404 vs 405 with the Allow
 * list) and the error table (status and code per error, JSON escaping of echoed text
 * with CR/LF dropped, bodies cut to fit their buffer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "http/errors.h"
#include "http/route.h"

enum { R_LOGIN, R_LIST, R_GET, R_DEL };

static const lg_http_route table[] = {
    {"POST", "/v1/login", R_LOGIN},
    {"GET", "/v1/blocks", R_LIST},
    {"GET", "/v1/blocks/{}", R_GET},
    {"DELETE", "/v1/blocks/{}", R_DEL},
};
#define N (sizeof table / sizeof table[0])

static void test_exact_path_and_method_match(void **state)
{
    lg_http_match m;
    (void)state;
    assert_int_equal(lg_http_route_match(table, N, "POST", "/v1/login", &m), LG_HTTP_MATCH_OK);
    assert_int_equal(m.id, R_LOGIN);
    assert_null(m.param);
    assert_string_equal(m.allow, "");
}

static void test_param_route_hands_over_the_rest_of_the_path(void **state)
{
    lg_http_match m;
    (void)state;
    assert_int_equal(lg_http_route_match(table, N, "GET", "/v1/blocks/alice", &m),
                     LG_HTTP_MATCH_OK);
    assert_int_equal(m.id, R_GET);
    assert_int_equal(m.param_len, 5);
    assert_memory_equal(m.param, "alice", 5);
    /* the parameter is everything after the prefix, slashes included */
    assert_int_equal(lg_http_route_match(table, N, "DELETE", "/v1/blocks/a/b", &m),
                     LG_HTTP_MATCH_OK);
    assert_int_equal(m.id, R_DEL);
    assert_string_equal(m.param, "a/b");
}

static void test_empty_param_does_not_match_the_param_route(void **state)
{
    lg_http_match m;
    (void)state;
    /* "/v1/blocks/" is neither the list nor a user */
    assert_int_equal(lg_http_route_match(table, N, "GET", "/v1/blocks/", &m),
                     LG_HTTP_MATCH_NOT_FOUND);
    assert_int_equal(m.id, -1);
    assert_int_equal(lg_http_route_match(table, N, "GET", "/v1/blocks", &m), LG_HTTP_MATCH_OK);
    assert_int_equal(m.id, R_LIST);
}

static void test_unknown_path_is_not_found(void **state)
{
    lg_http_match m;
    (void)state;
    assert_int_equal(lg_http_route_match(table, N, "GET", "/nope", &m), LG_HTTP_MATCH_NOT_FOUND);
    assert_int_equal(lg_http_route_match(table, N, "POST", "/v1/login/", &m),
                     LG_HTTP_MATCH_NOT_FOUND);
    assert_int_equal(lg_http_route_match(table, N, "POST", "/v1/logi", &m),
                     LG_HTTP_MATCH_NOT_FOUND);
    assert_string_equal(m.allow, "");
}

static void test_known_path_with_other_method_lists_allowed_methods(void **state)
{
    lg_http_match m;
    (void)state;
    assert_int_equal(lg_http_route_match(table, N, "GET", "/v1/login", &m),
                     LG_HTTP_MATCH_METHOD);
    assert_int_equal(m.id, -1);
    assert_string_equal(m.allow, "POST");
    assert_int_equal(lg_http_route_match(table, N, "PUT", "/v1/blocks/alice", &m),
                     LG_HTTP_MATCH_METHOD);
    assert_string_equal(m.allow, "GET, DELETE");
}

static void test_each_error_has_its_status_and_code(void **state)
{
    (void)state;
    assert_int_equal(lg_http_err_get(LG_HTTP_E_BAD_JSON)->status, 400);
    assert_string_equal(lg_http_err_get(LG_HTTP_E_BAD_JSON)->code, "bad_json");
    assert_int_equal(lg_http_err_get(LG_HTTP_E_METHOD_NOT_ALLOWED)->status, 405);
    assert_int_equal(lg_http_err_get(LG_HTTP_E_LENGTH_REQUIRED)->status, 411);
    assert_int_equal(lg_http_err_get(LG_HTTP_E_PAYLOAD_TOO_LARGE)->status, 413);
    assert_int_equal(lg_http_err_get(LG_HTTP_E_UNSUPPORTED_MEDIA)->status, 415);
    assert_int_equal(lg_http_err_get(LG_HTTP_E_BLOCKED)->status, 423);
    assert_string_equal(lg_http_err_get(LG_HTTP_E_OVERLOADED)->code, "overloaded");
    for (int e = 0; e < LG_HTTP_E_COUNT; e++) {
        const lg_http_err_info *info = lg_http_err_get((lg_http_err)e);
        assert_true(info->status >= 400 && info->status <= 599);
        assert_non_null(info->detail);
    }
}

static void test_error_body_is_valid_json_with_the_table_detail(void **state)
{
    char buf[256];
    json_error_t jerr;
    (void)state;
    size_t n = lg_http_err_body(LG_HTTP_E_NOT_FOUND, NULL, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    json_t *j = json_loadb(buf, n, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "not_found");
    assert_string_equal(json_string_value(json_object_get(j, "detail")), "no such resource");
    json_decref(j);
}

static void test_echoed_detail_drops_cr_lf_and_escapes_quotes(void **state)
{
    char buf[256];
    json_error_t jerr;
    (void)state;
    size_t n = lg_http_err_body(LG_HTTP_E_BAD_REQUEST, "bad \"x\"\r\nSet-Cookie: a\\b", buf,
                                sizeof buf);
    assert_null(strchr(buf, '\r'));
    assert_null(strchr(buf, '\n'));
    json_t *j = json_loadb(buf, n, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "detail")),
                        "bad \"x\"Set-Cookie: a\\b");
    json_decref(j);
}

static void test_invalid_utf8_in_detail_becomes_question_marks(void **state)
{
    char buf[128];
    (void)state;
    size_t n = lg_http_json_escape("a\xff\xc3\xa9z", 5, buf, sizeof buf);
    assert_int_equal(n, 5);
    assert_string_equal(buf, "a?\xc3\xa9z");
}

static void test_escape_never_overflows_and_never_splits_an_escape(void **state)
{
    char buf[4];
    (void)state;
    /* 3 usable bytes: 'a' then an escaped quote needs 2 -> fits; the next does not */
    size_t n = lg_http_json_escape("a\"\"", 3, buf, sizeof buf);
    assert_int_equal(n, 3);
    assert_string_equal(buf, "a\\\"");
    n = lg_http_json_escape("ab\"", 3, buf, sizeof buf);
    assert_int_equal(n, 2); /* "ab" + a 2-byte escape would need 4 */
    assert_string_equal(buf, "ab");
}

static void test_long_detail_is_cut_and_body_stays_json(void **state)
{
    char detail[1024], buf[96];
    json_error_t jerr;
    (void)state;
    memset(detail, 'x', sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    size_t n = lg_http_err_body(LG_HTTP_E_BAD_JSON, detail, buf, sizeof buf);
    assert_true(n < sizeof buf);
    json_t *j = json_loadb(buf, n, 0, &jerr);
    assert_non_null(j);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_path_and_method_match),
        cmocka_unit_test(test_param_route_hands_over_the_rest_of_the_path),
        cmocka_unit_test(test_empty_param_does_not_match_the_param_route),
        cmocka_unit_test(test_unknown_path_is_not_found),
        cmocka_unit_test(test_known_path_with_other_method_lists_allowed_methods),
        cmocka_unit_test(test_each_error_has_its_status_and_code),
        cmocka_unit_test(test_error_body_is_valid_json_with_the_table_detail),
        cmocka_unit_test(test_echoed_detail_drops_cr_lf_and_escapes_quotes),
        cmocka_unit_test(test_invalid_utf8_in_detail_becomes_question_marks),
        cmocka_unit_test(test_escape_never_overflows_and_never_splits_an_escape),
        cmocka_unit_test(test_long_detail_is_cut_and_body_stays_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
