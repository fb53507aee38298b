/*
 * test_engine_clock.c - the engine's eviction clock: by default the largest ts judged;
 * once the caller drives it (lg_engine_clock_set, a Kafka detector's low watermark over
 * partitions read out of step), attempts no longer move it, so keys whose attempts are
 * far behind other keys' keep their windows, and idle state and block records go only
 * when the caller's clock passes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/engine.h"
#include "core/err.h"

#define T0 1700000000000LL /* an arbitrary epoch ms */
#define MIN_MS (60LL * 1000)
#define HOUR_MS (60 * MIN_MS)

static lg_engine *engine_open(uint32_t keys_max)
{
    lg_engine_conf c;
    lg_engine *e = NULL;
    char err[256] = "";

    lg_engine_conf_default(&c); /* user: 5 failures in 60 s, 15 min */
    for (size_t i = 0; i < c.n_rules; i++)
        c.rules[i].keys_max = keys_max;
    if (lg_engine_new(&c, &e, err, sizeof err) != 0)
        fail_msg("lg_engine_new: %s", err);
    return e;
}

/* Judges one attempt; returns the number of blocks it decided. */
static size_t judge(lg_engine *e, const char *user, int64_t ts_ms, bool ok,
                    lg_outcome *outcome)
{
    lg_attempt a;
    lg_block blocks[LG_RULES_MAX];
    size_t nb = 0;

    memset(&a, 0, sizeof a);
    snprintf(a.user, sizeof a.user, "%s", user);
    a.user_len = (uint32_t)strlen(a.user);
    a.ts_ms = ts_ms;
    a.ok = ok;
    assert_int_equal(lg_engine_judge(e, &a, blocks, LG_RULES_MAX, &nb), 0);
    if (outcome != NULL)
        *outcome = a.outcome;
    return nb;
}

static lg_engine_stats stats(const lg_engine *e)
{
    lg_engine_stats s;
    lg_engine_stats_get(e, &s);
    return s;
}

/* alice fails at T0, T0+1s, ...; bob an hour later at the same pace, interleaved. Returns
 * the blocks each decided, and asserts the first four of each decided none. */
static void interleave_hour_apart(lg_engine *e, size_t *alice_blocks, size_t *bob_blocks)
{
    *alice_blocks = *bob_blocks = 0;
    for (int i = 0; i < 5; i++) {
        size_t a = judge(e, "alice", T0 + i * 1000, false, NULL);
        size_t b = judge(e, "bob", T0 + HOUR_MS + i * 1000, false, NULL);
        if (i < 4) {
            assert_int_equal(a, 0);
            assert_int_equal(b, 0);
        }
        *alice_blocks += a;
        *bob_blocks += b;
    }
}

static void test_default_clock_is_largest_ts_judged(void **state)
{
    lg_engine *e = engine_open(1024);

    (void)state;
    assert_true(lg_engine_clock(e) == INT64_MIN);
    judge(e, "alice", T0 + 5, false, NULL);
    judge(e, "bob", T0 + 2, false, NULL); /* late: the clock does not go back */
    assert_true(lg_engine_clock(e) == T0 + 5);
    lg_engine_free(e);
}

static void test_default_clock_idles_keys_an_hour_behind_other_keys(void **state)
{
    lg_engine *e = engine_open(1024);
    size_t alice, bob;

    (void)state;
    /* what a detector reading two partitions out of step saw: bob's attempts move the
     * clock an hour ahead, so alice's window is idle before each of her failures */
    interleave_hour_apart(e, &alice, &bob);
    assert_int_equal(alice, 0);
    assert_int_equal(bob, 1);
    lg_engine_free(e);
}

static void test_caller_clock_held_back_keeps_windows_of_keys_an_hour_apart(void **state)
{
    lg_engine *e = engine_open(1024);
    size_t alice, bob;

    (void)state;
    lg_engine_clock_set(e, T0);
    interleave_hour_apart(e, &alice, &bob);
    assert_int_equal(alice, 1);
    assert_int_equal(bob, 1);
    assert_true(lg_engine_clock(e) == T0); /* attempts did not move it */
    lg_engine_free(e);
}

static void test_clock_set_to_int64_min_hands_clock_to_caller_without_moving_it(void **state)
{
    lg_engine *e = engine_open(1024);
    size_t alice, bob;

    (void)state;
    judge(e, "carol", T0 - 1, true, NULL);
    lg_engine_clock_set(e, INT64_MIN);
    assert_true(lg_engine_clock(e) == T0 - 1);
    interleave_hour_apart(e, &alice, &bob);
    assert_int_equal(alice, 1);
    assert_int_equal(bob, 1);
    assert_true(lg_engine_clock(e) == T0 - 1);
    lg_engine_free(e);
}

static void test_caller_clock_ignores_a_smaller_value(void **state)
{
    lg_engine *e = engine_open(1024);

    (void)state;
    lg_engine_clock_set(e, T0 + 100);
    lg_engine_clock_set(e, T0 + 99);
    assert_true(lg_engine_clock(e) == T0 + 100);
    lg_engine_clock_set(e, T0 + 101);
    assert_true(lg_engine_clock(e) == T0 + 101);
    lg_engine_free(e);
}

/* A key's state lives while the clock is less than window_ms past its newest ts: 4
 * failures at T0..T0+3, the clock set to the edge, then a 5th failure far in the past
 * of the clock's reach decides whether the 4 were kept. */
