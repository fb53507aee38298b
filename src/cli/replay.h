/*
 * replay.h - the parts of `loginguard replay` (private to src/cli/replay*.c).
 *
 *   replay_lines.c   reads input lines through one fixed buffer; a line longer than
 *                    LG_LINE_MAX is skipped without ever being held whole;
 *   replay_writer.c  a thread that writes batches of attempts (and the blocks they
 *                    decided) to the audit store, one transaction per batch, fed through
 *                    a bounded pool of LG_REPLAY_BATCHES_MAX batches;
 *   replay.c         the command: decode, judge, print blocks, hand batches over.
 */
#ifndef LG_REPLAY_H
#define LG_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/limits.h"
#include "store/store.h"

/* read buffer: large reads amortise syscalls; must hold one whole line of LG_LINE_MAX */
#define LG_REPLAY_READ_BUF (1u << 20)
/* batches allocated for the writer: one being filled, the rest queued or being
 * written. A full pool is back-pressure: the reader waits for the store. */
#define LG_REPLAY_BATCHES_MAX 4
/* stdout buffer for blocks */
#define LG_REPLAY_OUT_BUF (1u << 20)

_Static_assert(LG_REPLAY_READ_BUF > 2 * LG_LINE_MAX, "a maximal line fits the buffer");
_Static_assert(LG_REPLAY_BATCHES_MAX >= 2, "one batch fills while another is written");

/* --- line reader ------------------------------------------------------------------ */

typedef struct lg_replay_lines lg_replay_lines;

/* Reads fd (borrowed, not closed). */
int lg_replay_lines_new(int fd, lg_replay_lines **out);
void lg_replay_lines_free(lg_replay_lines *r); /* NULL is a no-op */

/*
 * The next line, without its '\n': 1 with *line and *len set (borrowed until the next
 * call), 0 at the end of input, LG_ETOOBIG when the line was longer than LG_LINE_MAX
 * (it has been skipped), LG_EIO when read() failed (errno kept). *lineno is the line's
 * number, from 1, also for LG_ETOOBIG.
 */
int lg_replay_lines_next(lg_replay_lines *r, const char **line, size_t *len,
                         uint64_t *lineno);

/* Bytes read from fd so far. */
uint64_t lg_replay_lines_bytes(const lg_replay_lines *r);

/* --- store writer ----------------------------------------------------------------- */

typedef struct lg_replay_batch {
    lg_attempt attempts[LG_STORE_BATCH_MAX];
    size_t n_attempts;
    lg_block *blocks;  /* grows up to the writer's blocks_max */
    size_t n_blocks;
    size_t blocks_cap;
} lg_replay_batch;

typedef struct lg_replay_writer lg_replay_writer;

/* Starts the writer thread. Takes ownership of store on success (closed by _free). blocks_max
 * bounds the blocks one batch may carry (enabled rules x LG_STORE_BATCH_MAX). */
int lg_replay_writer_new(lg_store *store, size_t blocks_max, lg_replay_writer **out);

/* An empty batch to fill, waiting while every batch is queued or being written.
 * NULL once the writer has failed (lg_replay_writer_finish says why). */
lg_replay_batch *lg_replay_writer_batch(lg_replay_writer *w);

/* Appends a block to batch: 0, or LG_EFULL beyond blocks_max, LG_ENOMEM. */
int lg_replay_batch_add_block(lg_replay_writer *w, lg_replay_batch *b, const lg_block *block);

/* Queues batch (from lg_replay_writer_batch) to be written; an empty one is just
 * returned to the pool. Batches are written in the order they are submitted. */
void lg_replay_writer_submit(lg_replay_writer *w, lg_replay_batch *b);

/* Waits until every submitted batch is written, then stops the thread. Returns 0 or
 * the first store error (err says which batch failed and why). */
int lg_replay_writer_finish(lg_replay_writer *w, char *err, size_t err_len);

typedef struct lg_replay_writer_stats {
    uint64_t batches, attempts, inserted, blocks;
} lg_replay_writer_stats;
void lg_replay_writer_stats_get(lg_replay_writer *w, lg_replay_writer_stats *out);

/* Finishes if needed, frees the batches and closes the store. NULL is a no-op. */
void lg_replay_writer_free(lg_replay_writer *w);

#endif
