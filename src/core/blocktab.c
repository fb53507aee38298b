/*
 * blocktab.c - last block per key and the escalation rule (see blocktab.h).
 */
#include "core/blocktab.h"

#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"
#include "core/limits.h"

/* Room for this many records before the first doubling: most engines see few blocks. */
#define LG_BLOCKTAB_KEYS_INIT 1024

/* a record whose until is since + dur (dur 1..UINT32_MAX) or 0 (dur 0: permanent) */
typedef struct bentry {
    lg_keyhash fp;
    int64_t since_ms;
    uint32_t level;
    uint32_t dur_ms;
} bentry;

/* any other record (see blocktab.h) */
typedef struct wentry {
    lg_keyhash fp;
    int64_t since_ms;
    int64_t until_ms;
    uint32_t level;
    uint32_t pad;
} wentry;

_Static_assert(sizeof(bentry) == 32, "block entry is 32 bytes");
_Static_assert(sizeof(wentry) == 40, "wide block entry is 40 bytes");

/* The wide table starts this small: only loaded blocks of unusual length land there. */
#define LG_BLOCKTAB_WIDE_INIT 12

int lg_blocktab_init(lg_blocktab *bt, uint32_t keys_max, bool huge_pages)
{
    int rc;

    memset(bt, 0, sizeof *bt);
    rc = lg_keytab_init(&bt->tab, sizeof(bentry), keys_max, true, LG_BLOCKTAB_KEYS_INIT,
                        huge_pages);
    if (rc != 0)
        return rc;
    rc = lg_keytab_init(&bt->wide, sizeof(wentry), keys_max, true, LG_BLOCKTAB_WIDE_INIT,
                        huge_pages);
    if (rc != 0)
        lg_keytab_destroy(&bt->tab);
    return rc;
}

void lg_blocktab_destroy(lg_blocktab *bt)
{
    if (bt == NULL)
        return;
    lg_keytab_destroy(&bt->tab);
    lg_keytab_destroy(&bt->wide);
}

static int64_t narrow_until(const bentry *b)
{
    /* since + dur did not overflow when the record was coded (until > since then) */
    return b->dur_ms == 0 ? 0 : (int64_t)((uint64_t)b->since_ms + b->dur_ms);
}

/* Kept until LG_ESCALATION_MS past its end; a permanent block has no end. */
static bool expired_at(int64_t until_ms, int64_t now_ms)
{
    return lg_blocktab_expired(until_ms, now_ms);
}

/* Can r be kept as a 32-byte record? */
static bool narrow_fits(const lg_blocktab_rec *r)
{
    return r->until_ms == 0 ||
           (r->until_ms > r->since_ms &&
            (uint64_t)r->until_ms - (uint64_t)r->since_ms <= (uint64_t)UINT32_MAX);
}

bool lg_blocktab_get(lg_blocktab *bt, lg_keyhash h, int64_t now_ms, lg_blocktab_rec *out)
{
    if (bt->tab.count > 0) {
        bentry *b = lg_keytab_find(&bt->tab, h);
        if (b != NULL) {
            int64_t until = narrow_until(b);
            if (expired_at(until, now_ms)) {
                lg_keytab_remove(&bt->tab, b);
                return false;
            }
            out->since_ms = b->since_ms;
            out->until_ms = until;
            out->level = b->level;
            return true;
        }
    }
    if (bt->wide.count > 0) {
        wentry *w = lg_keytab_find(&bt->wide, h);
        if (w != NULL) {
            if (expired_at(w->until_ms, now_ms)) {
                lg_keytab_remove(&bt->wide, w);
                return false;
            }
            out->since_ms = w->since_ms;
            out->until_ms = w->until_ms;
            out->level = w->level;
            return true;
        }
    }
    return false;
}

int64_t lg_blocktab_duration_ms(int64_t block_for_ms, uint32_t level)
{
    int64_t d = block_for_ms;

    lg_assert(block_for_ms >= 0);
    lg_assert(level >= 1);
    if (d == 0)
        return 0;
    if (d >= LG_BLOCK_CAP_MS)
        return LG_BLOCK_CAP_MS;
    /* double level - 1 times, stopping at the cap: never overflows, at most 63 steps */
    for (uint32_t i = 1; i < level; i++) {
        if (d >= LG_BLOCK_CAP_MS / 2)
            return LG_BLOCK_CAP_MS;
        d *= 2;
    }
    return d;
}

