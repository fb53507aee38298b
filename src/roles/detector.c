/*
 * detector.c - the detector role's thread: poll a batch of lg.attempts, judge each
 * attempt with the engine, publish the blocks decided on lg.blocks, write the batch
 * (attempts with their outcome, and the blocks) in ONE store transaction, and only then
 * commit each partition's next offset. A crash anywhere before the commit means the
 * batch is read again: at-least-once, and the store ignores rows it already has.
 *
 * Between batches it also reads lg.blocks (operator unblocks, blocks decided by other
 * detectors). Partition moves are handled in detector_rebuild.c. Undecodable messages
 * are counted, logged at most once a second, skipped, and committed like the rest; so
 * are attempts stamped beyond the wall clock + clock_skew_max_ms (refused_future), before
 * their ts reaches the watermark or a window, live and when re-read by a rebuild.
 * Knobs: [detector] group, batch_max.
 *
 *   new ──start──► RUNNING ──stop: drain (caught up and an empty poll)──► STOPPED
 *                     └──store or bus refusing for ~1 min──► FAILED (nothing committed)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"
#include "roles/detector_int.h"

void lg_detector__stats_add(lg_detector *d, const lg_detector_stats *x)
{
    pthread_mutex_lock(&d->stats_mu);
    d->stats.attempts += x->attempts;
    d->stats.ok += x->ok;
    d->stats.fail += x->fail;
    d->stats.blocked += x->blocked;
    d->stats.rebuilt += x->rebuilt;
    d->stats.blocks += x->blocks;
    d->stats.bad_messages += x->bad_messages;
    d->stats.refused_future += x->refused_future;
    d->stats.store_batches += x->store_batches;
    pthread_mutex_unlock(&d->stats_mu);
}

static void sleep_ms(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
}

/* --- one batch ------------------------------------------------------------------- */

/* May a line of rl be logged now? One a second at most: a producer gone wrong must not
 * flood the log. When true, *suppressed is the number of lines dropped since the last. */
static bool ratelog_allows(lg_detector_ratelog *rl, uint64_t *suppressed)
{
    int64_t now = lg_mono_ns();

    if (rl->last_ns != 0 && now - rl->last_ns < 1000000000LL) {
        rl->suppressed++;
        return false;
    }
    *suppressed = rl->suppressed;
    rl->last_ns = now;
    rl->suppressed = 0;
    return true;
}

static void bad_message(lg_detector *d, const lg_bus_msg *m, const char *why)
{
    uint64_t suppressed;

    if (!ratelog_allows(&d->bad_log, &suppressed))
        return;
    lg_log(LG_WARN, "detector", "partition=%d offset=%lld bad attempt skipped: %s "
           "(%llu more suppressed in the last second)", (int)m->partition,
           (long long)m->offset, why, (unsigned long long)suppressed);
}

/* An attempt stamped later than the wall clock allows (lg_detector_clock_refuses): never
 * judged, never stored (it is no fact about any login), only counted and logged. */
static void refused_future(lg_detector *d, const lg_bus_msg *m, const lg_attempt *a,
                           int64_t wall_ms, bool rebuild)
{
    uint64_t suppressed;

    if (!ratelog_allows(&d->refused_log, &suppressed))
        return;
    lg_log(LG_WARN, "detector", "partition=%d offset=%lld attempt id=%.64s user=%.64s "
           "src=%.64s refused%s: ts=%lld is %lld ms in the future, more than "
           "clock_skew_max_ms (%lld) (%llu more suppressed in the last second)",
           (int)m->partition, (long long)m->offset, a->id, a->user, a->src,
           rebuild ? " (rebuild)" : "", (long long)a->ts_ms, (long long)(a->ts_ms - wall_ms),
           (long long)d->cfg->clock_skew_max_ms, (unsigned long long)suppressed);
}

/* Publishes one block, waiting for room in a full producer queue (back-pressure) up to
 * LG_DETECTOR_RETRIES_MAX times. A block is never dropped: on failure the batch is not
 * committed and is judged again by whoever reads it next. */
