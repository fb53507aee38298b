/*
 * sqlite.c - the SQLite audit store: lg_store_ops on one connection per lg_store.
 *
 * Every statement is prepared once at open (SQLITE_PREPARE_PERSISTENT) and reset after
 * each use. A batch (lg_store_put) is one BEGIN IMMEDIATE transaction - the write lock is
 * taken up front, so a second process waits in the busy handler at BEGIN instead of
 * failing half-way - with INSERT OR IGNORE, which makes redelivered batches no-ops.
 * Attempts go in ATTEMPT_ROWS_PER_STMT rows per INSERT, which saved about a quarter of
 * the CPU per row in bench_store. A batch is bounded (LG_STORE_BATCH_MAX attempts, one
 * block per rule per attempt); over it, LG_ETOOBIG. SQLITE_* codes become LG_E* here and the sqlite
 * message is logged once, where it is translated. Pragmas and schema: sqlite_schema.c.
 * WAL checkpoints run on a thread of their own once the WAL grows (sqlite_ckpt.c).
 */
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"
#include "core/limits.h"
#include "core/log.h"
#include "store/sqlite_int.h"

/* Blocks in one batch: at most one per enabled rule per attempt. */
#define SQ_BATCH_BLOCKS_MAX (LG_RULES_MAX * LG_STORE_BATCH_MAX)

/* Attempts bound per multi-row INSERT: 8 parameters each, far below SQLite's 32766. */
#define ATTEMPT_ROWS_PER_STMT 32
#define ATTEMPT_COLS 8

enum {
    ST_BEGIN_WRITE,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_MAX_ROWID,
    ST_ATTEMPT_INS,      /* one row */
    ST_ATTEMPT_INS_MANY, /* ATTEMPT_ROWS_PER_STMT rows */
    ST_BLOCK_INS,
    ST_UNBLOCK_INS,
    ST_AUDIT_ATTEMPTS,
    ST_AUDIT_BLOCKS,
    ST_ATTEMPTS_ALL,
    ST_BLOCKS_ALL,
    ST_COUNT_OUTCOMES,
    ST_COUNT_BLOCKS,
    ST_USER_INS,
    ST_USER_GET,
    ST_USER_DEL,
    ST_USERS_ALL,
    ST_KEY_INS,
    ST_KEY_DEL,
    ST_KEYS_ALL,
    ST_KEY_TOUCH,
    ST_ACTION_INS,
    ST_ACTIONS_ALL,
    ST_COUNT
};

#define ATTEMPT_SELECT "SELECT id, ts, user, ip, ok, outcome, src FROM attempts "
#define BLOCK_SELECT "SELECT rule, key, user, ip, since, until, level, reason FROM blocks "

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_MAX_ROWID] = "SELECT coalesce(max(rowid), 0) FROM attempts",
    [ST_ATTEMPT_INS] = "INSERT OR IGNORE INTO attempts "
                       "(id, ts, user, ip, ok, outcome, src, seg) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_ATTEMPT_INS_MANY] = NULL, /* built by sq_many_sql() */
    [ST_BLOCK_INS] = "INSERT OR IGNORE INTO blocks "
                     "(rule, key, user, ip, since, until, level, reason) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_UNBLOCK_INS] = "INSERT OR IGNORE INTO unblocks (key, ts) VALUES (?, ?)",
    /* one index probe per segment, oldest first (sqlite_schema.c: why segments) */
    [ST_AUDIT_ATTEMPTS] = "WITH RECURSIVE segs(s) AS ("
                          "  SELECT (SELECT min(seg) FROM attempts)"
                          "  UNION ALL SELECT s + 1 FROM segs"
                          "  WHERE s < (SELECT max(seg) FROM attempts)) "
                          "SELECT a.id, a.ts, a.user, a.ip, a.ok, a.outcome, a.src "
                          "FROM segs CROSS JOIN attempts AS a "
                          "WHERE a.seg = segs.s AND a.user = ?1 "
                          "ORDER BY a.ts, a.id LIMIT ?2",
    [ST_AUDIT_BLOCKS] = BLOCK_SELECT "WHERE user = ? ORDER BY since, key LIMIT ?",
    [ST_ATTEMPTS_ALL] = ATTEMPT_SELECT "ORDER BY ts, id",
    [ST_BLOCKS_ALL] = BLOCK_SELECT "ORDER BY since, key",
    [ST_COUNT_OUTCOMES] = "SELECT outcome, count(*) FROM attempts GROUP BY outcome",
    [ST_COUNT_BLOCKS] = "SELECT count(*) FROM blocks",
    [ST_USER_INS] = "INSERT INTO users (name, pwhash, role, created) VALUES (?, ?, ?, ?)",
    [ST_USER_GET] = "SELECT name, pwhash, role, created FROM users WHERE name = ?",
    [ST_USER_DEL] = "DELETE FROM users WHERE name = ?",
    [ST_USERS_ALL] = "SELECT name, pwhash, role, created FROM users ORDER BY name",
    [ST_KEY_INS] = "INSERT INTO reporter_keys (name, hash, created, last_used) "
                   "VALUES (?, ?, ?, NULL)",
    [ST_KEY_DEL] = "DELETE FROM reporter_keys WHERE name = ?",
    [ST_KEYS_ALL] = "SELECT name, hash, created, last_used FROM reporter_keys ORDER BY name",
    [ST_KEY_TOUCH] = "UPDATE reporter_keys SET last_used = max(coalesce(last_used, 0), ?2) "
                     "WHERE name = ?1",
    [ST_ACTION_INS] = "INSERT INTO operator_actions (ts, actor, action, target, detail) "
                      "VALUES (?, ?, ?, ?, ?)",
    [ST_ACTIONS_ALL] = "SELECT ts, actor, action, target, detail FROM operator_actions "
                       "ORDER BY ts, rowid LIMIT ?",
};

