/*
 * test_http_server.c - lg_http_server on loopback with a test handler: immediate answers,
 * answers deferred to another thread (late, and early: before the handler returns),
 * bodies over the inline size, the bounds checked before the handler (411, 413 at
 * LG_HTTP_BODY_MAX and one byte more, 414, headers served up to LG_HTTP_HEADERS_SERVED
 * and 431 far past it), keep-alive, a whole-request timeout for a client that keeps
 * sending slowly, 503 for a connection over connections_max, and a drain that waits for
 * deferred requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/limits.h"
#include "http/server.h"

typedef struct fixture {
    lg_http_server *srv;
    uint16_t port;
    _Atomic int handled, done;
    _Atomic unsigned last_status;
} fixture;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *answer_later(void *arg)
{
    lg_http_req *r = arg;
    sleep_ms(20);
    lg_http_req_header_add(r, "X-Later", "yes");
    lg_http_req_respond(r, 202, "text/plain", "later", 5);
    return NULL;
}

static void handler(void *opaque, lg_http_req *r)
{
    fixture *f = opaque;
    const char *path = lg_http_req_path(r);
    size_t len;
    const char *body = lg_http_req_body(r, &len);
    char out[64];

    atomic_fetch_add(&f->handled, 1);
    lg_http_req_route_set(r, 7);
    if (strcmp(path, "/echo-len") == 0) {
        int n = snprintf(out, sizeof out, "%zu", len);
        lg_http_req_respond(r, 200, "text/plain", out, (size_t)n);
    } else if (strcmp(path, "/later") == 0) {
        pthread_t t;
        lg_http_req_defer(r);
        assert_int_equal(pthread_create(&t, NULL, answer_later, r), 0);
        pthread_detach(t);
    } else if (strcmp(path, "/early") == 0) {
        /* deferred, then answered before the handler returns */
        lg_http_req_defer(r);
        lg_http_req_respond(r, 201, "text/plain", "early", 5);
    } else if (strcmp(path, "/big") == 0) {
        static char big[20000];
        memset(big, 'b', sizeof big);
        lg_http_req_respond(r, 200, "text/plain", big, sizeof big);
    } else if (strcmp(path, "/peer") == 0) {
        const char *peer = lg_http_req_peer(r);
        lg_http_req_respond(r, 200, "text/plain", peer, strlen(peer));
    } else {
        (void)body;
        lg_http_req_respond_error(r, LG_HTTP_E_NOT_FOUND, NULL);
    }
}

static void on_done(void *opaque, const lg_http_req *r, unsigned status, int64_t duration_ns)
{
    fixture *f = opaque;
    (void)duration_ns;
    (void)r;
    atomic_store(&f->last_status, status);
    atomic_fetch_add(&f->done, 1);
}

static int setup_timeout(void **state, uint32_t timeout_s)
{
    fixture *f = calloc(1, sizeof *f);
    lg_http_conf conf = {.listen = "127.0.0.1", .port = 0, .threads = 2,
                         .connections_max = 64, .timeout_s = timeout_s};
    char err[256];
    assert_non_null(f);
    assert_int_equal(lg_http_server_new(&conf, handler, on_done, f, &f->srv, err, sizeof err), 0);
    f->port = lg_http_server_port(f->srv);
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_timeout(state, 5);
}

static int setup_short_timeout(void **state)
{
    return setup_timeout(state, 1);
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(lg_http_server_drain(f->srv, 5000), 0);
    lg_http_server_free(f->srv);
    free(f);
    return 0;
}

static int connect_to(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close first (413): the caller reads the answer */
        data += n;
        len -= (size_t)n;
    }
}

/* Reads one response (headers + Content-Length body) into buf; returns the status. */
static int read_response(int fd, char *buf, size_t cap, size_t *body_len)
{
    size_t len = 0;
    char *end = NULL;
    long clen = -1;

    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            char *cl = strcasestr(buf, "Content-Length:");
            clen = cl ? strtol(cl + 15, NULL, 10) : 0;
            if (len >= (size_t)(end + 4 - buf) + (size_t)clen)
                break;
        }
    }
    buf[len] = '\0';
    if (end == NULL || strncmp(buf, "HTTP/1.1 ", 9) != 0)
        return -1;
    if (body_len != NULL)
        *body_len = (size_t)clen;
    return (int)strtol(buf + 9, NULL, 10);
}

