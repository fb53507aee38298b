/*
 * embedded.c - the in-process bus: each topic is one partition held in a bounded ring of
 * message slots, shared by every consumer of that topic (each consumer is its own group
 * and sees every message).
 *
 * A slot is reused only once every consumer has moved past it, so a full ring pushes
 * back on publishers (they wait up to timeout_ms, then get LG_EFULL) instead of losing
 * messages. Slots keep their buffer when reused, so a warm topic publishes without
 * allocating. One mutex per topic; publishers and consumers only wake each other when
 * the other side asked to be woken (want_* flags), so a busy stream costs one futex wake
 * per consumer batch, not per message; a publisher wakes consumers after unlocking.
 * Knob: lg_bus_conf.queue_max (messages per topic).
 */
#include "bus/bus.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

/* A slot's buffer starts at this size: an encoded attempt fits, so most slots allocate
 * once and never again. */
#define EMB_SLOT_BUF_MIN 256
/* close() waits at most this long for publishers it woke to leave. */
#define EMB_CLOSE_WAIT_MS LG_BUS_CLOSE_FLUSH_MS

typedef struct emb_slot {
    char *buf; /* key bytes then value bytes; capacity buf_cap; kept across reuse */
    uint32_t buf_cap;
    uint32_t key_len;
    uint32_t value_len;
    bool tombstone;
    int64_t ts_ms;
} emb_slot;

typedef struct emb_consumer emb_consumer;

typedef struct emb_topic {
    char name[LG_TOPIC_MAX + 1];
    pthread_mutex_t mu;
    pthread_cond_t not_empty; /* consumers wait here for tail to move */
    pthread_cond_t not_full;  /* publishers wait here for head to move */
    emb_slot *ring;           /* ring_mask + 1 slots (power of two >= queue_max) */
    uint64_t ring_mask;
    uint32_t queue_max;
    /* Retained messages are the offsets [head, tail). head is the smallest offset some
     * consumer still holds (or has not read yet); with no consumer it never moves. */
    int64_t head;
    int64_t tail;
    int64_t last_ts_ms; /* publish stamps never go back, so seek_time can bisect */
    bool want_not_empty; /* a consumer sleeps on not_empty */
    bool want_not_full;  /* a publisher sleeps on not_full */
    bool closed;
    emb_consumer *consumers[LG_BUS_CONSUMERS_MAX];
    size_t n_consumers;
    uint64_t published, publish_full;
} emb_topic;

typedef struct emb_bus {
    lg_bus base;
    uint32_t queue_max;
    pthread_mutex_t topics_mu; /* serialises topic creation only */
    emb_topic *topics[LG_BUS_TOPICS_MAX];
    atomic_size_t n_topics;   /* published with release after the topic is ready */
    atomic_bool closed;
    atomic_long publishers_in; /* publish calls under way; close waits for 0 */
} emb_bus;

/*
 * Consumer states:
 *
 *   consumer_new ──► NEW ──(first emb_poll: rebalance.assigned(0))──► ASSIGNED
 *                                                                       │
 *   emb_consumer_free (rebalance.revoked(0) if ASSIGNED) ◄──────────────┘
 *
 * next is the next offset to return; held (<= next) is the first offset whose slot it
 * still needs: messages returned by the last poll stay valid until the next poll, which
 * sets held = next. The topic's head is the minimum held over its consumers.
 */
struct emb_consumer {
    lg_bus_consumer base;
    emb_bus *bus;
    emb_topic *topic;
    lg_bus_rebalance_cb rebalance;
    bool assigned;
    bool caught_up;      /* sticky: next has reached end_at_start once */
    int64_t next;
    int64_t held;
    int64_t end_at_start; /* the tail when the consumer was created */
    int64_t committed;   /* -1 until commit */
};

static const lg_bus_ops emb_ops;

/* --- helpers -------------------------------------------------------------------- */

