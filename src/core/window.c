/*
 * window.c - exact per-key sliding windows in a fixed table (see window.h for the model).
 *
 * Entry (struct lg_wentry in window.h): fingerprint, L, floor gap, |W| and offsets. Offsets and gap are below window_ms <= 24 h, so they
 * fit uint32; when L moves forward by delta every offset grows by delta and the gap
 * shrinks by it, members reaching B drop out. All differences of int64 timestamps are
 * taken as uint64 once ordered, so no ts value can overflow them.
 */
#include "core/window.h"

#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"
#include "core/limits.h"

/* While the table holds keys_max entries or more, some of them idle or evicted, each new
 * key sweeps this many more slots first: bounded work that frees them about as fast as
 * new keys come (1/64 of the slots dead is enough), so the slack past keys_max
 * (lg_keytab_slack_allow: 1/12 of keys_max) is never used up in practice. */
#define LG_WINDOW_SWEEP_ON_FULL 64

typedef struct lg_wentry wentry;

_Static_assert(sizeof(wentry) == 32, "window entry header is 32 bytes");
_Static_assert(LG_THRESHOLD_MAX - 1 <= UINT8_MAX, "|W| fits the n byte");
_Static_assert(LG_WINDOW_MS_MAX <= UINT32_MAX, "offsets fit uint32");

size_t lg_window_stride(uint32_t threshold)
{
    size_t s = sizeof(wentry) + sizeof(uint32_t) * (threshold - 1);
    return (s + 7) & ~(size_t)7;
}

int lg_window_init(lg_window *w, uint32_t threshold, int64_t window_ms, uint32_t keys_max,
                   bool huge_pages)
{
    if (threshold < 1 || threshold > LG_THRESHOLD_MAX || window_ms < 1 ||
        window_ms > LG_WINDOW_MS_MAX || keys_max == 0)
        return LG_EINVAL;
    memset(w, 0, sizeof *w);
    w->threshold = threshold;
    w->window_ms = window_ms;
    w->dead_ms = INT64_MIN;
    w->keys_max = keys_max;
    int rc = lg_agehist_init(&w->age, window_ms, keys_max);
    if (rc != 0)
        return rc;
    /* fixed size: entries never move, which lg_window_recheck relies on */
    rc = lg_keytab_init(&w->tab, lg_window_stride(threshold), keys_max, false, keys_max,
                        huge_pages);
    if (rc != 0) {
        lg_agehist_destroy(&w->age);
        return rc;
    }
    lg_keytab_slack_allow(&w->tab);
    return 0;
}

void lg_window_destroy(lg_window *w)
{
    if (w == NULL)
        return;
    lg_keytab_destroy(&w->tab);
    lg_agehist_destroy(&w->age);
}

static inline bool idle(const lg_window *w, int64_t last_ms, int64_t now_ms)
{
    return lg_window__idle(w, last_ms, now_ms);
}

/* A change to L drops a cached block record (it is cached as since = L): the record
 * still exists, so the hint stays "may exist". */
static inline void demote(wentry *e)
{
    if (e->block_hint == LG_WINDOW_HINT_CACHED)
        e->block_hint = LG_WINDOW_HINT_MAYBE;
}

lg_wentry *lg_window_find(const lg_window *w, lg_keyhash h)
{
    return lg_keytab_find(&w->tab, h);
}

/* Takes h's entry e (found by the caller); an idle one is reset in place to "no state"
 * (n = 0 and L = ts, gap 0: nothing counted, B = ts - window_ms) and reported through
 * *fresh, as is a missing one. A reset state is not counted in w->age yet: see admit. */
static wentry *lookup(lg_window *w, wentry *e, int64_t ts_ms, int64_t now_ms,
                      bool block_hint, bool *fresh)
{
    *fresh = e == NULL;
    if (e != NULL && idle(w, e->last_ms, now_ms)) {
        w->evicted += e->last_ms > w->dead_ms; /* evicted for room: counted already */
        *fresh = true;
    }
    if (e != NULL && *fresh) {
        e->last_ms = ts_ms;
        e->floor_gap = 0;
        e->n = 0;
        e->block_hint = block_hint;
    }
    return e;
}

/* Room for a new state at ts_ms: when keys_max states are alive, evicts the least
 * recently active ones (the oldest slice of L before ts_ms's), or refuses (false) when
 * none is older. Then counts the new state. */