typedef struct lg_sqlite {
    lg_store base;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    lg_sqlite_ckpt *ckpt; /* checkpoints this connection's commits (sqlite_ckpt.c) */
    char *path; /* for log lines */
} lg_sqlite;

static const lg_store_ops sq_ops;

/* --- errors and statements --------------------------------------------------- */

/* Logs the sqlite message once, here, and returns the LG_E* code for rc. */
static int sq_fail(lg_sqlite *s, const char *op, int rc)
{
    lg_log(LG_ERROR, "store", "sqlite path=%s op=%s code=%d: %s", s->path, op, rc,
           sqlite3_errmsg(s->db));
    return lg_store__sqlite_rc(rc);
}

/* Steps a statement that returns no row and resets it. */
static int sq_run(lg_sqlite *s, int which, const char *op)
{
    sqlite3_stmt *st = s->st[which];
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, op, rc);
    return 0;
}

static void sq_rollback(lg_sqlite *s)
{
    /* fails harmlessly when SQLite already rolled back (e.g. after SQLITE_FULL) */
    sqlite3_step(s->st[ST_ROLLBACK]);
    sqlite3_reset(s->st[ST_ROLLBACK]);
}

static void sq_bind_str(sqlite3_stmt *st, int col, const char *str, size_t max)
{
    sqlite3_bind_text(st, col, str, (int)strnlen(str, max), SQLITE_STATIC);
}

/* Copies text column col into dst (dst_size bytes with the NUL). false when the stored
 * value does not fit the field: the row was not written by this store. */
static bool sq_col_str(sqlite3_stmt *st, int col, char *dst, size_t dst_size)
{
    const unsigned char *txt = sqlite3_column_text(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);

    if (txt == NULL || len >= dst_size)
        return false;
    memcpy(dst, txt, len);
    dst[len] = '\0';
    return true;
}

