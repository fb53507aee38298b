/*
 * test_store_sqlite.c - the SQLite audit store: schema and versions, idempotent batches,
 * all-or-nothing batches, audit order and limits, users, reporter keys and operator
 * actions, the upgrade of a version 1 file, and two writers on one file.
 * Files go in $LG_TMPDIR (else /tmp) and are removed by each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "store/sqlite_int.h"
#include "store/store.h"

typedef struct fixture {
    char path[512];
} fixture;

static void remove_db(const char *path)
{
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static int setup(void **state)
{
    static unsigned counter;
    const char *dir = getenv("LG_TMPDIR");
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        dir = "/tmp";
    snprintf(f->path, sizeof f->path, "%s/test_store_sqlite_%ld_%u.db", dir, (long)getpid(),
             counter++);
    remove_db(f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    remove_db(f->path);
    free(f);
    return 0;
}

static lg_store *open_ok(const char *path)
{
    lg_store *s = NULL;
    char err[512] = "";
    int rc = lg_store_open(path, &s, err, sizeof err);
    if (rc != 0)
        fail_msg("open '%s': %s", path, err);
    return s;
}

static lg_attempt attempt(const char *id, int64_t ts, const char *user, bool ok)
{
    lg_attempt a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "%s", id);
    a.ts_ms = ts;
    a.user_len = (uint32_t)snprintf(a.user, sizeof a.user, "%s", user);
    snprintf(a.ip, sizeof a.ip, "203.0.113.7");
    a.ok = ok;
    a.outcome = ok ? LG_OUTCOME_OK : LG_OUTCOME_FAIL;
    snprintf(a.src, sizeof a.src, "api-1");
    return a;
}

static lg_block block(const char *user, int64_t since, const char *reason)
{
    lg_block b;
    memset(&b, 0, sizeof b);
    snprintf(b.rule, sizeof b.rule, "user");
    snprintf(b.user, sizeof b.user, "%s", user);
    b.since_ms = since;
    b.until_ms = since + 900000;
    b.level = 1;
    snprintf(b.reason, sizeof b.reason, "%s", reason);
    return b;
}

/* n attempts "<prefix>-<i>" of user at ts base + i */
static lg_attempt *attempts_make(const char *prefix, size_t n, const char *user, int64_t base)
{
    lg_attempt *v = calloc(n, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        char id[LG_ID_MAX + 1];
        snprintf(id, sizeof id, "%s-%zu", prefix, i);
        v[i] = attempt(id, base + (int64_t)i, user, i % 3 == 0);
    }
    return v;
}

static uint64_t count_attempts(lg_store *s)
{
    lg_store_counts c;
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    return c.attempts;
}

/* Runs one SQL statement on the file with a separate raw connection; returns the first
 * column of the first row as an integer (0 when none). */
static int64_t raw_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    int rc;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        fail_msg("raw sql '%s': %s", sql, sqlite3_errmsg(db));
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        fail_msg("raw sql '%s': %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Runs a script of SQL statements on the file with a separate raw connection. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("raw sql '%.60s': %s", sql, msg);
    sqlite3_close(db);
}

/* --- schema ---------------------------------------------------------------------- */

static void test_open_creates_schema_in_wal_mode_at_current_version(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    sqlite3 *db;
    sqlite3_stmt *st;

    lg_store_close(s);
    assert_int_equal(raw_sql(f->path, "PRAGMA user_version"), LG_SQLITE_SCHEMA_VERSION);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                      " AND name IN ('attempts', 'blocks', 'unblocks', 'users',"
                                      " 'reporter_keys', 'operator_actions')"),
                     6);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_reopen_keeps_attempts_blocks_and_users(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_attempt a[2] = {attempt("r-1", 1000, "alice", false), attempt("r-2", 2000, "bob", true)};
    lg_block b = block("alice", 1500, "5 failures in 60s");
    lg_user_rec u = {.role = LG_ROLE_ADMIN, .created_ms = 42}, got;
    lg_store_counts c;

    snprintf(u.name, sizeof u.name, "root");
    snprintf(u.pwhash, sizeof u.pwhash, "$argon2id$v=19$m=19456,t=2,p=1$x$y");
    assert_int_equal(lg_store_put(s, a, 2, &b, 1, NULL), 0);
    assert_int_equal(lg_store_user_put(s, &u), 0);
    lg_store_close(s);

    s = open_ok(f->path);
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    assert_int_equal(c.attempts, 2);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.fail, 1);
    assert_int_equal(c.blocked, 0);
    assert_int_equal(c.blocks, 1);
    assert_int_equal(lg_store_user_get(s, "root", &got), 0);
    assert_string_equal(got.pwhash, u.pwhash);
    assert_int_equal(got.role, LG_ROLE_ADMIN);
    assert_int_equal(got.created_ms, 42);
    lg_store_close(s);
}

static void test_newer_schema_version_is_refused_naming_both_versions(void **state)
{
    fixture *f = *state;
    lg_store *s = NULL;
    char err[512] = "", want[64];

    raw_sql(f->path, "PRAGMA user_version = 99");
    assert_int_equal(lg_store_open(f->path, &s, err, sizeof err), LG_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "99"));
    snprintf(want, sizeof want, "version %d", LG_SQLITE_SCHEMA_VERSION);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, f->path));
    /* the file was not touched */
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM sqlite_master"), 0);
}

