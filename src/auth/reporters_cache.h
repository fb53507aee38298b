/*
 * reporters_cache.h - the reporter keys an API instance accepts, in memory, refreshed
 * from the store.
 *
 * Checking a key costs one BLAKE2b of the presented text and one probe of a hash table
 * under a read lock: no store access per request. The table is rebuilt from the store
 * every LG_REPORTER_REFRESH_MS by a thread with its own store handle, so a key added or
 * deleted with `loginguard keys` takes effect on every instance within about that. The
 * last use of each key is noted in the table (at most once per LG_REPORTER_TOUCH_MS) and
 * written to the store in one transaction per refresh, never one write per request.
 *
 *   new --start(url)--> loaded, refreshing --free--> (last uses written) freed
 *   new --refresh(s) ... (tests: refreshed by hand) --free--> freed
 *
 * check may be called from any thread at any time; refresh by one thread at a time,
 * and not while the refresher thread runs.
 */
#ifndef LG_REPORTERS_CACHE_H
#define LG_REPORTERS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct lg_reporters_cache lg_reporters_cache;

/* An empty cache (accepts no key). */
int lg_reporters_cache_new(lg_reporters_cache **out);

/* Stops the refresher thread if started (it writes the last uses noted since its last
 * round first), closes its store and frees. NULL is a no-op. */
void lg_reporters_cache_free(lg_reporters_cache *c);

/* Writes the last uses noted since the previous refresh to s (lg_store_keys_touch), then
 * replaces the table with the keys s holds now (at most LG_REPORTER_KEYS_MAX, by name;
 * more are logged and ignored). On a store error the table is kept as it was and the
 * noted uses stay pending; returns the LG_E* code. */
int lg_reporters_cache_refresh(lg_reporters_cache *c, lg_store *s);

/* Opens its own store at store_url, loads it (refresh) and starts the thread that
 * refreshes every LG_REPORTER_REFRESH_MS. Fails, with a reason in err, when the store
 * cannot be opened or read. At most once per cache. */
int lg_reporters_cache_start(lg_reporters_cache *c, const char *store_url, char *err,
                             size_t err_len);

/* Is key (len bytes) a key in the table? If so notes its use at now_ms and copies its
 * name into name (name_len bytes, may be 0 / NULL). */
bool lg_reporters_cache_check(lg_reporters_cache *c, const char *key, size_t len,
                              int64_t now_ms, char *name, size_t name_len);

/* Keys in the table now. */
size_t lg_reporters_cache_count(lg_reporters_cache *c);

#endif
