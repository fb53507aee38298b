/*
 * loadgen_hist.h - fixed-memory latency histogram for the load generator (HDR-style).
 *
 * Values are microseconds. 0..255 us have a bucket each (exact); above, every power of
 * two is split into 128 linear sub-buckets, so a bucket is at most 1/128 of its lower
 * bound wide and the midpoint reported is within 0.4% of any value in it. The top
 * bucket ends at 2^26 us (67 s); larger values are clamped into it and counted in
 * `overflow`. min, max and sum are exact. Histograms merge by adding counts, so each
 * thread keeps its own and the report merges them.
 */
#ifndef LG_LOADGEN_HIST_H
#define LG_LOADGEN_HIST_H

#include <stdint.h>

#define LG_LOADGEN_HIST_LINEAR 256  /* values below this are exact */
#define LG_LOADGEN_HIST_SUB_BITS 7  /* 128 sub-buckets per power of two above */
#define LG_LOADGEN_HIST_MAX_BITS 26 /* 2^26 us = 67 s: covers the 60 s stated range */
#define LG_LOADGEN_HIST_MAX_US ((UINT64_C(1) << LG_LOADGEN_HIST_MAX_BITS) - 1)
#define LG_LOADGEN_HIST_BUCKETS                                                      \
    (LG_LOADGEN_HIST_LINEAR +                                                        \
     (LG_LOADGEN_HIST_MAX_BITS - 8) * (1 << LG_LOADGEN_HIST_SUB_BITS))

_Static_assert(LG_LOADGEN_HIST_LINEAR == 1 << (LG_LOADGEN_HIST_SUB_BITS + 1),
               "the linear range ends where the first log octave begins");

/* Caller-owned (embed it or put it on the heap); no destroy needed. */
typedef struct lg_loadgen_hist {
    uint64_t counts[LG_LOADGEN_HIST_BUCKETS];
    uint64_t total;    /* values recorded */
    uint64_t overflow; /* values above LG_LOADGEN_HIST_MAX_US (clamped into the top) */
    uint64_t min_us;   /* exact; UINT64_MAX while empty */
    uint64_t max_us;   /* exact, even past the top bucket */
    uint64_t sum_us;   /* exact (saturating), for the mean */
} lg_loadgen_hist;

void lg_loadgen_hist_init(lg_loadgen_hist *h);

/* Records one value in microseconds. */
void lg_loadgen_hist_record(lg_loadgen_hist *h, uint64_t us);

/* Adds src's counts into dst (src unchanged). */
void lg_loadgen_hist_merge(lg_loadgen_hist *dst, const lg_loadgen_hist *src);

/* The value at percentile pct (0 < pct <= 100): the smallest recorded value v such that
 * at least pct% of the values are <= v, within the bucket error, clamped to [min, max].
 * pct 100 gives max exactly. Returns 0 for an empty histogram. */
uint64_t lg_loadgen_hist_percentile(const lg_loadgen_hist *h, double pct);

/* Mean in microseconds; 0 when empty. */
double lg_loadgen_hist_mean(const lg_loadgen_hist *h);

/* Bucket index for a value and the range [lo, hi] of values that bucket holds; exposed
 * for the unit test's error bound. */
unsigned lg_loadgen_hist__index(uint64_t us);
void lg_loadgen_hist__range(unsigned idx, uint64_t *lo_out, uint64_t *hi_out);

#endif