static void test_current_version_file_opens_without_migrating_again(void **state)
{
    fixture *f = *state;
    lg_store_close(open_ok(f->path));
    raw_sql(f->path, "INSERT INTO users VALUES ('keep', 'h', 'user', 1)");
    lg_store_close(open_ok(f->path)); /* a second v1 migration would fail: tables exist */
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM users"), 1);
}

static void test_open_of_a_path_in_a_missing_directory_says_why(void **state)
{
    lg_store *s = NULL;
    char err[512] = "";
    (void)state;

    assert_int_equal(lg_store_open("/nonexistent-dir-lg/x.db", &s, err, sizeof err), LG_EIO);
    assert_null(s);
    assert_non_null(strstr(err, "/nonexistent-dir-lg/x.db"));
}

/* --- batches --------------------------------------------------------------------- */

static void test_same_batch_twice_inserts_nothing_the_second_time(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    /* 70 = two multi-row statements of 32 and 6 single rows */
    lg_attempt *a = attempts_make("dup", 70, "alice", 1000);
    size_t inserted = 99;

    assert_int_equal(lg_store_put(s, a, 70, NULL, 0, &inserted), 0);
    assert_int_equal(inserted, 70);
    assert_int_equal(lg_store_put(s, a, 70, NULL, 0, &inserted), 0);
    assert_int_equal(inserted, 0);
    assert_int_equal(count_attempts(s), 70);
    /* a batch half old, half new counts only the new rows */
    free(a);
    a = attempts_make("dup", 100, "alice", 1000);
    assert_int_equal(lg_store_put(s, a + 35, 65, NULL, 0, &inserted), 0);
    assert_int_equal(inserted, 30);
    assert_int_equal(count_attempts(s), 100);
    free(a);
    lg_store_close(s);
}

static void test_batch_sizes_around_the_multi_row_statement_all_insert(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    static const size_t sizes[] = {0, 1, 31, 32, 33, 64, LG_STORE_BATCH_MAX};
    uint64_t total = 0;

    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char prefix[16];
        size_t inserted = 99;
        lg_attempt *a;
        snprintf(prefix, sizeof prefix, "b%zu", k);
        a = attempts_make(prefix, sizes[k] == 0 ? 1 : sizes[k], "u", 0);
        assert_int_equal(lg_store_put(s, a, sizes[k], NULL, 0, &inserted), 0);
        assert_int_equal(inserted, sizes[k]);
        total += sizes[k];
        assert_int_equal(count_attempts(s), total);
        free(a);
    }
    lg_store_close(s);
}

static void test_batch_over_the_row_bound_is_refused_whole(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_attempt *a = attempts_make("big", LG_STORE_BATCH_MAX + 1, "u", 0);
    size_t inserted = 99;

    assert_int_equal(lg_store_put(s, a, LG_STORE_BATCH_MAX + 1, NULL, 0, &inserted),
                     LG_ETOOBIG);
    assert_int_equal(inserted, 99);
    assert_int_equal(count_attempts(s), 0);
    free(a);
    lg_store_close(s);
}

static void test_blocks_are_unique_on_rule_key_and_since(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_block b[3] = {block("alice", 1000, "first"), block("alice", 1000, "again"),
                     block("alice", 2000, "later")};
    lg_store_counts c;

    assert_int_equal(lg_store_put(s, NULL, 0, b, 3, NULL), 0);
    assert_int_equal(lg_store_put(s, NULL, 0, b, 3, NULL), 0);
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    assert_int_equal(c.blocks, 2);
    /* same user and since under another rule is another block */
    snprintf(b[0].rule, sizeof b[0].rule, "user_ip");
    snprintf(b[0].ip, sizeof b[0].ip, "198.51.100.1");
    assert_int_equal(lg_store_put(s, NULL, 0, b, 1, NULL), 0);
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    assert_int_equal(c.blocks, 3);
    lg_store_close(s);
}

static void test_attempt_without_id_is_refused_and_nothing_is_written(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_attempt a[3] = {attempt("x-1", 1, "alice", false), attempt("", 2, "alice", false),
                       attempt("x-3", 3, "alice", false)};
    lg_block b = block("alice", 2, "r");
    size_t inserted = 99;
    lg_store_counts c;

    assert_int_equal(lg_store_put(s, a, 3, &b, 1, &inserted), LG_EINVAL);
    assert_int_equal(inserted, 99); /* not written on failure */
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    assert_int_equal(c.attempts, 0);
    assert_int_equal(c.blocks, 0);
    lg_store_close(s);
}

