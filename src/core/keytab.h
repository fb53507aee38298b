/*
 * keytab.h - a bounded open-addressing table of fixed-size entries keyed by a 128-bit
 * fingerprint (lg_keyhash), with no allocation per key.
 *
 * Layout after F14 (folly): slots are grouped in chunks of 14; each chunk has 16 bytes
 * of metadata, a 1-byte tag per slot (0 = empty, else 7 bits of the hash | 0x80) and an
 * overflow count of keys that probed past it because it was full. A lookup compares the
 * 14 tags at once (SSE2) and stops at the first chunk whose overflow count is zero, so
 * removal needs no tombstones and never moves another entry: slots stay where they are,
 * which lets callers sweep them with a cursor. Load is kept at or below 12/14.
 *
 * Entries are `stride` bytes; the first 16 are the fingerprint (lg_keyhash), the rest is
 * the caller's. Capacity is fixed at init (keys_cap) unless grow_max says it may double
 * up to it; keys_max bounds the live entries either way.
 */
#ifndef LG_KEYTAB_H
#define LG_KEYTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/keyhash.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define LG_KEYTAB_CHUNK_SLOTS 14
/* live entries per chunk on average at most: keeps probe chains short (F14 uses 12/14). */
#define LG_KEYTAB_CHUNK_FILL 12
/* with lg_keytab_slack_allow: entries per chunk at most, at the largest size */
#define LG_KEYTAB_CHUNK_SLACK 13

typedef struct lg_keytab_chunk {
    uint8_t tags[LG_KEYTAB_CHUNK_SLOTS];
    uint16_t overflow; /* keys that probed past this chunk; saturates, then never drops */
} lg_keytab_chunk;

typedef struct lg_keytab {
    lg_keytab_chunk *chunks;
    unsigned char *entries; /* n_chunks * LG_KEYTAB_CHUNK_SLOTS * stride bytes */
    size_t stride;
    uint32_t n_chunks;
    uint32_t n_chunks_max; /* growth stops here (== n_chunks for a fixed table) */
    uint32_t count;        /* live entries */
    uint32_t keys_max;     /* bound on count */
    bool huge_pages;       /* large arrays asked for transparent huge pages */
} lg_keytab;

/* Builds an empty table of stride-byte entries (stride a multiple of 8, >= 16) for
 * keys_max keys. With grow true it starts at about keys_init keys and doubles on demand;
 * otherwise it holds keys_max from the start. huge_pages asks for transparent huge pages
 * (fewer TLB misses: throughput), at the price of a synchronous 2 MiB fault - zeroing,
 * and compaction where the kernel's THP defrag is "madvise" - at each first touch of a
 * region (ms-long stalls while a fresh table fills: latency). Returns 0, LG_EINVAL or
 * LG_ENOMEM. */
int lg_keytab_init(lg_keytab *t, size_t stride, uint32_t keys_max, bool grow,
                   uint32_t keys_init, bool huge_pages);
void lg_keytab_destroy(lg_keytab *t);

/* Lets count pass the keys_max of init, up to LG_KEYTAB_CHUNK_SLACK of every 14 slots of
 * the largest size: room for entries that the owner already counts as absent (it bounds
 * its live entries itself) and frees lazily. Probe chains get a little longer only then.
 * Takes no memory: the slots exist anyway. */
void lg_keytab_slack_allow(lg_keytab *t);

/* The entry of h, or NULL: the home chunk inline (nearly every lookup ends there), the
 * rest of the probe sequence out of line. */
void *lg_keytab_find_slow(const lg_keytab *t, lg_keyhash h);

static inline void *lg_keytab_find(const lg_keytab *t, lg_keyhash h)
{
    uint32_t c = (uint32_t)(((h.lo >> 32) * (uint64_t)t->n_chunks) >> 32); /* home */
    const lg_keytab_chunk *ch = &t->chunks[c];
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)ch);
    __m128i tag = _mm_set1_epi8((char)((h.lo & 0x7f) | 0x80));
    uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, tag)) &
                 ((1u << LG_KEYTAB_CHUNK_SLOTS) - 1);

    while (m != 0) {
        unsigned char *e = t->entries +
                           ((size_t)c * LG_KEYTAB_CHUNK_SLOTS + (unsigned)__builtin_ctz(m)) *
                               t->stride;
        lg_keyhash fp;

        memcpy(&fp, e, sizeof fp);
        if (lg_keyhash_eq(fp, h))
            return e;
        m &= m - 1;
    }
    if (ch->overflow == 0)
        return NULL;
#endif
    return lg_keytab_find_slow(t, h);
}

/* Adds h, which must be absent, and writes its entry (fingerprint set, rest zeroed) to
 * *out. Returns 0, LG_EFULL when keys_max entries are live, LG_ENOMEM when growing
 * failed. Entry pointers are invalidated by a successful insert only when it grew. */
int lg_keytab_insert(lg_keytab *t, lg_keyhash h, void **out);

/* Removes the entry (a pointer returned by find, insert or slot) and zeroes its
 * fingerprint, so a pointer kept to it no longer matches any nonzero fingerprint. */
void lg_keytab_remove(lg_keytab *t, void *entry);

/* Number of slots, and the entry in slot i < slots (NULL when empty): for sweeping
 * cursors, inline because sweeps run on every attempt. */
static inline size_t lg_keytab_slots(const lg_keytab *t)
{
    return (size_t)t->n_chunks * LG_KEYTAB_CHUNK_SLOTS;
}

/* Bit s set when slot s of chunk c holds an entry: sweeps skip empty slots by chunk. */
static inline uint32_t lg_keytab_chunk_used(const lg_keytab *t, size_t c)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)&t->chunks[c]);
    uint32_t empty = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
    return ~empty & ((1u << LG_KEYTAB_CHUNK_SLOTS) - 1);
#else
    uint32_t m = 0;
    for (unsigned i = 0; i < LG_KEYTAB_CHUNK_SLOTS; i++)
        m |= (uint32_t)(t->chunks[c].tags[i] != 0) << i;
    return m;
#endif
}

/* The entry in slot i, which the caller knows holds one (lg_keytab_chunk_used). */
static inline void *lg_keytab_entry(const lg_keytab *t, size_t i)
{
    return t->entries + i * t->stride;
}

static inline void *lg_keytab_slot(const lg_keytab *t, size_t i)
{
    if (t->chunks[i / LG_KEYTAB_CHUNK_SLOTS].tags[i % LG_KEYTAB_CHUNK_SLOTS] == 0)
        return NULL;
    return t->entries + i * t->stride;
}

/* Bytes held by the table. */
size_t lg_keytab_bytes(const lg_keytab *t);

/* Latency hiding for batches: start loading h's metadata; later, read it and start
 * loading the entry h would use. Hints only: they change no state. */
void lg_keytab_prefetch_meta(const lg_keytab *t, lg_keyhash h);
/* Returns whether h's tag is in its home chunk (h is probably present); with for_insert
 * false nothing is loaded when it is not. */
bool lg_keytab_prefetch_entry(const lg_keytab *t, lg_keyhash h, bool for_insert);

#endif