static bool sq_outcome_parse(const char *name, lg_outcome *out)
{
    static const lg_outcome all[] = {LG_OUTCOME_OK, LG_OUTCOME_FAIL, LG_OUTCOME_BLOCKED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, lg_outcome_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

static const char *sq_role_name(lg_role role)
{
    return role == LG_ROLE_ADMIN ? "admin" : "user";
}

static bool sq_role_parse(const char *name, lg_role *out)
{
    if (strcmp(name, "admin") == 0)
        *out = LG_ROLE_ADMIN;
    else if (strcmp(name, "user") == 0)
        *out = LG_ROLE_USER;
    else
        return false;
    return true;
}

/* --- rows ------------------------------------------------------------------------ */

/* true when every string of a is NUL-terminated within its field and it has an id */
static bool sq_attempt_ok(const lg_attempt *a)
{
    return a->id[0] != '\0' && strnlen(a->id, sizeof a->id) < sizeof a->id &&
           strnlen(a->user, sizeof a->user) < sizeof a->user &&
           strnlen(a->ip, sizeof a->ip) < sizeof a->ip &&
           strnlen(a->src, sizeof a->src) < sizeof a->src;
}

static void sq_bind_attempt(sqlite3_stmt *st, int first, const lg_attempt *a, int64_t seg)
{
    sq_bind_str(st, first, a->id, sizeof a->id);
    sqlite3_bind_int64(st, first + 1, a->ts_ms);
    sq_bind_str(st, first + 2, a->user, sizeof a->user);
    sq_bind_str(st, first + 3, a->ip, sizeof a->ip);
    sqlite3_bind_int(st, first + 4, a->ok ? 1 : 0);
    sqlite3_bind_text(st, first + 5, lg_outcome_name(a->outcome), -1, SQLITE_STATIC);
    sq_bind_str(st, first + 6, a->src, sizeof a->src);
    sqlite3_bind_int64(st, first + 7, seg);
}

static bool sq_attempt_row(sqlite3_stmt *st, lg_attempt *a)
{
    char outcome[16];

    memset(a, 0, sizeof *a);
    if (!sq_col_str(st, 0, a->id, sizeof a->id) || !sq_col_str(st, 2, a->user, sizeof a->user) ||
        !sq_col_str(st, 3, a->ip, sizeof a->ip) ||
        !sq_col_str(st, 5, outcome, sizeof outcome) ||
        !sq_col_str(st, 6, a->src, sizeof a->src) || !sq_outcome_parse(outcome, &a->outcome))
        return false;
    a->ts_ms = sqlite3_column_int64(st, 1);
    a->user_len = (uint32_t)strlen(a->user);
    a->ok = sqlite3_column_int(st, 4) != 0;
    return a->id[0] != '\0';
}

static bool sq_block_row(sqlite3_stmt *st, lg_block *b)
{
    char key[LG_BLOCK_KEY_MAX + 1];
    sqlite3_int64 level;

    memset(b, 0, sizeof *b);
    if (!sq_col_str(st, 0, b->rule, sizeof b->rule) || !sq_col_str(st, 1, key, sizeof key) ||
        !sq_col_str(st, 2, b->user, sizeof b->user) || !sq_col_str(st, 3, b->ip, sizeof b->ip) ||
        !sq_col_str(st, 7, b->reason, sizeof b->reason))
        return false;
    b->since_ms = sqlite3_column_int64(st, 4);
    b->until_ms = sqlite3_column_int64(st, 5);
    level = sqlite3_column_int64(st, 6);
    if (level < 0 || level > UINT32_MAX)
        return false;
    b->level = (uint32_t)level;
    return true;
}

/* --- writes ---------------------------------------------------------------------- */

/* The segment new rows go to: from the largest rowid, read under the write lock. */
static int sq_segment(lg_sqlite *s, int64_t *seg)
{
    sqlite3_stmt *st = s->st[ST_MAX_ROWID];
    int rc = sqlite3_step(st);
    int64_t max_rowid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;

    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, "max rowid", rc);
    *seg = (max_rowid + 1) >> LG_SQLITE_SEG_SHIFT;
    return 0;
}

static int sq_put_attempts(lg_sqlite *s, const lg_attempt *attempts, size_t n,
                           size_t *inserted)
{
    size_t i = 0, added = 0;
    int64_t seg = 0;
    int rc;

    if (n == 0) {
        *inserted = 0;
        return 0;
    }
    rc = sq_segment(s, &seg);
    if (rc != 0)
        return rc;

    while (n - i >= ATTEMPT_ROWS_PER_STMT) {
        sqlite3_stmt *st = s->st[ST_ATTEMPT_INS_MANY];
        for (int r = 0; r < ATTEMPT_ROWS_PER_STMT; r++)
            sq_bind_attempt(st, 1 + r * ATTEMPT_COLS, &attempts[i + (size_t)r], seg);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sq_fail(s, "insert attempts", rc);
        added += (size_t)sqlite3_changes(s->db);
        i += ATTEMPT_ROWS_PER_STMT;
    }
    for (; i < n; i++) {
        sqlite3_stmt *st = s->st[ST_ATTEMPT_INS];
        sq_bind_attempt(st, 1, &attempts[i], seg);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sq_fail(s, "insert attempt", rc);
        added += (size_t)sqlite3_changes(s->db);
    }
    lg_assert(added <= n);
    *inserted = added;
    return 0;
}

static int sq_put_blocks(lg_sqlite *s, const lg_block *blocks, size_t n)
{
    sqlite3_stmt *st = s->st[ST_BLOCK_INS];

    for (size_t i = 0; i < n; i++) {
        const lg_block *b = &blocks[i];
        char key[LG_BLOCK_KEY_MAX + 1];
        int key_len = lg_block_key(b, key, sizeof key);
        int rc;

        if (key_len < 0) {
            lg_log(LG_ERROR, "store", "sqlite path=%s: block of rule '%.*s' has no valid key",
                   s->path, LG_RULE_NAME_MAX, b->rule);
            return key_len;
        }
        sq_bind_str(st, 1, b->rule, sizeof b->rule);
        sqlite3_bind_text(st, 2, key, key_len, SQLITE_STATIC);
        sq_bind_str(st, 3, b->user, sizeof b->user);
        sq_bind_str(st, 4, b->ip, sizeof b->ip);
        sqlite3_bind_int64(st, 5, b->since_ms);
        sqlite3_bind_int64(st, 6, b->until_ms);
        sqlite3_bind_int64(st, 7, b->level);
        sq_bind_str(st, 8, b->reason, sizeof b->reason);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sq_fail(s, "insert block", rc);
    }
    return 0;
}

static int sq_put(lg_store *base, const lg_attempt *attempts, size_t n_attempts,
                  const lg_block *blocks, size_t n_blocks, size_t *inserted)
{
    lg_sqlite *s = (lg_sqlite *)base;
    size_t added = 0;
    int rc;

    /* refuse before writing anything: a batch goes in whole or not at all. The bounds
     * keep one transaction (and the WAL it writes) a known size. */
    if (n_attempts > LG_STORE_BATCH_MAX || n_blocks > SQ_BATCH_BLOCKS_MAX)
        return LG_ETOOBIG;
    for (size_t i = 0; i < n_attempts; i++)
        if (!sq_attempt_ok(&attempts[i]))
            return LG_EINVAL;
    if (n_attempts == 0 && n_blocks == 0) {
        if (inserted != NULL)
            *inserted = 0;
        return 0;
    }
    rc = sq_run(s, ST_BEGIN_WRITE, "begin");
    if (rc != 0)
        return rc;
    rc = sq_put_attempts(s, attempts, n_attempts, &added);
    if (rc != 0)
        goto fail_rollback;
    rc = sq_put_blocks(s, blocks, n_blocks);
    if (rc != 0)
        goto fail_rollback;
    rc = sq_run(s, ST_COMMIT, "commit");
    if (rc != 0)
        goto fail_rollback;
    if (inserted != NULL)
        *inserted = added;
    return 0;

fail_rollback:
    sq_rollback(s);
    return rc;
}

static int sq_unblock_put(lg_store *base, const char *key, int64_t ts_ms)
{
    lg_sqlite *s = (lg_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_UNBLOCK_INS];

    lg_assert(key != NULL);
    if (key[0] == '\0' || strnlen(key, LG_BLOCK_KEY_MAX + 1) > LG_BLOCK_KEY_MAX)
        return LG_EINVAL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ts_ms);
    return sq_run(s, ST_UNBLOCK_INS, "insert unblock");
}

