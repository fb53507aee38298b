/*
 * api_int.h - private to the API role (api.c: lifecycle, blocklist feed, metrics;
 * api_login.c: the attempt endpoints; api_admin.c: blocks, sessions, health, metrics).
 */
#ifndef LG_ROLES_API_INT_H
#define LG_ROLES_API_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "auth/jwt.h"
#include "auth/reporters_cache.h"
#include "auth/users.h"
#include "bus/bus.h"
#include "core/addr.h"
#include "core/blocklist.h"
#include "core/config.h"
#include "core/gate.h"
#include "core/event.h"
#include "core/pool.h"
#include "http/metrics.h"
#include "http/server.h"
#include "roles/api.h"
#include "roles/api_body.h"

/* The routes, also the values of the "route" label of lg_http_requests_total. */
typedef enum {
    API_ROUTE_LOGIN = 0,
    API_ROUTE_ATTEMPTS,
    API_ROUTE_BLOCK,    /* GET /v1/blocks/{user} */
    API_ROUTE_BLOCKS,   /* GET /v1/blocks */
    API_ROUTE_UNBLOCK,  /* DELETE /v1/blocks/{user} */
    API_ROUTE_ME,
    API_ROUTE_HEALTHZ,
    API_ROUTE_METRICS,
    API_ROUTE_OTHER,    /* 404, 405 and requests refused before routing */
    API_ROUTE_COUNT
} api_route;

/* Statuses with their own series; anything else is counted as "other". */
#define API_STATUSES_N 15

/* Retry-After of a permanent block: a day, the longest an escalated block lasts. */
#define LG_API_RETRY_PERMANENT_S 86400
/* blocklist cache entries: active blocks are far fewer than tracked keys. */
/* minimum digits of an attempt id's counter (zero-padded, so ids sort as they are made);
 * 20 digits hold any uint64 */
#define LG_API_ID_DIGITS 12
#define LG_API_BLOCKLIST_MAX (1u << 20)
/* blocks listed by GET /v1/blocks (the answer says when it was cut). */
#define LG_API_BLOCKS_LIST_MAX 10000
/* /metrics text; the registry is bounded (LG_METRICS_SERIES_MAX), so is this. */
#define LG_API_METRICS_MAX (256 * 1024)
/* lg.blocks messages per poll, and the poll wait (also the stop latency of the feed). */
#define LG_API_FEED_BATCH 256
#define LG_API_FEED_POLL_MS 100
/* lg.blocks messages an I/O thread reads before a blocklist lookup (in-process bus). */
#define LG_API_FEED_INLINE_BATCH 32
/* entries the feed thread visits per round to drop expired blocks. */
#define LG_API_EXPIRE_VISITS 1024
/* The feeder sweeps at most once per this many ms, not once per lg.blocks batch: with a
 * steady stream of blocks (Kafka returns a poll per message) a sweep per batch cost ~5 %
 * of an API process. Memory stays bounded by LG_API_BLOCKLIST_MAX either way: lookups
 * drop the expired entries they meet and a put on a full table sweeps first. */
#define LG_API_EXPIRE_INTERVAL_MS 250
/* graceful stop: queued password checks (worker_queue_max x ~11 ms / workers) and the
 * bus flush must fit in this. */
#define LG_API_DRAIN_MS 15000
/* how long a worker may wait for room on a full bus before answering 503. */
#define LG_API_PUBLISH_WAIT_MS 50
/* X-Forwarded-For header lines read (the last ones: the list is read from its right);
 * HAProxy sends one, a chain of proxies rarely more than a few */
#define LG_API_XFF_HEADERS_MAX 16
/* a broken X-Forwarded-For of a trusted proxy: one log line per interval, and the bytes
 * of the header it shows */
#define LG_API_XFF_WARN_INTERVAL_MS 10000
#define LG_API_XFF_SHOWN_MAX 64

/* a full blocklist cache: at most one warning per this long */
#define LG_API_FULL_LOG_MS 10000

struct lg_api {
    const lg_config *cfg;
    lg_bus *bus;
    char src[LG_SRC_MAX + 1];
    int64_t boot_ms;
    char id_prefix[LG_ID_MAX + 1]; /* "<src>-<boot_ms>-<nonce>-" (lg_api_id_prefix) */
    size_t id_prefix_len;
    _Atomic uint64_t seq;

    lg_users *users;
    lg_jwt *jwt;
    lg_reporters_cache *reporters; /* keys that may call POST /v1/attempts */
    lg_blocklist *blocklist;
    lg_gate *gate; /* NULL when rule user is off or its threshold is beyond the gate */
    lg_pool *pool;
    lg_http_server *http;

    lg_cidr_list trusted_proxies; /* [http] trusted_proxies (lg_api__client_setup) */
    lg_cidr_list admin_networks;  /* [http] admin_networks */
    _Atomic int64_t xff_warned_ms; /* last log line about a broken X-Forwarded-For */

    lg_metrics *metrics;
    lg_metrics_counter *attempts_total[3]; /* by lg_outcome */
    lg_metrics_counter *blocks_total;
    lg_metrics_counter *publish_full;
    lg_metrics_counter *xff_invalid; /* api_client.c */
    lg_metrics_counter *requests[API_ROUTE_COUNT][API_STATUSES_N + 1];
    lg_metrics_histogram *duration;
    _Atomic(lg_metrics *) metrics_extra; /* lg_api_metrics_attach; NULL: none */

