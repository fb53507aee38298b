/*
 * test_bus_embedded.c - the in-process bus: order, fan-out to every consumer,
 * back-pressure instead of loss, tombstones, seeking by time, readiness, offsets,
 * rebalance callbacks and closing while a publisher waits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/err.h"

#define POLL_CAP 256

static lg_bus *bus_open(uint32_t queue_max)
{
    lg_bus_conf conf;
    lg_bus *bus = NULL;
    char err[256];

    lg_bus_conf_default(&conf);
    conf.queue_max = queue_max;
    assert_int_equal(lg_bus_open("embedded", &conf, &bus, err, sizeof err), 0);
    assert_non_null(bus);
    return bus;
}

static lg_bus_consumer *consumer_new(lg_bus *bus, const char *topic, lg_bus_start start)
{
    lg_bus_sub sub = {.topic = topic, .group = "test", .start = start};
    lg_bus_consumer *c = NULL;
    char err[256];

    assert_int_equal(lg_bus_consumer_new(bus, &sub, &c, err, sizeof err), 0);
    return c;
}

static void publish_str(lg_bus *bus, const char *topic, const char *key, const char *value)
{
    assert_int_equal(lg_bus_publish(bus, topic, key, strlen(key), value,
                                    value == NULL ? 0 : strlen(value), 0, NULL, NULL),
                     0);
}

/* One poll for up to n messages into msgs (earlier messages stay valid only until the
 * next poll, so this never polls twice once something arrived). */
static size_t poll_n(lg_bus_consumer *c, lg_bus_msg *msgs, size_t n)
{
    assert_true(n <= POLL_CAP);
    for (int tries = 0; tries < 50; tries++) {
        size_t k = 0;
        assert_int_equal(lg_bus_poll(c, msgs, n, &k, 100), 0);
        if (k > 0)
            return k;
    }
    return 0;
}