static struct timespec emb_deadline(int timeout_ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Waits on cond until woken or the deadline; timeout_ms < 0 waits without a deadline.
 * Returns false once the deadline has passed. */
static bool emb_wait(pthread_cond_t *cond, pthread_mutex_t *mu, int timeout_ms,
                     const struct timespec *deadline)
{
    if (timeout_ms < 0) {
        pthread_cond_wait(cond, mu);
        return true;
    }
    return pthread_cond_timedwait(cond, mu, deadline) != ETIMEDOUT;
}

static int emb_cond_init_mono(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_condattr_init(&attr) != 0)
        return LG_ENOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cond, &attr) == 0 ? 0 : LG_ENOMEM;
    pthread_condattr_destroy(&attr);
    return rc;
}

static uint64_t emb_ring_size(uint32_t queue_max)
{
    uint64_t size = 1;
    while (size < queue_max)
        size <<= 1;
    return size;
}

static emb_slot *emb_slot_at(emb_topic *t, int64_t offset)
{
    return &t->ring[(uint64_t)offset & t->ring_mask];
}

/* Recomputes head as the minimum held offset; wakes publishers when room appeared.
 * Called with t->mu held. */
static void emb_topic_release(emb_topic *t)
{
    int64_t head;

    if (t->n_consumers == 0)
        return; /* nobody read them: keep messages for a later reader */
    head = t->tail;
    for (size_t i = 0; i < t->n_consumers; i++)
        if (t->consumers[i]->held < head)
            head = t->consumers[i]->held;
    lg_assert(head >= t->head);
    if (head > t->head) {
        t->head = head;
        if (t->want_not_full) {
            t->want_not_full = false;
            pthread_cond_broadcast(&t->not_full);
        }
    }
}

/* --- topics --------------------------------------------------------------------- */

