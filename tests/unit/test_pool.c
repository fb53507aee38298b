/*
 * test_pool.c - the worker pool: every job runs once, FIFO, LG_EFULL exactly at
 * queue_max waiting jobs, lg_pool_free drains, thread_init failures fail cleanly.
 *
 * A "gate" job blocks its worker until the test opens the gate, so the number of busy
 * workers and waiting jobs is known exactly rather than hoped for.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <time.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/pool.h"

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int entered; /* gate jobs currently blocked in gate_job */
} gate;

static void gate_init(gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = 0;
    g->entered = 0;
}

static void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_job(void *state, void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Waits (bounded: 10 s) until n gate jobs are blocked, i.e. n workers are busy. */
static void gate_wait_entered(gate *g, int n)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    while (g->entered < n && rc == 0)
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &deadline);
    int entered = g->entered;
    pthread_mutex_unlock(&g->mu);
    assert_int_equal(entered, n);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void count_job(void *state, void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void noop_job(void *state, void *arg)
{
}

static lg_pool *pool_make(uint32_t threads, uint32_t queue_max)
{
    lg_pool_conf conf = {.threads = threads, .queue_max = queue_max};
    lg_pool *p = NULL;
    assert_int_equal(lg_pool_new(&conf, &p), 0);
    assert_non_null(p);
    return p;
}

#define JOBS 2000

static void test_every_job_runs_exactly_once(void **unused)
{
    static atomic_int ran[JOBS];
    for (int i = 0; i < JOBS; i++)
        atomic_store(&ran[i], 0);
    lg_pool *p = pool_make(3, JOBS);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(lg_pool_submit(p, count_job, &ran[i]), 0);
    lg_pool_free(p);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(atomic_load(&ran[i]), 1);
}

typedef struct order_log {
    atomic_int next;
    int seq[64];
} order_log;

typedef struct order_job_arg {
    order_log *log;
    int id;
} order_job_arg;

static void order_job(void *state, void *arg)
{
    order_job_arg *a = arg;
    int slot = atomic_fetch_add(&a->log->next, 1);
    a->log->seq[slot] = a->id;
}

static void test_single_worker_runs_jobs_in_submission_order(void **unused)
{
    order_log log = {0};
    order_job_arg args[64];
    gate g;
    gate_init(&g);
    lg_pool *p = pool_make(1, 64);
    /* hold the worker so all 63 jobs are queued before any runs: the ring wraps */
    assert_int_equal(lg_pool_submit(p, gate_job, &g), 0);
    gate_wait_entered(&g, 1);
    for (int i = 0; i < 63; i++) {
        args[i] = (order_job_arg){.log = &log, .id = i};
        assert_int_equal(lg_pool_submit(p, order_job, &args[i]), 0);
    }
    gate_open(&g);
    lg_pool_free(p);
    gate_destroy(&g);
    assert_int_equal(atomic_load(&log.next), 63);
    for (int i = 0; i < 63; i++)
        assert_int_equal(log.seq[i], i);
}

/* With every worker busy, queue_max - 1 and queue_max waiting jobs are accepted and the
 * (queue_max + 1)th is refused with LG_EFULL; depth follows. */
static void test_submit_fails_full_exactly_when_queue_max_jobs_wait(void **unused)
{
    enum { THREADS = 2, QMAX = 3 };
    atomic_int ran = 0;
    gate g;
    gate_init(&g);
    lg_pool *p = pool_make(THREADS, QMAX);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(lg_pool_submit(p, gate_job, &g), 0);
    gate_wait_entered(&g, THREADS);
    assert_int_equal(lg_pool_depth(p), 0);

    for (int i = 0; i < QMAX - 1; i++)
        assert_int_equal(lg_pool_submit(p, count_job, &ran), 0);
    assert_int_equal(lg_pool_depth(p), QMAX - 1); /* N-1 waiting */
    assert_int_equal(lg_pool_submit(p, count_job, &ran), 0);
    assert_int_equal(lg_pool_depth(p), QMAX);     /* N waiting */
    assert_int_equal(lg_pool_submit(p, count_job, &ran), LG_EFULL);
    assert_int_equal(lg_pool_depth(p), QMAX);     /* N+1 refused, nothing queued */

    gate_open(&g);
    lg_pool_free(p);
    gate_destroy(&g);
    assert_int_equal(atomic_load(&ran), QMAX); /* the refused job never ran */
}

static void test_full_queue_accepts_again_once_a_job_is_taken(void **unused)
{
    atomic_int ran = 0;
    gate g1, g2;
    gate_init(&g1);
    gate_init(&g2);
    lg_pool *p = pool_make(1, 1);
    assert_int_equal(lg_pool_submit(p, gate_job, &g1), 0);
    gate_wait_entered(&g1, 1);
    assert_int_equal(lg_pool_submit(p, gate_job, &g2), 0);
    assert_int_equal(lg_pool_submit(p, count_job, &ran), LG_EFULL);
    gate_open(&g1); /* the worker takes g2's job: the slot frees up */
    gate_wait_entered(&g2, 1);
    assert_int_equal(lg_pool_depth(p), 0);
    assert_int_equal(lg_pool_submit(p, count_job, &ran), 0);
    gate_open(&g2);
    lg_pool_free(p);
    gate_destroy(&g1);
    gate_destroy(&g2);
    assert_int_equal(atomic_load(&ran), 1);
}

typedef struct closer_arg {
    lg_pool *p;
    gate *g;
    int saw_closed;
    int unexpected_rc; /* checked by the main thread: cmocka asserts only there */
} closer_arg;

/* Opens the gate only once lg_pool_free has begun (submit says LG_ECLOSED), so the
 * queued jobs are provably still waiting when free starts. */
static void *closer_thread(void *opaque)
{
    closer_arg *c = opaque;
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000000};
    for (int i = 0; i < 10000; i++) { /* bounded: 10 s */
        int rc = lg_pool_submit(c->p, noop_job, NULL);
        if (rc == LG_ECLOSED) {
            c->saw_closed = 1;
            break;
        }
        if (rc != LG_EFULL) /* the ring is full until free starts */
            c->unexpected_rc = rc == 0 ? 1 : rc;
        nanosleep(&tick, NULL);
    }
    gate_open(c->g);
    return NULL;
}

