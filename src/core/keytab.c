/*
 * keytab.c - chunked open addressing with overflow counts (see keytab.h).
 *
 * Probe sequence: the home chunk (fingerprint bits 32..63 scaled onto n_chunks, so any
 * chunk count works and a table can be sized exactly), then the following chunks in
 * order, wrapping. Every chunk a key passes while being inserted gets its overflow count
 * raised; removal lowers the counts on the same path, which it recomputes from the stored
 * fingerprint. A lookup may stop at a chunk with a zero count: no key lives beyond it.
 */
#include "core/keytab.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/err.h"
#include "core/lgassert.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

_Static_assert(sizeof(lg_keytab_chunk) == 16, "chunk metadata is 16 bytes");
_Static_assert(sizeof(lg_keyhash) == 16, "fingerprint leads every entry");

#define CHUNK_MASK ((1u << LG_KEYTAB_CHUNK_SLOTS) - 1)
#define OVERFLOW_SAT UINT16_MAX

static inline uint32_t home_of(uint32_t n_chunks, lg_keyhash h)
{
    return (uint32_t)(((h.lo >> 32) * (uint64_t)n_chunks) >> 32);
}

static inline uint8_t tag_of(lg_keyhash h)
{
    return (uint8_t)((h.lo & 0x7f) | 0x80);
}

/* Bit i set when slot i's tag equals tag. */
static inline uint32_t chunk_match(const lg_keytab_chunk *c, uint8_t tag)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)c);
    __m128i m = _mm_cmpeq_epi8(v, _mm_set1_epi8((char)tag));
    return (uint32_t)_mm_movemask_epi8(m) & CHUNK_MASK;
#else
    uint32_t m = 0;
    for (unsigned i = 0; i < LG_KEYTAB_CHUNK_SLOTS; i++)
        m |= (uint32_t)(c->tags[i] == tag) << i;
    return m;
#endif
}

static inline unsigned char *entry_at(const lg_keytab *t, size_t slot)
{
    return t->entries + slot * t->stride;
}

static inline lg_keyhash entry_fp(const unsigned char *entry)
{
    lg_keyhash h;
    memcpy(&h, entry, sizeof h);
    return h;
}

static uint32_t chunks_for(uint32_t keys)
{
    uint64_t n = ((uint64_t)keys + LG_KEYTAB_CHUNK_FILL - 1) / LG_KEYTAB_CHUNK_FILL;
    return n == 0 ? 1 : (uint32_t)n;
}

/* Arrays of at least this many bytes are mapped directly and asked for transparent huge
 * pages: every lookup lands on a random page, and with 4 KiB pages a large table misses
 * the TLB on nearly every attempt. */
#define LG_KEYTAB_HUGE_MIN (2u << 20)
#define LG_KEYTAB_HUGE_PAGE (2u << 20)

static size_t mapped_size(size_t bytes)
{
    return (bytes + LG_KEYTAB_HUGE_PAGE - 1) & ~(size_t)(LG_KEYTAB_HUGE_PAGE - 1);
}