static inline bool admit(lg_window *w, int64_t ts_ms, int64_t now_ms)
{
    uint64_t n;
    int64_t end_ms;

    if (w->age.total >= w->keys_max) {
        /* idle states need no room: stop counting their slices first (exact for every
         * slice wholly before now - window_ms + 1, the oldest L still alive) */
        if (now_ms > INT64_MIN + w->window_ms)
            lg_agehist_floor(&w->age, now_ms - w->window_ms + 1);
        while (w->age.total >= w->keys_max) {
            if (!lg_agehist_evict(&w->age, ts_ms, &n, &end_ms))
                return false;
            if (end_ms > w->dead_ms)
                w->dead_ms = end_ms;
            w->evicted_full += n;
        }
    }
    lg_agehist_add(&w->age, ts_ms);
    return true;
}

/* Inserts h as a new key with no state (L = ts_ms), admitted already. NULL when no slot
 * could be freed (the state is uncounted again). */
static wentry *insert(lg_window *w, lg_keyhash h, int64_t ts_ms, int64_t now_ms,
                      bool block_hint)
{
    void *slot = NULL;
    int rc;

    /* past keys_max entries some are idle or evicted: free a few of them first */
    if (w->tab.count >= w->keys_max)
        lg_window_sweep(w, now_ms, LG_WINDOW_SWEEP_ON_FULL);
    rc = lg_keytab_insert(&w->tab, h, &slot);
    if (rc == LG_EFULL && lg_window_sweep(w, now_ms, LG_WINDOW_SWEEP_ON_FULL) > 0)
        rc = lg_keytab_insert(&w->tab, h, &slot);
    if (rc != 0) {
        lg_agehist_sub(&w->age, ts_ms);
        return NULL;
    }
    wentry *e = slot;
    e->last_ms = ts_ms;
    e->block_hint = block_hint;
    return e;
}

/* A fresh state for h at ts_ms in e (reset by lookup) or in a new entry; NULL when
 * refused room, with e (dead) removed. */
static inline wentry *fresh_state(lg_window *w, lg_keyhash h, wentry *e, int64_t ts_ms,
                                  int64_t now_ms, bool block_hint)
{
    if (!admit(w, ts_ms, now_ms)) {
        if (e != NULL)
            lg_keytab_remove(&w->tab, e);
        return NULL;
    }
    return e != NULL ? e : insert(w, h, ts_ms, now_ms, block_hint);
}

lg_window_result lg_window_fail(lg_window *w, lg_keyhash h, lg_wentry *e, int64_t ts_ms,
                                int64_t now_ms, bool block_hint, int64_t *since_ms)
{
    bool fresh;

    lg_debug_assert(e == lg_keytab_find(&w->tab, h));
    e = lookup(w, e, ts_ms, now_ms, block_hint, &fresh);
    if (fresh && idle(w, ts_ms, now_ms)) {
        /* state made by this failure would be idle at once: nothing to keep, but it
         * counts, and alone it completes a threshold of 1 */
        if (e != NULL)
            lg_keytab_remove(&w->tab, e);
        if (w->threshold > 1)
            return LG_WINDOW_COUNTED;
        *since_ms = ts_ms;
        return LG_WINDOW_BLOCK;
    }
    if (fresh && (e = fresh_state(w, h, e, ts_ms, now_ms, block_hint)) == NULL)
        return LG_WINDOW_FULL;

    uint32_t off;
    if (ts_ms > e->last_ms) {
        lg_agehist_move(&w->age, e->last_ms, ts_ms);
        uint64_t delta = (uint64_t)ts_ms - (uint64_t)e->last_ms;
        uint32_t gap = e->floor_gap > delta ? e->floor_gap - (uint32_t)delta : 0;
        uint64_t keep_below = (uint64_t)w->window_ms - gap;
        unsigned k = 0;

        for (unsigned i = 0; i < e->n; i++) {
            uint64_t nd = e->d[i] + delta;
            if (nd < keep_below)
                e->d[k++] = (uint32_t)nd;
        }
        e->n = (uint8_t)k;
        e->floor_gap = gap;
        e->last_ms = ts_ms;
        demote(e);
        off = 0;
    } else {
        uint64_t back = (uint64_t)e->last_ms - (uint64_t)ts_ms;
        if (back >= (uint64_t)w->window_ms - e->floor_gap)
            return LG_WINDOW_LATE; /* ts <= B */
        off = (uint32_t)back;
    }
    if ((uint32_t)e->n + 1 >= w->threshold) {
        /* |W| reached threshold: block at L, and clear W as a success at L would */
        *since_ms = e->last_ms;
        e->n = 0;
        e->floor_gap = (uint32_t)w->window_ms;
        return LG_WINDOW_BLOCK;
    }
    e->d[e->n++] = off;
    return LG_WINDOW_COUNTED;
}

