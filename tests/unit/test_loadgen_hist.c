/*
 * test_loadgen_hist.c - the load generator's latency histogram: percentiles against a
 * sorted reference on random data (within the stated 1% error), exact max and min,
 * merging, bucket boundaries and the clamp past the top.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "cli/loadgen_hist.h"
#include "cli/loadgen_rng.h"

#define SAMPLES 200000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The reference: the smallest value with at least pct% of the values at or below it. */
static uint64_t reference(const uint64_t *sorted, size_t n, double pct)
{
    double want = pct / 100.0 * (double)n;
    size_t rank = (size_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

static void assert_within_one_percent(uint64_t got, uint64_t want)
{
    uint64_t diff = got > want ? got - want : want - got;
    /* 1% relative, or exact below the linear range (+1 for the integer midpoint) */
    if (diff * 100 > want && diff > 1)
        fail_msg("percentile %llu is more than 1%% from the reference %llu",
                 (unsigned long long)got, (unsigned long long)want);
}

/* Log-uniform values from 1 us to ~33 s: every bucket width is exercised. */
static uint64_t *random_values(uint64_t seed, size_t n)
{
    lg_loadgen_rng r;
    lg_loadgen_rng_seed(&r, seed);
    uint64_t *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        unsigned bits = 1 + lg_loadgen_rng_below(&r, 25);
        v[i] = (lg_loadgen_rng_next(&r) >> (64 - bits)) | 1;
    }
    return v;
}

static void test_percentiles_match_sorted_reference_within_one_percent(void **state)
{
    (void)state;
    uint64_t *v = random_values(7, SAMPLES);
    lg_loadgen_hist *h = malloc(sizeof *h);
    assert_non_null(h);
    lg_loadgen_hist_init(h);
    for (size_t i = 0; i < SAMPLES; i++)
        lg_loadgen_hist_record(h, v[i]);
    qsort(v, SAMPLES, sizeof *v, cmp_u64);
    const double pcts[] = {0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99};
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
        assert_within_one_percent(lg_loadgen_hist_percentile(h, pcts[i]),
                                  reference(v, SAMPLES, pcts[i]));
    assert_int_equal(h->total, SAMPLES);
    free(h);
    free(v);
}

static void test_max_and_min_are_exact(void **state)
{
    (void)state;
    lg_loadgen_hist h;
    lg_loadgen_hist_init(&h);
    lg_loadgen_hist_record(&h, 123457);
    lg_loadgen_hist_record(&h, 1000);
    lg_loadgen_hist_record(&h, 98765);
    assert_int_equal(h.max_us, 123457);
    assert_int_equal(h.min_us, 1000);
    assert_int_equal(lg_loadgen_hist_percentile(&h, 100), 123457);
    /* a single value is reported as itself, not as its bucket's midpoint */
    lg_loadgen_hist one;
    lg_loadgen_hist_init(&one);
    lg_loadgen_hist_record(&one, 54321);
    assert_int_equal(lg_loadgen_hist_percentile(&one, 50), 54321);
    assert_int_equal(lg_loadgen_hist_percentile(&one, 99.9), 54321);
}

static void test_merge_equals_recording_everything_in_one(void **state)
{
    (void)state;
    uint64_t *v = random_values(11, SAMPLES);
    lg_loadgen_hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *all = malloc(sizeof *all);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(all);
    lg_loadgen_hist_init(a);
    lg_loadgen_hist_init(b);
    lg_loadgen_hist_init(all);
    for (size_t i = 0; i < SAMPLES; i++) {
        lg_loadgen_hist_record(i % 3 ? a : b, v[i]);
        lg_loadgen_hist_record(all, v[i]);
    }
    lg_loadgen_hist_merge(a, b);
    assert_int_equal(a->total, all->total);
    assert_int_equal(a->max_us, all->max_us);
    assert_int_equal(a->min_us, all->min_us);
    assert_int_equal(a->sum_us, all->sum_us);
    assert_memory_equal(a->counts, all->counts, sizeof a->counts);
    assert_int_equal(lg_loadgen_hist_percentile(a, 99), lg_loadgen_hist_percentile(all, 99));
    free(a);
    free(b);
    free(all);
    free(v);
}

static void test_merging_an_empty_histogram_changes_nothing(void **state)
{
    (void)state;
    lg_loadgen_hist h, empty;
    lg_loadgen_hist_init(&h);
    lg_loadgen_hist_init(&empty);
    lg_loadgen_hist_record(&h, 500);
    lg_loadgen_hist_merge(&h, &empty);
    assert_int_equal(h.min_us, 500);
    assert_int_equal(h.max_us, 500);
    assert_int_equal(h.total, 1);
}

static void test_empty_histogram_reports_zero(void **state)
{
    (void)state;
    lg_loadgen_hist h;
    lg_loadgen_hist_init(&h);
    assert_int_equal(lg_loadgen_hist_percentile(&h, 50), 0);
    assert_int_equal(lg_loadgen_hist_percentile(&h, 100), 0);
    assert_true(lg_loadgen_hist_mean(&h) == 0.0);
}

static void test_values_below_linear_range_are_exact(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < LG_LOADGEN_HIST_LINEAR; v++) {
        uint64_t lo, hi;
        lg_loadgen_hist__range(lg_loadgen_hist__index(v), &lo, &hi);
        assert_int_equal(lo, v);
        assert_int_equal(hi, v);
    }
}

