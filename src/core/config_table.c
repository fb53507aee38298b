/*
 * config_table.c - every configuration key of loginguard: type, default, range, doc.
 *
 * Ranges stay inside the hard caps of core/limits.h (a file may lower a bound, never
 * raise it). Where a key maps onto a library option the range is that library's
 * (librdkafka CONFIGURATION.md, libsodium crypto_pwhash limits). Rule and bus defaults
 * live in lg_engine_conf_default / lg_bus_conf_default (LG_CONF_DEF_EXT) so that code
 * built without a config file agrees with `loginguard config`.
 */
#include "core/config_table.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/addr.h"
#include "core/config.h"
#include "core/event.h"
#include "core/lgassert.h"
#include "core/limits.h"

/* librdkafka's own ranges for the options these keys feed. */
#define KAFKA_FETCH_WAIT_MS_MAX 300000
#define KAFKA_SESSION_TIMEOUT_MS_MAX 3600000
/* bounds memory of the librdkafka producer queue (a message is ~200 bytes here). */
#define KAFKA_PRODUCER_QUEUE_CAP 10000000
/* open connections of one HTTP instance; each holds LG_HTTP_CONN_MEMORY. */
#define HTTP_CONNS_CAP (1 << 20)
#define HTTP_TIMEOUT_S_MAX 3600
#define JWT_TTL_S_MAX (30 * 86400)
/* argon2id: libsodium's minimum memory is 8 KiB; 1 GiB per hash is already a DoS. */
#define ARGON2_MEMLIMIT_KIB_MIN 8
#define ARGON2_MEMLIMIT_KIB_MAX (1 << 20)
#define ARGON2_OPSLIMIT_MAX 16
#define NAME_MAX_LEN 63

static bool check_bus_url(const char *v, char *why, size_t why_len)
{
    if (strcmp(v, "embedded") == 0 || (strncmp(v, "kafka://", 8) == 0 && v[8] != '\0'))
        return true;
    snprintf(why, why_len, "expected 'embedded' or 'kafka://host:port[,host:port...]'");
    return false;
}

static bool check_listen(const char *v, char *why, size_t why_len)
{
    unsigned char addr[16];

    if (inet_pton(AF_INET, v, addr) == 1 || inet_pton(AF_INET6, v, addr) == 1)
        return true;
    snprintf(why, why_len, "expected an IPv4 or IPv6 address");
    return false;
}

/* [http] trusted_proxies, admin_networks: parsed again by the API (lg_api_new); the
 * reason names the bad entry */
static bool check_cidr_list(const char *v, char *why, size_t why_len)
{
    lg_cidr_list list;

    return lg_addr_cidr_list_parse(v, &list, why, why_len) == 0;
}

static bool check_client_id(const char *v, char *why, size_t why_len)
{
    return lg_src_valid(v, strlen(v), why, why_len);
}

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

#define CFG(field) offsetof(lg_config, field)
#define RULE(field) offsetof(lg_rule_conf, field)
#define STRSZ(field) sizeof(((lg_config *)0)->field)

