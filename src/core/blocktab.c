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
/* While the tables hold keys_max records or more, some of them expired or evicted, each
 * new record sweeps this many more slots of each first (as window.c does for states). */
#define LG_BLOCKTAB_SWEEP_ON_FULL 64

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
    if (rc != 0) {
        lg_keytab_destroy(&bt->tab);
        return rc;
    }
    lg_keytab_slack_allow(&bt->tab);
    lg_keytab_slack_allow(&bt->wide);
    bt->keys_max = keys_max;
    bt->dead_ms = INT64_MIN;
    /* alive ends lie in (now - LG_ESCALATION_MS, since + LG_BLOCK_CAP_MS] */
    rc = lg_agehist_init(&bt->age, LG_ESCALATION_MS + LG_BLOCK_CAP_MS, keys_max);
    if (rc != 0) {
        lg_keytab_destroy(&bt->tab);
        lg_keytab_destroy(&bt->wide);
    }
    return rc;
}

void lg_blocktab_destroy(lg_blocktab *bt)
{
    if (bt == NULL)
        return;
    lg_keytab_destroy(&bt->tab);
    lg_keytab_destroy(&bt->wide);
    lg_agehist_destroy(&bt->age);
}

static int64_t narrow_until(const bentry *b)
{
    /* since + dur did not overflow when the record was coded (until > since then) */
    return b->dur_ms == 0 ? 0 : (int64_t)((uint64_t)b->since_ms + b->dur_ms);
}

/* Expired (kept until LG_ESCALATION_MS past its end; a permanent block has no end) or
 * evicted for room. */
static bool dead_at(const lg_blocktab *bt, int64_t until_ms, int64_t now_ms)
{
    return lg_blocktab_dead(bt, until_ms, now_ms);
}

/* Is r counted in bt->age: a block with an end, of at most a decided block's length? */
static bool aged(const lg_blocktab_rec *r)
{
    return r->until_ms != 0 && r->until_ms > r->since_ms &&
           (uint64_t)r->until_ms - (uint64_t)r->since_ms <= (uint64_t)LG_BLOCK_CAP_MS;
}

/* An alive record appears (count) or goes (uncount). */
static void count(lg_blocktab *bt, const lg_blocktab_rec *r)
{
    if (r->until_ms == 0)
        bt->permanent++;
    else if (aged(r))
        lg_agehist_add(&bt->age, r->until_ms);
}

static void uncount(lg_blocktab *bt, const lg_blocktab_rec *r)
{
    if (r->until_ms == 0) {
        lg_assert(bt->permanent > 0);
        bt->permanent--;
    } else if (aged(r)) {
        lg_agehist_sub(&bt->age, r->until_ms);
    }
}

/* Room for r, a key's new record: when keys_max records are alive, evicts the slice of
 * ends that matters least, repeatedly; false when none ends before r's slice (every
 * alive record is permanent, long, or ends as late as r). */
