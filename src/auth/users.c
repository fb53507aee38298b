/*
 * users.c - API users with argon2id password strings (libsodium crypto_pwhash_str,
 * always p=1); the string carries its own t and m, so raising the defaults later only
 * needs lg_users_needs_rehash at the next good login.
 *
 * Unknown users cost what wrong passwords cost: lg_users_verify runs one argon2id
 * verification either way, against a dummy hash made at lg_users_new with the same t and
 * m, so neither timing nor answer tells an attacker which accounts exist. Counters (read
 * with lg_users_stats_get) let tests see that the dummy verification really ran.
 */
#include "auth/users.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/event.h"
#include "core/lgassert.h"
#include "core/limits.h"

_Static_assert(crypto_pwhash_STRBYTES <= LG_PWHASH_MAX + 1, "an argon2id string fits");

/* Mutable through a const lg_users: verification is logically read-only. */
typedef struct lg_users_counters {
    atomic_uint_fast64_t verifies;
    atomic_uint_fast64_t dummy_verifies;
} lg_users_counters;

struct lg_users {
    unsigned long long opslimit;
    size_t memlimit_bytes;
    char dummy[LG_PWHASH_MAX + 1]; /* hash of a random password nobody knows */
    lg_users_counters *counters;
};

static bool password_len_valid(size_t len)
{
    return len >= 1 && len <= LG_PASSWORD_MAX;
}

int lg_users_new(const lg_pwhash_conf *conf, lg_users **out)
{
    lg_assert(conf != NULL);
    lg_assert(out != NULL);
    /* libsodium's own range; config.c narrows it to what an operator may choose */
    if (conf->opslimit < crypto_pwhash_OPSLIMIT_MIN || conf->opslimit > crypto_pwhash_OPSLIMIT_MAX)
        return LG_EINVAL;
    size_t mem = (size_t)conf->memlimit_kib * 1024u;
    if (mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_MAX)
        return LG_EINVAL;
    if (sodium_init() < 0) /* thread-safe and idempotent */
        return LG_EIO;

    int rc = LG_ENOMEM;
    lg_users *u = calloc(1, sizeof *u);
    if (u == NULL)
        return LG_ENOMEM;
    u->counters = calloc(1, sizeof *u->counters);
    if (u->counters == NULL)
        goto fail_free;
    u->opslimit = conf->opslimit;
    u->memlimit_bytes = mem;

    char pw[32];
    randombytes_buf(pw, sizeof pw);
    rc = lg_users_hash(u, pw, sizeof pw, u->dummy);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0)
        goto fail_free_counters;
    *out = u;
    return 0;

fail_free_counters:
    free(u->counters);
fail_free:
    free(u);
    return rc;
}

void lg_users_free(lg_users *u)
{
    if (u == NULL)
        return;
    free(u->counters);
    free(u);
}

int lg_users_hash(const lg_users *u, const char *password, size_t len, char *out)
{
    lg_assert(u != NULL);
    lg_assert(out != NULL);
    if (password == NULL || !password_len_valid(len))
        return LG_EINVAL;
    char h[crypto_pwhash_STRBYTES];
    /* fails only when the memory cannot be had */
    if (crypto_pwhash_str(h, password, len, u->opslimit, u->memlimit_bytes) != 0)
        return LG_ENOMEM;
    size_t n = strlen(h);
    lg_assert(n <= LG_PWHASH_MAX);
    memcpy(out, h, n + 1);
    return 0;
}

int lg_users_add(const lg_users *u, lg_store *s, const char *name, const char *password,
                 size_t password_len, lg_role role)
{
    lg_assert(u != NULL);
    lg_assert(s != NULL);
    if (name == NULL || !lg_user_valid(name, strlen(name), NULL, 0))
        return LG_EINVAL;
    if (role != LG_ROLE_USER && role != LG_ROLE_ADMIN)
        return LG_EINVAL;

    lg_user_rec rec = {.role = role, .created_ms = lg_now_ms()};
    memcpy(rec.name, name, strlen(name) + 1);
    int rc = lg_users_hash(u, password, password_len, rec.pwhash);
    if (rc != 0)
        return rc;
    return lg_store_user_put(s, &rec); /* LG_EEXIST when taken */
}

/* One argon2id verification, counted. true when password matches hash. */
static bool verify_counted(const lg_users *u, const char *hash, const char *password,
                           size_t len, bool dummy)
{
    atomic_fetch_add_explicit(&u->counters->verifies, 1, memory_order_relaxed);
    if (dummy)
        atomic_fetch_add_explicit(&u->counters->dummy_verifies, 1, memory_order_relaxed);
    return crypto_pwhash_str_verify(hash, password, len) == 0;
}

int lg_users_verify(const lg_users *u, lg_store *s, const char *name, const char *password,
                    size_t password_len, lg_role *role_out)
{
    lg_assert(u != NULL);
    lg_assert(s != NULL);
    lg_assert(role_out != NULL);
    /* Out-of-range passwords are refused before any lookup: the answer is the same
     * whether or not the user exists, so it reveals nothing. */
    if (password == NULL || !password_len_valid(password_len))
        return LG_EAUTH;

    lg_user_rec rec;
    int rc = LG_ENOTFOUND;
    /* A name that cannot exist is just another unknown user (same cost). */
    if (name != NULL && lg_user_valid(name, strlen(name), NULL, 0))
        rc = lg_store_user_get(s, name, &rec);
    if (rc == LG_ENOTFOUND) {
        (void)verify_counted(u, u->dummy, password, password_len, true);
        return LG_EAUTH;
    }
    if (rc != 0)
        return LG_EIO;

    bool ok = verify_counted(u, rec.pwhash, password, password_len, false);
    lg_role role = rec.role;
    sodium_memzero(&rec, sizeof rec);
    if (!ok)
        return LG_EAUTH;
    *role_out = role;
    return 0;
}

bool lg_users_needs_rehash(const lg_users *u, const char *pwhash)
{
    lg_assert(u != NULL);
    lg_assert(pwhash != NULL);
    /* 1 = other parameters, -1 = not an argon2id string at all: both want a new hash */
    return crypto_pwhash_str_needs_rehash(pwhash, u->opslimit, u->memlimit_bytes) != 0;
}

void lg_users_stats_get(const lg_users *u, lg_users_stats *out)
{
    lg_assert(u != NULL);
    lg_assert(out != NULL);
    out->verifies = atomic_load_explicit(&u->counters->verifies, memory_order_relaxed);
    out->dummy_verifies =
        atomic_load_explicit(&u->counters->dummy_verifies, memory_order_relaxed);
}

const char *lg_users__dummy_hash(const lg_users *u)
{
    lg_assert(u != NULL);
    return u->dummy;
}
