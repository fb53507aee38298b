/*
 * users.h - API users: argon2id password strings (libsodium crypto_pwhash_str, default
 * t=2, m=19 MiB per OWASP), kept in the store.
 *
 * lg_users_verify costs the same for an unknown user as for a wrong password: it verifies
 * against a dummy hash made at start with the same parameters, so timing and answers do
 * not reveal which accounts exist. Thread-safe apart from the store handle: each thread
 * passes its own lg_store.
 */
#ifndef LG_USERS_H
#define LG_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct lg_users lg_users;

typedef struct lg_pwhash_conf {
    uint32_t opslimit;     /* t, default 2 */
    uint32_t memlimit_kib; /* m, default 19456 */
} lg_pwhash_conf;

int lg_users_new(const lg_pwhash_conf *conf, lg_users **out);
void lg_users_free(lg_users *u);

/* Hashes password (len bytes, 1..LG_PASSWORD_MAX) into out (LG_PWHASH_MAX + 1 bytes). */
int lg_users_hash(const lg_users *u, const char *password, size_t len, char *out);

/* Adds a user: LG_EEXIST when taken, LG_EINVAL for a bad name (lg_user_valid). */
int lg_users_add(const lg_users *u, lg_store *s, const char *name, const char *password,
                 size_t password_len, lg_role role);

/* Checks (name, password). Returns 0 and *role_out when right; LG_EAUTH when wrong or
 * unknown (same cost either way); LG_EIO on store failure. Slow (~11 ms): call it from
 * the worker pool, never from an I/O thread. */
int lg_users_verify(const lg_users *u, lg_store *s, const char *name, const char *password,
                    size_t password_len, lg_role *role_out);

/* True when pwhash was made with other parameters than u's (or is not argon2id): the
 * caller may store a fresh lg_users_hash after a successful verify. */
bool lg_users_needs_rehash(const lg_users *u, const char *pwhash);

/* Counters since lg_users_new, for /metrics and for tests that must see the dummy
 * verification run: every argon2id verification, and those against the dummy hash. */
typedef struct lg_users_stats {
    uint64_t verifies;
    uint64_t dummy_verifies;
} lg_users_stats;
void lg_users_stats_get(const lg_users *u, lg_users_stats *out);

/* For tests: the dummy hash unknown users are verified against (borrowed, lives as long
 * as u), so they can check it carries the configured t and m. */
const char *lg_users__dummy_hash(const lg_users *u);

#endif
