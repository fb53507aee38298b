/*
 * test_detector.c - the detector role on the embedded bus with a temporary SQLite store:
 * attempts in on lg.attempts, blocks out on lg.blocks, everything in the store with the
 * outcome the engine decided, tombstones unblocking, stop draining, attempts stamped
 * beyond the wall clock + clock_skew_max_ms refused (counted, never judged nor stored).
 * Rebuild on partition moves needs Kafka consumer groups: tests/e2e/test_kafka_kcat.py,
 * test_time_bounds.py and bench cover it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "http/metrics.h"
#include "roles/detector.h"
#include "store/store.h"

#define WAIT_MS 10000
/* an event time well in the past: the rule is judged on ts, not on the clock */
#define T0 1700000000000LL

typedef struct fixture {
    char dir[256];
    char db[300];
    lg_config cfg;
    lg_bus *bus;
    lg_detector *det;
    lg_bus_consumer *blocks; /* the test's own reader of lg.blocks */
    int on_block_calls;
    int next_id;
} fixture;

static void on_block(void *opaque, const lg_block *b)
{
    fixture *f = opaque;
    (void)b;
    f->on_block_calls++;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *base = getenv("LG_TMPDIR");
    char err[256];
    lg_bus_sub sub = {.topic = LG_TOPIC_BLOCKS, .start = LG_BUS_FROM_BEGINNING};

    if (f == NULL)
        return -1;
    if (base != NULL)
        mkdir(base, 0700);
    snprintf(f->dir, sizeof f->dir, "%s/lg-detector-XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/audit.db", f->dir);
    lg_config_default(&f->cfg);
    snprintf(f->cfg.store_url, sizeof f->cfg.store_url, "%s", f->db);
    if (lg_bus_open("embedded", &f->cfg.bus, &f->bus, err, sizeof err) != 0 ||
        lg_detector_new(&f->cfg, f->bus, &f->det, err, sizeof err) != 0 ||
        lg_bus_consumer_new(f->bus, &sub, &f->blocks, err, sizeof err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    lg_detector_on_block(f->det, on_block, f);
    if (lg_detector_start(f->det) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char path[400];
    lg_detector_free(f->det);
    lg_bus_consumer_free(f->blocks);
    lg_bus_close(f->bus);
    /* SQLite's WAL companions go with the database */
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", f->db, suffixes[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void publish_attempt(fixture *f, const char *user, int64_t ts, bool ok)
{
    lg_attempt a;
    char json[LG_EVENT_JSON_MAX];
    int n;

    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "t-%d", f->next_id++);
    a.ts_ms = ts;
    snprintf(a.user, sizeof a.user, "%s", user);
    a.user_len = (uint32_t)strlen(user);
    snprintf(a.ip, sizeof a.ip, "203.0.113.7");
    a.ok = ok;
    a.outcome = ok ? LG_OUTCOME_OK : LG_OUTCOME_FAIL;
    snprintf(a.src, sizeof a.src, "test");
    n = lg_attempt_encode(&a, json, sizeof json);
    assert_true(n > 0);
    assert_int_equal(lg_bus_publish(f->bus, LG_TOPIC_ATTEMPTS, user, strlen(user), json,
                                    (size_t)n, 1000, NULL, NULL), 0);
}

/* Polls the test's lg.blocks reader until a message comes (or WAIT_MS). */
static bool next_block(fixture *f, lg_block *out, bool *tombstone)
{
    lg_bus_msg m;
    int64_t deadline = lg_mono_ns() + (int64_t)WAIT_MS * 1000000;
    char err[256];
    while (lg_mono_ns() < deadline) {
        size_t n = 0;
        assert_int_equal(lg_bus_poll(f->blocks, &m, 1, &n, 100), 0);
        if (n == 0)
            continue;
        *tombstone = m.value == NULL;
        if (!*tombstone)
            assert_int_equal(lg_block_decode(m.value, m.value_len, out, err, sizeof err), 0);
        return true;
    }
    return false;
}

/* Waits until the detector has consumed `want` messages: judged, bad or refused. */
static void wait_attempts(fixture *f, uint64_t want)
{
    lg_detector_stats st;
    int64_t deadline = lg_mono_ns() + (int64_t)WAIT_MS * 1000000;
    do {
        lg_detector_stats_get(f->det, &st);
        if (st.attempts + st.bad_messages + st.refused_future >= want)
            return;
        usleep(2000);
    } while (lg_mono_ns() < deadline);
    fail_msg("detector consumed %llu messages (judged, bad or refused), want %llu",
             (unsigned long long)(st.attempts + st.bad_messages + st.refused_future),
             (unsigned long long)want);
}

static lg_store_counts store_counts(fixture *f)
{
    lg_store *s = NULL;
    lg_store_counts c;
    char err[256];
    assert_int_equal(lg_store_open(f->db, &s, err, sizeof err), 0);
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    lg_store_close(s);
    return c;
}

typedef struct audit_rows {
    lg_outcome outcomes[32];
    size_t n;
} audit_rows;

static void audit_cb(void *opaque, const lg_attempt *a)
{
    audit_rows *r = opaque;
    if (r->n < 32)
        r->outcomes[r->n++] = a->outcome;
}

static audit_rows store_audit(fixture *f, const char *user)
{
    lg_store *s = NULL;
    audit_rows r = {.n = 0};
    char err[256];
    assert_int_equal(lg_store_open(f->db, &s, err, sizeof err), 0);
    assert_int_equal(lg_store_audit(s, user, 0, audit_cb, NULL, &r), 0);
    lg_store_close(s);
    return r;
}

static void test_fifth_failure_publishes_block_and_stores_every_attempt(void **state)
{
    fixture *f = *state;
    lg_block b;
    bool tomb = false;
    lg_detector_stats st;

    for (int i = 0; i < 5; i++)
        publish_attempt(f, "alice", T0 + i * 1000, false);
    publish_attempt(f, "alice", T0 + 6000, false); /* inside the block: blocked */
    publish_attempt(f, "bob", T0 + 6000, true);
    assert_true(next_block(f, &b, &tomb));
    assert_false(tomb);
    assert_string_equal(b.user, "alice");
    assert_string_equal(b.rule, "user");
    assert_int_equal(b.since_ms, T0 + 4000);
    assert_int_equal(b.until_ms, T0 + 4000 + 15 * 60 * 1000);
    assert_int_equal(b.level, 1);

    lg_detector_stop(f->det);
    lg_detector_stats_get(f->det, &st);
    assert_int_equal(st.attempts, 7);
    assert_int_equal(st.fail, 5);
    assert_int_equal(st.blocked, 1);
    assert_int_equal(st.ok, 1);
    assert_int_equal(st.blocks, 1);
    assert_int_equal(f->on_block_calls, 1);
    lg_store_counts c = store_counts(f);
    assert_int_equal(c.attempts, 7);
    assert_int_equal(c.fail, 5);
    assert_int_equal(c.blocked, 1);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.blocks, 1);
    audit_rows r = store_audit(f, "alice");
    assert_int_equal(r.n, 6);
    assert_int_equal(r.outcomes[4], LG_OUTCOME_FAIL);
    assert_int_equal(r.outcomes[5], LG_OUTCOME_BLOCKED);
}

static void test_four_failures_do_not_block(void **state)
{
    fixture *f = *state;
    lg_detector_stats st;
    for (int i = 0; i < 4; i++)
        publish_attempt(f, "carol", T0 + i * 1000, false);
    /* a fifth failure exactly window_ms after the first does not block either */
    publish_attempt(f, "carol", T0 + 60000, false);
    lg_detector_stop(f->det);
    lg_detector_stats_get(f->det, &st);
    assert_int_equal(st.attempts, 5);
    assert_int_equal(st.blocks, 0);
    assert_int_equal(f->on_block_calls, 0);
    lg_store_counts c = store_counts(f);
    assert_int_equal(c.attempts, 5);
    assert_int_equal(c.fail, 5);
    assert_int_equal(c.blocks, 0);
}

static void test_tombstone_on_blocks_unblocks_user(void **state)
{
    fixture *f = *state;
    lg_block b;
    bool tomb = false;

    for (int i = 0; i < 5; i++)
        publish_attempt(f, "dave", T0 + i * 1000, false);
    assert_true(next_block(f, &b, &tomb));
    assert_string_equal(b.user, "dave");
    assert_int_equal(lg_bus_publish(f->bus, LG_TOPIC_BLOCKS, "dave", 4, NULL, 0, 1000, NULL,
                                    NULL), 0);
    /* the detector reads lg.blocks at the top of each round, before polling attempts:
     * once the marker (published after the tombstone) is judged, the next round has
     * read the tombstone before it can see dave's next attempt */
    publish_attempt(f, "marker", T0, true);
    wait_attempts(f, 6);
    publish_attempt(f, "dave", T0 + 5000, false); /* inside the old block: now counted */
    lg_detector_stop(f->det);
    audit_rows r = store_audit(f, "dave");
    assert_int_equal(r.n, 6);
    assert_int_equal(r.outcomes[5], LG_OUTCOME_FAIL);
    assert_int_equal(f->on_block_calls, 1);
}

static void test_blocked_attempt_without_tombstone_stays_blocked(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 5; i++)
        publish_attempt(f, "erin", T0 + i * 1000, false);
    publish_attempt(f, "marker", T0, true);
    wait_attempts(f, 6);
    publish_attempt(f, "erin", T0 + 5000, false);
    lg_detector_stop(f->det);
    audit_rows r = store_audit(f, "erin");
    assert_int_equal(r.n, 6);
    assert_int_equal(r.outcomes[5], LG_OUTCOME_BLOCKED);
}

static void test_bad_message_is_counted_skipped_and_the_rest_judged(void **state)
{
    fixture *f = *state;
    lg_detector_stats st;
    const char *bad = "{\"v\":1,\"user\":";
    assert_int_equal(lg_bus_publish(f->bus, LG_TOPIC_ATTEMPTS, "x", 1, bad, strlen(bad), 1000,
                                    NULL, NULL), 0);
    assert_int_equal(lg_bus_publish(f->bus, LG_TOPIC_ATTEMPTS, "x", 1, NULL, 0, 1000, NULL,
                                    NULL), 0);
    publish_attempt(f, "frank", T0, true);
    lg_detector_stop(f->det);
    lg_detector_stats_get(f->det, &st);
    assert_int_equal(st.bad_messages, 2);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(store_counts(f).attempts, 1);
}

/* Issue 7: one attempt of the year 9999 on lg.attempts moved the detector's clock there,
 * so every real failure after it came "too late" to count and nobody was ever blocked. */
static void test_future_attempt_is_refused_and_real_failures_still_block(void **state)
{
    fixture *f = *state;
    int64_t now = lg_now_ms();
    int64_t skew = f->cfg.clock_skew_max_ms;
    lg_detector_stats st;
    lg_block b;
    bool tomb = false;
    char text[8192];
    audit_rows r;

    publish_attempt(f, "mallory", LG_TS_MAX_MS, false);         /* the year 9999 */
    publish_attempt(f, "mallory", now + skew + 60000, false);   /* a minute too far */
    publish_attempt(f, "skewed", now + skew - 1000, false);     /* within the skew: judged */
    /* judged in their own batch, so the old code's clock moved before alice's came */
    wait_attempts(f, 3);
    usleep(50 * 1000);
    for (int i = 0; i < 5; i++)
        publish_attempt(f, "alice", now + i, false);
    assert_true(next_block(f, &b, &tomb));
    assert_false(tomb);
    assert_string_equal(b.user, "alice");
    assert_int_equal(b.since_ms, now + 4);

    lg_detector_stop(f->det);
    lg_detector_stats_get(f->det, &st);
    assert_int_equal(st.refused_future, 2);
    assert_int_equal(st.attempts, 6); /* skewed + alice x5: the refused are not judged */
    assert_int_equal(st.blocks, 1);
    assert_false(lg_detector_failed(f->det));
    /* not stored: an audit row would count as judged everywhere that reads the store */
    assert_int_equal(store_counts(f).attempts, 6);
    r = store_audit(f, "mallory");
    assert_int_equal(r.n, 0);
    /* and counted where an operator looks */
    assert_true(lg_metrics_render(lg_detector_metrics(f->det), text, sizeof text) > 0);
    assert_non_null(strstr(text, "\nlg_detector_attempts_refused_total{reason=\"future\"} 2\n"));
    assert_non_null(strstr(text, "\nlg_detector_attempts_total{outcome=\"fail\"} 6\n"));
    assert_non_null(strstr(text, "\nlg_detector_blocks_total 1\n"));
}

/* Refused attempts move their partition on: they are committed like judged ones, so a
 * stream of them alone never stalls the consumer nor is read again. */
static void test_only_refused_attempts_are_committed_and_drain(void **state)
{
    fixture *f = *state;
    lg_detector_stats st;

    for (int i = 0; i < 100; i++)
        publish_attempt(f, "mallory", LG_TS_MAX_MS - i, false);
    wait_attempts(f, 100);
    lg_detector_stop(f->det); /* drained: everything published was consumed */
    lg_detector_stats_get(f->det, &st);
    assert_int_equal(st.refused_future, 100);
    assert_int_equal(st.attempts, 0);
    assert_false(lg_detector_failed(f->det));
    assert_int_equal(store_counts(f).attempts, 0);
}

#define DRAIN_N 3000

static void test_stop_drains_every_attempt_already_published(void **state)
{
    fixture *f = *state;
    lg_detector_stats st;
    for (int i = 0; i < DRAIN_N; i++) {
        char user[16];
        snprintf(user, sizeof user, "u%d", i % 100);
        publish_attempt(f, user, T0 + i, i % 2 == 0);
    }
    lg_detector_stop(f->det);
    lg_detector_stop(f->det); /* twice is harmless */
    lg_detector_stats_get(f->det, &st);
    assert_int_equal(st.attempts, DRAIN_N);
    assert_false(lg_detector_failed(f->det));
    lg_store_counts c = store_counts(f);
    assert_int_equal(c.attempts, DRAIN_N);
    assert_int_equal(c.ok, DRAIN_N / 2);
}

static void test_batch_max_out_of_range_is_refused(void **state)
{
    fixture *f = *state;
    lg_config cfg = f->cfg;
    lg_detector *d = NULL;
    char err[256] = "";
    cfg.detector_batch_max = LG_STORE_BATCH_MAX + 1;
    assert_int_equal(lg_detector_new(&cfg, f->bus, &d, err, sizeof err), LG_EINVAL);
    assert_null(d);
    assert_non_null(strstr(err, "batch_max"));
    cfg.detector_batch_max = 0;
    assert_int_equal(lg_detector_new(&cfg, f->bus, &d, err, sizeof err), LG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fifth_failure_publishes_block_and_stores_every_attempt,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_failures_do_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_on_blocks_unblocks_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_attempt_without_tombstone_stays_blocked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_message_is_counted_skipped_and_the_rest_judged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_drains_every_attempt_already_published, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_max_out_of_range_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_future_attempt_is_refused_and_real_failures_still_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_refused_attempts_are_committed_and_drain,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("detector", tests, NULL, NULL);
}
