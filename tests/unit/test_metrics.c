/*
 * test_metrics.c - the Prometheus registry: counters, hidden-while-zero series, gauges,
 * histogram buckets at their bounds (le semantics), one HELP/TYPE per family whatever
 * the registration order, the series bound, rejected names, concurrent counting, and
 * LG_ETOOBIG when the text does not fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "http/metrics.h"

static char text[64 * 1024];

static const char *render(lg_metrics *m)
{
    int n = lg_metrics_render(m, text, sizeof text);
    assert_true(n >= 0);
    assert_int_equal((size_t)n, strlen(text));
    return text;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_counter_renders_its_value_with_labels(void **state)
{
    lg_metrics *m;
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    lg_metrics_counter *c = lg_metrics_counter_new(m, "lg_attempts_total", "attempts",
                                                   "outcome=\"ok\"", LG_METRICS_SHOW_ZERO);
    assert_non_null(c);
    lg_metrics_counter_add(c, 3);
    lg_metrics_counter_add(c, 4);
    assert_int_equal(lg_metrics_counter_get(c), 7);
    const char *t = render(m);
    assert_non_null(strstr(t, "# HELP lg_attempts_total attempts\n"));
    assert_non_null(strstr(t, "# TYPE lg_attempts_total counter\n"));
    assert_non_null(strstr(t, "lg_attempts_total{outcome=\"ok\"} 7\n"));
    lg_metrics_free(m);
}

static void test_zero_counter_is_hidden_until_counted_when_asked(void **state)
{
    lg_metrics *m;
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    lg_metrics_counter *shown = lg_metrics_counter_new(m, "a_total", "a", NULL,
                                                       LG_METRICS_SHOW_ZERO);
    lg_metrics_counter *hidden = lg_metrics_counter_new(m, "b_total", "b", "route=\"x\"",
                                                        LG_METRICS_HIDE_ZERO);
    assert_non_null(shown);
    assert_non_null(hidden);
    const char *t = render(m);
    assert_non_null(strstr(t, "a_total 0\n"));
    assert_null(strstr(t, "b_total{"));
    lg_metrics_counter_add(hidden, 1);
    t = render(m);
    assert_non_null(strstr(t, "b_total{route=\"x\"} 1\n"));
    lg_metrics_free(m);
}

static void test_family_header_appears_once_for_interleaved_series(void **state)
{
    lg_metrics *m;
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    assert_non_null(lg_metrics_counter_new(m, "x_total", "x", "k=\"1\"", LG_METRICS_SHOW_ZERO));
    assert_non_null(lg_metrics_counter_new(m, "y_total", "y", NULL, LG_METRICS_SHOW_ZERO));
    assert_non_null(lg_metrics_counter_new(m, "x_total", "x", "k=\"2\"", LG_METRICS_SHOW_ZERO));
    const char *t = render(m);
    assert_int_equal(count_of(t, "# TYPE x_total counter\n"), 1);
    /* the family's series are together, right after its header */
    assert_non_null(strstr(t, "# TYPE x_total counter\nx_total{k=\"1\"} 0\nx_total{k=\"2\"} 0\n"));
    lg_metrics_free(m);
}

static double gauge_value(void *opaque)
{
    return *(double *)opaque;
}

static void test_gauge_is_read_at_scrape_time(void **state)
{
    lg_metrics *m;
    double v = 5;
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    assert_int_equal(lg_metrics_gauge_new(m, "lg_queue_depth", "depth", "queue=\"bus\"",
                                          gauge_value, &v), 0);
    assert_non_null(strstr(render(m), "lg_queue_depth{queue=\"bus\"} 5\n"));
    v = 12;
    assert_non_null(strstr(render(m), "lg_queue_depth{queue=\"bus\"} 12\n"));
    assert_non_null(strstr(text, "# TYPE lg_queue_depth gauge\n"));
    lg_metrics_free(m);
}

