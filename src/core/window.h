/*
 * window.h - one rule's exact sliding windows: per key, the counted failures of the last
 * window_ms of event time, in a fixed table (lg_keytab) sized for keys_max keys.
 *
 * Per key the state is L (the largest ts counted, or of the last clear when later), a
 * floor F (ts of the last success or block, failures at or before it never count) and
 * the set W of counted failures with ts > B = max(F, L - window_ms). A failure at t
 * counts iff t > B; it joins W, L becomes max(L, t), members at or below the new B leave.
 * Every member then lies in (L - window_ms, L], so any `threshold` of them span strictly
 * less than window_ms: the key blocks exactly when |W| reaches threshold, at since = L
 * (the largest ts among the failures completing it), and W is cleared as by a success at
 * since. Hence |W| <= threshold - 1 between calls: W is a ring of that many uint32
 * offsets L - t (< window_ms <= 24 h), so threshold 5 costs 48 bytes per key.
 *
 * Eviction is part of the semantics, so that it is exact whenever it happens: a key whose
 * L is window_ms or more behind the engine clock `now` (largest ts seen, or a low
 * watermark the engine's caller sets) has no state.
 * Lookups treat such entries as absent; lg_window_sweep frees them a few slots per call.
 *
 * Full table: at most keys_max keys have state. A new key that finds keys_max states
 * alive evicts the least recently active ones (smallest L), a whole 2^k ms slice of L
 * at a time (lg_agehist: no per-key links, no extra bytes per entry), by raising the
 * floor `dead_ms`: a key whose L is at or below it has no state either, exactly as if
 * idle. Only keys last active in a slice before the new key's ts are evicted; when every
 * state is as recent as that, the new key is refused (LG_WINDOW_FULL). Victims depend
 * only on the attempts judged, never on where keys sit in memory, so a replay of the
 * same attempts evicts the same keys. Block records live in the block table, so evicting
 * a blocked key's window state never lifts or shortens its block.
 */
#ifndef LG_WINDOW_H
#define LG_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/agehist.h"
#include "core/keyhash.h"
#include "core/keytab.h"

/* Entry: fingerprint, L, floor gap (B = L - window_ms + gap, 0 <= gap <= window_ms), |W|
 * and threshold - 1 offsets L - t; in the header only so that the hint test inlines. */
struct lg_wentry {
    lg_keyhash fp;
    int64_t last_ms;    /* L */
    uint32_t floor_gap; /* B = L - window_ms + floor_gap */
    uint8_t n;          /* |W| */
    uint8_t block_hint; /* LG_WINDOW_HINT_*: what the key's block record is */
    uint8_t pad[2];
    uint32_t d[];       /* L - t of each member, n of them, < window_ms - floor_gap */
};

typedef struct lg_window {
    lg_keytab tab;
    int64_t window_ms;
    int64_t dead_ms;  /* states with L <= dead_ms were evicted for room (INT64_MIN: none) */
    uint32_t threshold;
    uint32_t keys_max; /* states alive at most (tab holds slack for evicted ones) */
    size_t cursor;    /* next slot lg_window_sweep looks at */
    uint64_t evicted; /* idle states dropped (swept, reused or reset) */
    uint64_t evicted_full; /* states evicted for room (whole slices of L: see agehist.h) */
    lg_agehist age;   /* the alive states by L */
} lg_window;

typedef enum {
    LG_WINDOW_COUNTED = 0, /* joined the window, no block */
    LG_WINDOW_LATE = 1,    /* ts <= B: recorded by the caller, not counted */
    LG_WINDOW_FULL = 2,    /* a new key, refused room (see above): not counted */
    LG_WINDOW_BLOCK = 3,   /* completed `threshold` failures: *since_ms set, W cleared */
} lg_window_result;

/* threshold 1..LG_THRESHOLD_MAX, window_ms 1..LG_WINDOW_MS_MAX, keys_max >= 1;
 * huge_pages as lg_keytab_init. Returns 0, LG_EINVAL or LG_ENOMEM. */
int lg_window_init(lg_window *w, uint32_t threshold, int64_t window_ms, uint32_t keys_max,
                   bool huge_pages);
void lg_window_destroy(lg_window *w);

/* A key's entry as lg_window_find returns it (opaque): it may hold idle state, which
 * every call below treats as no state. Valid until the next call that changes this
 * window's table for another key (fail, clear or sweep); the engine finds each key's
 * entry once per attempt and passes it to the calls for that attempt. */
typedef struct lg_wentry lg_wentry;

/* h's entry, or NULL when h has none. */
lg_wentry *lg_window_find(const lg_window *w, lg_keyhash h);

