/*
 * metrics.c - the Prometheus registry: series registered at start, updated with relaxed
 * atomics, rendered on scrape.
 *
 * Relaxed ordering is enough: each counter is independent and a scrape only needs every
 * value to be one that was true at some point during the scrape. Histogram buckets are
 * stored per bucket and made cumulative when rendered; the sum is kept in integer
 * nanoseconds so observing needs no floating-point atomics.
 */
#include "http/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"

/* HELP text of a family; longer text is cut. */
#define LG_METRICS_HELP_MAX 160

typedef enum { KIND_COUNTER, KIND_COUNTER_FN, KIND_GAUGE, KIND_HISTOGRAM } series_kind;

struct lg_metrics_counter {
    _Atomic uint64_t v;
};

struct lg_metrics_histogram {
    size_t n;                                        /* finite buckets */
    int64_t bounds_ns[LG_METRICS_BUCKETS_MAX];
    double bounds_s[LG_METRICS_BUCKETS_MAX];
    _Atomic uint64_t counts[LG_METRICS_BUCKETS_MAX + 1]; /* last one: +Inf only */
    _Atomic uint64_t sum_ns;
};

typedef struct series {
    series_kind kind;
    lg_metrics_zero zero;
    char name[LG_METRICS_NAME_MAX + 1];
    char labels[LG_METRICS_LABELS_MAX + 1];
    char help[LG_METRICS_HELP_MAX + 1];
    lg_metrics_counter counter;
    lg_metrics_gauge_fn gauge_fn;
    void *gauge_opaque;
    lg_metrics_histogram hist;
} series;

struct lg_metrics {
    /* series registered: stored (release) once s[n - 1] is complete, so that a render
     * running meanwhile (acquire) sees each series whole or not at all */
    _Atomic size_t n;
    series *s[LG_METRICS_SERIES_MAX];
};

int lg_metrics_new(lg_metrics **out)
{
    lg_metrics *m = calloc(1, sizeof *m);

    if (m == NULL)
        return LG_ENOMEM;
    *out = m;
    return 0;
}

void lg_metrics_free(lg_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->s[i]);
    free(m);
}

static bool name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > LG_METRICS_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0))
            return false;
    }
    return true;
}

static bool labels_valid(const char *labels)
{
    if (labels == NULL)
        return true;
    if (strlen(labels) > LG_METRICS_LABELS_MAX)
        return false;
    return strpbrk(labels, "\r\n{}") == NULL;
}

/* A new series, appended; NULL when full, invalid, or the name has another type. */
static series *series_add(lg_metrics *m, series_kind kind, const char *name, const char *help,
                          const char *labels)
{
    series *s;

    lg_assert(m != NULL);
    if (m->n >= LG_METRICS_SERIES_MAX || !name_valid(name) || !labels_valid(labels))
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->s[i]->name, name) == 0 && m->s[i]->kind != kind)
            return NULL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->kind = kind;
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->labels, sizeof s->labels, "%s", labels ? labels : "");
    snprintf(s->help, sizeof s->help, "%s", help ? help : "");
    /* HELP text may not contain raw newlines in the exposition format */
    for (char *p = s->help; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    m->s[m->n] = s;
    atomic_store_explicit(&m->n, m->n + 1, memory_order_release);
    return s;
}

lg_metrics_counter *lg_metrics_counter_new(lg_metrics *m, const char *name, const char *help,
                                           const char *labels, lg_metrics_zero zero)
{
    series *s = series_add(m, KIND_COUNTER, name, help, labels);

    if (s == NULL)
        return NULL;
    s->zero = zero;
    return &s->counter;
}

static int fn_series_new(lg_metrics *m, series_kind kind, const char *name, const char *help,
                         const char *labels, lg_metrics_gauge_fn fn, void *opaque)
{
    series *s;

    lg_assert(fn != NULL);
    s = series_add(m, kind, name, help, labels);
    if (s == NULL)
        return m->n >= LG_METRICS_SERIES_MAX ? LG_EFULL : LG_EINVAL;
    s->gauge_fn = fn;
    s->gauge_opaque = opaque;
    return 0;
}

int lg_metrics_gauge_new(lg_metrics *m, const char *name, const char *help, const char *labels,
                         lg_metrics_gauge_fn fn, void *opaque)
{
    return fn_series_new(m, KIND_GAUGE, name, help, labels, fn, opaque);
}

int lg_metrics_counter_fn_new(lg_metrics *m, const char *name, const char *help,
                              const char *labels, lg_metrics_gauge_fn fn, void *opaque)
{
    return fn_series_new(m, KIND_COUNTER_FN, name, help, labels, fn, opaque);
}