int lg_blocktab_decide(lg_blocktab *bt, lg_keyhash h, int64_t since_ms, int64_t block_for_ms,
                       int64_t now_ms, lg_blocktab_rec *out)
{
    lg_blocktab_rec prev, r;
    int64_t d;

    r.level = 1;
    /* "began less than 24 h before this one": since - prev.since < LG_ESCALATION_MS */
    if (lg_blocktab_get(bt, h, now_ms, &prev) &&
        (since_ms <= prev.since_ms ||
         (uint64_t)since_ms - (uint64_t)prev.since_ms < (uint64_t)LG_ESCALATION_MS))
        r.level = prev.level == UINT32_MAX ? UINT32_MAX : prev.level + 1;
    d = lg_blocktab_duration_ms(block_for_ms, r.level);
    r.since_ms = since_ms;
    if (d == 0)
        r.until_ms = 0;
    else if (since_ms > INT64_MAX - d)
        r.until_ms = INT64_MAX; /* beyond any representable time: effectively forever */
    else
        r.until_ms = since_ms + d;
    if (r.until_ms == 0 && d != 0)
        r.until_ms = 1; /* since = -d: until 0 would read as permanent */
    *out = r;
    return lg_blocktab_put(bt, h, &r);
}

int lg_blocktab_put(lg_blocktab *bt, lg_keyhash h, const lg_blocktab_rec *r)
{
    bool narrow = narrow_fits(r);
    lg_keytab *to = narrow ? &bt->tab : &bt->wide, *other = narrow ? &bt->wide : &bt->tab;
    unsigned char *e = to->count > 0 ? lg_keytab_find(to, h) : NULL;
    void *old = other->count > 0 ? lg_keytab_find(other, h) : NULL;

    if (e == NULL) {
        void *slot = NULL;
        int rc;

        /* keys_max bounds the records of both tables together */
        if (old == NULL && lg_blocktab_count(bt) >= bt->tab.keys_max)
            return LG_EFULL;
        if (old != NULL)
            lg_keytab_remove(other, old); /* the key moves between the tables */
        rc = lg_keytab_insert(to, h, &slot);
        if (rc != 0)
            return rc;
        e = slot;
    }
    if (narrow) {
        bentry *b = (bentry *)(void *)e;
        b->since_ms = r->since_ms;
        b->dur_ms = r->until_ms == 0 ? 0
                                     : (uint32_t)((uint64_t)r->until_ms - (uint64_t)r->since_ms);
        b->level = r->level;
    } else {
        wentry *w = (wentry *)(void *)e;
        w->since_ms = r->since_ms;
        w->until_ms = r->until_ms;
        w->level = r->level;
    }
    return 0;
}

bool lg_blocktab_forget(lg_blocktab *bt, lg_keyhash h, int64_t now_ms)
{
    bentry *b = bt->tab.count > 0 ? lg_keytab_find(&bt->tab, h) : NULL;
    wentry *w = bt->wide.count > 0 ? lg_keytab_find(&bt->wide, h) : NULL;
    bool alive = false;

    if (b != NULL) {
        alive = !expired_at(narrow_until(b), now_ms);
        lg_keytab_remove(&bt->tab, b);
    }
    if (w != NULL) {
        alive = alive || !expired_at(w->until_ms, now_ms);
        lg_keytab_remove(&bt->wide, w);
    }
    return alive;
}

static int64_t until_of(const lg_keytab *t, const void *entry)
{
    return t->stride == sizeof(bentry) ? narrow_until(entry)
                                       : ((const wentry *)entry)->until_ms;
}

/* Looks at `slots` slots of t from *cursor, a chunk at a time, freeing expired records. */
static uint32_t sweep_tab(lg_keytab *t, size_t *cursor, int64_t now_ms, uint32_t slots)
{
    size_t n_slots = lg_keytab_slots(t);
    uint32_t freed = 0;

    if (t->count == 0)
        return 0;
    while (slots > 0) {
        if (*cursor >= n_slots)
            *cursor = 0; /* the cursor wrapped (the table only ever grows) */
        size_t c = *cursor / LG_KEYTAB_CHUNK_SLOTS;
        unsigned s = (unsigned)(*cursor % LG_KEYTAB_CHUNK_SLOTS);
        unsigned take = LG_KEYTAB_CHUNK_SLOTS - s < slots ? LG_KEYTAB_CHUNK_SLOTS - s : slots;
        uint32_t used = (lg_keytab_chunk_used(t, c) >> s) & ((1u << take) - 1);

        while (used != 0) {
            void *e = lg_keytab_entry(t, *cursor + (unsigned)__builtin_ctz(used));

            if (expired_at(until_of(t, e), now_ms)) {
                lg_keytab_remove(t, e);
                freed++;
            }
            used &= used - 1;
        }
        slots -= take;
        *cursor += take;
    }
    return freed;
}

uint32_t lg_blocktab_sweep(lg_blocktab *bt, int64_t now_ms, uint32_t slots)
{
    return sweep_tab(&bt->tab, &bt->cursor, now_ms, slots) +
           sweep_tab(&bt->wide, &bt->wide_cursor, now_ms, slots);
}

uint32_t lg_blocktab_count(const lg_blocktab *bt)
{
    return bt->tab.count + bt->wide.count;
}

size_t lg_blocktab_bytes(const lg_blocktab *bt)
{
    return lg_keytab_bytes(&bt->tab) + lg_keytab_bytes(&bt->wide);
}
