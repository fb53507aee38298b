/*
 * test_engine_blockrec.c - block records keep until exactly whatever its distance from
 * since: decided blocks and most loaded ones are stored as since + a 32-bit duration,
 * the rest (a loaded block of 2^32 ms or more, an until near int64's end) in full. Each
 * case checks the last covered millisecond and the first free one, and escalation
 * (level) across both layouts.
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

#define DUR32_MAX ((int64_t)UINT32_MAX)
#define T0 ((int64_t)1700000000000)

static lg_engine *engine(void)
{
    lg_engine_conf c;
    lg_engine *e = NULL;
    char err[256];

    lg_engine_conf_default(&c); /* user: 5 failures in 60 s, 15 min */
    assert_int_equal(lg_engine_new(&c, &e, err, sizeof err), 0);
    return e;
}

static lg_block block_of(const char *user, int64_t since, int64_t until, uint32_t level)
{
    lg_block b;

    memset(&b, 0, sizeof b);
    snprintf(b.rule, sizeof b.rule, "user");
    snprintf(b.user, sizeof b.user, "%s", user);
    b.since_ms = since;
    b.until_ms = until;
    b.level = level;
    return b;
}

static bool blocked_at(lg_engine *e, const char *user, int64_t ts, lg_block *out)
{
    char key[LG_BLOCK_KEY_MAX + 1];
    int n = snprintf(key, sizeof key, "user:%s", user);

    return lg_engine_blocked(e, key, (size_t)n, ts, out);
}

/* A loaded block of duration d ms covers [since, since + d) exactly. */
static void check_duration(int64_t d)
{
    lg_engine *e = engine();
    lg_block b = block_of("alice", T0, T0 + d, 3), got;

    assert_int_equal(lg_engine_load_block(e, &b), 0);
    assert_true(blocked_at(e, "alice", T0 + d - 1, &got));
    assert_int_equal(got.until_ms, T0 + d);
    assert_int_equal(got.since_ms, T0);
    assert_int_equal(got.level, 3);
    assert_false(blocked_at(e, "alice", T0 + d, NULL));
    assert_false(blocked_at(e, "alice", T0 - 1, NULL));
    lg_engine_free(e);
}

static void test_loaded_block_one_ms_short_of_32_bit_duration_keeps_until(void **state)
{
    (void)state;
    check_duration(DUR32_MAX - 1);
}

static void test_loaded_block_of_largest_32_bit_duration_keeps_until(void **state)
{
    (void)state;
    check_duration(DUR32_MAX);
}

static void test_loaded_block_one_ms_past_32_bit_duration_keeps_until(void **state)
{
    (void)state;
    check_duration(DUR32_MAX + 1);
}

static void test_loaded_block_of_a_year_keeps_until(void **state)
{
    (void)state;
    check_duration((int64_t)365 * 24 * 3600 * 1000);
}

static void test_loaded_block_ending_at_int64_max_keeps_until(void **state)
{
    lg_engine *e = engine();
    lg_block b = block_of("bob", T0, INT64_MAX, 1), got;

    (void)state;
    assert_int_equal(lg_engine_load_block(e, &b), 0);
    assert_true(blocked_at(e, "bob", INT64_MAX - 1, &got));
    assert_int_equal(got.until_ms, INT64_MAX);
    lg_engine_free(e);
}

/* A long block loaded over a short one (and back) replaces it: one record per key. */
static void test_reloading_a_key_moves_its_record_between_layouts(void **state)
{
    lg_engine *e = engine();
    lg_block shortb = block_of("carol", T0, T0 + 1000, 1);
    lg_block longb = block_of("carol", T0 + 1, T0 + 2 * DUR32_MAX, 2);
    lg_block again = block_of("carol", T0 + 2, T0 + 2000, 3), got;
    lg_engine_stats st;

    (void)state;
    assert_int_equal(lg_engine_load_block(e, &shortb), 0);
    assert_int_equal(lg_engine_load_block(e, &longb), 0);
    lg_engine_stats_get(e, &st);
    assert_int_equal(st.blocks_tracked, 1);
    assert_true(blocked_at(e, "carol", T0 + 2 * DUR32_MAX - 1, &got));
    assert_int_equal(got.level, 2);
    assert_int_equal(lg_engine_load_block(e, &again), 0);
    lg_engine_stats_get(e, &st);
    assert_int_equal(st.blocks_tracked, 1);
    assert_false(blocked_at(e, "carol", T0 + 2000, NULL));
    assert_true(blocked_at(e, "carol", T0 + 1999, &got));
    assert_int_equal(got.level, 3);
    assert_int_equal(lg_engine_unblock(e, "user:carol", 10), 0);
    assert_false(blocked_at(e, "carol", T0 + 1999, NULL));
    lg_engine_stats_get(e, &st);
    assert_int_equal(st.blocks_tracked, 0);
    lg_engine_free(e);
}

/* The escalation rule reads since from a wide record: 24 h or more later, level 1. */
static void test_block_decided_a_day_after_a_long_loaded_block_starts_at_level_1(void **state)
{
    lg_engine *e = engine();
    lg_block b = block_of("dave", T0, T0 + DUR32_MAX + 5, 4);
    lg_block out[LG_RULES_MAX];
    size_t nb = 0;
    int64_t t = T0 + DUR32_MAX + 5; /* the block has just ended */

    (void)state;
    assert_int_equal(lg_engine_load_block(e, &b), 0);
    for (int i = 0; i < 5; i++) {
        lg_attempt a;

        memset(&a, 0, sizeof a);
        a.ts_ms = t + i;
        a.user_len = 4;
        memcpy(a.user, "dave", 4);
        assert_int_equal(lg_engine_judge(e, &a, out, LG_RULES_MAX, &nb), 0);
        assert_int_equal(a.outcome, LG_OUTCOME_FAIL);
    }
    assert_int_equal(nb, 1);
    /* since - previous since >= 24 h: a new streak, level 1 */
    assert_int_equal(out[0].level, 1);
    lg_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_block_one_ms_short_of_32_bit_duration_keeps_until),
        cmocka_unit_test(test_loaded_block_of_largest_32_bit_duration_keeps_until),
        cmocka_unit_test(test_loaded_block_one_ms_past_32_bit_duration_keeps_until),
        cmocka_unit_test(test_loaded_block_of_a_year_keeps_until),
        cmocka_unit_test(test_loaded_block_ending_at_int64_max_keeps_until),
        cmocka_unit_test(test_reloading_a_key_moves_its_record_between_layouts),
        cmocka_unit_test(test_block_decided_a_day_after_a_long_loaded_block_starts_at_level_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
