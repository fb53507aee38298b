/*
 * server.h - the HTTP/1.1 server of loginguard: libmicrohttpd (epoll, a pool of I/O
 * threads) wrapped so that a handler sees one complete, bounded request and answers it
 * now or later from any thread.
 *
 * Bounds enforced here, before a handler runs: body LG_HTTP_BODY_MAX (413, checked on
 * Content-Length up front and on the bytes that stream in), request line and headers
 * LG_HTTP_HEADERS_SERVED (a bit past it libmicrohttpd runs out of its
 * LG_HTTP_CONN_MEMORY per connection and answers 431), path LG_HTTP_URL_MAX (414), a body
 * without Content-Length or chunked encoding (411), connections (the next
 * LG_HTTP_CONNS_SPARE connections over connections_max get 503 and are closed; past
 * those, libmicrohttpd stops accepting and clients wait in the listen backlog until a
 * connection ends), and time: a connection gets timeout_s from the moment it is idle (accepted or its last
 * response sent) until its next request is fully received; a client sending one byte per
 * second is cut off after timeout_s whatever the inactivity timeout says.
 *
 * Request lifecycle:  received --handler--> answered (lg_http_req_respond)
 *                                   \--lg_http_req_defer--> suspended --respond--> answered
 *                     answered --sent--> done callback --> freed
 */
#ifndef LG_HTTP_SERVER_H
#define LG_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/errors.h"

typedef struct lg_http_server lg_http_server;
typedef struct lg_http_req lg_http_req;

/* per-request scratch memory the handler may use for asynchronous state */
#define LG_HTTP_ARENA 4096
/* response headers a handler may add (Retry-After, Allow, WWW-Authenticate, ...) */
#define LG_HTTP_RESP_HEADERS_MAX 4
#define LG_HTTP_HEADER_VALUE_MAX 128
/* connections accepted past connections_max only to be answered 503: libmicrohttpd
 * itself stops accepting at its limit (clients then wait in the listen backlog), so its
 * limit is connections_max plus this spare */
#define LG_HTTP_CONNS_SPARE 64
/* body bytes read past LG_HTTP_BODY_MAX (chunked uploads) before the connection is
 * dropped without an answer: a 413 can only be sent once the body has been read */
#define LG_HTTP_DISCARD_MAX (1024 * 1024)

typedef struct lg_http_conf {
    const char *listen;        /* numeric IPv4 or IPv6 address: "127.0.0.1", "::" */
    uint16_t port;             /* 0 = any free port (lg_http_server_port tells which) */
    uint32_t threads;          /* I/O threads; 0 = number of cores */
    uint32_t connections_max;  /* >= 1 */
    uint32_t timeout_s;        /* >= 1: inactivity and whole-request time */
} lg_http_conf;

/*
 * Called on an I/O thread once a request is fully received and within bounds. It must
 * either answer (lg_http_req_respond*) before returning, or call lg_http_req_defer and
 * answer later from any thread exactly once. It must not block.
 */
typedef void (*lg_http_handler)(void *opaque, lg_http_req *req);

/* Called once per request when it is over (response sent, or connection lost): status is
 * the one answered (0 if none), duration from the first byte seen by the handler layer. */
typedef void (*lg_http_done_cb)(void *opaque, const lg_http_req *req, unsigned status,
                                int64_t duration_ns);

/* Starts listening. done may be NULL. err gets a reason on failure. */
int lg_http_server_new(const lg_http_conf *conf, lg_http_handler handler,
                       lg_http_done_cb done, void *opaque, lg_http_server **out, char *err,
                       size_t err_len);

/* The bound port (useful with conf.port = 0). */
uint16_t lg_http_server_port(const lg_http_server *s);

/*
 * Shutdown, step 1: closes the listening socket (new connections are refused), answers
 * requests that arrive from now on with 503 and "Connection: close", and lets requests
 * in flight finish. Then waits until none is in flight or timeout_ms has passed.
 * Returns the number of requests still in flight (0 = drained).
 */
size_t lg_http_server_drain(lg_http_server *s, int timeout_ms);

/* Shutdown, step 2: stops the I/O threads, closes every connection and frees.
 * Call lg_http_server_drain first if deferred requests may be pending. NULL: no-op. */
void lg_http_server_free(lg_http_server *s);

typedef struct lg_http_stats {
    uint64_t connections;       /* open now */
    uint64_t in_flight;         /* requests being handled now */
    uint64_t timeouts;          /* connections cut for taking longer than timeout_s */
} lg_http_stats;
void lg_http_server_stats_get(lg_http_server *s, lg_http_stats *out);

/* --- the request, for handlers ------------------------------------------------- */

/* Borrowed strings, valid until the done callback. path is percent-decoded, without
 * the query string. */
const char *lg_http_req_method(const lg_http_req *r);
const char *lg_http_req_path(const lg_http_req *r);
/* The body (not NUL-terminated; len 0 for none). Valid until the done callback. */
const char *lg_http_req_body(const lg_http_req *r, size_t *len);
/* The same body, writable in place (body[len] is writable too); before defer only. */
char *lg_http_req_body_edit(lg_http_req *r, size_t *len);

/* A request header (case-insensitive name), NULL if absent. I/O thread only: call it
 * in the handler, before lg_http_req_defer. */
const char *lg_http_req_header(lg_http_req *r, const char *name);
/* Every value of a header (case-insensitive name) that came as several lines, in the
 * order received, into values[0..n) (borrowed like lg_http_req_header's); returns n.
 * Past cap lines, the last cap are kept. Same rule as lg_http_req_header. */
size_t lg_http_req_header_values(lg_http_req *r, const char *name, const char **values,
                                 size_t cap);
/* The peer's address as text ("127.0.0.1"), "" if unknown. Same rule as headers. */
const char *lg_http_req_peer(lg_http_req *r);

/* A label the handler attaches (its route), read back in the done callback; -1 until
 * set. */
void lg_http_req_route_set(lg_http_req *r, int route);
int lg_http_req_route(const lg_http_req *r);

/* n bytes of scratch memory, max-aligned, freed with the request; NULL when the
 * request's LG_HTTP_ARENA bytes are used up. Before lg_http_req_defer only. */
void *lg_http_req_alloc(lg_http_req *r, size_t n);

/* Adds a response header. name is borrowed (a literal); value is copied, cut to
 * LG_HTTP_HEADER_VALUE_MAX with CR/LF removed. Ignored past LG_HTTP_RESP_HEADERS_MAX. */
void lg_http_req_header_add(lg_http_req *r, const char *name, const char *value);

/* Answers: status, a Content-Type (borrowed literal) and a body (copied). Any thread,
 * exactly once per request. */
void lg_http_req_respond(lg_http_req *r, unsigned status, const char *content_type,
                         const char *body, size_t len);
/* Answers with the error table's status and {"error","detail"} body; detail NULL = the
 * table's sentence. */
void lg_http_req_respond_error(lg_http_req *r, lg_http_err e, const char *detail);

/* The handler will answer later, from another thread. I/O thread, inside the handler,
 * before handing the request to that thread. */
void lg_http_req_defer(lg_http_req *r);

#endif
