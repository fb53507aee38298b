/*
 * server.c - libmicrohttpd behind lg_http_server: epoll I/O threads, bounded requests,
 * deferred answers through suspend/resume, and a reaper thread bounding request time.
 *
 * libmicrohttpd calls the access handler at least three times per request (headers, each
 * body chunk, end of body) and only times out *inactive* connections, so a client sending
 * one byte per second would hold a connection forever. Every connection is therefore
 * tracked (MHD_OPTION_NOTIFY_CONNECTION) with a deadline: timeout_s after it became idle,
 * its next request must be fully received. The reaper shuts down the socket of a
 * connection past its deadline; libmicrohttpd then sees EOF and closes it. The tracking
 * list and the close notification share one mutex, so the reaper never touches a socket
 * number libmicrohttpd has already released.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/limits.h"
#include "core/log.h"

/* response bodies up to this size live inside the request; larger ones are malloc'd */
#define LG_HTTP_RESP_INLINE 1024
/* how often the reaper looks for connections past their deadline */
#define LG_HTTP_REAP_INTERVAL_MS 200
/* libmicrohttpd log lines per second; the rest are dropped */
#define LG_HTTP_LOG_PER_S 10
/* how long a connection over connections_max may take to send its request */
#define LG_HTTP_OVER_GRACE_NS 1000000000LL

/*
 * A tracked connection. deadline_ns is 0 while its request is being handled (the
 * handler, the worker pool and the bus bound that part), else the monotonic time by
 * which the next request must be fully received.
 *
 *   accepted --(notify STARTED)--> receiving --(on_access, end of body)--> handling
 *   handling --(on_completed)--> receiving        any --(notify CLOSED)--> freed
 *   receiving --(reaper: deadline passed, shutdown(fd))--> closed by libmicrohttpd
 */
typedef struct lg_http_conn {
    struct lg_http_conn *prev, *next;
    int fd;
    bool over; /* accepted past connections_max: its request gets 503 */
    _Atomic int64_t deadline_ns;
    /* the last request's memory, reused by the next one on this connection: a ~10 KiB
     * malloc/free per request made glibc grow and trim its arenas (mprotect) under
     * load. I/O thread only (requests and the close notification of a connection run
     * on its thread). */
    lg_http_req *spare;
} lg_http_conn;

struct lg_http_server {
    struct MHD_Daemon *mhd;
    /* the listen socket MHD_quiesce_daemon handed back: closed only after the daemon has
     * stopped, because its epoll thread removes it from its set afterwards (closing it
     * first made that EPOLL_CTL_DEL fail with EBADF, which MHD treats as fatal) */
    MHD_socket quiesced_fd;
    lg_http_handler handler;
    lg_http_done_cb done;
    void *opaque;
    uint16_t port;
    int64_t timeout_ns;
    uint32_t connections_max;
    _Atomic bool stopping;
    _Atomic uint64_t connections, in_flight, timeouts;

    pthread_mutex_t conns_lock; /* guards the list and every fd the reaper shuts down */
    lg_http_conn *conns;
    pthread_t reaper;
    bool reaper_started;
    pthread_mutex_t reaper_lock;
    pthread_cond_t reaper_cond;
    bool reaper_stop;
};

/* Deferred-answer handshake between the I/O thread and the answering thread. */
enum { REQ_RUNNING = 0, REQ_SUSPENDED = 1, REQ_ANSWERED_EARLY = 2 };

typedef struct resp_header {
    const char *name;
    char value[LG_HTTP_HEADER_VALUE_MAX + 1];
} resp_header;

struct lg_http_req {
    lg_http_server *srv;
    struct MHD_Connection *conn;
    lg_http_conn *hc; /* NULL if the connection could not be tracked */
    int64_t start_ns;
    const char *method, *path; /* libmicrohttpd's, valid until completion */
    int route;
    bool dispatched, deferred, queued, too_big;
    size_t body_len, discarded;
    _Atomic int state;
    _Atomic bool ready;