static int block_publish(lg_detector *d, const lg_block *b)
{
    char key[LG_DETECTOR_BLOCK_KEY_MAX + 1];
    char json[LG_EVENT_JSON_MAX];
    int klen = lg_block_key(b, key, sizeof key);
    int vlen = lg_block_encode(b, json, sizeof json);
    int rc = LG_EFULL;

    lg_assert(klen > 0);
    lg_assert(vlen > 0);
    for (int i = 0; i < LG_DETECTOR_RETRIES_MAX; i++) {
        rc = lg_bus_publish(d->bus, LG_TOPIC_BLOCKS, key, (size_t)klen, json, (size_t)vlen,
                            LG_DETECTOR_PUBLISH_WAIT_MS, NULL, NULL);
        if (rc != LG_EFULL)
            break;
        lg_log(LG_WARN, "detector", "block key=%s: producer queue full, retrying", key);
    }
    if (rc != 0)
        lg_log(LG_ERROR, "detector", "block key=%s rule=%s not published: %s", key, b->rule,
               lg_strerror(rc));
    return rc;
}

/* Judges one live attempt; its blocks go to the batch and to lg.blocks. Returns 0, or
 * the LG_E* of a block that could not be published. */
static int judge_live(lg_detector *d, const lg_bus_msg *m, lg_attempt *a,
                      lg_detector_stats *x)
{
    size_t nb = 0;
    lg_block *blocks = &d->batch_blocks[d->n_blocks];
    int rc;

    lg_assert(d->n_blocks + LG_RULES_MAX <= d->blocks_cap);
    rc = lg_engine_judge(d->engine, a, blocks, LG_RULES_MAX, &nb);
    if (rc != 0) {
        /* the engine refused this one attempt: skip it like a bad message */
        bad_message(d, m, lg_strerror(rc));
        x->bad_messages++;
        return 0;
    }
    x->attempts++;
    if (a->outcome == LG_OUTCOME_OK)
        x->ok++;
    else if (a->outcome == LG_OUTCOME_FAIL)
        x->fail++;
    else
        x->blocked++;
    d->batch_attempts[d->n_attempts++] = *a;
    for (size_t i = 0; i < nb; i++) {
        rc = block_publish(d, &blocks[i]);
        if (rc != 0)
            return rc;
        lg_log(LG_INFO, "detector", "partition=%d offset=%lld block rule=%s user=%.64s "
               "ip=%s since=%lld until=%lld level=%u", (int)m->partition,
               (long long)m->offset, blocks[i].rule, blocks[i].user, blocks[i].ip,
               (long long)blocks[i].since_ms, (long long)blocks[i].until_ms,
               blocks[i].level);
        if (d->on_block != NULL)
            d->on_block(d->on_block_opaque, &blocks[i]);
        x->blocks++;
    }
    d->n_blocks += nb;
    return 0;
}

/* Writes the batch in one transaction, trying up to tries times with backoff. */
static int batch_store(lg_detector *d, int tries)
{
    int backoff_ms = 10;
    int rc = 0;

    for (int i = 0; i < tries; i++) {
        rc = lg_store_put(d->store, d->batch_attempts, d->n_attempts, d->batch_blocks,
                          d->n_blocks, NULL);
        if (rc == 0)
            return 0;
        lg_log(LG_WARN, "detector", "store refused a batch of %zu attempts and %zu blocks: %s",
               d->n_attempts, d->n_blocks, lg_strerror(rc));
        if (i + 1 == tries)
            break;
        sleep_ms(backoff_ms);
        backoff_ms = backoff_ms * 2 > LG_DETECTOR_RETRY_MAX_MS ? LG_DETECTOR_RETRY_MAX_MS
                                                               : backoff_ms * 2;
    }
    if (tries > 1)
        lg_log(LG_ERROR, "detector", "store kept refusing batches: giving up without committing");
    return rc;
}

static void batch_commit(lg_detector *d)
{
    for (int32_t p = 0; p < LG_BUS_PARTITIONS_MAX; p++) {
        int rc;
        if (d->commit_next[p] < 0)
            continue;
        /* a failed commit (partition moved meanwhile) only means the next owner reads
         * these attempts again: the store ignores them the second time */
        rc = lg_bus_commit(d->attempts, p, d->commit_next[p]);
        if (rc != 0)
            lg_log(LG_WARN, "detector", "partition=%d offset=%lld commit failed: %s", (int)p,
                   (long long)d->commit_next[p], lg_strerror(rc));
        d->commit_next[p] = -1;
    }
}

