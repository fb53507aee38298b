/*
 * loadgen_worker.c - one load generator thread: an epoll loop over its share of
 * keep-alive connections, one request outstanding per connection (no pipelining).
 *
 * A connection (function that performs each transition):
 *
 *   CLOSED --conn_open--> CONNECTING --on_connected--> IDLE --conn_send--> SENDING
 *     ^  ^                  | refused, timeout (tick)    ^  \                | on_writable
 *     |  +--conn_close------+ (reopened after backoff)   |   `-------------->v
 *     |                                                  +--on_response-- READING
 *     +--conn_close: reset, timeout (tick), malformed, server closes; reopened at once
 *
 * Pacing (--rate) is open-loop: request k of this thread is due at start + k / rate
 * whether or not earlier ones were answered, and its latency is measured from that due
 * time, so a stalled server shows up as latency instead of hiding behind a slower
 * request rate (coordinated omission). Service time, from the actual write, is kept
 * too. Without --rate each free connection sends at once and both are the same.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/loadgen.h"
#include "cli/loadgen_parse.h"
#include "cli/loadgen_workload.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

/* maintenance: timeouts, reconnects and the stop flag are checked this often */
#define TICK_NS (10LL * 1000 * 1000)
/* the progress snapshot is refreshed every this many ticks (100 ms) */
#define PUBLISH_TICKS 10
/* epoll events handled per wakeup */
#define EVENTS_MAX 256
/* reads per readable event before returning to epoll (level-triggered: the rest waits) */
#define READS_PER_EVENT 8

typedef enum { CONN_CLOSED, CONN_CONNECTING, CONN_IDLE, CONN_SENDING, CONN_READING } conn_state;

/* Why a connection is closed; decides what is counted and when it reopens. */
typedef enum { CLOSE_CLEAN, CLOSE_CONNECT, CLOSE_RESET, CLOSE_TIMEOUT, CLOSE_PARSE } close_why;

typedef struct conn {
    int fd;
    conn_state state;
    int idle_prev; /* links in the idle list, -1 at the ends; valid while IDLE */
    int idle_next;
    int64_t intended_ns; /* when the request in flight was due (pacer) */
    int64_t sent_ns;     /* when it was written */
    int64_t deadline_ns; /* connect or response deadline */
    int64_t retry_ns;    /* CLOSED: reopen at this time */
    int64_t backoff_ns;  /* next wait after a failed connect */
    char *pending;       /* unsent tail of the request (rare: a full socket buffer) */
    size_t pending_len;
    size_t pending_off;
    lg_loadgen_parse parse;
} conn;

typedef struct loop {
    lg_loadgen_worker *w;
    const lg_loadgen_conf *conf;
    int epfd;
    conn *conns;
    int conns_n;
    int idle_head;
    int idle_count;
    int inflight;       /* SENDING + READING */
    uint64_t issued;    /* requests started by this thread: the pacer's k */
    bool issuing;       /* false once stop, quota or end is reached; never true again */
    double interval_ns; /* 1e9 / rate; 0 = unlimited */
    int64_t progress_ns; /* last connect or response: a dead target ends the run */
    size_t head_len;    /* bytes of the fixed request head at the start of req */
    lg_loadgen_rng rng;
    char body[LG_LOADGEN_BODY_MAX_OUT];
    char req[LG_LOADGEN_REQ_MAX];
    char rbuf[LG_LOADGEN_READ_MAX];
} loop;

static void conn_close(loop *L, conn *c, close_why why, int64_t now);

/* --- idle list: free connections, most recently used first ---------------------- */

static void idle_push(loop *L, int i)
{
    conn *c = &L->conns[i];
    c->idle_prev = -1;
    c->idle_next = L->idle_head;
    if (L->idle_head >= 0)
        L->conns[L->idle_head].idle_prev = i;
    L->idle_head = i;
    L->idle_count++;
}

static void idle_remove(loop *L, int i)
{
    conn *c = &L->conns[i];
    if (c->idle_prev >= 0)
        L->conns[c->idle_prev].idle_next = c->idle_next;
    else
        L->idle_head = c->idle_next;
    if (c->idle_next >= 0)
        L->conns[c->idle_next].idle_prev = c->idle_prev;
    c->idle_prev = c->idle_next = -1;
    L->idle_count--;
    lg_assert(L->idle_count >= 0);
}

