/*
 * test_detector_kafka.c - a detector catching up on a Kafka backlog whose partitions are
 * far apart in event time (partition p's users attempt p hours after partition 0's) must
 * decide exactly what the engine decides on the same attempts in ts order: librdkafka
 * hands the partitions over out of step, and the engine's clock follows the detector's
 * low watermark, not the newest attempt of any partition. In-process mock cluster (3
 * brokers, a 3 s first group join); a few thousand attempts, far below its retention.
 *
 * And a block whose delivery to lg.blocks fails (the broker refuses it for good) must not
 * have its attempts committed: the next detector of the group decides and publishes it.
 * And a partition whose previous owner lagged more than a window behind must still be
 * rebuilt from one window before its last committed attempt: blocks straddling the
 * committed offset are decided. Each test gets its own mock cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/engine.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "roles/detector.h"
#include "store/store.h"

#define PARTITIONS 4
#define USERS_PER_PARTITION 4
#define PER_PARTITION 1000 /* attempts; ~50 min of event time each */
#define N_ATTEMPTS (PARTITIONS * PER_PARTITION)
#define BLOCKS_MAX N_ATTEMPTS
#define T0 1700000000000LL
#define HOUR_MS (3600LL * 1000)
/* group join (3 s on the mock) plus the catch-up; the loop ends far sooner */
#define WAIT_MS 60000

typedef struct fixture {
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mock;
    char url[512];
    char dir[256], db[300];
    lg_config cfg;
    lg_bus *bus;
    lg_attempt attempts[N_ATTEMPTS];
    lg_block want[BLOCKS_MAX], got[BLOCKS_MAX];
    size_t n_want, n_got, n_stored;
    size_t n_mismatched_outcomes;
} fixture;

static fixture *fx;

static int setup(void **state)
{
    char errstr[256];
    const char *base = getenv("LG_TMPDIR");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    (void)state;
    lg_log_set_level(LG_WARN); /* a line per block otherwise */
    fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    fx->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (fx->mock_rk == NULL || (fx->mock = rd_kafka_mock_cluster_new(fx->mock_rk, 3)) == NULL)
        return -1;
    rd_kafka_mock_topic_create(fx->mock, LG_TOPIC_ATTEMPTS, PARTITIONS, 3);
    rd_kafka_mock_topic_create(fx->mock, LG_TOPIC_BLOCKS, 3, 3);
    snprintf(fx->url, sizeof fx->url, "kafka://%s", rd_kafka_mock_cluster_bootstraps(fx->mock));
    if (base != NULL)
        mkdir(base, 0700);
    snprintf(fx->dir, sizeof fx->dir, "%s/lg-detk-XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->db, sizeof fx->db, "%s/audit.db", fx->dir);
    lg_config_default(&fx->cfg);
    snprintf(fx->cfg.store_url, sizeof fx->cfg.store_url, "%s", fx->db);
    snprintf(fx->cfg.detector_group, sizeof fx->cfg.detector_group, "test-detk");
    fx->cfg.detector_batch_max = 256; /* several batches per partition */
    return lg_bus_open(fx->url, &fx->cfg.bus, &fx->bus, errstr, sizeof errstr) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    char path[400];
    const char *suffixes[] = {"", "-wal", "-shm"};

    (void)state;
    lg_bus_close(fx->bus);
    rd_kafka_mock_cluster_destroy(fx->mock);
    rd_kafka_destroy(fx->mock_rk);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", fx->db, suffixes[i]);
        unlink(path);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The bus's partitioner (consistent_random), as librdkafka computes it. */
static int32_t partition_of(const char *key)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(fx->mock_rk, LG_TOPIC_ATTEMPTS, NULL);
    int32_t p = rd_kafka_msg_partitioner_consistent_random(rkt, key, strlen(key), PARTITIONS,
                                                           NULL, NULL);
    rd_kafka_topic_destroy(rkt);
    return p;
}

/*
 * Per partition p, USERS_PER_PARTITION users whose key lands on p and PER_PARTITION
 * attempts starting at T0 + p hours, 0..4 s apart (so in ts order within the partition,
 * as APIs stamping server time publish them); users fail 50..90 % of the time, so
 * blocks, BLOCKED attempts, resets and escalations all happen.
 */
static void workload_make(void)
{
    char users[PARTITIONS][USERS_PER_PARTITION][16];
    int have[PARTITIONS] = {0};
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    size_t n = 0;

    for (int i = 0, full = 0; full < PARTITIONS; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        int32_t p = partition_of(name);
        assert_true(i < 10000);
        if (have[p] == USERS_PER_PARTITION)
            continue;
        memcpy(users[p][have[p]++], name, sizeof name);
        full += have[p] == USERS_PER_PARTITION;
    }
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t ts = T0 + p * HOUR_MS;
        for (int i = 0; i < PER_PARTITION; i++) {
            lg_attempt *a = &fx->attempts[n];
            int u = (int)(rng_next(&x) % USERS_PER_PARTITION);

            ts += (int64_t)(rng_next(&x) % 4001);
            memset(a, 0, sizeof *a);
            snprintf(a->id, sizeof a->id, "p%d-%04d", p, i);
            a->user_len = (uint32_t)snprintf(a->user, sizeof a->user, "%s", users[p][u]);
            snprintf(a->ip, sizeof a->ip, "198.51.100.%d", u + 1);
            snprintf(a->src, sizeof a->src, "test");
            a->ts_ms = ts;
            a->ok = (int)(rng_next(&x) % 100) >= 50 + 10 * u;
            a->outcome = a->ok ? LG_OUTCOME_OK : LG_OUTCOME_FAIL;
            n++;
        }
    }
}

