/*
 * detector_int.h - what detector.c (thread, batches, store, commits) and
 * detector_rebuild.c (partition ownership: loading blocks, rebuilding windows) share.
 * Not for use outside src/roles/detector*.c.
 */
#ifndef LG_DETECTOR_INT_H
#define LG_DETECTOR_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "core/engine.h"
#include "http/metrics.h"
#include "roles/detector.h"
#include "roles/detector_clock.h"
#include "store/store.h"

/* a key on lg.blocks: lg_block_key() ("<rule>:<key>") or a legacy bare user */
#define LG_DETECTOR_BLOCK_KEY_MAX LG_BLOCK_KEY_MAX
/* messages of lg.blocks taken per poll: blocks are rare, this only bounds a buffer */
#define LG_DETECTOR_BLOCKS_POLL_MAX 256
/* reading lg.blocks to its end before deciding anything on new partitions: a compacted
 * topic of every blocked key reads in well under this on any healthy cluster */
#define LG_DETECTOR_CATCHUP_MS 30000
/* stop: how long the last rounds may take to drain what was published */
#define LG_DETECTOR_DRAIN_MS 15000
/* one poll of lg.attempts waits at most this, so stop is noticed promptly */
#define LG_DETECTOR_POLL_MS 100
/* longest an attempt waits in the pending batch before its store write and commit: under
 * load it gathers several polls into one SQLite transaction; blocks are published before
 * this, so it delays the audit row and the offset commit, never a block */
#define LG_DETECTOR_LINGER_MS 20
/* a poll that returned some attempts but fewer than LG_DETECTOR_COALESCE_MIN is followed
 * by a pause of LG_DETECTOR_COALESCE_US before the next poll. Under a steady stream the
 * detector otherwise drained the bus at once and slept on it again, so every attempt or
 * two cost a futex wake in the publishing HTTP thread and two context switches (0.3-0.7
 * wake-ups per attempt at 40-80 k attempts/s; 0.04 with the pause). Pausing only when
 * the attempts had already been waiting was not enough: a detector woken on its
 * publisher's core preempts it, finds one attempt, and sleeps again before the
 * publisher runs. The pause delays an attempt by at most this much (plus timer slack)
 * when it follows another within the pause; an attempt on an idle bus still wakes the
 * detector at once. 250 us saved no more CPU than 100 and cost more latency */
#define LG_DETECTOR_COALESCE_MIN 64
#define LG_DETECTOR_COALESCE_US 100
/* the producer holds our blocks at most this long before a commit needs them acked */
#define LG_DETECTOR_FLUSH_MS 10000
/* store or bus refusals are retried with a doubling sleep up to this ceiling ... */
#define LG_DETECTOR_RETRY_MAX_MS 1000
/* ... this many times (~1 min), then the detector gives up: uncommitted attempts are
 * redelivered to whoever takes over, so failing loudly loses nothing */
#define LG_DETECTOR_RETRIES_MAX 70
/* one publish of a block waits this long for room in the producer queue */
#define LG_DETECTOR_PUBLISH_WAIT_MS 1000
/* a rebuild starts this much earlier than one window before the last committed attempt.
 * It re-reads by message time (Kafka CreateTime, what offsets-for-times indexes) but
 * windows hold each attempt's own ts: an API stamps ts just before publishing and may
 * wait for room in the producer queue (LG_API_PUBLISH_WAIT_MS), attempts of one user
 * come from API hosts whose clocks differ by NTP's error, so both times agree within far
 * less than this; a few extra seconds of re-reading cost nothing */
#define LG_DETECTOR_REBUILD_MARGIN_MS 5000

/* A condition that may repeat for every message (a producer gone wrong) is logged at
 * most once a second; the lines dropped meanwhile are counted into the next one. */
typedef struct lg_detector_ratelog {
    int64_t last_ns;
    uint64_t suppressed;
} lg_detector_ratelog;

/* series of lg_detector_metrics (detector_metrics.c) */
#define LG_DETECTOR_METRICS_MAX 16

/* What one series of lg_detector_metrics reads: a uint64_t of d's stats at off. */
typedef struct lg_detector_metric_ref {
    struct lg_detector *d;
    size_t off;
} lg_detector_metric_ref;

/* full tables: at most one warning per this long, with the counts since the last one */
#define LG_DETECTOR_FULL_LOG_MS 10000

typedef enum {
    LG_DETECTOR_FULL_KEYS_EVICTED = 0,
    LG_DETECTOR_FULL_BLOCKS_EVICTED = 1,
    LG_DETECTOR_FULL_NOT_KEPT = 2,
    LG_DETECTOR_FULL_WHATS = 3,
} lg_detector_full_what;

/* One /metrics series: which counter of which rule (index among the enabled rules). */
typedef struct lg_detector_full_series {
    struct lg_detector *d;
    size_t rule;
    lg_detector_full_what what;
} lg_detector_full_series;

