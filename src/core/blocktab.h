/*
 * blocktab.h - one rule's last block per key, kept for BLOCKED decisions and escalation.
 *
 * A record holds since, until (0 = permanent) and level. It lives until the engine clock
 * reaches until + LG_ESCALATION_MS (a permanent one until it is forgotten); past that it
 * is absent for every lookup (exact, whenever the sweep frees it) and lg_blocktab_sweep
 * frees it a few slots per call. Blocks are rare next to attempts, so the tables start
 * small and double up to keys_max records.
 *
 * Full table: at most keys_max records are alive. A key without one that needs one
 * evicts the records that matter least, in order of their end: expired the longest ago
 * first (kept only for escalation), then the active blocks ending soonest, a slice of
 * ends at a time (lg_agehist), by raising `dead_ms`: a record ending at or before it is
 * absent, exactly as if expired. Permanent records are never evicted, nor blocks ending
 * in the new record's slice or later: then the new one is refused (LG_EFULL). Records
 * longer than LG_BLOCK_CAP_MS (only loaded ones) are not counted against keys_max.
 */
#ifndef LG_BLOCKTAB_H
#define LG_BLOCKTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/agehist.h"
#include "core/keyhash.h"
#include "core/keytab.h"
#include "core/limits.h"

/* Records are 32 bytes: until is kept as a 32-bit duration after since (decided blocks
 * last at most LG_BLOCK_CAP_MS); the rare record whose until is not since + 1..2^32-1 ms
 * nor 0 (a loaded block of any length, an until beyond int64) goes to a small second
 * table of full 40-byte records, so every until stays exact. A key is in one at most. */
typedef struct lg_blocktab {
    lg_keytab tab;
    lg_keytab wide;
    size_t cursor, wide_cursor;
    int64_t dead_ms;    /* records ending at or before it were evicted (INT64_MIN: none) */
    uint32_t keys_max;  /* records alive at most (the tables hold slack for dead ones) */
    uint32_t permanent; /* alive permanent records: counted, never evicted */
    uint64_t evicted;   /* records evicted for room (whole slices of ends) */
    lg_agehist age;     /* alive records of at most LG_BLOCK_CAP_MS, by until */
} lg_blocktab;

typedef struct lg_blocktab_rec {
    int64_t since_ms;
    int64_t until_ms; /* 0 = permanent */
    uint32_t level;
} lg_blocktab_rec;

/* huge_pages as lg_keytab_init. */
int lg_blocktab_init(lg_blocktab *bt, uint32_t keys_max, bool huge_pages);
void lg_blocktab_destroy(lg_blocktab *bt);

/* h's record at engine clock now_ms, if one is alive. */
bool lg_blocktab_get(lg_blocktab *bt, lg_keyhash h, int64_t now_ms, lg_blocktab_rec *out);

/* Has a record ending at until (0: permanent) expired at engine clock now_ms, kept
 * until LG_ESCALATION_MS past its end? */
static inline bool lg_blocktab_expired(int64_t until_ms, int64_t now_ms)
{
    return until_ms != 0 && now_ms > until_ms &&
           (uint64_t)now_ms - (uint64_t)until_ms >= (uint64_t)LG_ESCALATION_MS;
}

/* Is a record ending at until gone at now_ms: expired, or evicted for room? */
static inline bool lg_blocktab_dead(const lg_blocktab *bt, int64_t until_ms, int64_t now_ms)
{
    return lg_blocktab_expired(until_ms, now_ms) || (until_ms != 0 && until_ms <= bt->dead_ms);
}

/* Does the block cover ts: since <= ts < until (until 0: no end)? */
static inline bool lg_blocktab_covers(const lg_blocktab_rec *r, int64_t ts_ms)
{
    return ts_ms >= r->since_ms && (r->until_ms == 0 || ts_ms < r->until_ms);
}

/* block_for_ms * 2^(level - 1), capped at LG_BLOCK_CAP_MS; 0 (permanent) stays 0. */
int64_t lg_blocktab_duration_ms(int64_t block_for_ms, uint32_t level);

/* Decides a block of h starting at since_ms: level = previous level + 1 when h's
 * previous block began less than LG_ESCALATION_MS before since_ms, else 1. Writes the
 * block to *out and records it. Returns 0, or LG_EFULL / LG_ENOMEM when it could not be
 * recorded (*out is written all the same: the block stands, it is just not remembered). */
int lg_blocktab_decide(lg_blocktab *bt, lg_keyhash h, int64_t since_ms, int64_t block_for_ms,
                       int64_t now_ms, lg_blocktab_rec *out);

/* Records r for h at engine clock now_ms, replacing any record (a block loaded from
 * lg.blocks). Returns 0, LG_EFULL (see above) or LG_ENOMEM. */
int lg_blocktab_put(lg_blocktab *bt, lg_keyhash h, const lg_blocktab_rec *r, int64_t now_ms);

/* Forgets h's record; false when there was none alive at engine clock now_ms. */
bool lg_blocktab_forget(lg_blocktab *bt, lg_keyhash h, int64_t now_ms);

/* Looks at up to `slots` slots from the cursor and frees expired records. */
uint32_t lg_blocktab_sweep(lg_blocktab *bt, int64_t now_ms, uint32_t slots);

/* Records alive or not yet swept, and bytes held by both tables. */
uint32_t lg_blocktab_count(const lg_blocktab *bt);
size_t lg_blocktab_bytes(const lg_blocktab *bt);

#endif
