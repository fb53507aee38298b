/*
 * keyhash.h - 128-bit keyed fingerprints of rule keys (user, ip, user|ip).
 *
 * The engine stores a fingerprint instead of the key string, under a random secret drawn
 * per engine: because the secret is unknown to clients, they cannot choose names that
 * collide. Two functions, one picked per secret when it is drawn:
 *  - AES-128 CBC-MAC (where the CPU has AES-NI): the key is coded as blocks of 16 bytes,
 *    the first holding its length in byte 15 and its first 15 bytes, the rest 16 bytes
 *    each, zero-padded. The coding is injective and prefix-free (the length decides the
 *    number of blocks), and CBC-MAC over a prefix-free message set is a PRF under AES
 *    (Petrank-Rackoff 1997; Bellare-Kilian-Rogaway): no better than guessing without the
 *    key. A key of up to 15 bytes is one block, so its fingerprint is a permutation of
 *    it: two such keys never collide at all. About 20 instructions per block against
 *    ~170 for SipHash-1-3-128 on a short key.
 *  - SipHash-1-3 with 128-bit output otherwise (and for keys over 255 bytes, beyond the
 *    one length byte; engine keys are at most LG_KEY_MAX), inline: the variant hash
 *    tables use against hash flooding (Rust's std HashMap); no attack better than
 *    guessing the key is known against it.
 * Either way two distinct keys among n tracked ones share a fingerprint with probability
 * about n^2 / 2^129 (2^-89 for a million keys), in which case their windows would merge.
 */
#ifndef LG_KEYHASH_H
#define LG_KEYHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct lg_keyhash {
    uint64_t lo; /* table position and tag come from here */
    uint64_t hi;
} lg_keyhash;

/* keys up to this many bytes take the AES path (the length is one byte of block 0) */
#define LG_KEYHASH_AES_LEN_MAX 255

typedef struct lg_keyhash_secret {
    uint64_t k0, k1; /* the 16 key bytes read little-endian, as SipHash defines */
    int aes;         /* nonzero: fingerprints are AES-128 CBC-MAC under aes_rk */
    _Alignas(16) unsigned char aes_rk[11][16]; /* expanded AES-128 key */
} lg_keyhash_secret;

/* Draws a fresh random secret (AES when the CPU has AES-NI, else SipHash). Returns 0 or
 * LG_EIO when libsodium cannot initialise. */
int lg_keyhash_secret_random(lg_keyhash_secret *s);

/* The SipHash secret whose bytes are k[0..16) (SipHash's key layout; for tests). */
lg_keyhash_secret lg_keyhash_secret_of(const unsigned char k[16]);

/* The AES secret whose key is k[0..16) (for tests). Returns 0, or LG_EINVAL when this
 * CPU (or build) has no AES-NI. */
int lg_keyhash_secret_aes_of(const unsigned char k[16], lg_keyhash_secret *out);

/* AES-128 of one block under s's AES key (for tests: FIPS-197 vectors). s->aes set. */
void lg_keyhash__aes_block(const lg_keyhash_secret *s, const unsigned char in[16],
                           unsigned char out[16]);

/* The AES CBC-MAC fingerprint (out of line: compiled for AES-NI). s->aes set, len at
 * most LG_KEYHASH_AES_LEN_MAX. */
lg_keyhash lg_keyhash__aes(const lg_keyhash_secret *s, const void *key, size_t len);

static inline uint64_t lg_keyhash__rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t lg_keyhash__load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint64_t lg_keyhash__load32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t lg_keyhash__load16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    return v;
}

/* The n < 8 bytes at p read little-endian (zero above), with a 4-, 2- and 1-byte load as
 * n has those bits: no byte past p + n is read. */
static inline uint64_t lg_keyhash__load_short(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    unsigned o = 0;

    if (n & 4) {
        v = lg_keyhash__load32(p);
        o = 4;
    }
    if (n & 2) {
        v |= lg_keyhash__load16(p + o) << (8 * o);
        o += 2;
    }
    if (n & 1)
        v |= (uint64_t)p[o] << (8 * o);
    return v;
}

#define LG_KEYHASH__ROUND(v0, v1, v2, v3)                                                 \
    do {                                                                                 \
        v0 += v1; v1 = lg_keyhash__rotl(v1, 13); v1 ^= v0; v0 = lg_keyhash__rotl(v0, 32); \
        v2 += v3; v3 = lg_keyhash__rotl(v3, 16); v3 ^= v2;                               \
        v0 += v3; v3 = lg_keyhash__rotl(v3, 21); v3 ^= v0;                               \
        v2 += v1; v1 = lg_keyhash__rotl(v1, 17); v1 ^= v2; v2 = lg_keyhash__rotl(v2, 32); \
    } while (0)

/* SipHash-c-d with 128-bit output (the reference's siphash.c with outlen 16): lo is the
 * first 8 output bytes read little-endian, hi the last 8. c and d are constants at every
 * call, so the compiler unrolls the rounds. */
__attribute__((always_inline)) static inline lg_keyhash
lg_keyhash_sip128(const lg_keyhash_secret *s, const void *key, size_t len, unsigned c,
                  unsigned d)
{
    const unsigned char *p = key;
    uint64_t v0 = 0x736f6d6570736575ULL ^ s->k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ s->k1 ^ 0xee;
    uint64_t v2 = 0x6c7967656e657261ULL ^ s->k0;
    uint64_t v3 = 0x7465646279746573ULL ^ s->k1;
    uint64_t b = (uint64_t)len << 56;
    size_t whole = len & ~(size_t)7;
    lg_keyhash h;

    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = lg_keyhash__load64(p + i);
        v3 ^= m;
#pragma GCC unroll 4
        for (unsigned r = 0; r < c; r++)
            LG_KEYHASH__ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    /* the last len % 8 bytes, read whole words rather than byte by byte: for a key of 8
     * bytes or more, the 8 bytes ending at its end shifted past the ones already hashed;
     * for a shorter one, a 4-, 2- and 1-byte load as its length has those bits */
    if ((len & 7) != 0 && len >= 8) {
        b |= lg_keyhash__load64(p + len - 8) >> (64 - 8 * (len & 7));
    } else if ((len & 7) != 0) {
        b |= lg_keyhash__load_short(p, len);
    }
    v3 ^= b;
#pragma GCC unroll 4
    for (unsigned r = 0; r < c; r++)
        LG_KEYHASH__ROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xee;
#pragma GCC unroll 4
    for (unsigned r = 0; r < d; r++)
        LG_KEYHASH__ROUND(v0, v1, v2, v3);
    h.lo = v0 ^ v1 ^ v2 ^ v3;
    v1 ^= 0xdd;
#pragma GCC unroll 4
    for (unsigned r = 0; r < d; r++)
        LG_KEYHASH__ROUND(v0, v1, v2, v3);
    h.hi = v0 ^ v1 ^ v2 ^ v3;
    return h;
}

/* The fingerprint of len bytes at key (len may be 0): AES CBC-MAC or SipHash-1-3-128,
 * as s says (see the top of this file). */
__attribute__((always_inline)) static inline lg_keyhash
lg_keyhash_of(const lg_keyhash_secret *s, const void *key, size_t len)
{
    if (s->aes && len <= LG_KEYHASH_AES_LEN_MAX)
        return lg_keyhash__aes(s, key, len);
    return lg_keyhash_sip128(s, key, len, 1, 3);
}

static inline int lg_keyhash_eq(lg_keyhash a, lg_keyhash b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

#endif
