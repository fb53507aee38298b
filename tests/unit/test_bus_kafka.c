/*
 * test_bus_kafka.c - the Kafka bus back-end against librdkafka's mock cluster (3
 * brokers, in this process, on loopback). Each test uses its own topics and groups.
 * Volumes stay far below the mock's ~5 MiB per partition retention. Group tests pay the
 * mock's 3 s first-join delay, so they are few.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/err.h"

#define BROKERS 3
#define PARTITIONS 6
/* long enough for a group join (3 s) plus a reconnect backoff; loops end far sooner */
#define WAIT_MS 20000

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char url[512];

static int setup(void **state)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    (void)state;
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (mock_rk == NULL)
        return -1;
    mock = rd_kafka_mock_cluster_new(mock_rk, BROKERS);
    if (mock == NULL)
        return -1;
    /* the bus expects its two topics to exist (the mock has no CreateTopics) */
    rd_kafka_mock_topic_create(mock, LG_TOPIC_ATTEMPTS, PARTITIONS, 3);
    rd_kafka_mock_topic_create(mock, LG_TOPIC_BLOCKS, 3, 3);
    snprintf(url, sizeof url, "kafka://%s", rd_kafka_mock_cluster_bootstraps(mock));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    return 0;
}

static lg_bus *open_bus(uint32_t producer_queue_max)
{
    lg_bus_conf conf;
    lg_bus *bus = NULL;
    char err[256];
    lg_bus_conf_default(&conf);
    conf.producer_queue_max = producer_queue_max;
    int rc = lg_bus_open(url, &conf, &bus, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "open: %s\n", err);
    assert_int_equal(rc, 0);
    return bus;
}

static lg_bus_consumer *open_consumer(lg_bus *bus, const char *topic, const char *group,
                                      lg_bus_start start, lg_bus_rebalance_cb rb)
{
    lg_bus_sub sub = {.topic = topic, .group = group, .start = start, .rebalance = rb};
    lg_bus_consumer *c = NULL;
    char err[256];
    int rc = lg_bus_consumer_new(bus, &sub, &c, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "consumer: %s\n", err);
    assert_int_equal(rc, 0);
    return c;
}

/* A received message, copied out of the bus. */
typedef struct got_msg {
    int32_t partition;
    int64_t offset;
    int64_t ts_ms;
    char key[64];
    char value[128];
    bool tombstone;
} got_msg;

/* Polls until want messages arrived (or wait_ms); returns how many. */
static size_t poll_n_for(lg_bus_consumer *c, got_msg *out, size_t want, int wait_ms)
{
    lg_bus_msg msgs[64];
    size_t got = 0;
    int64_t deadline = lg_mono_ns() + (int64_t)wait_ms * 1000000;
    while (got < want && lg_mono_ns() < deadline) {
        size_t n = 0;
        assert_int_equal(lg_bus_poll(c, msgs, 64, &n, 100), 0);
        for (size_t i = 0; i < n && got < want; i++, got++) {
            got_msg *g = &out[got];
            memset(g, 0, sizeof *g);
            g->partition = msgs[i].partition;
            g->offset = msgs[i].offset;
            g->ts_ms = msgs[i].ts_ms;
            snprintf(g->key, sizeof g->key, "%.*s", (int)msgs[i].key_len,
                     (const char *)msgs[i].key);
            g->tombstone = msgs[i].value == NULL;
            if (!g->tombstone)
                snprintf(g->value, sizeof g->value, "%.*s", (int)msgs[i].value_len,
                         (const char *)msgs[i].value);
        }
    }
    return got;
}

static size_t poll_n(lg_bus_consumer *c, got_msg *out, size_t want)
{
    return poll_n_for(c, out, want, WAIT_MS);
}

static void poll_until_caught_up(lg_bus_consumer *c)
{
    lg_bus_msg msgs[64];
    int64_t deadline = lg_mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (!lg_bus_caught_up(c) && lg_mono_ns() < deadline) {
        size_t n = 0;
        assert_int_equal(lg_bus_poll(c, msgs, 64, &n, 100), 0);
    }
}