    unsigned status;
    const char *content_type;
    char *resp_body; /* resp_inline or malloc'd (resp_owned) */
    size_t resp_len;
    bool resp_owned;
    size_t n_headers;
    resp_header headers[LG_HTTP_RESP_HEADERS_MAX];

    char peer[LG_IP_MAX + 1];
    size_t arena_used;
    _Alignas(max_align_t) char arena[LG_HTTP_ARENA];
    char resp_inline[LG_HTTP_RESP_INLINE];
    char body[LG_HTTP_BODY_MAX + 1];
};

/* --- logging ---------------------------------------------------------------------- */

static _Atomic int64_t log_window_s;
static _Atomic int log_in_window;

/* libmicrohttpd's error log, rate-limited: a connection flood must not flood stderr */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    int64_t now_s = lg_mono_ns() / 1000000000;
    int64_t w = atomic_load(&log_window_s);
    size_t len;

    (void)cls;
    if (w != now_s && atomic_compare_exchange_strong(&log_window_s, &w, now_s))
        atomic_store(&log_in_window, 0);
    if (atomic_fetch_add(&log_in_window, 1) >= LG_HTTP_LOG_PER_S)
        return;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(line, sizeof line, fmt, ap);
#pragma GCC diagnostic pop
    len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    lg_log(LG_WARN, "http", "libmicrohttpd: %s", line);
}

/* --- connection tracking ---------------------------------------------------------- */

static lg_http_conn *conn_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    lg_http_server *s = cls;
    lg_http_conn *hc;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        uint64_t open = atomic_fetch_add(&s->connections, 1) + 1;
        hc = calloc(1, sizeof *hc);
        if (hc == NULL || ci == NULL) {
            /* untracked: still served, bounded by the inactivity timeout only */
            free(hc);
            *socket_context = NULL;
            return;
        }
        hc->fd = ci->connect_fd;
        hc->over = open > s->connections_max;
        atomic_store(&hc->deadline_ns, lg_mono_ns() + (hc->over ? LG_HTTP_OVER_GRACE_NS
                                                                 : s->timeout_ns));
        pthread_mutex_lock(&s->conns_lock);
        hc->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = hc;
        s->conns = hc;
        pthread_mutex_unlock(&s->conns_lock);
        *socket_context = hc;
        return;
    }
    atomic_fetch_sub(&s->connections, 1);
    hc = *socket_context;
    if (hc == NULL)
        return;
    pthread_mutex_lock(&s->conns_lock);
    if (hc->prev != NULL)
        hc->prev->next = hc->next;
    else
        s->conns = hc->next;
    if (hc->next != NULL)
        hc->next->prev = hc->prev;
    pthread_mutex_unlock(&s->conns_lock);
    free(hc->spare);
    free(hc);
    *socket_context = NULL;
}

/* Runs until lg_http_server_free; the one unbounded loop here, bounded by its stop flag. */
static void *reaper_main(void *arg)
{
    lg_http_server *s = arg;

    pthread_mutex_lock(&s->reaper_lock);
    while (!s->reaper_stop) {
        struct timespec until;
        int64_t now;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)LG_HTTP_REAP_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->reaper_cond, &s->reaper_lock, &until);
        if (s->reaper_stop)
            break;
        now = lg_mono_ns();
        pthread_mutex_lock(&s->conns_lock);
        for (lg_http_conn *hc = s->conns; hc != NULL; hc = hc->next) {
            int64_t deadline = atomic_load(&hc->deadline_ns);
            if (deadline == 0 || now < deadline)
                continue;
            /* once: the connection closes at libmicrohttpd's next read */
            atomic_store(&hc->deadline_ns, 0);
            shutdown(hc->fd, SHUT_RDWR);
            atomic_fetch_add(&s->timeouts, 1);
        }
        pthread_mutex_unlock(&s->conns_lock);
    }
    pthread_mutex_unlock(&s->reaper_lock);
    return NULL;
}

/* --- requests --------------------------------------------------------------------- */