static int idle_pop(loop *L)
{
    int i = L->idle_head;
    lg_assert(i >= 0);
    idle_remove(L, i);
    return i;
}

static int conn_index(const loop *L, const conn *c)
{
    return (int)(c - L->conns);
}

static int epoll_set(loop *L, conn *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)conn_index(L, c)};
    return epoll_ctl(L->epfd, op, c->fd, &ev) == 0 ? 0 : LG_EIO;
}

/* --- the pacer ------------------------------------------------------------------ */

static int64_t slot_ns(const loop *L, uint64_t k)
{
    return L->w->start_ns + (int64_t)((double)k * L->interval_ns);
}

/* Stops issuing for good; for a paced run, counts the slots that fell due before the
 * end but found no free connection. */
static void stop_issuing(loop *L, int64_t now)
{
    if (!L->issuing)
        return;
    L->issuing = false;
    if (L->interval_ns > 0) {
        int64_t until = now < L->w->end_ns ? now : L->w->end_ns;
        /* slots = the first k whose due time is not before `until`; the estimate is off
         * by at most one either way through rounding */
        double est = (double)(until - L->w->start_ns) / L->interval_ns;
        uint64_t slots = est > 0 ? (uint64_t)est : 0;
        while (slots > 0 && slot_ns(L, slots - 1) >= until)
            slots--;
        while (slot_ns(L, slots) < until)
            slots++;
        if (L->w->requests && slots > L->w->requests)
            slots = L->w->requests;
        L->w->stats.unsent = slots > L->issued ? slots - L->issued : 0;
    }
}

static bool may_issue(loop *L, int64_t now)
{
    if (!L->issuing)
        return false;
    if (atomic_load_explicit(L->w->stop, memory_order_relaxed) ||
        (L->w->requests && L->issued >= L->w->requests) || now >= L->w->end_ns) {
        stop_issuing(L, now);
        return false;
    }
    return true;
}

/* --- connections ---------------------------------------------------------------- */

static void conn_open(loop *L, conn *c, int64_t now)
{
    lg_assert(c->state == CONN_CLOSED);
    const lg_loadgen_conf *conf = L->conf;
    c->fd = socket(conf->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = CONN_CONNECTING; /* so conn_close counts the failed connect */
        conn_close(L, c, CLOSE_CONNECT, now);
        return;
    }
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CONN_CONNECTING;
    c->deadline_ns = now + (int64_t)conf->timeout_ms * 1000000;
    if (connect(c->fd, (const struct sockaddr *)&conf->addr, conf->addr_len) != 0 &&
        errno != EINPROGRESS) {
        conn_close(L, c, CLOSE_CONNECT, now);
        return;
    }
    /* connected or in progress: either way EPOLLOUT reports the outcome */
    if (epoll_set(L, c, EPOLL_CTL_ADD, EPOLLOUT) != 0)
        conn_close(L, c, CLOSE_CONNECT, now);
}

static void on_connected(loop *L, conn *c, int64_t now)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0 ||
        epoll_set(L, c, EPOLL_CTL_MOD, EPOLLIN) != 0) {
        conn_close(L, c, CLOSE_CONNECT, now);
        return;
    }
    L->w->stats.connects++;
    L->progress_ns = now;
    c->backoff_ns = 0;
    c->state = CONN_IDLE;
    idle_push(L, conn_index(L, c));
}

/* Closes c, counts why, and reopens it at once or after a backoff while still issuing. */
static void conn_close(loop *L, conn *c, close_why why, int64_t now)
{
    lg_loadgen_stats *st = &L->w->stats;
    bool in_flight = c->state == CONN_SENDING || c->state == CONN_READING;
    lg_assert(!(in_flight && why == CLOSE_CLEAN)); /* a request must be counted once */
    if (in_flight) {
        L->inflight--;
        if (why == CLOSE_TIMEOUT)
            st->err_timeout++;
        else if (why == CLOSE_PARSE)
            st->err_parse++;
        else
            st->err_reset++;
    } else if (c->state == CONN_CONNECTING && why == CLOSE_CONNECT) {
        st->err_connect++;
    } else if (c->state == CONN_IDLE) {
        idle_remove(L, conn_index(L, c));
    }
    if (c->fd >= 0)
        close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    free(c->pending);
    c->pending = NULL;
    c->state = CONN_CLOSED;
    if (why == CLOSE_CONNECT) {
        c->backoff_ns = c->backoff_ns ? c->backoff_ns * 2 : LG_LOADGEN_BACKOFF_MIN_NS;
        if (c->backoff_ns > LG_LOADGEN_BACKOFF_MAX_NS)
            c->backoff_ns = LG_LOADGEN_BACKOFF_MAX_NS;
        c->retry_ns = now + c->backoff_ns; /* the tick reopens it */
        return;
    }
    c->retry_ns = now;
    /* cannot recurse: a failed open closes with CLOSE_CONNECT, which waits */
    if (may_issue(L, now))
        conn_open(L, c, now);
}

