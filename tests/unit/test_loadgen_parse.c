/*
 * test_loadgen_parse.c - the load generator's HTTP/1.1 response parser: status line,
 * headers split across reads (every split point), Content-Length, chunked, keep-alive
 * and close, interim 1xx, body until close, and malformed input rejected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/loadgen_parse.h"
#include "core/err.h"

static lg_loadgen_parse P; /* a line buffer inside: keep it off the test's stack */

/* Feeds the whole text at once; returns the feed status, *used the bytes consumed. */
static int feed_all(const char *text, size_t *used)
{
    lg_loadgen_parse_init(&P);
    return lg_loadgen_parse_feed(&P, text, strlen(text), used);
}

/* Feeds text in pieces of `step` bytes, as a socket might hand them over. */
static int feed_steps(const char *text, size_t step)
{
    lg_loadgen_parse_init(&P);
    size_t n = strlen(text), off = 0;
    while (off < n && !lg_loadgen_parse_done(&P)) {
        size_t len = n - off < step ? n - off : step;
        size_t used = 0;
        int rc = lg_loadgen_parse_feed(&P, text + off, len, &used);
        if (rc != 0)
            return rc;
        off += used;
    }
    return 0;
}

static const char OK_401[] = "HTTP/1.1 401 Unauthorized\r\n"
                             "Content-Type: application/json\r\n"
                             "Content-Length: 16\r\n"
                             "\r\n"
                             "{\"error\":\"auth\"}";

static void test_content_length_response_completes_with_status(void **state)
{
    (void)state;
    size_t used;
    assert_int_equal(feed_all(OK_401, &used), 0);
    assert_true(lg_loadgen_parse_done(&P));
    assert_int_equal(P.status, 401);
    assert_int_equal(used, strlen(OK_401));
    assert_int_equal(P.body_bytes, 16);
    assert_true(P.keep_alive);
}

static void test_response_split_at_every_byte_parses_the_same(void **state)
{
    (void)state;
    for (size_t step = 1; step <= strlen(OK_401); step++) {
        assert_int_equal(feed_steps(OK_401, step), 0);
        assert_true(lg_loadgen_parse_done(&P));
        assert_int_equal(P.status, 401);
        assert_int_equal(P.body_bytes, 16);
    }
}

static void test_incomplete_body_is_not_done(void **state)
{
    (void)state;
    size_t used;
    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcd";
    assert_int_equal(feed_all(text, &used), 0);
    assert_false(lg_loadgen_parse_done(&P));
    assert_int_equal(P.remaining, 1);
    /* the server closing now cuts the response short */
    assert_int_equal(lg_loadgen_parse_eof(&P), LG_EINVAL);
}

static void test_bytes_after_the_response_are_left_unconsumed(void **state)
{
    (void)state;
    size_t used;
    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1";
    assert_int_equal(feed_all(text, &used), 0);
    assert_true(lg_loadgen_parse_done(&P));
    assert_int_equal(used, strlen(text) - strlen("HTTP/1.1"));
}

static void test_zero_content_length_completes_at_headers_end(void **state)
{
    (void)state;
    size_t used;
    assert_int_equal(feed_all("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", &used), 0);
    assert_true(lg_loadgen_parse_done(&P));
    assert_int_equal(P.status, 202);
}

static void test_chunked_body_with_extensions_and_trailers(void **state)
{
    (void)state;
    const char *text = "HTTP/1.1 200 OK\r\n"
                       "Transfer-Encoding: chunked\r\n"
                       "\r\n"
                       "5;name=val\r\nhello\r\n"
                       "A\r\n0123456789\r\n"
                       "0\r\n"
                       "X-Trailer: yes\r\n"
                       "\r\n";
    for (size_t step = 1; step <= strlen(text); step++) {
        assert_int_equal(feed_steps(text, step), 0);
        assert_true(lg_loadgen_parse_done(&P));
        assert_int_equal(P.body_bytes, 15);
    }
}

static void test_chunk_longer_than_its_size_is_malformed(void **state)
{
    (void)state;
    size_t used;
    const char *text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n";
    assert_int_equal(feed_all(text, &used), LG_EINVAL);
    assert_int_equal(P.state, LG_LOADGEN_PARSE_ERROR);
    assert_non_null(P.error);
}