/* Keeps r as its connection's spare, or frees it. */
static void req_free(lg_http_req *r)
{
    if (r->resp_owned)
        free(r->resp_body);
    if (r->hc != NULL && r->hc->spare == NULL)
        r->hc->spare = r;
    else
        free(r);
}

/* Queues the stored answer on the connection (I/O thread). */
static enum MHD_Result req_queue(lg_http_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    lg_assert(!r->queued);
    lg_assert(r->status >= 100);
    resp = MHD_create_response_from_buffer(r->resp_len, r->resp_body, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    if (r->content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    if (atomic_load(&r->srv->stopping) || (r->hc != NULL && r->hc->over))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES)
        r->queued = true;
    return ret;
}

/* Answers from the I/O thread before the handler ran (limits). */
static enum MHD_Result req_reject(lg_http_req *r, lg_http_err e, const char *detail)
{
    r->dispatched = true;
    lg_http_req_respond_error(r, e, detail);
    return req_queue(r);
}

static bool header_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token);

    for (const char *p = value; p != NULL && *p != '\0'; p++) {
        if (strncasecmp(p, token, tlen) == 0)
            return true;
    }
    return false;
}

/* First call, headers received: checks the bounds that need no body. */
static enum MHD_Result req_check_headers(lg_http_req *r)
{
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    bool body_method = strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 ||
                       strcmp(r->method, "PATCH") == 0;

    if (r->hc != NULL && r->hc->over) {
        lg_http_req_header_add(r, "Retry-After", "1");
        return req_reject(r, LG_HTTP_E_OVERLOADED, "too many connections");
    }
    if (strlen(r->path) > LG_HTTP_URL_MAX)
        return req_reject(r, LG_HTTP_E_URI_TOO_LONG, NULL);
    if (cl != NULL) {
        char *end = NULL;
        unsigned long long n;
        errno = 0;
        n = strtoull(cl, &end, 10);
        /* libmicrohttpd already refused malformed values; this guards the cap */
        if (errno == 0 && end != cl && n > LG_HTTP_BODY_MAX)
            return req_reject(r, LG_HTTP_E_PAYLOAD_TOO_LARGE, NULL);
    } else if (body_method && !header_has_token(te, "chunked")) {
        return req_reject(r, LG_HTTP_E_LENGTH_REQUIRED, NULL);
    }
    return MHD_YES;
}

static enum MHD_Result req_body_append(lg_http_req *r, const char *data, size_t len)
{
    if (!r->too_big && r->body_len + len <= LG_HTTP_BODY_MAX) {
        memcpy(r->body + r->body_len, data, len);
        r->body_len += len;
        return MHD_YES;
    }
    /* over the cap (a chunked body): try answering now; libmicrohttpd may refuse a
     * response in the middle of a body, then read and drop a bounded amount and answer
     * at its end, or give up on the connection */
    if (!r->too_big) {
        r->too_big = true;
        lg_http_req_respond_error(r, LG_HTTP_E_PAYLOAD_TOO_LARGE, NULL);
        if (req_queue(r) == MHD_YES) {
            r->dispatched = true;
            return MHD_YES;
        }
    }
    r->discarded += len;
    return r->discarded > LG_HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
}

/* End of body: hand the request to the handler, then queue or suspend. */
static enum MHD_Result req_dispatch(lg_http_server *s, lg_http_req *r)
{
    int expected = REQ_RUNNING;

