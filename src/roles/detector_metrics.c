/*
 * detector_metrics.c - the detector's Prometheus series (lg_detector_metrics): one
 * counter per field of lg_detector_stats, read under stats_mu at scrape time, so the
 * detector's thread keeps counting the way it always did and pays nothing per attempt.
 * The registry is the detector's own; a process serving HTTP renders it after its own
 * (`run`: lg_api_metrics_attach).
 */
#include <stddef.h>

#include "core/err.h"
#include "core/lgassert.h"
#include "roles/detector_int.h"

static const struct {
    const char *name, *help, *labels;
    size_t off;
} series[] = {
    {"lg_detector_attempts_total", "attempts judged live by the detector, by outcome",
     "outcome=\"ok\"", offsetof(lg_detector_stats, ok)},
    {"lg_detector_attempts_total", NULL, "outcome=\"fail\"", offsetof(lg_detector_stats, fail)},
    {"lg_detector_attempts_total", NULL, "outcome=\"blocked\"",
     offsetof(lg_detector_stats, blocked)},
    {"lg_detector_attempts_refused_total",
     "attempts refused, never judged nor stored, by reason (future: ts later than the wall "
     "clock + time.clock_skew_max_ms)", "reason=\"future\"",
     offsetof(lg_detector_stats, refused_future)},
    {"lg_detector_bad_messages_total", "undecodable messages on lg.attempts, skipped", NULL,
     offsetof(lg_detector_stats, bad_messages)},
    {"lg_detector_rebuilt_total", "attempts re-read to rebuild windows on a partition move",
     NULL, offsetof(lg_detector_stats, rebuilt)},
    {"lg_detector_blocks_total", "blocks decided and published on lg.blocks", NULL,
     offsetof(lg_detector_stats, blocks)},
    {"lg_detector_store_batches_total", "batches written to the audit store", NULL,
     offsetof(lg_detector_stats, store_batches)},
};

_Static_assert(sizeof series / sizeof series[0] <= LG_DETECTOR_METRICS_MAX,
               "every series has its reference in the detector");

static double stat_read(void *opaque)
{
    const lg_detector_metric_ref *ref = opaque;
    lg_detector_stats st;
    uint64_t v;

    lg_detector_stats_get(ref->d, &st);
    v = *(const uint64_t *)((const char *)&st + ref->off);
    return (double)v;
}

int lg_detector__metrics_setup(lg_detector *d)
{
    int rc = lg_metrics_new(&d->metrics);

    if (rc != 0)
        return rc;
    for (size_t i = 0; i < sizeof series / sizeof series[0]; i++) {
        lg_detector_metric_ref *ref = &d->metric_refs[i];

        ref->d = d;
        ref->off = series[i].off;
        rc = lg_metrics_counter_fn_new(d->metrics, series[i].name, series[i].help,
                                       series[i].labels, stat_read, ref);
        /* names and labels are constants here: only memory can fail */
        lg_assert(rc != LG_EINVAL);
        if (rc != 0)
            return LG_ENOMEM;
    }
    return 0;
}

struct lg_metrics *lg_detector_metrics(lg_detector *d)
{
    lg_assert(d != NULL && d->metrics != NULL);
    return d->metrics;
}