static void test_connection_close_and_http10_end_keep_alive(void **state)
{
    (void)state;
    size_t used;
    assert_int_equal(feed_all("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                              &used), 0);
    assert_false(P.keep_alive);
    assert_int_equal(feed_all("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &used), 0);
    assert_false(P.keep_alive);
    assert_int_equal(feed_all("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
                              "Content-Length: 0\r\n\r\n", &used), 0);
    assert_true(P.keep_alive);
}

static void test_body_without_framing_runs_until_close(void **state)
{
    (void)state;
    size_t used;
    assert_int_equal(feed_all("HTTP/1.1 200 OK\r\n\r\nsome body", &used), 0);
    assert_false(lg_loadgen_parse_done(&P));
    assert_false(P.keep_alive);
    assert_int_equal(lg_loadgen_parse_eof(&P), 0);
    assert_true(lg_loadgen_parse_done(&P));
    assert_int_equal(P.body_bytes, 9);
}

static void test_204_has_no_body_even_without_length(void **state)
{
    (void)state;
    size_t used;
    assert_int_equal(feed_all("HTTP/1.1 204 No Content\r\n\r\n", &used), 0);
    assert_true(lg_loadgen_parse_done(&P));
    assert_true(P.keep_alive);
}

static void test_interim_100_continue_is_skipped(void **state)
{
    (void)state;
    size_t used;
    assert_int_equal(feed_all("HTTP/1.1 100 Continue\r\n\r\n" "HTTP/1.1 423 Locked\r\n"
                              "Retry-After: 900\r\nContent-Length: 0\r\n\r\n", &used), 0);
    assert_true(lg_loadgen_parse_done(&P));
    assert_int_equal(P.status, 423);
}

static void test_bare_lf_line_endings_are_accepted(void **state)
{
    (void)state;
    size_t used;
    assert_int_equal(feed_all("HTTP/1.1 503 Busy\nContent-Length: 1\n\nx", &used), 0);
    assert_true(lg_loadgen_parse_done(&P));
    assert_int_equal(P.status, 503);
}

static void test_status_line_without_reason_is_accepted(void **state)
{
    (void)state;
    size_t used;
    assert_int_equal(feed_all("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", &used), 0);
    assert_int_equal(P.status, 200);
}

static void test_malformed_responses_are_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 600 High\r\n\r\n",
        "SMTP ready\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t used = 12345;
        int rc = feed_all(bad[i], &used);
        if (rc != LG_EINVAL)
            fail_msg("accepted malformed response %zu: %s", i, bad[i]);
        assert_int_equal(used, 12345); /* not written on failure */
        assert_non_null(P.error);
    }
}

static void test_nul_in_header_is_an_error(void **state)
{
    (void)state;
    static const char text[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
    size_t used;
    lg_loadgen_parse_init(&P);
    assert_int_equal(lg_loadgen_parse_feed(&P, text, sizeof text - 1, &used), LG_EINVAL);
}

static void test_line_at_limit_is_rejected_one_below_is_accepted(void **state)
{
    (void)state;
    /* a line of LG_LOADGEN_LINE_MAX - 1 bytes before its LF fits, one more does not */
    static char text[LG_LOADGEN_LINE_MAX * 2];
    for (int extra = -1; extra <= 1; extra++) {
        size_t line = LG_LOADGEN_LINE_MAX - 1 + (size_t)extra; /* bytes before the LF */
        const char *head = "HTTP/1.1 200 OK\r\n";
        size_t off = (size_t)snprintf(text, sizeof text, "%sX: ", head);
        memset(text + off, 'a', line - 3);
        off += line - 3;
        snprintf(text + off, sizeof text - off, "\nContent-Length: 0\r\n\r\n");
        size_t used;
        int rc = feed_all(text, &used);
        if (extra <= 0)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, LG_EINVAL);
    }
}

static void test_header_count_limit(void **state)
{
    (void)state;
    static char text[64 * (LG_LOADGEN_HEADERS_MAX + 2)];
    for (int n = LG_LOADGEN_HEADERS_MAX - 1; n <= LG_LOADGEN_HEADERS_MAX + 1; n++) {
        size_t off = (size_t)snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < n - 1; i++)
            off += (size_t)snprintf(text + off, sizeof text - off, "X-%d: v\r\n", i);
        snprintf(text + off, sizeof text - off, "Content-Length: 0\r\n\r\n");
        size_t used;
        int rc = feed_all(text, &used);
        assert_int_equal(rc, n <= LG_LOADGEN_HEADERS_MAX ? 0 : LG_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length_response_completes_with_status),
        cmocka_unit_test(test_response_split_at_every_byte_parses_the_same),
        cmocka_unit_test(test_incomplete_body_is_not_done),
        cmocka_unit_test(test_bytes_after_the_response_are_left_unconsumed),
        cmocka_unit_test(test_zero_content_length_completes_at_headers_end),
        cmocka_unit_test(test_chunked_body_with_extensions_and_trailers),
        cmocka_unit_test(test_chunk_longer_than_its_size_is_malformed),
        cmocka_unit_test(test_connection_close_and_http10_end_keep_alive),
        cmocka_unit_test(test_body_without_framing_runs_until_close),
        cmocka_unit_test(test_204_has_no_body_even_without_length),
        cmocka_unit_test(test_interim_100_continue_is_skipped),
        cmocka_unit_test(test_bare_lf_line_endings_are_accepted),
        cmocka_unit_test(test_status_line_without_reason_is_accepted),
        cmocka_unit_test(test_malformed_responses_are_errors),
        cmocka_unit_test(test_nul_in_header_is_an_error),
        cmocka_unit_test(test_line_at_limit_is_rejected_one_below_is_accepted),
        cmocka_unit_test(test_header_count_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
