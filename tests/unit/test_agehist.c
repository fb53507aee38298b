/*
 * test_agehist.c - counts by time bucket over a ring that only moves up: adds, moves and
 * removals keep the total exact, the floor and the ring's top drop whole buckets, an
 * entry removed after its bucket left is ignored, and eviction takes the lowest
 * non-empty bucket strictly before the given time's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/agehist.h"

#define T0 (1LL << 40) /* a multiple of every bucket width */

static lg_agehist h;

/* A histogram for a large table (LG_AGEHIST_BUCKETS_MIN buckets): freed by the next. */
static void lg_agehist_init_ok(lg_agehist *hist, int64_t span_ms)
{
    lg_agehist_destroy(hist);
    assert_int_equal(lg_agehist_init(hist, span_ms, UINT64_C(1) << 40), 0);
}

static void test_span_fits_the_ring_with_the_smallest_width(void **state)
{
    (void)state;
    lg_agehist_init_ok(&h, 60000);
    assert_int_equal(h.shift, 6); /* 60000 / 64 + 2 <= 1024, / 32 + 2 is not */
    lg_agehist_init_ok(&h, 1);
    assert_int_equal(h.shift, 0);
    lg_agehist_init_ok(&h, LG_AGEHIST_BUCKETS_MIN - 2);
    assert_int_equal(h.shift, 0);
    lg_agehist_init_ok(&h, LG_AGEHIST_BUCKETS_MIN - 1);
    assert_int_equal(h.shift, 1);
    lg_agehist_init_ok(&h, 24LL * 3600 * 1000);
    assert_int_equal(h.shift, 17);
    assert_true(h.total == 0);
}

static void test_small_tables_get_finer_buckets(void **state)
{
    lg_agehist s;

    (void)state;
    /* 64 entries: 1 ms would do, 4 ms is the finest 16384 buckets allow over 60 s */
    assert_int_equal(lg_agehist_init(&s, 60000, 64), 0);
    assert_int_equal(s.shift, 2);
    assert_true(s.mask + 1 == LG_AGEHIST_BUCKETS_MAX);
    lg_agehist_destroy(&s);
    /* 16 Ki entries: 16 ms (16 Ki / 1000 rounded down to a power of two) */
    assert_int_equal(lg_agehist_init(&s, 60000, 16384), 0);
    assert_int_equal(s.shift, 4);
    assert_true(s.mask + 1 == 4096);
    lg_agehist_destroy(&s);
    /* 1 Mi entries: as coarse as 1024 buckets allow */
    assert_int_equal(lg_agehist_init(&s, 60000, 1u << 20), 0);
    assert_int_equal(s.shift, 6);
    assert_true(s.mask + 1 == LG_AGEHIST_BUCKETS_MIN);
    lg_agehist_destroy(&s);
}

static void test_add_move_sub_keep_the_total(void **state)
{
    (void)state;
    lg_agehist_init_ok(&h, 60000);
    lg_agehist_add(&h, T0);
    lg_agehist_add(&h, T0 + 63);  /* same bucket */
    lg_agehist_add(&h, T0 + 64);  /* the next */
    assert_true(h.total == 3);
    lg_agehist_move(&h, T0, T0 + 10); /* within its bucket: nothing moves */
    lg_agehist_move(&h, T0 + 63, T0 + 1000);
    assert_true(h.total == 3);
    lg_agehist_sub(&h, T0 + 1000);
    lg_agehist_sub(&h, T0 + 64);
    lg_agehist_sub(&h, T0 + 5);
    assert_true(h.total == 0);
}

static void test_evict_takes_the_lowest_bucket_before_the_limit(void **state)
{
    uint64_t n = 0;
    int64_t end = 0;

    (void)state;
    lg_agehist_init_ok(&h, 60000);
    lg_agehist_add(&h, T0 + 130); /* bucket 2 */
    lg_agehist_add(&h, T0 + 140);
    lg_agehist_add(&h, T0 + 300); /* bucket 4 */
    /* nothing before the limit's own bucket */
    assert_false(lg_agehist_evict(&h, T0 + 128, &n, &end));
    assert_false(lg_agehist_evict(&h, T0 + 191, &n, &end));
    assert_true(h.total == 3);
    assert_true(lg_agehist_evict(&h, T0 + 192, &n, &end));
    assert_true(n == 2);
    assert_true(end == T0 + 191);
    assert_true(h.total == 1);
    /* the evicted bucket is gone: removing its entries changes nothing */
    lg_agehist_sub(&h, T0 + 130);
    assert_true(h.total == 1);
    /* and so is adding into it: it lies below the counted range */
    lg_agehist_add(&h, T0 + 150);
    assert_true(h.total == 1);
    assert_true(lg_agehist_evict(&h, T0 + 1000000, &n, &end));
    assert_true(n == 1 && end == T0 + 319);
    assert_false(lg_agehist_evict(&h, T0 + 1000000, &n, &end));
}