static void emb_topic_free(emb_topic *t)
{
    if (t == NULL)
        return;
    if (t->ring != NULL)
        for (uint64_t i = 0; i <= t->ring_mask; i++)
            free(t->ring[i].buf);
    free(t->ring);
    pthread_cond_destroy(&t->not_full);
    pthread_cond_destroy(&t->not_empty);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static int emb_topic_new(const char *name, uint32_t queue_max, emb_topic **out)
{
    emb_topic *t = calloc(1, sizeof *t);
    uint64_t size = emb_ring_size(queue_max);

    if (t == NULL)
        return LG_ENOMEM;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ring = calloc(size, sizeof *t->ring);
    if (t->ring == NULL)
        goto fail_free_topic;
    if (emb_cond_init_mono(&t->not_empty) != 0)
        goto fail_free_ring;
    if (emb_cond_init_mono(&t->not_full) != 0)
        goto fail_destroy_not_empty;
    pthread_mutex_init(&t->mu, NULL);
    t->ring_mask = size - 1;
    t->queue_max = queue_max;
    *out = t;
    return 0;

fail_destroy_not_empty:
    pthread_cond_destroy(&t->not_empty);
fail_free_ring:
    free(t->ring);
fail_free_topic:
    free(t);
    return LG_ENOMEM;
}

/* Finds a topic by name without locking: topics are only added while the bus lives and
 * each is fully built before n_topics (release) makes it visible. */
static emb_topic *emb_topic_find(emb_bus *bus, const char *name)
{
    size_t n = atomic_load_explicit(&bus->n_topics, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strcmp(bus->topics[i]->name, name) == 0)
            return bus->topics[i];
    return NULL;
}

/* Finds or creates topic name. LG_EINVAL for a bad name, LG_EFULL past
 * LG_BUS_TOPICS_MAX. */
static int emb_topic_get(emb_bus *bus, const char *name, emb_topic **out)
{
    emb_topic *t = emb_topic_find(bus, name);
    size_t n;
    int rc = 0;

    if (t != NULL) {
        *out = t;
        return 0;
    }
    if (name[0] == '\0' || strlen(name) > LG_TOPIC_MAX)
        return LG_EINVAL;
    pthread_mutex_lock(&bus->topics_mu);
    t = emb_topic_find(bus, name); /* another thread may have created it meanwhile */
    if (t != NULL)
        goto done;
    n = atomic_load_explicit(&bus->n_topics, memory_order_relaxed);
    if (n == LG_BUS_TOPICS_MAX) {
        rc = LG_EFULL;
        goto done;
    }
    rc = emb_topic_new(name, bus->queue_max, &t);
    if (rc != 0)
        goto done;
    bus->topics[n] = t;
    atomic_store_explicit(&bus->n_topics, n + 1, memory_order_release);
done:
    pthread_mutex_unlock(&bus->topics_mu);
    if (rc == 0)
        *out = t;
    return rc;
}

/* --- publishing ----------------------------------------------------------------- */

/* Copies one message into the tail slot. Called with t->mu held and room in the ring. */
static int emb_append(emb_topic *t, const void *key, size_t key_len, const void *value,
                      size_t value_len)
{
    emb_slot *slot = emb_slot_at(t, t->tail);
    size_t need = key_len + value_len;
    int64_t now = lg_now_ms();

    if (need > slot->buf_cap || slot->buf == NULL) {
        size_t cap = need < EMB_SLOT_BUF_MIN ? EMB_SLOT_BUF_MIN : need;
        char *buf = realloc(slot->buf, cap);
        if (buf == NULL)
            return LG_ENOMEM;
        slot->buf = buf;
        slot->buf_cap = (uint32_t)cap;
    }
    if (key_len > 0)
        memcpy(slot->buf, key, key_len);
    if (value_len > 0)
        memcpy(slot->buf + key_len, value, value_len);
    slot->key_len = (uint32_t)key_len;
    slot->value_len = value == NULL ? 0 : (uint32_t)value_len;
    slot->tombstone = value == NULL;
    /* the wall clock may step back; offsets and timestamps must stay in the same order */
    slot->ts_ms = now > t->last_ts_ms ? now : t->last_ts_ms;
    t->last_ts_ms = slot->ts_ms;
    t->tail++;
    t->published++;
    return 0;
}

static int emb_publish_locked(emb_topic *t, const void *key, size_t key_len,
                              const void *value, size_t value_len, int timeout_ms)
{
    struct timespec deadline;

    if (t->tail - t->head >= t->queue_max && timeout_ms != 0) {
        if (timeout_ms > 0)
            deadline = emb_deadline(timeout_ms);
        while (t->tail - t->head >= t->queue_max && !t->closed) {
            t->want_not_full = true;
            if (!emb_wait(&t->not_full, &t->mu, timeout_ms, &deadline))
                break;
        }
    }
    if (t->closed)
        return LG_ECLOSED;
    if (t->tail - t->head >= t->queue_max) {
        t->publish_full++;
        return LG_EFULL;
    }
    return emb_append(t, key, key_len, value, value_len);
}

static int emb_publish(lg_bus *b, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t value_len, int timeout_ms,
                       lg_bus_done_cb done, void *opaque)
{
    emb_bus *bus = (emb_bus *)b;
    emb_topic *t;
    bool wake;
    int rc;

    lg_assert(key_len == 0 || key != NULL);
    if (key_len + value_len > LG_BUS_MSG_MAX)
        return LG_ETOOBIG;
    /* seq_cst pair with emb_close: either close sees us inside, or we see closed */
    atomic_fetch_add(&bus->publishers_in, 1);
    if (atomic_load(&bus->closed)) {
        rc = LG_ECLOSED;
        goto out;
    }
    rc = emb_topic_get(bus, topic, &t);
    if (rc != 0)
        goto out;
    pthread_mutex_lock(&t->mu);
    rc = emb_publish_locked(t, key, key_len, value, value_len, timeout_ms);
    wake = rc == 0 && t->want_not_empty;
    if (wake)
        t->want_not_empty = false;
    pthread_mutex_unlock(&t->mu);
    /* after the unlock: a consumer woken on the publisher's core preempts it, and woken
     * under the lock it went straight back to sleep on the mutex (two more switches).
     * No wake is lost: a consumer only sleeps again after reading this message, and the
     * next publisher sees its want_not_empty under the lock. The topic outlives us:
     * close frees it only once publishers_in is 0. */
    if (wake)
        pthread_cond_broadcast(&t->not_empty);
    /* not durable, but appended: that is what "accepted" means in-process */
    if (rc == 0 && done != NULL)
        done(opaque, 0);
out:
    atomic_fetch_sub(&bus->publishers_in, 1);
    return rc;
}

/* Every publish is appended before it returns: nothing is ever pending. */
static int emb_flush(lg_bus *b, int timeout_ms)
{
    emb_bus *bus = (emb_bus *)b;
    (void)timeout_ms;
    return atomic_load(&bus->closed) ? LG_ECLOSED : 0;
}

static void emb_stats(lg_bus *b, lg_bus_stats *out)
{
    emb_bus *bus = (emb_bus *)b;
    size_t n = atomic_load_explicit(&bus->n_topics, memory_order_acquire);
    lg_bus_stats s;

    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < n; i++) {
        emb_topic *t = bus->topics[i];
        pthread_mutex_lock(&t->mu);
        s.published += t->published;
        s.publish_full += t->publish_full;
        s.queued += (uint64_t)(t->tail - t->head);
        pthread_mutex_unlock(&t->mu);
    }
    s.delivered = s.published;
    *out = s;
}

