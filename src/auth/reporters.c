/*
 * reporters.c - reporter keys: making them, recognising their shape, hashing them, and
 * the rule for their names.
 *
 * Why a fast, unkeyed hash: a key carries 256 random bits, so its hash cannot be
 * reversed by guessing - a stolen reporter_keys table gives an attacker 2^256 tries per
 * key, however fast each one is. Slow password hashes (argon2id) exist to stretch the
 * few bits of a human password; on a key they would add nothing but ~11 ms of CPU to
 * every POST /v1/attempts (150 requests/s on two cores instead of ~80 000). A pepper
 * (keyed hash) would need a secret shared by every API and the CLI for no gain either.
 * BLAKE2b-256 (libsodium crypto_generichash) costs ~0.2 us for a 47-byte key.
 */
#include "auth/reporters.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"

_Static_assert(crypto_generichash_BYTES == LG_STORE_KEY_HASH_LEN, "BLAKE2b-256");

int lg_reporters_key_new(char *key, size_t key_len, unsigned char hash[LG_STORE_KEY_HASH_LEN])
{
    unsigned char raw[LG_REPORTER_KEY_RANDOM_BYTES];
    size_t room;

    lg_assert(key != NULL && hash != NULL);
    lg_assert(key_len >= LG_REPORTER_KEY_LEN + 1);
    if (sodium_init() < 0)
        return LG_EIO;
    randombytes_buf(raw, sizeof raw);
    memcpy(key, LG_REPORTER_KEY_PREFIX, LG_REPORTER_KEY_PREFIX_LEN);
    room = key_len - LG_REPORTER_KEY_PREFIX_LEN;
    sodium_bin2base64(key + LG_REPORTER_KEY_PREFIX_LEN, room, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    lg_assert(strlen(key) == LG_REPORTER_KEY_LEN);
    lg_reporters_hash(key, LG_REPORTER_KEY_LEN, hash);
    return 0;
}

static bool is_base64url(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

bool lg_reporters_key_wellformed(const char *key, size_t len)
{
    if (key == NULL || len != LG_REPORTER_KEY_LEN ||
        memcmp(key, LG_REPORTER_KEY_PREFIX, LG_REPORTER_KEY_PREFIX_LEN) != 0)
        return false;
    for (size_t i = LG_REPORTER_KEY_PREFIX_LEN; i < len; i++)
        if (!is_base64url((unsigned char)key[i]))
            return false;
    return true;
}

void lg_reporters_hash(const char *key, size_t len, unsigned char out[LG_STORE_KEY_HASH_LEN])
{
    lg_assert(key != NULL && out != NULL);
    /* cannot fail with these sizes (out 32 bytes, no key) */
    (void)crypto_generichash(out, LG_STORE_KEY_HASH_LEN, (const unsigned char *)key, len, NULL,
                             0);
}

bool lg_reporters_name_valid(const char *name, size_t len, char *why, size_t why_len)
{
    char reason[96] = "";

    if (name == NULL || len == 0)
        snprintf(reason, sizeof reason, "empty");
    else if (len > LG_REPORTER_NAME_MAX)
        snprintf(reason, sizeof reason, "longer than %d bytes", LG_REPORTER_NAME_MAX);
    for (size_t i = 0; reason[0] == '\0' && i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            snprintf(reason, sizeof reason,
                     "only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    if (reason[0] != '\0' && why != NULL && why_len > 0)
        snprintf(why, why_len, "%s", reason);
    return reason[0] == '\0';
}
