/*
 * store.h - the audit store: every attempt with its outcome (the seed's BDD_logs), every
 * block, and the users of the login API.
 *
 * Back-ends behind lg_store_ops: sqlite.c (default; WAL, batched transactions) and, at
 * scale, postgres.c. lg_store_open() picks one from the URL: a path or "sqlite:PATH" is
 * SQLite, "postgres://..." / "postgresql://..." is PostgreSQL.
 *
 * Writes are idempotent: an attempt is unique on its id, a block on (rule, key, since), so
 * at-least-once delivery (a redelivered Kafka batch, a replay run again after a crash)
 * never duplicates a row. lg_store_put() writes a batch in one transaction: after a crash
 * either the whole batch is there or none of it.
 *
 * Reporter keys (the callers of POST /v1/attempts) are kept as a name and a hash, never
 * the key itself. Operator actions (unblock, key added or deleted) are kept with their
 * actor; a key change and its action are written in one transaction.
 *
 * One lg_store is used by one thread at a time; open one per thread.
 */
#ifndef LG_STORE_H
#define LG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

typedef struct lg_store lg_store;

typedef enum { LG_ROLE_USER = 0, LG_ROLE_ADMIN = 1 } lg_role;

#define LG_PWHASH_MAX 256 /* an argon2id string is ~100 bytes */

typedef struct lg_user_rec {
    char name[LG_USER_MAX + 1];
    char pwhash[LG_PWHASH_MAX + 1];
    lg_role role;
    int64_t created_ms;
} lg_user_rec;

/* A reporter key: its name and the hash of the key (auth/reporters.h makes both). */
#define LG_STORE_KEY_HASH_LEN 32

typedef struct lg_reporter_key_rec {
    char name[LG_REPORTER_NAME_MAX + 1];
    unsigned char hash[LG_STORE_KEY_HASH_LEN];
    int64_t created_ms;
    int64_t last_used_ms; /* 0: never used */
} lg_reporter_key_rec;

/* An operator action: at ts_ms, actor ("jwt:root", "cli:alice") did action ("unblock",
 * "key_add", "key_delete") to target (a user, a key name); detail is free text. Every
 * string is NUL-terminated in its field; actor, action and target are not empty. */
typedef struct lg_action_rec {
    int64_t ts_ms;
    char actor[LG_ACTOR_MAX + 1];
    char action[LG_ACTION_NAME_MAX + 1];
    char target[LG_ACTION_TARGET_MAX + 1];
    char detail[LG_ACTION_DETAIL_MAX + 1];
} lg_action_rec;

/* Opens (creating and migrating the schema to the current version). err gets a reason. */
int lg_store_open(const char *url, lg_store **out, char *err, size_t err_len);
void lg_store_close(lg_store *s); /* NULL is a no-op */

/* One transaction: attempts (INSERT OR IGNORE on id) and blocks (ignore on rule, key,
 * since). n_attempts + n_blocks may be 0. Attempts without an id are refused (LG_EINVAL).
 * *inserted (may be NULL) gets the number of new attempt rows. */
int lg_store_put(lg_store *s, const lg_attempt *attempts, size_t n_attempts,
                 const lg_block *blocks, size_t n_blocks, size_t *inserted);

/* Records an operator unblock (a tombstone) of key at ts_ms. */
int lg_store_unblock_put(lg_store *s, const char *key, int64_t ts_ms);

/* Audit of one user, oldest first: calls attempt_cb for each of its attempts (at most
 * limit, 0 = LG_AUDIT_ROWS_MAX) and block_cb for each block of that user (any rule). */
typedef void (*lg_store_attempt_cb)(void *opaque, const lg_attempt *a);
typedef void (*lg_store_block_cb)(void *opaque, const lg_block *b);
int lg_store_audit(lg_store *s, const char *user, size_t limit, lg_store_attempt_cb attempt_cb,
                   lg_store_block_cb block_cb, void *opaque);

/* Every attempt ordered by (ts, id), and every block ordered by (since, key): used to
 * check a cluster's decisions against `loginguard replay` and by exports. */
int lg_store_attempts_each(lg_store *s, lg_store_attempt_cb cb, void *opaque);
int lg_store_blocks_each(lg_store *s, lg_store_block_cb cb, void *opaque);

