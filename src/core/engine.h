/*
 * engine.h - the detection engine: exact sliding windows, blocks and escalation, for a
 * set of rules that differ only in their key (user, ip, user|ip).
 *
 * Semantics (DESIGN.md "Detection semantics"; tests depend on them exactly):
 *  - a rule blocks a key when it has `threshold` counted failures whose timestamps span
 *    strictly less than `window_ms` (ts[k] - ts[k-threshold+1] < window_ms);
 *  - judged on event time (ts); a late event counts when ts > newest_ts(key) - window_ms,
 *    where newest_ts is the largest ts counted for that key; older late events are
 *    recorded with their outcome but not counted (they can no longer form a block with
 *    the window that the key's newest events define);
 *  - success clears the window (reset_on_success): failures with ts <= the success's ts
 *    are dropped and later-arriving failures with ts <= it are not counted;
 *  - an attempt with since <= ts < until (until 0 = permanent) of an active block of ANY
 *    enabled rule that applies to it is outcome BLOCKED: recorded, counted by no rule;
 *  - a block starts at the largest ts among the failures that completed it and clears the
 *    window of its key the same way a success at `since` would;
 *  - escalation: if the key's previous block of the same rule began less than 24 h before
 *    this one, level = previous level + 1, else 1; duration = block_for_ms * 2^(level-1),
 *    capped at 24 h; block_for_ms == 0 means permanent (until = 0);
 *  - rules keyed on the address key an IPv6 address by its /ipv6_prefix network, whose
 *    text (core/addr.h lg_addr_net: "2001:db8::/64") is the block's ip; IPv4 by itself;
 *  - state of a key is evicted once it is idle: its newest ts is window_ms or more behind
 *    the engine clock; its last block is kept until 24 h after it ends (permanent blocks
 *    until unblocked), for escalation and for BLOCKED. The clock is the newest ts the
 *    engine has seen (event time) unless the caller drives it (lg_engine_clock_set).
 *    Eviction is exact as long as no attempt judged later has a ts below the clock.
 *  - full tables (each rule: at most keys_max keys with window state, and as many block
 *    records): a new key evicts the least recently active keys (smallest newest ts, a
 *    slice of a few ms at a time: window.h) instead of going uncounted; a block record
 *    with no room evicts the records expired the longest ago, then the blocks ending
 *    soonest, never permanent ones (blocktab.h). Victims depend on the attempts judged
 *    only (not on hash secrets or memory), so a replay evicts the same keys; what a full
 *    table could not keep is counted in keys_full.
 *
 * Not thread-safe: one engine per detector thread. O(1) amortised per attempt.
 */
#ifndef LG_ENGINE_H
#define LG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/limits.h"

typedef enum {
    LG_RULE_KEY_USER = 0,
    LG_RULE_KEY_IP = 1,
    LG_RULE_KEY_USER_IP = 2,
} lg_rule_key;

typedef struct lg_rule_conf {
    char name[LG_RULE_NAME_MAX + 1]; /* appears in the block's "rule" */
    lg_rule_key key;
    bool enabled;
    uint32_t threshold;       /* 1..LG_THRESHOLD_MAX, default 5 */
    int64_t window_ms;        /* 1..LG_WINDOW_MS_MAX, default 60000 */
    int64_t block_for_ms;     /* 0 = permanent, default 15 min */
    bool reset_on_success;    /* default true */
    uint32_t keys_max;        /* bound on tracked keys (window state) for this rule */
    uint32_t ipv6_prefix;     /* rules keyed on the address: one key per IPv6 /prefix */
} lg_rule_conf;

typedef struct lg_engine_conf {
    lg_rule_conf rules[LG_RULES_MAX];
    size_t n_rules;
    /* tables on transparent huge pages (lg_keytab_init): for throughput (replay,
     * benchmarks); the live detector turns it off, as each first touch of a 2 MiB region
     * of a fresh table stalls for up to ~10 ms and delays the blocks behind it */
    bool huge_pages;
} lg_engine_conf;

/* Fills conf with the defaults: rule "user" on (5 in 60 s, 15 min), rules "ip"
 * (key ip, 20 in 60 s) and "user_ip" (key user|ip, 5 in 60 s) present but off. */
void lg_engine_conf_default(lg_engine_conf *conf);

typedef struct lg_engine lg_engine;

/* One rule's full-table counters (lg_engine_stats.rule). */
typedef struct lg_engine_rule_stats {
    char name[LG_RULE_NAME_MAX + 1];
    uint64_t keys_evicted_full;   /* window states evicted to make room for new keys */
    uint64_t blocks_evicted_full; /* block records evicted to make room for new ones */
    uint64_t keys_full;           /* this rule's part of lg_engine_stats.keys_full */
} lg_engine_rule_stats;

