/*
 * pool.c - fixed worker threads behind a bounded FIFO ring of jobs (pool.h).
 *
 * One mutex guards the ring; workers sleep on `work` and lg_pool_new waits on `started`
 * until every worker has run its thread_init, so a failed init fails lg_pool_new with
 * nothing left running. Submit never waits: a full ring is LG_EFULL (back-pressure).
 *
 *   lg_pool_new ──► RUNNING ──lg_pool_free──► DRAINING (queued jobs still run,
 *                                             submit = LG_ECLOSED) ──ring empty──► joined
 */
#include "core/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/lgassert.h"
#include "core/limits.h"
#include "core/log.h"

typedef struct lg_pool_job {
    lg_pool_fn fn;
    void *arg;
} lg_pool_job;

struct lg_pool {
    lg_pool_conf conf;
    pthread_mutex_t mu;
    pthread_cond_t work;    /* a job was queued, or the pool is stopping */
    pthread_cond_t started; /* a worker finished thread_init (either way) */
    lg_pool_job *ring;      /* conf.queue_max slots */
    size_t head, count;     /* oldest job at ring[head]; count jobs waiting */
    bool stopping;
    uint32_t inits_done, inits_failed;
    pthread_t *threads;
    uint32_t threads_started; /* joined by lg_pool__stop */
};

/* Takes the oldest job, or returns false when stopping with an empty ring. */
static bool pool_take(lg_pool *p, lg_pool_job *job)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == 0 && !p->stopping)
        pthread_cond_wait(&p->work, &p->mu);
    if (p->count == 0) {
        /* stopping and drained: lg_pool_free promised every queued job runs first */
        pthread_mutex_unlock(&p->mu);
        return false;
    }
    *job = p->ring[p->head];
    p->head = (p->head + 1) % p->conf.queue_max;
    p->count--;
    pthread_mutex_unlock(&p->mu);
    return true;
}

static void *pool_worker(void *opaque)
{
    lg_pool *p = opaque;
    void *state = NULL;
    int rc = 0;

    if (p->conf.thread_init != NULL)
        rc = p->conf.thread_init(p->conf.opaque, &state);

    pthread_mutex_lock(&p->mu);
    p->inits_done++;
    if (rc != 0)
        p->inits_failed++;
    pthread_cond_broadcast(&p->started);
    pthread_mutex_unlock(&p->mu);
    if (rc != 0)
        return NULL; /* nothing of ours to free: thread_init failed */

    lg_pool_job job;
    while (pool_take(p, &job))
        job.fn(state, job.arg);

    if (p->conf.thread_fini != NULL)
        p->conf.thread_fini(p->conf.opaque, state);
    return NULL;
}

/* Stops accepting jobs, lets the workers drain the ring and joins them. */
static void pool_stop_and_join(lg_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->threads_started; i++)
        pthread_join(p->threads[i], NULL);
    p->threads_started = 0;
}

static void pool_release(lg_pool *p)
{
    pthread_cond_destroy(&p->started);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->ring);
    free(p);
}

int lg_pool_new(const lg_pool_conf *conf, lg_pool **out)
{
    lg_assert(conf != NULL);
    lg_assert(out != NULL);
    if (conf->threads < 1 || conf->threads > LG_POOL_THREADS_MAX)
        return LG_EINVAL;
    if (conf->queue_max < 1 || conf->queue_max > LG_POOL_QUEUE_MAX_CAP)
        return LG_EINVAL;

    int rc = LG_ENOMEM;
    lg_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return LG_ENOMEM;
    p->conf = *conf;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail_free;
    if (pthread_cond_init(&p->work, NULL) != 0)
        goto fail_destroy_mu;
    if (pthread_cond_init(&p->started, NULL) != 0)
        goto fail_destroy_work;
    p->ring = calloc(conf->queue_max, sizeof *p->ring);
    p->threads = calloc(conf->threads, sizeof *p->threads);
    if (p->ring == NULL || p->threads == NULL)
        goto fail_release;

    for (uint32_t i = 0; i < conf->threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0) {
            lg_log(LG_ERROR, "pool", "cannot start worker thread %u of %u", i + 1,
                   conf->threads);
            rc = LG_ENOMEM;
            goto fail_join;
        }
        p->threads_started++;
    }

    /* Wait for every thread_init so a failure is reported here, not on first use. */
    pthread_mutex_lock(&p->mu);
    while (p->inits_done < p->threads_started)
        pthread_cond_wait(&p->started, &p->mu);
    uint32_t failed = p->inits_failed;
    pthread_mutex_unlock(&p->mu);
    if (failed > 0) {
        lg_log(LG_ERROR, "pool", "thread_init failed on %u of %u workers", failed,
               conf->threads);
        rc = LG_EIO;
        goto fail_join;
    }
    *out = p;
    return 0;

fail_join:
    /* the ring is empty, so the workers that started run thread_fini and exit */
    pool_stop_and_join(p);
fail_release:
    pool_release(p);
    return rc;
fail_destroy_work:
    pthread_cond_destroy(&p->work);
fail_destroy_mu:
    pthread_mutex_destroy(&p->mu);
fail_free:
    free(p);
    return LG_ENOMEM;
}

void lg_pool_free(lg_pool *p)
{
    if (p == NULL)
        return;
    /* a worker freeing its own pool would join itself */
    for (uint32_t i = 0; i < p->threads_started; i++)
        lg_assert(!pthread_equal(p->threads[i], pthread_self()));
    pool_stop_and_join(p);
    lg_assert(p->count == 0);
    pool_release(p);
}

int lg_pool_submit(lg_pool *p, lg_pool_fn fn, void *arg)
{
    lg_assert(p != NULL);
    lg_assert(fn != NULL);
    int rc = 0;

    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        rc = LG_ECLOSED;
    } else if (p->count == p->conf.queue_max) {
        rc = LG_EFULL;
    } else {
        size_t tail = (p->head + p->count) % p->conf.queue_max;
        p->ring[tail] = (lg_pool_job){.fn = fn, .arg = arg};
        p->count++;
        /* one job wakes one worker; broadcast would stampede the idle ones */
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

size_t lg_pool_depth(lg_pool *p)
{
    lg_assert(p != NULL);
    pthread_mutex_lock(&p->mu);
    size_t n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}