/* e if it is still h's entry (entries never move, and a removed one loses its
 * fingerprint), else lg_window_find(w, h): for an entry found before other keys'
 * attempts changed the table. */
static inline lg_wentry *lg_window_recheck(const lg_window *w, lg_keyhash h, lg_wentry *e)
{
    if (e != NULL && lg_keyhash_eq(e->fp, h) && (h.lo | h.hi) != 0)
        return e;
    return lg_window_find(w, h);
}

/* Counts a failure at ts_ms for key h, whose entry is e (lg_window_find(w, h), NULL
 * included); now_ms is the engine clock, which a caller-driven clock may keep below
 * ts_ms (idleness is then simply not reached). block_hint initialises the hint of a
 * state this call creates (see below). */
lg_window_result lg_window_fail(lg_window *w, lg_keyhash h, lg_wentry *e, int64_t ts_ms,
                                int64_t now_ms, bool block_hint, int64_t *since_ms);

/* Clears h's window up to ts_ms: a success, or a block starting at ts_ms (decided here or
 * loaded). e as for lg_window_fail. Returns 0, or LG_EFULL when the key is new and the
 * table is full. */
int lg_window_clear(lg_window *w, lg_keyhash h, lg_wentry *e, int64_t ts_ms,
                    int64_t now_ms, bool block_hint);

/* Block hint, so that most attempts skip the block table: false only when e holds live
 * state whose hint says no block record exists for its key. A state gets the hint its
 * creator passes (what the caller's block table lookup just found); lg_window_hint_set
 * updates it (e may be NULL: nothing to do) when a record is made or found missing. A
 * stale "may exist" (record since expired or forgotten) costs only a lookup; "none" must
 * never be stale. */
static inline bool lg_window_hint(const lg_window *w, const lg_wentry *e, int64_t now_ms);
void lg_window_hint_set(lg_wentry *e, bool may_exist);

/* The hint's values. CACHED: the key's block record is since = L and until = L + d[0]
 * (d[0] = 0: permanent), so that the attempts of a blocked key, most of an attack, are
 * judged without the block table. It holds only while W is empty and L unchanged: a
 * block leaves W empty with L = since, and until the entry changes (which demotes it to
 * MAYBE) a failure or success at or before L changes nothing. The caller keeps it true:
 * every change to the key's record goes through lg_window_hint_set or
 * lg_window_block_cache, except expiry, which the reader checks itself. */
enum { LG_WINDOW_HINT_NONE = 0, LG_WINDOW_HINT_MAYBE = 1, LG_WINDOW_HINT_CACHED = 2 };

/* After the block table recorded since..until (until 0: permanent) for e's key: caches
 * it in e when it can (threshold >= 2, e's L is since with W empty, until - since fits
 * 32 bits), else sets the hint to MAYBE. e may be NULL. */
void lg_window_block_cache(const lg_window *w, lg_wentry *e, int64_t since_ms,
                           int64_t until_ms);

/* Is e live with a cached block record? Then *since_ms and *until_ms get it. */
static inline bool lg_window_block_cached(const lg_window *w, const lg_wentry *e,
                                          int64_t now_ms, int64_t *since_ms,
                                          int64_t *until_ms);

/* Looks at up to `slots` slots from the cursor and frees idle states; returns how many. */
uint32_t lg_window_sweep(lg_window *w, int64_t now_ms, uint32_t slots);

/* Has a state whose L is last_ms no effect any more at engine clock now_ms: idle, or
 * evicted for room? */
static inline bool lg_window__idle(const lg_window *w, int64_t last_ms, int64_t now_ms)
{
    return (now_ms > last_ms &&
            (uint64_t)now_ms - (uint64_t)last_ms >= (uint64_t)w->window_ms) ||
           last_ms <= w->dead_ms;
}

static inline bool lg_window_hint(const lg_window *w, const lg_wentry *e, int64_t now_ms)
{
    return e == NULL || e->block_hint != 0 || lg_window__idle(w, e->last_ms, now_ms);
}

static inline bool lg_window_block_cached(const lg_window *w, const lg_wentry *e,
                                          int64_t now_ms, int64_t *since_ms,
                                          int64_t *until_ms)
{
    if (e == NULL || e->block_hint != LG_WINDOW_HINT_CACHED ||
        lg_window__idle(w, e->last_ms, now_ms))
        return false;
    *since_ms = e->last_ms;
    /* as the block table decodes it: since + dur did not overflow when it was coded */
    *until_ms = e->d[0] == 0 ? 0 : (int64_t)((uint64_t)e->last_ms + e->d[0]);
    return true;
}

/* Entry bytes for a threshold (exposed for the bench and tests). */
size_t lg_window_stride(uint32_t threshold);

#endif