static int by_ts_id(const void *pa, const void *pb)
{
    const lg_attempt *a = pa, *b = pb;
    if (a->ts_ms != b->ts_ms)
        return a->ts_ms < b->ts_ms ? -1 : 1;
    return strcmp(a->id, b->id);
}

static int by_since_user(const void *pa, const void *pb)
{
    const lg_block *a = pa, *b = pb;
    if (a->since_ms != b->since_ms)
        return a->since_ms < b->since_ms ? -1 : 1;
    int c = strcmp(a->user, b->user);
    return c != 0 ? c : strcmp(a->rule, b->rule);
}

typedef struct blocks_out {
    lg_block *b;
    size_t n;
} blocks_out;

static void block_collect(void *opaque, size_t index, const lg_block *b)
{
    blocks_out *o = opaque;
    (void)index;
    assert_true(o->n < BLOCKS_MAX);
    o->b[o->n++] = *b;
}

/* Blocks a fresh engine (default clock) decides on a[0..n) in that order. */
static size_t engine_blocks(lg_attempt *a, size_t n, lg_block *out)
{
    lg_engine *e = NULL;
    char err[256];
    blocks_out o = {out, 0};

    assert_int_equal(lg_engine_new(&fx->cfg.engine, &e, err, sizeof err), 0);
    assert_int_equal(lg_engine_judge_batch(e, a, n, block_collect, &o), 0);
    lg_engine_free(e);
    return o.n;
}

static void publish_all(void)
{
    char json[LG_EVENT_JSON_MAX];

    for (size_t i = 0; i < N_ATTEMPTS; i++) {
        const lg_attempt *a = &fx->attempts[i];
        int n = lg_attempt_encode(a, json, sizeof json);
        assert_true(n > 0);
        assert_int_equal(lg_bus_publish(fx->bus, LG_TOPIC_ATTEMPTS, a->user, a->user_len, json,
                                        (size_t)n, 10000, NULL, NULL), 0);
    }
    assert_int_equal(lg_bus_flush(fx->bus, WAIT_MS), 0);
}

static void stored_block(void *opaque, const lg_block *b)
{
    (void)opaque;
    assert_true(fx->n_got < BLOCKS_MAX);
    fx->got[fx->n_got++] = *b;
}

