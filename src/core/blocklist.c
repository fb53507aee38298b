/*
 * blocklist.c - the API's local blocklist: a hash table split into 64 stripes, each a
 * chained table under its own mutex, so HTTP threads looking up different keys rarely
 * meet and the lg.blocks feeder only ever locks one stripe at a time.
 *
 * Keys are hashed with SipHash (libsodium crypto_shorthash) under a random per-table
 * key: user ids come from clients, and a fixed hash would let them pile into one chain.
 * The table holds at most entries_max blocks (an atomic count); a put on a full table
 * first sweeps expired entries (at most BLOCKLIST_SWEEP_MAX visited, resuming where the
 * last sweep stopped); when that frees nothing, it evicts the block ending soonest among
 * the entries of the next stripes it looks at (at least BLOCKLIST_SWEEP_MAX, whole
 * stripes), counted in lg_blocklist_evicted: a flood of blocks must not keep a new one
 * out of the cache. Permanent blocks are never evicted, nor one ending after the new
 * block does: then the put is refused with LG_EFULL, counted in lg_blocklist_refused.
 * Expired entries are also dropped when a lookup meets them.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/blocklist.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"

/* 64 stripes: with tens of HTTP threads on a few cores, two lookups share a lock
 * ~1/64 of the time; more stripes only cost memory. A power of two (top hash bits). */
#define BLOCKLIST_STRIPES 64
#define BLOCKLIST_STRIPE_BITS 6
/* Entries a full-table sweep may visit per put: bounds the stall of the feeder when the
 * table is full of live blocks (whole stripes are swept, so one stripe may exceed it). */
#define BLOCKLIST_SWEEP_MAX 4096
/* Smallest bucket array per stripe. */
#define BLOCKLIST_BUCKETS_MIN 16

_Static_assert((1 << BLOCKLIST_STRIPE_BITS) == BLOCKLIST_STRIPES, "stripes = 2^bits");

typedef struct bl_entry {
    struct bl_entry *next;
    uint64_t hash;
    lg_block b;
    size_t key_len;
    char key[]; /* key_len bytes + NUL */
} bl_entry;

typedef struct bl_stripe {
    _Alignas(64) pthread_mutex_t mu; /* own cache line: no false sharing of locks */
    bl_entry **buckets;
    size_t mask; /* buckets - 1 */
    size_t n;
} bl_stripe;

struct lg_blocklist {
    bl_stripe stripes[BLOCKLIST_STRIPES];
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    size_t entries_max;
    atomic_size_t count;
    atomic_uint_fast64_t refused;
    atomic_uint_fast64_t evicted;
    atomic_uint sweep_next; /* stripe where the next eviction sweep starts */
};

static uint64_t key_hash(const lg_blocklist *bl, const char *key, size_t key_len)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, (const unsigned char *)key, key_len, bl->hash_key);
    memcpy(&v, h, sizeof v);
    return v;
}

static bl_stripe *stripe_of(lg_blocklist *bl, uint64_t hash)
{
    return &bl->stripes[hash >> (64 - BLOCKLIST_STRIPE_BITS)];
}

static bool is_expired(const lg_block *b, int64_t now_ms)
{
    return b->until_ms != 0 && now_ms >= b->until_ms;
}

/* since <= now < until, until 0 = permanent */
static bool is_active(const lg_block *b, int64_t now_ms)
{
    return b->since_ms <= now_ms && !is_expired(b, now_ms);
}

/* The link that points at key's entry (or at the NULL ending its chain). Stripe locked. */
static bl_entry **find_link(bl_stripe *s, uint64_t hash, const char *key, size_t key_len)
{
    bl_entry **link = &s->buckets[hash & s->mask];
    while (*link != NULL) {
        bl_entry *e = *link;
        if (e->hash == hash && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
            return link;
        link = &e->next;
    }
    return link;
}

/* Unlinks *link's entry (stripe locked) and returns it for freeing outside the lock. */
static bl_entry *unlink_entry(lg_blocklist *bl, bl_stripe *s, bl_entry **link)
{
    bl_entry *e = *link;
    *link = e->next;
    lg_assert(s->n > 0);
    s->n--;
    atomic_fetch_sub(&bl->count, 1);
    return e;
}

int lg_blocklist_new(size_t entries_max, lg_blocklist **out)
{
    lg_assert(out != NULL);
    if (entries_max == 0 || entries_max > LG_KEYS_MAX_CAP)
        return LG_EINVAL;
    if (sodium_init() < 0)
        return LG_EIO;
    lg_blocklist *bl = aligned_alloc(64, sizeof *bl);
    if (bl == NULL)
        return LG_ENOMEM;
    memset(bl, 0, sizeof *bl);
    randombytes_buf(bl->hash_key, sizeof bl->hash_key);
    bl->entries_max = entries_max;
    atomic_init(&bl->count, 0);
    atomic_init(&bl->refused, 0);
    atomic_init(&bl->evicted, 0);
    atomic_init(&bl->sweep_next, 0);

    /* load factor <= 1 when keys spread evenly over the stripes */
    size_t buckets = BLOCKLIST_BUCKETS_MIN;
    while (buckets < entries_max / BLOCKLIST_STRIPES)
        buckets <<= 1;
    int i;
    for (i = 0; i < BLOCKLIST_STRIPES; i++) {
        bl_stripe *s = &bl->stripes[i];
        s->buckets = calloc(buckets, sizeof *s->buckets);
        if (s->buckets == NULL)
            goto fail_stripes;
        s->mask = buckets - 1;
        if (pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->buckets);
            goto fail_stripes;
        }
    }
    *out = bl;
    return 0;

fail_stripes:
    while (--i >= 0) {
        pthread_mutex_destroy(&bl->stripes[i].mu);
        free(bl->stripes[i].buckets);
    }
    free(bl);
    return LG_ENOMEM;
}