/* The engine's full-table counters (detector_full.c). */
typedef struct lg_detector_full {
    lg_engine_stats base;   /* of the engines resets retired (detector thread) */
    lg_engine_stats now;    /* base + the engine's, after the last batch (stats_mu) */
    lg_engine_stats logged; /* as of the last warning (detector thread) */
    int64_t log_next_ns;
    lg_detector_full_series series[LG_RULES_MAX * LG_DETECTOR_FULL_WHATS];
} lg_detector_full;

struct lg_detector {
    const lg_config *cfg; /* borrowed */
    lg_bus *bus;          /* borrowed */
    lg_store *store;
    lg_engine *engine;
    lg_bus_consumer *attempts; /* group cfg->detector_group, from committed */
    lg_bus_consumer *blocks;   /* no group, from the beginning: every block */
    int64_t rebuild_ms;        /* the largest window among enabled rules */

    /*
     * Partition p of lg.attempts, while owned: offsets below live_from[p] were already
     * judged, stored and committed by a previous owner and are only re-read to rebuild
     * windows; live_from[p] < 0 means everything is live. reset_pending: a revocation
     * happened, so the engine holds windows of partitions this detector may no longer
     * own; the next assignment drops all state and rebuilds.
     */
    bool owned[LG_BUS_PARTITIONS_MAX];
    int64_t live_from[LG_BUS_PARTITIONS_MAX];
    bool reset_pending;
    bool ever_assigned;
    /* the engine's eviction clock: the low watermark of the owned partitions, set after
     * each poll (detector_clock.h); reset with the engine */
    lg_detector_clock clock;

    /* one batch: polled messages, the attempts judged live, the blocks they decided */
    size_t batch_cap;
    lg_bus_msg *msgs;
    lg_attempt *batch_attempts;
    size_t n_attempts;
    lg_block *batch_blocks;
    size_t n_blocks, blocks_cap;
    int64_t commit_next[LG_BUS_PARTITIONS_MAX]; /* -1: nothing to commit */
    bool pending_published;   /* the pending batch decided blocks: flush the bus first */
    /* the bus's delivery_failed count at the last flush: lg_bus_flush returns 0 even when
     * messages failed, so a rise in it is what says a block is not on lg.blocks. Read
     * from the bus's stats rather than per-message callbacks, which could run after the
     * detector is freed; in a process where other roles share a Kafka bus, their failures
     * also stop the commit - a false alarm that fails loudly, never a loss. */
    uint64_t delivery_failed_seen;
    int64_t pending_since_ns; /* when its first attempt was judged; 0 = empty */
    lg_bus_msg bmsgs[LG_DETECTOR_BLOCKS_POLL_MAX];

    lg_detector_block_cb on_block;
    void *on_block_opaque;

    pthread_t thread;
    bool started, joined;
    atomic_bool stop;
    atomic_bool failed; /* gave up (store or bus down too long, out of memory) */

    pthread_mutex_t stats_mu;
    lg_detector_stats stats;
    lg_detector_full full;

    lg_detector_ratelog bad_log;     /* "bad attempt skipped" lines */
    lg_detector_ratelog refused_log; /* "attempt refused" lines */

    lg_metrics *metrics; /* lg_detector_metrics */
    lg_detector_metric_ref metric_refs[LG_DETECTOR_METRICS_MAX];
};

/* The rebalance callbacks of the attempts consumer (detector_rebuild.c). */
void lg_detector__assigned(void *opaque, lg_bus_consumer *c, const int32_t *partitions,
                           size_t n);
void lg_detector__revoked(void *opaque, lg_bus_consumer *c, const int32_t *partitions,
                          size_t n);

/* Writes, acknowledges and commits the pending batch (detector.c). */
int lg_detector__pending_flush(lg_detector *d, int store_tries);

/* Feeds what lg.blocks has now to the engine: blocks loaded, tombstones unblocked.
 * Returns the number of messages read, or a negative LG_E*. */
int lg_detector__blocks_feed(lg_detector *d, int timeout_ms);

/* Opens the lg.blocks consumer from the beginning. */
int lg_detector__blocks_open(lg_detector *d, char *err, size_t err_len);

void lg_detector__stats_add(lg_detector *d, const lg_detector_stats *delta);

/* Registers the series of lg_detector_metrics in a new d->metrics (detector_metrics.c).
 * 0 or LG_ENOMEM. */
int lg_detector__metrics_setup(lg_detector *d);

/* After a batch: the full-table counters for /metrics, and a warning when they rose
 * (rate-limited). Before an engine is replaced: its counts kept (detector_full.c). */
void lg_detector__full_update(lg_detector *d);
void lg_detector__full_engine_retired(lg_detector *d);

/* Builds an engine from the configuration whose eviction clock the detector drives, and
 * resets d->clock to "no partition" (every engine starts with no partition's history). */
int lg_detector__engine_new(lg_detector *d, lg_engine **out, char *err, size_t err_len);

#endif