/* --- consumers ------------------------------------------------------------------ */

static int emb_consumer_new(lg_bus *b, const lg_bus_sub *sub, lg_bus_consumer **out,
                            char *err, size_t err_len)
{
    emb_bus *bus = (emb_bus *)b;
    emb_consumer *c;
    emb_topic *t;
    int rc;

    if (atomic_load(&bus->closed)) {
        snprintf(err, err_len, "embedded bus is closed");
        return LG_ECLOSED;
    }
    rc = emb_topic_get(bus, sub->topic, &t);
    if (rc != 0) {
        snprintf(err, err_len, "topic '%.*s': %s", LG_TOPIC_MAX, sub->topic,
                 rc == LG_EFULL ? "too many topics on the embedded bus" : lg_strerror(rc));
        return rc;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, err_len, "topic '%s': out of memory for a consumer", t->name);
        return LG_ENOMEM;
    }
    c->base.ops = &emb_ops;
    c->bus = bus;
    c->topic = t;
    c->rebalance = sub->rebalance;
    c->committed = -1;

    pthread_mutex_lock(&t->mu);
    if (t->n_consumers == LG_BUS_CONSUMERS_MAX) {
        pthread_mutex_unlock(&t->mu);
        free(c);
        snprintf(err, err_len, "topic '%s': more than %d consumers", t->name,
                 LG_BUS_CONSUMERS_MAX);
        return LG_EFULL;
    }
    /* no persistence in-process: FROM_COMMITTED has nothing to resume from */
    c->next = sub->start == LG_BUS_FROM_END ? t->tail : t->head;
    c->held = c->next;
    c->end_at_start = t->tail;
    c->caught_up = c->next >= c->end_at_start;
    t->consumers[t->n_consumers++] = c;
    pthread_mutex_unlock(&t->mu);
    *out = &c->base;
    return 0;
}

static void emb_consumer_free(lg_bus_consumer *base)
{
    emb_consumer *c = (emb_consumer *)base;
    emb_topic *t = c->topic;
    static const int32_t partition0 = 0;

    if (c->assigned && c->rebalance.revoked != NULL)
        c->rebalance.revoked(c->rebalance.opaque, base, &partition0, 1);
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_consumers; i++) {
        if (t->consumers[i] == c) {
            t->consumers[i] = t->consumers[--t->n_consumers];
            break;
        }
    }
    /* the slots this consumer held back are free now */
    emb_topic_release(t);
    pthread_mutex_unlock(&t->mu);
    free(c);
}

