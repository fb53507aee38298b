/*
 * blocklist.h - an API instance's local copy of the blocklist, fed only from lg.blocks.
 *
 * Keys are lg_block_key() strings; a tombstone removes the key. Lookups are O(1) and
 * lock-striped so the HTTP threads do not contend with the feeder. An entry answers
 * "blocked" only while since <= now < until (until 0 = permanent); expired entries are
 * dropped lazily on lookup and by lg_blocklist_expire (bounded work per call).
 */
#ifndef LG_BLOCKLIST_H
#define LG_BLOCKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

typedef struct lg_blocklist lg_blocklist;

/* entries_max bounds the table; when full, lg_blocklist_put evicts expired entries, else
 * the block ending soonest (of a bounded sample, and only one ending before the new
 * block), else refuses with LG_EFULL (each counted). */
int lg_blocklist_new(size_t entries_max, lg_blocklist **out);
void lg_blocklist_free(lg_blocklist *bl);

/* Inserts or replaces the block under its key. */
int lg_blocklist_put(lg_blocklist *bl, const lg_block *b);
/* Removes key (a tombstone). Missing keys are fine. */
void lg_blocklist_del(lg_blocklist *bl, const char *key, size_t key_len);

/* Is key blocked at now_ms? Copies the block into *out (may be NULL) when it is. */
bool lg_blocklist_has(lg_blocklist *bl, const char *key, size_t key_len, int64_t now_ms,
                      lg_block *out);

/* Calls cb for each block active at now_ms (GET /v1/blocks). */
typedef void (*lg_blocklist_cb)(void *opaque, const lg_block *b);
void lg_blocklist_each_active(lg_blocklist *bl, int64_t now_ms, lg_blocklist_cb cb,
                              void *opaque);

size_t lg_blocklist_count(lg_blocklist *bl);

/* Drops blocks expired at now_ms, visiting about visits_max entries (whole stripes,
 * resuming where the previous sweep stopped). Returns how many were dropped. */
size_t lg_blocklist_expire(lg_blocklist *bl, int64_t now_ms, size_t visits_max);

/* How many puts were refused with LG_EFULL since lg_blocklist_new (for metrics). */
uint64_t lg_blocklist_refused(lg_blocklist *bl);

/* How many active blocks a full table evicted for newer ones (for metrics). */
uint64_t lg_blocklist_evicted(lg_blocklist *bl);

#endif