static void test_floor_drops_whole_buckets_below_it(void **state)
{
    (void)state;
    lg_agehist_init_ok(&h, 60000);
    for (int i = 0; i < 10; i++)
        lg_agehist_add(&h, T0 + i * 64);
    lg_agehist_floor(&h, T0 + 64 * 3 + 63); /* buckets 0..2 go, 3 stays */
    assert_true(h.total == 7);
    lg_agehist_floor(&h, T0); /* never goes down */
    assert_true(h.total == 7);
    lg_agehist_floor(&h, T0 + 64 * 100000);
    assert_true(h.total == 0);
    lg_agehist_add(&h, T0 + 64 * 100000);
    assert_true(h.total == 1);
}

static void test_a_time_past_the_ring_moves_it_up(void **state)
{
    const int64_t w = 64;

    (void)state;
    lg_agehist_init_ok(&h, 60000);
    lg_agehist_add(&h, T0);
    lg_agehist_add(&h, T0 + w);
    /* the ring holds LG_AGEHIST_BUCKETS_MIN buckets: T0 + (B - 1) w keeps bucket 0 ... */
    lg_agehist_add(&h, T0 + (LG_AGEHIST_BUCKETS_MIN - 1) * w);
    assert_true(h.total == 3);
    /* ... one more drops it, and its entry is no longer counted */
    lg_agehist_add(&h, T0 + LG_AGEHIST_BUCKETS_MIN * w);
    assert_true(h.total == 3);
    lg_agehist_sub(&h, T0);
    assert_true(h.total == 3);
    lg_agehist_sub(&h, T0 + w);
    assert_true(h.total == 2);
    /* a far jump clears everything below */
    lg_agehist_add(&h, T0 + 1000000 * w);
    assert_true(h.total == 1);
}

static void test_a_fresh_histogram_of_1_ms_buckets_counts_its_first_times(void **state)
{
    uint64_t n = 0;
    int64_t end = 0;

    (void)state;
    lg_agehist_init_ok(&h, 1); /* shift 0: the lowest bucket is INT64_MIN itself */
    lg_agehist_add(&h, 5);
    lg_agehist_add(&h, 7);
    assert_true(h.total == 2);
    assert_true(lg_agehist_evict(&h, 7, &n, &end));
    assert_true(n == 1 && end == 5);
    lg_agehist_sub(&h, 7);
    assert_true(h.total == 0);
}

static void test_negative_times_take_their_own_buckets(void **state)
{
    uint64_t n = 0;
    int64_t end = 0;

    (void)state;
    lg_agehist_init_ok(&h, 60000);
    lg_agehist_add(&h, -1);
    lg_agehist_add(&h, 0);
    assert_true(lg_agehist_bucket(&h, -1) == -1);
    assert_true(lg_agehist_evict(&h, 0, &n, &end));
    assert_true(n == 1 && end == -1);
    assert_true(h.total == 1);
    lg_agehist_add(&h, INT64_MAX);
    assert_true(h.total == 1); /* the ring moved up to INT64_MAX's bucket */
    assert_true(lg_agehist_evict(&h, INT64_MAX, &n, &end) == false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_span_fits_the_ring_with_the_smallest_width),
        cmocka_unit_test(test_small_tables_get_finer_buckets),
        cmocka_unit_test(test_add_move_sub_keep_the_total),
        cmocka_unit_test(test_evict_takes_the_lowest_bucket_before_the_limit),
        cmocka_unit_test(test_floor_drops_whole_buckets_below_it),
        cmocka_unit_test(test_a_time_past_the_ring_moves_it_up),
        cmocka_unit_test(test_a_fresh_histogram_of_1_ms_buckets_counts_its_first_times),
        cmocka_unit_test(test_negative_times_take_their_own_buckets),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    lg_agehist_destroy(&h);
    return rc;
}