const lg_conf_entry lg_conf__table[] = {
    /* [rule NAME]: user, ip, user_ip (defaults differ per rule: engine.c) */
    {"rule", "enabled", LG_CONF_BOOL, LG_CONF_DEF_EXT, RULE(enabled), 0, 0, 1, 0, NULL, NULL,
     NULL, "judge attempts with this rule (only rule user is on by default)"},
    {"rule", "threshold", LG_CONF_U32, LG_CONF_DEF_EXT, RULE(threshold), 0, 1,
     LG_THRESHOLD_MAX, 0, NULL, NULL, NULL,
     "failures that block the key when they span strictly less than window_ms"},
    {"rule", "window_ms", LG_CONF_I64, LG_CONF_DEF_EXT | LG_CONF_MS, RULE(window_ms), 0, 1,
     LG_WINDOW_MS_MAX, 0, NULL, NULL, NULL,
     "sliding window, judged on event time (ts[k] - ts[k-threshold+1] < window_ms)"},
    {"rule", "block_for_ms", LG_CONF_I64, LG_CONF_DEF_EXT | LG_CONF_MS, RULE(block_for_ms), 0,
     0, LG_BLOCK_CAP_MS, 0, NULL, NULL, NULL,
     "first block's duration, doubled per escalation level up to 24 h; 0 = permanent"},
    {"rule", "reset_on_success", LG_CONF_BOOL, LG_CONF_DEF_EXT, RULE(reset_on_success), 0, 0,
     1, 0, NULL, NULL, NULL, "a successful attempt clears the key's window"},
    {"rule", "keys_max", LG_CONF_U32, LG_CONF_DEF_EXT, RULE(keys_max), 0, 1, LG_KEYS_MAX_CAP,
     0, NULL, NULL, NULL,
     "keys whose window is tracked at once (and blocks remembered); a new key beyond it "
     "evicts the least recently active keys (lg_engine_keys_evicted_total)"},
    {"rule", "ipv6_prefix", LG_CONF_U32, LG_CONF_DEF_EXT, RULE(ipv6_prefix), 0, 1, 128, 0,
     NULL, NULL, NULL,
     "rules keyed on the address: an IPv6 address counts as its /ipv6_prefix network"},

    /* [bus] */
    {"bus", "url", LG_CONF_STR, 0, CFG(bus_url), STRSZ(bus_url), 1, LG_URL_MAX, 0, "embedded",
     NULL, check_bus_url, "embedded (in-process) or kafka://host:port[,host:port...]"},
    {"bus", "queue_max", LG_CONF_U32, LG_CONF_DEF_EXT, CFG(bus.queue_max), 0, 1,
     LG_BUS_QUEUE_MAX_CAP, 0, NULL, NULL, NULL,
     "embedded: messages a topic holds before publishers get back-pressure"},
    {"bus", "attempts_partitions", LG_CONF_I32, LG_CONF_DEF_EXT, CFG(bus.attempts_partitions),
     0, 1, LG_BUS_PARTITIONS_MAX, 0, NULL, NULL, NULL,
     "kafka: partitions of lg.attempts when it is created (detectors scale up to this)"},
    {"bus", "blocks_partitions", LG_CONF_I32, LG_CONF_DEF_EXT, CFG(bus.blocks_partitions), 0,
     1, LG_BUS_PARTITIONS_MAX, 0, NULL, NULL, NULL,
     "kafka: partitions of lg.blocks when it is created"},
    {"bus", "replication", LG_CONF_I16, LG_CONF_DEF_EXT, CFG(bus.replication), 0, 1,
     INT16_MAX, 0, NULL, NULL, NULL,
     "kafka: replication factor of created topics (3 in a real cluster)"},
    {"bus", "fetch_wait_max_ms", LG_CONF_I32, LG_CONF_DEF_EXT | LG_CONF_MS,
     CFG(bus.fetch_wait_max_ms), 0, 0, KAFKA_FETCH_WAIT_MS_MAX, 0, NULL, NULL, NULL,
     "kafka: fetch.wait.max.ms, the latency of block propagation"},
    {"bus", "session_timeout_ms", LG_CONF_I32, LG_CONF_DEF_EXT | LG_CONF_MS,
     CFG(bus.session_timeout_ms), 0, 1, KAFKA_SESSION_TIMEOUT_MS_MAX, 0, NULL, NULL, NULL,
     "kafka: session.timeout.ms, how fast a dead detector's partitions move"},
    {"bus", "producer_queue_max", LG_CONF_U32, LG_CONF_DEF_EXT, CFG(bus.producer_queue_max), 0,
     1, KAFKA_PRODUCER_QUEUE_CAP, 0, NULL, NULL, NULL,
     "kafka: queue.buffering.max.messages of each producer"},
    {"bus", "client_id", LG_CONF_STR, LG_CONF_DEF_EXT, CFG(bus.client_id), STRSZ(bus.client_id),
     1, LG_SRC_MAX, 0, NULL, NULL, check_client_id,
     "kafka: client.id (A-Z a-z 0-9 . _ -); also the src of attempts of `loginguard api` "
     "without --name"},

    /* [store] */
    {"store", "url", LG_CONF_STR, 0, CFG(store_url), STRSZ(store_url), 1, LG_URL_MAX, 0,
     "loginguard.db", NULL, NULL, "SQLite file (PATH or sqlite:PATH) or postgres://..."},

    /* [http] */
    {"http", "listen", LG_CONF_STR, 0, CFG(http_listen), STRSZ(http_listen), 1, NAME_MAX_LEN,
     0, "127.0.0.1", NULL, check_listen, "address the HTTP API binds"},
    {"http", "port", LG_CONF_U32, 0, CFG(http_port), 0, 1, 65535, 8080, NULL, NULL, NULL,
     "TCP port of the HTTP API"},
    {"http", "threads", LG_CONF_U32, 0, CFG(http_threads), 0, 0, LG_POOL_THREADS_MAX, 0, NULL,
     NULL, NULL, "I/O threads; 0 = number of cores"},
    {"http", "connections_max", LG_CONF_U32, 0, CFG(http_connections_max), 0, 1,
     HTTP_CONNS_CAP, LG_HTTP_CONNS_MAX_DEFAULT, NULL, NULL, NULL,
     "open connections; more are refused"},
    {"http", "timeout_s", LG_CONF_U32, 0, CFG(http_timeout_s), 0, 1, HTTP_TIMEOUT_S_MAX,
     LG_HTTP_TIMEOUT_S_DEFAULT, NULL, NULL, NULL, "idle connection timeout"},
    {"http", "trusted_proxies", LG_CONF_STR, LG_CONF_EMPTY_OK, CFG(http_trusted_proxies),
     STRSZ(http_trusted_proxies), 1, LG_CIDR_LIST_STR_MAX, 0, "", NULL, check_cidr_list,
     "CIDR list of proxies whose X-Forwarded-For names the client (HAProxy's address)"},
    {"http", "admin_networks", LG_CONF_STR, LG_CONF_EMPTY_OK, CFG(http_admin_networks),
     STRSZ(http_admin_networks), 1, LG_CIDR_LIST_STR_MAX, 0, "127.0.0.0/8, ::1/128", NULL,
     check_cidr_list,
     "CIDR list of clients that may read /metrics and block status without an admin JWT"},

    /* [auth] */
    {"auth", "jwt_secret", LG_CONF_STR, LG_CONF_SECRET | LG_CONF_EMPTY_OK, CFG(jwt_secret),
     STRSZ(jwt_secret), LG_JWT_SECRET_MIN, LG_SECRET_MAX, 0, "", NULL, NULL,
     "HS256 key shared by every API instance; empty = random per start (prefer "
     "LG_JWT_SECRET)"},
    {"auth", "jwt_ttl_s", LG_CONF_U32, 0, CFG(jwt_ttl_s), 0, 1, JWT_TTL_S_MAX, 900, NULL, NULL,
     NULL, "lifetime of an issued token"},
    {"auth", "argon2_opslimit", LG_CONF_U32, 0, CFG(argon2_opslimit), 0, 1,
     ARGON2_OPSLIMIT_MAX, 2, NULL, NULL, NULL, "argon2id passes (t) for new password hashes"},
    {"auth", "argon2_memlimit_kib", LG_CONF_U32, 0, CFG(argon2_memlimit_kib), 0,
     ARGON2_MEMLIMIT_KIB_MIN, ARGON2_MEMLIMIT_KIB_MAX, 19456, NULL, NULL, NULL,
     "argon2id memory (m) for new password hashes; 19 MiB is OWASP's minimum"},
    {"auth", "workers", LG_CONF_U32, 0, CFG(workers), 0, 0, LG_POOL_THREADS_MAX, 0, NULL, NULL,
     NULL, "password-hashing threads; 0 = number of cores"},
    {"auth", "worker_queue_max", LG_CONF_U32, 0, CFG(worker_queue_max), 0, 1,
     LG_POOL_QUEUE_MAX_CAP, LG_WORKER_QUEUE_MAX_DEFAULT, NULL, NULL, NULL,
     "logins waiting for a worker before the API answers 503"},

    /* [detector] */
    {"detector", "group", LG_CONF_STR, 0, CFG(detector_group), STRSZ(detector_group), 1,
     NAME_MAX_LEN, 0, "lg-detector", NULL, NULL, "kafka consumer group of the detectors"},
    {"detector", "batch_max", LG_CONF_U32, 0, CFG(detector_batch_max), 0, 1,
     LG_STORE_BATCH_MAX, 1024, NULL, NULL, NULL,
     "attempts judged, stored in one transaction and committed together"},

    /* [time] */
    {"time", "report_lag_max_ms", LG_CONF_I64, LG_CONF_MS, CFG(report_lag_max_ms), 0, 0,
     LG_TIME_BOUND_MS_CAP, LG_REPORT_LAG_MAX_MS_DEFAULT, NULL, NULL, NULL,
     "a reporter's ts may be at most this far in the past"},
    {"time", "clock_skew_max_ms", LG_CONF_I64, LG_CONF_MS, CFG(clock_skew_max_ms), 0, 0,
     LG_TIME_BOUND_MS_CAP, LG_CLOCK_SKEW_MAX_MS_DEFAULT, NULL, NULL, NULL,
     "no ts later than now + this is accepted by the API or judged by the detector"},

    /* [log] */
    {"log", "level", LG_CONF_ENUM, 0, CFG(log_level), 0, 0, 3, LG_INFO, NULL, log_levels, NULL,
     "lines above this level are dropped"},
};