/* Counters for metrics and the replay summary. */
typedef struct lg_engine_stats {
    uint64_t attempts, ok, fail, blocked; /* by outcome */
    uint64_t late_dropped;   /* failures too late to count (ts <= newest - window) */
    uint64_t blocks;         /* blocks decided */
    uint64_t keys_tracked;   /* window states alive or not yet freed, all rules */
    uint64_t keys_evicted;   /* idle window states dropped */
    uint64_t keys_evicted_full;   /* window states evicted for room (window.h), all rules */
    uint64_t blocks_evicted_full; /* block records evicted for room (blocktab.h) */
    /* what a full table could not keep: a new key's failure or floor (no state older
     * than it to evict), a block decided or loaded (the block stands, unremembered) */
    uint64_t keys_full;
    uint64_t blocks_tracked; /* block records alive or not yet freed */
    size_t bytes;            /* memory held by the tables */
    size_t bytes_blocks;     /* the part of bytes held by the block tables */
    size_t n_rules;          /* enabled rules, in configuration order: */
    lg_engine_rule_stats rule[LG_RULES_MAX];
} lg_engine_stats;

/* Validates conf (ranges, unique names) and builds an engine. err gets the reason. */
int lg_engine_new(const lg_engine_conf *conf, lg_engine **out, char *err, size_t err_len);
void lg_engine_free(lg_engine *e);

/*
 * Judges one attempt: sets a->outcome (OK, FAIL or BLOCKED) and updates the windows.
 * Blocks decided by this attempt (at most one per enabled rule) are written to
 * blocks[0..*n_blocks). blocks_cap must be >= LG_RULES_MAX. Returns 0 or a negative LG_E*.
 * The attempt must already be valid (lg_attempt_decode); user/ip are not re-validated.
 */
int lg_engine_judge(lg_engine *e, lg_attempt *a, lg_block *blocks, size_t blocks_cap,
                    size_t *n_blocks);

/*
 * Same outcomes and blocks as judging a[0..n) one by one with lg_engine_judge, but faster
 * on large tables: keys are hashed and their table slots prefetched a few attempts ahead.
 * cb (may be NULL) gets each block decided, with the index of the attempt that decided
 * it, in decision order; the block is borrowed for the call. Returns 0.
 */
typedef void (*lg_engine_block_cb)(void *opaque, size_t index, const lg_block *b);
int lg_engine_judge_batch(lg_engine *e, lg_attempt *a, size_t n, lg_engine_block_cb cb,
                          void *opaque);

/*
 * Loads a block decided elsewhere (read back from lg.blocks when a detector rebuilds its
 * partitions): the key is blocked from since to until, its level is remembered for
 * escalation, and its window is cleared up to since, exactly as if this engine had
 * decided it. A block with an unknown rule name is ignored (returns LG_ENOTFOUND). A
 * block older (since) than the key's alive record is ignored too (returns 0): the record
 * already holds later history.
 */
int lg_engine_load_block(lg_engine *e, const lg_block *b);

/* Forgets the block (and escalation history) under key (an operator unblock, a
 * tombstone on lg.blocks), as lg_block_key() forms it: "<rule>:<rule's key>", of that
 * rule only. LG_ENOTFOUND when no block was alive under it (or no enabled rule has the
 * name, or the key is malformed). */
int lg_engine_unblock(lg_engine *e, const char *key, size_t key_len);

/* Is key (as lg_block_key() forms it: "user:alice", "ip:192.0.2.1") blocked at time
 * now_ms? Writes the block when it is. */
bool lg_engine_blocked(lg_engine *e, const char *key, size_t key_len, int64_t now_ms,
                       lg_block *out);

void lg_engine_stats_get(const lg_engine *e, lg_engine_stats *out);

/*
 * Hands the eviction clock to the caller. By default the clock is the largest ts judged,
 * which is right when attempts come in (nearly) ts order, as in `replay`. A consumer of
 * several partitions that arrive out of step (a Kafka detector catching up) must not let
 * one partition's newer attempts idle the keys of another: it calls this with a low
 * watermark, a time below which it expects no more attempts. From the first call on, the
 * engine no longer advances its clock from attempts; idleness, sweeps and block record
 * expiry use clock_ms. Monotonic: a value below the current clock is ignored, so
 * INT64_MIN switches to the caller's clock without moving it. Attempts with ts above the
 * clock are judged as usual (they only keep more state alive for longer).
 */
void lg_engine_clock_set(lg_engine *e, int64_t clock_ms);

/* The eviction clock now (INT64_MIN before any attempt or lg_engine_clock_set). */
int64_t lg_engine_clock(const lg_engine *e);

#endif
