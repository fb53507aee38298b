/*
 * gate.c - the admission gate of gate.h: a per-user mirror of rule user in set-associative
 * buckets of LG_GATE_WAYS entries, one lock per stripe of buckets.
 */
#include "core/gate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/keyhash.h"
#include "core/lgassert.h"

/* locks per gate: enough that 200 connections on 2..64 cores rarely share one */
#define GATE_STRIPES 256

typedef struct gate_entry {
    lg_keyhash h;
    int64_t last_active_ms;
    int64_t last_ts_ms;      /* the last stamp given: stamps increase strictly */
    int64_t floor_ms;        /* failures at or before it never count (success, block) */
    int64_t pending_since_ms; /* the block the mirror decided; 0 = none */
    int64_t fails[LG_GATE_FAILS_MAX]; /* ascending, each > floor_ms */
    uint16_t inflight;
    uint8_t n_fails;
    bool used;
} gate_entry;

typedef struct gate_stripe {
    pthread_mutex_t lock;
    char pad[64 - sizeof(pthread_mutex_t) % 64]; /* one lock per cache line */
} gate_stripe;

struct lg_gate {
    lg_gate_conf conf;
    lg_keyhash_secret secret;
    size_t n_buckets; /* a power of two */
    gate_entry *entries; /* n_buckets * LG_GATE_WAYS */
    gate_stripe stripes[GATE_STRIPES];
    _Atomic uint64_t admitted, refused, pending_blocks, evicted, ungated;
};

int lg_gate_new(const lg_gate_conf *conf, lg_gate **out)
{
    lg_gate *g;
    size_t want;
    int rc;

    lg_assert(conf != NULL && out != NULL);
    if (conf->threshold < 1 || conf->threshold > LG_GATE_FAILS_MAX || conf->window_ms < 1 ||
        conf->block_for_ms < 0)
        return LG_EINVAL;
    g = calloc(1, sizeof *g);
    if (g == NULL)
        return LG_ENOMEM;
    g->conf = *conf;
    want = conf->entries_max == 0 ? LG_GATE_ENTRIES_MAX : conf->entries_max;
    g->n_buckets = 1;
    while (g->n_buckets * LG_GATE_WAYS < want)
        g->n_buckets <<= 1;
    g->entries = calloc(g->n_buckets * LG_GATE_WAYS, sizeof *g->entries);
    if (g->entries == NULL) {
        rc = LG_ENOMEM;
        goto fail_free;
    }
    rc = lg_keyhash_secret_random(&g->secret);
    if (rc != 0)
        goto fail_free_entries;
    for (size_t i = 0; i < GATE_STRIPES; i++)
        pthread_mutex_init(&g->stripes[i].lock, NULL);
    *out = g;
    return 0;

fail_free_entries:
    free(g->entries);
fail_free:
    free(g);
    return rc;
}

void lg_gate_free(lg_gate *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < GATE_STRIPES; i++)
        pthread_mutex_destroy(&g->stripes[i].lock);
    free(g->entries);
    free(g);
}

/* --- one user's mirror (the caller holds its stripe) -------------------------------- */

static bool pending_covers(const lg_gate *g, const gate_entry *e, int64_t ts_ms)
{
    if (e->pending_since_ms == 0 || ts_ms < e->pending_since_ms)
        return false;
    return g->conf.block_for_ms == 0 || ts_ms < e->pending_since_ms + g->conf.block_for_ms;
}

/* At admission: a pending block stamped a hair ahead of this thread's clock read counts
 * too (stamps may run ahead of the wall clock). */
static bool pending_active(const lg_gate *g, const gate_entry *e, int64_t now_ms)
{
    if (e->pending_since_ms == 0)
        return false;
    return g->conf.block_for_ms == 0 || now_ms < e->pending_since_ms + g->conf.block_for_ms;
}

static int64_t pending_until(const lg_gate *g, const gate_entry *e)
{
    return g->conf.block_for_ms == 0 ? 0 : e->pending_since_ms + g->conf.block_for_ms;
}

static uint32_t fails_within(const lg_gate *g, const gate_entry *e, int64_t now_ms)
{
    uint32_t n = 0;

    for (uint32_t i = e->n_fails; i > 0 && e->fails[i - 1] > now_ms - g->conf.window_ms; i--)
        n++;
    return n;
}

/* Can the entry be reused? Nothing in flight, no block pending, no failure that may
 * still count. */