static int exchange(uint16_t port, const char *req, size_t req_len, char *buf, size_t cap)
{
    int fd = connect_to(port);
    send_all(fd, req, req_len);
    int st = read_response(fd, buf, cap, NULL);
    close(fd);
    return st;
}

static int get(uint16_t port, const char *path, char *buf, size_t cap)
{
    char req[LG_HTTP_URL_MAX + 256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    return exchange(port, req, (size_t)n, buf, cap);
}

static const char *body_of(const char *resp)
{
    return strstr(resp, "\r\n\r\n") + 4;
}

static void test_immediate_and_error_answers(void **state)
{
    fixture *f = *state;
    char buf[4096];
    assert_int_equal(get(f->port, "/echo-len", buf, sizeof buf), 200);
    assert_string_equal(body_of(buf), "0");
    assert_int_equal(get(f->port, "/nope", buf, sizeof buf), 404);
    assert_non_null(strstr(buf, "{\"error\":\"not_found\""));
    assert_int_equal(get(f->port, "/peer", buf, sizeof buf), 200);
    assert_string_equal(body_of(buf), "127.0.0.1");
}

static void test_answer_from_another_thread_resumes_the_request(void **state)
{
    fixture *f = *state;
    char buf[4096];
    assert_int_equal(get(f->port, "/later", buf, sizeof buf), 202);
    assert_string_equal(body_of(buf), "later");
    assert_non_null(strstr(buf, "X-Later: yes"));
}

static void test_answer_given_before_the_handler_returns_is_sent(void **state)
{
    fixture *f = *state;
    char buf[4096];
    for (int i = 0; i < 50; i++) {
        assert_int_equal(get(f->port, "/early", buf, sizeof buf), 201);
        assert_string_equal(body_of(buf), "early");
    }
}

static void test_large_answer_is_sent_whole(void **state)
{
    fixture *f = *state;
    static char buf[32768];
    size_t body_len = 0;
    int fd = connect_to(f->port);
    const char *req = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, strlen(req));
    assert_int_equal(read_response(fd, buf, sizeof buf, &body_len), 200);
    close(fd);
    assert_int_equal(body_len, 20000);
    assert_int_equal(strlen(body_of(buf)), 20000);
}

static void test_keep_alive_serves_many_requests_on_one_connection(void **state)
{
    fixture *f = *state;
    char buf[4096];
    int fd = connect_to(f->port);
    for (int i = 0; i < 20; i++) {
        const char *req = i % 2 ? "GET /later HTTP/1.1\r\nHost: t\r\n\r\n"
                                : "GET /echo-len HTTP/1.1\r\nHost: t\r\n\r\n";
        send_all(fd, req, strlen(req));
        assert_int_equal(read_response(fd, buf, sizeof buf, NULL), i % 2 ? 202 : 200);
    }
    close(fd);
}

static int post_of_len(uint16_t port, size_t len, char *buf, size_t cap)
{
    char *req = malloc(len + 256);
    assert_non_null(req);
    int n = snprintf(req, 256, "POST /echo-len HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
                     len);
    memset(req + n, 'x', len);
    int st = exchange(port, req, (size_t)n + len, buf, cap);
    free(req);
    return st;
}

static void test_body_bound_is_inclusive_at_body_max(void **state)
{
    fixture *f = *state;
    char buf[4096];
    assert_int_equal(post_of_len(f->port, LG_HTTP_BODY_MAX - 1, buf, sizeof buf), 200);
    assert_int_equal(atoi(body_of(buf)), LG_HTTP_BODY_MAX - 1);
    assert_int_equal(post_of_len(f->port, LG_HTTP_BODY_MAX, buf, sizeof buf), 200);
    assert_int_equal(atoi(body_of(buf)), LG_HTTP_BODY_MAX);
    assert_int_equal(post_of_len(f->port, LG_HTTP_BODY_MAX + 1, buf, sizeof buf), 413);
    assert_non_null(strstr(buf, "payload_too_large"));
}

