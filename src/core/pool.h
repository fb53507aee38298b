/*
 * pool.h - a fixed set of worker threads behind a bounded queue, for slow work
 * (argon2id verification, notifications) that must never run on an I/O thread.
 *
 * lg_pool_submit never blocks: when queue_max jobs are waiting it returns LG_EFULL and
 * the caller sheds the load (HTTP 503 + Retry-After) instead of letting latency grow
 * without bound. Each worker may own per-thread state (e.g. its own store handle) made
 * by thread_init and freed by thread_fini.
 */
#ifndef LG_POOL_H
#define LG_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct lg_pool lg_pool;

/* A job: fn(thread_state, arg). Runs on a worker thread. */
typedef void (*lg_pool_fn)(void *thread_state, void *arg);

typedef struct lg_pool_conf {
    uint32_t threads;   /* >= 1 */
    uint32_t queue_max; /* >= 1: jobs waiting, not counting running ones */
    /* optional per-thread state; thread_init returns 0 or fails lg_pool_new */
    int (*thread_init)(void *opaque, void **thread_state);
    void (*thread_fini)(void *opaque, void *thread_state);
    void *opaque;
} lg_pool_conf;

int lg_pool_new(const lg_pool_conf *conf, lg_pool **out);
/* Runs every queued job, then joins the threads and frees. NULL is a no-op. */
void lg_pool_free(lg_pool *p);

/* Queues fn(arg). 0, or LG_EFULL when the queue is full, LG_ECLOSED when stopping. */
int lg_pool_submit(lg_pool *p, lg_pool_fn fn, void *arg);

/* Jobs waiting now (for /metrics). */
size_t lg_pool_depth(lg_pool *p);

#endif
