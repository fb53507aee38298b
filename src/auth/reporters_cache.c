/*
 * reporters_cache.c - the in-memory table of reporter key hashes (reporters_cache.h).
 *
 * The table is immutable once built but for each slot's last use: refresh builds a new
 * one from the store and swaps it in under the write lock, carrying the uses noted in
 * the old one, so no use noted by a reader is lost. Lookups hold the read lock only for
 * one probe (the lock prefers writers, so a swap is never starved by a busy API).
 * Slots are open-addressed on the first 8 bytes of the hash, which are uniform (the
 * hash of 256 random bits), with at least half of them empty so every probe ends. The
 * probe compares with sodium_memcmp: what it compares are hashes of secrets.
 */
#include "auth/reporters_cache.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/reporters.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

/* the refresher logs a failing store at most this often */
#define CACHE_ERROR_LOG_NS (10LL * 1000 * 1000 * 1000)

typedef struct slot {
    unsigned char hash[LG_STORE_KEY_HASH_LEN];
    char name[LG_REPORTER_NAME_MAX + 1];
    bool used;
    int64_t stored_ms;       /* last use as the store had it when this table was built */
    _Atomic int64_t use_ms;  /* last use noted here; >= stored_ms */
} slot;

typedef struct table {
    size_t mask; /* slots - 1; slots is a power of two >= 2 n (>= 1) */
    size_t n;
    slot slots[];
} table;

struct lg_reporters_cache {
    pthread_rwlock_t lock;
    table *cur; /* replaced under lock (write); read by check under lock (read) */

    /* the refresher thread (start) */
    lg_store *store;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    bool stop;           /* mu */
    int64_t error_logged_ns;
    size_t over_logged; /* keys past LG_REPORTER_KEYS_MAX last reported */
};

static table *table_new(size_t n)
{
    size_t slots = 1;
    table *t;

    lg_assert(n <= LG_REPORTER_KEYS_MAX);
    while (slots < 2 * n)
        slots <<= 1;
    t = calloc(1, sizeof *t + slots * sizeof t->slots[0]);
    if (t == NULL)
        return NULL;
    t->mask = slots - 1;
    return t;
}

static size_t table_bucket(const table *t, const unsigned char hash[LG_STORE_KEY_HASH_LEN])
{
    uint64_t b;
    memcpy(&b, hash, sizeof b);
    return (size_t)b & t->mask;
}

/* The slot holding hash, or NULL. Bounded by the slot count; ends at the first empty
 * slot, and at least half the slots are empty. */
static slot *table_find(table *t, const unsigned char hash[LG_STORE_KEY_HASH_LEN])
{
    size_t b = table_bucket(t, hash);

    for (size_t i = 0; i <= t->mask; i++) {
        slot *s = &t->slots[(b + i) & t->mask];
        if (!s->used)
            return NULL;
        if (sodium_memcmp(s->hash, hash, LG_STORE_KEY_HASH_LEN) == 0)
            return s;
    }
    return NULL;
}

static void table_add(table *t, const lg_reporter_key_rec *k)
{
    size_t b = table_bucket(t, k->hash);

    lg_assert(2 * (t->n + 1) <= t->mask + 1);
    for (size_t i = 0; i <= t->mask; i++) {
        slot *s = &t->slots[(b + i) & t->mask];
        if (s->used)
            continue;
        memcpy(s->hash, k->hash, sizeof s->hash);
        memcpy(s->name, k->name, sizeof s->name);
        s->used = true;
        s->stored_ms = k->last_used_ms;
        atomic_init(&s->use_ms, k->last_used_ms);
        t->n++;
        return;
    }
    lg_assert(!"no empty slot in a table at most half full");
}