static void test_histogram_value_equal_to_a_bound_falls_in_that_bucket(void **state)
{
    static const double bounds[] = {0.001, 0.01};
    lg_metrics *m;
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    lg_metrics_histogram *h = lg_metrics_histogram_new(m, "d_seconds", "d", NULL, bounds, 2);
    assert_non_null(h);
    lg_metrics_histogram_observe_ns(h, 999999);   /* bound - 1 ns */
    lg_metrics_histogram_observe_ns(h, 1000000);  /* exactly the bound */
    lg_metrics_histogram_observe_ns(h, 1000001);  /* bound + 1 ns */
    lg_metrics_histogram_observe_ns(h, 20000000); /* past the last bound */
    const char *t = render(m);
    assert_non_null(strstr(t, "# TYPE d_seconds histogram\n"));
    assert_non_null(strstr(t, "d_seconds_bucket{le=\"0.001\"} 2\n"));
    assert_non_null(strstr(t, "d_seconds_bucket{le=\"0.01\"} 3\n"));
    assert_non_null(strstr(t, "d_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(t, "d_seconds_count 4\n"));
    assert_non_null(strstr(t, "d_seconds_sum 0.023000000\n"));
    lg_metrics_free(m);
}

static void test_histogram_with_labels_puts_le_last(void **state)
{
    static const double bounds[] = {1};
    lg_metrics *m;
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    lg_metrics_histogram *h = lg_metrics_histogram_new(m, "h_seconds", NULL, "route=\"r\"",
                                                       bounds, 1);
    lg_metrics_histogram_observe_ns(h, 5);
    const char *t = render(m);
    assert_non_null(strstr(t, "h_seconds_bucket{route=\"r\",le=\"1\"} 1\n"));
    assert_non_null(strstr(t, "h_seconds_count{route=\"r\"} 1\n"));
    lg_metrics_free(m);
}

static void test_invalid_registrations_are_refused(void **state)
{
    static const double unsorted[] = {2, 1};
    double many[LG_METRICS_BUCKETS_MAX + 1];
    lg_metrics *m;
    (void)state;
    for (size_t i = 0; i < LG_METRICS_BUCKETS_MAX + 1; i++)
        many[i] = (double)(i + 1);
    assert_int_equal(lg_metrics_new(&m), 0);
    assert_null(lg_metrics_counter_new(m, "9starts_with_digit", NULL, NULL, 0));
    assert_null(lg_metrics_counter_new(m, "has-dash", NULL, NULL, 0));
    assert_null(lg_metrics_counter_new(m, "", NULL, NULL, 0));
    assert_null(lg_metrics_counter_new(m, "ok_total", NULL, "a=\"1\"\n", 0));
    assert_null(lg_metrics_histogram_new(m, "h", NULL, NULL, unsorted, 2));
    assert_null(lg_metrics_histogram_new(m, "h", NULL, NULL, many, 0));
    assert_non_null(lg_metrics_histogram_new(m, "h", NULL, NULL, many, LG_METRICS_BUCKETS_MAX));
    assert_null(lg_metrics_histogram_new(m, "h2", NULL, NULL, many, LG_METRICS_BUCKETS_MAX + 1));
    /* one name, one type */
    assert_null(lg_metrics_counter_new(m, "h", NULL, NULL, 0));
    lg_metrics_free(m);
}

static void test_registry_holds_series_max_and_refuses_one_more(void **state)
{
    lg_metrics *m;
    char labels[32];
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    for (int i = 0; i < LG_METRICS_SERIES_MAX - 1; i++) {
        snprintf(labels, sizeof labels, "i=\"%d\"", i);
        assert_non_null(lg_metrics_counter_new(m, "c_total", NULL, labels, 0));
    }
    assert_non_null(lg_metrics_counter_new(m, "c_total", NULL, "i=\"last\"", 0));
    assert_null(lg_metrics_counter_new(m, "c_total", NULL, "i=\"over\"", 0));
    assert_int_equal(lg_metrics_gauge_new(m, "g", NULL, NULL, gauge_value, NULL), LG_EFULL);
    lg_metrics_free(m);
}

static void test_render_into_a_small_buffer_reports_too_big(void **state)
{
    lg_metrics *m;
    char small[16];
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    assert_non_null(lg_metrics_counter_new(m, "a_long_counter_name_total", "help", NULL, 0));
    assert_int_equal(lg_metrics_render(m, small, sizeof small), LG_ETOOBIG);
    lg_metrics_free(m);
}

static void test_null_handles_are_ignored(void **state)
{
    (void)state;
    lg_metrics_counter_add(NULL, 1);
    lg_metrics_histogram_observe_ns(NULL, 1);
    assert_int_equal(lg_metrics_counter_get(NULL), 0);
    lg_metrics_free(NULL);
}

#define THREADS 4
#define ADDS 100000

static void *add_many(void *arg)
{
    for (int i = 0; i < ADDS; i++)
        lg_metrics_counter_add(arg, 1);
    return NULL;
}

static void test_concurrent_adds_lose_no_increment(void **state)
{
    lg_metrics *m;
    pthread_t t[THREADS];
    (void)state;
    assert_int_equal(lg_metrics_new(&m), 0);
    lg_metrics_counter *c = lg_metrics_counter_new(m, "n_total", NULL, NULL, 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, add_many, c), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(lg_metrics_counter_get(c), (uint64_t)THREADS * ADDS);
    lg_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_renders_its_value_with_labels),
        cmocka_unit_test(test_zero_counter_is_hidden_until_counted_when_asked),
        cmocka_unit_test(test_family_header_appears_once_for_interleaved_series),
        cmocka_unit_test(test_gauge_is_read_at_scrape_time),
        cmocka_unit_test(test_histogram_value_equal_to_a_bound_falls_in_that_bucket),
        cmocka_unit_test(test_histogram_with_labels_puts_le_last),
        cmocka_unit_test(test_invalid_registrations_are_refused),
        cmocka_unit_test(test_registry_holds_series_max_and_refuses_one_more),
        cmocka_unit_test(test_render_into_a_small_buffer_reports_too_big),
        cmocka_unit_test(test_null_handles_are_ignored),
        cmocka_unit_test(test_concurrent_adds_lose_no_increment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