/* After a flush: did every message published since the previous check reach the bus?
 * The flush returns once every delivery report has run, failed ones included. */
static int blocks_delivered(lg_detector *d)
{
    lg_bus_stats st;

    lg_bus_stats_get(d->bus, &st);
    if (st.delivery_failed == d->delivery_failed_seen)
        return 0;
    lg_log(LG_ERROR, "detector", "%llu messages refused by the bus since the last batch: "
           "blocks may be missing from %s, attempts not committed",
           (unsigned long long)(st.delivery_failed - d->delivery_failed_seen), LG_TOPIC_BLOCKS);
    d->delivery_failed_seen = st.delivery_failed;
    return LG_EIO;
}

/* Writes the pending batch (attempts judged since the last flush and their blocks) in
 * one transaction, makes sure its blocks are acknowledged on lg.blocks, then commits
 * each partition's next offset. Returns 0 or the LG_E* that made the detector give up;
 * on failure nothing is committed and the batch is read again by the next owner.
 * store_tries bounds the store retries: LG_DETECTOR_RETRIES_MAX on the detector's own
 * loop, 1 inside a revocation (a retrying store must not stall the group's rebalance). */
int lg_detector__pending_flush(lg_detector *d, int store_tries)
{
    int rc = 0;

    if (d->n_attempts > 0 || d->n_blocks > 0) {
        rc = batch_store(d, store_tries);
        if (rc != 0)
            goto done;
        lg_detector__stats_add(d, &(lg_detector_stats){.store_batches = 1});
    }
    /* a committed attempt's block must be acknowledged on lg.blocks: a rebuild would
     * re-decide it silently, never publish it */
    if (d->pending_published && (rc = lg_bus_flush(d->bus, LG_DETECTOR_FLUSH_MS)) != 0) {
        lg_log(LG_ERROR, "detector", "blocks not acknowledged within %d ms: %s",
               LG_DETECTOR_FLUSH_MS, lg_strerror(rc));
        goto done;
    }
    if (d->pending_published && (rc = blocks_delivered(d)) != 0)
        goto done;
    batch_commit(d);
done:
    if (rc != 0) {
        for (int32_t p = 0; p < LG_BUS_PARTITIONS_MAX; p++)
            d->commit_next[p] = -1;
    }
    d->n_attempts = 0;
    d->n_blocks = 0;
    d->pending_published = false;
    d->pending_since_ns = 0;
    return rc;
}

/* Judges one polled batch and publishes the blocks it decides at once (block latency
 * does not wait for the store); the attempts join the pending batch, written by
 * lg_detector__pending_flush. Returns 0 or the LG_E* that made the detector give up. */
static int batch_process(lg_detector *d, size_t n)
{
    lg_detector_stats x;
    int64_t wall_ms = lg_now_ms(); /* once a batch: a poll's worth of ms changes nothing */
    int rc = 0;

    memset(&x, 0, sizeof x);
    if (d->pending_since_ns == 0)
        d->pending_since_ns = lg_mono_ns();
    for (size_t i = 0; i < n; i++) {
        const lg_bus_msg *m = &d->msgs[i];
        int32_t p = m->partition;
        bool rebuild;
        char why[256];
        lg_attempt a;
        lg_block scratch[LG_RULES_MAX];
        size_t nb;

        lg_assert(p >= 0 && p < LG_BUS_PARTITIONS_MAX);
        rebuild = d->live_from[p] >= 0 && m->offset < d->live_from[p];
        if (m->value == NULL ||
            lg_attempt_decode(m->value, m->value_len, LG_ATTEMPT_WIRE, &a, why, sizeof why) != 0) {
            if (!rebuild) {
                bad_message(d, m, m->value == NULL ? "null value" : why);
                x.bad_messages++;
                d->commit_next[p] = m->offset + 1;
            }
            continue;
        }
        /* before anything sees its ts: the watermark, the windows, the store */
        if (lg_detector_clock_refuses(a.ts_ms, wall_ms, d->cfg->clock_skew_max_ms)) {
            refused_future(d, m, &a, wall_ms, rebuild);
            x.refused_future++;
            if (!rebuild)
                d->commit_next[p] = m->offset + 1; /* the partition moves on */
            continue;
        }
        /* the clock moves only between batches, so the order within one is free */
        lg_detector_clock_seen(&d->clock, p, a.ts_ms);
        if (rebuild) {
            /* judged before, stored and committed: only the windows need it again */
            if (lg_engine_judge(d->engine, &a, scratch, LG_RULES_MAX, &nb) == 0)
                x.rebuilt++;
            continue;
        }
        rc = judge_live(d, m, &a, &x);
        if (rc != 0) {
            lg_log(LG_ERROR, "detector", "partition=%d offset=%lld: %s", (int)p,
                   (long long)m->offset, lg_strerror(rc));
            goto done;
        }
        d->pending_published = d->pending_published || d->n_blocks > 0;
        d->commit_next[p] = m->offset + 1;
    }
done:
    lg_detector__stats_add(d, &x);
    lg_detector__full_update(d);
    return rc;
}