lg_metrics_histogram *lg_metrics_histogram_new(lg_metrics *m, const char *name, const char *help,
                                               const char *labels, const double *bounds_s,
                                               size_t n)
{
    series *s;

    if (n == 0 || n > LG_METRICS_BUCKETS_MAX)
        return NULL;
    for (size_t i = 1; i < n; i++) {
        if (!(bounds_s[i] > bounds_s[i - 1]))
            return NULL;
    }
    s = series_add(m, KIND_HISTOGRAM, name, help, labels);
    if (s == NULL)
        return NULL;
    s->hist.n = n;
    for (size_t i = 0; i < n; i++) {
        s->hist.bounds_s[i] = bounds_s[i];
        s->hist.bounds_ns[i] = (int64_t)(bounds_s[i] * 1e9 + 0.5);
    }
    return &s->hist;
}

void lg_metrics_counter_add(lg_metrics_counter *c, uint64_t n)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t lg_metrics_counter_get(const lg_metrics_counter *c)
{
    if (c == NULL)
        return 0;
    return atomic_load_explicit(&((lg_metrics_counter *)c)->v, memory_order_relaxed);
}

void lg_metrics_histogram_observe_ns(lg_metrics_histogram *h, int64_t ns)
{
    size_t i = 0;

    if (h == NULL)
        return;
    if (ns < 0)
        ns = 0;
    /* le semantics: a value equal to a bound belongs to that bucket */
    while (i < h->n && ns > h->bounds_ns[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
}

/* A bounded appender: once full, further writes are counted as overflow. */
typedef struct out_buf {
    char *buf;
    size_t len, cap;
    bool overflow;
} out_buf;

static void out_printf(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(out_buf *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

static const char *kind_name(series_kind k)
{
    switch (k) {
    case KIND_COUNTER:
    case KIND_COUNTER_FN:
        return "counter";
    case KIND_GAUGE:
        return "gauge";
    case KIND_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

/* "{labels}" or "" for a series; extra is appended inside the braces (le="..."). */
static void out_series_name(out_buf *o, const series *s, const char *suffix, const char *extra)
{
    bool has_labels = s->labels[0] != '\0';
    bool has_extra = extra != NULL && extra[0] != '\0';

    out_printf(o, "%s%s", s->name, suffix);
    if (has_labels || has_extra)
        out_printf(o, "{%s%s%s}", s->labels, (has_labels && has_extra) ? "," : "",
                   has_extra ? extra : "");
}

static void render_histogram(out_buf *o, const series *s)
{
    const lg_metrics_histogram *h = &s->hist;
    uint64_t cumulative = 0;
    char le[48];

    for (size_t i = 0; i <= h->n; i++) {
        cumulative += atomic_load_explicit(&((lg_metrics_histogram *)h)->counts[i],
                                           memory_order_relaxed);
        if (i < h->n)
            snprintf(le, sizeof le, "le=\"%g\"", h->bounds_s[i]);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        out_series_name(o, s, "_bucket", le);
        out_printf(o, " %llu\n", (unsigned long long)cumulative);
    }
    out_series_name(o, s, "_sum", NULL);
    out_printf(o, " %.9f\n",
               (double)atomic_load_explicit(&((lg_metrics_histogram *)h)->sum_ns,
                                            memory_order_relaxed) / 1e9);
    out_series_name(o, s, "_count", NULL);
    out_printf(o, " %llu\n", (unsigned long long)cumulative);
}

static void render_series(out_buf *o, const series *s)
{
    uint64_t v;

    switch (s->kind) {
    case KIND_COUNTER:
        v = lg_metrics_counter_get(&s->counter);
        if (v == 0 && s->zero == LG_METRICS_HIDE_ZERO)
            return;
        out_series_name(o, s, "", NULL);
        out_printf(o, " %llu\n", (unsigned long long)v);
        return;
    case KIND_COUNTER_FN:
    case KIND_GAUGE:
        out_series_name(o, s, "", NULL);
        out_printf(o, " %.17g\n", s->gauge_fn(s->gauge_opaque));
        return;
    case KIND_HISTOGRAM:
        render_histogram(o, s);
        return;
    }
}

int lg_metrics_render(lg_metrics *m, char *buf, size_t buf_len)
{
    out_buf o = {.buf = buf, .len = 0, .cap = buf_len, .overflow = false};

    lg_assert(m != NULL);
    lg_assert(buf_len > 0);
    size_t n = atomic_load_explicit(&m->n, memory_order_acquire);
    buf[0] = '\0';
    /* O(n^2) in series; n is bounded by LG_METRICS_SERIES_MAX and scrapes are rare */
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(m->s[j]->name, m->s[i]->name) == 0;
        if (seen)
            continue;
        if (m->s[i]->help[0] != '\0')
            out_printf(&o, "# HELP %s %s\n", m->s[i]->name, m->s[i]->help);
        out_printf(&o, "# TYPE %s %s\n", m->s[i]->name, kind_name(m->s[i]->kind));
        for (size_t k = i; k < n; k++) {
            if (strcmp(m->s[k]->name, m->s[i]->name) == 0)
                render_series(&o, m->s[k]);
        }
    }
    if (o.overflow)
        return LG_ETOOBIG;
    return (int)o.len;
}