static void test_batch_failing_mid_way_leaves_nothing_of_it(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_attempt *a = attempts_make("m", 100, "alice", 1000);
    lg_block bad = block("", 5000, "no user: no key"); /* rule user needs a user */
    lg_block good = block("alice", 5000, "ok");
    size_t inserted = 0;
    lg_store_counts c;
    int rc;

    /* a trigger makes SQLite itself refuse the 70th row, inside the transaction */
    lg_store_close(s);
    raw_sql(f->path, "CREATE TRIGGER boom BEFORE INSERT ON attempts WHEN NEW.id = 'm-69' "
                     "BEGIN SELECT RAISE(ABORT, 'forced failure'); END");
    s = open_ok(f->path);
    rc = lg_store_put(s, a, 100, &good, 1, &inserted);
    assert_int_equal(rc, LG_EINVAL);
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    assert_int_equal(c.attempts, 0);
    assert_int_equal(c.blocks, 0);

    /* a block that cannot be keyed, after every attempt went in */
    raw_sql(f->path, "DROP TRIGGER boom");
    assert_int_equal(lg_store_put(s, a, 100, &bad, 1, &inserted), LG_EINVAL);
    assert_int_equal(count_attempts(s), 0);

    /* the handle is usable afterwards: no transaction was left open */
    assert_int_equal(lg_store_put(s, a, 100, &good, 1, &inserted), 0);
    assert_int_equal(inserted, 100);
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    assert_int_equal(c.attempts, 100);
    assert_int_equal(c.blocks, 1);
    free(a);
    lg_store_close(s);
}

static void test_unblock_is_recorded_once_per_key_and_time(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);

    assert_int_equal(lg_store_unblock_put(s, "alice", 1000), 0);
    assert_int_equal(lg_store_unblock_put(s, "alice", 1000), 0);
    assert_int_equal(lg_store_unblock_put(s, "alice", 2000), 0);
    assert_int_equal(lg_store_unblock_put(s, "", 2000), LG_EINVAL);
    lg_store_close(s);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM unblocks"), 2);
}

/* The schema of version 1 (the v0 -> v1 migration of sqlite_schema.c), frozen here on
 * purpose: the migrations after it must bring such a file up to date, whatever they
 * become. Tests add their rows and PRAGMA user_version = 1. */
#define V1_TABLES \
    "CREATE TABLE attempts (id TEXT NOT NULL PRIMARY KEY, ts INTEGER NOT NULL," \
    "  user TEXT NOT NULL, ip TEXT NOT NULL, ok INTEGER NOT NULL, outcome TEXT NOT NULL," \
    "  src TEXT NOT NULL, seg INTEGER NOT NULL);" \
    "CREATE INDEX attempts_seg_user_ts ON attempts (seg, user, ts);" \
    "CREATE TABLE blocks (rule TEXT NOT NULL, key TEXT NOT NULL, user TEXT NOT NULL," \
    "  ip TEXT NOT NULL, since INTEGER NOT NULL, until INTEGER NOT NULL," \
    "  level INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (rule, key, since));" \
    "CREATE INDEX blocks_user_since ON blocks (user, since);" \
    "CREATE TABLE unblocks (key TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (key, ts));" \
    "CREATE TABLE users (name TEXT NOT NULL PRIMARY KEY, pwhash TEXT NOT NULL," \
    "  role TEXT NOT NULL, created INTEGER NOT NULL);"

/* before block keys had namespaces: a file as an older binary left it */
static const char v1_schema[] =
    V1_TABLES
    /* what the old lg_block_key wrote: rule user's key was the bare user */
    "INSERT INTO blocks VALUES ('user', 'alice', 'alice', '', 10, 20, 1, 'r'),"
    "  ('user', 'ip:192.0.2.77', 'ip:192.0.2.77', '', 10, 20, 1, 'r'),"
    "  ('ip', 'ip:192.0.2.77', '', '192.0.2.77', 10, 20, 1, 'r'),"
    "  ('user_ip', 'user_ip:bob|::1', 'bob', '::1', 10, 20, 1, 'r'),"
    "  ('user', 'user:x', 'user:x', '', 10, 20, 1, 'r');"
    "INSERT INTO unblocks VALUES ('alice', 30), ('ip:192.0.2.1', 30),"
    "  ('user_ip:bob|::1', 30), ('user:x', 30), ('user_ipx:y', 30), ('IP:1', 30);"
    "PRAGMA user_version = 1;";

static int64_t count_where(const char *path, const char *table, const char *cond)
{
    char sql[256];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s", table, cond);
    return raw_sql(path, sql);
}

static void test_version_1_file_migrates_block_keys_to_namespaced_keys(void **state)
{
    static const char *const unblocked[] = {"user:alice", "ip:192.0.2.1", "user_ip:bob|::1",
                                            "user:user:x", "user:user_ipx:y", "user:IP:1"};
    fixture *f = *state;
    sqlite3 *db = NULL;
    lg_store *s;

    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s = open_ok(f->path);
    lg_store_close(s);
    assert_int_equal(raw_sql(f->path, "PRAGMA user_version"), LG_SQLITE_SCHEMA_VERSION);
    /* rule user's rows take "user:" and their user; the others keep their keys */
    assert_int_equal(count_where(f->path, "blocks", "rule = 'user' AND key = 'user:alice'"), 1);
    assert_int_equal(count_where(f->path, "blocks",
                                 "rule = 'user' AND key = 'user:ip:192.0.2.77'"), 1);
    assert_int_equal(count_where(f->path, "blocks", "rule = 'ip' AND key = 'ip:192.0.2.77'"), 1);
    assert_int_equal(count_where(f->path, "blocks",
                                 "rule = 'user_ip' AND key = 'user_ip:bob|::1'"), 1);
    assert_int_equal(count_where(f->path, "blocks", "rule = 'user' AND key = 'user:user:x'"),
                     1);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM blocks"), 5);
    /* unblocks: the prefixed keys of rules ip and user_ip stay, the rest were users */
    for (size_t i = 0; i < sizeof unblocked / sizeof unblocked[0]; i++) {
        char cond[96];
        snprintf(cond, sizeof cond, "key = '%s'", unblocked[i]);
        assert_int_equal(count_where(f->path, "unblocks", cond), 1);
    }
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM unblocks"), 6);
    /* opening again migrates nothing twice */
    s = open_ok(f->path);
    lg_store_close(s);
    assert_int_equal(count_where(f->path, "blocks", "key = 'user:alice'"), 1);
    assert_int_equal(count_where(f->path, "blocks", "key = 'user:user:x'"), 1);
}