/* Should the pending batch be written now? When it is full, when the bus has nothing
 * more right now (n == 0), or when its oldest attempt has waited LG_DETECTOR_LINGER_MS:
 * under load this gathers several polls into one transaction (SQLite's cost is per
 * transaction), and when idle it writes at once. */
static bool pending_due(const lg_detector *d, size_t n_polled)
{
    if (d->n_attempts == 0 && d->n_blocks == 0) {
        for (int32_t p = 0; p < LG_BUS_PARTITIONS_MAX; p++)
            if (d->commit_next[p] >= 0)
                return true; /* only bad messages: still commit past them */
        return false;
    }
    return n_polled == 0 || d->n_attempts + 1 > d->batch_cap ||
           lg_mono_ns() - d->pending_since_ns >= (int64_t)LG_DETECTOR_LINGER_MS * 1000000;
}

/* How long the next poll may wait: not past the pending batch's deadline. */
static int poll_timeout_ms(const lg_detector *d)
{
    int64_t left_ms;

    if (d->pending_since_ns == 0)
        return LG_DETECTOR_POLL_MS;
    left_ms = LG_DETECTOR_LINGER_MS - (lg_mono_ns() - d->pending_since_ns) / 1000000;
    return left_ms <= 0 ? 0 : left_ms < LG_DETECTOR_POLL_MS ? (int)left_ms : LG_DETECTOR_POLL_MS;
}

/* After a poll (and its batch): the engine's clock moves to the low watermark of the
 * owned partitions, so that one partition's newer attempts never idle the windows of
 * another's users (detector_clock.h). */
static void clock_advance(lg_detector *d)
{
    bool at_end[LG_BUS_PARTITIONS_MAX];
    int64_t clock_ms;

    for (int32_t p = 0; p < LG_BUS_PARTITIONS_MAX; p++)
        at_end[p] = d->clock.assigned[p] && lg_bus_at_end(d->attempts, p);
    if (lg_detector_clock_low(&d->clock, at_end, &clock_ms))
        lg_engine_clock_set(d->engine, clock_ms);
}

/* --- the thread ------------------------------------------------------------------ */

