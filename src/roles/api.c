/*
 * api.c - the API role's life cycle, routing, blocklist feed and metrics, and the
 * helpers its endpoints share (api_login.c, api_admin.c).
 *
 * Start order: metrics, blocklist, users, jwt, reporter keys, the lg.blocks reader, the
 * worker pool, and the HTTP server last, so no request ever sees a half-built role. Stop order is the
 * reverse: the HTTP server drains first (requests in flight still need the pool and the
 * bus), then the pool runs what is queued, then the bus is flushed.
 */
#include "roles/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"
#include "http/route.h"
#include "roles/api_id.h"

static const lg_http_route routes[] = {
    {"POST", "/v1/login", API_ROUTE_LOGIN},
    {"POST", "/v1/attempts", API_ROUTE_ATTEMPTS},
    {"GET", "/v1/blocks", API_ROUTE_BLOCKS},
    {"GET", "/v1/blocks/{}", API_ROUTE_BLOCK},
    {"DELETE", "/v1/blocks/{}", API_ROUTE_UNBLOCK},
    {"GET", "/v1/me", API_ROUTE_ME},
    {"GET", "/healthz", API_ROUTE_HEALTHZ},
    {"GET", "/metrics", API_ROUTE_METRICS},
};

static const char *const route_names[API_ROUTE_COUNT] = {
    [API_ROUTE_LOGIN] = "login",     [API_ROUTE_ATTEMPTS] = "attempts",
    [API_ROUTE_BLOCK] = "block",     [API_ROUTE_BLOCKS] = "blocks",
    [API_ROUTE_UNBLOCK] = "unblock", [API_ROUTE_ME] = "me",
    [API_ROUTE_HEALTHZ] = "healthz", [API_ROUTE_METRICS] = "metrics",
    [API_ROUTE_OTHER] = "other",
};

static const unsigned statuses[API_STATUSES_N] = {200, 202, 400, 401, 403, 404, 405, 411,
                                                  413, 414, 415, 423, 431, 500, 503};

/* --- helpers for the endpoints ------------------------------------------------------ */

static bool content_type_is_json(const char *ct)
{
    static const char json[] = "application/json";
    size_t n = sizeof json - 1;

    if (ct == NULL || strncasecmp(ct, json, n) != 0)
        return false;
    /* "application/json" or "application/json; charset=utf-8" */
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

int lg_api__body_read(lg_http_req *r, lg_api_body *out)
{
    char *body;
    size_t len;
    json_error_t jerr;
    json_t *root;
    char detail[256];

    if (!content_type_is_json(lg_http_req_header(r, "Content-Type"))) {
        lg_http_req_respond_error(r, LG_HTTP_E_UNSUPPORTED_MEDIA, NULL);
        return LG_EINVAL;
    }
    body = lg_http_req_body_edit(r, &len);
    if (lg_api_body_fast(body, len, out))
        return 0;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(detail, sizeof detail, "invalid JSON at line %d, column %d (byte %d): %s",
                 jerr.line, jerr.column, jerr.position, jerr.text);
        lg_http_req_respond_error(r, LG_HTTP_E_BAD_JSON, detail);
        return LG_EINVAL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        lg_http_req_respond_error(r, LG_HTTP_E_BAD_REQUEST, "the body must be a JSON object");
        return LG_EINVAL;
    }
    lg_api_body_from_json(root, out);
    return 0;
}

void lg_api__body_free(lg_api_body *b)
{
    json_decref(b->root); /* NULL-safe */
    b->root = NULL;
}

static const char *const field_label[LG_API_F_COUNT] = {
    [LG_API_F_USER] = "user",   [LG_API_F_IP] = "ip",
    [LG_API_F_OK] = "ok",       [LG_API_F_TS] = "ts",
    [LG_API_F_PASSWORD] = "password",
};

int lg_api__field_string(lg_http_req *r, const lg_api_body *b, lg_api_field f, bool required,
                         const char **out, size_t *len)
{
    const lg_api_value *v = &b->v[f];
    char detail[128];

    if (v->kind == LG_API_V_ABSENT && !required)
        return LG_ENOTFOUND;
    if (v->kind != LG_API_V_STRING) {
        snprintf(detail, sizeof detail, "field '%s': %s", field_label[f],
                 v->kind == LG_API_V_ABSENT ? "required" : "must be a string");
        lg_http_req_respond_error(r, LG_HTTP_E_BAD_REQUEST, detail);
        return LG_EINVAL;
    }
    *out = v->s;
    *len = v->len;
    return 0;
}

