/*
 * detector.h - the detector role: consumes lg.attempts, judges each attempt with the
 * engine, publishes blocks on lg.blocks, writes attempts and blocks to the audit store,
 * and only then commits the offsets (at-least-once; store writes are idempotent).
 *
 * It also reads lg.blocks: tombstones (operator unblocks) clear the engine's block, and
 * on gaining a partition (Kafka consumer group) it rebuilds that partition's windows by
 * re-reading the last window_ms of it (lg_bus_seek_time) after loading current blocks,
 * before deciding anything. On losing a partition it drops that state.
 *
 * Its engine's eviction clock is the low watermark of the partitions it reads
 * (detector_clock.h), not the newest attempt of any: partitions arrive out of step, and a
 * leading one must not idle the windows of a lagging one's users. An attempt whose ts is
 * later than the wall clock + clock_skew_max_ms is refused: counted (refused_future),
 * logged at most once a second, never judged nor stored, its offset committed.
 *
 * Runs on its own thread (lg_detector_start) in `loginguard run` and `loginguard
 * detector`. Opens its own store handle from cfg->store_url.
 */
#ifndef LG_DETECTOR_H
#define LG_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "core/config.h"
#include "http/metrics.h"

typedef struct lg_detector lg_detector;

typedef struct lg_detector_stats {
    uint64_t attempts, ok, fail, blocked; /* judged live, by outcome */
    uint64_t rebuilt;                     /* attempts re-read to rebuild windows */
    uint64_t blocks;                      /* blocks decided and published */
    uint64_t bad_messages;                /* undecodable messages (logged, skipped) */
    /* attempts refused, never judged nor stored: ts later than the wall clock +
     * clock_skew_max_ms (live, or re-read by a rebuild: each read counts) */
    uint64_t refused_future;
    uint64_t store_batches;
} lg_detector_stats;

/* Optional hook: called on the detector thread for each block it decides (run prints
 * them; tests count them). */
typedef void (*lg_detector_block_cb)(void *opaque, const lg_block *b);

/* cfg and bus are borrowed and must outlive the detector. */
int lg_detector_new(const lg_config *cfg, lg_bus *bus, lg_detector **out, char *err,
                    size_t err_len);
void lg_detector_on_block(lg_detector *d, lg_detector_block_cb cb, void *opaque);
int lg_detector_start(lg_detector *d);
/* Drains: processes every attempt already published, writes and commits it, then joins
 * the thread. Safe to call twice. */
void lg_detector_stop(lg_detector *d);
void lg_detector_free(lg_detector *d); /* stops first if running; NULL is a no-op */
void lg_detector_stats_get(lg_detector *d, lg_detector_stats *out);

/* The detector's Prometheus series (lg_detector_*: attempts by outcome, refused ones by
 * reason, blocks, rebuilt, bad messages, store batches), read from its stats at scrape
 * time. Borrowed: lives as long as the detector. `run` serves it on the API's /metrics
 * (lg_api_metrics_attach). */
struct lg_metrics;
struct lg_metrics *lg_detector_metrics(lg_detector *d);

/* Registers the engine's full-table counters in m, per enabled rule:
 * lg_engine_keys_evicted_total, lg_engine_blocks_evicted_total and
 * lg_engine_keys_full_total{rule="..."}. m may already be served; it must not outlive d.
 * Returns 0 or LG_EFULL (m has no room). */
int lg_detector_metrics_add(lg_detector *d, lg_metrics *m);
/* True once the detector gave up (store or bus refusing for about a minute, out of
 * memory): its thread has ended without committing what it could not store. */
bool lg_detector_failed(lg_detector *d);

#endif