static void *detector_main(void *arg)
{
    lg_detector *d = arg;
    int64_t drain_deadline = 0;
    int polls_stopping = 0;

    lg_log(LG_INFO, "detector", "started group=%s batch_max=%zu rebuild_ms=%lld",
           d->cfg->detector_group, d->batch_cap, (long long)d->rebuild_ms);
    /* the role's loop: runs until stop (then drains, bounded by LG_DETECTOR_DRAIN_MS) or
     * until it gives up */
    while (!atomic_load(&d->failed)) {
        bool stopping = atomic_load(&d->stop);
        size_t n = 0;
        int rc;

        if (stopping && drain_deadline == 0)
            drain_deadline = lg_mono_ns() + (int64_t)LG_DETECTOR_DRAIN_MS * 1000000;
        if (lg_detector__blocks_feed(d, 0) < 0)
            lg_log(LG_WARN, "detector", "reading %s failed", LG_TOPIC_BLOCKS);
        rc = lg_bus_poll(d->attempts, d->msgs, d->batch_cap - d->n_attempts, &n,
                         poll_timeout_ms(d));
        /* read lg.blocks again after the wait: an unblock published while the poll slept
         * must apply to the attempts that came after it (DELETE, then a login) */
        if (rc == 0 && n > 0 && lg_detector__blocks_feed(d, 0) < 0)
            lg_log(LG_WARN, "detector", "reading %s failed", LG_TOPIC_BLOCKS);
        if (rc != 0) {
            lg_log(LG_WARN, "detector", "poll of %s failed: %s", LG_TOPIC_ATTEMPTS,
                   lg_strerror(rc));
            sleep_ms(LG_DETECTOR_POLL_MS);
        } else if (n > 0 && batch_process(d, n) != 0) {
            atomic_store(&d->failed, true);
            break;
        } else {
            clock_advance(d);
        }
        if ((rc != 0 || pending_due(d, n) || stopping) &&
            lg_detector__pending_flush(d, LG_DETECTOR_RETRIES_MAX) != 0) {
            atomic_store(&d->failed, true);
            break;
        }
        if (!stopping) {
            /* more may be coming: let the next batch gather (LG_DETECTOR_COALESCE_US) */
            if (rc == 0 && n > 0 && n < LG_DETECTOR_COALESCE_MIN)
                nanosleep(&(struct timespec){0, LG_DETECTOR_COALESCE_US * 1000L}, NULL);
            continue;
        }
        polls_stopping++;
        if (n == 0 && lg_bus_caught_up(d->attempts))
            break; /* drained: everything published before stop is judged and stored */
        if (!d->ever_assigned && polls_stopping >= 2)
            break; /* never given a partition (still joining the group): nothing to drain */
        if (lg_mono_ns() >= drain_deadline) {
            lg_log(LG_WARN, "detector", "stop: not drained within %d ms; the rest is read "
                   "again by the next detector", LG_DETECTOR_DRAIN_MS);
            break;
        }
    }
    if (atomic_load(&d->failed))
        lg_log(LG_ERROR, "detector", "gave up; uncommitted attempts will be read again");
    return NULL;
}

/* --- lifecycle ------------------------------------------------------------------- */

int lg_detector__engine_new(lg_detector *d, lg_engine **out, char *err, size_t err_len)
{
    lg_engine_conf conf = d->cfg->engine;
    lg_engine *e = NULL;
    int rc;

    /* latency over throughput: a block must not wait for a huge page fault (engine.h) */
    conf.huge_pages = false;
    rc = lg_engine_new(&conf, &e, err, err_len);
    if (rc != 0)
        return rc;
    /* the clock stays put until the first watermark: partitions come out of step */
    lg_engine_clock_set(e, INT64_MIN);
    lg_detector_clock_reset(&d->clock);
    *out = e;
    return 0;
}

static int64_t rebuild_window_ms(const lg_engine_conf *ec)
{
    int64_t w = 0;
    for (size_t i = 0; i < ec->n_rules; i++) {
        if (ec->rules[i].enabled && ec->rules[i].window_ms > w)
            w = ec->rules[i].window_ms;
    }
    return w;
}

static size_t enabled_rules(const lg_engine_conf *ec)
{
    size_t n = 0;
    for (size_t i = 0; i < ec->n_rules; i++)
        n += ec->rules[i].enabled ? 1 : 0;
    return n;
}

