/*
 * reporters.h - reporter keys: the credential of whoever may call POST /v1/attempts.
 *
 * A key is "lgk_" + 256 random bits in base64url (no padding), 47 printable bytes that
 * survive shells, headers and config files unquoted. The store keeps only its hash
 * (BLAKE2b-256 of the whole text, reporters.c says why a fast hash is right) next to a
 * name of 1..LG_REPORTER_NAME_MAX bytes of [A-Za-z0-9._-]. The in-memory table the API
 * checks keys against is reporters_cache.h.
 */
#ifndef LG_REPORTERS_H
#define LG_REPORTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"
#include "store/store.h"

#define LG_REPORTER_KEY_PREFIX "lgk_"
#define LG_REPORTER_KEY_PREFIX_LEN 4
#define LG_REPORTER_KEY_RANDOM_BYTES 32 /* 256 bits: no guessing, no collisions */
/* base64url without padding of 32 bytes: ceil(32 * 8 / 6) = 43 characters */
#define LG_REPORTER_KEY_LEN (LG_REPORTER_KEY_PREFIX_LEN + 43)

/* Makes a new random key into key (key_len >= LG_REPORTER_KEY_LEN + 1 bytes, written
 * with its NUL) and its hash. LG_EIO when libsodium cannot start. */
int lg_reporters_key_new(char *key, size_t key_len, unsigned char hash[LG_STORE_KEY_HASH_LEN]);

/* True when key (len bytes, no NUL needed) has the shape of a key: the prefix and 43
 * base64url characters. Says nothing about whether such a key exists. */
bool lg_reporters_key_wellformed(const char *key, size_t len);

/* The hash the store keeps of key (len bytes). */
void lg_reporters_hash(const char *key, size_t len, unsigned char out[LG_STORE_KEY_HASH_LEN]);

/* True when name (len bytes) is a valid key name; else false with the reason in why
 * (may be NULL). */
bool lg_reporters_name_valid(const char *name, size_t len, char *why, size_t why_len);

#endif