/* Stored attempts in (ts, id) order, against the expected outcomes in the same order. */
static void stored_attempt(void *opaque, const lg_attempt *a)
{
    const lg_attempt *want = opaque;
    size_t i = fx->n_stored++;
    assert_true(i < N_ATTEMPTS);
    assert_string_equal(a->id, want[i].id);
    if (a->outcome != want[i].outcome)
        fx->n_mismatched_outcomes++;
}

static void test_catch_up_over_partitions_hours_apart_decides_as_engine_in_ts_order(void **s)
{
    static lg_attempt sorted[N_ATTEMPTS], by_partition_desc[N_ATTEMPTS];
    static lg_block skewed[BLOCKS_MAX];
    lg_detector *det = NULL;
    lg_detector_stats st;
    lg_store *store = NULL;
    char err[256];

    (void)s;
    workload_make();
    memcpy(sorted, fx->attempts, sizeof sorted);
    qsort(sorted, N_ATTEMPTS, sizeof sorted[0], by_ts_id);
    fx->n_want = engine_blocks(sorted, N_ATTEMPTS, fx->want); /* sets each outcome too */
    assert_true(fx->n_want >= 20);
    /* the workload can tell: a clock led by the newest partition misses most blocks */
    for (int p = 0; p < PARTITIONS; p++)
        memcpy(&by_partition_desc[p * PER_PARTITION],
               &fx->attempts[(PARTITIONS - 1 - p) * PER_PARTITION],
               PER_PARTITION * sizeof(lg_attempt));
    assert_true(engine_blocks(by_partition_desc, N_ATTEMPTS, skewed) < fx->n_want);

    publish_all();
    assert_int_equal(lg_detector_new(&fx->cfg, fx->bus, &det, err, sizeof err), 0);
    assert_int_equal(lg_detector_start(det), 0);
    int64_t deadline = lg_mono_ns() + (int64_t)WAIT_MS * 1000000;
    do { /* bounded by WAIT_MS */
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
        lg_detector_stats_get(det, &st);
    } while (st.attempts < N_ATTEMPTS && lg_mono_ns() < deadline);
    lg_detector_free(det); /* drains: everything judged is stored */
    assert_int_equal(st.attempts, N_ATTEMPTS);
    assert_int_equal(st.blocks, fx->n_want);

    assert_int_equal(lg_store_open(fx->db, &store, err, sizeof err), 0);
    assert_int_equal(lg_store_blocks_each(store, stored_block, NULL), 0);
    assert_int_equal(lg_store_attempts_each(store, stored_attempt, sorted), 0);
    lg_store_close(store);
    assert_int_equal(fx->n_stored, N_ATTEMPTS);
    assert_int_equal(fx->n_mismatched_outcomes, 0);
    assert_int_equal(fx->n_got, fx->n_want);
    qsort(fx->want, fx->n_want, sizeof fx->want[0], by_since_user);
    qsort(fx->got, fx->n_got, sizeof fx->got[0], by_since_user);
    for (size_t i = 0; i < fx->n_want; i++) {
        assert_string_equal(fx->got[i].rule, fx->want[i].rule);
        assert_string_equal(fx->got[i].user, fx->want[i].user);
        assert_int_equal(fx->got[i].since_ms, fx->want[i].since_ms);
        assert_int_equal(fx->got[i].until_ms, fx->want[i].until_ms);
        assert_int_equal(fx->got[i].level, fx->want[i].level);
    }
}

/* A failed attempt of user at ts, with id "<prefix>-<i>". */
static void failure_make(lg_attempt *a, const char *prefix, int i, const char *user, int64_t ts)
{
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s-%d", prefix, i);
    a->user_len = (uint32_t)snprintf(a->user, sizeof a->user, "%s", user);
    snprintf(a->ip, sizeof a->ip, "198.51.100.7");
    snprintf(a->src, sizeof a->src, "test");
    a->ts_ms = ts;
    a->outcome = LG_OUTCOME_FAIL;
}

/* Kafka protocol ApiKey of Produce (rdkafka_mock.h takes the raw number) */
#define KAFKA_API_PRODUCE 0
#define FAILED_DELIVERY_USER "dr-victim"

