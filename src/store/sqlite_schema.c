/*
 * sqlite_schema.c - connection pragmas and the versioned schema of the SQLite store.
 *
 * The schema version lives in PRAGMA user_version. migrations[] is an ordered list: entry
 * i brings a file from version i to i + 1, each in its own BEGIN IMMEDIATE transaction
 * that re-reads the version first, so two processes opening a fresh file at once apply
 * each step exactly once. A file newer than this binary is refused: an old binary must
 * not write rows a newer schema would misread.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is in the WAL (the OS page cache)
 * when COMMIT returns, so a process crash loses no committed transaction; only an OS
 * crash or power loss can drop the last commits (the file stays consistent). FULL would
 * fsync every commit, capping audit batches at the disk's fsync rate, and buys nothing
 * for the embedded bus, whose queued messages die with the machine anyway; with Kafka,
 * offsets are committed after the store, so lost audit rows are re-read at restart.
 */
#include "store/sqlite_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"

/* Page cache per connection (negative = KiB): keeps the attempts indexes hot. */
#define SQLITE_CACHE_KIB 65536
/* Memory-mapped reads: fewer copies on audit scans; the file may be larger, that's fine. */
#define SQLITE_MMAP_BYTES (256LL * 1024 * 1024)
/* Page size of a new file: larger pages mean fewer b-tree splits per batch. */
#define SQLITE_PAGE_SIZE 8192

static const char *const migrations[] = {
    /* v0 -> v1: everything. attempts are unique on id (idempotent at-least-once writes);
     * blocks on (rule, key, since). The per-user index leads with seg (see
     * LG_SQLITE_SEG_SHIFT): a plain (user, ts) index takes each batch's rows at random
     * places, so every commit rewrites nearly all of its pages into the WAL, and inserts
     * fell to 38k/s at 1M rows (bench_store); with seg first a batch touches one small
     * subtree. Audit probes (seg, user) for each segment. A rowid table, not WITHOUT
     * ROWID: the bench showed no gain, and the rowid gives the segment number. */
    "CREATE TABLE attempts ("
    "  id TEXT NOT NULL PRIMARY KEY,"
    "  ts INTEGER NOT NULL,"
    "  user TEXT NOT NULL,"
    "  ip TEXT NOT NULL,"
    "  ok INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  src TEXT NOT NULL,"
    "  seg INTEGER NOT NULL);"
    "CREATE INDEX attempts_seg_user_ts ON attempts (seg, user, ts);"
    "CREATE TABLE blocks ("
    "  rule TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  ip TEXT NOT NULL,"
    "  since INTEGER NOT NULL,"
    "  until INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  PRIMARY KEY (rule, key, since));"
    "CREATE INDEX blocks_user_since ON blocks (user, since);"
    "CREATE TABLE unblocks ("
    "  key TEXT NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  PRIMARY KEY (key, ts));"
    "CREATE TABLE users ("
    "  name TEXT NOT NULL PRIMARY KEY,"
    "  pwhash TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  created INTEGER NOT NULL);",
    /* v1 -> v2: reporter keys (a 32-byte hash, never the key) and operator actions with
     * their actor. last_used is NULL until a key is first used. */
    "CREATE TABLE reporter_keys ("
    "  name TEXT NOT NULL PRIMARY KEY,"
    "  hash BLOB NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  last_used INTEGER);"
    "CREATE TABLE operator_actions ("
    "  ts INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  detail TEXT NOT NULL);"
    "CREATE INDEX operator_actions_ts ON operator_actions (ts);",

    /* v2 -> v3: block keys get their rule's namespace (lg_block_key): rule user's key was
     * the bare
     * user, so a user named "ip:192.0.2.1" shared the key of that address's block. Rows
     * of rule user take "user:" || user, from the user column, not the old key. unblocks
     * has no rule column: its keys were the tombstones' keys, where rules ip and user_ip
     * were already prefixed; every other key is a bare user (one beginning with "user:"
     * included: no key had that prefix then). A user literally named "ip:..." or
     * "user_ip:..." is the one case this cannot tell apart; the old key already stood for
     * both. substr, not LIKE: '_' is a LIKE wildcard and LIKE ignores ASCII case. */
    "UPDATE blocks SET key = 'user:' || user WHERE rule = 'user';"
    "UPDATE unblocks SET key = 'user:' || key"
    "  WHERE substr(key, 1, 3) <> 'ip:' AND substr(key, 1, 8) <> 'user_ip:';",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == LG_SQLITE_SCHEMA_VERSION,
               "one migration per schema version");

int lg_store__sqlite_rc(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_NOMEM:
        return LG_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LG_ETIMEDOUT; /* the busy timeout ran out */
    case SQLITE_CONSTRAINT:
        /* a duplicate key is "exists"; NOT NULL, CHECK or a trigger refused the row */
        if (sqlite_rc == SQLITE_CONSTRAINT_PRIMARYKEY || sqlite_rc == SQLITE_CONSTRAINT_UNIQUE)
            return LG_EEXIST;
        return LG_EINVAL;
    case SQLITE_TOOBIG:
        return LG_ETOOBIG;
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
        return LG_EINVAL;
    case SQLITE_NOTFOUND:
        return LG_ENOTFOUND;
    default: /* IOERR, FULL, CORRUPT, CANTOPEN, READONLY, NOTADB, ... */
        return LG_EIO;
    }
}

static int schema_exec(sqlite3 *db, const char *path, const char *sql, char *err,
                       size_t err_len)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "sqlite '%s': %.40s...: %s", path, sql, sqlite3_errmsg(db));
        return lg_store__sqlite_rc(rc);
    }
    return 0;
}