    r->dispatched = true;
    if (r->hc != NULL)
        atomic_store(&r->hc->deadline_ns, 0);
    r->body[r->body_len] = '\0';
    if (r->too_big) {
        return req_queue(r); /* its 413 was prepared when the cap was crossed */
    } else if (atomic_load(&s->stopping)) {
        lg_http_req_header_add(r, "Retry-After", "1");
        lg_http_req_respond_error(r, LG_HTTP_E_OVERLOADED, "the server is shutting down");
    } else {
        s->handler(s->opaque, r);
    }
    if (!r->deferred) {
        /* a handler that neither answered nor deferred is a programmer error */
        lg_assert(atomic_load(&r->ready));
        return req_queue(r);
    }
    /* Deferred. The answering thread's last access to r is its compare-and-swap on
     * state, so only ANSWERED_EARLY (not merely ready) says it is done with r. */
    if (atomic_load(&r->state) == REQ_ANSWERED_EARLY)
        return req_queue(r);
    MHD_suspend_connection(r->conn);
    if (!atomic_compare_exchange_strong(&r->state, &expected, REQ_SUSPENDED)) {
        /* answered between the check above and the suspend: undo it at once */
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *connection, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **req_cls)
{
    lg_http_server *s = cls;
    lg_http_req *r = *req_cls;

    (void)version;
    if (r == NULL) {
        lg_http_conn *hc = conn_of(connection);
        if (hc != NULL && hc->spare != NULL) {
            r = hc->spare;
            hc->spare = NULL;
        } else {
            r = malloc(sizeof *r);
            if (r == NULL)
                return MHD_NO;
        }
        /* the header slots past n_headers are never read: not cleared (~600 bytes a
         * request) */
        memset(r, 0, offsetof(lg_http_req, headers));
        r->peer[0] = '\0';
        r->arena_used = 0;
        r->srv = s;
        r->conn = connection;
        r->hc = hc;
        r->start_ns = lg_mono_ns();
        r->method = method;
        r->path = url;
        r->route = -1;
        r->resp_body = r->resp_inline;
        atomic_init(&r->state, REQ_RUNNING);
        atomic_init(&r->ready, false);
        *req_cls = r;
        atomic_fetch_add(&s->in_flight, 1);
        return req_check_headers(r);
    }
    if (*upload_data_size > 0) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (r->dispatched) /* answered at the headers: nothing more to read */
            return MHD_YES;
        return req_body_append(r, upload_data, len);
    }
    if (!r->dispatched)
        return req_dispatch(s, r);
    /* called again after resume_connection */
    if (!r->queued && atomic_load_explicit(&r->ready, memory_order_acquire))
        return req_queue(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    lg_http_server *s = cls;
    lg_http_req *r = *req_cls;
    int64_t now_ns;

    (void)connection;
    (void)toe;
    if (r == NULL)
        return;
    now_ns = lg_mono_ns(); /* one clock read for both: this runs once per request */
    if (r->hc != NULL)
        atomic_store(&r->hc->deadline_ns, now_ns + s->timeout_ns);
    if (s->done != NULL)
        s->done(s->opaque, r, r->queued ? r->status : 0, now_ns - r->start_ns);
    atomic_fetch_sub(&s->in_flight, 1);
    req_free(r);
    *req_cls = NULL;
}

/* --- server ----------------------------------------------------------------------- */

static int parse_listen(const char *listen, uint16_t port, struct sockaddr_storage *ss,
                        bool *v6)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, listen, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, listen, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *v6 = true;
        return 0;
    }
    return LG_EINVAL;
}

int lg_http_server_new(const lg_http_conf *conf, lg_http_handler handler,
                       lg_http_done_cb done, void *opaque, lg_http_server **out, char *err,
                       size_t err_len)
{
    struct sockaddr_storage ss;
    unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    const union MHD_DaemonInfo *di;
    lg_http_server *s;
    bool v6 = false;
    long cores;
    uint32_t threads;
    int rc;

    lg_assert(conf != NULL && handler != NULL);
    lg_assert(conf->listen != NULL);
    if (conf->connections_max == 0 || conf->timeout_s == 0) {
        snprintf(err, err_len, "http: connections_max and timeout_s must be >= 1");
        return LG_EINVAL;
    }
    if (parse_listen(conf->listen, conf->port, &ss, &v6) != 0) {
        snprintf(err, err_len, "http listen address '%s' is not a numeric IPv4 or IPv6 address",
                 conf->listen);
        return LG_EINVAL;
    }
    if (v6)
        flags |= MHD_USE_IPv6;
    threads = conf->threads;
    if (threads == 0) {
        cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (uint32_t)cores : 1;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return LG_ENOMEM;
    s->handler = handler;
    s->done = done;
    s->opaque = opaque;
    s->quiesced_fd = MHD_INVALID_SOCKET;
    s->timeout_ns = (int64_t)conf->timeout_s * 1000000000LL;
    s->connections_max = conf->connections_max;
    pthread_mutex_init(&s->conns_lock, NULL);
    pthread_mutex_init(&s->reaper_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->reaper_cond, &ca);
    pthread_condattr_destroy(&ca);

    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(conf->connections_max + LG_HTTP_CONNS_SPARE),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)conf->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LG_HTTP_CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)s,
        MHD_OPTION_END);
    if (s->mhd == NULL) {
        snprintf(err, err_len, "http: cannot listen on %s port %u (address in use?)",
                 conf->listen, (unsigned)conf->port);
        rc = LG_EIO;
        goto fail_free;
    }
    di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = (di != NULL && di->port != 0) ? di->port : conf->port;
    if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
        snprintf(err, err_len, "http: cannot start the timeout thread");
        rc = LG_ENOMEM;
        goto fail_stop;
    }
    s->reaper_started = true;
    *out = s;
    return 0;

