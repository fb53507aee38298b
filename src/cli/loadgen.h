/*
 * loadgen.h - what the parts of `loginguard loadgen` share: the run's settings, the
 * per-thread counters and the worker entry point.
 *
 * loadgen.c parses flags and runs the threads; loadgen_workload.c builds request bodies
 * (the seed's producer); loadgen_worker.c runs one epoll loop over its share of the
 * keep-alive connections; loadgen_report.c prints the summary. Bounds of the load
 * generator live here with the reasons for their values; they concern no other module.
 */
#ifndef LG_LOADGEN_H
#define LG_LOADGEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cli/loadgen_hist.h"
#include "core/limits.h"

/* --- bounds ---------------------------------------------------------------------- */
/* keep-alive connections in one run: an fd each; far past what one box can load */
#define LG_LOADGEN_CONNS_MAX 10000
/* threads: one epoll loop each; more than cores only adds context switches */
#define LG_LOADGEN_THREADS_MAX 64
/* one request (head + body): a body holds user (<=128 B), password (<=1 KiB) and ip,
 * each JSON-escaped at most 6 bytes per byte */
#define LG_LOADGEN_REQ_MAX 16384
#define LG_LOADGEN_BODY_MAX_OUT 12288
/* one read() from a socket; a response of the API fits many times over */
#define LG_LOADGEN_READ_MAX 16384
/* entries of --users / --passwords; the seed's files had a few hundred */
#define LG_LOADGEN_LIST_MAX 1000000
/* bytes of one --users / --passwords file */
#define LG_LOADGEN_FILE_MAX (64 * 1024 * 1024)
/* host part of --url */
#define LG_LOADGEN_HOST_MAX 256
/* --key / LG_REPORTER_KEY: a reporter key (47 bytes) or an admin JWT */
#define LG_LOADGEN_KEY_MAX LG_JWT_MAX
/* per-request timeout cap, seconds (default 10) */
#define LG_LOADGEN_TIMEOUT_S_MAX 3600
/* run length cap, seconds: a day; longer runs are soak tests with their own tooling */
#define LG_LOADGEN_DURATION_S_MAX 86400.0
/* reconnect backoff after a failed connect: doubles from MIN up to MAX */
#define LG_LOADGEN_BACKOFF_MIN_NS (10LL * 1000 * 1000)
#define LG_LOADGEN_BACKOFF_MAX_NS (1000LL * 1000 * 1000)

_Static_assert(LG_LOADGEN_BODY_MAX_OUT < LG_LOADGEN_REQ_MAX, "a body fits in a request");
_Static_assert(LG_LOADGEN_BODY_MAX_OUT + LG_LOADGEN_KEY_MAX + 512 < LG_LOADGEN_REQ_MAX,
               "a body and an Authorization header fit in a request");

typedef enum { LG_LOADGEN_RANDOM, LG_LOADGEN_BRUTEFORCE, LG_LOADGEN_STUFFING } lg_loadgen_scenario;
typedef enum { LG_LOADGEN_LOGIN, LG_LOADGEN_ATTEMPTS } lg_loadgen_endpoint;

typedef struct lg_loadgen_workload lg_loadgen_workload;

/* Settings of one run, read-only once the workers start. */
typedef struct lg_loadgen_conf {
    char url[LG_LOADGEN_HOST_MAX + 64];
    char host_header[LG_LOADGEN_HOST_MAX + 8]; /* "host:port" as in the URL */
    char key[LG_LOADGEN_KEY_MAX + 1]; /* bearer of /v1/attempts ("": none) */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    double rate;            /* requests/s over all threads; 0 = as fast as possible */
    double duration_s;      /* 0 = until `requests` */
    uint64_t requests;      /* 0 = until `duration_s` */
    int connections;
    int threads;
    int timeout_ms;         /* per request (and per connect) */
    lg_loadgen_scenario scenario;
    lg_loadgen_endpoint endpoint;
    uint64_t seed;
    bool json;
    bool quiet;
    const lg_loadgen_workload *workload;
} lg_loadgen_conf;

/* Counters of one thread (or, merged, of the run). */
typedef struct lg_loadgen_stats {
    uint64_t sent;            /* requests written */
    uint64_t unsent;          /* paced runs: slots scheduled before the end but never sent
                                 because no connection was free (the server fell behind) */
    uint64_t responses;       /* complete responses */
    uint64_t status[600];     /* responses by status code (100..599) */
    uint64_t err_connect;     /* connects refused, unreachable or timed out */
    uint64_t err_reset;       /* connection reset or closed with a request in flight */
    uint64_t err_timeout;     /* no complete response within timeout_ms */
    uint64_t err_parse;       /* malformed response */
    uint64_t connects;        /* successful connects */
    uint64_t bytes_out;
    uint64_t bytes_in;
    lg_loadgen_hist latency;  /* from the scheduled send time (corrects coordinated omission) */
    lg_loadgen_hist service;  /* from the moment the request was written */
} lg_loadgen_stats;

void lg_loadgen_stats_init(lg_loadgen_stats *s);
void lg_loadgen_stats_merge(lg_loadgen_stats *dst, const lg_loadgen_stats *src);
uint64_t lg_loadgen_stats_errors(const lg_loadgen_stats *s);

/* One worker thread: its slice of the run, its live counters and a snapshot the main
 * thread reads under `mu` for the progress line. */
typedef struct lg_loadgen_worker {
    const lg_loadgen_conf *conf;
    int index;
    int connections;        /* this thread's share */
    double rate;            /* this thread's share; 0 = unlimited */
    uint64_t requests;      /* this thread's quota; 0 = unlimited */
    int64_t start_ns;       /* common start (lg_mono_ns) so all pacers agree */
    int64_t end_ns;         /* stop scheduling at this time; INT64_MAX = never */
    atomic_bool *stop;      /* set by the main thread on SIGINT/SIGTERM */
    lg_loadgen_stats stats; /* live; owned by the thread until it is joined */
    pthread_mutex_t mu;
    lg_loadgen_stats snapshot; /* copy of stats, refreshed a few times a second */
    int64_t finish_ns;      /* when the loop ended (lg_mono_ns), for the elapsed time */
    atomic_bool done;
    pthread_t thread;       /* valid when started */
    bool started;
    int rc;                 /* 0, or LG_E* when the thread could not start its loop */
} lg_loadgen_worker;

/* Thread body (pthread_create); returns NULL. Sets w->done on exit. */
void *lg_loadgen_worker_run(void *w);

/* Prints the summary: text on stdout, or one JSON object with --json. */
void lg_loadgen_report(const lg_loadgen_conf *conf, const lg_loadgen_stats *s,
                       double elapsed_s, double cpu_user_s, double cpu_sys_s);

#endif