/* Counts: attempts by outcome, and blocks. */
typedef struct lg_store_counts {
    uint64_t attempts, ok, fail, blocked, blocks;
} lg_store_counts;
int lg_store_counts_get(lg_store *s, lg_store_counts *out);

/* Users. user_put fails with LG_EEXIST when the name is taken. */
int lg_store_user_put(lg_store *s, const lg_user_rec *u);
int lg_store_user_get(lg_store *s, const char *name, lg_user_rec *out); /* LG_ENOTFOUND */
int lg_store_user_del(lg_store *s, const char *name);                  /* LG_ENOTFOUND */
typedef void (*lg_store_user_cb)(void *opaque, const lg_user_rec *u);
int lg_store_users_each(lg_store *s, lg_store_user_cb cb, void *opaque);

/* Reporter keys. key_put adds k (last_used_ms ignored: a new key was never used) and,
 * when act is not NULL, the action in the same transaction; LG_EEXIST when the name is
 * taken (nothing written). key_del deletes name and writes act likewise; LG_ENOTFOUND
 * when there is no such key (nothing written). keys_each lists every key by name.
 * keys_touch raises last_used of each named key to keys[i].last_used_ms (never lowers
 * it; names no longer there are skipped), n <= LG_REPORTER_KEYS_MAX, one transaction:
 * how the API writes, once per refresh, what its cache saw. */
int lg_store_key_put(lg_store *s, const lg_reporter_key_rec *k, const lg_action_rec *act);
int lg_store_key_del(lg_store *s, const char *name, const lg_action_rec *act);
typedef void (*lg_store_key_cb)(void *opaque, const lg_reporter_key_rec *k);
int lg_store_keys_each(lg_store *s, lg_store_key_cb cb, void *opaque);
int lg_store_keys_touch(lg_store *s, const lg_reporter_key_rec *keys, size_t n);

/* Operator actions. action_put records one (LG_EINVAL when a string is empty or not
 * terminated in its field); actions_each lists them oldest first (by ts, then the
 * order they were written), at most limit (0 = LG_AUDIT_ROWS_MAX). */
int lg_store_action_put(lg_store *s, const lg_action_rec *act);
typedef void (*lg_store_action_cb)(void *opaque, const lg_action_rec *act);
int lg_store_actions_each(lg_store *s, size_t limit, lg_store_action_cb cb, void *opaque);

/* Back-end interface, for sqlite.c / postgres.c only. */
typedef struct lg_store_ops {
    const char *name;
    void (*close)(lg_store *s);
    int (*put)(lg_store *s, const lg_attempt *attempts, size_t n_attempts,
               const lg_block *blocks, size_t n_blocks, size_t *inserted);
    int (*unblock_put)(lg_store *s, const char *key, int64_t ts_ms);
    int (*audit)(lg_store *s, const char *user, size_t limit, lg_store_attempt_cb attempt_cb,
                 lg_store_block_cb block_cb, void *opaque);
    int (*attempts_each)(lg_store *s, lg_store_attempt_cb cb, void *opaque);
    int (*blocks_each)(lg_store *s, lg_store_block_cb cb, void *opaque);
    int (*counts)(lg_store *s, lg_store_counts *out);
    int (*user_put)(lg_store *s, const lg_user_rec *u);
    int (*user_get)(lg_store *s, const char *name, lg_user_rec *out);
    int (*user_del)(lg_store *s, const char *name);
    int (*users_each)(lg_store *s, lg_store_user_cb cb, void *opaque);
    int (*key_put)(lg_store *s, const lg_reporter_key_rec *k, const lg_action_rec *act);
    int (*key_del)(lg_store *s, const char *name, const lg_action_rec *act);
    int (*keys_each)(lg_store *s, lg_store_key_cb cb, void *opaque);
    int (*keys_touch)(lg_store *s, const lg_reporter_key_rec *keys, size_t n);
    int (*action_put)(lg_store *s, const lg_action_rec *act);
    int (*actions_each)(lg_store *s, size_t limit, lg_store_action_cb cb, void *opaque);
} lg_store_ops;

struct lg_store {
    const lg_store_ops *ops;
};

int lg_store__sqlite_open(const char *path, lg_store **out, char *err, size_t err_len);

#endif