/* snprintf(dst, cap, "%s", src) without the format machinery (hot path). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

bool lg_api__blocked(lg_api *a, const char *user, const char *ip, int64_t now_ms,
                     lg_block *out)
{
    const lg_engine_conf *ec = &a->cfg->engine;

    lg_api__feed_inline(a);
    for (size_t i = 0; i < ec->n_rules; i++) {
        const lg_rule_conf *rule = &ec->rules[i];
        lg_block probe;
        char key[LG_BLOCK_KEY_MAX + 1], net[LG_IP_MAX + 1];
        const char *rule_ip = ip;
        bool by_user = rule->key == LG_RULE_KEY_USER || rule->key == LG_RULE_KEY_USER_IP;
        bool by_ip = rule->key == LG_RULE_KEY_IP || rule->key == LG_RULE_KEY_USER_IP;
        int n;

        if (!rule->enabled || (by_ip && ip[0] == '\0'))
            continue;
        /* the rule keys an IPv6 address by its network, as the engine does (addr.h) */
        if (by_ip && strchr(ip, ':') != NULL) {
            if (lg_addr_net(ip, strlen(ip), rule->ipv6_prefix, net) < 0)
                continue;
            rule_ip = net;
        }
        /* lg_block_key reads only these three fields */
        copy_str(probe.rule, sizeof probe.rule, rule->name);
        copy_str(probe.user, sizeof probe.user, by_user ? user : "");
        copy_str(probe.ip, sizeof probe.ip, by_ip ? rule_ip : "");
        n = lg_block_key(&probe, key, sizeof key);
        if (n < 0)
            continue;
        /* every rule's keys have their own namespace ("user:ip:192.0.2.1" is not
         * "ip:192.0.2.1"); the rule check is defence in depth */
        if (lg_blocklist_has(a->blocklist, key, (size_t)n, now_ms, &probe) &&
            strcmp(probe.rule, rule->name) == 0) {
            if (out != NULL)
                *out = probe;
            return true;
        }
    }
    return false;
}