/* Writes the next request on idle connection c; `intended` is when it was due. */
static void conn_send(loop *L, conn *c, int64_t intended, int64_t now)
{
    lg_assert(c->state == CONN_IDLE);
    lg_assert(c->pending == NULL);
    uint64_t seq = L->issued * (uint64_t)L->conf->threads + (uint64_t)L->w->index;
    size_t body_len = 0;
    int rc = lg_loadgen_workload_body(L->conf->workload, &L->rng, seq, L->body,
                                      sizeof L->body, &body_len);
    lg_assert(rc == 0); /* the body bound covers every entry the loader accepts */
    /* the fixed part of the head was written once (lg_loadgen_worker_run); add the
     * length and the body */
    char digits[24];
    int dlen = snprintf(digits, sizeof digits, "%zu\r\n\r\n", body_len);
    size_t len = L->head_len + (size_t)dlen + body_len;
    lg_assert(dlen > 0 && len <= sizeof L->req);
    memcpy(L->req + L->head_len, digits, (size_t)dlen);
    memcpy(L->req + L->head_len + (size_t)dlen, L->body, body_len);

    L->issued++;
    L->inflight++;
    L->w->stats.sent++;
    c->state = CONN_SENDING;
    c->intended_ns = intended;
    c->sent_ns = now;
    c->deadline_ns = now + (int64_t)L->conf->timeout_ms * 1000000;
    lg_loadgen_parse_init(&c->parse);

    ssize_t n = send(c->fd, L->req, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        conn_close(L, c, CLOSE_RESET, now);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    L->w->stats.bytes_out += done;
    if (done == len) {
        c->state = CONN_READING;
        return;
    }
    /* the socket buffer is full: keep the tail and wait for EPOLLOUT */
    c->pending = malloc(len - done);
    if (c->pending == NULL || epoll_set(L, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT) != 0) {
        lg_log(LG_WARN, "loadgen", "cannot queue a partial request: closing connection");
        conn_close(L, c, CLOSE_RESET, now);
        return;
    }
    memcpy(c->pending, L->req + done, len - done);
    c->pending_len = len - done;
    c->pending_off = 0;
}

static void on_writable(loop *L, conn *c, int64_t now)
{
    lg_assert(c->pending != NULL);
    ssize_t n = send(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_close(L, c, CLOSE_RESET, now);
        return;
    }
    L->w->stats.bytes_out += (uint64_t)n;
    c->pending_off += (size_t)n;
    if (c->pending_off < c->pending_len)
        return;
    free(c->pending);
    c->pending = NULL;
    if (epoll_set(L, c, EPOLL_CTL_MOD, EPOLLIN) != 0) {
        conn_close(L, c, CLOSE_RESET, now);
        return;
    }
    c->state = CONN_READING;
}

static void record(loop *L, conn *c, int64_t now)
{
    lg_loadgen_stats *st = &L->w->stats;
    int status = c->parse.status;
    lg_assert(status >= 100 && status <= 599);
    st->responses++;
    L->progress_ns = now;
    st->status[status]++;
    int64_t lat = now - c->intended_ns;
    int64_t svc = now - c->sent_ns;
    lg_loadgen_hist_record(&st->latency, lat > 0 ? (uint64_t)lat / 1000 : 0);
    lg_loadgen_hist_record(&st->service, svc > 0 ? (uint64_t)svc / 1000 : 0);
}

/* A complete response on c: count it, then reuse the connection or close it. */
static void on_response(loop *L, conn *c, int64_t now)
{
    bool reuse = c->parse.keep_alive && c->state == CONN_READING;
    record(L, c, now);
    L->inflight--;
    c->state = CONN_IDLE; /* not on the idle list yet */
    if (!reuse) {
        c->state = CONN_CLOSED; /* answered: closing it is not an error */
        close(c->fd);
        c->fd = -1;
        free(c->pending);
        c->pending = NULL;
        c->retry_ns = now;
        if (may_issue(L, now))
            conn_open(L, c, now);
        return;
    }
    if (L->interval_ns == 0 && may_issue(L, now)) {
        conn_send(L, c, now, now); /* unlimited rate: straight back to work */
        return;
    }
    idle_push(L, conn_index(L, c));
}

static void on_readable(loop *L, conn *c, int64_t now)
{
    for (int r = 0; r < READS_PER_EVENT; r++) {
        ssize_t n = read(c->fd, L->rbuf, sizeof L->rbuf);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            conn_close(L, c, c->state == CONN_IDLE ? CLOSE_CLEAN : CLOSE_RESET, now);
            return;
        }
        if (c->state == CONN_IDLE) {
            /* an idle keep-alive connection closed by the server (or a 408 before the
             * close): not a request's failure, just reconnect */
            conn_close(L, c, CLOSE_CLEAN, now);
            return;
        }
        if (n == 0) {
            if (lg_loadgen_parse_eof(&c->parse) == 0 && c->parse.status >= 200)
                on_response(L, c, now); /* body delimited by the close */
            else
                conn_close(L, c, CLOSE_RESET, now);
            return;
        }
        L->w->stats.bytes_in += (uint64_t)n;
        size_t used = 0;
        if (lg_loadgen_parse_feed(&c->parse, L->rbuf, (size_t)n, &used) != 0) {
            lg_log(LG_DEBUG, "loadgen", "malformed response: %s", c->parse.error);
            conn_close(L, c, CLOSE_PARSE, now);
            return;
        }
        if (lg_loadgen_parse_done(&c->parse)) {
            if (used < (size_t)n) {
                /* bytes after the response with none requested: the framing is wrong */
                conn_close(L, c, CLOSE_PARSE, now);
                return;
            }
            on_response(L, c, now);
            return;
        }
        if ((size_t)n < sizeof L->rbuf)
            return; /* drained; more will come with the next EPOLLIN */
    }
}

