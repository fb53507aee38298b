/*
 * agehist.c - counts by time bucket over a ring that moves up (see agehist.h).
 *
 * Bucket b lives in counts[b & mask], taken on the two's-complement value so that
 * consecutive buckets, negative ones included, take consecutive slots. A slot is zero
 * whenever its bucket is outside [lo, hi]: dropping a bucket zeroes it, and hi only
 * moves up after the buckets it would alias have been dropped.
 */
#include "core/agehist.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* The smallest shift whose buckets cover span_ms (plus two partial ones) in n. */
static unsigned shift_for(int64_t span_ms, uint64_t n)
{
    unsigned s = 0;

    while (((uint64_t)span_ms >> s) + 2 > n)
        s++;
    return s;
}

int lg_agehist_init(lg_agehist *h, int64_t span_ms, uint64_t entries_max)
{
    unsigned coarse = shift_for(span_ms, LG_AGEHIST_BUCKETS_MIN);
    unsigned finest = shift_for(span_ms, LG_AGEHIST_BUCKETS_MAX);
    unsigned fine = 0;
    uint64_t n = 1;

    lg_assert(span_ms > 0);
    memset(h, 0, sizeof *h);
    /* 2^fine <= entries_max / 1000 ms, at least 1 ms */
    while (fine < 62 && (UINT64_C(2) << fine) * 1000 <= entries_max)
        fine++;
    h->shift = fine < coarse ? fine : coarse;
    if (h->shift < finest)
        h->shift = finest;
    while (n < ((uint64_t)span_ms >> h->shift) + 2)
        n <<= 1;
    if (n < LG_AGEHIST_BUCKETS_MIN)
        n = LG_AGEHIST_BUCKETS_MIN;
    lg_assert(n <= LG_AGEHIST_BUCKETS_MAX);
    h->counts = calloc(n, sizeof *h->counts);
    if (h->counts == NULL)
        return LG_ENOMEM;
    h->mask = n - 1;
    /* one above the lowest bucket, so that hi = lo - 1 does not overflow (a time in
     * INT64_MIN's bucket is never counted) */
    h->lo = lg_agehist_bucket(h, INT64_MIN) + 1;
    h->hi = h->lo - 1;
    return 0;
}

void lg_agehist_destroy(lg_agehist *h)
{
    if (h == NULL)
        return;
    free(h->counts);
    h->counts = NULL;
}

/* Stops counting the buckets below new_lo. */
static void drop_below(lg_agehist *h, int64_t new_lo)
{
    if (new_lo <= h->lo)
        return;
    if (h->total > 0) {
        uint64_t steps = (uint64_t)new_lo - (uint64_t)h->lo;

        if (steps > h->mask) {
            memset(h->counts, 0, (h->mask + 1) * sizeof *h->counts);
            h->total = 0;
        } else {
            for (int64_t b = h->lo; b < new_lo && b <= h->hi; b++) {
                h->total -= h->counts[(uint64_t)b & h->mask];
                h->counts[(uint64_t)b & h->mask] = 0;
            }
        }
    }
    h->lo = new_lo;
    if (h->hi < new_lo - 1)
        h->hi = new_lo - 1;
}

void lg_agehist__add_above(lg_agehist *h, int64_t b)
{
    lg_assert(b > h->hi);
    lg_assert(b >= h->lo);
    /* the ring moves up: first drop what the new buckets would alias */
    drop_below(h, b - (int64_t)h->mask);
    h->hi = b;
    h->counts[(uint64_t)b & h->mask]++;
    h->total++;
}

void lg_agehist_floor(lg_agehist *h, int64_t t)
{
    drop_below(h, lg_agehist_bucket(h, t));
}

bool lg_agehist_evict(lg_agehist *h, int64_t below_t, uint64_t *n, int64_t *end_ms)
{
    int64_t limit = lg_agehist_bucket(h, below_t);

    lg_assert(n != NULL && end_ms != NULL);
    for (int64_t b = h->lo; b <= h->hi && b < limit; b++) {
        uint32_t c = h->counts[(uint64_t)b & h->mask];

        if (c == 0)
            continue;
        *n = c;
        /* the last ms of bucket b; shifted as unsigned: b may be negative */
        *end_ms = (int64_t)(((uint64_t)b << h->shift) | ((UINT64_C(1) << h->shift) - 1));
        drop_below(h, b + 1);
        return true;
    }
    return false;
}