static bool admit(lg_blocktab *bt, const lg_blocktab_rec *r, int64_t now_ms)
{
    int64_t below = aged(r) ? r->until_ms : INT64_MAX;
    uint64_t n;
    int64_t end_ms;

    if (bt->age.total + bt->permanent < bt->keys_max)
        return true;
    /* expired records need no room: stop counting their slices first */
    if (now_ms > INT64_MIN + LG_ESCALATION_MS)
        lg_agehist_floor(&bt->age, now_ms - LG_ESCALATION_MS + 1);
    while (bt->age.total + bt->permanent >= bt->keys_max) {
        if (!lg_agehist_evict(&bt->age, below, &n, &end_ms))
            return false;
        if (end_ms > bt->dead_ms)
            bt->dead_ms = end_ms;
        bt->evicted += n;
    }
    return true;
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
            if (dead_at(bt, until, now_ms)) {
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
            if (dead_at(bt, w->until_ms, now_ms)) {
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
    return lg_blocktab_put(bt, h, &r, now_ms);
}

/* The record in entry e of table t. */
static lg_blocktab_rec rec_of(const lg_keytab *t, const void *e)
{
    lg_blocktab_rec r;

    if (t->stride == sizeof(bentry)) {
        const bentry *b = e;
        r = (lg_blocktab_rec){b->since_ms, narrow_until(b), b->level};
    } else {
        const wentry *w = e;
        r = (lg_blocktab_rec){w->since_ms, w->until_ms, w->level};
    }
    return r;
}

/* A new entry for h in `to`, freeing expired and evicted records first when the tables
 * hold keys_max or more. */
static int insert(lg_blocktab *bt, lg_keytab *to, lg_keyhash h, int64_t now_ms, void **slot)
{
    int rc;

    if (lg_blocktab_count(bt) >= bt->keys_max)
        lg_blocktab_sweep(bt, now_ms, LG_BLOCKTAB_SWEEP_ON_FULL);
    rc = lg_keytab_insert(to, h, slot);
    if (rc == LG_EFULL && lg_blocktab_sweep(bt, now_ms, LG_BLOCKTAB_SWEEP_ON_FULL) > 0)
        rc = lg_keytab_insert(to, h, slot);
    return rc;
}

int lg_blocktab_put(lg_blocktab *bt, lg_keyhash h, const lg_blocktab_rec *r, int64_t now_ms)
{
    bool narrow = narrow_fits(r);
    lg_keytab *to = narrow ? &bt->tab : &bt->wide, *other = narrow ? &bt->wide : &bt->tab;
    unsigned char *e = to->count > 0 ? lg_keytab_find(to, h) : NULL;
    void *old = other->count > 0 ? lg_keytab_find(other, h) : NULL;
    lg_blocktab_rec prev;
    bool had = false; /* h has an alive record, prev (a key is in one table at most) */

    if (e != NULL || old != NULL) {
        prev = e != NULL ? rec_of(to, e) : rec_of(other, old);
        had = !dead_at(bt, prev.until_ms, now_ms);
    }
    if (!had && !admit(bt, r, now_ms))
        return LG_EFULL;
    if (had)
        uncount(bt, &prev);
    count(bt, r);
    if (e == NULL) {
        void *slot = NULL;
        int rc;

        if (old != NULL)
            lg_keytab_remove(other, old); /* the key moves between the tables */
        rc = insert(bt, to, h, now_ms, &slot);
        if (rc != 0) {
            uncount(bt, r);
            return rc;
        }
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
    lg_keytab *tabs[2] = {&bt->tab, &bt->wide};
    bool alive = false;

    for (int i = 0; i < 2; i++) {
        void *e = tabs[i]->count > 0 ? lg_keytab_find(tabs[i], h) : NULL;

        if (e == NULL)
            continue;
        lg_blocktab_rec r = rec_of(tabs[i], e);
        if (!dead_at(bt, r.until_ms, now_ms)) {
            uncount(bt, &r);
            alive = true;
        }
        lg_keytab_remove(tabs[i], e);
    }
    return alive;
}

static int64_t until_of(const lg_keytab *t, const void *entry)
{
    return t->stride == sizeof(bentry) ? narrow_until(entry)
                                       : ((const wentry *)entry)->until_ms;
}

/* Looks at `slots` slots of t from *cursor, a chunk at a time, freeing dead records. */
static uint32_t sweep_tab(lg_blocktab *bt, lg_keytab *t, size_t *cursor, int64_t now_ms,
                          uint32_t slots)
{
    size_t n_slots = lg_keytab_slots(t);
    uint32_t freed = 0;
    /* dead (blocktab.h) is until != 0 and until <= now - LG_ESCALATION_MS or dead_ms */
    int64_t expired_upto = now_ms >= INT64_MIN + LG_ESCALATION_MS ? now_ms - LG_ESCALATION_MS
                                                                  : INT64_MIN;
    int64_t cutoff = expired_upto > bt->dead_ms ? expired_upto : bt->dead_ms;

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
            int64_t until = until_of(t, e);

            if (until != 0 && until <= cutoff) {
                lg_debug_assert(dead_at(bt, until, now_ms));
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
    return sweep_tab(bt, &bt->tab, &bt->cursor, now_ms, slots) +
           sweep_tab(bt, &bt->wide, &bt->wide_cursor, now_ms, slots);
}

uint32_t lg_blocktab_count(const lg_blocktab *bt)
{
    return bt->tab.count + bt->wide.count;
}

size_t lg_blocktab_bytes(const lg_blocktab *bt)
{
    return lg_keytab_bytes(&bt->tab) + lg_keytab_bytes(&bt->wide);
}