static void on_event(loop *L, conn *c, uint32_t events, int64_t now)
{
    switch (c->state) {
    case CONN_CONNECTING:
        on_connected(L, c, now);
        return;
    case CONN_SENDING:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            on_readable(L, c, now);
        if (c->state == CONN_SENDING && (events & EPOLLOUT))
            on_writable(L, c, now);
        return;
    case CONN_READING:
    case CONN_IDLE:
        on_readable(L, c, now);
        return;
    case CONN_CLOSED:
        return; /* closed earlier in this batch */
    }
}

/* --- the loop ------------------------------------------------------------------- */

/* Sends every request that is due on free connections. */
static void pace(loop *L, int64_t now)
{
    while (L->idle_count > 0 && may_issue(L, now)) {
        int64_t due = now;
        if (L->interval_ns > 0) {
            due = slot_ns(L, L->issued);
            if (due > now)
                return;
            if (due >= L->w->end_ns) {
                stop_issuing(L, now);
                return;
            }
        }
        conn_send(L, &L->conns[idle_pop(L)], due, now);
    }
}

/* Timeouts, delayed reconnects; O(connections) every TICK_NS. */
static void tick(loop *L, int64_t now)
{
    bool issuing = may_issue(L, now);
    if (issuing && L->inflight == 0 && L->idle_count == 0 &&
        now - L->progress_ns > (int64_t)L->conf->timeout_ms * 1000000) {
        /* every connection has been failing for a whole timeout: without this a run
         * bounded only by --requests would retry forever */
        lg_log(LG_ERROR, "loadgen", "giving up: no connection to '%s' for %d ms thread=%d",
               L->conf->host_header, L->conf->timeout_ms, L->w->index);
        stop_issuing(L, now);
        issuing = false;
    }
    for (int i = 0; i < L->conns_n; i++) {
        conn *c = &L->conns[i];
        switch (c->state) {
        case CONN_SENDING:
        case CONN_READING:
            if (now >= c->deadline_ns)
                conn_close(L, c, CLOSE_TIMEOUT, now);
            break;
        case CONN_CONNECTING:
            if (now >= c->deadline_ns)
                conn_close(L, c, CLOSE_CONNECT, now);
            break;
        case CONN_CLOSED:
            if (issuing && now >= c->retry_ns)
                conn_open(L, c, now);
            break;
        case CONN_IDLE:
            break;
        }
    }
}