/* --- reads ----------------------------------------------------------------------- */

/* Decodes the current row of st and hands it to the caller's callback; false when the
 * row does not fit the record (it was not written by this store). */
typedef bool (*sq_row_fn)(sqlite3_stmt *st, const void *cb, void *opaque);

/* Steps st through its rows, each through row(st, cb, opaque). Resets st. */
static int sq_each(lg_sqlite *s, sqlite3_stmt *st, const char *table, sq_row_fn row,
                   const void *cb, void *opaque)
{
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!row(st, cb, opaque)) {
            sqlite3_reset(st);
            lg_log(LG_ERROR, "store", "sqlite path=%s: %s row out of bounds", s->path, table);
            return LG_EIO;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sq_fail(s, table, rc);
}

static bool sq_emit_attempt(sqlite3_stmt *st, const void *cb, void *opaque)
{
    lg_store_attempt_cb attempt_cb = *(const lg_store_attempt_cb *)cb;
    lg_attempt a;

    if (!sq_attempt_row(st, &a))
        return false;
    if (attempt_cb != NULL)
        attempt_cb(opaque, &a);
    return true;
}

static bool sq_emit_block(sqlite3_stmt *st, const void *cb, void *opaque)
{
    lg_store_block_cb block_cb = *(const lg_store_block_cb *)cb;
    lg_block b;

    if (!sq_block_row(st, &b))
        return false;
    if (block_cb != NULL)
        block_cb(opaque, &b);
    return true;
}