/* Zeroed memory; pages never touched cost nothing. */
static void *zalloc(size_t bytes, bool huge_pages)
{
    if (bytes < LG_KEYTAB_HUGE_MIN)
        return calloc(1, bytes);
    void *p = mmap(NULL, mapped_size(bytes), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (huge_pages) /* a hint: fine if refused */
        (void)madvise(p, mapped_size(bytes), MADV_HUGEPAGE);
    return p;
}

static void zfree(void *p, size_t bytes)
{
    if (p == NULL)
        return;
    if (bytes < LG_KEYTAB_HUGE_MIN)
        free(p);
    else
        munmap(p, mapped_size(bytes));
}

static size_t chunks_bytes(uint32_t n_chunks)
{
    return (size_t)n_chunks * sizeof(lg_keytab_chunk);
}

static size_t entries_bytes(size_t stride, uint32_t n_chunks)
{
    return (size_t)n_chunks * LG_KEYTAB_CHUNK_SLOTS * stride;
}

static int alloc_arrays(size_t stride, uint32_t n_chunks, bool huge_pages,
                        lg_keytab_chunk **chunks, unsigned char **entries)
{
    lg_keytab_chunk *c = zalloc(chunks_bytes(n_chunks), huge_pages);
    unsigned char *e = zalloc(entries_bytes(stride, n_chunks), huge_pages);

    if (c == NULL || e == NULL) {
        zfree(c, chunks_bytes(n_chunks));
        zfree(e, entries_bytes(stride, n_chunks));
        return LG_ENOMEM;
    }
    *chunks = c;
    *entries = e;
    return 0;
}

static void free_arrays(lg_keytab *t)
{
    zfree(t->chunks, chunks_bytes(t->n_chunks));
    zfree(t->entries, entries_bytes(t->stride, t->n_chunks));
}

int lg_keytab_init(lg_keytab *t, size_t stride, uint32_t keys_max, bool grow,
                   uint32_t keys_init, bool huge_pages)
{
    lg_keytab tmp = {0};
    int rc;

    if (stride < sizeof(lg_keyhash) || stride % 8 != 0 || keys_max == 0)
        return LG_EINVAL;
    tmp.stride = stride;
    tmp.keys_max = keys_max;
    tmp.huge_pages = huge_pages;
    tmp.n_chunks_max = chunks_for(keys_max);
    tmp.n_chunks = grow ? chunks_for(keys_init < keys_max ? keys_init : keys_max)
                        : tmp.n_chunks_max;
    rc = alloc_arrays(stride, tmp.n_chunks, huge_pages, &tmp.chunks, &tmp.entries);
    if (rc != 0)
        return rc;
    *t = tmp;
    return 0;
}

void lg_keytab_destroy(lg_keytab *t)
{
    if (t == NULL)
        return;
    free_arrays(t);
    memset(t, 0, sizeof *t);
}

void lg_keytab_slack_allow(lg_keytab *t)
{
    uint64_t cap = (uint64_t)t->n_chunks_max * LG_KEYTAB_CHUNK_SLACK;

    if (cap > t->keys_max)
        t->keys_max = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

void *lg_keytab_find_slow(const lg_keytab *t, lg_keyhash h)
{
    uint32_t c = home_of(t->n_chunks, h);
    uint8_t tag = tag_of(h);

    for (uint32_t step = 0; step < t->n_chunks; step++) {
        const lg_keytab_chunk *ch = &t->chunks[c];
        uint32_t m = chunk_match(ch, tag);

        while (m != 0) {
            unsigned s = (unsigned)__builtin_ctz(m);
            unsigned char *e = entry_at(t, (size_t)c * LG_KEYTAB_CHUNK_SLOTS + s);

            if (lg_keyhash_eq(entry_fp(e), h))
                return e;
            m &= m - 1;
        }
        if (ch->overflow == 0)
            return NULL;
        c = c + 1 == t->n_chunks ? 0 : c + 1;
    }
    return NULL;
}

/* Places h in the first free slot of its probe sequence; the table must have room. */
static unsigned char *place(lg_keytab *t, lg_keyhash h)
{
    uint32_t c = home_of(t->n_chunks, h);

    for (uint32_t step = 0; step < t->n_chunks; step++) {
        lg_keytab_chunk *ch = &t->chunks[c];
        uint32_t empty = chunk_match(ch, 0);

        if (empty != 0) {
            unsigned s = (unsigned)__builtin_ctz(empty);
            unsigned char *e = entry_at(t, (size_t)c * LG_KEYTAB_CHUNK_SLOTS + s);

            ch->tags[s] = tag_of(h);
            memset(e, 0, t->stride);
            memcpy(e, &h, sizeof h);
            t->count++;
            return e;
        }
        if (ch->overflow != OVERFLOW_SAT)
            ch->overflow++;
        c = c + 1 == t->n_chunks ? 0 : c + 1;
    }
    lg_assert(!"keytab has no free slot below its load bound");
    return NULL;
}

/* Doubles the chunk count (up to n_chunks_max) and re-places every entry. */
static int grow(lg_keytab *t)
{
    uint64_t want = (uint64_t)t->n_chunks * 2;
    lg_keytab bigger = *t;
    int rc;

    bigger.n_chunks = want > t->n_chunks_max ? t->n_chunks_max : (uint32_t)want;
    bigger.count = 0;
    rc = alloc_arrays(t->stride, bigger.n_chunks, t->huge_pages, &bigger.chunks,
                      &bigger.entries);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < lg_keytab_slots(t); i++) {
        const unsigned char *old = lg_keytab_slot(t, i);

        if (old != NULL)
            memcpy(place(&bigger, entry_fp(old)), old, t->stride);
    }
    lg_assert(bigger.count == t->count);
    free_arrays(t);
    *t = bigger;
    return 0;
}

int lg_keytab_insert(lg_keytab *t, lg_keyhash h, void **out)
{
    lg_debug_assert(lg_keytab_find(t, h) == NULL);
    if (t->count >= t->keys_max)
        return LG_EFULL;
    if (t->count >= (uint64_t)t->n_chunks * LG_KEYTAB_CHUNK_FILL &&
        t->n_chunks < t->n_chunks_max) {
        int rc = grow(t);
        if (rc != 0)
            return rc;
    }
    /* at the largest size, keys_max (at most LG_KEYTAB_CHUNK_SLACK per chunk, see
     * lg_keytab_slack_allow) leaves a free slot for place() */
    lg_assert(t->count < (uint64_t)t->n_chunks * LG_KEYTAB_CHUNK_SLOTS);
    *out = place(t, h);
    return 0;
}

void lg_keytab_remove(lg_keytab *t, void *entry)
{
    size_t slot = (size_t)((unsigned char *)entry - t->entries) / t->stride;
    uint32_t c_at = (uint32_t)(slot / LG_KEYTAB_CHUNK_SLOTS);
    unsigned s = (unsigned)(slot % LG_KEYTAB_CHUNK_SLOTS);
    uint32_t c = home_of(t->n_chunks, entry_fp(entry));

    lg_assert(slot < lg_keytab_slots(t));
    lg_assert(t->chunks[c_at].tags[s] != 0);
    /* undo the overflow counts the insert raised on its way from home to here */
    for (uint32_t step = 0; c != c_at; step++) {
        lg_assert(step < t->n_chunks);
        if (t->chunks[c].overflow != OVERFLOW_SAT) {
            lg_assert(t->chunks[c].overflow > 0);
            t->chunks[c].overflow--;
        }
        c = c + 1 == t->n_chunks ? 0 : c + 1;
    }
    t->chunks[c_at].tags[s] = 0;
    memset(entry, 0, sizeof(lg_keyhash)); /* a stale pointer to it matches no key */
    t->count--;
}

size_t lg_keytab_bytes(const lg_keytab *t)
{
    return chunks_bytes(t->n_chunks) + entries_bytes(t->stride, t->n_chunks);
}

void lg_keytab_prefetch_meta(const lg_keytab *t, lg_keyhash h)
{
    __builtin_prefetch(&t->chunks[home_of(t->n_chunks, h)], 0, 3);
}

bool lg_keytab_prefetch_entry(const lg_keytab *t, lg_keyhash h, bool for_insert)
{
    uint32_t c = home_of(t->n_chunks, h);
    const lg_keytab_chunk *ch = &t->chunks[c];
    uint32_t m = chunk_match(ch, tag_of(h));
    bool present = m != 0;

    if (m == 0 && for_insert)
        m = chunk_match(ch, 0); /* a new key: the slot an insert would take */
    if (m == 0)
        return present;
    const unsigned char *e = entry_at(t, (size_t)c * LG_KEYTAB_CHUNK_SLOTS +
                                             (unsigned)__builtin_ctz(m));
    __builtin_prefetch(e, 1, 3);
    __builtin_prefetch(e + t->stride - 1, 1, 3);
    return present;
}
