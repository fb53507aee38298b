/*
 * detector_rebuild.c - what a detector does when partitions of lg.attempts move: load
 * every block from lg.blocks, then rebuild the windows of its new partitions from the
 * last window of each, before deciding anything on them (DESIGN.md: failover loses no
 * block).
 *
 * Choice: one engine per detector, and a revocation drops ALL its state; the next
 * assignment reloads lg.blocks from the beginning and rebuilds every partition it is
 * given. The engine has no per-partition removal, and with the eager rebalance protocol
 * every change revokes everything anyway; state is small and a rebuild reads only one
 * window per partition, so simple beats clever here.
 *
 * Partition p of lg.attempts, per assignment (all inside lg_bus_poll, on the thread):
 *
 *   assigned ──committed C <= 0──► LIVE (nothing judged yet: everything from the start)
 *      │
 *      └──C > 0: T = min(ts(C - 1), now) - rebuild_ms - margin;
 *                S = offset_for_time(T); seek(min(S, C))──► REBUILD
 *   REBUILD ──offset < C: judge only, no publish/store/commit (`rebuilt`)──► REBUILD
 *   REBUILD ──offset >= C (detector.c: live_from)──► LIVE
 *   any ──revoked──► dropped; reset_pending ──next assigned: new engine, reread blocks
 *
 * Why ts(C - 1), not now: a previous owner that lagged more than a window behind left C
 * older than now - window, and a rebuild from "now" re-read nothing before C, so blocks
 * formed by attempts on both sides of C were lost. ts is the message time (what
 * offsets-for-times indexes), while windows are judged on each attempt's own ts; the
 * margin (LG_DETECTOR_REBUILD_MARGIN_MS) absorbs how far they may disagree.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"
#include "roles/detector_int.h"

int lg_detector__blocks_open(lg_detector *d, char *err, size_t err_len)
{
    lg_bus_sub sub = {
        .topic = LG_TOPIC_BLOCKS,
        .group = NULL, /* every detector needs every block, not a share of them */
        .start = LG_BUS_FROM_BEGINNING,
    };
    return lg_bus_consumer_new(d->bus, &sub, &d->blocks, err, err_len);
}

static void blocks_apply(lg_detector *d, const lg_bus_msg *m)
{
    char why[256];
    lg_block b;
    int rc;

    if (m->key_len == 0 || m->key_len > LG_DETECTOR_BLOCK_KEY_MAX) {
        lg_log(LG_WARN, "detector", "topic=%s partition=%d offset=%lld: block without a "
               "valid key, skipped", LG_TOPIC_BLOCKS, (int)m->partition, (long long)m->offset);
        return;
    }
    if (m->value == NULL) {
        char key[LG_BLOCK_KEY_MAX + 1];
        /* a tombstone has only its key: one written before keys had namespaces is rule
         * user's bare user (lg_block_key_upgrade) */
        int key_len = lg_block_key_upgrade(m->key, m->key_len, key, sizeof key);

        if (key_len < 0) {
            lg_log(LG_WARN, "detector", "topic=%s partition=%d offset=%lld: tombstone key "
                   "skipped: %s", LG_TOPIC_BLOCKS, (int)m->partition, (long long)m->offset,
                   lg_strerror(key_len));
            return;
        }
        /* an operator unblock: forget the block and its escalation history */
        rc = lg_engine_unblock(d->engine, key, (size_t)key_len);
        /* and record it: (key, message time) makes every re-read of it, by any detector,
         * the same row */
        if (lg_store_unblock_put(d->store, key, m->ts_ms) != 0)
            lg_log(LG_WARN, "detector", "unblock key=%.64s: not recorded in the store", key);
        lg_log(LG_INFO, "detector", "unblock key=%.64s partition=%d offset=%lld%s", key,
               (int)m->partition, (long long)m->offset,
               rc == LG_ENOTFOUND ? " (was not blocked here)" : "");
        return;
    }
    /* a block is read from its value, which names its rule, user and ip: the message key
     * is not trusted (messages written before keys had namespaces carry a bare user) */
    rc = lg_block_decode(m->value, m->value_len, &b, why, sizeof why);
    if (rc != 0) {
        lg_log(LG_WARN, "detector", "topic=%s partition=%d offset=%lld: bad block, skipped: %s",
               LG_TOPIC_BLOCKS, (int)m->partition, (long long)m->offset, why);
        return;
    }
    /* idempotent for blocks this detector decided itself; LG_ENOTFOUND: a rule that is
     * off here (another detector's configuration), nothing to load */
    rc = lg_engine_load_block(d->engine, &b);
    if (rc != 0 && rc != LG_ENOTFOUND)
        lg_log(LG_WARN, "detector", "topic=%s partition=%d offset=%lld: block of rule %s not "
               "loaded: %s", LG_TOPIC_BLOCKS, (int)m->partition, (long long)m->offset, b.rule,
               lg_strerror(rc));
}