static void test_chunked_body_over_the_bound_is_refused(void **state)
{
    fixture *f = *state;
    char buf[4096];
    char req[8192];
    int n = snprintf(req, sizeof req, "POST /echo-len HTTP/1.1\r\nHost: t\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n1000\r\n");
    memset(req + n, 'c', 4096);
    n += 4096;
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n1\r\nc\r\n0\r\n\r\n");
    assert_int_equal(exchange(f->port, req, (size_t)n, buf, sizeof buf), 413);
    /* exactly the bound, chunked: accepted */
    n = snprintf(req, sizeof req, "POST /echo-len HTTP/1.1\r\nHost: t\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n1000\r\n");
    memset(req + n, 'c', 4096);
    n += 4096;
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n0\r\n\r\n");
    assert_int_equal(exchange(f->port, req, (size_t)n, buf, sizeof buf), 200);
    assert_string_equal(body_of(buf), "4096");
}

static void test_post_without_length_or_chunked_is_411(void **state)
{
    fixture *f = *state;
    char buf[4096];
    const char *req = "POST /echo-len HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(exchange(f->port, req, strlen(req), buf, sizeof buf), 411);
    assert_non_null(strstr(buf, "length_required"));
}

static void test_path_over_url_max_is_414(void **state)
{
    fixture *f = *state;
    char buf[4096];
    char path[LG_HTTP_URL_MAX + 2];
    path[0] = '/';
    memset(path + 1, 'p', LG_HTTP_URL_MAX);
    path[LG_HTTP_URL_MAX + 1] = '\0'; /* URL_MAX + 1 bytes */
    assert_int_equal(get(f->port, path, buf, sizeof buf), 414);
    path[LG_HTTP_URL_MAX] = '\0'; /* exactly URL_MAX: routed (404 from the handler) */
    assert_int_equal(get(f->port, path, buf, sizeof buf), 404);
}

/* Reads until the server closes; returns the status of the first response, -1 if none. */
static int status_until_close(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < cap && (n = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    if (strncmp(buf, "HTTP/1.1 ", 9) != 0)
        return -1;
    return (int)strtol(buf + 9, NULL, 10);
}

static void test_headers_up_to_headers_served_pass_and_far_over_get_431(void **state)
{
    fixture *f = *state;
    static char req[4 * LG_HTTP_CONN_MEMORY];
    char buf[4096];
    const char *head = "GET /echo-len HTTP/1.1\r\nHost: t\r\nX-Pad: ";
    size_t hl = strlen(head);
    int fd;

    /* request line and headers of exactly LG_HTTP_HEADERS_SERVED bytes: served */
    memcpy(req, head, hl);
    memset(req + hl, 'h', LG_HTTP_HEADERS_SERVED - hl - 4);
    memcpy(req + LG_HTTP_HEADERS_SERVED - 4, "\r\n\r\n", 4);
    assert_int_equal(exchange(f->port, req, LG_HTTP_HEADERS_SERVED, buf, sizeof buf), 200);
    /* a longest path and a longest bearer token together fit as well */
    {
        char path[LG_HTTP_URL_MAX + 1];
        int n;
        path[0] = '/';
        memset(path + 1, 'p', LG_HTTP_URL_MAX - 1);
        path[LG_HTTP_URL_MAX] = '\0';
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ",
                     path);
        memset(req + n, 't', LG_JWT_MAX);
        n += LG_JWT_MAX;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n\r\n");
        assert_int_equal(exchange(f->port, req, (size_t)n, buf, sizeof buf), 404);
    }
    /* twice the connection memory in one header: 431, then closed */
    memcpy(req, head, hl);
    memset(req + hl, 'h', 2 * LG_HTTP_CONN_MEMORY);
    memcpy(req + hl + 2 * LG_HTTP_CONN_MEMORY, "\r\n\r\n", 4);
    fd = connect_to(f->port);
    send_all(fd, req, hl + 2 * LG_HTTP_CONN_MEMORY + 4);
    assert_int_equal(status_until_close(fd, buf, sizeof buf), 431);
    close(fd);
    /* the server goes on */
    assert_int_equal(get(f->port, "/echo-len", buf, sizeof buf), 200);
}

