/*
 * loadgen_hist.c - log-linear latency histogram (see loadgen_hist.h for the layout).
 *
 * The index of a value above the linear range is (octave, top 7 bits below the leading
 * one): two shifts and a count-leading-zeros, so recording costs a few nanoseconds and
 * never allocates. Percentiles walk the 2,560 buckets once.
 */
#include "cli/loadgen_hist.h"

#include <math.h>
#include <string.h>

#include "core/lgassert.h"

void lg_loadgen_hist_init(lg_loadgen_hist *h)
{
    lg_assert(h != NULL);
    memset(h, 0, sizeof *h);
    h->min_us = UINT64_MAX;
}

unsigned lg_loadgen_hist__index(uint64_t us)
{
    if (us > LG_LOADGEN_HIST_MAX_US)
        us = LG_LOADGEN_HIST_MAX_US;
    if (us < LG_LOADGEN_HIST_LINEAR)
        return (unsigned)us;
    unsigned msb = 63u - (unsigned)__builtin_clzll(us);
    unsigned shift = msb - LG_LOADGEN_HIST_SUB_BITS;
    unsigned sub = (unsigned)(us >> shift) - (1u << LG_LOADGEN_HIST_SUB_BITS);
    unsigned idx = LG_LOADGEN_HIST_LINEAR + (msb - 8) * (1u << LG_LOADGEN_HIST_SUB_BITS) + sub;
    lg_assert(idx < LG_LOADGEN_HIST_BUCKETS);
    return idx;
}

void lg_loadgen_hist__range(unsigned idx, uint64_t *lo_out, uint64_t *hi_out)
{
    lg_assert(idx < LG_LOADGEN_HIST_BUCKETS);
    if (idx < LG_LOADGEN_HIST_LINEAR) {
        *lo_out = idx;
        *hi_out = idx;
        return;
    }
    unsigned j = idx - LG_LOADGEN_HIST_LINEAR;
    unsigned msb = 8 + (j >> LG_LOADGEN_HIST_SUB_BITS);
    unsigned sub = j & ((1u << LG_LOADGEN_HIST_SUB_BITS) - 1);
    unsigned shift = msb - LG_LOADGEN_HIST_SUB_BITS;
    uint64_t lo = ((uint64_t)(1u << LG_LOADGEN_HIST_SUB_BITS) + sub) << shift;
    *lo_out = lo;
    *hi_out = lo + (UINT64_C(1) << shift) - 1;
}

void lg_loadgen_hist_record(lg_loadgen_hist *h, uint64_t us)
{
    if (us > LG_LOADGEN_HIST_MAX_US)
        h->overflow++;
    h->counts[lg_loadgen_hist__index(us)]++;
    h->total++;
    if (us < h->min_us)
        h->min_us = us;
    if (us > h->max_us)
        h->max_us = us;
    /* saturate: a sum past 2^64 us (584,000 years) only means a broken clock */
    h->sum_us = (h->sum_us + us < h->sum_us) ? UINT64_MAX : h->sum_us + us;
}

void lg_loadgen_hist_merge(lg_loadgen_hist *dst, const lg_loadgen_hist *src)
{
    lg_assert(dst != NULL);
    lg_assert(src != NULL);
    for (unsigned i = 0; i < LG_LOADGEN_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->overflow += src->overflow;
    if (src->min_us < dst->min_us)
        dst->min_us = src->min_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
    dst->sum_us = (dst->sum_us + src->sum_us < dst->sum_us) ? UINT64_MAX
                                                            : dst->sum_us + src->sum_us;
}

uint64_t lg_loadgen_hist_percentile(const lg_loadgen_hist *h, double pct)
{
    lg_assert(pct > 0.0);
    lg_assert(pct <= 100.0);
    if (h->total == 0)
        return 0;
    double want = ceil(pct / 100.0 * (double)h->total);
    uint64_t rank = want < 1.0 ? 1 : (uint64_t)want;
    if (rank >= h->total)
        return h->max_us; /* the top of the distribution is known exactly */
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_LOADGEN_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen < rank)
            continue;
        uint64_t lo, hi;
        lg_loadgen_hist__range(i, &lo, &hi);
        uint64_t mid = lo + (hi - lo) / 2;
        if (mid < h->min_us)
            mid = h->min_us;
        if (mid > h->max_us)
            mid = h->max_us;
        return mid;
    }
    lg_assert(!"histogram counts do not add up to total");
    return h->max_us;
}

double lg_loadgen_hist_mean(const lg_loadgen_hist *h)
{
    return h->total ? (double)h->sum_us / (double)h->total : 0.0;
}