/* Decimal digits of v >= 0 at dst (room for 20); returns their count. */
static size_t put_u64(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

void lg_api__respond_blocked(lg_http_req *r, int64_t until_ms, int64_t now_ms)
{
    static const char permanent[] = "too many failed attempts; blocked until an operator "
                                    "unblocks";
    static const char retry[] = "too many failed attempts; retry in ";
    int64_t retry_s = LG_API_RETRY_PERMANENT_S;
    char value[24], detail[sizeof retry + 24];
    size_t n;

    if (until_ms != 0) {
        retry_s = (until_ms - now_ms + 999) / 1000;
        if (retry_s < 1)
            retry_s = 1;
    }
    /* digits by hand, not snprintf: this is the whole answer of the blocked path */
    value[put_u64(value, (uint64_t)retry_s)] = '\0';
    lg_http_req_header_add(r, "Retry-After", value);
    if (until_ms == 0) {
        lg_http_req_respond_error(r, LG_HTTP_E_BLOCKED, permanent);
        return;
    }
    memcpy(detail, retry, sizeof retry - 1);
    n = sizeof retry - 1;
    n += put_u64(detail + n, (uint64_t)retry_s);
    memcpy(detail + n, " s", 3);
    lg_http_req_respond_error(r, LG_HTTP_E_BLOCKED, detail);
}

void lg_api__attempt_fill(lg_api *a, lg_attempt *at, const char *user, size_t user_len,
                          const char *ip, bool ok, lg_outcome outcome, int64_t ts_ms)
{
    uint64_t seq = atomic_fetch_add_explicit(&a->seq, 1, memory_order_relaxed);
    char digits[20];
    size_t nd = 0;

    lg_assert(user_len >= 1 && user_len <= LG_USER_MAX);
    memset(at, 0, sizeof *at);
    /* id_prefix + counter (see lg_api_new); digits by hand: snprintf was a visible part
     * of a request's CPU */
    /* zero-padded to LG_API_ID_DIGITS so one instance's ids sort in the order they are
     * made: the audit store's id index then grows at its end */
    do {
        digits[nd++] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq != 0 || nd < LG_API_ID_DIGITS);
    memcpy(at->id, a->id_prefix, a->id_prefix_len);
    for (size_t i = 0; i < nd; i++)
        at->id[a->id_prefix_len + i] = digits[nd - 1 - i];
    at->id[a->id_prefix_len + nd] = '\0';
    at->ts_ms = ts_ms;
    memcpy(at->user, user, user_len);
    at->user[user_len] = '\0';
    at->user_len = (uint32_t)user_len;
    copy_str(at->ip, sizeof at->ip, ip);
    at->ok = ok;
    at->outcome = outcome;
    copy_str(at->src, sizeof at->src, a->src);
}

int lg_api__attempt_publish(lg_api *a, const lg_attempt *at, int timeout_ms,
                            lg_bus_done_cb done, void *opaque)
{
    char buf[LG_EVENT_JSON_MAX];
    lg_outcome outcome = at->outcome;
    int n = lg_attempt_encode(at, buf, sizeof buf);
    int rc;

    lg_assert(n > 0); /* a validated attempt always fits LG_EVENT_JSON_MAX */
    rc = lg_bus_publish(a->bus, LG_TOPIC_ATTEMPTS, at->user, at->user_len, buf, (size_t)n,
                        timeout_ms, done, opaque);
    /* at may be gone now (done ran and the request was answered): use the copies */
    if (rc == 0)
        lg_metrics_counter_add(a->attempts_total[outcome], 1);
    else if (rc == LG_EFULL)
        lg_metrics_counter_add(a->publish_full, 1);
    return rc;
}

void lg_api__respond_overloaded(lg_http_req *r, const char *detail)
{
    lg_http_req_header_add(r, "Retry-After", "1");
    lg_http_req_respond_error(r, LG_HTTP_E_OVERLOADED, detail);
}

bool lg_api__auth(lg_api *a, lg_http_req *r, lg_jwt_claims *claims)
{
    const char *h = lg_http_req_header(r, "Authorization");
    size_t len;
    int rc;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        lg_http_req_header_add(r, "WWW-Authenticate", "Bearer");
        lg_http_req_respond_error(r, LG_HTTP_E_UNAUTHORIZED, NULL);
        return false;
    }
    h += 7;
    while (*h == ' ')
        h++;
    len = strlen(h);
    rc = len > LG_JWT_MAX ? LG_EAUTH : lg_jwt_verify(a->jwt, h, len, lg_now_ms() / 1000, claims);
    if (rc != 0) {
        lg_http_req_header_add(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        lg_http_req_respond_error(r, LG_HTTP_E_UNAUTHORIZED,
                                  rc == LG_EEXPIRED ? "the token has expired"
                                                    : "the token is invalid");
        return false;
    }
    return true;
}

/* --- HTTP entry points -------------------------------------------------------------- */

static void on_request(void *opaque, lg_http_req *r)
{
    lg_api *a = opaque;
    lg_http_match m;
    lg_http_match_result res = lg_http_route_match(routes, sizeof routes / sizeof routes[0],
                                                   lg_http_req_method(r), lg_http_req_path(r),
                                                   &m);

    if (res == LG_HTTP_MATCH_NOT_FOUND) {
        lg_http_req_respond_error(r, LG_HTTP_E_NOT_FOUND, NULL);
        return;
    }
    if (res == LG_HTTP_MATCH_METHOD) {
        lg_http_req_header_add(r, "Allow", m.allow);
        lg_http_req_respond_error(r, LG_HTTP_E_METHOD_NOT_ALLOWED, NULL);
        return;
    }
    lg_http_req_route_set(r, m.id);
    switch ((api_route)m.id) {
    case API_ROUTE_LOGIN:
        lg_api__login(a, r);
        return;
    case API_ROUTE_ATTEMPTS:
        lg_api__attempts(a, r);
        return;
    case API_ROUTE_BLOCK:
        lg_api__block_get(a, r, m.param, m.param_len);
        return;
    case API_ROUTE_BLOCKS:
        lg_api__blocks_list(a, r);
        return;
    case API_ROUTE_UNBLOCK:
        lg_api__unblock(a, r, m.param, m.param_len);
        return;
    case API_ROUTE_ME:
        lg_api__me(a, r);
        return;
    case API_ROUTE_HEALTHZ:
        lg_api__healthz(a, r);
        return;
    case API_ROUTE_METRICS:
        lg_api__metrics(a, r);
        return;
    case API_ROUTE_OTHER:
    case API_ROUTE_COUNT:
        break;
    }
    lg_assert(!"route without a handler");
}

static void on_request_done(void *opaque, const lg_http_req *r, unsigned status,
                            int64_t duration_ns)
{
    lg_api *a = opaque;
    int route = lg_http_req_route(r);
    size_t si = API_STATUSES_N; /* "other" */

    if (status == 0) /* nothing was answered: the client went away */
        return;
    if (route < 0 || route >= API_ROUTE_COUNT)
        route = API_ROUTE_OTHER;
    for (size_t i = 0; i < API_STATUSES_N; i++) {
        if (statuses[i] == status) {
            si = i;
            break;
        }
    }
    lg_metrics_counter_add(a->requests[route][si], 1);
    lg_metrics_histogram_observe_ns(a->duration, duration_ns);
}

/* --- lg.blocks feed ----------------------------------------------------------------- */

/* A full cache evicts the blocks ending soonest, or refuses one ending before them all
 * (lg_blocklist_put): at most one warning per LG_API_FULL_LOG_MS, with the counts since
 * the previous one. feed_lock held. */
static void blocklist_full_report(lg_api *a)
{
    uint64_t evicted = lg_blocklist_evicted(a->blocklist);
    uint64_t refused = lg_blocklist_refused(a->blocklist);
    int64_t now = lg_mono_ns();

    if ((evicted == a->full_evicted_seen && refused == a->full_refused_seen) ||
        now < a->full_log_next_ns)
        return;
    lg_log(LG_WARN, "api", "blocklist full: entries_max=%u evicted=%llu refused=%llu (blocks "
           "ending soonest made room; refused: ending before every cached one)",
           LG_API_BLOCKLIST_MAX, (unsigned long long)(evicted - a->full_evicted_seen),
           (unsigned long long)(refused - a->full_refused_seen));
    a->full_evicted_seen = evicted;
    a->full_refused_seen = refused;
    a->full_log_next_ns = now + (int64_t)LG_API_FULL_LOG_MS * 1000000;
}

static void feed_one(lg_api *a, const lg_bus_msg *msg)
{
    char key[LG_BLOCK_KEY_MAX + 1];
    char err[160];
    lg_block b;
    int rc;

    if (msg->key_len == 0 || msg->key_len > LG_BLOCK_KEY_MAX) {
        lg_log(LG_WARN, "api", "lg.blocks partition=%d offset=%lld: key of %zu bytes skipped",
               (int)msg->partition, (long long)msg->offset, msg->key_len);
        return;
    }
    if (msg->value == NULL) {
        /* a tombstone has only its key: one written before keys had namespaces is rule
         * user's bare user (lg_block_key_upgrade) */
        rc = lg_block_key_upgrade(msg->key, msg->key_len, key, sizeof key);
        if (rc < 0) {
            lg_log(LG_WARN, "api", "lg.blocks partition=%d offset=%lld: tombstone key skipped: "
                   "%s", (int)msg->partition, (long long)msg->offset, lg_strerror(rc));
            return;
        }
        lg_blocklist_del(a->blocklist, key, (size_t)rc);
        /* an unblock of rule user also lifts the gate's pending block */
        if (a->gate != NULL && rc > 5 && memcmp(key, "user:", 5) == 0)
            lg_gate_forget(a->gate, key + 5, (size_t)rc - 5);
        lg_log(LG_DEBUG, "api", "unblocked key=%.64s offset=%lld", key, (long long)msg->offset);
        return;
    }
    /* a block's key is derived from its value (lg_blocklist_put), never from the message
     * key: messages written before keys had namespaces carry rule user's bare user */
    rc = lg_block_decode(msg->value, msg->value_len, &b, err, sizeof err);
    if (rc != 0) {
        lg_log(LG_WARN, "api", "lg.blocks partition=%d offset=%lld: bad block skipped: %s",
               (int)msg->partition, (long long)msg->offset, err);
        return;
    }
    lg_metrics_counter_add(a->blocks_total, 1);
    rc = lg_blocklist_put(a->blocklist, &b);
    if (rc != 0 && rc != LG_EFULL && lg_block_key(&b, key, sizeof key) > 0)
        lg_log(LG_WARN, "api", "blocklist: cannot cache block key=%.64s: %s", key,
               lg_strerror(rc));
    blocklist_full_report(a);
}

/* Reads up to cap lg.blocks messages into the cache; feed_lock held. */
static int feed_batch_locked(lg_api *a, size_t cap, int timeout_ms, size_t *n)
{
    int rc = lg_bus_poll(a->blocks_consumer, a->feed_msgs, cap, n, timeout_ms);

    if (rc != 0)
        return rc;
    for (size_t i = 0; i < *n; i++)
        feed_one(a, &a->feed_msgs[i]);
    return 0;
}

void lg_api__feed_inline(lg_api *a)
{
    size_t n = 0;

    /* taken: the feeder or another I/O thread is reading lg.blocks right now */
    if (!a->feed_inline || pthread_mutex_trylock(&a->feed_lock) != 0)
        return;
    /* a failed poll is reported by the feeder thread, which polls the same consumer */
    (void)feed_batch_locked(a, LG_API_FEED_INLINE_BATCH, 0, &n);
    pthread_mutex_unlock(&a->feed_lock);
}

/* Reads lg.blocks until lg_api_free; bounded by feeder_stop (checked every poll). */
static void *feeder_main(void *arg)
{
    lg_api *a = arg;
    lg_bus_msg wake[LG_API_FEED_BATCH];
    int64_t last_error_ns = 0, last_expire_ns = lg_mono_ns();

    while (!atomic_load(&a->feeder_stop)) {
        size_t n = 0, nw = 0;
        bool up = false;
        int rc;

        /* with feed_inline, never wait holding feed_lock: I/O threads would skip
         * feeding exactly when a block is about to arrive */
        pthread_mutex_lock(&a->feed_lock);
        rc = feed_batch_locked(a, LG_API_FEED_BATCH, a->feed_inline ? 0 : LG_API_FEED_POLL_MS,
                               &n);
        if (rc == 0 && !atomic_load(&a->ready))
            up = lg_bus_caught_up(a->blocks_consumer);
        pthread_mutex_unlock(&a->feed_lock);
        if (rc != 0 && rc != LG_ETIMEDOUT) {
            int64_t now = lg_mono_ns();
            if (now - last_error_ns > 5000000000LL) { /* once per 5 s */
                lg_log(LG_ERROR, "api", "lg.blocks poll: %s", lg_strerror(rc));
                last_error_ns = now;
            }
            nanosleep(&(struct timespec){0, LG_API_FEED_POLL_MS * 1000000L}, NULL);
            continue;
        }
        if (up) {
            atomic_store(&a->ready, true);
            lg_log(LG_INFO, "api", "blocklist caught up with lg.blocks: entries=%zu ready",
                   lg_blocklist_count(a->blocklist));
        }
        if (lg_mono_ns() - last_expire_ns >= LG_API_EXPIRE_INTERVAL_MS * 1000000LL) {
            lg_blocklist_expire(a->blocklist, lg_now_ms(), LG_API_EXPIRE_VISITS);
            last_expire_ns = lg_mono_ns();
        }
        /* nothing new: sleep until lg.blocks grows. The waiter never gets ahead of what
         * the poll above has seen, so a block published after it wakes us at once. */
        if (a->feed_inline && n == 0)
            (void)lg_bus_poll(a->blocks_waiter, wake, LG_API_FEED_BATCH, &nw,
                              LG_API_FEED_POLL_MS);
    }
    return NULL;
}

/* --- metrics ------------------------------------------------------------------------ */

static double gauge_workers(void *opaque)
{
    lg_api *a = opaque;
    return a->pool != NULL ? (double)lg_pool_depth(a->pool) : 0;
}

static double gauge_bus(void *opaque)
{
    lg_api *a = opaque;
    lg_bus_stats st;
    lg_bus_stats_get(a->bus, &st);
    return (double)st.queued;
}

static double gauge_blocklist(void *opaque)
{
    lg_api *a = opaque;
    return (double)lg_blocklist_count(a->blocklist);
}

static double gauge_connections(void *opaque)
{
    lg_api *a = opaque;
    lg_http_stats st = {0};
    if (a->http != NULL)
        lg_http_server_stats_get(a->http, &st);
    return (double)st.connections;
}

static lg_gate_stats gate_stats(lg_api *a)
{
    lg_gate_stats st = {0};

    if (a->gate != NULL)
        lg_gate_stats_get(a->gate, &st);
    return st;
}

static double gate_refused(void *opaque)
{
    return (double)gate_stats(opaque).refused;
}

static double gate_evicted(void *opaque)
{
    return (double)gate_stats(opaque).evicted;
}

static double gate_ungated(void *opaque)
{
    return (double)gate_stats(opaque).ungated;
}

static double counter_timeouts(void *opaque)
{
    lg_api *a = opaque;
    lg_http_stats st = {0};
    if (a->http != NULL)
        lg_http_server_stats_get(a->http, &st);
    return (double)st.timeouts;
}

static double counter_blocklist_evicted(void *opaque)
{
    lg_api *a = opaque;
    return a->blocklist != NULL ? (double)lg_blocklist_evicted(a->blocklist) : 0;
}

static double counter_blocklist_refused(void *opaque)
{
    lg_api *a = opaque;
    return a->blocklist != NULL ? (double)lg_blocklist_refused(a->blocklist) : 0;
}

static int metrics_setup(lg_api *a)
{
    static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
    static const char *const outcome_labels[3] = {"outcome=\"ok\"", "outcome=\"fail\"",
                                                  "outcome=\"blocked\""};
    char labels[LG_METRICS_LABELS_MAX];
    int rc = lg_metrics_new(&a->metrics);

    if (rc != 0)
        return rc;
    for (int i = 0; i < 3; i++) {
        a->attempts_total[i] = lg_metrics_counter_new(
            a->metrics, "lg_attempts_total", "attempts published by this instance, by outcome",
            outcome_labels[i], LG_METRICS_SHOW_ZERO);
        if (a->attempts_total[i] == NULL)
            return LG_ENOMEM;
    }
    a->blocks_total = lg_metrics_counter_new(a->metrics, "lg_blocks_total",
                                             "blocks received on lg.blocks", NULL,
                                             LG_METRICS_SHOW_ZERO);
    a->publish_full = lg_metrics_counter_new(a->metrics, "lg_bus_publish_full_total",
                                             "publishes refused because the bus was full",
                                             NULL, LG_METRICS_SHOW_ZERO);
    a->xff_invalid = lg_metrics_counter_new(
        a->metrics, "lg_http_xff_invalid_total",
        "requests whose trusted proxy sent an X-Forwarded-For naming no client address "
        "(keyed by the proxy's address)", NULL, LG_METRICS_SHOW_ZERO);
    if (a->blocks_total == NULL || a->publish_full == NULL || a->xff_invalid == NULL)
        return LG_ENOMEM;
    for (int r = 0; r < API_ROUTE_COUNT; r++) {
        for (int s = 0; s <= API_STATUSES_N; s++) {
            if (s < API_STATUSES_N)
                snprintf(labels, sizeof labels, "route=\"%s\",status=\"%u\"", route_names[r],
                         statuses[s]);
            else
                snprintf(labels, sizeof labels, "route=\"%s\",status=\"other\"", route_names[r]);
            a->requests[r][s] = lg_metrics_counter_new(
                a->metrics, "lg_http_requests_total", "HTTP requests answered, by route and status",
                labels, LG_METRICS_HIDE_ZERO);
            if (a->requests[r][s] == NULL)
                return LG_ENOMEM;
        }
    }
    a->duration = lg_metrics_histogram_new(
        a->metrics, "lg_http_request_duration_seconds",
        "time from a request's headers to its answer being sent", NULL, buckets,
        sizeof buckets / sizeof buckets[0]);
    if (a->duration == NULL)
        return LG_ENOMEM;
    if (lg_metrics_gauge_new(a->metrics, "lg_queue_depth", "items waiting, by queue",
                             "queue=\"workers\"", gauge_workers, a) != 0 ||
        lg_metrics_gauge_new(a->metrics, "lg_queue_depth", "items waiting, by queue",
                             "queue=\"bus\"", gauge_bus, a) != 0 ||
        lg_metrics_gauge_new(a->metrics, "lg_blocklist_entries", "blocks in the local cache",
                             NULL, gauge_blocklist, a) != 0 ||
        lg_metrics_gauge_new(a->metrics, "lg_http_connections", "HTTP connections open",
                             NULL, gauge_connections, a) != 0 ||
        lg_metrics_counter_fn_new(a->metrics, "lg_http_timeouts_total",
                                  "connections cut for taking longer than http.timeout_s",
                                  NULL, counter_timeouts, a) != 0 ||
        lg_metrics_counter_fn_new(a->metrics, "lg_gate_refused_total",
                                  "logins refused before a password check: the failures "
                                  "and checks in flight already reach the threshold",
                                  NULL, gate_refused, a) != 0 ||
        lg_metrics_counter_fn_new(a->metrics, "lg_gate_evicted_total",
                                  "users dropped from the full admission gate",
                                  NULL, gate_evicted, a) != 0 ||
        lg_metrics_counter_fn_new(a->metrics, "lg_gate_ungated_total",
                                  "password checks admitted without the gate (its bucket "
                                  "was all in flight)", NULL, gate_ungated, a) != 0 ||
        lg_metrics_counter_fn_new(a->metrics, "lg_blocklist_evicted_total",
                                  "blocks evicted from a full local cache for newer ones",
                                  NULL, counter_blocklist_evicted, a) != 0 ||
        lg_metrics_counter_fn_new(a->metrics, "lg_blocklist_refused_total",
                                  "blocks not cached: the cache was full of blocks ending "
                                  "later", NULL, counter_blocklist_refused, a) != 0)
        return LG_ENOMEM;
    return 0;
}

/* --- life cycle --------------------------------------------------------------------- */

static int worker_init(void *opaque, void **thread_state)
{
    lg_api *a = opaque;
    lg_store *store;
    char err[256];
    int rc = lg_store_open(a->cfg->store_url, &store, err, sizeof err);

    if (rc != 0) {
        lg_log(LG_ERROR, "api", "worker: %s", err);
        return rc;
    }
    *thread_state = store;
    return 0;
}

static void worker_fini(void *opaque, void *thread_state)
{
    (void)opaque;
    lg_store_close(thread_state);
}

static uint32_t cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

void lg_api_jwt_secret_ensure(lg_config *cfg)
{
    if (cfg->jwt_secret[0] != '\0')
        return;
    lg_jwt_random_secret(cfg->jwt_secret, sizeof cfg->jwt_secret);
    lg_log(LG_WARN, "api", "no auth.jwt_secret nor LG_JWT_SECRET: using a random secret; "
           "tokens will not survive a restart nor verify on other instances");
}

/* The gate mirrors rule user (gate.h); off when that rule is, or when its threshold is
 * more failures than the gate remembers (then only the detector bounds the guesses). */
static int gate_setup(lg_api *a)
{
    const lg_engine_conf *ec = &a->cfg->engine;
    const lg_rule_conf *rule = NULL;
    lg_gate_conf gc;

    for (size_t i = 0; i < ec->n_rules; i++) {
        if (ec->rules[i].enabled && ec->rules[i].key == LG_RULE_KEY_USER &&
            strcmp(ec->rules[i].name, "user") == 0)
            rule = &ec->rules[i];
    }
    if (rule == NULL)
        return 0;
    if (rule->threshold > LG_GATE_FAILS_MAX) {
        lg_log(LG_WARN, "api", "rule user: threshold %u is over %d: concurrent logins are "
               "not gated, a burst may verify more passwords than the threshold",
               rule->threshold, LG_GATE_FAILS_MAX);
        return 0;
    }
    gc = (lg_gate_conf){.threshold = rule->threshold,
                        .window_ms = rule->window_ms,
                        .block_for_ms = rule->block_for_ms,
                        .reset_on_success = rule->reset_on_success};
    return lg_gate_new(&gc, &a->gate);
}

int lg_api_new(const lg_config *cfg, lg_bus *bus, const char *name, lg_api **out, char *err,
               size_t err_len)
{
    lg_pwhash_conf pw = {.opslimit = cfg->argon2_opslimit,
                         .memlimit_kib = cfg->argon2_memlimit_kib};
    lg_bus_sub sub = {.topic = LG_TOPIC_BLOCKS, .group = NULL, .start = LG_BUS_FROM_BEGINNING};
    lg_pool_conf pc = {.threads = cfg->workers ? cfg->workers : cores(),
                       .queue_max = cfg->worker_queue_max,
                       .thread_init = worker_init,
                       .thread_fini = worker_fini};
    lg_http_conf hc = {.listen = cfg->http_listen,
                       .port = (uint16_t)cfg->http_port,
                       .threads = cfg->http_threads,
                       .connections_max = cfg->http_connections_max,
                       .timeout_s = cfg->http_timeout_s};
    lg_api *a;
    int rc;

    lg_assert(cfg != NULL && bus != NULL);
    lg_assert(out != NULL);
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return LG_ENOMEM;
    a->cfg = cfg;
    a->bus = bus;
    a->boot_ms = lg_now_ms();
    pthread_mutex_init(&a->feed_lock, NULL);
    a->feed_inline = strcmp(bus->ops->name, "embedded") == 0;
    snprintf(a->src, sizeof a->src, "%s", name != NULL && name[0] != '\0' ? name : "api");
    /* ids are "<src>-<boot ms>-<nonce>-<counter>": unique across instances, also two
     * that share a name and a boot millisecond (api_id.h) */
    a->id_prefix_len = lg_api_id_prefix(a->id_prefix, a->src, a->boot_ms);
    pc.opaque = a;

    rc = lg_api__client_setup(a, err, err_len);
    if (rc != 0)
        goto fail;
    rc = metrics_setup(a);
    if (rc != 0) {
        snprintf(err, err_len, "api: cannot set up metrics: %s", lg_strerror(rc));
        goto fail;
    }
    rc = lg_blocklist_new(LG_API_BLOCKLIST_MAX, &a->blocklist);
    if (rc != 0) {
        snprintf(err, err_len, "api: cannot create the blocklist: %s", lg_strerror(rc));
        goto fail;
    }
    rc = gate_setup(a);
    if (rc != 0) {
        snprintf(err, err_len, "api: cannot create the admission gate: %s", lg_strerror(rc));
        goto fail;
    }
    rc = lg_users_new(&pw, &a->users);
    if (rc != 0) {
        snprintf(err, err_len, "api: invalid argon2id parameters t=%u m=%u KiB: %s",
                 pw.opslimit, pw.memlimit_kib, lg_strerror(rc));
        goto fail;
    }
    rc = lg_jwt_new(cfg->jwt_secret, strlen(cfg->jwt_secret), cfg->jwt_ttl_s, &a->jwt);
    if (rc != 0) {
        snprintf(err, err_len, "api: auth.jwt_secret must be at least %d bytes: %s",
                 LG_JWT_SECRET_MIN, lg_strerror(rc));
        goto fail;
    }
    /* loaded before the server listens: a reporter is never refused while we start */
    rc = lg_reporters_cache_new(&a->reporters);
    if (rc != 0) {
        snprintf(err, err_len, "api: cannot create the reporter keys cache: %s",
                 lg_strerror(rc));
        goto fail;
    }
    rc = lg_reporters_cache_start(a->reporters, cfg->store_url, err, err_len);
    if (rc != 0)
        goto fail;
    rc = lg_bus_consumer_new(bus, &sub, &a->blocks_consumer, err, err_len);
    if (rc != 0)
        goto fail;
    if (a->feed_inline) {
        rc = lg_bus_consumer_new(bus, &sub, &a->blocks_waiter, err, err_len);
        if (rc != 0)
            goto fail;
    }
    if (pthread_create(&a->feeder, NULL, feeder_main, a) != 0) {
        snprintf(err, err_len, "api: cannot start the lg.blocks reader thread");
        rc = LG_ENOMEM;
        goto fail;
    }
    a->feeder_started = true;
    rc = lg_pool_new(&pc, &a->pool);
    if (rc != 0) {
        snprintf(err, err_len, "api: cannot start %u password workers on store '%s': %s",
                 pc.threads, cfg->store_url, lg_strerror(rc));
        goto fail;
    }
    rc = lg_http_server_new(&hc, on_request, on_request_done, a, &a->http, err, err_len);
    if (rc != 0)
        goto fail;
    lg_log(LG_INFO, "api", "listening on http://%s%s%s:%u name=%s workers=%u",
           strchr(cfg->http_listen, ':') ? "[" : "", cfg->http_listen,
           strchr(cfg->http_listen, ':') ? "]" : "", (unsigned)lg_http_server_port(a->http),
           a->src, pc.threads);
    *out = a;
    return 0;

fail:
    a->stopped = true; /* nothing was served: free only */
    lg_api_free(a);
    return rc;
}

void lg_api_metrics_attach(lg_api *a, lg_metrics *extra)
{
    atomic_store(&a->metrics_extra, extra);
}

lg_metrics *lg_api_metrics(lg_api *a)
{
    lg_assert(a != NULL);
    return a->metrics;
}

uint16_t lg_api_port(const lg_api *a)
{
    return lg_http_server_port(a->http);
}

bool lg_api_ready(lg_api *a)
{
    return atomic_load(&a->ready);
}

void lg_api_stop(lg_api *a)
{
    size_t left;

    if (a == NULL || a->stopped)
        return;
    a->stopped = true;
    left = lg_http_server_drain(a->http, LG_API_DRAIN_MS);
    /* runs what is still queued: each job answers its request */
    lg_pool_free(a->pool);
    a->pool = NULL;
    lg_bus_flush(a->bus, LG_BUS_CLOSE_FLUSH_MS);
    if (left > 0)
        left = lg_http_server_drain(a->http, 1000);
    if (left > 0)
        lg_log(LG_ERROR, "api", "stop: %zu requests still in flight after the drain", left);
    lg_http_server_free(a->http);
    a->http = NULL;
    lg_log(LG_INFO, "api", "stopped: http drained, workers and bus flushed");
}

void lg_api_free(lg_api *a)
{
    if (a == NULL)
        return;
    lg_api_stop(a);
    /* on a failed start, http and pool may exist without having served */
    lg_http_server_free(a->http);
    lg_pool_free(a->pool);
    if (a->feeder_started) {
        atomic_store(&a->feeder_stop, true);
        pthread_join(a->feeder, NULL);
    }
    lg_bus_consumer_free(a->blocks_waiter);
    lg_bus_consumer_free(a->blocks_consumer);
    pthread_mutex_destroy(&a->feed_lock);
    lg_reporters_cache_free(a->reporters); /* writes the last uses of the keys */
    lg_jwt_free(a->jwt);
    lg_users_free(a->users);
    lg_blocklist_free(a->blocklist);
    lg_gate_free(a->gate);
    lg_metrics_free(a->metrics);
    free(a);
}
