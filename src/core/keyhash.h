/*
 * keyhash.h - 128-bit keyed fingerprints of rule keys (user, ip, user|ip).
 *
 * The engine stores a fingerprint instead of the key string: SipHash-1-3 with 128-bit
 * output under a random 128-bit key drawn per engine, computed inline (it runs once per
 * rule key of every attempt; libsodium's SipHash-2-4 call was a fifth of the engine's
 * instructions). SipHash-1-3 is the variant hash tables use against hash flooding (Rust's
 * std HashMap); no attack better than guessing the key is known against it. Because the
 * key is secret, a client cannot choose names that collide; two distinct keys among n
 * tracked ones share a fingerprint with probability about n^2 / 2^129 (2^-89 for a
 * million keys), in which case their windows would merge.
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

typedef struct lg_keyhash_secret {
    uint64_t k0, k1; /* the 16 key bytes read little-endian, as SipHash defines */
} lg_keyhash_secret;

/* Draws a fresh random secret. Returns 0 or LG_EIO when libsodium cannot initialise. */
int lg_keyhash_secret_random(lg_keyhash_secret *s);

/* The secret whose bytes are k[0..16) (SipHash's key layout; for tests). */
lg_keyhash_secret lg_keyhash_secret_of(const unsigned char k[16]);

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
        unsigned o = 0;
        if (len & 4) {
            b |= lg_keyhash__load32(p);
            o = 4;
        }
        if (len & 2) {
            b |= (uint64_t)lg_keyhash__load16(p + o) << (8 * o);
            o += 2;
        }
        if (len & 1)
            b |= (uint64_t)p[o] << (8 * o);
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

/* The fingerprint of len bytes at key (len may be 0): SipHash-1-3-128. */
__attribute__((always_inline)) static inline lg_keyhash
lg_keyhash_of(const lg_keyhash_secret *s, const void *key, size_t len)
{
    return lg_keyhash_sip128(s, key, len, 1, 3);
}

static inline int lg_keyhash_eq(lg_keyhash a, lg_keyhash b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

#endif
