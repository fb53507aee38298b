/*
 * keyhash.c - keyed 128-bit fingerprints: SipHash-2-4-128 from libsodium (see keyhash.h
 * for why a keyed PRF and what a collision would cost).
 */
#include "core/keyhash.h"

#include <sodium.h>
#include <string.h>

#include "core/err.h"

_Static_assert(crypto_shorthash_siphashx24_BYTES == sizeof(lg_keyhash), "128-bit output");
_Static_assert(crypto_shorthash_siphashx24_KEYBYTES == sizeof(((lg_keyhash_secret *)0)->k),
               "128-bit key");

int lg_keyhash_secret_random(lg_keyhash_secret *s)
{
    if (sodium_init() < 0)
        return LG_EIO;
    randombytes_buf(s->k, sizeof s->k);
    return 0;
}

lg_keyhash lg_keyhash_of(const lg_keyhash_secret *s, const void *key, size_t len)
{
    unsigned char out[crypto_shorthash_siphashx24_BYTES];
    lg_keyhash h;

    crypto_shorthash_siphashx24(out, key, len, s->k);
    memcpy(&h.lo, out, sizeof h.lo);
    memcpy(&h.hi, out + sizeof h.lo, sizeof h.hi);
    return h;
}
