/*
 * test_event.c - the attempt and block codec: every field valid and invalid at its
 * limits, both decode modes, JSON errors with their byte offset, encode/decode round
 * trips with escaping, block keys, and a differential test of the fast scanner against
 * the jansson path over generated and mutated lines (deterministic seed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "core/event_fast.h"

#define ERR_LEN 256
#define LINE_CAP 4096
#define DIFF_CASES 60000

static const char *const full_wire =
    "{\"v\":1,\"id\":\"api-1-42\",\"ts\":1700000000123,\"user\":\"alice\","
    "\"ip\":\"203.0.113.7\",\"ok\":false,\"outcome\":\"fail\",\"src\":\"api-1\"}";

static int decode(const char *json, lg_attempt_mode mode, lg_attempt *a, char *err)
{
    return lg_attempt_decode(json, strlen(json), mode, a, err, ERR_LEN);
}

/* Decoding json in mode fails with LG_EINVAL and a message containing want. */
static void expect_reject(const char *json, lg_attempt_mode mode, const char *want)
{
    lg_attempt a;
    char err[ERR_LEN] = "";
    int rc = decode(json, mode, &a, err);
    if (rc != LG_EINVAL || strstr(err, want) == NULL)
        fail_msg("input %s: rc %d, error '%s', wanted '%s'", json, rc, err, want);
}

static void expect_accept(const char *json, lg_attempt_mode mode, lg_attempt *out)
{
    lg_attempt a;
    char err[ERR_LEN] = "";
    int rc = decode(json, mode, &a, err);
    if (rc != 0)
        fail_msg("input %s: rc %d, error '%s'", json, rc, err);
    if (out != NULL)
        *out = a;
}

/* A wire attempt whose user field is the given JSON string body (already escaped). */
static void wire_with_user(char *buf, size_t len, const char *user_json)
{
    snprintf(buf, len,
             "{\"v\":1,\"id\":\"x1\",\"ts\":5,\"user\":\"%s\",\"ip\":\"192.0.2.1\","
             "\"ok\":true}",
             user_json);
}

static void wire_with_ip(char *buf, size_t len, const char *ip_json)
{
    snprintf(buf, len,
             "{\"v\":1,\"id\":\"x1\",\"ts\":5,\"user\":\"bob\",\"ip\":%s,\"ok\":true}",
             ip_json);
}

static bool attempt_equal(const lg_attempt *a, const lg_attempt *b)
{
    return strcmp(a->id, b->id) == 0 && a->ts_ms == b->ts_ms && a->user_len == b->user_len &&
           memcmp(a->user, b->user, a->user_len + 1) == 0 && strcmp(a->ip, b->ip) == 0 &&
           a->ok == b->ok && a->outcome == b->outcome && strcmp(a->src, b->src) == 0;
}

/* ---- decoding: fields ------------------------------------------------------------- */

static void test_wire_attempt_with_every_field_decodes(void **state)
{
    lg_attempt a;
    expect_accept(full_wire, LG_ATTEMPT_WIRE, &a);
    assert_string_equal(a.id, "api-1-42");
    assert_true(a.ts_ms == 1700000000123LL);
    assert_string_equal(a.user, "alice");
    assert_int_equal(a.user_len, 5);
    assert_string_equal(a.ip, "203.0.113.7");
    assert_false(a.ok);
    assert_int_equal(a.outcome, LG_OUTCOME_FAIL);
    assert_string_equal(a.src, "api-1");
}

static void test_replay_attempt_needs_only_ts_user_and_ok(void **state)
{
    lg_attempt a;
    expect_accept("{\"ts\":0,\"user\":\"bob\",\"ok\":true}", LG_ATTEMPT_REPLAY, &a);
    assert_string_equal(a.id, "");
    assert_string_equal(a.ip, "");
    assert_string_equal(a.src, "");
    assert_true(a.ok);
    assert_int_equal(a.outcome, LG_OUTCOME_OK);
}

/* "blocked" on input means refused where it entered, in both modes; other values are
 * decided by the judge */
static void test_blocked_outcome_marks_refused(void **state)
{
    lg_attempt a;
    (void)state;
    expect_accept("{\"ts\":1,\"user\":\"bob\",\"ok\":false,\"outcome\":\"blocked\"}",
                  LG_ATTEMPT_REPLAY, &a);
    assert_true(a.refused);
    expect_accept("{\"ts\":1,\"user\":\"bob\",\"ok\":false,\"outcome\":\"fail\"}",
                  LG_ATTEMPT_REPLAY, &a);
    assert_false(a.refused);
    expect_accept("{\"ts\":1,\"user\":\"bob\",\"ok\":true,\"outcome\":7}",
                  LG_ATTEMPT_REPLAY, &a);
    assert_false(a.refused);
    expect_accept(full_wire, LG_ATTEMPT_WIRE, &a);
    assert_false(a.refused);
}

static void test_missing_fields_are_named_per_mode(void **state)
{
    static const char *const wire_needs[] = {"v", "id", "ts", "user", "ip", "ok"};
    static const char *const parts[] = {
        "\"v\":1", "\"id\":\"a\"", "\"ts\":1", "\"user\":\"u\"", "\"ip\":\"::1\"", "\"ok\":false",
    };
    for (size_t miss = 0; miss < 6; miss++) {
        char json[256] = "{", want[64];
        size_t n = 0;
        for (size_t i = 0; i < 6; i++) {
            if (i == miss)
                continue;
            strncat(json, n++ ? "," : "", sizeof json - strlen(json) - 1);
            strncat(json, parts[i], sizeof json - strlen(json) - 1);
        }
        strncat(json, "}", sizeof json - strlen(json) - 1);
        snprintf(want, sizeof want, "missing field '%s'", wire_needs[miss]);
        expect_reject(json, LG_ATTEMPT_WIRE, want);
        /* replay needs only ts, user and ok */
        if (miss == 2 || miss == 3 || miss == 5)
            expect_reject(json, LG_ATTEMPT_REPLAY, want);
        else
            expect_accept(json, LG_ATTEMPT_REPLAY, NULL);
    }
}

static void test_version_other_than_one_is_rejected(void **state)
{
    expect_reject("{\"v\":2,\"ts\":1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'v': unsupported version 2");
    expect_reject("{\"v\":\"1\",\"ts\":1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'v': expected an integer, got a string");
    expect_reject("{\"v\":1.0,\"ts\":1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'v': expected an integer, got a real number");
}

static void test_id_of_64_bytes_is_accepted_and_65_rejected(void **state)
{
    char json[512], id[80];
    memset(id, 'i', 65);
    id[65] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"ts\":1,\"user\":\"u\",\"ok\":true}", id);
    expect_reject(json, LG_ATTEMPT_REPLAY, "field 'id': longer than 64 bytes");
    id[64] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"ts\":1,\"user\":\"u\",\"ok\":true}", id);
    lg_attempt a;
    expect_accept(json, LG_ATTEMPT_REPLAY, &a);
    assert_int_equal(strlen(a.id), 64);
    id[63] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"ts\":1,\"user\":\"u\",\"ok\":true}", id);
    expect_accept(json, LG_ATTEMPT_REPLAY, NULL);
}

static void test_id_must_be_nonempty_printable_ascii(void **state)
{
    expect_reject("{\"id\":\"\",\"ts\":1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'id': empty");
    expect_reject("{\"id\":\"a\\u00e9\",\"ts\":1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'id': byte 1 is not printable ASCII");
    expect_reject("{\"id\":\"a\\tb\",\"ts\":1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'id': byte 1 is not printable ASCII");
    expect_reject("{\"id\":7,\"ts\":1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'id': expected a string, got an integer");
}

