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

typedef struct bentry {
    lg_keyhash fp;
    int64_t since_ms;
    int64_t until_ms;
    uint32_t level;
    uint32_t pad;
} bentry;

_Static_assert(sizeof(bentry) == 40, "block entry is 40 bytes");

int lg_blocktab_init(lg_blocktab *bt, uint32_t keys_max)
{
    memset(bt, 0, sizeof *bt);
    return lg_keytab_init(&bt->tab, sizeof(bentry), keys_max, true, LG_BLOCKTAB_KEYS_INIT);
}

void lg_blocktab_destroy(lg_blocktab *bt)
{
    if (bt != NULL)
        lg_keytab_destroy(&bt->tab);
}

/* Kept until LG_ESCALATION_MS past its end; a permanent block has no end. */
static bool expired(const bentry *b, int64_t now_ms)
{
    return b->until_ms != 0 && now_ms > b->until_ms &&
           (uint64_t)now_ms - (uint64_t)b->until_ms >= (uint64_t)LG_ESCALATION_MS;
}

bool lg_blocktab_get(lg_blocktab *bt, lg_keyhash h, int64_t now_ms, lg_blocktab_rec *out)
{
    bentry *b;

    if (bt->tab.count == 0)
        return false;
    b = lg_keytab_find(&bt->tab, h);
    if (b == NULL)
        return false;
    if (expired(b, now_ms)) {
        lg_keytab_remove(&bt->tab, b);
        return false;
    }
    out->since_ms = b->since_ms;
    out->until_ms = b->until_ms;
    out->level = b->level;
    return true;
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
    bentry *b = bt->tab.count > 0 ? lg_keytab_find(&bt->tab, h) : NULL;

    if (b == NULL) {
        void *slot = NULL;
        int rc = lg_keytab_insert(&bt->tab, h, &slot);
        if (rc != 0)
            return rc;
        b = slot;
    }
    b->since_ms = r->since_ms;
    b->until_ms = r->until_ms;
    b->level = r->level;
    return 0;
}

bool lg_blocktab_forget(lg_blocktab *bt, lg_keyhash h, int64_t now_ms)
{
    bentry *b = bt->tab.count > 0 ? lg_keytab_find(&bt->tab, h) : NULL;

    if (b == NULL)
        return false;
    bool alive = !expired(b, now_ms);
    lg_keytab_remove(&bt->tab, b);
    return alive;
}

uint32_t lg_blocktab_sweep(lg_blocktab *bt, int64_t now_ms, uint32_t slots)
{
    size_t n_slots = lg_keytab_slots(&bt->tab);
    uint32_t freed = 0;

    if (bt->tab.count == 0)
        return 0;
    /* a chunk at a time over slots [cursor, cursor + slots), as lg_window_sweep */
    while (slots > 0) {
        if (bt->cursor >= n_slots)
            bt->cursor = 0; /* the cursor wrapped (the table only ever grows) */
        size_t c = bt->cursor / LG_KEYTAB_CHUNK_SLOTS;
        unsigned s = (unsigned)(bt->cursor % LG_KEYTAB_CHUNK_SLOTS);
        unsigned take = LG_KEYTAB_CHUNK_SLOTS - s < slots ? LG_KEYTAB_CHUNK_SLOTS - s : slots;
        uint32_t used = (lg_keytab_chunk_used(&bt->tab, c) >> s) & ((1u << take) - 1);

        while (used != 0) {
            bentry *b = lg_keytab_entry(&bt->tab, bt->cursor + (unsigned)__builtin_ctz(used));

            if (expired(b, now_ms)) {
                lg_keytab_remove(&bt->tab, b);
                freed++;
            }
            used &= used - 1;
        }
        slots -= take;
        bt->cursor += take;
    }
    return freed;
}