int lg_reporters_cache_new(lg_reporters_cache **out)
{
    pthread_rwlockattr_t ra;
    pthread_condattr_t ca;
    lg_reporters_cache *c;

    lg_assert(out != NULL);
    if (sodium_init() < 0)
        return LG_EIO;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return LG_ENOMEM;
    c->cur = table_new(0);
    if (c->cur == NULL) {
        free(c);
        return LG_ENOMEM;
    }
    pthread_rwlockattr_init(&ra);
    /* glibc prefers readers by default: a steady stream of lookups would starve a swap */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

/* Writes the uses noted in the current table since it was built. The refresh thread
 * (or the only caller of refresh) reads c->cur without the lock: it alone replaces it. */
static int cache_flush_uses(lg_reporters_cache *c, lg_store *s)
{
    table *t = c->cur;
    lg_reporter_key_rec *touch;
    size_t n = 0;
    int rc;

    if (t->n == 0)
        return 0;
    touch = calloc(t->n, sizeof *touch);
    if (touch == NULL)
        return LG_ENOMEM;
    for (size_t i = 0; i <= t->mask; i++) {
        slot *sl = &t->slots[i];
        int64_t use = sl->used ? atomic_load_explicit(&sl->use_ms, memory_order_relaxed) : 0;
        if (!sl->used || use <= sl->stored_ms)
            continue;
        memcpy(touch[n].name, sl->name, sizeof touch[n].name);
        touch[n].last_used_ms = use;
        n++;
    }
    rc = lg_store_keys_touch(s, touch, n);
    free(touch);
    return rc;
}

typedef struct loaded {
    lg_reporter_key_rec *keys;
    size_t n, over;
} loaded;

static void on_key(void *opaque, const lg_reporter_key_rec *k)
{
    loaded *l = opaque;

    if (l->n == LG_REPORTER_KEYS_MAX) {
        l->over++;
        return;
    }
    l->keys[l->n++] = *k;
}

/* Swaps t in for the current table, carrying the uses noted in the old one. */
static void cache_swap(lg_reporters_cache *c, table *t)
{
    table *old;

    pthread_rwlock_wrlock(&c->lock);
    old = c->cur;
    /* no reader holds a slot now: the carried uses are the last ones */
    for (size_t i = 0; i <= t->mask; i++) {
        slot *sl = &t->slots[i], *was;
        if (!sl->used || (was = table_find(old, sl->hash)) == NULL ||
            strcmp(was->name, sl->name) != 0)
            continue;
        int64_t use = atomic_load_explicit(&was->use_ms, memory_order_relaxed);
        if (use > atomic_load_explicit(&sl->use_ms, memory_order_relaxed))
            atomic_store_explicit(&sl->use_ms, use, memory_order_relaxed);
    }
    c->cur = t;
    pthread_rwlock_unlock(&c->lock);
    free(old);
}

int lg_reporters_cache_refresh(lg_reporters_cache *c, lg_store *s)
{
    loaded l = {0};
    size_t was;
    table *t;
    int rc;

    lg_assert(c != NULL && s != NULL);
    rc = cache_flush_uses(c, s);
    if (rc != 0)
        return rc;
    l.keys = malloc(LG_REPORTER_KEYS_MAX * sizeof *l.keys);
    if (l.keys == NULL)
        return LG_ENOMEM;
    rc = lg_store_keys_each(s, on_key, &l);
    if (rc != 0)
        goto done;
    t = table_new(l.n);
    if (t == NULL) {
        rc = LG_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < l.n; i++)
        table_add(t, &l.keys[i]);
    was = c->cur->n;
    cache_swap(c, t);
    if (l.n != was)
        lg_log(LG_INFO, "reporters", "reporter keys loaded: %zu (was %zu)", l.n, was);
    if (l.over != c->over_logged) {
        lg_log(LG_WARN, "reporters",
               "the store holds %zu reporter keys past the bound of %d: they are ignored "
               "(delete unused ones with `loginguard keys delete`)",
               l.over, LG_REPORTER_KEYS_MAX);
        c->over_logged = l.over;
    }
done:
    free(l.keys);
    return rc;
}

bool lg_reporters_cache_check(lg_reporters_cache *c, const char *key, size_t len,
                              int64_t now_ms, char *name, size_t name_len)
{
    unsigned char hash[LG_STORE_KEY_HASH_LEN];
    bool found = false;
    slot *sl;

    lg_assert(c != NULL);
    if (!lg_reporters_key_wellformed(key, len))
        return false;
    lg_reporters_hash(key, len, hash);
    pthread_rwlock_rdlock(&c->lock);
    sl = table_find(c->cur, hash);
    if (sl != NULL) {
        found = true;
        /* one store per key per LG_REPORTER_TOUCH_MS, not one per request */
        if (now_ms - atomic_load_explicit(&sl->use_ms, memory_order_relaxed) >=
            LG_REPORTER_TOUCH_MS)
            atomic_store_explicit(&sl->use_ms, now_ms, memory_order_relaxed);
        if (name != NULL && name_len > 0) { /* no snprintf: this is on every report */
            size_t n = strnlen(sl->name, name_len - 1);
            memcpy(name, sl->name, n);
            name[n] = '\0';
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return found;
}

size_t lg_reporters_cache_count(lg_reporters_cache *c)
{
    size_t n;

    pthread_rwlock_rdlock(&c->lock);
    n = c->cur->n;
    pthread_rwlock_unlock(&c->lock);
    return n;
}

/* --- the refresher thread ------------------------------------------------------------ */

static void refresh_logged(lg_reporters_cache *c)
{
    int rc = lg_reporters_cache_refresh(c, c->store);
    int64_t now = lg_mono_ns();

    if (rc == 0 || now - c->error_logged_ns < CACHE_ERROR_LOG_NS)
        return;
    lg_log(LG_ERROR, "reporters",
           "refreshing the reporter keys from the store failed: %s; the %zu keys loaded "
           "before still apply", lg_strerror(rc), lg_reporters_cache_count(c));
    c->error_logged_ns = now;
}

/* Refreshes every LG_REPORTER_REFRESH_MS until stop; bounded by stop, checked at every
 * wake-up. */
static void *refresher_main(void *arg)
{
    lg_reporters_cache *c = arg;

    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec until;
        int64_t ns;

        clock_gettime(CLOCK_MONOTONIC, &until);
        ns = (int64_t)until.tv_nsec + (int64_t)LG_REPORTER_REFRESH_MS * 1000000;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        while (!c->stop && pthread_cond_timedwait(&c->wake, &c->mu, &until) != ETIMEDOUT) {
        }
        if (c->stop)
            break;
        pthread_mutex_unlock(&c->mu);
        refresh_logged(c);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int lg_reporters_cache_start(lg_reporters_cache *c, const char *store_url, char *err,
                             size_t err_len)
{
    int rc;

    lg_assert(c != NULL && !c->started && c->store == NULL);
    rc = lg_store_open(store_url, &c->store, err, err_len);
    if (rc != 0)
        goto fail_close;
    rc = lg_reporters_cache_refresh(c, c->store);
    if (rc != 0) {
        snprintf(err, err_len, "reading the reporter keys of store '%s': %s", store_url,
                 lg_strerror(rc));
        goto fail_close;
    }
    if (pthread_create(&c->thread, NULL, refresher_main, c) != 0) {
        snprintf(err, err_len, "cannot start the reporter keys refresher thread");
        rc = LG_ENOMEM;
        goto fail_close;
    }
    c->started = true;
    return 0;

fail_close:
    lg_store_close(c->store); /* also after a failed open */
    c->store = NULL;
    return rc;
}

void lg_reporters_cache_free(lg_reporters_cache *c)
{
    if (c == NULL)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
        /* the uses of the last second would be lost otherwise */
        if (cache_flush_uses(c, c->store) != 0)
            lg_log(LG_WARN, "reporters", "the last uses of reporter keys were not written");
    }
    lg_store_close(c->store);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake);
    pthread_rwlock_destroy(&c->lock);
    free(c->cur);
    free(c);
}