void lg_blocklist_free(lg_blocklist *bl)
{
    if (bl == NULL)
        return;
    for (int i = 0; i < BLOCKLIST_STRIPES; i++) {
        bl_stripe *s = &bl->stripes[i];
        for (size_t j = 0; j <= s->mask; j++) {
            bl_entry *e = s->buckets[j];
            while (e != NULL) {
                bl_entry *next = e->next;
                free(e);
                e = next;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    free(bl);
}

size_t lg_blocklist_expire(lg_blocklist *bl, int64_t now_ms, size_t visits_max)
{
    size_t removed = 0, visited = 0;
    unsigned start = atomic_load(&bl->sweep_next); /* racing sweepers: harmless overlap */

    /* whole stripes, starting one further each call, until the budget is spent */
    for (unsigned k = 0; k < BLOCKLIST_STRIPES && visited < visits_max; k++) {
        bl_stripe *s = &bl->stripes[(start + k) % BLOCKLIST_STRIPES];
        bl_entry *dead = NULL;
        pthread_mutex_lock(&s->mu);
        for (size_t j = 0; j <= s->mask && s->n > 0; j++) {
            bl_entry **link = &s->buckets[j];
            while (*link != NULL) {
                visited++;
                if (is_expired(&(*link)->b, now_ms)) {
                    bl_entry *e = unlink_entry(bl, s, link);
                    e->next = dead;
                    dead = e;
                    removed++;
                } else {
                    link = &(*link)->next;
                }
            }
        }
        pthread_mutex_unlock(&s->mu);
        while (dead != NULL) {
            bl_entry *next = dead->next;
            free(dead);
            dead = next;
        }
        atomic_store(&bl->sweep_next, (start + k + 1) % BLOCKLIST_STRIPES);
    }
    return removed;
}

/* Takes one slot of entries_max; false when the table is full. */
static bool reserve_slot(lg_blocklist *bl)
{
    size_t n = atomic_load(&bl->count);
    while (n < bl->entries_max) {
        if (atomic_compare_exchange_weak(&bl->count, &n, n + 1))
            return true;
    }
    return false;
}

/* Does block a end before b (a permanent block ends after every other)? */
static bool ends_before(const lg_block *a, const lg_block *b)
{
    return a->until_ms != 0 && (b->until_ms == 0 || a->until_ms < b->until_ms);
}

/* Evicts the block ending soonest among the entries of whole stripes, from where the
 * sweeps stopped, until about visits_max were seen; only one ending before b, the block
 * that wants its room. Returns whether one was evicted. The candidate is found under its
 * stripe's lock and removed under it again, if still there with the same end. */
static bool evict_soonest(lg_blocklist *bl, const lg_block *b, size_t visits_max)
{
    unsigned start = atomic_load(&bl->sweep_next);
    size_t visited = 0;
    bl_stripe *best_s = NULL;
    uint64_t best_hash = 0;
    int64_t best_until = 0;
    char best_key[LG_BLOCK_KEY_MAX + 1];
    size_t best_len = 0;

    for (unsigned k = 0; k < BLOCKLIST_STRIPES && visited < visits_max; k++) {
        bl_stripe *s = &bl->stripes[(start + k) % BLOCKLIST_STRIPES];
        pthread_mutex_lock(&s->mu);
        for (size_t j = 0; j <= s->mask && s->n > 0; j++) {
            for (bl_entry *e = s->buckets[j]; e != NULL; e = e->next) {
                visited++;
                if (ends_before(&e->b, b) && (best_s == NULL || e->b.until_ms < best_until)) {
                    best_s = s;
                    best_hash = e->hash;
                    best_until = e->b.until_ms;
                    best_len = e->key_len;
                    memcpy(best_key, e->key, e->key_len + 1);
                }
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (best_s == NULL)
        return false;
    bl_entry *dead = NULL;
    pthread_mutex_lock(&best_s->mu);
    bl_entry **link = find_link(best_s, best_hash, best_key, best_len);
    if (*link != NULL && (*link)->b.until_ms == best_until)
        dead = unlink_entry(bl, best_s, link);
    pthread_mutex_unlock(&best_s->mu);
    free(dead);
    if (dead != NULL)
        atomic_fetch_add(&bl->evicted, 1);
    return dead != NULL;
}

int lg_blocklist_put(lg_blocklist *bl, const lg_block *b)
{
    char key[LG_BLOCK_KEY_MAX + 1];

    lg_assert(bl != NULL);
    lg_assert(b != NULL);
    int key_len = lg_block_key(b, key, sizeof key);
    if (key_len < 0)
        return LG_EINVAL;
    uint64_t hash = key_hash(bl, key, (size_t)key_len);
    bl_stripe *s = stripe_of(bl, hash);
    bl_entry *fresh = malloc(sizeof *fresh + (size_t)key_len + 1);
    if (fresh == NULL)
        return LG_ENOMEM;

    /* three rounds: the second after sweeping expired entries out of a full table, the
     * third after evicting the block ending soonest (the new block's room may be taken
     * by another put meanwhile: then it is refused) */
    for (int round = 0; round < 3; round++) {
        pthread_mutex_lock(&s->mu);
        bl_entry **link = find_link(s, hash, key, (size_t)key_len);
        if (*link != NULL) {
            (*link)->b = *b; /* replace: the latest record on lg.blocks wins */
            pthread_mutex_unlock(&s->mu);
            free(fresh);
            return 0;
        }
        if (reserve_slot(bl)) {
            fresh->next = NULL;
            fresh->hash = hash;
            fresh->b = *b;
            fresh->key_len = (size_t)key_len;
            memcpy(fresh->key, key, (size_t)key_len + 1);
            *link = fresh;
            s->n++;
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        pthread_mutex_unlock(&s->mu);
        if (round == 0)
            lg_blocklist_expire(bl, lg_now_ms(), BLOCKLIST_SWEEP_MAX);
        else if (round == 1 && !evict_soonest(bl, b, BLOCKLIST_SWEEP_MAX))
            break;
    }
    free(fresh);
    atomic_fetch_add(&bl->refused, 1);
    return LG_EFULL;
}

void lg_blocklist_del(lg_blocklist *bl, const char *key, size_t key_len)
{
    lg_assert(bl != NULL);
    lg_assert(key != NULL || key_len == 0);
    if (key_len > LG_BLOCK_KEY_MAX)
        return;
    uint64_t hash = key_hash(bl, key, key_len);
    bl_stripe *s = stripe_of(bl, hash);
    bl_entry *dead = NULL;
    pthread_mutex_lock(&s->mu);
    bl_entry **link = find_link(s, hash, key, key_len);
    if (*link != NULL)
        dead = unlink_entry(bl, s, link);
    pthread_mutex_unlock(&s->mu);
    free(dead);
}

bool lg_blocklist_has(lg_blocklist *bl, const char *key, size_t key_len, int64_t now_ms,
                      lg_block *out)
{
    lg_assert(bl != NULL);
    lg_assert(key != NULL || key_len == 0);
    if (key_len > LG_BLOCK_KEY_MAX)
        return false; /* no such key can have been put */
    uint64_t hash = key_hash(bl, key, key_len);
    bl_stripe *s = stripe_of(bl, hash);
    bl_entry *dead = NULL;
    bool active = false;

    pthread_mutex_lock(&s->mu);
    bl_entry **link = find_link(s, hash, key, key_len);
    if (*link != NULL) {
        if (is_expired(&(*link)->b, now_ms)) {
            dead = unlink_entry(bl, s, link); /* lazy expiry */
        } else if (is_active(&(*link)->b, now_ms)) {
            active = true;
            if (out != NULL)
                *out = (*link)->b;
        }
        /* since in the future: kept, not yet active */
    }
    pthread_mutex_unlock(&s->mu);
    free(dead);
    return active;
}

void lg_blocklist_each_active(lg_blocklist *bl, int64_t now_ms, lg_blocklist_cb cb,
                              void *opaque)
{
    lg_assert(bl != NULL);
    lg_assert(cb != NULL);
    /* cb runs under the stripe lock: it must copy what it needs and not call back into
     * bl. Each stripe is a consistent snapshot; the whole list is not (puts go on). */
    for (int i = 0; i < BLOCKLIST_STRIPES; i++) {
        bl_stripe *s = &bl->stripes[i];
        pthread_mutex_lock(&s->mu);
        for (size_t j = 0; j <= s->mask && s->n > 0; j++) {
            for (bl_entry *e = s->buckets[j]; e != NULL; e = e->next) {
                if (is_active(&e->b, now_ms))
                    cb(opaque, &e->b);
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
}

size_t lg_blocklist_count(lg_blocklist *bl)
{
    return atomic_load(&bl->count);
}

uint64_t lg_blocklist_refused(lg_blocklist *bl)
{
    return atomic_load(&bl->refused);
}

uint64_t lg_blocklist_evicted(lg_blocklist *bl)
{
    return atomic_load(&bl->evicted);
}