static int schema_version(sqlite3 *db, const char *path, int64_t *out, char *err,
                          size_t err_len)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        snprintf(err, err_len, "sqlite '%s': reading the schema version: %s", path,
                 sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return lg_store__sqlite_rc(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int schema_check_not_newer(int64_t version, const char *path, char *err,
                                  size_t err_len)
{
    if (version > LG_SQLITE_SCHEMA_VERSION) {
        snprintf(err, err_len,
                 "sqlite '%s': schema version %" PRId64 " is newer than this binary's "
                 "version %d; upgrade loginguard to open it",
                 path, version, LG_SQLITE_SCHEMA_VERSION);
        return LG_EINVAL;
    }
    if (version < 0) {
        snprintf(err, err_len, "sqlite '%s': invalid schema version %" PRId64, path,
                 version);
        return LG_EINVAL;
    }
    return 0;
}

/* Applies the migration from version `from` to from + 1 unless another process already
 * did (the version is re-read under the write lock). */
static int schema_step(sqlite3 *db, const char *path, int64_t from, char *err,
                       size_t err_len)
{
    char set_version[48];
    int64_t now;
    int rc;

    rc = schema_exec(db, path, "BEGIN IMMEDIATE", err, err_len);
    if (rc != 0)
        return rc;
    rc = schema_version(db, path, &now, err, err_len);
    if (rc != 0)
        goto fail_rollback;
    if (now != from) { /* migrated meanwhile by another opener */
        rc = schema_check_not_newer(now, path, err, err_len);
        if (rc != 0)
            goto fail_rollback;
        return schema_exec(db, path, "COMMIT", err, err_len);
    }
    rc = schema_exec(db, path, migrations[from], err, err_len);
    if (rc != 0)
        goto fail_rollback;
    snprintf(set_version, sizeof set_version, "PRAGMA user_version = %" PRId64, from + 1);
    rc = schema_exec(db, path, set_version, err, err_len);
    if (rc != 0)
        goto fail_rollback;
    return schema_exec(db, path, "COMMIT", err, err_len);

fail_rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Switching a new file to WAL needs its exclusive lock, and SQLite answers SQLITE_BUSY at
 * once - without the busy handler - when another opener holds any lock on it meanwhile
 * (two processes opening a new file together, 15 % of runs in the unit test). So retry
 * here, in steps of SCHEMA_WAL_RETRY_MS, for at most the busy timeout. On a file already
 * in WAL the pragma is a no-op that takes no lock. It answers with the mode in force:
 * "memory" for :memory: databases. */
#define SCHEMA_WAL_RETRY_MS 5
static int schema_wal_on(sqlite3 *db, const char *path, char *err, size_t err_len)
{
    int rc = 0;

    for (int waited = 0; waited <= LG_SQLITE_BUSY_TIMEOUT_MS; waited += SCHEMA_WAL_RETRY_MS) {
        rc = schema_exec(db, path, "PRAGMA journal_mode = WAL", err, err_len);
        if (rc != LG_ETIMEDOUT)
            return rc;
        sqlite3_sleep(SCHEMA_WAL_RETRY_MS);
    }
    return rc;
}

static int schema_pragmas(sqlite3 *db, const char *path, char *err, size_t err_len)
{
    char sql[256];
    int rc;

    /* page_size only takes effect on a file with no tables yet, before WAL is set */
    snprintf(sql, sizeof sql,
             "PRAGMA page_size = %d;"
             "PRAGMA foreign_keys = OFF;"
             "PRAGMA cache_size = -%d;"
             "PRAGMA mmap_size = %lld;"
             "PRAGMA temp_store = MEMORY;",
             SQLITE_PAGE_SIZE, SQLITE_CACHE_KIB, SQLITE_MMAP_BYTES);
    rc = schema_exec(db, path, sql, err, err_len);
    if (rc != 0)
        return rc;
    rc = schema_wal_on(db, path, err, err_len);
    if (rc != 0)
        return rc;
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous = NORMAL;"
             "PRAGMA wal_autocheckpoint = %d;",
             LG_SQLITE_CKPT_PAGES); /* until sqlite.c hands checkpoints to sqlite_ckpt.c */
    return schema_exec(db, path, sql, err, err_len);
}

int lg_store__sqlite_prepare_db(sqlite3 *db, const char *path, char *err, size_t err_len)
{
    int64_t version;
    int rc;

    lg_assert(db != NULL);
    /* first: every later statement, pragmas included, may meet another writer */
    sqlite3_busy_timeout(db, LG_SQLITE_BUSY_TIMEOUT_MS);
    rc = schema_version(db, path, &version, err, err_len);
    if (rc != 0)
        return rc;
    rc = schema_check_not_newer(version, path, err, err_len);
    if (rc != 0)
        return rc;
    rc = schema_pragmas(db, path, err, err_len);
    if (rc != 0)
        return rc;
    for (int64_t v = version; v < LG_SQLITE_SCHEMA_VERSION; v++) {
        rc = schema_step(db, path, v, err, err_len);
        if (rc != 0)
            return rc;
    }
    rc = schema_version(db, path, &version, err, err_len);
    if (rc != 0)
        return rc;
    rc = schema_check_not_newer(version, path, err, err_len); /* a newer binary raced us */
    if (rc != 0)
        return rc;
    lg_assert(version == LG_SQLITE_SCHEMA_VERSION);
    return 0;
}
