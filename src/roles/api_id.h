/*
 * api_id.h - the prefix of an API instance's attempt ids:
 * "<src>-<boot ms>-<nonce>-", followed by a per-instance counter (lg_api__attempt_fill).
 *
 * src and the boot time tell an operator where and when an id was made; the random
 * nonce is what makes ids unique: two instances given the same --name (a copied
 * deployment file) that start in the same millisecond still draw different nonces, and
 * the audit store, idempotent on the id, would otherwise keep only one of two attempts.
 */
#ifndef LG_ROLES_API_ID_H
#define LG_ROLES_API_ID_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* hex digits of the nonce: 32 random bits; a collision needs the same (cut) src, the
 * same boot millisecond and then 1 chance in 4 billion */
#define LG_API_ID_NONCE_HEX 8
/* room the counter after the prefix may take: the digits of UINT64_MAX */
#define LG_API_ID_COUNTER_MAX 20

/* Writes the prefix for src (1..LG_SRC_MAX bytes, cut to what fits) and boot_ms (>= 0)
 * with a fresh nonce from libsodium's randombytes; returns its length, at most
 * LG_ID_MAX - LG_API_ID_COUNTER_MAX, so that any counter still fits LG_ID_MAX. */
size_t lg_api_id_prefix(char out[static LG_ID_MAX + 1], const char *src, int64_t boot_ms);

#endif