const size_t lg_conf__table_len = sizeof lg_conf__table / sizeof lg_conf__table[0];

bool lg_conf__is_rule(const lg_conf_entry *e)
{
    return strcmp(e->section, "rule") == 0;
}

void *lg_conf__field(const lg_config *cfg, const lg_conf_entry *e, int rule)
{
    const char *base = (const char *)cfg;

    if (lg_conf__is_rule(e)) {
        lg_assert(rule >= 0 && (size_t)rule < cfg->engine.n_rules);
        base = (const char *)&cfg->engine.rules[rule];
    }
    return (char *)base + e->offset;
}

const char *const lg_conf__sections[] = {"rule", "bus",      "store", "http", "auth",
                                         "detector", "time", "log",   NULL};

const lg_conf_env lg_conf__env[] = {
    {"LG_JWT_SECRET", "auth.jwt_secret"},
    {"LG_BUS_URL", "bus.url"},
    {"LG_STORE_URL", "store.url"},
    {"LG_LOG_LEVEL", "log.level"},
    {NULL, NULL},
};

_Static_assert(sizeof(lg_log_level) == sizeof(int), "LG_CONF_ENUM stores an int");
_Static_assert(sizeof(((lg_config *)0)->bus_url) == LG_URL_MAX + 1, "url buffer");
_Static_assert(LG_CIDR_LIST_STR_MAX <= LG_URL_MAX, "config.c checks strings in LG_URL_MAX");