fail_stop:
    MHD_stop_daemon(s->mhd);
fail_free:
    pthread_cond_destroy(&s->reaper_cond);
    pthread_mutex_destroy(&s->reaper_lock);
    pthread_mutex_destroy(&s->conns_lock);
    free(s);
    return rc;
}

uint16_t lg_http_server_port(const lg_http_server *s)
{
    return s->port;
}

size_t lg_http_server_drain(lg_http_server *s, int timeout_ms)
{
    int64_t deadline = lg_mono_ns() + (int64_t)timeout_ms * 1000000LL;
    bool was = atomic_exchange(&s->stopping, true);

    if (!was) {
        s->quiesced_fd = MHD_quiesce_daemon(s->mhd);
    }
    /* bounded by timeout_ms */
    while (atomic_load(&s->in_flight) > 0 && lg_mono_ns() < deadline) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return (size_t)atomic_load(&s->in_flight);
}

void lg_http_server_free(lg_http_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->mhd);
    if (s->quiesced_fd != MHD_INVALID_SOCKET)
        close(s->quiesced_fd);
    if (s->reaper_started) {
        pthread_mutex_lock(&s->reaper_lock);
        s->reaper_stop = true;
        pthread_cond_signal(&s->reaper_cond);
        pthread_mutex_unlock(&s->reaper_lock);
        pthread_join(s->reaper, NULL);
    }
    lg_assert(s->conns == NULL);
    pthread_cond_destroy(&s->reaper_cond);
    pthread_mutex_destroy(&s->reaper_lock);
    pthread_mutex_destroy(&s->conns_lock);
    free(s);
}

void lg_http_server_stats_get(lg_http_server *s, lg_http_stats *out)
{
    out->connections = atomic_load(&s->connections);
    out->in_flight = atomic_load(&s->in_flight);
    out->timeouts = atomic_load(&s->timeouts);
}

/* --- request accessors ------------------------------------------------------------ */

const char *lg_http_req_method(const lg_http_req *r)
{
    return r->method;
}

const char *lg_http_req_path(const lg_http_req *r)
{
    return r->path;
}

const char *lg_http_req_body(const lg_http_req *r, size_t *len)
{
    *len = r->body_len;
    return r->body;
}

char *lg_http_req_body_edit(lg_http_req *r, size_t *len)
{
    lg_assert(!r->deferred);
    *len = r->body_len;
    return r->body;
}