static int sq_audit(lg_store *base, const char *user, size_t limit,
                    lg_store_attempt_cb attempt_cb, lg_store_block_cb block_cb, void *opaque)
{
    lg_sqlite *s = (lg_sqlite *)base;
    sqlite3_stmt *sa = s->st[ST_AUDIT_ATTEMPTS], *sb = s->st[ST_AUDIT_BLOCKS];
    int rc;

    lg_assert(user != NULL);
    if (limit == 0 || limit > LG_AUDIT_ROWS_MAX)
        limit = LG_AUDIT_ROWS_MAX;
    /* one read transaction: attempts and blocks from the same snapshot */
    rc = sq_run(s, ST_BEGIN_READ, "begin read");
    if (rc != 0)
        return rc;
    sq_bind_str(sa, 1, user, LG_USER_MAX + 1);
    sqlite3_bind_int64(sa, 2, (sqlite3_int64)limit);
    rc = sq_each(s, sa, "attempts", sq_emit_attempt, &attempt_cb, opaque);
    if (rc != 0)
        goto done;
    sq_bind_str(sb, 1, user, LG_USER_MAX + 1);
    sqlite3_bind_int64(sb, 2, LG_AUDIT_ROWS_MAX);
    rc = sq_each(s, sb, "blocks", sq_emit_block, &block_cb, opaque);
done:
    sq_rollback(s); /* nothing was written: ending the read is all it does */
    return rc;
}

static int sq_attempts_each(lg_store *base, lg_store_attempt_cb cb, void *opaque)
{
    lg_sqlite *s = (lg_sqlite *)base;
    return sq_each(s, s->st[ST_ATTEMPTS_ALL], "attempts", sq_emit_attempt, &cb, opaque);
}

static int sq_blocks_each(lg_store *base, lg_store_block_cb cb, void *opaque)
{
    lg_sqlite *s = (lg_sqlite *)base;
    return sq_each(s, s->st[ST_BLOCKS_ALL], "blocks", sq_emit_block, &cb, opaque);
}

static int sq_counts(lg_store *base, lg_store_counts *out)
{
    lg_sqlite *s = (lg_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_COUNT_OUTCOMES];
    lg_store_counts c;
    int rc;

    memset(&c, 0, sizeof c);
    rc = sq_run(s, ST_BEGIN_READ, "begin read");
    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        uint64_t k = (uint64_t)sqlite3_column_int64(st, 1);
        lg_outcome o;
        c.attempts += k;
        if (name != NULL && sq_outcome_parse(name, &o)) {
            if (o == LG_OUTCOME_OK)
                c.ok += k;
            else if (o == LG_OUTCOME_FAIL)
                c.fail += k;
            else
                c.blocked += k;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = sq_fail(s, "count attempts", rc);
        goto done;
    }
    st = s->st[ST_COUNT_BLOCKS];
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        c.blocks = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    rc = rc == SQLITE_ROW ? 0 : sq_fail(s, "count blocks", rc);
done:
    sq_rollback(s);
    if (rc == 0)
        *out = c;
    return rc;
}

/* --- users ----------------------------------------------------------------------- */

static bool sq_user_row(sqlite3_stmt *st, lg_user_rec *u)
{
    char role[16];

    memset(u, 0, sizeof *u);
    if (!sq_col_str(st, 0, u->name, sizeof u->name) ||
        !sq_col_str(st, 1, u->pwhash, sizeof u->pwhash) ||
        !sq_col_str(st, 2, role, sizeof role) || !sq_role_parse(role, &u->role))
        return false;
    u->created_ms = sqlite3_column_int64(st, 3);
    return true;
}

