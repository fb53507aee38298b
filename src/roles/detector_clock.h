/*
 * detector_clock.h - a detector's event-time low watermark over the partitions of
 * lg.attempts it reads, which drives its engine's eviction clock (lg_engine_clock_set).
 *
 * Why: one engine judges the attempts of several partitions, and the bus delivers them
 * out of step (catching up, some partitions are minutes ahead of others). With the clock
 * at the largest ts seen from any partition, the windows of users on lagging partitions
 * would be idled by the leading ones and blocks missed. The watermark is instead a time
 * below which no partition is expected to deliver more attempts:
 *  - per partition, last_ts is the largest attempt ts consumed from it (live or rebuild);
 *  - the watermark is the minimum last_ts over assigned partitions with more to read;
 *  - a partition assigned but not read from yet, and not at its end, holds it (unknown);
 *  - partitions at their end do not count (their next attempts are new ones, stamped
 *    now); when every assigned partition is at its end, it is the largest last_ts.
 * Assumption: within a partition attempts come nearly in ts order (the APIs stamp them
 * with their server clock as they publish, and one user's attempts share a partition),
 * so a partition's next attempts are not older than its last_ts. One that is older than
 * the watermark is still judged, but may find its key's state already evicted, exactly
 * as a late event would in `replay`.
 * Only attempts the detector may judge reach it: one stamped later than the wall clock
 * plus clock_skew_max_ms is refused before it is seen (lg_detector_clock_refuses), or a
 * single event (kcat writes anything to lg.attempts) would move the watermark to any
 * time it names, idle every window, and make every real failure "too late" to count.
 */
#ifndef LG_DETECTOR_CLOCK_H
#define LG_DETECTOR_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/limits.h"

typedef struct lg_detector_clock {
    bool assigned[LG_BUS_PARTITIONS_MAX];
    bool seen[LG_BUS_PARTITIONS_MAX]; /* an attempt of it was consumed: last_ts is set */
    int64_t last_ts[LG_BUS_PARTITIONS_MAX];
} lg_detector_clock;

/* No partition assigned (a new or reset engine). */
void lg_detector_clock_reset(lg_detector_clock *k);
/* Partition p is (re)assigned: nothing read from it yet. */
void lg_detector_clock_assign(lg_detector_clock *k, int32_t p);
/* Partition p is no longer read: it no longer counts. */
void lg_detector_clock_revoke(lg_detector_clock *k, int32_t p);
/* An attempt with ts_ms was consumed from partition p (an assigned one). */
void lg_detector_clock_seen(lg_detector_clock *k, int32_t p, int64_t ts_ms);

/* The watermark, given which partitions are at their end now (at_end[p], indexed by
 * partition, read for assigned ones only). Returns true and writes *clock_ms, or false
 * when the clock must stay where it is (nothing assigned, or a partition with more to
 * read has not been read from yet, or nothing read at all). */
bool lg_detector_clock_low(const lg_detector_clock *k, const bool *at_end, int64_t *clock_ms);

/* Must an attempt with ts_ms be refused (counted, logged, never judged nor seen by the
 * watermark)? True when it is later than wall_ms + skew_max_ms (DESIGN.md "Trust
 * boundary": no event moves a detector's clock past now + clock_skew_max, whatever
 * reached the bus). wall_ms is the caller's reading of the wall clock (lg_now_ms). */
bool lg_detector_clock_refuses(int64_t ts_ms, int64_t wall_ms, int64_t skew_max_ms);

#endif