static void test_new_blocks_are_stored_under_namespaced_keys(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_block b = block("ip:192.0.2.77", 10, "r");
    lg_block ip = block("", 10, "r");

    snprintf(ip.rule, sizeof ip.rule, "ip");
    snprintf(ip.ip, sizeof ip.ip, "192.0.2.77");
    assert_int_equal(lg_store_put(s, NULL, 0, &b, 1, NULL), 0);
    assert_int_equal(lg_store_put(s, NULL, 0, &ip, 1, NULL), 0);
    lg_store_close(s);
    assert_int_equal(count_where(f->path, "blocks",
                                 "rule = 'user' AND key = 'user:ip:192.0.2.77'"), 1);
    assert_int_equal(count_where(f->path, "blocks", "rule = 'ip' AND key = 'ip:192.0.2.77'"), 1);
}

/* --- reads ----------------------------------------------------------------------- */

typedef struct collected {
    lg_attempt attempts[64];
    size_t n_attempts;
    lg_block blocks[16];
    size_t n_blocks;
    size_t total_attempts; /* counted past the arrays too */
} collected;

static void on_attempt(void *opaque, const lg_attempt *a)
{
    collected *c = opaque;
    if (c->n_attempts < sizeof c->attempts / sizeof c->attempts[0])
        c->attempts[c->n_attempts++] = *a;
    c->total_attempts++;
}

static void on_block(void *opaque, const lg_block *b)
{
    collected *c = opaque;
    if (c->n_blocks < sizeof c->blocks / sizeof c->blocks[0])
        c->blocks[c->n_blocks++] = *b;
}

static void test_audit_lists_the_users_attempts_oldest_first_within_limit(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    /* out of order in time, across two batches, with another user between */
    lg_attempt a1[3] = {attempt("a-3", 3000, "alice", false), attempt("b-1", 1500, "bob", false),
                        attempt("a-1", 1000, "alice", true)};
    lg_attempt a2[2] = {attempt("a-2", 2000, "alice", false),
                        attempt("a-2b", 2000, "alice", false)};
    lg_block b[3] = {block("alice", 9000, "second"), block("bob", 100, "bob's"),
                     block("alice", 4000, "first")};
    collected c;

    assert_int_equal(lg_store_put(s, a1, 3, b, 3, NULL), 0);
    assert_int_equal(lg_store_put(s, a2, 2, NULL, 0, NULL), 0);

    memset(&c, 0, sizeof c);
    assert_int_equal(lg_store_audit(s, "alice", 0, on_attempt, on_block, &c), 0);
    assert_int_equal(c.n_attempts, 4);
    assert_string_equal(c.attempts[0].id, "a-1");
    assert_true(c.attempts[0].ok);
    assert_int_equal(c.attempts[0].outcome, LG_OUTCOME_OK);
    assert_int_equal(c.attempts[0].user_len, 5);
    assert_string_equal(c.attempts[0].ip, "203.0.113.7");
    assert_string_equal(c.attempts[0].src, "api-1");
    assert_string_equal(c.attempts[1].id, "a-2"); /* equal ts: by id */
    assert_string_equal(c.attempts[2].id, "a-2b");
    assert_string_equal(c.attempts[3].id, "a-3");
    assert_int_equal(c.attempts[3].outcome, LG_OUTCOME_FAIL);
    assert_int_equal(c.n_blocks, 2);
    assert_string_equal(c.blocks[0].reason, "first");
    assert_string_equal(c.blocks[1].reason, "second");
    assert_int_equal(c.blocks[1].until_ms, 9000 + 900000);
    assert_string_equal(c.blocks[1].rule, "user");

    for (size_t limit = 3; limit <= 5; limit++) { /* N-1, N, N+1 */
        memset(&c, 0, sizeof c);
        assert_int_equal(lg_store_audit(s, "alice", limit, on_attempt, NULL, &c), 0);
        assert_int_equal(c.n_attempts, limit < 4 ? limit : 4);
        assert_string_equal(c.attempts[0].id, "a-1");
    }
    memset(&c, 0, sizeof c);
    assert_int_equal(lg_store_audit(s, "nobody", 0, on_attempt, on_block, &c), 0);
    assert_int_equal(c.n_attempts, 0);
    assert_int_equal(c.n_blocks, 0);
    lg_store_close(s);
}