static void test_messages_come_back_in_publish_order_with_increasing_offsets(void **state)
{
    lg_bus *bus = bus_open(1024);
    lg_bus_consumer *c = consumer_new(bus, LG_TOPIC_ATTEMPTS, LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[POLL_CAP];
    char value[32];
    size_t n;
    (void)state;

    for (int i = 0; i < 100; i++) {
        snprintf(value, sizeof value, "v%d", i);
        publish_str(bus, LG_TOPIC_ATTEMPTS, "alice", value);
    }
    n = poll_n(c, msgs, 100);
    assert_int_equal(n, 100);
    for (size_t i = 0; i < n; i++) {
        snprintf(value, sizeof value, "v%zu", i);
        assert_string_equal(msgs[i].topic, LG_TOPIC_ATTEMPTS);
        assert_int_equal(msgs[i].partition, 0);
        assert_int_equal(msgs[i].offset, (int64_t)i);
        assert_int_equal(msgs[i].key_len, 5);
        assert_memory_equal(msgs[i].key, "alice", 5);
        assert_int_equal(msgs[i].value_len, strlen(value));
        assert_memory_equal(msgs[i].value, value, strlen(value));
        if (i > 0)
            assert_true(msgs[i].ts_ms >= msgs[i - 1].ts_ms);
    }
    assert_int_equal(lg_bus_poll(c, msgs, POLL_CAP, &n, 0), 0);
    assert_int_equal(n, 0);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_poll_returns_at_most_cap_messages(void **state)
{
    lg_bus *bus = bus_open(64);
    lg_bus_consumer *c = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[4];
    size_t n;
    (void)state;

    for (int i = 0; i < 5; i++)
        publish_str(bus, "t", "k", "v");
    assert_int_equal(lg_bus_poll(c, msgs, 4, &n, 0), 0);
    assert_int_equal(n, 4);
    assert_int_equal(lg_bus_poll(c, msgs, 4, &n, 0), 0);
    assert_int_equal(n, 1);
    assert_int_equal(msgs[0].offset, 4);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_two_consumers_each_see_every_message(void **state)
{
    lg_bus *bus = bus_open(1024);
    lg_bus_consumer *a = consumer_new(bus, LG_TOPIC_BLOCKS, LG_BUS_FROM_BEGINNING);
    lg_bus_consumer *b = consumer_new(bus, LG_TOPIC_BLOCKS, LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[POLL_CAP];
    (void)state;

    for (int i = 0; i < 10; i++)
        publish_str(bus, LG_TOPIC_BLOCKS, "bob", "x");
    assert_int_equal(poll_n(a, msgs, 10), 10);
    assert_int_equal(msgs[9].offset, 9);
    assert_int_equal(poll_n(b, msgs, 10), 10);
    assert_int_equal(msgs[0].offset, 0);
    assert_int_equal(msgs[9].offset, 9);
    lg_bus_consumer_free(a);
    lg_bus_consumer_free(b);
    lg_bus_close(bus);
}

static void test_full_queue_refuses_publish_until_the_consumer_moves_on(void **state)
{
    lg_bus *bus = bus_open(4);
    lg_bus_consumer *c = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[POLL_CAP];
    lg_bus_stats st;
    size_t n;
    (void)state;

    for (int i = 0; i < 3; i++)
        publish_str(bus, "t", "k", "v"); /* queue_max - 1 */
    publish_str(bus, "t", "k", "v");     /* queue_max: still taken */
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 0, NULL, NULL), LG_EFULL);
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 20, NULL, NULL), LG_EFULL);
    lg_bus_stats_get(bus, &st);
    assert_int_equal(st.published, 4);
    assert_int_equal(st.delivered, 4);
    assert_int_equal(st.publish_full, 2);
    assert_int_equal(st.queued, 4);

    /* the first poll returns the messages but still holds them */
    assert_int_equal(lg_bus_poll(c, msgs, 2, &n, 0), 0);
    assert_int_equal(n, 2);
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 0, NULL, NULL), LG_EFULL);
    /* the next poll releases them: two slots free, not three */
    assert_int_equal(lg_bus_poll(c, msgs, 1, &n, 0), 0);
    assert_int_equal(n, 1);
    publish_str(bus, "t", "k", "v");
    publish_str(bus, "t", "k", "v");
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 0, NULL, NULL), LG_EFULL);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_topic_without_consumer_keeps_queue_max_messages_for_a_later_reader(void **state)
{
    lg_bus *bus = bus_open(8);
    lg_bus_consumer *c;
    lg_bus_msg msgs[POLL_CAP];
    (void)state;

    for (int i = 0; i < 8; i++)
        publish_str(bus, "t", "k", "v");
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 0, NULL, NULL), LG_EFULL);
    c = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    assert_int_equal(poll_n(c, msgs, 9), 8);
    assert_int_equal(msgs[7].offset, 7);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_freeing_a_slow_consumer_releases_the_slots_it_held(void **state)
{
    lg_bus *bus = bus_open(4);
    lg_bus_consumer *fast = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    lg_bus_consumer *slow = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[POLL_CAP];
    size_t n;
    (void)state;

    for (int i = 0; i < 4; i++)
        publish_str(bus, "t", "k", "v");
    assert_int_equal(poll_n(fast, msgs, 4), 4);
    assert_int_equal(lg_bus_poll(fast, msgs, 4, &n, 0), 0);
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 0, NULL, NULL), LG_EFULL);
    lg_bus_consumer_free(slow);
    assert_int_equal(lg_bus_poll(fast, msgs, 4, &n, 0), 0);
    publish_str(bus, "t", "k", "v");
    lg_bus_consumer_free(fast);
    lg_bus_close(bus);
}

static void test_message_over_the_size_bound_is_refused_and_at_the_bound_is_taken(void **state)
{
    lg_bus *bus = bus_open(8);
    lg_bus_consumer *c = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    static char big[LG_BUS_MSG_MAX + 1];
    lg_bus_msg msgs[POLL_CAP];
    (void)state;

    memset(big, 'x', sizeof big);
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, big, LG_BUS_MSG_MAX - 2, 0, NULL, NULL),
                     0);
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, big, LG_BUS_MSG_MAX - 1, 0, NULL, NULL),
                     0);
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, big, LG_BUS_MSG_MAX, 0, NULL, NULL),
                     LG_ETOOBIG);
    assert_int_equal(poll_n(c, msgs, 2), 2);
    assert_int_equal(msgs[1].value_len, LG_BUS_MSG_MAX - 1);
    assert_memory_equal(msgs[1].value, big, LG_BUS_MSG_MAX - 1);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void done_count(void *opaque, int status)
{
    int *calls = opaque;
    assert_int_equal(status, 0);
    (*calls)++;
}