static size_t fifth_after_clock(int64_t clock_ms)
{
    lg_engine *e = engine_open(1024);
    size_t nb = 0;

    lg_engine_clock_set(e, INT64_MIN);
    for (int i = 0; i < 4; i++)
        nb += judge(e, "alice", T0 + i, false, NULL);
    assert_int_equal(nb, 0);
    lg_engine_clock_set(e, clock_ms);
    /* bob's attempts run the sweeper over the whole (small) table */
    for (int i = 0; i < 4000; i++)
        judge(e, "bob", clock_ms, true, NULL);
    nb = judge(e, "alice", T0 + 4, false, NULL);
    lg_engine_free(e);
    return nb;
}

static void test_caller_clock_window_minus_1_past_newest_keeps_state(void **state)
{
    (void)state;
    assert_int_equal(fifth_after_clock(T0 + 3 + 60000 - 1), 1);
}

static void test_caller_clock_window_past_newest_evicts_state(void **state)
{
    (void)state;
    assert_int_equal(fifth_after_clock(T0 + 3 + 60000), 0);
}

static void test_caller_clock_advancing_evicts_idle_state_and_frees_memory(void **state)
{
    lg_engine *e = engine_open(1100);
    char user[16];

    (void)state;
    lg_engine_clock_set(e, T0);
    for (int i = 0; i < 1000; i++) {
        snprintf(user, sizeof user, "u%d", i);
        judge(e, user, T0 + i, false, NULL);
    }
    /* attempts two hours later do not idle anyone while the caller holds the clock */
    for (int i = 0; i < 2000; i++)
        judge(e, "bob", T0 + 2 * HOUR_MS + i, true, NULL);
    lg_engine_stats s = stats(e);
    assert_int_equal(s.keys_tracked, 1001);
    assert_int_equal(s.keys_evicted, 0);
    /* the clock a window past the newest of them: all idle, and swept */
    lg_engine_clock_set(e, T0 + 999 + 60000);
    for (int i = 0; i < 2000; i++)
        judge(e, "bob", T0 + 2 * HOUR_MS + 2000 + i, true, NULL);
    s = stats(e);
    assert_int_equal(s.keys_tracked, 1); /* bob */
    assert_int_equal(s.keys_evicted, 1000);
    assert_int_equal(s.keys_full, 0);
    lg_engine_free(e);
}

static void test_caller_clock_keeps_block_records_until_it_passes_24h_after_end(void **state)
{
    lg_engine *e = engine_open(1024);
    lg_outcome o;
    size_t nb = 0;

    (void)state;
    lg_engine_clock_set(e, T0);
    for (int i = 0; i < 5; i++)
        nb += judge(e, "alice", T0 + i, false, NULL);
    assert_int_equal(nb, 1);
    int64_t until = T0 + 4 + 15 * MIN_MS;
    /* other keys' attempts past until + 24 h: the record stays while the clock is held */
    for (int i = 0; i < 3000; i++)
        judge(e, "bob", until + 24 * HOUR_MS + i, true, NULL);
    assert_int_equal(stats(e).blocks_tracked, 1);
    judge(e, "alice", T0 + 5, false, &o);
    assert_int_equal(o, LG_OUTCOME_BLOCKED);
    lg_engine_clock_set(e, until + 24 * HOUR_MS - 1);
    for (int i = 0; i < 3000; i++)
        judge(e, "bob", until + 25 * HOUR_MS + i, true, NULL);
    assert_int_equal(stats(e).blocks_tracked, 1);
    lg_engine_clock_set(e, until + 24 * HOUR_MS);
    for (int i = 0; i < 3000; i++)
        judge(e, "bob", until + 26 * HOUR_MS + i, true, NULL);
    assert_int_equal(stats(e).blocks_tracked, 0);
    lg_engine_free(e);
}

static void test_batch_judging_uses_the_caller_clock_too(void **state)
{
    lg_engine *e = engine_open(1024);
    lg_attempt a[10];
    size_t nb = 0;

    (void)state;
    lg_engine_clock_set(e, T0);
    memset(a, 0, sizeof a);
    for (int i = 0; i < 10; i++) {
        const char *user = i % 2 == 0 ? "alice" : "bob";
        snprintf(a[i].user, sizeof a[i].user, "%s", user);
        a[i].user_len = (uint32_t)strlen(user);
        a[i].ts_ms = T0 + (i % 2 == 0 ? 0 : HOUR_MS) + (i / 2) * 1000;
    }
    assert_int_equal(lg_engine_judge_batch(e, a, 10, NULL, NULL), 0);
    nb = stats(e).blocks;
    assert_int_equal(nb, 2);
    lg_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_clock_is_largest_ts_judged),
        cmocka_unit_test(test_default_clock_idles_keys_an_hour_behind_other_keys),
        cmocka_unit_test(test_caller_clock_held_back_keeps_windows_of_keys_an_hour_apart),
        cmocka_unit_test(test_clock_set_to_int64_min_hands_clock_to_caller_without_moving_it),
        cmocka_unit_test(test_caller_clock_ignores_a_smaller_value),
        cmocka_unit_test(test_caller_clock_window_minus_1_past_newest_keeps_state),
        cmocka_unit_test(test_caller_clock_window_past_newest_evicts_state),
        cmocka_unit_test(test_caller_clock_advancing_evicts_idle_state_and_frees_memory),
        cmocka_unit_test(test_caller_clock_keeps_block_records_until_it_passes_24h_after_end),
        cmocka_unit_test(test_batch_judging_uses_the_caller_clock_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