int lg_detector__blocks_feed(lg_detector *d, int timeout_ms)
{
    size_t n = 0;
    int rc = lg_bus_poll(d->blocks, d->bmsgs, LG_DETECTOR_BLOCKS_POLL_MAX, &n, timeout_ms);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        blocks_apply(d, &d->bmsgs[i]);
    return (int)n;
}

/* Reads lg.blocks to its end: blocks decided anywhere are in the engine before this
 * detector judges its new partitions. */
static void blocks_catch_up(lg_detector *d)
{
    int64_t deadline = lg_mono_ns() + (int64_t)LG_DETECTOR_CATCHUP_MS * 1000000;
    uint64_t read = 0;

    /* bounded by the deadline; each poll waits at most LG_DETECTOR_POLL_MS */
    while (!lg_bus_caught_up(d->blocks) || lg_detector__blocks_feed(d, 0) > 0) {
        int n;
        if (lg_mono_ns() >= deadline) {
            lg_log(LG_WARN, "detector", "topic=%s not read to its end within %d ms; judging "
                   "with the blocks read so far (%llu)", LG_TOPIC_BLOCKS,
                   LG_DETECTOR_CATCHUP_MS, (unsigned long long)read);
            return;
        }
        n = lg_detector__blocks_feed(d, LG_DETECTOR_POLL_MS);
        if (n > 0)
            read += (uint64_t)n;
    }
    lg_log(LG_INFO, "detector", "topic=%s read to its end: %llu messages", LG_TOPIC_BLOCKS,
           (unsigned long long)read);
}

/* Drops every window and block: a fresh engine (its clock and the watermark reset too:
 * the partitions assigned next may be behind the old clock), and lg.blocks reread from
 * the start. */
static int engine_reset(lg_detector *d)
{
    char err[256];
    lg_engine *e = NULL;
    int rc = lg_detector__engine_new(d, &e, err, sizeof err); /* and a reset clock */

    if (rc != 0) {
        lg_log(LG_ERROR, "detector", "cannot rebuild the engine: %s", err);
        return rc;
    }
    lg_detector__full_engine_retired(d);
    lg_engine_free(d->engine);
    d->engine = e;
    lg_bus_consumer_free(d->blocks);
    d->blocks = NULL;
    rc = lg_detector__blocks_open(d, err, sizeof err);
    if (rc != 0)
        lg_log(LG_ERROR, "detector", "cannot reopen %s: %s", LG_TOPIC_BLOCKS, err);
    return rc;
}

/* The time the rebuild of partition p goes back from: the message time of the last
 * committed attempt (offset committed - 1), so the attempts within a window before the
 * first one judged live are re-read however far behind "now" the previous owner was (a
 * backlog, a store retrying). Now when that time is unknown (no such op, the message is
 * gone to retention) or ahead of our clock. */
static int64_t rebuild_anchor_ms(lg_bus_consumer *c, int32_t p, int64_t committed,
                                 int64_t now_ms)
{
    int64_t ts = 0;
    int rc = lg_bus_ts_at(c, p, committed - 1, &ts);

    if (rc != 0) {
        lg_log(LG_WARN, "detector", "partition=%d offset=%lld: time of the last committed "
               "attempt unknown (%s); rebuilding from one window before now instead",
               (int)p, (long long)(committed - 1), lg_strerror(rc));
        return now_ms;
    }
    return ts < now_ms ? ts : now_ms;
}

/* Where partition p starts: live from its committed offset C, after re-reading the
 * messages from rebuild_ms (+ LG_DETECTOR_REBUILD_MARGIN_MS) before the last committed
 * one. Never past C: [C, ...) is not judged yet. */