static int sq_user_put(lg_store *base, const lg_user_rec *u)
{
    lg_sqlite *s = (lg_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_USER_INS];
    int rc;

    lg_assert(u != NULL);
    if (u->name[0] == '\0' || strnlen(u->name, sizeof u->name) == sizeof u->name ||
        strnlen(u->pwhash, sizeof u->pwhash) == sizeof u->pwhash)
        return LG_EINVAL;
    sq_bind_str(st, 1, u->name, sizeof u->name);
    sq_bind_str(st, 2, u->pwhash, sizeof u->pwhash);
    sqlite3_bind_text(st, 3, sq_role_name(u->role), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, u->created_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return LG_EEXIST; /* an answer, not a failure: not logged */
    return sq_fail(s, "insert user", rc);
}

static int sq_user_get(lg_store *base, const char *name, lg_user_rec *out)
{
    lg_sqlite *s = (lg_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_USER_GET];
    lg_user_rec u;
    int rc;

    lg_assert(name != NULL);
    sq_bind_str(st, 1, name, LG_USER_MAX + 1);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return LG_ENOTFOUND;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return sq_fail(s, "select user", rc);
    }
    if (!sq_user_row(st, &u)) {
        sqlite3_reset(st);
        lg_log(LG_ERROR, "store", "sqlite path=%s: users row out of bounds", s->path);
        return LG_EIO;
    }
    sqlite3_reset(st);
    *out = u;
    return 0;
}

static int sq_user_del(lg_store *base, const char *name)
{
    lg_sqlite *s = (lg_sqlite *)base;
    int rc;

    lg_assert(name != NULL);
    sq_bind_str(s->st[ST_USER_DEL], 1, name, LG_USER_MAX + 1);
    rc = sq_run(s, ST_USER_DEL, "delete user");
    if (rc != 0)
        return rc;
    return sqlite3_changes(s->db) == 0 ? LG_ENOTFOUND : 0;
}

static bool sq_emit_user(sqlite3_stmt *st, const void *cb, void *opaque)
{
    lg_store_user_cb user_cb = *(const lg_store_user_cb *)cb;
    lg_user_rec u;

    if (!sq_user_row(st, &u))
        return false;
    if (user_cb != NULL)
        user_cb(opaque, &u);
    return true;
}

static int sq_users_each(lg_store *base, lg_store_user_cb cb, void *opaque)
{
    lg_sqlite *s = (lg_sqlite *)base;
    return sq_each(s, s->st[ST_USERS_ALL], "users", sq_emit_user, &cb, opaque);
}

/* --- reporter keys and operator actions ------------------------------------------- */

/* true when s is a non-empty string terminated within its field of size bytes */
static bool sq_field_ok(const char *str, size_t size, bool may_be_empty)
{
    size_t len = strnlen(str, size);
    return len < size && (may_be_empty || len > 0);
}

static bool sq_action_ok(const lg_action_rec *act)
{
    return sq_field_ok(act->actor, sizeof act->actor, false) &&
           sq_field_ok(act->action, sizeof act->action, false) &&
           sq_field_ok(act->target, sizeof act->target, false) &&
           sq_field_ok(act->detail, sizeof act->detail, true);
}

/* Inserts act (checked by the caller) in the current transaction, if any. */
static int sq_action_ins(lg_sqlite *s, const lg_action_rec *act)
{
    sqlite3_stmt *st = s->st[ST_ACTION_INS];

    sqlite3_bind_int64(st, 1, act->ts_ms);
    sq_bind_str(st, 2, act->actor, sizeof act->actor);
    sq_bind_str(st, 3, act->action, sizeof act->action);
    sq_bind_str(st, 4, act->target, sizeof act->target);
    sq_bind_str(st, 5, act->detail, sizeof act->detail);
    return sq_run(s, ST_ACTION_INS, "insert action");
}

static int sq_action_put(lg_store *base, const lg_action_rec *act)
{
    lg_sqlite *s = (lg_sqlite *)base;

    if (!sq_action_ok(act))
        return LG_EINVAL;
    return sq_action_ins(s, act);
}