int lg_detector_new(const lg_config *cfg, lg_bus *bus, lg_detector **out, char *err,
                    size_t err_len)
{
    lg_bus_sub sub = {
        .topic = LG_TOPIC_ATTEMPTS,
        .start = LG_BUS_FROM_COMMITTED,
        .rebalance = {lg_detector__assigned, lg_detector__revoked, NULL},
    };
    lg_bus_stats bst;
    lg_detector *d;
    int rc;

    lg_assert(cfg != NULL);
    lg_assert(bus != NULL);
    if (cfg->detector_batch_max == 0 || cfg->detector_batch_max > LG_STORE_BATCH_MAX) {
        snprintf(err, err_len, "invalid batch_max '%u' in [detector]: must be 1..%d",
                 cfg->detector_batch_max, LG_STORE_BATCH_MAX);
        return LG_EINVAL;
    }
    d = calloc(1, sizeof *d);
    if (d == NULL)
        goto fail_nomem;
    d->cfg = cfg;
    d->bus = bus;
    d->rebuild_ms = rebuild_window_ms(&cfg->engine);
    d->batch_cap = cfg->detector_batch_max;
    /* at most one block per enabled rule per attempt */
    d->blocks_cap = d->batch_cap * (enabled_rules(&cfg->engine) + 1) + LG_RULES_MAX;
    pthread_mutex_init(&d->stats_mu, NULL);
    for (size_t p = 0; p < LG_BUS_PARTITIONS_MAX; p++) {
        d->live_from[p] = -1;
        d->commit_next[p] = -1;
    }
    lg_bus_stats_get(bus, &bst); /* failures before this detector are not its own */
    d->delivery_failed_seen = bst.delivery_failed;
    d->msgs = calloc(d->batch_cap, sizeof *d->msgs);
    d->batch_attempts = calloc(d->batch_cap, sizeof *d->batch_attempts);
    d->batch_blocks = calloc(d->blocks_cap, sizeof *d->batch_blocks);
    if (d->msgs == NULL || d->batch_attempts == NULL || d->batch_blocks == NULL ||
        lg_detector__metrics_setup(d) != 0) {
        lg_detector_free(d);
        goto fail_nomem;
    }
    rc = lg_detector__engine_new(d, &d->engine, err, err_len);
    if (rc != 0)
        goto fail;
    rc = lg_store_open(cfg->store_url, &d->store, err, err_len);
    if (rc != 0)
        goto fail;
    rc = lg_detector__blocks_open(d, err, err_len);
    if (rc != 0)
        goto fail;
    sub.group = cfg->detector_group;
    sub.rebalance.opaque = d;
    rc = lg_bus_consumer_new(bus, &sub, &d->attempts, err, err_len);
    if (rc != 0)
        goto fail;
    *out = d;
    return 0;

fail:
    lg_detector_free(d);
    return rc;
fail_nomem:
    snprintf(err, err_len, "detector: out of memory");
    return LG_ENOMEM;
}

void lg_detector_on_block(lg_detector *d, lg_detector_block_cb cb, void *opaque)
{
    lg_assert(!d->started);
    d->on_block = cb;
    d->on_block_opaque = opaque;
}

int lg_detector_start(lg_detector *d)
{
    lg_assert(d != NULL);
    if (d->started)
        return d->joined ? LG_ECLOSED : 0;
    if (pthread_create(&d->thread, NULL, detector_main, d) != 0)
        return LG_ENOMEM;
    d->started = true;
    return 0;
}

void lg_detector_stop(lg_detector *d)
{
    lg_detector_stats st;
    if (d == NULL || !d->started || d->joined)
        return;
    atomic_store(&d->stop, true);
    pthread_join(d->thread, NULL);
    d->joined = true;
    /* leave the group now, so the other detectors take over without waiting for the
     * session timeout (the last revoke runs here, on this thread: the detector thread is
     * gone) */
    lg_bus_consumer_free(d->attempts);
    d->attempts = NULL;
    lg_detector_stats_get(d, &st);
    lg_log(LG_INFO, "detector", "stopped attempts=%llu ok=%llu fail=%llu blocked=%llu "
           "blocks=%llu rebuilt=%llu bad=%llu refused_future=%llu batches=%llu",
           (unsigned long long)st.attempts, (unsigned long long)st.ok,
           (unsigned long long)st.fail, (unsigned long long)st.blocked,
           (unsigned long long)st.blocks, (unsigned long long)st.rebuilt,
           (unsigned long long)st.bad_messages, (unsigned long long)st.refused_future,
           (unsigned long long)st.store_batches);
}

bool lg_detector_failed(lg_detector *d)
{
    return atomic_load(&d->failed);
}

void lg_detector_free(lg_detector *d)
{
    if (d == NULL)
        return;
    lg_detector_stop(d);
    lg_bus_consumer_free(d->attempts);
    lg_bus_consumer_free(d->blocks);
    lg_store_close(d->store);
    lg_engine_free(d->engine);
    free(d->msgs);
    free(d->batch_attempts);
    free(d->batch_blocks);
    lg_metrics_free(d->metrics);
    pthread_mutex_destroy(&d->stats_mu);
    free(d);
}

void lg_detector_stats_get(lg_detector *d, lg_detector_stats *out)
{
    pthread_mutex_lock(&d->stats_mu);
    *out = d->stats;
    pthread_mutex_unlock(&d->stats_mu);
}