static bool entry_idle(const lg_gate *g, const gate_entry *e, int64_t now_ms)
{
    return !e->used || (e->inflight == 0 && !pending_active(g, e, now_ms) &&
                        fails_within(g, e, now_ms) == 0);
}

static void raise_floor(gate_entry *e, int64_t floor_ms)
{
    uint32_t drop = 0;

    if (floor_ms <= e->floor_ms)
        return;
    e->floor_ms = floor_ms;
    while (drop < e->n_fails && e->fails[drop] <= floor_ms)
        drop++;
    memmove(e->fails, e->fails + drop, (e->n_fails - drop) * sizeof e->fails[0]);
    e->n_fails = (uint8_t)(e->n_fails - drop);
}

/* A failure at ts: kept in order, the newest threshold of them; when they span less than
 * the window the mirror decides the block, as the detector does (since = the largest). */
static void record_fail(lg_gate *g, gate_entry *e, int64_t ts_ms)
{
    uint32_t t = g->conf.threshold, i;

    if (ts_ms <= e->floor_ms)
        return;
    if (e->n_fails == t) {
        if (ts_ms <= e->fails[0])
            return; /* older than every failure that can still combine */
        memmove(e->fails, e->fails + 1, (t - 1) * sizeof e->fails[0]);
        e->n_fails--;
    }
    for (i = e->n_fails; i > 0 && e->fails[i - 1] > ts_ms; i--)
        e->fails[i] = e->fails[i - 1];
    e->fails[i] = ts_ms;
    e->n_fails++;
    if (e->n_fails == t && e->fails[t - 1] - e->fails[0] < g->conf.window_ms) {
        e->pending_since_ms = e->fails[t - 1];
        raise_floor(e, e->pending_since_ms); /* a block clears the window at since */
        atomic_fetch_add_explicit(&g->pending_blocks, 1, memory_order_relaxed);
    }
}

static void record(lg_gate *g, gate_entry *e, bool ok, int64_t ts_ms)
{
    if (!ok)
        record_fail(g, e, ts_ms);
    else if (g->conf.reset_on_success)
        raise_floor(e, ts_ms);
}

/* --- the table ---------------------------------------------------------------------- */

static pthread_mutex_t *lock_of(lg_gate *g, lg_keyhash h, gate_entry **bucket)
{
    size_t b = (size_t)(h.lo & (g->n_buckets - 1));

    *bucket = &g->entries[b * LG_GATE_WAYS];
    return &g->stripes[b % GATE_STRIPES].lock;
}

static gate_entry *find(gate_entry *bucket, lg_keyhash h)
{
    for (size_t i = 0; i < LG_GATE_WAYS; i++) {
        gate_entry *e = &bucket[i];
        if (e->used && e->h.lo == h.lo && e->h.hi == h.hi)
            return e;
    }
    return NULL;
}

/* The entry of h, made when absent: an idle way, else the least recently active way
 * with nothing in flight (evicted), else NULL (every way is checking a password). */
static gate_entry *find_or_make(lg_gate *g, gate_entry *bucket, lg_keyhash h, int64_t now_ms)
{
    gate_entry *e = find(bucket, h), *victim = NULL;

    if (e != NULL)
        return e;
    for (size_t i = 0; i < LG_GATE_WAYS; i++) {
        gate_entry *c = &bucket[i];
        if (entry_idle(g, c, now_ms)) {
            victim = c;
            break;
        }
        if (c->inflight == 0 &&
            (victim == NULL || c->last_active_ms < victim->last_active_ms))
            victim = c;
    }
    if (victim == NULL)
        return NULL;
    if (!entry_idle(g, victim, now_ms))
        atomic_fetch_add_explicit(&g->evicted, 1, memory_order_relaxed);
    memset(victim, 0, sizeof *victim);
    victim->h = h;
    victim->used = true;
    return victim;
}

