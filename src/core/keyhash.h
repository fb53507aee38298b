/*
 * keyhash.h - 128-bit keyed fingerprints of rule keys (user, ip, user|ip).
 *
 * The engine stores a fingerprint instead of the key string: SipHash-2-4 with 128-bit
 * output (libsodium crypto_shorthash_siphashx24) under a random 16-byte key drawn per
 * engine. Because the key is secret, a client cannot choose names that collide; two
 * distinct keys among n tracked ones share a fingerprint with probability about
 * n^2 / 2^129 (2^-89 for a million keys), in which case their windows would merge.
 */
#ifndef LG_KEYHASH_H
#define LG_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct lg_keyhash {
    uint64_t lo; /* table position and tag come from here */
    uint64_t hi;
} lg_keyhash;

typedef struct lg_keyhash_secret {
    unsigned char k[16];
} lg_keyhash_secret;

/* Draws a fresh random secret. Returns 0 or LG_EIO when libsodium cannot initialise. */
int lg_keyhash_secret_random(lg_keyhash_secret *s);

/* The fingerprint of len bytes at key (len may be 0). */
lg_keyhash lg_keyhash_of(const lg_keyhash_secret *s, const void *key, size_t len);

static inline int lg_keyhash_eq(lg_keyhash a, lg_keyhash b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

#endif