    /* lg.blocks is read by whoever holds feed_lock: the feeder thread, or with the
     * in-process bus (feed_inline) an I/O thread about to look a user up, so a block
     * reaches the cache without waiting for the feeder thread to be scheduled. The
     * feeder then sleeps on blocks_waiter, a second consumer read only to be woken. */
    pthread_mutex_t feed_lock;
    lg_bus_consumer *blocks_consumer; /* feed_lock */
    lg_bus_msg feed_msgs[LG_API_FEED_BATCH]; /* feed_lock */
    /* the full cache's counts at the last warning, and when the next may come (feed_lock) */
    uint64_t full_evicted_seen, full_refused_seen;
    int64_t full_log_next_ns;
    bool feed_inline;
    lg_bus_consumer *blocks_waiter; /* feeder thread only; NULL unless feed_inline */
    pthread_t feeder;
    bool feeder_started;
    _Atomic bool feeder_stop;
    _Atomic bool ready;
    bool stopped;
};

/* api_login.c */
void lg_api__login(lg_api *a, lg_http_req *r);
void lg_api__attempts(lg_api *a, lg_http_req *r);

/* api_client.c */

/* Parses [http] trusted_proxies and admin_networks into a; err names the bad entry. */
int lg_api__client_setup(lg_api *a, char *err, size_t err_len);

/* The client's address in canonical text (core/addr.h): the TCP peer, or when the peer
 * is in trusted_proxies, the client its X-Forwarded-For names (a broken header: the
 * peer, counted and logged). "" when the peer has no address. I/O thread, before defer. */
void lg_api__client_ip(lg_api *a, lg_http_req *r, char out[static LG_IP_MAX + 1]);

/* Is the client (as lg_api__client_ip resolves it) in admin_networks? */
bool lg_api__from_admin_network(lg_api *a, lg_http_req *r);

/* api_admin.c */
void lg_api__block_get(lg_api *a, lg_http_req *r, const char *user, size_t user_len);
void lg_api__blocks_list(lg_api *a, lg_http_req *r);
void lg_api__unblock(lg_api *a, lg_http_req *r, const char *user, size_t user_len);
void lg_api__me(lg_api *a, lg_http_req *r);
void lg_api__healthz(lg_api *a, lg_http_req *r);
void lg_api__metrics(lg_api *a, lg_http_req *r);

/* api.c: helpers shared by the endpoints */

/* Reads the request body, one JSON object (strict: duplicates, NUL, bad UTF-8 are
 * errors), into its fields: the fast parser, else jansson. Checks Content-Type first.
 * Returns 0 (release with lg_api__body_free), or answers 415/400 itself and returns
 * LG_EINVAL. String fields point into the request's body or jansson's tree. */
int lg_api__body_read(lg_http_req *r, lg_api_body *out);
void lg_api__body_free(lg_api_body *b);

/* A string field: 0 and *out, *len (borrowed from b), LG_ENOTFOUND when absent and
 * not required, else answers 400 itself and returns LG_EINVAL. */
int lg_api__field_string(lg_http_req *r, const lg_api_body *b, lg_api_field f, bool required,
                         const char **out, size_t *len);

/* Brings the blocklist up to date with lg.blocks when the bus is in-process and no
 * other thread is doing it (never waits). Called before lookups. */
void lg_api__feed_inline(lg_api *a);

/* Is (user, ip) blocked by any enabled rule at now_ms? ip is a canonical address
 * (IP-keyed rules probe its network for their ipv6_prefix) or "". Feeds first
 * (lg_api__feed_inline). */
bool lg_api__blocked(lg_api *a, const char *user, const char *ip, int64_t now_ms,
                     lg_block *out);

/* Answers 423 with Retry-After for a block ending at until_ms (0: permanent). */
void lg_api__respond_blocked(lg_http_req *r, int64_t until_ms, int64_t now_ms);

/* Fills an attempt with a fresh id, src and the given fields. */
void lg_api__attempt_fill(lg_api *a, lg_attempt *at, const char *user, size_t user_len,
                          const char *ip, bool ok, lg_outcome outcome, int64_t ts_ms);

/* Encodes and publishes at on lg.attempts (key = user); counts it. Returns
 * lg_bus_publish's status; done is called only when that status is 0. */
int lg_api__attempt_publish(lg_api *a, const lg_attempt *at, int timeout_ms,
                            lg_bus_done_cb done, void *opaque);

/* Answers 503 + Retry-After: 1 with detail. */
void lg_api__respond_overloaded(lg_http_req *r, const char *detail);

/* Verifies "Authorization: Bearer <jwt>". Answers 401 itself and returns false when
 * the token is missing, forged or expired. */
bool lg_api__auth(lg_api *a, lg_http_req *r, lg_jwt_claims *claims);

/* api_reporter.c: is the caller a reporter? "Authorization: Bearer <reporter key>" of a
 * key in the store, or an admin JWT. True with actor (actor_len >= LG_ACTOR_MAX + 1) set
 * to "key:<key name>" or "jwt:<sub>"; else answers 401 (WWW-Authenticate: Bearer) itself
 * and returns false. Cheap: no store access (reporters_cache.h). */
bool lg_api__reporter(lg_api *a, lg_http_req *r, char *actor, size_t actor_len);

#endif