lg_gate_verdict lg_gate_admit(lg_gate *g, const char *user, size_t user_len, int64_t now_ms,
                              int64_t *until_ms)
{
    lg_keyhash h = lg_keyhash_of(&g->secret, user, user_len);
    gate_entry *bucket, *e;
    pthread_mutex_t *lock = lock_of(g, h, &bucket);
    lg_gate_verdict v = LG_GATE_ADMIT;

    pthread_mutex_lock(lock);
    e = find_or_make(g, bucket, h, now_ms);
    if (e == NULL) {
        v = LG_GATE_OFF;
    } else if (pending_active(g, e, now_ms)) {
        *until_ms = pending_until(g, e);
        v = LG_GATE_REFUSE;
    } else if (fails_within(g, e, now_ms) + e->inflight >= g->conf.threshold) {
        /* the checks in flight may complete the block: ask again in a second */
        *until_ms = now_ms + 1000;
        v = LG_GATE_REFUSE;
    } else {
        e->inflight++;
        e->last_active_ms = now_ms;
    }
    pthread_mutex_unlock(lock);
    if (v == LG_GATE_ADMIT)
        atomic_fetch_add_explicit(&g->admitted, 1, memory_order_relaxed);
    else if (v == LG_GATE_REFUSE)
        atomic_fetch_add_explicit(&g->refused, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&g->ungated, 1, memory_order_relaxed);
    return v;
}

bool lg_gate_complete(lg_gate *g, const char *user, size_t user_len, bool ok, int64_t now_ms,
                      int64_t *ts_ms, int64_t *until_ms)
{
    lg_keyhash h = lg_keyhash_of(&g->secret, user, user_len);
    gate_entry *bucket, *e;
    pthread_mutex_t *lock = lock_of(g, h, &bucket);
    bool stands = true;

    pthread_mutex_lock(lock);
    e = find(bucket, h);
    lg_assert(e != NULL && e->inflight > 0); /* admitted: not evictable until now */
    e->inflight--;
    *ts_ms = now_ms > e->last_ts_ms ? now_ms : e->last_ts_ms + 1;
    e->last_ts_ms = *ts_ms;
    e->last_active_ms = now_ms;
    if (pending_covers(g, e, *ts_ms)) {
        *until_ms = pending_until(g, e);
        stands = false;
    } else {
        record(g, e, ok, *ts_ms);
    }
    pthread_mutex_unlock(lock);
    return stands;
}

void lg_gate_release(lg_gate *g, const char *user, size_t user_len)
{
    lg_keyhash h = lg_keyhash_of(&g->secret, user, user_len);
    gate_entry *bucket, *e;
    pthread_mutex_t *lock = lock_of(g, h, &bucket);

    pthread_mutex_lock(lock);
    e = find(bucket, h);
    lg_assert(e != NULL && e->inflight > 0);
    e->inflight--;
    pthread_mutex_unlock(lock);
}

bool lg_gate_report(lg_gate *g, const char *user, size_t user_len, bool ok, int64_t ts_ms,
                    int64_t now_ms, int64_t *until_ms)
{
    lg_keyhash h = lg_keyhash_of(&g->secret, user, user_len);
    gate_entry *bucket, *e;
    pthread_mutex_t *lock = lock_of(g, h, &bucket);
    bool stands = true;

    pthread_mutex_lock(lock);
    e = (ok || ts_ms > now_ms - g->conf.window_ms) ? find_or_make(g, bucket, h, now_ms)
                                                   : find(bucket, h);
    if (e != NULL) {
        e->last_active_ms = now_ms;
        if (pending_covers(g, e, ts_ms)) {
            *until_ms = pending_until(g, e);
            stands = false;
        } else {
            record(g, e, ok, ts_ms);
        }
    }
    pthread_mutex_unlock(lock);
    if (!stands)
        atomic_fetch_add_explicit(&g->refused, 1, memory_order_relaxed);
    return stands;
}

void lg_gate_forget(lg_gate *g, const char *user, size_t user_len)
{
    lg_keyhash h = lg_keyhash_of(&g->secret, user, user_len);
    gate_entry *bucket, *e;
    pthread_mutex_t *lock = lock_of(g, h, &bucket);

    pthread_mutex_lock(lock);
    e = find(bucket, h);
    if (e != NULL) {
        e->pending_since_ms = 0;
        e->n_fails = 0;
        e->floor_ms = e->last_ts_ms; /* failures stamped before the unblock are history */
    }
    pthread_mutex_unlock(lock);
}

void lg_gate_stats_get(lg_gate *g, lg_gate_stats *out)
{
    out->admitted = atomic_load_explicit(&g->admitted, memory_order_relaxed);
    out->refused = atomic_load_explicit(&g->refused, memory_order_relaxed);
    out->pending_blocks = atomic_load_explicit(&g->pending_blocks, memory_order_relaxed);
    out->evicted = atomic_load_explicit(&g->evicted, memory_order_relaxed);
    out->ungated = atomic_load_explicit(&g->ungated, memory_order_relaxed);
}
