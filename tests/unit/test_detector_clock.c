/*
 * test_detector_clock.c - the detector's low watermark over its partitions: the minimum
 * last attempt ts of those with more to read; held while one of them has not been read
 * from; the largest when all are at their end; partitions not assigned never count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "roles/detector_clock.h"

#define T0 1700000000000LL
#define HOUR_MS (3600LL * 1000)

static bool at_end[LG_BUS_PARTITIONS_MAX];

static int reset_at_end(void **state)
{
    (void)state;
    memset(at_end, 0, sizeof at_end);
    return 0;
}

/* The watermark, or INT64_MIN for "hold". */
static int64_t low(const lg_detector_clock *k)
{
    int64_t c = 12345;
    if (!lg_detector_clock_low(k, at_end, &c)) {
        assert_int_equal(c, 12345); /* out-param untouched */
        return INT64_MIN;
    }
    return c;
}

static void test_nothing_assigned_holds_the_clock(void **state)
{
    lg_detector_clock k;
    (void)state;
    lg_detector_clock_reset(&k);
    assert_true(low(&k) == INT64_MIN);
    at_end[0] = true;
    assert_true(low(&k) == INT64_MIN);
}

static void test_partition_not_read_from_yet_holds_the_clock(void **state)
{
    lg_detector_clock k;
    (void)state;
    lg_detector_clock_reset(&k);
    lg_detector_clock_assign(&k, 0);
    lg_detector_clock_assign(&k, 1);
    lg_detector_clock_seen(&k, 0, T0 + HOUR_MS);
    assert_true(low(&k) == INT64_MIN); /* partition 1 may hold attempts of any time */
    lg_detector_clock_seen(&k, 1, T0);
    assert_true(low(&k) == T0);
}

static void test_watermark_is_the_lagging_partition_s_last_ts(void **state)
{
    lg_detector_clock k;
    (void)state;
    lg_detector_clock_reset(&k);
    for (int32_t p = 0; p < 3; p++)
        lg_detector_clock_assign(&k, p);
    lg_detector_clock_seen(&k, 0, T0 + HOUR_MS);
    lg_detector_clock_seen(&k, 1, T0 + 5);
    lg_detector_clock_seen(&k, 2, T0 + 2 * HOUR_MS);
    assert_true(low(&k) == T0 + 5);
    lg_detector_clock_seen(&k, 1, T0 + 6);
    assert_true(low(&k) == T0 + 6);
}

static void test_last_ts_is_the_largest_ts_seen_on_the_partition(void **state)
{
    lg_detector_clock k;
    (void)state;
    lg_detector_clock_reset(&k);
    lg_detector_clock_assign(&k, 7);
    lg_detector_clock_seen(&k, 7, T0 + 10);
    lg_detector_clock_seen(&k, 7, T0 + 9); /* a little out of order */
    assert_true(low(&k) == T0 + 10);
}

static void test_partitions_at_their_end_do_not_hold_the_others(void **state)
{
    lg_detector_clock k;
    (void)state;
    lg_detector_clock_reset(&k);
    for (int32_t p = 0; p < 3; p++)
        lg_detector_clock_assign(&k, p);
    lg_detector_clock_seen(&k, 0, T0);             /* drained long ago */
    lg_detector_clock_seen(&k, 1, T0 + HOUR_MS);   /* catching up */
    lg_detector_clock_seen(&k, 2, T0 + 2 * HOUR_MS);
    at_end[0] = true;
    assert_true(low(&k) == T0 + HOUR_MS);
    /* an empty partition at its end, never read from, does not hold either */
    lg_detector_clock_assign(&k, 3);
    at_end[3] = true;
    assert_true(low(&k) == T0 + HOUR_MS);
    at_end[3] = false; /* but once it has something to read, it does */
    assert_true(low(&k) == INT64_MIN);
}

static void test_all_partitions_at_their_end_give_the_largest_last_ts(void **state)
{
    lg_detector_clock k;
    (void)state;
    lg_detector_clock_reset(&k);
    for (int32_t p = 0; p < 3; p++) {
        lg_detector_clock_assign(&k, p);
        at_end[p] = true;
    }
    assert_true(low(&k) == INT64_MIN); /* nothing read at all: nothing to go by */
    lg_detector_clock_seen(&k, 0, T0);
    lg_detector_clock_seen(&k, 1, T0 + HOUR_MS);
    assert_true(low(&k) == T0 + HOUR_MS);
    at_end[1] = false; /* N-1 at their end: the minimum of the rest again */
    assert_true(low(&k) == T0 + HOUR_MS);
    at_end[0] = false;
    assert_true(low(&k) == T0);
}

static void test_revoked_partition_no_longer_counts_and_reassigned_starts_unread(void **state)
{
    lg_detector_clock k;
    (void)state;
    lg_detector_clock_reset(&k);
    lg_detector_clock_assign(&k, 0);
    lg_detector_clock_assign(&k, LG_BUS_PARTITIONS_MAX - 1);
    lg_detector_clock_seen(&k, 0, T0);
    lg_detector_clock_seen(&k, LG_BUS_PARTITIONS_MAX - 1, T0 + HOUR_MS);
    assert_true(low(&k) == T0);
    lg_detector_clock_revoke(&k, 0);
    assert_true(low(&k) == T0 + HOUR_MS);
    lg_detector_clock_assign(&k, 0);
    assert_true(low(&k) == INT64_MIN); /* its old last_ts is forgotten */
    lg_detector_clock_reset(&k);
    assert_true(low(&k) == INT64_MIN);
}

static void test_ts_beyond_wall_clock_plus_skew_is_refused(void **state)
{
    (void)state;
    assert_false(lg_detector_clock_refuses(T0 + 5000, T0, 5000)); /* at the bound */
    assert_true(lg_detector_clock_refuses(T0 + 5001, T0, 5000));  /* one ms beyond */
    assert_false(lg_detector_clock_refuses(T0, T0, 0));
    assert_true(lg_detector_clock_refuses(T0 + 1, T0, 0));
    assert_false(lg_detector_clock_refuses(0, T0, 5000)); /* the past is for the window */
    assert_true(lg_detector_clock_refuses(253402300799999LL, T0, 604800000)); /* 9999 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_nothing_assigned_holds_the_clock, reset_at_end),
        cmocka_unit_test_setup(test_partition_not_read_from_yet_holds_the_clock, reset_at_end),
        cmocka_unit_test_setup(test_watermark_is_the_lagging_partition_s_last_ts, reset_at_end),
        cmocka_unit_test_setup(test_last_ts_is_the_largest_ts_seen_on_the_partition,
                               reset_at_end),
        cmocka_unit_test_setup(test_partitions_at_their_end_do_not_hold_the_others,
                               reset_at_end),
        cmocka_unit_test_setup(test_all_partitions_at_their_end_give_the_largest_last_ts,
                               reset_at_end),
        cmocka_unit_test_setup(
            test_revoked_partition_no_longer_counts_and_reassigned_starts_unread,
            reset_at_end),
        cmocka_unit_test(test_ts_beyond_wall_clock_plus_skew_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
