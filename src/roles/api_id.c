/*
 * api_id.c - the prefix of attempt ids (see api_id.h). The time and the nonce are
 * written first and src is cut to the room left, so the prefix fits whatever the name
 * and the year; the full name is in each attempt's "src" field anyway.
 */
#include "roles/api_id.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/lgassert.h"

size_t lg_api_id_prefix(char out[static LG_ID_MAX + 1], const char *src, int64_t boot_ms)
{
    char tail[LG_ID_MAX + 1];
    int tail_len, src_room, n;

    lg_assert(src != NULL && src[0] != '\0');
    lg_assert(boot_ms >= 0);
    lg_assert(sodium_init() >= 0); /* idempotent; randombytes needs it */
    tail_len = snprintf(tail, sizeof tail, "-%lld-%0*x-", (long long)boot_ms,
                        LG_API_ID_NONCE_HEX, (unsigned)randombytes_random());
    _Static_assert(LG_API_ID_NONCE_HEX == 8, "a uint32_t is 8 hex digits");
    src_room = LG_ID_MAX - LG_API_ID_COUNTER_MAX - tail_len;
    lg_assert(src_room >= 1); /* a 19-digit time would still leave 13 bytes of name */
    n = snprintf(out, LG_ID_MAX + 1, "%.*s%s", src_room, src, tail);
    lg_assert(n > 0 && n <= LG_ID_MAX - LG_API_ID_COUNTER_MAX);
    return (size_t)n;
}
