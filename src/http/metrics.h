/*
 * metrics.h - a small Prometheus registry: counters, gauges read at scrape time, and
 * histograms with fixed buckets, rendered in the text exposition format (version 0.0.4).
 *
 * Series are registered from one thread (bounded by LG_METRICS_SERIES_MAX), also while
 * the registry is served, and updated from any thread with relaxed atomics: the hot path
 * takes no lock. A series is one (name, labels) pair; series sharing a name form one
 * family, rendered together under one HELP/TYPE header whatever the registration order.
 */
#ifndef LG_HTTP_METRICS_H
#define LG_HTTP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* series per registry: route x status counters (~150) plus a few dozen others. */
#define LG_METRICS_SERIES_MAX 512
/* buckets per histogram, +Inf excluded. */
#define LG_METRICS_BUCKETS_MAX 24
/* a metric name, and the label text inside the braces ('route="login",status="200"'). */
#define LG_METRICS_NAME_MAX 64
#define LG_METRICS_LABELS_MAX 128

typedef struct lg_metrics lg_metrics;
typedef struct lg_metrics_counter lg_metrics_counter;
typedef struct lg_metrics_histogram lg_metrics_histogram;

/* Reads a gauge's value at scrape time; called from the scraping thread. */
typedef double (*lg_metrics_gauge_fn)(void *opaque);

typedef enum {
    LG_METRICS_SHOW_ZERO = 0, /* always rendered */
    LG_METRICS_HIDE_ZERO = 1, /* rendered once it is non-zero (sparse label matrices) */
} lg_metrics_zero;

int lg_metrics_new(lg_metrics **out);
void lg_metrics_free(lg_metrics *m); /* NULL is a no-op */

/*
 * Registration: from one thread at a time, while renders may run on others (a series
 * appears whole or not at all: a role started later adds its series to a registry that
 * is already served). name must be a valid metric name and labels NULL or 'k="v",...'
 * text; a family keeps the type and help of its first series.
 * Each returns NULL (or LG_EFULL / LG_EINVAL) when the registry is full, the name or
 * labels are too long, or the name is already registered with another type. The
 * returned handles live as long as the registry.
 */
lg_metrics_counter *lg_metrics_counter_new(lg_metrics *m, const char *name, const char *help,
                                           const char *labels, lg_metrics_zero zero);
int lg_metrics_gauge_new(lg_metrics *m, const char *name, const char *help, const char *labels,
                         lg_metrics_gauge_fn fn, void *opaque);
/* A counter whose value another module keeps (read at scrape time, like a gauge). */
int lg_metrics_counter_fn_new(lg_metrics *m, const char *name, const char *help,
                              const char *labels, lg_metrics_gauge_fn fn, void *opaque);
/* bounds_s: n (1..LG_METRICS_BUCKETS_MAX) strictly increasing upper bounds in seconds. */
lg_metrics_histogram *lg_metrics_histogram_new(lg_metrics *m, const char *name, const char *help,
                                               const char *labels, const double *bounds_s,
                                               size_t n);

/* Updates: lock-free, any thread. NULL handles are ignored, so a registration failure
 * (already logged by the caller) never crashes the hot path. */
void lg_metrics_counter_add(lg_metrics_counter *c, uint64_t n);
uint64_t lg_metrics_counter_get(const lg_metrics_counter *c);
void lg_metrics_histogram_observe_ns(lg_metrics_histogram *h, int64_t ns);

/* Renders every family into buf. Returns the length (NUL-terminated) or LG_ETOOBIG. */
int lg_metrics_render(lg_metrics *m, char *buf, size_t buf_len);

#endif