static void test_audit_finds_attempts_in_every_segment(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    const size_t per_batch = LG_STORE_BATCH_MAX, batches = 3; /* rows span 3+ segments */
    collected c;

    for (size_t k = 0; k < batches; k++) {
        char prefix[16];
        lg_attempt *a;
        snprintf(prefix, sizeof prefix, "s%zu", k);
        a = attempts_make(prefix, per_batch, "filler", (int64_t)(k * per_batch));
        /* one alice attempt per batch, in the middle, timestamps going back */
        a[per_batch / 2] = attempt(prefix, 1000000 - (int64_t)k, "alice", false);
        assert_int_equal(lg_store_put(s, a, per_batch, NULL, 0, NULL), 0);
        free(a);
    }
    assert_true(raw_sql(f->path, "SELECT count(DISTINCT seg) FROM attempts") >= 3);
    memset(&c, 0, sizeof c);
    assert_int_equal(lg_store_audit(s, "alice", 0, on_attempt, NULL, &c), 0);
    assert_int_equal(c.n_attempts, 3);
    assert_string_equal(c.attempts[0].id, "s2");
    assert_string_equal(c.attempts[2].id, "s0");
    memset(&c, 0, sizeof c);
    assert_int_equal(lg_store_audit(s, "filler", 0, on_attempt, NULL, &c), 0);
    assert_int_equal(c.total_attempts, batches * (per_batch - 1));
    lg_store_close(s);
}

static void test_attempts_each_orders_by_time_then_id_and_blocks_by_since_then_key(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_attempt a[4] = {attempt("z", 2000, "u1", false), attempt("b", 1000, "u2", false),
                       attempt("a", 2000, "u3", false), attempt("c", 500, "u1", false)};
    lg_block b[3] = {block("zed", 700, "r"), block("amy", 700, "r"), block("bob", 100, "r")};
    collected c;

    assert_int_equal(lg_store_put(s, a, 4, b, 3, NULL), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(lg_store_attempts_each(s, on_attempt, &c), 0);
    assert_int_equal(c.n_attempts, 4);
    assert_string_equal(c.attempts[0].id, "c");
    assert_string_equal(c.attempts[1].id, "b");
    assert_string_equal(c.attempts[2].id, "a");
    assert_string_equal(c.attempts[3].id, "z");
    assert_int_equal(lg_store_blocks_each(s, on_block, &c), 0);
    assert_int_equal(c.n_blocks, 3);
    assert_string_equal(c.blocks[0].user, "bob");
    assert_string_equal(c.blocks[1].user, "amy");
    assert_string_equal(c.blocks[2].user, "zed");
    lg_store_close(s);
}

static void test_counts_split_attempts_by_outcome(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_attempt a[4] = {attempt("1", 1, "u", true), attempt("2", 2, "u", false),
                       attempt("3", 3, "u", false), attempt("4", 4, "u", false)};
    lg_store_counts c;

    a[3].outcome = LG_OUTCOME_BLOCKED;
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    assert_int_equal(c.attempts, 0);
    assert_int_equal(lg_store_put(s, a, 4, NULL, 0, NULL), 0);
    assert_int_equal(lg_store_counts_get(s, &c), 0);
    assert_int_equal(c.attempts, 4);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.fail, 2);
    assert_int_equal(c.blocked, 1);
    assert_int_equal(c.blocks, 0);
    lg_store_close(s);
}

/* --- users ----------------------------------------------------------------------- */

typedef struct user_list {
    char names[8][LG_USER_MAX + 1];
    size_t n;
} user_list;

static void on_user(void *opaque, const lg_user_rec *u)
{
    user_list *l = opaque;
    if (l->n < 8)
        snprintf(l->names[l->n++], sizeof l->names[0], "%s", u->name);
}

static lg_user_rec user(const char *name, lg_role role)
{
    lg_user_rec u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.pwhash, sizeof u.pwhash, "hash-of-%s", name);
    u.role = role;
    u.created_ms = 1700000000000LL;
    return u;
}