typedef struct done_count {
    int ok, failed;
} done_count;

static void on_done(void *opaque, int status)
{
    done_count *d = opaque;
    if (status == 0)
        __atomic_fetch_add(&d->ok, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_add(&d->failed, 1, __ATOMIC_SEQ_CST);
}

static int32_t expected_partition(const char *topic, const char *key, int32_t cnt)
{
    /* librdkafka's default partitioner, which kcat uses too */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(mock_rk, topic, NULL);
    int32_t p = rd_kafka_msg_partitioner_consistent_random(rkt, key, strlen(key), cnt, NULL,
                                                           NULL);
    rd_kafka_topic_destroy(rkt);
    return p;
}

#define ORDER_KEYS 30
#define ORDER_PER_KEY 50

static void test_keyed_messages_keep_order_on_the_partition_of_their_key(void **state)
{
    static got_msg got[ORDER_KEYS * ORDER_PER_KEY];
    done_count dc = {0, 0};
    int last_seq[ORDER_KEYS];
    int32_t part_of[ORDER_KEYS];
    bool used[PARTITIONS] = {false};
    size_t n_used = 0;
    lg_bus_stats st;
    (void)state;

    rd_kafka_mock_topic_create(mock, "t.order", PARTITIONS, 3);
    lg_bus *bus = open_bus(100000);
    lg_bus_consumer *c = open_consumer(bus, "t.order", NULL, LG_BUS_FROM_BEGINNING,
                                       (lg_bus_rebalance_cb){0});
    for (int s = 0; s < ORDER_PER_KEY; s++) {
        for (int k = 0; k < ORDER_KEYS; k++) {
            char key[16], val[32];
            snprintf(key, sizeof key, "user%02d", k);
            int vl = snprintf(val, sizeof val, "%d", s);
            assert_int_equal(lg_bus_publish(bus, "t.order", key, strlen(key), val,
                                            (size_t)vl, 1000, on_done, &dc), 0);
        }
    }
    assert_int_equal(lg_bus_flush(bus, WAIT_MS), 0);
    assert_int_equal(__atomic_load_n(&dc.ok, __ATOMIC_SEQ_CST), ORDER_KEYS * ORDER_PER_KEY);
    assert_int_equal(dc.failed, 0);
    lg_bus_stats_get(bus, &st);
    assert_int_equal(st.published, ORDER_KEYS * ORDER_PER_KEY);
    assert_int_equal(st.delivered, ORDER_KEYS * ORDER_PER_KEY);
    assert_int_equal(st.delivery_failed, 0);

    assert_int_equal(poll_n(c, got, ORDER_KEYS * ORDER_PER_KEY), ORDER_KEYS * ORDER_PER_KEY);
    for (int k = 0; k < ORDER_KEYS; k++) {
        last_seq[k] = -1;
        part_of[k] = -1;
    }
    for (size_t i = 0; i < ORDER_KEYS * ORDER_PER_KEY; i++) {
        int k = (int)strtol(got[i].key + 4, NULL, 10);
        int seq = (int)strtol(got[i].value, NULL, 10);
        assert_true(k >= 0 && k < ORDER_KEYS);
        if (part_of[k] < 0) {
            part_of[k] = got[i].partition;
            assert_int_equal(part_of[k], expected_partition("t.order", got[i].key, PARTITIONS));
        }
        assert_int_equal(got[i].partition, part_of[k]);
        assert_int_equal(seq, last_seq[k] + 1);
        last_seq[k] = seq;
    }
    for (int k = 0; k < ORDER_KEYS; k++) {
        if (!used[part_of[k]]) {
            used[part_of[k]] = true;
            n_used++;
        }
    }
    assert_true(n_used > 1); /* 30 keys over 6 partitions: spread, not all on one */
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_tombstone_arrives_with_null_value(void **state)
{
    got_msg got[2];
    (void)state;
    rd_kafka_mock_topic_create(mock, "t.tomb", 3, 3);
    lg_bus *bus = open_bus(1000);
    lg_bus_consumer *c = open_consumer(bus, "t.tomb", NULL, LG_BUS_FROM_BEGINNING,
                                       (lg_bus_rebalance_cb){0});
    assert_int_equal(lg_bus_publish(bus, "t.tomb", "alice", 5, "{}", 2, 1000, NULL, NULL), 0);
    assert_int_equal(lg_bus_publish(bus, "t.tomb", "alice", 5, NULL, 0, 1000, NULL, NULL), 0);
    assert_int_equal(poll_n(c, got, 2), 2);
    assert_false(got[0].tombstone);
    assert_string_equal(got[0].value, "{}");
    assert_true(got[1].tombstone);
    assert_string_equal(got[1].key, "alice");
    assert_int_equal(got[1].offset, got[0].offset + 1);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_caught_up_once_every_partition_reached_its_end(void **state)
{
    got_msg got[20];
    (void)state;
    rd_kafka_mock_topic_create(mock, "t.caught", 4, 3);
    lg_bus *bus = open_bus(1000);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(lg_bus_publish(bus, "t.caught", key, strlen(key), "v", 1, 1000, NULL,
                                        NULL), 0);
    }
    assert_int_equal(lg_bus_flush(bus, WAIT_MS), 0);
    lg_bus_consumer *c = open_consumer(bus, "t.caught", NULL, LG_BUS_FROM_BEGINNING,
                                       (lg_bus_rebalance_cb){0});
    assert_false(lg_bus_caught_up(c));
    assert_int_equal(poll_n(c, got, 20), 20);
    poll_until_caught_up(c);
    assert_true(lg_bus_caught_up(c));

    /* FROM_END on a topic with data: caught up without returning the old messages */
    lg_bus_consumer *e = open_consumer(bus, "t.caught", NULL, LG_BUS_FROM_END,
                                       (lg_bus_rebalance_cb){0});
    poll_until_caught_up(e);
    assert_true(lg_bus_caught_up(e));
    assert_int_equal(lg_bus_publish(bus, "t.caught", "late", 4, "new", 3, 1000, NULL, NULL), 0);
    assert_int_equal(poll_n(e, got, 1), 1);
    assert_string_equal(got[0].value, "new");
    lg_bus_consumer_free(e);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

/* A key of topic (cnt partitions) that lands on partition p. */
static void key_on(const char *topic, int32_t cnt, int32_t p, char *key, size_t len)
{
    for (int i = 0; i < 1000; i++) {
        snprintf(key, len, "key%d", i);
        if (expected_partition(topic, key, cnt) == p)
            return;
    }
    fail_msg("no key of partition %d found", (int)p);
}

/* Polls (cap 1 at a time, so a poll that returns a message stops right after it) until
 * partition p is at its end; returns the messages read meanwhile. */
static size_t poll_until_at_end(lg_bus_consumer *c, int32_t p)
{
    lg_bus_msg msgs[1];
    size_t total = 0;
    int64_t deadline = lg_mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (!lg_bus_at_end(c, p) && lg_mono_ns() < deadline) {
        size_t n = 0;
        assert_int_equal(lg_bus_poll(c, msgs, 1, &n, 100), 0);
        total += n;
    }
    return total;
}

static void test_at_end_per_partition_until_a_message_of_it_is_returned(void **state)
{
    char k0[16], k1[16];
    lg_bus_msg msgs[1];
    size_t n = 0;
    (void)state;
    rd_kafka_mock_topic_create(mock, "t.atend", 2, 3);
    key_on("t.atend", 2, 0, k0, sizeof k0);
    key_on("t.atend", 2, 1, k1, sizeof k1);
    lg_bus *bus = open_bus(1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lg_bus_publish(bus, "t.atend", k0, strlen(k0), "v", 1, 1000, NULL,
                                        NULL), 0);
    assert_int_equal(lg_bus_flush(bus, WAIT_MS), 0);
    lg_bus_consumer *c = open_consumer(bus, "t.atend", NULL, LG_BUS_FROM_BEGINNING,
                                       (lg_bus_rebalance_cb){0});
    assert_false(lg_bus_at_end(c, 0));
    assert_false(lg_bus_at_end(c, 1));
    /* the empty partition reaches its end too; the other after its 5 messages */
    size_t got = poll_until_at_end(c, 1);
    got += poll_until_at_end(c, 0);
    assert_int_equal(got, 5);
    assert_true(lg_bus_at_end(c, 0));
    assert_true(lg_bus_at_end(c, 1));
    assert_false(lg_bus_at_end(c, 2)); /* not a partition of the topic */

    /* a new message on partition 1: not at its end from the poll that returns it */
    assert_int_equal(lg_bus_publish(bus, "t.atend", k1, strlen(k1), "w", 1, 1000, NULL,
                                    NULL), 0);
    int64_t deadline = lg_mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (n == 0 && lg_mono_ns() < deadline)
        assert_int_equal(lg_bus_poll(c, msgs, 1, &n, 100), 0);
    assert_int_equal(n, 1);
    assert_int_equal(msgs[0].partition, 1);
    assert_false(lg_bus_at_end(c, 1));
    assert_true(lg_bus_at_end(c, 0));
    assert_true(lg_bus_caught_up(c)); /* sticky, unlike at_end */
    assert_int_equal(poll_until_at_end(c, 1), 0);
    assert_true(lg_bus_at_end(c, 1));
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_offset_for_time_finds_first_message_at_or_after_timestamp(void **state)
{
    got_msg got[1];
    int64_t t_mid = 0, off = 0, p;
    (void)state;
    rd_kafka_mock_topic_create(mock, "t.time", 2, 3);
    lg_bus *bus = open_bus(1000);
    p = expected_partition("t.time", "bob", 2);
    for (int i = 0; i < 40; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "%d", i);
        if (i == 25) {
            assert_int_equal(lg_bus_flush(bus, WAIT_MS), 0);
            nanosleep(&(struct timespec){0, 30 * 1000000L}, NULL);
            t_mid = lg_now_ms();
            nanosleep(&(struct timespec){0, 30 * 1000000L}, NULL);
        }
        assert_int_equal(lg_bus_publish(bus, "t.time", "bob", 3, v, (size_t)vl, 1000, NULL,
                                        NULL), 0);
    }
    assert_int_equal(lg_bus_flush(bus, WAIT_MS), 0);
    lg_bus_consumer *c = open_consumer(bus, "t.time", NULL, LG_BUS_FROM_BEGINNING,
                                       (lg_bus_rebalance_cb){0});
    assert_int_equal(lg_bus_offset_for_time(c, (int32_t)p, t_mid, &off), 0);
    assert_int_equal(off, 25);
    assert_int_equal(lg_bus_offset_for_time(c, (int32_t)p, t_mid - 60000, &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(lg_bus_offset_for_time(c, (int32_t)p, lg_now_ms() + 60000, &off), 0);
    assert_int_equal(off, 40); /* none that recent: the end */
    assert_int_equal(lg_bus_offset_for_time(c, (int32_t)(1 - p), t_mid, &off), 0);
    assert_int_equal(off, 0);  /* an empty partition: its end */

    assert_int_equal(lg_bus_seek_time(c, (int32_t)p, t_mid), 0);
    assert_int_equal(poll_n(c, got, 1), 1);
    assert_int_equal(got[0].offset, 25);
    assert_string_equal(got[0].value, "25");
    assert_int_equal(lg_bus_seek(c, (int32_t)p, 3), 0);
    assert_int_equal(poll_n(c, got, 1), 1);
    assert_int_equal(got[0].offset, 3);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_ts_at_reads_the_message_time_at_exactly_that_offset(void **state)
{
    got_msg got[3];
    int64_t ts[3] = {0}, t = 0;
    (void)state;
    rd_kafka_mock_topic_create(mock, "t.tsat", 1, 3);
    lg_bus *bus = open_bus(1000);
    for (int i = 0; i < 3; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "%d", i);
        assert_int_equal(lg_bus_publish(bus, "t.tsat", "bob", 3, v, (size_t)vl, 1000, NULL,
                                        NULL), 0);
        /* distinct times, so each answer names its own message */
        assert_int_equal(lg_bus_flush(bus, WAIT_MS), 0);
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    }
    lg_bus_consumer *c = open_consumer(bus, "t.tsat", NULL, LG_BUS_FROM_BEGINNING,
                                       (lg_bus_rebalance_cb){0});
    for (int i = 0; i < 3; i++)
        assert_int_equal(lg_bus_ts_at(c, 0, i, &ts[i]), 0);
    assert_true(ts[0] < ts[1] && ts[1] < ts[2]);
    t = 42;
    assert_int_equal(lg_bus_ts_at(c, 0, 3, &t), LG_ENOTFOUND); /* the end: none yet */
    assert_int_equal(lg_bus_ts_at(c, 0, -1, &t), LG_EINVAL);
    assert_int_equal(lg_bus_ts_at(c, LG_BUS_PARTITIONS_MAX, 0, &t), LG_EINVAL);
    assert_int_equal(t, 42); /* untouched on failure */
    /* the read position did not move, and the times are those the messages carry */
    assert_int_equal(poll_n(c, got, 3), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].offset, i);
        assert_int_equal(got[i].ts_ms, ts[i]);
    }
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

/* Group test state: the assigned() callback seeks one partition to a chosen offset. */
typedef struct group_state {
    int assigned, revoked;
    int32_t seek_partition;
    int64_t seek_offset;
    int seek_rc;
} group_state;

static void on_assigned(void *opaque, lg_bus_consumer *c, const int32_t *parts, size_t n)
{
    group_state *g = opaque;
    g->assigned += (int)n;
    for (size_t i = 0; i < n; i++) {
        if (parts[i] == g->seek_partition)
            g->seek_rc = lg_bus_seek(c, parts[i], g->seek_offset);
    }
}

static void on_revoked(void *opaque, lg_bus_consumer *c, const int32_t *parts, size_t n)
{
    group_state *g = opaque;
    (void)c;
    (void)parts;
    g->revoked += (int)n;
}

static void test_group_commit_is_where_the_next_member_resumes(void **state)
{
    got_msg got[10];
    group_state g = {.seek_partition = -1, .seek_rc = -99};
    lg_bus_rebalance_cb rb = {on_assigned, on_revoked, &g};
    int64_t next = 0;
    int32_t p;
    (void)state;
    rd_kafka_mock_topic_create(mock, "t.group", 3, 3);
    lg_bus *bus = open_bus(1000);
    p = expected_partition("t.group", "carol", 3);
    for (int i = 0; i < 10; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "%d", i);
        assert_int_equal(lg_bus_publish(bus, "t.group", "carol", 5, v, (size_t)vl, 1000, NULL,
                                        NULL), 0);
    }
    assert_int_equal(lg_bus_flush(bus, WAIT_MS), 0);

    /* first member: the assigned callback moves partition p to offset 4 before the
     * assignment takes effect, so the first message returned is offset 4 */
    g.seek_partition = p;
    g.seek_offset = 4;
    lg_bus_consumer *c = open_consumer(bus, "t.group", "g1", LG_BUS_FROM_COMMITTED, rb);
    assert_false(lg_bus_caught_up(c)); /* not even assigned yet */
    assert_int_equal(poll_n(c, got, 6), 6);
    assert_int_equal(g.assigned, 3);
    assert_int_equal(g.seek_rc, 0);
    assert_int_equal(got[0].offset, 4);
    assert_int_equal(got[5].offset, 9);
    assert_int_equal(lg_bus_committed(c, p, &next), 0);
    assert_int_equal(next, -1); /* nothing committed yet */
    assert_int_equal(lg_bus_commit(c, p, 7), 0);
    assert_int_equal(lg_bus_committed(c, p, &next), 0);
    assert_int_equal(next, 7);
    poll_until_caught_up(c);
    assert_true(lg_bus_caught_up(c));
    lg_bus_consumer_free(c); /* leaves the group: a last revoke */
    assert_int_equal(g.revoked, 3);

    /* second member of the same group resumes at the committed offset 7 */
    g = (group_state){.seek_partition = -1, .seek_rc = -99};
    c = open_consumer(bus, "t.group", "g1", LG_BUS_FROM_COMMITTED, rb);
    assert_int_equal(poll_n(c, got, 3), 3);
    assert_int_equal(got[0].offset, 7);
    assert_int_equal(got[2].offset, 9);
    assert_int_equal(poll_n_for(c, got, 1, 500), 0); /* and nothing else */
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

#define TINY_QUEUE 5

static void test_full_producer_queue_pushes_back_and_loses_nothing(void **state)
{
    got_msg got[TINY_QUEUE + 1];
    done_count dc = {0, 0};
    lg_bus_stats st;
    int accepted = 0, rc = 0;
    (void)state;
    rd_kafka_mock_topic_create(mock, "t.full", 1, 3);
    lg_bus *bus = open_bus(TINY_QUEUE);
    lg_bus_consumer *c = open_consumer(bus, "t.full", NULL, LG_BUS_FROM_BEGINNING,
                                       (lg_bus_rebalance_cb){0});
    for (int b = 1; b <= BROKERS; b++)
        rd_kafka_mock_broker_set_down(mock, b);
    /* TINY_QUEUE messages fit in the queue, the next one waits 50 ms then gets EFULL */
    for (int i = 0; i < TINY_QUEUE + 3 && rc == 0; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "m%d", i);
        rc = lg_bus_publish(bus, "t.full", "k", 1, v, (size_t)vl, 50, on_done, &dc);
        if (rc == 0)
            accepted++;
    }
    assert_int_equal(rc, LG_EFULL);
    assert_int_equal(accepted, TINY_QUEUE);
    lg_bus_stats_get(bus, &st);
    assert_int_equal(st.publish_full, 1);
    assert_int_equal(st.published, TINY_QUEUE);
    assert_int_equal(__atomic_load_n(&dc.ok, __ATOMIC_SEQ_CST), 0);

    for (int b = 1; b <= BROKERS; b++)
        rd_kafka_mock_broker_set_up(mock, b);
    assert_int_equal(lg_bus_flush(bus, WAIT_MS), 0);
    assert_int_equal(__atomic_load_n(&dc.ok, __ATOMIC_SEQ_CST), TINY_QUEUE);
    assert_int_equal(dc.failed, 0);
    lg_bus_stats_get(bus, &st);
    assert_int_equal(st.delivered, TINY_QUEUE);
    assert_int_equal(st.delivery_failed, 0);
    assert_int_equal(poll_n(c, got, TINY_QUEUE + 1), TINY_QUEUE);
    for (int i = 0; i < TINY_QUEUE; i++) {
        char v[16];
        snprintf(v, sizeof v, "m%d", i);
        assert_string_equal(got[i].value, v);
    }
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_open_without_reachable_broker_fails_with_reason(void **state)
{
    lg_bus *bus = NULL;
    char err[256] = "";
    (void)state;
    /* port 1 on loopback: nothing listens there */
    assert_int_not_equal(lg_bus_open("kafka://127.0.0.1:1", NULL, &bus, err, sizeof err), 0);
    assert_null(bus);
    assert_non_null(strstr(err, "127.0.0.1:1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_messages_keep_order_on_the_partition_of_their_key),
        cmocka_unit_test(test_tombstone_arrives_with_null_value),
        cmocka_unit_test(test_caught_up_once_every_partition_reached_its_end),
        cmocka_unit_test(test_at_end_per_partition_until_a_message_of_it_is_returned),
        cmocka_unit_test(test_offset_for_time_finds_first_message_at_or_after_timestamp),
        cmocka_unit_test(test_ts_at_reads_the_message_time_at_exactly_that_offset),
        cmocka_unit_test(test_group_commit_is_where_the_next_member_resumes),
        cmocka_unit_test(test_full_producer_queue_pushes_back_and_loses_nothing),
        cmocka_unit_test(test_open_without_reachable_broker_fails_with_reason),
    };
    return cmocka_run_group_tests_name("bus_kafka", tests, setup, teardown);
}