const char *lg_http_req_header(lg_http_req *r, const char *name)
{
    lg_assert(!r->deferred);
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* lg_http_req_header_values: the last cap values of one header name */
typedef struct header_values {
    const char *name;
    const char **values;
    size_t cap, n;
} header_values;

static enum MHD_Result header_values_add(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    header_values *hv = cls;

    (void)kind;
    if (value == NULL || strcasecmp(key, hv->name) != 0)
        return MHD_YES;
    if (hv->n == hv->cap) { /* keep the last ones: a list is read from its right end */
        memmove(hv->values, hv->values + 1, (hv->cap - 1) * sizeof *hv->values);
        hv->n--;
    }
    hv->values[hv->n++] = value;
    return MHD_YES;
}

size_t lg_http_req_header_values(lg_http_req *r, const char *name, const char **values,
                                 size_t cap)
{
    header_values hv = {name, values, cap, 0};

    lg_assert(!r->deferred);
    lg_assert(values != NULL && cap > 0);
    /* every header line apart, in the order received (libmicrohttpd >= 0.9.19) */
    (void)MHD_get_connection_values(r->conn, MHD_HEADER_KIND, header_values_add, &hv);
    return hv.n;
}

const char *lg_http_req_peer(lg_http_req *r)
{
    const union MHD_ConnectionInfo *ci;
    const struct sockaddr *sa;

    lg_assert(!r->deferred);
    if (r->peer[0] != '\0')
        return r->peer;
    ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return r->peer;
    sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->peer, sizeof r->peer);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->peer,
                  sizeof r->peer);
    return r->peer;
}

void lg_http_req_route_set(lg_http_req *r, int route)
{
    r->route = route;
}

int lg_http_req_route(const lg_http_req *r)
{
    return r->route;
}

void *lg_http_req_alloc(lg_http_req *r, size_t n)
{
    size_t align = _Alignof(max_align_t);
    size_t at = (r->arena_used + align - 1) / align * align;

    lg_assert(!r->deferred);
    if (n > LG_HTTP_ARENA || at > LG_HTTP_ARENA - n)
        return NULL;
    r->arena_used = at + n;
    return r->arena + at;
}

void lg_http_req_header_add(lg_http_req *r, const char *name, const char *value)
{
    resp_header *h;
    size_t o = 0;

    lg_assert(name != NULL && value != NULL);
    if (r->n_headers >= LG_HTTP_RESP_HEADERS_MAX)
        return;
    h = &r->headers[r->n_headers++];
    h->name = name;
    for (const char *p = value; *p != '\0' && o < LG_HTTP_HEADER_VALUE_MAX; p++) {
        if (*p != '\r' && *p != '\n')
            h->value[o++] = *p;
    }
    h->value[o] = '\0';
}

void lg_http_req_respond(lg_http_req *r, unsigned status, const char *content_type,
                         const char *body, size_t len)
{
    int expected = REQ_RUNNING;

    lg_assert(!atomic_load(&r->ready));
    lg_assert(status >= 100 && status <= 599);
    if (len <= LG_HTTP_RESP_INLINE) {
        r->resp_body = r->resp_inline;
    } else {
        r->resp_body = malloc(len);
        if (r->resp_body == NULL) { /* answer something rather than hang the client */
            r->resp_body = r->resp_inline;
            status = 500;
            len = lg_http_err_body(LG_HTTP_E_INTERNAL, "out of memory", r->resp_inline,
                                   sizeof r->resp_inline);
            body = r->resp_inline;
            content_type = "application/json";
        } else {
            r->resp_owned = true;
        }
    }
    if (len > 0 && body != r->resp_body)
        memmove(r->resp_body, body, len);
    r->resp_len = len;
    r->status = status;
    r->content_type = content_type;
    atomic_store_explicit(&r->ready, true, memory_order_release);
    if (!r->deferred)
        return; /* answered inside the handler: the I/O thread queues it on return */
    if (atomic_compare_exchange_strong(&r->state, &expected, REQ_ANSWERED_EARLY))
        return; /* the handler has not returned yet: it will see ready */
    lg_assert(expected == REQ_SUSPENDED);
    MHD_resume_connection(r->conn);
}

void lg_http_req_respond_error(lg_http_req *r, lg_http_err e, const char *detail)
{
    char body[LG_HTTP_RESP_INLINE];
    size_t len = lg_http_err_body(e, detail, body, sizeof body);

    lg_http_req_respond(r, lg_http_err_get(e)->status, "application/json", body, len);
}

void lg_http_req_defer(lg_http_req *r)
{
    lg_assert(!r->deferred);
    r->deferred = true;
}
