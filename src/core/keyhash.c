/*
 * keyhash.c - the per-engine secret of the keyed fingerprints, and their AES-NI path
 * (SipHash is inline in keyhash.h; see there for why a keyed PRF and what a collision
 * would cost).
 *
 * The AES functions are compiled for AES-NI and SSE4.1 with a target attribute, so the
 * rest of the build stays baseline x86-64; a secret only selects them when the CPU has
 * both (checked when it is drawn).
 */
#include "core/keyhash.h"

#include <stdbool.h>

#include <sodium.h>

#include "core/err.h"
#include "core/lgassert.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define LG_KEYHASH_HAVE_AES 1
#include <immintrin.h>
#else
#define LG_KEYHASH_HAVE_AES 0
#endif

lg_keyhash_secret lg_keyhash_secret_of(const unsigned char k[16])
{
    lg_keyhash_secret s;

    memset(&s, 0, sizeof s);
    s.k0 = lg_keyhash__load64(k);
    s.k1 = lg_keyhash__load64(k + 8);
    return s;
}

#if LG_KEYHASH_HAVE_AES

#define LG_AES_TARGET __attribute__((target("aes,sse4.1")))

static bool aes_supported(void)
{
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
}

/* One step of the AES-128 key schedule (FIPS-197 5.2): t is aeskeygenassist of the
 * previous round key. */
LG_AES_TARGET static __m128i expand_step(__m128i k, __m128i t)
{
    t = _mm_shuffle_epi32(t, 0xff);
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, t);
}

LG_AES_TARGET static void expand_key(const unsigned char k[16], unsigned char rk[11][16])
{
    __m128i r[11];

    r[0] = _mm_loadu_si128((const __m128i *)(const void *)k);
    /* the round constants must be immediates */
    r[1] = expand_step(r[0], _mm_aeskeygenassist_si128(r[0], 0x01));
    r[2] = expand_step(r[1], _mm_aeskeygenassist_si128(r[1], 0x02));
    r[3] = expand_step(r[2], _mm_aeskeygenassist_si128(r[2], 0x04));
    r[4] = expand_step(r[3], _mm_aeskeygenassist_si128(r[3], 0x08));
    r[5] = expand_step(r[4], _mm_aeskeygenassist_si128(r[4], 0x10));
    r[6] = expand_step(r[5], _mm_aeskeygenassist_si128(r[5], 0x20));
    r[7] = expand_step(r[6], _mm_aeskeygenassist_si128(r[6], 0x40));
    r[8] = expand_step(r[7], _mm_aeskeygenassist_si128(r[7], 0x80));
    r[9] = expand_step(r[8], _mm_aeskeygenassist_si128(r[8], 0x1b));
    r[10] = expand_step(r[9], _mm_aeskeygenassist_si128(r[9], 0x36));
    for (int i = 0; i < 11; i++)
        _mm_store_si128((__m128i *)(void *)rk[i], r[i]);
    sodium_memzero(r, sizeof r);
}

__attribute__((always_inline)) LG_AES_TARGET static inline __m128i
encrypt(const lg_keyhash_secret *s, __m128i x)
{
    const __m128i *rk = (const __m128i *)(const void *)s->aes_rk;

    x = _mm_xor_si128(x, _mm_load_si128(&rk[0]));
#pragma GCC unroll 9
    for (int i = 1; i < 10; i++)
        x = _mm_aesenc_si128(x, _mm_load_si128(&rk[i]));
    return _mm_aesenclast_si128(x, _mm_load_si128(&rk[10]));
}

/* n < 16 bytes at p, zero-padded to a block; reads only those n bytes (no over-read,
 * so any buffer of exactly n bytes is fine). */
__attribute__((always_inline)) LG_AES_TARGET static inline __m128i
load_partial(const unsigned char *p, size_t n)
{
    uint64_t lo = 0, hi = 0;

    if (n >= 8) {
        lo = lg_keyhash__load64(p);
        if (n > 8) /* the 8 bytes ending at p + n, shifted past the ones in lo */
            hi = lg_keyhash__load64(p + n - 8) >> (8 * (16 - n));
    } else {
        lo = lg_keyhash__load_short(p, n);
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

LG_AES_TARGET lg_keyhash lg_keyhash__aes(const lg_keyhash_secret *s, const void *key,
                                         size_t len)
{
    const unsigned char *p = key;
    __m128i x;
    size_t off;
    lg_keyhash h;

    lg_debug_assert(s->aes);
    lg_debug_assert(len <= LG_KEYHASH_AES_LEN_MAX);
    /* block 0: bytes 0..14 of the key (zero-padded), byte 15 its length */
    if (len >= 16)
        x = _mm_loadu_si128((const __m128i *)(const void *)p);
    else
        x = load_partial(p, len);
    x = encrypt(s, _mm_insert_epi8(x, (int)len, 15));
    /* then 16 bytes a block from byte 15, the last block zero-padded */
    for (off = 15; off + 16 <= len; off += 16)
        x = encrypt(s, _mm_xor_si128(x, _mm_loadu_si128((const __m128i *)(const void *)(p + off))));
    if (off < len)
        x = encrypt(s, _mm_xor_si128(x, load_partial(p + off, len - off)));
    h.lo = (uint64_t)_mm_cvtsi128_si64(x);
    h.hi = (uint64_t)_mm_extract_epi64(x, 1);
    return h;
}

LG_AES_TARGET void lg_keyhash__aes_block(const lg_keyhash_secret *s, const unsigned char in[16],
                                         unsigned char out[16])
{
    lg_assert(s->aes);
    __m128i x = encrypt(s, _mm_loadu_si128((const __m128i *)(const void *)in));
    _mm_storeu_si128((__m128i *)(void *)out, x);
}

int lg_keyhash_secret_aes_of(const unsigned char k[16], lg_keyhash_secret *out)
{
    if (!aes_supported())
        return LG_EINVAL;
    memset(out, 0, sizeof *out);
    expand_key(k, out->aes_rk);
    out->aes = 1;
    return 0;
}

#else /* no AES-NI in this build: SipHash only */

static bool aes_supported(void)
{
    return false;
}

lg_keyhash lg_keyhash__aes(const lg_keyhash_secret *s, const void *key, size_t len)
{
    lg_assert(!"no AES path in this build");
    return lg_keyhash_sip128(s, key, len, 1, 3);
}

void lg_keyhash__aes_block(const lg_keyhash_secret *s, const unsigned char in[16],
                           unsigned char out[16])
{
    lg_assert(!"no AES path in this build");
}

int lg_keyhash_secret_aes_of(const unsigned char k[16], lg_keyhash_secret *out)
{
    return LG_EINVAL;
}

#endif

int lg_keyhash_secret_random(lg_keyhash_secret *s)
{
    unsigned char k[32]; /* SipHash key, then AES key: independent */
    int rc = 0;

    if (sodium_init() < 0)
        return LG_EIO;
    randombytes_buf(k, sizeof k);
    *s = lg_keyhash_secret_of(k);
    if (aes_supported()) {
        lg_keyhash_secret a;
        rc = lg_keyhash_secret_aes_of(k + 16, &a);
        lg_assert(rc == 0);
        a.k0 = s->k0;
        a.k1 = s->k1;
        *s = a;
        sodium_memzero(&a, sizeof a);
    }
    sodium_memzero(k, sizeof k);
    return 0;
}