static void test_done_callback_sees_every_answer(void **state)
{
    fixture *f = *state;
    char buf[4096];
    int before = atomic_load(&f->done);
    assert_int_equal(get(f->port, "/later", buf, sizeof buf), 202);
    for (int i = 0; i < 200 && atomic_load(&f->done) == before; i++)
        sleep_ms(5);
    assert_int_equal(atomic_load(&f->done), before + 1);
    assert_int_equal(atomic_load(&f->last_status), 202);
}

static void test_client_sending_slowly_is_cut_after_timeout(void **state)
{
    fixture *f = *state; /* timeout_s = 1 */
    char c;
    int fd = connect_to(f->port);
    struct timeval tv = {0, 300000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *req = "GET /echo-len HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int cut_at = -1;
    /* one byte every 300 ms never looks idle; the 1 s whole-request bound must cut it */
    for (int i = 0; i < 20 && req[i] != '\0'; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) {
            cut_at = i;
            break;
        }
        ssize_t n = recv(fd, &c, 1, 0);
        if (n == 0) {
            cut_at = i;
            break;
        }
    }
    close(fd);
    assert_true(cut_at >= 2);  /* not before ~1 s (3 x 300 ms) */
    assert_true(cut_at <= 8);  /* and not much after (reaper period 200 ms) */
}

/* Over connections_max, a connection's request is answered 503 + Connection: close;
 * the connections within the bound are unaffected, and once they are released new
 * connections are served again. */
static void test_connection_over_the_limit_gets_503_and_server_recovers(void **state)
{
    fixture *f = *state; /* connections_max = 64 */
    int fds[64];
    char buf[4096];
    for (int i = 0; i < 64; i++)
        fds[i] = connect_to(f->port);
    sleep_ms(200); /* let the server accept them all */
    assert_int_equal(get(f->port, "/echo-len", buf, sizeof buf), 503);
    assert_non_null(strstr(buf, "too many connections"));
    assert_non_null(strcasestr(buf, "Connection: close"));
    assert_non_null(strstr(buf, "Retry-After: 1"));
    /* one of the 64 is still served */
    send_all(fds[0], "GET /echo-len HTTP/1.1\r\nHost: t\r\n\r\n", 35);
    assert_int_equal(read_response(fds[0], buf, sizeof buf, NULL), 200);
    for (int i = 0; i < 64; i++)
        close(fds[i]);
    sleep_ms(200);
    assert_int_equal(get(f->port, "/echo-len", buf, sizeof buf), 200);
}

static void test_drain_waits_for_deferred_requests(void **state)
{
    fixture *f = *state;
    char buf[4096];
    int fd = connect_to(f->port);
    const char *req = "GET /later HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, strlen(req));
    for (int i = 0; i < 200 && atomic_load(&f->handled) == 0; i++)
        sleep_ms(2);
    assert_int_equal(atomic_load(&f->handled), 1);
    assert_int_equal(lg_http_server_drain(f->srv, 5000), 0);
    assert_int_equal(read_response(fd, buf, sizeof buf, NULL), 202);
    assert_non_null(strcasestr(buf, "Connection: close"));
    /* answered with Connection: close during the drain, then new connections are refused */
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_immediate_and_error_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_from_another_thread_resumes_the_request,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_given_before_the_handler_returns_is_sent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_answer_is_sent_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive_serves_many_requests_on_one_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_bound_is_inclusive_at_body_max, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chunked_body_over_the_bound_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_post_without_length_or_chunked_is_411, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_path_over_url_max_is_414, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_headers_up_to_headers_served_pass_and_far_over_get_431, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_callback_sees_every_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_sending_slowly_is_cut_after_timeout,
                                        setup_short_timeout, teardown),
        cmocka_unit_test_setup_teardown(
            test_connection_over_the_limit_gets_503_and_server_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_waits_for_deferred_requests, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