static void test_done_callback_runs_once_per_accepted_message(void **state)
{
    lg_bus *bus = bus_open(2);
    int calls = 0;
    (void)state;

    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 0, done_count, &calls), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 0, done_count, &calls), 0);
    assert_int_equal(lg_bus_publish(bus, "t", "k", 1, "v", 1, 0, done_count, &calls), LG_EFULL);
    assert_int_equal(calls, 2);
    assert_int_equal(lg_bus_flush(bus, 100), 0);
    lg_bus_close(bus);
}

/* --- concurrency ---------------------------------------------------------------- */

#define PRODUCERS 4
#define PER_PRODUCER 50000

typedef struct producer_arg {
    lg_bus *bus;
    int id;
    int full_retries;
} producer_arg;

static void *producer_main(void *p)
{
    producer_arg *arg = p;
    char key[8], value[32];

    snprintf(key, sizeof key, "p%d", arg->id);
    for (int i = 0; i < PER_PRODUCER; i++) {
        int len = snprintf(value, sizeof value, "%d:%d", arg->id, i);
        int rc;
        /* back-pressure is not loss: retry until taken, within a bound */
        while ((rc = lg_bus_publish(arg->bus, "load", key, strlen(key), value, (size_t)len,
                                    1000, NULL, NULL)) == LG_EFULL && arg->full_retries < 100)
            arg->full_retries++;
        if (rc != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_concurrent_producers_lose_nothing_and_keep_per_producer_order(void **state)
{
    lg_bus *bus = bus_open(1024); /* small: producers hit back-pressure often */
    lg_bus_consumer *c = consumer_new(bus, "load", LG_BUS_FROM_BEGINNING);
    pthread_t th[PRODUCERS];
    producer_arg args[PRODUCERS];
    int next[PRODUCERS] = {0};
    lg_bus_msg msgs[POLL_CAP];
    size_t total = 0;
    int64_t last_offset = -1;
    int64_t deadline = lg_mono_ns() + 60LL * 1000000000;
    (void)state;

    for (int i = 0; i < PRODUCERS; i++) {
        args[i] = (producer_arg){.bus = bus, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, producer_main, &args[i]), 0);
    }
    while (total < (size_t)PRODUCERS * PER_PRODUCER && lg_mono_ns() < deadline) {
        size_t n;
        assert_int_equal(lg_bus_poll(c, msgs, POLL_CAP, &n, 100), 0);
        for (size_t i = 0; i < n; i++) {
            char value[32];
            int p, seq;
            assert_true(msgs[i].value_len < sizeof value);
            memcpy(value, msgs[i].value, msgs[i].value_len);
            value[msgs[i].value_len] = '\0';
            assert_int_equal(sscanf(value, "%d:%d", &p, &seq), 2);
            assert_true(p >= 0 && p < PRODUCERS);
            /* exactly once, in order: each producer's next message is the expected one */
            assert_int_equal(seq, next[p]);
            next[p]++;
            assert_int_equal(msgs[i].offset, last_offset + 1);
            last_offset = msgs[i].offset;
        }
        total += n;
    }
    for (int i = 0; i < PRODUCERS; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
        assert_int_equal(next[i], PER_PRODUCER);
    }
    assert_int_equal(total, (size_t)PRODUCERS * PER_PRODUCER);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

/* --- tombstones, seeking, readiness, offsets ------------------------------------- */

static void test_tombstone_arrives_as_null_value_with_its_key(void **state)
{
    lg_bus *bus = bus_open(16);
    lg_bus_consumer *c = consumer_new(bus, LG_TOPIC_BLOCKS, LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[POLL_CAP];
    (void)state;

    publish_str(bus, LG_TOPIC_BLOCKS, "alice", "{}");
    publish_str(bus, LG_TOPIC_BLOCKS, "alice", NULL);
    publish_str(bus, LG_TOPIC_BLOCKS, "alice", ""); /* empty is not a tombstone */
    assert_int_equal(poll_n(c, msgs, 3), 3);
    assert_non_null(msgs[0].value);
    assert_null(msgs[1].value);
    assert_int_equal(msgs[1].value_len, 0);
    assert_int_equal(msgs[1].key_len, 5);
    assert_memory_equal(msgs[1].key, "alice", 5);
    assert_non_null(msgs[2].value);
    assert_int_equal(msgs[2].value_len, 0);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void sleep_ms(int ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void test_seek_time_moves_to_first_message_at_or_after_the_time(void **state)
{
    lg_bus *bus = bus_open(64);
    lg_bus_consumer *c = consumer_new(bus, "t", LG_BUS_FROM_END);
    /* never polls: keeps every message retained, so c can seek back to offset 0 */
    lg_bus_consumer *keeper = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[POLL_CAP];
    int64_t t_second;
    size_t n;
    (void)state;

    publish_str(bus, "t", "k", "first");
    sleep_ms(5);
    t_second = lg_now_ms();
    sleep_ms(2);
    publish_str(bus, "t", "k", "second");
    publish_str(bus, "t", "k", "third");
    assert_int_equal(poll_n(c, msgs, 3), 3);

    assert_int_equal(lg_bus_seek_time(c, 0, t_second), 0);
    assert_int_equal(poll_n(c, msgs, 3), 2);
    assert_int_equal(msgs[0].offset, 1);
    assert_memory_equal(msgs[0].value, "second", 6);

    assert_int_equal(lg_bus_seek_time(c, 0, 0), 0);
    assert_int_equal(poll_n(c, msgs, 3), 3);
    assert_int_equal(msgs[0].offset, 0);
    assert_int_equal(msgs[1].ts_ms >= t_second, 1);
    assert_int_equal(msgs[0].ts_ms < t_second, 1);

    /* past every message: the end */
    assert_int_equal(lg_bus_seek_time(c, 0, lg_now_ms() + 60000), 0);
    assert_int_equal(lg_bus_poll(c, msgs, 3, &n, 0), 0);
    assert_int_equal(n, 0);
    assert_int_equal(lg_bus_seek_time(c, 1, 0), LG_EINVAL);

    /* without the keeper, what c polled past is released; seek finds the oldest
     * retained message, and the one returned by the last poll is still retained */
    lg_bus_consumer_free(keeper);
    publish_str(bus, "t", "k", "fourth");
    assert_int_equal(lg_bus_seek_time(c, 0, 0), 0);
    assert_int_equal(poll_n(c, msgs, 3), 1);
    assert_int_equal(msgs[0].offset, 3);
    assert_int_equal(lg_bus_seek_time(c, 0, 0), 0);
    assert_int_equal(poll_n(c, msgs, 3), 1);
    assert_int_equal(msgs[0].offset, 3);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_offset_for_time_does_not_move_and_seek_clamps_to_retained_range(void **state)
{
    lg_bus *bus = bus_open(64);
    lg_bus_consumer *c = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[POLL_CAP];
    int64_t t_second, off = -7;
    (void)state;

    publish_str(bus, "t", "k", "first");
    sleep_ms(5);
    t_second = lg_now_ms();
    sleep_ms(2);
    publish_str(bus, "t", "k", "second");
    publish_str(bus, "t", "k", "third");
    assert_int_equal(lg_bus_offset_for_time(c, 0, t_second, &off), 0);
    assert_int_equal(off, 1);
    assert_int_equal(lg_bus_offset_for_time(c, 0, lg_now_ms() + 60000, &off), 0);
    assert_int_equal(off, 3); /* the end */
    assert_int_equal(lg_bus_offset_for_time(c, 1, 0, &off), LG_EINVAL);
    /* the read position did not move */
    assert_int_equal(poll_n(c, msgs, 1), 1);
    assert_int_equal(msgs[0].offset, 0);

    assert_int_equal(lg_bus_seek(c, 0, 2), 0);
    assert_int_equal(poll_n(c, msgs, 3), 1);
    assert_int_equal(msgs[0].offset, 2);
    /* offset 0 was released by the poll after it: clamped to the oldest retained (2) */
    assert_int_equal(lg_bus_seek(c, 0, 0), 0);
    assert_int_equal(poll_n(c, msgs, 3), 1);
    assert_int_equal(msgs[0].offset, 2);
    assert_int_equal(lg_bus_seek(c, 0, 1000), 0); /* past the end: the end */
    publish_str(bus, "t", "k", "fourth");
    assert_int_equal(poll_n(c, msgs, 3), 1);
    assert_int_equal(msgs[0].offset, 3);
    assert_int_equal(lg_bus_seek(c, 1, 0), LG_EINVAL);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_caught_up_once_the_tail_at_creation_is_reached(void **state)
{
    lg_bus *bus = bus_open(64);
    lg_bus_consumer *empty = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    lg_bus_consumer *c, *end;
    lg_bus_msg msgs[POLL_CAP];
    size_t n;
    (void)state;

    assert_true(lg_bus_caught_up(empty)); /* nothing to read at creation */
    for (int i = 0; i < 3; i++)
        publish_str(bus, "t", "k", "v");
    c = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    end = consumer_new(bus, "t", LG_BUS_FROM_END);
    assert_false(lg_bus_caught_up(c));
    assert_true(lg_bus_caught_up(end));
    publish_str(bus, "t", "k", "later"); /* after creation: not needed to be caught up */
    assert_int_equal(lg_bus_poll(c, msgs, 2, &n, 0), 0);
    assert_int_equal(n, 2);
    assert_false(lg_bus_caught_up(c)); /* N-1 of the 3 */
    assert_int_equal(lg_bus_poll(c, msgs, 1, &n, 0), 0);
    assert_int_equal(n, 1);
    assert_true(lg_bus_caught_up(c)); /* N */
    assert_int_equal(lg_bus_poll(c, msgs, 1, &n, 0), 0);
    assert_int_equal(n, 1);
    assert_true(lg_bus_caught_up(c)); /* N+1 */
    lg_bus_consumer_free(empty);
    lg_bus_consumer_free(c);
    lg_bus_consumer_free(end);
    lg_bus_close(bus);
}

static void test_at_end_while_the_read_position_is_the_tail(void **state)
{
    lg_bus *bus = bus_open(64);
    lg_bus_consumer *c = consumer_new(bus, "t", LG_BUS_FROM_BEGINNING);
    lg_bus_msg msgs[POLL_CAP];
    size_t n;
    (void)state;

    assert_false(lg_bus_at_end(c, 0)); /* not assigned before the first poll */
    for (int i = 0; i < 3; i++)
        publish_str(bus, "t", "k", "v");
    assert_int_equal(lg_bus_poll(c, msgs, 2, &n, 0), 0);
    assert_int_equal(n, 2);
    assert_false(lg_bus_at_end(c, 0)); /* N-1 of the 3 read */
    assert_int_equal(lg_bus_poll(c, msgs, 1, &n, 0), 0);
    assert_int_equal(n, 1);
    assert_true(lg_bus_at_end(c, 0)); /* N */
    publish_str(bus, "t", "k", "later");
    assert_false(lg_bus_at_end(c, 0)); /* unlike caught_up, not sticky */
    assert_true(lg_bus_caught_up(c));
    assert_int_equal(lg_bus_poll(c, msgs, 1, &n, 0), 0);
    assert_int_equal(n, 1);
    assert_true(lg_bus_at_end(c, 0));
    assert_false(lg_bus_at_end(c, 1)); /* the embedded bus has partition 0 only */
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

static void test_commit_is_remembered_per_consumer(void **state)
{
    lg_bus *bus = bus_open(16);
    lg_bus_consumer *a = consumer_new(bus, "t", LG_BUS_FROM_COMMITTED);
    lg_bus_consumer *b = consumer_new(bus, "t", LG_BUS_FROM_COMMITTED);
    int64_t off = 99;
    (void)state;

    assert_int_equal(lg_bus_committed(a, 0, &off), 0);
    assert_int_equal(off, -1);
    assert_int_equal(lg_bus_commit(a, 0, 7), 0);
    assert_int_equal(lg_bus_committed(a, 0, &off), 0);
    assert_int_equal(off, 7);
    assert_int_equal(lg_bus_committed(b, 0, &off), 0);
    assert_int_equal(off, -1);
    assert_int_equal(lg_bus_commit(a, 1, 7), LG_EINVAL);
    assert_int_equal(lg_bus_committed(a, 1, &off), LG_EINVAL);
    lg_bus_consumer_free(a);
    lg_bus_consumer_free(b);
    lg_bus_close(bus);
}

static void test_from_committed_starts_at_the_oldest_retained_message(void **state)
{
    lg_bus *bus = bus_open(16);
    lg_bus_consumer *c;
    lg_bus_msg msgs[POLL_CAP];
    (void)state;

    publish_str(bus, "t", "k", "a");
    publish_str(bus, "t", "k", "b");
    c = consumer_new(bus, "t", LG_BUS_FROM_COMMITTED);
    assert_int_equal(poll_n(c, msgs, 2), 2);
    assert_int_equal(msgs[0].offset, 0);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

typedef struct rebalance_log {
    int assigned, revoked;
    int messages_seen_at_assign;
    int32_t partition;
    int *messages_seen;
} rebalance_log;

static void on_assigned(void *opaque, lg_bus_consumer *c, const int32_t *partitions, size_t n)
{
    rebalance_log *log = opaque;
    (void)c;
    assert_int_equal(n, 1);
    log->assigned++;
    log->partition = partitions[0];
    log->messages_seen_at_assign = *log->messages_seen;
}

static void on_revoked(void *opaque, lg_bus_consumer *c, const int32_t *partitions, size_t n)
{
    rebalance_log *log = opaque;
    (void)c;
    (void)partitions;
    assert_int_equal(n, 1);
    log->revoked++;
}

static void test_assigned_is_called_once_before_the_first_message(void **state)
{
    lg_bus *bus = bus_open(16);
    int seen = 0;
    rebalance_log log = {.messages_seen = &seen, .partition = -1};
    lg_bus_sub sub = {
        .topic = "t", .start = LG_BUS_FROM_BEGINNING,
        .rebalance = {.assigned = on_assigned, .revoked = on_revoked, .opaque = &log}};
    lg_bus_consumer *c = NULL;
    lg_bus_msg msgs[POLL_CAP];
    char err[128];
    size_t n;
    (void)state;

    publish_str(bus, "t", "k", "v");
    assert_int_equal(lg_bus_consumer_new(bus, &sub, &c, err, sizeof err), 0);
    assert_int_equal(log.assigned, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lg_bus_poll(c, msgs, POLL_CAP, &n, 0), 0);
        seen += (int)n;
    }
    assert_int_equal(seen, 1);
    assert_int_equal(log.assigned, 1);
    assert_int_equal(log.partition, 0);
    assert_int_equal(log.messages_seen_at_assign, 0);
    assert_int_equal(log.revoked, 0);
    lg_bus_consumer_free(c);
    assert_int_equal(log.revoked, 1);
    lg_bus_close(bus);
}

static void seek_on_assign(void *opaque, lg_bus_consumer *c, const int32_t *partitions,
                           size_t n)
{
    (void)opaque;
    (void)n;
    assert_int_equal(lg_bus_seek_time(c, partitions[0], 0), 0);
}

static void test_seek_inside_assigned_rewinds_a_from_end_consumer(void **state)
{
    lg_bus *bus = bus_open(16);
    lg_bus_sub sub = {.topic = "t", .start = LG_BUS_FROM_END,
                      .rebalance = {.assigned = seek_on_assign}};
    lg_bus_consumer *c = NULL;
    lg_bus_msg msgs[POLL_CAP];
    char err[128];
    (void)state;

    publish_str(bus, "t", "k", "old");
    assert_int_equal(lg_bus_consumer_new(bus, &sub, &c, err, sizeof err), 0);
    assert_int_equal(poll_n(c, msgs, 1), 1);
    assert_int_equal(msgs[0].offset, 0);
    lg_bus_consumer_free(c);
    lg_bus_close(bus);
}

/* --- close ---------------------------------------------------------------------- */

typedef struct waiter_arg {
    lg_bus *bus;
    int rc;
    _Atomic pid_t tid; /* the publisher thread's id, 0 until it is about to publish */
} waiter_arg;

static void *waiting_publisher(void *p)
{
    waiter_arg *arg = p;
    atomic_store(&arg->tid, gettid());
    arg->rc = lg_bus_publish(arg->bus, "t", "k", 1, "v", 1, 30000, NULL, NULL);
    return NULL;
}

/* The scheduler state letter of thread tid ('R', 'S', ...), or 0 when unreadable. */
static char thread_state(pid_t tid)
{
    char path[64], buf[512];
    FILE *f;
    size_t n;
    const char *paren;

    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    paren = strrchr(buf, ')'); /* "tid (comm) S ..." */
    return paren != NULL && paren[1] == ' ' ? paren[2] : 0;
}

/* Waits (bounded) until the publisher is asleep inside lg_bus_publish: closing the bus
 * before it got there would free the bus under its feet (publish after close is a
 * caller error, not something close can guard against). Once it has announced itself,
 * the only place it can sleep is the wait for room. */
static void wait_until_publisher_sleeps(waiter_arg *arg)
{
    for (int i = 0; i < 10000; i++) { /* 10 s at most */
        pid_t tid = atomic_load(&arg->tid);
        if (tid != 0 && thread_state(tid) == 'S')
            return;
        sleep_ms(1);
    }
    fail_msg("the publisher never started waiting");
}

static void test_close_fails_a_waiting_publisher_with_closed(void **state)
{
    lg_bus *bus = bus_open(1);
    waiter_arg arg = {.bus = bus, .rc = 1};
    pthread_t th;
    lg_bus_stats st;
    int64_t started = lg_mono_ns();
    (void)state;

    publish_str(bus, "t", "k", "v"); /* full now, with no reader to free it */
    assert_int_equal(pthread_create(&th, NULL, waiting_publisher, &arg), 0);
    wait_until_publisher_sleeps(&arg);
    lg_bus_stats_get(bus, &st);
    assert_int_equal(st.published, 1);
    lg_bus_close(bus);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(arg.rc, LG_ECLOSED);
    /* it was woken, not timed out */
    assert_true(lg_mono_ns() - started < 10LL * 1000000000);
}

static void test_open_refuses_queue_max_over_the_cap(void **state)
{
    lg_bus_conf conf;
    lg_bus *bus = NULL;
    char err[256] = "";
    (void)state;

    lg_bus_conf_default(&conf);
    conf.queue_max = LG_BUS_QUEUE_MAX_CAP + 1;
    assert_int_equal(lg_bus_open("embedded", &conf, &bus, err, sizeof err), LG_EINVAL);
    assert_null(bus);
    assert_non_null(strstr(err, "queue_max"));
    conf.queue_max = 1; /* the smallest queue works */
    assert_int_equal(lg_bus_open("embedded", &conf, &bus, err, sizeof err), 0);
    lg_bus_close(bus);
}

static void test_consumers_past_the_bound_are_refused(void **state)
{
    lg_bus *bus = bus_open(4);
    lg_bus_consumer *cs[LG_BUS_CONSUMERS_MAX];
    lg_bus_consumer *extra = NULL;
    lg_bus_sub sub = {.topic = "t", .start = LG_BUS_FROM_END};
    char err[256];
    (void)state;

    for (int i = 0; i < LG_BUS_CONSUMERS_MAX; i++)
        cs[i] = consumer_new(bus, "t", LG_BUS_FROM_END);
    assert_int_equal(lg_bus_consumer_new(bus, &sub, &extra, err, sizeof err), LG_EFULL);
    assert_null(extra);
    lg_bus_consumer_free(cs[0]);
    cs[0] = consumer_new(bus, "t", LG_BUS_FROM_END);
    for (int i = 0; i < LG_BUS_CONSUMERS_MAX; i++)
        lg_bus_consumer_free(cs[i]);
    lg_bus_close(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_come_back_in_publish_order_with_increasing_offsets),
        cmocka_unit_test(test_poll_returns_at_most_cap_messages),
        cmocka_unit_test(test_two_consumers_each_see_every_message),
        cmocka_unit_test(test_full_queue_refuses_publish_until_the_consumer_moves_on),
        cmocka_unit_test(test_topic_without_consumer_keeps_queue_max_messages_for_a_later_reader),
        cmocka_unit_test(test_freeing_a_slow_consumer_releases_the_slots_it_held),
        cmocka_unit_test(test_message_over_the_size_bound_is_refused_and_at_the_bound_is_taken),
        cmocka_unit_test(test_done_callback_runs_once_per_accepted_message),
        cmocka_unit_test(test_concurrent_producers_lose_nothing_and_keep_per_producer_order),
        cmocka_unit_test(test_tombstone_arrives_as_null_value_with_its_key),
        cmocka_unit_test(test_seek_time_moves_to_first_message_at_or_after_the_time),
        cmocka_unit_test(test_offset_for_time_does_not_move_and_seek_clamps_to_retained_range),
        cmocka_unit_test(test_caught_up_once_the_tail_at_creation_is_reached),
        cmocka_unit_test(test_at_end_while_the_read_position_is_the_tail),
        cmocka_unit_test(test_commit_is_remembered_per_consumer),
        cmocka_unit_test(test_from_committed_starts_at_the_oldest_retained_message),
        cmocka_unit_test(test_assigned_is_called_once_before_the_first_message),
        cmocka_unit_test(test_seek_inside_assigned_rewinds_a_from_end_consumer),
        cmocka_unit_test(test_close_fails_a_waiting_publisher_with_closed),
        cmocka_unit_test(test_open_refuses_queue_max_over_the_cap),
        cmocka_unit_test(test_consumers_past_the_bound_are_refused),
    };
    return cmocka_run_group_tests_name("bus_embedded", tests, NULL, NULL);
}