static void test_free_runs_every_queued_job_before_joining(void **unused)
{
    enum { QMAX = 10 };
    atomic_int ran = 0;
    gate g;
    gate_init(&g);
    lg_pool *p = pool_make(1, QMAX);
    assert_int_equal(lg_pool_submit(p, gate_job, &g), 0);
    gate_wait_entered(&g, 1);
    for (int i = 0; i < QMAX; i++)
        assert_int_equal(lg_pool_submit(p, count_job, &ran), 0);
    assert_int_equal(lg_pool_depth(p), QMAX);

    closer_arg c = {.p = p, .g = &g};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, closer_thread, &c), 0);
    lg_pool_free(p);
    pthread_join(t, NULL);
    gate_destroy(&g);
    assert_int_equal(c.saw_closed, 1);
    assert_int_equal(c.unexpected_rc, 0);
    assert_int_equal(atomic_load(&ran), QMAX);
}

typedef struct init_counts {
    atomic_int inits, fails, finis;
    int fail_on; /* the nth thread_init call (1-based) fails; 0 = none */
} init_counts;

static int counting_init(void *opaque, void **state)
{
    init_counts *c = opaque;
    int n = atomic_fetch_add(&c->inits, 1) + 1;
    if (n == c->fail_on) {
        atomic_fetch_add(&c->fails, 1);
        return LG_EIO;
    }
    int *s = malloc(sizeof *s); /* leaks under ASan unless thread_fini runs */
    if (s == NULL)
        return LG_ENOMEM;
    *s = n;
    *state = s;
    return 0;
}

static void counting_fini(void *opaque, void *state)
{
    init_counts *c = opaque;
    atomic_fetch_add(&c->finis, 1);
    free(state);
}

static void test_failing_thread_init_fails_pool_new_and_finis_the_others(void **unused)
{
    init_counts c = {.fail_on = 3};
    lg_pool_conf conf = {.threads = 4, .queue_max = 4, .thread_init = counting_init,
                         .thread_fini = counting_fini, .opaque = &c};
    lg_pool *p = (lg_pool *)(uintptr_t)0x1; /* must stay untouched on failure */
    assert_int_not_equal(lg_pool_new(&conf, &p), 0);
    assert_ptr_equal(p, (lg_pool *)(uintptr_t)0x1);
    assert_int_equal(atomic_load(&c.inits), 4);
    assert_int_equal(atomic_load(&c.fails), 1);
    assert_int_equal(atomic_load(&c.finis), 3);
}

static void state_job(void *state, void *arg)
{
    /* the worker's own state: thread_init numbered it 1..threads */
    int id = *(int *)state;
    atomic_fetch_add((atomic_int *)arg, id >= 1 && id <= 2 ? 1 : 1000);
}

static void test_jobs_get_their_workers_thread_state(void **unused)
{
    init_counts c = {0};
    atomic_int ok = 0;
    lg_pool_conf conf = {.threads = 2, .queue_max = 100, .thread_init = counting_init,
                         .thread_fini = counting_fini, .opaque = &c};
    lg_pool *p = NULL;
    assert_int_equal(lg_pool_new(&conf, &p), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(lg_pool_submit(p, state_job, &ok), 0);
    lg_pool_free(p);
    assert_int_equal(atomic_load(&ok), 100);
    assert_int_equal(atomic_load(&c.inits), 2);
    assert_int_equal(atomic_load(&c.finis), 2);
}

static void test_invalid_sizes_are_rejected(void **unused)
{
    lg_pool *p = NULL;
    lg_pool_conf conf = {.threads = 0, .queue_max = 1};
    assert_int_equal(lg_pool_new(&conf, &p), LG_EINVAL);
    conf = (lg_pool_conf){.threads = 1, .queue_max = 0};
    assert_int_equal(lg_pool_new(&conf, &p), LG_EINVAL);
    conf = (lg_pool_conf){.threads = LG_POOL_THREADS_MAX + 1, .queue_max = 1};
    assert_int_equal(lg_pool_new(&conf, &p), LG_EINVAL);
    conf = (lg_pool_conf){.threads = 1, .queue_max = LG_POOL_QUEUE_MAX_CAP + 1};
    assert_int_equal(lg_pool_new(&conf, &p), LG_EINVAL);
    assert_null(p);
    lg_pool_free(NULL); /* no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_job_runs_exactly_once),
        cmocka_unit_test(test_single_worker_runs_jobs_in_submission_order),
        cmocka_unit_test(test_submit_fails_full_exactly_when_queue_max_jobs_wait),
        cmocka_unit_test(test_full_queue_accepts_again_once_a_job_is_taken),
        cmocka_unit_test(test_free_runs_every_queued_job_before_joining),
        cmocka_unit_test(test_failing_thread_init_fails_pool_new_and_finis_the_others),
        cmocka_unit_test(test_jobs_get_their_workers_thread_state),
        cmocka_unit_test(test_invalid_sizes_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