/* Waits up to timeout_ms for a block (not a tombstone) keyed by user on lg.blocks. */
static bool block_on_topic(const char *user, int timeout_ms)
{
    lg_bus_sub sub = {.topic = LG_TOPIC_BLOCKS, .start = LG_BUS_FROM_BEGINNING};
    lg_bus_consumer *c = NULL;
    lg_bus_msg msgs[16];
    char err[256];
    bool found = false;
    int64_t deadline = lg_mono_ns() + (int64_t)timeout_ms * 1000000;

    assert_int_equal(lg_bus_consumer_new(fx->bus, &sub, &c, err, sizeof err), 0);
    while (!found && lg_mono_ns() < deadline) { /* bounded by timeout_ms */
        size_t n = 0;
        assert_int_equal(lg_bus_poll(c, msgs, 16, &n, 100), 0);
        for (size_t i = 0; i < n; i++)
            found = found || (msgs[i].value != NULL &&
                              memmem(msgs[i].key, msgs[i].key_len, user, strlen(user)) !=
                                  NULL);
    }
    lg_bus_consumer_free(c);
    return found;
}

static void test_block_whose_delivery_fails_is_published_by_the_next_detector(void **s)
{
    char json[LG_EVENT_JSON_MAX];
    lg_detector *det = NULL;
    lg_detector_stats st;
    char err[256];
    int64_t now = lg_now_ms();

    (void)s;
    for (int i = 0; i < 5; i++) {
        lg_attempt a;
        /* within the window a rebuild re-reads */
        failure_make(&a, "dr", i, FAILED_DELIVERY_USER, now - 5000 + i * 100);
        int n = lg_attempt_encode(&a, json, sizeof json);
        assert_true(n > 0);
        assert_int_equal(lg_bus_publish(fx->bus, LG_TOPIC_ATTEMPTS, a.user, a.user_len, json,
                                        (size_t)n, 10000, NULL, NULL), 0);
    }
    assert_int_equal(lg_bus_flush(fx->bus, WAIT_MS), 0);
    /* the block's produce is refused for good (a permanent error: not retried) */
    rd_kafka_mock_push_request_errors(fx->mock, KAFKA_API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

    assert_int_equal(lg_detector_new(&fx->cfg, fx->bus, &det, err, sizeof err), 0);
    assert_int_equal(lg_detector_start(det), 0);
    int64_t deadline = lg_mono_ns() + (int64_t)WAIT_MS * 1000000;
    do { /* bounded by WAIT_MS */
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
        lg_detector_stats_get(det, &st);
    } while ((st.blocks < 1 || st.store_batches < 1) && !lg_detector_failed(det) &&
             lg_mono_ns() < deadline);
    assert_int_equal(st.blocks, 1);
    lg_detector_free(det);
    assert_false(block_on_topic(FAILED_DELIVERY_USER, 1000)); /* the refusal did hit the block */

    /* the next owner reads the uncommitted attempts again and publishes the block */
    det = NULL;
    assert_int_equal(lg_detector_new(&fx->cfg, fx->bus, &det, err, sizeof err), 0);
    assert_int_equal(lg_detector_start(det), 0);
    bool found = block_on_topic(FAILED_DELIVERY_USER, WAIT_MS / 2);
    lg_detector_free(det);
    assert_true(found);
}

#define LAGGED_USER "lag-victim"
#define LAGGED_N 5

/* The attempts of the lagging-owner test: every one a failure of LAGGED_USER, ts and
 * message time relative to base (see the test). */
static const struct {
    int64_t ts, msg_ts;
} lagged[LAGGED_N] = {
    {0, 0},
    {1000, 1000},
    {57000, 61000}, /* offset 2 = C - 1: published 4 s after its ts (a full queue) */
    {58000, 61100},
    {59000, 61200}, /* 59 s after the first: the fifth failure within 60 s */
};

/* Produces lagged[from..to) on LAGGED_USER's partition with their message times set, as
 * an API whose messages were written long ago would have left them. */
static void lagged_produce(rd_kafka_t *producer, int64_t base, int from, int to)
{
    char json[LG_EVENT_JSON_MAX];
    int32_t p = partition_of(LAGGED_USER);

    for (int i = from; i < to; i++) {
        lg_attempt a;
        failure_make(&a, "lag", i, LAGGED_USER, base + lagged[i].ts);
        int n = lg_attempt_encode(&a, json, sizeof json);
        assert_true(n > 0);
        assert_int_equal(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(LG_TOPIC_ATTEMPTS),
                                           RD_KAFKA_V_PARTITION(p),
                                           RD_KAFKA_V_KEY(a.user, a.user_len),
                                           RD_KAFKA_V_VALUE(json, (size_t)n),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_TIMESTAMP(base + lagged[i].msg_ts),
                                           RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(producer, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_outq_len(producer), 0);
}

/* Runs a detector of the group until it has judged `live` attempts live and stored
 * them (bounded by WAIT_MS), then frees it (which commits them). */
static void detector_run(size_t live, lg_detector_stats *st)
{
    lg_detector *det = NULL;
    char err[256];

    assert_int_equal(lg_detector_new(&fx->cfg, fx->bus, &det, err, sizeof err), 0);
    assert_int_equal(lg_detector_start(det), 0);
    int64_t deadline = lg_mono_ns() + (int64_t)WAIT_MS * 1000000;
    do { /* bounded by WAIT_MS */
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
        lg_detector_stats_get(det, st);
    } while ((st->attempts < live || st->store_batches < 1) && !lg_detector_failed(det) &&
             lg_mono_ns() < deadline);
    lg_detector_free(det);
}

static void count_attempt(void *opaque, const lg_attempt *a)
{
    (void)a;
    (*(size_t *)opaque)++;
}

/*
 * A previous owner committed offset C of a partition long after its attempts happened
 * (it lagged: a backlog, a store retrying), so C - 1 is far older than now - window. The
 * 3 failures before C and the 2 after it are 5 within 60 s by ts: the next owner must
 * re-read the ones before C and decide the block. Rebuilding from now - window re-reads
 * nothing (every message is 10 min old). And C - 1's message time is 4 s after its ts:
 * a rebuild from exactly one window before that message time starts at the second
 * attempt and misses the block too; the rebuild margin covers it.
 */
static void test_next_owner_rebuilds_from_the_last_committed_attempt_after_a_lagging_owner(
    void **s)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *producer;
    lg_detector_stats st;
    lg_store *store = NULL;
    size_t stored = 0;
    int64_t base = lg_now_ms() - 10 * 60 * 1000;

    (void)s;
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers",
                                       rd_kafka_mock_cluster_bootstraps(fx->mock), errstr,
                                       sizeof errstr),
                     RD_KAFKA_CONF_OK);
    producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(producer);

    /* the first owner judges and commits the first 3: no block yet */
    lagged_produce(producer, base, 0, 3);
    detector_run(3, &st);
    assert_int_equal(st.attempts, 3);
    assert_int_equal(st.rebuilt, 0);
    assert_int_equal(st.blocks, 0);

    /* the next owner is assigned the partition with C = 3 and 2 more failures after it */
    lagged_produce(producer, base, 3, LAGGED_N);
    rd_kafka_destroy(producer);
    detector_run(2, &st);
    assert_int_equal(st.attempts, 2); /* C was committed: [0, 3) only rebuilt */
    assert_int_equal(st.rebuilt, 3);
    assert_int_equal(st.blocks, 1);
    assert_true(block_on_topic(LAGGED_USER, 5000));

    /* every attempt stored once, by one owner or the other */
    assert_int_equal(lg_store_open(fx->db, &store, errstr, sizeof errstr), 0);
    assert_int_equal(lg_store_attempts_each(store, count_attempt, &stored), 0);
    lg_store_close(store);
    assert_int_equal(stored, LAGGED_N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_catch_up_over_partitions_hours_apart_decides_as_engine_in_ts_order, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_block_whose_delivery_fails_is_published_by_the_next_detector, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_next_owner_rebuilds_from_the_last_committed_attempt_after_a_lagging_owner,
            setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
