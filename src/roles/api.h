/*
 * api.h - the API role: the HTTP endpoints of DESIGN.md on top of lg_http_server.
 *
 * It publishes every login attempt on lg.attempts (key = user) and answers only once the
 * bus has accepted it; it refuses blocked users from a local blocklist cache fed by a
 * thread that reads lg.blocks from the beginning (the only source of the cache, in
 * embedded mode too); it verifies passwords (argon2id) on a bounded worker pool, never
 * on an I/O thread, and sheds load with 503 + Retry-After when that pool or the bus is
 * full. Sessions are stateless HS256 JWTs. /metrics and /healthz serve operators.
 */
#ifndef LG_ROLES_API_H
#define LG_ROLES_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "core/config.h"
#include "http/metrics.h"

typedef struct lg_api lg_api;

/*
 * Builds and starts the role: the lg.blocks reader, the worker pool (each worker opens
 * its own store from cfg->store_url) and the HTTP server on cfg->http_listen:http_port.
 * cfg and bus are borrowed and must outlive the api. name is the "src" of the attempts
 * it publishes (NULL = "api"). cfg->jwt_secret must hold at least LG_JWT_SECRET_MIN
 * bytes (see lg_api_jwt_secret_ensure). err gets a reason on failure.
 */
int lg_api_new(const lg_config *cfg, lg_bus *bus, const char *name, lg_api **out, char *err,
               size_t err_len);

/* Serves extra (borrowed; another role's registry, e.g. lg_detector_metrics) on
 * /metrics after the API's own series, from now on. extra must outlive the API's HTTP
 * server (lg_api_stop), or be detached with NULL first. */
struct lg_metrics;
void lg_api_metrics_attach(lg_api *a, struct lg_metrics *extra);

/* The bound HTTP port. */
uint16_t lg_api_port(const lg_api *a);

/* The registry /metrics serves (borrowed, lives as long as a): another role of the same
 * process adds its series to it (lg_detector_metrics_add in `run`). */
lg_metrics *lg_api_metrics(lg_api *a);

/* True once the blocklist cache has caught up with lg.blocks (/healthz says ok). */
bool lg_api_ready(lg_api *a);

/* Graceful stop: refuses new connections, answers the requests in flight, runs every
 * queued password check, flushes the bus and stops the HTTP server. The lg.blocks
 * reader keeps running until lg_api_free. Safe to call twice. */
void lg_api_stop(lg_api *a);

/* Stops (if needed) and frees. NULL is a no-op. */
void lg_api_free(lg_api *a);

/* When cfg has no JWT secret, puts a random one in it and logs a warning that tokens
 * will not survive a restart nor verify on other instances. */
void lg_api_jwt_secret_ensure(lg_config *cfg);

#endif