static void partition_plan(lg_detector *d, lg_bus_consumer *c, int32_t p, int64_t now_ms)
{
    int64_t committed = -1, from = 0, since_ms;
    int rc;

    d->live_from[p] = -1;
    rc = lg_bus_committed(c, p, &committed);
    if (rc != 0 || committed <= 0) {
        if (rc != 0)
            lg_log(LG_WARN, "detector", "partition=%d: committed offset unknown (%s); no "
                   "rebuild, windows start empty", (int)p, lg_strerror(rc));
        else
            lg_log(LG_INFO, "detector", "partition=%d: nothing committed; all live", (int)p);
        return;
    }
    since_ms = rebuild_anchor_ms(c, p, committed, now_ms) - d->rebuild_ms -
               LG_DETECTOR_REBUILD_MARGIN_MS;
    rc = lg_bus_offset_for_time(c, p, since_ms, &from);
    if (rc != 0) {
        lg_log(LG_WARN, "detector", "partition=%d offset=%lld: no offset for time %lld "
               "(%s); no rebuild, windows start empty", (int)p, (long long)committed,
               (long long)since_ms, lg_strerror(rc));
        return;
    }
    if (from < committed) {
        rc = lg_bus_seek(c, p, from);
        if (rc != 0) {
            lg_log(LG_WARN, "detector", "partition=%d offset=%lld: seek for rebuild failed "
                   "(%s); windows start empty", (int)p, (long long)from, lg_strerror(rc));
            return;
        }
    }
    d->live_from[p] = committed;
    lg_log(LG_INFO, "detector", "partition=%d offset=%lld rebuild from offset=%lld (%lld "
           "attempts, message time >= %lld), live from offset=%lld", (int)p,
           (long long)committed, (long long)(from < committed ? from : committed),
           (long long)(from < committed ? committed - from : 0), (long long)since_ms,
           (long long)committed);
}

void lg_detector__assigned(void *opaque, lg_bus_consumer *c, const int32_t *partitions,
                           size_t n)
{
    lg_detector *d = opaque;
    int64_t now_ms = lg_now_ms();
    int rc;

    lg_assert(n <= LG_BUS_PARTITIONS_MAX);
    if (d->reset_pending) {
        if (engine_reset(d) != 0) {
            atomic_store(&d->failed, true);
            return;
        }
        d->reset_pending = false;
    }
    /* our own blocks must be on lg.blocks before it is read back as the truth */
    rc = lg_bus_flush(d->bus, LG_DETECTOR_FLUSH_MS);
    if (rc != 0)
        lg_log(LG_WARN, "detector", "blocks not all acknowledged before rebuild: %s",
               lg_strerror(rc));
    blocks_catch_up(d);
    for (size_t i = 0; i < n; i++) {
        lg_assert(partitions[i] >= 0 && partitions[i] < LG_BUS_PARTITIONS_MAX);
        d->owned[partitions[i]] = true;
        d->commit_next[partitions[i]] = -1;
        /* read from nowhere yet: holds the engine's clock until its first attempt */
        lg_detector_clock_assign(&d->clock, partitions[i]);
        partition_plan(d, c, partitions[i], now_ms);
    }
    d->ever_assigned = true;
}

void lg_detector__revoked(void *opaque, lg_bus_consumer *c, const int32_t *partitions,
                          size_t n)
{
    lg_detector *d = opaque;
    (void)c;
    /* what was judged on these partitions is written and committed while they are still
     * ours; a failure only means the next owner judges it again */
    if (n > 0 && lg_detector__pending_flush(d, 1) != 0)
        lg_log(LG_WARN, "detector", "pending batch not written before revocation: the next "
               "owner reads it again");
    for (size_t i = 0; i < n; i++) {
        lg_assert(partitions[i] >= 0 && partitions[i] < LG_BUS_PARTITIONS_MAX);
        d->owned[partitions[i]] = false;
        d->live_from[partitions[i]] = -1;
        d->commit_next[partitions[i]] = -1;
        lg_detector_clock_revoke(&d->clock, partitions[i]);
    }
    if (n > 0) {
        d->reset_pending = true;
        lg_log(LG_INFO, "detector", "revoked %zu partitions: all windows dropped until the "
               "next assignment rebuilds them", n);
    }
}
