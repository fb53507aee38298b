/*
 * agehist.h - exact counts of a table's live entries by a time (a window's last activity,
 * a block record's end), in buckets of 2^shift ms over a ring of consecutive buckets that
 * only moves up.
 *
 * It lets a full table pick victims by time alone, with no per-entry links: the owner
 * evicts the whole oldest counted bucket at once by raising a floor of its own, below
 * which it treats entries as absent, and frees them lazily as it frees idle ones. Every
 * count is a function of the times added and removed, so two tables fed the same events
 * make the same choices whatever their hash secrets or slot positions (replay stays
 * deterministic).
 *
 * Counted range: buckets [lo, hi], hi - lo <= mask. hi follows the largest time added; lo
 * rises with lg_agehist_floor, lg_agehist_evict, and when hi moves up. An entry is
 * counted iff its bucket was in range when it was added and still is. The owner adds a
 * live entry's time once and removes it (lg_agehist_sub, _move) only while the entry is
 * live; it never removes a dead one: its count left with its bucket, or stays until the
 * bucket leaves the range (entries of the lowest bucket already idle are still counted:
 * the count errs on the high side by at most that bucket).
 */
#ifndef LG_AGEHIST_H
#define LG_AGEHIST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lgassert.h"

/* buckets per ring, a power of two: at least the MIN (4 KiB of counts, the cost for
 * large tables), at most the MAX (64 KiB, for the smallest tables: see lg_agehist_init) */
#define LG_AGEHIST_BUCKETS_MIN 1024
#define LG_AGEHIST_BUCKETS_MAX 16384

typedef struct lg_agehist {
    uint64_t total;   /* sum of the counts in [lo, hi] */
    int64_t lo, hi;   /* bucket numbers; hi = lo - 1 while nothing was ever added */
    uint64_t mask;    /* buckets - 1 */
    unsigned shift;   /* bucket = time >> shift */
    uint32_t *counts; /* bucket b at counts[b & mask] */
} lg_agehist;

/*
 * An empty histogram whose ring holds span_ms (> 0) plus two buckets. Buckets are as
 * fine as LG_AGEHIST_BUCKETS_MIN allows, and finer for small tables: no wider than
 * entries_max / 1000 ms (entries_max keys within one bucket would take more than a
 * thousand new keys per ms, a rate no front end reaches), down to what
 * LG_AGEHIST_BUCKETS_MAX allows. Returns 0 or LG_ENOMEM.
 */
int lg_agehist_init(lg_agehist *h, int64_t span_ms, uint64_t entries_max);
void lg_agehist_destroy(lg_agehist *h);

/* The bucket of time t (an arithmetic shift: floor division, negative times included). */
static inline int64_t lg_agehist_bucket(const lg_agehist *h, int64_t t)
{
    return t >> h->shift;
}

/* Counts an entry in bucket b, past the range: the ring moves up. */
void lg_agehist__add_above(lg_agehist *h, int64_t b);

/* Counts an entry in bucket b (nothing when b is below the range). */
static inline void lg_agehist__add_b(lg_agehist *h, int64_t b)
{
    if (b < h->lo)
        return;
    if (b > h->hi) {
        lg_agehist__add_above(h, b);
        return;
    }
    h->counts[(uint64_t)b & h->mask]++;
    h->total++;
}

/* Uncounts a live entry of bucket b (nothing when b has left the range). The checks
 * are debug assertions: this runs for nearly every attempt. */
static inline void lg_agehist__sub_b(lg_agehist *h, int64_t b)
{
    if (b < h->lo)
        return;
    lg_debug_assert(b <= h->hi);
    lg_debug_assert(h->counts[(uint64_t)b & h->mask] > 0);
    h->counts[(uint64_t)b & h->mask]--;
    h->total--;
}

/* Counts an entry at time t (when its bucket is in range, or above it). */
static inline void lg_agehist_add(lg_agehist *h, int64_t t)
{
    lg_agehist__add_b(h, lg_agehist_bucket(h, t));
}

/* Uncounts a live entry added at t (nothing when its bucket has left the range). */
static inline void lg_agehist_sub(lg_agehist *h, int64_t t)
{
    lg_agehist__sub_b(h, lg_agehist_bucket(h, t));
}

/* A live entry's time moves from t_old to t_new; nothing to do within one bucket. */
static inline void lg_agehist_move(lg_agehist *h, int64_t t_old, int64_t t_new)
{
    int64_t from = lg_agehist_bucket(h, t_old), to = lg_agehist_bucket(h, t_new);

    if (from == to)
        return;
    if (from >= h->lo && to <= h->hi) { /* nearly always: both in range, total unchanged */
        lg_debug_assert(h->counts[(uint64_t)from & h->mask] > 0);
        h->counts[(uint64_t)from & h->mask]--;
        h->counts[(uint64_t)to & h->mask]++;
        return;
    }
    lg_agehist__sub_b(h, from);
    lg_agehist__add_b(h, to);
}

/* Entries before t's bucket are no longer counted (they are idle): lo >= bucket(t). */
void lg_agehist_floor(lg_agehist *h, int64_t t);

/*
 * Drops the lowest non-empty counted bucket when it lies below the bucket of below_t, so
 * that its entries are the victims: *n gets how many it counted and *end_ms the last time
 * it covers (the owner treats entries with a time at or below it as absent). Returns
 * false, changing nothing, when every counted entry is in below_t's bucket or later.
 * Looks at mask + 1 buckets at most.
 */
bool lg_agehist_evict(lg_agehist *h, int64_t below_t, uint64_t *n, int64_t *end_ms);

#endif
