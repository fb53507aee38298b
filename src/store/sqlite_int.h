/*
 * sqlite_int.h - private to the SQLite store (sqlite.c, sqlite_schema.c): the schema
 * version this binary writes, the migration entry point and the one place SQLITE_*
 * codes become LG_E*.
 */
#ifndef LG_STORE_SQLITE_INT_H
#define LG_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stddef.h>

/* The newest schema this binary knows (PRAGMA user_version after migrating). */
#define LG_SQLITE_SCHEMA_VERSION 3

/* attempts.seg = (rowid >> LG_SQLITE_SEG_SHIFT) at insert: the per-user index is
 * (seg, user, ts), so a batch only touches the index pages of its own segment, and an
 * audit probes each segment once (100M rows = 24k probes). 4096 rows per segment, about
 * one LG_STORE_BATCH_MAX batch: in bench_store it used less CPU per row than 2^10, 2^14
 * and 2^16. */
#define LG_SQLITE_SEG_SHIFT 12

/* How long a writer waits for another process's write transaction (several detector
 * processes may share one file) before the call fails with LG_ETIMEDOUT. */
#define LG_SQLITE_BUSY_TIMEOUT_MS 10000

/* WAL pages after a commit that start a checkpoint (SQLite's default is 1000): fewer,
 * larger checkpoints. */
#define LG_SQLITE_CKPT_PAGES 4000
/* WAL pages at which a commit waits for the running checkpoint instead of letting the
 * WAL grow (sqlite_ckpt.c): 128 MiB at 8 KiB pages. */
#define LG_SQLITE_WAL_PAGES_MAX (4 * LG_SQLITE_CKPT_PAGES)
_Static_assert(LG_SQLITE_WAL_PAGES_MAX > LG_SQLITE_CKPT_PAGES, "room to checkpoint");

/* Sets the connection pragmas (WAL, synchronous, busy timeout, cache, mmap) and brings
 * the schema of db (opened on path) up to LG_SQLITE_SCHEMA_VERSION, one migration per
 * transaction. Fails, naming both versions in err, when the file's version is newer
 * than this binary's. */
int lg_store__sqlite_prepare_db(sqlite3 *db, const char *path, char *err, size_t err_len);

/* The checkpointer of one writing connection (sqlite_ckpt.c). _new copies path; _hook is
 * the connection's sqlite3_wal_hook (arg = the checkpointer); _free stops the thread and
 * must run before the connection closes. NULL is a no-op for _free. */
typedef struct lg_sqlite_ckpt lg_sqlite_ckpt;
int lg_store__sqlite_ckpt_new(const char *path, lg_sqlite_ckpt **out);
int lg_store__sqlite_ckpt_hook(void *arg, sqlite3 *db, const char *schema, int wal_pages);
void lg_store__sqlite_ckpt_free(lg_sqlite_ckpt *c);

/* Translates a SQLite result code (primary or extended) into an LG_E* code. */
int lg_store__sqlite_rc(int sqlite_rc);

#endif
