/*
 * config.h - the effective configuration: defaults, then an INI file (libinih), then
 * environment (LG_JWT_SECRET), then command-line flags set by each sub-command.
 *
 * One table in config.c lists every key: section, name, type, default, min, max and a
 * one-line doc. The loader validates against it (errors name the key and FILE:LINE),
 * `loginguard config` prints it, and docs/CONFIG.md is generated from it.
 *
 *   [rule user]            threshold, window_ms, block_for_ms, reset_on_success,
 *   [rule ip]              enabled, keys_max
 *   [rule user_ip]
 *   [bus]                  url, queue_max, attempts_partitions, blocks_partitions,
 *                          replication, fetch_wait_max_ms, session_timeout_ms
 *   [store]                url
 *   [http]                 listen, port, threads, connections_max, timeout_s
 *   [auth]                 jwt_secret, jwt_ttl_s, argon2_opslimit, argon2_memlimit_kib,
 *                          workers, worker_queue_max
 *   [detector]             group, batch_max
 *   [log]                  level
 */
#ifndef LG_CONFIG_H
#define LG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bus/bus.h"
#include "core/engine.h"
#include "core/log.h"

#define LG_URL_MAX 1024
#define LG_SECRET_MAX 256

typedef struct lg_config {
    lg_engine_conf engine;
    lg_bus_conf bus;
    char bus_url[LG_URL_MAX + 1];      /* "embedded" */
    char store_url[LG_URL_MAX + 1];    /* "loginguard.db" */

    char http_listen[64];              /* "127.0.0.1" */
    uint32_t http_port;                /* 8080 */
    uint32_t http_threads;             /* 0 = number of cores */
    uint32_t http_connections_max;     /* LG_HTTP_CONNS_MAX_DEFAULT */
    uint32_t http_timeout_s;           /* LG_HTTP_TIMEOUT_S_DEFAULT */
    /* CIDR lists ("10.0.0.0/8, ::1/128"): peers whose X-Forwarded-For is believed;
     * clients that may read /metrics and GET /v1/blocks/{user} without an admin JWT */
    char http_trusted_proxies[LG_CIDR_LIST_STR_MAX + 1]; /* "" */
    char http_admin_networks[LG_CIDR_LIST_STR_MAX + 1];  /* "127.0.0.0/8, ::1/128" */

    /* [time] what a reported ts may be, and what the detector judges at all */
    int64_t report_lag_max_ms;         /* 300000: a reporter's ts >= now - this */
    int64_t clock_skew_max_ms;         /* 5000: no ts beyond now + this is accepted */

    char jwt_secret[LG_SECRET_MAX + 1]; /* "" = generate at start (and say so) */
    uint32_t jwt_ttl_s;                /* 900 */
    uint32_t argon2_opslimit;          /* 2 */
    uint32_t argon2_memlimit_kib;      /* 19456 (19 MiB, OWASP) */
    uint32_t workers;                  /* 0 = number of cores */
    uint32_t worker_queue_max;         /* LG_WORKER_QUEUE_MAX_DEFAULT */

    char detector_group[64];           /* "lg-detector" */
    uint32_t detector_batch_max;       /* 1024 */

    lg_log_level log_level;            /* LG_INFO; commands pass it to lg_log_set_level */
} lg_config;

/* Fills every field with its default. */
void lg_config_default(lg_config *cfg);

/* Applies an INI file over cfg (path NULL: nothing). Unknown sections or keys and values
 * out of range are errors: "invalid window_ms '0' for rule 'user' (loginguard.conf:14):
 * must be 1..86400000". */
int lg_config_load_file(lg_config *cfg, const char *path, char *err, size_t err_len);

/* Applies the environment: LG_JWT_SECRET, LG_BUS_URL, LG_STORE_URL, LG_LOG_LEVEL. An
 * invalid value is logged as an error and leaves its key unchanged; callers that must
 * refuse to start on one use lg_config_env_apply. */
void lg_config_load_env(lg_config *cfg);

/* Like lg_config_load_env, but stops at the first invalid variable: LG_EINVAL and
 * "invalid url 'x' in [bus] (environment LG_BUS_URL): ..." in err; cfg unchanged then. */
int lg_config_env_apply(lg_config *cfg, char *err, size_t err_len);

/* The usual sequence for a command: defaults, then the file (path may be NULL), then
 * the environment. On failure *cfg is left with the defaults and err says why. */
int lg_config_load(lg_config *cfg, const char *path, char *err, size_t err_len);

/* The rule named name in cfg ("user", "ip", "user_ip"), or NULL. */
lg_rule_conf *lg_config_rule(lg_config *cfg, const char *name);

/* Sets one key by its "section.name" (rule sections as "rule.user.threshold"), the
 * path used by command-line overrides. */
int lg_config_set(lg_config *cfg, const char *dotted_key, const char *value, char *err,
                  size_t err_len);

/* A duration as the table's millisecond keys take it: an integer of ms, or one with a
 * unit (500ms, 60s, 15m, 2h, 1d), for command-line flags outside the table (replay
 * --max-jump). 0 and *out_ms, or LG_EINVAL (not a number, unknown unit, overflow). */
int lg_config_ms_parse(const char *text, int64_t *out_ms);

/* lg_config_set for "KEY=VALUE" as given to a --set flag. */
int lg_config_set_kv(lg_config *cfg, const char *key_eq_value, char *err, size_t err_len);

/* Prints the effective configuration as an INI file (secrets redacted) with one comment
 * line per key giving its doc, default and range. */
void lg_config_print(const lg_config *cfg, FILE *out);

/* Writes the table as Markdown (docs/CONFIG.md). */
void lg_config_print_markdown(FILE *out);

#endif