int lg_window_clear(lg_window *w, lg_keyhash h, lg_wentry *e, int64_t ts_ms,
                    int64_t now_ms, bool block_hint)
{
    bool fresh;

    lg_debug_assert(e == lg_keytab_find(&w->tab, h));
    e = lookup(w, e, ts_ms, now_ms, block_hint, &fresh);

    if (fresh) {
        if (idle(w, ts_ms, now_ms)) {
            /* a floor this old can never matter: no state needed */
            if (e != NULL)
                lg_keytab_remove(&w->tab, e);
            return 0;
        }
        if ((e = fresh_state(w, h, e, ts_ms, now_ms, block_hint)) == NULL)
            return LG_EFULL;
    }
    if (ts_ms >= e->last_ms) {
        if (ts_ms > e->last_ms) {
            lg_agehist_move(&w->age, e->last_ms, ts_ms);
            demote(e);
        }
        e->last_ms = ts_ms;
        e->n = 0;
        e->floor_gap = (uint32_t)w->window_ms;
        return 0;
    }
    uint64_t back = (uint64_t)e->last_ms - (uint64_t)ts_ms;
    if (back >= (uint64_t)w->window_ms - e->floor_gap)
        return 0; /* ts <= B already: nothing to drop */
    unsigned k = 0;
    for (unsigned i = 0; i < e->n; i++) {
        if (e->d[i] < back) /* member ts > the new floor */
            e->d[k++] = e->d[i];
    }
    e->n = (uint8_t)k;
    e->floor_gap = (uint32_t)((uint64_t)w->window_ms - back);
    return 0;
}

void lg_window_hint_set(lg_wentry *e, bool may_exist)
{
    if (e != NULL)
        e->block_hint = may_exist ? LG_WINDOW_HINT_MAYBE : LG_WINDOW_HINT_NONE;
}

void lg_window_block_cache(const lg_window *w, lg_wentry *e, int64_t since_ms,
                           int64_t until_ms)
{
    if (e == NULL)
        return;
    e->block_hint = LG_WINDOW_HINT_MAYBE;
    if (w->threshold < 2 || e->n != 0 || e->last_ms != since_ms)
        return; /* no d[0], or W or L are not what a block leaves */
    if (until_ms == 0) {
        e->d[0] = 0;
    } else {
        if (until_ms <= since_ms || (uint64_t)until_ms - (uint64_t)since_ms > UINT32_MAX)
            return;
        e->d[0] = (uint32_t)((uint64_t)until_ms - (uint64_t)since_ms);
    }
    e->block_hint = LG_WINDOW_HINT_CACHED;
}

uint32_t lg_window_sweep(lg_window *w, int64_t now_ms, uint32_t slots)
{
    size_t n_slots = lg_keytab_slots(&w->tab);
    uint32_t freed = 0;
    /* idle (window.h) is L <= now - window_ms, or L <= dead_ms: one compare per entry */
    int64_t idle_upto = now_ms >= INT64_MIN + w->window_ms ? now_ms - w->window_ms : INT64_MIN;
    int64_t cutoff = idle_upto > w->dead_ms ? idle_upto : w->dead_ms;

    if (w->tab.count == 0)
        return 0;
    /* a chunk at a time: slots stay [cursor, cursor + slots), wrapping; n_slots is a
     * whole number of chunks, so no step crosses the end */
    while (slots > 0) {
        size_t c = w->cursor / LG_KEYTAB_CHUNK_SLOTS;
        unsigned s = (unsigned)(w->cursor % LG_KEYTAB_CHUNK_SLOTS);
        unsigned take = LG_KEYTAB_CHUNK_SLOTS - s < slots ? LG_KEYTAB_CHUNK_SLOTS - s : slots;
        uint32_t used = (lg_keytab_chunk_used(&w->tab, c) >> s) & ((1u << take) - 1);

        while (used != 0) {
            wentry *e = lg_keytab_entry(&w->tab, w->cursor + (unsigned)__builtin_ctz(used));

            if (e->last_ms <= cutoff) {
                lg_debug_assert(idle(w, e->last_ms, now_ms));
                w->evicted += e->last_ms > w->dead_ms; /* evicted for room: counted */
                lg_keytab_remove(&w->tab, e);
                freed++;
            }
            used &= used - 1;
        }
        slots -= take;
        w->cursor = w->cursor + take == n_slots ? 0 : w->cursor + take;
    }
    return freed;
}