static int emb_poll(lg_bus_consumer *base, lg_bus_msg *msgs, size_t cap, size_t *n,
                    int timeout_ms)
{
    emb_consumer *c = (emb_consumer *)base;
    emb_topic *t = c->topic;
    struct timespec deadline;
    size_t got = 0;

    if (!c->assigned) {
        static const int32_t partition0 = 0;
        c->assigned = true;
        /* outside the lock: the owner may seek_time or commit from here */
        if (c->rebalance.assigned != NULL)
            c->rebalance.assigned(c->rebalance.opaque, base, &partition0, 1);
    }
    pthread_mutex_lock(&t->mu);
    c->held = c->next; /* the previous poll's messages are released */
    emb_topic_release(t);
    if (c->next == t->tail && timeout_ms != 0 && !t->closed) {
        if (timeout_ms > 0)
            deadline = emb_deadline(timeout_ms);
        while (c->next == t->tail && !t->closed) {
            t->want_not_empty = true;
            if (!emb_wait(&t->not_empty, &t->mu, timeout_ms, &deadline))
                break;
        }
    }
    if (t->closed) {
        pthread_mutex_unlock(&t->mu);
        return LG_ECLOSED;
    }
    lg_assert(c->next >= t->head);
    while (got < cap && c->next < t->tail) {
        const emb_slot *slot = emb_slot_at(t, c->next);
        lg_bus_msg *m = &msgs[got++];
        m->topic = t->name;
        m->partition = 0;
        m->offset = c->next;
        m->ts_ms = slot->ts_ms;
        m->key = slot->buf;
        m->key_len = slot->key_len;
        m->value = slot->tombstone ? NULL : slot->buf + slot->key_len;
        m->value_len = slot->value_len;
        c->next++;
    }
    if (c->next >= c->end_at_start)
        c->caught_up = true;
    pthread_mutex_unlock(&t->mu);
    *n = got;
    return 0;
}

static int emb_commit(lg_bus_consumer *base, int32_t partition, int64_t next_offset)
{
    emb_consumer *c = (emb_consumer *)base;

    if (partition != 0 || next_offset < 0)
        return LG_EINVAL;
    c->committed = next_offset;
    return 0;
}

static int emb_committed(lg_bus_consumer *base, int32_t partition, int64_t *next_offset)
{
    emb_consumer *c = (emb_consumer *)base;

    if (partition != 0)
        return LG_EINVAL;
    *next_offset = c->committed;
    return 0;
}

/* The first retained offset with ts_ms >= ts_ms, or the tail. Called with t->mu held.
 * Timestamps never decrease along offsets (emb_append), so [head, tail) is bisected. */