static void publish(lg_loadgen_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->snapshot = w->stats;
    pthread_mutex_unlock(&w->mu);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int run_loop(loop *L)
{
    struct epoll_event evs[EVENTS_MAX];
    int64_t now = lg_mono_ns();
    int64_t next_tick = now + TICK_NS;
    unsigned ticks = 0;
    L->progress_ns = now;
    for (int i = 0; i < L->conns_n; i++)
        conn_open(L, &L->conns[i], now);
    /* the event loop: runs until nothing more will be sent and nothing is in flight;
     * bounded by end_ns / the quota plus one request timeout */
    for (;;) {
        now = lg_mono_ns();
        if (now >= next_tick) {
            tick(L, now);
            next_tick = now + TICK_NS;
            if (++ticks % PUBLISH_TICKS == 0)
                publish(L->w);
        }
        pace(L, now);
        if (!may_issue(L, now) && L->inflight == 0)
            return 0;
        int64_t wake = next_tick;
        if (L->issuing) {
            wake = min64(wake, L->w->end_ns);
            if (L->interval_ns > 0 && L->idle_count > 0)
                wake = min64(wake, slot_ns(L, L->issued));
        }
        int64_t wait = wake > now ? wake - now : 0;
        struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
        int n = epoll_pwait2(L->epfd, evs, EVENTS_MAX, &ts, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            lg_log(LG_ERROR, "loadgen", "epoll_pwait2 failed: %s thread=%d", strerror(errno),
                   L->w->index);
            return LG_EIO;
        }
        for (int i = 0; i < n; i++) {
            conn *c = &L->conns[evs[i].data.u32];
            on_event(L, c, evs[i].events, lg_mono_ns());
        }
    }
}

void *lg_loadgen_worker_run(void *arg)
{
    lg_loadgen_worker *w = arg;
    lg_assert(w != NULL && w->conf != NULL);
    lg_assert(w->connections > 0);
    /* wake-ups are scheduled to the microsecond; the default 50 us slack would skew
     * paced send times (per-thread setting) */
    (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    loop *L = calloc(1, sizeof *L);
    conn *conns = calloc((size_t)w->connections, sizeof *conns);
    if (L == NULL || conns == NULL) {
        w->rc = LG_ENOMEM;
        goto out;
    }
    L->w = w;
    L->conf = w->conf;
    L->conns = conns;
    L->conns_n = w->connections;
    L->idle_head = -1;
    L->issuing = true;
    L->interval_ns = w->rate > 0 ? 1e9 / w->rate : 0;
    /* the key goes out on the attempts endpoint only: /v1/login is public */
    bool auth = w->conf->endpoint == LG_LOADGEN_ATTEMPTS && w->conf->key[0] != '\0';
    int head = snprintf(L->req, sizeof L->req,
                        "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: loginguard-loadgen\r\n"
                        "%s%s%sContent-Type: application/json\r\nContent-Length: ",
                        lg_loadgen_workload_path(w->conf->workload), w->conf->host_header,
                        auth ? "Authorization: Bearer " : "", auth ? w->conf->key : "",
                        auth ? "\r\n" : "");
    lg_assert(head > 0 && (size_t)head + 24 + LG_LOADGEN_BODY_MAX_OUT <= sizeof L->req);
    L->head_len = (size_t)head;
    lg_loadgen_rng_seed(&L->rng, w->conf->seed + (uint64_t)w->index * UINT64_C(0x9e3779b9));
    for (int i = 0; i < L->conns_n; i++) {
        conns[i].fd = -1;
        conns[i].state = CONN_CLOSED;
        conns[i].idle_prev = conns[i].idle_next = -1;
    }
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (L->epfd < 0) {
        lg_log(LG_ERROR, "loadgen", "epoll_create1 failed: %s", strerror(errno));
        w->rc = LG_EIO;
        goto out;
    }
    w->rc = run_loop(L);
    stop_issuing(L, lg_mono_ns());
    for (int i = 0; i < L->conns_n; i++) {
        conn *c = &conns[i];
        if (c->fd >= 0)
            close(c->fd);
        free(c->pending);
    }
    close(L->epfd);
out:
    w->finish_ns = lg_mono_ns();
    publish(w);
    free(conns);
    free(L);
    atomic_store(&w->done, true);
    return NULL;
}