static int sq_key_put(lg_store *base, const lg_reporter_key_rec *k, const lg_action_rec *act)
{
    lg_sqlite *s = (lg_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_KEY_INS];
    int rc;

    if (!sq_field_ok(k->name, sizeof k->name, false) || (act != NULL && !sq_action_ok(act)))
        return LG_EINVAL;
    rc = sq_run(s, ST_BEGIN_WRITE, "begin");
    if (rc != 0)
        return rc;
    sq_bind_str(st, 1, k->name, sizeof k->name);
    sqlite3_bind_blob(st, 2, k->hash, sizeof k->hash, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, k->created_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        rc = LG_EEXIST; /* an answer, not a failure: not logged */
        goto fail_rollback;
    }
    if (rc != SQLITE_DONE) {
        rc = sq_fail(s, "insert key", rc);
        goto fail_rollback;
    }
    rc = act != NULL ? sq_action_ins(s, act) : 0;
    if (rc != 0)
        goto fail_rollback;
    rc = sq_run(s, ST_COMMIT, "commit");
    if (rc != 0)
        goto fail_rollback;
    return 0;

fail_rollback:
    sq_rollback(s);
    return rc;
}

static int sq_key_del(lg_store *base, const char *name, const lg_action_rec *act)
{
    lg_sqlite *s = (lg_sqlite *)base;
    int rc;

    if (act != NULL && !sq_action_ok(act))
        return LG_EINVAL;
    rc = sq_run(s, ST_BEGIN_WRITE, "begin");
    if (rc != 0)
        return rc;
    sq_bind_str(s->st[ST_KEY_DEL], 1, name, LG_REPORTER_NAME_MAX + 1);
    rc = sq_run(s, ST_KEY_DEL, "delete key");
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = LG_ENOTFOUND;
    if (rc == 0 && act != NULL)
        rc = sq_action_ins(s, act);
    if (rc == 0)
        rc = sq_run(s, ST_COMMIT, "commit");
    if (rc != 0)
        sq_rollback(s);
    return rc;
}

static bool sq_emit_key(sqlite3_stmt *st, const void *cb, void *opaque)
{
    lg_store_key_cb key_cb = *(const lg_store_key_cb *)cb;
    lg_reporter_key_rec k;

    memset(&k, 0, sizeof k);
    if (!sq_col_str(st, 0, k.name, sizeof k.name) || k.name[0] == '\0' ||
        sqlite3_column_type(st, 1) != SQLITE_BLOB ||
        sqlite3_column_bytes(st, 1) != (int)sizeof k.hash)
        return false;
    memcpy(k.hash, sqlite3_column_blob(st, 1), sizeof k.hash);
    k.created_ms = sqlite3_column_int64(st, 2);
    k.last_used_ms = sqlite3_column_int64(st, 3); /* NULL reads as 0: never used */
    if (key_cb != NULL)
        key_cb(opaque, &k);
    return true;
}

static int sq_keys_each(lg_store *base, lg_store_key_cb cb, void *opaque)
{
    lg_sqlite *s = (lg_sqlite *)base;
    return sq_each(s, s->st[ST_KEYS_ALL], "reporter_keys", sq_emit_key, &cb, opaque);
}

static int sq_keys_touch(lg_store *base, const lg_reporter_key_rec *keys, size_t n)
{
    lg_sqlite *s = (lg_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_KEY_TOUCH];
    int rc;

    if (n > LG_REPORTER_KEYS_MAX)
        return LG_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        if (!sq_field_ok(keys[i].name, sizeof keys[i].name, false))
            return LG_EINVAL;
    if (n == 0)
        return 0;
    rc = sq_run(s, ST_BEGIN_WRITE, "begin");
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sq_bind_str(st, 1, keys[i].name, sizeof keys[i].name);
        sqlite3_bind_int64(st, 2, keys[i].last_used_ms);
        rc = sq_run(s, ST_KEY_TOUCH, "touch key");
    }
    if (rc == 0)
        rc = sq_run(s, ST_COMMIT, "commit");
    if (rc != 0)
        sq_rollback(s);
    return rc;
}

static bool sq_emit_action(sqlite3_stmt *st, const void *cb, void *opaque)
{
    lg_store_action_cb action_cb = *(const lg_store_action_cb *)cb;
    lg_action_rec act;

    memset(&act, 0, sizeof act);
    act.ts_ms = sqlite3_column_int64(st, 0);
    if (!sq_col_str(st, 1, act.actor, sizeof act.actor) ||
        !sq_col_str(st, 2, act.action, sizeof act.action) ||
        !sq_col_str(st, 3, act.target, sizeof act.target) ||
        !sq_col_str(st, 4, act.detail, sizeof act.detail) || !sq_action_ok(&act))
        return false;
    if (action_cb != NULL)
        action_cb(opaque, &act);
    return true;
}