static void test_users_add_get_delete_and_list(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_user_rec carol = user("carol", LG_ROLE_USER), admin = user("admin", LG_ROLE_ADMIN);
    lg_user_rec got, untouched = user("untouched", LG_ROLE_USER);
    user_list l = {0};

    assert_int_equal(lg_store_user_put(s, &carol), 0);
    assert_int_equal(lg_store_user_put(s, &admin), 0);
    assert_int_equal(lg_store_user_put(s, &carol), LG_EEXIST);
    got = untouched;
    assert_int_equal(lg_store_user_get(s, "dave", &got), LG_ENOTFOUND);
    assert_string_equal(got.name, "untouched");
    assert_int_equal(lg_store_user_get(s, "carol", &got), 0);
    assert_string_equal(got.name, "carol");
    assert_string_equal(got.pwhash, "hash-of-carol");
    assert_int_equal(got.role, LG_ROLE_USER);
    assert_int_equal(got.created_ms, 1700000000000LL);
    assert_int_equal(lg_store_users_each(s, on_user, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "admin");
    assert_string_equal(l.names[1], "carol");
    assert_int_equal(lg_store_user_del(s, "carol"), 0);
    assert_int_equal(lg_store_user_del(s, "carol"), LG_ENOTFOUND);
    assert_int_equal(lg_store_user_get(s, "carol", &got), LG_ENOTFOUND);
    memset(&l, 0, sizeof l);
    assert_int_equal(lg_store_users_each(s, on_user, &l), 0);
    assert_int_equal(l.n, 1);
    /* after a delete the name is free again */
    assert_int_equal(lg_store_user_put(s, &carol), 0);
    lg_store_close(s);
}

static void test_user_name_at_the_length_bound_round_trips(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_user_rec u = user("x", LG_ROLE_USER), got;

    memset(u.name, 'n', LG_USER_MAX);
    u.name[LG_USER_MAX] = '\0';
    assert_int_equal(lg_store_user_put(s, &u), 0);
    assert_int_equal(lg_store_user_get(s, u.name, &got), 0);
    assert_int_equal(strlen(got.name), LG_USER_MAX);
    u.name[0] = '\0';
    assert_int_equal(lg_store_user_put(s, &u), LG_EINVAL);
    lg_store_close(s);
}

/* --- upgrades --------------------------------------------------------------------- */

static const char v1_users_schema[] =
    V1_TABLES
    "INSERT INTO users VALUES ('old', 'h', 'user', 1);"
    "PRAGMA user_version = 1;";

static void test_version_1_file_is_upgraded_keeping_its_rows(void **state)
{
    fixture *f = *state;
    lg_store *s;
    lg_user_rec u;
    lg_reporter_key_rec k = {.created_ms = 5};

    raw_exec(f->path, v1_users_schema);
    s = open_ok(f->path);
    assert_int_equal(lg_store_user_get(s, "old", &u), 0);
    snprintf(k.name, sizeof k.name, "after-upgrade");
    assert_int_equal(lg_store_key_put(s, &k, NULL), 0);
    lg_store_close(s);
    assert_int_equal(raw_sql(f->path, "PRAGMA user_version"), LG_SQLITE_SCHEMA_VERSION);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM reporter_keys"), 1);
}

/* --- reporter keys and operator actions -------------------------------------------- */

typedef struct key_list {
    lg_reporter_key_rec keys[8];
    size_t n;
} key_list;

static void on_key(void *opaque, const lg_reporter_key_rec *k)
{
    key_list *l = opaque;
    if (l->n < 8)
        l->keys[l->n++] = *k;
}

static lg_reporter_key_rec key_rec(const char *name, unsigned char fill, int64_t created_ms)
{
    lg_reporter_key_rec k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    memset(k.hash, fill, sizeof k.hash);
    k.created_ms = created_ms;
    k.last_used_ms = 99; /* ignored by key_put: a new key was never used */
    return k;
}

static lg_action_rec action(int64_t ts, const char *actor, const char *what, const char *target)
{
    lg_action_rec a;
    memset(&a, 0, sizeof a);
    a.ts_ms = ts;
    snprintf(a.actor, sizeof a.actor, "%s", actor);
    snprintf(a.action, sizeof a.action, "%s", what);
    snprintf(a.target, sizeof a.target, "%s", target);
    snprintf(a.detail, sizeof a.detail, "detail of %s", what);
    return a;
}

typedef struct action_list {
    lg_action_rec acts[8];
    size_t n;
} action_list;

static void on_action(void *opaque, const lg_action_rec *a)
{
    action_list *l = opaque;
    if (l->n < 8)
        l->acts[l->n++] = *a;
}

static void test_reporter_key_is_added_with_its_action_listed_by_name_and_deleted(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_reporter_key_rec web = key_rec("web-1", 0xab, 1000), edge = key_rec("edge", 0x01, 2000);
    lg_action_rec add = action(1000, "cli:ops", "key_add", "web-1");
    lg_action_rec del = action(3000, "cli:ops", "key_delete", "web-1");
    key_list l = {0};
    action_list al = {0};

    assert_int_equal(lg_store_key_put(s, &web, &add), 0);
    assert_int_equal(lg_store_key_put(s, &edge, NULL), 0);
    assert_int_equal(lg_store_keys_each(s, on_key, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.keys[0].name, "edge");
    assert_string_equal(l.keys[1].name, "web-1");
    assert_memory_equal(l.keys[1].hash, web.hash, sizeof web.hash);
    assert_int_equal(l.keys[1].created_ms, 1000);
    assert_int_equal(l.keys[1].last_used_ms, 0);

    assert_int_equal(lg_store_key_del(s, "web-1", &del), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(lg_store_keys_each(s, on_key, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0].name, "edge");
    assert_int_equal(lg_store_actions_each(s, 0, on_action, &al), 0);
    assert_int_equal(al.n, 2);
    assert_string_equal(al.acts[0].action, "key_add");
    assert_string_equal(al.acts[0].actor, "cli:ops");
    assert_string_equal(al.acts[0].target, "web-1");
    assert_string_equal(al.acts[0].detail, "detail of key_add");
    assert_int_equal(al.acts[0].ts_ms, 1000);
    assert_string_equal(al.acts[1].action, "key_delete");
    lg_store_close(s);
}

static void test_taken_key_name_writes_neither_the_key_nor_its_action(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_reporter_key_rec first = key_rec("web", 0x11, 1), again = key_rec("web", 0x22, 2);
    lg_action_rec add = action(2, "cli:ops", "key_add", "web");
    key_list l = {0};

    assert_int_equal(lg_store_key_put(s, &first, NULL), 0);
    assert_int_equal(lg_store_key_put(s, &again, &add), LG_EEXIST);
    assert_int_equal(lg_store_keys_each(s, on_key, &l), 0);
    assert_int_equal(l.n, 1);
    assert_memory_equal(l.keys[0].hash, first.hash, sizeof first.hash);
    lg_store_close(s);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM operator_actions"), 0);
}

static void test_deleting_a_missing_key_is_not_found_and_records_nothing(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_action_rec del = action(2, "cli:ops", "key_delete", "nobody");

    assert_int_equal(lg_store_key_del(s, "nobody", &del), LG_ENOTFOUND);
    /* the store is usable after the rolled-back transaction */
    assert_int_equal(lg_store_action_put(s, &del), 0);
    lg_store_close(s);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM operator_actions"), 1);
}

static void test_touch_raises_last_used_never_lowers_it_and_skips_deleted_keys(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_reporter_key_rec a = key_rec("a", 1, 10), b = key_rec("b", 2, 10);
    lg_reporter_key_rec touch[3] = {key_rec("a", 0, 0), key_rec("b", 0, 0),
                                    key_rec("gone", 0, 0)};
    key_list l = {0};

    assert_int_equal(lg_store_key_put(s, &a, NULL), 0);
    assert_int_equal(lg_store_key_put(s, &b, NULL), 0);
    touch[0].last_used_ms = 5000;
    touch[1].last_used_ms = 7000;
    touch[2].last_used_ms = 9000;
    assert_int_equal(lg_store_keys_touch(s, touch, 3), 0);
    touch[0].last_used_ms = 4000; /* older than what is stored: a stale cache */
    assert_int_equal(lg_store_keys_touch(s, touch, 1), 0);
    assert_int_equal(lg_store_keys_touch(s, touch, 0), 0);
    assert_int_equal(lg_store_keys_each(s, on_key, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.keys[0].last_used_ms, 5000);
    assert_int_equal(l.keys[1].last_used_ms, 7000);
    assert_int_equal(lg_store_keys_touch(s, touch, LG_REPORTER_KEYS_MAX + 1), LG_ETOOBIG);
    lg_store_close(s);
}

static void test_actions_are_listed_oldest_first_within_the_limit(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_action_rec late = action(3000, "jwt:root", "unblock", "alice");
    lg_action_rec early = action(1000, "jwt:root", "unblock", "bob");
    lg_action_rec same_a = action(2000, "cli:x", "key_add", "k1");
    lg_action_rec same_b = action(2000, "cli:x", "key_add", "k2");
    action_list l = {0};

    assert_int_equal(lg_store_action_put(s, &late), 0);
    assert_int_equal(lg_store_action_put(s, &early), 0);
    assert_int_equal(lg_store_action_put(s, &same_a), 0);
    assert_int_equal(lg_store_action_put(s, &same_b), 0);
    assert_int_equal(lg_store_actions_each(s, 3, on_action, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.acts[0].target, "bob");
    assert_string_equal(l.acts[1].target, "k1"); /* same ts: the order they were written */
    assert_string_equal(l.acts[2].target, "k2");
    lg_store_close(s);
}

static void test_action_without_actor_or_with_unterminated_field_is_refused(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    lg_action_rec a = action(1, "", "unblock", "alice");
    lg_reporter_key_rec k = key_rec("k", 1, 1);

    assert_int_equal(lg_store_action_put(s, &a), LG_EINVAL);
    a = action(1, "jwt:root", "unblock", "alice");
    memset(a.detail, 'x', sizeof a.detail); /* no NUL in the field */
    assert_int_equal(lg_store_action_put(s, &a), LG_EINVAL);
    assert_int_equal(lg_store_key_put(s, &k, &a), LG_EINVAL);
    a = action(1, "jwt:root", "unblock", "alice");
    a.detail[0] = '\0'; /* an empty detail is fine */
    assert_int_equal(lg_store_action_put(s, &a), 0);
    lg_store_close(s);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM reporter_keys"), 0);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM operator_actions"), 1);
}

/* --- two writers ----------------------------------------------------------------- */

#define WRITER_BATCHES 20
#define WRITER_ROWS 500

typedef struct writer_arg {
    const char *path;
    int id;
    int rc;
    size_t inserted;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *w = p;
    lg_store *s = NULL;
    char err[512];
    lg_attempt *a = calloc(WRITER_ROWS, sizeof *a);

    w->rc = a == NULL ? LG_ENOMEM : lg_store_open(w->path, &s, err, sizeof err);
    if (w->rc != 0 && a != NULL)
        fprintf(stderr, "writer %d: open: %s\n", w->id, err); /* says which statement */
    for (int b = 0; w->rc == 0 && b < WRITER_BATCHES; b++) {
        size_t inserted = 0;
        for (int i = 0; i < WRITER_ROWS; i++) {
            char id[LG_ID_MAX + 1];
            snprintf(id, sizeof id, "w%d-%d-%d", w->id, b, i);
            a[i] = attempt(id, b * WRITER_ROWS + i, w->id == 0 ? "alice" : "bob", false);
        }
        w->rc = lg_store_put(s, a, WRITER_ROWS, NULL, 0, &inserted);
        w->inserted += inserted;
    }
    lg_store_close(s);
    free(a);
    return NULL;
}

static void test_two_handles_writing_at_once_both_succeed(void **state)
{
    fixture *f = *state;
    writer_arg w[2] = {{.path = f->path, .id = 0}, {.path = f->path, .id = 1}};
    pthread_t th[2];
    lg_store *s = open_ok(f->path); /* create the schema first, as `run` does */

    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].rc, 0);
        assert_int_equal(w[i].inserted, WRITER_BATCHES * WRITER_ROWS);
    }
    assert_int_equal(count_attempts(s), 2 * WRITER_BATCHES * WRITER_ROWS);
    lg_store_close(s);
}

