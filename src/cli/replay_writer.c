/*
 * replay_writer.c - the audit-store writer thread of `loginguard replay --db`.
 *
 * The reader thread fills a batch of up to LG_STORE_BATCH_MAX judged attempts plus the
 * blocks they decided, submits it, and takes the next empty batch. This thread writes
 * each batch with one lg_store_put (one transaction), strictly in submission order, so
 * after a crash the store holds a prefix of the input made of whole batches; ids are
 * deterministic, so running the same input again completes it without duplicates.
 *
 * Only LG_REPLAY_BATCHES_MAX batches exist: when all are queued the reader waits
 * (back-pressure), so memory stays bounded however far the store falls behind.
 *
 *   free --lg_replay_writer_batch--> filling --lg_replay_writer_submit--> queued
 *     ^                                                                     |
 *     +---------------- written by writer_main (lg_store_put) <-------------+
 */
#include "cli/replay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/lgassert.h"

/* first capacity of a batch's block array; it doubles up to blocks_max */
#define LG_REPLAY_BLOCKS_INIT 64

struct lg_replay_writer {
    lg_store *store;
    size_t blocks_max;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cond;   /* any change of the fields below */
    lg_replay_batch *batches[LG_REPLAY_BATCHES_MAX];
    lg_replay_batch *free_list[LG_REPLAY_BATCHES_MAX];
    size_t n_free;
    lg_replay_batch *queue[LG_REPLAY_BATCHES_MAX]; /* FIFO ring */
    size_t q_head, q_len;
    bool closing;
    int rc;                /* first store error */
    char err[512];
    lg_replay_writer_stats stats;
};

static void *writer_main(void *arg)
{
    lg_replay_writer *w = arg;

    pthread_mutex_lock(&w->mu);
    /* the thread's loop: ends when closing and the queue is drained */
    for (;;) {
        lg_replay_batch *b;
        size_t inserted = 0;
        int rc;

        while (w->q_len == 0 && !w->closing)
            pthread_cond_wait(&w->cond, &w->mu);
        if (w->q_len == 0)
            break;
        b = w->queue[w->q_head];
        w->q_head = (w->q_head + 1) % LG_REPLAY_BATCHES_MAX;
        w->q_len--;
        rc = w->rc;
        pthread_mutex_unlock(&w->mu);

        if (rc == 0) /* after a failure later batches are dropped, never written out of order */
            rc = lg_store_put(w->store, b->attempts, b->n_attempts, b->blocks, b->n_blocks,
                              &inserted);

        pthread_mutex_lock(&w->mu);
        if (rc != 0 && w->rc == 0) {
            w->rc = rc;
            snprintf(w->err, sizeof w->err, "store write of batch %llu (%zu attempts) "
                     "failed: %s", (unsigned long long)w->stats.batches + 1, b->n_attempts,
                     lg_strerror(rc));
        }
        if (rc == 0) {
            w->stats.batches++;
            w->stats.attempts += b->n_attempts;
            w->stats.inserted += inserted;
            w->stats.blocks += b->n_blocks;
        }
        b->n_attempts = 0;
        b->n_blocks = 0;
        w->free_list[w->n_free++] = b;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int lg_replay_writer_new(lg_store *store, size_t blocks_max, lg_replay_writer **out)
{
    lg_replay_writer *w;
    int rc = LG_ENOMEM;

    lg_assert(store != NULL);
    lg_assert(blocks_max > 0);
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return LG_ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->blocks_max = blocks_max;
    for (size_t i = 0; i < LG_REPLAY_BATCHES_MAX; i++) {
        w->batches[i] = calloc(1, sizeof *w->batches[i]);
        if (w->batches[i] == NULL)
            goto fail;
        w->free_list[w->n_free++] = w->batches[i];
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        rc = LG_EIO;
        goto fail;
    }
    w->started = true;
    w->store = store; /* owned from here on */
    *out = w;
    return 0;
fail:
    lg_replay_writer_free(w);
    return rc;
}

lg_replay_batch *lg_replay_writer_batch(lg_replay_writer *w)
{
    lg_replay_batch *b = NULL;

    pthread_mutex_lock(&w->mu);
    while (w->n_free == 0 && w->rc == 0)
        pthread_cond_wait(&w->cond, &w->mu);
    if (w->rc == 0)
        b = w->free_list[--w->n_free];
    pthread_mutex_unlock(&w->mu);
    lg_assert(b == NULL || (b->n_attempts == 0 && b->n_blocks == 0));
    return b;
}

int lg_replay_batch_add_block(lg_replay_writer *w, lg_replay_batch *b, const lg_block *block)
{
    if (b->n_blocks == b->blocks_cap) {
        size_t cap = b->blocks_cap ? b->blocks_cap * 2 : LG_REPLAY_BLOCKS_INIT;
        lg_block *grown;

        if (b->blocks_cap >= w->blocks_max)
            return LG_EFULL;
        if (cap > w->blocks_max)
            cap = w->blocks_max;
        grown = realloc(b->blocks, cap * sizeof *grown);
        if (grown == NULL)
            return LG_ENOMEM;
        b->blocks = grown;
        b->blocks_cap = cap;
    }
    b->blocks[b->n_blocks++] = *block;
    return 0;
}

void lg_replay_writer_submit(lg_replay_writer *w, lg_replay_batch *b)
{
    lg_assert(b != NULL);
    pthread_mutex_lock(&w->mu);
    if (b->n_attempts == 0 && b->n_blocks == 0) {
        w->free_list[w->n_free++] = b;
    } else {
        lg_assert(w->q_len < LG_REPLAY_BATCHES_MAX);
        w->queue[(w->q_head + w->q_len) % LG_REPLAY_BATCHES_MAX] = b;
        w->q_len++;
    }
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

int lg_replay_writer_finish(lg_replay_writer *w, char *err, size_t err_len)
{
    int rc;

    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->closing = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->started = false;
    }
    rc = w->rc;
    if (rc != 0)
        snprintf(err, err_len, "%s", w->err);
    return rc;
}

void lg_replay_writer_stats_get(lg_replay_writer *w, lg_replay_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void lg_replay_writer_free(lg_replay_writer *w)
{
    char err[8];

    if (w == NULL)
        return;
    (void)lg_replay_writer_finish(w, err, sizeof err);
    for (size_t i = 0; i < LG_REPLAY_BATCHES_MAX; i++) {
        if (w->batches[i] != NULL)
            free(w->batches[i]->blocks);
        free(w->batches[i]);
    }
    lg_store_close(w->store);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
