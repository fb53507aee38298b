/*
 * keyhash.c - the per-engine secret of the keyed fingerprints (the hash itself is inline
 * in keyhash.h; see there for why a keyed PRF and what a collision would cost).
 */
#include "core/keyhash.h"

#include <sodium.h>

#include "core/err.h"

lg_keyhash_secret lg_keyhash_secret_of(const unsigned char k[16])
{
    lg_keyhash_secret s;

    s.k0 = lg_keyhash__load64(k);
    s.k1 = lg_keyhash__load64(k + 8);
    return s;
}

int lg_keyhash_secret_random(lg_keyhash_secret *s)
{
    unsigned char k[16];

    if (sodium_init() < 0)
        return LG_EIO;
    randombytes_buf(k, sizeof k);
    *s = lg_keyhash_secret_of(k);
    sodium_memzero(k, sizeof k);
    return 0;
}