static int sq_actions_each(lg_store *base, size_t limit, lg_store_action_cb cb, void *opaque)
{
    lg_sqlite *s = (lg_sqlite *)base;
    sqlite3_stmt *st = s->st[ST_ACTIONS_ALL];

    if (limit == 0 || limit > LG_AUDIT_ROWS_MAX)
        limit = LG_AUDIT_ROWS_MAX;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
    return sq_each(s, st, "operator_actions", sq_emit_action, &cb, opaque);
}

/* --- open / close ---------------------------------------------------------------- */

static void sq_close(lg_store *base)
{
    lg_sqlite *s = (lg_sqlite *)base;

    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]); /* NULL is a no-op */
    lg_store__sqlite_ckpt_free(s->ckpt); /* its thread may be checkpointing the file */
    sqlite3_close(s->db);          /* also after a failed open */
    free(s->path);
    free(s);
}

/* "INSERT ... VALUES (?,...,?), ... " with ATTEMPT_ROWS_PER_STMT rows. */
static int sq_many_sql(char *buf, size_t buf_len)
{
    size_t len = (size_t)snprintf(buf, buf_len,
                                  "INSERT OR IGNORE INTO attempts "
                                  "(id, ts, user, ip, ok, outcome, src, seg) VALUES ");
    for (int r = 0; r < ATTEMPT_ROWS_PER_STMT && len < buf_len; r++)
        len += (size_t)snprintf(buf + len, buf_len - len, "%s(?,?,?,?,?,?,?,?)",
                                r == 0 ? "" : ",");
    return len < buf_len ? 0 : LG_ETOOBIG;
}

static int sq_prepare_all(lg_sqlite *s, char *err, size_t err_len)
{
    char many[128 + ATTEMPT_ROWS_PER_STMT * 24];
    int rc = sq_many_sql(many, sizeof many);

    lg_assert(rc == 0);
    for (int i = 0; i < ST_COUNT; i++) {
        const char *sql = i == ST_ATTEMPT_INS_MANY ? many : stmt_sql[i];
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, err_len, "sqlite '%s': preparing '%.40s...': %s", s->path, sql,
                     sqlite3_errmsg(s->db));
            return lg_store__sqlite_rc(rc);
        }
    }
    return 0;
}

static const lg_store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .put = sq_put,
    .unblock_put = sq_unblock_put,
    .audit = sq_audit,
    .attempts_each = sq_attempts_each,
    .blocks_each = sq_blocks_each,
    .counts = sq_counts,
    .user_put = sq_user_put,
    .user_get = sq_user_get,
    .user_del = sq_user_del,
    .users_each = sq_users_each,
    .key_put = sq_key_put,
    .key_del = sq_key_del,
    .keys_each = sq_keys_each,
    .keys_touch = sq_keys_touch,
    .action_put = sq_action_put,
    .actions_each = sq_actions_each,
};

int lg_store__sqlite_open(const char *path, lg_store **out, char *err, size_t err_len)
{
    /* one lg_store per thread (store.h): SQLite's own mutexes would only cost time */
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    lg_sqlite *s;
    int rc;

    lg_assert(path != NULL);
    if (path[0] == '\0') {
        snprintf(err, err_len, "sqlite store path is empty");
        return LG_EINVAL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        snprintf(err, err_len, "sqlite '%s': out of memory", path);
        return LG_ENOMEM;
    }
    s->base.ops = &sq_ops;
    rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "sqlite '%s': cannot open: %s", path,
                 s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        rc = lg_store__sqlite_rc(rc);
        goto fail_close;
    }
    sqlite3_extended_result_codes(s->db, 1); /* tells a duplicate from a refused row */
    rc = lg_store__sqlite_prepare_db(s->db, path, err, err_len);
    if (rc != 0)
        goto fail_close;
    rc = sq_prepare_all(s, err, err_len);
    if (rc != 0)
        goto fail_close;
    rc = lg_store__sqlite_ckpt_new(path, &s->ckpt);
    if (rc != 0) {
        snprintf(err, err_len, "sqlite '%s': out of memory", path);
        goto fail_close;
    }
    /* replaces the autocheckpoint: commits hand checkpoints to the checkpointer */
    sqlite3_wal_hook(s->db, lg_store__sqlite_ckpt_hook, s->ckpt);
    *out = &s->base;
    return 0;

fail_close:
    sq_close(&s->base);
    return rc;
}
