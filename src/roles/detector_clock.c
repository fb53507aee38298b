/*
 * detector_clock.c - the low watermark of the partitions a detector reads (see
 * detector_clock.h). O(partitions) per call: the detector calls it once per poll.
 */
#include "roles/detector_clock.h"

#include <string.h>

#include "core/lgassert.h"

void lg_detector_clock_reset(lg_detector_clock *k)
{
    memset(k, 0, sizeof *k);
}

void lg_detector_clock_assign(lg_detector_clock *k, int32_t p)
{
    lg_assert(p >= 0 && p < LG_BUS_PARTITIONS_MAX);
    k->assigned[p] = true;
    k->seen[p] = false;
    k->last_ts[p] = 0;
}

void lg_detector_clock_revoke(lg_detector_clock *k, int32_t p)
{
    lg_assert(p >= 0 && p < LG_BUS_PARTITIONS_MAX);
    k->assigned[p] = false;
    k->seen[p] = false;
}

void lg_detector_clock_seen(lg_detector_clock *k, int32_t p, int64_t ts_ms)
{
    lg_assert(p >= 0 && p < LG_BUS_PARTITIONS_MAX);
    if (!k->seen[p] || ts_ms > k->last_ts[p])
        k->last_ts[p] = ts_ms;
    k->seen[p] = true;
}

bool lg_detector_clock_low(const lg_detector_clock *k, const bool *at_end, int64_t *clock_ms)
{
    bool have_low = false, have_high = false;
    int64_t low = INT64_MAX, high = INT64_MIN;

    for (int32_t p = 0; p < LG_BUS_PARTITIONS_MAX; p++) {
        if (!k->assigned[p])
            continue;
        if (at_end[p]) {
            /* nothing pending: only counts when every partition is at its end */
            if (k->seen[p] && k->last_ts[p] >= high) {
                high = k->last_ts[p];
                have_high = true;
            }
            continue;
        }
        if (!k->seen[p])
            return false; /* more to read, from an unknown time: hold */
        if (k->last_ts[p] <= low) {
            low = k->last_ts[p];
            have_low = true;
        }
    }
    if (have_low) {
        *clock_ms = low;
        return true;
    }
    if (have_high) {
        *clock_ms = high;
        return true;
    }
    return false;
}

bool lg_detector_clock_refuses(int64_t ts_ms, int64_t wall_ms, int64_t skew_max_ms)
{
    lg_assert(skew_max_ms >= 0);
    /* a decoded ts is in [0, LG_TS_MAX_MS] (2^48) and so is the wall clock: no overflow */
    return ts_ms - wall_ms > skew_max_ms;
}