static int64_t emb_offset_for_time_locked(emb_topic *t, int64_t ts_ms)
{
    int64_t lo = t->head, hi = t->tail;

    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (emb_slot_at(t, mid)->ts_ms < ts_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Moves c's read position to offset, clamped to the retained range [head, tail] (what
 * is gone cannot be read again). Called with t->mu held. */
static void emb_seek_locked(emb_consumer *c, int64_t offset)
{
    emb_topic *t = c->topic;

    if (offset < t->head)
        offset = t->head;
    if (offset > t->tail)
        offset = t->tail;
    c->next = offset;
    /* moving back: hold from there on, or head could pass the new position */
    if (c->held > offset)
        c->held = offset;
    if (c->next >= c->end_at_start)
        c->caught_up = true;
}

static int emb_seek_time(lg_bus_consumer *base, int32_t partition, int64_t ts_ms)
{
    emb_consumer *c = (emb_consumer *)base;
    emb_topic *t = c->topic;

    if (partition != 0)
        return LG_EINVAL;
    pthread_mutex_lock(&t->mu);
    emb_seek_locked(c, emb_offset_for_time_locked(t, ts_ms));
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static int emb_offset_for_time(lg_bus_consumer *base, int32_t partition, int64_t ts_ms,
                               int64_t *offset)
{
    emb_consumer *c = (emb_consumer *)base;
    emb_topic *t = c->topic;

    if (partition != 0)
        return LG_EINVAL;
    pthread_mutex_lock(&t->mu);
    *offset = emb_offset_for_time_locked(t, ts_ms);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static int emb_seek(lg_bus_consumer *base, int32_t partition, int64_t offset)
{
    emb_consumer *c = (emb_consumer *)base;
    emb_topic *t = c->topic;

    if (partition != 0 || offset < 0)
        return LG_EINVAL;
    pthread_mutex_lock(&t->mu);
    emb_seek_locked(c, offset);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static bool emb_caught_up(lg_bus_consumer *base)
{
    emb_consumer *c = (emb_consumer *)base;
    bool up;

    pthread_mutex_lock(&c->topic->mu);
    up = c->caught_up;
    pthread_mutex_unlock(&c->topic->mu);
    return up;
}

static bool emb_at_end(lg_bus_consumer *base, int32_t partition)
{
    emb_consumer *c = (emb_consumer *)base;
    bool end;

    if (partition != 0 || !c->assigned)
        return false;
    pthread_mutex_lock(&c->topic->mu);
    end = c->next == c->topic->tail;
    pthread_mutex_unlock(&c->topic->mu);
    return end;
}

/* --- bus ------------------------------------------------------------------------ */

static void emb_close(lg_bus *b)
{
    emb_bus *bus = (emb_bus *)b;
    size_t n = atomic_load_explicit(&bus->n_topics, memory_order_acquire);
    int64_t give_up_ns = lg_mono_ns() + (int64_t)EMB_CLOSE_WAIT_MS * 1000000;

    atomic_store(&bus->closed, true);
    for (size_t i = 0; i < n; i++) {
        emb_topic *t = bus->topics[i];
        pthread_mutex_lock(&t->mu);
        if (t->n_consumers != 0)
            lg_log(LG_WARN, "bus", "closing topic=%s with %zu consumer(s) not freed", t->name,
                   t->n_consumers);
        t->closed = true;
        pthread_cond_broadcast(&t->not_full);
        pthread_cond_broadcast(&t->not_empty);
        pthread_mutex_unlock(&t->mu);
    }
    /* woken publishers return LG_ECLOSED at once; wait until none is left inside */
    while (atomic_load(&bus->publishers_in) > 0) {
        lg_assert(lg_mono_ns() < give_up_ns);
        sched_yield();
    }
    /* read the count again: a publisher already inside when `closed` was set may have
     * created a topic after the first read; none can be created from here on */
    n = atomic_load_explicit(&bus->n_topics, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        emb_topic_free(bus->topics[i]);
    pthread_mutex_destroy(&bus->topics_mu);
    free(bus);
}

static const lg_bus_ops emb_ops = {
    .name = "embedded",
    .close = emb_close,
    .publish = emb_publish,
    .flush = emb_flush,
    .stats = emb_stats,
    .consumer_new = emb_consumer_new,
    .consumer_free = emb_consumer_free,
    .poll = emb_poll,
    .commit = emb_commit,
    .committed = emb_committed,
    .seek_time = emb_seek_time,
    .caught_up = emb_caught_up,
    .offset_for_time = emb_offset_for_time,
    .seek = emb_seek,
    .at_end = emb_at_end,
};

int lg_bus__embedded_open(const lg_bus_conf *conf, lg_bus **out, char *err, size_t err_len)
{
    static const char *const initial[] = {LG_TOPIC_ATTEMPTS, LG_TOPIC_BLOCKS};
    uint32_t queue_max = conf->queue_max == 0 ? LG_BUS_QUEUE_MAX_DEFAULT : conf->queue_max;
    emb_bus *bus;
    int rc;

    if (queue_max > LG_BUS_QUEUE_MAX_CAP) {
        snprintf(err, err_len, "embedded bus queue_max '%u' is over the cap %d", queue_max,
                 LG_BUS_QUEUE_MAX_CAP);
        return LG_EINVAL;
    }
    bus = calloc(1, sizeof *bus);
    if (bus == NULL) {
        snprintf(err, err_len, "embedded bus: out of memory");
        return LG_ENOMEM;
    }
    bus->base.ops = &emb_ops;
    bus->queue_max = queue_max;
    pthread_mutex_init(&bus->topics_mu, NULL);
    atomic_init(&bus->n_topics, 0);
    atomic_init(&bus->closed, false);
    atomic_init(&bus->publishers_in, 0);
    for (size_t i = 0; i < sizeof initial / sizeof initial[0]; i++) {
        emb_topic *t;
        rc = emb_topic_get(bus, initial[i], &t);
        if (rc != 0) {
            snprintf(err, err_len, "embedded bus: topic '%s': %s", initial[i],
                     lg_strerror(rc));
            emb_close(&bus->base);
            return rc;
        }
    }
    *out = &bus->base;
    return 0;
}