static void test_two_handles_opening_a_new_file_at_once_migrate_it_once(void **state)
{
    fixture *f = *state;
    writer_arg w[2] = {{.path = f->path, .id = 0}, {.path = f->path, .id = 1}};
    pthread_t th[2];

    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].rc, 0);
    }
    assert_int_equal(raw_sql(f->path, "PRAGMA user_version"), LG_SQLITE_SCHEMA_VERSION);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM attempts"),
                     2 * WRITER_BATCHES * WRITER_ROWS);
}

/* --- checkpoints ------------------------------------------------------------------ */

static off_t file_size(const char *path, const char *suffix)
{
    char name[600];
    struct stat st;

    snprintf(name, sizeof name, "%s%s", path, suffix);
    return stat(name, &st) == 0 ? st.st_size : 0;
}

/* More rows than the WAL may hold: the checkpointer (sqlite_ckpt.c) copies them into
 * the file while the store is open, and the WAL restarts instead of passing its bound. */
static void test_writes_past_the_wal_bound_reach_the_file_and_the_wal_restarts(void **state)
{
    fixture *f = *state;
    lg_store *s = open_ok(f->path);
    const int64_t page = raw_sql(f->path, "PRAGMA page_size");
    /* a WAL frame is a page and a 24-byte header; the bound plus one batch of slack */
    const off_t wal_max = (off_t)(LG_SQLITE_WAL_PAGES_MAX + 1000) * (page + 24);
    size_t batches = 0;
    off_t wal_seen_max = 0;

    /* bounded: ~100 bytes of pages per row, so about 350 batches */
    while (file_size(f->path, "") < wal_max + wal_max / 4 && batches < 2000) {
        char prefix[16];
        lg_attempt *a;
        size_t inserted = 0;
        off_t wal;

        snprintf(prefix, sizeof prefix, "c%05zu", batches);
        a = attempts_make(prefix, LG_STORE_BATCH_MAX, batches % 2 ? "alice" : "bob",
                          (int64_t)(batches * LG_STORE_BATCH_MAX));
        assert_int_equal(lg_store_put(s, a, LG_STORE_BATCH_MAX, NULL, 0, &inserted), 0);
        assert_int_equal(inserted, LG_STORE_BATCH_MAX);
        free(a);
        batches++;
        wal = file_size(f->path, "-wal");
        if (wal > wal_seen_max)
            wal_seen_max = wal;
    }
    /* the file outgrew the WAL's bound while open: checkpoints ran and the WAL restarted */
    assert_true(file_size(f->path, "") >= wal_max + wal_max / 4);
    assert_true(wal_seen_max > 0);
    assert_true(wal_seen_max <= wal_max);
    assert_int_equal(count_attempts(s), batches * LG_STORE_BATCH_MAX);
    lg_store_close(s);
    assert_int_equal(raw_sql(f->path, "SELECT count(*) FROM attempts"),
                     batches * LG_STORE_BATCH_MAX);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_creates_schema_in_wal_mode_at_current_version),
        T(test_reopen_keeps_attempts_blocks_and_users),
        T(test_newer_schema_version_is_refused_naming_both_versions),
        T(test_current_version_file_opens_without_migrating_again),
        T(test_open_of_a_path_in_a_missing_directory_says_why),
        T(test_same_batch_twice_inserts_nothing_the_second_time),
        T(test_batch_sizes_around_the_multi_row_statement_all_insert),
        T(test_batch_over_the_row_bound_is_refused_whole),
        T(test_blocks_are_unique_on_rule_key_and_since),
        T(test_attempt_without_id_is_refused_and_nothing_is_written),
        T(test_batch_failing_mid_way_leaves_nothing_of_it),
        T(test_unblock_is_recorded_once_per_key_and_time),
        T(test_version_1_file_migrates_block_keys_to_namespaced_keys),
        T(test_new_blocks_are_stored_under_namespaced_keys),
        T(test_audit_lists_the_users_attempts_oldest_first_within_limit),
        T(test_audit_finds_attempts_in_every_segment),
        T(test_attempts_each_orders_by_time_then_id_and_blocks_by_since_then_key),
        T(test_counts_split_attempts_by_outcome),
        T(test_users_add_get_delete_and_list),
        T(test_user_name_at_the_length_bound_round_trips),
        T(test_version_1_file_is_upgraded_keeping_its_rows),
        T(test_reporter_key_is_added_with_its_action_listed_by_name_and_deleted),
        T(test_taken_key_name_writes_neither_the_key_nor_its_action),
        T(test_deleting_a_missing_key_is_not_found_and_records_nothing),
        T(test_touch_raises_last_used_never_lowers_it_and_skips_deleted_keys),
        T(test_actions_are_listed_oldest_first_within_the_limit),
        T(test_action_without_actor_or_with_unterminated_field_is_refused),
        T(test_two_handles_writing_at_once_both_succeed),
        T(test_two_handles_opening_a_new_file_at_once_migrate_it_once),
        T(test_writes_past_the_wal_bound_reach_the_file_and_the_wal_restarts),
    };
#undef T
    return cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
}
