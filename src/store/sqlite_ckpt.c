/*
 * sqlite_ckpt.c - WAL checkpoints of a writing SQLite store, off the writer's thread.
 *
 * SQLite's autocheckpoint copies the WAL into the database file inside the COMMIT that
 * crossed the threshold: reading the WAL, writing the file and two fsyncs, about a sixth
 * of the writer's time in `replay --db`, while the decoding thread leaves the other core
 * half idle. Here a thread with its own connection does the copy (a PASSIVE checkpoint:
 * it never blocks the writer), and the writer, at its next commit, copies only the tail
 * written meanwhile, so that the WAL is fully copied and restarts from its beginning at
 * the next write transaction. Durability is unchanged: a checkpoint only moves committed
 * pages from the WAL to the file (with the same syncs as before).
 *
 *   IDLE --(commit leaves >= LG_SQLITE_CKPT_PAGES in the WAL: signal)--> RUNNING
 *   RUNNING --(ckpt_main: its checkpoint returned)--> DONE
 *   DONE --(next commit, lg_store__sqlite_ckpt_hook: copies the tail)--> IDLE
 *
 * Bound: a commit that leaves LG_SQLITE_WAL_PAGES_MAX in the WAL while RUNNING waits for
 * DONE, so the WAL never grows much past it however slow the thread is. The thread and
 * its connection start at the first commit over the threshold: a store that only reads
 * never has them. Without them (thread or connection failed) the writer checkpoints
 * inline, as SQLite's autocheckpoint did.
 */
#include "store/sqlite_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"
#include "core/log.h"

/* A round that copied at most this many pages was the last: the writer copies the rest
 * (what it committed during that round, a batch or two) and the WAL restarts. */
#define CKPT_TAIL_PAGES 256
/* Rounds per signal: bounds the loop when the writer commits as fast as a round copies. */
#define CKPT_ROUNDS_MAX 8

typedef enum { CKPT_IDLE, CKPT_RUNNING, CKPT_DONE } ckpt_state;

struct lg_sqlite_ckpt {
    char *path;
    sqlite3 *db;           /* the thread's connection; NULL until started */
    pthread_t thread;
    bool started;          /* thread running (joined at free) */
    bool failed;           /* could not start: checkpoint inline */
    pthread_mutex_t mu;
    pthread_cond_t cond;   /* any change of state or closing */
    ckpt_state state;
    bool closing;
    int last_rc;           /* of the thread's last checkpoint, logged once per change */
};

static void ckpt_log_rc(lg_sqlite_ckpt *c, sqlite3 *db, const char *who, int rc)
{
    /* SQLITE_BUSY: another process is checkpointing; the next round catches up */
    if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY || rc == c->last_rc)
        return;
    c->last_rc = rc;
    lg_log(LG_WARN, "store", "sqlite path=%s op=checkpoint by=%s code=%d: %s", c->path, who,
           rc, sqlite3_errmsg(db));
}

/* Checkpoints until a round copies at most CKPT_TAIL_PAGES: each round copies what the
 * writer committed during the one before, so the tail left to the writer shrinks to what
 * it commits during one short round. At most CKPT_ROUNDS_MAX rounds. */
static int ckpt_rounds(sqlite3 *db)
{
    int done = 0, rc = SQLITE_OK;

    for (int round = 0; round < CKPT_ROUNDS_MAX; round++) {
        int wal_pages = 0, copied = 0;

        rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, &wal_pages,
                                       &copied);
        if (rc != SQLITE_OK || copied - done <= CKPT_TAIL_PAGES)
            break;
        done = copied;
    }
    return rc;
}

static void *ckpt_main(void *arg)
{
    lg_sqlite_ckpt *c = arg;

    pthread_mutex_lock(&c->mu);
    /* the thread's loop: one checkpoint per signal, until closing */
    for (;;) {
        int rc;

        while (c->state != CKPT_RUNNING && !c->closing)
            pthread_cond_wait(&c->cond, &c->mu);
        if (c->closing)
            break;
        pthread_mutex_unlock(&c->mu);
        rc = ckpt_rounds(c->db);
        pthread_mutex_lock(&c->mu);
        ckpt_log_rc(c, c->db, "thread", rc);
        c->state = CKPT_DONE;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int lg_store__sqlite_ckpt_new(const char *path, lg_sqlite_ckpt **out)
{
    lg_sqlite_ckpt *c;

    lg_assert(path != NULL);
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->path = strdup(path)) == NULL) {
        free(c);
        return LG_ENOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    *out = c;
    return 0;
}

/* Opens the thread's connection and starts it; false (logged) when it cannot. */
static bool ckpt_start(lg_sqlite_ckpt *c)
{
    /* no CREATE: the writer's connection made the file; the thread uses only this one */
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(c->path, &c->db, flags, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(c->db, LG_SQLITE_BUSY_TIMEOUT_MS);
        /* a connection learns that the file is in WAL mode at its first read; until
         * then its checkpoints return SQLITE_OK having done nothing */
        rc = sqlite3_exec(c->db, "PRAGMA schema_version", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        if (pthread_create(&c->thread, NULL, ckpt_main, c) == 0) {
            c->started = true;
            return true;
        }
        rc = SQLITE_NOMEM;
    }
    lg_log(LG_WARN, "store", "sqlite path=%s op=checkpoint-thread code=%d: %s; "
           "checkpointing in the writer", c->path, rc,
           c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sqlite3_close(c->db); /* also after a failed open */
    c->db = NULL;
    c->failed = true;
    return false;
}

/* The writer copies what is left (the frames committed since the thread's checkpoint
 * began, or everything when there is no thread), so the WAL can restart. */
static void ckpt_inline(lg_sqlite_ckpt *c, sqlite3 *db)
{
    int rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

    pthread_mutex_lock(&c->mu);
    ckpt_log_rc(c, db, "writer", rc);
    pthread_mutex_unlock(&c->mu);
}

int lg_store__sqlite_ckpt_hook(void *arg, sqlite3 *db, const char *schema, int wal_pages)
{
    lg_sqlite_ckpt *c = arg;
    bool tail = false;

    (void)schema;
    if (c->failed) {
        if (wal_pages >= LG_SQLITE_CKPT_PAGES)
            ckpt_inline(c, db);
        return SQLITE_OK;
    }
    pthread_mutex_lock(&c->mu);
    if (c->state == CKPT_RUNNING && wal_pages >= LG_SQLITE_WAL_PAGES_MAX) {
        /* the bound: wait for the thread rather than let the WAL grow (bounded by the
         * checkpoint of at most LG_SQLITE_WAL_PAGES_MAX pages) */
        while (c->state == CKPT_RUNNING)
            pthread_cond_wait(&c->cond, &c->mu);
    }
    if (c->state == CKPT_DONE) {
        c->state = CKPT_IDLE;
        tail = true;
    } else if (c->state == CKPT_IDLE && wal_pages >= LG_SQLITE_CKPT_PAGES) {
        if (c->started || ckpt_start(c)) {
            c->state = CKPT_RUNNING;
            pthread_cond_broadcast(&c->cond);
        } else {
            tail = true; /* no thread: all of it, here */
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (tail)
        ckpt_inline(c, db);
    return SQLITE_OK; /* the commit is done; a failed checkpoint is retried later */
}

void lg_store__sqlite_ckpt_free(lg_sqlite_ckpt *c)
{
    if (c == NULL)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->closing = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    sqlite3_close(c->db); /* before the writer's: the last close checkpoints the rest */
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c->path);
    free(c);
}