static void test_bucket_boundaries_at_linear_limit_and_octaves(void **state)
{
    (void)state;
    /* N-1, N, N+1 around the end of the linear range and around an octave */
    assert_int_equal(lg_loadgen_hist__index(255), 255);
    assert_int_equal(lg_loadgen_hist__index(256), 256);
    assert_int_equal(lg_loadgen_hist__index(257), 256); /* width 2 from 256 on */
    assert_int_equal(lg_loadgen_hist__index(258), 257);
    assert_int_equal(lg_loadgen_hist__index(511) + 1, lg_loadgen_hist__index(512));
    /* every value maps to a bucket whose range holds it and is at most 1/128 wide */
    for (uint64_t v = 1; v <= LG_LOADGEN_HIST_MAX_US; v += 1 + v / 97) {
        uint64_t lo, hi;
        lg_loadgen_hist__range(lg_loadgen_hist__index(v), &lo, &hi);
        assert_true(lo <= v && v <= hi);
        assert_true((hi - lo) * 128 <= lo || lo < LG_LOADGEN_HIST_LINEAR);
    }
    uint64_t lo, hi;
    lg_loadgen_hist__range(LG_LOADGEN_HIST_BUCKETS - 1, &lo, &hi);
    assert_int_equal(hi, LG_LOADGEN_HIST_MAX_US);
}

static void test_values_past_the_top_are_clamped_and_counted(void **state)
{
    (void)state;
    lg_loadgen_hist h;
    lg_loadgen_hist_init(&h);
    lg_loadgen_hist_record(&h, LG_LOADGEN_HIST_MAX_US);     /* N: fits */
    lg_loadgen_hist_record(&h, LG_LOADGEN_HIST_MAX_US + 1); /* N+1: clamped */
    lg_loadgen_hist_record(&h, UINT64_C(1) << 40);
    assert_int_equal(h.overflow, 2);
    assert_int_equal(h.counts[LG_LOADGEN_HIST_BUCKETS - 1], 3);
    assert_int_equal(h.max_us, UINT64_C(1) << 40); /* max stays exact */
    assert_int_equal(lg_loadgen_hist_percentile(&h, 100), UINT64_C(1) << 40);
}

static void test_sixty_seconds_is_within_one_percent(void **state)
{
    (void)state;
    lg_loadgen_hist h;
    lg_loadgen_hist_init(&h);
    lg_loadgen_hist_record(&h, 1);
    lg_loadgen_hist_record(&h, 60000000);
    lg_loadgen_hist_record(&h, 60000000);
    assert_int_equal(h.overflow, 0);
    assert_within_one_percent(lg_loadgen_hist_percentile(&h, 50), 60000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_match_sorted_reference_within_one_percent),
        cmocka_unit_test(test_max_and_min_are_exact),
        cmocka_unit_test(test_merge_equals_recording_everything_in_one),
        cmocka_unit_test(test_merging_an_empty_histogram_changes_nothing),
        cmocka_unit_test(test_empty_histogram_reports_zero),
        cmocka_unit_test(test_values_below_linear_range_are_exact),
        cmocka_unit_test(test_bucket_boundaries_at_linear_limit_and_octaves),
        cmocka_unit_test(test_values_past_the_top_are_clamped_and_counted),
        cmocka_unit_test(test_sixty_seconds_is_within_one_percent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