static void test_ts_accepts_zero_to_year_9999_and_nothing_else(void **state)
{
    lg_attempt a;
    expect_accept("{\"ts\":0,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY, &a);
    assert_true(a.ts_ms == 0);
    expect_accept("{\"ts\":253402300799999,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY, &a);
    assert_true(a.ts_ms == LG_TS_MAX_MS);
    expect_accept("{\"ts\":253402300799998,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY, &a);
    expect_reject("{\"ts\":253402300800000,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'ts': 253402300800000 out of range 0..253402300799999");
    expect_reject("{\"ts\":-1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'ts': -1 out of range");
    expect_reject("{\"ts\":1.5,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'ts': expected an integer, got a real number");
    expect_reject("{\"ts\":\"1\",\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'ts': expected an integer, got a string");
    expect_reject("{\"ts\":null,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'ts': expected an integer, got null");
    expect_reject("{\"ts\":99999999999999999999,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "invalid JSON at byte");
}

static void test_user_of_127_and_128_bytes_is_accepted_and_129_rejected(void **state)
{
    char user[200], json[512];
    lg_attempt a;
    for (size_t n = 127; n <= 129; n++) {
        memset(user, 'u', n);
        user[n] = '\0';
        wire_with_user(json, sizeof json, user);
        if (n <= 128) {
            expect_accept(json, LG_ATTEMPT_WIRE, &a);
            assert_int_equal(a.user_len, n);
            assert_int_equal(strlen(a.user), n);
        } else {
            expect_reject(json, LG_ATTEMPT_WIRE, "field 'user': longer than 128 bytes");
        }
    }
}

static void test_user_limit_counts_bytes_not_characters(void **state)
{
    /* 64 x "é" (2 bytes each) = 128 bytes: accepted; one more "é" is 130 bytes */
    char user[400] = "", json[800];
    for (int i = 0; i < 64; i++)
        strncat(user, "\xc3\xa9", sizeof user - strlen(user) - 1);
    wire_with_user(json, sizeof json, user);
    lg_attempt a;
    expect_accept(json, LG_ATTEMPT_WIRE, &a);
    assert_int_equal(a.user_len, 128);
    strncat(user, "\xc3\xa9", sizeof user - strlen(user) - 1);
    wire_with_user(json, sizeof json, user);
    expect_reject(json, LG_ATTEMPT_WIRE, "field 'user': longer than 128 bytes");
    /* escaped form: 64 x \u00e9 decodes to the same 128 bytes */
    user[0] = '\0';
    for (int i = 0; i < 64; i++)
        strncat(user, "\\u00e9", sizeof user - strlen(user) - 1);
    wire_with_user(json, sizeof json, user);
    expect_accept(json, LG_ATTEMPT_WIRE, &a);
    assert_int_equal(a.user_len, 128);
}

static void test_empty_user_is_rejected(void **state)
{
    char json[256];
    wire_with_user(json, sizeof json, "");
    expect_reject(json, LG_ATTEMPT_WIRE, "field 'user': empty");
}

static void test_user_with_control_characters_is_rejected(void **state)
{
    static const struct { const char *user_json; const char *want; } cases[] = {
        {"a\\u0001b", "field 'user': control character U+0001 at byte 1"},
        {"a\\tb", "field 'user': control character U+0009 at byte 1"},
        {"a\\nb", "field 'user': control character U+000A at byte 1"},
        {"ab\\u007f", "field 'user': control character U+007F at byte 2"},
        {"\\u0085x", "field 'user': control character U+0085 at byte 0"},
        {"x\\u009f", "field 'user': control character U+009F at byte 1"},
        {"a\x7f", "field 'user': control character U+007F at byte 1"},
        {"a\xc2\x80", "field 'user': control character U+0080 at byte 1"},
        /* a raw control byte is not even JSON */
        {"a\x01z", "invalid JSON at byte"},
    };
    char json[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wire_with_user(json, sizeof json, cases[i].user_json);
        expect_reject(json, LG_ATTEMPT_WIRE, cases[i].want);
    }
    /* U+00A0 (the first code point after C1) is fine */
    wire_with_user(json, sizeof json, "a\\u00a0");
    expect_accept(json, LG_ATTEMPT_WIRE, NULL);
}

static void test_nul_in_a_string_is_rejected(void **state)
{
    char json[256];
    wire_with_user(json, sizeof json, "ali\\u0000ce");
    expect_reject(json, LG_ATTEMPT_WIRE, "field 'user': control character U+0000 at byte 3");
    expect_reject("{\"id\":\"a\\u0000\",\"ts\":1,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "field 'id': byte 1 is not printable ASCII");
    expect_reject("{\"src\":\"a\\u0000\",\"ts\":1,\"user\":\"u\",\"ok\":true}",
                  LG_ATTEMPT_REPLAY, "field 'src': control character U+0000");
    expect_reject("{\"ip\":\"::1\\u0000\",\"ts\":1,\"user\":\"u\",\"ok\":true}",
                  LG_ATTEMPT_REPLAY, "field 'ip': not a valid IPv4 or IPv6 address");
    /* a raw NUL byte inside the input */
    static const char raw[] = "{\"ts\":1,\"user\":\"a\0b\",\"ok\":true}";
    lg_attempt a;
    char err[ERR_LEN] = "";
    assert_int_equal(lg_attempt_decode(raw, sizeof raw - 1, LG_ATTEMPT_REPLAY, &a, err,
                                       sizeof err),
                     LG_EINVAL);
    assert_non_null(strstr(err, "invalid JSON at byte"));
}

static void test_user_valid_rejects_each_kind_of_invalid_utf8(void **state)
{
    static const struct { const char *s; const char *want; } cases[] = {
        {"a\x80", "invalid UTF-8 at byte 1: unexpected byte 0x80"},
        {"a\xc0\xaf", "invalid UTF-8 at byte 1: overlong encoding"},
        {"\xe0\x80\xaf", "invalid UTF-8 at byte 0: overlong encoding"},
        {"\xf0\x82\x82\xac", "invalid UTF-8 at byte 0: overlong encoding"},
        {"\xed\xa0\x80", "invalid UTF-8 at byte 0: surrogate U+D800"},
        {"\xed\xbf\xbf", "invalid UTF-8 at byte 0: surrogate U+DFFF"},
        {"\xf4\x90\x80\x80", "invalid UTF-8 at byte 0: code point above U+10FFFF"},
        {"\xf5\x80\x80\x80", "invalid UTF-8 at byte 0: unexpected byte 0xf5"},
        {"ab\xe2\x82", "invalid UTF-8 at byte 2: truncated sequence"},
        {"\xe2\x28\xa1", "invalid UTF-8 at byte 1: bad continuation byte"},
        {"\xff", "invalid UTF-8 at byte 0: unexpected byte 0xff"},
    };
    char err[ERR_LEN];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        if (lg_user_valid(cases[i].s, strlen(cases[i].s), err, sizeof err) ||
            strcmp(err, cases[i].want) != 0)
            fail_msg("case %zu: error '%s', wanted '%s'", i, err, cases[i].want);
    }
    /* the largest code point and the edges around the surrogates are valid */
    assert_true(lg_user_valid("\xf4\x8f\xbf\xbf", 4, err, sizeof err));
    assert_true(lg_user_valid("\xed\x9f\xbf\xee\x80\x80", 6, err, sizeof err));
    assert_true(lg_user_valid("\xe2\x82\xac", 3, err, sizeof err));
}

static void test_invalid_utf8_in_json_is_rejected(void **state)
{
    char json[256];
    wire_with_user(json, sizeof json, "a\xff");
    expect_reject(json, LG_ATTEMPT_WIRE, "invalid JSON at byte");
    wire_with_user(json, sizeof json, "\xed\xa0\x80");
    expect_reject(json, LG_ATTEMPT_WIRE, "invalid JSON at byte");
    wire_with_user(json, sizeof json, "\\ud800");
    expect_reject(json, LG_ATTEMPT_WIRE, "invalid JSON at byte");
}

static void test_invalid_ips_are_rejected(void **state)
{
    static const char *const bad[] = {
        "\"1.2.3\"", "\"256.1.1.1\"", "\"::g\"", "\"1.2.3.4 \"", "\" 1.2.3.4\"",
        "\"01.2.3.4\"", "\"fe80::1%eth0\"", "\"1.2.3.4.5\"", "\"\"", "\"1::2::3\"",
        "\"localhost\"",
    };
    char json[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_with_ip(json, sizeof json, bad[i]);
        expect_reject(json, LG_ATTEMPT_WIRE, i == 8 ? "field 'ip': empty"
                                                    : "field 'ip': not a valid IPv4 or IPv6");
    }
    wire_with_ip(json, sizeof json, "\"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555\"");
    expect_reject(json, LG_ATTEMPT_WIRE, "field 'ip': longer than 45 bytes");
    wire_with_ip(json, sizeof json, "17");
    expect_reject(json, LG_ATTEMPT_WIRE, "field 'ip': expected a string, got an integer");
}

static void test_valid_ips_are_accepted_up_to_45_bytes(void **state)
{
    /* each accepted, and decoded into its canonical text */
    static const char *const good[][2] = {
        {"203.0.113.7", "203.0.113.7"}, {"0.0.0.0", "0.0.0.0"},
        {"255.255.255.255", "255.255.255.255"}, {"::1", "::1"}, {"::", "::"},
        {"2001:db8::1", "2001:db8::1"}, {"::ffff:192.0.2.1", "192.0.2.1"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
        {"2001:DB8::1", "2001:db8::1"}, {"2001:0db8:0:0::0001", "2001:db8::1"},
    };
    char json[256], quoted[64];
    lg_attempt a;
    assert_int_equal(strlen(good[7][0]), 45);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(quoted, sizeof quoted, "\"%s\"", good[i][0]);
        wire_with_ip(json, sizeof json, quoted);
        expect_accept(json, LG_ATTEMPT_WIRE, &a);
        assert_string_equal(a.ip, good[i][1]);
        /* replay input too, through both scanners (the fast one and jansson's) */
        snprintf(json, sizeof json, "{\"ts\":1,\"user\":\"u\",\"ok\":false,\"ip\":\"%s\"}",
                 good[i][0]);
        expect_accept(json, LG_ATTEMPT_REPLAY, &a);
        assert_string_equal(a.ip, good[i][1]);
        snprintf(json, sizeof json, "{ \"ts\" : 1 , \"user\":\"u\",\"ok\":false,\"ip\":"
                 "\"%s\",\"x\":[1]}", good[i][0]);
        expect_accept(json, LG_ATTEMPT_REPLAY, &a);
        assert_string_equal(a.ip, good[i][1]);
    }
}

static void test_ok_must_be_a_boolean(void **state)
{
    expect_reject("{\"ts\":1,\"user\":\"u\",\"ok\":1}", LG_ATTEMPT_REPLAY,
                  "field 'ok': expected true or false, got an integer");
    expect_reject("{\"ts\":1,\"user\":\"u\",\"ok\":\"true\"}", LG_ATTEMPT_REPLAY,
                  "field 'ok': expected true or false, got a string");
    expect_reject("{\"ts\":1,\"user\":\"u\",\"ok\":null}", LG_ATTEMPT_REPLAY,
                  "field 'ok': expected true or false, got null");
}

static void test_wire_outcome_is_stored_and_checked(void **state)
{
    lg_attempt a;
    expect_accept("{\"v\":1,\"id\":\"a\",\"ts\":1,\"user\":\"u\",\"ip\":\"::1\",\"ok\":false,"
                  "\"outcome\":\"blocked\"}",
                  LG_ATTEMPT_WIRE, &a);
    assert_int_equal(a.outcome, LG_OUTCOME_BLOCKED);
    expect_accept("{\"v\":1,\"id\":\"a\",\"ts\":1,\"user\":\"u\",\"ip\":\"::1\",\"ok\":true}",
                  LG_ATTEMPT_WIRE, &a);
    assert_int_equal(a.outcome, LG_OUTCOME_OK);
    expect_reject("{\"v\":1,\"id\":\"a\",\"ts\":1,\"user\":\"u\",\"ip\":\"::1\",\"ok\":true,"
                  "\"outcome\":\"maybe\"}",
                  LG_ATTEMPT_WIRE, "field 'outcome': expected \"ok\", \"fail\" or \"blocked\"");
    expect_reject("{\"v\":1,\"id\":\"a\",\"ts\":1,\"user\":\"u\",\"ip\":\"::1\",\"ok\":true,"
                  "\"outcome\":2}",
                  LG_ATTEMPT_WIRE, "field 'outcome': expected a string, got an integer");
}

static void test_replay_ignores_outcome_whatever_its_value(void **state)
{
    lg_attempt a;
    expect_accept("{\"ts\":1,\"user\":\"u\",\"ok\":false,\"outcome\":\"blocked\"}",
                  LG_ATTEMPT_REPLAY, &a);
    assert_int_equal(a.outcome, LG_OUTCOME_FAIL);
    expect_accept("{\"ts\":1,\"user\":\"u\",\"ok\":true,\"outcome\":[1,2]}", LG_ATTEMPT_REPLAY,
                  &a);
    assert_int_equal(a.outcome, LG_OUTCOME_OK);
}

static void test_src_of_64_bytes_is_accepted_and_65_rejected(void **state)
{
    char src[80], json[256];
    lg_attempt a;
    memset(src, 's', 65);
    src[65] = '\0';
    snprintf(json, sizeof json, "{\"ts\":1,\"user\":\"u\",\"ok\":true,\"src\":\"%s\"}", src);
    expect_reject(json, LG_ATTEMPT_REPLAY, "field 'src': longer than 64 bytes");
    src[64] = '\0';
    snprintf(json, sizeof json, "{\"ts\":1,\"user\":\"u\",\"ok\":true,\"src\":\"%s\"}", src);
    expect_accept(json, LG_ATTEMPT_REPLAY, &a);
    assert_string_equal(a.src, src);
    expect_reject("{\"ts\":1,\"user\":\"u\",\"ok\":true,\"src\":false}", LG_ATTEMPT_REPLAY,
                  "field 'src': expected a string, got false");
}

static void test_unknown_fields_are_ignored(void **state)
{
    lg_attempt a;
    expect_accept("{\"ts\":1,\"x\":{\"y\":[1,2,null]},\"user\":\"u\",\"ok\":true,"
                  "\"password\":\"hunter2\",\"z\":1.5e3}",
                  LG_ATTEMPT_REPLAY, &a);
    assert_string_equal(a.user, "u");
}

/* ---- decoding: JSON ---------------------------------------------------------------- */

static void test_duplicate_keys_are_rejected(void **state)
{
    expect_reject("{\"ts\":1,\"user\":\"u\",\"user\":\"v\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "duplicate object key");
    expect_reject("{\"ts\":1,\"user\":\"u\",\"ok\":true,\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "duplicate object key");
    expect_reject("{\"ts\":1,\"user\":\"u\",\"ok\":true,\"x\":1,\"x\":1}", LG_ATTEMPT_REPLAY,
                  "duplicate object key");
}

static void test_broken_json_names_the_byte_offset(void **state)
{
    /* jansson counts bytes read: the 13th byte, a '}', is where a value should start */
    expect_reject("{\"v\":1,\"ts\":}", LG_ATTEMPT_REPLAY,
                  "invalid JSON at byte 13: unexpected token near '}'");
    expect_reject("{\"ts\":1,\"user\":\"u\"", LG_ATTEMPT_REPLAY,
                  "invalid JSON at byte 18: '}' expected near end of file");
    expect_reject("{\"ts\":1,\"user\":\"u\",\"ok\":true} x", LG_ATTEMPT_REPLAY,
                  "invalid JSON at byte 31: end of file expected near 'x'");
    expect_reject("", LG_ATTEMPT_REPLAY, "invalid JSON at byte 0");
    expect_reject("{\"ts\":1,\"user\":\"u\",\"ok\":true,}", LG_ATTEMPT_REPLAY,
                  "invalid JSON at byte");
    expect_reject("{\"ts\":01,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY,
                  "invalid JSON at byte");
}

static void test_top_level_must_be_an_object(void **state)
{
    expect_reject("[1,2]", LG_ATTEMPT_REPLAY, "expected a JSON object, got an array");
    expect_reject("\"x\"", LG_ATTEMPT_REPLAY, "invalid JSON at byte");
    expect_reject("17", LG_ATTEMPT_REPLAY, "invalid JSON at byte");
    expect_reject("null", LG_ATTEMPT_REPLAY, "invalid JSON at byte");
}

static void test_event_of_2048_bytes_decodes_and_2049_is_too_big(void **state)
{
    static const char base[] = "{\"ts\":1,\"user\":\"u\",\"ok\":true}";
    char *json = malloc(LG_EVENT_JSON_MAX + 2);
    assert_non_null(json);
    lg_attempt a;
    char err[ERR_LEN] = "";
    for (size_t n = LG_EVENT_JSON_MAX - 1; n <= LG_EVENT_JSON_MAX + 1; n++) {
        memcpy(json, base, sizeof base - 1);
        memset(json + sizeof base - 1, ' ', n - (sizeof base - 1)); /* trailing blanks */
        int rc = lg_attempt_decode(json, n, LG_ATTEMPT_REPLAY, &a, err, sizeof err);
        if (n <= LG_EVENT_JSON_MAX) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, LG_ETOOBIG);
            assert_string_equal(err, "event of 2049 bytes is longer than 2048 bytes");
        }
    }
    free(json);
}

static void test_huge_line_gives_a_clear_error_without_crashing(void **state)
{
    size_t n = (1u << 20) + 100;
    char *json = malloc(n);
    assert_non_null(json);
    static const char head[] = "{\"ts\":1,\"ok\":true,\"user\":\"";
    memcpy(json, head, sizeof head - 1);
    memset(json + sizeof head - 1, 'a', n - (sizeof head - 1) - 2);
    memcpy(json + n - 2, "\"}", 2);
    lg_attempt a;
    char err[ERR_LEN] = "";
    assert_int_equal(lg_attempt_decode(json, n, LG_ATTEMPT_REPLAY, &a, err, sizeof err),
                     LG_ETOOBIG);
    assert_non_null(strstr(err, "is longer than 2048 bytes"));
    /* the two paths on their own also survive it: both reject the long user */
    assert_int_equal(lg_attempt__decode_jansson(json, n, LG_ATTEMPT_REPLAY, &a, err,
                                                sizeof err),
                     LG_EINVAL);
    assert_string_equal(err, "field 'user': longer than 128 bytes");
    lg_attempt__fields fields;
    assert_int_equal(lg_attempt__scan_fast(json, n, &fields), 0);
    assert_int_equal(lg_attempt__from_fields(&fields, LG_ATTEMPT_REPLAY, &a, err, sizeof err),
                     LG_EINVAL);
    free(json);
}

static void test_error_text_is_optional_and_truncated_safely(void **state)
{
    lg_attempt a;
    char small[8];
    assert_int_equal(lg_attempt_decode("{}", 2, LG_ATTEMPT_REPLAY, &a, NULL, 0), LG_EINVAL);
    assert_int_equal(lg_attempt_decode("{}", 2, LG_ATTEMPT_REPLAY, &a, small, sizeof small),
                     LG_EINVAL);
    assert_string_equal(small, "missing");
}

/* ---- encoding --------------------------------------------------------------------- */

static void test_encode_writes_the_design_field_order(void **state)
{
    lg_attempt a;
    char buf[LG_EVENT_JSON_MAX];
    expect_accept(full_wire, LG_ATTEMPT_WIRE, &a);
    int n = lg_attempt_encode(&a, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(full_wire));
    assert_string_equal(buf, full_wire);
}

static void test_encode_omits_absent_id_ip_and_src(void **state)
{
    lg_attempt a;
    char buf[LG_EVENT_JSON_MAX];
    expect_accept("{\"ts\":9,\"user\":\"u\",\"ok\":true}", LG_ATTEMPT_REPLAY, &a);
    lg_attempt_encode(&a, buf, sizeof buf);
    assert_string_equal(buf, "{\"v\":1,\"ts\":9,\"user\":\"u\",\"ok\":true,\"outcome\":\"ok\"}");
}

static void test_encode_escapes_quote_backslash_and_control_bytes(void **state)
{
    lg_attempt a;
    char buf[LG_EVENT_JSON_MAX];
    memset(&a, 0, sizeof a);
    /* control bytes cannot pass the validators, but encode must still never emit them */
    memcpy(a.user, "q\"b\\c\x01\x1f\xc3\xa9", 9);
    a.user_len = 9;
    a.ts_ms = 3;
    snprintf(a.src, sizeof a.src, "s\"\n");
    lg_attempt_encode(&a, buf, sizeof buf);
    assert_string_equal(buf, "{\"v\":1,\"ts\":3,\"user\":\"q\\\"b\\\\c\\u0001\\u001f\xc3\xa9\","
                             "\"ok\":false,\"outcome\":\"ok\",\"src\":\"s\\\"\\u000a\"}");
}

static void test_encode_decode_round_trip_with_escaping(void **state)
{
    static const char *const users[] = {
        "alice", "q\"uote", "back\\slash", "caf\xc3\xa9", "\xf0\x9f\x94\x92 lock",
        "\"\\\"\\", "a b", "\xe2\x82\xac\xe2\x82\xac",
    };
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        lg_attempt a, b;
        char buf[LG_EVENT_JSON_MAX], err[ERR_LEN] = "";
        memset(&a, 0, sizeof a);
        snprintf(a.id, sizeof a.id, "id\"%zu\\", i);
        a.ts_ms = 1700000000000LL + (int64_t)i;
        a.user_len = (uint32_t)snprintf(a.user, sizeof a.user, "%s", users[i]);
        snprintf(a.ip, sizeof a.ip, i % 2 ? "2001:db8::%zx" : "198.51.100.%zu", i);
        a.ok = i % 3 == 0;
        a.outcome = (lg_outcome)(i % 3);
        snprintf(a.src, sizeof a.src, "api-\"%zu\"", i);
        int n = lg_attempt_encode(&a, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(lg_attempt_decode(buf, (size_t)n, LG_ATTEMPT_WIRE, &b, err, sizeof err),
                         0);
        if (!attempt_equal(&a, &b))
            fail_msg("round trip changed %s", buf);
    }
}

static void test_encode_reports_a_buffer_one_byte_short(void **state)
{
    lg_attempt a;
    char buf[LG_EVENT_JSON_MAX];
    expect_accept(full_wire, LG_ATTEMPT_WIRE, &a);
    size_t need = strlen(full_wire) + 1; /* with the NUL */
    assert_int_equal(lg_attempt_encode(&a, buf, need - 1), LG_ETOOBIG);
    assert_int_equal(lg_attempt_encode(&a, buf, need), (int)need - 1);
    assert_int_equal(lg_attempt_encode(&a, buf, 0), LG_ETOOBIG);
}

static void test_largest_escaped_attempt_fits_the_event_bound(void **state)
{
    lg_attempt a, b;
    char buf[LG_EVENT_JSON_MAX], err[ERR_LEN];
    memset(&a, 0, sizeof a);
    memset(a.id, '"', LG_ID_MAX);
    a.ts_ms = LG_TS_MAX_MS;
    memset(a.user, '\\', LG_USER_MAX);
    a.user_len = LG_USER_MAX;
    snprintf(a.ip, sizeof a.ip, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
    a.outcome = LG_OUTCOME_BLOCKED;
    memset(a.src, '"', LG_SRC_MAX);
    int n = lg_attempt_encode(&a, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(lg_attempt_decode(buf, (size_t)n, LG_ATTEMPT_WIRE, &b, err, sizeof err), 0);
    /* the longest address text is read back in its canonical (shorter) form */
    assert_string_equal(b.ip, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    snprintf(a.ip, sizeof a.ip, "%s", b.ip);
    assert_true(attempt_equal(&a, &b));
}

static void test_outcome_names(void **state)
{
    assert_string_equal(lg_outcome_name(LG_OUTCOME_OK), "ok");
    assert_string_equal(lg_outcome_name(LG_OUTCOME_FAIL), "fail");
    assert_string_equal(lg_outcome_name(LG_OUTCOME_BLOCKED), "blocked");
    assert_string_equal(lg_outcome_name((lg_outcome)7), "invalid");
}

/* ---- blocks ----------------------------------------------------------------------- */

static lg_block make_block(const char *rule, const char *user, const char *ip)
{
    lg_block b;
    memset(&b, 0, sizeof b);
    snprintf(b.rule, sizeof b.rule, "%s", rule);
    snprintf(b.user, sizeof b.user, "%s", user);
    snprintf(b.ip, sizeof b.ip, "%s", ip);
    b.since_ms = 1700000000000LL;
    b.until_ms = 1700000900000LL;
    b.level = 2;
    snprintf(b.reason, sizeof b.reason, "5 failures in 60s");
    return b;
}

static void test_block_encodes_in_design_order_for_each_rule(void **state)
{
    char buf[LG_EVENT_JSON_MAX];
    lg_block b = make_block("user", "alice", "");
    lg_block_encode(&b, buf, sizeof buf);
    assert_string_equal(buf, "{\"v\":1,\"user\":\"alice\",\"since\":1700000000000,"
                             "\"until\":1700000900000,\"level\":2,"
                             "\"reason\":\"5 failures in 60s\",\"rule\":\"user\"}");
    b = make_block("ip", "", "203.0.113.7");
    lg_block_encode(&b, buf, sizeof buf);
    assert_string_equal(buf, "{\"v\":1,\"ip\":\"203.0.113.7\",\"since\":1700000000000,"
                             "\"until\":1700000900000,\"level\":2,"
                             "\"reason\":\"5 failures in 60s\",\"rule\":\"ip\"}");
    b = make_block("user_ip", "al\"ice", "::1");
    lg_block_encode(&b, buf, sizeof buf);
    assert_string_equal(buf, "{\"v\":1,\"user\":\"al\\\"ice\",\"ip\":\"::1\","
                             "\"since\":1700000000000,\"until\":1700000900000,\"level\":2,"
                             "\"reason\":\"5 failures in 60s\",\"rule\":\"user_ip\"}");
}

static void test_block_round_trips_for_each_rule(void **state)
{
    lg_block in[] = {
        make_block("user", "caf\xc3\xa9\\", ""),
        make_block("ip", "", "2001:db8::7"),
        make_block("user_ip", "bob", "192.0.2.9"),
        make_block("stuffing", "", "192.0.2.10"),
        make_block("ip", "", "2001:db8:1:2::/64"),
        make_block("user_ip", "bob", "2001:db8::/48"),
    };
    in[0].until_ms = 0; /* permanent */
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char buf[LG_EVENT_JSON_MAX], err[ERR_LEN] = "";
        lg_block out;
        int n = lg_block_encode(&in[i], buf, sizeof buf);
        assert_true(n > 0);
        if (lg_block_decode(buf, (size_t)n, &out, err, sizeof err) != 0)
            fail_msg("%s: %s", buf, err);
        assert_string_equal(out.rule, in[i].rule);
        assert_string_equal(out.user, in[i].user);
        assert_string_equal(out.ip, in[i].ip);
        assert_true(out.since_ms == in[i].since_ms);
        assert_true(out.until_ms == in[i].until_ms);
        assert_int_equal(out.level, in[i].level);
        assert_string_equal(out.reason, in[i].reason);
    }
}

static void expect_block_reject(const char *json, const char *want)
{
    lg_block b;
    char err[ERR_LEN] = "";
    int rc = lg_block_decode(json, strlen(json), &b, err, sizeof err);
    if (rc != LG_EINVAL || strstr(err, want) == NULL)
        fail_msg("input %s: rc %d, error '%s', wanted '%s'", json, rc, err, want);
}

/* an IP-keyed rule's block names the network it keys (core/addr.h), read back in
 * canonical text whatever wrote it (kcat); IPv4 is keyed by the address alone */
static void test_block_ip_is_an_address_or_an_ipv6_network_in_canonical_text(void **state)
{
    static const char *const in[][2] = {
        {"2001:DB8:0:0::/64", "2001:db8::/64"},
        {"2001:db8::1/64", "2001:db8::/64"},
        {"2001:0DB8::1", "2001:db8::1"},
        {"::ffff:192.0.2.1", "192.0.2.1"},
        {"2001:db8::1/128", "2001:db8::1"},
    };
    char json[256], err[ERR_LEN];
    lg_block b;

    (void)state;
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        snprintf(json, sizeof json, "{\"v\":1,\"ip\":\"%s\",\"since\":5,\"until\":6,"
                 "\"level\":1,\"rule\":\"ip\"}", in[i][0]);
        if (lg_block_decode(json, strlen(json), &b, err, sizeof err) != 0)
            fail_msg("%s: %s", json, err);
        assert_string_equal(b.ip, in[i][1]);
    }
    expect_block_reject("{\"v\":1,\"ip\":\"10.0.0.0/8\",\"since\":5,\"until\":6,"
                        "\"level\":1,\"rule\":\"ip\"}",
                        "field 'ip': not a valid IPv4 or IPv6 address or IPv6 network");
    expect_block_reject("{\"v\":1,\"ip\":\"2001:db8::/129\",\"since\":5,\"until\":6,"
                        "\"level\":1,\"rule\":\"ip\"}",
                        "field 'ip': not a valid");
}

static void test_block_decode_is_strict(void **state)
{
    expect_block_reject("{\"v\":1,\"since\":1,\"until\":2,\"level\":1,\"rule\":\"user\"}",
                        "missing field 'user'");
    expect_block_reject("{\"v\":1,\"user\":\"a\",\"since\":1,\"until\":2,\"level\":1,"
                        "\"rule\":\"ip\"}",
                        "missing field 'ip'");
    expect_block_reject("{\"v\":1,\"ip\":\"::1\",\"since\":1,\"until\":2,\"level\":1,"
                        "\"rule\":\"user_ip\"}",
                        "missing field 'user'");
    expect_block_reject("{\"v\":1,\"since\":1,\"until\":2,\"level\":1,\"rule\":\"other\"}",
                        "missing field 'user' or 'ip'");
    expect_block_reject("{\"v\":1,\"user\":\"a\",\"since\":5,\"until\":5,\"level\":1,"
                        "\"rule\":\"user\"}",
                        "field 'until': expected 0 (permanent) or a time after 'since'");
    expect_block_reject("{\"v\":1,\"user\":\"a\",\"since\":5,\"until\":6,\"level\":0,"
                        "\"rule\":\"user\"}",
                        "field 'level': out of range");
    expect_block_reject("{\"v\":1,\"user\":\"a\",\"since\":5,\"until\":6,\"level\":1,"
                        "\"rule\":\"User\"}",
                        "field 'rule': expected only a-z, 0-9 and '_'");
    expect_block_reject("{\"v\":1,\"user\":\"a\",\"since\":5,\"until\":6,\"level\":1,"
                        "\"rule\":\"user\",\"user\":\"b\"}",
                        "duplicate object key");
    expect_block_reject("{\"v\":1,\"user\":\"a\",\"ip\":\"1.2.3\",\"since\":5,\"until\":6,"
                        "\"level\":1,\"rule\":\"user\"}",
                        "field 'ip': not a valid");
    expect_block_reject("{\"v\":1,\"user\":\"a\",\"since\":5,\"until\":6,\"level\":1}",
                        "missing field 'rule'");
    expect_block_reject("null", "invalid JSON at byte");
    lg_block b;
    static const char no_reason[] =
        "{\"v\":1,\"user\":\"a\",\"since\":5,\"until\":0,\"level\":1,\"rule\":\"user\"}";
    assert_int_equal(lg_block_decode(no_reason, sizeof no_reason - 1, &b, NULL, 0), 0);
    assert_string_equal(b.reason, "");
}

static void test_block_key_for_each_rule(void **state)
{
    char key[LG_BLOCK_KEY_MAX + 1];
    lg_block b = make_block("user", "alice", "");
    assert_int_equal(lg_block_key(&b, key, sizeof key), 10);
    assert_string_equal(key, "user:alice");
    b = make_block("ip", "", "203.0.113.7");
    assert_int_equal(lg_block_key(&b, key, sizeof key), 14);
    assert_string_equal(key, "ip:203.0.113.7");
    b = make_block("user_ip", "bob", "::1");
    lg_block_key(&b, key, sizeof key);
    assert_string_equal(key, "user_ip:bob|::1");
    /* a rule's key ignores the other field even when a block carries it */
    b = make_block("user", "alice", "::1");
    lg_block_key(&b, key, sizeof key);
    assert_string_equal(key, "user:alice");
    b = make_block("ip", "alice", "::1");
    lg_block_key(&b, key, sizeof key);
    assert_string_equal(key, "ip:::1");
    b = make_block("ip", "alice", "");
    assert_int_equal(lg_block_key(&b, key, sizeof key), LG_EINVAL);
    b = make_block("user_ip", "alice", "");
    assert_int_equal(lg_block_key(&b, key, sizeof key), LG_EINVAL);
}

static void test_longest_block_key_fits_and_a_short_buffer_is_refused(void **state)
{
    char key[LG_BLOCK_KEY_MAX + 1];
    lg_block b;
    memset(&b, 0, sizeof b);
    memset(b.rule, 'r', LG_RULE_NAME_MAX);
    memset(b.user, 'u', LG_USER_MAX);
    snprintf(b.ip, sizeof b.ip, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
    assert_int_equal(lg_block_key(&b, key, sizeof key), LG_BLOCK_KEY_MAX);
    assert_int_equal(lg_block_key(&b, key, LG_BLOCK_KEY_MAX), LG_ETOOBIG);
    b = make_block("user", "alice", "");
    assert_int_equal(lg_block_key(&b, key, 10), LG_ETOOBIG);
    assert_int_equal(lg_block_key(&b, key, 11), 10);
}

static void test_user_named_like_an_ip_key_has_a_key_of_its_own(void **state)
{
    char ukey[LG_BLOCK_KEY_MAX + 1], ikey[LG_BLOCK_KEY_MAX + 1];
    lg_block u = make_block("user", "ip:192.0.2.77", ""), ip = make_block("ip", "", "192.0.2.77");

    (void)state;
    assert_true(lg_block_key(&u, ukey, sizeof ukey) > 0);
    assert_true(lg_block_key(&ip, ikey, sizeof ikey) > 0);
    assert_string_equal(ukey, "user:ip:192.0.2.77");
    assert_string_equal(ikey, "ip:192.0.2.77");
    /* nor a user+ip pair, nor a network text as the ip part */
    u = make_block("user", "user_ip:bob|::1", "");
    lg_block pair = make_block("user_ip", "bob", "::1");
    assert_true(lg_block_key(&u, ukey, sizeof ukey) > 0);
    assert_true(lg_block_key(&pair, ikey, sizeof ikey) > 0);
    assert_string_not_equal(ukey, ikey);
    ip = make_block("ip", "", "2001:db8::/64");
    lg_block_key(&ip, ikey, sizeof ikey);
    assert_string_equal(ikey, "ip:2001:db8::/64");
}

static void expect_upgrade(const char *key, const char *want)
{
    char buf[LG_BLOCK_KEY_MAX + 1];
    int n = lg_block_key_upgrade(key, strlen(key), buf, sizeof buf);

    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_legacy_bare_user_key_upgrades_to_rule_user_s_key(void **state)
{
    char buf[LG_BLOCK_KEY_MAX + 1];
    char longest[LG_USER_MAX + 2];

    (void)state;
    expect_upgrade("alice", "user:alice");
    expect_upgrade("user:alice", "user:alice"); /* today's keys are kept */
    expect_upgrade("ip:192.0.2.1", "ip:192.0.2.1");
    expect_upgrade("user_ip:bob|::1", "user_ip:bob|::1");
    /* only the known rules' prefixes are namespaces: anything else was a bare user */
    expect_upgrade("users:x", "user:users:x");
    expect_upgrade("ip", "user:ip");
    expect_upgrade("ip:", "ip:");
    expect_upgrade("user_ipx:a", "user:user_ipx:a");
    expect_upgrade("IP:1.2.3.4", "user:IP:1.2.3.4");
    /* a legacy key is a user: 1..LG_USER_MAX bytes */
    memset(longest, 'u', LG_USER_MAX);
    longest[LG_USER_MAX] = '\0';
    assert_int_equal(lg_block_key_upgrade(longest, LG_USER_MAX, buf, sizeof buf),
                     LG_USER_MAX + 5);
    assert_int_equal(lg_block_key_upgrade(longest, LG_USER_MAX + 1, buf, sizeof buf),
                     LG_EINVAL);
    assert_int_equal(lg_block_key_upgrade("", 0, buf, sizeof buf), LG_EINVAL);
    assert_int_equal(lg_block_key_upgrade("alice", 5, buf, 10), LG_ETOOBIG);
    assert_int_equal(lg_block_key_upgrade("alice", 5, buf, 11), 10);
    /* in place */
    memcpy(buf, "bob", 4);
    assert_int_equal(lg_block_key_upgrade(buf, 3, buf, sizeof buf), 8);
    assert_string_equal(buf, "user:bob");
}

/* ---- differential: fast scanner vs jansson ----------------------------------------- */

static uint64_t rng_state = 0x5eed5eed1234abcdULL;

static uint64_t rng(void)
{
    /* splitmix64: deterministic, so a failure reproduces */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rnd(size_t n)
{
    return (size_t)(rng() % n);
}

static const char *pick(const char *const *list, size_t n)
{
    return list[rnd(n)];
}

#define PICK(list) pick((list), sizeof(list) / sizeof((list)[0]))

/* A value for key k: usually a plausible one, sometimes an edge or a wrong type. */
static const char *gen_value(int k)
{
    static const char *const any[] = {
        "null", "true", "false", "0", "1", "-0", "-1", "1.5", "1e3", "00", "{}", "[]",
        "\"\"", "\"x\"", "123456789012345678", "1234567890123456789", "[1,{\"a\":2}]",
    };
    static const char *const v[] = {"1", "1", "1", "2", "0"};
    static const char *const id[] = {
        "\"a1\"", "\"gen-1-42\"", "\"x y\"", "\"\"",
        "\"0123456789012345678901234567890123456789012345678901234567890123\"",
        "\"01234567890123456789012345678901234567890123456789012345678901234\"",
        "\"id\\\"q\"", "\"~!@#$%^&*()\"",
    };
    static const char *const ts[] = {
        "1700000000123", "0", "253402300799999", "253402300800000", "17", "999999999999999999",
    };
    static const char *const user[] = {
        "\"alice\"", "\"user000123\"", "\"a b\"", "\"\"", "\"caf\xc3\xa9\"", "\"a\\\"b\"",
        "\"\\u00e9\"", "\"x\x7f\"", "\"~\"",
        "\"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
        "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\"", /* 128 */
        "\"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
        "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\"", /* 129 */
    };
    static const char *const ip[] = {
        "\"203.0.113.7\"", "\"::1\"", "\"2001:db8::1\"", "\"1.2.3\"", "\"256.1.1.1\"",
        "\"::g\"", "\"1.2.3.4 \"", "\"\"", "\"01.2.3.4\"", "\"fe80::1%eth0\"",
        "\"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255\"",
    };
    static const char *const ok[] = {"true", "false", "true", "false", "1", "\"true\""};
    static const char *const outcome[] = {
        "\"ok\"", "\"fail\"", "\"blocked\"", "\"FAIL\"", "\"\"", "\"okay\"",
    };
    static const char *const src[] = {
        "\"api-1\"", "\"\"", "\"gen\"", "\"s\\\\\"",
        "\"ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss\"", /* 64 */
        "\"sssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss\"", /* 65 */
    };
    if (rnd(40) == 0)
        return PICK(any);
    /* mostly the first (valid) entry of each list, so that whole lines are often valid */
    bool valid = rnd(3) != 0;
    switch (k) {
    case LG_ATTEMPT__F_V: return valid ? v[0] : PICK(v);
    case LG_ATTEMPT__F_ID: return valid ? id[rnd(2)] : PICK(id);
    case LG_ATTEMPT__F_TS: return valid ? ts[rnd(2)] : PICK(ts);
    case LG_ATTEMPT__F_USER: return valid ? user[rnd(2)] : PICK(user);
    case LG_ATTEMPT__F_IP: return valid ? ip[rnd(3)] : PICK(ip);
    case LG_ATTEMPT__F_OK: return valid ? ok[rnd(2)] : PICK(ok);
    case LG_ATTEMPT__F_OUTCOME: return valid ? outcome[rnd(3)] : PICK(outcome);
    default: return valid ? src[rnd(3)] : PICK(src);
    }
}

static void append(char *buf, size_t *n, const char *s)
{
    size_t l = strlen(s);
    if (*n + l < LINE_CAP) {
        memcpy(buf + *n, s, l);
        *n += l;
    }
}

static const char *gen_ws(void)
{
    static const char *const ws[] = {" ", "\t", "\n", "\r\n", "  "};
    if (rnd(400) == 0)
        return "\f"; /* not JSON whitespace */
    return rnd(5) == 0 ? PICK(ws) : "";
}

/* A line built from known keys in random order, some dropped, random whitespace. */
static size_t gen_line(char *buf)
{
    static const char *const extra_keys[] = {"\"x\"", "\"User\"", "\"ts \"", "\"\\u0074s\""};
    int order[LG_ATTEMPT__F_COUNT];
    size_t n = 0;
    for (int i = 0; i < LG_ATTEMPT__F_COUNT; i++)
        order[i] = i;
    for (int i = LG_ATTEMPT__F_COUNT - 1; i > 0 && rnd(3) == 0; i--) {
        int j = (int)rnd((size_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    append(buf, &n, gen_ws());
    append(buf, &n, "{");
    bool first = true;
    for (int i = 0; i < LG_ATTEMPT__F_COUNT; i++) {
        int k = order[i];
        if (rnd(16) == 0)
            continue; /* dropped */
        if (!first)
            append(buf, &n, ",");
        first = false;
        append(buf, &n, gen_ws());
        append(buf, &n, "\"");
        append(buf, &n, lg_attempt__field_names[k]);
        append(buf, &n, "\"");
        append(buf, &n, gen_ws());
        append(buf, &n, ":");
        append(buf, &n, gen_ws());
        append(buf, &n, gen_value(k));
        append(buf, &n, gen_ws());
        if (rnd(100) == 0) { /* a duplicate or an unknown key */
            append(buf, &n, ",");
            append(buf, &n, rnd(2) ? "\"user\"" : PICK(extra_keys));
            append(buf, &n, ":1");
        }
    }
    append(buf, &n, "}");
    append(buf, &n, gen_ws());
    return n;
}

/* Mutations at the byte level: flip, insert an interesting byte, delete, truncate. */
static size_t mutate(char *buf, size_t n)
{
    static const char interesting[] = " \t\n\r\v\"\\,:{}[]01-.eEntf\x00\x7f\x80\xc3\xff+";
    size_t pos = n ? rnd(n) : 0;
    switch (rnd(5)) {
    case 0:
        if (n)
            buf[pos] = (char)rng();
        break;
    case 1:
        if (n + 1 < LINE_CAP) {
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = interesting[rnd(sizeof interesting - 1)];
            n++;
        }
        break;
    case 2:
        if (n) {
            memmove(buf + pos, buf + pos + 1, n - pos - 1);
            n--;
        }
        break;
    case 3:
        n = pos;
        break;
    default:
        if (n)
            buf[pos] = interesting[rnd(sizeof interesting - 1)];
        break;
    }
    return n;
}

static void test_fast_path_agrees_with_jansson_on_generated_inputs(void **state)
{
    char *buf = malloc(LINE_CAP);
    assert_non_null(buf);
    size_t fast_ok = 0, fast_rejected = 0, fallback = 0;

    for (int i = 0; i < DIFF_CASES; i++) {
        size_t n = gen_line(buf);
        size_t mutations = rnd(4) == 0 ? 1 + rnd(3) : 0;
        for (size_t m = 0; m < mutations; m++)
            n = mutate(buf, n);
        lg_attempt_mode mode = rnd(2) ? LG_ATTEMPT_WIRE : LG_ATTEMPT_REPLAY;
        lg_attempt fa, ja;
        char ferr[ERR_LEN] = "", jerr[ERR_LEN] = "";
        memset(&fa, 0, sizeof fa);
        memset(&ja, 0, sizeof ja);
        int frc = lg_attempt__decode_fast(buf, n, mode, &fa, ferr, sizeof ferr);
        if (frc == LG_ATTEMPT__FALLBACK) {
            fallback++;
            continue;
        }
        int jrc = lg_attempt__decode_jansson(buf, n, mode, &ja, jerr, sizeof jerr);
        if (frc != jrc || strcmp(ferr, jerr) != 0 || (frc == 0 && !attempt_equal(&fa, &ja)))
            fail_msg("case %d mode %d: fast %d '%s' vs jansson %d '%s' on: %.*s", i, mode, frc,
                     ferr, jrc, jerr, (int)n, buf);
        if (frc == 0)
            fast_ok++;
        else
            fast_rejected++;
    }
    /* the comparison must have happened often both ways, or the test proves nothing */
    print_message("fast ok %zu, fast rejected %zu, fallback %zu\n", fast_ok, fast_rejected, fallback);
    assert_true(fast_ok > DIFF_CASES / 20);
    assert_true(fast_rejected > DIFF_CASES / 20);
    assert_true(fallback > DIFF_CASES / 20);
    free(buf);
}

/* lg_ip_valid parses IPv4 itself (no copy for inet_pton); it must agree with glibc. */
static void test_ipv4_check_agrees_with_inet_pton(void **state)
{
    static const char alphabet[] = "0123456789.....25 x+-";
    char s[40]; /* 5 x "0300." fits */
    unsigned char addr[4];
    size_t valid = 0;
    for (int i = 0; i < 200000; i++) {
        size_t n;
        if (rnd(2)) { /* near-valid: 3..5 octets up to 300, sometimes zero-padded */
            size_t parts = 3 + rnd(3);
            n = 0;
            for (size_t k = 0; k < parts; k++)
                n += (size_t)snprintf(s + n, sizeof s - n, rnd(8) ? "%s%u" : "%s0%u",
                                      k ? "." : "", (unsigned)rnd(301));
            if (rnd(4) == 0)
                s[rnd(n)] = alphabet[rnd(sizeof alphabet - 1)];
        } else {
            n = 1 + rnd(17);
            for (size_t k = 0; k < n; k++)
                s[k] = alphabet[rnd(rnd(4) == 0 ? sizeof alphabet - 1 : 11)];
        }
        s[n] = '\0';
        bool ours = lg_ip_valid(s, n, NULL, 0);
        bool libc = inet_pton(AF_INET, s, addr) == 1;
        if (ours != libc)
            fail_msg("'%s': lg_ip_valid %d, inet_pton %d", s, ours, libc);
        valid += ours;
    }
    assert_true(valid > 1000); /* the comparison covered accepted addresses too */
}

static void test_fast_path_takes_the_common_shape(void **state)
{
    lg_attempt a;
    char err[ERR_LEN];
    assert_int_equal(lg_attempt__decode_fast(full_wire, strlen(full_wire), LG_ATTEMPT_WIRE, &a,
                                             err, sizeof err),
                     0);
    static const char spaced[] = " { \"ts\" : 1 ,\n\"user\":\"u\",\t\"ok\" : true } \r\n";
    assert_int_equal(lg_attempt__decode_fast(spaced, sizeof spaced - 1, LG_ATTEMPT_REPLAY, &a,
                                             err, sizeof err),
                     0);
    /* and leaves the rest to jansson */
    static const char *const others[] = {
        "{\"ts\":1,\"user\":\"\\u0075\",\"ok\":true}", "{\"ts\":1.0,\"user\":\"u\",\"ok\":true}",
        "{\"ts\":1,\"user\":\"u\",\"ok\":true,\"x\":1}", "{\"ts\":-0,\"user\":\"u\",\"ok\":true}",
        "{\"ts\":1,\"user\":\"u\",\"ok\":true,\"ok\":true}", "{\"ts\":1,\"user\":\"u\",\"ok\":null}",
        "{\"ts\":1,\"user\":\"caf\xc3\xa9\",\"ok\":true}", "{}", "{\"ts\":1,\"user\":\"u\",\"ok\":true}x",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_int_equal(lg_attempt__decode_fast(others[i], strlen(others[i]), LG_ATTEMPT_REPLAY,
                                                 &a, err, sizeof err),
                         LG_ATTEMPT__FALLBACK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_attempt_with_every_field_decodes),
        cmocka_unit_test(test_replay_attempt_needs_only_ts_user_and_ok),
        cmocka_unit_test(test_missing_fields_are_named_per_mode),
        cmocka_unit_test(test_blocked_outcome_marks_refused),
        cmocka_unit_test(test_version_other_than_one_is_rejected),
        cmocka_unit_test(test_id_of_64_bytes_is_accepted_and_65_rejected),
        cmocka_unit_test(test_id_must_be_nonempty_printable_ascii),
        cmocka_unit_test(test_ts_accepts_zero_to_year_9999_and_nothing_else),
        cmocka_unit_test(test_user_of_127_and_128_bytes_is_accepted_and_129_rejected),
        cmocka_unit_test(test_user_limit_counts_bytes_not_characters),
        cmocka_unit_test(test_empty_user_is_rejected),
        cmocka_unit_test(test_user_with_control_characters_is_rejected),
        cmocka_unit_test(test_nul_in_a_string_is_rejected),
        cmocka_unit_test(test_user_valid_rejects_each_kind_of_invalid_utf8),
        cmocka_unit_test(test_invalid_utf8_in_json_is_rejected),
        cmocka_unit_test(test_invalid_ips_are_rejected),
        cmocka_unit_test(test_valid_ips_are_accepted_up_to_45_bytes),
        cmocka_unit_test(test_ipv4_check_agrees_with_inet_pton),
        cmocka_unit_test(test_ok_must_be_a_boolean),
        cmocka_unit_test(test_wire_outcome_is_stored_and_checked),
        cmocka_unit_test(test_replay_ignores_outcome_whatever_its_value),
        cmocka_unit_test(test_src_of_64_bytes_is_accepted_and_65_rejected),
        cmocka_unit_test(test_unknown_fields_are_ignored),
        cmocka_unit_test(test_duplicate_keys_are_rejected),
        cmocka_unit_test(test_broken_json_names_the_byte_offset),
        cmocka_unit_test(test_top_level_must_be_an_object),
        cmocka_unit_test(test_event_of_2048_bytes_decodes_and_2049_is_too_big),
        cmocka_unit_test(test_huge_line_gives_a_clear_error_without_crashing),
        cmocka_unit_test(test_error_text_is_optional_and_truncated_safely),
        cmocka_unit_test(test_encode_writes_the_design_field_order),
        cmocka_unit_test(test_encode_omits_absent_id_ip_and_src),
        cmocka_unit_test(test_encode_escapes_quote_backslash_and_control_bytes),
        cmocka_unit_test(test_encode_decode_round_trip_with_escaping),
        cmocka_unit_test(test_encode_reports_a_buffer_one_byte_short),
        cmocka_unit_test(test_largest_escaped_attempt_fits_the_event_bound),
        cmocka_unit_test(test_outcome_names),
        cmocka_unit_test(test_block_encodes_in_design_order_for_each_rule),
        cmocka_unit_test(test_block_round_trips_for_each_rule),
        cmocka_unit_test(test_block_ip_is_an_address_or_an_ipv6_network_in_canonical_text),
        cmocka_unit_test(test_block_decode_is_strict),
        cmocka_unit_test(test_block_key_for_each_rule),
        cmocka_unit_test(test_longest_block_key_fits_and_a_short_buffer_is_refused),
        cmocka_unit_test(test_user_named_like_an_ip_key_has_a_key_of_its_own),
        cmocka_unit_test(test_legacy_bare_user_key_upgrades_to_rule_user_s_key),
        cmocka_unit_test(test_fast_path_agrees_with_jansson_on_generated_inputs),
        cmocka_unit_test(test_fast_path_takes_the_common_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
